//! The incident list with its filters, and an incident's page with its actions.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use watchbill_core::{IncidentId, Role, UserId};
use watchbill_store::paging::Incident;
use watchbill_store::Tx;

use super::format::{when, zone};
use super::{render, see_other, Posted, Shell, Viewer, WebResult};
use crate::api::incidents::{detail, perform, IncidentAction, IncidentQuery};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// One row of an incident table.
pub struct Row {
    pub id: i64,
    pub number: String,
    pub title: String,
    pub status: String,
    pub urgency: String,
    pub service: String,
    pub opened: String,
    pub assignees: String,
}

/// Names of services and people, for rows.
pub struct Names {
    services: HashMap<i64, String>,
    people: HashMap<UserId, String>,
}

impl Names {
    pub async fn load(tx: &mut dyn Tx) -> ApiResult<Names> {
        Ok(Names {
            services: tx
                .services()
                .await?
                .into_iter()
                .map(|s| (s.id.0, s.name))
                .collect(),
            people: tx
                .users()
                .await?
                .into_iter()
                .map(|u| (u.id, u.name))
                .collect(),
        })
    }

    pub fn person(&self, id: UserId) -> String {
        self.people
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("user {id}"))
    }

    pub fn people(&self, ids: &[UserId]) -> String {
        if ids.is_empty() {
            return "nobody".to_owned();
        }
        ids.iter()
            .map(|id| self.person(*id))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn row(&self, incident: &Incident, viewer: &Viewer) -> Row {
        Row {
            id: incident.id.0,
            number: format!("INC-{}", incident.id),
            title: incident.title.clone(),
            status: incident.status.to_string(),
            urgency: incident.urgency.as_str().to_owned(),
            service: self
                .services
                .get(&incident.service_id.0)
                .cloned()
                .unwrap_or_default(),
            opened: when(incident.created_at, &zone(&viewer.user.time_zone)),
            assignees: self.people(&incident.assignees),
        }
    }
}

/// The list's filter, as the form sends it: empty fields mean "any".
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    pub urgency: String,
    #[serde(default)]
    pub since: String,
    #[serde(default)]
    before: String,
}

/// The filter as the template shows it back.
pub struct Shown {
    pub status: String,
    pub team: Option<i64>,
    pub service: Option<i64>,
    pub urgency: String,
    pub since: String,
}

fn number(field: &'static str, text: &str) -> ApiResult<Option<i64>> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.trim()
        .parse()
        .map(Some)
        .map_err(|_| ApiError::invalid(field, format!("`{text}` is not a number")))
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct ListPage {
    shell: Shell,
    rows: Vec<Row>,
    query: Shown,
    statuses: Vec<(&'static str, &'static str)>,
    teams: Vec<(i64, String)>,
    services: Vec<(i64, String)>,
    older: Option<String>,
}

const PAGE_SIZE: i64 = 50;

pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(form): Query<ListQuery>,
) -> WebResult<Response> {
    let status = if form.status.is_empty() {
        "open".to_owned()
    } else {
        form.status.clone()
    };
    let query = IncidentQuery {
        status: Some(status.clone()).filter(|s| s != "all"),
        team: number("team", &form.team)?,
        service: number("service", &form.service)?,
        urgency: Some(form.urgency.clone()),
        since: Some(form.since.clone()),
        before: number("before", &form.before)?,
        limit: Some(PAGE_SIZE),
        ..IncidentQuery::default()
    };
    let filter = query.filter(state.clock.now())?;
    let mut tx = state.store.read().await?;
    let incidents = tx.incidents(&filter).await?;
    let names = Names::load(tx.as_mut()).await?;
    let older = match incidents.last() {
        Some(last) if incidents.len() as i64 == PAGE_SIZE => Some(format!(
            "/incidents?status={status}&team={}&service={}&urgency={}&since={}&before={}",
            form.team.trim(),
            form.service.trim(),
            form.urgency.trim(),
            form.since.trim(),
            last.id
        )),
        _ => None,
    };
    let mut services: Vec<(i64, String)> = names.services.clone().into_iter().collect();
    services.sort_by(|a, b| a.1.cmp(&b.1));
    let teams = tx
        .teams()
        .await?
        .into_iter()
        .map(|t| (t.id.0, t.name))
        .collect();
    Ok(render(&ListPage {
        shell: Shell::new(&viewer, "incidents"),
        rows: incidents.iter().map(|i| names.row(i, &viewer)).collect(),
        query: Shown {
            status,
            team: query.team,
            service: query.service,
            urgency: form.urgency,
            since: form.since,
        },
        statuses: vec![
            ("open", "open"),
            ("triggered", "triggered"),
            ("acknowledged", "acknowledged"),
            ("resolved", "resolved"),
            ("all", "all"),
        ],
        teams,
        services,
        older,
    }))
}

struct TimelineRow {
    at: String,
    kind: String,
    message: String,
}

