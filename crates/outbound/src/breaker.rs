//! Circuit breakers, one per API and credential.
//!
//! After `threshold` consecutive failures that say the remote side is unhealthy (timeouts,
//! connection errors, 5xx), the breaker opens: calls fail at once with
//! [`Failure::BreakerOpen`](crate::Failure::BreakerOpen) and jobs wait instead of burning
//! attempts against a dead API. After the cool-down one trial call is let through
//! (half-open); its success closes the breaker, its failure opens it again for twice as
//! long, up to `max_cooldown`.

use std::time::Duration;

use tokio::time::Instant;

/// How breakers behave.
#[derive(Debug, Clone, Copy)]
pub struct BreakerPolicy {
    pub threshold: u32,
    pub cooldown: Duration,
    pub max_cooldown: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            threshold: 5,
            cooldown: Duration::from_secs(15),
            max_cooldown: Duration::from_secs(300),
        }
    }
}

/// The state of one breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
        cooldown: Duration,
    },
    /// One trial call is in flight; others wait.
    HalfOpen {
        cooldown: Duration,
    },
}

/// One breaker.
#[derive(Debug, Clone, Copy)]
pub struct Breaker {
    state: BreakerState,
}

impl Default for Breaker {
    fn default() -> Self {
        Self {
            state: BreakerState::Closed { failures: 0 },
        }
    }
}

impl Breaker {
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Whether a call could go now, without taking the half-open trial.
    pub fn check(&self, now: Instant) -> Result<(), Duration> {
        match self.state {
            BreakerState::Closed { .. } => Ok(()),
            BreakerState::Open { until, .. } if now >= until => Ok(()),
            BreakerState::Open { until, .. } => Err(until - now),
            BreakerState::HalfOpen { .. } => Err(Duration::from_secs(1)),
        }
    }

    /// Whether a call may go now; `Err(wait)` says how long until it might.
    pub fn admit(&mut self, now: Instant) -> Result<(), Duration> {
        match self.state {
            BreakerState::Closed { .. } => Ok(()),
            BreakerState::Open { until, cooldown } if now >= until => {
                self.state = BreakerState::HalfOpen { cooldown };
                Ok(())
            }
            BreakerState::Open { until, .. } => Err(until - now),
            // The trial is out; wait about as long as a call takes before asking again.
            BreakerState::HalfOpen { .. } => Err(Duration::from_secs(1)),
        }
    }

    /// Records how an admitted call went.
    pub fn record(&mut self, healthy: bool, now: Instant, policy: &BreakerPolicy) -> bool {
        let before = self.state;
        self.state = match (self.state, healthy) {
            (_, true) => BreakerState::Closed { failures: 0 },
            (BreakerState::Closed { failures }, false) if failures + 1 < policy.threshold => {
                BreakerState::Closed {
                    failures: failures + 1,
                }
            }
            (BreakerState::Closed { .. }, false) => BreakerState::Open {
                until: now + policy.cooldown,
                cooldown: policy.cooldown,
            },
            (BreakerState::HalfOpen { cooldown } | BreakerState::Open { cooldown, .. }, false) => {
                let cooldown = (cooldown * 2).min(policy.max_cooldown);
                BreakerState::Open {
                    until: now + cooldown,
                    cooldown,
                }
            }
        };
        // True when the breaker changed between open and closed, worth a log line.
        matches!(before, BreakerState::Closed { .. })
            != matches!(self.state, BreakerState::Closed { .. })
    }
}
