//! `/api/v1/duty-weeks`: for sprint planning, who holds each team's duty (its first schedule,
//! the Captain On-Call) in each of the coming weeks, overrides included, as JSON or CSV.

use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::instant;
use super::oncall::PersonView;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(duty_weeks))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DutyQuery {
    /// The first week starts here (RFC 3339, a date, or `now`); default now.
    from: Option<String>,
    /// How many weeks (1 to 52, default 8).
    weeks: Option<i64>,
    /// Only this team (id or name).
    team: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DutyShare {
    pub user: PersonView,
    /// Hours on duty within the week.
    pub hours: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DutyWeek {
    pub team_id: i64,
    pub team_name: String,
    pub schedule_name: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// Whoever holds the duty longest that week; absent when nobody is on call at all.
    pub on_duty: Option<PersonView>,
    /// Everyone on duty that week, longest first.
    pub shares: Vec<DutyShare>,
}

/// Who is on duty in each team, week by week, for planning sprints around them.
#[utoipa::path(get, path = "/api/v1/duty-weeks", tag = "oncall", params(DutyQuery),
    responses((status = 200, body = [DutyWeek], description = "JSON, or CSV with `format=csv`"), (status = 400, body = ApiError)),
    security(("token" = [])))]
async fn duty_weeks(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(query): ApiQuery<DutyQuery>,
) -> ApiResult<Response> {
    let from = instant(query.from.as_deref(), state.clock.now(), "from")?;
    // Whole seconds: the weeks' edges are shown to people and written to CSV.
    let from = Timestamp::from_second(from.as_second()).unwrap_or(from);
    let weeks = query.weeks.unwrap_or(8);
    if !(1..=52).contains(&weeks) {
        return Err(ApiError::invalid("weeks", "ask for between 1 and 52 weeks"));
    }
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "format",
                format!("`{other}` is not a format; use json or csv"),
            ))
        }
    };
    let rows = weeks_of(&state, from, weeks, query.team.as_deref()).await?;
    if !csv {
        return Ok(Json(rows).into_response());
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record([
        "team",
        "week_start",
        "week_end",
        "on_duty",
        "email",
        "hours",
    ]);
    for row in &rows {
        let (name, email, hours) = match row.shares.first() {
            Some(share) => (
                share.user.name.as_str(),
                share.user.email.as_str(),
                share.hours,
            ),
            None => ("", "", 0.0),
        };
        let _ = writer.write_record([
            row.team_name.as_str(),
            &row.start.to_string(),
            &row.end.to_string(),
            name,
            email,
            &format!("{hours:.1}"),
        ]);
    }
    let out = String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default();
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                CONTENT_DISPOSITION,
                "attachment; filename=\"duty-weeks.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}

/// Who is on duty in each team (or the one named, by id or name), for `weeks` weeks from
/// `from`; the API and the sprint-planning page both come here.
pub async fn weeks_of(
    state: &AppState,
    from: Timestamp,
    weeks: i64,
    team: Option<&str>,
) -> ApiResult<Vec<DutyWeek>> {
    let mut tx = state.store.read().await?;
    let roster = state.roster.get(tx.as_mut(), from).await?;
    let teams: Vec<_> = match team {
        None => roster.teams.iter().collect(),
        Some(wanted) => vec![roster
            .teams
            .iter()
            .find(|t| t.id.0.to_string() == wanted || t.name.eq_ignore_ascii_case(wanted))
            .ok_or_else(|| ApiError::not_found(format!("team `{wanted}`")))?],
    };
    let person = |id| {
        roster.users.get(&id).map(|u| PersonView {
            id: u.id.0,
            name: u.name.clone(),
            email: u.email.clone(),
            photo_url: u.photo_url.clone(),
        })
    };
    let mut rows = Vec::new();
    for team in teams {
        let Some(record) = roster.duty_schedule(team.id) else {
            continue;
        };
        let Some(schedule) = roster.resolved.get(&record.id) else {
            continue;
        };
        for week in 0..weeks {
            let start = from
                .saturating_add(SignedDuration::from_hours(24 * 7 * week))
                .unwrap_or(from);
            let end = start
                .saturating_add(SignedDuration::from_hours(24 * 7))
                .unwrap_or(start);
            let shares: Vec<DutyShare> = schedule
                .coverage(start, end)
                .into_iter()
                .filter_map(|(user, seconds)| {
                    person(user).map(|user| DutyShare {
                        user,
                        hours: seconds as f64 / 3600.0,
                    })
                })
                .collect();
            rows.push(DutyWeek {
                team_id: team.id.0,
                team_name: team.name.clone(),
                schedule_name: record.name.clone(),
                start,
                end,
                on_duty: shares.first().map(|share| share.user.clone()),
                shares,
            });
        }
    }
    Ok(rows)
}
