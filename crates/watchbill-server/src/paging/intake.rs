//! Intake: accepted events become incidents, durably, many per commit.
//!
//! Handlers hand each request's events to [`Intake::submit`] and wait. The writer task takes
//! whatever requests are waiting, apply them all in one transaction and commit once, then
//! answer every request. So an event is acknowledged only after its commit, and throughput is
//! not bound to one disk flush per request: under load, one flush serves a whole batch.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;

use tokio::sync::{mpsc, oneshot, Notify};
use watchbill_core::paging::{alert_line_due, outcome, EventAction, Outcome};
use watchbill_core::{IncidentId, IntegrationId};
use watchbill_store::paging::{EventInput, Integration, IntegrationKind, NewIncident};
use watchbill_store::{Routing, Store, StoreError, Tx};

use super::actions::{self, ActionError};
use super::batch::Batch;
use super::events::IntakeEvent;
use super::routes::RouteMemory;
use super::statistics::StatisticsSchedule;

/// What one request asks intake to do.
#[derive(Debug)]
pub enum Submission {
    /// Events from an integration of the given kind, identified by its routing key.
    Events {
        key: String,
        kind: IntegrationKind,
        events: Vec<IntakeEvent>,
    },
    /// A heartbeat monitor's ping.
    Ping { key: String },
    /// A change event: recorded, pages nobody.
    Change {
        key: String,
        summary: String,
        payload: serde_json::Value,
    },
}

impl Submission {
    /// The integration key it came with.
    fn key(&self) -> &str {
        match self {
            Submission::Events { key, .. }
            | Submission::Change { key, .. }
            | Submission::Ping { key } => key,
        }
    }
}

/// What happened to one accepted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub dedup_key: String,
    pub incident: Option<IncidentId>,
    pub outcome: &'static str,
}

/// Why a submission was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("the routing key is not a known integration key")]
    UnknownKey,
    #[error("this key belongs to a {0} integration")]
    WrongKind(&'static str),
    #[error("events for this key are arriving faster than its limit of {0} a minute")]
    RateLimited(i64),
    #[error("the event could not be stored; retry")]
    Unavailable,
}

/// Per-integration token buckets: each key may send `rate_per_minute` events a minute, in
/// bursts of up to that many.
#[derive(Debug, Default)]
struct RateLimiter {
    buckets: std::sync::Mutex<HashMap<IntegrationId, (f64, Timestamp)>>,
}

impl RateLimiter {
    fn admit(&self, integration: &Integration, events: usize, now: Timestamp) -> bool {
        let capacity = integration.rate_per_minute.max(1) as f64;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, at) = buckets.entry(integration.id).or_insert((capacity, now));
        let elapsed = now.duration_since(*at).as_secs_f64().max(0.0);
        *tokens = (*tokens + elapsed * capacity / 60.0).min(capacity);
        *at = now;
        if *tokens >= events as f64 {
            *tokens -= events as f64;
            true
        } else {
            false
        }
    }
}

struct Job {
    submission: Submission,
    reply: oneshot::Sender<Result<Vec<Accepted>, IntakeError>>,
}

/// The queue in front of the writers.
#[derive(Debug, Clone)]
pub struct Intake {
    sender: mpsc::Sender<Job>,
}

/// What the writer works with.
#[derive(Debug)]
struct Writer {
    store: Arc<dyn Store>,
    wake_engine: Arc<Notify>,
    limiter: RateLimiter,
    /// What the last committed batch knew. A batch takes it and puts what it knows back only
    /// once it committed, so one that failed leaves nothing behind.
    last: std::sync::Mutex<Remembered>,
}

/// What the intake writer carries from one committed batch to the next.
#[derive(Debug, Default)]
struct Remembered {
    routes: RouteMemory,
    /// What the batch knew of open incidents.
    batch: Batch,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("submission", &self.submission)
            .finish()
    }
}

/// What one transaction looks up again and again (the key's integration, its service, whether
/// it is in maintenance, the webhook subscriptions), read once per transaction. Nothing here
/// outlives the transaction, so nothing goes stale.
#[derive(Debug, Default)]
pub struct Lookups {
    integrations: HashMap<String, Option<Integration>>,
    /// Shared, not copied: a batch asks for its service once per event.
    services: HashMap<watchbill_core::ServiceId, Arc<watchbill_store::paging::Service>>,
    maintenance: HashMap<watchbill_core::ServiceId, bool>,
    webhooks: Option<std::sync::Arc<Vec<watchbill_store::paging::WebhookSubscription>>>,
}

