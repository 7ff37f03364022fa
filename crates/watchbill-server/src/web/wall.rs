//! The wall: for every team, who holds each of its schedules now (the Captain On-Call and the
//! First-mate in the seed's line-up) with face, until when and who is next, and the team's
//! open incidents. Readable across a room, updated live; also shown through kiosk links that
//! need no sign-in.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use watchbill_core::paging::IncidentStatus;
use watchbill_core::{Role, ScheduleId, TeamId};
use watchbill_store::paging::IncidentFilter;
use watchbill_store::{hash_secret, new_secret};

use super::format::{initials, relative, when, zone};
use super::{render, see_other, Posted, Viewer, WebResult};
use crate::api::oncall::on_call_in;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "wall.html")]
struct WallPage {
    board: String,
    board_url: String,
    events_url: String,
    signed_in: bool,
}

#[derive(Template)]
#[template(path = "wall_board.html")]
pub struct WallBoard {
    teams: Vec<WallTeam>,
    /// The earliest handoff shown, in Unix seconds: the page refreshes itself then.
    next_change: i64,
    revision: i64,
}

struct WallTeam {
    name: String,
    slots: Vec<Slot>,
    incidents: Vec<WallIncident>,
}

struct Slot {
    schedule: String,
    person: Option<Face>,
    until: String,
    next: Option<String>,
}

struct Face {
    name: String,
    photo: Option<String>,
    initials: String,
}

struct WallIncident {
    number: String,
    title: String,
    status: String,
}

/// Everything on the wall, as of now.
pub async fn build(state: &AppState) -> ApiResult<WallBoard> {
    let now = state.clock.now();
    let mut tx = state.store.read().await?;
    let revision = tx.activity_revision().await?;
    let roster = state.roster.get(tx.as_mut(), now).await?;
    let view = on_call_in(&roster, now, None)?;
    let zones: HashMap<ScheduleId, &str> = roster
        .schedules
        .iter()
        .map(|s| (s.id, s.time_zone.as_str()))
        .collect();
    let team_of_service: HashMap<_, _> = tx
        .services()
        .await?
        .into_iter()
        .map(|s| (s.id, s.team_id))
        .collect();
    let open = tx
        .incidents(&IncidentFilter {
            statuses: vec![IncidentStatus::Triggered, IncidentStatus::Acknowledged],
            limit: 1000,
            ..IncidentFilter::default()
        })
        .await?;
    let mut incidents: HashMap<TeamId, Vec<WallIncident>> = HashMap::new();
    for incident in open {
        if let Some(team) = team_of_service.get(&incident.service_id) {
            incidents.entry(*team).or_default().push(WallIncident {
                number: format!("INC-{}", incident.id),
                title: incident.title,
                status: incident.status.to_string(),
            });
        }
    }
    let mut teams: Vec<WallTeam> = Vec::new();
    let mut next_change = i64::MAX;
    for team in &roster.teams {
        let mut slots = Vec::new();
        for on_call in view.schedules.iter().filter(|s| s.team_id == team.id.0) {
            let zone = zone(
                zones
                    .get(&ScheduleId(on_call.schedule_id))
                    .copied()
                    .unwrap_or("UTC"),
            );
            if let Some(until) = on_call.until {
                next_change = next_change.min(until.as_second());
            }
            slots.push(Slot {
                schedule: on_call.schedule_name.clone(),
                person: on_call.user.as_ref().map(|p| Face {
                    name: p.name.clone(),
                    photo: p.photo_url.clone(),
                    initials: initials(&p.name),
                }),
                until: match on_call.until {
                    Some(until) => {
                        format!("until {} ({})", when(until, &zone), relative(until, now))
                    }
                    None => "for the foreseeable future".to_owned(),
                },
                next: on_call
                    .next
                    .as_ref()
                    .map(|next| format!("{} from {}", next.user.name, when(next.start, &zone))),
            });
        }
        teams.push(WallTeam {
            name: team.name.clone(),
            slots,
            incidents: incidents.remove(&team.id).unwrap_or_default(),
        });
    }
    Ok(WallBoard {
        teams,
        next_change: if next_change == i64::MAX {
            0
        } else {
            next_change
        },
        revision,
    })
}

fn wall_page(board: &WallBoard, base: &str, signed_in: bool) -> Response {
    let board = match board.render() {
        Ok(html) => html,
        Err(error) => {
            tracing::error!(%error, "wall board failed to render");
            String::new()
        }
    };
    render(&WallPage {
        board,
        board_url: format!("{base}/board"),
        events_url: format!("{base}/events"),
        signed_in,
    })
}

pub async fn page(State(state): State<AppState>, _viewer: Viewer) -> WebResult<Response> {
    Ok(wall_page(&build(&state).await?, "/wall", true))
}

pub async fn board(State(state): State<AppState>, _viewer: Viewer) -> WebResult<Response> {
    Ok(render(&build(&state).await?))
}

pub async fn events(State(state): State<AppState>, _viewer: Viewer) -> impl IntoResponse {
    state.live.events()
}

/// Checks a kiosk link's token.
async fn kiosk(state: &AppState, token: &str) -> ApiResult<()> {
    let mut tx = state.store.read().await?;
    tx.find_wall_link(&hash_secret(token))
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::not_found("this kiosk link does not exist or was revoked"))
}

pub async fn kiosk_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> WebResult<Response> {
    kiosk(&state, &token).await?;
    Ok(wall_page(
        &build(&state).await?,
        &format!("/kiosk/{token}"),
        false,
    ))
}

pub async fn kiosk_board(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> WebResult<Response> {
    kiosk(&state, &token).await?;
    Ok(render(&build(&state).await?))
}

pub async fn kiosk_events(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> WebResult<impl IntoResponse> {
    kiosk(&state, &token).await?;
    Ok(state.live.events())
}

#[derive(Debug, Deserialize)]
pub struct LinkForm {
    name: String,
}

/// Creates a kiosk link (admin) and shows it once on the audit page.
pub async fn create_link(
    State(state): State<AppState>,
    Posted { viewer, form }: Posted<LinkForm>,
) -> WebResult<Response> {
    viewer.caller().require(Role::Admin)?;
    let name = form.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(
            ApiError::invalid("name", "a kiosk link needs a name of up to 100 characters").into(),
        );
    }
    let secret = new_secret();
    let mut tx = state.store.write().await?;
    let link = tx.insert_wall_link(name, &hash_secret(&secret)).await?;
    tx.record_audit(
        &viewer.caller().label,
        "wall_link.create",
        &format!("wall link {} ({name})", link.id),
    )
    .await?;
    tx.commit().await?;
    super::directory::audit_page(
        &state,
        &viewer,
        Some(format!("{}/kiosk/{secret}", state.public_url)),
    )
    .await
}

pub async fn delete_link(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Posted { viewer, .. }: Posted<super::account::Empty>,
) -> WebResult<Response> {
    viewer.caller().require(Role::Admin)?;
    let mut tx = state.store.write().await?;
    tx.delete_wall_link(id).await?;
    tx.record_audit(
        &viewer.caller().label,
        "wall_link.delete",
        &format!("wall link {id}"),
    )
    .await?;
    tx.commit().await?;
    Ok(see_other("/audit"))
}
