//! The intake routes: the PagerDuty Events API v2, Alertmanager's webhook and a generic
//! webhook. Each answers only after the events it carries are committed.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_store::paging::IntegrationKind;

use crate::error::{ApiError, ErrorCode};
use crate::extract::ApiQuery;
use crate::paging::events;
use crate::paging::intake::{IntakeError, Submission};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(enqueue))
        .routes(routes!(change_enqueue))
        .routes(routes!(alertmanager))
        .routes(routes!(generic))
        .routes(routes!(heartbeat_ping, heartbeat_ping_get))
}

/// The largest event body accepted, as in the Events API.
pub const INTAKE_BODY_LIMIT: usize = 512 * 1024;

/// An Events API v2 answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventsAnswer {
    /// `success`, `invalid event` or `throttle event`.
    pub status: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedup_key: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

fn events_answer(
    status: StatusCode,
    kind: &str,
    message: &str,
    dedup_key: Option<String>,
    errors: Vec<String>,
) -> Response {
    (
        status,
        Json(EventsAnswer {
            status: kind.to_owned(),
            message: message.to_owned(),
            dedup_key,
            errors,
        }),
    )
        .into_response()
}

fn events_error(error: IntakeError) -> Response {
    match error {
        IntakeError::UnknownKey | IntakeError::WrongKind(_) => events_answer(
            StatusCode::BAD_REQUEST,
            "invalid event",
            "Event object is invalid",
            None,
            vec![format!("'routing_key': {error}")],
        ),
        IntakeError::RateLimited(_) => events_answer(
            StatusCode::TOO_MANY_REQUESTS,
            "throttle event",
            "Requests for this service are arriving too quickly. Please retry later.",
            None,
            vec![error.to_string()],
        ),
        IntakeError::Unavailable => events_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "error",
            "The event could not be stored; retry.",
            None,
            Vec::new(),
        ),
    }
}

/// Sends an alert event (PagerDuty Events API v2 compatible): trigger, acknowledge or resolve.
#[utoipa::path(post, path = "/v2/enqueue", tag = "intake",
    request_body(content = String, description = "An Events API v2 event", content_type = "application/json"),
    responses((status = 202, body = EventsAnswer), (status = 400, body = EventsAnswer),
              (status = 413, description = "The body is over 512 KB"), (status = 429, body = EventsAnswer)))]
async fn enqueue(State(state): State<AppState>, body: Bytes) -> Response {
    let (key, event) = match events::events_v2(&body) {
        Ok(parsed) => parsed,
        Err(errors) => {
            return events_answer(
                StatusCode::BAD_REQUEST,
                "invalid event",
                "Event object is invalid",
                None,
                errors,
            );
        }
    };
    let dedup_key = event.dedup_key.clone();
    let submission = Submission::Events {
        key,
        kind: IntegrationKind::EventsV2,
        events: vec![event],
    };
    match state.intake.submit(submission).await {
        Ok(_) => events_answer(
            StatusCode::ACCEPTED,
            "success",
            "Event processed",
            Some(dedup_key),
            Vec::new(),
        ),
        Err(error) => events_error(error),
    }
}

/// Records a change event (a deploy, a configuration change) on the service. Pages nobody.
#[utoipa::path(post, path = "/v2/change/enqueue", tag = "intake",
    request_body(content = String, description = "An Events API v2 change event", content_type = "application/json"),
    responses((status = 202, body = EventsAnswer), (status = 400, body = EventsAnswer)))]
async fn change_enqueue(State(state): State<AppState>, body: Bytes) -> Response {
    let (key, summary, payload) = match events::change_event(&body) {
        Ok(parsed) => parsed,
        Err(errors) => {
            return events_answer(
                StatusCode::BAD_REQUEST,
                "invalid event",
                "Event object is invalid",
                None,
                errors,
            );
        }
    };
    match state
        .intake
        .submit(Submission::Change {
            key,
            summary,
            payload,
        })
        .await
    {
        Ok(_) => events_answer(
            StatusCode::ACCEPTED,
            "success",
            "Change event processed",
            None,
            Vec::new(),
        ),
        Err(error) => events_error(error),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KeyQuery {
    /// The integration key, when not sent as `Authorization: Bearer`.
    key: Option<String>,
}

/// The integration key from `Authorization: Bearer`, `?key=` or `X-Routing-Key`.
fn integration_key(headers: &HeaderMap, query: &KeyQuery) -> Result<String, ApiError> {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let header = headers.get("x-routing-key").and_then(|v| v.to_str().ok());
    bearer
        .or(query.key.as_deref())
        .or(header)
        .filter(|key| !key.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthorized,
                "send the integration key as `Authorization: Bearer <key>` or `?key=`",
            )
        })
}

