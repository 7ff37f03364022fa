#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Property tests for the ticket filter language, through the public API only:
//! 1. printing then parsing gives back the same query, for random queries over every value
//!    the language can express;
//! 2. the evaluator agrees with a reference written straight from the language's description
//!    (on the typed ticket, without the plan's lowering to stored columns), and its order is a
//!    total order that follows `ORDER BY`;
//! 3. no input, however broken, panics the parser, and every error points inside the input.
//!
//! Set `PROPTEST_CASES` to run more cases than the defaults.

mod filter_support;

use std::cmp::Ordering;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, Zoned};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use filter_support::{config, directory, query, setting, tickets, Range, Setting};
use watchbill_core::tickets::filter::{
    parse, print, Clause, CompareOp, Condition, DateValue, Direction, Expr, Field, OffsetUnit,
    Plan, Query, UserValue, Value,
};
use watchbill_core::tickets::Ticket;
use watchbill_core::UserId;

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn printing_then_parsing_gives_back_the_query(query in query(Range::Wide)) {
        let printed = print(&query);
        let parsed = parse(&printed);
        prop_assert_eq!(parsed.as_ref().ok(), Some(&query), "printed: {} → {:?}", printed, parsed);
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn the_evaluator_agrees_with_the_reference(
        query in query(Range::Near),
        setting in setting(),
        tickets in tickets(12),
    ) {
        let users = directory();
        let context = setting.context(&users);
        let plan = Plan::new(&query, &context);
        for ticket in &tickets {
            let expected = query
                .filter
                .as_ref()
                .is_none_or(|filter| reference_holds(filter, ticket, &setting));
            prop_assert_eq!(plan.matches(ticket), expected, "ticket {:?}", ticket);
        }
    }

    #[test]
    fn the_order_is_total_and_follows_order_by(
        query in query(Range::Near),
        setting in setting(),
        tickets in tickets(12),
    ) {
        let users = directory();
        let plan = Plan::new(&query, &setting.context(&users));
        for a in &tickets {
            prop_assert_eq!(plan.compare(a, a), Ordering::Equal);
            for b in &tickets {
                let ordering = plan.compare(a, b);
                prop_assert_eq!(ordering, reference_compare(&query, a, b), "{:?} vs {:?}", a.key, b.key);
                prop_assert_eq!(ordering, plan.compare(b, a).reverse());
                // Distinct keys are never tied, so the order is total.
                if a.key != b.key {
                    prop_assert_ne!(ordering, Ordering::Equal);
                }
            }
        }
        let selected = plan.select(&tickets);
        for pair in selected.windows(2) {
            prop_assert_eq!(plan.compare(pair[0], pair[1]), Ordering::Less);
        }
    }
}

