//! SQLite's log is copied back into the database file in the background, so no commit has to
//! copy and flush a whole log before it can answer, and the log starts over even while writes
//! never stop.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use watchbill_store::testing::TestDatabase;
use watchbill_store::Store;

/// A migrated store in a fresh SQLite file, and the file's path.
async fn migrated_store() -> (TestDatabase, String, Arc<dyn Store>) {
    let db = TestDatabase::sqlite();
    let path = db.url.trim_start_matches("sqlite://").to_owned();
    let store = db.migrated_store().await.expect("migrated store");
    (db, path, store)
}

fn file_size(path: &str) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[tokio::test]
async fn committed_pages_reach_the_database_file_without_a_full_log() {
    let (_db, path, store) = migrated_store().await;
    // Let the migrations' pages settle into the file first: longer than a checkpoint's round.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let before = file_size(&path);

    // A few dozen pages: far fewer than the log's length at which a commit checkpoints itself.
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

/// The salts in the log's header: SQLite changes them each time the log starts over from its
/// beginning.
fn log_salts(path: &str) -> Option<[u8; 8]> {
    let mut header = [0u8; 32];
    std::fs::File::open(format!("{path}-wal"))
        .ok()?
        .read_exact(&mut header)
        .ok()?;
    let mut salts = [0u8; 8];
    salts.copy_from_slice(&header[16..24]);
    Some(salts)
}

#[tokio::test]
async fn the_log_starts_over_while_writes_never_stop() {
    let (_db, path, store) = migrated_store().await;

    // One write after another, as in a storm of alerts, far fewer pages than the length at
    // which a commit checkpoints itself: the background checkpoint must let the log start over.
    let writing = Arc::new(AtomicBool::new(true));
    let writer = tokio::spawn({
        let store = store.clone();
        let writing = writing.clone();
        async move {
            let mut written = 0u32;
            while writing.load(Ordering::Relaxed) {
                let mut tx = store.write().await.expect("write");
                tx.record_audit("test", "log.test", &written.to_string())
                    .await
                    .expect("audit");
                tx.commit().await.expect("commit");
                written += 1;
            }
            written
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut first = None;
    while first.is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        first = log_salts(&path);
    }
    let first = first.expect("a log");
    let mut started_over = false;
    while !started_over && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        started_over = log_salts(&path).is_some_and(|salts| salts != first);
    }
    writing.store(false, Ordering::Relaxed);
    let written = writer.await.expect("writer");
    assert!(
        started_over,
        "the log of {path} started over during {written} writes without a pause"
    );
    let mut tx = store.read().await.expect("read");
    let last = tx.audit_log(1).await.expect("audit log");
    assert_eq!(
        last.first().map(|entry| entry.subject.clone()),
        Some((written - 1).to_string()),
        "the last write is there"
    );
}
