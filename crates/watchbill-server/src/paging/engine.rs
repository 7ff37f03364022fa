//! The engine: background work over the database, in small steps any server can take.
//!
//! Each step claims due escalation timers (row-locked, so servers sharing PostgreSQL never
//! fire the same one) and fires them in one transaction: resolve who is on call now, queue
//! their notifications under idempotency keys, set the next timer. Then it claims due
//! notifications with a lease, sends them, and records each outcome on the incident's
//! timeline. Nothing lives only in memory: a server killed at any point leaves rows that the
//! next step, on any server, picks up.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use watchbill_core::paging::{IncidentStatus, Step};
use watchbill_core::IncidentId;
use watchbill_store::paging::{EscalationTimer, Incident, Notification};
use watchbill_store::{Store, StoreError, Tx};

use super::actions::{self, ActionError};
use super::channels::{Channels, Page, SeenBeforeLink};
use super::links::{Link, LinkAction, LinkSigner, LINK_LIFETIME};
use super::pages;
use crate::post_mortems::seen_before::SeenBefore;
use crate::roster::{Roster, RosterCache};

/// How long a claimed notification stays reserved for its sender.
const LEASE: SignedDuration = SignedDuration::from_secs(30);
/// How many claims of notifications [`Engine::run`] sends at once.
const IN_FLIGHT: usize = 4;
/// How often [`Engine::run`] does the chores that are rarely due.
const CHORES_EVERY: Duration = Duration::from_millis(200);
/// The most notifications one claim takes.
const CLAIM: i64 = 128;
/// Attempts before a notification is given up.
const MAX_ATTEMPTS: i64 = 5;
/// How many past post-mortems a page names.
const SEEN_BEFORE_HINTS: usize = 3;

/// What one escalation pass reads once, however many timers it fires. Services, policies
/// and people's reach are kept with the roster, across passes of the same revision.
struct StepCache {
    roster: Arc<crate::roster::Roster>,
    people: pages::People,
}

/// The writes of one escalation pass, made together once every timer has been decided.
#[derive(Debug, Default)]
struct Fired {
    pages: pages::PageBatch,
    steps: Vec<(IncidentId, Step)>,
    timers: Vec<(IncidentId, jiff::Timestamp, Step)>,
    cleared: Vec<IncidentId>,
    /// Incidents that climbed a level (or repeated), announced to webhooks once written.
    escalated: Vec<IncidentId>,
}

impl Fired {
    async fn write(self, tx: &mut dyn Tx) -> Result<(), StoreError> {
        self.pages.write(tx).await?;
        if !self.steps.is_empty() {
            tx.set_incident_steps(&self.steps).await?;
        }
        if !self.timers.is_empty() {
            tx.set_timers(&self.timers).await?;
        }
        if !self.cleared.is_empty() {
            tx.clear_timers(&self.cleared).await?;
        }
        for id in self.escalated {
            super::webhooks::emit(tx, id, "incident.escalated", "watchbill").await?;
        }
        Ok(())
    }
}

/// What one claim of notifications reads once: its incidents, read together, and their
/// "seen before" hints. Services and people's names come from the roster.
#[derive(Debug)]
struct PageCache {
    roster: Arc<Roster>,
    incidents: HashMap<IncidentId, Incident>,
    seen_before: HashMap<IncidentId, Vec<SeenBefore>>,
}

/// How a background delivery ended: (sent, failed), or why not.
type Delivered = Result<Result<(usize, usize), StoreError>, tokio::task::JoinError>;

/// Claimed notifications, each with what it says, and the incidents of those no longer wanted.
#[derive(Debug, Default)]
struct Prepared {
    pages: Vec<(Notification, Page)>,
    stale: Vec<IncidentId>,
}

/// What one step did; tests step the engine and look.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StepReport {
    pub escalations: usize,
    pub sent: usize,
    pub failed: usize,
}