/// Pieces of queries, glued together at random: mostly-valid text that reaches deep into the
/// parser, with the odd stray quote, bracket or multi-byte character.
const PIECES: [&str; 40] = [
    "label",
    "status",
    "priority",
    "due",
    "created",
    "assignee",
    "key",
    "title",
    "lable",
    " = ",
    " != ",
    "<",
    ">=",
    " ~ ",
    " IN ",
    " NOT ",
    " AND ",
    " OR ",
    " IS ",
    "EMPTY",
    "ORDER BY ",
    " DESC",
    ",",
    "(",
    ")",
    "\"",
    "\\",
    "\"+7d\"",
    "now()",
    "currentDuty(",
    "UF-12",
    "High",
    "2026-12-01",
    "é",
    "\n",
    "closed",
    "x@y",
    "+",
    "-99999999999d",
    "\"2026-13-01T00:00:00Z\"",
];

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn random_text_never_panics_and_errors_point_inside(input in any::<String>()) {
        check_parse_outcome(&input)?;
    }

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..64)) {
        check_parse_outcome(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn glued_pieces_never_panic(pieces in vec(select(&PIECES[..]), 0..16)) {
        check_parse_outcome(&pieces.concat())?;
    }
}

/// The parser either succeeds, with a query that round-trips, or fails at a position in the
/// input whose line and column agree with its byte offset.
fn check_parse_outcome(input: &str) -> Result<(), TestCaseError> {
    match parse(input) {
        Ok(query) => {
            prop_assert_eq!(parse(&print(&query)).ok(), Some(query));
        }
        Err(error) => {
            prop_assert!(error.offset <= input.len());
            prop_assert!(input.is_char_boundary(error.offset));
            let before = &input[..error.offset];
            prop_assert_eq!(error.line, before.matches('\n').count() + 1);
            let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
            prop_assert_eq!(error.column, before[line_start..].chars().count() + 1);
            prop_assert!(!error.message.is_empty());
        }
    }
    Ok(())
}

// The reference: the language's description, applied directly to typed tickets.

fn reference_holds(expr: &Expr, ticket: &Ticket, setting: &Setting) -> bool {
    match expr {
        Expr::And(operands) => operands
            .iter()
            .all(|operand| reference_holds(operand, ticket, setting)),
        Expr::Or(operands) => operands
            .iter()
            .any(|operand| reference_holds(operand, ticket, setting)),
        Expr::Not(operand) => !reference_holds(operand, ticket, setting),
        Expr::Clause(clause) => reference_clause(clause, ticket, setting),
    }
}

fn reference_clause(clause: &Clause, ticket: &Ticket, setting: &Setting) -> bool {
    match &clause.condition {
        Condition::Compare(CompareOp::NotEq, value) => {
            !reference_compare_value(clause.field, CompareOp::Eq, value, ticket, setting)
        }
        Condition::Compare(op, value) => {
            reference_compare_value(clause.field, *op, value, ticket, setting)
        }
        Condition::In { negated, values } => {
            let any = values.iter().any(|value| {
                reference_compare_value(clause.field, CompareOp::Eq, value, ticket, setting)
            });
            any != *negated
        }
        Condition::Empty { negated } => {
            let empty = match clause.field {
                Field::Description => ticket.description.is_empty(),
                Field::Label => ticket.labels.is_empty(),
                Field::Due => ticket.due.is_none(),
                Field::Resolved => ticket.resolved.is_none(),
                Field::Reporter => ticket.reporter.is_none(),
                Field::Assignee => ticket.assignee.is_none(),
                Field::Component => ticket.component.as_deref().is_none_or(str::is_empty),
                other => panic!("{other} cannot be empty"),
            };
            empty != *negated
        }
    }
}

/// `field op value` for every operator but `!=`.
fn reference_compare_value(
    field: Field,
    op: CompareOp,
    value: &Value,
    ticket: &Ticket,
    setting: &Setting,
) -> bool {
    let contains = |haystack: &str, needle: &str| {
        haystack
            .to_ascii_lowercase()
            .contains(&needle.to_ascii_lowercase())
    };
    match (field, value) {
        (Field::Title, Value::Text(text)) => contains(&ticket.title, text),
        (Field::Description, Value::Text(text)) => contains(&ticket.description, text),
        (Field::Component, Value::Text(text)) => match (&ticket.component, op) {
            (None, _) => false,
            (Some(component), CompareOp::Contains) => contains(component, text),
            (Some(component), _) => component == text,
        },
        (Field::Label, Value::Text(text)) => ticket.labels.contains(text),
        (Field::Key, Value::Key(key)) => ticket.key == *key,
        (Field::Team, Value::Team(team)) => ticket.key.team == *team,
        (Field::Type, Value::Kind(kind)) => ticket.kind == *kind,
        (Field::Status, Value::Status(status)) => ticket.status == *status,
        (Field::Priority, Value::Priority(priority)) => ordered(op, ticket.priority.cmp(priority)),
        (Field::Due, Value::Date(date)) => ticket
            .due
            .is_some_and(|due| ordered(op, due.cmp(&reference_day(date, setting)))),
        (Field::Created | Field::Updated | Field::Resolved, Value::Date(date)) => {
            let instant = match field {
                Field::Created => Some(ticket.created),
                Field::Updated => Some(ticket.updated),
                _ => ticket.resolved,
            };
            instant.is_some_and(|instant| reference_instant(op, instant, date, setting))
        }
        (Field::Reporter | Field::Assignee, Value::User(user)) => {
            let person = if field == Field::Reporter {
                ticket.reporter
            } else {
                ticket.assignee
            };
            person.is_some() && person == reference_user(user, setting)
        }
        (field, value) => panic!("{field} compared with {value:?}"),
    }
}

fn ordered(op: CompareOp, ordering: Ordering) -> bool {
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Less => ordering == Ordering::Less,
        CompareOp::LessOrEqual => ordering != Ordering::Greater,
        CompareOp::Greater => ordering == Ordering::Greater,
        CompareOp::GreaterOrEqual => ordering != Ordering::Less,
        CompareOp::NotEq | CompareOp::Contains => panic!("{op:?} is not an ordering"),
    }
}

fn reference_user(user: &UserValue, setting: &Setting) -> Option<UserId> {
    match user {
        UserValue::Id(id) => Some(*id),
        UserValue::Email(email) => directory().get(email).copied(),
        UserValue::CurrentUser => setting.current_user,
        UserValue::CurrentDuty => setting.current_duty,
    }
}

