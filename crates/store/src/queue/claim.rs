//! Claiming jobs, reclaiming expired leases, and finding the next due time.

use std::time::Duration;

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{to_u32, Job, JobId, Queue};
use crate::db::Backend;
use crate::error::StoreError;

impl Queue {
    /// Claims up to `limit` due jobs of the given kinds, oldest first, in one statement:
    /// each becomes `running` with a lease of `lease` and its attempt bumped.
    ///
    /// Skipped: jobs whose ordering key has an earlier unfinished job (so one conversation
    /// runs one job at a time, in order), and jobs whose pacing key is on hold. On
    /// PostgreSQL `FOR UPDATE SKIP LOCKED` lets many claimers run side by side without
    /// waiting on each other's rows.
    pub async fn claim(
        &self,
        kinds: &[&str],
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Job>, StoreError> {
        if kinds.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let now = self.db.now_ms();
        let lease_until =
            now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 4));
        let sql = claim_sql(self.db.backend(), kinds.len());
        let kinds: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // A write like any other: on SQLite it shares a commit with the writes waiting.
        let mut jobs = self
            .db
            .write(move |tx| {
                Box::pin(async move {
                    let mut query = sqlx::query(&sql).bind(now).bind(lease_until).bind(limit);
                    for kind in &kinds {
                        query = query.bind(kind.as_str());
                    }
                    let rows = query.fetch_all(&mut **tx).await?;
                    rows.iter()
                        .map(job_from_row)
                        .collect::<Result<Vec<_>, StoreError>>()
                })
            })
            .await?;
        jobs.sort_by_key(|j| j.id);
        Ok(jobs)
    }

    /// Returns jobs whose lease expired (their worker died or hung) to `ready`, or to
    /// `dead` if that was their last attempt: a job that kills its worker every time must
    /// not loop forever. Returns how many were reclaimed.
    pub async fn reclaim_expired(&self) -> Result<u64, StoreError> {
        let now = self.db.now_ms();
        let result = sqlx::query(
            "UPDATE jobs SET \
               state = CASE WHEN attempt >= max_attempts THEN 'dead' ELSE 'ready' END, \
               lease_until = NULL, run_at = $1, updated_at = $1, \
               last_error = 'lease expired: the worker stopped or took too long' \
             WHERE state = 'running' AND lease_until < $1",
        )
        .bind(now)
        .execute(self.db.writer())
        .await?;
        let n = result.rows_affected();
        if n > 0 {
            metrics::counter!("switchboard_jobs_lease_expired_total").increment(n);
            self.db.wake().wake();
        }
        Ok(n)
    }

    /// When the earliest ready job of these kinds becomes due, if any: how long a worker
    /// with nothing to do may sleep.
    pub async fn next_run_at(&self, kinds: &[&str]) -> Result<Option<i64>, StoreError> {
        if kinds.is_empty() {
            return Ok(None);
        }
        // A job whose pacing key is on hold is due when the hold ends, not before: counting
        // it at its `run_at` would have idle workers claim again at once, and again, for as
        // long as the hold lasts.
        let sql = format!(
            "SELECT MIN(CASE WHEN h.until_ms > j.run_at THEN h.until_ms ELSE j.run_at END) \
             FROM jobs j LEFT JOIN pacing_holds h ON h.pacing_key = j.pacing_key \
             WHERE j.state = 'ready' AND j.kind IN ({})",
            placeholders(1, kinds.len())
        );
        let mut query = sqlx::query_scalar::<_, Option<i64>>(&sql);
        for kind in kinds {
            query = query.bind(*kind);
        }
        Ok(query.fetch_one(self.db.reader()).await?)
    }

    /// Extends the leases of jobs still running at the given attempts; returns the ids
    /// that were extended. A long job calls this (through the worker pool) so it is not
    /// reclaimed while it is still making progress.
    pub async fn extend_leases(
        &self,
        jobs: &[(JobId, u32)],
        lease: Duration,
    ) -> Result<Vec<JobId>, StoreError> {
        let now = self.db.now_ms();
        let until = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 4));
        let mut extended = Vec::new();
        let mut tx = self.db.begin().await?;
        for (id, attempt) in jobs {
            let done = sqlx::query(
                "UPDATE jobs SET lease_until = $1, updated_at = $2 \
                 WHERE id = $3 AND attempt = $4 AND state = 'running'",
            )
            .bind(until)
            .bind(now)
            .bind(id.0)
            .bind(i64::from(*attempt))
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                extended.push(*id);
            }
        }
        tx.commit().await?;
        Ok(extended)
    }
}

