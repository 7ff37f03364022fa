//! What paging reads about services and people, kept with the roster it was read under.
//!
//! Every escalation pass asks the same things: the incident's service and its escalation
//! policy, and each paged person's contact methods and notification rules. They change far
//! less often than incidents fire, and every write of them moves the roster revision, as a
//! schedule's does. So what one pass reads is kept with the [`Roster`](crate::roster::Roster)
//! of that revision, and later passes that see the same revision are answered from memory
//! instead of a round trip each to the database.
//!
//! Entries are filled on first use from the transaction that asked, which read the same
//! revision first. Only successful reads are kept: a missing service or a broken policy is
//! asked again next time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use watchbill_core::paging::Policy;
use watchbill_core::{PolicyId, ServiceId, UserId};
use watchbill_store::paging::{ContactMethod, Incident, NotificationRule, Service};
use watchbill_store::{StoreError, Tx};

use super::actions::{self, ActionError};

/// How to reach one person: their contact methods and the rules that say when each is used.
#[derive(Debug)]
pub struct Reach {
    pub methods: Vec<ContactMethod>,
    pub rules: Vec<NotificationRule>,
}

impl Reach {
    /// The person's contact methods and rules as `tx` sees them.
    pub async fn read(tx: &mut dyn Tx, user: UserId) -> Result<Reach, StoreError> {
        Ok(Reach {
            methods: tx.contact_methods(user).await?,
            rules: tx.rules(user).await?,
        })
    }
}

/// Services, escalation policies and people's reach as of one roster revision.
#[derive(Debug, Default)]
pub struct PagingSettings {
    services: Mutex<HashMap<ServiceId, Arc<Service>>>,
    policies: Mutex<HashMap<PolicyId, Arc<Policy>>>,
    reach: Mutex<HashMap<UserId, Arc<Reach>>>,
}

impl PagingSettings {
    /// The service, read through `tx` the first time.
    pub async fn service(
        &self,
        tx: &mut dyn Tx,
        id: ServiceId,
    ) -> Result<Arc<Service>, StoreError> {
        if let Some(known) = lookup(&self.services, &id) {
            return Ok(known);
        }
        let service = Arc::new(tx.service(id).await?);
        remember(&self.services, id, service.clone());
        Ok(service)
    }

    /// The escalation policy of the incident's service, or `None` when it has none.
    pub async fn incident_policy(
        &self,
        tx: &mut dyn Tx,
        incident: &Incident,
    ) -> Result<Option<Arc<Policy>>, ActionError> {
        let service = self.service(tx, incident.service_id).await?;
        let Some(id) = service.escalation_policy_id else {
            return Ok(None);
        };
        if let Some(known) = lookup(&self.policies, &id) {
            return Ok(Some(known));
        }
        let policy = Arc::new(actions::core_policy(tx, id).await?);
        remember(&self.policies, id, policy.clone());
        Ok(Some(policy))
    }

    /// The person's contact methods and notification rules.
    pub async fn reach(&self, tx: &mut dyn Tx, user: UserId) -> Result<Arc<Reach>, StoreError> {
        if let Some(known) = lookup(&self.reach, &user) {
            return Ok(known);
        }
        let reach = Arc::new(Reach::read(tx, user).await?);
        remember(&self.reach, user, reach.clone());
        Ok(reach)
    }
}

// The locks are held only to look up or insert, never across a read from the database.

fn lookup<K: std::hash::Hash + Eq, V>(map: &Mutex<HashMap<K, Arc<V>>>, key: &K) -> Option<Arc<V>> {
    map.lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(key)
        .cloned()
}

fn remember<K: std::hash::Hash + Eq, V>(map: &Mutex<HashMap<K, Arc<V>>>, key: K, value: Arc<V>) {
    map.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, value);
}
