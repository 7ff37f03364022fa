//! The mail page: the designated addresses (added and removed through the API's own handlers)
//! and the messages received lately, with what each became.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use watchbill_core::tickets::Priority;
use watchbill_core::Role;

use super::format::{when, words, zone};
use super::{render, see_other, Posted, Shell, Viewer, WebResult};
use crate::api::mail::{create_address, delete_address, MailAddressBody};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

struct AddressRow {
    id: i64,
    address: String,
    team: String,
    does: String,
    defaults: String,
    allow: String,
}

struct ReceivedRow {
    at: String,
    sender: String,
    recipient: String,
    subject: String,
    outcome: String,
    ticket: Option<String>,
    incident: Option<i64>,
}

#[derive(Template)]
#[template(path = "mail.html")]
struct MailPage {
    shell: Shell,
    reply_address: String,
    addresses: Vec<AddressRow>,
    received: Vec<ReceivedRow>,
    can_edit: bool,
    teams: Vec<(i64, String)>,
    services: Vec<(i64, String)>,
    priorities: Vec<&'static str>,
}

pub async fn page(State(state): State<AppState>, viewer: Viewer) -> WebResult<Response> {
    let zone = zone(&viewer.user.time_zone);
    let mut tx = state.store.read().await?;
    let teams: Vec<(i64, String)> = tx
        .teams()
        .await?
        .into_iter()
        .map(|t| (t.id.0, t.name))
        .collect();
    let services: Vec<(i64, String)> = tx
        .services()
        .await?
        .into_iter()
        .map(|s| (s.id.0, s.name))
        .collect();
    let team_names: HashMap<i64, String> = teams.iter().cloned().collect();
    let service_names: HashMap<i64, String> = services.iter().cloned().collect();
    let addresses = tx
        .mail_addresses()
        .await?
        .into_iter()
        .map(|a| {
            let input = a.input;
            let does = match input.service_id {
                Some(service) => format!(
                    "{}: pages {}",
                    input.mode.as_str(),
                    service_names.get(&service.0).cloned().unwrap_or_default()
                ),
                None => input.mode.as_str().to_owned(),
            };
            let mut defaults = Vec::new();
            if let Some(priority) = &input.priority {
                defaults.push(priority.clone());
            }
            if !input.labels.is_empty() {
                defaults.push(input.labels.join(" "));
            }
            if let Some(days) = input.due_days {
                defaults.push(format!("due in {days} d"));
            }
            AddressRow {
                id: a.id,
                address: input.address,
                team: team_names
                    .get(&input.team_id.0)
                    .cloned()
                    .unwrap_or_default(),
                does,
                defaults: defaults.join(", "),
                allow: if input.allow.is_empty() {
                    "anyone".to_owned()
                } else {
                    input.allow.join(" ")
                },
            }
        })
        .collect();
    let mut received = Vec::new();
    for (_, at, record) in tx.mail_log(50).await? {
        let ticket = match record.ticket_id {
            Some(id) => tx.ticket(id).await.ok().map(|t| t.ticket.key.to_string()),
            None => None,
        };
        received.push(ReceivedRow {
            at: when(at, &zone),
            sender: if record.sender.is_empty() {
                "<>".to_owned()
            } else {
                record.sender
            },
            recipient: record.recipient,
            subject: record.subject,
            outcome: record.outcome,
            ticket,
            incident: record.incident_id.map(|i| i.0),
        });
    }
    Ok(render(&MailPage {
        shell: Shell::new(&viewer, "mail"),
        reply_address: state.reply_address.clone().unwrap_or_default(),
        addresses,
        received,
        can_edit: viewer.can(Role::Manager),
        teams,
        services,
        priorities: Priority::ALL.iter().map(|p| p.as_str()).collect(),
    }))
}

#[derive(Debug, Deserialize)]
pub struct AddressForm {
    address: String,
    team_id: i64,
    mode: String,
    #[serde(default)]
    service_id: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    labels: String,
    #[serde(default)]
    due_days: String,
    #[serde(default)]
    allow: String,
}

pub async fn add(
    State(state): State<AppState>,
    Posted { viewer, form }: Posted<AddressForm>,
) -> WebResult<Response> {
    let number = |field: &'static str, text: &str| -> Result<Option<i64>, ApiError> {
        match text.trim() {
            "" => Ok(None),
            text => text
                .parse()
                .map(Some)
                .map_err(|_| ApiError::invalid(field, format!("`{text}` is not a number"))),
        }
    };
    let body = MailAddressBody {
        address: form.address,
        team_id: form.team_id,
        mode: form.mode,
        service_id: number("service_id", &form.service_id)?,
        priority: Some(form.priority).filter(|p| !p.is_empty()),
        labels: words(&form.labels),
        due_days: number("due_days", &form.due_days)?,
        allow: words(&form.allow),
    };
    let _created = create_address(State(state), viewer.caller(), ApiJson(body)).await?;
    Ok(see_other("/mail"))
}

pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Posted { viewer, .. }: Posted<super::account::Empty>,
) -> WebResult<Response> {
    let _removed = delete_address(State(state), viewer.caller(), ApiPath(id)).await?;
    Ok(see_other("/mail"))
}
