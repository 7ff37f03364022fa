//! Conversions between instants and a schedule's local wall-clock time.
//!
//! Rotations are arithmetic on wall-clock time: "every 7 days at Wednesday 10:00" means 10:00 on
//! the clock on the wall, whatever the UTC offset is that week. We therefore count local time as
//! "civil seconds" (seconds since 1970-01-01T00:00 on a clock that never changes offset), do the
//! arithmetic there, and convert back to instants only at the edges.

use jiff::civil::{self, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;

pub(crate) const SECONDS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil seconds of a local date-time.
pub(crate) fn civil_seconds(dt: civil::DateTime) -> i64 {
    let days = days_from_civil(
        i64::from(dt.year()),
        i64::from(dt.month()),
        i64::from(dt.day()),
    );
    days * SECONDS_PER_DAY
        + i64::from(dt.hour()) * 3600
        + i64::from(dt.minute()) * 60
        + i64::from(dt.second())
}

/// The civil seconds of a time of day.
pub(crate) fn time_seconds(time: civil::Time) -> i64 {
    i64::from(time.hour()) * 3600 + i64::from(time.minute()) * 60 + i64::from(time.second())
}

/// The weekday of a day number (days since 1970-01-01, a Thursday), Monday = 0.
pub(crate) fn weekday_index(days: i64) -> u8 {
    // 1970-01-01 was a Thursday, which is index 3 counting from Monday.
    // The result of rem_euclid(7) is in 0..7, so the cast cannot truncate.
    (days + 3).rem_euclid(7) as u8
}

/// Monday = 0 … Sunday = 6.
pub(crate) fn weekday_to_index(weekday: Weekday) -> u8 {
    // to_monday_zero_offset is in 0..=6.
    weekday.to_monday_zero_offset() as u8
}

/// The local civil seconds at an instant.
pub(crate) fn local_seconds(zone: &TimeZone, at: Timestamp) -> i64 {
    at.as_second() + i64::from(zone.to_offset(at).seconds())
}

/// The first instant at which the local wall clock reads `civil` or later.
///
/// This is the usual reading for a time that does not exist (inside a spring-forward gap, the
/// handoff happens at the moment the clock jumps past it) and for one that exists twice (the
/// first occurrence). Unlike a plain offset shift, it never maps a later wall-clock time to an
/// earlier instant, so shifts computed from it can neither overlap nor leave holes.
pub(crate) fn first_instant_at_or_after(zone: &TimeZone, civil: i64) -> Timestamp {
    let Some(dt) = civil_datetime(civil) else {
        return clamp_timestamp(civil);
    };
    let ambiguous = zone.to_ambiguous_timestamp(dt);
    let instant = match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { offset } => civil - i64::from(offset.seconds()),
        AmbiguousOffset::Fold { before, .. } => civil - i64::from(before.seconds()),
        AmbiguousOffset::Gap { after, .. } => {
            // Reading the time with the later offset lands just before the transition; the
            // transition itself is the first instant whose wall clock is past `civil`.
            let before_gap = clamp_timestamp(civil - i64::from(after.seconds()));
            match zone.following(before_gap).next() {
                Some(transition) => transition.timestamp().as_second(),
                None => before_gap.as_second(),
            }
        }
    };
    clamp_timestamp(instant)
}

/// The local date-time of civil seconds, if within jiff's range.
pub(crate) fn civil_datetime(civil: i64) -> Option<civil::DateTime> {
    let ts = Timestamp::from_second(civil).ok()?;
    Some(TimeZone::UTC.to_datetime(ts))
}

/// An instant from seconds, clamped into jiff's supported range.
pub(crate) fn clamp_timestamp(seconds: i64) -> Timestamp {
    // `Timestamp::MAX` has a fractional second, so clamping to its whole second would land
    // just before it: a handoff beyond the range would then never reach a window ending at
    // `Timestamp::MAX`, and rendering up to it would loop forever. Past the end, use the end.
    if seconds > Timestamp::MAX.as_second() {
        return Timestamp::MAX;
    }
    let clamped = seconds.max(Timestamp::MIN.as_second());
    Timestamp::from_second(clamped).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn la() -> TimeZone {
        TimeZone::get("America/Los_Angeles").unwrap()
    }

    fn civil_of(s: &str) -> i64 {
        civil_seconds(s.parse().unwrap())
    }

    #[test]
    fn day_numbers_match_jiff() {
        for date in [
            "1970-01-01",
            "2000-02-29",
            "1969-12-31",
            "2026-11-25",
            "2400-03-01",
        ] {
            let d: civil::Date = date.parse().unwrap();
            let expected = d.since(civil::date(1970, 1, 1)).unwrap().get_days();
            let got = days_from_civil(d.year().into(), d.month().into(), d.day().into());
            assert_eq!(got, i64::from(expected), "{date}");
            assert_eq!(weekday_index(got), weekday_to_index(d.weekday()), "{date}");
        }
    }

    #[test]
    fn spring_forward_gap_maps_to_transition() {
        let t = first_instant_at_or_after(&la(), civil_of("2026-03-08T02:30"));
        assert_eq!(t.to_string(), "2026-03-08T10:00:00Z");
    }

    #[test]
    fn fall_back_fold_maps_to_first_occurrence() {
        let t = first_instant_at_or_after(&la(), civil_of("2026-11-01T01:30"));
        assert_eq!(t.to_string(), "2026-11-01T08:30:00Z");
    }

    #[test]
    fn wednesday_ten_stays_ten_across_dst() {
        let summer = first_instant_at_or_after(&la(), civil_of("2026-10-28T10:00"));
        let winter = first_instant_at_or_after(&la(), civil_of("2026-11-04T10:00"));
        assert_eq!(summer.to_string(), "2026-10-28T17:00:00Z");
        assert_eq!(winter.to_string(), "2026-11-04T18:00:00Z");
    }
}
