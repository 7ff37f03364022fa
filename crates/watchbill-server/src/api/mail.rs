//! `/api/v1/mail-addresses`: the designated addresses mail is sent to — an urgent one files a
//! ticket and pages, a maintenance one files a duty ticket — with their defaults and allowed
//! senders.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::tickets::Priority;
use watchbill_core::{Role, ServiceId, TeamId};
use watchbill_store::mail::{MailAddress, MailAddressInput, MailMode};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_addresses, create_address))
        .routes(routes!(delete_address))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailAddressBody {
    /// e.g. `urgent@oncall.example.com`.
    pub address: String,
    pub team_id: i64,
    /// `urgent` (a ticket and a page) or `maintenance` (a duty ticket, no page).
    pub mode: String,
    /// For `urgent`: the service whose escalation policy is paged.
    #[serde(default)]
    pub service_id: Option<i64>,
    /// The new ticket's priority; default Highest for urgent, Medium for maintenance.
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// The ticket is due this many days after the mail arrives.
    #[serde(default)]
    pub due_days: Option<i64>,
    /// Senders allowed (addresses or domains); empty allows anyone.
    #[serde(default)]
    pub allow: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MailAddressView {
    pub id: i64,
    pub address: String,
    pub team_id: i64,
    pub mode: String,
    pub service_id: Option<i64>,
    pub priority: Option<String>,
    pub labels: Vec<String>,
    pub due_days: Option<i64>,
    pub allow: Vec<String>,
    pub created_at: Timestamp,
}

impl From<MailAddress> for MailAddressView {
    fn from(a: MailAddress) -> MailAddressView {
        MailAddressView {
            id: a.id,
            address: a.input.address,
            team_id: a.input.team_id.0,
            mode: a.input.mode.as_str().to_owned(),
            service_id: a.input.service_id.map(|s| s.0),
            priority: a.input.priority,
            labels: a.input.labels,
            due_days: a.input.due_days,
            allow: a.input.allow,
            created_at: a.created_at,
        }
    }
}

/// Checks a body and reads it into the store's input.
pub fn address_input(body: &MailAddressBody) -> ApiResult<MailAddressInput> {
    let address = body.address.trim().to_lowercase();
    let valid = address.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !address.contains(char::is_whitespace)
    });
    if !valid {
        return Err(ApiError::invalid(
            "address",
            format!("`{}` is not an email address", body.address),
        ));
    }
    let mode = MailMode::parse(&body.mode).ok_or_else(|| {
        ApiError::invalid(
            "mode",
            format!("`{}` is not a mode; use urgent or maintenance", body.mode),
        )
    })?;
    if mode == MailMode::Urgent && body.service_id.is_none() {
        return Err(ApiError::invalid(
            "service_id",
            "an urgent address pages a service's on-call: name the service",
        ));
    }
    if let Some(priority) = &body.priority {
        priority
            .parse::<Priority>()
            .map_err(|e: String| ApiError::invalid("priority", e))?;
    }
    if body.due_days.is_some_and(|d| !(0..=365).contains(&d)) {
        return Err(ApiError::invalid("due_days", "between 0 and 365 days"));
    }
    for (i, label) in body.labels.iter().enumerate() {
        if label.trim().is_empty() || label.contains(char::is_whitespace) {
            return Err(ApiError::invalid(
                format!("labels[{i}]"),
                format!("`{label}` is not a label"),
            ));
        }
    }
    for (i, entry) in body.allow.iter().enumerate() {
        if entry.trim().is_empty() || entry.contains(char::is_whitespace) {
            return Err(ApiError::invalid(
                format!("allow[{i}]"),
                format!("`{entry}` is not an address or a domain"),
            ));
        }
    }
    Ok(MailAddressInput {
        address,
        team_id: TeamId(body.team_id),
        service_id: body.service_id.map(ServiceId),
        mode,
        priority: body.priority.clone(),
        labels: body.labels.iter().map(|l| l.trim().to_owned()).collect(),
        due_days: body.due_days,
        allow: body.allow.iter().map(|a| a.trim().to_lowercase()).collect(),
    })
}

/// Lists the designated addresses.
#[utoipa::path(get, path = "/api/v1/mail-addresses", tag = "mail",
    responses((status = 200, body = [MailAddressView])), security(("token" = [])))]
async fn list_addresses(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<Vec<MailAddressView>>> {
    let mut tx = state.store.read().await?;
    Ok(Json(
        tx.mail_addresses()
            .await?
            .into_iter()
            .map(MailAddressView::from)
            .collect(),
    ))
}

/// Adds a designated address (manager).
#[utoipa::path(post, path = "/api/v1/mail-addresses", tag = "mail", request_body = MailAddressBody,
    responses((status = 201, body = MailAddressView), (status = 400, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)),
    security(("token" = [])))]
pub(crate) async fn create_address(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<MailAddressBody>,
) -> ApiResult<(StatusCode, Json<MailAddressView>)> {
    caller.require(Role::Manager)?;
    let input = address_input(&body)?;
    let mut tx = state.store.write().await?;
    tx.team(input.team_id).await.map_err(|_| {
        ApiError::from(watchbill_store::StoreError::reference(
            format!("team {} does not exist", input.team_id),
            "team_id",
        ))
    })?;
    if let Some(service) = input.service_id {
        tx.service(service).await.map_err(|_| {
            ApiError::from(watchbill_store::StoreError::reference(
                format!("service {service} does not exist"),
                "service_id",
            ))
        })?;
    }
    let created = tx.insert_mail_address(&input).await?;
    tx.record_audit(
        &caller.label,
        "mail_address.create",
        &format!(
            "{} ({})",
            created.input.address,
            created.input.mode.as_str()
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Removes a designated address (manager); mail to it is refused from then on.
#[utoipa::path(delete, path = "/api/v1/mail-addresses/{id}", tag = "mail",
    params(("id" = i64, Path, description = "Address id")),
    responses((status = 204), (status = 404, body = ApiError)), security(("token" = [])))]
pub(crate) async fn delete_address(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Manager)?;
    let mut tx = state.store.write().await?;
    tx.delete_mail_address(id).await?;
    tx.record_audit(
        &caller.label,
        "mail_address.delete",
        &format!("mail address {id}"),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
