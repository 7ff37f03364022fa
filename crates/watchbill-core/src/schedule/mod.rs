//! Schedules and the on-call resolver.
//!
//! A schedule is a stack of layers in one time zone, with overrides on top. The final schedule
//! at any instant is: the highest layer that has someone, then every override containing the
//! instant applied in creation order (so the latest wins). [`Schedule::on_call_at`] answers for
//! one instant without allocating; [`Schedule::render`] produces the shifts of a window, which
//! tile it exactly (gaps appear as shifts with nobody).

mod layer;
mod local_time;
mod overrides;
mod restriction;
mod turn;

use jiff::tz::TimeZone;
use jiff::Timestamp;

pub use layer::{Layer, LayerSpec};
pub use overrides::{Override, OverrideKind};
pub use restriction::{Restriction, WeekdaySet};
pub use turn::{parse_weekday, weekday_name, HandoffAnchor, TurnLength, ALL_WEEKDAYS};

use crate::{OverrideId, UserId};

/// Why a schedule, layer or override is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("a rotation needs at least one participant")]
    EmptyRotation,
    #[error("the end must be after the start")]
    EndNotAfterStart,
    #[error("a restriction needs at least one day")]
    RestrictionWithoutDays,
    #[error("`{0}` is not a turn length; use e.g. `1w`, `2d` or `12h`")]
    InvalidTurn(String),
    #[error("`{0}` is not a handoff time; use e.g. `Wednesday 10:00` or `09:00`")]
    InvalidHandoff(String),
    #[error("a swap needs two different people")]
    SwapWithSelf,
    #[error("the time is out of the supported range")]
    OutOfRange,
}

/// Where a shift's person comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The layer at this index (0 is the lowest).
    Layer(usize),
    Override(OverrideId),
}

/// One stretch of the final schedule. `user` is `None` in a coverage gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shift {
    pub start: Timestamp,
    pub end: Timestamp,
    pub user: Option<UserId>,
    pub source: Option<Source>,
}

/// Who is on call at an instant, since when, until when, and who comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnCallNow {
    pub user: Option<UserId>,
    pub source: Option<Source>,
    /// When the current person's (or the gap's) continuous stretch began; `None` if further
    /// back than the look-back horizon.
    pub since: Option<Timestamp>,
    /// When it ends; `None` if beyond the look-ahead horizon.
    pub until: Option<Timestamp>,
    /// The next person on call after `until`, with their stretch.
    pub next: Option<NextShift>,
}

/// The next person's stretch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextShift {
    pub user: UserId,
    pub start: Timestamp,
    pub end: Option<Timestamp>,
}

/// A schedule ready for questions: zone, layers (lowest first) and overrides.
#[derive(Debug, Clone)]
pub struct Schedule {
    zone: TimeZone,
    layers: Vec<Layer>,
    /// Sorted by id, which is creation order.
    overrides: Vec<Override>,
}

/// How far [`Schedule::now`] looks back and ahead, at most.
const HORIZON_SECONDS: i64 = 400 * 86_400;

impl Schedule {
    pub fn new(zone: TimeZone, layers: Vec<Layer>, mut overrides: Vec<Override>) -> Schedule {
        overrides.sort_by_key(|o| o.id);
        Schedule {
            zone,
            layers,
            overrides,
        }
    }

    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    pub fn overrides(&self) -> &[Override] {
        &self.overrides
    }

    /// Who is on call at `at`, and why.
    pub fn on_call_at(&self, at: Timestamp) -> Option<(UserId, Source)> {
        let mut current = self.layers.iter().enumerate().rev().find_map(|(i, layer)| {
            layer
                .on_call_at(&self.zone, at)
                .map(|user| (user, Source::Layer(i)))
        });
        for o in self.overrides.iter().filter(|o| o.contains(at)) {
            current = o.apply(current.map(|(user, _)| user)).or(current);
        }
        current
    }

    /// The final schedule over `[from, to)`: shifts that tile the window exactly, adjacent
    /// shifts differing in person or source. Empty if `to <= from`.
    pub fn render(&self, from: Timestamp, to: Timestamp) -> Vec<Shift> {
        if to <= from {
            return Vec::new();
        }
        let layers: Vec<Vec<(Timestamp, Timestamp, UserId)>> = self
            .layers
            .iter()
            .map(|layer| layer.segments(&self.zone, from, to))
            .collect();
        let mut shifts = stack_layers(&layers, from, to);
        for o in &self.overrides {
            if o.start < to && o.end > from {
                o.paint(&mut shifts);
            }
        }
        coalesce(&mut shifts);
        shifts
    }

