//! Tickets: the plain data of the upcoming ticket tracker, and the filter language that
//! selects and orders them.
//!
//! Only what the filter needs lives here. The store will load rows into [`Ticket`]s (or run
//! the SQL that [`filter::compile`] produces); nothing in this module does I/O.

pub mod filter;

use std::fmt;
use std::str::FromStr;

use jiff::{civil, Timestamp};

use crate::UserId;

/// A ticket's human-facing identity: the team's key prefix and a number, shown as `UF-123`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TicketKey {
    /// The team's key prefix, upper case (`UF`).
    pub team: String,
    pub number: i64,
}

impl TicketKey {
    /// A key, if `team` is a valid team key (an ASCII letter, then ASCII letters or digits,
    /// normalised to upper case) and `number` is positive.
    pub fn new(team: &str, number: i64) -> Option<TicketKey> {
        let team = normalise_team_key(team)?;
        (number > 0).then_some(TicketKey { team, number })
    }
}

/// The upper-case form of a team key, if `text` is one: an ASCII letter followed by ASCII
/// letters or digits. Keys are compared after this normalisation, so `uf` and `UF` agree.
pub fn normalise_team_key(text: &str) -> Option<String> {
    let mut chars = text.chars();
    let first_is_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_is_alphanumeric = chars.all(|c| c.is_ascii_alphanumeric());
    (first_is_letter && rest_is_alphanumeric).then(|| text.to_ascii_uppercase())
}

impl fmt::Display for TicketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.team, self.number)
    }
}

impl FromStr for TicketKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || format!("`{s}` is not a ticket key; use e.g. `UF-123`");
        let (team, number) = s.rsplit_once('-').ok_or_else(invalid)?;
        // Only plain digits count: `str::parse` would also take a leading `+`.
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let number = number.parse::<i64>().map_err(|_| invalid())?;
        TicketKey::new(team, number).ok_or_else(invalid)
    }
}

/// Declares a closed set of names with a canonical spelling, parsed case-insensitively. The
/// declaration order is the workflow or severity order used for sorting.
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The canonical spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value spelt `text`, ignoring ASCII case.
            pub fn from_name(text: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|value| value.as_str().eq_ignore_ascii_case(text))
            }

            /// The canonical spellings joined for an error message: "a, b or c".
            pub fn names_for_message() -> String {
                let names: Vec<&str> = $name::ALL.iter().map(|value| value.as_str()).collect();
                match names.split_last() {
                    Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                    _ => names.join(""),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::from_name(s).ok_or_else(|| {
                    format!(concat!("`{}` is not ", $what, "; use {}"), s, $name::names_for_message())
                })
            }
        }
    };
}

named_enum!(
    /// What kind of work a ticket is.
    TicketKind, "a ticket type" {
        Bug => "bug",
        Feature => "feature",
        Maintenance => "maintenance",
        Task => "task",
    }
);

named_enum!(
    /// Where a ticket stands, in workflow order.
    TicketStatus, "a status" {
        Open => "open",
        InProgress => "in_progress",
        Resolved => "resolved",
        Closed => "closed",
    }
);

named_enum!(
    /// How urgent a ticket is. Declared from least to most urgent, so `Ord` agrees with the
    /// filter language: `Highest` is the greatest and `priority > Medium` means "more urgent".
    Priority, "a priority" {
        Lowest => "Lowest",
        Low => "Low",
        Medium => "Medium",
        High => "High",
        Highest => "Highest",
    }
);

impl Priority {
    /// The stored rank: 1 for `Highest` through 5 for `Lowest`, as in the `tickets.priority`
    /// column. Note that a smaller rank is a greater priority.
    pub fn rank(self) -> i64 {
        match self {
            Priority::Highest => 1,
            Priority::High => 2,
            Priority::Medium => 3,
            Priority::Low => 4,
            Priority::Lowest => 5,
        }
    }

    /// The priority stored as `rank`, if any.
    pub fn from_rank(rank: i64) -> Option<Priority> {
        Priority::ALL
            .iter()
            .copied()
            .find(|priority| priority.rank() == rank)
    }
}

/// One ticket, as the filter sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The key, which also names the team (`key.team`).
    pub key: TicketKey,
    pub title: String,
    pub description: String,
    pub kind: TicketKind,
    /// The labels, each matched exactly (case-sensitively); order does not matter.
    pub labels: Vec<String>,
    pub priority: Priority,
    pub status: TicketStatus,
    pub due: Option<civil::Date>,
    pub created: Timestamp,
    pub updated: Timestamp,
    pub resolved: Option<Timestamp>,
    pub reporter: Option<UserId>,
    pub assignee: Option<UserId>,
    pub component: Option<String>,
}

impl Ticket {
    /// The owning team's key prefix.
    pub fn team(&self) -> &str {
        &self.key.team
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_print() {
        let key: TicketKey = "uf-123".parse().unwrap();
        assert_eq!(key, TicketKey::new("UF", 123).unwrap());
        assert_eq!(key.to_string(), "UF-123");
        for bad in ["UF", "UF-", "UF-+1", "UF-0", "1F-2", "-3", "U F-1"] {
            assert!(bad.parse::<TicketKey>().is_err(), "{bad}");
        }
    }

    #[test]
    fn priorities_order_by_urgency() {
        assert!(Priority::Highest > Priority::High);
        assert!(Priority::Low > Priority::Lowest);
        assert_eq!(Priority::from_rank(1), Some(Priority::Highest));
        assert_eq!(Priority::Medium.rank(), 3);
        assert_eq!("highest".parse::<Priority>(), Ok(Priority::Highest));
        assert_eq!(
            "urgent".parse::<Priority>().unwrap_err(),
            "`urgent` is not a priority; use Lowest, Low, Medium, High or Highest"
        );
    }
}
