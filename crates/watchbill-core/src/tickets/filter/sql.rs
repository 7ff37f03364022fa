//! Compiling a query to a parametrised `WHERE` clause and `ORDER BY` for SQLite and
//! PostgreSQL alike.
//!
//! The SQL is written against this schema, which the store will create:
//!
//! ```sql
//! CREATE TABLE tickets (
//!     id          BIGINT PRIMARY KEY,
//!     team_key    TEXT   NOT NULL,   -- upper case, e.g. 'UF'
//!     number      BIGINT NOT NULL,   -- the 123 of UF-123
//!     title       TEXT   NOT NULL,
//!     description TEXT,              -- NULL reads as empty
//!     kind        TEXT   NOT NULL,   -- 'bug', 'feature', 'maintenance', 'task'
//!     priority    BIGINT NOT NULL,   -- 1 = Highest … 5 = Lowest
//!     status      TEXT   NOT NULL,   -- 'open', 'in_progress', 'resolved', 'closed'
//!     due_date    TEXT,              -- 'YYYY-MM-DD'
//!     created_at  BIGINT NOT NULL,   -- Unix seconds
//!     updated_at  BIGINT NOT NULL,
//!     resolved_at BIGINT,
//!     reporter_id BIGINT,
//!     assignee_id BIGINT,
//!     component   TEXT
//! );
//! CREATE TABLE ticket_labels (ticket_id BIGINT NOT NULL, label TEXT NOT NULL);
//! ```
//!
//! Both backends accept `$1 … $n` placeholders, `EXISTS`, `LOWER`, `LIKE … ESCAPE` and
//! `CASE`, so one text serves both. No value from the query (nor any ticket type or status
//! name) is ever written into the SQL text: they all travel as parameters.
//!
//! Every compiled condition is true or false, never NULL: comparisons on nullable columns are
//! guarded with `IS NOT NULL`, so `NOT` agrees with the in-memory evaluator on empty fields.
//! Empty values sort last in both directions via `(x IS NULL) ASC`, which both backends read
//! the same way (unlike their default NULL placement, which differs).
//!
//! Case-insensitive `~` folds ASCII letters only, as SQLite's `LOWER` does; PostgreSQL's
//! `LOWER` also folds other letters, so there `~ "é"` also finds "É". That is the one place
//! the backends may disagree.

use std::fmt::Write;

use super::ast::Query;
use super::context::Context;
use super::plan::{Column, Comparison, Plan, Predicate, SortExpr, SqlValue};
use crate::tickets::{TicketKind, TicketStatus};

/// A query compiled to SQL: `SELECT … FROM tickets WHERE {where_clause} {order_by}`, run with
/// `params` bound to `$1 … $n` in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledSql {
    /// A boolean expression over `tickets` (without the `WHERE` keyword); `1 = 1` when the
    /// query has no filter.
    pub where_clause: String,
    /// `ORDER BY …`, always ending with the key so the order is total.
    pub order_by: String,
    pub params: Vec<SqlValue>,
}

impl CompiledSql {
    /// The ids of the matching tickets, in order.
    pub fn select_ids(&self) -> String {
        format!(
            "SELECT tickets.id FROM tickets WHERE {} {}",
            self.where_clause, self.order_by
        )
    }
}

/// Compiles `query`, with its relative dates and people resolved against `context`.
pub fn compile(query: &Query, context: &Context<'_>) -> CompiledSql {
    Plan::new(query, context).to_sql()
}

impl Plan {
    /// The SQL that selects and orders the tickets this plan selects and orders in memory.
    pub fn to_sql(&self) -> CompiledSql {
        let mut writer = SqlWriter::default();
        writer.predicate(&self.predicate);
        let where_clause = std::mem::take(&mut writer.sql);
        let terms: Vec<String> = self
            .sort
            .iter()
            .map(|term| {
                let expr = writer.sort_expr(term.expr);
                let direction = if term.descending { "DESC" } else { "ASC" };
                if sort_expr_is_nullable(term.expr) {
                    format!("({expr} IS NULL) ASC, {expr} {direction}")
                } else {
                    format!("{expr} {direction}")
                }
            })
            .collect();
        CompiledSql {
            where_clause,
            order_by: format!("ORDER BY {}", terms.join(", ")),
            params: writer.params,
        }
    }
}

#[derive(Default)]
struct SqlWriter {
    sql: String,
    params: Vec<SqlValue>,
}

impl SqlWriter {
    /// Adds a parameter and returns its placeholder.
    fn param(&mut self, value: SqlValue) -> String {
        self.params.push(value);
        format!("${}", self.params.len())
    }

