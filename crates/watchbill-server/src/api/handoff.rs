//! `/api/v1/teams/{id}/handoff-report`: the week that just ended at the duty schedule's last
//! handoff: the outgoing captain's pages and maintenance work, and the incoming captain's
//! queue. `/api/v1/teams/{id}/handoff-reports` lists the reports the engine wrote at each
//! handoff, as they were then.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::code::{components, is_test_file};
use watchbill_core::tickets::filter::{compile, parse, Context};
use watchbill_core::tickets::TicketStatus;
use watchbill_core::{TeamId, UserId};
use watchbill_store::paging::IncidentFilter;
use watchbill_store::Tx;

use super::instant;
use super::oncall::PersonView;
use super::tickets::{directory, TicketView};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::roster::Roster;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handoff_report))
        .routes(routes!(kept_reports))
}

/// The seed's hope for a duty week: between five and twenty tickets closed.
pub const CLOSED_TARGET: (usize, usize) = (5, 20);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Report on the week that ended at the last handoff at or before this instant; default now.
    pub at: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema, Deserialize)]
pub struct PageFigures {
    pub count: usize,
    /// Pages by service name.
    pub by_service: BTreeMap<String, usize>,
    /// Pages between 22:00 and 08:00 on the captain's clock.
    pub out_of_hours: usize,
    /// Median minutes from trigger to acknowledgement, of those acknowledged.
    pub median_minutes_to_acknowledge: Option<f64>,
    /// Median minutes from trigger to resolution, of those resolved.
    pub median_minutes_to_resolve: Option<f64>,
}

/// What the outgoing captain's pushed commits did during the week.
#[derive(Debug, Clone, Default, Serialize, ToSchema, Deserialize)]
pub struct CodeFigures {
    pub commits: usize,
    /// The components their commits touched (added or modified), sorted.
    pub components_touched: Vec<String>,
    /// The test files their commits added.
    pub test_files_added: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema, Deserialize)]
pub struct HandoffReport {
    pub team_id: i64,
    pub week_start: Timestamp,
    pub week_end: Timestamp,
    pub outgoing: Option<PersonView>,
    pub incoming: Option<PersonView>,
    pub pages: PageFigures,
    /// Duty tickets resolved or closed during the week.
    pub duty_closed: usize,
    /// Whether that is within the 5 to 20 a duty week hopes for.
    pub duty_within_target: bool,
    /// Tickets of the team filed during the week.
    pub opened: usize,
    /// Open tickets of the team past their due date at the handoff.
    pub overdue: usize,
    /// The duty queue the incoming captain inherits.
    pub carried_over: Vec<TicketView>,
    /// The outgoing captain's commits, matched by their e-mail address.
    pub code: CodeFigures,
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len() % 2 == 0 {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    })
}

impl HandoffReport {
    /// The report's figures, a sentence each, as the mail and the report page show them.
    pub fn lines(&self) -> Vec<String> {
        let name = |p: &Option<PersonView>| {
            p.as_ref()
                .map_or_else(|| "nobody".to_owned(), |p| p.name.clone())
        };
        let minutes = |m: Option<f64>| m.map_or_else(|| "-".to_owned(), |m| format!("{m:.0} min"));
        let list = |items: Vec<&str>| {
            if items.is_empty() {
                "none".to_owned()
            } else {
                items.join(", ")
            }
        };
        let services: Vec<String> = self
            .pages
            .by_service
            .iter()
            .map(|(service, n)| format!("{service} {n}"))
            .collect();
        vec![
            format!(
                "Outgoing captain: {}. Incoming captain: {}.",
                name(&self.outgoing),
                name(&self.incoming)
            ),
            format!(
                "Pages: {} (by service: {}; {} out of hours); median {} to acknowledge, {} to resolve.",
                self.pages.count,
                list(services.iter().map(String::as_str).collect()),
                self.pages.out_of_hours,
                minutes(self.pages.median_minutes_to_acknowledge),
                minutes(self.pages.median_minutes_to_resolve),
            ),
            format!(
                "Duty tickets closed: {} ({} the 5-20 target).",
                self.duty_closed,
                if self.duty_within_target { "within" } else { "outside" }
            ),
            format!(
                "Tickets opened: {}; overdue: {}; carried over: {}.",
                self.opened,
                self.overdue,
                list(self.carried_over.iter().map(|t| t.key.as_str()).collect())
            ),
            format!(
                "Code: {} commit(s); components touched: {}; test files added: {}.",
                self.code.commits,
                list(self.code.components_touched.iter().map(String::as_str).collect()),
                self.code.test_files_added.len()
            ),
        ]
    }

