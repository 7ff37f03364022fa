//! `/api/v1/tickets`: the ticket tracker, queried in the filter language, and each team's
//! maintenance-duty queue.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use jiff::{civil, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::tickets::filter::{compile, parse, Context, Expr, Query};
use watchbill_core::tickets::{normalise_team_key, Priority, TicketKey, TicketKind};
use watchbill_core::{Role, TeamId, UserId};
use watchbill_store::tickets::{NewTicket, StoredTicket, TicketChange, TicketLink, TicketSettings};
use watchbill_store::Tx;

use super::oncall::PersonView;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::paging::requesters::{self, Happening};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tickets, create_ticket))
        .routes(routes!(get_ticket, update_ticket))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(duty_queue))
        .routes(routes!(add_comment))
        .routes(routes!(add_link))
        .routes(routes!(follow_up))
}

/// The duty filter a team starts with: open maintenance-duty work, most urgent first.
pub const DEFAULT_DUTY_FILTER: &str =
    "label = product-maintenance-duty AND status IN (open, in_progress) ORDER BY priority DESC, due ASC";

#[derive(Debug, Clone, Serialize, ToSchema, Deserialize)]
pub struct TicketView {
    /// `UF-123`.
    pub key: String,
    pub team_id: i64,
    pub title: String,
    pub description: String,
    /// `bug`, `feature`, `maintenance` or `task`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `Highest`, `High`, `Medium`, `Low` or `Lowest`.
    pub priority: String,
    /// `open`, `in_progress`, `resolved` or `closed`.
    pub status: String,
    pub labels: Vec<String>,
    pub due: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub reporter_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub component: Option<String>,
}

impl From<StoredTicket> for TicketView {
    fn from(stored: StoredTicket) -> TicketView {
        let t = stored.ticket;
        TicketView {
            key: t.key.to_string(),
            team_id: stored.team_id.0,
            title: t.title,
            description: t.description,
            kind: t.kind.as_str().to_owned(),
            priority: t.priority.as_str().to_owned(),
            status: t.status.as_str().to_owned(),
            labels: t.labels,
            due: t.due.map(|d| d.to_string()),
            created_at: t.created,
            updated_at: t.updated,
            resolved_at: t.resolved,
            reporter_id: t.reporter.map(|u| u.0),
            assignee_id: t.assignee.map(|u| u.0),
            component: t.component,
        }
    }
}

pub fn parse_filter(text: &str, field: &str) -> ApiResult<Query> {
    parse(text).map_err(|e| ApiError::invalid(field.to_owned(), e.to_string()))
}

fn kind(text: &str) -> ApiResult<TicketKind> {
    text.parse()
        .map_err(|e: String| ApiError::invalid("type", e))
}

pub(crate) fn priority(text: &str) -> ApiResult<Priority> {
    text.parse()
        .map_err(|e: String| ApiError::invalid("priority", e))
}

pub(crate) fn date(text: &str, field: &str) -> ApiResult<civil::Date> {
    text.parse().map_err(|_| {
        ApiError::invalid(
            field.to_owned(),
            format!("`{text}` is not a date; use YYYY-MM-DD"),
        )
    })
}

fn labels(list: &[String]) -> ApiResult<Vec<String>> {
    list.iter()
        .enumerate()
        .map(|(i, label)| {
            let label = label.trim();
            if label.is_empty() || label.contains(char::is_whitespace) || label.len() > 100 {
                Err(ApiError::invalid(
                    format!("labels[{i}]"),
                    format!("`{label}` is not a label: one word of at most 100 characters"),
                ))
            } else {
                Ok(label.to_owned())
            }
        })
        .collect()
}

/// Who a filter may name: users by email.
pub async fn directory(tx: &mut dyn Tx) -> ApiResult<HashMap<String, UserId>> {
    Ok(tx
        .users()
        .await?
        .into_iter()
        .map(|u| (u.email, u.id))
        .collect())
}