fn intake_api_error(error: IntakeError) -> ApiError {
    match error {
        IntakeError::UnknownKey => ApiError::new(ErrorCode::Unauthorized, error.to_string()),
        IntakeError::WrongKind(_) => ApiError::new(ErrorCode::Forbidden, error.to_string()),
        IntakeError::RateLimited(_) => ApiError::new(ErrorCode::RateLimited, error.to_string()),
        IntakeError::Unavailable => ApiError::new(ErrorCode::Unavailable, error.to_string()),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAnswer {
    pub status: String,
    /// One entry per event: what it did (`opened`, `alert_added`, `resolved`, …).
    pub outcomes: Vec<String>,
    pub dedup_keys: Vec<String>,
}

/// Receives Prometheus Alertmanager's webhook (version 4). Each alert's fingerprint is its
/// dedup key; a resolved alert resolves its incident.
#[utoipa::path(post, path = "/integrations/alertmanager", tag = "intake", params(KeyQuery),
    request_body(content = String, description = "An Alertmanager webhook body", content_type = "application/json"),
    responses((status = 202, body = WebhookAnswer), (status = 400, body = ApiError), (status = 401, body = ApiError)))]
async fn alertmanager(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<KeyQuery>,
    body: Bytes,
) -> Result<(StatusCode, Json<WebhookAnswer>), ApiError> {
    let key = integration_key(&headers, &query)?;
    let events = events::alertmanager(&body)
        .map_err(|message| ApiError::new(ErrorCode::InvalidInput, message))?;
    submit(&state, key, IntegrationKind::Alertmanager, events).await
}

/// Receives a generic JSON event `{summary, details?, dedup_key?, action?}`.
#[utoipa::path(post, path = "/integrations/generic", tag = "intake", params(KeyQuery),
    request_body(content = String, description = "`{summary, details, dedup_key, action}`", content_type = "application/json"),
    responses((status = 202, body = WebhookAnswer), (status = 400, body = ApiError), (status = 401, body = ApiError)))]
async fn generic(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<KeyQuery>,
    body: Bytes,
) -> Result<(StatusCode, Json<WebhookAnswer>), ApiError> {
    let key = integration_key(&headers, &query)?;
    let event = events::generic(&body).map_err(|(field, message)| match field {
        Some(field) => ApiError::invalid(field, message),
        None => ApiError::new(ErrorCode::InvalidInput, message),
    })?;
    submit(&state, key, IntegrationKind::Generic, vec![event]).await
}

async fn submit(
    state: &AppState,
    key: String,
    kind: IntegrationKind,
    events: Vec<events::IntakeEvent>,
) -> Result<(StatusCode, Json<WebhookAnswer>), ApiError> {
    let accepted = state
        .intake
        .submit(Submission::Events { key, kind, events })
        .await
        .map_err(intake_api_error)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(WebhookAnswer {
            status: "success".to_owned(),
            outcomes: accepted.iter().map(|a| a.outcome.to_owned()).collect(),
            dedup_keys: accepted.into_iter().map(|a| a.dedup_key).collect(),
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PingAnswer {
    pub status: String,
}

/// A heartbeat monitor's ping: call it at least every interval, or an incident opens. The
/// next ping after that resolves it.
#[utoipa::path(post, path = "/heartbeat/{key}", tag = "intake",
    params(("key" = String, Path, description = "The heartbeat integration's key")),
    responses((status = 200, body = PingAnswer), (status = 401, body = ApiError)))]
async fn heartbeat_ping(
    State(state): State<AppState>,
    axum::extract::Path(key): axum::extract::Path<String>,
) -> Result<Json<PingAnswer>, ApiError> {
    state
        .intake
        .submit(Submission::Ping { key })
        .await
        .map_err(intake_api_error)?;
    Ok(Json(PingAnswer {
        status: "ok".to_owned(),
    }))
}

/// The same ping as a GET, for senders such as `curl URL` in a cron job.
#[utoipa::path(get, path = "/heartbeat/{key}", tag = "intake",
    params(("key" = String, Path, description = "The heartbeat integration's key")),
    responses((status = 200, body = PingAnswer), (status = 401, body = ApiError)))]
async fn heartbeat_ping_get(
    state: State<AppState>,
    key: axum::extract::Path<String>,
) -> Result<Json<PingAnswer>, ApiError> {
    heartbeat_ping(state, key).await
}
