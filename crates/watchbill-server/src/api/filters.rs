//! `/api/v1/filters`: saved ticket filters, a team's (shared with it) or a person's own.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::tickets::filter::{compile, parse, Context};
use watchbill_core::{Role, TeamId};
use watchbill_store::tickets::SavedFilter;

use super::tickets::{directory, TicketView};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_filters, create_filter))
        .routes(routes!(delete_filter))
        .routes(routes!(run_filter))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FilterView {
    pub id: i64,
    /// Set for a team's filter.
    pub team_id: Option<i64>,
    /// Set for a person's own filter.
    pub user_id: Option<i64>,
    pub name: String,
    pub query: String,
}

impl From<SavedFilter> for FilterView {
    fn from(f: SavedFilter) -> FilterView {
        FilterView {
            id: f.id,
            team_id: f.team_id.map(|t| t.0),
            user_id: f.user_id.map(|u| u.0),
            name: f.name,
            query: f.query,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilterQuery {
    /// Also this team's filters.
    team: Option<i64>,
}

/// The caller's own saved filters, and a team's.
#[utoipa::path(get, path = "/api/v1/filters", tag = "tickets", params(FilterQuery),
    responses((status = 200, body = [FilterView])), security(("token" = [])))]
async fn list_filters(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<FilterQuery>,
) -> ApiResult<Json<Vec<FilterView>>> {
    let mut tx = state.store.read().await?;
    let filters = tx
        .saved_filters(query.team.map(TeamId), caller.user)
        .await?;
    Ok(Json(filters.into_iter().map(FilterView::from).collect()))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterBody {
    pub name: String,
    pub query: String,
    /// Save it for the team; without it, it is the caller's own.
    #[serde(default)]
    pub team_id: Option<i64>,
}

/// Saves a filter for a team or for oneself (responder).
#[utoipa::path(post, path = "/api/v1/filters", tag = "tickets", request_body = FilterBody,
    responses((status = 201, body = FilterView), (status = 400, body = ApiError), (status = 409, body = ApiError)), security(("token" = [])))]
pub(crate) async fn create_filter(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<FilterBody>,
) -> ApiResult<(StatusCode, Json<FilterView>)> {
    caller.require(Role::Responder)?;
    let name = body.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::invalid(
            "name",
            "a filter needs a name of at most 200 characters",
        ));
    }
    parse(&body.query).map_err(|e| ApiError::invalid("query", e.to_string()))?;
    let (team_id, user_id) = match (body.team_id, caller.user) {
        (Some(team), _) => (Some(TeamId(team)), None),
        (None, Some(user)) => (None, Some(user)),
        (None, None) => {
            return Err(ApiError::invalid(
                "team_id",
                "this token acts for nobody; save the filter for a team",
            ));
        }
    };
    let mut tx = state.store.write().await?;
    if let Some(team) = team_id {
        tx.team(team).await?;
    }
    let saved = tx
        .insert_saved_filter(&SavedFilter {
            id: 0,
            team_id,
            user_id,
            name: name.to_owned(),
            query: body.query.trim().to_owned(),
        })
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(saved.into())))
}

/// Deletes a saved filter: one's own, or a team's (manager).
#[utoipa::path(delete, path = "/api/v1/filters/{id}", tag = "tickets", params(("id" = i64, Path, description = "Filter id")),
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError)), security(("token" = [])))]
async fn delete_filter(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Responder)?;
    let mut tx = state.store.write().await?;
    let filter = tx.saved_filter(id).await?;
    if filter.user_id.is_none() || filter.user_id != caller.user {
        caller.require(Role::Manager)?;
    }
    tx.delete_saved_filter(id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tickets a saved filter selects now; for a team's filter, `currentDuty()` is its
/// Captain On-Call.
#[utoipa::path(get, path = "/api/v1/filters/{id}/tickets", tag = "tickets", params(("id" = i64, Path, description = "Filter id")),
    responses((status = 200, body = [TicketView]), (status = 404, body = ApiError)), security(("token" = [])))]
async fn run_filter(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<TicketView>>> {
    let mut tx = state.store.read().await?;
    let filter = tx.saved_filter(id).await?;
    let query = parse(&filter.query).map_err(|e| ApiError::invalid("query", e.to_string()))?;
    let users = directory(tx.as_mut()).await?;
    let now = state.clock.now();
    let duty = match filter.team_id {
        Some(team) => state.roster.get(tx.as_mut(), now).await?.captain(team, now),
        None => None,
    };
    let compiled = {
        let mut context = Context::new(now, jiff::tz::TimeZone::UTC).with_users(&users);
        if let Some(user) = duty {
            context = context.with_current_duty(user);
        }
        if let Some(user) = caller.user.or(filter.user_id) {
            context = context.with_current_user(user);
        }
        compile(&query, &context)
    };
    let tickets = tx.find_tickets(&compiled, 1000).await?;
    Ok(Json(tickets.into_iter().map(TicketView::from).collect()))
}
