//! The paging rules: what an incoming event does to an incident, and how escalation climbs.
//!
//! Nothing here knows about HTTP, mail or storage; the intake and the engine ask these
//! functions and carry out the answer.

use std::fmt;
use std::str::FromStr;

use jiff::{SignedDuration, Timestamp};

/// What an event asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventAction {
    Trigger,
    Acknowledge,
    Resolve,
}

impl EventAction {
    /// The name `FromStr` reads back.
    pub fn as_str(self) -> &'static str {
        match self {
            EventAction::Trigger => "trigger",
            EventAction::Acknowledge => "acknowledge",
            EventAction::Resolve => "resolve",
        }
    }
}

impl FromStr for EventAction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "trigger" => Ok(EventAction::Trigger),
            "acknowledge" => Ok(EventAction::Acknowledge),
            "resolve" => Ok(EventAction::Resolve),
            other => Err(format!(
                "`{other}` is not an event action; use trigger, acknowledge or resolve"
            )),
        }
    }
}

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IncidentStatus {
    Triggered,
    Acknowledged,
    Resolved,
}

impl IncidentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Triggered => "triggered",
            IncidentStatus::Acknowledged => "acknowledged",
            IncidentStatus::Resolved => "resolved",
        }
    }

    pub fn is_open(self) -> bool {
        self != IncidentStatus::Resolved
    }
}

impl fmt::Display for IncidentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IncidentStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "triggered" => Ok(IncidentStatus::Triggered),
            "acknowledged" => Ok(IncidentStatus::Acknowledged),
            "resolved" => Ok(IncidentStatus::Resolved),
            other => Err(format!("`{other}` is not an incident status")),
        }
    }
}

/// How loudly an incident calls: high pages at once; low pages nobody and waits in the
/// team's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Urgency {
    High,
    Low,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::High => "high",
            Urgency::Low => "low",
        }
    }
}

impl FromStr for Urgency {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "high" => Ok(Urgency::High),
            "low" => Ok(Urgency::Low),
            other => Err(format!("`{other}` is not an urgency; use high or low")),
        }
    }
}

/// What an event does, given the open incident with the same dedup key, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Open a new incident (and page, unless something holds paging back).
    Open,
    /// Add the event as another alert of the open incident; page nobody again.
    AddAlert,
    Acknowledge,
    Resolve,
    /// Record the event and change nothing (an acknowledgement of nothing, say).
    Record,
}

/// The dedup rule: one open incident per service and dedup key.
pub fn outcome(action: EventAction, open: Option<IncidentStatus>) -> Outcome {
    match (action, open.filter(|status| status.is_open())) {
        (EventAction::Trigger, None) => Outcome::Open,
        (EventAction::Trigger, Some(_)) => Outcome::AddAlert,
        (EventAction::Acknowledge, Some(IncidentStatus::Triggered)) => Outcome::Acknowledge,
        (EventAction::Resolve, Some(_)) => Outcome::Resolve,
        (EventAction::Acknowledge | EventAction::Resolve, _) => Outcome::Record,
    }
}

/// How long an incident must go without alerts before a repeat gets a timeline line again.
pub const ALERT_QUIET: SignedDuration = SignedDuration::from_secs(60);

/// Whether a repeated alert gets a line of its own on the incident's timeline, given how many
/// alerts the incident had before it (the one that opened it included) and when the last came.
/// The first repeat does, and so does any that comes after [`ALERT_QUIET`] without alerts: an
/// alert storm shows as the incident's alert count, its last alert and its list of events,
/// not as thousands of identical lines burying what people did.
pub fn alert_line_due(alerts_before: i64, last_alert_at: Timestamp, now: Timestamp) -> bool {
    alerts_before <= 1 || now.duration_since(last_alert_at) >= ALERT_QUIET
}

/// Who a level of an escalation policy calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// Whoever is on call on the schedule when the level fires.
    Schedule(crate::ScheduleId),
    User(crate::UserId),
    /// One member of the team, taking turns across incidents.
    Team(crate::TeamId),
}

