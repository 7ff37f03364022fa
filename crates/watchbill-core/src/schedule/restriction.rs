//! Restrictions: the windows of the week in which a layer is active at all.

use std::fmt;

use jiff::civil::{self, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::local_time::{
    first_instant_at_or_after, local_seconds, time_seconds, weekday_index, weekday_to_index,
    SECONDS_PER_DAY,
};
use super::turn::{weekday_name, ALL_WEEKDAYS};

/// A set of weekdays, Monday first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct WeekdaySet(u8);

impl WeekdaySet {
    pub const ALL: WeekdaySet = WeekdaySet(0b111_1111);

    pub fn empty() -> Self {
        WeekdaySet(0)
    }

    pub fn with(self, day: Weekday) -> Self {
        WeekdaySet(self.0 | (1 << weekday_to_index(day)))
    }

    pub fn contains(self, day: Weekday) -> bool {
        self.contains_index(weekday_to_index(day))
    }

    pub(crate) fn contains_index(self, index: u8) -> bool {
        self.0 & (1 << index) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn days(self) -> impl Iterator<Item = Weekday> {
        ALL_WEEKDAYS
            .into_iter()
            .filter(move |day| self.contains(*day))
    }
}

impl FromIterator<Weekday> for WeekdaySet {
    fn from_iter<I: IntoIterator<Item = Weekday>>(iter: I) -> Self {
        iter.into_iter().fold(WeekdaySet::empty(), WeekdaySet::with)
    }
}

impl fmt::Display for WeekdaySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.days().map(weekday_name).collect();
        f.write_str(&names.join(","))
    }
}

/// On each of `days`, the layer is active from `start` until `end` local time. An `end` at or
/// before `start` runs into the next day; `end == start` is the whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Restriction {
    pub days: WeekdaySet,
    pub start: civil::Time,
    pub end: civil::Time,
}

impl Restriction {
    fn length_seconds(&self) -> i64 {
        let length =
            (time_seconds(self.end) - time_seconds(self.start)).rem_euclid(SECONDS_PER_DAY);
        if length == 0 {
            SECONDS_PER_DAY
        } else {
            length
        }
    }

    /// The windows, as instants, of the local days `first_day..=last_day`.
    fn windows(
        &self,
        zone: &TimeZone,
        first_day: i64,
        last_day: i64,
        out: &mut Vec<(Timestamp, Timestamp)>,
    ) {
        let length = self.length_seconds();
        let start_of_day = time_seconds(self.start);
        for day in first_day..=last_day {
            if !self.days.contains_index(weekday_index(day)) {
                continue;
            }
            let civil_start = day * SECONDS_PER_DAY + start_of_day;
            let start = first_instant_at_or_after(zone, civil_start);
            let end = first_instant_at_or_after(zone, civil_start + length);
            if start < end {
                out.push((start, end));
            }
        }
    }
}

/// The union of all restriction windows that touch `[from, to)`, sorted and disjoint.
pub(crate) fn active_windows(
    restrictions: &[Restriction],
    zone: &TimeZone,
    from: Timestamp,
    to: Timestamp,
) -> Vec<(Timestamp, Timestamp)> {
    // A window starts on its local day and lasts at most a day, so the day before `from`
    // is the earliest that can reach into the range.
    let first_day = local_seconds(zone, from).div_euclid(SECONDS_PER_DAY) - 1;
    let last_day = local_seconds(zone, to).div_euclid(SECONDS_PER_DAY);
    let mut windows = Vec::new();
    for restriction in restrictions {
        restriction.windows(zone, first_day, last_day, &mut windows);
    }
    windows.sort_unstable();
    let mut merged: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(windows.len());
    for (start, end) in windows {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged.retain(|(start, end)| *end > from && *start < to);
    merged
}

/// Whether `at` falls inside any restriction window.
pub(crate) fn is_active(restrictions: &[Restriction], zone: &TimeZone, at: Timestamp) -> bool {
    if restrictions.is_empty() {
        return true;
    }
    let today = local_seconds(zone, at).div_euclid(SECONDS_PER_DAY);
    let mut windows = Vec::new();
    restrictions
        .iter()
        .for_each(|r| r.windows(zone, today - 1, today, &mut windows));
    windows.iter().any(|(start, end)| *start <= at && at < *end)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn overnight_window_runs_into_next_day() {
        let zone = TimeZone::get("Europe/Berlin").unwrap();
        let night = Restriction {
            days: WeekdaySet::empty().with(Weekday::Friday),
            start: civil::time(22, 0, 0, 0),
            end: civil::time(6, 0, 0, 0),
        };
        let saturday_early: Timestamp = "2026-11-28T03:00:00Z".parse().unwrap();
        let saturday_late: Timestamp = "2026-11-28T08:00:00Z".parse().unwrap();
        assert!(is_active(&[night], &zone, saturday_early));
        assert!(!is_active(&[night], &zone, saturday_late));
    }
}
