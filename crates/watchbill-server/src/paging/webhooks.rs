//! Outgoing webhooks: subscribers hear of incident events (`incident.triggered`,
//! `.acknowledged`, `.escalated`, `.resolved`, `.reassigned`, `.annotated`).
//!
//! An event is queued as a delivery row in the same transaction as the change it reports, so
//! no committed change goes unreported and no rolled-back one is reported. The engine sends the
//! rows, signed with the subscription's secret, retrying with back-off; a subscription that
//! fails [`DISABLE_AFTER`] times in a row is disabled until someone enables it again.

use serde_json::json;
use watchbill_core::IncidentId;
use watchbill_store::paging::WebhookSubscription;
use watchbill_store::{StoreError, Tx};

/// The events a subscription can ask for. `handoff.report` and `post_mortem.published` go only
/// to subscriptions that name them; the others go to every subscription that names them or
/// names nothing.
pub const EVENTS: [&str; 8] = [
    "handoff.report",
    "post_mortem.published",
    "incident.triggered",
    "incident.acknowledged",
    "incident.escalated",
    "incident.resolved",
    "incident.reassigned",
    "incident.annotated",
];

/// Consecutive failed attempts after which a subscription is disabled.
pub const DISABLE_AFTER: i64 = 10;

/// Queues `event` about the incident for every enabled subscription that wants it.
pub async fn emit(
    tx: &mut dyn Tx,
    incident: IncidentId,
    event: &str,
    actor: &str,
) -> Result<(), StoreError> {
    let all = tx.webhooks().await?;
    emit_to(tx, &all, incident, event, actor).await
}

/// [`emit`], given the subscriptions already read in this transaction.
pub async fn emit_to(
    tx: &mut dyn Tx,
    all: &[WebhookSubscription],
    incident: IncidentId,
    event: &str,
    actor: &str,
) -> Result<(), StoreError> {
    let subscriptions: Vec<&WebhookSubscription> = all
        .iter()
        .filter(|s| s.enabled && (s.events.is_empty() || s.events.iter().any(|e| e == event)))
        .collect();
    if subscriptions.is_empty() {
        return Ok(());
    }
    let current = tx.incident(incident).await?;
    let now = tx.now();
    let payload = json!({
        "event": event,
        "occurred_at": now,
        "actor": actor,
        "incident": {
            "id": current.id.0,
            "number": format!("INC-{}", current.id),
            "title": current.title,
            "status": current.status.as_str(),
            "urgency": current.urgency.as_str(),
            "service_id": current.service_id.0,
            "dedup_key": current.dedup_key,
            "alert_count": current.alert_count,
            "escalation_level": current.step.level + 1,
            "assignees": current.assignees.iter().map(|u| u.0).collect::<Vec<_>>(),
            "created_at": current.created_at,
        },
    })
    .to_string();
    // Every emission is its own delivery; the key keeps a retried write of it from doubling.
    let emission = watchbill_store::new_secret();
    for subscription in subscriptions {
        let key = format!("{event}:{incident}:{emission}:{}", subscription.id);
        tx.insert_webhook_delivery(subscription.id, event, Some(incident), &key, &payload)
            .await?;
    }
    Ok(())
}