/// One level: whom to page, and how long to wait before the next level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    pub targets: Vec<Target>,
    pub delay: SignedDuration,
}

/// An escalation policy: levels tried in order, the whole list `repeat` more times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    levels: Vec<Level>,
    repeat: u32,
}

/// Why a policy is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("a policy needs at least one level")]
    NoLevels,
    #[error("level {0} has no targets")]
    NoTargets(usize),
    #[error("level {0} waits a negative time")]
    NegativeDelay(usize),
}

/// A place in a policy: the level, and which pass through the levels this is (0 first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Step {
    pub level: usize,
    pub pass: u32,
}

impl Policy {
    pub fn new(levels: Vec<Level>, repeat: u32) -> Result<Policy, PolicyError> {
        if levels.is_empty() {
            return Err(PolicyError::NoLevels);
        }
        for (i, level) in levels.iter().enumerate() {
            if level.targets.is_empty() {
                return Err(PolicyError::NoTargets(i));
            }
            if level.delay.is_negative() {
                return Err(PolicyError::NegativeDelay(i));
            }
        }
        Ok(Policy { levels, repeat })
    }

    pub fn levels(&self) -> &[Level] {
        &self.levels
    }

    pub fn repeat(&self) -> u32 {
        self.repeat
    }

    /// The level a step pages, if the step is within the policy.
    pub fn level(&self, step: Step) -> Option<&Level> {
        (step.pass <= self.repeat)
            .then(|| self.levels.get(step.level))
            .flatten()
    }

    /// The step after `step`, or `None` when the policy is exhausted.
    pub fn next(&self, step: Step) -> Option<Step> {
        let next = if step.level + 1 < self.levels.len() {
            Step {
                level: step.level + 1,
                pass: step.pass,
            }
        } else {
            Step {
                level: 0,
                pass: step.pass + 1,
            }
        };
        self.level(next).map(|_| next)
    }

    /// When the step after `step` is due, if there is one, given that `step` fired at `fired`.
    pub fn next_due(&self, step: Step, fired: Timestamp) -> Option<(Step, Timestamp)> {
        let delay = self.level(step)?.delay;
        let next = self.next(step)?;
        Some((next, fired.saturating_add(delay).unwrap_or(fired)))
    }
}

/// When a low-urgency page may go out: now, unless it is night (22:00 to 08:00) on the
/// person's wall clock, in which case 08:00 the next morning. High urgency ignores this.
pub fn daytime(at: Timestamp, zone: &jiff::tz::TimeZone) -> Timestamp {
    const MORNING: i8 = 8;
    const EVENING: i8 = 22;
    let local = at.to_zoned(zone.clone());
    let hour = local.hour();
    if (MORNING..EVENING).contains(&hour) {
        return at;
    }
    let day = if hour >= EVENING {
        local.date().tomorrow().unwrap_or(local.date())
    } else {
        local.date()
    };
    day.at(MORNING, 0, 0, 0)
        .to_zoned(zone.clone())
        .map(|morning| morning.timestamp())
        .unwrap_or(at)
}