/// `$first, $first+1, …` for `n` values.
pub(super) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn claim_sql(backend: Backend, kinds: usize) -> String {
    let lock = match backend {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    // The candidates are chosen in a materialised CTE: PostgreSQL may re-run an `IN
    // (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)` subquery per row and claim more than n.
    format!(
        "WITH next AS MATERIALIZED ( \
           SELECT j.id FROM jobs j \
           WHERE j.state = 'ready' AND j.run_at <= $1 AND j.kind IN ({kinds}) \
             AND (j.ordering_key IS NULL OR NOT EXISTS ( \
                   SELECT 1 FROM jobs e WHERE e.ordering_key = j.ordering_key \
                   AND e.state IN ('ready', 'running') AND e.id < j.id)) \
             AND (j.pacing_key IS NULL OR NOT EXISTS ( \
                   SELECT 1 FROM pacing_holds h WHERE h.pacing_key = j.pacing_key \
                   AND h.until_ms > $1)) \
           ORDER BY j.run_at, j.id LIMIT $3 {lock}) \
         UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_until = $2, updated_at = $1 \
         WHERE id IN (SELECT id FROM next) AND state = 'ready' \
         RETURNING id, kind, payload, attempt, max_attempts, ordering_key, pacing_key, \
                   lease_until, created_at",
        kinds = placeholders(4, kinds)
    )
}

fn job_from_row(row: &AnyRow) -> Result<Job, StoreError> {
    let payload: String = row.try_get("payload")?;
    Ok(Job {
        id: JobId(row.try_get("id")?),
        kind: row.try_get("kind")?,
        payload: serde_json::from_str(&payload)?,
        attempt: to_u32(row.try_get("attempt")?),
        max_attempts: to_u32(row.try_get("max_attempts")?),
        ordering_key: row.try_get("ordering_key")?,
        pacing_key: row.try_get("pacing_key")?,
        lease_until_ms: row.try_get("lease_until")?,
        created_at_ms: row.try_get("created_at")?,
    })
}

impl Queue {
    /// On PostgreSQL, re-analyses the jobs table when it changed a lot since its planner
    /// statistics were taken. A queue fills in seconds, faster than autovacuum wakes:
    /// with stale statistics the planner sorts every ready job on each claim instead of
    /// reading the first few from the index. Returns true when it analysed. A no-op on
    /// SQLite, whose planner needs no statistics here.
    pub async fn refresh_statistics(&self) -> Result<bool, StoreError> {
        if self.db.backend() != Backend::Postgres {
            return Ok(false);
        }
        let counts: Option<(i64, f64)> = sqlx::query_as(
            "SELECT n_mod_since_analyze, CAST(n_live_tup AS DOUBLE PRECISION) \
             FROM pg_stat_user_tables WHERE relid = CAST('jobs' AS regclass)",
        )
        .fetch_optional(self.db.reader())
        .await?;
        let Some((changed, live)) = counts else {
            return Ok(false);
        };
        if changed < 1000 || (changed as f64) < live * 0.1 {
            return Ok(false);
        }
        sqlx::query("ANALYZE jobs")
            .execute(self.db.writer())
            .await?;
        Ok(true)
    }
}
