//! Set-based writes for an intake batch.
//!
//! A batch may hold hundreds of triggers. Written one by one, each would cost several
//! statements (find the open incident, add the alert or open one, its timeline line, the event
//! record). Instead the batch looks up every open incident its dedup keys name in one query per
//! service, decides each trigger in memory with the core's rule, and writes the outcome with a
//! few multi-row statements. Acknowledge and resolve events, pings and change events are rarer
//! and take the one-by-one path; the batch is flushed before each of them, so they see every
//! earlier event of the batch, and refreshed after, so later triggers see their effect.
//!
//! What a batch learns of open incidents is kept for the next one: in a storm the same keys
//! come back batch after batch, and looking them up again was a third of a batch's time. It
//! cannot go stale unnoticed. Incidents are never deleted, and the only way out of "open" is
//! resolving, which other transactions and other servers may do at any time. On SQLite every
//! resolution moves the paging revision, which each batch reads as it begins: while it stands,
//! what was remembered holds; when it has moved, all is forgotten (see [`Batch::after`]). On
//! PostgreSQL, which keeps no revision, every alert added to a remembered incident is written
//! only if the incident is still open, and if one is not, the whole batch is tried again,
//! reading every key afresh.

use std::collections::HashMap;

use watchbill_core::paging::{alert_line_due, outcome, EventAction, Outcome, Step, Urgency};
use watchbill_core::{IncidentId, ServiceId};
use watchbill_store::paging::{EventInput, Integration, NewIncident, OpenCheck};
use watchbill_store::{StoreError, Tx};

use super::events::IntakeEvent;
use super::intake::{Accepted, Lookups, LOW_URGENCY_NOTE};
use super::routes::Revision;

/// Where an event's incident is: already in the database, or opened by this batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Existing(IncidentId),
    /// An index into [`Batch::opened`].
    New(usize),
}

#[derive(Debug)]
struct Opening {
    input: NewIncident,
    alerts: i64,
    pages: bool,
    /// A low-urgency service that files duty tickets instead of paging.
    files_ticket: bool,
}

/// How many open incidents a batch remembers for the next at most (a few megabytes); past
/// that it starts over, reading each key again once. A storm over more keys than this is
/// looked up as if nothing were remembered, and the incidents resolved since they were
/// remembered are forgotten.
const REMEMBERED_AT_MOST: usize = 20_000;

/// The pending writes of a batch, and what it knows of open incidents.
#[derive(Debug)]
pub struct Batch {
    /// Each (service, dedup key) whose open incident this batch or an earlier one found or
    /// opened. A key not here may or may not have one: [`Batch::preload`] asks.
    open: HashMap<(ServiceId, String), Slot>,
    /// Every incident this batch opened, by index; the id is known once flushed.
    opened: Vec<Option<IncidentId>>,
    pending: Vec<(usize, Opening)>,
    alerts: HashMap<IncidentId, i64>,
    /// Each open incident's alert count and last alert as read, for [`alert_line_due`].
    seen: HashMap<IncidentId, (i64, jiff::Timestamp)>,
    lines: Vec<(Slot, &'static str, String, String)>,
    events: Vec<(Option<Slot>, EventInput)>,
    /// Answers to fill in once their incident has an id: (job, event, opened index).
    patches: Vec<(usize, usize, usize)>,
    /// Whether the incidents remembered are known to be still open, or must be checked as
    /// their alerts are written.
    check: OpenCheck,
}

impl Default for Batch {
    fn default() -> Batch {
        Batch {
            open: HashMap::new(),
            opened: Vec::new(),
            pending: Vec::new(),
            alerts: HashMap::new(),
            seen: HashMap::new(),
            lines: Vec::new(),
            events: Vec::new(),
            patches: Vec::new(),
            check: OpenCheck::Check,
        }
    }
}

impl Batch {
    /// A batch that remembers what `earlier`, a batch that committed, knew of open incidents,
    /// as far as `since` allows:
    /// - [`Revision::Unchanged`]: no incident was resolved since `earlier` began, so all it
    ///   knew holds, and nothing is checked.
    /// - [`Revision::Moved`]: some may have been, so all is forgotten and each key read again.
    ///   Nothing is checked either: every incident this batch reads stays open until it
    ///   commits, as it holds the one write lock.
    /// - [`Revision::NotKept`]: what `earlier` knew is kept, and each incident checked to be
    ///   open as its alerts are written.
    pub fn after(earlier: Batch, since: Revision) -> Batch {
        let check = match since {
            Revision::Unchanged | Revision::Moved => OpenCheck::Known,
            Revision::NotKept => OpenCheck::Check,
        };
        if since == Revision::Moved
            || earlier.open.len() > REMEMBERED_AT_MOST
            || earlier.seen.len() > REMEMBERED_AT_MOST
        {
            return Batch {
                check,
                ..Batch::default()
            };
        }
        Batch {
            open: earlier.open,
            seen: earlier.seen,
            check,
            ..Batch::default()
        }
    }

