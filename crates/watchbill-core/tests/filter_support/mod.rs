//! Generators shared by the filter's property tests: random queries (either over the whole
//! range of values, for printing and parsing, or over the small pools the random tickets draw
//! from, so that clauses actually match), random tickets and random contexts.
#![allow(dead_code)]

use std::collections::HashMap;

use jiff::civil::{self, Date};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};

use watchbill_core::tickets::filter::{
    Clause, CompareOp, Condition, Context, DateValue, Direction, Expr, Field, OffsetUnit,
    OrderItem, Query, RelativeOffset, UserValue, Value, ValueKind, MAX_RELATIVE_AMOUNT,
};
use watchbill_core::tickets::{Priority, Ticket, TicketKey, TicketKind, TicketStatus};
use watchbill_core::UserId;

pub const ZONES: [&str; 5] = [
    "UTC",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Pacific/Apia",
];
pub const TEAMS: [&str; 3] = ["UF", "OPS", "AB1"];
pub const LABELS: [&str; 4] = ["product-maintenance-duty", "flaky", "a_b%", "Flaky"];
pub const COMPONENTS: [&str; 3] = ["web", "api", ""];
pub const WORDS: [&str; 6] = ["cdn", "CDN timeout", "50%", "a_b", "é", ""];
/// Known users: 1–3 have emails; 4 has none.
pub const EMAILS: [(&str, i64); 3] = [
    ("ada@example.com", 1),
    ("alan@example.com", 2),
    ("grace@example.com", 3),
];
/// 2025-01-01T00:00:00Z.
pub const Y2025: i64 = 1_735_689_600;
pub const DAY: i64 = 86_400;

/// How many cases each property runs: `PROPTEST_CASES` if set, else `default_cases`.
pub fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default_cases);
    ProptestConfig::with_cases(cases)
}

pub fn directory() -> HashMap<String, UserId> {
    EMAILS
        .iter()
        .map(|(email, id)| ((*email).to_owned(), UserId(*id)))
        .collect()
}

/// The parts of a context, kept plain so that a failing case prints readably.
#[derive(Debug, Clone)]
pub struct Setting {
    pub now: Timestamp,
    pub zone: &'static str,
    pub current_user: Option<UserId>,
    pub current_duty: Option<UserId>,
}

impl Setting {
    pub fn context<'a>(&self, users: &'a HashMap<String, UserId>) -> Context<'a> {
        let mut context = Context::new(self.now, TimeZone::get(self.zone).unwrap());
        context.current_user = self.current_user;
        context.current_duty = self.current_duty;
        context.with_users(users)
    }
}

fn user_id() -> impl Strategy<Value = UserId> {
    (1i64..=4).prop_map(UserId)
}

pub fn setting() -> impl Strategy<Value = Setting> {
    (
        0i64..(2 * 365 * DAY),
        0i32..1_000_000_000,
        select(&ZONES[..]),
        option::of(user_id()),
        option::of(user_id()),
    )
        .prop_map(
            |(offset, nanos, zone, current_user, current_duty)| Setting {
                now: Timestamp::new(Y2025 + offset, nanos).unwrap(),
                zone,
                current_user,
                current_duty,
            },
        )
}

/// An instant within about two months of the settings' years, with any sub-second part.
fn instant_near() -> impl Strategy<Value = Timestamp> {
    (-60 * DAY..(2 * 365 + 60) * DAY, 0i32..1_000_000_000)
        .prop_map(|(offset, nanos)| Timestamp::new(Y2025 + offset, nanos).unwrap())
}

fn day_near() -> impl Strategy<Value = Date> {
    (-60i64..(2 * 365 + 60)).prop_map(|days| {
        civil::date(2025, 1, 1)
            .checked_add(jiff::Span::new().days(days))
            .unwrap()
    })
}

