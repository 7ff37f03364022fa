//! `/api/v1/tokens`: API tokens. The secret is shown once, at creation; only its hash is kept.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::{Role, TokenId, UserId};
use watchbill_store::model::{ApiToken, TokenInput};
use watchbill_store::{hash_secret, new_secret};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(delete_token))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    pub name: String,
    /// `admin`, `manager`, `responder` or `viewer`.
    pub role: String,
    /// The user the token acts for, if any.
    #[serde(default)]
    pub user_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub user_id: Option<i64>,
    pub created_at: Timestamp,
    /// Only in the answer to the request that created the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl TokenView {
    fn new(token: ApiToken, secret: Option<String>) -> TokenView {
        TokenView {
            id: token.id.0,
            name: token.name,
            role: token.role.to_string(),
            user_id: token.user_id.map(|u| u.0),
            created_at: token.created_at,
            secret,
        }
    }
}

/// The prefix that makes watchbill tokens recognisable, e.g. to secret scanners.
pub const TOKEN_PREFIX: &str = "wb_";

/// Lists tokens, without their secrets (admin).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 200, body = [TokenView]), (status = 403, body = ApiError)),
    security(("token" = [])))]
async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<TokenView>>> {
    caller.require(Role::Admin)?;
    let mut tx = state.store.read().await?;
    Ok(Json(
        tx.tokens()
            .await?
            .into_iter()
            .map(|t| TokenView::new(t, None))
            .collect(),
    ))
}

/// Creates a token and shows its secret once (admin).
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = TokenBody,
    responses((status = 201, body = TokenView), (status = 400, body = ApiError), (status = 403, body = ApiError)),
    security(("token" = [])))]
async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<TokenBody>,
) -> ApiResult<(StatusCode, Json<TokenView>)> {
    caller.require(Role::Admin)?;
    let role: Role = body
        .role
        .parse()
        .map_err(|e: watchbill_core::role::UnknownRole| ApiError::invalid("role", e.to_string()))?;
    if body.name.trim().is_empty() {
        return Err(ApiError::invalid("name", "a token needs a name"));
    }
    let secret = format!("{TOKEN_PREFIX}{}", new_secret());
    let mut tx = state.store.write().await?;
    let token = tx
        .insert_token(&TokenInput {
            name: body.name.trim().to_owned(),
            role,
            user_id: body.user_id.map(UserId),
            secret_hash: hash_secret(&secret),
        })
        .await?;
    tx.record_audit(
        &caller.label,
        "token.create",
        &format!("token {} ({}, {role})", token.id, token.name),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenView::new(token, Some(secret))),
    ))
}

/// Revokes a token (admin).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = i64, Path, description = "Token id")),
    responses((status = 204), (status = 404, body = ApiError)),
    security(("token" = [])))]
async fn delete_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    let mut tx = state.store.write().await?;
    tx.delete_token(TokenId(id)).await?;
    tx.record_audit(&caller.label, "token.delete", &format!("token {id}"))
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
