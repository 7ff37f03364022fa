//! The routes intake remembers from one batch to the next.
//!
//! In a storm every batch names the same few routing keys, and reading their routes again is
//! work each batch can skip. So they are remembered with the paging revision
//! ([`watchbill_store::Routing::revision`]) they were read at, and a batch reads the routes of
//! the keys it does not remember only. When the revision has moved, it forgets every route and
//! reads each key again, and forgets the open incidents it remembers too (`batch.rs`). A
//! remembered route also lapses at the next start or end of one of its service's maintenance
//! windows, which change nothing in the database when they come.

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
    /// none, and then the routes here serve one batch only.
    revision: Option<i64>,
    /// Each key's route; `None` for a key no integration has.
    routes: HashMap<String, Option<IntakeRoute>>,
}

impl RouteMemory {
    /// Of `secrets`, those whose routes a batch beginning about `now` must read: all of them
    /// where the backend keeps no revision.
    pub fn unknown(&self, secrets: &[String], now: Timestamp) -> Vec<String> {
        if self.revision.is_none() {
            return secrets.to_vec();
        }
        secrets
            .iter()
            .filter(|secret| self.route(secret, now).is_none())
            .cloned()
            .collect()
    }

    /// Takes in what a batch's start read: the revision, and the routes of `asked`, which the
    /// batch then finds with [`RouteMemory::route`]. Returns whether the revision moved since
    /// the last batch that committed began; if it did, or the backend keeps none, every route
    /// remembered before is forgotten.
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
        self.routes.extend(asked.into_iter().zip(routes));
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use jiff::{SignedDuration, Timestamp};
    use watchbill_core::paging::Urgency;
    use watchbill_core::{IntegrationId, ServiceId, TeamId};
    use watchbill_store::paging::{IntakeRoute, Integration, IntegrationKind, Service};

    use super::{Revision, RouteMemory};

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    /// The route of `secret`, in maintenance until `changes_at` if given.
    fn route(secret: &str, changes_at: Option<Timestamp>) -> Option<IntakeRoute> {
        Some(IntakeRoute {
            integration: Integration {
                id: IntegrationId(1),
                service_id: ServiceId(1),
                kind: IntegrationKind::EventsV2,
                name: "Events API v2".to_owned(),
                secret: secret.to_owned(),
                rate_per_minute: 1200,
                created_at: at(0),
            },
            service: Service {
                id: ServiceId(1),
                team_id: TeamId(1),
                name: "Course platform".to_owned(),
                description: String::new(),
                escalation_policy_id: None,
                default_urgency: Urgency::High,
                low_urgency_tickets: false,
                created_at: at(0),
                updated_at: at(0),
            },
            in_maintenance: changes_at.is_some(),
            maintenance_changes_at: changes_at,
        })
    }

    fn keys(keys: &[&str]) -> Vec<String> {
        keys.iter().map(|key| (*key).to_owned()).collect()
    }

    #[test]
    fn routes_are_asked_once_while_the_revision_stands() {
        let mut memory = RouteMemory::default();
        let both = keys(&["a", "nobody"]);
        assert_eq!(
            memory.unknown(&both, at(1)),
            both,
            "nothing is known at first"
        );
        let since = memory.begin(Some(7), both.clone(), vec![route("a", None), None]);
        assert_eq!(since, Revision::Moved);
        assert_eq!(memory.route("a", at(1)), Some(&route("a", None)));
        assert_eq!(
            memory.route("nobody", at(1)),
            Some(&None),
            "unknown, and known so"
        );

        assert!(memory.unknown(&both, at(2)).is_empty());
        assert_eq!(
            memory.begin(Some(7), Vec::new(), Vec::new()),
            Revision::Unchanged
        );
        assert_eq!(memory.route("a", at(2)), Some(&route("a", None)));

        // A key not seen before is asked alone.
        let three = keys(&["a", "b", "nobody"]);
        assert_eq!(memory.unknown(&three, at(3)), keys(&["b"]));
        memory.begin(Some(7), keys(&["b"]), vec![route("b", None)]);
        assert!(memory.route("b", at(3)).is_some());

        // The revision moved: all is forgotten but what this batch read.
        assert_eq!(
            memory.begin(Some(8), keys(&["b"]), vec![route("b", None)]),
            Revision::Moved
        );
        assert_eq!(memory.route("a", at(4)), None);
        assert!(memory.route("b", at(4)).is_some());
    }

    #[test]
    fn a_route_lapses_when_its_maintenance_starts_or_ends() {
        let mut memory = RouteMemory::default();
        let ends = at(60);
        memory.begin(Some(1), keys(&["a"]), vec![route("a", Some(ends))]);
        assert!(memory
            .route("a", ends - SignedDuration::from_secs(1))
            .is_some());
        assert_eq!(memory.route("a", ends), None);
        assert_eq!(memory.unknown(&keys(&["a"]), ends), keys(&["a"]));
    }

    #[test]
    fn without_a_revision_every_key_is_asked_each_batch() {
        let mut memory = RouteMemory::default();
        let one = keys(&["a"]);
        for _ in 0..2 {
            assert_eq!(memory.unknown(&one, at(1)), one);
            let since = memory.begin(None, one.clone(), vec![route("a", None)]);
            assert_eq!(since, Revision::NotKept);
            assert_eq!(
                memory.route("a", at(1)),
                Some(&route("a", None)),
                "for this batch"
            );
        }
    }
}
