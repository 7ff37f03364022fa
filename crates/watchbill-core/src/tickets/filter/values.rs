//! Reading a written value (a bare word, a quoted string or a function call) as the typed
//! value its field compares with.
//!
//! Quoting never changes what a value means: `due < 2026-12-01` and `due < "2026-12-01"` are
//! the same query. Quotes are only needed for text a bare word cannot hold.

use jiff::{civil, Timestamp};

use super::ast::{DateValue, OffsetUnit, RelativeOffset, UserValue, Value};
use super::field::{join_alternatives, Field, ValueKind};
use super::suggest::closest;
use crate::tickets::{normalise_team_key, Priority, TicketKind, TicketStatus};
use crate::UserId;

/// The largest amount a relative date may have. It keeps `"+99999999999w"` from being a
/// query that only fails when evaluated; a million weeks is already far beyond any calendar.
pub const MAX_RELATIVE_AMOUNT: i64 = 1_000_000;

/// The functions of the language, in their canonical spelling.
pub(crate) const FUNCTION_NAMES: [&str; 5] = [
    "now",
    "startOfWeek",
    "endOfWeek",
    "currentUser",
    "currentDuty",
];

/// Why a written value does not fit its field: the message and an optional hint.
pub(crate) struct ValueError {
    pub message: String,
    pub hint: Option<String>,
}

impl ValueError {
    fn new(message: String) -> ValueError {
        ValueError {
            message,
            hint: None,
        }
    }

    fn hint(mut self, hint: String) -> ValueError {
        self.hint = Some(hint);
        self
    }
}

/// Reads `text` (a bare word or the inside of a quoted string) as a value of `field`.
pub(crate) fn read_value(field: Field, text: &str) -> Result<Value, ValueError> {
    match field.value_kind() {
        ValueKind::Text => Ok(Value::Text(text.to_owned())),
        ValueKind::Key => text.parse().map(Value::Key).map_err(ValueError::new),
        ValueKind::Team => normalise_team_key(text).map(Value::Team).ok_or_else(|| {
            ValueError::new(format!(
                "`{text}` is not a team key; use letters and digits, such as `UF`"
            ))
        }),
        ValueKind::Kind => named(
            text,
            TicketKind::from_name,
            TicketKind::ALL,
            "a ticket type",
        )
        .map(Value::Kind),
        ValueKind::Priority => {
            named(text, Priority::from_name, Priority::ALL, "a priority").map(Value::Priority)
        }
        ValueKind::Status => {
            named(text, TicketStatus::from_name, TicketStatus::ALL, "a status").map(Value::Status)
        }
        ValueKind::Day | ValueKind::Instant => read_date(text).map(Value::Date),
        ValueKind::User => read_user(text).map(Value::User),
    }
}

/// Reads a function call `name()` as a value of `field`.
pub(crate) fn read_function(field: Field, name: &str) -> Result<Value, ValueError> {
    let Some(canonical) = FUNCTION_NAMES
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(name))
    else {
        let error = ValueError::new(format!("unknown function `{name}()`"));
        return Err(match closest(name, FUNCTION_NAMES) {
            Some(near) => error.hint(format!("did you mean `{near}()`?")),
            None => error.hint(format!(
                "the functions are {}",
                join_alternatives(&FUNCTION_NAMES.map(|known| known))
            )),
        });
    };
    let value = match (field.value_kind(), canonical) {
        (ValueKind::Day | ValueKind::Instant, "now") => Value::Date(DateValue::Now),
        (ValueKind::Day | ValueKind::Instant, "startOfWeek") => Value::Date(DateValue::StartOfWeek),
        (ValueKind::Day | ValueKind::Instant, "endOfWeek") => Value::Date(DateValue::EndOfWeek),
        (ValueKind::User, "currentUser") => Value::User(UserValue::CurrentUser),
        (ValueKind::User, "currentDuty") => Value::User(UserValue::CurrentDuty),
        _ => {
            return Err(ValueError::new(format!(
                "`{canonical}()` is not a value of `{field}`"
            )))
        }
    };
    Ok(value)
}

fn named<T: Copy + std::fmt::Display>(
    text: &str,
    from_name: fn(&str) -> Option<T>,
    all: &[T],
    what: &str,
) -> Result<T, ValueError> {
    from_name(text).ok_or_else(|| {
        let names: Vec<String> = all.iter().map(ToString::to_string).collect();
        let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let error = ValueError::new(format!("`{text}` is not {what}"));
        match closest(text, name_refs.iter().copied()) {
            Some(near) => error.hint(format!("did you mean `{near}`?")),
            None => error.hint(format!("use {}", join_alternatives(&name_refs))),
        }
    })
}

