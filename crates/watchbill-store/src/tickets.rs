//! The ticket half of the store: each team's ticket settings, tickets with their labels, and
//! the history of every change. Queries in the filter language arrive compiled by the core
//! (`watchbill_core::tickets::filter::compile`) and run here as they are.

use async_trait::async_trait;
use jiff::civil;
use watchbill_core::tickets::filter::CompiledSql;
use watchbill_core::tickets::{Priority, Ticket, TicketKey, TicketKind, TicketStatus};
use watchbill_core::{TeamId, UserId};

use crate::Result;

/// A team's ticket settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketSettings {
    pub team_id: TeamId,
    /// The key prefix of the team's tickets, upper case: `UF` makes `UF-123`.
    pub prefix: String,
    /// The filter of the team's maintenance-duty queue.
    pub duty_filter: String,
    /// Whether a new ticket the duty filter selects, filed without an assignee, goes to the
    /// team's Captain On-Call.
    pub assign_to_captain: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketComment {
    pub id: i64,
    pub at: jiff::Timestamp,
    pub author: String,
    pub body: String,
}

/// What a ticket links to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TicketLink {
    Incident(watchbill_core::IncidentId),
    /// Another ticket, by row id.
    Ticket(i64),
    /// A post-mortem whose action item the ticket is, by id.
    PostMortem(i64),
}

/// A ticket as stored: its row id and team, and the core's ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTicket {
    pub id: i64,
    pub team_id: TeamId,
    pub ticket: Ticket,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTicket {
    pub team_id: TeamId,
    pub title: String,
    pub description: String,
    pub kind: TicketKind,
    pub priority: Priority,
    /// Usually `Open`; an import brings tickets in whatever state they were.
    pub status: TicketStatus,
    pub labels: Vec<String>,
    pub due: Option<civil::Date>,
    pub reporter: Option<UserId>,
    pub assignee: Option<UserId>,
    pub component: Option<String>,
}

/// One change to a ticket; each becomes a line of its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketChange {
    Title(String),
    Description(String),
    Kind(TicketKind),
    Priority(Priority),
    Status(TicketStatus),
    Due(Option<civil::Date>),
    Assignee(Option<UserId>),
    Component(Option<String>),
    Labels(Vec<String>),
}

/// One line of a ticket's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketHistory {
    pub at: jiff::Timestamp,
    pub actor: String,
    pub field: String,
    pub old_value: String,
    pub new_value: String,
}

/// A saved filter: a team's (shared) or a person's (their own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedFilter {
    pub id: i64,
    pub team_id: Option<TeamId>,
    pub user_id: Option<UserId>,
    pub name: String,
    pub query: String,
}

/// A file attached to a ticket, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub id: i64,
    pub ticket_id: i64,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub uploaded_by: String,
    pub created_at: jiff::Timestamp,
}

/// A commit pushed to one of a team's repositories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub repository: String,
    pub sha: String,
    pub author_email: String,
    pub message: String,
    pub committed_at: jiff::Timestamp,
    pub added: Vec<String>,
    pub modified: Vec<String>,
}

