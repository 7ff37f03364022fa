//! How pages write instants, spans and people.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// The zone named, or UTC when the name is unknown (a page still renders).
pub fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or(TimeZone::UTC)
}

/// `Wed 2 Dec 10:00 PST`.
pub fn when(at: Timestamp, zone: &TimeZone) -> String {
    at.to_zoned(zone.clone())
        .strftime("%a %-d %b %H:%M %Z")
        .to_string()
}

/// `Wed 2 Dec 10:00 → Wed 9 Dec 10:00 PST`.
pub fn span(start: Timestamp, end: Timestamp, zone: &TimeZone) -> String {
    let start = start
        .to_zoned(zone.clone())
        .strftime("%a %-d %b %H:%M")
        .to_string();
    format!("{start} → {}", when(end, zone))
}

/// `in 3d 4h`, `in 25m`, `2h ago`.
pub fn relative(at: Timestamp, now: Timestamp) -> String {
    let delta = at.duration_since(now);
    let ahead = delta >= SignedDuration::ZERO;
    let seconds = delta.as_secs().unsigned_abs();
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    let amount = if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else {
        format!("{}m", minutes.max(1))
    };
    if ahead {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// Up to two initials, for a face without a photo.
pub fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|word| word.chars().next())
        .take(2)
        .flat_map(char::to_uppercase)
        .collect()
}

/// The words of a form field that lists several (labels, addresses, incidents), separated by
/// commas, spaces or line breaks.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn relative_spans_read_naturally() {
        let now = Timestamp::from_second(1_000_000).unwrap();
        let later = |s: i64| Timestamp::from_second(1_000_000 + s).unwrap();
        assert_eq!(relative(later(90_000), now), "in 1d 1h");
        assert_eq!(relative(later(3_900), now), "in 1h 5m");
        assert_eq!(relative(later(10), now), "in 1m");
        assert_eq!(relative(later(-7_200), now), "2h 0m ago");
    }

    #[test]
    fn listed_words_split_on_commas_spaces_and_lines() {
        assert_eq!(
            super::words("a@x.test, b@x.test\r\nc@x.test  "),
            ["a@x.test", "b@x.test", "c@x.test"]
        );
        assert!(super::words(" , ").is_empty());
    }

    #[test]
    fn initials_take_two_words() {
        assert_eq!(initials("Ada Lovelace King"), "AL");
        assert_eq!(initials("ada"), "A");
        assert_eq!(initials(""), "");
    }

    #[test]
    fn instants_are_shown_in_the_zone() {
        let at: Timestamp = "2026-12-02T18:00:00Z".parse().unwrap();
        assert_eq!(
            when(at, &zone("America/Los_Angeles")),
            "Wed 2 Dec 10:00 PST"
        );
    }
}
