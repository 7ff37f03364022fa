//! `/api/v1/oncall`: who is on call now (or at any instant), since and until when, and who is
//! next — for every schedule, or one team's.

use std::collections::HashMap;

use axum::extract::State;
use axum::Json;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::schedule::Source;
use watchbill_core::{ScheduleId, UserId};
use watchbill_store::model::{Schedule, Team, User};
use watchbill_store::Tx;

use super::instant;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::resolve::core_schedule;
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
#[derive(Debug, Clone, Serialize, ToSchema)]
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
        on_call_at(tx.as_mut(), at, query.team.as_deref()).await?,
    ))
}

/// How far around the instant overrides are loaded: the resolver looks at most 400 days back
/// and, for the next person, up to 400 days past the end of the current stretch.
const OVERRIDE_REACH: SignedDuration = SignedDuration::from_hours(24 * 820);

/// The on-call answer for every schedule (or one team's) at `at`.
pub async fn on_call_at(
    tx: &mut dyn Tx,
    at: Timestamp,
    team: Option<&str>,
) -> ApiResult<OnCallView> {
    let teams = tx.teams().await?;
    let team_filter: Option<&Team> = match team {
        None => None,
        Some(wanted) => Some(
            teams
                .iter()
                .find(|t| t.id.0.to_string() == wanted || t.name.eq_ignore_ascii_case(wanted))
                .ok_or_else(|| ApiError::not_found(format!("team `{wanted}`")))?,
        ),
    };
    let all = tx.schedules(None).await?;
    let by_id: HashMap<ScheduleId, &Schedule> = all.iter().map(|s| (s.id, s)).collect();
    let mut selected: Vec<&Schedule> = all
        .iter()
        .filter(|s| team_filter.is_none_or(|team| s.team_id == team.id))
        .collect();
    // Grouped by team, each team's schedules in the order they were made (primary first).
    selected.sort_by_key(|s| (s.team_id, s.id));
    let ids: Vec<ScheduleId> = selected.iter().map(|s| s.id).collect();
    let from = at.saturating_sub(OVERRIDE_REACH).unwrap_or(at);
    let to = at.saturating_add(OVERRIDE_REACH).unwrap_or(at);
    let overrides = tx.overrides(Some(&ids), from, to).await?;
    let users: HashMap<UserId, User> = tx.users().await?.into_iter().map(|u| (u.id, u)).collect();
    let team_names: HashMap<_, _> = teams.iter().map(|t| (t.id, t.name.as_str())).collect();
    let person = |id: UserId| {
        users.get(&id).map(|u| PersonView {
            id: u.id.0,
            name: u.name.clone(),
            email: u.email.clone(),
            photo_url: u.photo_url.clone(),
        })
    };
    let mut schedules = Vec::with_capacity(selected.len());
    for record in selected {
        let schedule = core_schedule(record, &by_id, &overrides)?;
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
