//! Folding: accepted events, waiting in the inbox, become incidents.
//!
//! Intake appends each accepted event to the inbox and answers once that append commits; an
//! engine pass then takes the waiting events, oldest first, and applies them here inside its
//! own transaction: a trigger opens an incident or adds an alert to the open one, acknowledge
//! and resolve act on it. Many events fold in one transaction, so the writes that land on
//! random pages (an incident's count, the events' per-incident index) are shared by a whole
//! batch rather than paid by every request, and a request waits only for its append.
//!
//! Architecture Invariant: an event leaves the inbox only in the transaction that applies it,
//! so a crash at any point leaves it either waiting or applied, never lost or applied twice.

use std::collections::HashMap;

use watchbill_core::paging::EventAction;
use watchbill_core::{IntegrationId, ServiceId};
use watchbill_store::paging::{InboxEvent, Integration};
use watchbill_store::{StoreError, Tx};

use super::batch::Batch;
use super::events::IntakeEvent;
use super::intake::{apply_event, Lookups};

/// The most events one pass folds: enough to share pages, few enough that on SQLite the one
/// writer is not held for long while intake waits to append.
pub const FOLD_LIMIT: i64 = 1024;

/// Takes up to `limit` waiting events and applies them in `tx`; returns how many.
pub async fn fold(tx: &mut dyn Tx, limit: i64) -> Result<usize, StoreError> {
    let waiting = tx.take_inbox(limit).await?;
    if waiting.is_empty() {
        return Ok(0);
    }
    let integrations: HashMap<IntegrationId, Integration> = tx
        .integrations(None)
        .await?
        .into_iter()
        .map(|integration| (integration.id, integration))
        .collect();
    let mut lookups = Lookups::default();
    let mut batch = Batch::default();
    // Every trigger's open incident, found in one query per service.
    let keys: Vec<(ServiceId, String)> = waiting
        .iter()
        .filter_map(|event| {
            integrations
                .get(&event.integration_id)
                .map(|integration| (integration.service_id, event.dedup_key.clone()))
        })
        .collect();
    batch.preload(tx, &keys).await?;
    for waiting_event in &waiting {
        // The inbox row goes with its integration, so an event always finds it.
        let Some(integration) = integrations.get(&waiting_event.integration_id) else {
            continue;
        };
        let event = intake_event(waiting_event)?;
        if event.action == EventAction::Trigger {
            batch.trigger(tx, &mut lookups, integration, &event).await?;
        } else {
            // Acknowledge and resolve take the one-by-one path, after everything before them.
            batch.flush(tx, &mut lookups).await?;
            apply_event(tx, &mut lookups, integration, &event).await?;
            batch
                .refresh(tx, integration.service_id, &event.dedup_key)
                .await?;
        }
    }
    batch.flush(tx, &mut lookups).await?;
    Ok(waiting.len())
}

/// The event as intake read it, from its inbox row.
fn intake_event(waiting: &InboxEvent) -> Result<IntakeEvent, StoreError> {
    let action = waiting
        .action
        .parse::<EventAction>()
        .map_err(StoreError::Corrupt)?;
    let payload = serde_json::from_str(&waiting.payload)
        .map_err(|error| StoreError::Corrupt(format!("an inbox payload: {error}")))?;
    Ok(IntakeEvent {
        action,
        dedup_key: waiting.dedup_key.clone(),
        summary: waiting.summary.clone(),
        severity: waiting.severity.clone(),
        source: waiting.source.clone(),
        payload,
    })
}
