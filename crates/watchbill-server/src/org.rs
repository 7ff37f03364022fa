//! The declarative organisation document: `watchbill apply` and `watchbill export`.
//!
//! The document names things people recognise (emails, team and schedule names) rather than
//! ids, so it can live in version control and be applied to any server. Applying is one
//! transaction that changes only what differs, so applying twice changes nothing and
//! `apply(export())` is a no-op. Apply never deletes users, teams or schedules that the
//! document leaves out; within a schedule it lists, the document's layers are the whole truth.

use std::collections::{BTreeSet, HashMap};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use watchbill_core::{ScheduleId, TeamId, UserId};
use watchbill_store::model::{Follows, LayerInput, RestrictionInput, ScheduleInput, TeamInput};
use watchbill_store::Tx;

use crate::api::schedules::{whole_seconds, RestrictionBody};
use crate::api::users::{user_input, UserBody};
use crate::error::{ApiError, ApiResult};
use crate::resolve::{validate_layers, zone};
use crate::sync::sync_layers;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgDocument {
    #[serde(default)]
    pub users: Vec<OrgUser>,
    #[serde(default)]
    pub teams: Vec<OrgTeam>,
    #[serde(default)]
    pub schedules: Vec<OrgSchedule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalation_policies: Vec<OrgPolicy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<OrgService>,
    /// Designated mail addresses (mail intake), matched by address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mail_addresses: Vec<OrgMailAddress>,
}

/// A designated address: mail to it files a ticket for the team, and at an urgent address
/// pages the service's on-call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgMailAddress {
    pub address: String,
    pub team: String,
    /// `urgent` or `maintenance`.
    pub mode: String,
    /// For `urgent`: the service paged, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_days: Option<i64>,
    /// Senders allowed (addresses or domains); empty allows anyone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

/// How a person is reached. Listed under a user, the list is that user's whole set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgContact {
    /// `email`, `webhook`, `slack`, `sms` or `voice`.
    pub kind: String,
    pub address: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgPolicy {
    pub team: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub repeat: u32,
    pub levels: Vec<OrgLevel>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgLevel {
    pub delay_seconds: i64,
    pub targets: Vec<OrgTarget>,
}

/// One of: a schedule of the policy's team by name, a user by email, a team by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgTarget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgService {
    pub team: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// A policy of the same team, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation_policy: Option<String>,
    #[serde(default = "high", skip_serializing_if = "is_high")]
    pub default_urgency: String,
    /// With low urgency: alerts become duty tickets instead of pages.
    #[serde(default, skip_serializing_if = "is_false")]
    pub low_urgency_tickets: bool,
    /// Integrations are added when missing (matched by kind and name); their keys are secrets
    /// and never appear in the document.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub integrations: Vec<OrgIntegration>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgIntegration {
    /// `events_v2`, `alertmanager` or `generic`.
    pub kind: String,
    pub name: String,
}

fn high() -> String {
    "high".to_owned()
}

fn is_false(flag: &bool) -> bool {
    !*flag
}

