//! The paging half of the store: services, integrations, escalation policies, contact methods,
//! incidents with their events and timeline, and the engine's durable work (escalation timers
//! and the notification outbox).

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use watchbill_core::paging::{IncidentStatus, Step, Urgency};
use watchbill_core::{IncidentId, IntegrationId, PolicyId, ServiceId, TeamId, UserId};

use crate::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub id: ServiceId,
    pub team_id: TeamId,
    pub name: String,
    pub description: String,
    pub escalation_policy_id: Option<PolicyId>,
    pub default_urgency: Urgency,
    /// Low-urgency alerts become duty tickets of the team instead of pages.
    pub low_urgency_tickets: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInput {
    pub team_id: TeamId,
    pub name: String,
    pub description: String,
    pub escalation_policy_id: Option<PolicyId>,
    pub default_urgency: Urgency,
    pub low_urgency_tickets: bool,
}

/// How events reach a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntegrationKind {
    /// PagerDuty Events API v2 compatible: `POST /v2/enqueue`.
    EventsV2,
    /// Prometheus Alertmanager's webhook.
    Alertmanager,
    /// `POST /integrations/generic`.
    Generic,
    /// A heartbeat monitor: `/heartbeat/{key}` must be called at least every interval.
    Heartbeat,
    /// GitHub, GitLab or Gitea push webhooks: `POST /integrations/code/{id}`, signed with the
    /// key; commits are linked to the tickets their messages name.
    CodePush,
}

impl IntegrationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::EventsV2 => "events_v2",
            IntegrationKind::Alertmanager => "alertmanager",
            IntegrationKind::Generic => "generic",
            IntegrationKind::Heartbeat => "heartbeat",
            IntegrationKind::CodePush => "code_push",
        }
    }

    pub fn parse(text: &str) -> Option<IntegrationKind> {
        [
            IntegrationKind::EventsV2,
            IntegrationKind::Alertmanager,
            IntegrationKind::Generic,
            IntegrationKind::Heartbeat,
            IntegrationKind::CodePush,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }
}

/// Where an event with a given key goes, read in one statement on the way in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeRoute {
    pub integration: Integration,
    pub service: Service,
    /// Whether a maintenance window of the service covers the moment asked about.
    pub in_maintenance: bool,
    /// The next moment after the one asked about at which a window of the service starts or
    /// ends, if any: until then `in_maintenance` stays true (or false) unless a window is
    /// written.
    pub maintenance_changes_at: Option<Timestamp>,
}

impl IntakeRoute {
    /// Whether `in_maintenance` still holds at `at`, a moment no earlier than the one asked
    /// about, if no window was written since.
    pub fn maintenance_holds_at(&self, at: Timestamp) -> bool {
        self.maintenance_changes_at.is_none_or(|change| at < change)
    }
}

/// Whether [`PagingTx::insert_events_adding_alerts`] must check that the incidents it adds
/// alerts to are still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenCheck {
    /// Check each; one resolved is reported by the count returned.
    Check,
    /// The caller knows they are open: it read them in this transaction, or the paging
    /// revision ([`crate::Routing::revision`]) has not moved since it read them, so nothing
    /// resolved an incident since.
    Known,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    pub id: IntegrationId,
    pub service_id: ServiceId,
    pub kind: IntegrationKind,
    pub name: String,
    /// The routing key senders present.
    pub secret: String,
    pub rate_per_minute: i64,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationInput {
    pub service_id: ServiceId,
    pub kind: IntegrationKind,
    pub name: String,
    pub rate_per_minute: i64,
}

