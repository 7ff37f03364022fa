//! `/api/v1/teams`: teams and their members.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::{Role, TeamId, UserId};
use watchbill_store::model::{Team, TeamInput};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_teams, create_team))
        .routes(routes!(get_team, update_team, delete_team))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamBody {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// User ids.
    #[serde(default)]
    pub members: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TeamView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub members: Vec<i64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<Team> for TeamView {
    fn from(team: Team) -> TeamView {
        TeamView {
            id: team.id.0,
            name: team.name,
            description: team.description,
            members: team.members.into_iter().map(|m| m.0).collect(),
            created_at: team.created_at,
            updated_at: team.updated_at,
        }
    }
}

fn team_input(body: &TeamBody) -> ApiResult<TeamInput> {
    let name = body.name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("name", "a team needs a name"));
    }
    Ok(TeamInput {
        name: name.to_owned(),
        description: body.description.clone(),
        members: body.members.iter().copied().map(UserId).collect(),
    })
}

/// Lists all teams.
#[utoipa::path(get, path = "/api/v1/teams", tag = "teams",
    responses((status = 200, body = [TeamView]), (status = 401, body = ApiError)),
    security(("token" = [])))]
async fn list_teams(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<Vec<TeamView>>> {
    let mut tx = state.store.read().await?;
    Ok(Json(
        tx.teams().await?.into_iter().map(TeamView::from).collect(),
    ))
}

/// Creates a team (manager).
#[utoipa::path(post, path = "/api/v1/teams", tag = "teams", request_body = TeamBody,
    responses((status = 201, body = TeamView), (status = 400, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)),
    security(("token" = [])))]
async fn create_team(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<TeamBody>,
) -> ApiResult<(StatusCode, Json<TeamView>)> {
    caller.require(Role::Manager)?;
    let input = team_input(&body)?;
    let mut tx = state.store.write().await?;
    let team = tx.insert_team(&input).await?;
    tx.record_audit(
        &caller.label,
        "team.create",
        &format!("team {} {}", team.id, team.name),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(team.into())))
}

/// Shows one team.
#[utoipa::path(get, path = "/api/v1/teams/{id}", tag = "teams",
    params(("id" = i64, Path, description = "Team id")),
    responses((status = 200, body = TeamView), (status = 404, body = ApiError)),
    security(("token" = [])))]
async fn get_team(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<TeamView>> {
    let mut tx = state.store.read().await?;
    Ok(Json(tx.team(TeamId(id)).await?.into()))
}

/// Replaces a team's name, description and members (manager).
#[utoipa::path(put, path = "/api/v1/teams/{id}", tag = "teams", request_body = TeamBody,
    params(("id" = i64, Path, description = "Team id")),
    responses((status = 200, body = TeamView), (status = 404, body = ApiError), (status = 422, body = ApiError)),
    security(("token" = [])))]
pub(crate) async fn update_team(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<TeamBody>,
) -> ApiResult<Json<TeamView>> {
    caller.require(Role::Manager)?;
    let input = team_input(&body)?;
    let mut tx = state.store.write().await?;
    let team = tx.update_team(TeamId(id), &input).await?;
    tx.record_audit(
        &caller.label,
        "team.update",
        &format!("team {} {}", team.id, team.name),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(team.into()))
}

/// Deletes a team that has no schedules (manager).
#[utoipa::path(delete, path = "/api/v1/teams/{id}", tag = "teams",
    params(("id" = i64, Path, description = "Team id")),
    responses((status = 204), (status = 404, body = ApiError), (status = 409, body = ApiError)),
    security(("token" = [])))]
async fn delete_team(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Manager)?;
    let mut tx = state.store.write().await?;
    tx.delete_team(TeamId(id)).await?;
    tx.record_audit(&caller.label, "team.delete", &format!("team {id}"))
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
