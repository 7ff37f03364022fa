//! What people and events do to incidents: acknowledge, resolve, escalate, page someone.
//!
//! Each function works inside the caller's transaction, so an API call, an acknowledge link,
//! an event and the engine all change incidents the same way, atomically.

use jiff::{SignedDuration, Timestamp};
use watchbill_core::paging::{IncidentStatus, Level, Policy, Step, Target};
use watchbill_core::{IncidentId, PolicyId, ScheduleId, TeamId, UserId};
use watchbill_store::paging::{Incident, TargetKind};
use watchbill_store::{StoreError, Tx};

use crate::roster::Roster;

/// Why an action could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("INC-{0} is resolved")]
    Resolved(IncidentId),
    #[error("{0}")]
    Invalid(String),
}

impl crate::retrying::FromStore for ActionError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            ActionError::Store(error) => Some(error),
            ActionError::Resolved(_) | ActionError::Invalid(_) => None,
        }
    }
}

impl From<crate::error::ApiError> for ActionError {
    fn from(error: crate::error::ApiError) -> ActionError {
        ActionError::Invalid(error.message.into_owned())
    }
}

/// Acknowledges: escalation stops and unsent pages are cancelled. Returns whether anything
/// changed (acknowledging twice is not an error).
pub async fn acknowledge(
    tx: &mut dyn Tx,
    id: IncidentId,
    actor: &str,
) -> Result<bool, ActionError> {
    let incident = tx.incident(id).await?;
    match incident.status {
        IncidentStatus::Resolved => Err(ActionError::Resolved(id)),
        IncidentStatus::Acknowledged => Ok(false),
        IncidentStatus::Triggered => {
            stop_paging(tx, id).await?;
            tx.set_incident_status(id, IncidentStatus::Acknowledged)
                .await?;
            tx.log(
                id,
                "acknowledged",
                actor,
                &format!("Acknowledged by {actor}"),
            )
            .await?;
            super::webhooks::emit(tx, id, "incident.acknowledged", actor).await?;
            Ok(true)
        }
    }
}

/// Resolves: escalation stops and unsent pages are cancelled.
pub async fn resolve(tx: &mut dyn Tx, id: IncidentId, actor: &str) -> Result<bool, ActionError> {
    let incident = tx.incident(id).await?;
    if incident.status == IncidentStatus::Resolved {
        return Ok(false);
    }
    stop_paging(tx, id).await?;
    tx.set_incident_status(id, IncidentStatus::Resolved).await?;
    tx.log(id, "resolved", actor, &format!("Resolved by {actor}"))
        .await?;
    super::webhooks::emit(tx, id, "incident.resolved", actor).await?;
    Ok(true)
}

/// Takes the incident's escalation timer away and cancels its unsent pages.
///
/// Architecture Invariant: a transaction that changes an incident and its timer takes the
/// timer's row lock before the incident's, as the engine does (it claims due timers, then
/// updates their incidents). Taking them the other way round deadlocks against a pass that
/// fires the same incident.
async fn stop_paging(tx: &mut dyn Tx, id: IncidentId) -> Result<(), StoreError> {
    tx.clear_timer(id).await?;
    let cancelled = tx.cancel_notifications(id).await?;
    if cancelled > 0 {
        tx.log(
            id,
            "cancelled",
            "watchbill",
            &format!("{cancelled} page(s) not yet sent were cancelled"),
        )
        .await?;
    }
    Ok(())
}

/// Starts escalation of a new incident: its first level is due now.
pub async fn start_escalation(tx: &mut dyn Tx, incident: &Incident) -> Result<(), StoreError> {
    tx.set_timer(incident.id, tx.now(), Step::default()).await
}

