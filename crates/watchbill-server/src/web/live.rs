//! Live pages: one task per server watches the store's activity counter and tells every open
//! wall when it moves. The counter lives in the database, so a change committed by any server
//! reaches walls served by every server.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::watch;
use watchbill_store::Store;

/// How often the counter is read while anyone is watching.
const POLL: Duration = Duration::from_millis(500);

/// The activity counter as last read, shared by every live page of this server.
#[derive(Debug, Clone)]
pub struct LiveFeed {
    revision: Arc<watch::Sender<i64>>,
}

impl LiveFeed {
    /// Starts the watcher. It reads the store only while at least one page listens: the
    /// feed itself holds no receiver, so the count is the open walls'.
    pub fn start(store: Arc<dyn Store>) -> LiveFeed {
        let (sender, _) = watch::channel(0);
        let revision = Arc::new(sender);
        let watcher = revision.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(POLL);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                ticker.tick().await;
                if watcher.receiver_count() == 0 {
                    continue;
                }
                let read = async {
                    let mut tx = store.read().await?;
                    tx.activity_revision().await
                };
                match read.await {
                    Ok(now) => {
                        watcher.send_if_modified(|seen| {
                            let changed = *seen != now;
                            *seen = now;
                            changed
                        });
                    }
                    Err(error) => tracing::warn!(%error, "reading the activity counter failed"),
                }
            }
        });
        LiveFeed { revision }
    }

    /// A server-sent event stream that says `changed` whenever the counter moves.
    pub fn events(&self) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
        let receiver = self.revision.subscribe();
        let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.changed().await.ok()?;
            let revision = *receiver.borrow_and_update();
            Some((
                Ok(Event::default().event("changed").data(revision.to_string())),
                receiver,
            ))
        });
        Sse::new(stream).keep_alive(KeepAlive::default())
    }
}
