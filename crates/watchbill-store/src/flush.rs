//! Group flushes of SQLite's log, apart from its commits.
//!
//! SQLite's own durable commit (`synchronous = FULL`) flushes the log to disk while the
//! transaction still holds the write lock, so no other write can begin during the flush, the
//! longest step of a commit. Instead the write connection commits without the flush
//! (`synchronous = NORMAL`, under which SQLite still flushes the log before each checkpoint and
//! when the log starts over) and releases the lock, and the [`LogFlusher`] flushes the log
//! afterwards, once for every commit that came before the flush began. A commit is not
//! acknowledged, and [`crate::Tx::commit`] does not return, before such a flush has finished.
//!
//! Architecture Invariant: nothing leaves the process because of a transaction (an answer, a
//! page, a webhook) before a flush that began after its commit has finished. Readers in the
//! process may see a commit a moment before it is flushed; whatever they do about it is
//! written in a later transaction, which the log keeps after it, so it is never durable when
//! the earlier one is not.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::StoreError;

/// Flushes a log to disk: `fdatasync` of SQLite's `-wal` file.
pub(crate) type LogSync = Arc<dyn Fn() -> std::io::Result<()> + Send + Sync>;

/// Counts commits and flushes, so that each commit waits for exactly one flush that covers
/// it, shared with every commit that came before that flush began.
pub(crate) struct LogFlusher {
    sync: LogSync,
    /// How many commits returned so far; the n-th commit is number n.
    committed: AtomicU64,
    /// Every commit up to this number is on disk.
    durable: AtomicU64,
    /// Held by the flush under way; the next waiter that finds its commit not yet durable
    /// flushes everything committed by then.
    flushing: tokio::sync::Mutex<()>,
    /// A flush failed: what it left on disk is unknown, so no later commit is called durable.
    failed: AtomicBool,
}

impl std::fmt::Debug for LogFlusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogFlusher")
            .field("committed", &self.committed)
            .field("durable", &self.durable)
            .field("failed", &self.failed)
            .finish()
    }
}

impl LogFlusher {
    pub(crate) fn new(sync: LogSync) -> LogFlusher {
        LogFlusher {
            sync,
            committed: AtomicU64::new(0),
            durable: AtomicU64::new(0),
            flushing: tokio::sync::Mutex::new(()),
            failed: AtomicBool::new(false),
        }
    }

    /// Numbers a commit that has just returned. Called while the write connection is still
    /// held, so the numbers follow the order of the commits in the log.
    pub(crate) fn committed(&self) -> u64 {
        self.committed.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Returns once commit `number` is on disk.
    async fn wait(&self, number: u64) -> Result<(), StoreError> {
        if self.durable.load(Ordering::SeqCst) >= number {
            return self.healthy();
        }
        let _turn = self.flushing.lock().await;
        self.healthy()?;
        if self.durable.load(Ordering::SeqCst) >= number {
            return Ok(());
        }
        // Every commit numbered up to here has written its part of the log, so this flush
        // covers all of them.
        let target = self.committed.load(Ordering::SeqCst);
        let sync = self.sync.clone();
        let flushed = tokio::task::spawn_blocking(move || sync())
            .await
            .unwrap_or_else(|joined| Err(std::io::Error::other(joined.to_string())));
        match flushed {
            Ok(()) => {
                self.durable.fetch_max(target, Ordering::SeqCst);
                Ok(())
            }
            Err(error) => {
                tracing::error!(%error, "flushing the database's log to disk failed; no further write will be acknowledged until the server restarts");
                self.failed.store(true, Ordering::SeqCst);
                Err(StoreError::Database(sqlx::Error::Io(error)))
            }
        }
    }

    fn healthy(&self) -> Result<(), StoreError> {
        if self.failed.load(Ordering::SeqCst) {
            return Err(StoreError::Database(sqlx::Error::Io(
                std::io::Error::other(
                    "an earlier flush of the database's log failed; restart the server",
                ),
            )));
        }
        Ok(())
    }
}

/// What a commit leaves to wait for before its transaction is durable. Await
/// [`Flush::wait`] before telling anyone the transaction happened.
#[derive(Debug)]
#[must_use = "a commit is durable only once its flush has been waited for"]
pub struct Flush(Option<(Arc<LogFlusher>, u64)>);

impl Flush {
    /// A commit that was durable when it returned.
    pub fn done() -> Flush {
        Flush(None)
    }

