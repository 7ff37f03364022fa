//! The duty week's planning pages: who is on duty in the coming weeks (sprint planning), how a
//! team's weeks balanced its work (an SVG chart), and the handoff reports.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use jiff::SignedDuration;
use watchbill_core::TeamId;

use super::format::{when, zone};
use super::{render, Shell, Viewer, WebResult};
use crate::api::balance::{balance, BalanceQuery};
use crate::api::duty::weeks_of;
use crate::api::handoff::{handoff_report, kept_reports, last_handoff, HandoffReport, ReportQuery};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;

/// How many weeks sprint planning shows.
const WEEKS: i64 = 8;

struct WeekRow {
    label: String,
    cells: Vec<String>,
}

#[derive(Template)]
#[template(path = "planning.html")]
struct PlanningPage {
    shell: Shell,
    start: String,
    team_names: Vec<String>,
    weeks: Vec<WeekRow>,
    count: i64,
}

pub async fn planning(State(state): State<AppState>, viewer: Viewer) -> WebResult<Response> {
    // Weeks run from handoff to handoff: from the first team's last one, when it has had one.
    let now = {
        let now = state.clock.now();
        let mut tx = state.store.read().await?;
        let roster = state.roster.get(tx.as_mut(), now).await?;
        roster
            .teams
            .first()
            .and_then(|team| last_handoff(&roster, team.id, now))
            .unwrap_or(now)
    };
    let rows = weeks_of(&state, now, WEEKS, None).await?;
    let zone = zone(&viewer.user.time_zone);
    let mut team_names: Vec<String> = Vec::new();
    for row in &rows {
        if !team_names.contains(&row.team_name) {
            team_names.push(row.team_name.clone());
        }
    }
    let weeks = (0..WEEKS)
        .map(|week| {
            let start = now
                .saturating_add(SignedDuration::from_hours(24 * 7 * week))
                .unwrap_or(now);
            WeekRow {
                label: format!("from {}", when(start, &zone)),
                cells: team_names
                    .iter()
                    .map(|team| {
                        rows.iter()
                            .filter(|r| &r.team_name == team)
                            .nth(usize::try_from(week).unwrap_or(0))
                            .map(|r| {
                                let mut names: Vec<String> = r
                                    .shares
                                    .iter()
                                    .map(|s| format!("{} ({:.0} h)", s.user.name, s.hours))
                                    .collect();
                                if r.shares.len() == 1 {
                                    names = vec![r.shares[0].user.name.clone()];
                                }
                                if names.is_empty() {
                                    "nobody".to_owned()
                                } else {
                                    names.join(", ")
                                }
                            })
                            .unwrap_or_default()
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(render(&PlanningPage {
        shell: Shell::new(&viewer, "duty"),
        start: when(now, &zone),
        team_names,
        weeks,
        count: WEEKS,
    }))
}

struct Segment {
    y: String,
    height: String,
    kind: &'static str,
    title: String,
}

struct Bar {
    x: String,
    label: String,
    segments: Vec<Segment>,
    page_x: String,
    page_y: String,
    page_height: String,
    page_title: String,
}

#[derive(Template)]
#[template(path = "balance.html")]
struct BalancePage {
    shell: Shell,
    team: String,
    width: u32,
    height: u32,
    bar_width: u32,
    page_width: u32,
    label_y: u32,
    bars: Vec<Bar>,
    rows: Vec<BalanceRow>,
}

/// One week of the balance table.
struct BalanceRow {
    week: String,
    captain: String,
    bugs: usize,
    features: usize,
    maintenance: usize,
    tasks: usize,
    pages: usize,
    page_hours: String,
}

/// The chart's geometry: a plot 180 units high above a line of week labels.
const PLOT: f64 = 180.0;
const SLOT: u32 = 90;

pub async fn team_balance(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    // The last eight weeks, handoff to handoff, the current week last.
    let (team, from) = {
        let now = state.clock.now();
        let mut tx = state.store.read().await?;
        let team = tx.team(TeamId(id)).await?.name;
        let roster = state.roster.get(tx.as_mut(), now).await?;
        let last = last_handoff(&roster, TeamId(id), now).unwrap_or(now);
        let from = last
            .saturating_sub(SignedDuration::from_hours(24 * 7 * 7))
            .unwrap_or(last);
        (team, from)
    };
    let query = BalanceQuery {
        from: Some(from.to_string()),
        weeks: Some(8),
    };
    let axum::Json(weeks) = balance(
        State(state.clone()),
        viewer.caller(),
        ApiPath(id),
        ApiQuery(query),
    )
    .await?;
    let zone = zone(&viewer.user.time_zone);
    let most_closed = weeks
        .iter()
        .map(|w| w.closed.bug + w.closed.feature + w.closed.maintenance + w.closed.task)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let most_hours = weeks.iter().map(|w| w.page_hours).fold(1.0_f64, f64::max);
    let mut bars = Vec::new();
    let mut rows = Vec::new();
    for (i, week) in weeks.iter().enumerate() {
        let x = 10 + SLOT * u32::try_from(i).unwrap_or(0);
        let label = week
            .start
            .to_zoned(zone.clone())
            .strftime("%-d %b")
            .to_string();
        let mut top = PLOT + 10.0;
        let mut segments = Vec::new();
        for (kind, count) in [
            ("bug", week.closed.bug),
            ("feature", week.closed.feature),
            ("maintenance", week.closed.maintenance),
            ("task", week.closed.task),
        ] {
            let height = count as f64 / most_closed * PLOT;
            top -= height;
            segments.push(Segment {
                y: format!("{top:.1}"),
                height: format!("{height:.1}"),
                kind,
                title: format!("{count} {kind}(s) closed in the week of {label}"),
            });
        }
        let page_height = week.page_hours / most_hours * PLOT;
        bars.push(Bar {
            x: x.to_string(),
            page_x: (x + 42).to_string(),
            page_y: format!("{:.1}", PLOT + 10.0 - page_height),
            page_height: format!("{page_height:.1}"),
            page_title: format!("{} page(s), {:.1} h", week.pages, week.page_hours),
            label: label.clone(),
            segments,
        });
        rows.push(BalanceRow {
            week: label,
            captain: week
                .captain
                .as_ref()
                .map_or_else(|| "nobody".to_owned(), |c| c.name.clone()),
            bugs: week.closed.bug,
            features: week.closed.feature,
            maintenance: week.closed.maintenance,
            tasks: week.closed.task,
            pages: week.pages,
            page_hours: format!("{:.1}", week.page_hours),
        });
    }
    Ok(render(&BalancePage {
        shell: Shell::new(&viewer, "duty"),
        team,
        width: 20 + SLOT * u32::try_from(weeks.len()).unwrap_or(0),
        height: PLOT as u32 + 30,
        bar_width: 38,
        page_width: 24,
        label_y: PLOT as u32 + 25,
        bars,
        rows,
    }))
}

struct ReportView {
    title: String,
    lines: Vec<String>,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    shell: Shell,
    team: String,
    reports: Vec<ReportView>,
}

fn report_view(report: &HandoffReport, zone: &jiff::tz::TimeZone, kept: bool) -> ReportView {
    ReportView {
        title: format!(
            "The week to {}{}",
            when(report.week_end, zone),
            if kept { "" } else { " (as of now)" }
        ),
        lines: report.lines(),
    }
}

pub async fn reports(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let team = {
        let mut tx = state.store.read().await?;
        tx.team(TeamId(id)).await?.name
    };
    let zone = zone(&viewer.user.time_zone);
    let mut views = Vec::new();
    let axum::Json(kept) = kept_reports(State(state.clone()), viewer.caller(), ApiPath(id)).await?;
    if kept.is_empty() {
        // Nothing written yet (the server was not running at the last handoff): show the report
        // of the week that ended then, as it stands.
        if let Ok(axum::Json(report)) = handoff_report(
            State(state.clone()),
            viewer.caller(),
            ApiPath(id),
            ApiQuery(ReportQuery { at: None }),
        )
        .await
        {
            views.push(report_view(&report, &zone, false));
        }
    }
    for kept in kept {
        if let Ok(report) = serde_json::from_value::<HandoffReport>(kept.report) {
            views.push(report_view(&report, &zone, true));
        }
    }
    Ok(render(&ReportsPage {
        shell: Shell::new(&viewer, "duty"),
        team,
        reports: views,
    }))
}
