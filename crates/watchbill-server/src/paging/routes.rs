//! The routes intake remembers from one batch to the next.
//!
//! In a storm every batch names the same few routing keys, and reading their routes again was a
//! large part of each batch's time. So they are remembered with the paging revision
//! ([`watchbill_store::Routing::revision`]) they were read at. A batch reads the routes of the
//! keys it does not remember only. When the revision has moved, it forgets every route, reads
//! each key again, and checks the open incidents it remembers too. A remembered route also
//! lapses at the next start or end of one of its service's maintenance windows, which change
//! nothing in the database when they come.

use std::collections::HashMap;

use jiff::Timestamp;
use watchbill_store::paging::IntakeRoute;

/// How many keys are remembered at most; past that, all are forgotten. Each unknown key a
/// sender tries is remembered as unknown, so this bounds what a stream of made-up keys costs.
const REMEMBERED_AT_MOST: usize = 10_000;

/// How the paging revision stands at a batch's start, against the one the last batch that
/// committed began at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revision {
    /// The same: nothing remembered has changed since.
    Unchanged,
    /// Another: anything remembered may have.
    Moved,
    /// The backend keeps none: anything remembered may have changed.
    NotKept,
}

#[derive(Debug, Default)]
pub struct RouteMemory {
    /// The paging revision at which every route here was read; `None` when the backend keeps
    /// none, and then nothing is remembered.
    revision: Option<i64>,
    /// Each key's route; `None` for a key no integration has.
    routes: HashMap<String, Option<IntakeRoute>>,
}

impl RouteMemory {
    /// Of `secrets`, those whose routes a batch beginning about `now` must read.
    pub fn unknown(&self, secrets: &[String], now: Timestamp) -> Vec<String> {
        secrets
            .iter()
            .filter(|secret| self.route(secret, now).is_none())
            .cloned()
            .collect()
    }

    /// Takes in what a batch's start read: the revision, and the routes of `asked`. Returns
    /// whether the revision moved since the last batch that committed began; if it did, every
    /// route remembered before is forgotten.
    pub fn begin(
        &mut self,
        revision: Option<i64>,
        asked: Vec<String>,
        routes: Vec<Option<IntakeRoute>>,
    ) -> Revision {
        let since = match revision {
            None => Revision::NotKept,
            Some(_) if revision == self.revision => Revision::Unchanged,
            Some(_) => Revision::Moved,
        };
        if since != Revision::Unchanged || self.routes.len() > REMEMBERED_AT_MOST {
            self.routes.clear();
        }
        self.revision = revision;
        if revision.is_some() {
            self.routes.extend(asked.into_iter().zip(routes));
        }
        since
    }

    /// The route of `secret` at `now` (`Some(None)`: no integration has it), if remembered and
    /// still right.
    pub fn route(&self, secret: &str, now: Timestamp) -> Option<&Option<IntakeRoute>> {
        self.routes.get(secret).filter(|route| {
            route
                .as_ref()
                .is_none_or(|route| route.maintenance_holds_at(now))
        })
    }
}