    pub(crate) fn pending(flusher: Arc<LogFlusher>, number: u64) -> Flush {
        Flush(Some((flusher, number)))
    }

    /// Returns once the transaction is on disk, or fails if flushing failed.
    pub async fn wait(self) -> Result<(), StoreError> {
        match self.0 {
            None => Ok(()),
            Some((flusher, number)) => flusher.wait(number).await,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    /// A flusher whose flushes record how many commits had returned when each began.
    fn recording(fail: bool) -> (Arc<LogFlusher>, Arc<Mutex<Vec<u64>>>) {
        let began = Arc::new(Mutex::new(Vec::new()));
        let flusher = Arc::new_cyclic(|weak: &std::sync::Weak<LogFlusher>| {
            let weak = weak.clone();
            let began = began.clone();
            LogFlusher::new(Arc::new(move || {
                let committed = weak
                    .upgrade()
                    .map(|f| f.committed.load(Ordering::SeqCst))
                    .unwrap_or(0);
                began.lock().unwrap().push(committed);
                std::thread::sleep(Duration::from_millis(2));
                if fail {
                    Err(std::io::Error::other("disk gone"))
                } else {
                    Ok(())
                }
            }))
        });
        (flusher, began)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_commit_waits_for_a_flush_that_began_after_it_and_flushes_are_shared() {
        let (flusher, began) = recording(false);
        let mut waiting = Vec::new();
        for _ in 0..200 {
            let number = flusher.committed();
            let flusher = flusher.clone();
            waiting.push(tokio::spawn(async move {
                Flush::pending(flusher.clone(), number)
                    .wait()
                    .await
                    .unwrap();
                // How far the log was on disk when this wait returned.
                (number, flusher.durable.load(Ordering::SeqCst))
            }));
            if number % 10 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        for waiter in waiting {
            let (number, durable) = waiter.await.unwrap();
            assert!(durable >= number, "commit {number} returned at {durable}");
        }
        let began = began.lock().unwrap().clone();
        assert_eq!(flusher.durable.load(Ordering::SeqCst), 200);
        assert!(
            began.len() < 200,
            "commits share flushes: {} flushes for 200 commits",
            began.len()
        );
        assert!(began.windows(2).all(|w| w[0] <= w[1]));
    }

    #[tokio::test]
    async fn a_commit_after_a_flush_waits_for_the_next_one() {
        let (flusher, began) = recording(false);
        let first = flusher.committed();
        Flush::pending(flusher.clone(), first).wait().await.unwrap();
        let second = flusher.committed();
        Flush::pending(flusher.clone(), second)
            .wait()
            .await
            .unwrap();
        assert_eq!(*began.lock().unwrap(), vec![1, 2]);
        // Waiting again for a commit already on disk flushes nothing.
        Flush::pending(flusher.clone(), first).wait().await.unwrap();
        assert_eq!(began.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn after_a_failed_flush_no_commit_is_called_durable() {
        let (flusher, _) = recording(true);
        let first = flusher.committed();
        assert!(Flush::pending(flusher.clone(), first).wait().await.is_err());
        let second = flusher.committed();
        assert!(Flush::pending(flusher.clone(), second)
            .wait()
            .await
            .is_err());
        assert!(Flush::pending(flusher, first).wait().await.is_err());
        assert!(Flush::done().wait().await.is_ok());
    }
}