pub fn ticket() -> impl Strategy<Value = Ticket> {
    let identity = (
        select(&TEAMS[..]),
        1i64..40,
        select(&WORDS[..]),
        select(&WORDS[..]),
        select(TicketKind::ALL),
        subsequence(&LABELS[..], 0..=LABELS.len()),
        select(Priority::ALL),
        select(TicketStatus::ALL),
    );
    let times = (
        option::of(day_near()),
        instant_near(),
        instant_near(),
        option::of(instant_near()),
        option::of(user_id()),
        option::of(user_id()),
        option::of(select(&COMPONENTS[..])),
    );
    (identity, times).prop_map(
        |(
            (team, number, title, description, kind, labels, priority, status),
            (due, created, updated, resolved, reporter, assignee, component),
        )| Ticket {
            key: TicketKey::new(team, number).unwrap(),
            title: title.to_owned(),
            description: description.to_owned(),
            kind,
            labels: labels.into_iter().map(str::to_owned).collect(),
            priority,
            status,
            due,
            created,
            updated,
            resolved,
            reporter,
            assignee,
            component: component.map(str::to_owned),
        },
    )
}

/// Tickets with distinct keys.
pub fn tickets(max: usize) -> impl Strategy<Value = Vec<Ticket>> {
    vec(ticket(), 0..=max).prop_map(|mut tickets| {
        let mut seen = std::collections::HashSet::new();
        tickets.retain(|ticket| seen.insert(ticket.key.clone()));
        tickets
    })
}

/// Whether generated values span everything the language can say, or stay near the
/// generated tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    Wide,
    Near,
}

fn relative(range: Range) -> impl Strategy<Value = DateValue> {
    let amount = match range {
        Range::Wide => -MAX_RELATIVE_AMOUNT..=MAX_RELATIVE_AMOUNT,
        Range::Near => -100i64..=100,
    };
    (amount, select(&OffsetUnit::ALL[..]))
        .prop_map(|(amount, unit)| DateValue::Relative(RelativeOffset { amount, unit }))
}

fn date_value(range: Range) -> BoxedStrategy<DateValue> {
    let functions = prop_oneof![
        Just(DateValue::Now),
        Just(DateValue::StartOfWeek),
        Just(DateValue::EndOfWeek)
    ];
    match range {
        Range::Wide => prop_oneof![
            (1i16..=9999, 1i8..=12, 1i8..=28)
                .prop_map(|(year, month, day)| DateValue::Day(civil::date(year, month, day))),
            (-62_135_596_800i64..253_402_300_799, 0i32..1_000_000_000).prop_map(
                |(second, nanos)| { DateValue::Instant(Timestamp::new(second, nanos).unwrap()) }
            ),
            relative(range),
            functions,
        ]
        .boxed(),
        Range::Near => prop_oneof![
            day_near().prop_map(DateValue::Day),
            instant_near().prop_map(DateValue::Instant),
            relative(range),
            functions,
        ]
        .boxed(),
    }
}

fn user_value(range: Range) -> BoxedStrategy<UserValue> {
    let functions = prop_oneof![Just(UserValue::CurrentUser), Just(UserValue::CurrentDuty)];
    match range {
        Range::Wide => prop_oneof![
            (0i64..=i64::MAX).prop_map(|id| UserValue::Id(UserId(id))),
            (any::<String>(), any::<String>())
                .prop_map(|(name, domain)| UserValue::Email(format!("{name}@{domain}"))),
            functions,
        ]
        .boxed(),
        Range::Near => prop_oneof![
            (1i64..=5).prop_map(|id| UserValue::Id(UserId(id))),
            select(&["ada@example.com", "grace@example.com", "nobody@example.com"][..])
                .prop_map(|email| UserValue::Email(email.to_owned())),
            functions,
        ]
        .boxed(),
    }
}

fn team_key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Z][A-Z0-9]{0,4}",
        Just("IN".to_owned()),
        Just("OR".to_owned())
    ]
}

fn text(range: Range, pool: &'static [&'static str]) -> BoxedStrategy<String> {
    match range {
        Range::Wide => prop_oneof![
            select(&["and", "In", "NOT", "x\"y\\z", "a b", "", "now", "-2w", "ORDER"][..])
                .prop_map(str::to_owned),
            any::<String>(),
        ]
        .boxed(),
        Range::Near => select(pool).prop_map(str::to_owned).boxed(),
    }
}