/// The team's Captain On-Call now.
async fn captain(state: &AppState, tx: &mut dyn Tx, team: TeamId) -> ApiResult<Option<UserId>> {
    let now = state.clock.now();
    Ok(state.roster.get(tx, now).await?.captain(team, now))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketQuery {
    /// A filter, e.g. `label = product-maintenance-duty AND status != closed ORDER BY priority DESC`.
    pub filter: Option<String>,
    /// A team (id) whose Captain On-Call `currentDuty()` names.
    pub team: Option<i64>,
    /// At most this many (default 100, at most 10,000).
    pub limit: Option<i64>,
    /// `json` (default) or `csv`, in the column names of a Jira export.
    pub format: Option<String>,
}

/// Lists tickets a filter selects, in its order.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", params(TicketQuery),
    responses((status = 200, body = [TicketView], description = "JSON, or CSV with `format=csv`"), (status = 400, body = ApiError)), security(("token" = [])))]
pub(crate) async fn list_tickets(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<TicketQuery>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let limit = query.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "the limit must be between 1 and 10,000",
        ));
    }
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "format",
                format!("`{other}` is not a format; use json or csv"),
            ))
        }
    };
    let filter = parse_filter(
        query.filter.as_deref().unwrap_or("ORDER BY created DESC"),
        "filter",
    )?;
    let (found, users) = select(&state, &caller, &filter, query.team.map(TeamId), limit).await?;
    let views: Vec<TicketView> = found.into_iter().map(TicketView::from).collect();
    if !csv {
        return Ok(Json(views).into_response());
    }
    let emails: HashMap<UserId, String> =
        users.into_iter().map(|(email, id)| (id, email)).collect();
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"tickets.csv\"",
            ),
        ],
        tickets_csv(&views, &emails),
    )
        .into_response())
}

/// The tickets `filter` selects, in its order, as `caller` sees them (`currentUser()`), with
/// `team`'s captain as `currentDuty()`; also the email directory the filter was read with.
pub async fn select(
    state: &AppState,
    caller: &Caller,
    filter: &Query,
    team: Option<TeamId>,
    limit: i64,
) -> ApiResult<(Vec<StoredTicket>, HashMap<String, UserId>)> {
    let mut tx = state.store.read().await?;
    let users = directory(tx.as_mut()).await?;
    let duty = match team {
        Some(team) => captain(state, tx.as_mut(), team).await?,
        None => None,
    };
    // The context borrows the directory, which is not shared across threads: compile before
    // the next await.
    let compiled = {
        let mut context =
            Context::new(state.clock.now(), jiff::tz::TimeZone::UTC).with_users(&users);
        if let Some(user) = caller.user {
            context = context.with_current_user(user);
        }
        if let Some(user) = duty {
            context = context.with_current_duty(user);
        }
        compile(filter, &context)
    };
    let found = tx.find_tickets(&compiled, limit).await?;
    Ok((found, users))
}

/// Tickets as CSV, with the column names of a Jira export so that the file imports back.
fn tickets_csv(tickets: &[TicketView], emails: &HashMap<UserId, String>) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header = [
        "Issue key",
        "Summary",
        "Description",
        "Issue Type",
        "Status",
        "Priority",
        "Labels",
        "Due Date",
        "Assignee",
        "Reporter",
        "Component/s",
        "Created",
        "Updated",
    ];
    let _ = writer.write_record(header);
    let status = |s: &str| match s {
        "open" => "Open",
        "in_progress" => "In Progress",
        "resolved" => "Resolved",
        _ => "Closed",
    };
    let email = |id: Option<i64>| {
        id.and_then(|id| emails.get(&UserId(id)).cloned())
            .unwrap_or_default()
    };
    for t in tickets {
        let _ = writer.write_record([
            t.key.clone(),
            t.title.clone(),
            t.description.clone(),
            t.kind.clone(),
            status(&t.status).to_owned(),
            t.priority.clone(),
            t.labels.join(" "),
            t.due.clone().unwrap_or_default(),
            email(t.assignee_id),
            email(t.reporter_id),
            t.component.clone().unwrap_or_default(),
            t.created_at.to_string(),
            t.updated_at.to_string(),
        ]);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTicketBody {
    pub team_id: i64,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Default `task`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Default `Medium`.
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub due: Option<String>,
    #[serde(default)]
    pub assignee_id: Option<i64>,
    #[serde(default)]
    pub component: Option<String>,
}

/// Files a ticket (responder). If the team assigns new duty tickets to its captain and the
/// ticket matches the duty filter, the captain gets it.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets", request_body = NewTicketBody,
    responses((status = 201, body = TicketView), (status = 400, body = ApiError), (status = 422, body = ApiError)), security(("token" = [])))]
