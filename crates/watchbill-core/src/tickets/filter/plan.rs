//! A query resolved against a context: the one meaning that the in-memory evaluator and the
//! SQL compiler both carry out.
//!
//! Lowering does everything that needs thought: relative dates become seconds and days,
//! emails and functions become user ids, priorities become stored ranks (where a smaller rank
//! is a greater priority), a day against an instant field becomes that day's interval, and
//! `!=` and `NOT IN` become the plain negation of `=` and `IN`. What is left is a small set of
//! predicates over stored columns, each of which is either true or false for every ticket
//! (never "unknown", even where a column is empty), so `NOT` means the same in Rust and SQL.

use super::ast::{
    Clause, CompareOp, Condition, DateValue, Direction, Expr, OrderItem, Query, UserValue, Value,
};
use super::context::Context;
use super::field::Field;
use super::time::{day_value, instant_value, InstantValue};
use crate::tickets::{TicketKind, TicketStatus};
use crate::UserId;

/// A typed value compared with a column; also the type of the SQL parameters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SqlValue {
    Int(i64),
    Text(String),
}

/// A stored column of `tickets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Column {
    TeamKey,
    Number,
    Title,
    Description,
    Kind,
    Priority,
    Status,
    DueDate,
    CreatedAt,
    UpdatedAt,
    ResolvedAt,
    ReporterId,
    AssigneeId,
    Component,
}

/// How a column compares with a value. Inequality is always expressed as `Not(Equal)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Comparison {
    Equal,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

/// A condition on a ticket's stored columns. Every variant is false where its column is empty
/// (NULL), except `IsEmpty`, which asks exactly that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Predicate {
    Constant(bool),
    And(Vec<Predicate>),
    Or(Vec<Predicate>),
    Not(Box<Predicate>),
    Compare {
        column: Column,
        comparison: Comparison,
        value: SqlValue,
    },
    /// The column equals one of the values (the list is never empty).
    OneOf {
        column: Column,
        values: Vec<SqlValue>,
    },
    /// The column contains `needle`, ignoring ASCII case; `needle` is already lower case.
    Contains {
        column: Column,
        needle: String,
    },
    /// The column is NULL, or empty text.
    IsEmpty(Column),
    /// The ticket has one of these labels (the list is never empty).
    HasLabel(Vec<String>),
    /// The ticket has at least one label.
    HasAnyLabel,
}

/// What a sort term orders by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SortExpr {
    Column(Column),
    /// The type's position in [`TicketKind::ALL`], from 1.
    KindRank,
    /// The status's position in workflow order ([`TicketStatus::ALL`]), from 1.
    StatusRank,
}

/// One term of the sort order, on stored values. Empty values always sort last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct SortTerm {
    pub expr: SortExpr,
    pub descending: bool,
}

/// A query resolved against a context. Build it once per query and context, then ask it
/// about as many tickets as needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub(crate) predicate: Predicate,
    /// The sort terms of `ORDER BY`, followed by the ticket key as the final tie-breaker, so
    /// that the order is total (and without `ORDER BY`, tickets come in key order).
    pub(crate) sort: Vec<SortTerm>,
}

impl Plan {
    pub fn new(query: &Query, context: &Context<'_>) -> Plan {
        let predicate = query
            .filter
            .as_ref()
            .map_or(Predicate::Constant(true), |filter| lower(filter, context));
        let mut sort: Vec<SortTerm> = query.order_by.iter().flat_map(sort_terms).collect();
        sort.extend(KEY_ORDER);
        Plan { predicate, sort }
    }
}

const KEY_ORDER: [SortTerm; 2] = [
    SortTerm {
        expr: SortExpr::Column(Column::TeamKey),
        descending: false,
    },
    SortTerm {
        expr: SortExpr::Column(Column::Number),
        descending: false,
    },
];

fn sort_terms(item: &OrderItem) -> Vec<SortTerm> {
    let descending = item.direction == Direction::Descending;
    let term = |expr| SortTerm { expr, descending };
    match item.field {
        Field::Key => vec![
            term(SortExpr::Column(Column::TeamKey)),
            term(SortExpr::Column(Column::Number)),
        ],
        // The stored rank runs the other way: rank 1 is the greatest priority.
        Field::Priority => vec![SortTerm {
            expr: SortExpr::Column(Column::Priority),
            descending: !descending,
        }],
        Field::Type => vec![term(SortExpr::KindRank)],
        Field::Status => vec![term(SortExpr::StatusRank)],
        Field::Due => vec![term(SortExpr::Column(Column::DueDate))],
        Field::Created => vec![term(SortExpr::Column(Column::CreatedAt))],
        Field::Updated => vec![term(SortExpr::Column(Column::UpdatedAt))],
        Field::Resolved => vec![term(SortExpr::Column(Column::ResolvedAt))],
        Field::Reporter => vec![term(SortExpr::Column(Column::ReporterId))],
        Field::Assignee => vec![term(SortExpr::Column(Column::AssigneeId))],
        Field::Team => vec![term(SortExpr::Column(Column::TeamKey))],
        // The parser refuses to sort by free text; should such a query be built by hand,
        // the term is dropped and the key order still makes the order total.
        Field::Title | Field::Description | Field::Label | Field::Component => Vec::new(),
    }
}

