//! The storage contract: every backend must pass these, so callers never need to know which
//! one they talk to. Each test runs once on a fresh SQLite file and once on a fresh
//! PostgreSQL database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use jiff::Timestamp;
use watchbill_core::{Role, UserId};
use watchbill_store::model::*;
use watchbill_store::testing::TestDatabase;
use watchbill_store::{Backend, Store, StoreError};

async fn open(backend: Backend) -> (TestDatabase, Arc<dyn Store>) {
    let db = TestDatabase::new(backend).await.expect("test database");
    let store = db.migrated_store().await.expect("migrated store");
    (db, store)
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(watchbill_store::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(watchbill_store::Backend::Postgres).await;
                }
            )*
        }
    };
}

contract!(
    migrations_apply_once,
    users_round_trip_and_conflict,
    teams_keep_members_and_refuse_unknown_users,
    schedules_keep_layers_in_order,
    following_schedules_cannot_chain,
    overrides_are_found_by_window,
    uncommitted_writes_vanish,
    tokens_are_found_by_hash,
    users_in_rotation_cannot_be_deleted,
    audit_log_keeps_newest_first,
    roster_revision_grows_with_committed_changes_only,
);

fn user(name: &str) -> UserInput {
    UserInput {
        name: name.to_owned(),
        email: format!("{}@example.test", name.to_lowercase()),
        time_zone: "America/Los_Angeles".to_owned(),
        photo_url: None,
        role: Role::Responder,
    }
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn weekly(name: &str, participants: Vec<UserId>) -> LayerInput {
    LayerInput {
        name: name.to_owned(),
        participants,
        turn: "1w".to_owned(),
        handoff: "Wednesday 10:00".to_owned(),
        start: at("2026-01-07T18:00:00Z"),
        end: None,
        restrictions: vec![RestrictionInput {
            days: vec!["Monday".to_owned()],
            start: "09:00".to_owned(),
            end: "17:00".to_owned(),
        }],
        offset: 0,
    }
}

async fn seed_team(store: &Arc<dyn Store>) -> (Vec<User>, Team) {
    let mut tx = store.write().await.unwrap();
    let mut users = Vec::new();
    for name in ["Ada", "Grace", "Linus"] {
        users.push(tx.insert_user(&user(name)).await.unwrap());
    }
    let team = tx
        .insert_team(&TeamInput {
            name: "User-facing".to_owned(),
            description: String::new(),
            members: users.iter().map(|u| u.id).collect(),
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (users, team)
}

async fn migrations_apply_once(backend: Backend) {
    let (_db, store) = open(backend).await;
    let again = store.migrate().await.unwrap();
    assert!(again.applied.is_empty());
    // SQLite has two more: alert counts taken from events (0020), and the paging revision
    // (0021).
    let expected = match backend {
        Backend::Sqlite => 21,
        Backend::Postgres => 19,
    };
    assert_eq!(again.already_applied, expected);
    // SQLite has no settings to warn of; PostgreSQL only autovacuum, when it is off.
    match backend {
        Backend::Sqlite => assert!(again.warnings.is_empty(), "{:?}", again.warnings),
        Backend::Postgres => assert!(
            again
                .warnings
                .iter()
                .all(|w| w.contains("autovacuum is off")),
            "{:?}",
            again.warnings
        ),
    }
}

async fn users_round_trip_and_conflict(backend: Backend) {
    let (_db, store) = open(backend).await;
    let mut tx = store.write().await.unwrap();
    let ada = tx.insert_user(&user("Ada")).await.unwrap();
    assert_eq!(ada.email, "ada@example.test");
    assert_eq!(ada.role, Role::Responder);
    assert_eq!(ada.ics_token.len(), 32);
    let mut shouting = user("Ada");
    shouting.email = "ADA@example.test".to_owned();
    tx.commit().await.unwrap();

    let mut tx = store.write().await.unwrap();
    let duplicate = tx.insert_user(&shouting).await.unwrap_err();
    assert!(
        matches!(duplicate, StoreError::Conflict { .. }),
        "{duplicate:?}"
    );
    // After an error the transaction is spent (PostgreSQL aborts it); start another.
    drop(tx);

    let mut tx = store.write().await.unwrap();
    let mut changed = user("Ada");
    changed.name = "Ada Lovelace".to_owned();
    changed.role = Role::Admin;
    let updated = tx.update_user(ada.id, &changed).await.unwrap();
    assert_eq!(updated.name, "Ada Lovelace");
    assert_eq!(updated.ics_token, ada.ics_token);
    assert!(matches!(
        tx.update_user(UserId(9_999), &changed).await,
        Err(StoreError::NotFound { .. })
    ));
    tx.commit().await.unwrap();

    let mut tx = store.read().await.unwrap();
    let found = tx
        .find_user_by_email("ADA@EXAMPLE.TEST")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.role, Role::Admin);
    assert_eq!(
        tx.find_user_by_ics_token(&ada.ics_token)
            .await
            .unwrap()
            .unwrap()
            .id,
        ada.id
    );
    assert_eq!(tx.users().await.unwrap().len(), 1);
}

async fn teams_keep_members_and_refuse_unknown_users(backend: Backend) {
    let (_db, store) = open(backend).await;
    let (users, team) = seed_team(&store).await;
    assert_eq!(team.members, users.iter().map(|u| u.id).collect::<Vec<_>>());

    let mut tx = store.write().await.unwrap();
    let error = tx
        .insert_team(&TeamInput {
            name: "Infrastructure".to_owned(),
            description: String::new(),
            members: vec![users[0].id, UserId(4_242)],
        })
        .await
        .unwrap_err();
    match error {
        StoreError::Reference { field, .. } => assert_eq!(field.as_deref(), Some("members[1]")),
        other => panic!("expected a reference error, got {other:?}"),
    }
    drop(tx);

    let mut tx = store.write().await.unwrap();
    let conflict = tx
        .insert_team(&TeamInput {
            name: "User-facing".to_owned(),
            description: String::new(),
            members: vec![],
        })
        .await
        .unwrap_err();
    assert!(matches!(conflict, StoreError::Conflict { .. }));
    drop(tx);

    let mut tx = store.read().await.unwrap();
    let teams = tx.teams().await.unwrap();
    assert_eq!(teams.len(), 1, "the failed inserts left nothing behind");
}

async fn schedules_keep_layers_in_order(backend: Backend) {
    let (_db, store) = open(backend).await;
    let (users, team) = seed_team(&store).await;
    let mut tx = store.write().await.unwrap();
    let schedule = tx
        .insert_schedule(&ScheduleInput {
            team_id: team.id,
            name: "Captain On-Call".to_owned(),
            time_zone: "America/Los_Angeles".to_owned(),
            follows: None,
        })
        .await
        .unwrap();
    let ids: Vec<UserId> = users.iter().rev().map(|u| u.id).collect();
    let base = tx
        .insert_layer(schedule.id, &weekly("Weekly", ids.clone()))
        .await
        .unwrap();
    let top = tx
        .insert_layer(schedule.id, &weekly("Weekdays", vec![ids[0]]))
        .await
        .unwrap();
    assert!(top.position > base.position);
    tx.commit().await.unwrap();
    let mut tx = store.write().await.unwrap();
    let duplicate = tx
        .insert_layer(schedule.id, &weekly("Weekly", vec![ids[0]]))
        .await
        .unwrap_err();
    assert!(
        matches!(duplicate, StoreError::Conflict { .. }),
        "{duplicate:?}"
    );
    drop(tx);

    let mut tx = store.read().await.unwrap();
    let loaded = tx.schedule(schedule.id).await.unwrap();
    assert_eq!(loaded.layers.len(), 2);
    assert_eq!(loaded.layers[0].input, weekly("Weekly", ids.clone()));
    assert_eq!(loaded.layers[1].input.name, "Weekdays");
    let all = tx.schedules(Some(team.id)).await.unwrap();
    assert_eq!(all, vec![loaded.clone()]);
    let by_token = tx
        .find_schedule_by_ics_token(&loaded.ics_token)
        .await
        .unwrap();
    assert_eq!(by_token.map(|s| s.id), Some(schedule.id));
    drop(tx);

    let mut tx = store.write().await.unwrap();
    let mut changed = weekly("Weekly", vec![ids[2], ids[1]]);
    changed.turn = "2w".to_owned();
    let updated = tx.update_layer(base.id, &changed).await.unwrap();
    assert_eq!(updated.input, changed);
    let unknown = tx
        .update_layer(base.id, &weekly("Weekly", vec![UserId(777)]))
        .await
        .unwrap_err();
    match unknown {
        StoreError::Reference { field, .. } => {
            assert_eq!(field.as_deref(), Some("participants[0]"))
        }
        other => panic!("expected a reference error, got {other:?}"),
    }
}

async fn following_schedules_cannot_chain(backend: Backend) {
    let (_db, store) = open(backend).await;
    let (_users, team) = seed_team(&store).await;
    let mut tx = store.write().await.unwrap();
    let input = |name: &str, follows| ScheduleInput {
        team_id: team.id,
        name: name.to_owned(),
        time_zone: "America/Los_Angeles".to_owned(),
        follows,
    };
    let primary = tx
        .insert_schedule(&input("Captain On-Call", None))
        .await
        .unwrap();
    let follows = Follows {
        schedule_id: primary.id,
        offset: 1,
    };
    let secondary = tx
        .insert_schedule(&input("First-mate", Some(follows)))
        .await
        .unwrap();
    assert_eq!(secondary.follows, Some(follows));
    let chained = Follows {
        schedule_id: secondary.id,
        offset: 1,
    };
    let error = tx
        .insert_schedule(&input("Third", Some(chained)))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Reference { .. }), "{error:?}");
    let layer_on_follower = tx
        .insert_layer(secondary.id, &weekly("Own", vec![]))
        .await
        .unwrap_err();
    assert!(matches!(layer_on_follower, StoreError::Reference { .. }));
    let delete = tx.delete_schedule(primary.id).await.unwrap_err();
    assert!(matches!(delete, StoreError::Reference { .. }));
    tx.delete_schedule(secondary.id).await.unwrap();
    tx.delete_schedule(primary.id).await.unwrap();
    tx.commit().await.unwrap();
}

