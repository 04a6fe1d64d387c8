//! [`Store`]: the database, the key ring and the queue, handed around as one value.

use secrets::KeyRing;

use crate::db::Db;
use crate::error::StoreError;
use crate::group::WriteFuture;
use crate::queue::Queue;
use crate::tx::Tx;

/// Everything persistent. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    keys: KeyRing,
    queue: Queue,
}

impl Store {
    pub fn new(db: Db, keys: KeyRing) -> Self {
        let queue = Queue::new(db.clone());
        Self { db, keys, queue }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// Begins a write transaction.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        self.db.begin().await
    }

    /// A write transaction on behalf of `scope`'s tenant: for a walled scope on PostgreSQL
    /// it sets `switchboard.agency_id` first, so the row-level security policies refuse
    /// any row of another agency it would write (see [`crate::Db::tenant_reader`]).
    pub async fn begin_for(&self, scope: &crate::TenantScope) -> Result<Tx, StoreError> {
        let mut tx = self.db.begin().await?;
        if scope.is_walled() && tx.backend() == crate::Backend::Postgres {
            sqlx::query("SELECT set_config('switchboard.agency_id', $1, true)")
                .bind(scope.agency_id().as_str())
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// Runs `f` in a write transaction, grouped with other writers on SQLite: see
    /// [`Db::write`]. Prefer it to [`Store::begin`] for the short writes of webhooks and
    /// jobs:
    ///
    /// ```ignore
    /// store.write(move |tx| Box::pin(async move { writer.do_something(tx, &x).await })).await?;
    /// ```
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut Tx) -> WriteFuture<'t, T> + Send + 'static,
    {
        self.db.write(f).await
    }

    /// Now, Unix ms, by the database's clock: the clock every stored time is written with,
    /// so comparisons against stored times (a service window) agree with them.
    pub fn now_ms(&self) -> i64 {
        self.db.now_ms()
    }
}
