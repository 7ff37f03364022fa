//! `/api/v1/users`: the people who can be on call.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::{Role, UserId};
use watchbill_store::model::{User, UserInput};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::resolve::zone;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(set_password))
}

/// A user as sent to create or replace one.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    pub name: String,
    pub email: String,
    /// IANA time zone, e.g. `Europe/Berlin`.
    #[serde(default = "default_zone")]
    pub time_zone: String,
    #[serde(default)]
    pub photo_url: Option<String>,
    /// One of `admin`, `manager`, `responder`, `viewer`.
    #[serde(default = "default_role")]
    pub role: String,
}

fn default_zone() -> String {
    "UTC".to_owned()
}

fn default_role() -> String {
    "responder".to_owned()
}

/// A user as the API shows one.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub time_zone: String,
    pub photo_url: Option<String>,
    pub role: String,
    /// The user's personal calendar feed; shown to admins and to the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ics_url: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl UserView {
    pub fn new(user: User, caller: &Caller, public_url: &str) -> UserView {
        let may_see_feed = caller.role == Role::Admin || caller.user == Some(user.id);
        UserView {
            id: user.id.0,
            ics_url: may_see_feed.then(|| format!("{public_url}/ics/users/{}.ics", user.ics_token)),
            name: user.name,
            email: user.email,
            time_zone: user.time_zone,
            photo_url: user.photo_url,
            role: user.role.to_string(),
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// Checks a user body and turns it into the store's input.
pub fn user_input(body: &UserBody) -> ApiResult<UserInput> {
    let name = body.name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("name", "a user needs a name"));
    }
    let email = body.email.trim();
    let well_formed = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace)
    });
    if !well_formed {
        return Err(ApiError::invalid(
            "email",
            format!("`{email}` is not an email address"),
        ));
    }
    zone(&body.time_zone, "time_zone")?;
    let role: Role = body
        .role
        .parse()
        .map_err(|e: watchbill_core::role::UnknownRole| ApiError::invalid("role", e.to_string()))?;
    Ok(UserInput {
        name: name.to_owned(),
        email: email.to_lowercase(),
        time_zone: body.time_zone.clone(),
        photo_url: body.photo_url.clone().filter(|url| !url.trim().is_empty()),
        role,
    })
}

/// Lists all users.
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses((status = 200, body = [UserView]), (status = 401, body = ApiError)),
    security(("token" = [])))]
async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<UserView>>> {
    let mut tx = state.store.read().await?;
    let users = tx.users().await?;
    Ok(Json(
        users
            .into_iter()
            .map(|u| UserView::new(u, &caller, &state.public_url))
            .collect(),
    ))
}

/// Creates a user (admin).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = UserBody,
    responses((status = 201, body = UserView), (status = 400, body = ApiError), (status = 409, body = ApiError)),
    security(("token" = [])))]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<UserBody>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    caller.require(Role::Admin)?;
    let input = user_input(&body)?;
    let mut tx = state.store.write().await?;
    let user = tx.insert_user(&input).await?;
    tx.record_audit(
        &caller.label,
        "user.create",
        &format!("user {} <{}>", user.id, user.email),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(UserView::new(user, &caller, &state.public_url)),
    ))
}

/// Shows one user.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, body = UserView), (status = 404, body = ApiError)),
    security(("token" = [])))]
async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<UserView>> {
    let mut tx = state.store.read().await?;
    let user = tx.user(UserId(id)).await?;
    Ok(Json(UserView::new(user, &caller, &state.public_url)))
}

/// Replaces a user's details (admin).
#[utoipa::path(put, path = "/api/v1/users/{id}", tag = "users", request_body = UserBody,
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, body = UserView), (status = 400, body = ApiError), (status = 404, body = ApiError)),
    security(("token" = [])))]
async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UserBody>,
) -> ApiResult<Json<UserView>> {
    caller.require(Role::Admin)?;
    let input = user_input(&body)?;
    let mut tx = state.store.write().await?;
    let user = tx.update_user(UserId(id), &input).await?;
    tx.record_audit(
        &caller.label,
        "user.update",
        &format!("user {} <{}>", user.id, user.email),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(UserView::new(user, &caller, &state.public_url)))
}

/// Deletes a user who is in no rotation or override (admin).
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = i64, Path, description = "User id")),
    responses((status = 204), (status = 404, body = ApiError), (status = 409, body = ApiError)),
    security(("token" = [])))]
async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    let mut tx = state.store.write().await?;
    tx.delete_user(UserId(id)).await?;
    tx.record_audit(&caller.label, "user.delete", &format!("user {id}"))
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    /// At least 10 characters.
    pub password: String,
}

/// Sets a user's password for signing in to the web pages (admin, or the user's own token).
/// Every web session of the user ends.
#[utoipa::path(put, path = "/api/v1/users/{id}/password", tag = "users", request_body = PasswordBody,
    params(("id" = i64, Path, description = "User id")),
    responses((status = 204), (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)),
    security(("token" = [])))]
async fn set_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<PasswordBody>,
) -> ApiResult<StatusCode> {
    if caller.user != Some(UserId(id)) {
        caller.require(Role::Admin)?;
    }
    crate::web::session::acceptable_password(&body.password)?;
    let hash = crate::web::session::hash_password(body.password).await?;
    let mut tx = state.store.write().await?;
    tx.set_password(UserId(id), &hash).await?;
    tx.delete_other_sessions(UserId(id), "").await?;
    tx.record_audit(&caller.label, "user.password", &format!("user {id}"))
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