async fn overrides_are_found_by_window(backend: Backend) {
    let (_db, store) = open(backend).await;
    let (users, team) = seed_team(&store).await;
    let mut tx = store.write().await.unwrap();
    let schedule = tx
        .insert_schedule(&ScheduleInput {
            team_id: team.id,
            name: "Captain On-Call".to_owned(),
            time_zone: "UTC".to_owned(),
            follows: None,
        })
        .await
        .unwrap();
    let cover = tx
        .insert_override(&OverrideInput {
            schedule_id: schedule.id,
            start: at("2026-03-01T00:00:00Z"),
            end: at("2026-03-02T00:00:00Z"),
            kind: OverrideKind::Cover { user: users[0].id },
            note: "dentist".to_owned(),
        })
        .await
        .unwrap();
    let swap = tx
        .insert_override(&OverrideInput {
            schedule_id: schedule.id,
            start: at("2026-03-01T12:00:00Z"),
            end: at("2026-03-05T00:00:00Z"),
            kind: OverrideKind::Swap {
                first: users[1].id,
                second: users[2].id,
            },
            note: String::new(),
        })
        .await
        .unwrap();
    assert!(swap.id > cover.id, "ids grow with creation");
    let unknown = tx
        .insert_override(&OverrideInput {
            schedule_id: schedule.id,
            start: at("2026-03-01T00:00:00Z"),
            end: at("2026-03-02T00:00:00Z"),
            kind: OverrideKind::Cover { user: UserId(404) },
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert!(matches!(unknown, StoreError::Reference { .. }));
    tx.commit().await.unwrap();

    let mut tx = store.read().await.unwrap();
    let window = |from, to| (at(from), at(to));
    let (from, to) = window("2026-03-01T18:00:00Z", "2026-03-03T00:00:00Z");
    let found = tx.overrides(Some(&[schedule.id]), from, to).await.unwrap();
    assert_eq!(found, vec![cover.clone(), swap.clone()]);
    let (from, to) = window("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z");
    assert_eq!(
        tx.overrides(None, from, to).await.unwrap(),
        vec![swap.clone()],
        "end is exclusive"
    );
    assert!(tx.overrides(Some(&[]), from, to).await.unwrap().is_empty());
}

async fn uncommitted_writes_vanish(backend: Backend) {
    let (_db, store) = open(backend).await;
    let mut tx = store.write().await.unwrap();
    tx.insert_user(&user("Ghost")).await.unwrap();
    drop(tx);
    let mut tx = store.read().await.unwrap();
    assert!(tx.users().await.unwrap().is_empty());
    drop(tx);
    // The next write commits only its own change, not the abandoned one's.
    let mut tx = store.write().await.unwrap();
    tx.insert_user(&user("Ada")).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.read().await.unwrap();
    let names: Vec<String> = tx
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["Ada"]);
}

async fn tokens_are_found_by_hash(backend: Backend) {
    let (_db, store) = open(backend).await;
    let mut tx = store.write().await.unwrap();
    let secret = watchbill_store::new_secret();
    let token = tx
        .insert_token(&TokenInput {
            name: "ci".to_owned(),
            role: Role::Viewer,
            user_id: None,
            secret_hash: watchbill_store::hash_secret(&secret),
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.read().await.unwrap();
    let found = tx
        .find_token_by_hash(&watchbill_store::hash_secret(&secret))
        .await
        .unwrap();
    assert_eq!(found, Some(token));
    assert_eq!(
        tx.find_token_by_hash(&watchbill_store::hash_secret("guess"))
            .await
            .unwrap(),
        None
    );
}

async fn users_in_rotation_cannot_be_deleted(backend: Backend) {
    let (_db, store) = open(backend).await;
    let (users, team) = seed_team(&store).await;
    let mut tx = store.write().await.unwrap();
    let schedule = tx
        .insert_schedule(&ScheduleInput {
            team_id: team.id,
            name: "Captain On-Call".to_owned(),
            time_zone: "UTC".to_owned(),
            follows: None,
        })
        .await
        .unwrap();
    tx.insert_layer(schedule.id, &weekly("Weekly", vec![users[0].id]))
        .await
        .unwrap();
    let error = tx.delete_user(users[0].id).await.unwrap_err();
    assert!(matches!(error, StoreError::Reference { .. }), "{error:?}");
    tx.delete_user(users[1].id).await.unwrap();
    assert_eq!(
        tx.team(team.id).await.unwrap().members,
        vec![users[0].id, users[2].id]
    );
    tx.commit().await.unwrap();
}

async fn audit_log_keeps_newest_first(backend: Backend) {
    let (_db, store) = open(backend).await;
    let mut tx = store.write().await.unwrap();
    tx.record_audit("token:1", "user.create", "user 1")
        .await
        .unwrap();
    tx.record_audit("token:1", "user.delete", "user 1")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.read().await.unwrap();
    let log = tx.audit_log(10).await.unwrap();
    assert_eq!(
        log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["user.delete", "user.create"]
    );
}

async fn roster_revision_grows_with_committed_changes_only(backend: Backend) {
    let (_db, store) = open(backend).await;
    let revision = |store: Arc<dyn Store>| async move {
        store.read().await.unwrap().roster_revision().await.unwrap()
    };
    let start = revision(store.clone()).await;

    let mut tx = store.write().await.unwrap();
    tx.insert_user(&user("Ada")).await.unwrap();
    tx.insert_user(&user("Grace")).await.unwrap();
    tx.commit().await.unwrap();
    let after_insert = revision(store.clone()).await;
    assert!(after_insert > start);

    let mut tx = store.write().await.unwrap();
    tx.insert_user(&user("Ghost")).await.unwrap();
    drop(tx);
    assert_eq!(
        revision(store.clone()).await,
        after_insert,
        "a rolled-back change leaves it"
    );

    let mut tx = store.write().await.unwrap();
    tx.users().await.unwrap();
    tx.record_audit("test", "read", "nothing").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        revision(store.clone()).await,
        after_insert,
        "reads and audit lines leave it"
    );
}

mod tickets {
    //! Tickets, and the filter language's compiled SQL run on each backend against the core's
    //! in-memory evaluation of the same query.

    use std::collections::HashMap;

    use jiff::tz::TimeZone;
    use watchbill_core::tickets::filter::{compile, parse, Context, Plan};
    use watchbill_core::tickets::{Priority, Ticket, TicketKind, TicketStatus};
    use watchbill_core::UserId;
    use watchbill_store::tickets::{NewTicket, TicketChange, TicketSettings};
    use watchbill_store::{Backend, StoreError};

    use super::{open, seed_team};

    contract!(
        compiled_filters_agree_with_the_core,
        commits_are_recorded_once_and_linked,
        tickets_file_in_bulk_in_order,
        handoff_reports_are_kept_once,
        attachments_keep_their_bytes,
    );

    /// A ticket prefix, `UF`, for the team, so it can file tickets.
    pub(super) async fn give_prefix(
        tx: &mut dyn watchbill_store::Tx,
        team: watchbill_core::TeamId,
    ) {
        tx.set_ticket_settings(&TicketSettings {
            team_id: team,
            prefix: "UF".to_owned(),
            duty_filter: String::new(),
            assign_to_captain: false,
        })
        .await
        .unwrap();
    }

    /// A medium-priority open bug with nothing else set.
    pub(super) fn plain_ticket(team: watchbill_core::TeamId, title: &str) -> NewTicket {
        NewTicket {
            team_id: team,
            title: title.to_owned(),
            description: String::new(),
            kind: TicketKind::Bug,
            priority: Priority::Medium,
            status: TicketStatus::Open,
            labels: vec![],
            due: None,
            reporter: None,
            assignee: None,
            component: None,
        }
    }

    async fn compiled_filters_agree_with_the_core(backend: Backend) {
        let (_db, store) = open(backend).await;
        let (users, team) = seed_team(&store).await;
        let mut tx = store.write().await.unwrap();
        let none = tx
            .insert_ticket(&plain_ticket(team.id, "Too early"), "test")
            .await
            .unwrap_err();
        assert!(
            matches!(none, StoreError::Reference { .. }),
            "a team needs a prefix first: {none:?}"
        );
        drop(tx);

        let mut tx = store.write().await.unwrap();
        tx.set_ticket_settings(&TicketSettings {
            team_id: team.id,
            prefix: "UF".to_owned(),
            duty_filter: "label = product-maintenance-duty AND status != closed".to_owned(),
            assign_to_captain: false,
        })
        .await
        .unwrap();
        let kinds = [
            TicketKind::Bug,
            TicketKind::Feature,
            TicketKind::Maintenance,
            TicketKind::Task,
        ];
        let priorities = [
            Priority::Highest,
            Priority::High,
            Priority::Medium,
            Priority::Low,
            Priority::Lowest,
        ];
        let mut tickets: Vec<Ticket> = Vec::new();
        for n in 0..40_usize {
            let mut labels = Vec::new();
            if n % 2 == 0 {
                labels.push("product-maintenance-duty".to_owned());
            }
            if n % 3 == 0 {
                labels.push("video".to_owned());
            }
            let stored = tx
                .insert_ticket(
                    &NewTicket {
                        team_id: team.id,
                        title: format!(
                            "Ticket {n} about {}",
                            if n % 4 == 0 { "quizzes" } else { "videos" }
                        ),
                        description: format!("Details of {n}, 100% sure"),
                        kind: kinds[n % 4],
                        priority: priorities[n % 5],
                        status: TicketStatus::Open,
                        labels,
                        due: (n % 3 != 1).then(|| {
                            jiff::civil::date(2026, 11, 20)
                                .checked_add(jiff::Span::new().days(n as i64))
                                .unwrap()
                        }),
                        reporter: Some(users[n % 3].id),
                        assignee: (n % 5 != 0).then_some(users[n % 2].id),
                        component: (n % 2 == 1).then(|| format!("component-{}", n % 3)),
                    },
                    "test",
                )
                .await
                .unwrap();
            assert_eq!(stored.ticket.key.to_string(), format!("UF-{}", n + 1));
            let stored = match n % 4 {
                1 => tx
                    .update_ticket(
                        stored.id,
                        &[TicketChange::Status(TicketStatus::InProgress)],
                        "test",
                    )
                    .await
                    .unwrap(),
                2 => tx
                    .update_ticket(
                        stored.id,
                        &[TicketChange::Status(TicketStatus::Closed)],
                        "test",
                    )
                    .await
                    .unwrap(),
                _ => stored,
            };
            tickets.push(stored.ticket);
        }
        tx.commit().await.unwrap();

        let emails: HashMap<String, UserId> =
            users.iter().map(|u| (u.email.clone(), u.id)).collect();
        let context = Context::new(
            "2026-12-01T12:00:00Z".parse().unwrap(),
            TimeZone::get("America/Los_Angeles").unwrap(),
        )
        .with_current_duty(users[1].id)
        .with_current_user(users[0].id)
        .with_users(&emails);
        let queries = [
            "label = product-maintenance-duty AND status != closed ORDER BY priority DESC, due ASC",
            "priority > Medium OR type IN (bug, task) ORDER BY key DESC",
            "title ~ quizzes AND NOT label = video",
            "due < \"+7d\" AND due IS NOT EMPTY ORDER BY due ASC",
            "assignee = currentDuty() OR assignee IS EMPTY ORDER BY priority ASC",
            "reporter = currentUser() AND status IN (open, in_progress)",
            "description ~ \"100%\" AND component IS EMPTY",
            "component = component-1 OR label != product-maintenance-duty ORDER BY created DESC",
            "created > \"-1d\" AND resolved IS EMPTY",
            "assignee = grace@example.test ORDER BY due DESC",
        ];
        let mut tx = store.read().await.unwrap();
        for text in queries {
            let query = parse(text).unwrap();
            let in_memory: Vec<String> = Plan::new(&query, &context)
                .select(&tickets)
                .into_iter()
                .map(|t| t.key.to_string())
                .collect();
            let from_sql: Vec<String> = tx
                .find_tickets(&compile(&query, &context), 1000)
                .await
                .unwrap()
                .into_iter()
                .map(|t| t.ticket.key.to_string())
                .collect();
            assert_eq!(from_sql, in_memory, "{text}");
            assert!(
                !from_sql.is_empty() || text.contains("resolved IS EMPTY"),
                "the query {text} selects something"
            );
        }
        let closed = tx.ticket_by_key(&"UF-3".parse().unwrap()).await.unwrap();
        assert_eq!(closed.ticket.status, TicketStatus::Closed);
        assert!(
            closed.ticket.resolved.is_some(),
            "closing stamps the resolution"
        );
        let history = tx.ticket_history(closed.id).await.unwrap();
        assert_eq!(
            history
                .iter()
                .map(|h| (h.field.as_str(), h.new_value.as_str()))
                .collect::<Vec<_>>(),
            [("created", "Ticket 2 about videos"), ("status", "closed")]
        );
    }

    async fn commits_are_recorded_once_and_linked(backend: Backend) {
        use watchbill_store::tickets::Commit;

        let (_db, store) = open(backend).await;
        let (_, team) = seed_team(&store).await;
        let mut tx = store.write().await.unwrap();
        give_prefix(tx.as_mut(), team.id).await;
        let ticket = tx
            .insert_ticket(&plain_ticket(team.id, "Login fails"), "test")
            .await
            .unwrap();
        let commit = Commit {
            repository: "demo/app".to_owned(),
            sha: "abc".to_owned(),
            author_email: "Ada@Example.test".to_owned(),
            message: "UF-1 and UF-2".to_owned(),
            committed_at: "2026-11-27T10:00:00Z".parse().unwrap(),
            added: vec!["tests/a.rs".to_owned(), "src/b.rs".to_owned()],
            modified: vec![],
        };
        let keys = ["UF-1".parse().unwrap(), "UF-2".parse().unwrap()];
        let linked = tx.record_commit(team.id, &commit, &keys).await.unwrap();
        assert_eq!(linked, keys[..1], "only tickets that exist are linked");
        let again = tx.record_commit(team.id, &commit, &keys).await.unwrap();
        assert!(
            again.is_empty(),
            "a commit delivered twice is recorded once"
        );
        tx.commit().await.unwrap();

        let mut tx = store.read().await.unwrap();
        let stored = tx.ticket_commits(ticket.id).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].author_email, "ada@example.test");
        assert_eq!(stored[0].added, commit.added);
        let week = tx
            .commits(
                team.id,
                "2026-11-25T00:00:00Z".parse().unwrap(),
                "2026-11-27T10:00:00Z".parse().unwrap(),
            )
            .await
            .unwrap();
        assert!(week.is_empty(), "the window is half-open");
    }

    async fn tickets_file_in_bulk_in_order(backend: Backend) {
        let (_db, store) = open(backend).await;
        let (users, team) = seed_team(&store).await;
        let mut tx = store.write().await.unwrap();
        give_prefix(tx.as_mut(), team.id).await;
        let ticket = |n: usize| NewTicket {
            kind: TicketKind::Task,
            priority: Priority::Low,
            status: if n % 2 == 0 {
                TicketStatus::Open
            } else {
                TicketStatus::Closed
            },
            labels: vec!["b".to_owned(), "a".to_owned(), "a".to_owned()],
            assignee: Some(users[0].id),
            ..plain_ticket(team.id, &format!("Ticket {n}"))
        };
        tx.insert_ticket(&ticket(0), "test").await.unwrap();
        // More than one statement's worth, so the chunks continue each other's numbering.
        let many: Vec<(NewTicket, String)> = (1..=1200)
            .map(|n| (ticket(n), format!("import of J-{n}")))
            .collect();
        let keys: Vec<_> = tx
            .insert_tickets(team.id, &many)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.ticket.key)
            .collect();
        assert_eq!(keys.len(), 1200);
        assert_eq!(keys[0].to_string(), "UF-2");
        assert_eq!(keys[1199].to_string(), "UF-1201");
        tx.commit().await.unwrap();

        let mut tx = store.read().await.unwrap();
        let last = tx.ticket_by_key(&keys[1199]).await.unwrap();
        assert_eq!(last.ticket.title, "Ticket 1200");
        assert_eq!(last.ticket.labels, ["a", "b"]);
        assert_eq!(last.ticket.assignee, Some(users[0].id));
        let odd = tx.ticket_by_key(&keys[0]).await.unwrap();
        assert_eq!(odd.ticket.status, TicketStatus::Closed);
        assert!(odd.ticket.resolved.is_some(), "a closed ticket is resolved");
        let history = tx.ticket_history(last.id).await.unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].actor, "import of J-1200");
        assert_eq!(history[0].new_value, "Ticket 1200");
    }

    async fn handoff_reports_are_kept_once(backend: Backend) {
        let (_db, store) = open(backend).await;
        let (_, team) = seed_team(&store).await;
        let first: jiff::Timestamp = "2026-11-25T18:00:00Z".parse().unwrap();
        let second: jiff::Timestamp = "2026-12-02T18:00:00Z".parse().unwrap();
        let mut tx = store.write().await.unwrap();
        assert!(!tx.has_handoff_report(team.id, first).await.unwrap());
        assert!(tx
            .record_handoff_report(team.id, first, "{\"n\":1}")
            .await
            .unwrap());
        assert!(tx
            .record_handoff_report(team.id, second, "{\"n\":2}")
            .await
            .unwrap());
        assert!(
            !tx.record_handoff_report(team.id, first, "{\"n\":3}")
                .await
                .unwrap(),
            "a week's report is written once"
        );
        tx.commit().await.unwrap();
        let mut tx = store.read().await.unwrap();
        assert!(tx.has_handoff_report(team.id, first).await.unwrap());
        let kept = tx.handoff_reports(team.id, 10).await.unwrap();
        assert_eq!(
            kept,
            [
                (second, "{\"n\":2}".to_owned()),
                (first, "{\"n\":1}".to_owned())
            ]
        );
    }

    async fn attachments_keep_their_bytes(backend: Backend) {
        let (_db, store) = open(backend).await;
        let (_, team) = seed_team(&store).await;
        let mut tx = store.write().await.unwrap();
        give_prefix(tx.as_mut(), team.id).await;
        let ticket = tx
            .insert_ticket(&plain_ticket(team.id, "Crash on upload"), "test")
            .await
            .unwrap();
        let bytes: Vec<u8> = (0..=255u8).collect();
        let added = tx
            .add_attachment(
                ticket.id,
                "dump.bin",
                "application/octet-stream",
                &bytes,
                "ada",
            )
            .await
            .unwrap();
        assert_eq!(added.size, 256);
        tx.commit().await.unwrap();
        let mut tx = store.read().await.unwrap();
        let listed = tx.attachments(ticket.id).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0], added);
        let (again, data) = tx.attachment(ticket.id, added.id).await.unwrap();
        assert_eq!((again, data), (added.clone(), bytes));
        let missing = tx.attachment(ticket.id + 1, added.id).await.unwrap_err();
        assert!(
            matches!(missing, StoreError::NotFound { .. }),
            "{missing:?}"
        );
    }
}

