//! Tickets in bulk: importing a Jira CSV export, and changing every ticket a filter selects.
//! Both are one transaction: a bad row or an unknown name changes nothing.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::tickets::filter::{compile, parse, Context};
use watchbill_core::tickets::{Priority, TicketKind, TicketStatus};
use watchbill_core::{Role, TeamId, UserId};
use watchbill_store::tickets::{NewTicket, TicketChange};
use watchbill_store::Tx;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{ApiBytes, ApiJson, ApiPath};
use crate::paging::requesters;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_csv))
        .routes(routes!(bulk_edit))
}

/// The largest CSV an import takes.
pub const IMPORT_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// The most rows one import takes.
const MAX_ROWS: usize = 200_000;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    /// How many tickets were filed.
    pub imported: usize,
    /// The new keys, in the file's order.
    pub keys: Vec<String>,
}

/// Users by lower-cased email and by lower-cased name, as Jira exports either.
async fn people(tx: &mut dyn Tx) -> ApiResult<HashMap<String, UserId>> {
    let mut known = HashMap::new();
    for user in tx.users().await? {
        known.insert(user.email.to_lowercase(), user.id);
        known.insert(user.name.to_lowercase(), user.id);
    }
    Ok(known)
}

fn jira_priority(text: &str) -> Option<Priority> {
    match text.trim().to_lowercase().as_str() {
        "highest" | "blocker" => Some(Priority::Highest),
        "high" | "critical" => Some(Priority::High),
        "" | "medium" | "major" => Some(Priority::Medium),
        "low" | "minor" => Some(Priority::Low),
        "lowest" | "trivial" => Some(Priority::Lowest),
        _ => None,
    }
}

fn jira_status(text: &str) -> Option<TicketStatus> {
    match text.trim().to_lowercase().as_str() {
        "" | "open" | "to do" | "todo" | "backlog" | "reopened" | "selected for development" => {
            Some(TicketStatus::Open)
        }
        "in progress" | "in review" | "in_progress" => Some(TicketStatus::InProgress),
        "resolved" => Some(TicketStatus::Resolved),
        "done" | "closed" => Some(TicketStatus::Closed),
        _ => None,
    }
}

fn jira_kind(text: &str) -> TicketKind {
    match text.trim().to_lowercase().as_str() {
        "bug" | "defect" => TicketKind::Bug,
        "story" | "feature" | "new feature" | "epic" | "improvement" => TicketKind::Feature,
        "maintenance" | "chore" => TicketKind::Maintenance,
        _ => TicketKind::Task,
    }
}

/// Jira's due dates: `2026-12-01`, `2026-12-01 17:00`, or `01/Dec/26 5:00 PM`.
fn jira_date(text: &str) -> Option<jiff::civil::Date> {
    let text = text.trim();
    if let Ok(date) = text.get(..10).unwrap_or(text).parse::<jiff::civil::Date>() {
        return Some(date);
    }
    let day_month_year = text.split_whitespace().next()?;
    let mut parts = day_month_year.split('/');
    let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
    let months = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let month = months
        .iter()
        .position(|m| month.to_lowercase().starts_with(m))?
        + 1;
    let year: i16 = year.parse().ok()?;
    let year = if year < 100 { 2000 + year } else { year };
    jiff::civil::Date::new(year, i8::try_from(month).ok()?, day.parse().ok()?).ok()
}

fn row_error(line: u64, message: String) -> ApiError {
    ApiError::invalid(format!("row {line}"), format!("row {line}: {message}"))
}

/// Imports a Jira CSV export (`text/csv`): issue key, summary, description, labels (one or
/// more `Labels` columns), priority, due date, status, assignee, issue type (manager). Every
/// row becomes a ticket of the team, or nothing is imported.
#[utoipa::path(post, path = "/api/v1/teams/{id}/tickets/import", tag = "tickets",
    params(("id" = i64, Path, description = "Team id")),
    request_body(content = String, description = "A Jira CSV export", content_type = "text/csv"),
    responses((status = 201, body = ImportReport), (status = 400, body = ApiError), (status = 422, body = ApiError)),
    security(("token" = [])))]