    /// One layer alone over `[from, to)`, tiled like [`Schedule::render`].
    pub fn render_layer(&self, index: usize, from: Timestamp, to: Timestamp) -> Vec<Shift> {
        let Some(layer) = self.layers.get(index) else {
            return Vec::new();
        };
        if to <= from {
            return Vec::new();
        }
        let segments = layer.segments(&self.zone, from, to);
        let mut shifts = fill_gaps(
            segments.into_iter().map(|(start, end, user)| Shift {
                start,
                end,
                user: Some(user),
                source: Some(Source::Layer(index)),
            }),
            from,
            to,
        );
        coalesce(&mut shifts);
        shifts
    }

    /// The stretches of `[from, to)` with nobody on call.
    pub fn gaps(&self, from: Timestamp, to: Timestamp) -> Vec<(Timestamp, Timestamp)> {
        self.render(from, to)
            .into_iter()
            .filter(|shift| shift.user.is_none())
            .map(|shift| (shift.start, shift.end))
            .collect()
    }

    /// How long each person is on call within `[from, to)`, longest first (ties by id).
    pub fn coverage(&self, from: Timestamp, to: Timestamp) -> Vec<(UserId, i64)> {
        let mut seconds: Vec<(UserId, i64)> = Vec::new();
        for shift in self.render(from, to) {
            let Some(user) = shift.user else { continue };
            let length = shift.end.as_second() - shift.start.as_second();
            match seconds.iter_mut().find(|(who, _)| *who == user) {
                Some((_, total)) => *total += length,
                None => seconds.push((user, length)),
            }
        }
        seconds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        seconds
    }

    /// Who is on call at `at`, since and until when, and who is next.
    pub fn now(&self, at: Timestamp) -> OnCallNow {
        let current = self.on_call_at(at);
        let user = current.map(|(user, _)| user);
        let since = self.stretch_edge(at, user, Direction::Back);
        let until = self.stretch_edge(at, user, Direction::Ahead);
        let next = until.and_then(|until| self.next_after(until));
        OnCallNow {
            user,
            source: current.map(|(_, source)| source),
            since,
            until,
            next,
        }
    }

    /// The edge of the stretch around `at` in which `user` is continuously on call, searching
    /// a window that grows until it finds the edge or reaches the horizon.
    fn stretch_edge(
        &self,
        at: Timestamp,
        user: Option<UserId>,
        direction: Direction,
    ) -> Option<Timestamp> {
        let mut reach = 8 * 86_400;
        loop {
            let reach_clamped = reach.min(HORIZON_SECONDS);
            let shifts = match direction {
                Direction::Back => {
                    let from = local_time::clamp_timestamp(at.as_second() - reach_clamped);
                    let mut shifts = self.render(from, at);
                    shifts.reverse();
                    shifts
                }
                Direction::Ahead => {
                    let to = local_time::clamp_timestamp(at.as_second() + reach_clamped);
                    self.render(at, to)
                }
            };
            let edge =
                shifts
                    .iter()
                    .find(|shift| shift.user != user)
                    .map(|shift| match direction {
                        Direction::Back => shift.end,
                        Direction::Ahead => shift.start,
                    });
            if edge.is_some() || reach >= HORIZON_SECONDS {
                return match direction {
                    // With no earlier shift at all, the stretch began exactly at `at`.
                    Direction::Back if shifts.is_empty() => Some(at),
                    _ => edge,
                };
            }
            reach *= 4;
        }
    }

    /// The first person on call at or after `from`, with their continuous stretch.
    fn next_after(&self, from: Timestamp) -> Option<NextShift> {
        // Most rotations hand off within days, so look a week ahead first and widen only when
        // the answer lies further out.
        let mut reach = 8 * 86_400;
        loop {
            let reach_clamped = reach.min(HORIZON_SECONDS);
            let to = local_time::clamp_timestamp(from.as_second() + reach_clamped);
            let shifts = self.render(from, to);
            let found = shifts
                .iter()
                .position(|shift| shift.user.is_some())
                .and_then(|first| {
                    let user = shifts[first].user?;
                    let end = shifts[first..]
                        .iter()
                        .find(|shift| shift.user != Some(user))
                        .map(|shift| shift.start);
                    Some(NextShift {
                        user,
                        start: shifts[first].start,
                        end,
                    })
                });
            let complete = found.is_some_and(|next| next.end.is_some());
            if complete || reach >= HORIZON_SECONDS {
                return found;
            }
            reach *= 4;
        }
    }
}

