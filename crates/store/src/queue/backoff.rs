//! How long to wait before trying a failed job again.

use std::time::Duration;

/// Exponential backoff with jitter, capped.
///
/// The wait before attempt `n + 1` is drawn from `[d/2, d]` where
/// `d = min(max_delay, base * 2^(n-1))` ("equal jitter"): it still grows quickly, but jobs
/// that failed together (a provider outage) don't all come back in the same instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Runs before a job is dead, counting the first.
    pub max_attempts: u32,
    pub base: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 10 attempts over roughly 8 to 17 minutes: long enough to ride out a provider's
    /// short outage, short enough that a message isn't delivered hours late.
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base: Duration::from_secs(2),
            max_delay: Duration::from_secs(10 * 60),
        }
    }
}

impl RetryPolicy {
    /// The un-jittered delay after failed attempt `attempt` (from 1).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(32);
        self.base
            .checked_mul(1u32 << exponent.min(31))
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// The jittered delay after failed attempt `attempt` (from 1).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        let spread = u64::try_from((ceiling - half).as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(fastrand::u64(0..=spread))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_to_the_cap_with_bounded_jitter() {
        let policy = RetryPolicy {
            max_attempts: 20,
            base: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
        };
        assert_eq!(policy.ceiling(1), Duration::from_secs(1));
        assert_eq!(policy.ceiling(2), Duration::from_secs(2));
        assert_eq!(policy.ceiling(5), Duration::from_secs(16));
        assert_eq!(policy.ceiling(7), Duration::from_secs(60));
        assert_eq!(policy.ceiling(400), Duration::from_secs(60));
        for attempt in 1..12 {
            let ceiling = policy.ceiling(attempt);
            for _ in 0..50 {
                let d = policy.backoff(attempt);
                assert!(
                    d >= ceiling / 2 && d <= ceiling,
                    "{d:?} outside [{:?}, {ceiling:?}]",
                    ceiling / 2
                );
            }
        }
    }
}
