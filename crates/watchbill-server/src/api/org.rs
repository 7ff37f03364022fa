//! `/api/v1/apply`, `/api/v1/export` and `/api/v1/audit`.

use axum::extract::State;
use axum::Json;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::Role;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::org::{apply, export, ApplyReport, OrgDocument};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(apply_document))
        .routes(routes!(export_document))
        .routes(routes!(audit_log))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApplyQuery {
    /// Report what would change without changing it.
    #[serde(default)]
    dry_run: bool,
}

/// Creates or updates users, teams and schedules so they match the document, in one
/// transaction (admin). Returns what changed; nothing when the server already matches.
#[utoipa::path(post, path = "/api/v1/apply", tag = "organisation", request_body = OrgDocument, params(ApplyQuery),
    responses((status = 200, body = ApplyReport), (status = 400, body = ApiError), (status = 422, body = ApiError)),
    security(("token" = [])))]
async fn apply_document(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ApplyQuery>,
    ApiJson(doc): ApiJson<OrgDocument>,
) -> ApiResult<Json<ApplyReport>> {
    caller.require(Role::Admin)?;
    let mut tx = state.store.write().await?;
    let report = apply(tx.as_mut(), &doc).await?;
    if !query.dry_run && !report.changes.is_empty() {
        tx.record_audit(
            &caller.label,
            "org.apply",
            &format!("{} change(s)", report.changes.len()),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(Json(report))
}

/// The whole organisation in the form `apply` takes (manager).
#[utoipa::path(get, path = "/api/v1/export", tag = "organisation",
    responses((status = 200, body = OrgDocument), (status = 403, body = ApiError)),
    security(("token" = [])))]
async fn export_document(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<OrgDocument>> {
    caller.require(Role::Manager)?;
    let mut tx = state.store.read().await?;
    Ok(Json(export(tx.as_mut()).await?))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditView {
    pub id: i64,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub subject: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// How many entries, newest first (default 100, at most 1000).
    limit: Option<i64>,
}

/// Who changed what, newest first (admin).
#[utoipa::path(get, path = "/api/v1/audit", tag = "organisation", params(AuditQuery),
    responses((status = 200, body = [AuditView]), (status = 403, body = ApiError)),
    security(("token" = [])))]
async fn audit_log(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Vec<AuditView>>> {
    caller.require(Role::Admin)?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "the limit must be between 1 and 1000",
        ));
    }
    let mut tx = state.store.read().await?;
    Ok(Json(
        tx.audit_log(limit)
            .await?
            .into_iter()
            .map(|e| AuditView {
                id: e.id,
                at: e.at,
                actor: e.actor,
                action: e.action,
                subject: e.subject,
            })
            .collect(),
    ))
}
