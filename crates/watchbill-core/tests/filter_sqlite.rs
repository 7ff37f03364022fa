#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The compiled SQL selects and orders exactly what the in-memory evaluator does, checked on
//! an in-memory SQLite database with random queries and tickets. (PostgreSQL runs the same
//! text; the store's contract tests will cross-check it there.)

mod filter_support;

use proptest::prelude::*;
use rusqlite::types::Value as SqliteValue;
use rusqlite::{params, params_from_iter, Connection};

use filter_support::{config, directory, query, setting, tickets, Range};
use watchbill_core::tickets::filter::{compile, parse, CompiledSql, Plan, SqlValue};
use watchbill_core::tickets::Ticket;
use watchbill_core::UserId;

/// The schema documented in the filter's `sql` module.
const SCHEMA: &str = "
    CREATE TABLE tickets (
        id          BIGINT PRIMARY KEY,
        team_key    TEXT   NOT NULL,
        number      BIGINT NOT NULL,
        title       TEXT   NOT NULL,
        description TEXT,
        kind        TEXT   NOT NULL,
        priority    BIGINT NOT NULL,
        status      TEXT   NOT NULL,
        due_date    TEXT,
        created_at  BIGINT NOT NULL,
        updated_at  BIGINT NOT NULL,
        resolved_at BIGINT,
        reporter_id BIGINT,
        assignee_id BIGINT,
        component   TEXT
    );
    CREATE TABLE ticket_labels (ticket_id BIGINT NOT NULL, label TEXT NOT NULL);
";

/// A database holding `tickets`, each with its index as id.
fn database(tickets: &[Ticket]) -> Connection {
    let connection = Connection::open_in_memory().unwrap();
    connection.execute_batch(SCHEMA).unwrap();
    for (id, ticket) in tickets.iter().enumerate() {
        let id = i64::try_from(id).unwrap();
        let user = |user: Option<UserId>| user.map(|UserId(id)| id);
        connection
            .execute(
                "INSERT INTO tickets VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
                 $13, $14, $15)",
                params![
                    id,
                    ticket.key.team,
                    ticket.key.number,
                    ticket.title,
                    ticket.description,
                    ticket.kind.as_str(),
                    ticket.priority.rank(),
                    ticket.status.as_str(),
                    ticket.due.map(|due| due.to_string()),
                    ticket.created.as_second(),
                    ticket.updated.as_second(),
                    ticket.resolved.map(|resolved| resolved.as_second()),
                    user(ticket.reporter),
                    user(ticket.assignee),
                    ticket.component,
                ],
            )
            .unwrap();
        for label in &ticket.labels {
            connection
                .execute(
                    "INSERT INTO ticket_labels VALUES ($1, $2)",
                    params![id, label],
                )
                .unwrap();
        }
    }
    connection
}

/// The ids the compiled query selects, in order.
fn run(connection: &Connection, compiled: &CompiledSql) -> Vec<usize> {
    let mut statement = connection.prepare(&compiled.select_ids()).unwrap();
    // SQLite numbers `$n` parameters by first appearance; the compiler writes them in order.
    assert_eq!(statement.parameter_count(), compiled.params.len());
    for index in 1..=compiled.params.len() {
        assert_eq!(
            statement.parameter_name(index),
            Some(format!("${index}").as_str())
        );
    }
    let params = compiled.params.iter().map(|param| match param {
        SqlValue::Int(value) => SqliteValue::Integer(*value),
        SqlValue::Text(text) => SqliteValue::Text(text.clone()),
    });
    statement
        .query_map(params_from_iter(params), |row| row.get::<_, i64>(0))
        .unwrap()
        .map(|id| usize::try_from(id.unwrap()).unwrap())
        .collect()
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn sqlite_selects_and_orders_like_the_evaluator(
        query in query(Range::Near),
        setting in setting(),
        tickets in tickets(12),
    ) {
        let users = directory();
        let context = setting.context(&users);
        let plan = Plan::new(&query, &context);
        let expected: Vec<usize> = plan
            .select(&tickets)
            .into_iter()
            .map(|selected| tickets.iter().position(|ticket| std::ptr::eq(ticket, selected)).unwrap())
            .collect();
        let compiled = compile(&query, &context);
        prop_assert_eq!(run(&database(&tickets), &compiled), expected, "{}", compiled.select_ids());
    }
}

#[test]
fn wildcards_and_quotes_in_values_stay_values() {
    let users = directory();
    let now = "2026-11-25T18:00:00Z".parse().unwrap();
    let context = filter_support::Setting {
        now,
        zone: "UTC",
        current_user: None,
        current_duty: None,
    };
    let mut tickets: Vec<Ticket> = Vec::new();
    for (number, title) in [
        (1, "100% done"),
        (2, "1000 done"),
        (3, "it's a_b"),
        (4, "aXb"),
    ] {
        let ticket = proptest::strategy::ValueTree::current(
            &filter_support::ticket()
                .new_tree(&mut proptest::test_runner::TestRunner::deterministic())
                .unwrap(),
        );
        tickets.push(Ticket {
            key: watchbill_core::tickets::TicketKey::new("UF", number).unwrap(),
            title: title.to_owned(),
            ..ticket
        });
    }
    let connection = database(&tickets);
    for (text, expected) in [
        ("title ~ \"0%\"", vec![0]),
        ("title ~ \"a_b\"", vec![2]),
        ("title ~ \"'\"", vec![2]),
        ("title ~ \"x'); DROP TABLE tickets; --\"", vec![]),
        ("title ~ \"\\\\\"", vec![]),
    ] {
        let compiled = compile(&parse(text).unwrap(), &context.context(&users));
        assert_eq!(run(&connection, &compiled), expected, "{text}");
    }
}
