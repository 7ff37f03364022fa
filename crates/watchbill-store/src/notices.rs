//! Notices: messages that are not pages — deadline reminders, handoff reports by email — kept
//! in an outbox of their own like pages are, so none is lost in a crash and none is sent twice
//! for one idempotency key.

use async_trait::async_trait;
use jiff::Timestamp;
use watchbill_core::UserId;

use crate::Result;

/// A notice to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeInput {
    /// Names the notice for good: a second insert with the same key does nothing.
    pub idempotency_key: String,
    pub user_id: Option<UserId>,
    /// The channel: `email`, `webhook` or `slack` (notices never call or text).
    pub kind: String,
    pub address: String,
    pub subject: String,
    pub body: String,
    /// An HTML rendering of the body, sent beside the text as its alternative (email only).
    pub html: Option<String>,
    /// Where the reader acts: the ticket's or report's page.
    pub link: String,
    /// The Message-ID of the conversation an email continues (`<ticket.UF-3@watchbill>`), so
    /// that mail programs keep a ticket's messages together.
    pub thread: Option<String>,
    /// Not before this instant (a reminder waits for the morning).
    pub due_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub id: i64,
    pub input: NoticeInput,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub last_error: String,
    pub sent_at: Option<Timestamp>,
}

#[async_trait]
pub trait NoticeTx: Send {
    /// Queues a notice; answers false when one with its key already exists.
    async fn insert_notice(&mut self, input: &NoticeInput) -> Result<bool>;
    /// Claims up to `limit` pending notices due at `now`, hiding them until `lease_until` so
    /// that no other worker sends them meanwhile, and counts the attempt.
    async fn claim_due_notices(
        &mut self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<Notice>>;
    async fn mark_notice_sent(&mut self, id: i64) -> Result<()>;
    /// Records a failed attempt: retried at `retry_at`, or given up without one.
    async fn mark_notice_failed(
        &mut self,
        id: i64,
        error: &str,
        retry_at: Option<Timestamp>,
    ) -> Result<()>;
    /// Notices whose key starts with `prefix`, oldest first (for the pages and tests).
    async fn notices(&mut self, prefix: &str, limit: i64) -> Result<Vec<Notice>>;
}