    /// The report as plain text, for email.
    pub fn summary(&self, team: &str) -> String {
        format!(
            "Handoff report for {team}, the week {} to {}.\n\n{}",
            self.week_start,
            self.week_end,
            self.lines().join("\n")
        )
    }
}

/// The handoff report of the week that ended at the team's last handoff.
#[utoipa::path(get, path = "/api/v1/teams/{id}/handoff-report", tag = "tickets", params(("id" = i64, Path, description = "Team id"), ReportQuery),
    responses((status = 200, body = HandoffReport), (status = 404, body = ApiError)), security(("token" = [])))]
pub(crate) async fn handoff_report(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> ApiResult<Json<HandoffReport>> {
    let now = state.clock.now();
    let at = instant(query.at.as_deref(), now, "at")?;
    let mut tx = state.store.read().await?;
    tx.team(TeamId(id)).await?;
    let roster = state.roster.get(tx.as_mut(), at).await?;
    Ok(Json(report(tx.as_mut(), &roster, TeamId(id), at).await?))
}

/// A report as it was written at its handoff.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeptReport {
    pub week_end: Timestamp,
    #[schema(value_type = HandoffReport)]
    pub report: serde_json::Value,
}

/// The reports written at the team's handoffs, newest first (at most 52).
#[utoipa::path(get, path = "/api/v1/teams/{id}/handoff-reports", tag = "tickets", params(("id" = i64, Path, description = "Team id")),
    responses((status = 200, body = [KeptReport]), (status = 404, body = ApiError)), security(("token" = [])))]
