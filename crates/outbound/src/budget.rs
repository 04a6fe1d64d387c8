//! Local request budgets: at most `max` calls per `interval` per key (GHL: 100 per 10 s per
//! location), corrected from the server's rate-limit headers.
//!
//! The budget is a sliding log of the last `max` call times. Spending from an empty budget
//! fails at once with the time until the oldest call leaves the window, so the job waits
//! (holding its pacing key) rather than earning a 429. When the server reports fewer
//! remaining calls than we think (another process shares the budget), the log is topped
//! up to match.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// A rate rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub max: u32,
    pub interval: Duration,
}

/// What a server said about the budget in its response headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetReading {
    pub remaining: u32,
    /// When the window resets, if the server said.
    pub reset_in: Option<Duration>,
}

/// One key's budget.
#[derive(Debug, Clone)]
pub struct Budget {
    rate: Rate,
    spent: VecDeque<Instant>,
}

impl Budget {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            spent: VecDeque::with_capacity(rate.max as usize),
        }
    }

    fn forget_old(&mut self, now: Instant) {
        while self
            .spent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.rate.interval)
        {
            self.spent.pop_front();
        }
    }

    /// Spends one call, or says how long until one is available.
    pub fn spend(&mut self, now: Instant) -> Result<(), Duration> {
        self.forget_old(now);
        if (self.spent.len() as u32) < self.rate.max {
            self.spent.push_back(now);
            Ok(())
        } else {
            let oldest = self.spent.front().copied().unwrap_or(now);
            Err(self
                .rate
                .interval
                .saturating_sub(now.duration_since(oldest)))
        }
    }

    /// Calls left in the window now.
    pub fn remaining(&mut self, now: Instant) -> u32 {
        self.forget_old(now);
        self.rate.max.saturating_sub(self.spent.len() as u32)
    }

    /// Aligns with the server: if it has fewer calls left than we think, count the
    /// difference as spent now (or, with a reset time, until then).
    pub fn correct(&mut self, reading: BudgetReading, now: Instant) {
        let ours = self.remaining(now);
        if reading.remaining >= ours {
            return;
        }
        // Entries dated so they leave the window when the server's window resets.
        let stamp = match reading.reset_in {
            Some(reset) if reset < self.rate.interval => {
                now.checked_sub(self.rate.interval - reset).unwrap_or(now)
            }
            _ => now,
        };
        for _ in 0..(ours - reading.remaining) {
            self.spent.push_back(stamp);
        }
        self.spent.make_contiguous().sort();
    }

    /// Treats the budget as empty for `wait` (after a 429).
    pub fn exhaust_for(&mut self, wait: Duration, now: Instant) {
        let stamp = now
            .checked_sub(self.rate.interval - wait.min(self.rate.interval))
            .unwrap_or(now);
        self.spent.clear();
        for _ in 0..self.rate.max {
            self.spent.push_back(stamp);
        }
    }
}
