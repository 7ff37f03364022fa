//! `/api/v1/services`, their integrations and maintenance windows, and escalation policies.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::paging::Urgency;
use watchbill_core::{IntegrationId, PolicyId, Role, ServiceId, TeamId};
use watchbill_store::paging::{
    EscalationPolicy, Integration, IntegrationInput, IntegrationKind, LevelInput,
    MaintenanceWindow, PolicyInput, Service, ServiceInput, TargetInput,
};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_services, create_service))
        .routes(routes!(get_service, update_service, delete_service))
        .routes(routes!(list_integrations, create_integration))
        .routes(routes!(rotate_integration))
        .routes(routes!(delete_integration))
        .routes(routes!(list_maintenance, create_maintenance))
        .routes(routes!(list_changes))
        .routes(routes!(delete_maintenance))
        .routes(routes!(list_policies, create_policy))
        .routes(routes!(get_policy, update_policy, delete_policy))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceBody {
    pub team_id: i64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub escalation_policy_id: Option<i64>,
    /// `high` (pages) or `low` (waits in the team's queue); default high.
    #[serde(default = "high")]
    pub default_urgency: String,
    /// With low urgency: alerts become duty tickets of the team instead of pages.
    #[serde(default)]
    pub low_urgency_tickets: bool,
}

fn high() -> String {
    "high".to_owned()
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceView {
    pub id: i64,
    pub team_id: i64,
    pub name: String,
    pub description: String,
    pub escalation_policy_id: Option<i64>,
    pub default_urgency: String,
    pub low_urgency_tickets: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<Service> for ServiceView {
    fn from(s: Service) -> ServiceView {
        ServiceView {
            id: s.id.0,
            team_id: s.team_id.0,
            name: s.name,
            description: s.description,
            escalation_policy_id: s.escalation_policy_id.map(|p| p.0),
            default_urgency: s.default_urgency.as_str().to_owned(),
            low_urgency_tickets: s.low_urgency_tickets,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

pub fn service_input(body: &ServiceBody) -> ApiResult<ServiceInput> {
    let name = body.name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("name", "a service needs a name"));
    }
    let default_urgency: Urgency = body
        .default_urgency
        .parse()
        .map_err(|e: String| ApiError::invalid("default_urgency", e))?;
    Ok(ServiceInput {
        team_id: TeamId(body.team_id),
        name: name.to_owned(),
        description: body.description.clone(),
        escalation_policy_id: body.escalation_policy_id.map(PolicyId),
        default_urgency,
        low_urgency_tickets: body.low_urgency_tickets,
    })
}

async fn check_references(tx: &mut dyn watchbill_store::Tx, input: &ServiceInput) -> ApiResult<()> {
    tx.team(input.team_id).await.map_err(|_| {
        ApiError::from(watchbill_store::StoreError::reference(
            format!("team {} does not exist", input.team_id),
            "team_id",
        ))
    })?;
    if let Some(policy) = input.escalation_policy_id {
        tx.policy(policy).await.map_err(|_| {
            ApiError::from(watchbill_store::StoreError::reference(
                format!("escalation policy {policy} does not exist"),
                "escalation_policy_id",
            ))
        })?;
    }
    Ok(())
}

/// Lists services.
#[utoipa::path(get, path = "/api/v1/services", tag = "services",
    responses((status = 200, body = [ServiceView])), security(("token" = [])))]
async fn list_services(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<Vec<ServiceView>>> {
    let mut tx = state.store.read().await?;
    Ok(Json(
        tx.services()
            .await?
            .into_iter()
            .map(ServiceView::from)
            .collect(),
    ))
}

/// Creates a service (manager).
#[utoipa::path(post, path = "/api/v1/services", tag = "services", request_body = ServiceBody,
    responses((status = 201, body = ServiceView), (status = 400, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)),
    security(("token" = [])))]
async fn create_service(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ServiceBody>,
) -> ApiResult<(StatusCode, Json<ServiceView>)> {
    caller.require(Role::Manager)?;
    let input = service_input(&body)?;
    let mut tx = state.store.write().await?;
    check_references(tx.as_mut(), &input).await?;
    let service = tx.insert_service(&input).await?;
    tx.record_audit(
        &caller.label,
        "service.create",
        &format!("service {} {}", service.id, service.name),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(service.into())))
}

/// Shows a service.
#[utoipa::path(get, path = "/api/v1/services/{id}", tag = "services", params(("id" = i64, Path, description = "Service id")),
    responses((status = 200, body = ServiceView), (status = 404, body = ApiError)), security(("token" = [])))]
