//! "Now": my shifts (current and upcoming), my open incidents, my teams' open incidents.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use jiff::SignedDuration;
use watchbill_core::paging::IncidentStatus;
use watchbill_store::paging::IncidentFilter;

use super::format::{span, zone};
use super::incidents::{Names, Row};
use super::{render, Shell, Viewer, WebResult};
use crate::state::AppState;

/// How far ahead "upcoming" looks.
const AHEAD: SignedDuration = SignedDuration::from_hours(24 * 28);

struct ShiftRow {
    schedule: String,
    team: String,
    span: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "now.html")]
struct NowPage {
    shell: Shell,
    shifts: Vec<ShiftRow>,
    mine: Vec<Row>,
    teams: Vec<Row>,
}

pub async fn page(State(state): State<AppState>, viewer: Viewer) -> WebResult<Response> {
    let now = state.clock.now();
    let until = now.saturating_add(AHEAD).unwrap_or(now);
    let mut tx = state.store.read().await?;
    let roster = state.roster.get(tx.as_mut(), now).await?;
    let me = viewer.user.id;
    let my_zone = zone(&viewer.user.time_zone);
    let mut shifts = Vec::new();
    for schedule in &roster.schedules {
        let Some(resolved) = roster.resolved.get(&schedule.id) else {
            continue;
        };
        let team = roster
            .teams
            .iter()
            .find(|t| t.id == schedule.team_id)
            .map(|t| t.name.clone())
            .unwrap_or_default();
        for shift in resolved.render(now, until) {
            if shift.user == Some(me) {
                shifts.push((
                    shift.start,
                    ShiftRow {
                        schedule: schedule.name.clone(),
                        team: team.clone(),
                        span: span(shift.start, shift.end, &my_zone),
                        current: shift.start <= now && now < shift.end,
                    },
                ));
            }
        }
    }
    shifts.sort_by_key(|(start, _)| *start);
    let open = vec![IncidentStatus::Triggered, IncidentStatus::Acknowledged];
    let names = Names::load(tx.as_mut()).await?;
    let mine = tx
        .incidents(&IncidentFilter {
            statuses: open.clone(),
            assignee: Some(me),
            limit: 200,
            ..IncidentFilter::default()
        })
        .await?;
    let mut teams = Vec::new();
    for team in roster.teams.iter().filter(|t| t.members.contains(&me)) {
        teams.extend(
            tx.incidents(&IncidentFilter {
                statuses: open.clone(),
                team: Some(team.id),
                limit: 200,
                ..IncidentFilter::default()
            })
            .await?,
        );
    }
    teams.sort_by_key(|i| std::cmp::Reverse(i.id));
    teams.dedup_by_key(|i| i.id);
    Ok(render(&NowPage {
        shell: Shell::new(&viewer, "now"),
        shifts: shifts.into_iter().map(|(_, row)| row).collect(),
        mine: mine.iter().map(|i| names.row(i, &viewer)).collect(),
        teams: teams.iter().map(|i| names.row(i, &viewer)).collect(),
    }))
}