#[derive(Clone, Copy)]
enum Direction {
    Back,
    Ahead,
}

/// The highest layer with someone wins: tile `[from, to)` from per-layer segments.
fn stack_layers(
    layers: &[Vec<(Timestamp, Timestamp, UserId)>],
    from: Timestamp,
    to: Timestamp,
) -> Vec<Shift> {
    let mut boundaries: Vec<Timestamp> =
        Vec::with_capacity(2 + layers.iter().map(|l| l.len() * 2).sum::<usize>());
    boundaries.push(from);
    boundaries.push(to);
    for segments in layers {
        for (start, end, _) in segments {
            boundaries.push(*start);
            boundaries.push(*end);
        }
    }
    boundaries.sort_unstable();
    boundaries.dedup();
    let mut cursors = vec![0usize; layers.len()];
    let mut shifts = Vec::with_capacity(boundaries.len());
    for pair in boundaries.windows(2) {
        let (start, end) = (pair[0], pair[1]);
        let mut chosen = None;
        for (index, segments) in layers.iter().enumerate().rev() {
            let cursor = &mut cursors[index];
            while *cursor < segments.len() && segments[*cursor].1 <= start {
                *cursor += 1;
            }
            if let Some((segment_start, _, user)) = segments.get(*cursor) {
                if *segment_start <= start && chosen.is_none() {
                    chosen = Some((*user, Source::Layer(index)));
                }
            }
        }
        shifts.push(Shift {
            start,
            end,
            user: chosen.map(|(user, _)| user),
            source: chosen.map(|(_, source)| source),
        });
    }
    shifts
}

/// Tiles `[from, to)` with the given sorted, disjoint shifts and empty shifts between them.
fn fill_gaps(shifts: impl Iterator<Item = Shift>, from: Timestamp, to: Timestamp) -> Vec<Shift> {
    let mut out = Vec::new();
    let mut cursor = from;
    for shift in shifts {
        if shift.start > cursor {
            out.push(Shift {
                start: cursor,
                end: shift.start,
                user: None,
                source: None,
            });
        }
        cursor = shift.end;
        out.push(shift);
    }
    if cursor < to {
        out.push(Shift {
            start: cursor,
            end: to,
            user: None,
            source: None,
        });
    }
    out
}

/// Joins adjacent shifts with the same person and source.
fn coalesce(shifts: &mut Vec<Shift>) {
    shifts.dedup_by(|next, previous| {
        if previous.user == next.user
            && previous.source == next.source
            && previous.end == next.start
        {
            previous.end = next.end;
            true
        } else {
            false
        }
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn coverage_counts_each_persons_time_in_the_window() {
        let zone = TimeZone::get("America/Los_Angeles").unwrap();
        let layer = Layer::new(
            LayerSpec {
                name: "Weekly".to_owned(),
                participants: vec![UserId(1), UserId(2)],
                turn: TurnLength::Weeks(1),
                handoff: "Wednesday 10:00".parse().unwrap(),
                start: "2026-01-07T18:00:00Z".parse().unwrap(),
                end: None,
                restrictions: Vec::new(),
                offset: 0,
            },
            &zone,
        )
        .unwrap();
        let cover = Override::new(
            OverrideId(1),
            "2026-11-30T18:00:00Z".parse().unwrap(),
            "2026-12-01T18:00:00Z".parse().unwrap(),
            OverrideKind::Cover { user: UserId(3) },
        )
        .unwrap();
        let schedule = Schedule::new(zone, vec![layer], vec![cover]);
        // From Monday 30 November 10:00 PST for a week: user 1 until Wednesday's handoff (two
        // days, one of them covered by user 3), then user 2 for five days.
        let from: Timestamp = "2026-11-30T18:00:00Z".parse().unwrap();
        let to: Timestamp = "2026-12-07T18:00:00Z".parse().unwrap();
        let day = 86_400;
        assert_eq!(
            schedule.coverage(from, to),
            vec![(UserId(2), 5 * day), (UserId(1), day), (UserId(3), day)]
        );
    }
}