mod web {
    //! Passwords, sessions, sign-in failures, wall links, photos and the activity counter.

    use jiff::{SignedDuration, Timestamp};
    use watchbill_store::{Backend, StoreError};

    use super::{open, seed_team};

    contract!(
        sessions_expire_and_end_with_a_password_change,
        login_failures_count_per_login_until_cleared,
        wall_links_are_found_by_hash_and_removed,
        photos_replace_and_activity_grows,
    );

    async fn sessions_expire_and_end_with_a_password_change(backend: Backend) {
        let (_db, store) = open(backend).await;
        let (users, _) = seed_team(&store).await;
        let ada = users[0].id;
        let mut tx = store.write().await.unwrap();
        assert_eq!(tx.password_hash(ada).await.unwrap(), None);
        tx.set_password(ada, "$argon2id$first").await.unwrap();
        tx.set_password(ada, "$argon2id$second").await.unwrap();
        assert_eq!(
            tx.password_hash(ada).await.unwrap().as_deref(),
            Some("$argon2id$second")
        );
        let later = Timestamp::now() + SignedDuration::from_hours(1);
        tx.insert_session("keep", ada, "csrf-1", later)
            .await
            .unwrap();
        tx.insert_session("other", ada, "csrf-2", later)
            .await
            .unwrap();
        tx.insert_session(
            "expired",
            ada,
            "csrf-3",
            Timestamp::now() - SignedDuration::from_secs(5),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();

        let mut tx = store.write().await.unwrap();
        let session = tx.session("keep").await.unwrap().unwrap();
        assert_eq!((session.user_id, session.csrf.as_str()), (ada, "csrf-1"));
        assert_eq!(tx.session("expired").await.unwrap(), None);
        assert_eq!(tx.delete_other_sessions(ada, "keep").await.unwrap(), 1);
        assert_eq!(tx.session("other").await.unwrap(), None);
        tx.delete_session("keep").await.unwrap();
        assert_eq!(tx.session("keep").await.unwrap(), None);
        tx.commit().await.unwrap();
    }

    async fn login_failures_count_per_login_until_cleared(backend: Backend) {
        let (_db, store) = open(backend).await;
        let mut tx = store.write().await.unwrap();
        let since = tx.now() - SignedDuration::from_mins(15);
        for _ in 0..3 {
            tx.record_login_failure("ada@example.com").await.unwrap();
        }
        tx.record_login_failure("grace@example.com").await.unwrap();
        assert_eq!(
            tx.login_failures("ada@example.com", since).await.unwrap(),
            3
        );
        let future = tx.now() + SignedDuration::from_mins(1);
        assert_eq!(
            tx.login_failures("ada@example.com", future).await.unwrap(),
            0
        );
        tx.clear_login_failures("ada@example.com").await.unwrap();
        assert_eq!(
            tx.login_failures("ada@example.com", since).await.unwrap(),
            0
        );
        assert_eq!(
            tx.login_failures("grace@example.com", since).await.unwrap(),
            1
        );
        tx.commit().await.unwrap();
    }

    async fn wall_links_are_found_by_hash_and_removed(backend: Backend) {
        let (_db, store) = open(backend).await;
        let mut tx = store.write().await.unwrap();
        let link = tx
            .insert_wall_link("Lunch line TV", "hash-1")
            .await
            .unwrap();
        assert_eq!(
            tx.find_wall_link("hash-1").await.unwrap(),
            Some(link.clone())
        );
        assert_eq!(tx.find_wall_link("hash-2").await.unwrap(), None);
        assert_eq!(tx.wall_links().await.unwrap(), vec![link.clone()]);
        tx.delete_wall_link(link.id).await.unwrap();
        assert!(matches!(
            tx.delete_wall_link(link.id).await,
            Err(StoreError::NotFound { .. })
        ));
        assert_eq!(tx.find_wall_link("hash-1").await.unwrap(), None);
        tx.commit().await.unwrap();
    }

    async fn photos_replace_and_activity_grows(backend: Backend) {
        let (_db, store) = open(backend).await;
        let mut tx = store.write().await.unwrap();
        let before = tx.activity_revision().await.unwrap();
        tx.commit().await.unwrap();
        let (users, _) = seed_team(&store).await;
        let mut tx = store.write().await.unwrap();
        assert!(tx.activity_revision().await.unwrap() > before);
        tx.set_photo(users[0].id, "token-1", "image/png", b"first")
            .await
            .unwrap();
        tx.set_photo(users[0].id, "token-2", "image/jpeg", &[0xff, 0xd8, 0x00])
            .await
            .unwrap();
        let photo = tx.photo_by_token("token-2").await.unwrap().unwrap();
        assert_eq!(
            (photo.content_type.as_str(), photo.data),
            ("image/jpeg", vec![0xff, 0xd8, 0x00])
        );
        assert_eq!(
            tx.photo_by_token("token-1").await.unwrap(),
            None,
            "the old URL stops working"
        );
        tx.commit().await.unwrap();
    }
}

mod notices {
    //! The notice outbox: idempotent inserts, leased claims, retries and give-ups.

