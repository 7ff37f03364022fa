//! The syntax tree of a filter query.
//!
//! Values are typed by the field they are compared with, so everything after the parser
//! (printer, evaluator, SQL compiler) handles only valid values and never fails on them.
//! Parentheses are not stored: the printer puts back exactly those the tree needs.

use jiff::{civil, Timestamp};

use super::field::Field;
use crate::tickets::{Priority, TicketKey, TicketKind, TicketStatus};
use crate::UserId;

/// A whole query: an optional filter and the sort order (empty when there is no `ORDER BY`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    pub filter: Option<Expr>,
    pub order_by: Vec<OrderItem>,
}

/// A boolean combination of clauses.
///
/// `And` and `Or` hold two or more operands, as the parser builds them: `a AND b AND c` is
/// one `And` of three, while `a AND (b AND c)` is an `And` whose second operand is an `And`.
/// Evaluation treats an empty `And` as true and an empty `Or` as false, but only trees with
/// two or more operands print back to the same tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Clause(Clause),
}

/// One condition on one field, such as `priority >= High` or `label IS EMPTY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub field: Field,
    pub condition: Condition,
}

/// What a clause asks of its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `field op value`.
    Compare(CompareOp, Value),
    /// `field IN (…)`, or `field NOT IN (…)` when `negated`. The list is never empty.
    In { negated: bool, values: Vec<Value> },
    /// `field IS EMPTY`, or `field IS NOT EMPTY` when `negated`.
    Empty { negated: bool },
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    NotEq,
    Less,
    Greater,
    LessOrEqual,
    GreaterOrEqual,
    /// `~`: the text contains the value, ignoring ASCII case.
    Contains,
}

impl CompareOp {
    pub const ALL: [CompareOp; 7] = [
        CompareOp::Eq,
        CompareOp::NotEq,
        CompareOp::Less,
        CompareOp::Greater,
        CompareOp::LessOrEqual,
        CompareOp::GreaterOrEqual,
        CompareOp::Contains,
    ];

    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::NotEq => "!=",
            CompareOp::Less => "<",
            CompareOp::Greater => ">",
            CompareOp::LessOrEqual => "<=",
            CompareOp::GreaterOrEqual => ">=",
            CompareOp::Contains => "~",
        }
    }
}

/// A value, typed by its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Free text: `title`, `description`, `label` and `component` values.
    Text(String),
    Key(TicketKey),
    /// A team key prefix, upper case.
    Team(String),
    Kind(TicketKind),
    Priority(Priority),
    Status(TicketStatus),
    /// A value of `due`, `created`, `updated` or `resolved`.
    Date(DateValue),
    /// A value of `reporter` or `assignee`.
    User(UserValue),
}

/// A point in time as written in a query; resolved against the context's clock and zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateValue {
    /// A calendar day such as `2026-12-01`. Against an instant field it stands for the whole
    /// day in the context's time zone.
    Day(civil::Date),
    /// An RFC 3339 instant such as `"2026-12-01T09:30:00Z"`.
    Instant(Timestamp),
    /// `"+7d"`, `"-2w"`, `"-12h"`: the context's now moved by an amount.
    Relative(RelativeOffset),
    /// `now()`.
    Now,
    /// `startOfWeek()`: Monday 00:00 of the current week in the context's time zone.
    StartOfWeek,
    /// `endOfWeek()`: the last second of the current week (Sunday 23:59:59).
    EndOfWeek,
}

/// An offset from now, such as `-2w`. Days and weeks are calendar days in the context's zone
/// (so `+1d` is the same wall-clock time tomorrow, across a DST change); hours and minutes
/// are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RelativeOffset {
    pub amount: i64,
    pub unit: OffsetUnit,
}

/// The unit of a [`RelativeOffset`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OffsetUnit {
    Minutes,
    Hours,
    Days,
    Weeks,
}

impl OffsetUnit {
    pub const ALL: [OffsetUnit; 4] = [
        OffsetUnit::Minutes,
        OffsetUnit::Hours,
        OffsetUnit::Days,
        OffsetUnit::Weeks,
    ];

    /// The one-letter suffix: `m`, `h`, `d` or `w`.
    pub fn suffix(self) -> char {
        match self {
            OffsetUnit::Minutes => 'm',
            OffsetUnit::Hours => 'h',
            OffsetUnit::Days => 'd',
            OffsetUnit::Weeks => 'w',
        }
    }

    pub fn from_suffix(suffix: char) -> Option<OffsetUnit> {
        OffsetUnit::ALL
            .into_iter()
            .find(|unit| unit.suffix() == suffix)
    }
}

/// A person as written in a query; emails and functions are resolved through the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserValue {
    Id(UserId),
    Email(String),
    /// `currentUser()`: whoever runs the query.
    CurrentUser,
    /// `currentDuty()`: the team's current Captain On-Call.
    CurrentDuty,
}

/// One `ORDER BY` item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrderItem {
    pub field: Field,
    pub direction: Direction,
}

/// A sort direction. For `priority`, descending puts `Highest` first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Ascending,
    Descending,
}

impl Direction {
    pub fn keyword(self) -> &'static str {
        match self {
            Direction::Ascending => "ASC",
            Direction::Descending => "DESC",
        }
    }
}