/// A value for `field`.
pub fn value(field: Field, range: Range) -> BoxedStrategy<Value> {
    match field.value_kind() {
        ValueKind::Text => {
            let pool: &'static [&'static str] = match field {
                Field::Label => &LABELS,
                Field::Component => &COMPONENTS,
                _ => &WORDS,
            };
            text(range, pool).prop_map(Value::Text).boxed()
        }
        ValueKind::Key => {
            let team = match range {
                Range::Wide => team_key().boxed(),
                Range::Near => select(&TEAMS[..]).prop_map(str::to_owned).boxed(),
            };
            let number = match range {
                Range::Wide => (1i64..=i64::MAX).boxed(),
                Range::Near => (1i64..40).boxed(),
            };
            (team, number)
                .prop_map(|(team, number)| Value::Key(TicketKey::new(&team, number).unwrap()))
                .boxed()
        }
        ValueKind::Team => match range {
            Range::Wide => team_key().prop_map(Value::Team).boxed(),
            Range::Near => select(&TEAMS[..])
                .prop_map(|team| Value::Team(team.to_owned()))
                .boxed(),
        },
        ValueKind::Kind => select(TicketKind::ALL).prop_map(Value::Kind).boxed(),
        ValueKind::Priority => select(Priority::ALL).prop_map(Value::Priority).boxed(),
        ValueKind::Status => select(TicketStatus::ALL).prop_map(Value::Status).boxed(),
        ValueKind::Day | ValueKind::Instant => date_value(range).prop_map(Value::Date).boxed(),
        ValueKind::User => user_value(range).prop_map(Value::User).boxed(),
    }
}

/// A clause the parser accepts: an operator the field takes, with values of its type.
pub fn clause(range: Range) -> impl Strategy<Value = Clause> {
    select(&Field::ALL[..]).prop_flat_map(move |field| {
        let ops: Vec<CompareOp> = CompareOp::ALL
            .into_iter()
            .filter(|op| field.accepts(*op))
            .collect();
        let mut conditions: Vec<BoxedStrategy<Condition>> =
            vec![(select(ops), value(field, range))
                .prop_map(|(op, value)| Condition::Compare(op, value))
                .boxed()];
        if field.accepts_in() {
            conditions.push(
                (any::<bool>(), vec(value(field, range), 1..4))
                    .prop_map(|(negated, values)| Condition::In { negated, values })
                    .boxed(),
            );
        }
        if field.can_be_empty() {
            conditions.push(
                any::<bool>()
                    .prop_map(|negated| Condition::Empty { negated })
                    .boxed(),
            );
        }
        proptest::strategy::Union::new(conditions)
            .prop_map(move |condition| Clause { field, condition })
    })
}

/// A filter as the parser builds it: `And` and `Or` with two or more operands.
pub fn expr(range: Range) -> impl Strategy<Value = Expr> {
    clause(range)
        .prop_map(Expr::Clause)
        .prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 2..4).prop_map(Expr::And),
                vec(inner.clone(), 2..4).prop_map(Expr::Or),
                inner.prop_map(|operand| Expr::Not(Box::new(operand))),
            ]
        })
}

pub fn order_by() -> impl Strategy<Value = Vec<OrderItem>> {
    let sortable: Vec<Field> = Field::ALL
        .into_iter()
        .filter(|field| field.is_sortable())
        .collect();
    subsequence(sortable, 0..=3)
        .prop_shuffle()
        .prop_flat_map(|fields| {
            let count = fields.len();
            (Just(fields), vec(any::<bool>(), count))
        })
        .prop_map(|(fields, descending)| {
            fields
                .into_iter()
                .zip(descending)
                .map(|(field, descending)| OrderItem {
                    field,
                    direction: if descending {
                        Direction::Descending
                    } else {
                        Direction::Ascending
                    },
                })
                .collect()
        })
}

pub fn query(range: Range) -> impl Strategy<Value = Query> {
    (option::of(expr(range)), order_by()).prop_map(|(filter, order_by)| Query { filter, order_by })
}
