//! Paging people: which notification goes to whom and when, planned in memory and written
//! together.
//!
//! The escalation engine fires dozens of timers in one transaction. Each incident's new
//! assignees, notifications and timeline lines are planned here first and written with one
//! statement per kind of row, so a claim costs a handful of statements however many incidents
//! it pages. A manual page (a responder added, a reassignment) takes the same path with one
//! incident.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use jiff::SignedDuration;
use watchbill_core::paging::Urgency;
use watchbill_core::{IncidentId, UserId};
use watchbill_store::model::User;
use watchbill_store::paging::{Incident, NotificationInput};
use watchbill_store::{StoreError, Tx};

use super::settings::Reach;
use crate::roster::Roster;

/// People's names, contact methods and notification rules, read once per transaction however
/// many incidents page them.
#[derive(Debug, Default)]
pub struct People {
    /// A roster of the revision the transaction sees, whose users and kept settings answer
    /// first, across transactions.
    roster: Option<Arc<Roster>>,
    known: HashMap<UserId, (User, Arc<Reach>)>,
}

impl People {
    /// People answered from `roster` where it can. The caller's transaction must have read
    /// the roster's revision, as [`RosterCache::get`](crate::roster::RosterCache::get) does.
    pub fn with_roster(roster: Arc<Roster>) -> People {
        People {
            roster: Some(roster),
            known: HashMap::new(),
        }
    }

    async fn get(
        &mut self,
        tx: &mut dyn Tx,
        user: UserId,
    ) -> Result<&(User, Arc<Reach>), StoreError> {
        let slot = match self.known.entry(user) {
            Entry::Occupied(known) => return Ok(known.into_mut()),
            Entry::Vacant(slot) => slot,
        };
        let found = match &self.roster {
            Some(roster) => {
                let person = match roster.users.get(&user) {
                    Some(person) => person.clone(),
                    None => tx.user(user).await?,
                };
                (person, roster.paging.reach(tx, user).await?)
            }
            None => (tx.user(user).await?, Arc::new(Reach::read(tx, user).await?)),
        };
        Ok(slot.insert(found))
    }
}

/// A timeline line in the order it was planned. A paging line names only the notifications
/// that turn out to be new when written, so it is composed then.
#[derive(Debug)]
enum Planned {
    Line {
        incident: IncidentId,
        kind: &'static str,
        message: String,
    },
    Paging {
        incident: IncidentId,
        person: String,
        reason: String,
        /// Each planned notification's idempotency key and how the line names it.
        queued: Vec<(String, String)>,
    },
}

/// Pending pages, assignee changes and timeline lines of one transaction.
#[derive(Debug, Default)]
pub struct PageBatch {
    cleared: Vec<IncidentId>,
    assignees: Vec<(IncidentId, UserId)>,
    notifications: Vec<NotificationInput>,
    entries: Vec<Planned>,
}

impl PageBatch {
    /// Whether the batch makes any notification.
    pub fn is_empty(&self) -> bool {
        self.notifications.is_empty()
    }

    /// A timeline line by watchbill itself, kept in order with the paging lines.
    pub fn line(&mut self, incident: IncidentId, kind: &'static str, message: String) {
        self.entries.push(Planned::Line {
            incident,
            kind,
            message,
        });
    }

    /// Removes the incident's assignees before this batch's pages add theirs.
    pub fn clear_assignees(&mut self, incident: IncidentId) {
        self.cleared.push(incident);
    }

