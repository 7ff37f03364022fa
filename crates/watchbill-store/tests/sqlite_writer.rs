//! SQLite's one write connection: a write transaction given up at any point leaves the
//! connection ready for the next one, and SQLite's write lock free for other processes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use sqlx::{Connection as _, Executor as _, SqliteConnection};
use watchbill_store::testing::TestDatabase;

#[tokio::test]
async fn a_write_given_up_while_it_waits_to_begin_leaves_nothing_open() {
    let db = TestDatabase::sqlite();
    let store = db.migrated_store().await.expect("migrated store");

    // Another process holds SQLite's write lock, so the store's BEGIN waits for it...
    let mut other = SqliteConnection::connect(&db.url).await.unwrap();
    other.execute("BEGIN IMMEDIATE").await.unwrap();
    let gave_up = tokio::time::timeout(Duration::from_millis(200), store.write()).await;
    assert!(
        gave_up.is_err(),
        "the write cannot begin while the lock is held"
    );
    // ...and begins on the connection once the lock is free, after its caller has gone.
    other.execute("ROLLBACK").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The next write begins, and commits only its own change.
    let mut tx = store.write().await.expect("the next write begins");
    tx.record_audit("test", "writer.test", "after the abandoned begin")
        .await
        .unwrap();
    tx.commit().await.expect("commit");
    let mut tx = store.read().await.unwrap();
    let entries = tx.audit_log(10).await.unwrap();
    assert!(entries.iter().any(|e| e.action == "writer.test"));

    // Nothing holds the write lock now: the other process can write.
    let mut other_tx = other.begin().await.unwrap();
    other_tx
        .execute("CREATE TABLE other_process (id INTEGER)")
        .await
        .expect("the write lock is free");
    other_tx.commit().await.unwrap();
}
