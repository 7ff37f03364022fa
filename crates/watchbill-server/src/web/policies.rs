//! Escalation policies: each level with its targets and delay, and forms to add or remove a
//! level, set the repeat count, or start a new policy. Every change goes through the API's
//! own handlers, which check the role and the references.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use watchbill_core::Role;
use watchbill_store::paging::TargetKind;

use super::{render, see_other, Posted, Shell, Viewer, WebResult};
use crate::api::services::{
    create_policy, update_policy, LevelBody, PolicyBody, PolicyView, TargetBody,
};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

struct PolicyRow {
    id: i64,
    name: String,
    team: String,
    /// (position, description).
    levels: Vec<(usize, String)>,
    repeat: String,
    repeat_count: u32,
}

#[derive(Template)]
#[template(path = "policies.html")]
struct PoliciesPage {
    shell: Shell,
    policies: Vec<PolicyRow>,
    can_edit: bool,
    /// (`kind:id`, label) for the target choosers.
    targets: Vec<(String, String)>,
    teams: Vec<(i64, String)>,
}

fn duration(seconds: i64) -> String {
    match seconds {
        s if s % 3600 == 0 && s > 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 && s > 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

pub async fn page(State(state): State<AppState>, viewer: Viewer) -> WebResult<Response> {
    let mut tx = state.store.read().await?;
    let teams = tx.teams().await?;
    let team_names: HashMap<i64, String> = teams.iter().map(|t| (t.id.0, t.name.clone())).collect();
    let schedules = tx.schedules(None).await?;
    let users = tx.users().await?;
    let mut names: HashMap<(TargetKind, i64), String> = HashMap::new();
    let mut targets = Vec::new();
    for s in &schedules {
        let label = format!(
            "whoever is on call on {} ({})",
            s.name,
            team_names.get(&s.team_id.0).cloned().unwrap_or_default()
        );
        names.insert((TargetKind::Schedule, s.id.0), label.clone());
        targets.push((format!("schedule:{}", s.id), label));
    }
    for t in &teams {
        let label = format!("team {} in turn", t.name);
        names.insert((TargetKind::Team, t.id.0), label.clone());
        targets.push((format!("team:{}", t.id), label));
    }
    for u in &users {
        names.insert((TargetKind::User, u.id.0), u.name.clone());
        targets.push((format!("user:{}", u.id), u.name.clone()));
    }
    let policies = tx
        .policies()
        .await?
        .into_iter()
        .map(|p| PolicyRow {
            id: p.id.0,
            team: team_names.get(&p.team_id.0).cloned().unwrap_or_default(),
            levels: p
                .levels
                .iter()
                .enumerate()
                .map(|(position, level)| {
                    let who: Vec<String> = level
                        .targets
                        .iter()
                        .map(|t| names.get(&(t.kind, t.id)).cloned().unwrap_or_default())
                        .collect();
                    (
                        position,
                        format!(
                            "{}; after {} without an acknowledgement, the next level",
                            who.join(", "),
                            duration(level.delay_seconds)
                        ),
                    )
                })
                .collect(),
            repeat: match p.repeat {
                0 => "Does not repeat.".to_owned(),
                n => format!("Repeats {n} more time(s)."),
            },
            repeat_count: p.repeat,
            name: p.name,
        })
        .collect();
    Ok(render(&PoliciesPage {
        shell: Shell::new(&viewer, "policies"),
        policies,
        can_edit: viewer.can(Role::Manager),
        targets,
        teams: teams.into_iter().map(|t| (t.id.0, t.name)).collect(),
    }))
}

/// Reads a chooser's `kind:id` and a delay in minutes into a level.
fn level(target: &str, delay_minutes: i64) -> Result<LevelBody, ApiError> {
    let (kind, id) = target
        .split_once(':')
        .and_then(|(kind, id)| Some((kind, id.parse::<i64>().ok()?)))
        .ok_or_else(|| ApiError::invalid("target", "choose whom the level pages"))?;
    Ok(LevelBody {
        targets: vec![TargetBody {
            kind: kind.to_owned(),
            id,
        }],
        delay_seconds: delay_minutes.saturating_mul(60),
    })
}

/// The policy as the API's update takes it.
async fn current(state: &AppState, id: i64) -> WebResult<PolicyBody> {
    let mut tx = state.store.read().await?;
    let view = PolicyView::from(tx.policy(watchbill_core::PolicyId(id)).await?);
    Ok(PolicyBody {
        team_id: view.team_id,
        name: view.name,
        repeat: view.repeat,
        levels: view.levels,
    })
}

async fn save(state: AppState, viewer: &Viewer, id: i64, body: PolicyBody) -> WebResult<Response> {
    let _updated = update_policy(State(state), viewer.caller(), ApiPath(id), ApiJson(body)).await?;
    Ok(see_other("/policies"))
}

#[derive(Debug, Deserialize)]
pub struct LevelForm {
    target: String,
    delay_minutes: i64,
}

pub async fn add_level(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Posted { viewer, form }: Posted<LevelForm>,
) -> WebResult<Response> {
    let mut body = current(&state, id).await?;
    body.levels.push(level(&form.target, form.delay_minutes)?);
    save(state, &viewer, id, body).await
}

pub async fn remove_level(
    State(state): State<AppState>,
    Path((id, position)): Path<(i64, usize)>,
    Posted { viewer, .. }: Posted<super::account::Empty>,
) -> WebResult<Response> {
    let mut body = current(&state, id).await?;
    if position >= body.levels.len() {
        return Err(ApiError::not_found(format!("level {} of policy {id}", position + 1)).into());
    }
    body.levels.remove(position);
    save(state, &viewer, id, body).await
}

#[derive(Debug, Deserialize)]
pub struct RepeatForm {
    repeat: u32,
}

pub async fn set_repeat(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Posted { viewer, form }: Posted<RepeatForm>,
) -> WebResult<Response> {
    let mut body = current(&state, id).await?;
    body.repeat = form.repeat;
    save(state, &viewer, id, body).await
}

#[derive(Debug, Deserialize)]
pub struct NewPolicyForm {
    team_id: i64,
    name: String,
    target: String,
    delay_minutes: i64,
}

pub async fn create(
    State(state): State<AppState>,
    Posted { viewer, form }: Posted<NewPolicyForm>,
) -> WebResult<Response> {
    let body = PolicyBody {
        team_id: form.team_id,
        name: form.name.trim().to_owned(),
        levels: vec![level(&form.target, form.delay_minutes)?],
        repeat: 0,
    };
    let _created = create_policy(State(state), viewer.caller(), ApiJson(body)).await?;
    Ok(see_other("/policies"))
}