pub(crate) async fn create_ticket(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewTicketBody>,
) -> ApiResult<(StatusCode, Json<TicketView>)> {
    caller.require(Role::Responder)?;
    let title = body.title.trim();
    if title.is_empty() || title.len() > 500 {
        return Err(ApiError::invalid(
            "title",
            "a ticket needs a title of at most 500 characters",
        ));
    }
    let input = NewTicket {
        team_id: TeamId(body.team_id),
        title: title.to_owned(),
        description: body.description.clone(),
        kind: body
            .kind
            .as_deref()
            .map(kind)
            .transpose()?
            .unwrap_or(TicketKind::Task),
        priority: body
            .priority
            .as_deref()
            .map(priority)
            .transpose()?
            .unwrap_or(Priority::Medium),
        status: watchbill_core::tickets::TicketStatus::Open,
        labels: labels(&body.labels)?,
        due: body.due.as_deref().map(|d| date(d, "due")).transpose()?,
        reporter: caller.user,
        assignee: body.assignee_id.map(UserId),
        component: body.component.clone().filter(|c| !c.trim().is_empty()),
    };
    let mut tx = state.store.write().await?;
    if let Some(assignee) = input.assignee {
        tx.user(assignee).await.map_err(|_| {
            ApiError::from(watchbill_store::StoreError::reference(
                format!("user {assignee} does not exist"),
                "assignee_id",
            ))
        })?;
    }
    let ticket = tx.insert_ticket(&input, &caller.label).await?;
    let ticket = assign_duty(&state, tx.as_mut(), ticket).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(ticket.into())))
}

/// Gives a new, unassigned ticket to the team's Captain On-Call when the team asks for that and
/// its duty filter selects the ticket.
pub async fn assign_duty(
    state: &AppState,
    tx: &mut dyn Tx,
    ticket: StoredTicket,
) -> ApiResult<StoredTicket> {
    if ticket.ticket.assignee.is_some() {
        return Ok(ticket);
    }
    let Some(settings) = tx
        .ticket_settings(ticket.team_id)
        .await?
        .filter(|s| s.assign_to_captain)
    else {
        return Ok(ticket);
    };
    let Some(captain) = captain(state, tx, ticket.team_id).await? else {
        return Ok(ticket);
    };
    let query = parse_filter(&settings.duty_filter, "duty_filter")?;
    let users = directory(tx).await?;
    let selected = {
        let context = Context::new(state.clock.now(), jiff::tz::TimeZone::UTC)
            .with_users(&users)
            .with_current_duty(captain);
        watchbill_core::tickets::filter::Plan::new(&query, &context).matches(&ticket.ticket)
    };
    if !selected {
        return Ok(ticket);
    }
    Ok(tx
        .update_ticket(
            ticket.id,
            &[TicketChange::Assignee(Some(captain))],
            "watchbill (duty week)",
        )
        .await?)
}

