//! Trying a write transaction again when the database says the collision was not its fault:
//! a deadlock, a serialization failure, a unique-key race with another server, or a busy
//! SQLite file. Each retry waits a little longer than the last, with jitter, so writers that
//! collided do not collide again in step.

use std::future::Future;
use std::time::Duration;

use watchbill_store::StoreError;

/// An error that may have come from the store, and so may say "try the whole transaction
/// again".
pub trait FromStore {
    fn store_error(&self) -> Option<&StoreError>;
}

impl FromStore for StoreError {
    fn store_error(&self) -> Option<&StoreError> {
        Some(self)
    }
}

/// Runs `attempt` up to `tries` times, for as long as it fails with a retryable error.
/// `attempt` must open, fill and commit its own transaction, so that a retry starts afresh.
pub async fn with_retries<T, E, F, Fut>(tries: u32, mut attempt: F) -> Result<T, E>
where
    E: FromStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut tried: u32 = 0;
    loop {
        tried += 1;
        match attempt().await {
            Err(error) if tried < tries => match error.store_error() {
                Some(store) if store.is_retryable() => {
                    tracing::debug!(error = %store, tried, "a write collided with another; trying again");
                    tokio::time::sleep(pause(tried)).await;
                }
                _ => return Err(error),
            },
            other => return other,
        }
    }
}

/// How long to wait after the `tried`th failed attempt: up to 4 ms after the first, doubling
/// each time up to half a second.
fn pause(tried: u32) -> Duration {
    let ceiling = 2u64.saturating_pow(tried.min(8)).saturating_mul(2);
    Duration::from_millis(rand::Rng::gen_range(&mut rand::thread_rng(), 1..=ceiling))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A unique-key race is retryable; a missing row is not.
    fn failure(retryable: bool) -> StoreError {
        if retryable {
            StoreError::Conflict {
                what: "a row".into(),
            }
        } else {
            StoreError::not_found("a row")
        }
    }

    #[tokio::test]
    async fn retryable_failures_are_tried_again_until_one_succeeds() {
        let calls = Cell::new(0);
        let result = with_retries(5, || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(failure(true))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(result.ok(), Some(3));
    }

    /// How many times an attempt that always fails is made, and whether the failure came back.
    async fn attempts_when_always_failing(tries: u32, retryable: bool) -> (usize, bool) {
        let calls = Cell::new(0);
        let result: Result<(), StoreError> = with_retries(tries, || {
            calls.set(calls.get() + 1);
            async move { Err(failure(retryable)) }
        })
        .await;
        (calls.get(), result.is_err())
    }

    #[tokio::test]
    async fn other_failures_and_the_last_try_are_returned() {
        let (calls, failed) = attempts_when_always_failing(5, false).await;
        assert!(failed);
        assert_eq!(calls, 1);

        let (calls, failed) = attempts_when_always_failing(4, true).await;
        assert!(failed);
        assert_eq!(calls, 4);
    }

    #[test]
    fn pauses_grow_and_stay_bounded() {
        for tried in 1..20 {
            let ceiling = Duration::from_millis(2u64.pow(tried.min(8)) * 2);
            assert!(pause(tried) <= ceiling);
            assert!(pause(tried) >= Duration::from_millis(1));
        }
    }
}
