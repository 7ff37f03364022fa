//! The declarative organisation document: `watchbill apply` and `watchbill export`.
//!
//! The document names things people recognise (emails, team and schedule names) rather than
//! ids, so it can live in version control and be applied to any server. Applying is one
//! transaction that changes only what differs, so applying twice changes nothing and
//! `apply(export())` is a no-op. Apply never deletes users, teams or schedules that the
//! document leaves out; within a schedule it lists, the document's layers are the whole truth.

use std::collections::{BTreeSet, HashMap};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use watchbill_core::{ScheduleId, TeamId, UserId};
use watchbill_store::model::{Follows, LayerInput, RestrictionInput, ScheduleInput, TeamInput};
use watchbill_store::Tx;

use crate::api::schedules::{whole_seconds, RestrictionBody};
use crate::api::users::{user_input, UserBody};
use crate::error::{ApiError, ApiResult};
use crate::resolve::{validate_layers, zone};
use crate::sync::sync_layers;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgDocument {
    #[serde(default)]
    pub users: Vec<OrgUser>,
    #[serde(default)]
    pub teams: Vec<OrgTeam>,
    #[serde(default)]
    pub schedules: Vec<OrgSchedule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgUser {
    pub name: String,
    pub email: String,
    #[serde(default = "utc")]
    pub time_zone: String,
    #[serde(default = "responder")]
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgTeam {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Member emails.
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgSchedule {
    /// The owning team's name.
    pub team: String,
    pub name: String,
    pub time_zone: String,
    /// The name of a schedule of the same team whose rotation this one follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
    /// With `follows`: how many people along (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<OrgLayer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgLayer {
    pub name: String,
    /// Participant emails, in rotation order.
    pub participants: Vec<String>,
    pub turn: String,
    pub handoff: String,
    pub start: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restrictions: Vec<RestrictionBody>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub offset: u32,
}

fn utc() -> String {
    "UTC".to_owned()
}

fn responder() -> String {
    "responder".to_owned()
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What an apply changed, one line per thing.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ApplyReport {
    pub changes: Vec<String>,
}

/// Applies the document inside `tx`. The caller commits (or, for a dry run, does not).
pub async fn apply(tx: &mut dyn Tx, doc: &OrgDocument) -> ApiResult<ApplyReport> {
    let mut report = ApplyReport::default();
    check_unique(doc)?;
    apply_users(tx, doc, &mut report).await?;
    let emails: HashMap<String, UserId> = tx
        .users()
        .await?
        .into_iter()
        .map(|u| (u.email, u.id))
        .collect();
    let user_id = |email: &str, field: String| {
        emails
            .get(&email.trim().to_lowercase())
            .copied()
            .ok_or_else(|| ApiError {
                code: crate::error::ErrorCode::UnknownReference,
                message: format!("no user has the email `{email}`; add them under [[users]]")
                    .into(),
                field: Some(field.into()),
            })
    };
    apply_teams(tx, doc, &user_id, &mut report).await?;
    apply_schedules(tx, doc, &user_id, &mut report).await?;
    Ok(report)
}

fn check_unique(doc: &OrgDocument) -> ApiResult<()> {
    let mut seen = BTreeSet::new();
    for (i, user) in doc.users.iter().enumerate() {
        if !seen.insert(user.email.trim().to_lowercase()) {
            return Err(ApiError::invalid(
                format!("users[{i}].email"),
                format!("`{}` is listed twice", user.email),
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, team) in doc.teams.iter().enumerate() {
        if !seen.insert(team.name.trim().to_lowercase()) {
            return Err(ApiError::invalid(
                format!("teams[{i}].name"),
                format!("team `{}` is listed twice", team.name),
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, schedule) in doc.schedules.iter().enumerate() {
        if !seen.insert((
            schedule.team.trim().to_lowercase(),
            schedule.name.trim().to_lowercase(),
        )) {
            return Err(ApiError::invalid(
                format!("schedules[{i}].name"),
                format!(
                    "schedule `{}` of team `{}` is listed twice",
                    schedule.name, schedule.team
                ),
            ));
        }
    }
    Ok(())
}

async fn apply_users(
    tx: &mut dyn Tx,
    doc: &OrgDocument,
    report: &mut ApplyReport,
) -> ApiResult<()> {
    for (i, user) in doc.users.iter().enumerate() {
        let input = user_input(&UserBody {
            name: user.name.clone(),
            email: user.email.clone(),
            time_zone: user.time_zone.clone(),
            photo_url: user.photo_url.clone(),
            role: user.role.clone(),
        })
        .map_err(|e| e.within(&format!("users[{i}]")))?;
        match tx.find_user_by_email(&input.email).await? {
            None => {
                tx.insert_user(&input).await?;
                report.changes.push(format!("created user {}", input.email));
            }
            Some(existing) => {
                let current = watchbill_store::model::UserInput {
                    name: existing.name.clone(),
                    email: existing.email.clone(),
                    time_zone: existing.time_zone.clone(),
                    photo_url: existing.photo_url.clone(),
                    role: existing.role,
                };
                if current != input {
                    tx.update_user(existing.id, &input).await?;
                    report.changes.push(format!("updated user {}", input.email));
                }
            }
        }
    }
    Ok(())
}

async fn apply_teams(
    tx: &mut dyn Tx,
    doc: &OrgDocument,
    user_id: &impl Fn(&str, String) -> ApiResult<UserId>,
    report: &mut ApplyReport,
) -> ApiResult<()> {
    let existing = tx.teams().await?;
    for (i, team) in doc.teams.iter().enumerate() {
        let name = team.name.trim();
        if name.is_empty() {
            return Err(ApiError::invalid(
                format!("teams[{i}].name"),
                "a team needs a name",
            ));
        }
        let mut members = team
            .members
            .iter()
            .enumerate()
            .map(|(j, email)| user_id(email, format!("teams[{i}].members[{j}]")))
            .collect::<ApiResult<Vec<_>>>()?;
        members.sort_unstable();
        members.dedup();
        let input = TeamInput {
            name: name.to_owned(),
            description: team.description.clone(),
            members,
        };
        match existing.iter().find(|t| t.name.eq_ignore_ascii_case(name)) {
            None => {
                tx.insert_team(&input).await?;
                report.changes.push(format!("created team {name}"));
            }
            Some(current) => {
                if current.name != input.name
                    || current.description != input.description
                    || current.members != input.members
                {
                    tx.update_team(current.id, &input).await?;
                    report.changes.push(format!("updated team {name}"));
                }
            }
        }
    }
    Ok(())
}

async fn apply_schedules(
    tx: &mut dyn Tx,
    doc: &OrgDocument,
    user_id: &impl Fn(&str, String) -> ApiResult<UserId>,
    report: &mut ApplyReport,
) -> ApiResult<()> {
    let teams: HashMap<String, TeamId> = tx
        .teams()
        .await?
        .into_iter()
        .map(|t| (t.name.to_lowercase(), t.id))
        .collect();
    // Schedules with layers of their own first, so that followers find what they follow.
    let mut order: Vec<usize> = (0..doc.schedules.len()).collect();
    order.sort_by_key(|i| doc.schedules[*i].follows.is_some());
    for i in order {
        let schedule = &doc.schedules[i];
        let at = |field: &str| format!("schedules[{i}].{field}");
        let team_id = *teams
            .get(&schedule.team.trim().to_lowercase())
            .ok_or_else(|| ApiError {
                code: crate::error::ErrorCode::UnknownReference,
                message: format!("no team is named `{}`", schedule.team).into(),
                field: Some(at("team").into()),
            })?;
        let name = schedule.name.trim();
        if name.is_empty() {
            return Err(ApiError::invalid(at("name"), "a schedule needs a name"));
        }
        let tz = zone(&schedule.time_zone, &at("time_zone"))?;
        let layers = schedule
            .layers
            .iter()
            .enumerate()
            .map(|(j, layer)| {
                layer_input(layer, |field| at(&format!("layers[{j}].{field}")), user_id)
            })
            .collect::<ApiResult<Vec<_>>>()?;
        validate_layers(&layers, &tz).map_err(|e| e.within(&format!("schedules[{i}]")))?;
        let siblings = tx.schedules(Some(team_id)).await?;
        let follows = match &schedule.follows {
            None => None,
            Some(target) => {
                if !layers.is_empty() {
                    return Err(ApiError::invalid(
                        at("layers"),
                        "a schedule that follows another has no layers of its own",
                    ));
                }
                let found = siblings
                    .iter()
                    .find(|s| s.name.eq_ignore_ascii_case(target.trim()))
                    .ok_or_else(|| ApiError {
                        code: crate::error::ErrorCode::UnknownReference,
                        message: format!(
                            "team `{}` has no schedule named `{target}`",
                            schedule.team
                        )
                        .into(),
                        field: Some(at("follows").into()),
                    })?;
                Some(Follows {
                    schedule_id: found.id,
                    offset: schedule.offset.unwrap_or(1),
                })
            }
        };
        let input = ScheduleInput {
            team_id,
            name: name.to_owned(),
            time_zone: schedule.time_zone.clone(),
            follows,
        };
        let label = format!("{}/{name}", schedule.team.trim());
        let result: ApiResult<()> = async {
            match siblings.iter().find(|s| s.name.eq_ignore_ascii_case(name)) {
                None => {
                    let created = tx.insert_schedule(&input).await?;
                    for layer in &layers {
                        tx.insert_layer(created.id, layer).await?;
                    }
                    report.changes.push(format!("created schedule {label}"));
                }
                Some(current) => {
                    let id: ScheduleId = current.id;
                    let settings_differ = current.name != input.name
                        || current.time_zone != input.time_zone
                        || current.follows != input.follows;
                    let layer_changes = sync_layers(tx, id, &current.layers, &layers).await?;
                    if settings_differ {
                        tx.update_schedule(id, &input).await?;
                    }
                    if settings_differ || layer_changes > 0 {
                        report.changes.push(format!("updated schedule {label}"));
                    }
                }
            }
            Ok(())
        }
        .await;
        result.map_err(|e| {
            if e.field.is_none() {
                e.within(&format!("schedules[{i}]"))
            } else {
                e
            }
        })?;
    }
    Ok(())
}

fn layer_input(
    layer: &OrgLayer,
    at: impl Fn(&str) -> String,
    user_id: &impl Fn(&str, String) -> ApiResult<UserId>,
) -> ApiResult<LayerInput> {
    let participants = layer
        .participants
        .iter()
        .enumerate()
        .map(|(k, email)| user_id(email, at(&format!("participants[{k}]"))))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(LayerInput {
        name: layer.name.trim().to_owned(),
        participants,
        turn: layer.turn.trim().to_owned(),
        handoff: layer.handoff.trim().to_owned(),
        start: whole_seconds(layer.start),
        end: layer.end.map(whole_seconds),
        restrictions: layer
            .restrictions
            .iter()
            .map(|r| RestrictionInput {
                days: r.days.clone(),
                start: r.start.clone(),
                end: r.end.clone(),
            })
            .collect(),
        offset: layer.offset,
    })
}

/// The whole organisation as a document.
pub async fn export(tx: &mut dyn Tx) -> ApiResult<OrgDocument> {
    let users = tx.users().await?;
    let emails: HashMap<UserId, String> = users.iter().map(|u| (u.id, u.email.clone())).collect();
    let email = |id: &UserId| emails.get(id).cloned().unwrap_or_default();
    let teams = tx.teams().await?;
    let team_names: HashMap<TeamId, String> =
        teams.iter().map(|t| (t.id, t.name.clone())).collect();
    let schedules = tx.schedules(None).await?;
    let schedule_names: HashMap<ScheduleId, String> =
        schedules.iter().map(|s| (s.id, s.name.clone())).collect();
    Ok(OrgDocument {
        users: users
            .iter()
            .map(|u| OrgUser {
                name: u.name.clone(),
                email: u.email.clone(),
                time_zone: u.time_zone.clone(),
                role: u.role.to_string(),
                photo_url: u.photo_url.clone(),
            })
            .collect(),
        teams: teams
            .iter()
            .map(|t| OrgTeam {
                name: t.name.clone(),
                description: t.description.clone(),
                members: t.members.iter().map(email).collect(),
            })
            .collect(),
        schedules: schedules
            .iter()
            .map(|s| OrgSchedule {
                team: team_names.get(&s.team_id).cloned().unwrap_or_default(),
                name: s.name.clone(),
                time_zone: s.time_zone.clone(),
                follows: s
                    .follows
                    .and_then(|f| schedule_names.get(&f.schedule_id).cloned()),
                offset: s.follows.map(|f| f.offset),
                layers: s
                    .layers
                    .iter()
                    .map(|l| OrgLayer {
                        name: l.input.name.clone(),
                        participants: l.input.participants.iter().map(email).collect(),
                        turn: l.input.turn.clone(),
                        handoff: l.input.handoff.clone(),
                        start: l.input.start,
                        end: l.input.end,
                        restrictions: l
                            .input
                            .restrictions
                            .iter()
                            .map(|r| RestrictionBody {
                                days: r.days.clone(),
                                start: r.start.clone(),
                                end: r.end.clone(),
                            })
                            .collect(),
                        offset: l.input.offset,
                    })
                    .collect(),
            })
            .collect(),
    })
}