/// Picks the member of a team whose turn it is for the `n`th incident paged through it.
pub fn round_robin<T: Copy>(members: &[T], n: u64) -> Option<T> {
    if members.is_empty() {
        return None;
    }
    let index = usize::try_from(n % members.len() as u64).unwrap_or(0);
    members.get(index).copied()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{ScheduleId, UserId};

    #[test]
    fn event_actions_read_back_what_they_print() {
        for action in [
            EventAction::Trigger,
            EventAction::Acknowledge,
            EventAction::Resolve,
        ] {
            assert_eq!(action.as_str().parse::<EventAction>(), Ok(action));
        }
    }
    use proptest::prelude::*;

    proptest! {
        /// The first repeat always shows; later ones only after a quiet minute.
        #[test]
        fn alert_lines_show_the_first_repeat_and_returns_after_quiet(
            alerts_before in 1i64..10_000,
            since_last in 0i64..3_600,
        ) {
            let last = Timestamp::from_second(1_700_000_000).unwrap();
            let now = last + SignedDuration::from_secs(since_last);
            prop_assert_eq!(
                alert_line_due(alerts_before, last, now),
                alerts_before == 1 || since_last >= 60
            );
        }
    }

    fn policy(repeat: u32) -> Policy {
        Policy::new(
            vec![
                Level {
                    targets: vec![Target::Schedule(ScheduleId(1))],
                    delay: SignedDuration::from_secs(300),
                },
                Level {
                    targets: vec![Target::Schedule(ScheduleId(2)), Target::User(UserId(9))],
                    delay: SignedDuration::from_secs(600),
                },
            ],
            repeat,
        )
        .unwrap()
    }

    #[test]
    fn dedup_rules() {
        use EventAction::*;
        use IncidentStatus::*;
        assert_eq!(outcome(Trigger, None), Outcome::Open);
        assert_eq!(
            outcome(Trigger, Some(Resolved)),
            Outcome::Open,
            "a trigger after resolve opens anew"
        );
        assert_eq!(outcome(Trigger, Some(Triggered)), Outcome::AddAlert);
        assert_eq!(outcome(Trigger, Some(Acknowledged)), Outcome::AddAlert);
        assert_eq!(outcome(Acknowledge, Some(Triggered)), Outcome::Acknowledge);
        assert_eq!(outcome(Acknowledge, Some(Acknowledged)), Outcome::Record);
        assert_eq!(outcome(Acknowledge, None), Outcome::Record);
        assert_eq!(outcome(Resolve, Some(Acknowledged)), Outcome::Resolve);
        assert_eq!(outcome(Resolve, None), Outcome::Record);
    }

    #[test]
    fn escalation_climbs_then_repeats_then_stops() {
        let policy = policy(1);
        let t0: Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
        let (step, due) = policy.next_due(Step::default(), t0).unwrap();
        assert_eq!(step, Step { level: 1, pass: 0 });
        assert_eq!(due.to_string(), "2026-11-26T12:05:00Z");
        let (step, due) = policy.next_due(step, due).unwrap();
        assert_eq!(step, Step { level: 0, pass: 1 });
        assert_eq!(due.to_string(), "2026-11-26T12:15:00Z");
        let (step, _) = policy.next_due(step, due).unwrap();
        assert_eq!(step, Step { level: 1, pass: 1 });
        assert_eq!(
            policy.next_due(step, due),
            None,
            "after the last repeat nothing is due"
        );
        assert_eq!(self::policy(0).next(Step { level: 1, pass: 0 }), None);
    }

    #[test]
    fn bad_policies_are_refused() {
        assert_eq!(Policy::new(vec![], 0), Err(PolicyError::NoLevels));
        let empty = Level {
            targets: vec![],
            delay: SignedDuration::ZERO,
        };
        assert_eq!(Policy::new(vec![empty], 0), Err(PolicyError::NoTargets(0)));
    }

    #[test]
    fn low_urgency_waits_for_the_morning() {
        let la = jiff::tz::TimeZone::get("America/Los_Angeles").unwrap();
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        // 14:00 in Los Angeles: at once.
        assert_eq!(
            daytime(at("2026-11-26T22:00:00Z"), &la),
            at("2026-11-26T22:00:00Z")
        );
        // 04:00: at 08:00 the same day.
        assert_eq!(
            daytime(at("2026-11-26T12:00:00Z"), &la),
            at("2026-11-26T16:00:00Z")
        );
        // 23:30: at 08:00 the next day.
        assert_eq!(
            daytime(at("2026-11-27T07:30:00Z"), &la),
            at("2026-11-27T16:00:00Z")
        );
        // The night the clocks spring forward: 08:00 is already daylight time.
        assert_eq!(
            daytime(at("2027-03-14T10:00:00Z"), &la),
            at("2027-03-14T15:00:00Z")
        );
    }

    #[test]
    fn round_robin_takes_turns() {
        assert_eq!(round_robin(&[1, 2, 3], 0), Some(1));
        assert_eq!(round_robin(&[1, 2, 3], 4), Some(2));
        assert_eq!(round_robin::<u8>(&[], 4), None);
    }
}
