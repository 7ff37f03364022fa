//! Bringing a schedule's layers to a wanted state, changing only what differs.
//!
//! Both `PUT /api/v1/schedules/{id}` and `watchbill apply` use this, so applying the same
//! declaration twice changes nothing the second time.

use watchbill_core::ScheduleId;
use watchbill_store::model::{Layer, LayerInput};
use watchbill_store::Tx;

use crate::error::ApiResult;

/// Makes the layers of `schedule` equal `wanted` (in order, matched by name) and returns how
/// many layers were created, changed or removed.
pub async fn sync_layers(
    tx: &mut dyn Tx,
    schedule: ScheduleId,
    existing: &[Layer],
    wanted: &[LayerInput],
) -> ApiResult<usize> {
    let existing_names: Vec<&str> = existing.iter().map(|l| l.input.name.as_str()).collect();
    let kept_in_order: Vec<&str> = wanted
        .iter()
        .map(|l| l.name.as_str())
        .filter(|name| existing_names.contains(name))
        .collect();
    let surviving: Vec<&str> = existing_names
        .iter()
        .copied()
        .filter(|name| wanted.iter().any(|l| l.name == *name))
        .collect();
    let appended_only = wanted
        .iter()
        .skip_while(|l| existing_names.contains(&l.name.as_str()))
        .all(|l| !existing_names.contains(&l.name.as_str()));
    let mut changes = 0;
    if kept_in_order != surviving || !appended_only {
        // The stacking order changed: rebuild the layers in the wanted order.
        for layer in existing {
            tx.delete_layer(layer.id).await?;
        }
        for layer in wanted {
            tx.insert_layer(schedule, layer).await?;
        }
        return Ok(existing.len().max(wanted.len()));
    }
    for layer in existing {
        match wanted.iter().find(|w| w.name == layer.input.name) {
            Some(want) if *want != layer.input => {
                tx.update_layer(layer.id, want).await?;
                changes += 1;
            }
            Some(_) => {}
            None => {
                tx.delete_layer(layer.id).await?;
                changes += 1;
            }
        }
    }
    for layer in wanted
        .iter()
        .filter(|w| !existing_names.contains(&w.name.as_str()))
    {
        tx.insert_layer(schedule, layer).await?;
        changes += 1;
    }
    Ok(changes)
}
