//! `/api/v1/users/{id}/contact-methods` and `/notification-rules`: how each person is reached.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::{Role, UserId};
use watchbill_store::paging::{ContactMethod, NotificationRule};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::paging::channels::Page;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_methods, create_method))
        .routes(routes!(delete_method))
        .routes(routes!(test_method))
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(delete_rule))
}

/// The kinds of contact method.
pub const KINDS: [&str; 5] = ["email", "webhook", "slack", "sms", "voice"];

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactMethodBody {
    /// `email`, `webhook`, `slack`, `sms` or `voice`.
    pub kind: String,
    /// An email address, an https URL, or a phone number in E.164 form (`+14155550100`).
    pub address: String,
    #[serde(default)]
    pub label: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactMethodView {
    pub id: i64,
    pub user_id: i64,
    pub kind: String,
    pub address: String,
    pub label: String,
}

impl From<ContactMethod> for ContactMethodView {
    fn from(m: ContactMethod) -> ContactMethodView {
        ContactMethodView {
            id: m.id,
            user_id: m.user_id.0,
            kind: m.kind,
            address: m.address,
            label: m.label,
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    pub contact_method_id: i64,
    /// Seconds after being paged; 0 is at once.
    #[serde(default)]
    pub delay_seconds: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleView {
    pub id: i64,
    pub user_id: i64,
    pub contact_method_id: i64,
    pub delay_seconds: i64,
}

impl From<NotificationRule> for RuleView {
    fn from(r: NotificationRule) -> RuleView {
        RuleView {
            id: r.id,
            user_id: r.user_id.0,
            contact_method_id: r.contact_method_id,
            delay_seconds: r.delay_seconds,
        }
    }
}

/// People manage their own contact methods; managers and admins anyone's.
fn may_edit(caller: &Caller, user: i64) -> ApiResult<()> {
    if caller.user == Some(UserId(user)) && caller.role.allows(Role::Responder) {
        Ok(())
    } else {
        caller.require(Role::Manager)
    }
}

/// Checks a contact method's address for its kind.
pub fn check_address(kind: &str, address: &str) -> ApiResult<()> {
    let address = address.trim();
    let ok = match kind {
        "email" => address
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.')),
        "webhook" | "slack" => address.starts_with("https://") || address.starts_with("http://"),
        "sms" | "voice" => {
            address.starts_with('+')
                && address.len() >= 8
                && address[1..].chars().all(|c| c.is_ascii_digit())
        }
        _ => {
            return Err(ApiError::invalid(
                "kind",
                format!(
                    "`{kind}` is not a contact method kind; use {}",
                    KINDS.join(", ")
                ),
            ))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "address",
            format!("`{address}` is not a valid {kind} address"),
        ))
    }
}

/// Lists a person's contact methods.
#[utoipa::path(get, path = "/api/v1/users/{id}/contact-methods", tag = "users", params(("id" = i64, Path, description = "User id")),
    responses((status = 200, body = [ContactMethodView])), security(("token" = [])))]
async fn list_methods(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<ContactMethodView>>> {
    let mut tx = state.store.read().await?;
    tx.user(UserId(id)).await?;
    Ok(Json(
        tx.contact_methods(UserId(id))
            .await?
            .into_iter()
            .map(ContactMethodView::from)
            .collect(),
    ))
}

/// Adds a contact method (the person themself, or a manager).
#[utoipa::path(post, path = "/api/v1/users/{id}/contact-methods", tag = "users", request_body = ContactMethodBody,
    params(("id" = i64, Path, description = "User id")),
    responses((status = 201, body = ContactMethodView), (status = 400, body = ApiError), (status = 409, body = ApiError)), security(("token" = [])))]
async fn create_method(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ContactMethodBody>,
) -> ApiResult<(StatusCode, Json<ContactMethodView>)> {
    let method = add_method(&state, &caller, id, &body).await?;
    Ok((StatusCode::CREATED, Json(method)))
}

/// Adds a contact method as `caller`; the API and the person's page both come here.
pub async fn add_method(
    state: &AppState,
    caller: &Caller,
    id: i64,
    body: &ContactMethodBody,
) -> ApiResult<ContactMethodView> {
    may_edit(caller, id)?;
    check_address(&body.kind, &body.address)?;
    let mut tx = state.store.write().await?;
    tx.user(UserId(id)).await?;
    let method = tx
        .insert_contact_method(UserId(id), &body.kind, body.address.trim(), &body.label)
        .await?;
    tx.record_audit(
        &caller.label,
        "contact_method.create",
        &format!("user {id} {} {}", method.kind, method.id),
    )
    .await?;
    tx.commit().await?;
    Ok(method.into())
}

/// Removes a contact method and the rules that use it.
#[utoipa::path(delete, path = "/api/v1/users/{id}/contact-methods/{method_id}", tag = "users",
    params(("id" = i64, Path, description = "User id"), ("method_id" = i64, Path, description = "Contact method id")),
    responses((status = 204), (status = 404, body = ApiError)), security(("token" = [])))]
