//! The canonical text of a query: `parse(&print(&query))` gives back `query`.
//!
//! Keywords are upper case, field names and names of values take their canonical spelling,
//! every `ORDER BY` item states its direction, and parentheses appear only where the tree
//! needs them. Values are bare words where a bare word reads back the same, else quoted.

use std::fmt::Write;

use super::ast::{Clause, Condition, DateValue, Expr, Query, UserValue, Value};
use super::lexer::is_word_char;
use super::parser::is_keyword;

/// The canonical text of `query`.
pub fn print(query: &Query) -> String {
    let mut out = String::new();
    if let Some(filter) = &query.filter {
        print_expr(filter, &mut out);
    }
    if !query.order_by.is_empty() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str("ORDER BY ");
        let items: Vec<String> = query
            .order_by
            .iter()
            .map(|item| format!("{} {}", item.field, item.direction.keyword()))
            .collect();
        out.push_str(&items.join(", "));
    }
    out
}

/// The canonical text of one expression.
pub fn print_expr(expr: &Expr, out: &mut String) {
    match expr {
        Expr::Clause(clause) => print_clause(clause, out),
        Expr::Not(operand) => {
            out.push_str("NOT ");
            print_operand(
                operand,
                matches!(**operand, Expr::And(_) | Expr::Or(_)),
                out,
            );
        }
        Expr::And(operands) => {
            for (index, operand) in operands.iter().enumerate() {
                if index > 0 {
                    out.push_str(" AND ");
                }
                // `a AND (b AND c)` keeps its parentheses so that it reads back as written.
                print_operand(operand, matches!(operand, Expr::And(_) | Expr::Or(_)), out);
            }
        }
        Expr::Or(operands) => {
            for (index, operand) in operands.iter().enumerate() {
                if index > 0 {
                    out.push_str(" OR ");
                }
                print_operand(operand, matches!(operand, Expr::Or(_)), out);
            }
        }
    }
}

fn print_operand(operand: &Expr, parenthesise: bool, out: &mut String) {
    if parenthesise {
        out.push('(');
        print_expr(operand, out);
        out.push(')');
    } else {
        print_expr(operand, out);
    }
}

fn print_clause(clause: &Clause, out: &mut String) {
    out.push_str(clause.field.name());
    match &clause.condition {
        Condition::Compare(op, value) => {
            // Writing to a `String` cannot fail.
            let _ = write!(out, " {} ", op.symbol());
            print_value(value, out);
        }
        Condition::In { negated, values } => {
            out.push_str(if *negated { " NOT IN (" } else { " IN (" });
            for (index, value) in values.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                print_value(value, out);
            }
            out.push(')');
        }
        Condition::Empty { negated } => {
            out.push_str(if *negated {
                " IS NOT EMPTY"
            } else {
                " IS EMPTY"
            });
        }
    }
}

fn print_value(value: &Value, out: &mut String) {
    match value {
        Value::Text(text) => print_text(text, out),
        Value::Key(key) => print_text(&key.to_string(), out),
        Value::Team(team) => print_text(team, out),
        Value::Kind(kind) => print_text(kind.as_str(), out),
        Value::Priority(priority) => print_text(priority.as_str(), out),
        Value::Status(status) => print_text(status.as_str(), out),
        Value::Date(date) => match date {
            DateValue::Day(day) => print_text(&day.to_string(), out),
            DateValue::Instant(instant) => print_quoted(&instant.to_string(), out),
            // Always quoted, so that "-2w" and "+7d" look alike.
            DateValue::Relative(offset) => {
                print_quoted(&format!("{:+}{}", offset.amount, offset.unit.suffix()), out)
            }
            DateValue::Now => out.push_str("now()"),
            DateValue::StartOfWeek => out.push_str("startOfWeek()"),
            DateValue::EndOfWeek => out.push_str("endOfWeek()"),
        },
        Value::User(user) => match user {
            UserValue::Id(id) => print_text(&id.to_string(), out),
            UserValue::Email(email) => print_text(email, out),
            UserValue::CurrentUser => out.push_str("currentUser()"),
            UserValue::CurrentDuty => out.push_str("currentDuty()"),
        },
    }
}

/// Writes `text` bare if the lexer would read it back as the same single word, else quoted.
fn print_text(text: &str, out: &mut String) {
    let bare = !text.is_empty() && text.chars().all(is_word_char) && !is_keyword(text);
    if bare {
        out.push_str(text);
    } else {
        print_quoted(text, out);
    }
}

fn print_quoted(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}
