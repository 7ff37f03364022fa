//! When intake asks the database to refresh its planner's statistics.
//!
//! An alert storm can open thousands of incidents in a second. On PostgreSQL the statements
//! intake keeps prepared were planned while the incidents table was small, and stay planned
//! that way until the statistics change: a whole-table scan per batch where the primary key
//! would find a few dozen rows (BENCHMARKS.md, "A thirteenth day"). So each time the number of
//! incidents this process opened doubles, from 1,000 on, intake has the statistics refreshed
//! ([`watchbill_store::Store::refresh_statistics`]), in the background: a few refreshes for a
//! storm of any size, and none for a quiet day.

/// How many new incidents the first refresh waits for.
const FIRST: u64 = 1_000;

/// Counts the incidents intake opened and says when the statistics are due.
#[derive(Debug)]
pub struct StatisticsSchedule {
    opened: u64,
    next: u64,
}

impl Default for StatisticsSchedule {
    fn default() -> Self {
        StatisticsSchedule {
            opened: 0,
            next: FIRST,
        }
    }
}

impl StatisticsSchedule {
    /// Counts `count` more incidents opened; true when the statistics should be refreshed now.
    pub fn opened(&mut self, count: u64) -> bool {
        self.opened = self.opened.saturating_add(count);
        if self.opened < self.next {
            return false;
        }
        self.next = self.opened.saturating_mul(2);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refreshes_at_a_thousand_then_each_time_the_count_doubles() {
        let mut schedule = StatisticsSchedule::default();
        let due: Vec<u64> = (1..=10_000u64).filter(|_| schedule.opened(1)).collect();
        assert_eq!(due, [1_000, 2_000, 4_000, 8_000]);
    }

    #[test]
    fn a_batch_that_crosses_a_mark_refreshes_once() {
        let mut schedule = StatisticsSchedule::default();
        assert!(!schedule.opened(0));
        assert!(!schedule.opened(999));
        assert!(schedule.opened(1_500));
        // The next mark is twice the 2,499 counted so far.
        assert!(!schedule.opened(2_000));
        assert!(schedule.opened(499));
        assert!(!schedule.opened(1));
    }

    #[test]
    fn counts_do_not_overflow() {
        let mut schedule = StatisticsSchedule::default();
        assert!(schedule.opened(u64::MAX));
        assert!(schedule.opened(u64::MAX));
    }
}
