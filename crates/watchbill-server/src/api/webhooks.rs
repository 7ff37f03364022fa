//! `/api/v1/webhooks`: subscriptions to incident events, and their delivery logs.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::Role;
use watchbill_store::paging::{WebhookDelivery, WebhookSubscription};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::paging::webhooks::EVENTS;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(delete_webhook))
        .routes(routes!(enable_webhook))
        .routes(routes!(list_deliveries))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    pub url: String,
    /// Which events to send; all incident events when empty. `handoff.report` is sent only
    /// when named.
    #[serde(default)]
    pub events: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: i64,
    pub url: String,
    /// Each delivery carries `X-Watchbill-Signature: sha256=<HMAC-SHA256 of the body under this secret>`.
    pub secret: String,
    pub events: Vec<String>,
    /// Subscriptions are disabled after ten failed deliveries in a row.
    pub enabled: bool,
    pub consecutive_failures: i64,
    pub created_at: Timestamp,
}

impl From<WebhookSubscription> for WebhookView {
    fn from(w: WebhookSubscription) -> WebhookView {
        WebhookView {
            id: w.id,
            url: w.url,
            secret: w.secret,
            events: w.events,
            enabled: w.enabled,
            consecutive_failures: w.consecutive_failures,
            created_at: w.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub event: String,
    pub incident_id: Option<i64>,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub last_error: String,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

impl From<WebhookDelivery> for DeliveryView {
    fn from(d: WebhookDelivery) -> DeliveryView {
        DeliveryView {
            id: d.id,
            event: d.event,
            incident_id: d.incident_id.map(|i| i.0),
            status: d.status,
            attempts: d.attempts,
            last_error: d.last_error,
            created_at: d.created_at,
            sent_at: d.sent_at,
        }
    }
}

/// Lists webhook subscriptions (admin).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "incidents",
    responses((status = 200, body = [WebhookView]), (status = 403, body = ApiError)), security(("token" = [])))]
async fn list_webhooks(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<WebhookView>>> {
    caller.require(Role::Admin)?;
    let mut tx = state.store.read().await?;
    Ok(Json(
        tx.webhooks()
            .await?
            .into_iter()
            .map(WebhookView::from)
            .collect(),
    ))
}

/// Subscribes a URL to incident events (admin).
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "incidents", request_body = WebhookBody,
    responses((status = 201, body = WebhookView), (status = 400, body = ApiError)), security(("token" = [])))]
async fn create_webhook(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<WebhookBody>,
) -> ApiResult<(StatusCode, Json<WebhookView>)> {
    caller.require(Role::Admin)?;
    let url = body.url.trim();
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ApiError::invalid(
            "url",
            "the URL must start with https:// or http://",
        ));
    }
    for (i, event) in body.events.iter().enumerate() {
        if !EVENTS.contains(&event.as_str()) {
            return Err(ApiError::invalid(
                format!("events[{i}]"),
                format!("`{event}` is not an event; use {}", EVENTS.join(", ")),
            ));
        }
    }
    let mut tx = state.store.write().await?;
    let webhook = tx.insert_webhook(url, &body.events).await?;
    tx.record_audit(
        &caller.label,
        "webhook.create",
        &format!("webhook {} {url}", webhook.id),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(webhook.into())))
}

/// Removes a subscription and its delivery log (admin).
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "incidents", params(("id" = i64, Path, description = "Subscription id")),
    responses((status = 204), (status = 404, body = ApiError)), security(("token" = [])))]
async fn delete_webhook(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    let mut tx = state.store.write().await?;
    tx.delete_webhook(id).await?;
    tx.record_audit(&caller.label, "webhook.delete", &format!("webhook {id}"))
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enables a subscription again after it was disabled for failing (admin).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/enable", tag = "incidents", params(("id" = i64, Path, description = "Subscription id")),
    responses((status = 204), (status = 404, body = ApiError)), security(("token" = [])))]
async fn enable_webhook(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    let mut tx = state.store.write().await?;
    tx.set_webhook_enabled(id, true).await?;
    tx.record_audit(&caller.label, "webhook.enable", &format!("webhook {id}"))
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The newest deliveries of a subscription (admin).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "incidents", params(("id" = i64, Path, description = "Subscription id")),
    responses((status = 200, body = [DeliveryView])), security(("token" = [])))]
async fn list_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<DeliveryView>>> {
    caller.require(Role::Admin)?;
    let mut tx = state.store.read().await?;
    Ok(Json(
        tx.deliveries(id, 200)
            .await?
            .into_iter()
            .map(DeliveryView::from)
            .collect(),
    ))
}
