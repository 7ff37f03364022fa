//! `/api/v1/teams/{id}/balance`: per week, how the team's closed work split between bugs,
//! features, maintenance and tasks, and how much of the captain's week went to pages.

use axum::extract::State;
use axum::Json;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::tickets::filter::{compile, parse, Context};
use watchbill_core::tickets::TicketKind;
use watchbill_core::TeamId;
use watchbill_store::paging::IncidentFilter;

use super::instant;
use super::oncall::PersonView;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(balance))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BalanceQuery {
    /// The first week starts here; default four weeks ago.
    pub from: Option<String>,
    /// How many weeks (1 to 26, default 4).
    pub weeks: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ClosedWork {
    pub bug: usize,
    pub feature: usize,
    pub maintenance: usize,
    pub task: usize,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BalanceWeek {
    pub start: Timestamp,
    pub end: Timestamp,
    /// Who held the duty longest that week.
    pub captain: Option<PersonView>,
    /// Tickets of the team resolved or closed that week, by type.
    pub closed: ClosedWork,
    /// Incidents of the team's services that paged the captain that week.
    pub pages: usize,
    /// Hours those incidents were open within the week.
    pub page_hours: f64,
}

/// How the team's weeks balanced maintenance, features and pages.
#[utoipa::path(get, path = "/api/v1/teams/{id}/balance", tag = "tickets", params(("id" = i64, Path, description = "Team id"), BalanceQuery),
    responses((status = 200, body = [BalanceWeek]), (status = 400, body = ApiError), (status = 404, body = ApiError)), security(("token" = [])))]
pub(crate) async fn balance(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<BalanceQuery>,
) -> ApiResult<Json<Vec<BalanceWeek>>> {
    let team = TeamId(id);
    let weeks = query.weeks.unwrap_or(4);
    if !(1..=26).contains(&weeks) {
        return Err(ApiError::invalid("weeks", "ask for between 1 and 26 weeks"));
    }
    let now = state.clock.now();
    let week = SignedDuration::from_hours(24 * 7);
    let default_from = now.saturating_sub(week * 4).unwrap_or(now);
    let from = instant(query.from.as_deref(), default_from, "from")?;
    let from = Timestamp::from_second(from.as_second()).unwrap_or(from);
    let mut tx = state.store.read().await?;
    tx.team(team).await?;
    let prefix = tx.ticket_settings(team).await?.map(|s| s.prefix);
    let roster = state.roster.get(tx.as_mut(), from).await?;
    let users = super::tickets::directory(tx.as_mut()).await?;
    let incidents = tx
        .incidents(&IncidentFilter {
            team: Some(team),
            limit: 1000,
            ..IncidentFilter::default()
        })
        .await?;
    let mut out = Vec::new();
    for n in 0..weeks {
        let start = from
            .saturating_add(week * i32::try_from(n).unwrap_or(0))
            .unwrap_or(from);
        let end = start.saturating_add(week).unwrap_or(start);
        let captain = roster
            .duty_schedule(team)
            .and_then(|s| roster.resolved.get(&s.id))
            .and_then(|s| s.coverage(start, end).first().map(|(user, _)| *user));
        let mut closed = ClosedWork::default();
        if let Some(prefix) = &prefix {
            let text =
                format!("team = {prefix} AND resolved >= \"{start}\" AND resolved < \"{end}\"");
            let filter = parse(&text).map_err(|e| ApiError::invalid("from", e.to_string()))?;
            let compiled = {
                let context = Context::new(now, jiff::tz::TimeZone::UTC).with_users(&users);
                compile(&filter, &context)
            };
            for ticket in tx.find_tickets(&compiled, 10_000).await? {
                match ticket.ticket.kind {
                    TicketKind::Bug => closed.bug += 1,
                    TicketKind::Feature => closed.feature += 1,
                    TicketKind::Maintenance => closed.maintenance += 1,
                    TicketKind::Task => closed.task += 1,
                }
            }
        }
        let (mut pages, mut seconds) = (0, 0_i64);
        if let Some(captain) = captain {
            for incident in incidents
                .iter()
                .filter(|i| i.created_at < end && i.resolved_at.is_none_or(|r| r > start))
            {
                let paged = tx.notifications(incident.id).await?.iter().any(|n| {
                    n.input.user_id == captain && n.created_at >= start && n.created_at < end
                });
                if paged {
                    pages += 1;
                    let open_from = incident.created_at.max(start);
                    let open_until = incident.resolved_at.unwrap_or(now).min(end);
                    seconds += (open_until.as_second() - open_from.as_second()).max(0);
                }
            }
        }
        out.push(BalanceWeek {
            start,
            end,
            captain: captain.and_then(|user| {
                roster.users.get(&user).map(|u| PersonView {
                    id: u.id.0,
                    name: u.name.clone(),
                    email: u.email.clone(),
                    photo_url: u.photo_url.clone(),
                })
            }),
            closed,
            pages,
            page_hours: seconds as f64 / 3600.0,
        });
    }
    Ok(Json(out))
}
