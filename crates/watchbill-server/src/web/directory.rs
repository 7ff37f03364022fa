//! Services with their integrations, escalation policies, people and teams, and the audit log.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use watchbill_core::paging::IncidentStatus;
use watchbill_core::{Role, ServiceId};
use watchbill_store::paging::{IncidentFilter, IntegrationKind, TargetKind};

use super::format::{initials, when, zone};
use super::incidents::{Names, Row};
use super::{render, see_other, Posted, Shell, Viewer, WebResult};
use crate::api::services::{save_service, IntegrationView, ServiceBody};
use crate::state::AppState;

struct ServiceRow {
    id: i64,
    name: String,
    team: String,
    policy: String,
    urgency: String,
    open: usize,
}

struct PolicyView {
    name: String,
    levels: Vec<String>,
    repeat: String,
}

#[derive(Template)]
#[template(path = "services.html")]
struct ServicesPage {
    shell: Shell,
    rows: Vec<ServiceRow>,
    policies: Vec<PolicyView>,
}

pub async fn services(State(state): State<AppState>, viewer: Viewer) -> WebResult<Response> {
    let mut tx = state.store.read().await?;
    let teams: HashMap<_, _> = tx
        .teams()
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    let schedules: HashMap<_, _> = tx
        .schedules(None)
        .await?
        .into_iter()
        .map(|s| (s.id.0, s.name))
        .collect();
    let people: HashMap<_, _> = tx
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id.0, u.name))
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
    let policies = policies
        .into_iter()
        .map(|p| PolicyView {
            levels: p
                .levels
                .iter()
                .map(|level| {
                    let targets: Vec<String> = level
                        .targets
                        .iter()
                        .map(|t| match t.kind {
                            TargetKind::Schedule => format!(
                                "whoever is on call on {}",
                                schedules.get(&t.id).cloned().unwrap_or_default()
                            ),
                            TargetKind::User => people.get(&t.id).cloned().unwrap_or_default(),
                            TargetKind::Team => format!(
                                "team {} in turn",
                                teams
                                    .get(&watchbill_core::TeamId(t.id))
                                    .cloned()
                                    .unwrap_or_default()
                            ),
                        })
                        .collect();
                    format!(
                        "{}; after {} without an acknowledgement, the next level",
                        targets.join(", "),
                        duration(level.delay_seconds)
                    )
                })
                .collect(),
            repeat: match p.repeat {
                0 => "Does not repeat.".to_owned(),
                n => format!("Repeats {n} more time(s)."),
            },
            name: p.name,
        })
        .collect();
    Ok(render(&ServicesPage {
        shell: Shell::new(&viewer, "services"),
        rows,
        policies,
    }))
}

fn duration(seconds: i64) -> String {
    match seconds {
        s if s % 3600 == 0 && s > 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 && s > 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

struct IntegrationRow {
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

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage {
    shell: Shell,
    people: Vec<PersonRow>,
    teams: Vec<(String, String)>,
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
        .map(|t| {
            (
                t.name.clone(),
                t.members
                    .iter()
                    .filter_map(|m| name_of.get(m).cloned())
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })
        .collect();
    Ok(render(&PeoplePage {
        shell: Shell::new(&viewer, "people"),
        people,
        teams,
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