pub(crate) fn kind_rank(kind: TicketKind) -> i64 {
    rank_in(TicketKind::ALL, &kind)
}

pub(crate) fn status_rank(status: TicketStatus) -> i64 {
    rank_in(TicketStatus::ALL, &status)
}

fn rank_in<T: PartialEq>(all: &[T], value: &T) -> i64 {
    all.iter()
        .position(|candidate| candidate == value)
        .and_then(|index| i64::try_from(index + 1).ok())
        .unwrap_or(0)
}

fn lower(expr: &Expr, context: &Context<'_>) -> Predicate {
    match expr {
        Expr::And(operands) => Predicate::And(
            operands
                .iter()
                .map(|operand| lower(operand, context))
                .collect(),
        ),
        Expr::Or(operands) => Predicate::Or(
            operands
                .iter()
                .map(|operand| lower(operand, context))
                .collect(),
        ),
        Expr::Not(operand) => Predicate::Not(Box::new(lower(operand, context))),
        Expr::Clause(clause) => lower_clause(clause, context),
    }
}

fn lower_clause(clause: &Clause, context: &Context<'_>) -> Predicate {
    let field = clause.field;
    match &clause.condition {
        Condition::Compare(CompareOp::NotEq, value) => Predicate::Not(Box::new(lower_comparison(
            field,
            CompareOp::Eq,
            value,
            context,
        ))),
        Condition::Compare(op, value) => lower_comparison(field, *op, value, context),
        Condition::In { negated, values } => negate_if(*negated, lower_in(field, values, context)),
        Condition::Empty { negated } => {
            let empty = match field {
                Field::Label => Predicate::Not(Box::new(Predicate::HasAnyLabel)),
                other => Predicate::IsEmpty(column_of(other)),
            };
            negate_if(*negated, empty)
        }
    }
}

fn negate_if(negated: bool, predicate: Predicate) -> Predicate {
    if negated {
        Predicate::Not(Box::new(predicate))
    } else {
        predicate
    }
}

/// The column a field is stored in. `key` spans two columns and `label` lives in another
/// table; their callers handle them before asking.
fn column_of(field: Field) -> Column {
    match field {
        Field::Key | Field::Team => Column::TeamKey,
        Field::Title => Column::Title,
        Field::Description => Column::Description,
        Field::Type => Column::Kind,
        Field::Priority => Column::Priority,
        Field::Status => Column::Status,
        Field::Due => Column::DueDate,
        Field::Created => Column::CreatedAt,
        Field::Updated => Column::UpdatedAt,
        Field::Resolved => Column::ResolvedAt,
        Field::Reporter => Column::ReporterId,
        Field::Assignee => Column::AssigneeId,
        Field::Label | Field::Component => Column::Component,
    }
}

fn comparison_of(op: CompareOp) -> Comparison {
    match op {
        CompareOp::Less => Comparison::Less,
        CompareOp::LessOrEqual => Comparison::LessOrEqual,
        CompareOp::Greater => Comparison::Greater,
        CompareOp::GreaterOrEqual => Comparison::GreaterOrEqual,
        CompareOp::Eq | CompareOp::NotEq | CompareOp::Contains => Comparison::Equal,
    }
}

/// `field op value` for every operator but `!=`.
fn lower_comparison(
    field: Field,
    op: CompareOp,
    value: &Value,
    context: &Context<'_>,
) -> Predicate {
    if op == CompareOp::Contains {
        let text = match value {
            Value::Text(text) => text.as_str(),
            _ => "",
        };
        return Predicate::Contains {
            column: column_of(field),
            needle: text.to_ascii_lowercase(),
        };
    }
    let comparison = comparison_of(op);
    match (field, value) {
        (Field::Priority, Value::Priority(priority)) => Predicate::Compare {
            column: Column::Priority,
            comparison: reversed(comparison),
            value: SqlValue::Int(priority.rank()),
        },
        (Field::Due, Value::Date(date)) => Predicate::Compare {
            column: Column::DueDate,
            comparison,
            value: SqlValue::Text(day_value(date, context).to_string()),
        },
        (Field::Created | Field::Updated | Field::Resolved, Value::Date(date)) => {
            instant_comparison(column_of(field), comparison, date, context)
        }
        (Field::Label, Value::Text(label)) => Predicate::HasLabel(vec![label.clone()]),
        (Field::Key, Value::Key(key)) => Predicate::And(vec![
            Predicate::Compare {
                column: Column::TeamKey,
                comparison: Comparison::Equal,
                value: SqlValue::Text(key.team.clone()),
            },
            Predicate::Compare {
                column: Column::Number,
                comparison: Comparison::Equal,
                value: SqlValue::Int(key.number),
            },
        ]),
        (field, value) => match stored_value(value, context) {
            Some(stored) => Predicate::Compare {
                column: column_of(field),
                comparison,
                value: stored,
            },
            // A user nobody is (an unknown email, or no one on duty) equals no ticket's.
            None => Predicate::Constant(false),
        },
    }
}