async fn get_service(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ServiceView>> {
    let mut tx = state.store.read().await?;
    Ok(Json(tx.service(ServiceId(id)).await?.into()))
}

/// Replaces a service's settings (manager).
#[utoipa::path(put, path = "/api/v1/services/{id}", tag = "services", request_body = ServiceBody, params(("id" = i64, Path, description = "Service id")),
    responses((status = 200, body = ServiceView), (status = 400, body = ApiError), (status = 404, body = ApiError)), security(("token" = [])))]
async fn update_service(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ServiceBody>,
) -> ApiResult<Json<ServiceView>> {
    save_service(&state, &caller, id, &body).await.map(Json)
}

/// Replaces service `id`'s settings as `caller` (manager); the API and the service page both
/// come here.
pub async fn save_service(
    state: &AppState,
    caller: &Caller,
    id: i64,
    body: &ServiceBody,
) -> ApiResult<ServiceView> {
    caller.require(Role::Manager)?;
    let input = service_input(body)?;
    let mut tx = state.store.write().await?;
    check_references(tx.as_mut(), &input).await?;
    let service = tx.update_service(ServiceId(id), &input).await?;
    tx.record_audit(&caller.label, "service.update", &format!("service {id}"))
        .await?;
    tx.commit().await?;
    Ok(service.into())
}

/// Deletes a service that has no incidents (manager).
#[utoipa::path(delete, path = "/api/v1/services/{id}", tag = "services", params(("id" = i64, Path, description = "Service id")),
    responses((status = 204), (status = 404, body = ApiError), (status = 409, body = ApiError)), security(("token" = [])))]
async fn delete_service(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Manager)?;
    let mut tx = state.store.write().await?;
    tx.delete_service(ServiceId(id)).await?;
    tx.record_audit(&caller.label, "service.delete", &format!("service {id}"))
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationBody {
    /// `events_v2`, `alertmanager`, `generic` or `heartbeat`.
    pub kind: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Events a minute this key may send before getting 429 (default 1200).
    #[serde(default = "default_rate")]
    pub rate_per_minute: i64,
    /// For `heartbeat`: the longest silence, in seconds, before an incident opens.
    #[serde(default)]
    pub interval_seconds: Option<i64>,
}

fn default_rate() -> i64 {
    1200
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IntegrationView {
    pub id: i64,
    pub service_id: i64,
    pub kind: String,
    pub name: String,
    /// The integration key (`routing_key` for the Events API).
    pub key: String,
    /// Where senders post.
    pub url: String,
    pub rate_per_minute: i64,
    pub created_at: Timestamp,
}

impl IntegrationView {
    pub fn new(i: Integration, public_url: &str) -> IntegrationView {
        let url = match i.kind {
            IntegrationKind::EventsV2 => format!("{public_url}/v2/enqueue"),
            IntegrationKind::Alertmanager => {
                format!("{public_url}/integrations/alertmanager?key={}", i.secret)
            }
            IntegrationKind::Generic => {
                format!("{public_url}/integrations/generic?key={}", i.secret)
            }
            IntegrationKind::Heartbeat => format!("{public_url}/heartbeat/{}", i.secret),
            IntegrationKind::CodePush => format!("{public_url}/integrations/code/{}", i.id),
        };
        IntegrationView {
            id: i.id.0,
            service_id: i.service_id.0,
            kind: i.kind.as_str().to_owned(),
            name: i.name,
            key: i.secret,
            url,
            rate_per_minute: i.rate_per_minute,
            created_at: i.created_at,
        }
    }
}

/// Lists a service's integrations with their keys (manager).
#[utoipa::path(get, path = "/api/v1/services/{id}/integrations", tag = "services", params(("id" = i64, Path, description = "Service id")),
    responses((status = 200, body = [IntegrationView]), (status = 404, body = ApiError)), security(("token" = [])))]
async fn list_integrations(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<IntegrationView>>> {
    caller.require(Role::Manager)?;
    let mut tx = state.store.read().await?;
    tx.service(ServiceId(id)).await?;
    let list = tx.integrations(Some(ServiceId(id))).await?;
    Ok(Json(
        list.into_iter()
            .map(|i| IntegrationView::new(i, &state.public_url))
            .collect(),
    ))
}

/// Adds an integration with a new key (manager).
#[utoipa::path(post, path = "/api/v1/services/{id}/integrations", tag = "services", request_body = IntegrationBody,
    params(("id" = i64, Path, description = "Service id")),
    responses((status = 201, body = IntegrationView), (status = 400, body = ApiError), (status = 404, body = ApiError)), security(("token" = [])))]