fn key(text: &str) -> ApiResult<TicketKey> {
    text.parse()
        .map_err(|e: String| ApiError::invalid("key", e))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryView {
    pub at: Timestamp,
    pub actor: String,
    pub field: String,
    pub old_value: String,
    pub new_value: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CommentView {
    pub id: i64,
    pub at: Timestamp,
    pub author: String,
    pub body: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TicketDetail {
    #[serde(flatten)]
    pub ticket: TicketView,
    pub history: Vec<HistoryView>,
    pub comments: Vec<CommentView>,
    /// Linked incidents, `INC-42`.
    pub incidents: Vec<String>,
    /// Linked tickets, `UF-7`.
    pub linked_tickets: Vec<String>,
    /// The post-mortems whose action item this ticket is (`PM-3`).
    pub post_mortems: Vec<String>,
    /// Pushed commits whose message names the ticket, oldest first.
    pub commits: Vec<CommitView>,
    pub attachments: Vec<super::attachments::AttachmentView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CommitView {
    pub repository: String,
    pub sha: String,
    pub author_email: String,
    pub message: String,
    pub committed_at: Timestamp,
}

/// Shows a ticket with its history.
#[utoipa::path(get, path = "/api/v1/tickets/{key}", tag = "tickets", params(("key" = String, Path, description = "`UF-123`")),
    responses((status = 200, body = TicketDetail), (status = 404, body = ApiError)), security(("token" = [])))]
pub(crate) async fn get_ticket(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(text): ApiPath<String>,
) -> ApiResult<Json<TicketDetail>> {
    let key = key(&text)?;
    let mut tx = state.store.read().await?;
    let ticket = tx.ticket_by_key(&key).await?;
    let history = tx
        .ticket_history(ticket.id)
        .await?
        .into_iter()
        .map(|h| HistoryView {
            at: h.at,
            actor: h.actor,
            field: h.field,
            old_value: h.old_value,
            new_value: h.new_value,
        })
        .collect();
    let comments = tx
        .ticket_comments(ticket.id)
        .await?
        .into_iter()
        .map(|c| CommentView {
            id: c.id,
            at: c.at,
            author: c.author,
            body: c.body,
        })
        .collect();
    let mut incidents = Vec::new();
    let mut linked_tickets = Vec::new();
    let mut post_mortems = Vec::new();
    for link in tx.ticket_links(ticket.id).await? {
        match link {
            TicketLink::Incident(id) => incidents.push(format!("INC-{id}")),
            TicketLink::PostMortem(id) => post_mortems.push(crate::post_mortems::number(id)),
            TicketLink::Ticket(id) => {
                linked_tickets.push(tx.ticket(id).await?.ticket.key.to_string())
            }
        }
    }
    let ticket_id = ticket.id;
    let commits = tx
        .ticket_commits(ticket.id)
        .await?
        .into_iter()
        .map(|c| CommitView {
            repository: c.repository,
            sha: c.sha,
            author_email: c.author_email,
            message: c.message,
            committed_at: c.committed_at,
        })
        .collect();
    Ok(Json(TicketDetail {
        ticket: ticket.into(),
        history,
        comments,
        incidents,
        linked_tickets,
        post_mortems,
        commits,
        attachments: tx
            .attachments(ticket_id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    }))
}

/// Fields to change; `null` clears `due`, `assignee_id` and `component`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub priority: Option<String>,
    pub status: Option<String>,
    pub labels: Option<Vec<String>>,
    #[schema(value_type = Option<String>)]
    #[serde(default, deserialize_with = "present")]
    pub due: Option<Value>,
    #[schema(value_type = Option<i64>)]
    #[serde(default, deserialize_with = "present")]
    pub assignee_id: Option<Value>,
    #[schema(value_type = Option<String>)]
    #[serde(default, deserialize_with = "present")]
    pub component: Option<Value>,
}

/// Reads a field that is there, even as `null`, as `Some`: serde's own `Option` reads `null`
/// as absent, and here `null` means "clear it" while absent means "leave it".
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

fn changes(patch: &TicketPatch) -> ApiResult<Vec<TicketChange>> {
    let mut out = Vec::new();
    if let Some(title) = &patch.title {
        if title.trim().is_empty() {
            return Err(ApiError::invalid("title", "a ticket needs a title"));
        }
        out.push(TicketChange::Title(title.trim().to_owned()));
    }
    if let Some(text) = &patch.description {
        out.push(TicketChange::Description(text.clone()));
    }
    if let Some(text) = &patch.kind {
        out.push(TicketChange::Kind(kind(text)?));
    }
    if let Some(text) = &patch.priority {
        out.push(TicketChange::Priority(priority(text)?));
    }
    if let Some(text) = &patch.status {
        out.push(TicketChange::Status(
            text.parse()
                .map_err(|e: String| ApiError::invalid("status", e))?,
        ));
    }
    if let Some(list) = &patch.labels {
        out.push(TicketChange::Labels(labels(list)?));
    }
    match &patch.due {
        None => {}
        Some(Value::Null) => out.push(TicketChange::Due(None)),
        Some(Value::String(text)) => out.push(TicketChange::Due(Some(date(text, "due")?))),
        Some(_) => {
            return Err(ApiError::invalid(
                "due",
                "`due` is a date (YYYY-MM-DD) or null",
            ))
        }
    }
    match &patch.assignee_id {
        None => {}
        Some(Value::Null) => out.push(TicketChange::Assignee(None)),
        Some(value) => match value.as_i64() {
            Some(id) => out.push(TicketChange::Assignee(Some(UserId(id)))),
            None => {
                return Err(ApiError::invalid(
                    "assignee_id",
                    "`assignee_id` is a user id or null",
                ))
            }
        },
    }
    match &patch.component {
        None => {}
        Some(Value::Null) => out.push(TicketChange::Component(None)),
        Some(Value::String(text)) => out.push(TicketChange::Component(
            Some(text.clone()).filter(|c| !c.trim().is_empty()),
        )),
        Some(_) => {
            return Err(ApiError::invalid(
                "component",
                "`component` is text or null",
            ))
        }
    }
    Ok(out)
}

/// Changes a ticket (responder); every change lands in its history.
#[utoipa::path(patch, path = "/api/v1/tickets/{key}", tag = "tickets", request_body = TicketPatch,
    params(("key" = String, Path, description = "`UF-123`")),
    responses((status = 200, body = TicketView), (status = 400, body = ApiError), (status = 404, body = ApiError)), security(("token" = [])))]
