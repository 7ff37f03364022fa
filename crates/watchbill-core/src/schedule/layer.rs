//! A layer: one rotation of people taking turns, optionally limited to restriction windows.

use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::local_time::{civil_datetime, civil_seconds, first_instant_at_or_after, local_seconds};
use super::restriction::{active_windows, is_active, Restriction};
use super::turn::{HandoffAnchor, TurnLength};
use super::ScheduleError;
use crate::UserId;

/// What a layer is made of, as a user declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerSpec {
    pub name: String,
    /// The people in rotation order.
    pub participants: Vec<UserId>,
    pub turn: TurnLength,
    /// Where handoffs fall on the schedule's wall clock.
    pub handoff: HandoffAnchor,
    /// The layer is active from here on; `participants[offset]` holds the turn containing it.
    pub start: Timestamp,
    pub end: Option<Timestamp>,
    /// Empty means always active.
    pub restrictions: Vec<Restriction>,
    /// How many places along the rotation starts: a secondary that is "the same rotation,
    /// one person along" is the primary's layers with offset 1.
    pub offset: usize,
}

/// A validated layer, ready to answer questions in its schedule's zone.
#[derive(Debug, Clone)]
pub struct Layer {
    spec: LayerSpec,
    /// Civil seconds of the handoff that begins turn 0 (the turn containing `start`).
    anchor: i64,
    /// The turn length in civil seconds.
    turn: i64,
}

impl Layer {
    pub fn new(spec: LayerSpec, zone: &TimeZone) -> Result<Layer, ScheduleError> {
        if spec.participants.is_empty() {
            return Err(ScheduleError::EmptyRotation);
        }
        if spec.end.is_some_and(|end| end <= spec.start) {
            return Err(ScheduleError::EndNotAfterStart);
        }
        if spec.restrictions.iter().any(|r| r.days.is_empty()) {
            return Err(ScheduleError::RestrictionWithoutDays);
        }
        // `TurnLength` is a plain enum, so a zero-length turn can reach here without going
        // through its parser; it must be refused before the arithmetic below divides by it.
        if !spec.turn.is_valid() {
            return Err(ScheduleError::InvalidTurn(spec.turn.to_string()));
        }
        let turn = spec.turn.civil_seconds();
        let start_local = local_seconds(zone, spec.start);
        let start_datetime = civil_datetime(start_local).ok_or(ScheduleError::OutOfRange)?;
        let mut anchor = civil_seconds(spec.handoff.latest_at_or_before(start_datetime));
        // For turns shorter than the anchor's period (say 12 hours anchored at 08:00), step
        // forward to the last handoff at or before the start.
        anchor += (start_local - anchor).div_euclid(turn) * turn;
        let mut layer = Layer { spec, anchor, turn };
        // The wall clock may read the anchor time on the other side of the start when a DST
        // change sits between them; re-base so that turn 0 is exactly the one containing it.
        let k = layer.turn_at(zone, layer.spec.start);
        layer.anchor += k * layer.turn;
        Ok(layer)
    }

    pub fn spec(&self) -> &LayerSpec {
        &self.spec
    }

    /// The same rotation, `places` people further along.
    pub fn shifted_by(&self, places: usize) -> Layer {
        let mut layer = self.clone();
        let n = layer.spec.participants.len();
        // Wrapping at 2^64 would break the count round the rotation (2^64 is rarely a multiple
        // of `n`), so on overflow add the two positions modulo `n` instead; both remainders are
        // below `n`, which is a slice length, so their sum cannot overflow.
        layer.spec.offset = match layer.spec.offset.checked_add(places) {
            Some(offset) => offset,
            None => layer.spec.offset % n + places % n,
        };
        layer
    }

    /// The instant turn `k` begins.
    fn handoff(&self, zone: &TimeZone, k: i64) -> Timestamp {
        first_instant_at_or_after(
            zone,
            self.anchor.saturating_add(k.saturating_mul(self.turn)),
        )
    }

    /// The turn in progress at `at`: handoff(k) <= at < handoff(k + 1).
    fn turn_at(&self, zone: &TimeZone, at: Timestamp) -> i64 {
        let mut k = (local_seconds(zone, at) - self.anchor).div_euclid(self.turn);
        // The estimate from wall-clock time is off by at most one turn around a DST change.
        while self.handoff(zone, k) > at {
            k -= 1;
        }
        loop {
            let next = self.handoff(zone, k + 1);
            // Every handoff past the end of jiff's range clamps to `Timestamp::MAX`, which no
            // real handoff can equal (handoffs fall on whole seconds, and it does not). Such a
            // turn never begins; stepping onto it would loop forever when `at` is the maximum.
            if next > at || next == Timestamp::MAX {
                return k;
            }
            k += 1;
        }
    }

    fn person(&self, k: i64) -> UserId {
        let n = self.spec.participants.len();
        // Reduce the offset as a `usize`: casting it to `i64` first would turn offsets of 2^63
        // and above negative and count them round the rotation from the wrong place. Both
        // remainders are below `n`, a slice length, so the sum cannot overflow, and the cast of
        // `k`'s remainder is lossless because it is in `0..n`.
        let turn = k.rem_euclid(n as i64) as usize;
        let index = (turn + self.spec.offset % n) % n;
        self.spec.participants[index]
    }

