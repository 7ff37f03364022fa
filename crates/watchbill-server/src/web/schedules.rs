//! Schedules: who is on call on each, and one schedule's final timeline and layers for the
//! coming weeks with its coverage gaps, where an override or swap can be made.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use watchbill_core::schedule::{Shift, Source};
use watchbill_core::{Role, ScheduleId};

use super::format::{span, when, zone};
use super::{render, see_other, Posted, Shell, Viewer, WebResult};
use crate::api::oncall::on_call_in;
use crate::api::overrides::{add_override, OverrideBody};
use crate::api::schedules::resolve_one;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// How far ahead a schedule's page shows.
const WEEKS: i64 = 4;

struct ScheduleRow {
    id: i64,
    team: String,
    name: String,
    on_call: String,
    until: String,
    zone: String,
    ics: String,
}

#[derive(Template)]
#[template(path = "schedules.html")]
struct ListPage {
    shell: Shell,
    rows: Vec<ScheduleRow>,
}

pub async fn list(State(state): State<AppState>, viewer: Viewer) -> WebResult<Response> {
    let now = state.clock.now();
    let mut tx = state.store.read().await?;
    let roster = state.roster.get(tx.as_mut(), now).await?;
    let view = on_call_in(&roster, now, None)?;
    let rows = view
        .schedules
        .iter()
        .filter_map(|s| {
            let record = roster.schedules.iter().find(|r| r.id.0 == s.schedule_id)?;
            let zone = zone(&record.time_zone);
            Some(ScheduleRow {
                id: s.schedule_id,
                team: s.team_name.clone(),
                name: s.schedule_name.clone(),
                on_call: s
                    .user
                    .as_ref()
                    .map_or_else(|| "nobody (a gap)".to_owned(), |u| u.name.clone()),
                until: s.until.map(|u| when(u, &zone)).unwrap_or_default(),
                zone: record.time_zone.clone(),
                ics: format!(
                    "{}/ics/schedules/{}.ics",
                    state.public_url, record.ics_token
                ),
            })
        })
        .collect();
    Ok(render(&ListPage {
        shell: Shell::new(&viewer, "schedules"),
        rows,
    }))
}

struct Segment {
    percent: String,
    label: String,
    short: String,
    gap: bool,
    overridden: bool,
}

struct Track {
    name: String,
    segments: Vec<Segment>,
}

#[derive(Template)]
#[template(path = "schedule.html")]
struct SchedulePage {
    shell: Shell,
    id: i64,
    name: String,
    team: String,
    zone: String,
    ics: String,
    window: String,
    gaps: Vec<String>,
    tracks: Vec<Track>,
    can_act: bool,
    people: Vec<(i64, String)>,
    error: Option<String>,
}

fn track(
    name: String,
    shifts: &[Shift],
    from: Timestamp,
    to: Timestamp,
    zone: &TimeZone,
    names: &std::collections::HashMap<watchbill_core::UserId, String>,
) -> Track {
    let total = to.duration_since(from).as_secs_f64().max(1.0);
    let segments = shifts
        .iter()
        .map(|shift| {
            let who = shift.user.map_or_else(
                || "Nobody".to_owned(),
                |u| {
                    names
                        .get(&u)
                        .cloned()
                        .unwrap_or_else(|| format!("user {u}"))
                },
            );
            let length = shift.end.duration_since(shift.start).as_secs_f64();
            Segment {
                percent: format!("{:.3}", length / total * 100.0),
                label: format!("{who}: {}", span(shift.start, shift.end, zone)),
                short: who,
                gap: shift.user.is_none(),
                overridden: matches!(shift.source, Some(Source::Override(_))),
            }
        })
        .collect();
    Track { name, segments }
}

