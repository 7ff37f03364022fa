//! Carrying out a [`Plan`] on tickets in memory: which match, and in what order.
//!
//! Values are compared as the database compares the stored columns: text byte by byte (as
//! SQLite's default `BINARY` collation does), instants in whole seconds, priorities by rank,
//! due dates by their `YYYY-MM-DD` text.

use std::cmp::Ordering;

use super::plan::{
    kind_rank, status_rank, Column, Comparison, Plan, Predicate, SortExpr, SqlValue,
};
use crate::tickets::Ticket;
use crate::UserId;

impl Plan {
    /// Whether `ticket` matches the query's filter.
    pub fn matches(&self, ticket: &Ticket) -> bool {
        holds(&self.predicate, ticket)
    }

    /// The query's order: `ORDER BY` first, then the key. Empty values sort last in either
    /// direction. This is a total order on tickets with distinct keys.
    pub fn compare(&self, a: &Ticket, b: &Ticket) -> Ordering {
        for term in &self.sort {
            let ordering = match (sort_value(term.expr, a), sort_value(term.expr, b)) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(left), Some(right)) if term.descending => right.cmp(&left),
                (Some(left), Some(right)) => left.cmp(&right),
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    }

    /// Sorts `tickets` in the query's order.
    pub fn sort(&self, tickets: &mut [Ticket]) {
        tickets.sort_by(|a, b| self.compare(a, b));
    }

    /// The matching tickets, in the query's order.
    pub fn select<'t>(&self, tickets: impl IntoIterator<Item = &'t Ticket>) -> Vec<&'t Ticket> {
        let mut selected: Vec<&Ticket> = tickets
            .into_iter()
            .filter(|ticket| self.matches(ticket))
            .collect();
        selected.sort_by(|a, b| self.compare(a, b));
        selected
    }
}

fn holds(predicate: &Predicate, ticket: &Ticket) -> bool {
    match predicate {
        Predicate::Constant(value) => *value,
        Predicate::And(operands) => operands.iter().all(|operand| holds(operand, ticket)),
        Predicate::Or(operands) => operands.iter().any(|operand| holds(operand, ticket)),
        Predicate::Not(operand) => !holds(operand, ticket),
        Predicate::Compare {
            column,
            comparison,
            value,
        } => column_value(*column, ticket).is_some_and(|stored| {
            let ordering = stored.cmp(value);
            match comparison {
                Comparison::Equal => ordering == Ordering::Equal,
                Comparison::Less => ordering == Ordering::Less,
                Comparison::LessOrEqual => ordering != Ordering::Greater,
                Comparison::Greater => ordering == Ordering::Greater,
                Comparison::GreaterOrEqual => ordering != Ordering::Less,
            }
        }),
        Predicate::OneOf { column, values } => {
            column_value(*column, ticket).is_some_and(|stored| values.contains(&stored))
        }
        Predicate::Contains { column, needle } => {
            column_value(*column, ticket).is_some_and(|stored| match stored {
                SqlValue::Text(text) => text.to_ascii_lowercase().contains(needle.as_str()),
                SqlValue::Int(_) => false,
            })
        }
        Predicate::IsEmpty(column) => match column_value(*column, ticket) {
            None => true,
            Some(SqlValue::Text(text)) => text.is_empty(),
            Some(SqlValue::Int(_)) => false,
        },
        Predicate::HasLabel(labels) => ticket.labels.iter().any(|label| labels.contains(label)),
        Predicate::HasAnyLabel => !ticket.labels.is_empty(),
    }
}

/// The value the `tickets` row for `ticket` would hold in `column`; `None` for NULL.
pub(crate) fn column_value(column: Column, ticket: &Ticket) -> Option<SqlValue> {
    let text = |text: &str| Some(SqlValue::Text(text.to_owned()));
    let user = |user: Option<UserId>| user.map(|UserId(id)| SqlValue::Int(id));
    match column {
        Column::TeamKey => text(&ticket.key.team),
        Column::Number => Some(SqlValue::Int(ticket.key.number)),
        Column::Title => text(&ticket.title),
        Column::Description => text(&ticket.description),
        Column::Kind => text(ticket.kind.as_str()),
        Column::Priority => Some(SqlValue::Int(ticket.priority.rank())),
        Column::Status => text(ticket.status.as_str()),
        Column::DueDate => ticket.due.map(|due| SqlValue::Text(due.to_string())),
        Column::CreatedAt => Some(SqlValue::Int(ticket.created.as_second())),
        Column::UpdatedAt => Some(SqlValue::Int(ticket.updated.as_second())),
        Column::ResolvedAt => ticket
            .resolved
            .map(|resolved| SqlValue::Int(resolved.as_second())),
        Column::ReporterId => user(ticket.reporter),
        Column::AssigneeId => user(ticket.assignee),
        Column::Component => ticket.component.as_deref().and_then(text),
    }
}

fn sort_value(expr: SortExpr, ticket: &Ticket) -> Option<SqlValue> {
    match expr {
        SortExpr::Column(column) => column_value(column, ticket),
        SortExpr::KindRank => Some(SqlValue::Int(kind_rank(ticket.kind))),
        SortExpr::StatusRank => Some(SqlValue::Int(status_rank(ticket.status))),
    }
}
