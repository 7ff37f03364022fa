//! How long one person's turn lasts, and where turns hand off.

use std::fmt;
use std::str::FromStr;

use jiff::civil::{self, Weekday};

use super::local_time::{civil_seconds, time_seconds, weekday_to_index, SECONDS_PER_DAY};
use super::ScheduleError;

/// The length of one turn, counted on the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TurnLength {
    Hours(u32),
    Days(u32),
    Weeks(u32),
}

impl TurnLength {
    /// The length in civil seconds (a civil day is always 86 400 of them).
    pub(crate) fn civil_seconds(self) -> i64 {
        match self {
            TurnLength::Hours(n) => i64::from(n) * 3600,
            TurnLength::Days(n) => i64::from(n) * SECONDS_PER_DAY,
            TurnLength::Weeks(n) => i64::from(n) * 7 * SECONDS_PER_DAY,
        }
    }

    fn count(self) -> u32 {
        match self {
            TurnLength::Hours(n) | TurnLength::Days(n) | TurnLength::Weeks(n) => n,
        }
    }

    /// Whether a rotation can use this length. A turn of zero would never hand off (and
    /// would divide by zero in the resolver); one longer than ten years is surely a typo.
    pub(crate) fn is_valid(self) -> bool {
        self.count() > 0 && self.civil_seconds() <= 3_660 * SECONDS_PER_DAY
    }
}

impl fmt::Display for TurnLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TurnLength::Hours(n) => write!(f, "{n}h"),
            TurnLength::Days(n) => write!(f, "{n}d"),
            TurnLength::Weeks(n) => write!(f, "{n}w"),
        }
    }
}

impl FromStr for TurnLength {
    type Err = ScheduleError;

    /// Reads `12h`, `1d`, `1w` (also `2 weeks`, `3 days`, `8 hours`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim().to_ascii_lowercase();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| ScheduleError::InvalidTurn(s.to_owned()))?;
        let (digits, unit) = text.split_at(split);
        let count: u32 = digits
            .parse()
            .map_err(|_| ScheduleError::InvalidTurn(s.to_owned()))?;
        let turn = match unit.trim() {
            "h" | "hour" | "hours" => TurnLength::Hours(count),
            "d" | "day" | "days" => TurnLength::Days(count),
            "w" | "week" | "weeks" => TurnLength::Weeks(count),
            _ => return Err(ScheduleError::InvalidTurn(s.to_owned())),
        };
        if !turn.is_valid() {
            return Err(ScheduleError::InvalidTurn(s.to_owned()));
        }
        Ok(turn)
    }
}

/// Where handoffs fall on the wall clock: a time of day, and for weekly turns a weekday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HandoffAnchor {
    pub weekday: Option<Weekday>,
    pub time: civil::Time,
}

impl HandoffAnchor {
    /// The latest local date-time at or before `local` that falls on this anchor.
    pub fn latest_at_or_before(&self, local: civil::DateTime) -> civil::DateTime {
        let local_seconds = civil_seconds(local);
        let day_start = local_seconds - local_seconds.rem_euclid(SECONDS_PER_DAY);
        let mut candidate = day_start + time_seconds(self.time);
        if candidate > local_seconds {
            candidate -= SECONDS_PER_DAY;
        }
        if let Some(weekday) = self.weekday {
            let days = candidate.div_euclid(SECONDS_PER_DAY);
            let have = i64::from(super::local_time::weekday_index(days));
            let want = i64::from(weekday_to_index(weekday));
            candidate -= (have - want).rem_euclid(7) * SECONDS_PER_DAY;
        }
        super::local_time::civil_datetime(candidate).unwrap_or(local)
    }
}

impl fmt::Display for HandoffAnchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = self.time.strftime("%H:%M");
        match self.weekday {
            Some(day) => write!(f, "{} {time}", weekday_name(day)),
            None => write!(f, "{time}"),
        }
    }
}

impl FromStr for HandoffAnchor {
    type Err = ScheduleError;

    /// Reads `Wednesday 10:00`, `wed 10:00` or `09:30`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || ScheduleError::InvalidHandoff(s.to_owned());
        let mut words = s.split_whitespace();
        let (day, time) = match (words.next(), words.next(), words.next()) {
            (Some(time), None, None) => (None, time),
            (Some(day), Some(time), None) => (Some(parse_weekday(day).ok_or_else(invalid)?), time),
            _ => return Err(invalid()),
        };
        let time: civil::Time = time.parse().map_err(|_| invalid())?;
        Ok(HandoffAnchor { weekday: day, time })
    }
}

/// Reads a weekday name in English, full or abbreviated to three letters.
pub fn parse_weekday(s: &str) -> Option<Weekday> {
    let lower = s.trim().to_ascii_lowercase();
    ALL_WEEKDAYS.into_iter().find(|day| {
        let name = weekday_name(*day).to_ascii_lowercase();
        lower == name || (lower.len() == 3 && name.starts_with(&lower))
    })
}

/// The days of the week, Monday first.
pub const ALL_WEEKDAYS: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

/// The English name of a weekday.
pub fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "Monday",
        Weekday::Tuesday => "Tuesday",
        Weekday::Wednesday => "Wednesday",
        Weekday::Thursday => "Thursday",
        Weekday::Friday => "Friday",
        Weekday::Saturday => "Saturday",
        Weekday::Sunday => "Sunday",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn turn_lengths_parse() {
        assert_eq!("1w".parse::<TurnLength>().unwrap(), TurnLength::Weeks(1));
        assert_eq!(
            "12 hours".parse::<TurnLength>().unwrap(),
            TurnLength::Hours(12)
        );
        assert_eq!("3d".parse::<TurnLength>().unwrap(), TurnLength::Days(3));
        assert!("0d".parse::<TurnLength>().is_err());
        assert!("week".parse::<TurnLength>().is_err());
        assert!("5 fortnights".parse::<TurnLength>().is_err());
    }

    #[test]
    fn anchors_parse_and_print() {
        let anchor: HandoffAnchor = "wed 10:00".parse().unwrap();
        assert_eq!(anchor.to_string(), "Wednesday 10:00");
        assert_eq!(
            "09:30".parse::<HandoffAnchor>().unwrap().to_string(),
            "09:30"
        );
        assert!("Someday 10:00".parse::<HandoffAnchor>().is_err());
        assert!("Wednesday 25:00".parse::<HandoffAnchor>().is_err());
    }

    #[test]
    fn latest_anchor_before_a_date() {
        let anchor: HandoffAnchor = "Wednesday 10:00".parse().unwrap();
        let friday: civil::DateTime = "2026-11-27T08:00".parse().unwrap();
        assert_eq!(
            anchor.latest_at_or_before(friday).to_string(),
            "2026-11-25T10:00:00"
        );
        let wednesday_early: civil::DateTime = "2026-11-25T09:00".parse().unwrap();
        assert_eq!(
            anchor.latest_at_or_before(wednesday_early).to_string(),
            "2026-11-18T10:00:00"
        );
        let exact: civil::DateTime = "2026-11-25T10:00".parse().unwrap();
        assert_eq!(anchor.latest_at_or_before(exact), exact);
    }
}
