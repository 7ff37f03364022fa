//! Taking work off a queue in batches, so one transaction serves whatever waited.

use tokio::sync::mpsc;

/// Waits for the next job, then takes every job already waiting behind it, up to `max`.
/// `None` once the queue is closed and empty.
pub async fn next_batch<T>(receiver: &mut mpsc::Receiver<T>, max: usize) -> Option<Vec<T>> {
    let first = receiver.recv().await?;
    let mut jobs = vec![first];
    while jobs.len() < max {
        match receiver.try_recv() {
            Ok(job) => jobs.push(job),
            Err(_) => break,
        }
    }
    Some(jobs)
}