/// Moves to the next level now, paging it at once. The incident returns to triggered.
pub async fn escalate_now(
    tx: &mut dyn Tx,
    id: IncidentId,
    actor: &str,
) -> Result<Step, ActionError> {
    let incident = tx.incident(id).await?;
    if incident.status == IncidentStatus::Resolved {
        return Err(ActionError::Resolved(id));
    }
    let policy = incident_policy(tx, &incident)
        .await?
        .ok_or_else(|| ActionError::Invalid("the service has no escalation policy".to_owned()))?;
    let next = policy
        .next(incident.step)
        .ok_or_else(|| ActionError::Invalid("the policy has no further level".to_owned()))?;
    // The timer first: see `stop_paging`.
    tx.set_timer(id, tx.now(), next).await?;
    if incident.status == IncidentStatus::Acknowledged {
        tx.set_incident_status(id, IncidentStatus::Triggered)
            .await?;
    }
    tx.log(
        id,
        "escalated",
        actor,
        &format!("Escalated to level {} by {actor}", next.level + 1),
    )
    .await?;
    super::webhooks::emit(tx, id, "incident.escalated", actor).await?;
    Ok(next)
}

/// Silences an acknowledged incident for `duration`, after which it triggers and pages again.
pub async fn snooze(
    tx: &mut dyn Tx,
    id: IncidentId,
    duration: SignedDuration,
    actor: &str,
) -> Result<Timestamp, ActionError> {
    let incident = tx.incident(id).await?;
    if incident.status != IncidentStatus::Acknowledged {
        return Err(ActionError::Invalid(
            "only an acknowledged incident can be snoozed".to_owned(),
        ));
    }
    let until = tx.now().saturating_add(duration).unwrap_or(tx.now());
    // A timer on an acknowledged incident is a snooze: when it fires, the incident triggers
    // again at the level it had reached.
    tx.set_timer(id, until, incident.step).await?;
    tx.log(
        id,
        "snoozed",
        actor,
        &format!("Snoozed by {actor} until {until}"),
    )
    .await?;
    Ok(until)
}

/// The incident's escalation policy in the core's form, if its service has one.
pub async fn incident_policy(
    tx: &mut dyn Tx,
    incident: &Incident,
) -> Result<Option<Policy>, ActionError> {
    let service = tx.service(incident.service_id).await?;
    let Some(policy_id) = service.escalation_policy_id else {
        return Ok(None);
    };
    Ok(Some(core_policy(tx, policy_id).await?))
}

pub async fn core_policy(tx: &mut dyn Tx, id: PolicyId) -> Result<Policy, ActionError> {
    let stored = tx.policy(id).await?;
    let levels = stored
        .levels
        .iter()
        .map(|level| Level {
            delay: SignedDuration::from_secs(level.delay_seconds),
            targets: level
                .targets
                .iter()
                .map(|t| match t.kind {
                    TargetKind::Schedule => Target::Schedule(ScheduleId(t.id)),
                    TargetKind::User => Target::User(UserId(t.id)),
                    TargetKind::Team => Target::Team(TeamId(t.id)),
                })
                .collect(),
        })
        .collect();
    Policy::new(levels, stored.repeat).map_err(|e| ActionError::Invalid(e.to_string()))
}

/// Who a level's targets are at `at`: schedules through the resolver, teams by turns.
pub async fn resolve_targets(
    tx: &mut dyn Tx,
    roster: &Roster,
    incident: &Incident,
    level: &Level,
    at: Timestamp,
) -> Result<(Vec<UserId>, Vec<String>), ActionError> {
    let mut users = Vec::new();
    let mut gaps = Vec::new();
    for target in &level.targets {
        match target {
            Target::User(user) => users.push(*user),
            Target::Schedule(schedule) => {
                let current = roster;
                match current
                    .resolved
                    .get(schedule)
                    .and_then(|s| s.on_call_at(at))
                {
                    Some((user, _)) => users.push(user),
                    None => {
                        let name = current
                            .schedules
                            .iter()
                            .find(|s| s.id == *schedule)
                            .map_or_else(|| format!("schedule {schedule}"), |s| s.name.clone());
                        gaps.push(format!("nobody is on call on {name}"));
                    }
                }
            }
            Target::Team(team) => {
                let members = tx.team(*team).await?.members;
                let turn = u64::try_from(incident.id.0).unwrap_or(0);
                match watchbill_core::paging::round_robin(&members, turn) {
                    Some(user) => users.push(user),
                    None => gaps.push(format!("team {team} has no members")),
                }
            }
        }
    }
    users.sort_unstable();
    users.dedup();
    Ok((users, gaps))
}
