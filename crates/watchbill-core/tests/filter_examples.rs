#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Examples of the ticket filter language through its public API: what queries mean, how
//! they print, the SQL they compile to, and the errors people see.

use std::collections::HashMap;

use jiff::civil::date;
use jiff::tz::TimeZone;
use jiff::Timestamp;

use watchbill_core::tickets::filter::{
    compile, parse, print, select, Clause, CompareOp, Condition, Context, DateValue, Direction,
    Expr, Field, OffsetUnit, OrderItem, Plan, Query, RelativeOffset, SqlValue, UserValue, Value,
};
use watchbill_core::tickets::{Priority, Ticket, TicketKey, TicketKind, TicketStatus};
use watchbill_core::UserId;

const ADA: UserId = UserId(1);
const ALAN: UserId = UserId(2);
const GRACE: UserId = UserId(3);

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Wednesday 25 November 2026, 10:00 in Los Angeles.
fn context(users: &HashMap<String, UserId>) -> Context<'_> {
    Context::new(
        at("2026-11-25T18:00:00Z"),
        TimeZone::get("America/Los_Angeles").unwrap(),
    )
    .with_current_user(ADA)
    .with_current_duty(ALAN)
    .with_users(users)
}

fn directory() -> HashMap<String, UserId> {
    HashMap::from([
        ("ada@example.com".to_owned(), ADA),
        ("alan@example.com".to_owned(), ALAN),
        ("grace@example.com".to_owned(), GRACE),
    ])
}

fn ticket(number: i64) -> Ticket {
    Ticket {
        key: TicketKey::new("UF", number).unwrap(),
        title: format!("Ticket {number}"),
        description: String::new(),
        kind: TicketKind::Maintenance,
        labels: Vec::new(),
        priority: Priority::Medium,
        status: TicketStatus::Open,
        due: None,
        created: at("2026-11-01T12:00:00Z"),
        updated: at("2026-11-20T12:00:00Z"),
        resolved: None,
        reporter: Some(ADA),
        assignee: None,
        component: None,
    }
}

fn numbers(query: &str, tickets: &[Ticket]) -> Vec<i64> {
    let users = directory();
    let query = parse(query).unwrap();
    select(&query, &context(&users), tickets)
        .into_iter()
        .map(|ticket| ticket.key.number)
        .collect()
}

fn error(query: &str) -> String {
    parse(query).unwrap_err().to_string()
}

#[test]
fn the_maintenance_duty_example_parses_prints_and_selects() {
    let text = "label = product-maintenance-duty and status != closed AND due < \"+7d\" \
                order by priority desc, due";
    let query = parse(text).unwrap();
    let clause = |field, condition| Expr::Clause(Clause { field, condition });
    assert_eq!(
        query,
        Query {
            filter: Some(Expr::And(vec![
                clause(
                    Field::Label,
                    Condition::Compare(
                        CompareOp::Eq,
                        Value::Text("product-maintenance-duty".into())
                    )
                ),
                clause(
                    Field::Status,
                    Condition::Compare(CompareOp::NotEq, Value::Status(TicketStatus::Closed))
                ),
                clause(
                    Field::Due,
                    Condition::Compare(
                        CompareOp::Less,
                        Value::Date(DateValue::Relative(RelativeOffset {
                            amount: 7,
                            unit: OffsetUnit::Days
                        }))
                    )
                ),
            ])),
            order_by: vec![
                OrderItem {
                    field: Field::Priority,
                    direction: Direction::Descending
                },
                OrderItem {
                    field: Field::Due,
                    direction: Direction::Ascending
                },
            ],
        }
    );
    assert_eq!(
        print(&query),
        "label = product-maintenance-duty AND status != closed AND due < \"+7d\" \
         ORDER BY priority DESC, due ASC"
    );

    let duty = |number: i64, priority, due| Ticket {
        labels: vec!["product-maintenance-duty".into()],
        priority,
        due: Some(due),
        ..ticket(number)
    };
    let tickets = [
        duty(1, Priority::Low, date(2026, 11, 30)),
        duty(2, Priority::High, date(2026, 12, 1)),
        // Due on 2 December, exactly seven days from now: not before it.
        duty(3, Priority::Highest, date(2026, 12, 2)),
        duty(4, Priority::High, date(2026, 11, 26)),
        Ticket {
            status: TicketStatus::Closed,
            ..duty(5, Priority::Highest, date(2026, 11, 26))
        },
        Ticket {
            labels: vec!["other".into()],
            ..duty(6, Priority::Highest, date(2026, 11, 26))
        },
    ];
    assert_eq!(numbers(text, &tickets), vec![4, 2, 1]);
}