impl Lookups {
    async fn integration(
        &mut self,
        tx: &mut dyn Tx,
        key: &str,
    ) -> Result<Option<Integration>, StoreError> {
        if let Some(found) = self.integrations.get(key) {
            return Ok(found.clone());
        }
        // The key's service and its maintenance come in the same statement; most batches
        // need them.
        let route = tx.intake_route(key, tx.now()).await?;
        Ok(self.routed(key.to_owned(), route))
    }

    /// Takes what a route read says of a key: its integration, its service and whether the
    /// service is in maintenance.
    fn routed(
        &mut self,
        key: String,
        route: Option<watchbill_store::paging::IntakeRoute>,
    ) -> Option<Integration> {
        let found = route.map(|route| {
            let service = route.service.id;
            self.services.insert(service, Arc::new(route.service));
            self.maintenance.insert(service, route.in_maintenance);
            route.integration
        });
        self.integrations.insert(key, found.clone());
        found
    }

    pub(crate) async fn service(
        &mut self,
        tx: &mut dyn Tx,
        id: watchbill_core::ServiceId,
    ) -> Result<Arc<watchbill_store::paging::Service>, StoreError> {
        if let Some(found) = self.services.get(&id) {
            return Ok(found.clone());
        }
        let found = Arc::new(tx.service(id).await?);
        self.services.insert(id, found.clone());
        Ok(found)
    }

    pub(crate) async fn in_maintenance(
        &mut self,
        tx: &mut dyn Tx,
        id: watchbill_core::ServiceId,
    ) -> Result<bool, StoreError> {
        if let Some(found) = self.maintenance.get(&id) {
            return Ok(*found);
        }
        let found = tx.in_maintenance(id, tx.now()).await?;
        self.maintenance.insert(id, found);
        Ok(found)
    }

    pub(crate) async fn webhooks(
        &mut self,
        tx: &mut dyn Tx,
    ) -> Result<std::sync::Arc<Vec<watchbill_store::paging::WebhookSubscription>>, StoreError> {
        if let Some(found) = &self.webhooks {
            return Ok(found.clone());
        }
        let found = std::sync::Arc::new(tx.webhooks().await?);
        self.webhooks = Some(found.clone());
        Ok(found)
    }
}

/// What the timeline says of a low-urgency incident.
pub const LOW_URGENCY_NOTE: &str =
    "Low urgency: in the team's queue; pages wait for daytime (08:00 to 22:00) in each person's time zone";

/// The dedup key of the incident a silent heartbeat monitor opens.
pub const HEARTBEAT_DEDUP_KEY: &str = "heartbeat";

/// The most requests one transaction takes.
const BATCH: usize = 512;

impl Intake {
    /// Starts the writer. One per process, on either database: a batch grows with the load,
    /// so one commit (one flush of the log) serves every event that waited for it. Several
    /// writers split the waiting events into smaller batches and more commits; on PostgreSQL
    /// that measured no faster at full load and several times slower from event to page at
    /// 1,000 events a second (BENCHMARKS.md). Servers sharing a database each have their own.
    pub fn start(store: Arc<dyn Store>, wake_engine: Arc<Notify>) -> Intake {
        let (sender, receiver) = mpsc::channel::<Job>(16 * BATCH);
        let writer = Writer {
            store,
            wake_engine,
            limiter: RateLimiter::default(),
            last: std::sync::Mutex::default(),
        };
        tokio::spawn(write(writer, receiver));
        Intake { sender }
    }

    /// Applies a submission; returns once it is committed.
    pub async fn submit(&self, submission: Submission) -> Result<Vec<Accepted>, IntakeError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Job { submission, reply })
            .await
            .map_err(|_| IntakeError::Unavailable)?;
        answer.await.map_err(|_| IntakeError::Unavailable)?
    }
}