async fn schedule_page(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    error: Option<String>,
) -> ApiResult<SchedulePage> {
    let from = state.clock.now();
    let to = from
        .saturating_add(SignedDuration::from_hours(24 * 7 * WEEKS))
        .unwrap_or(from);
    let mut tx = state.store.read().await?;
    let resolved = resolve_one(tx.as_mut(), ScheduleId(id), from, to).await?;
    let team = tx.team(resolved.record.team_id).await?;
    let zone = zone(&resolved.record.time_zone);
    let mut tracks = vec![track(
        "Final schedule".to_owned(),
        &resolved.schedule.render(from, to),
        from,
        to,
        &zone,
        &resolved.names,
    )];
    for (index, layer) in resolved.layer_names.iter().enumerate() {
        tracks.push(track(
            format!("Layer: {layer}"),
            &resolved.schedule.render_layer(index, from, to),
            from,
            to,
            &zone,
            &resolved.names,
        ));
    }
    let gaps = resolved
        .schedule
        .gaps(from, to)
        .into_iter()
        .map(|(start, end)| span(start, end, &zone))
        .collect();
    let mut people: Vec<(i64, String)> = team
        .members
        .iter()
        .map(|u| {
            (
                u.0,
                resolved
                    .names
                    .get(u)
                    .cloned()
                    .unwrap_or_else(|| format!("user {u}")),
            )
        })
        .collect();
    people.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(SchedulePage {
        shell: Shell::new(viewer, "schedules"),
        id,
        name: resolved.record.name.clone(),
        team: team.name,
        zone: resolved.record.time_zone.clone(),
        ics: format!(
            "{}/ics/schedules/{}.ics",
            state.public_url, resolved.record.ics_token
        ),
        window: format!("The next {WEEKS} weeks: {}", span(from, to, &zone)),
        gaps,
        tracks,
        can_act: viewer.can(Role::Responder),
        people,
        error,
    })
}

pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    Ok(render(&schedule_page(&state, &viewer, id, None).await?))
}

#[derive(Debug, Deserialize)]
pub struct OverrideForm {
    start: String,
    end: String,
    user_id: i64,
    #[serde(default)]
    swap_with: String,
    #[serde(default)]
    note: String,
}

/// Reads a `datetime-local` field as a wall-clock time in the schedule's zone.
fn local(field: &'static str, text: &str, zone: &TimeZone) -> ApiResult<Timestamp> {
    let civil: DateTime = text.trim().parse().map_err(|_| {
        ApiError::invalid(
            field,
            format!("`{text}` is not a date and time such as 2026-12-02T10:00"),
        )
    })?;
    civil
        .to_zoned(zone.clone())
        .map(|z| z.timestamp())
        .map_err(|e| ApiError::invalid(field, e.to_string()))
}

/// Creates an override from the schedule page; a refusal shows the page again with the reason.
pub async fn add_override_form(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Posted { viewer, form }: Posted<OverrideForm>,
) -> WebResult<Response> {
    let attempt = async {
        let zone = {
            let mut tx = state.store.read().await?;
            zone(&tx.schedule(ScheduleId(id)).await?.time_zone)
        };
        let swap_with = match form.swap_with.trim() {
            "" => None,
            text => Some(
                text.parse::<i64>()
                    .map_err(|_| ApiError::invalid("swap_with", "choose a person"))?,
            ),
        };
        let body = OverrideBody {
            start: local("start", &form.start, &zone)?,
            end: local("end", &form.end, &zone)?,
            user_id: form.user_id,
            swap_with,
            note: form.note.trim().to_owned(),
        };
        add_override(&state, &viewer.caller(), id, &body).await
    };
    match attempt.await {
        Ok(_) => Ok(see_other(&format!("/schedules/{id}"))),
        Err(error)
            if error.code.status().is_client_error()
                && error.code.status() != StatusCode::NOT_FOUND =>
        {
            let status = error.code.status();
            let page = schedule_page(&state, &viewer, id, Some(error.message.to_string())).await?;
            Ok((status, render(&page)).into_response())
        }
        Err(error) => Err(error.into()),
    }
}
