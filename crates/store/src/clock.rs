//! Where "now" comes from.
//!
//! Run times, leases and backoff are stored as Unix milliseconds. In production that is
//! the system clock. Tests of retry schedules use [`Clock::tokio`], which advances with
//! tokio's (pausable) time, or [`Clock::manual`], which moves only when told to, so a test
//! can wait out an hour of backoff instantly.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time in Unix milliseconds.
#[derive(Debug, Clone)]
pub enum Clock {
    System,
    /// Starts at the system time when created and then follows `tokio::time::Instant`.
    Tokio {
        epoch_ms: i64,
        start: tokio::time::Instant,
    },
    /// Stands still until [`Clock::advance`] moves it.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A clock that follows tokio's time, which tests can pause and advance.
    pub fn tokio() -> Self {
        Clock::Tokio {
            epoch_ms: system_now_ms(),
            start: tokio::time::Instant::now(),
        }
    }

    /// A clock that starts at the system time and moves only by [`Clock::advance`].
    pub fn manual() -> Self {
        Clock::Manual(Arc::new(AtomicI64::new(system_now_ms())))
    }

    /// Moves a manual clock forward; other clocks ignore it.
    pub fn advance(&self, by: Duration) {
        if let Clock::Manual(now) = self {
            now.fetch_add(i64::try_from(by.as_millis()).unwrap_or(0), Ordering::SeqCst);
        }
    }

    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::Manual(now) => now.load(Ordering::SeqCst),
            Clock::System => system_now_ms(),
            Clock::Tokio { epoch_ms, start } => {
                epoch_ms + i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX / 2)
            }
        }
    }
}

fn system_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2))
        .unwrap_or(0)
}