struct AlertRow {
    at: String,
    action: String,
    summary: String,
    severity: String,
    source: String,
    outcome: String,
}

struct NotificationRow {
    person: String,
    kind: String,
    status: String,
    attempts: i64,
    error: String,
}

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentPage {
    shell: Shell,
    id: i64,
    number: String,
    title: String,
    status: String,
    urgency: String,
    service_id: i64,
    service: String,
    opened: String,
    alert_count: i64,
    assignees: String,
    can_act: bool,
    people: Vec<(i64, String)>,
    tickets: Vec<String>,
    timeline: Vec<TimelineRow>,
    alerts: Vec<AlertRow>,
    /// Whether `alerts` holds only the newest of more.
    alerts_cut: bool,
    notifications: Vec<NotificationRow>,
    /// Past post-mortems that match, best first.
    seen_before: Vec<crate::post_mortems::seen_before::SeenBefore>,
    /// The post-mortems of this incident: id, number, title.
    post_mortems: Vec<(i64, String, String)>,
}

pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = id
        .trim_start_matches("INC-")
        .parse::<i64>()
        .map_err(|_| ApiError::not_found(format!("incident {id}")))?;
    let mut tx = state.store.read().await?;
    let detail = detail(tx.as_mut(), IncidentId(id)).await?;
    let names = Names::load(tx.as_mut()).await?;
    let stored = tx.incident(IncidentId(id)).await?;
    let seen_before = crate::post_mortems::seen_before::lookup(tx.as_mut(), &stored, 3).await?;
    let post_mortems = tx
        .incident_post_mortems(IncidentId(id))
        .await?
        .into_iter()
        .map(|pm| (pm.id, crate::post_mortems::number(pm.id), pm.input.title))
        .collect();
    let zone = zone(&viewer.user.time_zone);
    let incident = detail.incident;
    let assignees: Vec<UserId> = incident.assignees.iter().map(|a| UserId(*a)).collect();
    let mut people: Vec<(i64, String)> = names
        .people
        .iter()
        .map(|(id, name)| (id.0, name.clone()))
        .collect();
    people.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(render(&IncidentPage {
        shell: Shell::new(&viewer, "incidents"),
        id,
        number: incident.number,
        title: incident.title,
        status: incident.status,
        urgency: incident.urgency,
        service_id: incident.service_id,
        service: names
            .services
            .get(&incident.service_id)
            .cloned()
            .unwrap_or_default(),
        opened: when(incident.created_at, &zone),
        alert_count: incident.alert_count,
        assignees: names.people(&assignees),
        can_act: viewer.can(Role::Responder),
        people,
        tickets: detail.tickets,
        timeline: detail
            .timeline
            .into_iter()
            .map(|t| TimelineRow {
                at: when(t.at, &zone),
                kind: t.kind,
                message: t.message,
            })
            .collect(),
        alerts_cut: i64::try_from(detail.alerts.len()).unwrap_or(i64::MAX)
            >= crate::api::incidents::ALERTS_SHOWN,
        alerts: detail
            .alerts
            .into_iter()
            .map(|a| AlertRow {
                at: when(a.received_at, &zone),
                action: a.action,
                summary: a.summary,
                severity: a.severity,
                source: a.source,
                outcome: a.outcome,
            })
            .collect(),
        notifications: detail
            .notifications
            .into_iter()
            .map(|n| NotificationRow {
                person: names.person(UserId(n.user_id)),
                kind: n.kind,
                status: n.status,
                attempts: n.attempts,
                error: n.last_error,
            })
            .collect(),
        seen_before,
        post_mortems,
    }))
}

/// What the action forms may carry.
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    user_id: Option<i64>,
    #[serde(default)]
    text: Option<String>,
}

/// Acknowledge, resolve, escalate, reassign, add a responder or a note, then back to the
/// incident's page. The role is checked by the same function the API calls.
pub async fn act(
    State(state): State<AppState>,
    Path((id, action)): Path<(i64, String)>,
    Posted { viewer, form }: Posted<ActionForm>,
) -> WebResult<Response> {
    let user = || {
        form.user_id
            .map(UserId)
            .ok_or_else(|| ApiError::invalid("user_id", "choose a person"))
    };
    let action = match action.as_str() {
        "acknowledge" => IncidentAction::Acknowledge,
        "resolve" => IncidentAction::Resolve,
        "escalate" => IncidentAction::Escalate,
        "reassign" => IncidentAction::Reassign(user()?),
        "responders" => IncidentAction::AddResponder(user()?),
        "notes" => IncidentAction::Note(form.text.clone().unwrap_or_default()),
        other => return Err(ApiError::not_found(format!("the action `{other}`")).into()),
    };
    perform(&state, &viewer.caller(), &id.to_string(), action).await?;
    Ok(see_other(&format!("/incidents/{id}")))
}