pub(crate) async fn create_integration(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<IntegrationBody>,
) -> ApiResult<(StatusCode, Json<IntegrationView>)> {
    caller.require(Role::Manager)?;
    let kind = IntegrationKind::parse(&body.kind).ok_or_else(|| {
        ApiError::invalid(
            "kind",
            format!(
                "`{}` is not an integration kind; use events_v2, alertmanager, generic, heartbeat or code_push",
                body.kind
            ),
        )
    })?;
    if !(1..=10_000_000).contains(&body.rate_per_minute) {
        return Err(ApiError::invalid(
            "rate_per_minute",
            "the rate must be between 1 and 10,000,000 a minute",
        ));
    }
    let interval = match (kind, body.interval_seconds) {
        (IntegrationKind::Heartbeat, Some(seconds)) if (10..=7 * 86_400).contains(&seconds) => {
            Some(seconds)
        }
        (IntegrationKind::Heartbeat, _) => {
            return Err(ApiError::invalid(
                "interval_seconds",
                "a heartbeat needs interval_seconds between 10 seconds and 7 days",
            ));
        }
        (_, Some(_)) => {
            return Err(ApiError::invalid(
                "interval_seconds",
                "only heartbeat integrations have an interval",
            ));
        }
        (_, None) => None,
    };
    let mut tx = state.store.write().await?;
    let integration = tx
        .insert_integration(&IntegrationInput {
            service_id: ServiceId(id),
            kind,
            name: body
                .name
                .clone()
                .unwrap_or_else(|| kind.as_str().to_owned()),
            rate_per_minute: body.rate_per_minute,
        })
        .await?;
    if let Some(seconds) = interval {
        tx.insert_heartbeat(integration.id, seconds).await?;
    }
    tx.record_audit(
        &caller.label,
        "integration.create",
        &format!("service {id} integration {}", integration.id),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(IntegrationView::new(integration, &state.public_url)),
    ))
}

/// Gives an integration a new key; the old key stops working at once (manager).
#[utoipa::path(post, path = "/api/v1/integrations/{id}/rotate", tag = "services", params(("id" = i64, Path, description = "Integration id")),
    responses((status = 200, body = IntegrationView), (status = 404, body = ApiError)), security(("token" = [])))]
pub(crate) async fn rotate_integration(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<IntegrationView>> {
    caller.require(Role::Manager)?;
    let mut tx = state.store.write().await?;
    let integration = tx.rotate_integration_secret(IntegrationId(id)).await?;
    tx.record_audit(
        &caller.label,
        "integration.rotate",
        &format!("integration {id}"),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(IntegrationView::new(integration, &state.public_url)))
}

/// Removes an integration (manager).
#[utoipa::path(delete, path = "/api/v1/integrations/{id}", tag = "services", params(("id" = i64, Path, description = "Integration id")),
    responses((status = 204), (status = 404, body = ApiError)), security(("token" = [])))]
async fn delete_integration(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Manager)?;
    let mut tx = state.store.write().await?;
    tx.delete_integration(IntegrationId(id)).await?;
    tx.record_audit(
        &caller.label,
        "integration.delete",
        &format!("integration {id}"),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceBody {
    pub start: Timestamp,
    /// Open-ended when absent.
    #[serde(default)]
    pub end: Option<Timestamp>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MaintenanceView {
    pub id: i64,
    pub service_id: i64,
    pub start: Timestamp,
    pub end: Option<Timestamp>,
    pub description: String,
}

impl From<MaintenanceWindow> for MaintenanceView {
    fn from(m: MaintenanceWindow) -> MaintenanceView {
        MaintenanceView {
            id: m.id,
            service_id: m.service_id.0,
            start: m.start,
            end: m.end,
            description: m.description,
        }
    }
}

/// Lists a service's maintenance windows: alerts during one are recorded but page nobody.
#[utoipa::path(get, path = "/api/v1/services/{id}/maintenance", tag = "services", params(("id" = i64, Path, description = "Service id")),
    responses((status = 200, body = [MaintenanceView])), security(("token" = [])))]
async fn list_maintenance(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<MaintenanceView>>> {
    let mut tx = state.store.read().await?;
    Ok(Json(
        tx.maintenance_windows(ServiceId(id))
            .await?
            .into_iter()
            .map(MaintenanceView::from)
            .collect(),
    ))
}

/// Schedules a maintenance window, or opens one without an end (responder).
#[utoipa::path(post, path = "/api/v1/services/{id}/maintenance", tag = "services", request_body = MaintenanceBody,
    params(("id" = i64, Path, description = "Service id")),
    responses((status = 201, body = MaintenanceView), (status = 400, body = ApiError), (status = 404, body = ApiError)), security(("token" = [])))]
