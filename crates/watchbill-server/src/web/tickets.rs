//! Tickets: a list selected by the filter language with a bulk edit, a ticket's page with its
//! Markdown, comments and history, filing a ticket, and the team's maintenance-duty queue.
//! Each form goes through the API's own handler.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use serde::Deserialize;
use serde_json::Value;
use watchbill_core::tickets::{Priority, TicketKind, TicketStatus};
use watchbill_core::{Role, TeamId, UserId};
use watchbill_store::tickets::StoredTicket;

use super::format::{when, words, zone};
use super::markdown;
use super::session::read_upload;
use super::{render, see_other, Posted, Shell, Viewer, WebResult};
use crate::api::attachments::{download, upload as upload_attachment, UploadQuery};
use crate::api::filters::{create_filter, FilterBody};
use crate::api::ticket_bulk::{bulk_edit, import_csv, BulkBody, BulkSet};
use crate::api::tickets::{
    add_comment, create_ticket, duty_queue, follow_up, get_ticket, list_tickets, parse_filter,
    put_settings, select, update_ticket, CommentBody, FollowUpBody, NewTicketBody, SettingsBody,
    TicketPatch, TicketQuery, TicketView,
};
use crate::error::{ApiError, ErrorCode};
use crate::extract::{ApiBytes, ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

/// How many tickets a list shows.
const LIMIT: usize = 200;

/// One row of a ticket table.
pub struct TicketRow {
    key: String,
    title: String,
    kind: String,
    priority: String,
    status: String,
    labels: Vec<String>,
    due: String,
    overdue: bool,
    assignee: String,
}

fn row(view: TicketView, names: &HashMap<UserId, String>, today: Date) -> TicketRow {
    let open = matches!(view.status.as_str(), "open" | "in_progress");
    let overdue = open
        && view
            .due
            .as_deref()
            .and_then(|d| d.parse::<Date>().ok())
            .is_some_and(|due| due < today);
    TicketRow {
        assignee: view
            .assignee_id
            .and_then(|id| names.get(&UserId(id)).cloned())
            .unwrap_or_else(|| "nobody".to_owned()),
        key: view.key,
        title: view.title,
        kind: view.kind,
        priority: view.priority,
        status: view.status,
        labels: view.labels,
        due: view.due.unwrap_or_default(),
        overdue,
    }
}

async fn names(state: &AppState) -> WebResult<HashMap<UserId, String>> {
    let mut tx = state.store.read().await?;
    Ok(tx
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect())
}

async fn teams(state: &AppState) -> WebResult<Vec<(i64, String)>> {
    let mut tx = state.store.read().await?;
    Ok(tx
        .teams()
        .await?
        .into_iter()
        .map(|t| (t.id.0, t.name))
        .collect())
}

fn today(state: &AppState, viewer: &Viewer) -> Date {
    state
        .clock
        .now()
        .to_zoned(zone(&viewer.user.time_zone))
        .date()
}

#[derive(Template)]
#[template(path = "tickets.html")]
struct ListPage {
    shell: Shell,
    filter: String,
    team: Option<i64>,
    teams: Vec<(i64, String)>,
    error: Option<String>,
    saved: Vec<(String, String)>,
    tickets: Vec<TicketRow>,
    limit: usize,
    can_act: bool,
    can_manage: bool,
    priorities: Vec<&'static str>,
    kinds: Vec<&'static str>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    filter: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    notice: String,
}

pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> WebResult<Response> {
    let team = query.team.trim().parse::<i64>().ok();
    let text = if query.filter.trim().is_empty() {
        "status IN (open, in_progress) ORDER BY priority DESC, due ASC".to_owned()
    } else {
        query.filter.trim().to_owned()
    };
    let (tickets, error, status) = match parse_filter(&text, "filter") {
        Ok(parsed) => {
            let (found, _) = select(
                &state,
                &viewer.caller(),
                &parsed,
                team.map(TeamId),
                LIMIT as i64,
            )
            .await?;
            (found, None, StatusCode::OK)
        }
        Err(error) => (
            Vec::new(),
            Some(error.message.to_string()),
            StatusCode::BAD_REQUEST,
        ),
    };
    let names = names(&state).await?;
    let today = today(&state, &viewer);
    let saved = {
        let mut tx = state.store.read().await?;
        tx.saved_filters(None, Some(viewer.user.id))
            .await?
            .into_iter()
            .map(|f| (f.name, f.query))
            .collect()
    };
    let mut shell = Shell::new(&viewer, "tickets");
    shell.notice = Some(query.notice).filter(|n| !n.is_empty());
    let page = ListPage {
        shell,
        filter: text,
        team,
        teams: teams(&state).await?,
        error,
        saved,
        tickets: rows(tickets, &names, today),
        limit: LIMIT,
        can_act: viewer.can(Role::Responder),
        can_manage: viewer.can(Role::Manager),
        priorities: Priority::ALL.iter().map(|p| p.as_str()).collect(),
        kinds: TicketKind::ALL.iter().map(|k| k.as_str()).collect(),
    };
    Ok((status, render(&page)).into_response())
}

fn rows(
    tickets: Vec<StoredTicket>,
    names: &HashMap<UserId, String>,
    today: Date,
) -> Vec<TicketRow> {
    tickets
        .into_iter()
        .map(|t| row(TicketView::from(t), names, today))
        .collect()
}

#[derive(Debug, Deserialize)]
pub struct BulkForm {
    filter: String,
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    add_labels: String,
    #[serde(default)]
    remove_labels: String,
}

/// Applies one change to every ticket the filter selects, all or nothing.
pub async fn bulk(
    State(state): State<AppState>,
    Posted { viewer, form }: Posted<BulkForm>,
) -> WebResult<Response> {
    let body = BulkBody {
        filter: form.filter.clone(),
        set: BulkSet {
            assignee: Some(form.assignee.trim().to_owned()).filter(|a| !a.is_empty()),
            priority: Some(form.priority).filter(|p| !p.is_empty()),
            add_labels: words(&form.add_labels),
            remove_labels: words(&form.remove_labels),
        },
    };
    let axum::Json(report) = bulk_edit(State(state), viewer.caller(), ApiJson(body)).await?;
    let filter: String = form_urlencoded::byte_serialize(form.filter.as_bytes()).collect();
    let notice: String = form_urlencoded::byte_serialize(
        format!("Changed {} ticket(s).", report.changed).as_bytes(),
    )
    .collect();
    Ok(see_other(&format!(
        "/tickets?filter={filter}&notice={notice}"
    )))
}

#[derive(Debug, Deserialize)]
pub struct NewForm {
    team_id: i64,
    title: String,
    #[serde(default)]
    description: String,
    #[serde(rename = "type")]
    kind: String,
    priority: String,
    #[serde(default)]
    labels: String,
    #[serde(default)]
    due: String,
}

pub async fn create(
    State(state): State<AppState>,
    Posted { viewer, form }: Posted<NewForm>,
) -> WebResult<Response> {
    let body = NewTicketBody {
        team_id: form.team_id,
        title: form.title,
        description: form.description,
        kind: Some(form.kind),
        priority: Some(form.priority),
        labels: words(&form.labels),
        due: Some(form.due).filter(|d| !d.is_empty()),
        assignee_id: None,
        component: None,
    };
    let (_, axum::Json(ticket)) =
        create_ticket(State(state), viewer.caller(), ApiJson(body)).await?;
    Ok(see_other(&format!("/tickets/{}", ticket.key)))
}

struct CommentRow {
    author: String,
    at: String,
    html: String,
}

struct HistoryRow {
    at: String,
    actor: String,
    what: String,
}

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPage {
    shell: Shell,
    t: TicketRow,
    reporter: String,
    component: String,
    description_html: String,
    labels_text: String,
    assignee_id: Option<i64>,
    can_act: bool,
    statuses: Vec<&'static str>,
    priorities: Vec<&'static str>,
    people: Vec<(i64, String)>,
    incidents: Vec<(String, String)>,
    linked: Vec<String>,
    /// The post-mortems this ticket is an action item of: number and id.
    post_mortems: Vec<(String, String)>,
    commits: Vec<String>,
    /// (id, name, size and uploader).
    attachments: Vec<(i64, String, String)>,
    comments: Vec<CommentRow>,
    history: Vec<HistoryRow>,
}

pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(key): Path<String>,
) -> WebResult<Response> {
    let axum::Json(detail) =
        get_ticket(State(state.clone()), viewer.caller(), ApiPath(key)).await?;
    let names = names(&state).await?;
    let zone = zone(&viewer.user.time_zone);
    let mut people: Vec<(i64, String)> = names.iter().map(|(id, n)| (id.0, n.clone())).collect();
    people.sort_by(|a, b| a.1.cmp(&b.1));
    let view = detail.ticket;
    Ok(render(&TicketPage {
        shell: Shell::new(&viewer, "tickets"),
        reporter: view
            .reporter_id
            .and_then(|id| names.get(&UserId(id)).cloned())
            .unwrap_or_else(|| "nobody".to_owned()),
        component: view.component.clone().unwrap_or_default(),
        description_html: markdown::render(&view.description),
        labels_text: view.labels.join(" "),
        assignee_id: view.assignee_id,
        t: row(view, &names, today(&state, &viewer)),
        can_act: viewer.can(Role::Responder),
        statuses: TicketStatus::ALL.iter().map(|s| s.as_str()).collect(),
        priorities: Priority::ALL.iter().map(|p| p.as_str()).collect(),
        people,
        incidents: detail
            .incidents
            .into_iter()
            .map(|number| {
                let id = number.trim_start_matches("INC-").to_owned();
                (number, id)
            })
            .collect(),
        linked: detail.linked_tickets,
        post_mortems: detail
            .post_mortems
            .into_iter()
            .map(|number| {
                let id = number.trim_start_matches("PM-").to_owned();
                (number, id)
            })
            .collect(),
        commits: detail
            .commits
            .into_iter()
            .map(|c| {
                let sha: String = c.sha.chars().take(10).collect();
                format!(
                    "{} {sha} {}",
                    c.repository,
                    c.message.lines().next().unwrap_or("")
                )
            })
            .collect(),
        attachments: detail
            .attachments
            .into_iter()
            .map(|a| {
                (
                    a.id,
                    a.filename,
                    format!("{} bytes, from {}", a.size, a.uploaded_by),
                )
            })
            .collect(),
        comments: detail
            .comments
            .into_iter()
            .map(|c| CommentRow {
                author: c.author,
                at: when(c.at, &zone),
                html: markdown::render(&c.body),
            })
            .collect(),
        history: detail
            .history
            .into_iter()
            .map(|h| HistoryRow {
                at: when(h.at, &zone),
                actor: h.actor,
                what: match (h.old_value.is_empty(), h.new_value.is_empty()) {
                    (true, _) => format!("set {} to {}", h.field, h.new_value),
                    (false, true) => format!("cleared {} (was {})", h.field, h.old_value),
                    (false, false) => {
                        format!(
                            "changed {} from {} to {}",
                            h.field, h.old_value, h.new_value
                        )
                    }
                },
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize)]
pub struct EditForm {
    status: String,
    priority: String,
    #[serde(default)]
    assignee_id: String,
    #[serde(default)]
    due: String,
    #[serde(default)]
    labels: String,
}

/// Saves the edit form: every field is sent, and the API records only what changed.
pub async fn edit(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Posted { viewer, form }: Posted<EditForm>,
) -> WebResult<Response> {
    let assignee = match form.assignee_id.trim() {
        "" => Value::Null,
        text => Value::from(
            text.parse::<i64>()
                .map_err(|_| ApiError::invalid("assignee_id", "choose a person"))?,
        ),
    };
    let patch = TicketPatch {
        title: None,
        description: None,
        kind: None,
        priority: Some(form.priority),
        status: Some(form.status),
        labels: Some(words(&form.labels)),
        due: Some(match form.due.trim() {
            "" => Value::Null,
            text => Value::from(text),
        }),
        assignee_id: Some(assignee),
        component: None,
    };
    let _updated = update_ticket(
        State(state),
        viewer.caller(),
        ApiPath(key.clone()),
        ApiJson(patch),
    )
    .await?;
    Ok(see_other(&format!("/tickets/{key}")))
}

#[derive(Debug, Deserialize)]
pub struct CommentForm {
    body: String,
}

pub async fn comment(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Posted { viewer, form }: Posted<CommentForm>,
) -> WebResult<Response> {
    let body = CommentBody { body: form.body };
    let _added = add_comment(
        State(state),
        viewer.caller(),
        ApiPath(key.clone()),
        ApiJson(body),
    )
    .await?;
    Ok(see_other(&format!("/tickets/{key}")))
}

#[derive(Template)]
#[template(path = "duty.html")]
struct DutyPage {
    shell: Shell,
    team_id: i64,
    team_name: String,
    teams: Vec<(i64, String)>,
    captain: Option<String>,
    mine: bool,
    filter: String,
    tickets: Vec<TicketRow>,
    can_manage: bool,
    prefix: String,
    assign_to_captain: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct DutyQuery {
    #[serde(default)]
    team: String,
}

/// "My duty queue": the team's duty filter, worked by its captain of the moment. Without a
/// team named, the team whose duty the viewer holds, else the viewer's first team.
pub async fn duty(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<DutyQuery>,
) -> WebResult<Response> {
    let now = state.clock.now();
    let (team, team_name) = {
        let mut tx = state.store.read().await?;
        let roster = state.roster.get(tx.as_mut(), now).await?;
        let me = viewer.user.id;
        let chosen = match query.team.trim().parse::<i64>() {
            Ok(id) => roster.teams.iter().find(|t| t.id.0 == id),
            Err(_) => roster
                .teams
                .iter()
                .find(|t| roster.captain(t.id, now) == Some(me))
                .or_else(|| roster.teams.iter().find(|t| t.members.contains(&me)))
                .or_else(|| roster.teams.first()),
        }
        .ok_or_else(|| ApiError::not_found("that team"))?;
        (chosen.id.0, chosen.name.clone())
    };
    let axum::Json(queue) =
        duty_queue(State(state.clone()), viewer.caller(), ApiPath(team)).await?;
    let settings = {
        let mut tx = state.store.read().await?;
        tx.ticket_settings(TeamId(team)).await?
    };
    let names = names(&state).await?;
    let today = today(&state, &viewer);
    Ok(render(&DutyPage {
        shell: Shell::new(&viewer, "duty"),
        team_id: team,
        team_name,
        teams: teams(&state).await?,
        mine: queue
            .captain
            .as_ref()
            .is_some_and(|c| c.id == viewer.user.id.0),
        captain: queue.captain.map(|c| c.name),
        filter: queue.filter,
        tickets: queue
            .tickets
            .into_iter()
            .map(|t| row(t, &names, today))
            .collect(),
        can_manage: viewer.can(Role::Manager),
        prefix: settings
            .as_ref()
            .map(|s| s.prefix.clone())
            .unwrap_or_default(),
        assign_to_captain: settings.is_some_and(|s| s.assign_to_captain),
    }))
}

/// Opens a follow-up ticket for an incident, linked both ways, and shows it.
pub async fn follow_up_form(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Posted { viewer, .. }: Posted<super::account::Empty>,
) -> WebResult<Response> {
    let body: FollowUpBody = serde_json::from_str("{}")
        .map_err(|_| ApiError::new(ErrorCode::Internal, "internal error"))?;
    let (_, axum::Json(ticket)) = follow_up(
        State(state),
        viewer.caller(),
        ApiPath(id.to_string()),
        ApiJson(body),
    )
    .await?;
    Ok(see_other(&format!("/tickets/{}", ticket.key)))
}

#[derive(Debug, Deserialize)]
pub struct SaveFilterForm {
    name: String,
    query: String,
    #[serde(default)]
    team_id: String,
}

/// Saves the list's filter as the person's own, or (with a team) as the team's.
pub async fn save_filter(
    State(state): State<AppState>,
    Posted { viewer, form }: Posted<SaveFilterForm>,
) -> WebResult<Response> {
    let body = FilterBody {
        name: form.name,
        query: form.query.clone(),
        team_id: form.team_id.trim().parse().ok(),
    };
    let _saved = create_filter(State(state), viewer.caller(), ApiJson(body)).await?;
    let filter: String = form_urlencoded::byte_serialize(form.query.as_bytes()).collect();
    Ok(see_other(&format!(
        "/tickets?filter={filter}&notice=Filter+saved."
    )))
}

/// The list as CSV in the columns of a Jira export, to download.
pub async fn export_csv(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> WebResult<Response> {
    let query = TicketQuery {
        filter: Some(query.filter).filter(|f| !f.trim().is_empty()),
        team: query.team.trim().parse().ok(),
        limit: Some(10_000),
        format: Some("csv".to_owned()),
    };
    Ok(list_tickets(State(state), viewer.caller(), ApiQuery(query)).await?)
}

/// Imports a Jira CSV export into a team (manager), all or nothing.
pub async fn import(
    State(state): State<AppState>,
    Path(team): Path<i64>,
    request: Request,
) -> WebResult<Response> {
    let upload = read_upload(&state, request, "file", "2 MiB").await?;
    let (_, axum::Json(report)) = import_csv(
        State(state),
        upload.viewer.caller(),
        ApiPath(team),
        ApiBytes(upload.bytes),
    )
    .await?;
    let notice: String = form_urlencoded::byte_serialize(
        format!("Imported {} ticket(s).", report.imported).as_bytes(),
    )
    .collect();
    Ok(see_other(&format!("/tickets?notice={notice}")))
}

/// Attaches an uploaded file to a ticket.
pub async fn attach(
    State(state): State<AppState>,
    Path(key): Path<String>,
    request: Request,
) -> WebResult<Response> {
    let upload = read_upload(&state, request, "file", "2 MiB").await?;
    let mut headers = HeaderMap::new();
    if let Some(value) = upload
        .content_type
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
    {
        headers.insert(CONTENT_TYPE, value);
    }
    let query = UploadQuery {
        filename: upload.filename.unwrap_or_else(|| "file".to_owned()),
    };
    let _attached = upload_attachment(
        State(state),
        upload.viewer.caller(),
        ApiPath(key.clone()),
        ApiQuery(query),
        headers,
        ApiBytes(upload.bytes),
    )
    .await?;
    Ok(see_other(&format!("/tickets/{key}")))
}

/// Downloads an attachment (always as a download, never shown inline).
pub async fn attachment(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((key, id)): Path<(String, i64)>,
) -> WebResult<Response> {
    Ok(download(State(state), viewer.caller(), ApiPath((key, id))).await?)
}

#[derive(Debug, Deserialize)]
pub struct SettingsForm {
    prefix: String,
    duty_filter: String,
    #[serde(default)]
    assign_to_captain: Option<String>,
}

/// Saves a team's ticket prefix, duty filter and whether new duty tickets go to the captain
/// (manager).
pub async fn save_settings(
    State(state): State<AppState>,
    Path(team): Path<i64>,
    Posted { viewer, form }: Posted<SettingsForm>,
) -> WebResult<Response> {
    let body = SettingsBody {
        prefix: form.prefix,
        duty_filter: Some(form.duty_filter).filter(|f| !f.trim().is_empty()),
        assign_to_captain: form.assign_to_captain.is_some(),
    };
    let _saved = put_settings(State(state), viewer.caller(), ApiPath(team), ApiJson(body)).await?;
    Ok(see_other(&format!("/duty?team={team}")))
}
