//! The dead-letter queue: jobs that ran out of attempts or failed permanently.

use sqlx::Row;

use super::{to_u32, JobId, Queue};
use crate::error::StoreError;

/// A dead job, for operators deciding whether to replay it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeadJob {
    pub id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub died_at_ms: i64,
}

impl Queue {
    /// Dead jobs, newest first, optionally of one kind.
    pub async fn dead_jobs(
        &self,
        kind: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DeadJob>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, payload, attempt, last_error, created_at, updated_at FROM jobs \
             WHERE state = 'dead' AND ($1 IS NULL OR kind = $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(kind)
        .bind(i64::from(limit))
        .fetch_all(self.db.reader())
        .await?;
        rows.iter()
            .map(|row| {
                let payload: String = row.try_get("payload")?;
                Ok(DeadJob {
                    id: JobId(row.try_get("id")?).to_string(),
                    kind: row.try_get("kind")?,
                    payload: serde_json::from_str(&payload)?,
                    attempts: to_u32(row.try_get("attempt")?),
                    last_error: row.try_get("last_error")?,
                    created_at_ms: row.try_get("created_at")?,
                    died_at_ms: row.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Puts a dead job back in the queue with a fresh set of attempts. Returns false if
    /// the job is not dead (already replayed, or never died): replay is idempotent.
    pub async fn replay(&self, id: JobId) -> Result<bool, StoreError> {
        let now = self.db.now_ms();
        let result = sqlx::query(
            "UPDATE jobs SET state = 'ready', attempt = 0, run_at = $1, updated_at = $1 \
             WHERE id = $2 AND state = 'dead'",
        )
        .bind(now)
        .bind(id.0)
        .execute(self.db.writer())
        .await?;
        let replayed = result.rows_affected() == 1;
        if replayed {
            self.db.wake().wake();
        }
        Ok(replayed)
    }

    /// Replays every dead job (of one kind, if given); returns how many.
    pub async fn replay_all(&self, kind: Option<&str>) -> Result<u64, StoreError> {
        let now = self.db.now_ms();
        let result = sqlx::query(
            "UPDATE jobs SET state = 'ready', attempt = 0, run_at = $1, updated_at = $1 \
             WHERE state = 'dead' AND ($2 IS NULL OR kind = $2)",
        )
        .bind(now)
        .bind(kind)
        .execute(self.db.writer())
        .await?;
        if result.rows_affected() > 0 {
            self.db.wake().wake();
        }
        Ok(result.rows_affected())
    }
}
