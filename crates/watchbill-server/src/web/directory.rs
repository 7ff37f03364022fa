//! Services with their integrations, escalation policies, people and teams, and the audit log.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use watchbill_core::paging::IncidentStatus;
use watchbill_core::{Role, ServiceId};
use watchbill_store::paging::{IncidentFilter, IntegrationKind};

use super::format::{initials, when, zone};
use super::incidents::{Names, Row};
use super::{render, see_other, Posted, Shell, Viewer, WebResult};
use axum::Json;

use crate::api::services::{
    create_integration, rotate_integration, save_service, IntegrationBody, IntegrationView,
    ServiceBody,
};
use crate::api::teams::{update_team, TeamBody};
use crate::api::users::{create_user, UserBody};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

struct ServiceRow {
    id: i64,
    name: String,
    team: String,
    policy: String,
    urgency: String,
    open: usize,
}

#[derive(Template)]
#[template(path = "services.html")]
struct ServicesPage {
    shell: Shell,
    rows: Vec<ServiceRow>,
}

pub async fn services(State(state): State<AppState>, viewer: Viewer) -> WebResult<Response> {
    let mut tx = state.store.read().await?;
    let teams: HashMap<_, _> = tx
        .teams()
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    let policies = tx.policies().await?;
    let policy_names: HashMap<_, _> = policies.iter().map(|p| (p.id, p.name.clone())).collect();
    let open = tx
        .incidents(&IncidentFilter {
            statuses: vec![IncidentStatus::Triggered, IncidentStatus::Acknowledged],
            limit: 1000,
            ..IncidentFilter::default()
        })
        .await?;
    let rows = tx
        .services()
        .await?
        .into_iter()
        .map(|s| ServiceRow {
            id: s.id.0,
            open: open.iter().filter(|i| i.service_id == s.id).count(),
            name: s.name,
            team: teams.get(&s.team_id).cloned().unwrap_or_default(),
            policy: s
                .escalation_policy_id
                .and_then(|p| policy_names.get(&p).cloned())
                .unwrap_or_else(|| "none: nobody is paged".to_owned()),
            urgency: s.default_urgency.as_str().to_owned(),
        })
        .collect();
    Ok(render(&ServicesPage {
        shell: Shell::new(&viewer, "services"),
        rows,
    }))
}

struct IntegrationRow {
    id: i64,
    name: String,
    kind: String,
    url: String,
    key: String,
    example: String,
}

#[derive(Template)]
#[template(path = "service.html")]
struct ServicePage {
    shell: Shell,
    id: i64,
    name: String,
    team: String,
    description: String,
    policy: String,
    urgency: String,
    low_tickets: bool,
    can_edit: bool,
    integrations: Vec<IntegrationRow>,
    rows: Vec<Row>,
}

/// A copyable example for an integration: curl for the Events API and the generic webhook,
/// a receiver for Alertmanager's configuration, a ping for heartbeats.
fn example(view: &IntegrationView) -> String {
    match IntegrationKind::parse(&view.kind) {
        Some(IntegrationKind::EventsV2) => format!(
            "curl -X POST {url} -H 'Content-Type: application/json' \\\n  -d '{{\"routing_key\":\"{key}\",\"event_action\":\"trigger\",\"dedup_key\":\"disk-full-db1\",\n       \"payload\":{{\"summary\":\"Disk full on db1\",\"source\":\"db1\",\"severity\":\"critical\"}}}}'",
            url = view.url,
            key = view.key,
        ),
        Some(IntegrationKind::Alertmanager) => format!(
            "# alertmanager.yml\nreceivers:\n  - name: watchbill\n    webhook_configs:\n      - url: '{}'\n        send_resolved: true",
            view.url
        ),
        Some(IntegrationKind::Generic) => format!(
            "curl -X POST '{}' -H 'Content-Type: application/json' \\\n  -d '{{\"summary\":\"Checkout is failing\",\"dedup_key\":\"checkout\",\"action\":\"trigger\"}}'",
            view.url
        ),
        Some(IntegrationKind::Heartbeat) => format!("curl -X POST '{}'", view.url),
        Some(IntegrationKind::CodePush) => format!(
            "Add a push webhook in your forge with the URL {} and the key above as its secret.",
            view.url
        ),
        None => String::new(),
    }
}

