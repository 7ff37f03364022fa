//! The files a SQLite store writes: the database and, beside the file it really is, its log,
//! which the store flushes after each commit. Nothing else: the copies a many-row statement
//! keeps so that it alone can be undone stay in memory, instead of going to a temporary file
//! created and deleted for every intake batch.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use watchbill_core::paging::{Step, Urgency};
use watchbill_core::SystemClock;
use watchbill_store::model::TeamInput;
use watchbill_store::paging::{NewIncident, ServiceInput};
use watchbill_store::testing::TestDatabase;

/// The files this process has open whose names SQLite gives its temporary files.
fn open_temporary_files() -> Vec<String> {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .map(|target| target.display().to_string())
        .filter(|target| target.contains("etilqs_"))
        .collect()
}

#[tokio::test]
async fn a_write_of_many_incidents_opens_no_temporary_file() {
    let db = TestDatabase::sqlite();
    let store = db.migrated_store().await.expect("migrated store");

    // Incidents with long titles, two to a page: a hundred pages an update of all of them
    // changes, far past the 64 KB SQLite keeps in memory when told nothing else.
    let mut tx = store.write().await.expect("write");
    let team = tx
        .insert_team(&TeamInput {
            name: "Platform".to_owned(),
            description: String::new(),
            members: Vec::new(),
        })
        .await
        .expect("team");
    let service = tx
        .insert_service(&ServiceInput {
            team_id: team.id,
            name: "Course platform".to_owned(),
            description: String::new(),
            escalation_policy_id: None,
            default_urgency: Urgency::High,
            low_urgency_tickets: false,
        })
        .await
        .expect("service");
    let title = "t".repeat(1_500);
    let rows: Vec<(NewIncident, i64)> = (0..200)
        .map(|n| {
            let incident = NewIncident {
                service_id: service.id,
                dedup_key: format!("disk-{n}"),
                title: format!("{n} {title}"),
                urgency: Urgency::High,
            };
            (incident, 1)
        })
        .collect();
    let incidents = tx.insert_incidents(&rows).await.expect("incidents");
    tx.commit().await.expect("commit");

    // A write of every incident's row in one statement, as an engine pass writes its claim's
    // escalation steps (an intake batch's alerts write their events, and their incidents'
    // rows only now and then).
    let mut tx = store.write().await.expect("write");
    let steps: Vec<_> = incidents
        .iter()
        .map(|i| (i.id, Step { level: 1, pass: 0 }))
        .collect();
    tx.set_incident_steps(&steps).await.expect("steps");
    let during = open_temporary_files();
    tx.commit().await.expect("commit");

    assert!(
        during.is_empty(),
        "the write opened temporary files: {during:?}"
    );
    let mut tx = store.read().await.expect("read");
    let found = tx.incident(incidents[7].id).await.expect("incident");
    assert_eq!(
        found.step,
        Step { level: 1, pass: 0 },
        "the step was written"
    );
}

#[tokio::test]
async fn a_database_reached_through_a_symbolic_link_opens_and_commits() {
    let db = TestDatabase::sqlite();
    let real = db.url.trim_start_matches("sqlite://").to_owned();
    // SQLite creates the file on first open; the link must point at an existing file.
    std::fs::write(&real, b"").expect("create");
    let link = format!("{real}.link");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let store = watchbill_store::connect(&format!("sqlite://{link}"), Arc::new(SystemClock))
        .await
        .expect("connect through the link");
    store.migrate().await.expect("migrate");
    let mut tx = store.write().await.expect("write");
    tx.record_audit("test", "link.test", "through a link")
        .await
        .expect("audit");
    tx.commit().await.expect("commit");
    assert!(
        std::path::Path::new(&format!("{real}-wal")).exists(),
        "the log lies beside the real file"
    );
    let _ = std::fs::remove_file(&link);
}