/// The ticket operations of a transaction.
#[async_trait]
pub trait TicketTx: Send {
    async fn ticket_settings(&mut self, team: TeamId) -> Result<Option<TicketSettings>>;
    async fn all_ticket_settings(&mut self) -> Result<Vec<TicketSettings>>;
    async fn set_ticket_settings(&mut self, settings: &TicketSettings) -> Result<()>;
    /// Files a ticket under the next number of its team's prefix.
    async fn insert_ticket(&mut self, input: &NewTicket, actor: &str) -> Result<StoredTicket>;
    /// Files many tickets of one team, each with the actor its history names, under the next
    /// numbers in order, in a few multi-row statements; returns them in input order.
    async fn insert_tickets(
        &mut self,
        team: TeamId,
        tickets: &[(NewTicket, String)],
    ) -> Result<Vec<StoredTicket>>;
    async fn ticket_by_key(&mut self, key: &TicketKey) -> Result<StoredTicket>;
    /// Applies changes, writing a history line for each that changes something.
    async fn update_ticket(
        &mut self,
        id: i64,
        changes: &[TicketChange],
        actor: &str,
    ) -> Result<StoredTicket>;
    /// The tickets a compiled filter selects, in its order, at most `limit`.
    async fn find_tickets(&mut self, query: &CompiledSql, limit: i64) -> Result<Vec<StoredTicket>>;
    async fn ticket_history(&mut self, id: i64) -> Result<Vec<TicketHistory>>;
    async fn add_ticket_comment(
        &mut self,
        id: i64,
        author: &str,
        body: &str,
    ) -> Result<TicketComment>;
    async fn ticket_comments(&mut self, id: i64) -> Result<Vec<TicketComment>>;
    /// Links a ticket to an incident or another ticket; linking twice is one link. Ticket
    /// links are kept both ways.
    async fn link_ticket(&mut self, id: i64, link: TicketLink) -> Result<()>;
    async fn ticket_links(&mut self, id: i64) -> Result<Vec<TicketLink>>;
    /// The tickets linked to an incident.
    async fn incident_tickets(
        &mut self,
        incident: watchbill_core::IncidentId,
    ) -> Result<Vec<StoredTicket>>;
    /// A ticket by row id.
    async fn ticket(&mut self, id: i64) -> Result<StoredTicket>;

    /// Saves a filter for a team or a person (exactly one of the two).
    async fn insert_saved_filter(&mut self, filter: &SavedFilter) -> Result<SavedFilter>;
    /// A team's filters and a person's own.
    async fn saved_filters(
        &mut self,
        team: Option<TeamId>,
        user: Option<UserId>,
    ) -> Result<Vec<SavedFilter>>;
    async fn saved_filter(&mut self, id: i64) -> Result<SavedFilter>;
    async fn delete_saved_filter(&mut self, id: i64) -> Result<()>;

    /// Records a pushed commit and links it to the tickets with these keys that exist;
    /// returns the keys linked. A commit pushed twice is recorded once.
    async fn record_commit(
        &mut self,
        team: TeamId,
        commit: &Commit,
        keys: &[TicketKey],
    ) -> Result<Vec<TicketKey>>;
    /// The team's commits in `[from, to)`, oldest first.
    async fn commits(
        &mut self,
        team: TeamId,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> Result<Vec<Commit>>;
    /// The commits that name a ticket.
    async fn ticket_commits(&mut self, id: i64) -> Result<Vec<Commit>>;

    /// Attaches a file to a ticket.
    async fn add_attachment(
        &mut self,
        ticket: i64,
        filename: &str,
        content_type: &str,
        data: &[u8],
        actor: &str,
    ) -> Result<Attachment>;
    /// A ticket's attachments, oldest first, without their bytes.
    async fn attachments(&mut self, ticket: i64) -> Result<Vec<Attachment>>;
    /// One attachment of a ticket, with its bytes.
    async fn attachment(&mut self, ticket: i64, id: i64) -> Result<(Attachment, Vec<u8>)>;

    /// Keeps the handoff report of the team's week ending at `week_end`; false if one is
    /// already kept, which leaves it as it was.
    async fn record_handoff_report(
        &mut self,
        team: TeamId,
        week_end: jiff::Timestamp,
        body: &str,
    ) -> Result<bool>;
    /// Whether the report of that week is kept.
    async fn has_handoff_report(&mut self, team: TeamId, week_end: jiff::Timestamp)
        -> Result<bool>;
    /// The team's kept reports, newest first: each week's end and the report as JSON.
    async fn handoff_reports(
        &mut self,
        team: TeamId,
        limit: i64,
    ) -> Result<Vec<(jiff::Timestamp, String)>>;
}