pub(crate) async fn update_ticket(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(text): ApiPath<String>,
    ApiJson(patch): ApiJson<TicketPatch>,
) -> ApiResult<Json<TicketView>> {
    caller.require(Role::Responder)?;
    let key = key(&text)?;
    let changes = changes(&patch)?;
    let mut tx = state.store.write().await?;
    let ticket = tx.ticket_by_key(&key).await?;
    for change in &changes {
        if let TicketChange::Assignee(Some(user)) = change {
            tx.user(*user).await.map_err(|_| {
                ApiError::from(watchbill_store::StoreError::reference(
                    format!("user {user} does not exist"),
                    "assignee_id",
                ))
            })?;
        }
    }
    let updated = tx.update_ticket(ticket.id, &changes, &caller.label).await?;
    let (taken, finished) = requesters::happenings(&ticket, &updated);
    if taken {
        requesters::tell_taken(tx.as_mut(), &state.public_url, &updated, caller.user).await?;
    }
    if finished {
        requesters::tell(
            tx.as_mut(),
            &state.public_url,
            &updated,
            Happening::Finished,
            caller.user,
        )
        .await?;
    }
    tx.commit().await?;
    state.wake.notify_one();
    Ok(Json(updated.into()))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    /// The key prefix of the team's tickets: a letter, then letters or digits (`UF`).
    pub prefix: String,
    /// The maintenance-duty queue's filter; default open `product-maintenance-duty` tickets,
    /// most urgent first.
    #[serde(default)]
    pub duty_filter: Option<String>,
    /// Give new tickets the duty filter selects, filed without an assignee, to the Captain
    /// On-Call.
    #[serde(default)]
    pub assign_to_captain: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SettingsView {
    pub team_id: i64,
    pub prefix: String,
    pub duty_filter: String,
    pub assign_to_captain: bool,
}

impl From<TicketSettings> for SettingsView {
    fn from(settings: TicketSettings) -> SettingsView {
        SettingsView {
            team_id: settings.team_id.0,
            prefix: settings.prefix,
            duty_filter: settings.duty_filter,
            assign_to_captain: settings.assign_to_captain,
        }
    }
}

/// A team's ticket settings from what a person wrote, checked: the prefix a team key of at
/// most ten characters, the duty filter one that parses (by default [`DEFAULT_DUTY_FILTER`]).
/// Errors name the field under `field_prefix` (`teams[0].tickets.` in an organisation file).
pub fn ticket_settings(
    team: TeamId,
    prefix: &str,
    duty_filter: Option<&str>,
    assign_to_captain: bool,
    field_prefix: &str,
) -> ApiResult<TicketSettings> {
    let prefix = normalise_team_key(prefix.trim())
        .filter(|p| p.len() <= 10)
        .ok_or_else(|| {
            ApiError::invalid(
                format!("{field_prefix}prefix"),
                "a prefix is a letter, then letters or digits, at most 10 (e.g. UF)",
            )
        })?;
    let duty_filter = duty_filter.unwrap_or(DEFAULT_DUTY_FILTER).to_owned();
    parse_filter(&duty_filter, &format!("{field_prefix}duty_filter"))?;
    Ok(TicketSettings {
        team_id: team,
        prefix,
        duty_filter,
        assign_to_captain,
    })
}

/// A team's ticket settings.
#[utoipa::path(get, path = "/api/v1/teams/{id}/ticket-settings", tag = "tickets", params(("id" = i64, Path, description = "Team id")),
    responses((status = 200, body = SettingsView), (status = 404, body = ApiError)), security(("token" = [])))]