    fn within_bounds(&self, at: Timestamp) -> bool {
        at >= self.spec.start && self.spec.end.is_none_or(|end| at < end)
    }

    /// Who this layer puts on call at `at`, if anyone.
    pub fn on_call_at(&self, zone: &TimeZone, at: Timestamp) -> Option<UserId> {
        if !self.within_bounds(at) || !is_active(&self.spec.restrictions, zone, at) {
            return None;
        }
        Some(self.person(self.turn_at(zone, at)))
    }

    /// The stretches of `[from, to)` in which this layer has someone, sorted and disjoint.
    pub fn segments(
        &self,
        zone: &TimeZone,
        from: Timestamp,
        to: Timestamp,
    ) -> Vec<(Timestamp, Timestamp, UserId)> {
        let from = from.max(self.spec.start);
        let to = self.spec.end.map_or(to, |end| to.min(end));
        let mut turns = Vec::new();
        if from >= to {
            return turns;
        }
        let mut k = self.turn_at(zone, from);
        let mut start = self.handoff(zone, k);
        while start < to {
            let end = self.handoff(zone, k + 1);
            let (clipped_start, clipped_end) = (start.max(from), end.min(to));
            if clipped_start < clipped_end {
                turns.push((clipped_start, clipped_end, self.person(k)));
            }
            k += 1;
            start = end;
        }
        if self.spec.restrictions.is_empty() {
            return turns;
        }
        intersect(
            &turns,
            &active_windows(&self.spec.restrictions, zone, from, to),
        )
    }
}

/// The parts of `turns` that lie inside `windows`; both sorted and disjoint.
fn intersect(
    turns: &[(Timestamp, Timestamp, UserId)],
    windows: &[(Timestamp, Timestamp)],
) -> Vec<(Timestamp, Timestamp, UserId)> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < turns.len() && j < windows.len() {
        let (turn_start, turn_end, user) = turns[i];
        let (window_start, window_end) = windows[j];
        let start = turn_start.max(window_start);
        let end = turn_end.min(window_end);
        if start < end {
            out.push((start, end, user));
        }
        if turn_end <= window_end {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::schedule::{Schedule, ScheduleError};

    fn la() -> TimeZone {
        TimeZone::get("America/Los_Angeles").unwrap()
    }

    fn spec(participants: i64, turn: TurnLength, offset: usize) -> LayerSpec {
        LayerSpec {
            name: "primary".to_owned(),
            participants: (1..=participants).map(UserId).collect(),
            turn,
            handoff: "Wednesday 10:00".parse().unwrap(),
            start: "2026-01-07T18:00:00Z".parse().unwrap(),
            end: None,
            restrictions: Vec::new(),
            offset,
        }
    }

    /// Offsets of 2^63 and more used to be cast to `i64` before reducing, which made them
    /// negative and started the rotation at the wrong person; `shifted_by` wrapped at 2^64,
    /// which is not a multiple of the rotation length either.
    #[test]
    fn huge_offsets_count_round_the_rotation() {
        let zone = la();
        // 2^64 - 1 is a multiple of 3, so this offset starts with the first person.
        let layer = Layer::new(spec(3, TurnLength::Weeks(1), usize::MAX), &zone).unwrap();
        let start = layer.spec().start;
        assert_eq!(layer.on_call_at(&zone, start), Some(UserId(1)));
        assert_eq!(
            layer.shifted_by(1).on_call_at(&zone, start),
            Some(UserId(2))
        );
        assert_eq!(
            layer.shifted_by(usize::MAX).on_call_at(&zone, start),
            Some(UserId(1))
        );
    }

    /// A turn of zero can be built without the parser; it used to panic dividing by zero.
    #[test]
    fn zero_length_turns_are_refused() {
        let refused = Layer::new(spec(2, TurnLength::Hours(0), 0), &la()).unwrap_err();
        assert_eq!(refused, ScheduleError::InvalidTurn("0h".to_owned()));
    }

    /// Handoffs past the end of jiff's range clamp to the last instant. Asking about that
    /// instant, or rendering up to it, used to loop forever.
    #[test]
    fn the_end_of_time_is_answered() {
        let zone = la();
        let layer = Layer::new(spec(2, TurnLength::Days(1), 0), &zone).unwrap();
        let schedule = Schedule::new(zone, vec![layer], Vec::new());
        let from = Timestamp::MAX - jiff::SignedDuration::from_hours(100);
        let shifts = schedule.render(from, Timestamp::MAX);
        assert_eq!(shifts.first().unwrap().start, from);
        let last = shifts.last().unwrap();
        assert_eq!(last.end, Timestamp::MAX);
        assert_eq!(
            schedule.on_call_at(Timestamp::MAX).map(|(user, _)| user),
            last.user
        );
        assert!(schedule.on_call_at(Timestamp::MIN).is_none());
        assert_eq!(schedule.now(Timestamp::MAX).user, last.user);
    }
}
