//! Taking work off a queue in batches, so one transaction serves whatever waited.

use tokio::sync::mpsc;

/// How many times the batch's task lets the other tasks ready on its thread run before the
/// batch is closed. Under load those are requests about to join the queue; each batch costs a
/// few statements however many jobs it holds, so gathering them into it (on SQLite, batches of
/// 28 requests on average instead of 22, and far fewer of one or two) takes more a second
/// (BENCHMARKS.md). With nothing else ready, a yield returns at once.
const YIELDS_BEFORE_A_BATCH: usize = 2;

/// Waits for the next job, then takes every job already waiting behind it, up to `max`.
/// `None` once the queue is closed and empty.
pub async fn next_batch<T>(receiver: &mut mpsc::Receiver<T>, max: usize) -> Option<Vec<T>> {
    let first = receiver.recv().await?;
    let mut jobs = vec![first];
    let mut yields = 0;
    loop {
        while jobs.len() < max {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        if yields == YIELDS_BEFORE_A_BATCH || jobs.len() >= max {
            return Some(jobs);
        }
        yields += 1;
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_takes_the_jobs_sent_while_it_lets_other_tasks_run() {
        let (sender, mut receiver) = mpsc::channel(8);
        sender.send(1).await.unwrap();
        let late = sender.clone();
        // On this one-threaded runtime the task runs only when the batch yields.
        tokio::spawn(async move { late.send(2).await.unwrap() });
        assert_eq!(next_batch(&mut receiver, 8).await, Some(vec![1, 2]));
    }

    #[tokio::test]
    async fn a_batch_holds_at_most_its_maximum_and_ends_with_the_queue() {
        let (sender, mut receiver) = mpsc::channel(8);
        for job in 1..=3 {
            sender.send(job).await.unwrap();
        }
        assert_eq!(next_batch(&mut receiver, 2).await, Some(vec![1, 2]));
        drop(sender);
        assert_eq!(next_batch(&mut receiver, 2).await, Some(vec![3]));
        assert_eq!(next_batch(&mut receiver, 2).await, None);
    }
}