fn now(setting: &Setting) -> Zoned {
    setting.now.to_zoned(TimeZone::get(setting.zone).unwrap())
}

fn monday(setting: &Setting) -> Date {
    let today = now(setting).date();
    (0..7)
        .map(|back| today.checked_sub(Span::new().days(back)).unwrap())
        .find(|day| day.weekday() == jiff::civil::Weekday::Monday)
        .unwrap()
}

/// The instant a date value names (a day names its midnight).
fn reference_point(date: &DateValue, setting: &Setting) -> Timestamp {
    let zone = TimeZone::get(setting.zone).unwrap();
    match date {
        DateValue::Day(day) => day.to_zoned(zone).unwrap().timestamp(),
        DateValue::Instant(instant) => *instant,
        DateValue::Now => setting.now,
        DateValue::Relative(offset) => {
            let span = match offset.unit {
                OffsetUnit::Minutes => Span::new().minutes(offset.amount),
                OffsetUnit::Hours => Span::new().hours(offset.amount),
                OffsetUnit::Days => Span::new().days(offset.amount),
                OffsetUnit::Weeks => Span::new().weeks(offset.amount),
            };
            now(setting).checked_add(span).unwrap().timestamp()
        }
        DateValue::StartOfWeek => monday(setting).to_zoned(zone).unwrap().timestamp(),
        DateValue::EndOfWeek => {
            let next_monday = monday(setting).checked_add(Span::new().days(7)).unwrap();
            next_monday.to_zoned(zone).unwrap().timestamp() - Span::new().seconds(1)
        }
    }
}

fn reference_day(date: &DateValue, setting: &Setting) -> Date {
    match date {
        DateValue::Day(day) => *day,
        other => reference_point(other, setting)
            .to_zoned(TimeZone::get(setting.zone).unwrap())
            .date(),
    }
}

/// An instant field against a date value, in whole seconds; a day is its whole interval.
fn reference_instant(
    op: CompareOp,
    instant: Timestamp,
    date: &DateValue,
    setting: &Setting,
) -> bool {
    let second = instant.as_second();
    match date {
        DateValue::Day(day) => {
            let zone = TimeZone::get(setting.zone).unwrap();
            let start = day.to_zoned(zone.clone()).unwrap().timestamp().as_second();
            let end = day
                .tomorrow()
                .unwrap()
                .to_zoned(zone)
                .unwrap()
                .timestamp()
                .as_second();
            let within = start <= second && second < end;
            match op {
                CompareOp::Eq => within,
                CompareOp::Less => second < start,
                CompareOp::LessOrEqual => second < end,
                CompareOp::Greater => second >= end,
                CompareOp::GreaterOrEqual => second >= start,
                CompareOp::NotEq | CompareOp::Contains => panic!("{op:?}"),
            }
        }
        other => ordered(op, second.cmp(&reference_point(other, setting).as_second())),
    }
}

/// `ORDER BY` on typed values (empty last in both directions), then the key.
fn reference_compare(query: &Query, a: &Ticket, b: &Ticket) -> Ordering {
    fn by<T: Ord>(left: Option<T>, right: Option<T>, direction: Direction) -> Ordering {
        match (left, right) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(left), Some(right)) => match direction {
                Direction::Ascending => left.cmp(&right),
                Direction::Descending => right.cmp(&left),
            },
        }
    }
    for item in &query.order_by {
        let d = item.direction;
        let ordering = match item.field {
            Field::Key => by(Some(&a.key), Some(&b.key), d),
            Field::Type => by(Some(a.kind), Some(b.kind), d),
            Field::Priority => by(Some(a.priority), Some(b.priority), d),
            Field::Status => by(Some(a.status), Some(b.status), d),
            Field::Due => by(a.due, b.due, d),
            Field::Created => by(Some(a.created.as_second()), Some(b.created.as_second()), d),
            Field::Updated => by(Some(a.updated.as_second()), Some(b.updated.as_second()), d),
            Field::Resolved => by(
                a.resolved.map(|t| t.as_second()),
                b.resolved.map(|t| t.as_second()),
                d,
            ),
            Field::Reporter => by(a.reporter, b.reporter, d),
            Field::Assignee => by(a.assignee, b.assignee, d),
            Field::Team => by(Some(&a.key.team), Some(&b.key.team), d),
            other => panic!("cannot sort by {other}"),
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    a.key.cmp(&b.key)
}