async fn get_settings(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<SettingsView>> {
    let mut tx = state.store.read().await?;
    let settings = tx
        .ticket_settings(TeamId(id))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("ticket settings of team {id}")))?;
    Ok(Json(settings.into()))
}

/// Sets a team's ticket prefix and duty filter (manager).
#[utoipa::path(put, path = "/api/v1/teams/{id}/ticket-settings", tag = "tickets", request_body = SettingsBody,
    params(("id" = i64, Path, description = "Team id")),
    responses((status = 200, body = SettingsView), (status = 400, body = ApiError), (status = 409, body = ApiError)), security(("token" = [])))]
pub(crate) async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<SettingsBody>,
) -> ApiResult<Json<SettingsView>> {
    caller.require(Role::Manager)?;
    let settings = ticket_settings(
        TeamId(id),
        &body.prefix,
        body.duty_filter.as_deref(),
        body.assign_to_captain,
        "",
    )?;
    let mut tx = state.store.write().await?;
    tx.set_ticket_settings(&settings).await?;
    tx.record_audit(
        &caller.label,
        "ticket_settings.update",
        &format!("team {id} prefix {}", settings.prefix),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(settings.into()))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DutyQueue {
    pub team_id: i64,
    /// The Captain On-Call now, whose queue this is.
    pub captain: Option<PersonView>,
    pub filter: String,
    pub tickets: Vec<TicketView>,
}

/// The team's maintenance-duty queue: its duty filter over its own tickets, with the captain
/// who works it this week (`currentDuty()` in the filter).
#[utoipa::path(get, path = "/api/v1/teams/{id}/duty-queue", tag = "tickets", params(("id" = i64, Path, description = "Team id")),
    responses((status = 200, body = DutyQueue), (status = 404, body = ApiError)), security(("token" = [])))]
