//! SQLite's log is copied back into the database file in the background, so no commit has to
//! copy and flush a whole log before it can answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use watchbill_core::SystemClock;
use watchbill_store::testing::TestDatabase;

fn file_size(path: &str) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[tokio::test]
async fn committed_pages_reach_the_database_file_without_a_full_log() {
    let db = TestDatabase::sqlite();
    let path = db.url.trim_start_matches("sqlite://").to_owned();
    let store = watchbill_store::connect(&db.url, Arc::new(SystemClock))
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    // Let the migrations' pages settle into the file first.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let before = file_size(&path);

    // A few dozen pages: far fewer than the 1,000 at which a commit would checkpoint itself.
    let mut tx = store.write().await.expect("write");
    let detail = "x".repeat(2_000);
    for n in 0..50 {
        tx.record_audit("test", "checkpoint.test", &format!("{n} {detail}"))
            .await
            .expect("audit");
    }
    tx.commit().await.expect("commit");

    let deadline = Instant::now() + Duration::from_secs(5);
    while file_size(&path) <= before && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        file_size(&path) > before,
        "the committed pages were copied into {path} (still {} bytes)",
        file_size(&path)
    );
    let mut tx = store.read().await.expect("read");
    assert_eq!(tx.audit_log(100).await.expect("audit log").len(), 50);
}
