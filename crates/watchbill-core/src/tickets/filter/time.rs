//! Turning the dates of a query into instants and days, given the context's clock and zone.
//!
//! Nothing here fails: a date pushed past the calendar's range (`"+1000000w"` in the year
//! 9000, say) saturates at the range's end, which keeps "far future" and "far past" meaning
//! just that. Days are limited to the years 0001 to 9999 so that their `YYYY-MM-DD` text
//! sorts in date order.

use jiff::civil::{self, Date};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, Zoned};

use super::ast::{DateValue, OffsetUnit, RelativeOffset};
use super::context::Context;

const FIRST_DAY: Date = civil::date(1, 1, 1);
const LAST_DAY: Date = civil::date(9999, 12, 31);

/// What a date value stands for against an instant field: one instant, or a whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InstantValue {
    /// Whole seconds since the Unix epoch.
    Point(i64),
    /// The day's first second and the next day's first second, in the context's zone.
    Day { start: i64, end: i64 },
}

/// The value against `created`, `updated` and `resolved`.
pub(crate) fn instant_value(value: &DateValue, context: &Context<'_>) -> InstantValue {
    match value {
        DateValue::Day(day) => InstantValue::Day {
            start: day_start(*day, &context.time_zone),
            end: day
                .tomorrow()
                .map_or(i64::MAX, |next| day_start(next, &context.time_zone)),
        },
        other => InstantValue::Point(point(other, context).as_second()),
    }
}

/// The value against `due`: the day in the context's zone.
pub(crate) fn day_value(value: &DateValue, context: &Context<'_>) -> Date {
    let day = match value {
        DateValue::Day(day) => *day,
        other => point(other, context)
            .to_zoned(context.time_zone.clone())
            .date(),
    };
    day.clamp(FIRST_DAY, LAST_DAY)
}

/// The instant a non-day value names.
fn point(value: &DateValue, context: &Context<'_>) -> Timestamp {
    let now = context.now.to_zoned(context.time_zone.clone());
    match value {
        DateValue::Instant(instant) => *instant,
        DateValue::Now => context.now,
        DateValue::Relative(offset) => shifted(&now, *offset),
        // Callers handle days themselves; should one arrive here, its midnight is the point.
        DateValue::Day(day) => {
            Timestamp::from_second(day_start(*day, &context.time_zone)).unwrap_or(context.now)
        }
        DateValue::StartOfWeek => start_of_week(&now).unwrap_or(Timestamp::MIN),
        DateValue::EndOfWeek => start_of_week(&now)
            .and_then(|start| {
                let next_week = start
                    .to_zoned(context.time_zone.clone())
                    .checked_add(Span::new().weeks(1))
                    .ok()?;
                next_week
                    .timestamp()
                    .checked_sub(Span::new().seconds(1))
                    .ok()
            })
            .unwrap_or(Timestamp::MAX),
    }
}

/// `now` moved by `offset`, saturating at the ends of time.
fn shifted(now: &Zoned, offset: RelativeOffset) -> Timestamp {
    let span = match offset.unit {
        OffsetUnit::Minutes => Span::new().try_minutes(offset.amount),
        OffsetUnit::Hours => Span::new().try_hours(offset.amount),
        OffsetUnit::Days => Span::new().try_days(offset.amount),
        OffsetUnit::Weeks => Span::new().try_weeks(offset.amount),
    };
    let saturated = if offset.amount >= 0 {
        Timestamp::MAX
    } else {
        Timestamp::MIN
    };
    span.and_then(|span| now.checked_add(span))
        .map_or(saturated, |moved| moved.timestamp())
}

/// Monday 00:00 of the week containing `now` (or the first instant of that Monday, where
/// midnight falls in a DST gap).
fn start_of_week(now: &Zoned) -> Option<Timestamp> {
    let days_since_monday = i64::from(now.weekday().to_monday_zero_offset());
    let monday = now
        .date()
        .checked_sub(Span::new().try_days(days_since_monday).ok()?)
        .ok()?;
    monday
        .to_zoned(now.time_zone().clone())
        .ok()
        .map(|zoned| zoned.timestamp())
}

/// The first second of `day` in `zone`, saturating at the ends of time.
fn day_start(day: Date, zone: &TimeZone) -> i64 {
    match day.to_zoned(zone.clone()) {
        Ok(zoned) => zoned.timestamp().as_second(),
        Err(_) if day.year() > 0 => Timestamp::MAX.as_second(),
        Err(_) => Timestamp::MIN.as_second(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn context(now: &str, zone: &str) -> Context<'static> {
        Context::new(now.parse().unwrap(), TimeZone::get(zone).unwrap())
    }

    fn instant(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_second()
    }

    #[test]
    fn weeks_start_on_monday_in_the_zone() {
        // Sunday 2026-11-29 20:00 in Los Angeles is already Monday in UTC.
        let la = context("2026-11-30T04:00:00Z", "America/Los_Angeles");
        assert_eq!(
            instant_value(&DateValue::StartOfWeek, &la),
            InstantValue::Point(instant("2026-11-23T08:00:00Z"))
        );
        assert_eq!(
            instant_value(&DateValue::EndOfWeek, &la),
            InstantValue::Point(instant("2026-11-30T07:59:59Z"))
        );
        assert_eq!(
            day_value(&DateValue::EndOfWeek, &la),
            civil::date(2026, 11, 29)
        );
        let utc = context("2026-11-30T04:00:00Z", "UTC");
        assert_eq!(
            day_value(&DateValue::StartOfWeek, &utc),
            civil::date(2026, 11, 30)
        );
    }

    #[test]
    fn days_are_calendar_days_across_dst() {
        // 1 November 2026: Los Angeles falls back, so that day has 25 hours.
        let la = context("2026-10-31T17:00:00Z", "America/Los_Angeles");
        let plus_one_day = DateValue::Relative(RelativeOffset {
            amount: 1,
            unit: OffsetUnit::Days,
        });
        assert_eq!(
            instant_value(&plus_one_day, &la),
            InstantValue::Point(instant("2026-11-01T18:00:00Z"))
        );
        assert_eq!(
            instant_value(&DateValue::Day(civil::date(2026, 11, 1)), &la),
            InstantValue::Day {
                start: instant("2026-11-01T07:00:00Z"),
                end: instant("2026-11-02T08:00:00Z"),
            }
        );
    }

    #[test]
    fn saturates_instead_of_failing() {
        let late = context("9999-12-30T00:00:00Z", "UTC");
        let far = DateValue::Relative(RelativeOffset {
            amount: 1_000_000,
            unit: OffsetUnit::Weeks,
        });
        assert_eq!(
            instant_value(&far, &late),
            InstantValue::Point(Timestamp::MAX.as_second())
        );
        // jiff's last instant is late on 30 December 9999 in UTC.
        assert_eq!(day_value(&far, &late), civil::date(9999, 12, 30));
        let early = context("0001-01-02T00:00:00Z", "UTC");
        let back = DateValue::Relative(RelativeOffset {
            amount: -1_000_000,
            unit: OffsetUnit::Weeks,
        });
        assert_eq!(day_value(&back, &early), FIRST_DAY);
    }
}
