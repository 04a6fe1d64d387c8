//! Hearing other processes' enqueues on PostgreSQL.

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::task::JoinHandle;

use super::Queue;
use crate::db::Backend;
use crate::tx::JOBS_CHANNEL;

impl Queue {
    /// On PostgreSQL, starts a task that turns `NOTIFY switchboard_jobs` from any process
    /// into a wake-up of this process's workers, reconnecting after errors. On SQLite
    /// (one process owns the file's writes) it returns `None`: the in-process wake-up on
    /// commit is enough.
    pub fn spawn_listener(&self) -> Option<JoinHandle<()>> {
        if self.db.backend() != Backend::Postgres {
            return None;
        }
        let url = self.db.url().to_string();
        let wake = self.db.wake().clone();
        Some(tokio::spawn(async move {
            loop {
                match PgListener::connect(&url).await {
                    Ok(mut listener) => {
                        if let Err(e) = listener.listen(JOBS_CHANNEL).await {
                            tracing::warn!(error = %e, "cannot LISTEN for job notifications");
                        } else {
                            // Wake once after (re)connecting: notifications sent while we
                            // were away are lost, so look at the table again.
                            wake.wake();
                            while listener.recv().await.is_ok() {
                                wake.wake();
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "job listener cannot connect"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }))
    }
}
