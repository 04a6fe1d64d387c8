//! Storage integration tests, on SQLite or on the PostgreSQL named by
//! `SWITCHBOARD_TEST_DATABASE_URL` (see `store::testing`).
#![allow(clippy::unwrap_used)]

mod auth;
mod channel_health;
mod conversation_state;
mod events;
mod group;
mod keys;
mod knowledge;
mod migrations;
mod outbound;
mod pool;
mod purge;
mod queue;
mod repo;
mod retention;
mod tenant_wall;
mod usage;

use std::time::Duration;

/// Polls `done` until it is true, failing the test after `limit`.
pub async fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
