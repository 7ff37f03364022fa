//! The designated addresses: which address files tickets (and pages) for which team, and
//! every message received, kept whole for audit and for threading replies.

use async_trait::async_trait;
use jiff::Timestamp;
use watchbill_core::{IncidentId, ServiceId, TeamId};

use crate::Result;

/// What mail to an address does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailMode {
    /// A ticket and an incident that pages the service's on-call.
    Urgent,
    /// A ticket labelled `product-maintenance-duty`, no page.
    Maintenance,
}

impl MailMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MailMode::Urgent => "urgent",
            MailMode::Maintenance => "maintenance",
        }
    }

    pub fn parse(text: &str) -> Option<MailMode> {
        match text {
            "urgent" => Some(MailMode::Urgent),
            "maintenance" => Some(MailMode::Maintenance),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAddressInput {
    /// Lower-cased, e.g. `urgent@demo.watchbill.test`.
    pub address: String,
    pub team_id: TeamId,
    /// For urgent mail: the service whose escalation policy is paged.
    pub service_id: Option<ServiceId>,
    pub mode: MailMode,
    /// The new ticket's priority name (`High`), labels and days until due, if set.
    pub priority: Option<String>,
    pub labels: Vec<String>,
    pub due_days: Option<i64>,
    /// Senders allowed: addresses (`ops@example.com`) or domains (`example.com`); empty lets
    /// anyone write.
    pub allow: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAddress {
    pub id: i64,
    pub input: MailAddressInput,
    pub created_at: Timestamp,
}

/// A message as received, with what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRecord {
    pub message_id: String,
    pub sender: String,
    pub recipient: String,
    pub subject: String,
    /// `ticket`, `ticket+incident`, `comment`, `acknowledged`, `resolved`, `auto-reply`,
    /// `flood` or `refused`.
    pub outcome: String,
    pub ticket_id: Option<i64>,
    pub incident_id: Option<IncidentId>,
    pub raw: Vec<u8>,
}

#[async_trait]
pub trait MailTx: Send {
    async fn insert_mail_address(&mut self, input: &MailAddressInput) -> Result<MailAddress>;
    async fn mail_addresses(&mut self) -> Result<Vec<MailAddress>>;
    async fn find_mail_address(&mut self, address: &str) -> Result<Option<MailAddress>>;
    async fn delete_mail_address(&mut self, id: i64) -> Result<()>;

    /// Keeps a received message; answers its row id.
    async fn record_mail(&mut self, record: &MailRecord) -> Result<i64>;
    /// The ticket and incident of the earliest kept message with one of these Message-IDs.
    async fn mail_thread(
        &mut self,
        message_ids: &[String],
    ) -> Result<Option<(Option<i64>, Option<IncidentId>)>>;
    /// The ticket and incident of the latest message from `sender` to `recipient` since
    /// `since` that opened an incident (a flood joins it).
    async fn latest_page_from(
        &mut self,
        sender: &str,
        recipient: &str,
        since: Timestamp,
    ) -> Result<Option<(Option<i64>, IncidentId)>>;
    /// The sender of the message that filed ticket `ticket`, if mail filed it.
    async fn mail_requester(&mut self, ticket: i64) -> Result<Option<String>>;
    /// Kept messages, newest first (for audit).
    async fn mail_log(&mut self, limit: i64) -> Result<Vec<(i64, Timestamp, MailRecord)>>;
}