    /// Loads the open incidents for these (service, dedup key) pairs, except those already
    /// known.
    pub async fn preload(
        &mut self,
        tx: &mut dyn Tx,
        keys: &[(ServiceId, String)],
    ) -> Result<(), StoreError> {
        let mut by_service: HashMap<ServiceId, Vec<String>> = HashMap::new();
        for (service, key) in keys {
            let wanted = (*service, key.clone());
            if !self.open.contains_key(&wanted) {
                by_service.entry(*service).or_default().push(wanted.1);
            }
        }
        for (service, mut keys) in by_service {
            keys.sort();
            keys.dedup();
            for incident in tx.open_incidents_by_keys(service, &keys).await? {
                self.seen
                    .insert(incident.id, (incident.alert_count, incident.last_alert_at));
                self.open
                    .insert((service, incident.dedup_key), Slot::Existing(incident.id));
            }
        }
        Ok(())
    }

    /// Decides a trigger; its writes wait for [`Batch::flush`].
    pub async fn trigger(
        &mut self,
        tx: &mut dyn Tx,
        lookups: &mut Lookups,
        integration: &Integration,
        event: &IntakeEvent,
        answer: (usize, usize),
    ) -> Result<Accepted, StoreError> {
        let service = lookups.service(tx, integration.service_id).await?;
        let key = (service.id, event.dedup_key.clone());
        // Who a timeline line names; written only when a line is.
        let actor = || format!("{} ({})", integration.name, event.source);
        let slot = self.open.get(&key).copied();
        let (slot, name) = match outcome(
            EventAction::Trigger,
            slot.map(|_| watchbill_core::paging::IncidentStatus::Triggered),
        ) {
            Outcome::AddAlert => {
                let slot = slot.ok_or_else(|| {
                    StoreError::Corrupt("an alert without an incident".to_owned())
                })?;
                let now = tx.now();
                // How many alerts the incident had before this one, and when the last came.
                let (before, last) = match slot {
                    Slot::Existing(id) => {
                        let added = self.alerts.entry(id).or_default();
                        let (count, last) = self.seen.get(&id).copied().unwrap_or((1, now));
                        let before = (count + *added, if *added > 0 { now } else { last });
                        *added += 1;
                        before
                    }
                    Slot::New(index) => match self.pending.iter_mut().find(|(i, _)| *i == index) {
                        Some((_, opening)) => {
                            opening.alerts += 1;
                            (opening.alerts - 1, now)
                        }
                        None => (1, now),
                    },
                };
                if alert_line_due(before, last, now) {
                    self.lines.push((
                        slot,
                        "alert",
                        actor(),
                        format!("Another alert: {}", event.summary),
                    ));
                }
                (Some(slot), "alert_added")
            }
            _ if lookups.in_maintenance(tx, service.id).await? => (None, "suppressed"),
            _ => {
                let index = self.opened.len();
                self.opened.push(None);
                let files_ticket =
                    service.default_urgency == Urgency::Low && service.low_urgency_tickets;
                let pages = service.escalation_policy_id.is_some() && !files_ticket;
                self.pending.push((
                    index,
                    Opening {
                        input: NewIncident {
                            service_id: service.id,
                            dedup_key: event.dedup_key.clone(),
                            title: event.summary.clone(),
                            urgency: service.default_urgency,
                        },
                        alerts: 1,
                        pages,
                        files_ticket,
                    },
                ));
                let slot = Slot::New(index);
                self.open.insert(key, slot);
                self.lines.push((
                    slot,
                    "triggered",
                    actor(),
                    format!("Triggered through {}: {}", integration.name, event.summary),
                ));
                if files_ticket {
                    // The duty ticket itself is filed at the flush, once the incident has an id.
                } else if !pages {
                    self.lines.push((
                        slot,
                        "not_paged",
                        "watchbill".to_owned(),
                        "The service has no escalation policy; nobody is paged".to_owned(),
                    ));
                } else if service.default_urgency == Urgency::Low {
                    self.lines.push((
                        slot,
                        "low_urgency",
                        "watchbill".to_owned(),
                        LOW_URGENCY_NOTE.to_owned(),
                    ));
                }
                (Some(slot), "opened")
            }
        };
        self.events
            .push((slot, event_record(integration, event, name)));
        let incident = match slot {
            Some(Slot::Existing(id)) => Some(id),
            Some(Slot::New(index)) => {
                self.patches.push((answer.0, answer.1, index));
                None
            }
            None => None,
        };
        Ok(Accepted {
            dedup_key: event.dedup_key.clone(),
            incident,
            outcome: name,
        })
    }

    /// Forgets what it knew of a key, re-reading it: after the one-by-one path changed it.
    pub async fn refresh(
        &mut self,
        tx: &mut dyn Tx,
        service: ServiceId,
        key: &str,
    ) -> Result<(), StoreError> {
        let map_key = (service, key.to_owned());
        match tx.open_incident_by_dedup(service, key).await? {
            Some(incident) => {
                self.seen
                    .insert(incident.id, (incident.alert_count, incident.last_alert_at));
                self.open.insert(map_key, Slot::Existing(incident.id))
            }
            None => self.open.remove(&map_key),
        };
        Ok(())
    }