async fn create_maintenance(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<MaintenanceBody>,
) -> ApiResult<(StatusCode, Json<MaintenanceView>)> {
    caller.require(Role::Responder)?;
    if body.end.is_some_and(|end| end <= body.start) {
        return Err(ApiError::invalid("end", "the end must be after the start"));
    }
    let mut tx = state.store.write().await?;
    let window = tx
        .insert_maintenance(ServiceId(id), body.start, body.end, &body.description)
        .await?;
    tx.record_audit(
        &caller.label,
        "maintenance.create",
        &format!("service {id} window {}", window.id),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(window.into())))
}

/// Ends and removes a maintenance window (responder).
#[utoipa::path(delete, path = "/api/v1/maintenance/{id}", tag = "services", params(("id" = i64, Path, description = "Window id")),
    responses((status = 204), (status = 404, body = ApiError)), security(("token" = [])))]
async fn delete_maintenance(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Responder)?;
    let mut tx = state.store.write().await?;
    tx.delete_maintenance(id).await?;
    tx.record_audit(&caller.label, "maintenance.delete", &format!("window {id}"))
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetBody {
    /// `schedule`, `user` or `team`.
    pub kind: String,
    pub id: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelBody {
    pub targets: Vec<TargetBody>,
    /// Seconds before the next level is paged if nobody acknowledges.
    pub delay_seconds: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    pub team_id: i64,
    pub name: String,
    pub levels: Vec<LevelBody>,
    /// How many more times to go through the levels when nobody acknowledges.
    #[serde(default)]
    pub repeat: u32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PolicyView {
    pub id: i64,
    pub team_id: i64,
    pub name: String,
    pub levels: Vec<LevelBody>,
    pub repeat: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<EscalationPolicy> for PolicyView {
    fn from(p: EscalationPolicy) -> PolicyView {
        PolicyView {
            id: p.id.0,
            team_id: p.team_id.0,
            name: p.name,
            levels: p
                .levels
                .into_iter()
                .map(|l| LevelBody {
                    delay_seconds: l.delay_seconds,
                    targets: l
                        .targets
                        .into_iter()
                        .map(|t| TargetBody {
                            kind: serde_json::to_value(t.kind)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_owned))
                                .unwrap_or_default(),
                            id: t.id,
                        })
                        .collect(),
                })
                .collect(),
            repeat: p.repeat,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// Checks a policy body, including that every target exists.
pub async fn policy_input(
    tx: &mut dyn watchbill_store::Tx,
    body: &PolicyBody,
) -> ApiResult<PolicyInput> {
    if body.name.trim().is_empty() {
        return Err(ApiError::invalid("name", "a policy needs a name"));
    }
    if body.levels.is_empty() {
        return Err(ApiError::invalid(
            "levels",
            "a policy needs at least one level",
        ));
    }
    if body.repeat > 20 {
        return Err(ApiError::invalid(
            "repeat",
            "a policy may repeat at most 20 times",
        ));
    }
    let mut levels = Vec::new();
    for (i, level) in body.levels.iter().enumerate() {
        if level.targets.is_empty() {
            return Err(ApiError::invalid(
                format!("levels[{i}].targets"),
                "a level needs at least one target",
            ));
        }
        if !(0..=7 * 86_400).contains(&level.delay_seconds) {
            return Err(ApiError::invalid(
                format!("levels[{i}].delay_seconds"),
                "the delay must be between 0 seconds and 7 days",
            ));
        }
        let mut targets = Vec::new();
        for (j, target) in level.targets.iter().enumerate() {
            let field = format!("levels[{i}].targets[{j}]");
            let kind = serde_json::from_value(serde_json::Value::String(target.kind.clone()))
                .map_err(|_| {
                    ApiError::invalid(
                        format!("{field}.kind"),
                        format!(
                            "`{}` is not a target kind; use schedule, user or team",
                            target.kind
                        ),
                    )
                })?;
            let exists = match kind {
                watchbill_store::paging::TargetKind::Schedule => tx
                    .schedule(watchbill_core::ScheduleId(target.id))
                    .await
                    .is_ok(),
                watchbill_store::paging::TargetKind::User => {
                    tx.user(watchbill_core::UserId(target.id)).await.is_ok()
                }
                watchbill_store::paging::TargetKind::Team => {
                    tx.team(TeamId(target.id)).await.is_ok()
                }
            };
            if !exists {
                return Err(ApiError::from(watchbill_store::StoreError::reference(
                    format!("{} {} does not exist", target.kind, target.id),
                    format!("{field}.id"),
                )));
            }
            targets.push(TargetInput {
                kind,
                id: target.id,
            });
        }
        levels.push(LevelInput {
            delay_seconds: level.delay_seconds,
            targets,
        });
    }
    Ok(PolicyInput {
        team_id: TeamId(body.team_id),
        name: body.name.trim().to_owned(),
        repeat: body.repeat,
        levels,
    })
}

/// Lists escalation policies.
#[utoipa::path(get, path = "/api/v1/escalation-policies", tag = "services",
    responses((status = 200, body = [PolicyView])), security(("token" = [])))]
async fn list_policies(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<Vec<PolicyView>>> {
    let mut tx = state.store.read().await?;
    Ok(Json(
        tx.policies()
            .await?
            .into_iter()
            .map(PolicyView::from)
            .collect(),
    ))
}

/// Creates an escalation policy (manager).
#[utoipa::path(post, path = "/api/v1/escalation-policies", tag = "services", request_body = PolicyBody,
    responses((status = 201, body = PolicyView), (status = 400, body = ApiError), (status = 422, body = ApiError)), security(("token" = [])))]
pub(crate) async fn create_policy(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PolicyBody>,
) -> ApiResult<(StatusCode, Json<PolicyView>)> {
    caller.require(Role::Manager)?;
    let mut tx = state.store.write().await?;
    let input = policy_input(tx.as_mut(), &body).await?;
    tx.team(input.team_id).await.map_err(|_| {
        ApiError::from(watchbill_store::StoreError::reference(
            format!("team {} does not exist", input.team_id),
            "team_id",
        ))
    })?;
    let policy = tx.insert_policy(&input).await?;
    tx.record_audit(
        &caller.label,
        "policy.create",
        &format!("policy {} {}", policy.id, policy.name),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(policy.into())))
}

