//! The ticket filter language: a small JQL-like language that selects and orders tickets.
//!
//! ```text
//! label = product-maintenance-duty AND status != closed AND due < "+7d"
//!     ORDER BY priority DESC, due ASC
//! ```
//!
//! The pipeline, one file each:
//! - [`parse`] (lexer, parser, value readers) turns text into a [`Query`], checking every
//!   field, operator and value, or fails with a [`ParseError`] that points at the offending
//!   token;
//! - [`print`] turns a query back into canonical text that parses to the same query;
//! - [`Plan::new`] resolves a query against a [`Context`] (the clock, the time zone, the
//!   current user and duty, a directory of emails) into one meaning on stored columns;
//! - [`Plan::matches`], [`Plan::compare`] and [`Plan::select`] carry it out in memory, and
//!   [`compile`] (or [`Plan::to_sql`]) writes the same meaning as parametrised SQL for
//!   SQLite and PostgreSQL.
//!
//! Semantics worth knowing:
//! - `label = x` means "has label x"; `label != x` means "has not". In general `f != v` is
//!   exactly `NOT f = v` and `f NOT IN (…)` is `NOT f IN (…)`, so unassigned tickets match
//!   `assignee != ada@example.com`. Other comparisons (`=`, `<`, `IN`, `~`) are false on an
//!   empty field.
//! - `priority > Medium` means more urgent (`High` or `Highest`).
//! - `due` is a day: any date value is taken as its day in the context's zone. `created`,
//!   `updated` and `resolved` are instants compared in whole seconds; a day such as
//!   `2026-12-01` against them stands for the whole day (`created = 2026-12-01` is any time
//!   that day).
//! - `"+7d"`/`"-2w"` move now by calendar days or weeks in the context's zone, `"-12h"` and
//!   `"-30m"` by exact hours and minutes. Weeks start on Monday.
//! - An email the directory does not know, `currentUser()` without a current user, and
//!   `currentDuty()` with nobody on duty name nobody: `=` and `IN` match no ticket with them.
//! - Without `ORDER BY`, tickets come in key order; with it, the key breaks ties.

mod ast;
mod context;
mod error;
mod evaluate;
mod field;
mod lexer;
mod parser;
mod plan;
mod printer;
mod sql;
mod suggest;
mod time;
mod values;

pub use ast::{
    Clause, CompareOp, Condition, DateValue, Direction, Expr, OffsetUnit, OrderItem, Query,
    RelativeOffset, UserValue, Value,
};
pub use context::{Context, NoUsers, UserDirectory};
pub use error::ParseError;
pub use field::{Field, ValueKind};
pub use parser::{parse, MAX_NESTING};
pub use plan::{Plan, SqlValue};
pub use printer::print;
pub use sql::{compile, CompiledSql};
pub use values::MAX_RELATIVE_AMOUNT;

use crate::tickets::Ticket;

/// Whether `ticket` matches `query` in `context`. To test many tickets, build a [`Plan`] once.
pub fn matches(query: &Query, ticket: &Ticket, context: &Context<'_>) -> bool {
    Plan::new(query, context).matches(ticket)
}

/// The tickets matching `query` in `context`, in the query's order.
pub fn select<'t>(query: &Query, context: &Context<'_>, tickets: &'t [Ticket]) -> Vec<&'t Ticket> {
    Plan::new(query, context).select(tickets)
}