pub(crate) async fn duty_queue(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<DutyQueue>> {
    let team = TeamId(id);
    let mut tx = state.store.read().await?;
    let settings = tx
        .ticket_settings(team)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("ticket settings of team {id}")))?;
    let mut query = parse_filter(&settings.duty_filter, "duty_filter")?;
    // The queue holds the team's own tickets only.
    let own = parse_filter(&format!("team = {}", settings.prefix), "duty_filter")?.filter;
    query.filter = match (own, query.filter.take()) {
        (Some(own), Some(rest)) => Some(Expr::And(vec![own, rest])),
        (own, rest) => own.or(rest),
    };
    let users = directory(tx.as_mut()).await?;
    let duty = captain(&state, tx.as_mut(), team).await?;
    let compiled = {
        let mut context =
            Context::new(state.clock.now(), jiff::tz::TimeZone::UTC).with_users(&users);
        if let Some(user) = duty {
            context = context.with_current_duty(user);
        }
        if let Some(user) = caller.user {
            context = context.with_current_user(user);
        }
        compile(&query, &context)
    };
    let tickets = tx.find_tickets(&compiled, 500).await?;
    let captain = match duty {
        Some(user) => tx.user(user).await.ok().map(|u| PersonView {
            id: u.id.0,
            name: u.name,
            email: u.email,
            photo_url: u.photo_url,
        }),
        None => None,
    };
    Ok(Json(DutyQueue {
        team_id: id,
        captain,
        filter: settings.duty_filter,
        tickets: tickets.into_iter().map(TicketView::from).collect(),
    }))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    pub body: String,
}

/// Comments on a ticket (responder).
#[utoipa::path(post, path = "/api/v1/tickets/{key}/comments", tag = "tickets", request_body = CommentBody,
    params(("key" = String, Path, description = "`UF-123`")),
    responses((status = 201, body = CommentView), (status = 400, body = ApiError), (status = 404, body = ApiError)), security(("token" = [])))]
pub(crate) async fn add_comment(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(text): ApiPath<String>,
    ApiJson(body): ApiJson<CommentBody>,
) -> ApiResult<(StatusCode, Json<CommentView>)> {
    caller.require(Role::Responder)?;
    let key = key(&text)?;
    let text = body.body.trim();
    if text.is_empty() || text.len() > 50_000 {
        return Err(ApiError::invalid(
            "body",
            "a comment needs between 1 and 50,000 characters",
        ));
    }
    let mut tx = state.store.write().await?;
    let ticket = tx.ticket_by_key(&key).await?;
    let author = match caller.user {
        Some(user) => tx
            .user(user)
            .await
            .map(|u| u.name)
            .unwrap_or_else(|_| caller.label.clone()),
        None => caller.label.clone(),
    };
    let comment = tx.add_ticket_comment(ticket.id, &author, text).await?;
    requesters::tell(
        tx.as_mut(),
        &state.public_url,
        &ticket,
        Happening::Comment {
            id: comment.id,
            author: &author,
            body: text,
        },
        caller.user,
    )
    .await?;
    tx.commit().await?;
    state.wake.notify_one();
    Ok((
        StatusCode::CREATED,
        Json(CommentView {
            id: comment.id,
            at: comment.at,
            author: comment.author,
            body: comment.body,
        }),
    ))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    /// `INC-42` to link an incident.
    #[serde(default)]
    pub incident: Option<String>,
    /// `UF-7` to link another ticket (both ways).
    #[serde(default)]
    pub ticket: Option<String>,
}

