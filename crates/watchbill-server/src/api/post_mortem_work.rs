//! The work around a post-mortem: comments on drafts, action items filed as duty tickets and
//! linked both ways, each team's template, distribution list and reminder settings, and the
//! "seen before" lookup for an incident.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::tickets::{Priority, TicketKind, TicketStatus};
use watchbill_core::{Role, TeamId};
use watchbill_store::post_mortems::{PostMortemComment, PostMortemSettings};
use watchbill_store::tickets::{NewTicket, StoredTicket, TicketLink};

use super::incidents::parse_incident;
use super::post_mortems::parse_number;
use super::tickets::{assign_duty, date, priority, CommentBody, CommentView, TicketView};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{ApiJson, ApiPath};
use crate::post_mortems::seen_before::{self, SeenBefore};
use crate::post_mortems::{self as domain, number};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(add_comment))
        .routes(routes!(add_action_item))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(incident_seen_before))
}

/// A comment on a post-mortem reads like one on a ticket.
impl From<PostMortemComment> for CommentView {
    fn from(c: PostMortemComment) -> CommentView {
        CommentView {
            id: c.id,
            at: c.at,
            author: c.author,
            body: c.body,
        }
    }
}

/// An action item: a ticket, with where it stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActionItemView {
    /// `UF-12`.
    pub key: String,
    pub title: String,
    pub status: String,
    pub priority: String,
    pub due: Option<String>,
    pub assignee_id: Option<i64>,
}

impl From<StoredTicket> for ActionItemView {
    fn from(stored: StoredTicket) -> ActionItemView {
        let t = stored.ticket;
        ActionItemView {
            key: t.key.to_string(),
            title: t.title,
            status: t.status.as_str().to_owned(),
            priority: t.priority.as_str().to_owned(),
            due: t.due.map(|d| d.to_string()),
            assignee_id: t.assignee.map(|u| u.0),
        }
    }
}

/// Comments on a post-mortem that is not yet published (responder).
#[utoipa::path(post, path = "/api/v1/post-mortems/{id}/comments", tag = "post-mortems", request_body = CommentBody,
    params(("id" = String, Path, description = "`PM-3` or `3`")),
    responses((status = 201, body = CommentView), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)),
    security(("token" = [])))]
pub(crate) async fn add_comment(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<CommentBody>,
) -> ApiResult<(StatusCode, Json<CommentView>)> {
    caller.require(Role::Responder)?;
    let id = parse_number(&id)?;
    let text = body.body.trim();
    if text.is_empty() || text.len() > 20_000 {
        return Err(ApiError::invalid(
            "body",
            "a comment of 1 to 20,000 characters",
        ));
    }
    let mut tx = state.store.write().await?;
    let pm = tx.post_mortem(id).await?;
    if pm.status == "published" {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!(
                "{} is published; comments are for drafts and reviews",
                number(id)
            ),
        ));
    }
    let comment = tx
        .insert_post_mortem_comment(id, &caller.label, text)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(comment.into())))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionItemBody {
    pub title: String,
    /// Default `High`.
    #[serde(default)]
    pub priority: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub due: Option<String>,
    /// By email or id; default the team's captain when the team assigns duty tickets so.
    #[serde(default)]
    pub assignee: Option<String>,
    /// Markdown; the ticket's description, after a line naming the post-mortem.
    #[serde(default)]
    pub description: Option<String>,
}

/// Files an action item as a `product-maintenance-duty` ticket of the post-mortem's team,
/// linked both ways (responder). The team needs a ticket prefix.
#[utoipa::path(post, path = "/api/v1/post-mortems/{id}/action-items", tag = "post-mortems", request_body = ActionItemBody,
    params(("id" = String, Path, description = "`PM-3` or `3`")),
    responses((status = 201, body = TicketView), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 422, body = ApiError)),
    security(("token" = [])))]
pub(crate) async fn add_action_item(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ActionItemBody>,
) -> ApiResult<(StatusCode, Json<TicketView>)> {
    caller.require(Role::Responder)?;
    let id = parse_number(&id)?;
    let title = body.title.trim();
    if title.is_empty() || title.chars().count() > 500 {
        return Err(ApiError::invalid("title", "a title of 1 to 500 characters"));
    }
    let priority = body
        .priority
        .as_deref()
        .map(priority)
        .transpose()?
        .unwrap_or(Priority::High);
    let due = body.due.as_deref().map(|d| date(d, "due")).transpose()?;
    let mut tx = state.store.write().await?;
    let pm = tx.post_mortem(id).await?;
    let assignee = match &body.assignee {
        Some(who) => Some(
            super::post_mortems::people(tx.as_mut(), std::slice::from_ref(who), "assignee").await?
                [0],
        ),
        None => None,
    };
    let mut description = format!(
        "Action item of {} \"{}\": {}/post-mortems/{}",
        number(id),
        pm.input.title,
        state.public_url,
        id
    );
    if let Some(more) = body.description.as_deref().filter(|d| !d.trim().is_empty()) {
        description.push_str("\n\n");
        description.push_str(more.trim());
    }
    let ticket = tx
        .insert_ticket(
            &NewTicket {
                team_id: pm.input.team_id,
                title: title.to_owned(),
                description,
                kind: TicketKind::Task,
                priority,
                status: TicketStatus::Open,
                labels: vec![
                    "product-maintenance-duty".to_owned(),
                    "post-mortem".to_owned(),
                ],
                due,
                reporter: caller.user,
                assignee,
                component: None,
            },
            &caller.label,
        )
        .await?;
    tx.link_ticket(ticket.id, TicketLink::PostMortem(id))
        .await?;
    let ticket = assign_duty(&state, tx.as_mut(), ticket).await?;
    tx.record_audit(
        &caller.label,
        "post_mortem.action_item",
        &format!("{} {}", number(id), ticket.ticket.key),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(ticket.into())))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PostMortemSettingsView {
    pub team_id: i64,
    /// Markdown; `{{timeline}}` marks where the incidents' timeline goes.
    pub template: String,
    /// Addresses that receive every published post-mortem besides the team's members.
    pub distribution: Vec<String>,
    /// Responders of a high-urgency incident resolved this long ago without a post-mortem are
    /// reminded (seconds; default two days).
    pub remind_after_seconds: i64,
    /// The owner of a draft older than this is reminded (days; default 7).
    pub draft_reminder_days: i64,
}

