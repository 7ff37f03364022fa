//! Calendar feeds (RFC 5545) at secret URLs: one per schedule, one per user.
//!
//! The URL's token is the only credential, so a calendar client can subscribe without an API
//! token; rotating a token is how a leaked feed is shut off.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::{ScheduleId, UserId};
use watchbill_store::model::Schedule;

use crate::error::{ApiError, ApiResult};
use crate::resolve::core_schedule;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(schedule_feed))
        .routes(routes!(user_feed))
}

/// Feeds cover the past 30 days and the coming 180.
const PAST: SignedDuration = SignedDuration::from_hours(24 * 30);
const FUTURE: SignedDuration = SignedDuration::from_hours(24 * 180);

/// One calendar event: a person's continuous stretch on one schedule.
struct Event {
    /// What identifies the event across fetches: its start, or its end if the feed's window
    /// cuts the start off.
    anchor: Timestamp,
    schedule: ScheduleId,
    user: UserId,
    start: Timestamp,
    end: Timestamp,
    summary: String,
}

fn token_of(file: &str) -> ApiResult<&str> {
    file.strip_suffix(".ics")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::not_found("calendar feed"))
}

/// A schedule's shifts as an iCalendar feed. The URL is the credential: no token needed.
#[utoipa::path(get, path = "/ics/schedules/{file}", tag = "calendar",
    params(("file" = String, Path, description = "The feed's secret followed by `.ics`")),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 404, body = ApiError)))]
async fn schedule_feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> ApiResult<Response> {
    let token = token_of(&file)?;
    let mut tx = state.store.read().await?;
    let schedule = tx
        .find_schedule_by_ics_token(token)
        .await?
        .ok_or_else(|| ApiError::not_found("calendar feed"))?;
    let all = tx.schedules(None).await?;
    let names: HashMap<UserId, String> = tx
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    let now = state.clock.now();
    let events = events(tx.as_mut(), &all, &[schedule.id], None, now, |user, _| {
        format!(
            "{}: {}",
            schedule.name,
            names.get(&user).map_or("unknown", String::as_str)
        )
    })
    .await?;
    Ok(calendar(&schedule.name, &events, now))
}

/// A person's shifts on every schedule as an iCalendar feed. The URL is the credential.
#[utoipa::path(get, path = "/ics/users/{file}", tag = "calendar",
    params(("file" = String, Path, description = "The feed's secret followed by `.ics`")),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 404, body = ApiError)))]
async fn user_feed(State(state): State<AppState>, Path(file): Path<String>) -> ApiResult<Response> {
    let token = token_of(&file)?;
    let mut tx = state.store.read().await?;
    let user = tx
        .find_user_by_ics_token(token)
        .await?
        .ok_or_else(|| ApiError::not_found("calendar feed"))?;
    let all = tx.schedules(None).await?;
    let ids: Vec<ScheduleId> = all.iter().map(|s| s.id).collect();
    let schedule_names: HashMap<ScheduleId, String> =
        all.iter().map(|s| (s.id, s.name.clone())).collect();
    let now = state.clock.now();
    let events = events(
        tx.as_mut(),
        &all,
        &ids,
        Some(user.id),
        now,
        |_, schedule| {
            format!(
                "On call: {}",
                schedule_names
                    .get(&schedule)
                    .map_or("schedule", String::as_str)
            )
        },
    )
    .await?;
    Ok(calendar(&format!("{} on call", user.name), &events, now))
}

/// The continuous stretches per person of the given schedules around `now`.
async fn events(
    tx: &mut dyn watchbill_store::Tx,
    all: &[Schedule],
    wanted: &[ScheduleId],
    only: Option<UserId>,
    now: Timestamp,
    summary: impl Fn(UserId, ScheduleId) -> String,
) -> ApiResult<Vec<Event>> {
    // Whole minutes, so that the feed does not change with every fetch.
    let minute =
        Timestamp::from_second(now.as_second() - now.as_second().rem_euclid(60)).unwrap_or(now);
    let from = minute.saturating_sub(PAST).unwrap_or(now);
    let to = minute.saturating_add(FUTURE).unwrap_or(now);
    let by_id: HashMap<ScheduleId, &Schedule> = all.iter().map(|s| (s.id, s)).collect();
    let overrides = tx.overrides(Some(wanted), from, to).await?;
    let mut events = Vec::new();
    for id in wanted {
        let Some(record) = by_id.get(id) else {
            continue;
        };
        let schedule = core_schedule(record, &by_id, &overrides)?;
        let mut current: Option<Event> = None;
        for shift in schedule.render(from, to) {
            match (&mut current, shift.user) {
                (Some(event), Some(user)) if event.user == user && event.end == shift.start => {
                    event.end = shift.end
                }
                (_, user) => {
                    events.extend(current.take());
                    current = user.map(|user| Event {
                        anchor: shift.start,
                        schedule: *id,
                        user,
                        start: shift.start,
                        end: shift.end,
                        summary: summary(user, *id),
                    });
                }
            }
        }
        events.extend(current);
    }
    for event in &mut events {
        if event.start == from {
            event.anchor = event.end;
        }
    }
    events.retain(|e| only.is_none_or(|user| e.user == user));
    events.sort_by_key(|e| e.start);
    Ok(events)
}

fn calendar(name: &str, events: &[Event], now: Timestamp) -> Response {
    let mut out = String::new();
    let mut line = |text: String| fold(&mut out, &text);
    line("BEGIN:VCALENDAR".into());
    line("VERSION:2.0".into());
    line(format!(
        "PRODID:-//watchbill//watchbill {}//EN",
        env!("CARGO_PKG_VERSION")
    ));
    line("CALSCALE:GREGORIAN".into());
    line("METHOD:PUBLISH".into());
    line(format!("X-WR-CALNAME:{}", escape(name)));
    for event in events {
        line("BEGIN:VEVENT".into());
        line(format!(
            "UID:{}-{}-{}@watchbill",
            event.schedule,
            event.anchor.as_second(),
            event.user
        ));
        line(format!("DTSTAMP:{}", utc(now)));
        line(format!("DTSTART:{}", utc(event.start)));
        line(format!("DTEND:{}", utc(event.end)));
        line(format!("SUMMARY:{}", escape(&event.summary)));
        line("TRANSP:TRANSPARENT".into());
        line("END:VEVENT".into());
    }
    line("END:VCALENDAR".into());
    (
        [
            (CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (CACHE_CONTROL, "private, max-age=300"),
        ],
        out,
    )
        .into_response()
}

/// `20261125T180000Z`.
fn utc(at: Timestamp) -> String {
    at.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// Escapes a TEXT value (RFC 5545 section 3.3.11).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends a content line, folded at 75 octets without splitting a UTF-8 character, ended by
/// CRLF (RFC 5545 section 3.1).
fn fold(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        let size = c.len_utf8();
        if width + size > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += size;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_fold_at_75_octets_on_character_boundaries() {
        let mut out = String::new();
        let text = format!("SUMMARY:{}", "é".repeat(80));
        fold(&mut out, &text);
        for line in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(line.len() <= 75, "{} octets", line.len());
        }
        assert_eq!(out.replace("\r\n ", ""), format!("{text}\r\n"));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }
}