async fn service_page(state: &AppState, viewer: &Viewer, id: i64) -> WebResult<ServicePage> {
    let mut tx = state.store.read().await?;
    let service = tx.service(ServiceId(id)).await?;
    let team = tx.team(service.team_id).await?;
    let policy = match service.escalation_policy_id {
        Some(policy) => tx.policy(policy).await?.name,
        None => "none: nobody is paged".to_owned(),
    };
    let integrations = tx
        .integrations(Some(service.id))
        .await?
        .into_iter()
        .map(|i| {
            let view = IntegrationView::new(i, &state.public_url);
            IntegrationRow {
                id: view.id,
                example: example(&view),
                name: view.name.clone(),
                kind: view.kind.clone(),
                url: view.url.clone(),
                key: view.key.clone(),
            }
        })
        .collect();
    let incidents = tx
        .incidents(&IncidentFilter {
            service: Some(service.id),
            limit: 20,
            ..IncidentFilter::default()
        })
        .await?;
    let names = Names::load(tx.as_mut()).await?;
    Ok(ServicePage {
        shell: Shell::new(viewer, "services"),
        id,
        name: service.name,
        team: team.name,
        description: service.description,
        policy,
        urgency: service.default_urgency.as_str().to_owned(),
        low_tickets: service.low_urgency_tickets,
        can_edit: viewer.can(Role::Manager),
        integrations,
        rows: incidents.iter().map(|i| names.row(i, viewer)).collect(),
    })
}

pub async fn service(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    Ok(render(&service_page(&state, &viewer, id).await?))
}

#[derive(Debug, Deserialize)]
pub struct ServiceForm {
    name: String,
    #[serde(default)]
    description: String,
    urgency: String,
}

/// Saves a service's name, description and default urgency (manager).
pub async fn edit_service(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Posted { viewer, form }: Posted<ServiceForm>,
) -> WebResult<Response> {
    let current = {
        let mut tx = state.store.read().await?;
        tx.service(ServiceId(id)).await?
    };
    let body = ServiceBody {
        team_id: current.team_id.0,
        name: form.name,
        description: form.description,
        escalation_policy_id: current.escalation_policy_id.map(|p| p.0),
        default_urgency: form.urgency,
        low_urgency_tickets: current.low_urgency_tickets,
    };
    save_service(&state, &viewer.caller(), id, &body).await?;
    Ok(see_other(&format!("/services/{id}")))
}

struct PersonRow {
    id: i64,
    name: String,
    email: String,
    role: String,
    zone: String,
    teams: String,
    photo: Option<String>,
    initials: String,
}

struct TeamRow {
    id: i64,
    name: String,
    members: Vec<(i64, String)>,
}

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage {
    shell: Shell,
    people: Vec<PersonRow>,
    teams: Vec<TeamRow>,
    is_admin: bool,
    can_manage: bool,
}

pub async fn people(State(state): State<AppState>, viewer: Viewer) -> WebResult<Response> {
    let mut tx = state.store.read().await?;
    let users = tx.users().await?;
    let teams = tx.teams().await?;
    let name_of: HashMap<_, _> = users.iter().map(|u| (u.id, u.name.clone())).collect();
    let people = users
        .iter()
        .map(|u| PersonRow {
            id: u.id.0,
            name: u.name.clone(),
            email: u.email.clone(),
            role: u.role.to_string(),
            zone: u.time_zone.clone(),
            teams: teams
                .iter()
                .filter(|t| t.members.contains(&u.id))
                .map(|t| t.name.clone())
                .collect::<Vec<_>>()
                .join(", "),
            photo: u.photo_url.clone(),
            initials: initials(&u.name),
        })
        .collect();
    let teams = teams
        .iter()
        .map(|t| TeamRow {
            id: t.id.0,
            name: t.name.clone(),
            members: t
                .members
                .iter()
                .map(|m| (m.0, name_of.get(m).cloned().unwrap_or_default()))
                .collect(),
        })
        .collect();
    Ok(render(&PeoplePage {
        shell: Shell::new(&viewer, "people"),
        people,
        teams,
        is_admin: viewer.can(Role::Admin),
        can_manage: viewer.can(Role::Manager),
    }))
}

struct AuditRow {
    at: String,
    actor: String,
    action: String,
    subject: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    shell: Shell,
    entries: Vec<AuditRow>,
    links: Vec<(i64, String, String)>,
    new_link: Option<String>,
}

/// The audit log and the wall's kiosk links (admin).
pub async fn audit_page(
    state: &AppState,
    viewer: &Viewer,
    new_link: Option<String>,
) -> WebResult<Response> {
    viewer.caller().require(Role::Admin)?;
    let zone = zone(&viewer.user.time_zone);
    let mut tx = state.store.read().await?;
    let entries = tx
        .audit_log(500)
        .await?
        .into_iter()
        .map(|e| AuditRow {
            at: when(e.at, &zone),
            actor: e.actor,
            action: e.action,
            subject: e.subject,
        })
        .collect();
    let links = tx
        .wall_links()
        .await?
        .into_iter()
        .map(|l| (l.id, l.name, when(l.created_at, &zone)))
        .collect();
    Ok(render(&AuditPage {
        shell: Shell::new(viewer, "audit"),
        entries,
        links,
        new_link,
    }))
}