    /// Plans paging `users` about the incident now, through their notification rules, and
    /// makes them assignees. `reason` goes on the timeline.
    ///
    /// `round` names this paging among all of the incident's: an escalation timer's step and
    /// due time, or a person's action and its instant. It is part of each notification's
    /// idempotency key, so repeating the same round (a transaction retried after a crash)
    /// sends nothing twice, while a new round (a snooze ending, a repeat of the policy) pages
    /// again.
    pub async fn page(
        &mut self,
        tx: &mut dyn Tx,
        people: &mut People,
        incident: &Incident,
        users: &[UserId],
        round: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let now = tx.now();
        for user in users {
            self.assignees.push((incident.id, *user));
            let (person, reach) = people.get(tx, *user).await?;
            let (methods, rules) = (&reach.methods, &reach.rules);
            // Without rules, every contact method is used at once.
            let plan: Vec<(i64, i64)> = if rules.is_empty() {
                methods.iter().map(|m| (m.id, 0)).collect()
            } else {
                rules
                    .iter()
                    .map(|r| (r.contact_method_id, r.delay_seconds))
                    .collect()
            };
            if plan.is_empty() {
                self.line(
                    incident.id,
                    "not_notified",
                    format!("{} has no contact methods", person.name),
                );
                continue;
            }
            let mut queued = Vec::new();
            for (method_id, delay) in plan {
                let Some(method) = methods.iter().find(|m| m.id == method_id) else {
                    continue;
                };
                let key = format!("{}:{round}:{user}:{}:{delay}", incident.id, method.id);
                let mut due = now
                    .saturating_add(SignedDuration::from_secs(delay))
                    .unwrap_or(now);
                if incident.urgency == Urgency::Low {
                    if let Ok(zone) = jiff::tz::TimeZone::get(&person.time_zone) {
                        due = watchbill_core::paging::daytime(due, &zone);
                    }
                }
                let label = if delay > 0 {
                    format!("{} in {delay}s", method.kind)
                } else {
                    method.kind.clone()
                };
                queued.push((key.clone(), label));
                self.notifications.push(NotificationInput {
                    idempotency_key: key,
                    incident_id: incident.id,
                    user_id: *user,
                    kind: method.kind.clone(),
                    address: method.address.clone(),
                    due_at: due,
                });
            }
            self.entries.push(Planned::Paging {
                incident: incident.id,
                person: person.name.clone(),
                reason: reason.to_owned(),
                queued,
            });
        }
        Ok(())
    }

    /// Writes everything planned: cleared assignees first, then the new ones, the
    /// notifications, and the timeline in the order it was planned.
    pub async fn write(mut self, tx: &mut dyn Tx) -> Result<(), StoreError> {
        if !self.cleared.is_empty() {
            tx.clear_assignees(&self.cleared).await?;
        }
        if !self.assignees.is_empty() {
            self.assignees.sort_unstable_by_key(|(i, u)| (i.0, u.0));
            self.assignees.dedup();
            tx.add_assignees(&self.assignees).await?;
        }
        let inserted: HashSet<String> = if self.notifications.is_empty() {
            HashSet::new()
        } else {
            tx.insert_notifications(&self.notifications)
                .await?
                .into_iter()
                .collect()
        };
        let mut lines = Vec::with_capacity(self.entries.len());
        for entry in self.entries {
            match entry {
                Planned::Line {
                    incident,
                    kind,
                    message,
                } => lines.push((incident, kind.to_owned(), "watchbill".to_owned(), message)),
                Planned::Paging {
                    incident,
                    person,
                    reason,
                    queued,
                } => {
                    let new: Vec<String> = queued
                        .into_iter()
                        .filter(|(key, _)| inserted.contains(key))
                        .map(|(_, label)| label)
                        .collect();
                    if !new.is_empty() {
                        lines.push((
                            incident,
                            "paging".to_owned(),
                            "watchbill".to_owned(),
                            format!("{reason}: paging {person} by {}", new.join(", ")),
                        ));
                    }
                }
            }
        }
        if !lines.is_empty() {
            tx.log_many(&lines).await?;
        }
        Ok(())
    }
}

/// Pages `users` about one incident now and writes it at once; see [`PageBatch::page`].
pub async fn page_users(
    tx: &mut dyn Tx,
    people: &mut People,
    incident: &Incident,
    users: &[UserId],
    round: &str,
    reason: &str,
) -> Result<(), StoreError> {
    let mut batch = PageBatch::default();
    batch
        .page(tx, people, incident, users, round, reason)
        .await?;
    batch.write(tx).await
}