    fn predicate(&mut self, predicate: &Predicate) {
        match predicate {
            Predicate::Constant(true) => self.sql.push_str("1 = 1"),
            Predicate::Constant(false) => self.sql.push_str("1 = 0"),
            Predicate::And(operands) => self.junction(operands, " AND ", "1 = 1"),
            Predicate::Or(operands) => self.junction(operands, " OR ", "1 = 0"),
            Predicate::Not(operand) => {
                self.sql.push_str("NOT (");
                self.predicate(operand);
                self.sql.push(')');
            }
            Predicate::Compare {
                column,
                comparison,
                value,
            } => {
                let placeholder = self.param(value.clone());
                let operator = match comparison {
                    Comparison::Equal => "=",
                    Comparison::Less => "<",
                    Comparison::LessOrEqual => "<=",
                    Comparison::Greater => ">",
                    Comparison::GreaterOrEqual => ">=",
                };
                self.guarded(*column, &format!("{operator} {placeholder}"));
            }
            Predicate::OneOf { column, values } => {
                let placeholders = self.placeholders(values);
                self.guarded(*column, &format!("IN ({placeholders})"));
            }
            Predicate::Contains { column, needle } => {
                let pattern = format!("%{}%", escape_like(needle));
                let placeholder = self.param(SqlValue::Text(pattern));
                let name = column_sql(*column);
                let test = format!("LOWER({name}) LIKE {placeholder} ESCAPE '\\'");
                if column_is_nullable(*column) {
                    let _ = write!(self.sql, "({name} IS NOT NULL AND {test})");
                } else {
                    self.sql.push_str(&test);
                }
            }
            Predicate::IsEmpty(column) => {
                let name = column_sql(*column);
                if column_is_text(*column) {
                    let _ = write!(self.sql, "({name} IS NULL OR {name} = '')");
                } else {
                    let _ = write!(self.sql, "{name} IS NULL");
                }
            }
            Predicate::HasLabel(labels) => {
                let test = match labels.as_slice() {
                    [single] => format!("= {}", self.param(SqlValue::Text(single.clone()))),
                    _ => {
                        let values: Vec<SqlValue> =
                            labels.iter().cloned().map(SqlValue::Text).collect();
                        format!("IN ({})", self.placeholders(&values))
                    }
                };
                let _ = write!(
                    self.sql,
                    "EXISTS (SELECT 1 FROM ticket_labels l \
                     WHERE l.ticket_id = tickets.id AND l.label {test})"
                );
            }
            Predicate::HasAnyLabel => self
                .sql
                .push_str("EXISTS (SELECT 1 FROM ticket_labels l WHERE l.ticket_id = tickets.id)"),
        }
    }

    fn junction(&mut self, operands: &[Predicate], joiner: &str, when_empty: &str) {
        if operands.is_empty() {
            self.sql.push_str(when_empty);
            return;
        }
        self.sql.push('(');
        for (index, operand) in operands.iter().enumerate() {
            if index > 0 {
                self.sql.push_str(joiner);
            }
            self.predicate(operand);
        }
        self.sql.push(')');
    }

    fn placeholders(&mut self, values: &[SqlValue]) -> String {
        let placeholders: Vec<String> = values
            .iter()
            .map(|value| self.param(value.clone()))
            .collect();
        placeholders.join(", ")
    }

    /// `column test`, false rather than NULL where the column is NULL.
    fn guarded(&mut self, column: Column, test: &str) {
        let name = column_sql(column);
        if column_is_nullable(column) {
            let _ = write!(self.sql, "({name} IS NOT NULL AND {name} {test})");
        } else {
            let _ = write!(self.sql, "{name} {test}");
        }
    }

    fn sort_expr(&mut self, expr: SortExpr) -> String {
        match expr {
            SortExpr::Column(column) => column_sql(column).to_owned(),
            SortExpr::KindRank => {
                let names: Vec<&str> = TicketKind::ALL.iter().map(|kind| kind.as_str()).collect();
                self.rank_case("tickets.kind", &names)
            }
            SortExpr::StatusRank => {
                let names: Vec<&str> = TicketStatus::ALL
                    .iter()
                    .map(|status| status.as_str())
                    .collect();
                self.rank_case("tickets.status", &names)
            }
        }
    }

    /// `CASE column WHEN $a THEN 1 WHEN $b THEN 2 … END`: each name's position, from 1.
    fn rank_case(&mut self, column: &str, names: &[&str]) -> String {
        let mut case = format!("CASE {column}");
        for (index, name) in names.iter().enumerate() {
            let placeholder = self.param(SqlValue::Text((*name).to_owned()));
            let _ = write!(case, " WHEN {placeholder} THEN {}", index + 1);
        }
        case.push_str(" END");
        case
    }
}

fn column_sql(column: Column) -> &'static str {
    match column {
        Column::TeamKey => "tickets.team_key",
        Column::Number => "tickets.number",
        Column::Title => "tickets.title",
        Column::Description => "tickets.description",
        Column::Kind => "tickets.kind",
        Column::Priority => "tickets.priority",
        Column::Status => "tickets.status",
        Column::DueDate => "tickets.due_date",
        Column::CreatedAt => "tickets.created_at",
        Column::UpdatedAt => "tickets.updated_at",
        Column::ResolvedAt => "tickets.resolved_at",
        Column::ReporterId => "tickets.reporter_id",
        Column::AssigneeId => "tickets.assignee_id",
        Column::Component => "tickets.component",
    }
}

fn column_is_nullable(column: Column) -> bool {
    matches!(
        column,
        Column::Description
            | Column::DueDate
            | Column::ResolvedAt
            | Column::ReporterId
            | Column::AssigneeId
            | Column::Component
    )
}

fn column_is_text(column: Column) -> bool {
    matches!(
        column,
        Column::TeamKey
            | Column::Title
            | Column::Description
            | Column::Kind
            | Column::Status
            | Column::DueDate
            | Column::Component
    )
}

fn sort_expr_is_nullable(expr: SortExpr) -> bool {
    match expr {
        SortExpr::Column(column) => column_is_nullable(column),
        SortExpr::KindRank | SortExpr::StatusRank => false,
    }
}

/// Escapes `LIKE`'s wildcards (and the escape character itself) with a backslash.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}