#[test]
fn printing_is_canonical() {
    let cases = [
        ("", ""),
        ("order by KEY", "ORDER BY key ASC"),
        (
            "NOT (a IS empty) or (status in (OPEN,in_progress) and (type=bug or type = task))",
            "",
        ),
        (
            "label = \"and\" AND title ~ \"say \\\"hi\\\"\" AND component IS NOT NULL",
            "label = \"and\" AND title ~ \"say \\\"hi\\\"\" AND component IS NOT EMPTY",
        ),
        (
            "created >= \"2026-12-01T09:00:00+01:00\" AND updated < \"-2W\"",
            "",
        ),
        (
            "created >= \"2026-12-01T09:00:00+01:00\" AND updated < -2w AND due <= EndOfWeek()",
            "created >= \"2026-12-01T08:00:00Z\" AND updated < \"-2w\" AND due <= endOfWeek()",
        ),
        (
            "assignee in (currentduty(), 7, Ada@Example.com) or reporter = currentUser()",
            "assignee IN (currentDuty(), 7, Ada@Example.com) OR reporter = currentUser()",
        ),
        ("a = b AND (c = d AND e = f)", ""),
        (
            "(label = a AND label = b) AND label = c OR NOT NOT (label = d OR label = e)",
            "(label = a AND label = b) AND label = c OR NOT NOT (label = d OR label = e)",
        ),
        (
            "key = uf-12 and team != ops and priority >= high",
            "key = UF-12 AND team != OPS AND priority >= High",
        ),
    ];
    for (input, expected) in cases {
        match parse(input) {
            Ok(query) => {
                let printed = print(&query);
                if !expected.is_empty() {
                    assert_eq!(printed, expected, "{input}");
                }
                assert_eq!(parse(&printed).unwrap(), query, "{input} → {printed}");
            }
            Err(error) => {
                // Cases with made-up fields exist to show errors; they must fail cleanly.
                assert!(expected.is_empty(), "{input}: {error}");
            }
        }
    }
}

#[test]
fn errors_point_at_the_offending_token() {
    assert_eq!(
        error("status = AND x"),
        "expected a value after `=` at column 10; quote \"AND\" to use the keyword as a value"
    );
    assert_eq!(
        error("label = x AND due <"),
        "expected a value after `<` at column 20; found the end of the query"
    );
    assert_eq!(
        error("lable = maintenance"),
        "unknown field `lable` at column 1; did you mean `label`?"
    );
    assert_eq!(
        error("status = closd"),
        "`closd` is not a status at column 10; did you mean `closed`?"
    );
    assert_eq!(
        error("priority = urgent"),
        "`urgent` is not a priority at column 12; use Lowest, Low, Medium, High or Highest"
    );
    assert_eq!(
        error("status ~ open"),
        "`~` does not apply to `status` at column 8; use =, !=, IN or NOT IN"
    );
    assert_eq!(
        error("title = x"),
        "`=` does not apply to `title` at column 7; use ~"
    );
    assert_eq!(
        error("title IS EMPTY"),
        "`title` is never empty at column 7; IS EMPTY applies to description, label, due, \
         resolved, reporter, assignee or component"
    );
    assert_eq!(
        error("(label = a OR label = b"),
        "expected `)` to close the `(` at column 1, found the end of the query at column 24"
    );
    assert_eq!(
        error("label = a label = b"),
        "expected AND, OR, ORDER BY or the end of the query, found `label` at column 11"
    );
    assert_eq!(
        error("assignee = now()"),
        "`now()` is not a value of `assignee` at column 12"
    );
    assert_eq!(
        error("due < tomorow()"),
        "unknown function `tomorow()` at column 7; the functions are now, startOfWeek, \
         endOfWeek, currentUser or currentDuty"
    );
    assert_eq!(
        error("due < \"+7y\""),
        "`+7y` has an unknown unit `y` at column 7; use m (minutes), h (hours), d (days) or \
         w (weeks)"
    );
    assert_eq!(
        error("due < +7d"),
        "unexpected character `+` at column 7; quote relative dates, as in \"+7d\""
    );
    assert_eq!(
        error("status = open ORDER BY title"),
        "cannot sort by `title` at column 24; sort by key, type, priority, status, due, \
         created, updated, resolved, reporter, assignee or team"
    );
    assert_eq!(
        error("status = open\n  AND label IN (a b)"),
        "expected `,` or `)` in the list, found `b` at line 2, column 19"
    );
    let deep = format!("{}label = a{}", "(".repeat(100), ")".repeat(100));
    let deep_error = parse(&deep).unwrap_err();
    assert_eq!(deep_error.offset, 64);
    assert!(deep_error.message.contains("more than 64 deep"));
}

