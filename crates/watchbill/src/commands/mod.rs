//! The client commands: each talks to a running server over the REST API.

pub mod incidents;
pub mod oncall;
pub mod org;
pub mod post_mortems;
pub mod schedule;
pub mod tickets;

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// A zone by name, or the system's.
pub fn display_zone(name: Option<&str>) -> Result<TimeZone, String> {
    match name {
        Some(name) => TimeZone::get(name).map_err(|_| format!("unknown time zone `{name}`")),
        None => Ok(TimeZone::system()),
    }
}

/// `Wed 2 Dec 10:00 PST`.
pub fn short_time(at: Timestamp, zone: &TimeZone) -> String {
    at.to_zoned(zone.clone())
        .strftime("%a %-d %b %H:%M %Z")
        .to_string()
}