/// A policy target as stored: `{"kind": "schedule", "id": 3}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInput {
    /// `schedule`, `user` or `team`.
    pub kind: TargetKind,
    pub id: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Schedule,
    User,
    Team,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelInput {
    /// Seconds to wait after this level pages before the next one.
    pub delay_seconds: i64,
    pub targets: Vec<TargetInput>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationPolicy {
    pub id: PolicyId,
    pub team_id: TeamId,
    pub name: String,
    pub repeat: u32,
    pub levels: Vec<LevelInput>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInput {
    pub team_id: TeamId,
    pub name: String,
    pub repeat: u32,
    pub levels: Vec<LevelInput>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceWindow {
    pub id: i64,
    pub service_id: ServiceId,
    pub start: Timestamp,
    /// Open-ended when absent.
    pub end: Option<Timestamp>,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactMethod {
    pub id: i64,
    pub user_id: UserId,
    /// `email`, `webhook`, `slack`, `sms` or `voice`.
    pub kind: String,
    pub address: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRule {
    pub id: i64,
    pub user_id: UserId,
    pub contact_method_id: i64,
    /// Seconds after the user is paged.
    pub delay_seconds: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub id: IncidentId,
    pub service_id: ServiceId,
    pub dedup_key: String,
    pub title: String,
    pub status: IncidentStatus,
    pub urgency: Urgency,
    pub alert_count: i64,
    pub created_at: Timestamp,
    pub last_alert_at: Timestamp,
    pub acknowledged_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    /// The escalation step that last fired.
    pub step: Step,
    pub assignees: Vec<UserId>,
}

/// What deciding a trigger needs of an open incident: which one it is, and its alerts so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAlerts {
    pub id: IncidentId,
    pub dedup_key: String,
    pub alert_count: i64,
    pub last_alert_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIncident {
    pub service_id: ServiceId,
    pub dedup_key: String,
    pub title: String,
    pub urgency: Urgency,
}

/// Which incidents to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    pub statuses: Vec<IncidentStatus>,
    pub service: Option<ServiceId>,
    pub team: Option<TeamId>,
    pub urgency: Option<Urgency>,
    /// Only incidents one of whose assignees this is.
    pub assignee: Option<UserId>,
    /// Only incidents opened at or after this instant.
    pub since: Option<Timestamp>,
    /// Only incidents with an id below this one (for paging through results).
    pub before: Option<IncidentId>,
    pub limit: i64,
}

/// An accepted event, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventInput {
    pub integration_id: IntegrationId,
    pub incident_id: Option<IncidentId>,
    pub action: String,
    pub dedup_key: String,
    pub summary: String,
    pub severity: String,
    pub source: String,
    /// What the event did: `opened`, `alert_added`, `acknowledged`, `resolved`, `recorded`,
    /// `suppressed` (maintenance) or `change`.
    pub outcome: String,
    /// The event as received, JSON.
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub id: i64,
    pub input: EventInput,
    pub received_at: Timestamp,
}

/// One line of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub id: i64,
    pub incident_id: IncidentId,
    pub at: Timestamp,
    pub kind: String,
    pub actor: String,
    pub message: String,
}

/// An incident's next escalation step, and when it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscalationTimer {
    pub incident_id: IncidentId,
    pub due_at: Timestamp,
    pub step: Step,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationInput {
    /// Unique per intended send: the same key written twice is one notification.
    pub idempotency_key: String,
    pub incident_id: IncidentId,
    pub user_id: UserId,
    pub kind: String,
    pub address: String,
    pub due_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: i64,
    pub input: NotificationInput,
    /// `pending`, `sent`, `failed` or `cancelled`.
    pub status: String,
    pub attempts: i64,
    pub last_error: String,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

/// A heartbeat monitor: an integration that must ping at least every `interval_seconds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub integration_id: IntegrationId,
    pub interval_seconds: i64,
    pub last_ping_at: Option<Timestamp>,
    pub down: bool,
}

/// A subscription to incident events, delivered as signed JSON POSTs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSubscription {
    pub id: i64,
    pub url: String,
    /// Signs each delivery (HMAC-SHA256), so the receiver can check it came from here.
    pub secret: String,
    pub events: Vec<String>,
    pub enabled: bool,
    pub consecutive_failures: i64,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: i64,
    pub idempotency_key: String,
    pub subscription_id: i64,
    pub event: String,
    pub incident_id: Option<IncidentId>,
    pub payload: String,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub last_error: String,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

/// The paging operations of a transaction.
#[async_trait]
pub trait PagingTx: Send {
    // Services and integrations.
    async fn insert_service(&mut self, input: &ServiceInput) -> Result<Service>;
    async fn update_service(&mut self, id: ServiceId, input: &ServiceInput) -> Result<Service>;
    async fn delete_service(&mut self, id: ServiceId) -> Result<()>;
    async fn service(&mut self, id: ServiceId) -> Result<Service>;
    async fn services(&mut self) -> Result<Vec<Service>>;
    async fn insert_integration(&mut self, input: &IntegrationInput) -> Result<Integration>;
    async fn integrations(&mut self, service: Option<ServiceId>) -> Result<Vec<Integration>>;
    /// The integration with this secret, its service, and whether the service is in
    /// maintenance at `at`.
    async fn intake_route(&mut self, secret: &str, at: Timestamp) -> Result<Option<IntakeRoute>>;
    /// Gives an integration a new secret; the old one stops working.
    async fn rotate_integration_secret(&mut self, id: IntegrationId) -> Result<Integration>;
    async fn delete_integration(&mut self, id: IntegrationId) -> Result<()>;

    // Escalation policies.
    async fn insert_policy(&mut self, input: &PolicyInput) -> Result<EscalationPolicy>;
    async fn update_policy(
        &mut self,
        id: PolicyId,
        input: &PolicyInput,
    ) -> Result<EscalationPolicy>;
    async fn delete_policy(&mut self, id: PolicyId) -> Result<()>;
    async fn policy(&mut self, id: PolicyId) -> Result<EscalationPolicy>;
    async fn policies(&mut self) -> Result<Vec<EscalationPolicy>>;

    // Maintenance windows.
    async fn insert_maintenance(
        &mut self,
        service: ServiceId,
        start: Timestamp,
        end: Option<Timestamp>,
        description: &str,
    ) -> Result<MaintenanceWindow>;
    async fn maintenance_windows(&mut self, service: ServiceId) -> Result<Vec<MaintenanceWindow>>;
    async fn delete_maintenance(&mut self, id: i64) -> Result<()>;
    /// Whether a window of the service covers `at`.
    async fn in_maintenance(&mut self, service: ServiceId, at: Timestamp) -> Result<bool>;

    // Contact methods and notification rules.
    async fn insert_contact_method(
        &mut self,
        user: UserId,
        kind: &str,
        address: &str,
        label: &str,
    ) -> Result<ContactMethod>;
    async fn contact_methods(&mut self, user: UserId) -> Result<Vec<ContactMethod>>;
    async fn delete_contact_method(&mut self, id: i64) -> Result<()>;
    async fn insert_rule(
        &mut self,
        user: UserId,
        contact_method: i64,
        delay_seconds: i64,
    ) -> Result<NotificationRule>;
    async fn rules(&mut self, user: UserId) -> Result<Vec<NotificationRule>>;
    async fn delete_rule(&mut self, id: i64) -> Result<()>;

    // Incidents.
    async fn open_incident_by_dedup(
        &mut self,
        service: ServiceId,
        dedup_key: &str,
    ) -> Result<Option<Incident>>;
    async fn insert_incident(&mut self, input: &NewIncident) -> Result<Incident>;
    /// Counts one more alert on an incident, one that has no event record (a repeated mail);
    /// an alert recorded as an event is counted with [`PagingTx::add_alerts`].
    async fn add_alert(&mut self, id: IncidentId) -> Result<()>;
    /// Moves an incident to `status`, stamping when.
    async fn set_incident_status(&mut self, id: IncidentId, status: IncidentStatus) -> Result<()>;
    async fn incident(&mut self, id: IncidentId) -> Result<Incident>;
    async fn incidents(&mut self, filter: &IncidentFilter) -> Result<Vec<Incident>>;

    // Set-based forms of the above, for intake batches: one statement for many rows.
    /// The open incidents of a service with any of these dedup keys: only what deciding a
    /// trigger needs, since an intake batch asks this for every key it holds.
    async fn open_incidents_by_keys(
        &mut self,
        service: ServiceId,
        keys: &[String],
    ) -> Result<Vec<OpenAlerts>>;
    /// Opens many incidents; each with its initial alert count.
    async fn insert_incidents(&mut self, incidents: &[(NewIncident, i64)])
        -> Result<Vec<Incident>>;
    /// Adds `count` alerts to each incident that is still open, at the transaction's time;
    /// returns how many took them. A resolved incident takes none: its key's next trigger
    /// opens a new one, so a caller that decided from what it read earlier learns here that
    /// it must read again.
    ///
    /// Each of those alerts must be recorded, in the same transaction, as an event of its
    /// incident with outcome `alert_added` ([`PagingTx::insert_events`]). PostgreSQL adds the
    /// counts to the incidents' rows here. SQLite checks that the incidents are open, counts
    /// the events when it reads an incident, and writes them into an incident's row only with
    /// an alert that comes some seconds after the row's last: so most repeated alerts of a storm
    /// write one page of the log (their event) rather than two (their event and their
    /// incident).
    async fn add_alerts(&mut self, counts: &[(IncidentId, i64)]) -> Result<u64>;
    async fn insert_events(&mut self, events: &[EventInput]) -> Result<()>;
    /// [`PagingTx::add_alerts`] and then [`PagingTx::insert_events`], in one step where the
    /// backend can (SQLite: one call to its thread); returns what `add_alerts` returns. With
    /// [`OpenCheck::Known`] a backend may skip checking that the incidents are open, and
    /// then returns the number of incidents given.
    async fn insert_events_adding_alerts(
        &mut self,
        events: &[EventInput],
        counts: &[(IncidentId, i64)],
        check: OpenCheck,
    ) -> Result<u64>;
    /// Timeline lines: (incident, kind, actor, message).
    async fn log_many(&mut self, lines: &[(IncidentId, String, String, String)]) -> Result<()>;
    async fn set_timers(&mut self, timers: &[(IncidentId, Timestamp, Step)]) -> Result<()>;

    // Set-based forms for the escalation engine, which fires many timers per transaction.
    /// These incidents, with their assignees, in no particular order; unknown ids are left out.
    async fn incidents_by_ids(&mut self, ids: &[IncidentId]) -> Result<Vec<Incident>>;
    async fn set_incident_steps(&mut self, steps: &[(IncidentId, Step)]) -> Result<()>;
    async fn clear_timers(&mut self, incidents: &[IncidentId]) -> Result<()>;
    /// Removes every assignee of these incidents.
    async fn clear_assignees(&mut self, incidents: &[IncidentId]) -> Result<()>;
    /// Adds assignees; one already there stays once.
    async fn add_assignees(&mut self, assignees: &[(IncidentId, UserId)]) -> Result<()>;
    /// Queues notifications; returns the idempotency keys that were new (a key written before
    /// is one notification, not two).
    async fn insert_notifications(&mut self, inputs: &[NotificationInput]) -> Result<Vec<String>>;
    async fn mark_notifications_sent(&mut self, ids: &[i64]) -> Result<()>;

    // Events and the timeline.
    async fn insert_event(&mut self, input: &EventInput) -> Result<i64>;
    /// The incident's newest `limit` events, oldest first.
    async fn events(&mut self, incident: IncidentId, limit: i64) -> Result<Vec<EventRecord>>;
    async fn count_events(&mut self) -> Result<i64>;
    /// A service's change events (deploys, configuration changes), newest first.
    async fn service_changes(&mut self, service: ServiceId, limit: i64)
        -> Result<Vec<EventRecord>>;
    async fn log(
        &mut self,
        incident: IncidentId,
        kind: &str,
        actor: &str,
        message: &str,
    ) -> Result<()>;
    async fn incident_log(&mut self, incident: IncidentId) -> Result<Vec<LogEntry>>;

    // Escalation timers.
    async fn set_timer(
        &mut self,
        incident: IncidentId,
        due_at: Timestamp,
        step: Step,
    ) -> Result<()>;
    async fn clear_timer(&mut self, incident: IncidentId) -> Result<()>;
    async fn timer(&mut self, incident: IncidentId) -> Result<Option<EscalationTimer>>;
    /// Due timers, locked for this transaction: another server's claim skips them.
    async fn claim_due_timers(
        &mut self,
        now: Timestamp,
        limit: i64,
    ) -> Result<Vec<EscalationTimer>>;

    // The notification outbox.
    /// Due pending notifications, leased until `lease_until` and counted as an attempt, so
    /// that a crashed sender's work is retried after the lease but not before.
    async fn claim_due_notifications(
        &mut self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<Notification>>;
    /// Records a failed attempt; retried at `retry_at`, or failed for good without one.
    async fn mark_notification_failed(
        &mut self,
        id: i64,
        error: &str,
        retry_at: Option<Timestamp>,
    ) -> Result<()>;
    /// Cancels an incident's notifications not yet sent.
    async fn cancel_notifications(&mut self, incident: IncidentId) -> Result<u64>;
    async fn notifications(&mut self, incident: IncidentId) -> Result<Vec<Notification>>;

    // Heartbeat monitors.
    async fn insert_heartbeat(
        &mut self,
        integration: IntegrationId,
        interval_seconds: i64,
    ) -> Result<()>;
    async fn heartbeat(&mut self, integration: IntegrationId) -> Result<Option<Heartbeat>>;
    /// Records a ping now and marks the monitor up; returns whether it was down.
    async fn record_ping(&mut self, integration: IntegrationId) -> Result<bool>;
    /// Monitors that have pinged before but not within their interval, locked like timers,
    /// and marked down.
    async fn claim_overdue_heartbeats(
        &mut self,
        now: Timestamp,
        limit: i64,
    ) -> Result<Vec<IntegrationId>>;

    // Outgoing webhook subscriptions.
    async fn insert_webhook(&mut self, url: &str, events: &[String])
        -> Result<WebhookSubscription>;
    async fn webhooks(&mut self) -> Result<Vec<WebhookSubscription>>;
    async fn delete_webhook(&mut self, id: i64) -> Result<()>;
    async fn set_webhook_enabled(&mut self, id: i64, enabled: bool) -> Result<()>;
    /// Queues a delivery; a second one with the same key is ignored.
    async fn insert_webhook_delivery(
        &mut self,
        subscription: i64,
        event: &str,
        incident: Option<IncidentId>,
        idempotency_key: &str,
        payload: &str,
    ) -> Result<()>;
    async fn claim_due_deliveries(
        &mut self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<WebhookDelivery>>;
    /// Marks a delivery sent and its subscription healthy.
    async fn mark_delivery_sent(&mut self, id: i64) -> Result<()>;
    /// Records a failed attempt (retried at `retry_at`, or failed for good) and returns the
    /// subscription's consecutive failures.
    async fn mark_delivery_failed(
        &mut self,
        id: i64,
        error: &str,
        retry_at: Option<Timestamp>,
    ) -> Result<i64>;
    async fn deliveries(&mut self, subscription: i64, limit: i64) -> Result<Vec<WebhookDelivery>>;

    /// A server-wide secret by name, created with `candidate` if it does not exist yet. Every
    /// node gets the same value.
    async fn server_secret(&mut self, name: &str, candidate: &str) -> Result<String>;
}
