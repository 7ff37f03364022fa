//! Overrides: someone covers a window, or two people swap within one.

use jiff::Timestamp;

use super::{ScheduleError, Shift, Source};
use crate::{OverrideId, UserId};

/// What an override does inside its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OverrideKind {
    /// `user` is on call for the whole window, whoever it would have been.
    Cover { user: UserId },
    /// Wherever `first` would be on call, `second` is, and the other way round.
    Swap { first: UserId, second: UserId },
}

/// An override of `[start, end)` on one schedule. A larger id is newer and wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Override {
    pub id: OverrideId,
    pub start: Timestamp,
    pub end: Timestamp,
    pub kind: OverrideKind,
}

impl Override {
    pub fn new(
        id: OverrideId,
        start: Timestamp,
        end: Timestamp,
        kind: OverrideKind,
    ) -> Result<Override, ScheduleError> {
        if end <= start {
            return Err(ScheduleError::EndNotAfterStart);
        }
        if let OverrideKind::Swap { first, second } = kind {
            if first == second {
                return Err(ScheduleError::SwapWithSelf);
            }
        }
        Ok(Override {
            id,
            start,
            end,
            kind,
        })
    }

    pub(crate) fn contains(&self, at: Timestamp) -> bool {
        self.start <= at && at < self.end
    }

    /// The person this override puts on call instead of `underlying`, if it changes anything.
    pub(crate) fn apply(&self, underlying: Option<UserId>) -> Option<(UserId, Source)> {
        let source = Source::Override(self.id);
        match self.kind {
            OverrideKind::Cover { user } => Some((user, source)),
            OverrideKind::Swap { first, second } => match underlying {
                Some(user) if user == first => Some((second, source)),
                Some(user) if user == second => Some((first, source)),
                _ => None,
            },
        }
    }

    /// Applies this override to tiled shifts, splitting those that cross its edges.
    pub(crate) fn paint(&self, shifts: &mut Vec<Shift>) {
        split_at(shifts, self.start);
        split_at(shifts, self.end);
        let first = shifts.partition_point(|shift| shift.start < self.start);
        let last = shifts.partition_point(|shift| shift.start < self.end);
        for shift in &mut shifts[first..last] {
            if let Some((user, source)) = self.apply(shift.user) {
                shift.user = Some(user);
                shift.source = Some(source);
            }
        }
    }
}

/// Splits the shift that contains `at` strictly inside it into two.
fn split_at(shifts: &mut Vec<Shift>, at: Timestamp) {
    let index = shifts.partition_point(|shift| shift.end <= at);
    if let Some(shift) = shifts.get(index).copied() {
        if shift.start < at && at < shift.end {
            shifts[index].end = at;
            shifts.insert(index + 1, Shift { start: at, ..shift });
        }
    }
}
