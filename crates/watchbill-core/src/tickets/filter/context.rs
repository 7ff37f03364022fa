//! What a query is evaluated against: the clock, the time zone and the people it may name.

use std::collections::HashMap;

use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::UserId;

/// Finds people by email, for `assignee = ada@example.com`.
pub trait UserDirectory {
    fn user_id_by_email(&self, email: &str) -> Option<UserId>;
}

/// A directory that knows nobody: every email names no one.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoUsers;

impl UserDirectory for NoUsers {
    fn user_id_by_email(&self, _email: &str) -> Option<UserId> {
        None
    }
}

/// Emails are looked up as written, then in lower case, so a map keyed by lower-case emails
/// answers `Ada@Example.com` too.
impl UserDirectory for HashMap<String, UserId> {
    fn user_id_by_email(&self, email: &str) -> Option<UserId> {
        self.get(email)
            .or_else(|| self.get(&email.to_lowercase()))
            .copied()
    }
}

impl<F: Fn(&str) -> Option<UserId>> UserDirectory for F {
    fn user_id_by_email(&self, email: &str) -> Option<UserId> {
        self(email)
    }
}

static NO_USERS: NoUsers = NoUsers;

/// Everything outside the query that decides what it means.
///
/// A query never reads the system clock: `now()`, `"+7d"` and `startOfWeek()` are resolved
/// against `now` in `time_zone`, so the same query and context always select the same tickets.
#[derive(Clone)]
pub struct Context<'a> {
    pub now: Timestamp,
    /// The zone in which days and weeks are counted (the caller's, or the team's).
    pub time_zone: TimeZone,
    /// Whoever runs the query, for `currentUser()`; `None` makes it name nobody.
    pub current_user: Option<UserId>,
    /// The team's current Captain On-Call, for `currentDuty()`; `None` (nobody on duty)
    /// makes it name nobody.
    pub current_duty: Option<UserId>,
    pub users: &'a dyn UserDirectory,
}

impl Context<'static> {
    /// A context with nobody: no current user, nobody on duty, no emails known.
    pub fn new(now: Timestamp, time_zone: TimeZone) -> Context<'static> {
        Context {
            now,
            time_zone,
            current_user: None,
            current_duty: None,
            users: &NO_USERS,
        }
    }
}

impl<'a> Context<'a> {
    pub fn with_current_user(mut self, user: UserId) -> Context<'a> {
        self.current_user = Some(user);
        self
    }

    pub fn with_current_duty(mut self, user: UserId) -> Context<'a> {
        self.current_duty = Some(user);
        self
    }

    pub fn with_users<'b>(self, users: &'b dyn UserDirectory) -> Context<'b> {
        Context {
            now: self.now,
            time_zone: self.time_zone,
            current_user: self.current_user,
            current_duty: self.current_duty,
            users,
        }
    }
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("now", &self.now)
            .field("time_zone", &self.time_zone)
            .field("current_user", &self.current_user)
            .field("current_duty", &self.current_duty)
            .finish_non_exhaustive()
    }
}
