//! `/api/v1/oncall`: who is on call now (or at any instant), since and until when, and who is
//! next — for every schedule, or one team's.

use std::collections::HashMap;

use axum::extract::State;
use axum::Json;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::schedule::Source;
use watchbill_core::UserId;
use watchbill_store::model::Team;
use watchbill_store::Tx;

use super::instant;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::roster::{Roster, RosterCache};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(on_call))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OnCallQuery {
    /// The instant to ask about (RFC 3339, a date, or `now`); default now.
    at: Option<String>,
    /// A team id or name.
    team: Option<String>,
}

/// A person, as on-call answers show them.
#[derive(Debug, Clone, Serialize, ToSchema, Deserialize)]
pub struct PersonView {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub photo_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NextView {
    pub user: PersonView,
    pub start: Timestamp,
    pub end: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScheduleOnCall {
    pub schedule_id: i64,
    pub schedule_name: String,
    pub team_id: i64,
    pub team_name: String,
    /// Absent when nobody is on call: a coverage gap.
    pub user: Option<PersonView>,
    /// `layer` or `override`.
    pub source: Option<String>,
    /// Start of the current stretch; absent if more than a year ago.
    pub since: Option<Timestamp>,
    /// End of the current stretch; absent if more than a year ahead.
    pub until: Option<Timestamp>,
    pub next: Option<NextView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OnCallView {
    pub at: Timestamp,
    pub schedules: Vec<ScheduleOnCall>,
}

/// Who is on call at an instant, per schedule.
#[utoipa::path(get, path = "/api/v1/oncall", tag = "oncall", params(OnCallQuery),
    responses((status = 200, body = OnCallView), (status = 400, body = ApiError), (status = 404, body = ApiError)),
    security(("token" = [])))]
async fn on_call(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(query): ApiQuery<OnCallQuery>,
) -> ApiResult<Json<OnCallView>> {
    let at = instant(query.at.as_deref(), state.clock.now(), "at")?;
    let mut tx = state.store.read().await?;
    Ok(Json(
        on_call_at(tx.as_mut(), &state.roster, at, query.team.as_deref()).await?,
    ))
}

/// The on-call answer for every schedule (or one team's) at `at`.
pub async fn on_call_at(
    tx: &mut dyn Tx,
    roster: &RosterCache,
    at: Timestamp,
    team: Option<&str>,
) -> ApiResult<OnCallView> {
    let roster = roster.get(tx, at).await?;
    on_call_in(&roster, at, team)
}

/// [`on_call_at`] over a roster already in hand.
pub fn on_call_in(roster: &Roster, at: Timestamp, team: Option<&str>) -> ApiResult<OnCallView> {
    let team_filter: Option<&Team> = match team {
        None => None,
        Some(wanted) => Some(
            roster
                .teams
                .iter()
                .find(|t| t.id.0.to_string() == wanted || t.name.eq_ignore_ascii_case(wanted))
                .ok_or_else(|| ApiError::not_found(format!("team `{wanted}`")))?,
        ),
    };
    let team_names: HashMap<_, _> = roster
        .teams
        .iter()
        .map(|t| (t.id, t.name.as_str()))
        .collect();
    let person = |id: UserId| {
        roster.users.get(&id).map(|u| PersonView {
            id: u.id.0,
            name: u.name.clone(),
            email: u.email.clone(),
            photo_url: u.photo_url.clone(),
        })
    };
    let mut schedules = Vec::new();
    for record in roster
        .schedules
        .iter()
        .filter(|s| team_filter.is_none_or(|team| s.team_id == team.id))
    {
        let Some(schedule) = roster.resolved.get(&record.id) else {
            continue;
        };
        let now = schedule.now(at);
        schedules.push(ScheduleOnCall {
            schedule_id: record.id.0,
            schedule_name: record.name.clone(),
            team_id: record.team_id.0,
            team_name: team_names
                .get(&record.team_id)
                .copied()
                .unwrap_or_default()
                .to_owned(),
            user: now.user.and_then(person),
            source: now.source.map(|s| match s {
                Source::Layer(_) => "layer".to_owned(),
                Source::Override(_) => "override".to_owned(),
            }),
            since: now.since,
            until: now.until,
            next: now.next.and_then(|next| {
                person(next.user).map(|user| NextView {
                    user,
                    start: next.start,
                    end: next.end,
                })
            }),
        });
    }
    Ok(OnCallView { at, schedules })
}