pub async fn audit(State(state): State<AppState>, viewer: Viewer) -> WebResult<Response> {
    audit_page(&state, &viewer, None).await
}

#[derive(Debug, Deserialize)]
pub struct IntegrationForm {
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    interval_seconds: String,
}

/// Adds an integration to a service (manager), through the API's own handler.
pub async fn add_integration(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Posted { viewer, form }: Posted<IntegrationForm>,
) -> WebResult<Response> {
    let interval = match form.interval_seconds.trim() {
        "" => None,
        text => Some(text.parse::<i64>().map_err(|_| {
            ApiError::invalid(
                "interval_seconds",
                format!("`{text}` is not a number of seconds"),
            )
        })?),
    };
    let body = IntegrationBody {
        kind: form.kind,
        name: Some(form.name.trim().to_owned()).filter(|n| !n.is_empty()),
        rate_per_minute: 1200,
        interval_seconds: interval,
    };
    let _created =
        create_integration(State(state), viewer.caller(), ApiPath(id), ApiJson(body)).await?;
    Ok(see_other(&format!("/services/{id}")))
}

/// Gives an integration a new key; the old one stops working at once (manager).
pub async fn rotate_key(
    State(state): State<AppState>,
    Path((id, integration)): Path<(i64, i64)>,
    Posted { viewer, .. }: Posted<super::account::Empty>,
) -> WebResult<Response> {
    let mut tx = state.store.read().await?;
    let belongs = tx
        .integrations(Some(ServiceId(id)))
        .await?
        .iter()
        .any(|i| i.id.0 == integration);
    drop(tx);
    if !belongs {
        return Err(
            ApiError::not_found(format!("integration {integration} of service {id}")).into(),
        );
    }
    let _rotated = rotate_integration(State(state), viewer.caller(), ApiPath(integration)).await?;
    Ok(see_other(&format!("/services/{id}")))
}

#[derive(Debug, Deserialize)]
pub struct PersonForm {
    name: String,
    email: String,
    time_zone: String,
    role: String,
    #[serde(default)]
    password: String,
}

/// Adds a person (admin) and, when given, their password.
pub async fn add_person(
    State(state): State<AppState>,
    Posted { viewer, form }: Posted<PersonForm>,
) -> WebResult<Response> {
    if !form.password.is_empty() {
        super::session::acceptable_password(&form.password)?;
    }
    let body = UserBody {
        name: form.name,
        email: form.email,
        time_zone: form.time_zone.trim().to_owned(),
        photo_url: None,
        role: form.role,
    };
    let (_, Json(user)) = create_user(State(state.clone()), viewer.caller(), ApiJson(body)).await?;
    if !form.password.is_empty() {
        let hash = super::session::hash_password(form.password).await?;
        let mut tx = state.store.write().await?;
        tx.set_password(watchbill_core::UserId(user.id), &hash)
            .await?;
        tx.commit().await?;
    }
    Ok(see_other(&format!("/people/{}", user.id)))
}

#[derive(Debug, Deserialize)]
pub struct MemberForm {
    user_id: i64,
}

/// Changes a team's members through the API's team update (manager).
async fn change_members(
    state: AppState,
    viewer: &Viewer,
    team: i64,
    change: impl FnOnce(&mut Vec<i64>),
) -> WebResult<Response> {
    let current = {
        let mut tx = state.store.read().await?;
        tx.team(watchbill_core::TeamId(team)).await?
    };
    let mut members: Vec<i64> = current.members.iter().map(|m| m.0).collect();
    change(&mut members);
    let body = TeamBody {
        name: current.name,
        description: current.description,
        members,
    };
    let _updated = update_team(State(state), viewer.caller(), ApiPath(team), ApiJson(body)).await?;
    Ok(see_other("/people"))
}

pub async fn add_member(
    State(state): State<AppState>,
    Path(team): Path<i64>,
    Posted { viewer, form }: Posted<MemberForm>,
) -> WebResult<Response> {
    change_members(state, &viewer, team, |members| {
        if !members.contains(&form.user_id) {
            members.push(form.user_id);
        }
    })
    .await
}

pub async fn remove_member(
    State(state): State<AppState>,
    Path((team, user)): Path<(i64, i64)>,
    Posted { viewer, .. }: Posted<super::account::Empty>,
) -> WebResult<Response> {
    change_members(state, &viewer, team, |members| {
        members.retain(|m| *m != user)
    })
    .await
}
