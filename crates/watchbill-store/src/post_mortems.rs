//! Post-mortems: a write-up of one or more incidents, in Markdown, with figures computed from
//! the incidents, moving from draft through review to published; reviewers and comments,
//! action items as linked tickets, each team's template, and a ranked full-text search.

use async_trait::async_trait;
use jiff::Timestamp;
use watchbill_core::{IncidentId, ServiceId, TeamId, UserId};

use crate::paging::Incident;
use crate::tickets::StoredTicket;
use crate::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostMortemInput {
    pub team_id: TeamId,
    pub title: String,
    /// Markdown.
    pub body: String,
    /// The computed figures, JSON.
    pub figures: String,
    pub incidents: Vec<IncidentId>,
    pub tags: Vec<String>,
    pub created_by: String,
    /// The person who wrote it, who hears when the draft grows old.
    pub owner: Option<UserId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostMortem {
    pub id: i64,
    pub input: PostMortemInput,
    /// `draft`, `in_review` or `published`.
    pub status: String,
    pub reviewers: Vec<UserId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub published_at: Option<Timestamp>,
}

/// What an edit replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostMortemUpdate {
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostMortemComment {
    pub id: i64,
    pub at: Timestamp,
    pub author: String,
    pub body: String,
}

/// A team's post-mortem settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostMortemSettings {
    pub team_id: TeamId,
    /// Markdown with `{{timeline}}` where the incidents' timeline goes.
    pub template: String,
    /// Addresses that hear of every published post-mortem besides the team.
    pub distribution: Vec<String>,
    /// How long after a high-urgency incident is resolved without a post-mortem its responders
    /// are reminded.
    pub remind_after_seconds: i64,
    /// How old a draft gets before its owner is reminded.
    pub draft_reminder_days: i64,
}

/// What a search asks for; every part is optional and they combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostMortemQuery {
    /// Free text, ranked; every term must match.
    pub text: Option<String>,
    pub team: Option<TeamId>,
    /// Post-mortems of an incident on this service.
    pub service: Option<ServiceId>,
    pub tag: Option<String>,
    pub status: Option<String>,
    /// Written at or after `since`, before `until`.
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub limit: i64,
}

/// A search result: the post-mortem and how well it matched (higher is better; 0 without
/// text, where results come newest first).
#[derive(Debug, Clone, PartialEq)]
pub struct PostMortemHit {
    pub post_mortem: PostMortem,
    pub rank: f64,
}

/// A "seen before" candidate: what its words are compared on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TitleCandidate {
    pub id: i64,
    pub title: String,
    pub tags: Vec<String>,
}

/// Both lists of "seen before" candidates, read in one statement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeenBeforeCandidates {
    /// Post-mortems whose title or tags hold every, or any, of the incident's title words.
    pub by_title: Vec<TitleCandidate>,
    /// Post-mortems that cover an incident of the same service, newest first.
    pub by_service: Vec<i64>,
}

/// One incident's "seen before" question: the words of its title, its service, and itself
/// (the post-mortems that already cover it are left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenBeforeQuery {
    pub terms: Vec<String>,
    pub service: ServiceId,
    pub exclude: IncidentId,
}

/// What a "seen before" hint shows of a post-mortem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostMortemBrief {
    pub id: i64,
    pub title: String,
    pub status: String,
    /// Markdown.
    pub body: String,
}

#[async_trait]
pub trait PostMortemTx: Send {
    async fn insert_post_mortem(&mut self, input: &PostMortemInput) -> Result<PostMortem>;
    async fn post_mortem(&mut self, id: i64) -> Result<PostMortem>;
    /// Replaces the title, body, tags and status; publishing stamps `published_at` once.
    async fn update_post_mortem(
        &mut self,
        id: i64,
        update: &PostMortemUpdate,
    ) -> Result<PostMortem>;
    async fn set_post_mortem_reviewers(&mut self, id: i64, reviewers: &[UserId]) -> Result<()>;
    async fn insert_post_mortem_comment(
        &mut self,
        id: i64,
        author: &str,
        body: &str,
    ) -> Result<PostMortemComment>;
    async fn post_mortem_comments(&mut self, id: i64) -> Result<Vec<PostMortemComment>>;
    /// The tickets linked to the post-mortem as its action items.
    async fn post_mortem_tickets(&mut self, id: i64) -> Result<Vec<StoredTicket>>;
    /// The post-mortems that cover an incident.
    async fn incident_post_mortems(&mut self, incident: IncidentId) -> Result<Vec<PostMortem>>;
    /// Searches: ranked by text when there is text (among the newest 250 matches), newest
    /// first otherwise.
    async fn search_post_mortems(&mut self, query: &PostMortemQuery) -> Result<Vec<PostMortemHit>>;
    /// Candidates for "seen before", in one statement (it runs on the way to a page):
    /// post-mortems whose title or tags hold every one of `terms` (plain alphanumeric words,
    /// matched as whole words after stemming), and those that hold any, at most `limit` of
    /// each, newest first; and the newest `service_limit` that cover an incident of
    /// `service`. Only the index is read, never a whole body, so the cost stays small however
    /// common the words are; the caller ranks them. Post-mortems that cover `exclude` are left
    /// out.
    async fn seen_before_candidates(
        &mut self,
        terms: &[String],
        limit: i64,
        service: ServiceId,
        service_limit: i64,
        exclude: IncidentId,
    ) -> Result<SeenBeforeCandidates> {
        let query = SeenBeforeQuery {
            terms: terms.to_vec(),
            service,
            exclude,
        };
        let mut found = self
            .seen_before_candidates_many(std::slice::from_ref(&query), limit, service_limit)
            .await?;
        Ok(found.pop().unwrap_or_default())
    }
    /// [`PostMortemTx::seen_before_candidates`] for several incidents at once: the engine
    /// asks for every page of a pass together. SQLite answers 16 in one statement; PostgreSQL
    /// plans each on its own, with its words in view. One answer per query, in order.
    async fn seen_before_candidates_many(
        &mut self,
        queries: &[SeenBeforeQuery],
        limit: i64,
        service_limit: i64,
    ) -> Result<Vec<SeenBeforeCandidates>>;
    /// The title, status and body of post-mortems by id, in one statement (unknown ids are
    /// left out; no order).
    async fn post_mortem_briefs(&mut self, ids: &[i64]) -> Result<Vec<PostMortemBrief>>;
    async fn post_mortem_settings(&mut self, team: TeamId) -> Result<Option<PostMortemSettings>>;
    async fn put_post_mortem_settings(&mut self, settings: &PostMortemSettings) -> Result<()>;
    /// High-urgency incidents resolved within `[since, until)` that no post-mortem covers.
    async fn resolved_without_post_mortem(
        &mut self,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<Incident>>;
}
