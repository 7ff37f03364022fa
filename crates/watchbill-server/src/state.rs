//! What every request handler can reach.

use std::sync::Arc;

use watchbill_core::Clock;
use watchbill_store::Store;

use crate::roster::RosterCache;

/// Shared, cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// The URL people reach this server at, used in links such as calendar feeds.
    pub public_url: String,
    pub roster: Arc<RosterCache>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, public_url: String) -> AppState {
        AppState {
            store,
            clock,
            public_url,
            roster: Arc::default(),
        }
    }
}
