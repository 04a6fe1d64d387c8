//! A write transaction that knows whether it enqueued jobs, so committing it wakes the
//! workers at once instead of at their next poll.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use sqlx::{Any, Transaction};
use tokio::sync::Notify;

use crate::db::Backend;
use crate::error::StoreError;

/// The PostgreSQL channel on which commits that enqueued jobs are announced.
pub(crate) const JOBS_CHANNEL: &str = "switchboard_jobs";

/// The PostgreSQL channel on which commits that wrote real-time events are announced.
pub(crate) const EVENTS_CHANNEL: &str = "switchboard_events";

/// Wakes this process's workers, and its real-time hub. Other processes hear PostgreSQL
/// `NOTIFY`.
#[derive(Debug, Clone, Default)]
pub struct Wake {
    jobs: Arc<Notify>,
    events: Arc<Notify>,
}

impl Wake {
    /// Wakes every worker currently waiting.
    pub fn wake(&self) {
        self.jobs.notify_waiters();
    }

    pub(crate) fn notify(&self) -> &Notify {
        &self.jobs
    }

    /// Tells the hub that events were committed. `notify_one` keeps the wake-up if the hub
    /// is busy reading at that moment, so a commit is never missed between two reads.
    pub fn wake_events(&self) {
        self.events.notify_one();
    }

    /// What the real-time hub waits on.
    pub fn events(&self) -> &Notify {
        &self.events
    }
}

/// A write transaction. Use it like a `sqlx::Transaction` (`&mut *tx` is an executor);
/// finish it with [`Tx::commit`]. Dropped without commit, it rolls back, and the jobs it
/// enqueued vanish with it.
#[derive(Debug)]
pub struct Tx {
    inner: Transaction<'static, Any>,
    backend: Backend,
    wake: Wake,
    enqueued: bool,
    /// Whether this transaction wrote rows of the real-time event log.
    evented: bool,
}

impl Tx {
    pub(crate) fn new(inner: Transaction<'static, Any>, backend: Backend, wake: Wake) -> Self {
        Self {
            inner,
            backend,
            wake,
            enqueued: false,
            evented: false,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Records that this transaction enqueued a job. On PostgreSQL the `NOTIFY` is sent
    /// inside the transaction: PostgreSQL delivers it only if the transaction commits.
    pub(crate) async fn mark_enqueued(&mut self) -> Result<(), StoreError> {
        if !self.enqueued {
            self.enqueued = true;
            if self.backend == Backend::Postgres {
                sqlx::query("SELECT pg_notify($1, '')")
                    .bind(JOBS_CHANNEL)
                    .execute(&mut *self.inner)
                    .await?;
            }
        }
        Ok(())
    }

    /// Records that this transaction wrote real-time events; like [`Tx::mark_enqueued`],
    /// the `NOTIFY` goes out inside the transaction, so other processes' hubs hear of it
    /// only if it commits, and this process's hub is woken after the commit.
    pub(crate) async fn mark_evented(&mut self) -> Result<(), StoreError> {
        if !self.evented {
            self.evented = true;
            if self.backend == Backend::Postgres {
                // `pg_current_xact_id()` gives the transaction its id now, before it takes
                // an event id: the hub relies on that order to know when a gap in the ids
                // can no longer fill (see `server::live`).
                sqlx::query("SELECT pg_notify($1, ''), pg_current_xact_id()::text")
                    .bind(EVENTS_CHANNEL)
                    .execute(&mut *self.inner)
                    .await?;
            }
        }
        Ok(())
    }

    /// Commits, then wakes this process's workers if jobs were enqueued, and its hub if
    /// events were written.
    ///
    /// Safe to cancel: the commit runs in a task of its own (see [`crate::Db::begin`]), so
    /// a caller dropped mid-commit (a client that hung up) can't leave the connection
    /// half-way. The transaction then commits or not, as if the caller had waited.
    pub async fn commit(self) -> Result<(), StoreError> {
        let Self {
            inner,
            wake,
            enqueued,
            evented,
            ..
        } = self;
        let committed = tokio::spawn(async move {
            inner.commit().await?;
            if enqueued {
                wake.wake();
            }
            if evented {
                wake.wake_events();
            }
            Ok::<_, sqlx::Error>(())
        });
        committed.await.map_err(|e| {
            StoreError::Config(format!("the task committing a transaction failed: {e}"))
        })??;
        Ok(())
    }

    /// Rolls back explicitly (dropping does the same). Safe to cancel, like
    /// [`Tx::commit`].
    pub async fn rollback(self) -> Result<(), StoreError> {
        let inner = self.inner;
        tokio::spawn(async move { inner.rollback().await })
            .await
            .map_err(|e| StoreError::Config(format!("the task rolling back failed: {e}")))??;
        Ok(())
    }
}

impl Deref for Tx {
    type Target = <Any as sqlx::Database>::Connection;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}
