//! `/api/v1/schedules/{id}/overrides`: someone covers a window, or two people swap.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::{OverrideId, Role, ScheduleId, UserId};
use watchbill_store::model::{Override, OverrideInput, OverrideKind};

use super::schedules::{whole_seconds, ShiftsQuery};
use super::Window;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_overrides, create_override))
        .routes(routes!(delete_override))
}

/// An override: `user_id` covers `[start, end)`; with `swap_with`, the two swap instead:
/// wherever one would be on call in the window, the other is.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideBody {
    pub start: Timestamp,
    pub end: Timestamp,
    pub user_id: i64,
    #[serde(default)]
    pub swap_with: Option<i64>,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OverrideView {
    pub id: i64,
    pub schedule_id: i64,
    pub start: Timestamp,
    pub end: Timestamp,
    /// `cover` or `swap`.
    pub kind: String,
    pub user_id: i64,
    pub swap_with: Option<i64>,
    pub note: String,
    pub created_at: Timestamp,
}

impl From<Override> for OverrideView {
    fn from(o: Override) -> OverrideView {
        let (kind, user_id, swap_with) = match o.kind {
            OverrideKind::Cover { user } => ("cover", user.0, None),
            OverrideKind::Swap { first, second } => ("swap", first.0, Some(second.0)),
        };
        OverrideView {
            id: o.id.0,
            schedule_id: o.schedule_id.0,
            start: o.start,
            end: o.end,
            kind: kind.to_owned(),
            user_id,
            swap_with,
            note: o.note,
            created_at: o.created_at,
        }
    }
}

/// Lists the overrides that overlap a window (default: the next two weeks).
#[utoipa::path(get, path = "/api/v1/schedules/{id}/overrides", tag = "overrides",
    params(("id" = i64, Path, description = "Schedule id"), ShiftsQuery),
    responses((status = 200, body = [OverrideView]), (status = 404, body = ApiError)),
    security(("token" = [])))]
async fn list_overrides(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<ShiftsQuery>,
) -> ApiResult<Json<Vec<OverrideView>>> {
    let (from, to) = query.window();
    let window = Window::parse(from, to, state.clock.now(), 14)?;
    let mut tx = state.store.read().await?;
    tx.schedule(ScheduleId(id)).await?;
    let overrides = tx
        .overrides(Some(&[ScheduleId(id)]), window.from, window.to)
        .await?;
    Ok(Json(
        overrides.into_iter().map(OverrideView::from).collect(),
    ))
}

/// Creates an override or a swap (responder). The newest override wins where two overlap.
#[utoipa::path(post, path = "/api/v1/schedules/{id}/overrides", tag = "overrides", request_body = OverrideBody,
    params(("id" = i64, Path, description = "Schedule id")),
    responses((status = 201, body = OverrideView), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 422, body = ApiError)),
    security(("token" = [])))]
async fn create_override(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<OverrideBody>,
) -> ApiResult<(StatusCode, Json<OverrideView>)> {
    let created = add_override(&state, &caller, id, &body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Creates an override of schedule `id` as `caller` (responder); the API and the schedule
/// page both come here.
pub async fn add_override(
    state: &AppState,
    caller: &Caller,
    id: i64,
    body: &OverrideBody,
) -> ApiResult<OverrideView> {
    caller.require(Role::Responder)?;
    let (start, end) = (whole_seconds(body.start), whole_seconds(body.end));
    if end <= start {
        return Err(ApiError::invalid("end", "the end must be after the start"));
    }
    let kind = match body.swap_with {
        Some(other) if other == body.user_id => {
            return Err(ApiError::invalid(
                "swap_with",
                "a swap needs two different people",
            ));
        }
        Some(other) => OverrideKind::Swap {
            first: UserId(body.user_id),
            second: UserId(other),
        },
        None => OverrideKind::Cover {
            user: UserId(body.user_id),
        },
    };
    let mut tx = state.store.write().await?;
    let created = tx
        .insert_override(&OverrideInput {
            schedule_id: ScheduleId(id),
            start,
            end,
            kind,
            note: body.note.clone(),
        })
        .await
        .map_err(|e| {
            let error = ApiError::from(e);
            match error.field.as_deref() {
                Some("user") => ApiError {
                    field: Some("user_id".into()),
                    ..error
                },
                Some("with") => ApiError {
                    field: Some("swap_with".into()),
                    ..error
                },
                _ => error,
            }
        })?;
    tx.record_audit(
        &caller.label,
        "override.create",
        &format!("schedule {id} override {}", created.id),
    )
    .await?;
    tx.commit().await?;
    Ok(created.into())
}

/// Removes an override (responder).
#[utoipa::path(delete, path = "/api/v1/schedules/{id}/overrides/{override_id}", tag = "overrides",
    params(("id" = i64, Path, description = "Schedule id"), ("override_id" = i64, Path, description = "Override id")),
    responses((status = 204), (status = 404, body = ApiError)),
    security(("token" = [])))]
async fn delete_override(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, override_id)): ApiPath<(i64, i64)>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Responder)?;
    let mut tx = state.store.write().await?;
    let existing = tx.override_by_id(OverrideId(override_id)).await?;
    if existing.schedule_id != ScheduleId(id) {
        return Err(ApiError::not_found(format!(
            "override {override_id} of schedule {id}"
        )));
    }
    tx.delete_override(existing.id).await?;
    tx.record_audit(
        &caller.label,
        "override.delete",
        &format!("schedule {id} override {override_id}"),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
