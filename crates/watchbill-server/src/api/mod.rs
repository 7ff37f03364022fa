//! The REST API under `/api/v1`, with its OpenAPI document.
//!
//! Routes are registered through `utoipa_axum`, so a route cannot exist without its entry in
//! the OpenAPI document served at `/api/v1/openapi.json`.

pub mod attachments;
pub mod balance;
pub mod code;
pub mod contacts;
pub mod duty;
pub mod filters;
pub mod handoff;
pub mod incidents;
pub mod intake;
pub mod mail;
pub mod oncall;
pub mod org;
pub mod overrides;
pub mod post_mortem_work;
pub mod post_mortems;
pub mod schedules;
pub mod services;
pub mod teams;
pub mod ticket_bulk;
pub mod tickets;
pub mod tokens;
pub mod users;
pub mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{Json, Router};
use jiff::{SignedDuration, Timestamp};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "watchbill", description = "On-call schedules, paging and product-maintenance duty."),
    modifiers(&TokenSecurity),
    tags(
        (name = "users"), (name = "teams"), (name = "schedules"), (name = "overrides"),
        (name = "oncall"), (name = "tokens"), (name = "organisation"), (name = "calendar"), (name = "services"), (name = "incidents"), (name = "intake"), (name = "tickets"),
        (name = "mail"), (name = "post-mortems"), (name = "system"),
    )
)]
struct ApiDoc;

struct TokenSecurity;

impl Modify for TokenSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API router, and the OpenAPI document describing every route in it.
pub fn router() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(users::routes())
        .merge(teams::routes())
        .merge(schedules::routes())
        .merge(overrides::routes())
        .merge(oncall::routes())
        .merge(duty::routes())
        .merge(tickets::routes())
        .merge(attachments::routes().layer(DefaultBodyLimit::max(attachments::ATTACHMENT_LIMIT)))
        .merge(filters::routes())
        .merge(balance::routes())
        .merge(handoff::routes())
        .merge(ticket_bulk::routes().layer(DefaultBodyLimit::max(ticket_bulk::IMPORT_BODY_LIMIT)))
        .merge(tokens::routes())
        .merge(org::routes())
        .merge(services::routes())
        .merge(contacts::routes())
        .merge(incidents::routes())
        .merge(webhooks::routes())
        .merge(mail::routes())
        .merge(post_mortems::routes())
        .merge(post_mortem_work::routes())
        .merge(intake::routes().layer(DefaultBodyLimit::max(intake::INTAKE_BODY_LIMIT)))
        .merge(code::routes().layer(DefaultBodyLimit::max(code::PUSH_BODY_LIMIT)))
        .merge(crate::act::routes())
        .merge(crate::health::routes())
        .merge(crate::ics::routes())
        .split_for_parts();
    let document = openapi.clone();
    let router = router.route(
        "/api/v1/openapi.json",
        get(move || async move { Json(document) }),
    );
    (router, openapi)
}

/// The longest window a rendering request may ask for.
pub const MAX_WINDOW_DAYS: i64 = 3_660;

/// Reads an instant from a query parameter: RFC 3339 (`2026-11-25T10:00:00-08:00`), a date
/// (`2026-11-25`, midnight UTC), or `now`.
pub fn instant(text: Option<&str>, now: Timestamp, field: &str) -> ApiResult<Timestamp> {
    instant_in(text, now, field, &jiff::tz::TimeZone::UTC)
}

/// Like [`instant`], with dates and zone-less date-times read in `zone`.
pub fn instant_in(
    text: Option<&str>,
    now: Timestamp,
    field: &str,
    zone: &jiff::tz::TimeZone,
) -> ApiResult<Timestamp> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(now);
    };
    if text.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    if let Ok(datetime) = text.parse::<jiff::civil::DateTime>() {
        if let Ok(at) = datetime.to_zoned(zone.clone()) {
            return Ok(at.timestamp());
        }
    }
    if let Ok(date) = text.parse::<jiff::civil::Date>() {
        if let Ok(at) = date.to_zoned(zone.clone()) {
            return Ok(at.timestamp());
        }
    }
    Err(ApiError::invalid(
        field.to_owned(),
        format!(
            "`{text}` is not a time; use RFC 3339 such as 2026-11-25T10:00:00Z, a date, or `now`"
        ),
    ))
}

/// A `[from, to)` window from query parameters.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub from: Timestamp,
    pub to: Timestamp,
}

impl Window {
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        now: Timestamp,
        default_days: i64,
    ) -> ApiResult<Window> {
        Window::parse_in(from, to, now, default_days, &jiff::tz::TimeZone::UTC)
    }

    /// Like [`Window::parse`], with dates read in `zone`.
    pub fn parse_in(
        from: Option<&str>,
        to: Option<&str>,
        now: Timestamp,
        default_days: i64,
        zone: &jiff::tz::TimeZone,
    ) -> ApiResult<Window> {
        let from = instant_in(from, now, "from", zone)?;
        let to = match to {
            Some(_) => instant_in(to, now, "to", zone)?,
            None => from
                .saturating_add(SignedDuration::from_hours(24 * default_days))
                .unwrap_or(from),
        };
        if to <= from {
            return Err(ApiError::invalid("to", "`to` must be after `from`"));
        }
        if to.duration_since(from) > SignedDuration::from_hours(24 * MAX_WINDOW_DAYS) {
            return Err(ApiError::invalid(
                "to",
                format!("the window may be at most {MAX_WINDOW_DAYS} days long"),
            ));
        }
        Ok(Window { from, to })
    }
}
