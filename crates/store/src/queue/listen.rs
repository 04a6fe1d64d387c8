//! Hearing other processes' commits on PostgreSQL: their enqueues (the workers) and their
//! real-time events (the hub).

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::task::JoinHandle;

use super::Queue;
use crate::db::{Backend, Db};
use crate::tx::{EVENTS_CHANNEL, JOBS_CHANNEL};

impl Queue {
    /// On PostgreSQL, starts a task that turns `NOTIFY switchboard_jobs` from any process
    /// into a wake-up of this process's workers, reconnecting after errors. On SQLite
    /// (one process owns the file's writes) it returns `None`: the in-process wake-up on
    /// commit is enough.
    pub fn spawn_listener(&self) -> Option<JoinHandle<()>> {
        let wake = self.db.wake().clone();
        spawn_wake_listener(&self.db, JOBS_CHANNEL, move || wake.wake())
    }
}

impl Db {
    /// On PostgreSQL, starts a task that turns `NOTIFY switchboard_events` from any
    /// process into a wake-up of this process's real-time hub (see [`Db::events_notify`]).
    /// `None` on SQLite, where the commit's own wake-up is enough.
    pub fn spawn_event_listener(&self) -> Option<JoinHandle<()>> {
        let wake = self.wake().clone();
        spawn_wake_listener(self, EVENTS_CHANNEL, move || wake.wake_events())
    }
}

/// LISTENs on `channel` on a connection of its own and calls `wake` for every
/// notification, and once after each (re)connection: notifications sent while the
/// listener was away are lost, so whoever waits must look at the table again.
fn spawn_wake_listener(
    db: &Db,
    channel: &'static str,
    wake: impl Fn() + Send + 'static,
) -> Option<JoinHandle<()>> {
    if db.backend() != Backend::Postgres {
        return None;
    }
    let url = db.url().to_string();
    Some(tokio::spawn(async move {
        loop {
            match PgListener::connect(&url).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen(channel).await {
                        tracing::warn!(error = %e, channel, "cannot LISTEN");
                    } else {
                        wake();
                        while listener.recv().await.is_ok() {
                            wake();
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, channel, "listener cannot connect"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }))
}