    use jiff::{SignedDuration, Timestamp};
    use watchbill_store::notices::NoticeInput;
    use watchbill_store::Backend;

    use super::{open, seed_team};

    contract!(notices_are_queued_once_claimed_and_settled);

    fn notice(key: &str, user: watchbill_core::UserId, due_at: Timestamp) -> NoticeInput {
        NoticeInput {
            idempotency_key: key.to_owned(),
            user_id: Some(user),
            kind: "email".to_owned(),
            address: "ada@example.test".to_owned(),
            subject: "UF-1 is due tomorrow".to_owned(),
            body: "Upload fails".to_owned(),
            html: None,
            link: "http://localhost/tickets/UF-1".to_owned(),
            thread: None,
            due_at,
        }
    }

    async fn notices_are_queued_once_claimed_and_settled(backend: Backend) {
        let (_db, store) = open(backend).await;
        let (users, _) = seed_team(&store).await;
        let now = Timestamp::now();
        let later = now + SignedDuration::from_hours(8);
        let mut tx = store.write().await.unwrap();
        assert!(tx
            .insert_notice(&notice("reminder:1:a_b", users[0].id, now))
            .await
            .unwrap());
        assert!(
            !tx.insert_notice(&notice("reminder:1:a_b", users[0].id, now))
                .await
                .unwrap(),
            "once per key"
        );
        assert!(tx
            .insert_notice(&notice("reminder:2", users[0].id, later))
            .await
            .unwrap());
        assert!(tx
            .insert_notice(&notice("handoff:1", users[1].id, now))
            .await
            .unwrap());
        tx.commit().await.unwrap();

        let mut tx = store.write().await.unwrap();
        let lease = now + SignedDuration::from_mins(5);
        let claimed = tx.claim_due_notices(now, lease, 10).await.unwrap();
        let keys: Vec<&str> = claimed
            .iter()
            .map(|n| n.input.idempotency_key.as_str())
            .collect();
        assert_eq!(
            keys,
            ["reminder:1:a_b", "handoff:1"],
            "the morning one waits"
        );
        assert_eq!(claimed[0].attempts, 1);
        assert!(
            tx.claim_due_notices(now, lease, 10)
                .await
                .unwrap()
                .is_empty(),
            "leased"
        );
        tx.mark_notice_sent(claimed[0].id).await.unwrap();
        tx.mark_notice_failed(claimed[1].id, "relay down", Some(now))
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let mut tx = store.write().await.unwrap();
        let again = tx.claim_due_notices(now, lease, 10).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(
            (again[0].attempts, again[0].last_error.as_str()),
            (2, "relay down")
        );
        tx.mark_notice_failed(again[0].id, "relay down", None)
            .await
            .unwrap();
        let reminders = tx.notices("reminder:1:a_", 10).await.unwrap();
        assert_eq!(reminders.len(), 1, "a prefix is text, not a pattern");
        assert_eq!(reminders[0].status, "sent");
        assert!(reminders[0].sent_at.is_some());
        let handoff = tx.notices("handoff:", 10).await.unwrap();
        assert_eq!(handoff[0].status, "failed");
        assert_eq!(tx.notices("reminder:", 10).await.unwrap().len(), 2);
        tx.commit().await.unwrap();
    }
}

mod mail {
    //! Designated addresses and the kept messages that thread replies.

    use jiff::{SignedDuration, Timestamp};
    use watchbill_core::IncidentId;
    use watchbill_store::mail::{MailAddressInput, MailMode, MailRecord};
    use watchbill_store::{Backend, StoreError};

    use super::{open, seed_team};

    contract!(addresses_are_unique_and_messages_thread);

    async fn addresses_are_unique_and_messages_thread(backend: Backend) {
        let (_db, store) = open(backend).await;
        let (_, team) = seed_team(&store).await;
        let mut tx = store.write().await.unwrap();
        let input = MailAddressInput {
            address: "Urgent@Example.test".to_owned(),
            team_id: team.id,
            service_id: None,
            mode: MailMode::Urgent,
            priority: Some("High".to_owned()),
            labels: vec!["from-mail".to_owned(), "urgent".to_owned()],
            due_days: Some(2),
            allow: vec!["example.com".to_owned(), "Ops@Partner.test".to_owned()],
        };
        let address = tx.insert_mail_address(&input).await.unwrap();
        assert_eq!(address.input.address, "urgent@example.test");
        assert_eq!(address.input.allow, ["example.com", "ops@partner.test"]);
        assert_eq!(address.input.labels, ["from-mail", "urgent"]);
        tx.commit().await.unwrap();
        // A failed statement spends its transaction (PostgreSQL aborts it), so on its own.
        let mut tx = store.write().await.unwrap();
        assert!(matches!(
            tx.insert_mail_address(&input).await,
            Err(StoreError::Conflict { .. })
        ));
        drop(tx);

        let mut tx = store.write().await.unwrap();
        let found = tx
            .find_mail_address("URGENT@example.test")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found, address);
        assert_eq!(
            tx.find_mail_address("other@example.test").await.unwrap(),
            None
        );
        let record = |id: &str, incident: Option<i64>, outcome: &str| MailRecord {
            message_id: id.to_owned(),
            sender: "Ops@Example.com".to_owned(),
            recipient: "urgent@example.test".to_owned(),
            subject: "Checkout down".to_owned(),
            outcome: outcome.to_owned(),
            ticket_id: None,
            incident_id: incident.map(IncidentId),
            raw: b"Subject: Checkout down\r\n\r\nhelp".to_vec(),
        };
        tx.record_mail(&record("<a@x>", None, "auto-reply"))
            .await
            .unwrap();
        assert_eq!(
            tx.mail_thread(&["<a@x>".to_owned()]).await.unwrap(),
            None,
            "nothing to thread to"
        );
        let since = Timestamp::now() - SignedDuration::from_mins(5);
        assert_eq!(
            tx.latest_page_from("ops@example.com", "urgent@example.test", since)
                .await
                .unwrap(),
            None
        );
        let log = tx.mail_log(10).await.unwrap();
        assert_eq!(log[0].2.raw, b"Subject: Checkout down\r\n\r\nhelp");
        assert_eq!(log[0].2.sender, "ops@example.com");
        tx.delete_mail_address(address.id).await.unwrap();
        assert!(tx.mail_addresses().await.unwrap().is_empty());
        tx.commit().await.unwrap();
    }
}

mod post_mortems {
    //! Post-mortems keep their incidents and move forward, stamped once when published; the
    //! search ranks by text (titles over bodies) and filters by team, service, tag and date.

    use jiff::SignedDuration;
    use watchbill_core::paging::{IncidentStatus, Urgency};
    use watchbill_core::IncidentId;
    use watchbill_store::paging::{NewIncident, ServiceInput};
    use watchbill_store::post_mortems::{
        PostMortemInput, PostMortemQuery, PostMortemSettings, PostMortemUpdate, SeenBeforeQuery,
    };
    use watchbill_store::tickets::TicketLink;
    use watchbill_store::{Backend, StoreError};

    use super::{open, seed_team};

    contract!(
        post_mortems_keep_incidents_and_publish_once,
        post_mortems_are_searched_ranked_and_filtered,
    );

    fn update(body: &str, status: &str) -> PostMortemUpdate {
        PostMortemUpdate {
            title: "Video CDN timeouts".to_owned(),
            body: body.to_owned(),
            tags: vec!["cdn".to_owned()],
            status: status.to_owned(),
        }
    }