async fn delete_method(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, method)): ApiPath<(i64, i64)>,
) -> ApiResult<StatusCode> {
    remove_method(&state, &caller, id, method).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a contact method of user `id` as `caller`.
pub async fn remove_method(
    state: &AppState,
    caller: &Caller,
    id: i64,
    method: i64,
) -> ApiResult<()> {
    may_edit(caller, id)?;
    let mut tx = state.store.write().await?;
    if !tx
        .contact_methods(UserId(id))
        .await?
        .iter()
        .any(|m| m.id == method)
    {
        return Err(ApiError::not_found(format!(
            "contact method {method} of user {id}"
        )));
    }
    tx.delete_contact_method(method).await?;
    tx.record_audit(
        &caller.label,
        "contact_method.delete",
        &format!("user {id} method {method}"),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Lists a person's notification rules. Without rules, every contact method is used at once.
#[utoipa::path(get, path = "/api/v1/users/{id}/notification-rules", tag = "users", params(("id" = i64, Path, description = "User id")),
    responses((status = 200, body = [RuleView])), security(("token" = [])))]
async fn list_rules(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<RuleView>>> {
    let mut tx = state.store.read().await?;
    Ok(Json(
        tx.rules(UserId(id))
            .await?
            .into_iter()
            .map(RuleView::from)
            .collect(),
    ))
}

/// Adds a rule: when paged, use this contact method after this delay.
#[utoipa::path(post, path = "/api/v1/users/{id}/notification-rules", tag = "users", request_body = RuleBody,
    params(("id" = i64, Path, description = "User id")),
    responses((status = 201, body = RuleView), (status = 400, body = ApiError), (status = 422, body = ApiError)), security(("token" = [])))]
async fn create_rule(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<RuleBody>,
) -> ApiResult<(StatusCode, Json<RuleView>)> {
    let rule = add_rule(&state, &caller, id, &body).await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

/// Adds a notification rule as `caller`.
pub async fn add_rule(
    state: &AppState,
    caller: &Caller,
    id: i64,
    body: &RuleBody,
) -> ApiResult<RuleView> {
    may_edit(caller, id)?;
    if !(0..=86_400).contains(&body.delay_seconds) {
        return Err(ApiError::invalid(
            "delay_seconds",
            "the delay must be between 0 seconds and a day",
        ));
    }
    let mut tx = state.store.write().await?;
    let rule = tx
        .insert_rule(UserId(id), body.contact_method_id, body.delay_seconds)
        .await?;
    tx.record_audit(
        &caller.label,
        "notification_rule.create",
        &format!("user {id} rule {}", rule.id),
    )
    .await?;
    tx.commit().await?;
    Ok(rule.into())
}

/// Removes a notification rule.
#[utoipa::path(delete, path = "/api/v1/users/{id}/notification-rules/{rule_id}", tag = "users",
    params(("id" = i64, Path, description = "User id"), ("rule_id" = i64, Path, description = "Rule id")),
    responses((status = 204), (status = 404, body = ApiError)), security(("token" = [])))]
async fn delete_rule(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, rule)): ApiPath<(i64, i64)>,
) -> ApiResult<StatusCode> {
    remove_rule(&state, &caller, id, rule).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a notification rule of user `id` as `caller`.
pub async fn remove_rule(state: &AppState, caller: &Caller, id: i64, rule: i64) -> ApiResult<()> {
    may_edit(caller, id)?;
    let mut tx = state.store.write().await?;
    if !tx.rules(UserId(id)).await?.iter().any(|r| r.id == rule) {
        return Err(ApiError::not_found(format!(
            "notification rule {rule} of user {id}"
        )));
    }
    tx.delete_rule(rule).await?;
    tx.record_audit(
        &caller.label,
        "notification_rule.delete",
        &format!("user {id} rule {rule}"),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestView {
    /// Whether the channel took the message.
    pub delivered: bool,
    /// Where it went, or why it failed.
    pub detail: String,
}

/// Sends a test notification through one contact method now, so a person can check that pages
/// reach them (the person themself, or a manager). The answer says whether it was delivered.
#[utoipa::path(post, path = "/api/v1/users/{id}/contact-methods/{method_id}/test", tag = "users",
    params(("id" = i64, Path, description = "User id"), ("method_id" = i64, Path, description = "Contact method id")),
    responses((status = 200, body = TestView), (status = 404, body = ApiError)), security(("token" = [])))]
async fn test_method(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, method)): ApiPath<(i64, i64)>,
) -> ApiResult<Json<TestView>> {
    send_test(&state, &caller, id, method).await.map(Json)
}

/// Sends the test notification; see [`test_method`].
pub async fn send_test(
    state: &AppState,
    caller: &Caller,
    id: i64,
    method: i64,
) -> ApiResult<TestView> {
    may_edit(caller, id)?;
    let (user, method) = {
        let mut tx = state.store.read().await?;
        let user = tx.user(UserId(id)).await?;
        let method = tx
            .contact_methods(UserId(id))
            .await?
            .into_iter()
            .find(|m| m.id == method)
            .ok_or_else(|| ApiError::not_found(format!("contact method {method} of user {id}")))?;
        (user, method)
    };
    let page = Page {
        idempotency_key: format!("test:{}:{}", method.id, state.clock.now().as_second()),
        incident_number: "TEST".to_owned(),
        title: "Test notification from watchbill: no action is needed".to_owned(),
        service: "watchbill".to_owned(),
        status: "test".to_owned(),
        urgency: "low".to_owned(),
        person: user.name.clone(),
        ack_url: String::new(),
        resolve_url: String::new(),
        incident_url: format!("{}/people/{id}", state.public_url),
        seen_before: Vec::new(),
    };
    let outcome = state
        .channels
        .send(&method.kind, &method.address, &page)
        .await;
    let mut tx = state.store.write().await?;
    tx.record_audit(
        &caller.label,
        "contact_method.test",
        &format!(
            "user {id} method {} {}",
            method.id,
            if outcome.is_ok() {
                "delivered"
            } else {
                "failed"
            }
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(match outcome {
        Ok(detail) => TestView {
            delivered: true,
            detail,
        },
        Err(detail) => TestView {
            delivered: false,
            detail,
        },
    })
}