#[test]
fn relative_dates_and_people_follow_the_context() {
    let mut tickets: Vec<Ticket> = (1..=6).map(ticket).collect();
    tickets[0].assignee = Some(ALAN);
    tickets[1].assignee = Some(ADA);
    tickets[2].assignee = Some(GRACE);
    // Created on Monday of this week in Los Angeles (still Sunday in London).
    tickets[3].created = at("2026-11-23T08:30:00Z");
    tickets[4].created = at("2026-11-23T07:59:59Z");
    tickets[5].resolved = Some(at("2026-11-25T06:00:00Z"));

    assert_eq!(numbers("assignee = currentDuty()", &tickets), vec![1]);
    assert_eq!(numbers("assignee = currentUser()", &tickets), vec![2]);
    assert_eq!(
        numbers(
            "assignee IN (grace@example.com, nobody@example.com)",
            &tickets
        ),
        vec![3]
    );
    // `!=` is the negation of `=`, so unassigned tickets are included.
    assert_eq!(
        numbers("assignee != alan@example.com", &tickets),
        vec![2, 3, 4, 5, 6]
    );
    assert_eq!(
        numbers("assignee = nobody@example.com", &tickets),
        Vec::<i64>::new()
    );
    assert_eq!(numbers("created >= startOfWeek()", &tickets), vec![4]);
    assert_eq!(numbers("created = 2026-11-23", &tickets), vec![4]);
    assert_eq!(
        numbers("created < 2026-11-23", &tickets),
        vec![1, 2, 3, 5, 6]
    );
    assert_eq!(numbers("resolved >= \"-12h\"", &tickets), vec![6]);
    assert_eq!(numbers("resolved IS NOT EMPTY", &tickets), vec![6]);
    assert_eq!(
        numbers("created > \"-1w\" ORDER BY created DESC", &tickets),
        vec![4, 5]
    );
}

#[test]
fn ordering_puts_empty_values_last_and_breaks_ties_by_key() {
    let mut tickets: Vec<Ticket> = (1..=5).map(ticket).collect();
    tickets[0].due = Some(date(2026, 12, 3));
    tickets[2].due = Some(date(2026, 12, 1));
    tickets[3].priority = Priority::Highest;
    tickets[4].priority = Priority::Lowest;
    tickets[4].key = TicketKey::new("OPS", 9).unwrap();
    assert_eq!(numbers("ORDER BY due ASC", &tickets), vec![3, 1, 9, 2, 4]);
    assert_eq!(numbers("ORDER BY due DESC", &tickets), vec![1, 3, 9, 2, 4]);
    assert_eq!(
        numbers("ORDER BY priority DESC", &tickets),
        vec![4, 1, 2, 3, 9]
    );
    assert_eq!(
        numbers("ORDER BY priority ASC, key DESC", &tickets),
        vec![9, 3, 2, 1, 4]
    );
    assert_eq!(numbers("", &tickets), vec![9, 1, 2, 3, 4]);
}