#[derive(Debug, Clone)]
pub struct Engine {
    store: Arc<dyn Store>,
    roster: Arc<RosterCache>,
    channels: Arc<Channels>,
    signer: LinkSigner,
    public_url: String,
    wake: Arc<Notify>,
    /// When handoffs were last looked for; a throttle only, the kept reports are the record.
    handoffs_checked: Arc<std::sync::Mutex<Option<jiff::Timestamp>>>,
    /// When deadlines were last looked at; a throttle only, the notices are the record.
    reminders_checked: Arc<std::sync::Mutex<Option<jiff::Timestamp>>>,
}

/// How often the engine looks for a handoff that has no report yet.
const HANDOFF_CHECK_EVERY: SignedDuration = SignedDuration::from_secs(60);

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        roster: Arc<RosterCache>,
        channels: Channels,
        signer: LinkSigner,
        public_url: String,
        wake: Arc<Notify>,
    ) -> Engine {
        Engine {
            store,
            roster,
            channels: Arc::new(channels),
            signer,
            public_url,
            wake,
            handoffs_checked: Arc::default(),
            reminders_checked: Arc::default(),
        }
    }

    /// Runs passes until `shutdown` completes: at every wake-up (a new incident, an action) and
    /// at least every `tick`. Unlike [`Engine::step`], a pass does not wait for its pages to be
    /// sent: they go out in the background (at most [`IN_FLIGHT`] claims at a time) while the
    /// next pass already fires the escalations that came due meanwhile. The chores that are
    /// rarely due (silent heartbeats, outgoing webhooks, notices) run at most every
    /// [`CHORES_EVERY`], not at every pass.
    pub async fn run(self, tick: Duration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut deliveries = JoinSet::new();
        let mut chores_done: Option<std::time::Instant> = None;
        loop {
            let chores = chores_done.is_none_or(|at| at.elapsed() >= CHORES_EVERY);
            if chores {
                chores_done = Some(std::time::Instant::now());
            }
            let busy = match self.pass(chores).await {
                Ok((report, prepared)) => {
                    let busy =
                        report.escalations + report.sent + report.failed > 0 || prepared.is_some();
                    if busy {
                        tracing::debug!(?report, "engine pass");
                    }
                    if let Some(prepared) = prepared {
                        while deliveries.len() >= IN_FLIGHT {
                            if let Some(done) = deliveries.join_next().await {
                                Self::reap(done);
                            }
                        }
                        let engine = self.clone();
                        deliveries.spawn(async move { engine.deliver(prepared).await });
                    }
                    busy
                }
                Err(error) => {
                    tracing::warn!(%error, "engine pass failed; retrying");
                    false
                }
            };
            while let Some(done) = deliveries.try_join_next() {
                Self::reap(done);
            }
            if busy {
                // More may be waiting; go again at once.
                continue;
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(tick) => {}
            }
        }
        // Pages already claimed are sent and recorded before the engine stops.
        while let Some(done) = deliveries.join_next().await {
            Self::reap(done);
        }
    }

    /// Logs how a background delivery ended.
    fn reap(done: Delivered) {
        match done {
            Ok(Ok((sent, failed))) => tracing::debug!(sent, failed, "pages delivered"),
            Ok(Err(error)) => tracing::warn!(%error, "recording a delivery failed"),
            Err(error) => tracing::error!(%error, "a delivery task failed"),
        }
    }

    /// One step: fire due escalations, then send due notifications and wait for them, then
    /// every chore. Tests step the engine and look.
    pub async fn step(&self) -> Result<StepReport, StoreError> {
        let (mut report, prepared) = self.pass(true).await?;
        if let Some(prepared) = prepared {
            let (sent, failed) = self.deliver(prepared).await?;
            report.sent += sent;
            report.failed += failed;
        }
        Ok(report)
    }

    /// Fires due escalations and claims the notifications due, returned to be delivered;
    /// with `chores`, also checks heartbeats and sends webhooks and notices.
    async fn pass(&self, chores: bool) -> Result<(StepReport, Option<Prepared>), StoreError> {
        let heartbeats = if chores {
            self.check_heartbeats().await?
        } else {
            0
        };
        let (escalations, prepared) = self.escalate_due().await?;
        self.write_handoff_reports().await;
        self.queue_reminders().await;
        let prepared = match prepared {
            Some(prepared) => Some(prepared),
            None => self.claim_due().await?,
        };
        let (mut sent, mut failed) = (0, 0);
        if chores {
            // A failure here is logged, not returned: the pages claimed above must still go
            // out now rather than after their lease, and these chores run again shortly.
            for outcome in [self.deliver_webhooks().await, self.deliver_notices().await] {
                match outcome {
                    Ok((s, f)) => {
                        sent += s;
                        failed += f;
                    }
                    Err(error) => tracing::warn!(%error, "sending webhooks or notices failed"),
                }
            }
        }
        Ok((
            StepReport {
                escalations: escalations + heartbeats,
                sent,
                failed,
            },
            prepared,
        ))
    }

    /// Whether a throttled check is due: at most once a minute of the store's clock.
    fn check_due(
        checked: &std::sync::Mutex<Option<jiff::Timestamp>>,
        now: jiff::Timestamp,
    ) -> bool {
        let Ok(mut checked) = checked.lock() else {
            return false;
        };
        let due = match *checked {
            Some(last) => now < last || now.duration_since(last) >= HANDOFF_CHECK_EVERY,
            None => true,
        };
        if due {
            *checked = Some(now);
        }
        due
    }

    /// Queues the deadline reminders due now (see `reminders.rs`). Failures are logged and
    /// retried at the next check.
    async fn queue_reminders(&self) {
        let now = self.store.now();
        if !Self::check_due(&self.reminders_checked, now) {
            return;
        }
        let result = async {
            let mut tx = self.store.write().await?;
            let mut queued =
                super::reminders::queue(tx.as_mut(), &self.roster, &self.public_url, now).await?;
            queued +=
                crate::post_mortems::reminders::queue(tx.as_mut(), &self.public_url, now).await?;
            tx.commit().await?;
            Ok::<usize, crate::error::ApiError>(queued)
        };
        match result.await {
            Ok(0) => {}
            Ok(queued) => tracing::debug!(queued, "deadline reminders queued"),
            Err(error) => {
                tracing::warn!(error = %error.message, "queueing reminders failed; retrying at the next check")
            }
        }
    }

    /// Sends due notices (reminders, reports by email) and records each outcome; a failure is
    /// retried with the same back-off as pages.
    async fn deliver_notices(&self) -> Result<(usize, usize), StoreError> {
        let claimed = {
            let mut tx = self.store.write().await?;
            let now = tx.now();
            let lease = now + SignedDuration::from_secs(120);
            let claimed = tx.claim_due_notices(now, lease, 32).await?;
            tx.commit().await?;
            claimed
        };
        if claimed.is_empty() {
            return Ok((0, 0));
        }
        let mut outcomes = Vec::with_capacity(claimed.len());
        for notice in claimed {
            let outcome = self.channels.send_notice(&notice.input).await;
            outcomes.push((notice, outcome));
        }
        let mut tx = self.store.write().await?;
        let now = tx.now();
        let (mut sent, mut failed) = (0, 0);
        for (notice, outcome) in outcomes {
            match outcome {
                Ok(_) => {
                    tx.mark_notice_sent(notice.id).await?;
                    sent += 1;
                }
                Err(error) => {
                    let retry = (notice.attempts < MAX_ATTEMPTS)
                        .then(|| now + retry_delay(notice.attempts));
                    tracing::warn!(%error, key = %notice.input.idempotency_key, "a notice failed");
                    tx.mark_notice_failed(notice.id, &error, retry).await?;
                    failed += 1;
                }
            }
        }
        tx.commit().await?;
        Ok((sent, failed))
    }

    /// Writes the handoff report of every team whose duty schedule has handed off since its
    /// last report, and queues it for the webhooks that ask for `handoff.report`. Failures are
    /// logged and retried at the next check; they never stop paging.
    async fn write_handoff_reports(&self) {
        let now = self.store.now();
        if !Self::check_due(&self.handoffs_checked, now) {
            return;
        }
        if let Err(error) = self.write_handoff_reports_at(now).await {
            tracing::warn!(error = %error.message, "writing handoff reports failed; retrying at the next check");
        }
    }

    /// The roster at the transaction's instant, of the revision it sees.
    async fn roster_seen_by(&self, tx: &mut dyn Tx) -> Result<Arc<Roster>, StoreError> {
        let now = tx.now();
        self.roster
            .get(tx, now)
            .await
            .map_err(|e| StoreError::Corrupt(e.message.into_owned()))
    }

    async fn write_handoff_reports_at(
        &self,
        now: jiff::Timestamp,
    ) -> Result<(), crate::error::ApiError> {
        use crate::api::handoff;
        let mut tx = self.store.read().await?;
        let roster = self.roster.get(tx.as_mut(), now).await?;
        let mut due = Vec::new();
        for team in tx.teams().await? {
            let Some(week_end) = handoff::last_handoff(&roster, team.id, now) else {
                continue;
            };
            if !tx.has_handoff_report(team.id, week_end).await? {
                due.push(team.id);
            }
        }
        drop(tx);
        for team in due {
            let mut tx = self.store.write().await?;
            let report = handoff::report(tx.as_mut(), &roster, team, now).await?;
            let body = serde_json::to_string(&report).unwrap_or_default();
            if tx
                .record_handoff_report(team, report.week_end, &body)
                .await?
            {
                // The team hears of it by email: every member's email contact methods.
                let record = tx.team(team).await?;
                let text = report.summary(&record.name);
                for member in &record.members {
                    for method in tx.contact_methods(*member).await? {
                        if method.kind != "email" {
                            continue;
                        }
                        tx.insert_notice(&watchbill_store::notices::NoticeInput {
                            idempotency_key: format!(
                                "handoff:{}:{}:{}",
                                team,
                                report.week_end.as_second(),
                                method.id
                            ),
                            user_id: Some(*member),
                            kind: method.kind.clone(),
                            address: method.address.clone(),
                            subject: format!("Handoff report: {}", record.name),
                            body: text.clone(),
                            html: None,
                            link: format!("{}/teams/{}/reports", self.public_url, team),
                            thread: None,
                            due_at: now,
                        })
                        .await?;
                    }
                }
                let payload = format!(
                    r#"{{"event":"handoff.report","occurred_at":"{now}","team_id":{},"report":{body}}}"#,
                    team.0
                );
                for subscription in tx.webhooks().await? {
                    if subscription.enabled
                        && subscription.events.iter().any(|e| e == "handoff.report")
                    {
                        let key = format!(
                            "handoff.report:{}:{}:{}",
                            team, report.week_end, subscription.id
                        );
                        tx.insert_webhook_delivery(
                            subscription.id,
                            "handoff.report",
                            None,
                            &key,
                            &payload,
                        )
                        .await?;
                    }
                }
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// Opens an incident for every heartbeat monitor that has gone quiet.
    async fn check_heartbeats(&self) -> Result<usize, StoreError> {
        let mut tx = self.store.write().await?;
        let now = tx.now();
        let overdue = tx.claim_overdue_heartbeats(now, 64).await?;
        if overdue.is_empty() {
            return Ok(0);
        }
        let integrations = tx.integrations(None).await?;
        let mut lookups = super::intake::Lookups::default();
        for id in &overdue {
            let Some(integration) = integrations.iter().find(|i| i.id == *id) else {
                continue;
            };
            let interval = tx.heartbeat(*id).await?.map_or(0, |h| h.interval_seconds);
            let event = super::events::IntakeEvent {
                action: watchbill_core::paging::EventAction::Trigger,
                dedup_key: super::intake::HEARTBEAT_DEDUP_KEY.to_owned(),
                summary: format!(
                    "No heartbeat from {} in {interval} seconds",
                    integration.name
                ),
                severity: "critical".to_owned(),
                source: "heartbeat".to_owned(),
                payload:
                    serde_json::json!({"heartbeat": integration.name, "interval_seconds": interval})
                        .to_string(),
            };
            super::intake::apply_event(tx.as_mut(), &mut lookups, integration, &event).await?;
        }
        tx.commit().await?;
        Ok(overdue.len())
    }

    /// Sends due webhook deliveries; returns (sent, failed).
    async fn deliver_webhooks(&self) -> Result<(usize, usize), StoreError> {
        let (claimed, subscriptions) = {
            let mut tx = self.store.write().await?;
            let now = tx.now();
            let lease_until = now.saturating_add(LEASE).unwrap_or(now);
            let claimed = tx.claim_due_deliveries(now, lease_until, 32).await?;
            let subscriptions = if claimed.is_empty() {
                Vec::new()
            } else {
                tx.webhooks().await?
            };
            tx.commit().await?;
            (claimed, subscriptions)
        };
        let (mut sent, mut failed) = (0, 0);
        for delivery in claimed {
            let Some(subscription) = subscriptions
                .iter()
                .find(|s| s.id == delivery.subscription_id)
            else {
                continue;
            };
            let outcome = self.channels.deliver_webhook(subscription, &delivery).await;
            let mut tx = self.store.write().await?;
            match outcome {
                Ok(()) => {
                    tx.mark_delivery_sent(delivery.id).await?;
                    sent += 1;
                }
                Err(error) => {
                    let delay =
                        (delivery.attempts < MAX_ATTEMPTS).then(|| retry_delay(delivery.attempts));
                    let retry =
                        delay.map(|delay| tx.now().saturating_add(delay).unwrap_or(tx.now()));
                    let failures = tx.mark_delivery_failed(delivery.id, &error, retry).await?;
                    if failures >= super::webhooks::DISABLE_AFTER && subscription.enabled {
                        tx.set_webhook_enabled(subscription.id, false).await?;
                        tx.record_audit(
                            "watchbill",
                            "webhook.disable",
                            &format!("webhook {} after {failures} failures", subscription.id),
                        )
                        .await?;
                    }
                    failed += 1;
                }
            }
            tx.commit().await?;
        }
        Ok((sent, failed))
    }

    /// Fires the due escalation timers in one transaction. The pages they make that are due at
    /// once are claimed in that same transaction, so a first page waits for one commit, not
    /// two; they are written out and returned for [`Engine::deliver`].
    async fn escalate_due(&self) -> Result<(usize, Option<Prepared>), StoreError> {
        let mut tx = self.store.write().await?;
        let now = tx.now();
        let timers = tx.claim_due_timers(now, 64).await?;
        if timers.is_empty() {
            return Ok((0, None));
        }
        let roster = self.roster_seen_by(tx.as_mut()).await?;
        let mut step = StepCache {
            people: pages::People::with_roster(roster.clone()),
            roster,
        };
        let ids: Vec<IncidentId> = timers.iter().map(|t| t.incident_id).collect();
        let incidents: HashMap<IncidentId, Incident> = tx
            .incidents_by_ids(&ids)
            .await?
            .into_iter()
            .map(|incident| (incident.id, incident))
            .collect();
        let mut fired = Fired::default();
        for timer in &timers {
            match incidents.get(&timer.incident_id) {
                Some(incident) => {
                    self.fire(tx.as_mut(), &mut step, &mut fired, timer, incident)
                        .await?
                }
                None => fired.cleared.push(timer.incident_id),
            }
        }
        let paged = !fired.pages.is_empty();
        fired.write(tx.as_mut()).await?;
        let claimed = if paged {
            let lease_until = now.saturating_add(LEASE).unwrap_or(now);
            tx.claim_due_notifications(now, lease_until, CLAIM).await?
        } else {
            Vec::new()
        };
        let flush = tx.commit_before_flush().await?;
        if claimed.is_empty() {
            flush.wait().await?;
            return Ok((timers.len(), None));
        }
        // What the pages say is read after the commit, in a read transaction: on SQLite the
        // write transaction is the only one, and intake waits for it. The incidents read above
        // serve, except one read as acknowledged, which its snooze's end has just triggered
        // again: that one is read afresh. The reading overlaps the commit's flush to disk;
        // nothing is sent before that flush is done.
        let mut incidents = incidents;
        incidents.retain(|_, incident| incident.status == IncidentStatus::Triggered);
        let mut read = self.store.read().await?;
        let prepared = self
            .prepare(read.as_mut(), claimed, step.roster, incidents)
            .await;
        drop(read);
        flush.wait().await?;
        Ok((timers.len(), Some(prepared?)))
    }

    /// Decides one timer; its writes wait in `fired`. Only a snooze's end, which is rare,
    /// writes at once.
    async fn fire(
        &self,
        tx: &mut dyn Tx,
        step: &mut StepCache,
        fired: &mut Fired,
        timer: &EscalationTimer,
        incident: &Incident,
    ) -> Result<(), StoreError> {
        let id = timer.incident_id;
        match incident.status {
            IncidentStatus::Resolved => {
                fired.cleared.push(id);
                return Ok(());
            }
            IncidentStatus::Acknowledged => {
                // Only a snooze leaves a timer on an acknowledged incident.
                tx.set_incident_status(id, IncidentStatus::Triggered)
                    .await?;
                tx.log(
                    id,
                    "unsnoozed",
                    "watchbill",
                    "The snooze ended; the incident is triggered again",
                )
                .await?;
            }
            IncidentStatus::Triggered => {}
        }
        let found = step.roster.paging.incident_policy(tx, incident).await;
        let policy = match found {
            Ok(Some(policy)) => policy,
            Ok(None) => {
                fired.cleared.push(id);
                return Ok(());
            }
            Err(ActionError::Store(error)) => return Err(error),
            Err(error) => {
                fired.pages.line(id, "escalation_error", error.to_string());
                fired.cleared.push(id);
                return Ok(());
            }
        };
        let Some(level) = policy.level(timer.step) else {
            fired.cleared.push(id);
            return Ok(());
        };
        let now = tx.now();
        let (users, gaps) =
            match actions::resolve_targets(tx, &step.roster, incident, level, now).await {
                Ok(found) => found,
                Err(ActionError::Store(error)) => return Err(error),
                Err(error) => (Vec::new(), vec![error.to_string()]),
            };
        for gap in &gaps {
            fired.pages.line(
                id,
                "no_one",
                format!("Level {}: {gap}", timer.step.level + 1),
            );
        }
        let label = if timer.step.pass > 0 {
            format!(
                "Level {} (repeat {})",
                timer.step.level + 1,
                timer.step.pass
            )
        } else {
            format!("Level {}", timer.step.level + 1)
        };
        if timer.step.level > 0 || timer.step.pass > 0 {
            fired.pages.line(
                id,
                "escalated",
                format!("Escalated to {}", label.to_lowercase()),
            );
        }
        fired.pages.clear_assignees(id);
        let round = format!(
            "level{}.pass{}@{}",
            timer.step.level,
            timer.step.pass,
            timer.due_at.as_second()
        );
        fired
            .pages
            .page(tx, &mut step.people, incident, &users, &round, &label)
            .await?;
        // A new incident already records the first step; writing it again would update the
        // row for nothing.
        if incident.step != timer.step {
            fired.steps.push((id, timer.step));
        }
        if timer.step.level > 0 || timer.step.pass > 0 {
            fired.escalated.push(id);
        }
        match policy.next_due(timer.step, now) {
            Some((next, due)) => fired.timers.push((id, due, next)),
            None => {
                fired.pages.line(
                    id,
                    "exhausted",
                    "The escalation policy has no further level".to_owned(),
                );
                fired.cleared.push(id);
            }
        }
        Ok(())
    }

    /// Writes out what each claimed notification says. `incidents` holds those already read;
    /// the others are read together.
    async fn prepare(
        &self,
        tx: &mut dyn Tx,
        claimed: Vec<Notification>,
        roster: Arc<Roster>,
        mut incidents: HashMap<IncidentId, Incident>,
    ) -> Result<Prepared, StoreError> {
        let mut missing: Vec<IncidentId> = claimed
            .iter()
            .map(|n| n.input.incident_id)
            .filter(|id| !incidents.contains_key(id))
            .collect();
        missing.sort_unstable_by_key(|id| id.0);
        missing.dedup();
        if !missing.is_empty() {
            incidents.extend(
                tx.incidents_by_ids(&missing)
                    .await?
                    .into_iter()
                    .map(|incident| (incident.id, incident)),
            );
        }
        let mut known = PageCache {
            roster,
            incidents,
            seen_before: HashMap::new(),
        };
        // Every page's "seen before" hints, asked together rather than once per page.
        let mut wanted: Vec<&Incident> = claimed
            .iter()
            .filter_map(|n| known.incidents.get(&n.input.incident_id))
            .filter(|incident| incident.status == IncidentStatus::Triggered)
            .collect();
        wanted.sort_unstable_by_key(|incident| incident.id.0);
        wanted.dedup_by_key(|incident| incident.id);
        let hints =
            crate::post_mortems::seen_before::lookup_many(tx, &wanted, SEEN_BEFORE_HINTS).await?;
        known.seen_before = wanted
            .iter()
            .map(|incident| incident.id)
            .zip(hints)
            .collect();
        let mut prepared = Prepared::default();
        for notification in claimed {
            match self.page(tx, &known, &notification).await? {
                Some(page) => prepared.pages.push((notification, page)),
                None => prepared.stale.push(notification.input.incident_id),
            }
        }
        Ok(prepared)
    }

    /// Claims the notifications due (retries, and pages whose rule waits) and writes out what
    /// each says; `None` when none is due.
    async fn claim_due(&self) -> Result<Option<Prepared>, StoreError> {
        let claimed = {
            let mut tx = self.store.write().await?;
            let now = tx.now();
            let lease_until = now.saturating_add(LEASE).unwrap_or(now);
            let claimed = tx.claim_due_notifications(now, lease_until, CLAIM).await?;
            tx.commit().await?;
            claimed
        };
        if claimed.is_empty() {
            return Ok(None);
        }
        let mut tx = self.store.read().await?;
        let roster = self.roster_seen_by(tx.as_mut()).await?;
        Ok(Some(
            self.prepare(tx.as_mut(), claimed, roster, HashMap::new())
                .await?,
        ))
    }

    /// Sends claimed notifications concurrently and records their outcomes as they finish,
    /// those ready together in one write; returns (sent, failed).
    async fn deliver(&self, prepared: Prepared) -> Result<(usize, usize), StoreError> {
        let Prepared { pages, stale } = prepared;
        let mut sends = JoinSet::new();
        for (notification, page) in pages {
            let channels = self.channels.clone();
            sends.spawn(async move {
                let outcome = channels
                    .send(&notification.input.kind, &notification.input.address, &page)
                    .await;
                (notification, page, outcome)
            });
        }
        if !stale.is_empty() {
            let mut tx = self.store.write().await?;
            for incident in stale {
                tx.cancel_notifications(incident).await?;
            }
            tx.commit().await?;
        }
        // Outcomes are recorded as they come: whatever has finished is written together, at
        // once, so a page sent is recorded within moments, not after the slowest of its claim.
        // A crash between a send and its record resends it after the lease (with the same
        // idempotency key); this keeps that window as short as a commit.
        let (mut sent, mut failed) = (0, 0);
        while let Some(first) = sends.join_next().await {
            let mut ready = vec![first];
            while let Some(more) = sends.try_join_next() {
                ready.push(more);
            }
            let mut outcomes = Vec::with_capacity(ready.len());
            for result in ready {
                match result {
                    Ok(outcome) => outcomes.push(outcome),
                    Err(error) => tracing::error!(%error, "a delivery task failed"),
                }
            }
            let (s, f) = self.record(outcomes).await?;
            sent += s;
            failed += f;
        }
        Ok((sent, failed))
    }

    /// Records delivery outcomes in one transaction; returns (sent, failed).
    async fn record(
        &self,
        outcomes: Vec<(Notification, Page, Result<String, String>)>,
    ) -> Result<(usize, usize), StoreError> {
        let mut tx = self.store.write().await?;
        let (mut sent, mut failed) = (0, 0);
        let mut lines = Vec::with_capacity(outcomes.len());
        let mut delivered = Vec::with_capacity(outcomes.len());
        for (notification, page, outcome) in outcomes {
            let input = &notification.input;
            match outcome {
                Ok(detail) => {
                    delivered.push(notification.id);
                    lines.push((
                        input.incident_id,
                        "notified".to_owned(),
                        "watchbill".to_owned(),
                        format!("Notified {} by {detail}", page.person),
                    ));
                    sent += 1;
                }
                Err(error) => {
                    let delay = (notification.attempts < MAX_ATTEMPTS)
                        .then(|| retry_delay(notification.attempts));
                    let retry =
                        delay.map(|delay| tx.now().saturating_add(delay).unwrap_or(tx.now()));
                    tx.mark_notification_failed(notification.id, &error, retry)
                        .await?;
                    let next = match delay {
                        Some(delay) => format!("; retrying in {}s", delay.as_secs()),
                        None => "; giving up".to_owned(),
                    };
                    lines.push((
                        input.incident_id,
                        "delivery_failed".to_owned(),
                        "watchbill".to_owned(),
                        format!(
                            "Attempt {} to notify {} by {} failed: {error}{next}",
                            notification.attempts, page.person, input.kind
                        ),
                    ));
                    failed += 1;
                }
            }
        }
        if !delivered.is_empty() {
            tx.mark_notifications_sent(&delivered).await?;
        }
        tx.log_many(&lines).await?;
        tx.commit().await?;
        Ok((sent, failed))
    }

    /// What a notification says, or `None` when its incident no longer wants it sent.
    async fn page(
        &self,
        tx: &mut dyn Tx,
        known: &PageCache,
        notification: &Notification,
    ) -> Result<Option<Page>, StoreError> {
        let input = &notification.input;
        let Some(incident) = known.incidents.get(&input.incident_id) else {
            return Ok(None);
        };
        if incident.status != IncidentStatus::Triggered {
            return Ok(None);
        }
        let service = known
            .roster
            .paging
            .service(tx, incident.service_id)
            .await?
            .name
            .clone();
        let person = match known.roster.users.get(&input.user_id) {
            Some(person) => person.name.clone(),
            None => tx.user(input.user_id).await?.name,
        };
        // Asked for every triggered incident of the claim in `prepare`.
        let hints = known
            .seen_before
            .get(&incident.id)
            .cloned()
            .unwrap_or_default();
        let now = tx.now();
        let expires = now.saturating_add(LINK_LIFETIME).unwrap_or(now);
        let link = |action| {
            let token = self.signer.token(&Link {
                incident: incident.id,
                user: input.user_id,
                action,
                expires,
            });
            format!("{}/act/{token}", self.public_url)
        };
        Ok(Some(Page {
            idempotency_key: input.idempotency_key.clone(),
            incident_number: format!("INC-{}", incident.id),
            title: incident.title.clone(),
            service,
            status: incident.status.to_string(),
            urgency: incident.urgency.as_str().to_owned(),
            person,
            ack_url: link(LinkAction::Acknowledge),
            resolve_url: link(LinkAction::Resolve),
            incident_url: format!("{}/incidents/{}", self.public_url, incident.id),
            seen_before: hints
                .into_iter()
                .map(|hint| SeenBeforeLink {
                    url: format!("{}/post-mortems/{}", self.public_url, hint.id),
                    hint,
                })
                .collect(),
        }))
    }
}

/// Exponential back-off: 30 s after the first failure, doubling.
fn retry_delay(attempts: i64) -> SignedDuration {
    SignedDuration::from_secs(15_i64.saturating_mul(1 << attempts.clamp(0, 10)))
}