pub(crate) async fn import_csv(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiBytes(body): ApiBytes,
) -> ApiResult<(StatusCode, Json<ImportReport>)> {
    caller.require(Role::Manager)?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(body.as_ref());
    let headers = reader
        .headers()
        .map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidInput,
                format!("the CSV header cannot be read: {e}"),
            )
        })?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let summary = column("Summary")
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidInput, "the CSV has no `Summary` column"))?;
    let (key, description, priority, status, assignee, kind) = (
        column("Issue key"),
        column("Description"),
        column("Priority"),
        column("Status"),
        column("Assignee"),
        column("Issue Type"),
    );
    let due = column("Due Date").or_else(|| column("Due date"));
    let label_columns: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| h.trim().eq_ignore_ascii_case("Labels"))
        .map(|(i, _)| i)
        .collect();
    let mut tx = state.store.write().await?;
    let users = people(tx.as_mut()).await?;
    let mut rows: Vec<(NewTicket, String)> = Vec::new();
    // Rows count as a spreadsheet shows them: the header is row 1, the first ticket row 2.
    for (index, record) in reader.records().enumerate() {
        let line = index as u64 + 2;
        let record = record.map_err(|e| row_error(line, format!("the row cannot be read: {e}")))?;
        if rows.len() >= MAX_ROWS {
            return Err(row_error(
                line,
                format!("an import takes at most {MAX_ROWS} rows"),
            ));
        }
        let cell = |index: Option<usize>| index.and_then(|i| record.get(i)).unwrap_or("").trim();
        let title = cell(Some(summary));
        if title.is_empty() {
            return Err(row_error(line, "the summary is empty".to_owned()));
        }
        let priority_text = cell(priority);
        let priority = jira_priority(priority_text)
            .ok_or_else(|| row_error(line, format!("`{priority_text}` is not a priority")))?;
        let status_text = cell(status);
        let status = jira_status(status_text)
            .ok_or_else(|| row_error(line, format!("`{status_text}` is not a status")))?;
        let due_text = cell(due);
        let due = if due_text.is_empty() {
            None
        } else {
            Some(
                jira_date(due_text)
                    .ok_or_else(|| row_error(line, format!("`{due_text}` is not a due date")))?,
            )
        };
        let assignee_text = cell(assignee);
        let assignee =
            if assignee_text.is_empty() || assignee_text.eq_ignore_ascii_case("unassigned") {
                None
            } else {
                Some(*users.get(&assignee_text.to_lowercase()).ok_or_else(|| {
                    row_error(
                        line,
                        format!("no user is `{assignee_text}`; add them first"),
                    )
                })?)
            };
        let mut labels: Vec<String> = label_columns
            .iter()
            .filter_map(|i| record.get(*i))
            .flat_map(|cell| cell.split_whitespace())
            .map(str::to_owned)
            .collect();
        labels.sort();
        labels.dedup();
        let original = cell(key);
        let actor = if original.is_empty() {
            format!("{} (import)", caller.label)
        } else {
            format!("{} (import of {original})", caller.label)
        };
        rows.push((
            NewTicket {
                team_id: TeamId(id),
                title: title.to_owned(),
                description: cell(description).to_owned(),
                kind: jira_kind(cell(kind)),
                priority,
                status,
                labels,
                due,
                reporter: caller.user,
                assignee,
                component: None,
            },
            actor,
        ));
    }
    let keys: Vec<String> = tx
        .insert_tickets(TeamId(id), &rows)
        .await?
        .iter()
        .map(|t| t.ticket.key.to_string())
        .collect();
    tx.record_audit(
        &caller.label,
        "tickets.import",
        &format!("team {id}: {} ticket(s)", keys.len()),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(ImportReport {
            imported: keys.len(),
            keys,
        }),
    ))
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkSet {
    /// An email; `""` unassigns.
    pub assignee: Option<String>,
    pub priority: Option<String>,
    #[serde(default)]
    pub add_labels: Vec<String>,
    #[serde(default)]
    pub remove_labels: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    /// The tickets to change, as a filter.
    pub filter: String,
    pub set: BulkSet,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkReport {
    pub changed: usize,
    pub keys: Vec<String>,
}

/// Changes every ticket a filter selects: assign, relabel, reprioritise (responder). All or
/// nothing.
#[utoipa::path(post, path = "/api/v1/tickets/bulk", tag = "tickets", request_body = BulkBody,
    responses((status = 200, body = BulkReport), (status = 400, body = ApiError), (status = 422, body = ApiError)),
    security(("token" = [])))]