fn is_high(text: &String) -> bool {
    text == "high"
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgUser {
    pub name: String,
    pub email: String,
    #[serde(default = "utc")]
    pub time_zone: String,
    #[serde(default = "responder")]
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_url: Option<String>,
    /// When present, the user's whole set of contact methods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_methods: Option<Vec<OrgContact>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgTeam {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Member emails.
    #[serde(default)]
    pub members: Vec<String>,
    /// The team's ticket key prefix and maintenance-duty queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tickets: Option<OrgTicketSettings>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgTicketSettings {
    /// Ticket keys are `PREFIX-n`, e.g. `UF`.
    pub prefix: String,
    /// The duty queue's filter; by default open product-maintenance-duty tickets by priority
    /// then due date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duty_filter: Option<String>,
    /// New duty tickets go to the Captain On-Call of the moment.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub assign_to_captain: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgSchedule {
    /// The owning team's name.
    pub team: String,
    pub name: String,
    pub time_zone: String,
    /// The name of a schedule of the same team whose rotation this one follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
    /// With `follows`: how many people along (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<OrgLayer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgLayer {
    pub name: String,
    /// Participant emails, in rotation order.
    pub participants: Vec<String>,
    pub turn: String,
    pub handoff: String,
    pub start: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restrictions: Vec<RestrictionBody>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub offset: u32,
}

fn utc() -> String {
    "UTC".to_owned()
}

fn responder() -> String {
    "responder".to_owned()
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What an apply changed, one line per thing.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ApplyReport {
    pub changes: Vec<String>,
}

/// Applies the document inside `tx`. The caller commits (or, for a dry run, does not).
pub async fn apply(tx: &mut dyn Tx, doc: &OrgDocument) -> ApiResult<ApplyReport> {
    let mut report = ApplyReport::default();
    check_unique(doc)?;
    apply_users(tx, doc, &mut report).await?;
    let emails: HashMap<String, UserId> = tx
        .users()
        .await?
        .into_iter()
        .map(|u| (u.email, u.id))
        .collect();
    let user_id = |email: &str, field: String| {
        emails
            .get(&email.trim().to_lowercase())
            .copied()
            .ok_or_else(|| ApiError {
                code: crate::error::ErrorCode::UnknownReference,
                message: format!("no user has the email `{email}`; add them under [[users]]")
                    .into(),
                field: Some(field.into()),
            })
    };
    apply_teams(tx, doc, &user_id, &mut report).await?;
    apply_schedules(tx, doc, &user_id, &mut report).await?;
    apply_policies(tx, doc, &user_id, &mut report).await?;
    apply_services(tx, doc, &mut report).await?;
    apply_mail_addresses(tx, doc, &mut report).await?;
    Ok(report)
}

/// Adds the listed addresses and brings changed ones to the document; addresses the document
/// does not list are left alone.
async fn apply_mail_addresses(
    tx: &mut dyn Tx,
    doc: &OrgDocument,
    report: &mut ApplyReport,
) -> ApiResult<()> {
    let teams = tx.teams().await?;
    let services = tx.services().await?;
    let existing = tx.mail_addresses().await?;
    for (i, wanted) in doc.mail_addresses.iter().enumerate() {
        let at = |field: &str| format!("mail_addresses[{i}].{field}");
        let team = teams
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(wanted.team.trim()))
            .ok_or_else(|| unknown(at("team"), format!("no team is named `{}`", wanted.team)))?;
        let service = match &wanted.service {
            None => None,
            Some(name) => Some(
                services
                    .iter()
                    .find(|s| s.name.eq_ignore_ascii_case(name.trim()))
                    .ok_or_else(|| unknown(at("service"), format!("no service is named `{name}`")))?
                    .id,
            ),
        };
        let input = crate::api::mail::address_input(&crate::api::mail::MailAddressBody {
            address: wanted.address.clone(),
            team_id: team.id.0,
            mode: wanted.mode.clone(),
            service_id: service.map(|s| s.0),
            priority: wanted.priority.clone(),
            labels: wanted.labels.clone(),
            due_days: wanted.due_days,
            allow: wanted.allow.clone(),
        })
        .map_err(|e| e.within(&format!("mail_addresses[{i}]")))?;
        match existing.iter().find(|a| a.input.address == input.address) {
            Some(current) if current.input == input => {}
            Some(current) => {
                tx.delete_mail_address(current.id).await?;
                tx.insert_mail_address(&input).await?;
                report
                    .changes
                    .push(format!("updated mail address {}", input.address));
            }
            None => {
                tx.insert_mail_address(&input).await?;
                report
                    .changes
                    .push(format!("created mail address {}", input.address));
            }
        }
    }
    Ok(())
}

fn check_unique(doc: &OrgDocument) -> ApiResult<()> {
    let mut seen = BTreeSet::new();
    for (i, user) in doc.users.iter().enumerate() {
        if !seen.insert(user.email.trim().to_lowercase()) {
            return Err(ApiError::invalid(
                format!("users[{i}].email"),
                format!("`{}` is listed twice", user.email),
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, team) in doc.teams.iter().enumerate() {
        if !seen.insert(team.name.trim().to_lowercase()) {
            return Err(ApiError::invalid(
                format!("teams[{i}].name"),
                format!("team `{}` is listed twice", team.name),
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, schedule) in doc.schedules.iter().enumerate() {
        if !seen.insert((
            schedule.team.trim().to_lowercase(),
            schedule.name.trim().to_lowercase(),
        )) {
            return Err(ApiError::invalid(
                format!("schedules[{i}].name"),
                format!(
                    "schedule `{}` of team `{}` is listed twice",
                    schedule.name, schedule.team
                ),
            ));
        }
    }
    Ok(())
}

async fn apply_users(
    tx: &mut dyn Tx,
    doc: &OrgDocument,
    report: &mut ApplyReport,
) -> ApiResult<()> {
    for (i, user) in doc.users.iter().enumerate() {
        let input = user_input(&UserBody {
            name: user.name.clone(),
            email: user.email.clone(),
            time_zone: user.time_zone.clone(),
            photo_url: user.photo_url.clone(),
            role: user.role.clone(),
        })
        .map_err(|e| e.within(&format!("users[{i}]")))?;
        let id = match tx.find_user_by_email(&input.email).await? {
            None => {
                let created = tx.insert_user(&input).await?;
                report.changes.push(format!("created user {}", input.email));
                created.id
            }
            Some(existing) => {
                let current = watchbill_store::model::UserInput {
                    name: existing.name.clone(),
                    email: existing.email.clone(),
                    time_zone: existing.time_zone.clone(),
                    photo_url: existing.photo_url.clone(),
                    role: existing.role,
                };
                if current != input {
                    tx.update_user(existing.id, &input).await?;
                    report.changes.push(format!("updated user {}", input.email));
                }
                existing.id
            }
        };
        if let Some(wanted) = &user.contact_methods {
            sync_contacts(tx, id, wanted, &format!("users[{i}]"), &input.email, report).await?;
        }
    }
    Ok(())
}

/// Makes a user's contact methods equal `wanted`.
async fn sync_contacts(
    tx: &mut dyn Tx,
    user: UserId,
    wanted: &[OrgContact],
    at: &str,
    email: &str,
    report: &mut ApplyReport,
) -> ApiResult<()> {
    for (j, contact) in wanted.iter().enumerate() {
        crate::api::contacts::check_address(&contact.kind, &contact.address)
            .map_err(|e| e.within(&format!("{at}.contact_methods[{j}]")))?;
    }
    let existing = tx.contact_methods(user).await?;
    let same = |m: &watchbill_store::paging::ContactMethod, c: &OrgContact| {
        m.kind == c.kind && m.address == c.address.trim() && m.label == c.label
    };
    let mut changed = false;
    for method in &existing {
        if !wanted.iter().any(|c| same(method, c)) {
            tx.delete_contact_method(method.id).await?;
            changed = true;
        }
    }
    for contact in wanted {
        if !existing.iter().any(|m| same(m, contact)) {
            tx.insert_contact_method(user, &contact.kind, contact.address.trim(), &contact.label)
                .await?;
            changed = true;
        }
    }
    if changed {
        report
            .changes
            .push(format!("updated contact methods of {email}"));
    }
    Ok(())
}

async fn apply_policies(
    tx: &mut dyn Tx,
    doc: &OrgDocument,
    user_id: &impl Fn(&str, String) -> ApiResult<UserId>,
    report: &mut ApplyReport,
) -> ApiResult<()> {
    use watchbill_store::paging::{LevelInput, PolicyInput, TargetInput, TargetKind};
    let teams = tx.teams().await?;
    let existing = tx.policies().await?;
    for (i, policy) in doc.escalation_policies.iter().enumerate() {
        let at = |field: &str| format!("escalation_policies[{i}].{field}");
        let team = teams
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(policy.team.trim()))
            .ok_or_else(|| unknown(at("team"), format!("no team is named `{}`", policy.team)))?;
        if policy.levels.is_empty() {
            return Err(ApiError::invalid(
                at("levels"),
                "a policy needs at least one level",
            ));
        }
        let schedules = tx.schedules(Some(team.id)).await?;
        let mut levels = Vec::new();
        for (j, level) in policy.levels.iter().enumerate() {
            if level.targets.is_empty() {
                return Err(ApiError::invalid(
                    at(&format!("levels[{j}].targets")),
                    "a level needs at least one target",
                ));
            }
            if !(0..=7 * 86_400).contains(&level.delay_seconds) {
                return Err(ApiError::invalid(
                    at(&format!("levels[{j}].delay_seconds")),
                    "the delay must be between 0 seconds and 7 days",
                ));
            }
            let mut targets = Vec::new();
            for (k, target) in level.targets.iter().enumerate() {
                let field = at(&format!("levels[{j}].targets[{k}]"));
                let resolved = match (&target.schedule, &target.user, &target.team) {
                    (Some(name), None, None) => TargetInput {
                        kind: TargetKind::Schedule,
                        id: schedules
                            .iter()
                            .find(|s| s.name.eq_ignore_ascii_case(name.trim()))
                            .ok_or_else(|| {
                                unknown(
                                    format!("{field}.schedule"),
                                    format!("team `{}` has no schedule named `{name}`", team.name),
                                )
                            })?
                            .id
                            .0,
                    },
                    (None, Some(email), None) => TargetInput {
                        kind: TargetKind::User,
                        id: user_id(email, format!("{field}.user"))?.0,
                    },
                    (None, None, Some(name)) => TargetInput {
                        kind: TargetKind::Team,
                        id: teams
                            .iter()
                            .find(|t| t.name.eq_ignore_ascii_case(name.trim()))
                            .ok_or_else(|| {
                                unknown(
                                    format!("{field}.team"),
                                    format!("no team is named `{name}`"),
                                )
                            })?
                            .id
                            .0,
                    },
                    _ => {
                        return Err(ApiError::invalid(
                            field,
                            "a target names exactly one of schedule, user or team",
                        ))
                    }
                };
                targets.push(resolved);
            }
            levels.push(LevelInput {
                delay_seconds: level.delay_seconds,
                targets,
            });
        }
        let input = PolicyInput {
            team_id: team.id,
            name: policy.name.trim().to_owned(),
            repeat: policy.repeat,
            levels,
        };
        let label = format!("{}/{}", team.name, input.name);
        match existing
            .iter()
            .find(|p| p.team_id == team.id && p.name.eq_ignore_ascii_case(&input.name))
        {
            None => {
                tx.insert_policy(&input).await?;
                report
                    .changes
                    .push(format!("created escalation policy {label}"));
            }
            Some(current) => {
                if current.name != input.name
                    || current.repeat != input.repeat
                    || current.levels != input.levels
                {
                    tx.update_policy(current.id, &input).await?;
                    report
                        .changes
                        .push(format!("updated escalation policy {label}"));
                }
            }
        }
    }
    Ok(())
}

async fn apply_services(
    tx: &mut dyn Tx,
    doc: &OrgDocument,
    report: &mut ApplyReport,
) -> ApiResult<()> {
    use watchbill_store::paging::{IntegrationInput, IntegrationKind};
    let teams = tx.teams().await?;
    let policies = tx.policies().await?;
    let existing = tx.services().await?;
    for (i, service) in doc.services.iter().enumerate() {
        let at = |field: &str| format!("services[{i}].{field}");
        let team = teams
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(service.team.trim()))
            .ok_or_else(|| unknown(at("team"), format!("no team is named `{}`", service.team)))?;
        let policy = match &service.escalation_policy {
            None => None,
            Some(name) => Some(
                policies
                    .iter()
                    .find(|p| p.team_id == team.id && p.name.eq_ignore_ascii_case(name.trim()))
                    .ok_or_else(|| {
                        unknown(
                            at("escalation_policy"),
                            format!(
                                "team `{}` has no escalation policy named `{name}`",
                                team.name
                            ),
                        )
                    })?
                    .id,
            ),
        };
        let input = crate::api::services::service_input(&crate::api::services::ServiceBody {
            team_id: team.id.0,
            name: service.name.clone(),
            description: service.description.clone(),
            escalation_policy_id: policy.map(|p| p.0),
            default_urgency: service.default_urgency.clone(),
            low_urgency_tickets: service.low_urgency_tickets,
        })
        .map_err(|e| e.within(&format!("services[{i}]")))?;
        let id = match existing
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(&input.name))
        {
            None => {
                let created = tx.insert_service(&input).await?;
                report
                    .changes
                    .push(format!("created service {}", input.name));
                created.id
            }
            Some(current) => {
                let same = current.team_id == input.team_id
                    && current.name == input.name
                    && current.description == input.description
                    && current.escalation_policy_id == input.escalation_policy_id
                    && current.default_urgency == input.default_urgency
                    && current.low_urgency_tickets == input.low_urgency_tickets;
                if !same {
                    tx.update_service(current.id, &input).await?;
                    report
                        .changes
                        .push(format!("updated service {}", input.name));
                }
                current.id
            }
        };
        let integrations = tx.integrations(Some(id)).await?;
        for (j, integration) in service.integrations.iter().enumerate() {
            let kind = IntegrationKind::parse(&integration.kind).ok_or_else(|| {
                ApiError::invalid(
                    at(&format!("integrations[{j}].kind")),
                    format!("`{}` is not an integration kind", integration.kind),
                )
            })?;
            if !integrations
                .iter()
                .any(|x| x.kind == kind && x.name == integration.name)
            {
                tx.insert_integration(&IntegrationInput {
                    service_id: id,
                    kind,
                    name: integration.name.clone(),
                    rate_per_minute: 1200,
                })
                .await?;
                report.changes.push(format!(
                    "created {} integration {} of {}",
                    kind.as_str(),
                    integration.name,
                    input.name
                ));
            }
        }
    }
    Ok(())
}

fn unknown(field: String, message: String) -> ApiError {
    ApiError {
        code: crate::error::ErrorCode::UnknownReference,
        message: message.into(),
        field: Some(field.into()),
    }
}

async fn apply_teams(
    tx: &mut dyn Tx,
    doc: &OrgDocument,
    user_id: &impl Fn(&str, String) -> ApiResult<UserId>,
    report: &mut ApplyReport,
) -> ApiResult<()> {
    let existing = tx.teams().await?;
    for (i, team) in doc.teams.iter().enumerate() {
        let name = team.name.trim();
        if name.is_empty() {
            return Err(ApiError::invalid(
                format!("teams[{i}].name"),
                "a team needs a name",
            ));
        }
        let mut members = team
            .members
            .iter()
            .enumerate()
            .map(|(j, email)| user_id(email, format!("teams[{i}].members[{j}]")))
            .collect::<ApiResult<Vec<_>>>()?;
        members.sort_unstable();
        members.dedup();
        let input = TeamInput {
            name: name.to_owned(),
            description: team.description.clone(),
            members,
        };
        let team_id = match existing.iter().find(|t| t.name.eq_ignore_ascii_case(name)) {
            None => {
                let created = tx.insert_team(&input).await?;
                report.changes.push(format!("created team {name}"));
                created.id
            }
            Some(current) => {
                if current.name != input.name
                    || current.description != input.description
                    || current.members != input.members
                {
                    tx.update_team(current.id, &input).await?;
                    report.changes.push(format!("updated team {name}"));
                }
                current.id
            }
        };
        if let Some(wanted) = &team.tickets {
            let wanted = crate::api::tickets::ticket_settings(
                team_id,
                &wanted.prefix,
                wanted.duty_filter.as_deref(),
                wanted.assign_to_captain,
                &format!("teams[{i}].tickets."),
            )?;
            if tx.ticket_settings(team_id).await?.as_ref() != Some(&wanted) {
                tx.set_ticket_settings(&wanted).await?;
                report
                    .changes
                    .push(format!("set the ticket settings of team {name}"));
            }
        }
    }
    Ok(())
}

async fn apply_schedules(
    tx: &mut dyn Tx,
    doc: &OrgDocument,
    user_id: &impl Fn(&str, String) -> ApiResult<UserId>,
    report: &mut ApplyReport,
) -> ApiResult<()> {
    let teams: HashMap<String, TeamId> = tx
        .teams()
        .await?
        .into_iter()
        .map(|t| (t.name.to_lowercase(), t.id))
        .collect();
    // Schedules with layers of their own first, so that followers find what they follow.
    let mut order: Vec<usize> = (0..doc.schedules.len()).collect();
    order.sort_by_key(|i| doc.schedules[*i].follows.is_some());
    for i in order {
        let schedule = &doc.schedules[i];
        let at = |field: &str| format!("schedules[{i}].{field}");
        let team_id = *teams
            .get(&schedule.team.trim().to_lowercase())
            .ok_or_else(|| ApiError {
                code: crate::error::ErrorCode::UnknownReference,
                message: format!("no team is named `{}`", schedule.team).into(),
                field: Some(at("team").into()),
            })?;
        let name = schedule.name.trim();
        if name.is_empty() {
            return Err(ApiError::invalid(at("name"), "a schedule needs a name"));
        }
        let tz = zone(&schedule.time_zone, &at("time_zone"))?;
        let layers = schedule
            .layers
            .iter()
            .enumerate()
            .map(|(j, layer)| {
                layer_input(layer, |field| at(&format!("layers[{j}].{field}")), user_id)
            })
            .collect::<ApiResult<Vec<_>>>()?;
        validate_layers(&layers, &tz).map_err(|e| e.within(&format!("schedules[{i}]")))?;
        let siblings = tx.schedules(Some(team_id)).await?;
        let follows = match &schedule.follows {
            None => None,
            Some(target) => {
                if !layers.is_empty() {
                    return Err(ApiError::invalid(
                        at("layers"),
                        "a schedule that follows another has no layers of its own",
                    ));
                }
                let found = siblings
                    .iter()
                    .find(|s| s.name.eq_ignore_ascii_case(target.trim()))
                    .ok_or_else(|| ApiError {
                        code: crate::error::ErrorCode::UnknownReference,
                        message: format!(
                            "team `{}` has no schedule named `{target}`",
                            schedule.team
                        )
                        .into(),
                        field: Some(at("follows").into()),
                    })?;
                Some(Follows {
                    schedule_id: found.id,
                    offset: schedule.offset.unwrap_or(1),
                })
            }
        };
        let input = ScheduleInput {
            team_id,
            name: name.to_owned(),
            time_zone: schedule.time_zone.clone(),
            follows,
        };
        let label = format!("{}/{name}", schedule.team.trim());
        let result: ApiResult<()> = async {
            match siblings.iter().find(|s| s.name.eq_ignore_ascii_case(name)) {
                None => {
                    let created = tx.insert_schedule(&input).await?;
                    for layer in &layers {
                        tx.insert_layer(created.id, layer).await?;
                    }
                    report.changes.push(format!("created schedule {label}"));
                }
                Some(current) => {
                    let id: ScheduleId = current.id;
                    let settings_differ = current.name != input.name
                        || current.time_zone != input.time_zone
                        || current.follows != input.follows;
                    let layer_changes = sync_layers(tx, id, &current.layers, &layers).await?;
                    if settings_differ {
                        tx.update_schedule(id, &input).await?;
                    }
                    if settings_differ || layer_changes > 0 {
                        report.changes.push(format!("updated schedule {label}"));
                    }
                }
            }
            Ok(())
        }
        .await;
        result.map_err(|e| {
            if e.field.is_none() {
                e.within(&format!("schedules[{i}]"))
            } else {
                e
            }
        })?;
    }
    Ok(())
}

fn layer_input(
    layer: &OrgLayer,
    at: impl Fn(&str) -> String,
    user_id: &impl Fn(&str, String) -> ApiResult<UserId>,
) -> ApiResult<LayerInput> {
    let participants = layer
        .participants
        .iter()
        .enumerate()
        .map(|(k, email)| user_id(email, at(&format!("participants[{k}]"))))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(LayerInput {
        name: layer.name.trim().to_owned(),
        participants,
        turn: layer.turn.trim().to_owned(),
        handoff: layer.handoff.trim().to_owned(),
        start: whole_seconds(layer.start),
        end: layer.end.map(whole_seconds),
        restrictions: layer
            .restrictions
            .iter()
            .map(|r| RestrictionInput {
                days: r.days.clone(),
                start: r.start.clone(),
                end: r.end.clone(),
            })
            .collect(),
        offset: layer.offset,
    })
}

/// The whole organisation as a document.
pub async fn export(tx: &mut dyn Tx) -> ApiResult<OrgDocument> {
    let users = tx.users().await?;
    let emails: HashMap<UserId, String> = users.iter().map(|u| (u.id, u.email.clone())).collect();
    let email = |id: &UserId| emails.get(id).cloned().unwrap_or_default();
    let teams = tx.teams().await?;
    let team_names: HashMap<TeamId, String> =
        teams.iter().map(|t| (t.id, t.name.clone())).collect();
    let ticket_settings: HashMap<TeamId, _> = tx
        .all_ticket_settings()
        .await?
        .into_iter()
        .map(|s| (s.team_id, s))
        .collect();
    let schedules = tx.schedules(None).await?;
    let schedule_names: HashMap<ScheduleId, String> =
        schedules.iter().map(|s| (s.id, s.name.clone())).collect();
    let mut org_users = Vec::with_capacity(users.len());
    for u in &users {
        let methods = tx.contact_methods(u.id).await?;
        org_users.push(OrgUser {
            name: u.name.clone(),
            email: u.email.clone(),
            time_zone: u.time_zone.clone(),
            role: u.role.to_string(),
            photo_url: u.photo_url.clone(),
            contact_methods: (!methods.is_empty()).then(|| {
                methods
                    .into_iter()
                    .map(|m| OrgContact {
                        kind: m.kind,
                        address: m.address,
                        label: m.label,
                    })
                    .collect()
            }),
        });
    }
    let policies = tx.policies().await?;
    let policy_names: HashMap<watchbill_core::PolicyId, String> =
        policies.iter().map(|p| (p.id, p.name.clone())).collect();
    let escalation_policies = policies
        .iter()
        .map(|p| OrgPolicy {
            team: team_names.get(&p.team_id).cloned().unwrap_or_default(),
            name: p.name.clone(),
            repeat: p.repeat,
            levels: p
                .levels
                .iter()
                .map(|l| OrgLevel {
                    delay_seconds: l.delay_seconds,
                    targets: l
                        .targets
                        .iter()
                        .map(|t| {
                            use watchbill_store::paging::TargetKind;
                            let mut target = OrgTarget {
                                schedule: None,
                                user: None,
                                team: None,
                            };
                            match t.kind {
                                TargetKind::Schedule => {
                                    target.schedule = schedule_names.get(&ScheduleId(t.id)).cloned()
                                }
                                TargetKind::User => {
                                    target.user = emails.get(&UserId(t.id)).cloned()
                                }
                                TargetKind::Team => {
                                    target.team = team_names.get(&TeamId(t.id)).cloned()
                                }
                            }
                            target
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    let mut services = Vec::new();
    for s in tx.services().await? {
        let integrations = tx.integrations(Some(s.id)).await?;
        services.push(OrgService {
            team: team_names.get(&s.team_id).cloned().unwrap_or_default(),
            name: s.name,
            description: s.description,
            escalation_policy: s
                .escalation_policy_id
                .and_then(|p| policy_names.get(&p).cloned()),
            default_urgency: s.default_urgency.as_str().to_owned(),
            low_urgency_tickets: s.low_urgency_tickets,
            integrations: integrations
                .into_iter()
                .map(|i| OrgIntegration {
                    kind: i.kind.as_str().to_owned(),
                    name: i.name,
                })
                .collect(),
        });
    }
    let service_names: HashMap<_, _> = tx
        .services()
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let mail_addresses = tx
        .mail_addresses()
        .await?
        .into_iter()
        .map(|a| OrgMailAddress {
            address: a.input.address,
            team: team_names
                .get(&a.input.team_id)
                .cloned()
                .unwrap_or_default(),
            mode: a.input.mode.as_str().to_owned(),
            service: a
                .input
                .service_id
                .and_then(|s| service_names.get(&s).cloned()),
            priority: a.input.priority,
            labels: a.input.labels,
            due_days: a.input.due_days,
            allow: a.input.allow,
        })
        .collect();
    Ok(OrgDocument {
        escalation_policies,
        services,
        mail_addresses,
        users: org_users,
        teams: teams
            .iter()
            .map(|t| OrgTeam {
                name: t.name.clone(),
                description: t.description.clone(),
                members: t.members.iter().map(email).collect(),
                tickets: ticket_settings.get(&t.id).map(|s| OrgTicketSettings {
                    prefix: s.prefix.clone(),
                    duty_filter: Some(s.duty_filter.clone()),
                    assign_to_captain: s.assign_to_captain,
                }),
            })
            .collect(),
        schedules: schedules
            .iter()
            .map(|s| OrgSchedule {
                team: team_names.get(&s.team_id).cloned().unwrap_or_default(),
                name: s.name.clone(),
                time_zone: s.time_zone.clone(),
                follows: s
                    .follows
                    .and_then(|f| schedule_names.get(&f.schedule_id).cloned()),
                offset: s.follows.map(|f| f.offset),
                layers: s
                    .layers
                    .iter()
                    .map(|l| OrgLayer {
                        name: l.input.name.clone(),
                        participants: l.input.participants.iter().map(email).collect(),
                        turn: l.input.turn.clone(),
                        handoff: l.input.handoff.clone(),
                        start: l.input.start,
                        end: l.input.end,
                        restrictions: l
                            .input
                            .restrictions
                            .iter()
                            .map(|r| RestrictionBody {
                                days: r.days.clone(),
                                start: r.start.clone(),
                                end: r.end.clone(),
                            })
                            .collect(),
                        offset: l.input.offset,
                    })
                    .collect(),
            })
            .collect(),
    })
}
