//! Post-mortems: a write-up of one or more incidents, in Markdown, with figures computed from
//! the incidents, moving from draft through review to published.

use async_trait::async_trait;
use jiff::Timestamp;
use watchbill_core::{IncidentId, TeamId};

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
    pub created_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostMortem {
    pub id: i64,
    pub input: PostMortemInput,
    /// `draft`, `in_review` or `published`.
    pub status: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub published_at: Option<Timestamp>,
}

#[async_trait]
pub trait PostMortemTx: Send {
    async fn insert_post_mortem(&mut self, input: &PostMortemInput) -> Result<PostMortem>;
    async fn post_mortem(&mut self, id: i64) -> Result<PostMortem>;
    /// Newest first; of one team, or all.
    async fn post_mortems(&mut self, team: Option<TeamId>) -> Result<Vec<PostMortem>>;
    /// Replaces the title, body and status; publishing stamps `published_at` once.
    async fn update_post_mortem(
        &mut self,
        id: i64,
        title: &str,
        body: &str,
        status: &str,
    ) -> Result<PostMortem>;
}