async fn write(writer: Writer, mut receiver: mpsc::Receiver<Job>) {
    let mut statistics = StatisticsSchedule::default();
    while let Some(jobs) = crate::batching::next_batch(&mut receiver, BATCH).await {
        let opened = commit_batch(&writer, jobs).await;
        if statistics.opened(opened) {
            let store = writer.store.clone();
            tokio::spawn(async move {
                if let Err(error) = store.refresh_statistics().await {
                    tracing::warn!(%error, "refreshing the database's statistics failed");
                }
            });
        }
    }
}

/// How many times a batch is tried before its requests are answered "retry later".
const ATTEMPTS: u32 = 10;

/// Applies the jobs in one transaction and answers each once the commit is on disk. A
/// conflict (another writer or server opened the same incident at the same moment, or a
/// deadlock between two batches) retries the batch, which then sees that incident.
///
/// The next batch begins as soon as this one's commit returns: on SQLite the flush of the log
/// that makes it durable comes after, shared with the commits around it, and this batch's
/// answers wait for it in a task of their own. Returns how many incidents the batch opened.
async fn commit_batch(writer: &Writer, jobs: Vec<Job>) -> u64 {
    let results = crate::retrying::with_retries(ATTEMPTS, || apply_batch(writer, &jobs)).await;
    match results {
        Ok((results, flush)) => {
            // The engine may start on the new incidents before this commit is flushed: its
            // own commit's flush covers this one too, and it sends nothing before that.
            let opened: usize = results
                .iter()
                .flatten()
                .map(|accepted| accepted.iter().filter(|a| a.outcome == "opened").count())
                .sum();
            if opened > 0 {
                writer.wake_engine.notify_one();
            }
            tokio::spawn(async move {
                let committed = std::time::Instant::now();
                let flushed = flush.wait().await;
                tracing::trace!(
                    requests = jobs.len(),
                    flush_us = committed.elapsed().as_micros(),
                    "intake flush"
                );
                if let Err(error) = flushed {
                    tracing::error!(%error, events = jobs.len(), "an intake batch was committed but not flushed");
                    answer_unavailable(jobs);
                    return;
                }
                for (job, result) in jobs.into_iter().zip(results) {
                    let _ = job.reply.send(result);
                }
            });
            u64::try_from(opened).unwrap_or(u64::MAX)
        }
        Err(error) => {
            tracing::error!(%error, events = jobs.len(), "intake batch failed");
            answer_unavailable(jobs);
            0
        }
    }
}

fn answer_unavailable(jobs: Vec<Job>) {
    for job in jobs {
        let _ = job.reply.send(Err(IntakeError::Unavailable));
    }
}

type JobResult = Result<Vec<Accepted>, IntakeError>;

async fn apply_batch(
    writer: &Writer,
    jobs: &[Job],
) -> Result<(Vec<JobResult>, watchbill_store::Flush), StoreError> {
    // How long each part of the batch took, in the trace line below: where a batch's time
    // goes is the first question whenever intake is slower than expected.
    let started = std::time::Instant::now();
    // Every key the batch names, each once: the routes of those not remembered come with the
    // transaction's start.
    let mut secrets: Vec<String> = Vec::new();
    for job in jobs {
        let key = job.submission.key();
        if !secrets.iter().any(|known| known == key) {
            secrets.push(key.to_owned());
        }
    }
    let mut last = writer
        .last
        .lock()
        .map(|mut last| std::mem::take(&mut *last))
        .unwrap_or_default();
    let asked = last.routes.unknown(&secrets, writer.store.now());
    let Routing {
        mut tx,
        revision,
        routes,
    } = writer.store.write_routing(&asked).await?;
    let began = started.elapsed();
    let since = last.routes.begin(revision, asked, routes);
    let mut lookups = Lookups::default();
    let now = tx.now();
    for secret in secrets {
        // A key missing here is read when the batch first needs it.
        if let Some(route) = last.routes.route(&secret, now).cloned() {
            lookups.routed(secret, route);
        }
    }
    let mut batch = Batch::after(last.batch, since);
    // Every trigger's open incident, found in one query per service.
    let mut keys = Vec::new();
    for job in jobs {
        if let Submission::Events { key, events, .. } = &job.submission {
            if let Some(integration) = lookups.integration(tx.as_mut(), key).await? {
                keys.extend(
                    events
                        .iter()
                        .map(|e| (integration.service_id, e.dedup_key.clone())),
                );
            }
        }
    }
    batch.preload(tx.as_mut(), &keys).await?;
    let looked_up = started.elapsed();
    let mut results = Vec::with_capacity(jobs.len());
    for (index, job) in jobs.iter().enumerate() {
        let result = apply(
            tx.as_mut(),
            &mut lookups,
            &mut batch,
            &writer.limiter,
            &job.submission,
            index,
        )
        .await?;
        results.push(result);
    }
    batch.flush(tx.as_mut(), &mut lookups).await?;
    let written = started.elapsed();
    let flush = tx.commit_before_flush().await?;
    tracing::trace!(
        requests = jobs.len(),
        begin_us = began.as_micros(),
        lookups_us = looked_up.saturating_sub(began).as_micros(),
        writes_us = written.saturating_sub(looked_up).as_micros(),
        commit_us = started.elapsed().saturating_sub(written).as_micros(),
        "intake batch"
    );
    batch.patch(&mut results);
    if let Ok(mut remembered) = writer.last.lock() {
        *remembered = Remembered {
            routes: last.routes,
            batch,
        };
    }
    Ok((results, flush))
}