/// A comparison on ranks that runs the other way than the language's order.
fn reversed(comparison: Comparison) -> Comparison {
    match comparison {
        Comparison::Equal => Comparison::Equal,
        Comparison::Less => Comparison::Greater,
        Comparison::LessOrEqual => Comparison::GreaterOrEqual,
        Comparison::Greater => Comparison::Less,
        Comparison::GreaterOrEqual => Comparison::LessOrEqual,
    }
}

/// Compares an instant column with a date value. A day stands for its whole interval
/// `[start, end)`: `created = 2026-12-01` is any time that day, `created <= 2026-12-01` is
/// before the next day, `created > 2026-12-01` is from the next day on.
fn instant_comparison(
    column: Column,
    comparison: Comparison,
    date: &DateValue,
    context: &Context<'_>,
) -> Predicate {
    let compare = |comparison, second| Predicate::Compare {
        column,
        comparison,
        value: SqlValue::Int(second),
    };
    match instant_value(date, context) {
        InstantValue::Point(second) => compare(comparison, second),
        InstantValue::Day { start, end } => match comparison {
            Comparison::Equal => Predicate::And(vec![
                compare(Comparison::GreaterOrEqual, start),
                compare(Comparison::Less, end),
            ]),
            Comparison::Less => compare(Comparison::Less, start),
            Comparison::LessOrEqual => compare(Comparison::Less, end),
            Comparison::Greater => compare(Comparison::GreaterOrEqual, end),
            Comparison::GreaterOrEqual => compare(Comparison::GreaterOrEqual, start),
        },
    }
}

fn lower_in(field: Field, values: &[Value], context: &Context<'_>) -> Predicate {
    match field {
        Field::Label => {
            let labels: Vec<String> = values
                .iter()
                .filter_map(|value| match value {
                    Value::Text(label) => Some(label.clone()),
                    _ => None,
                })
                .collect();
            non_empty(labels, Predicate::HasLabel)
        }
        Field::Key => Predicate::Or(
            values
                .iter()
                .map(|value| lower_comparison(field, CompareOp::Eq, value, context))
                .collect(),
        ),
        Field::Priority => {
            let ranks = values.iter().filter_map(|value| match value {
                Value::Priority(priority) => Some(SqlValue::Int(priority.rank())),
                _ => None,
            });
            non_empty(ranks.collect(), |values| Predicate::OneOf {
                column: Column::Priority,
                values,
            })
        }
        other => {
            let stored: Vec<SqlValue> = values
                .iter()
                .filter_map(|value| stored_value(value, context))
                .collect();
            non_empty(stored, |values| Predicate::OneOf {
                column: column_of(other),
                values,
            })
        }
    }
}

/// `build(items)`, or false for an empty list (where every value named nobody).
fn non_empty<T>(items: Vec<T>, build: impl FnOnce(Vec<T>) -> Predicate) -> Predicate {
    if items.is_empty() {
        Predicate::Constant(false)
    } else {
        build(items)
    }
}

/// How a value of an equality-compared field is stored; `None` for a user who is nobody.
fn stored_value(value: &Value, context: &Context<'_>) -> Option<SqlValue> {
    match value {
        Value::Text(text) | Value::Team(text) => Some(SqlValue::Text(text.clone())),
        Value::Key(key) => Some(SqlValue::Text(key.to_string())),
        Value::Kind(kind) => Some(SqlValue::Text(kind.as_str().to_owned())),
        Value::Status(status) => Some(SqlValue::Text(status.as_str().to_owned())),
        Value::Priority(priority) => Some(SqlValue::Int(priority.rank())),
        Value::Date(date) => Some(SqlValue::Text(day_value(date, context).to_string())),
        Value::User(user) => user_id(user, context).map(|UserId(id)| SqlValue::Int(id)),
    }
}

fn user_id(user: &UserValue, context: &Context<'_>) -> Option<UserId> {
    match user {
        UserValue::Id(id) => Some(*id),
        UserValue::Email(email) => context.users.user_id_by_email(email),
        UserValue::CurrentUser => context.current_user,
        UserValue::CurrentDuty => context.current_duty,
    }
}