#[test]
fn text_search_ignores_case_and_treats_wildcards_literally() {
    let mut tickets: Vec<Ticket> = (1..=3).map(ticket).collect();
    tickets[0].title = "Video CDN timeouts".into();
    tickets[1].title = "100% CPU_load".into();
    tickets[2].description = "the cdn again".into();
    assert_eq!(numbers("title ~ cdn", &tickets), vec![1]);
    assert_eq!(
        numbers("title ~ cdn OR description ~ CDN", &tickets),
        vec![1, 3]
    );
    assert_eq!(numbers("title ~ \"0% cpu_\"", &tickets), vec![2]);
    assert_eq!(numbers("title ~ \"0_ cpu\"", &tickets), Vec::<i64>::new());
    assert_eq!(numbers("description IS EMPTY", &tickets), vec![1, 2]);
}

#[test]
fn compiles_to_parametrised_sql() {
    let users = directory();
    let query = parse(
        "label = product-maintenance-duty AND status != closed AND due < \"+7d\" \
         AND title ~ \"50%\" AND assignee IN (currentDuty(), nobody@example.com) \
         ORDER BY priority DESC, due ASC",
    )
    .unwrap();
    let compiled = compile(&query, &context(&users));
    assert_eq!(
        compiled.where_clause,
        "(EXISTS (SELECT 1 FROM ticket_labels l WHERE l.ticket_id = tickets.id \
         AND l.label = $1) AND NOT (tickets.status = $2) \
         AND (tickets.due_date IS NOT NULL AND tickets.due_date < $3) \
         AND LOWER(tickets.title) LIKE $4 ESCAPE '\\' \
         AND (tickets.assignee_id IS NOT NULL AND tickets.assignee_id IN ($5)))"
    );
    assert_eq!(
        compiled.order_by,
        "ORDER BY tickets.priority ASC, (tickets.due_date IS NULL) ASC, tickets.due_date ASC, \
         tickets.team_key ASC, tickets.number ASC"
    );
    assert_eq!(
        compiled.params,
        vec![
            SqlValue::Text("product-maintenance-duty".into()),
            SqlValue::Text("closed".into()),
            SqlValue::Text("2026-12-02".into()),
            SqlValue::Text("%50\\%%".into()),
            SqlValue::Int(ALAN.0),
        ]
    );

    let nothing = compile(&parse("").unwrap(), &context(&users));
    assert_eq!(
        nothing.select_ids(),
        "SELECT tickets.id FROM tickets WHERE 1 = 1 \
         ORDER BY tickets.team_key ASC, tickets.number ASC"
    );
    assert!(nothing.params.is_empty());

    let by_status = compile(&parse("ORDER BY status").unwrap(), &context(&users));
    assert_eq!(
        by_status.order_by,
        "ORDER BY CASE tickets.status WHEN $1 THEN 1 WHEN $2 THEN 2 WHEN $3 THEN 3 \
         WHEN $4 THEN 4 END ASC, tickets.team_key ASC, tickets.number ASC"
    );
}

#[test]
fn a_plan_can_be_reused_and_a_query_built_by_hand() {
    let users = directory();
    let query = Query {
        filter: Some(Expr::Clause(Clause {
            field: Field::Reporter,
            condition: Condition::In {
                negated: true,
                values: vec![Value::User(UserValue::Email("ada@example.com".into()))],
            },
        })),
        order_by: Vec::new(),
    };
    assert_eq!(print(&query), "reporter NOT IN (ada@example.com)");
    let plan = Plan::new(&query, &context(&users));
    let mut by_grace = ticket(2);
    by_grace.reporter = Some(GRACE);
    assert!(!plan.matches(&ticket(1)));
    assert!(plan.matches(&by_grace));
}