async fn apply(
    tx: &mut dyn Tx,
    lookups: &mut Lookups,
    batch: &mut Batch,
    limiter: &RateLimiter,
    submission: &Submission,
    job: usize,
) -> Result<JobResult, StoreError> {
    let Some(integration) = lookups.integration(tx, submission.key()).await? else {
        return Ok(Err(IntakeError::UnknownKey));
    };
    let count = match submission {
        Submission::Events { events, .. } => events.len(),
        Submission::Change { .. } | Submission::Ping { .. } => 1,
    };
    if !limiter.admit(&integration, count, tx.now()) {
        return Ok(Err(IntakeError::RateLimited(integration.rate_per_minute)));
    }
    match submission {
        Submission::Events { kind, events, .. } => {
            if integration.kind != *kind {
                return Ok(Err(IntakeError::WrongKind(integration.kind.as_str())));
            }
            let mut accepted = Vec::with_capacity(events.len());
            for (position, event) in events.iter().enumerate() {
                if event.action == EventAction::Trigger {
                    accepted.push(
                        batch
                            .trigger(tx, lookups, &integration, event, (job, position))
                            .await?,
                    );
                } else {
                    batch.flush(tx, lookups).await?;
                    accepted.push(apply_event(tx, lookups, &integration, event).await?);
                    batch
                        .refresh(tx, integration.service_id, &event.dedup_key)
                        .await?;
                }
            }
            Ok(Ok(accepted))
        }
        Submission::Ping { .. } => {
            if integration.kind != IntegrationKind::Heartbeat {
                return Ok(Err(IntakeError::WrongKind(integration.kind.as_str())));
            }
            batch.flush(tx, lookups).await?;
            let was_down = tx.record_ping(integration.id).await?;
            let mut accepted = vec![Accepted {
                dedup_key: HEARTBEAT_DEDUP_KEY.to_owned(),
                incident: None,
                outcome: "ping",
            }];
            if was_down {
                let event = IntakeEvent {
                    action: EventAction::Resolve,
                    dedup_key: HEARTBEAT_DEDUP_KEY.to_owned(),
                    summary: format!("{} is beating again", integration.name),
                    severity: String::new(),
                    source: "heartbeat".to_owned(),
                    payload: serde_json::json!({"heartbeat": integration.name}).to_string(),
                };
                accepted = vec![apply_event(tx, lookups, &integration, &event).await?];
                batch
                    .refresh(tx, integration.service_id, HEARTBEAT_DEDUP_KEY)
                    .await?;
            }
            Ok(Ok(accepted))
        }
        Submission::Change {
            summary, payload, ..
        } => {
            tx.insert_event(&EventInput {
                integration_id: integration.id,
                incident_id: None,
                action: "change".to_owned(),
                dedup_key: String::new(),
                summary: summary.clone(),
                severity: String::new(),
                source: String::new(),
                outcome: "change".to_owned(),
                payload: payload.to_string(),
            })
            .await?;
            Ok(Ok(vec![Accepted {
                dedup_key: String::new(),
                incident: None,
                outcome: "change",
            }]))
        }
    }
}