fn read_date(text: &str) -> Result<DateValue, ValueError> {
    if let Some(offset) = read_relative(text)? {
        return Ok(DateValue::Relative(offset));
    }
    if let Some(day) = read_day(text)? {
        return Ok(DateValue::Day(day));
    }
    if let Ok(instant) = text.parse::<Timestamp>() {
        return Ok(DateValue::Instant(instant));
    }
    if text.contains(':') {
        return Err(ValueError::new(format!("`{text}` is not an instant"))
            .hint("write RFC 3339 with an offset, such as \"2026-12-01T09:00:00Z\"".to_owned()));
    }
    Err(ValueError::new(format!("`{text}` is not a date")).hint(
        "use a day such as 2026-12-01, an instant such as \"2026-12-01T09:00:00Z\", an offset \
         such as \"+7d\" or \"-12h\", now(), startOfWeek() or endOfWeek()"
            .to_owned(),
    ))
}

/// Reads `[+-]digits unit`, if `text` has that shape.
fn read_relative(text: &str) -> Result<Option<RelativeOffset>, ValueError> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'+') => (false, &text[1..]),
        Some(b'-') => (true, &text[1..]),
        _ => (false, text),
    };
    let Some(unit_char) = unsigned.chars().last() else {
        return Ok(None);
    };
    let digits = &unsigned[..unsigned.len() - unit_char.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let unit = OffsetUnit::from_suffix(unit_char).ok_or_else(|| {
        ValueError::new(format!("`{text}` has an unknown unit `{unit_char}`"))
            .hint("use m (minutes), h (hours), d (days) or w (weeks)".to_owned())
    })?;
    let too_far = || {
        ValueError::new(format!(
            "`{text}` is too far away; offsets go up to {MAX_RELATIVE_AMOUNT}"
        ))
    };
    let magnitude: i64 = digits.parse().map_err(|_| too_far())?;
    if magnitude > MAX_RELATIVE_AMOUNT {
        return Err(too_far());
    }
    let amount = if negative { -magnitude } else { magnitude };
    Ok(Some(RelativeOffset { amount, unit }))
}

/// Reads exactly `YYYY-MM-DD`, if `text` has that shape. Four-digit years only, which keeps
/// stored due dates in an order that plain text comparison gets right.
fn read_day(text: &str) -> Result<Option<civil::Date>, ValueError> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            4 | 7 => *byte == b'-',
            _ => byte.is_ascii_digit(),
        });
    if !shaped {
        return Ok(None);
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<i16>().ok();
    let invalid = || ValueError::new(format!("`{text}` is not a valid day"));
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) else {
        return Err(invalid());
    };
    let month = i8::try_from(month).map_err(|_| invalid())?;
    let day = i8::try_from(day).map_err(|_| invalid())?;
    if year == 0 {
        return Err(invalid());
    }
    civil::Date::new(year, month, day)
        .map(Some)
        .map_err(|_| invalid())
}

fn read_user(text: &str) -> Result<UserValue, ValueError> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<i64>()
            .map(|id| UserValue::Id(UserId(id)))
            .map_err(|_| ValueError::new(format!("`{text}` is too large for a user id")));
    }
    if text.contains('@') {
        return Ok(UserValue::Email(text.to_owned()));
    }
    Err(ValueError::new(format!("`{text}` is not a user"))
        .hint("use a user id, an email, currentUser() or currentDuty()".to_owned()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn date(text: &str) -> Result<DateValue, String> {
        read_date(text).map_err(|error| error.message)
    }

    #[test]
    fn reads_the_date_forms() {
        assert_eq!(
            date("2026-12-01"),
            Ok(DateValue::Day(civil::date(2026, 12, 1)))
        );
        assert_eq!(
            date("+7d"),
            Ok(DateValue::Relative(RelativeOffset {
                amount: 7,
                unit: OffsetUnit::Days
            }))
        );
        assert_eq!(
            date("-12h"),
            Ok(DateValue::Relative(RelativeOffset {
                amount: -12,
                unit: OffsetUnit::Hours
            }))
        );
        assert_eq!(
            date("2026-12-01T09:00:00+01:00"),
            Ok(DateValue::Instant("2026-12-01T08:00:00Z".parse().unwrap()))
        );
        assert_eq!(
            date("2026-02-30"),
            Err("`2026-02-30` is not a valid day".into())
        );
        assert_eq!(
            date("0000-01-01"),
            Err("`0000-01-01` is not a valid day".into())
        );
        assert_eq!(date("+7y"), Err("`+7y` has an unknown unit `y`".into()));
        assert!(date("+1000001w").is_err());
        assert!(date("+99999999999999999999999d").is_err());
        assert_eq!(date("tomorrow"), Err("`tomorrow` is not a date".into()));
    }

    #[test]
    fn reads_users() {
        assert_eq!(read_user("42").ok(), Some(UserValue::Id(UserId(42))));
        assert_eq!(
            read_user("ada@example.com").ok(),
            Some(UserValue::Email("ada@example.com".into()))
        );
        assert!(read_user("ada").is_err());
        assert!(read_user("99999999999999999999").is_err());
    }
}