pub(crate) async fn bulk_edit(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<BulkBody>,
) -> ApiResult<Json<BulkReport>> {
    caller.require(Role::Responder)?;
    let query = parse(&body.filter).map_err(|e| ApiError::invalid("filter", e.to_string()))?;
    let priority = body
        .set
        .priority
        .as_deref()
        .map(|p| {
            p.parse::<Priority>()
                .map_err(|e| ApiError::invalid("set.priority", e))
        })
        .transpose()?;
    for (field, list) in [
        ("set.add_labels", &body.set.add_labels),
        ("set.remove_labels", &body.set.remove_labels),
    ] {
        for (i, label) in list.iter().enumerate() {
            if label.trim().is_empty() || label.contains(char::is_whitespace) {
                return Err(ApiError::invalid(
                    format!("{field}[{i}]"),
                    format!("`{label}` is not a label"),
                ));
            }
        }
    }
    let mut tx = state.store.write().await?;
    let emails = super::tickets::directory(tx.as_mut()).await?;
    let assignee = match body.set.assignee.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(email) => Some(Some(*emails.get(&email.to_lowercase()).ok_or_else(
            || ApiError {
                code: ErrorCode::UnknownReference,
                message: format!("no user has the email `{email}`").into(),
                field: Some("set.assignee".into()),
            },
        )?)),
    };
    let compiled = {
        let mut context =
            Context::new(state.clock.now(), jiff::tz::TimeZone::UTC).with_users(&emails);
        if let Some(user) = caller.user {
            context = context.with_current_user(user);
        }
        compile(&query, &context)
    };
    let tickets = tx.find_tickets(&compiled, 10_000).await?;
    let mut keys = Vec::with_capacity(tickets.len());
    for stored in tickets {
        let mut changes = Vec::new();
        if let Some(assignee) = assignee {
            changes.push(TicketChange::Assignee(assignee));
        }
        if let Some(priority) = priority {
            changes.push(TicketChange::Priority(priority));
        }
        if !body.set.add_labels.is_empty() || !body.set.remove_labels.is_empty() {
            let mut labels: Vec<String> = stored
                .ticket
                .labels
                .iter()
                .filter(|l| !body.set.remove_labels.contains(l))
                .cloned()
                .chain(body.set.add_labels.iter().map(|l| l.trim().to_owned()))
                .collect();
            labels.sort();
            labels.dedup();
            changes.push(TicketChange::Labels(labels));
        }
        let updated = tx.update_ticket(stored.id, &changes, &caller.label).await?;
        if requesters::happenings(&stored, &updated).0 {
            requesters::tell_taken(tx.as_mut(), &state.public_url, &updated, caller.user).await?;
        }
        keys.push(stored.ticket.key.to_string());
    }
    tx.record_audit(
        &caller.label,
        "tickets.bulk",
        &format!("{} ticket(s): {}", keys.len(), body.filter),
    )
    .await?;
    tx.commit().await?;
    state.wake.notify_one();
    Ok(Json(BulkReport {
        changed: keys.len(),
        keys,
    }))
}