    async fn post_mortems_keep_incidents_and_publish_once(backend: Backend) {
        let (_db, store) = open(backend).await;
        let (users, team) = seed_team(&store).await;
        let mut tx = store.write().await.unwrap();
        let input = PostMortemInput {
            team_id: team.id,
            title: "Video CDN timeouts".to_owned(),
            body: "## Summary".to_owned(),
            figures: "{}".to_owned(),
            incidents: Vec::new(),
            tags: vec!["cdn".to_owned(), "video".to_owned()],
            created_by: "token:1".to_owned(),
            owner: Some(users[0].id),
        };
        let pm = tx.insert_post_mortem(&input).await.unwrap();
        assert_eq!((pm.status.as_str(), pm.published_at), ("draft", None));
        assert_eq!(pm.input, input);
        tx.set_post_mortem_reviewers(pm.id, &[users[2].id, users[1].id])
            .await
            .unwrap();
        tx.insert_post_mortem_comment(pm.id, "Grace", "Add the purge URL")
            .await
            .unwrap();
        let published = tx
            .update_post_mortem(pm.id, &update("## Summary\nFixed.", "published"))
            .await
            .unwrap();
        assert_eq!(published.reviewers, [users[1].id, users[2].id]);
        assert_eq!(published.input.tags, ["cdn"]);
        let stamped = published.published_at.unwrap();
        let again = tx
            .update_post_mortem(pm.id, &update("## Summary\nFixed again.", "published"))
            .await
            .unwrap();
        assert_eq!(again.published_at, Some(stamped), "stamped once");
        let comments = tx.post_mortem_comments(pm.id).await.unwrap();
        assert_eq!(comments.len(), 1);
        assert_eq!(comments[0].body, "Add the purge URL");
        assert!(matches!(
            tx.post_mortem(99).await,
            Err(StoreError::NotFound { .. })
        ));
        assert_eq!(tx.post_mortem_settings(team.id).await.unwrap(), None);
        let settings = PostMortemSettings {
            team_id: team.id,
            template: "## What broke\n{{timeline}}".to_owned(),
            distribution: vec!["eng@example.test".to_owned(), "ops@example.test".to_owned()],
            remind_after_seconds: 3600,
            draft_reminder_days: 3,
        };
        tx.put_post_mortem_settings(&settings).await.unwrap();
        tx.put_post_mortem_settings(&settings).await.unwrap();
        assert_eq!(
            tx.post_mortem_settings(team.id).await.unwrap(),
            Some(settings)
        );
        tx.commit().await.unwrap();
        // An unknown incident is refused, and nothing is written.
        let mut tx = store.write().await.unwrap();
        let refused = tx
            .insert_post_mortem(&PostMortemInput {
                incidents: vec![IncidentId(42)],
                ..input
            })
            .await;
        assert!(refused.is_err());
        drop(tx);
        let mut tx = store.read().await.unwrap();
        let all = tx
            .search_post_mortems(&PostMortemQuery {
                limit: 50,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(all.len(), 1);
    }

    async fn post_mortems_are_searched_ranked_and_filtered(backend: Backend) {
        let (_db, store) = open(backend).await;
        let (users, team) = seed_team(&store).await;
        let mut tx = store.write().await.unwrap();
        let service = |name: &str| ServiceInput {
            team_id: team.id,
            name: name.to_owned(),
            description: String::new(),
            escalation_policy_id: None,
            default_urgency: Urgency::High,
            low_urgency_tickets: false,
        };
        let video = tx.insert_service(&service("Video")).await.unwrap();
        let billing = tx.insert_service(&service("Billing")).await.unwrap();
        let incident = |service, title: &str, key: &str| NewIncident {
            service_id: service,
            dedup_key: key.to_owned(),
            title: title.to_owned(),
            urgency: Urgency::High,
        };
        let cdn = tx
            .insert_incident(&incident(video.id, "CDN timeouts", "a"))
            .await
            .unwrap();
        let invoices = tx
            .insert_incident(&incident(billing.id, "Invoices late", "b"))
            .await
            .unwrap();
        let open = tx
            .insert_incident(&incident(billing.id, "Still open", "c"))
            .await
            .unwrap();
        for id in [cdn.id, invoices.id] {
            tx.set_incident_status(id, IncidentStatus::Resolved)
                .await
                .unwrap();
        }
        let write =
            |title: &str, body: &str, incidents: Vec<IncidentId>, tags: &[&str]| PostMortemInput {
                team_id: team.id,
                title: title.to_owned(),
                body: body.to_owned(),
                figures: "{}".to_owned(),
                incidents,
                tags: tags.iter().map(|t| (*t).to_owned()).collect(),
                created_by: "token:1".to_owned(),
                owner: Some(users[0].id),
            };
        let in_title = tx
            .insert_post_mortem(&write(
                "Video CDN timeouts",
                "The edge cache expired.",
                vec![cdn.id],
                &["cdn"],
            ))
            .await
            .unwrap();
        let in_body = tx
            .insert_post_mortem(&write(
                "Invoices were late",
                "A slow CDN delayed the invoice PDFs; timeouts everywhere.",
                vec![invoices.id],
                &["billing"],
            ))
            .await
            .unwrap();
        tx.insert_post_mortem(&write(
            "Database failover",
            "Nothing about it.",
            vec![],
            &[],
        ))
        .await
        .unwrap();
        super::tickets::give_prefix(tx.as_mut(), team.id).await;
        let action = tx
            .insert_ticket(
                &super::tickets::plain_ticket(team.id, "Alert on edge cache expiry"),
                "test",
            )
            .await
            .unwrap();
        tx.link_ticket(action.id, TicketLink::PostMortem(in_title.id))
            .await
            .unwrap();
        assert_eq!(
            tx.ticket_links(action.id).await.unwrap(),
            [TicketLink::PostMortem(in_title.id)]
        );
        let resolved_now = tx.now();
        tx.commit().await.unwrap();

        let mut tx = store.read().await.unwrap();
        let search = |text: Option<&str>| PostMortemQuery {
            text: text.map(str::to_owned),
            limit: 10,
            ..Default::default()
        };
        let ids = |hits: Vec<watchbill_store::post_mortems::PostMortemHit>| {
            hits.into_iter()
                .map(|h| h.post_mortem.id)
                .collect::<Vec<_>>()
        };
        // Both hold both words; the one with them in its title ranks first.
        let hits = tx
            .search_post_mortems(&search(Some("cdn timeout")))
            .await
            .unwrap();
        assert_eq!(ids(hits.clone()), [in_title.id, in_body.id]);
        assert!(hits[0].rank > hits[1].rank);
        // Prefixes match; punctuation and odd syntax are only words.
        let hits = tx
            .search_post_mortems(&search(Some("invoic \"AND* OR (")))
            .await
            .unwrap();
        assert_eq!(ids(hits), [in_body.id]);
        // Filters: service, tag, team, dates; no text is newest first.
        let by_service = tx
            .search_post_mortems(&PostMortemQuery {
                service: Some(video.id),
                ..search(None)
            })
            .await
            .unwrap();
        assert_eq!(ids(by_service), [in_title.id]);
        let by_tag = tx
            .search_post_mortems(&PostMortemQuery {
                tag: Some("billing".to_owned()),
                ..search(Some("cdn"))
            })
            .await
            .unwrap();
        assert_eq!(ids(by_tag), [in_body.id]);
        let everything = tx.search_post_mortems(&search(None)).await.unwrap();
        assert_eq!(everything.len(), 3);
        assert!(everything[0].post_mortem.id > everything[2].post_mortem.id);
        let later = tx
            .search_post_mortems(&PostMortemQuery {
                since: Some(resolved_now + SignedDuration::from_hours(1)),
                team: Some(team.id),
                ..search(None)
            })
            .await
            .unwrap();
        assert!(later.is_empty());
        // Any word of a title or tag for "seen before" (not of a body), and the service's own
        // post-mortems.
        let any = tx
            .seen_before_candidates(
                &[
                    "invoices".to_owned(),
                    "failover".to_owned(),
                    "nothing".to_owned(),
                ],
                5,
                billing.id,
                5,
                open.id,
            )
            .await
            .unwrap();
        assert_eq!(any.by_title.len(), 2, "{any:?}");
        assert_eq!(any.by_title[0].title, "Database failover", "newest first");
        assert_eq!(any.by_service, [in_body.id], "the service's own");
        let both = tx
            .seen_before_candidates(
                &["video".to_owned(), "timeout".to_owned()],
                1,
                billing.id,
                5,
                open.id,
            )
            .await
            .unwrap();
        assert_eq!(
            both.by_title.iter().map(|c| c.id).collect::<Vec<_>>(),
            [in_title.id],
            "the title that holds every word"
        );
        let no_words = tx
            .seen_before_candidates(&[], 5, billing.id, 5, open.id)
            .await
            .unwrap();
        assert!(no_words.by_title.is_empty());
        assert_eq!(no_words.by_service, [in_body.id]);
        assert_eq!(tx.post_mortem_tickets(in_title.id).await.unwrap().len(), 1);
        assert_eq!(
            tx.incident_post_mortems(cdn.id).await.unwrap()[0].id,
            in_title.id
        );
        // Those that cover the incident at hand are left out.
        let own = tx
            .seen_before_candidates(&["invoices".to_owned()], 5, billing.id, 5, invoices.id)
            .await
            .unwrap();
        assert!(
            own.by_title.is_empty() && own.by_service.is_empty(),
            "{own:?}"
        );
        // Asked together, across more than one statement's worth of questions, each
        // incident gets the answer it gets alone.
        let questions: Vec<SeenBeforeQuery> = (0..40)
            .map(|i| match i % 4 {
                0 => SeenBeforeQuery {
                    terms: vec!["invoices".to_owned(), "failover".to_owned()],
                    service: billing.id,
                    exclude: open.id,
                },
                1 => SeenBeforeQuery {
                    terms: vec!["video".to_owned(), "timeout".to_owned()],
                    service: video.id,
                    exclude: open.id,
                },
                2 => SeenBeforeQuery {
                    terms: Vec::new(),
                    service: billing.id,
                    exclude: open.id,
                },
                _ => SeenBeforeQuery {
                    terms: vec!["invoices".to_owned()],
                    service: billing.id,
                    exclude: invoices.id,
                },
            })
            .collect();
        let together = tx
            .seen_before_candidates_many(&questions, 5, 5)
            .await
            .unwrap();
        assert_eq!(together.len(), questions.len());
        for (question, answer) in questions.iter().zip(&together) {
            let alone = tx
                .seen_before_candidates(&question.terms, 5, question.service, 5, question.exclude)
                .await
                .unwrap();
            assert_eq!(answer, &alone, "{question:?}");
        }
        assert!(!together[0].by_title.is_empty() && !together[1].by_title.is_empty());
        assert!(tx
            .seen_before_candidates_many(&[], 5, 5)
            .await
            .unwrap()
            .is_empty());
        let mut briefs = tx
            .post_mortem_briefs(&[in_body.id, 999, in_title.id])
            .await
            .unwrap();
        briefs.sort_by_key(|b| b.id);
        assert_eq!(
            briefs
                .iter()
                .map(|b| (b.id, b.title.as_str()))
                .collect::<Vec<_>>(),
            [
                (in_title.id, "Video CDN timeouts"),
                (in_body.id, "Invoices were late")
            ]
        );
        // Resolved high-urgency incidents without a post-mortem: none here but the open one is
        // not resolved, so nothing is found; an uncovered resolved one is.
        let window = (
            resolved_now - SignedDuration::from_hours(1),
            resolved_now + SignedDuration::from_hours(1),
        );
        assert!(tx
            .resolved_without_post_mortem(window.0, window.1)
            .await
            .unwrap()
            .is_empty());
        drop(tx);
        let mut tx = store.write().await.unwrap();
        tx.set_incident_status(open.id, IncidentStatus::Resolved)
            .await
            .unwrap();
        let found = tx
            .resolved_without_post_mortem(window.0, window.1)
            .await
            .unwrap();
        assert_eq!(found.iter().map(|i| i.id).collect::<Vec<_>>(), [open.id]);
        // Edits follow into the index.
        tx.update_post_mortem(
            in_title.id,
            &watchbill_store::post_mortems::PostMortemUpdate {
                title: "Edge cache expiry".to_owned(),
                body: "Renamed.".to_owned(),
                tags: Vec::new(),
                status: "draft".to_owned(),
            },
        )
        .await
        .unwrap();
        let hits = tx
            .search_post_mortems(&search(Some("video")))
            .await
            .unwrap();
        assert!(hits.is_empty());
        let hits = tx
            .search_post_mortems(&search(Some("edge expiry")))
            .await
            .unwrap();
        assert_eq!(ids(hits), [in_title.id]);
    }
}

mod paging {
    //! What the paging loop reads and writes in one statement for many rows: an event's route,
    //! and the escalation engine's writes for many incidents at once.

    use jiff::{SignedDuration, Timestamp};
    use watchbill_core::paging::{IncidentStatus, Step, Urgency};
    use watchbill_core::IncidentId;
    use watchbill_store::paging::{
        EventInput, EventRecord, IncidentFilter, Integration, IntegrationInput, IntegrationKind,
        LevelInput, NewIncident, NotificationInput, OpenCheck, PolicyInput, ServiceInput,
        TargetInput, TargetKind,
    };
    use watchbill_store::{Backend, Routing};

    use super::{open, seed_team};

    contract!(
        an_event_key_finds_its_service_and_maintenance,
        the_paging_revision_moves_with_routes_and_resolutions,
        open_incidents_are_found_by_their_keys,
        alerts_are_added_to_open_incidents_only,
        many_incidents_escalate_in_one_write,
        events_are_kept_in_order_and_outlive_their_integration,
        due_notifications_are_claimed_once_oldest_first,
        paging_settings_move_the_roster_revision,
        statistics_count_a_storm_of_new_incidents
    );

    /// A high-urgency service with no policy, as the tests below need.
    fn paging_service(team: watchbill_core::TeamId, name: &str) -> ServiceInput {
        ServiceInput {
            team_id: team,
            name: name.to_owned(),
            description: String::new(),
            escalation_policy_id: None,
            default_urgency: Urgency::High,
            low_urgency_tickets: false,
        }
    }

    /// The team's "Course platform" service, as most tests below need one.
    async fn course_platform(
        tx: &mut dyn watchbill_store::Tx,
        team: watchbill_core::TeamId,
    ) -> watchbill_store::paging::Service {
        tx.insert_service(&paging_service(team, "Course platform"))
            .await
            .unwrap()
    }

    /// A new high-urgency incident of `service`, "Disk full".
    async fn disk_full(
        tx: &mut dyn watchbill_store::Tx,
        service: watchbill_core::ServiceId,
    ) -> watchbill_store::paging::Incident {
        open_incident(tx, service, "disk", "Disk full").await
    }

    /// A new high-urgency incident of `service`.
    async fn open_incident(
        tx: &mut dyn watchbill_store::Tx,
        service: watchbill_core::ServiceId,
        key: &str,
        title: &str,
    ) -> watchbill_store::paging::Incident {
        tx.insert_incident(&NewIncident {
            service_id: service,
            dedup_key: key.to_owned(),
            title: title.to_owned(),
            urgency: Urgency::High,
        })
        .await
        .unwrap()
    }

    /// An Events API v2 integration of `service`.
    async fn events_integration(
        tx: &mut dyn watchbill_store::Tx,
        service: watchbill_core::ServiceId,
    ) -> Integration {
        tx.insert_integration(&IntegrationInput {
            service_id: service,
            kind: IntegrationKind::EventsV2,
            name: "Events".to_owned(),
            rate_per_minute: 60,
        })
        .await
        .unwrap()
    }

    /// The escalation engine keeps services, policies, contact methods and rules with the
    /// roster it resolved, so each of their writes must move the revision, or a server would
    /// page through a deleted contact method until some schedule changed.
    async fn paging_settings_move_the_roster_revision(backend: Backend) {
        let (_db, store) = open(backend).await;
        let (users, team) = seed_team(&store).await;
        let mut last = store.read().await.unwrap().roster_revision().await.unwrap();
        let mut moved = |revision: i64, what: &str| {
            assert!(revision > last, "{what} moves the roster revision");
            last = revision;
        };
        let ada = users[0].id;
        let policy_input = |name: &str| PolicyInput {
            team_id: team.id,
            name: name.to_owned(),
            repeat: 0,
            levels: vec![LevelInput {
                delay_seconds: 60,
                targets: vec![TargetInput {
                    kind: TargetKind::User,
                    id: ada.0,
                }],
            }],
        };

        // One write a transaction, each committed, and the revision read afresh after it.
        macro_rules! step {
            ($what:literal, |$tx:ident| $body:expr) => {{
                let mut $tx = store.write().await.unwrap();
                let out = $body;
                $tx.commit().await.unwrap();
                moved(
                    store.read().await.unwrap().roster_revision().await.unwrap(),
                    $what,
                );
                out
            }};
        }
        let policy = step!("a new policy", |tx| tx
            .insert_policy(&policy_input("Primary"))
            .await
            .unwrap());
        step!("a changed policy", |tx| tx
            .update_policy(policy.id, &policy_input("Primary, renamed"))
            .await
            .unwrap());
        let mut input = paging_service(team.id, "Course platform");
        let service = step!("a new service", |tx| tx
            .insert_service(&input)
            .await
            .unwrap());
        input.escalation_policy_id = Some(policy.id);
        step!("a changed service", |tx| tx
            .update_service(service.id, &input)
            .await
            .unwrap());
        let method = step!("a new contact method", |tx| tx
            .insert_contact_method(ada, "email", "ada@example.com", "Work")
            .await
            .unwrap());
        let rule = step!("a new notification rule", |tx| tx
            .insert_rule(ada, method.id, 0)
            .await
            .unwrap());
        step!("a deleted notification rule", |tx| tx
            .delete_rule(rule.id)
            .await
            .unwrap());
        step!("a deleted contact method", |tx| tx
            .delete_contact_method(method.id)
            .await
            .unwrap());
        step!("a deleted service", |tx| tx
            .delete_service(service.id)
            .await
            .unwrap());
        step!("a deleted policy", |tx| tx
            .delete_policy(policy.id)
            .await
            .unwrap());
    }

    /// After a storm of new incidents, the query planner's statistics count them (PostgreSQL);
    /// where no statistics are kept (SQLite), asking does nothing and does not fail.
    async fn statistics_count_a_storm_of_new_incidents(backend: Backend) {
        let (db, store) = open(backend).await;
        let (_, team) = seed_team(&store).await;
        let mut tx = store.write().await.unwrap();
        let service = course_platform(tx.as_mut(), team.id).await;
        let storm: Vec<(NewIncident, i64)> = (0..2_000)
            .map(|n| {
                let incident = NewIncident {
                    service_id: service.id,
                    dedup_key: format!("host-{n}"),
                    title: format!("Host {n} is down"),
                    urgency: Urgency::High,
                };
                (incident, 1)
            })
            .collect();
        tx.insert_incidents(&storm).await.unwrap();
        tx.commit().await.unwrap();
        store.refresh_statistics().await.unwrap();
        if backend == Backend::Postgres {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            let counted: f32 = sqlx::query_scalar(
                "SELECT reltuples FROM pg_class WHERE oid = 'incidents'::regclass",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            assert_eq!(counted, 2_000.0);
            pool.close().await;
        }
    }

    async fn open_incidents_are_found_by_their_keys(backend: Backend) {
        let (_db, store) = open(backend).await;
        let (_, team) = seed_team(&store).await;
        let mut tx = store.write().await.unwrap();
        let mut services = Vec::new();
        for name in ["Course platform", "Payments"] {
            let service = tx
                .insert_service(&paging_service(team.id, name))
                .await
                .unwrap();
            services.push(service.id);
        }
        let open_one = |service, key: &str| NewIncident {
            service_id: service,
            dedup_key: key.to_owned(),
            title: format!("Alert {key}"),
            urgency: Urgency::High,
        };
        // Many keys at once, as a large intake batch asks.
        for n in 0..300 {
            tx.insert_incident(&open_one(services[0], &format!("disk-{n}")))
                .await
                .unwrap();
        }
        let resolved = tx
            .insert_incident(&open_one(services[0], "cpu"))
            .await
            .unwrap();
        tx.set_incident_status(resolved.id, IncidentStatus::Resolved)
            .await
            .unwrap();
        tx.insert_incident(&open_one(services[1], "queue"))
            .await
            .unwrap();
        // Keys are any text a sender chose: quotes, backslashes, brackets, other scripts.
        let odd = [r#"say "hi"\n"#, "[1, 2]", "ключ-🔥", "a'b"];
        for key in odd {
            tx.insert_incident(&open_one(services[0], key))
                .await
                .unwrap();
        }

        let mut keys: Vec<String> = (0..300).step_by(2).map(|n| format!("disk-{n}")).collect();
        keys.extend(["cpu", "queue", "unknown"].map(str::to_owned));
        keys.extend(odd.map(str::to_owned));
        let found = tx.open_incidents_by_keys(services[0], &keys).await.unwrap();
        let mut found_keys: Vec<String> = found.iter().map(|i| i.dedup_key.clone()).collect();
        found_keys.sort();
        let mut expected: Vec<String> = (0..300).step_by(2).map(|n| format!("disk-{n}")).collect();
        expected.extend(odd.map(str::to_owned));
        expected.sort();
        assert_eq!(
            found_keys, expected,
            "a resolved incident, another service's and an unknown key are left out"
        );
        assert!(found.iter().all(|i| i.alert_count == 1));
        assert!(tx
            .open_incidents_by_keys(services[0], &[])
            .await
            .unwrap()
            .is_empty());
    }

    async fn alerts_are_added_to_open_incidents_only(backend: Backend) {
        let db = watchbill_store::testing::TestDatabase::new(backend)
            .await
            .unwrap();
        let clock = std::sync::Arc::new(watchbill_core::ManualClock::new(
            "2026-11-26T12:00:00Z".parse().unwrap(),
        ));
        let store = watchbill_store::connect(&db.url, clock.clone())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let (_, team) = seed_team(&store).await;
        let mut tx = store.write().await.unwrap();
        let service = course_platform(tx.as_mut(), team.id).await;
        let integration = events_integration(tx.as_mut(), service.id).await;
        let disk = disk_full(tx.as_mut(), service.id).await;
        let cpu = open_incident(tx.as_mut(), service.id, "cpu", "CPU hot").await;
        tx.set_incident_status(cpu.id, IncidentStatus::Acknowledged)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // Each alert added is recorded as an event of its incident, as intake records it.
        let alerts = |incident: &watchbill_store::paging::Incident, n: usize| {
            (0..n)
                .map(|i| EventInput {
                    integration_id: integration.id,
                    incident_id: Some(incident.id),
                    action: "trigger".to_owned(),
                    dedup_key: incident.dedup_key.clone(),
                    summary: format!("Again ({i})"),
                    severity: String::new(),
                    source: "db-1".to_owned(),
                    outcome: "alert_added".to_owned(),
                    payload: "{}".to_owned(),
                })
                .collect::<Vec<_>>()
        };
        // What a reader sees of "disk" and "cpu": (count, last alert) each.
        let counts = || async {
            let mut tx = store.read().await.unwrap();
            let mut seen = Vec::new();
            for id in [disk.id, cpu.id] {
                let read = tx.incident(id).await.unwrap();
                seen.push((read.alert_count, read.last_alert_at));
            }
            let listed = tx
                .incidents(&IncidentFilter {
                    limit: 10,
                    ..IncidentFilter::default()
                })
                .await
                .unwrap();
            let listed: Vec<_> = listed
                .iter()
                .map(|i| (i.alert_count, i.last_alert_at))
                .collect();
            assert_eq!(listed, [seen[1], seen[0]], "a list counts as a read does");
            let open = tx
                .open_incidents_by_keys(service.id, &["disk".to_owned()])
                .await
                .unwrap();
            assert_eq!((open[0].alert_count, open[0].last_alert_at), seen[0]);
            seen
        };

        let start = watchbill_core::Clock::now(clock.as_ref());
        let mut tx = store.write().await.unwrap();
        tx.insert_events(&[alerts(&disk, 3), alerts(&cpu, 2)].concat())
            .await
            .unwrap();
        let took = tx.add_alerts(&[(disk.id, 3), (cpu.id, 2)]).await.unwrap();
        assert_eq!(took, 2, "an acknowledged incident is still open");
        tx.commit().await.unwrap();
        assert_eq!(counts().await, [(4, start), (3, start)]);

        // Later alerts, some seconds apart: the counts stay exact however each backend keeps
        // them, whether the events come before their alerts or with them, as intake writes
        // them.
        for (seconds, expected) in [(1, 5), (2, 6), (30, 7), (1, 8), (60, 9)] {
            clock.advance(jiff::SignedDuration::from_secs(seconds));
            let mut tx = store.write().await.unwrap();
            let took = if [5, 7, 8].contains(&expected) {
                // The last known open by the caller: counted all the same.
                let check = if expected == 8 {
                    OpenCheck::Known
                } else {
                    OpenCheck::Check
                };
                tx.insert_events_adding_alerts(&alerts(&disk, 1), &[(disk.id, 1)], check)
                    .await
                    .unwrap()
            } else if expected == 9 {
                // The event first, then its alert, known open.
                tx.insert_events(&alerts(&disk, 1)).await.unwrap();
                tx.insert_events_adding_alerts(&[], &[(disk.id, 1)], OpenCheck::Known)
                    .await
                    .unwrap()
            } else {
                tx.insert_events(&alerts(&disk, 1)).await.unwrap();
                tx.add_alerts(&[(disk.id, 1)]).await.unwrap()
            };
            assert_eq!(took, 1);
            tx.commit().await.unwrap();
            let seen = counts().await;
            let now = watchbill_core::Clock::now(clock.as_ref());
            assert_eq!(seen[0], (expected, now), "after {seconds} s");
        }

        // A writer that still takes "cpu" for open learns that it is not.
        let mut tx = store.write().await.unwrap();
        tx.set_incident_status(cpu.id, IncidentStatus::Resolved)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // More events than SQLite writes in one statement.
        let mut tx = store.write().await.unwrap();
        let took = tx
            .insert_events_adding_alerts(
                &alerts(&disk, 70),
                &[(cpu.id, 1), (disk.id, 70)],
                OpenCheck::Check,
            )
            .await
            .unwrap();
        assert_eq!(took, 1);
        tx.commit().await.unwrap();
        let seen = counts().await;
        assert_eq!(seen[0].0, 79);
        assert_eq!(seen[1], (3, start), "the resolved incident kept its count");

        // SQLite wrote the count into the row when an alert came five seconds or more after
        // the last one the row counted: last at 94 s, with the alerts up to then. PostgreSQL
        // writes every alert to the row.
        let sql = "SELECT alert_count FROM incidents WHERE id = $1";
        let on_the_row: i64 = match backend {
            Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
                sqlx::query_scalar(sql)
                    .bind(disk.id.0)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
                sqlx::query_scalar(sql)
                    .bind(disk.id.0)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
        };
        let expected = match backend {
            Backend::Sqlite => 9,
            Backend::Postgres => 79,
        };
        assert_eq!(on_the_row, expected);
    }

    async fn events_are_kept_in_order_and_outlive_their_integration(backend: Backend) {
        let (_db, store) = open(backend).await;
        let (_, team) = seed_team(&store).await;
        let mut tx = store.write().await.unwrap();
        let service = course_platform(tx.as_mut(), team.id).await;
        let integration = events_integration(tx.as_mut(), service.id).await;
        let disk = disk_full(tx.as_mut(), service.id).await;
        let cpu = open_incident(tx.as_mut(), service.id, "cpu", "CPU hot").await;
        let event = |n: usize, incident: Option<IncidentId>| EventInput {
            integration_id: integration.id,
            incident_id: incident,
            action: "trigger".to_owned(),
            dedup_key: "disk".to_owned(),
            summary: format!("Alert {n}"),
            severity: if n % 2 == 0 { "critical" } else { "" }.to_owned(),
            source: "db-1".to_owned(),
            outcome: if n == 0 { "opened" } else { "alert_added" }.to_owned(),
            payload: format!(r#"{{"n":{n},"text":"it's \"full\""}}"#),
        };
        // More than one statement's worth of rows on SQLite, two incidents' events mixed, and
        // one event that belongs to no incident (suppressed by a maintenance window, say).
        let first: Vec<EventInput> = (0..70)
            .map(|n| match n {
                7 => event(n, None),
                n if n % 5 == 3 => event(n, Some(cpu.id)),
                n => event(n, Some(disk.id)),
            })
            .collect();
        tx.insert_events(&first).await.unwrap();
        // One event alone in the same transaction, then a batch in the next.
        let alone = event(70, Some(disk.id));
        tx.insert_event(&alone).await.unwrap();
        let received = tx.now();
        tx.commit().await.unwrap();
        let mut tx = store.write().await.unwrap();
        let second = vec![event(71, Some(cpu.id)), event(72, Some(disk.id))];
        tx.insert_events(&second).await.unwrap();
        tx.commit().await.unwrap();

        let all: Vec<EventInput> = first.into_iter().chain([alone]).chain(second).collect();
        let of = |incident: IncidentId| -> Vec<EventInput> {
            all.iter()
                .filter(|e| e.incident_id == Some(incident))
                .cloned()
                .collect()
        };
        let kept = |records: Vec<EventRecord>| -> Vec<EventInput> {
            assert!(records
                .iter()
                .all(|r| r.received_at.as_second() >= received.as_second()));
            records.into_iter().map(|r| r.input).collect()
        };
        let mut tx = store.write().await.unwrap();
        assert_eq!(kept(tx.events(disk.id, 1000).await.unwrap()), of(disk.id));
        assert_eq!(kept(tx.events(cpu.id, 1000).await.unwrap()), of(cpu.id));
        assert_eq!(
            kept(tx.events(disk.id, 3).await.unwrap()),
            of(disk.id)[of(disk.id).len() - 3..],
            "a limit keeps the newest, oldest first"
        );
        assert_eq!(tx.count_events().await.unwrap(), 73);
        tx.delete_integration(integration.id).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = store.read().await.unwrap();
        assert_eq!(
            kept(tx.events(disk.id, 1000).await.unwrap()),
            of(disk.id),
            "the incident's history keeps the events of an integration since deleted"
        );
        assert_eq!(tx.count_events().await.unwrap(), 73);
    }

    async fn an_event_key_finds_its_service_and_maintenance(backend: Backend) {
        let (_db, store) = open(backend).await;
        let (_, team) = seed_team(&store).await;
        let mut tx = store.write().await.unwrap();
        let service = tx
            .insert_service(&ServiceInput {
                team_id: team.id,
                name: "Course platform".to_owned(),
                description: "Videos and quizzes".to_owned(),
                escalation_policy_id: None,
                default_urgency: Urgency::Low,
                low_urgency_tickets: true,
            })
            .await
            .unwrap();
        let integration = events_integration(tx.as_mut(), service.id).await;
        let now = Timestamp::now();
        let route = tx
            .intake_route(&integration.secret, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(route.integration, integration);
        assert_eq!(route.service, service);
        assert!(!route.in_maintenance);
        assert_eq!(route.maintenance_changes_at, None, "no window, no change");
        assert_eq!(tx.intake_route("no-such-key", now).await.unwrap(), None);
        let hour = SignedDuration::from_hours(1);
        tx.insert_maintenance(service.id, now - hour, Some(now + hour), "upgrade")
            .await
            .unwrap();
        // Windows are kept to the second.
        let end = Timestamp::from_second((now + hour).as_second()).unwrap();
        let before = tx
            .intake_route(&integration.secret, now - hour - hour)
            .await
            .unwrap()
            .unwrap();
        assert!(!before.in_maintenance);
        assert_eq!(
            before.maintenance_changes_at,
            Some(Timestamp::from_second((now - hour).as_second()).unwrap()),
            "the window's start changes it first"
        );
        let during = tx
            .intake_route(&integration.secret, now)
            .await
            .unwrap()
            .unwrap();
        assert!(during.in_maintenance);
        assert_eq!(during.maintenance_changes_at, Some(end), "then its end");
        assert!(during.maintenance_holds_at(end - SignedDuration::from_secs(1)));
        assert!(!during.maintenance_holds_at(end));
        let after = tx
            .intake_route(&integration.secret, now + hour + hour)
            .await
            .unwrap()
            .unwrap();
        assert!(!after.in_maintenance, "the window has ended");
        assert_eq!(after.maintenance_changes_at, None);
        tx.commit().await.unwrap();

        // Intake's way in: a write transaction and the routes of its keys, in order.
        let secrets = [
            integration.secret.clone(),
            "no-such-key".to_owned(),
            integration.secret.clone(),
        ];
        let Routing {
            mut tx,
            revision,
            routes,
        } = store.write_routing(&secrets).await.unwrap();
        assert_eq!(revision.is_some(), backend == Backend::Sqlite);
        let route = routes[0].clone().unwrap();
        assert_eq!(route.integration, integration);
        assert_eq!(route.service, service);
        assert!(route.in_maintenance);
        assert_eq!(route.maintenance_changes_at, Some(end));
        assert_eq!(routes[1], None);
        assert_eq!(routes[2], Some(route));
        // The transaction writes, and what it wrote is seen once it commits.
        tx.insert_maintenance(service.id, now + hour, None, "migration")
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut tx = store.read().await.unwrap();
        let windows = tx.maintenance_windows(service.id).await.unwrap();
        assert_eq!(windows.len(), 2);
        // And a key alone is found as by its own statement.
        drop(tx);
        let Routing { tx, routes, .. } = store
            .write_routing(std::slice::from_ref(&integration.secret))
            .await
            .unwrap();
        assert_eq!(routes.len(), 1);
        let route = routes[0].as_ref().unwrap();
        assert!(route.in_maintenance);
        // The open-ended window starts as the first ends: in maintenance ever after.
        assert_eq!(route.maintenance_changes_at, Some(end));
        drop(tx);
        // With no keys asked, only the transaction and the revision.
        let Routing { tx, routes, .. } = store.write_routing(&[]).await.unwrap();
        assert!(routes.is_empty());
        drop(tx);
    }

    async fn the_paging_revision_moves_with_routes_and_resolutions(backend: Backend) {
        let (_db, store) = open(backend).await;
        let (_, team) = seed_team(&store).await;
        let revision = || async {
            let Routing { tx, revision, .. } = store.write_routing(&[]).await.unwrap();
            drop(tx);
            revision
        };
        if backend == Backend::Postgres {
            // PostgreSQL keeps none: callers check what they remember instead.
            assert_eq!(revision().await, None);
            return;
        }
        let mut last = revision().await.unwrap();
        let mut expect = |moved: bool, what: &str, now: i64| {
            assert_eq!(now != last, moved, "{what}");
            last = now;
        };
        // Runs `$body` in a transaction of its own, commits, and checks whether the revision
        // moved; gives what `$body` gave.
        macro_rules! committed {
            ($moved:expr, $what:expr, |$tx:ident| $body:expr) => {{
                let mut $tx = store.write().await.unwrap();
                let value = $body;
                $tx.commit().await.unwrap();
                expect($moved, $what, revision().await.unwrap());
                value
            }};
        }

        let service = committed!(true, "a service added", |tx| {
            course_platform(tx.as_mut(), team.id).await
        });
        let integration = committed!(true, "an integration added", |tx| {
            events_integration(tx.as_mut(), service.id).await
        });
        let incident = committed!(false, "an incident opened and acknowledged", |tx| {
            let incident = disk_full(tx.as_mut(), service.id).await;
            tx.set_incident_status(incident.id, IncidentStatus::Acknowledged)
                .await
                .unwrap();
            incident
        });
        committed!(true, "an incident resolved", |tx| {
            tx.set_incident_status(incident.id, IncidentStatus::Resolved)
                .await
                .unwrap()
        });
        committed!(true, "a service changed", |tx| {
            let mut input = paging_service(team.id, "Course platform");
            input.default_urgency = Urgency::Low;
            tx.update_service(service.id, &input).await.unwrap()
        });
        committed!(true, "a key rotated", |tx| {
            tx.rotate_integration_secret(integration.id).await.unwrap()
        });
        let window = committed!(true, "a window added", |tx| {
            tx.insert_maintenance(service.id, Timestamp::now(), None, "upgrade")
                .await
                .unwrap()
        });
        committed!(true, "a window removed", |tx| {
            tx.delete_maintenance(window.id).await.unwrap()
        });

        // A transaction that rolls back leaves it as it was.
        let mut tx = store.write().await.unwrap();
        tx.delete_integration(integration.id).await.unwrap();
        drop(tx);
        expect(false, "a deletion rolled back", revision().await.unwrap());

        committed!(true, "an integration removed", |tx| {
            tx.delete_integration(integration.id).await.unwrap()
        });
    }

    async fn due_notifications_are_claimed_once_oldest_first(backend: Backend) {
        let (_db, store) = open(backend).await;
        let (users, team) = seed_team(&store).await;
        let now = Timestamp::now();
        let minute = SignedDuration::from_secs(60);
        let mut tx = store.write().await.unwrap();
        let service = course_platform(tx.as_mut(), team.id).await;
        let incident = disk_full(tx.as_mut(), service.id).await;
        // Ten due at once, oldest first as numbered, and one due only in a minute.
        let page = |n: i64, due_at: Timestamp| NotificationInput {
            idempotency_key: format!("page-{n}"),
            incident_id: incident.id,
            user_id: users[0].id,
            kind: "email".to_owned(),
            address: "ada@example.test".to_owned(),
            due_at,
        };
        let mut pages: Vec<_> = (0..10)
            .map(|n| page(n, now - SignedDuration::from_secs(100 - n)))
            .collect();
        pages.push(page(10, now + minute));
        tx.insert_notifications(&pages).await.unwrap();
        tx.commit().await.unwrap();

        let keys_of = |claimed: &[watchbill_store::paging::Notification]| -> Vec<String> {
            claimed
                .iter()
                .map(|n| n.input.idempotency_key.clone())
                .collect()
        };
        let lease = now + minute + minute;
        let mut first = store.write().await.unwrap();
        let claimed = first.claim_due_notifications(now, lease, 4).await.unwrap();
        assert_eq!(
            keys_of(&claimed),
            ["page-0", "page-1", "page-2", "page-3"],
            "the oldest due, no more than asked"
        );
        assert!(claimed.iter().all(|n| n.attempts == 1));
        if backend == Backend::Postgres {
            // Another server claiming while the first has not committed skips its rows.
            let mut second = store.write().await.unwrap();
            let meanwhile = second
                .claim_due_notifications(now, lease, 100)
                .await
                .unwrap();
            assert_eq!(
                keys_of(&meanwhile),
                ["page-4", "page-5", "page-6", "page-7", "page-8", "page-9"]
            );
            drop(second);
        }
        first.commit().await.unwrap();

        // Leased rows are not due again until their lease ends; the rest are.
        let mut tx = store.write().await.unwrap();
        let rest = tx.claim_due_notifications(now, lease, 100).await.unwrap();
        assert_eq!(
            keys_of(&rest),
            ["page-4", "page-5", "page-6", "page-7", "page-8", "page-9"]
        );
        assert!(tx
            .claim_due_notifications(now, lease, 100)
            .await
            .unwrap()
            .is_empty());
        tx.commit().await.unwrap();
        // After the leases, every unsent one is due again, the later page with them.
        let mut tx = store.write().await.unwrap();
        let after = tx
            .claim_due_notifications(lease + minute, lease + minute + minute, 100)
            .await
            .unwrap();
        assert_eq!(after.len(), 11);
        let later = after
            .iter()
            .find(|n| n.input.idempotency_key == "page-10")
            .unwrap();
        assert_eq!(later.attempts, 1, "claimed for the first time");
        assert!(after
            .iter()
            .filter(|n| n.id != later.id)
            .all(|n| n.attempts == 2));
    }

    async fn many_incidents_escalate_in_one_write(backend: Backend) {
        let (_db, store) = open(backend).await;
        let (users, team) = seed_team(&store).await;
        let mut tx = store.write().await.unwrap();
        let service = course_platform(tx.as_mut(), team.id).await;
        // More incidents than one statement takes, so the chunks are exercised too.
        let mut ids = Vec::new();
        for n in 0..150 {
            let incident = tx
                .insert_incident(&NewIncident {
                    service_id: service.id,
                    dedup_key: format!("key-{n}"),
                    title: format!("Incident {n}"),
                    urgency: Urgency::High,
                })
                .await
                .unwrap();
            ids.push(incident.id);
        }
        let now = Timestamp::now();
        let timers: Vec<_> = ids.iter().map(|id| (*id, now, Step::default())).collect();
        tx.set_timers(&timers).await.unwrap();
        tx.add_assignees(&[(ids[0], users[0].id), (ids[1], users[0].id)])
            .await
            .unwrap();

        // Incidents by id come with their assignees; unknown ids are left out.
        let mut wanted = ids.clone();
        wanted.push(IncidentId(999_999));
        let found = tx.incidents_by_ids(&wanted).await.unwrap();
        assert_eq!(found.len(), 150);
        let first = found.iter().find(|i| i.id == ids[0]).unwrap();
        assert_eq!(first.assignees, [users[0].id]);

        // Steps, assignees and timers of many incidents in one call each.
        let steps: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(n, id)| {
                let step = Step {
                    level: n % 3,
                    pass: (n % 2) as u32,
                };
                (*id, step)
            })
            .collect();
        tx.set_incident_steps(&steps).await.unwrap();
        tx.clear_assignees(&ids[..1]).await.unwrap();
        tx.add_assignees(&[
            (ids[0], users[1].id),
            (ids[0], users[2].id),
            (ids[1], users[0].id),
        ])
        .await
        .unwrap();
        tx.clear_timers(&ids[..100]).await.unwrap();
        let found = tx.incidents_by_ids(&ids).await.unwrap();
        for (id, step) in &steps {
            let incident = found.iter().find(|i| i.id == *id).unwrap();
            assert_eq!(incident.step, *step, "INC-{id}");
        }
        let first = found.iter().find(|i| i.id == ids[0]).unwrap();
        assert_eq!(first.assignees, [users[1].id, users[2].id]);
        let second = found.iter().find(|i| i.id == ids[1]).unwrap();
        assert_eq!(
            second.assignees,
            [users[0].id],
            "an assignee added twice is there once"
        );
        assert_eq!(tx.timer(ids[99]).await.unwrap(), None);
        assert!(tx.timer(ids[100]).await.unwrap().is_some());

        // Notifications: a key queued before is not queued again, within a call or across.
        let input = |n: usize, key: &str| NotificationInput {
            idempotency_key: key.to_owned(),
            incident_id: ids[n],
            user_id: users[0].id,
            kind: "email".to_owned(),
            address: "ada@example.test".to_owned(),
            due_at: now,
        };
        let first_round: Vec<_> = (0..100).map(|n| input(n, &format!("page-{n}"))).collect();
        let inserted = tx.insert_notifications(&first_round).await.unwrap();
        assert_eq!(inserted.len(), 100);
        let again = tx
            .insert_notifications(&[
                input(0, "page-0"),
                input(1, "page-new"),
                input(1, "page-new"),
            ])
            .await
            .unwrap();
        assert_eq!(again, ["page-new"]);
        let lease = now.saturating_add(SignedDuration::from_secs(60)).unwrap();
        let claimed = tx.claim_due_notifications(now, lease, 500).await.unwrap();
        assert_eq!(claimed.len(), 101);
        let sent: Vec<i64> = claimed.iter().take(80).map(|n| n.id).collect();
        tx.mark_notifications_sent(&sent).await.unwrap();
        let of_first = tx.notifications(ids[0]).await.unwrap();
        assert_eq!(of_first.len(), 1);
        assert_eq!(of_first[0].status, "sent");
        assert!(of_first[0].sent_at.is_some());
        let of_last = tx.notifications(ids[99]).await.unwrap();
        assert_eq!(of_last[0].status, "pending");
        tx.commit().await.unwrap();
    }
}
