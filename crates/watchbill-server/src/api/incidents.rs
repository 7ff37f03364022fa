//! `/api/v1/incidents`: list, show, open by hand, and act: acknowledge, resolve, escalate,
//! snooze, add a responder, reassign, annotate.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::paging::{IncidentStatus, Urgency};
use watchbill_core::{IncidentId, Role, ServiceId, TeamId, UserId};
use watchbill_store::paging::{Incident, IncidentFilter, NewIncident};
use watchbill_store::Tx;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::paging::actions::{self, ActionError};
use crate::paging::{pages, webhooks};
use crate::retrying::with_retries;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_incidents, create_incident))
        .routes(routes!(get_incident))
        .routes(routes!(acknowledge))
        .routes(routes!(resolve))
        .routes(routes!(escalate))
        .routes(routes!(snooze))
        .routes(routes!(add_responder))
        .routes(routes!(reassign))
        .routes(routes!(add_note))
}

impl From<ActionError> for ApiError {
    fn from(error: ActionError) -> ApiError {
        match error {
            ActionError::Store(error) => error.into(),
            ActionError::Resolved(_) => ApiError::new(ErrorCode::Conflict, error.to_string()),
            ActionError::Invalid(message) => ApiError::new(ErrorCode::Conflict, message),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IncidentView {
    pub id: i64,
    /// `INC-42`.
    pub number: String,
    pub service_id: i64,
    pub dedup_key: String,
    pub title: String,
    pub status: String,
    pub urgency: String,
    pub alert_count: i64,
    pub created_at: Timestamp,
    pub last_alert_at: Timestamp,
    pub acknowledged_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    /// The escalation level (1-based) that last paged.
    pub escalation_level: usize,
    pub assignees: Vec<i64>,
}

impl From<Incident> for IncidentView {
    fn from(i: Incident) -> IncidentView {
        IncidentView {
            id: i.id.0,
            number: format!("INC-{}", i.id),
            service_id: i.service_id.0,
            dedup_key: i.dedup_key,
            title: i.title,
            status: i.status.to_string(),
            urgency: i.urgency.as_str().to_owned(),
            alert_count: i.alert_count,
            created_at: i.created_at,
            last_alert_at: i.last_alert_at,
            acknowledged_at: i.acknowledged_at,
            resolved_at: i.resolved_at,
            escalation_level: i.step.level + 1,
            assignees: i.assignees.into_iter().map(|u| u.0).collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TimelineEntry {
    pub at: Timestamp,
    pub kind: String,
    pub actor: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlertView {
    pub received_at: Timestamp,
    pub action: String,
    pub summary: String,
    pub severity: String,
    pub source: String,
    pub outcome: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationView {
    pub user_id: i64,
    pub kind: String,
    pub address: String,
    /// `pending`, `sent`, `failed` or `cancelled`.
    pub status: String,
    pub attempts: i64,
    pub last_error: String,
    pub sent_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IncidentDetail {
    #[serde(flatten)]
    pub incident: IncidentView,
    /// The newest 500 alerts (events), oldest first; `alert_count` counts them all.
    pub alerts: Vec<AlertView>,
    pub timeline: Vec<TimelineEntry>,
    pub notifications: Vec<NotificationView>,
    /// Follow-up and linked tickets, `UF-12`.
    pub tickets: Vec<String>,
}

/// Reads `INC-42` or `42`.
fn incident_id(text: &str) -> ApiResult<IncidentId> {
    parse_incident(text, "id")
}

/// Reads `INC-42` or `42`; a refusal names `field`.
pub fn parse_incident(text: &str, field: &str) -> ApiResult<IncidentId> {
    let trimmed = text.trim();
    let digits = trimmed
        .strip_prefix("INC-")
        .or_else(|| trimmed.strip_prefix("inc-"))
        .unwrap_or(trimmed);
    digits.parse::<i64>().map(IncidentId).map_err(|_| {
        ApiError::invalid(
            field.to_owned(),
            format!("`{text}` is not an incident number such as INC-42"),
        )
    })
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentQuery {
    /// Comma-separated statuses: `triggered`, `acknowledged`, `resolved`; `open` for the first two.
    pub status: Option<String>,
    pub service: Option<i64>,
    pub team: Option<i64>,
    /// `high` or `low`.
    pub urgency: Option<String>,
    /// Only incidents assigned to this user id.
    pub assignee: Option<i64>,
    /// Only incidents opened at or after this instant (RFC 3339 or a date).
    pub since: Option<String>,
    /// Only incidents numbered below this (to page back through results).
    pub before: Option<i64>,
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<i64>,
}

impl IncidentQuery {
    /// The store filter this query asks for; `now` anchors relative instants.
    pub fn filter(&self, now: Timestamp) -> ApiResult<IncidentFilter> {
        let mut statuses = Vec::new();
        for part in self
            .status
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match part {
                "open" => {
                    statuses.extend([IncidentStatus::Triggered, IncidentStatus::Acknowledged])
                }
                other => statuses.push(
                    other
                        .parse()
                        .map_err(|e: String| ApiError::invalid("status", e))?,
                ),
            }
        }
        let limit = self.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::invalid(
                "limit",
                "the limit must be between 1 and 1000",
            ));
        }
        let urgency = match self.urgency.as_deref().filter(|u| !u.is_empty()) {
            Some(text) => Some(
                text.parse::<Urgency>()
                    .map_err(|e: String| ApiError::invalid("urgency", e))?,
            ),
            None => None,
        };
        let since = match self.since.as_deref().filter(|s| !s.is_empty()) {
            Some(text) => Some(super::instant(Some(text), now, "since")?),
            None => None,
        };
        Ok(IncidentFilter {
            statuses,
            service: self.service.map(ServiceId),
            team: self.team.map(TeamId),
            urgency,
            assignee: self.assignee.map(UserId),
            since,
            before: self.before.map(IncidentId),
            limit,
        })
    }
}

/// Lists incidents, newest first.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", params(IncidentQuery),
    responses((status = 200, body = [IncidentView]), (status = 400, body = ApiError)), security(("token" = [])))]
async fn list_incidents(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(query): ApiQuery<IncidentQuery>,
) -> ApiResult<Json<Vec<IncidentView>>> {
    let filter = query.filter(state.clock.now())?;
    let mut tx = state.store.read().await?;
    let incidents = tx.incidents(&filter).await?;
    Ok(Json(
        incidents.into_iter().map(IncidentView::from).collect(),
    ))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIncidentBody {
    pub service_id: i64,
    pub title: String,
    /// `high` or `low`; default the service's.
    #[serde(default)]
    pub urgency: Option<String>,
}

/// Opens an incident by hand and pages the service's escalation policy (responder).
#[utoipa::path(post, path = "/api/v1/incidents", tag = "incidents", request_body = NewIncidentBody,
    responses((status = 201, body = IncidentView), (status = 400, body = ApiError), (status = 404, body = ApiError)), security(("token" = [])))]
async fn create_incident(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewIncidentBody>,
) -> ApiResult<(StatusCode, Json<IncidentView>)> {
    caller.require(Role::Responder)?;
    let title = body.title.trim();
    if title.is_empty() {
        return Err(ApiError::invalid("title", "an incident needs a title"));
    }
    let mut tx = state.store.write().await?;
    let service = tx.service(ServiceId(body.service_id)).await?;
    let urgency: Urgency = match &body.urgency {
        Some(text) => text
            .parse()
            .map_err(|e: String| ApiError::invalid("urgency", e))?,
        None => service.default_urgency,
    };
    let incident = tx
        .insert_incident(&NewIncident {
            service_id: service.id,
            dedup_key: format!("manual-{}", watchbill_store::new_secret().to_lowercase()),
            title: title.to_owned(),
            urgency,
        })
        .await?;
    tx.log(
        incident.id,
        "triggered",
        &caller.label,
        &format!("Opened by {}: {title}", caller.label),
    )
    .await?;
    if service.escalation_policy_id.is_some() {
        actions::start_escalation(tx.as_mut(), &incident).await?;
    }
    webhooks::emit(
        tx.as_mut(),
        incident.id,
        "incident.triggered",
        &caller.label,
    )
    .await?;
    tx.commit().await?;
    state.wake.notify_one();
    Ok((StatusCode::CREATED, Json(incident.into())))
}

/// Shows an incident with its alerts, timeline and notifications.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents", params(("id" = String, Path, description = "`INC-42` or `42`")),
    responses((status = 200, body = IncidentDetail), (status = 404, body = ApiError)), security(("token" = [])))]
async fn get_incident(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<IncidentDetail>> {
    let id = incident_id(&id)?;
    let mut tx = state.store.read().await?;
    Ok(Json(detail(tx.as_mut(), id).await?))
}

/// How many of an incident's alerts its detail lists, the newest; `alert_count` counts all.
pub const ALERTS_SHOWN: i64 = 500;

pub async fn detail(tx: &mut dyn Tx, id: IncidentId) -> ApiResult<IncidentDetail> {
    let incident = tx.incident(id).await?;
    let alerts = tx
        .events(id, ALERTS_SHOWN)
        .await?
        .into_iter()
        .map(|e| AlertView {
            received_at: e.received_at,
            action: e.input.action,
            summary: e.input.summary,
            severity: e.input.severity,
            source: e.input.source,
            outcome: e.input.outcome,
        })
        .collect();
    let timeline = tx
        .incident_log(id)
        .await?
        .into_iter()
        .map(|l| TimelineEntry {
            at: l.at,
            kind: l.kind,
            actor: l.actor,
            message: l.message,
        })
        .collect();
    let notifications = tx
        .notifications(id)
        .await?
        .into_iter()
        .map(|n| NotificationView {
            user_id: n.input.user_id.0,
            kind: n.input.kind,
            address: n.input.address,
            status: n.status,
            attempts: n.attempts,
            last_error: n.last_error,
            sent_at: n.sent_at,
        })
        .collect();
    let tickets = tx
        .incident_tickets(id)
        .await?
        .into_iter()
        .map(|t| t.ticket.key.to_string())
        .collect();
    Ok(IncidentDetail {
        incident: incident.into(),
        alerts,
        timeline,
        notifications,
        tickets,
    })
}

/// What a person can do to an incident, from the API or a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentAction {
    Acknowledge,
    Resolve,
    /// Page the next escalation level now.
    Escalate,
    /// Hold escalation for this many seconds.
    Snooze(i64),
    /// Page someone else too, the secondary or beyond.
    AddResponder(UserId),
    /// Make someone else the only assignee and page them.
    Reassign(UserId),
    Note(String),
}

impl IncidentAction {
    /// Refuses input no incident could take, before any transaction begins.
    fn validate(&self) -> ApiResult<()> {
        match self {
            IncidentAction::Snooze(seconds) if !(1..=7 * 86_400).contains(seconds) => Err(
                ApiError::invalid("seconds", "snooze for between 1 second and a week"),
            ),
            IncidentAction::Note(text) if text.trim().is_empty() || text.trim().len() > 10_000 => {
                Err(ApiError::invalid(
                    "text",
                    "a note needs between 1 and 10,000 characters",
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Does `action` to incident `id` (`INC-42` or `42`) in one write transaction, as `caller`
/// (responder), and answers with the incident as it is afterwards.
pub async fn perform(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: IncidentAction,
) -> ApiResult<IncidentView> {
    caller.require(Role::Responder)?;
    let id = incident_id(id)?;
    action.validate()?;
    // The engine may be firing this incident at the same moment; if the database had to pick
    // one of the two to undo, the action is simply tried again.
    let incident = with_retries(ACTION_TRIES, || async {
        let mut tx = state.store.write().await?;
        let actor = actor_name(tx.as_mut(), caller).await;
        apply(tx.as_mut(), id, &actor, action.clone()).await?;
        let incident = tx.incident(id).await?;
        tx.commit().await?;
        Ok::<_, ActionError>(incident)
    })
    .await?;
    state.wake.notify_one();
    Ok(incident.into())
}

/// How many times an action is tried when it collides with another write.
pub(crate) const ACTION_TRIES: u32 = 5;

async fn apply(
    tx: &mut dyn Tx,
    id: IncidentId,
    actor: &str,
    action: IncidentAction,
) -> Result<(), ActionError> {
    match action {
        IncidentAction::Acknowledge => {
            actions::acknowledge(tx, id, actor).await?;
        }
        IncidentAction::Resolve => {
            actions::resolve(tx, id, actor).await?;
        }
        IncidentAction::Escalate => {
            actions::escalate_now(tx, id, actor).await?;
        }
        IncidentAction::Snooze(seconds) => {
            actions::snooze(tx, id, SignedDuration::from_secs(seconds), actor).await?;
        }
        IncidentAction::AddResponder(user) => {
            let incident = open_incident(tx, id).await?;
            tx.user(user).await?;
            let round = format!("responder@{}", tx.now().as_second());
            pages::page_users(
                tx,
                &mut pages::People::default(),
                &incident,
                &[user],
                &round,
                &format!("Responder added by {actor}"),
            )
            .await?;
        }
        IncidentAction::Reassign(user) => {
            let incident = open_incident(tx, id).await?;
            let person = tx.user(user).await?;
            tx.clear_assignees(&[id]).await?;
            if incident.status == IncidentStatus::Acknowledged {
                tx.set_incident_status(id, IncidentStatus::Triggered)
                    .await?;
            }
            tx.log(
                id,
                "reassigned",
                actor,
                &format!("Reassigned to {} by {actor}", person.name),
            )
            .await?;
            webhooks::emit(tx, id, "incident.reassigned", actor).await?;
            let round = format!("reassign@{}", tx.now().as_second());
            pages::page_users(
                tx,
                &mut pages::People::default(),
                &incident,
                &[user],
                &round,
                "Reassigned",
            )
            .await?;
        }
        IncidentAction::Note(text) => {
            tx.incident(id).await?;
            tx.log(id, "note", actor, text.trim()).await?;
            webhooks::emit(tx, id, "incident.annotated", actor).await?;
        }
    }
    Ok(())
}

/// The person behind a caller, for the timeline.
async fn actor_name(tx: &mut dyn Tx, caller: &Caller) -> String {
    match caller.user {
        Some(user) => tx
            .user(user)
            .await
            .map(|u| u.name)
            .unwrap_or_else(|_| caller.label.clone()),
        None => caller.label.clone(),
    }
}

async fn open_incident(tx: &mut dyn Tx, id: IncidentId) -> Result<Incident, ActionError> {
    let incident = tx.incident(id).await?;
    if incident.status == IncidentStatus::Resolved {
        return Err(ActionError::Resolved(id));
    }
    Ok(incident)
}

/// Acknowledges: escalation stops (responder).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/acknowledge", tag = "incidents", params(("id" = String, Path, description = "`INC-42` or `42`")),
    responses((status = 200, body = IncidentView), (status = 404, body = ApiError), (status = 409, body = ApiError)), security(("token" = [])))]
async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<IncidentView>> {
    perform(&state, &caller, &id, IncidentAction::Acknowledge)
        .await
        .map(Json)
}

/// Resolves (responder).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/resolve", tag = "incidents", params(("id" = String, Path, description = "`INC-42` or `42`")),
    responses((status = 200, body = IncidentView), (status = 404, body = ApiError)), security(("token" = [])))]
async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<IncidentView>> {
    perform(&state, &caller, &id, IncidentAction::Resolve)
        .await
        .map(Json)
}

/// Pages the next escalation level now (responder).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/escalate", tag = "incidents", params(("id" = String, Path, description = "`INC-42` or `42`")),
    responses((status = 200, body = IncidentView), (status = 409, body = ApiError)), security(("token" = [])))]
async fn escalate(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<IncidentView>> {
    perform(&state, &caller, &id, IncidentAction::Escalate)
        .await
        .map(Json)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnoozeBody {
    /// How long, in seconds (at most a week).
    pub seconds: i64,
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/snooze", tag = "incidents", request_body = SnoozeBody,
    params(("id" = String, Path, description = "`INC-42` or `42`")),
    responses((status = 200, body = IncidentView), (status = 400, body = ApiError), (status = 409, body = ApiError)), security(("token" = [])))]
async fn snooze(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<SnoozeBody>,
) -> ApiResult<Json<IncidentView>> {
    perform(&state, &caller, &id, IncidentAction::Snooze(body.seconds))
        .await
        .map(Json)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    pub user_id: i64,
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/responders", tag = "incidents", request_body = UserBody,
    params(("id" = String, Path, description = "`INC-42` or `42`")),
    responses((status = 200, body = IncidentView), (status = 404, body = ApiError), (status = 409, body = ApiError)), security(("token" = [])))]
async fn add_responder(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UserBody>,
) -> ApiResult<Json<IncidentView>> {
    perform(
        &state,
        &caller,
        &id,
        IncidentAction::AddResponder(UserId(body.user_id)),
    )
    .await
    .map(Json)
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/reassign", tag = "incidents", request_body = UserBody,
    params(("id" = String, Path, description = "`INC-42` or `42`")),
    responses((status = 200, body = IncidentView), (status = 404, body = ApiError), (status = 409, body = ApiError)), security(("token" = [])))]
async fn reassign(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UserBody>,
) -> ApiResult<Json<IncidentView>> {
    perform(
        &state,
        &caller,
        &id,
        IncidentAction::Reassign(UserId(body.user_id)),
    )
    .await
    .map(Json)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    pub text: String,
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/notes", tag = "incidents", request_body = NoteBody,
    params(("id" = String, Path, description = "`INC-42` or `42`")),
    responses((status = 200, body = IncidentView), (status = 400, body = ApiError), (status = 404, body = ApiError)), security(("token" = [])))]
async fn add_note(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NoteBody>,
) -> ApiResult<Json<IncidentView>> {
    perform(&state, &caller, &id, IncidentAction::Note(body.text))
        .await
        .map(Json)
}