pub(crate) async fn kept_reports(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<KeptReport>>> {
    let mut tx = state.store.read().await?;
    tx.team(TeamId(id)).await?;
    let kept = tx.handoff_reports(TeamId(id), 52).await?;
    Ok(Json(
        kept.into_iter()
            .map(|(week_end, body)| KeptReport {
                week_end,
                report: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
            })
            .collect(),
    ))
}

/// The last handoff of the team's duty schedule at or before `at`, if it has had one.
pub fn last_handoff(roster: &Roster, team: TeamId, at: Timestamp) -> Option<Timestamp> {
    let record = roster.duty_schedule(team)?;
    roster.resolved.get(&record.id)?.now(at).since
}

/// The handoff report of the week that ended at the team's last handoff at or before `at`.
pub async fn report(
    tx: &mut dyn Tx,
    roster: &Roster,
    team: TeamId,
    at: Timestamp,
) -> ApiResult<HandoffReport> {
    let id = team.0;
    let record = roster
        .duty_schedule(team)
        .ok_or_else(|| ApiError::not_found(format!("a schedule of team {id}")))?;
    let schedule = roster
        .resolved
        .get(&record.id)
        .ok_or_else(|| ApiError::not_found(format!("schedule {}", record.id)))?;
    // The week ends at the handoff that began the current stretch, and starts at the one before.
    let current = schedule.now(at);
    let week_end = current.since.unwrap_or(at);
    let before = week_end
        .saturating_sub(SignedDuration::from_secs(1))
        .unwrap_or(week_end);
    let week_start = schedule.now(before).since.unwrap_or(
        week_end
            .saturating_sub(SignedDuration::from_hours(24 * 7))
            .unwrap_or(week_end),
    );
    let outgoing = schedule
        .coverage(week_start, week_end)
        .first()
        .map(|(user, _)| *user);
    let incoming = schedule.on_call_at(week_end).map(|(user, _)| user);
    let person = |user: UserId| {
        roster.users.get(&user).map(|u| PersonView {
            id: u.id.0,
            name: u.name.clone(),
            email: u.email.clone(),
            photo_url: u.photo_url.clone(),
        })
    };

    let mut pages = PageFigures::default();
    if let Some(captain) = outgoing {
        let zone = roster
            .users
            .get(&captain)
            .and_then(|u| jiff::tz::TimeZone::get(&u.time_zone).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        let services: BTreeMap<_, _> = tx
            .services()
            .await?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect();
        let incidents = tx
            .incidents(&IncidentFilter {
                team: Some(team),
                limit: 1000,
                ..IncidentFilter::default()
            })
            .await?;
        let (mut to_ack, mut to_resolve) = (Vec::new(), Vec::new());
        for incident in incidents
            .iter()
            .filter(|i| i.created_at >= week_start && i.created_at < week_end)
        {
            let paged = tx
                .notifications(incident.id)
                .await?
                .iter()
                .any(|n| n.input.user_id == captain);
            if !paged {
                continue;
            }
            pages.count += 1;
            let service = services
                .get(&incident.service_id)
                .cloned()
                .unwrap_or_default();
            *pages.by_service.entry(service).or_default() += 1;
            let hour = incident.created_at.to_zoned(zone.clone()).hour();
            if !(8..22).contains(&hour) {
                pages.out_of_hours += 1;
            }
            let minutes = |later: Timestamp| {
                (later.as_second() - incident.created_at.as_second()) as f64 / 60.0
            };
            to_ack.extend(incident.acknowledged_at.map(minutes));
            to_resolve.extend(incident.resolved_at.map(minutes));
        }
        pages.median_minutes_to_acknowledge = median(to_ack);
        pages.median_minutes_to_resolve = median(to_resolve);
    }

    let (mut duty_closed, mut opened, mut overdue, mut carried_over) = (0, 0, 0, Vec::new());
    if let Some(settings) = tx.ticket_settings(team).await? {
        let users = directory(tx).await?;
        let prefix = &settings.prefix;
        let run = |text: String| parse(&text).map_err(|e| ApiError::invalid("at", e.to_string()));
        let closed_query = run(format!(
            "team = {prefix} AND label = product-maintenance-duty AND resolved >= \"{week_start}\" AND resolved < \"{week_end}\""
        ))?;
        let opened_query = run(format!(
            "team = {prefix} AND created >= \"{week_start}\" AND created < \"{week_end}\""
        ))?;
        let today = week_end.to_zoned(jiff::tz::TimeZone::UTC).date();
        let overdue_query = run(format!(
            "team = {prefix} AND status IN (open, in_progress) AND due < {today}"
        ))?;
        let mut queue_query = run(settings.duty_filter.clone())?;
        let own = run(format!("team = {prefix}"))?.filter;
        queue_query.filter = match (own, queue_query.filter.take()) {
            (Some(own), Some(rest)) => {
                Some(watchbill_core::tickets::filter::Expr::And(vec![own, rest]))
            }
            (own, rest) => own.or(rest),
        };
        let compiled: Vec<_> = {
            let mut context = Context::new(week_end, jiff::tz::TimeZone::UTC).with_users(&users);
            if let Some(user) = incoming {
                context = context.with_current_duty(user);
            }
            [&closed_query, &opened_query, &overdue_query, &queue_query]
                .into_iter()
                .map(|q| compile(q, &context))
                .collect()
        };
        duty_closed = tx.find_tickets(&compiled[0], 10_000).await?.len();
        opened = tx.find_tickets(&compiled[1], 10_000).await?.len();
        overdue = tx.find_tickets(&compiled[2], 10_000).await?.len();
        carried_over = tx
            .find_tickets(&compiled[3], 500)
            .await?
            .into_iter()
            .filter(|t| {
                !matches!(
                    t.ticket.status,
                    TicketStatus::Closed | TicketStatus::Resolved
                )
            })
            .map(TicketView::from)
            .collect();
    }
    let mut code = CodeFigures::default();
    if let Some(email) = outgoing
        .and_then(|user| roster.users.get(&user))
        .map(|u| u.email.to_lowercase())
    {
        let commits: Vec<_> = tx
            .commits(team, week_start, week_end)
            .await?
            .into_iter()
            .filter(|c| c.author_email == email)
            .collect();
        code.commits = commits.len();
        code.components_touched = components(
            commits
                .iter()
                .flat_map(|c| c.added.iter().chain(&c.modified))
                .map(String::as_str),
        )
        .into_iter()
        .collect();
        let mut tests: Vec<String> = commits
            .iter()
            .flat_map(|c| &c.added)
            .filter(|path| is_test_file(path))
            .cloned()
            .collect();
        tests.sort();
        tests.dedup();
        code.test_files_added = tests;
    }
    Ok(HandoffReport {
        team_id: id,
        week_start,
        week_end,
        outgoing: outgoing.and_then(person),
        incoming: incoming.and_then(person),
        pages,
        duty_closed,
        duty_within_target: (CLOSED_TARGET.0..=CLOSED_TARGET.1).contains(&duty_closed),
        opened,
        overdue,
        carried_over,
        code,
    })
}