/// Links a ticket to an incident or another ticket (responder).
#[utoipa::path(post, path = "/api/v1/tickets/{key}/links", tag = "tickets", request_body = LinkBody,
    params(("key" = String, Path, description = "`UF-123`")),
    responses((status = 204), (status = 400, body = ApiError), (status = 404, body = ApiError)), security(("token" = [])))]
async fn add_link(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(text): ApiPath<String>,
    ApiJson(body): ApiJson<LinkBody>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Responder)?;
    let key = key(&text)?;
    let mut tx = state.store.write().await?;
    let ticket = tx.ticket_by_key(&key).await?;
    let link = match (&body.incident, &body.ticket) {
        (Some(incident), None) => {
            let id = super::incidents::parse_incident(incident, "incident")?;
            tx.incident(id).await?;
            TicketLink::Incident(id)
        }
        (None, Some(other)) => {
            let other = tx
                .ticket_by_key(
                    &other
                        .parse()
                        .map_err(|e: String| ApiError::invalid("ticket", e))?,
                )
                .await?;
            if other.id == ticket.id {
                return Err(ApiError::invalid(
                    "ticket",
                    "a ticket cannot link to itself",
                ));
            }
            TicketLink::Ticket(other.id)
        }
        _ => {
            return Err(ApiError::invalid(
                "incident",
                "give exactly one of `incident` or `ticket`",
            ))
        }
    };
    tx.link_ticket(ticket.id, link).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpBody {
    /// Default: "Follow up INC-42: <incident title>".
    #[serde(default)]
    pub title: Option<String>,
    /// Default `bug`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Default `High`.
    #[serde(default)]
    pub priority: Option<String>,
    /// Default `["product-maintenance-duty"]`.
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    #[serde(default)]
    pub due: Option<String>,
}

/// Opens a follow-up ticket for an incident in its service's team, linked both ways
/// (responder). By default it is a high-priority duty ticket, so the week's captain sees it.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/follow-up", tag = "tickets", request_body = FollowUpBody,
    params(("id" = String, Path, description = "`INC-42` or `42`")),
    responses((status = 201, body = TicketView), (status = 404, body = ApiError), (status = 422, body = ApiError)), security(("token" = [])))]
pub(crate) async fn follow_up(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(text): ApiPath<String>,
    ApiJson(body): ApiJson<FollowUpBody>,
) -> ApiResult<(StatusCode, Json<TicketView>)> {
    caller.require(Role::Responder)?;
    let id = super::incidents::parse_incident(&text, "id")?;
    let mut tx = state.store.write().await?;
    let incident = tx.incident(id).await?;
    let service = tx.service(incident.service_id).await?;
    let input = NewTicket {
        team_id: service.team_id,
        title: body
            .title
            .clone()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| format!("Follow up INC-{}: {}", incident.id, incident.title)),
        description: format!(
            "Follow-up of INC-{} on {} ({} alert(s), opened {}).",
            incident.id, service.name, incident.alert_count, incident.created_at
        ),
        kind: body
            .kind
            .as_deref()
            .map(kind)
            .transpose()?
            .unwrap_or(TicketKind::Bug),
        priority: body
            .priority
            .as_deref()
            .map(priority)
            .transpose()?
            .unwrap_or(Priority::High),
        status: watchbill_core::tickets::TicketStatus::Open,
        labels: labels(
            body.labels
                .as_deref()
                .unwrap_or(&["product-maintenance-duty".to_owned()]),
        )?,
        due: body.due.as_deref().map(|d| date(d, "due")).transpose()?,
        reporter: caller.user,
        assignee: None,
        component: None,
    };
    let ticket = tx.insert_ticket(&input, &caller.label).await?;
    tx.link_ticket(ticket.id, TicketLink::Incident(incident.id))
        .await?;
    tx.log(
        incident.id,
        "follow_up",
        &caller.label,
        &format!("Follow-up ticket {} opened", ticket.ticket.key),
    )
    .await?;
    let ticket = assign_duty(&state, tx.as_mut(), ticket).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(ticket.into())))
}
