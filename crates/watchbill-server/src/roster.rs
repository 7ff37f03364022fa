//! The roster — teams, people, schedules and overrides — resolved once and shared while it
//! stays current.
//!
//! Who-is-on-call questions are far more frequent than roster changes, and answering one
//! for every schedule means loading and parsing all of them. Every committed roster change
//! increments a revision in the database, so a request needs one single-row read to know
//! whether the roster this process resolved earlier is still the roster; with several servers
//! on one PostgreSQL, each sees the others' changes the same way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use watchbill_core::schedule::Schedule as Resolved;
use watchbill_core::{ScheduleId, TeamId, UserId};
use watchbill_store::model::{Override, Schedule, Team, User};
use watchbill_store::Tx;

use crate::error::ApiResult;
use crate::paging::settings::PagingSettings;
use crate::resolve::core_schedule;

/// How far around an instant the resolver may look: up to 400 days back for the start of the
/// current stretch, and up to 400 days past its end for the next person.
pub const REACH: SignedDuration = SignedDuration::from_hours(24 * 820);

/// How far around the first instant asked about a roster loads overrides, so that nearby
/// instants are answered from the same roster.
const LOAD_REACH: SignedDuration = SignedDuration::from_hours(24 * 1200);

/// Everything needed to say who is on call, as of one roster revision.
#[derive(Debug)]
pub struct Roster {
    pub revision: i64,
    /// Overrides are loaded for `[from, to)`.
    pub from: Timestamp,
    pub to: Timestamp,
    pub teams: Vec<Team>,
    pub users: HashMap<UserId, User>,
    /// Ordered by team, then creation.
    pub schedules: Vec<Schedule>,
    pub resolved: HashMap<ScheduleId, Resolved>,
    /// Services, policies and people's reach, read on first use under this revision.
    pub paging: PagingSettings,
}

impl Roster {
    async fn load(
        tx: &mut dyn Tx,
        revision: i64,
        from: Timestamp,
        to: Timestamp,
    ) -> ApiResult<Roster> {
        let teams = tx.teams().await?;
        let mut schedules = tx.schedules(None).await?;
        schedules.sort_by_key(|s| (s.team_id, s.id));
        let users = tx.users().await?.into_iter().map(|u| (u.id, u)).collect();
        let mut overrides: HashMap<ScheduleId, Vec<Override>> = HashMap::new();
        for o in tx.overrides(None, from, to).await? {
            overrides.entry(o.schedule_id).or_default().push(o);
        }
        let by_id: HashMap<ScheduleId, &Schedule> = schedules.iter().map(|s| (s.id, s)).collect();
        let mut resolved = HashMap::with_capacity(schedules.len());
        for schedule in &schedules {
            let own = overrides.get(&schedule.id).map_or(&[][..], Vec::as_slice);
            resolved.insert(schedule.id, core_schedule(schedule, &by_id, own)?);
        }
        Ok(Roster {
            revision,
            from,
            to,
            teams,
            users,
            schedules,
            resolved,
            paging: PagingSettings::default(),
        })
    }

    /// The team's duty schedule: its first, the Captain On-Call in the seed's line-up. The
    /// week's captain is also the product-maintenance engineer.
    pub fn duty_schedule(&self, team: TeamId) -> Option<&Schedule> {
        self.schedules
            .iter()
            .filter(|s| s.team_id == team)
            .min_by_key(|s| s.id)
    }

    /// Who holds the team's duty at `at`.
    pub fn captain(&self, team: TeamId, at: Timestamp) -> Option<UserId> {
        let schedule = self.duty_schedule(team)?;
        self.resolved
            .get(&schedule.id)?
            .on_call_at(at)
            .map(|(user, _)| user)
    }

    fn covers(&self, at: Timestamp) -> bool {
        self.from <= at.saturating_sub(REACH).unwrap_or(at)
            && at.saturating_add(REACH).unwrap_or(at) <= self.to
    }
}

/// The most recently resolved roster of this process.
#[derive(Debug, Default)]
pub struct RosterCache {
    current: Mutex<Option<Arc<Roster>>>,
}

impl RosterCache {
    /// The roster as `tx` sees it, able to answer for instants around `at`. The revision is
    /// read first, so the roster and its revision come from the same snapshot.
    pub async fn get(&self, tx: &mut dyn Tx, at: Timestamp) -> ApiResult<Arc<Roster>> {
        let revision = tx.roster_revision().await?;
        let cached = self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(roster) = cached.filter(|r| r.revision == revision && r.covers(at)) {
            return Ok(roster);
        }
        let from = at.saturating_sub(LOAD_REACH).unwrap_or(at);
        let to = at.saturating_add(LOAD_REACH).unwrap_or(at);
        let roster = Arc::new(Roster::load(tx, revision, from, to).await?);
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        // Keep the newest revision when requests race.
        if current.as_ref().is_none_or(|c| c.revision <= revision) {
            *current = Some(roster.clone());
        }
        Ok(roster)
    }
}