    /// Writes everything pending.
    pub async fn flush(
        &mut self,
        tx: &mut dyn Tx,
        lookups: &mut Lookups,
    ) -> Result<(), StoreError> {
        if !self.pending.is_empty() {
            // Each opens with its first alert; later ones of this batch are recorded as events
            // that add alerts, and counted as such below.
            let rows: Vec<(NewIncident, i64)> = self
                .pending
                .iter()
                .map(|(_, o)| (o.input.clone(), 1))
                .collect();
            let inserted = tx.insert_incidents(&rows).await?;
            let ids: HashMap<(ServiceId, String), IncidentId> = inserted
                .into_iter()
                .map(|i| ((i.service_id, i.dedup_key), i.id))
                .collect();
            for (index, opening) in &self.pending {
                let id = ids
                    .get(&(opening.input.service_id, opening.input.dedup_key.clone()))
                    .copied()
                    .ok_or_else(|| {
                        StoreError::Corrupt(
                            "an opened incident came back without its id".to_owned(),
                        )
                    })?;
                self.opened[*index] = Some(id);
                self.seen.insert(id, (1, tx.now()));
                if opening.alerts > 1 {
                    self.alerts.insert(id, opening.alerts - 1);
                }
                self.open.insert(
                    (opening.input.service_id, opening.input.dedup_key.clone()),
                    Slot::Existing(id),
                );
            }
        }
        let resolve = |opened: &[Option<IncidentId>], slot: Slot| match slot {
            Slot::Existing(id) => Some(id),
            Slot::New(index) => opened.get(index).copied().flatten(),
        };
        if !self.lines.is_empty() {
            let lines: Vec<(IncidentId, String, String, String)> = self
                .lines
                .drain(..)
                .filter_map(|(slot, kind, actor, message)| {
                    resolve(&self.opened, slot).map(|id| (id, kind.to_owned(), actor, message))
                })
                .collect();
            tx.log_many(&lines).await?;
        }
        if !self.pending.is_empty() {
            let now = tx.now();
            let mut timers = Vec::new();
            let mut opened_ids = Vec::new();
            let mut tickets = Vec::new();
            for (index, opening) in self.pending.drain(..) {
                let Some(id) = self.opened[index] else {
                    continue;
                };
                opened_ids.push(id);
                if opening.pages {
                    timers.push((id, now, Step::default()));
                }
                if opening.files_ticket {
                    tickets.push(id);
                }
            }
            for id in tickets {
                super::duty_tickets::file_for_incident(tx, id).await?;
            }
            tx.set_timers(&timers).await?;
            let subscriptions = lookups.webhooks(tx).await?;
            if subscriptions.iter().any(|s| s.enabled) {
                for id in opened_ids {
                    super::webhooks::emit_to(
                        tx,
                        &subscriptions,
                        id,
                        "incident.triggered",
                        "intake",
                    )
                    .await?;
                }
            }
        }
        // The alerts and the events last, together: in a storm of repeated alerts they are
        // all a batch writes.
        let counts: Vec<(IncidentId, i64)> = self.alerts.drain().collect();
        let events: Vec<EventInput> = self
            .events
            .drain(..)
            .map(|(slot, mut event)| {
                event.incident_id = slot.and_then(|slot| resolve(&self.opened, slot));
                event
            })
            .collect();
        if counts.is_empty() && events.is_empty() {
            return Ok(());
        }
        let took = tx
            .insert_events_adding_alerts(&events, &counts, self.check)
            .await?;
        if !counts.is_empty() && usize::try_from(took).ok() != Some(counts.len()) {
            // Resolved since this batch or an earlier one read it: the whole batch is tried
            // again, and the next reads every key afresh.
            return Err(StoreError::Changed {
                what: "an incident intake knew as open".into(),
            });
        }
        let now = tx.now();
        for (id, added) in &counts {
            if let Some((count, last)) = self.seen.get_mut(id) {
                *count += added;
                *last = now;
            }
        }
        Ok(())
    }

    /// Fills in the incident of every answer that waited for its incident's id.
    pub fn patch(&self, results: &mut [Result<Vec<Accepted>, super::intake::IntakeError>]) {
        for (job, event, index) in &self.patches {
            if let Some(Ok(accepted)) = results.get_mut(*job) {
                if let Some(answer) = accepted.get_mut(*event) {
                    answer.incident = self.opened.get(*index).copied().flatten();
                }
            }
        }
    }
}

/// The record of an accepted event.
pub fn event_record(integration: &Integration, event: &IntakeEvent, outcome: &str) -> EventInput {
    EventInput {
        integration_id: integration.id,
        incident_id: None,
        action: event.action.as_str().to_owned(),
        dedup_key: event.dedup_key.clone(),
        summary: event.summary.clone(),
        severity: event.severity.clone(),
        source: event.source.clone(),
        outcome: outcome.to_owned(),
        payload: event.payload.clone(),
    }
}
