//! The records the store keeps, and the inputs that create or change them.
//!
//! These are plain data. Rules (is this rotation valid? who is on call?) live in the core and
//! are checked by the callers before they write; the store only keeps the data consistent
//! (uniqueness, references) and reports what it refused.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use watchbill_core::{LayerId, OverrideId, Role, ScheduleId, TeamId, TokenId, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub name: String,
    /// Stored lower-cased; unique.
    pub email: String,
    /// An IANA zone name, e.g. `Europe/Berlin`.
    pub time_zone: String,
    pub photo_url: Option<String>,
    pub role: Role,
    /// The secret in the user's calendar-feed URL.
    pub ics_token: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInput {
    pub name: String,
    pub email: String,
    pub time_zone: String,
    pub photo_url: Option<String>,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    pub description: String,
    /// Member ids, ordered by id.
    pub members: Vec<UserId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamInput {
    pub name: String,
    pub description: String,
    pub members: Vec<UserId>,
}

/// A schedule with its layers, lowest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub id: ScheduleId,
    pub team_id: TeamId,
    pub name: String,
    pub time_zone: String,
    /// When set, the schedule has no layers of its own: it is the named schedule's layers with
    /// every rotation moved `offset` people along.
    pub follows: Option<Follows>,
    pub ics_token: String,
    pub layers: Vec<Layer>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Follows {
    pub schedule_id: ScheduleId,
    pub offset: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleInput {
    pub team_id: TeamId,
    pub name: String,
    pub time_zone: String,
    pub follows: Option<Follows>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub id: LayerId,
    pub schedule_id: ScheduleId,
    pub position: i32,
    pub input: LayerInput,
}

/// A layer as declared. Turn length and handoff are kept in their text forms (`1w`,
/// `Wednesday 10:00`), which the core parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInput {
    pub name: String,
    pub participants: Vec<UserId>,
    pub turn: String,
    pub handoff: String,
    pub start: Timestamp,
    pub end: Option<Timestamp>,
    pub restrictions: Vec<RestrictionInput>,
    pub offset: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestrictionInput {
    /// English weekday names; empty is not allowed.
    pub days: Vec<String>,
    /// `HH:MM` local time.
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverrideKind {
    Cover { user: UserId },
    Swap { first: UserId, second: UserId },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub id: OverrideId,
    pub schedule_id: ScheduleId,
    pub start: Timestamp,
    pub end: Timestamp,
    pub kind: OverrideKind,
    pub note: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideInput {
    pub schedule_id: ScheduleId,
    pub start: Timestamp,
    pub end: Timestamp,
    pub kind: OverrideKind,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: TokenId,
    pub name: String,
    pub role: Role,
    pub user_id: Option<UserId>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInput {
    pub name: String,
    pub role: Role,
    pub user_id: Option<UserId>,
    /// The SHA-256 of the secret, hex; the secret itself is never stored.
    pub secret_hash: String,
}

/// One line of the audit log: who changed what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub subject: String,
}