impl From<PostMortemSettings> for PostMortemSettingsView {
    fn from(s: PostMortemSettings) -> PostMortemSettingsView {
        PostMortemSettingsView {
            team_id: s.team_id.0,
            template: s.template,
            distribution: s.distribution,
            remind_after_seconds: s.remind_after_seconds,
            draft_reminder_days: s.draft_reminder_days,
        }
    }
}

/// A team's post-mortem template, distribution list and reminders (the defaults until set).
#[utoipa::path(get, path = "/api/v1/teams/{id}/post-mortem-settings", tag = "post-mortems",
    params(("id" = i64, Path, description = "Team id")),
    responses((status = 200, body = PostMortemSettingsView), (status = 404, body = ApiError)), security(("token" = [])))]
pub(crate) async fn get_settings(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<PostMortemSettingsView>> {
    let mut tx = state.store.read().await?;
    tx.team(TeamId(id)).await?;
    Ok(Json(
        domain::settings(tx.as_mut(), TeamId(id)).await?.into(),
    ))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostMortemSettingsBody {
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub distribution: Option<Vec<String>>,
    #[serde(default)]
    pub remind_after_seconds: Option<i64>,
    #[serde(default)]
    pub draft_reminder_days: Option<i64>,
}

/// Changes a team's post-mortem settings (manager); what is left out stays.
#[utoipa::path(put, path = "/api/v1/teams/{id}/post-mortem-settings", tag = "post-mortems", request_body = PostMortemSettingsBody,
    params(("id" = i64, Path, description = "Team id")),
    responses((status = 200, body = PostMortemSettingsView), (status = 400, body = ApiError), (status = 404, body = ApiError)),
    security(("token" = [])))]
pub(crate) async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<PostMortemSettingsBody>,
) -> ApiResult<Json<PostMortemSettingsView>> {
    caller.require(Role::Manager)?;
    let team = TeamId(id);
    let mut tx = state.store.write().await?;
    tx.team(team).await?;
    let mut settings = domain::settings(tx.as_mut(), team).await?;
    if let Some(template) = body.template {
        if template.trim().is_empty() || template.len() > 50_000 {
            return Err(ApiError::invalid(
                "template",
                "a template of 1 to 50,000 characters",
            ));
        }
        settings.template = template;
    }
    if let Some(list) = body.distribution {
        let mut addresses = Vec::with_capacity(list.len());
        for (i, address) in list.iter().enumerate() {
            let address = address.trim();
            if address.parse::<lettre::Address>().is_err() {
                return Err(ApiError::invalid(
                    format!("distribution[{i}]"),
                    format!("`{address}` is not an email address"),
                ));
            }
            addresses.push(address.to_owned());
        }
        settings.distribution = addresses;
    }
    if let Some(seconds) = body.remind_after_seconds {
        if !(60..=90 * 86_400).contains(&seconds) {
            return Err(ApiError::invalid(
                "remind_after_seconds",
                "between 60 seconds and 90 days",
            ));
        }
        settings.remind_after_seconds = seconds;
    }
    if let Some(days) = body.draft_reminder_days {
        if !(1..=365).contains(&days) {
            return Err(ApiError::invalid(
                "draft_reminder_days",
                "between 1 and 365",
            ));
        }
        settings.draft_reminder_days = days;
    }
    tx.put_post_mortem_settings(&settings).await?;
    tx.record_audit(
        &caller.label,
        "post_mortem_settings.update",
        &format!("team {id}"),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(settings.into()))
}

/// Past post-mortems that match an incident — on the same service, or with words of its
/// title — best first; those that cover the incident itself are left out.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/seen-before", tag = "post-mortems",
    params(("id" = String, Path, description = "`INC-42` or `42`")),
    responses((status = 200, body = [SeenBefore]), (status = 404, body = ApiError)), security(("token" = [])))]
pub(crate) async fn incident_seen_before(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Vec<SeenBefore>>> {
    let id = parse_incident(&id, "id")?;
    let mut tx = state.store.read().await?;
    let incident = tx.incident(id).await?;
    Ok(Json(seen_before::lookup(tx.as_mut(), &incident, 5).await?))
}