/// Applies one event under the dedup rule of the core.
pub async fn apply_event(
    tx: &mut dyn Tx,
    lookups: &mut Lookups,
    integration: &Integration,
    event: &IntakeEvent,
) -> Result<Accepted, StoreError> {
    let service = lookups.service(tx, integration.service_id).await?;
    let open = tx
        .open_incident_by_dedup(service.id, &event.dedup_key)
        .await?;
    let actor = format!("{} ({})", integration.name, event.source);
    let (incident, outcome_name) = match outcome(event.action, open.as_ref().map(|i| i.status)) {
        Outcome::Open => {
            if lookups.in_maintenance(tx, service.id).await? {
                (None, "suppressed")
            } else {
                let incident = tx
                    .insert_incident(&NewIncident {
                        service_id: service.id,
                        dedup_key: event.dedup_key.clone(),
                        title: event.summary.clone(),
                        urgency: service.default_urgency,
                    })
                    .await?;
                tx.log(
                    incident.id,
                    "triggered",
                    &actor,
                    &format!("Triggered through {}: {}", integration.name, event.summary),
                )
                .await?;
                let subscriptions = lookups.webhooks(tx).await?;
                super::webhooks::emit_to(
                    tx,
                    &subscriptions,
                    incident.id,
                    "incident.triggered",
                    &actor,
                )
                .await?;
                if incident.urgency == watchbill_core::paging::Urgency::Low
                    && service.low_urgency_tickets
                {
                    super::duty_tickets::file_for_incident(tx, incident.id).await?;
                } else if service.escalation_policy_id.is_some() {
                    actions::start_escalation(tx, &incident).await?;
                    if incident.urgency == watchbill_core::paging::Urgency::Low {
                        tx.log(incident.id, "low_urgency", "watchbill", LOW_URGENCY_NOTE)
                            .await?;
                    }
                } else {
                    tx.log(
                        incident.id,
                        "not_paged",
                        "watchbill",
                        "The service has no escalation policy; nobody is paged",
                    )
                    .await?;
                }
                (Some(incident.id), "opened")
            }
        }
        Outcome::AddAlert => {
            let incident = open.as_ref().map(|i| i.id);
            if let Some(open) = &open {
                if tx.add_alerts(&[(open.id, 1)]).await? != 1 {
                    return Err(StoreError::Changed {
                        what: "the incident an alert was for".into(),
                    });
                }
                if alert_line_due(open.alert_count, open.last_alert_at, tx.now()) {
                    tx.log(
                        open.id,
                        "alert",
                        &actor,
                        &format!("Another alert: {}", event.summary),
                    )
                    .await?;
                }
            }
            (incident, "alert_added")
        }
        Outcome::Acknowledge => {
            let id = open.as_ref().map(|i| i.id);
            if let Some(id) = id {
                acknowledge_or_keep(tx, id, &actor).await?;
            }
            (id, "acknowledged")
        }
        Outcome::Resolve => {
            let id = open.as_ref().map(|i| i.id);
            if let Some(id) = id {
                match actions::resolve(tx, id, &actor).await {
                    Ok(_) | Err(ActionError::Resolved(_) | ActionError::Invalid(_)) => {}
                    Err(ActionError::Store(error)) => return Err(error),
                }
            }
            (id, "resolved")
        }
        Outcome::Record => (open.as_ref().map(|i| i.id), "recorded"),
    };
    tx.insert_event(&EventInput {
        incident_id: incident,
        ..super::batch::event_record(integration, event, outcome_name)
    })
    .await?;
    Ok(Accepted {
        dedup_key: event.dedup_key.clone(),
        incident,
        outcome: outcome_name,
    })
}

async fn acknowledge_or_keep(
    tx: &mut dyn Tx,
    id: IncidentId,
    actor: &str,
) -> Result<(), StoreError> {
    match actions::acknowledge(tx, id, actor).await {
        Ok(_) | Err(ActionError::Resolved(_) | ActionError::Invalid(_)) => Ok(()),
        Err(ActionError::Store(error)) => Err(error),
    }
}