/// Shows an escalation policy.
#[utoipa::path(get, path = "/api/v1/escalation-policies/{id}", tag = "services", params(("id" = i64, Path, description = "Policy id")),
    responses((status = 200, body = PolicyView), (status = 404, body = ApiError)), security(("token" = [])))]
async fn get_policy(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<PolicyView>> {
    let mut tx = state.store.read().await?;
    Ok(Json(tx.policy(PolicyId(id)).await?.into()))
}

/// Replaces an escalation policy (manager). Incidents already escalating follow the new levels.
#[utoipa::path(put, path = "/api/v1/escalation-policies/{id}", tag = "services", request_body = PolicyBody,
    params(("id" = i64, Path, description = "Policy id")),
    responses((status = 200, body = PolicyView), (status = 400, body = ApiError), (status = 404, body = ApiError)), security(("token" = [])))]
pub(crate) async fn update_policy(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<PolicyBody>,
) -> ApiResult<Json<PolicyView>> {
    caller.require(Role::Manager)?;
    let mut tx = state.store.write().await?;
    let input = policy_input(tx.as_mut(), &body).await?;
    let policy = tx.update_policy(PolicyId(id), &input).await?;
    tx.record_audit(&caller.label, "policy.update", &format!("policy {id}"))
        .await?;
    tx.commit().await?;
    Ok(Json(policy.into()))
}

/// Deletes an escalation policy no service uses (manager).
#[utoipa::path(delete, path = "/api/v1/escalation-policies/{id}", tag = "services", params(("id" = i64, Path, description = "Policy id")),
    responses((status = 204), (status = 404, body = ApiError), (status = 409, body = ApiError)), security(("token" = [])))]
async fn delete_policy(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Manager)?;
    let mut tx = state.store.write().await?;
    tx.delete_policy(PolicyId(id)).await?;
    tx.record_audit(&caller.label, "policy.delete", &format!("policy {id}"))
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeView {
    pub received_at: Timestamp,
    pub summary: String,
    /// The change event as sent, less its `routing_key`.
    pub payload: serde_json::Value,
}

/// The service's change events (`POST /v2/change/enqueue`), newest first.
#[utoipa::path(get, path = "/api/v1/services/{id}/changes", tag = "services", params(("id" = i64, Path, description = "Service id")),
    responses((status = 200, body = [ChangeView]), (status = 404, body = ApiError)), security(("token" = [])))]
async fn list_changes(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<ChangeView>>> {
    let mut tx = state.store.read().await?;
    tx.service(ServiceId(id)).await?;
    let changes = tx.service_changes(ServiceId(id), 200).await?;
    Ok(Json(
        changes
            .into_iter()
            .map(|c| ChangeView {
                received_at: c.received_at,
                summary: c.input.summary,
                payload: serde_json::from_str(&c.input.payload).unwrap_or(serde_json::Value::Null),
            })
            .collect(),
    ))
}
