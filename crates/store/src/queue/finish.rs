//! Recording how a run ended, fenced by attempt, many runs per transaction.

use std::time::Duration;

use super::{Job, JobId, Queue};
use crate::error::StoreError;
use crate::tx::Tx;

/// How a run of a job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Completed,
    /// A transient failure: try again after the backoff, or after `after` when the other
    /// side said when (`Retry-After`). Counts as an attempt.
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// The pacing budget was empty (a 429, or our own limiter): run again after `after`,
    /// holding the job's pacing key until then. Not counted as an attempt, since waiting
    /// out a rate limit is not a failure of the job.
    RateLimited {
        error: String,
        after: Duration,
    },
    /// Will never succeed (bad credentials, invalid recipient): dead now.
    Permanent {
        error: String,
    },
    /// Not run at all (shutdown): back to `ready` without using an attempt.
    Released,
}

/// What became of a reported outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    Done,
    /// Scheduled to run again at this time.
    Retrying {
        run_at_ms: i64,
    },
    Dead,
    Released,
    /// The job was no longer ours: its lease expired and it was reclaimed (or finished)
    /// by someone else. Nothing was changed.
    Stale,
}

impl Queue {
    /// Applies one outcome in its own transaction.
    pub async fn finish(&self, job: &Job, outcome: Outcome) -> Result<Finished, StoreError> {
        let mut results = self.finish_many(&[(job, outcome)]).await?;
        Ok(results.pop().unwrap_or(Finished::Stale))
    }

    /// Applies many outcomes in one transaction (group commit: one fsync for all of them)
    /// and returns what became of each, in order.
    ///
    /// On SQLite the transaction is also shared with other writers (group commit,
    /// [`crate::Db::write`]), so a handler's last record and its job's completion often
    /// share one fsync.
    pub async fn finish_many(&self, runs: &[(&Job, Outcome)]) -> Result<Vec<Finished>, StoreError> {
        let owned: Vec<(Job, Outcome)> = runs
            .iter()
            .map(|(job, outcome)| ((*job).clone(), outcome.clone()))
            .collect();
        let queue = self.clone();
        let results = self
            .db
            .write(move |tx| {
                Box::pin(async move {
                    let runs: Vec<(&Job, Outcome)> =
                        owned.iter().map(|(j, o)| (j, o.clone())).collect();
                    queue.finish_in(tx, &runs).await
                })
            })
            .await?;
        if results
            .iter()
            .any(|r| matches!(r, Finished::Done | Finished::Dead))
        {
            // A finished job may unblock the next one with its ordering key.
            self.db.wake().wake();
        }
        Ok(results)
    }

    /// Applies outcomes inside the caller's transaction, so a handler can record its
    /// effect and complete its job atomically.
    pub async fn finish_in(
        &self,
        tx: &mut Tx,
        runs: &[(&Job, Outcome)],
    ) -> Result<Vec<Finished>, StoreError> {
        let now = self.db.now_ms();
        let mut results = vec![Finished::Stale; runs.len()];
        // Completions, the common case, go in chunks of one statement each.
        let completed: Vec<usize> = (0..runs.len())
            .filter(|i| runs[*i].1 == Outcome::Completed)
            .collect();
        for chunk in completed.chunks(64) {
            let accepted = complete_chunk(tx, now, chunk.iter().map(|i| runs[*i].0)).await?;
            for i in chunk {
                if accepted.contains(&runs[*i].0.id) {
                    results[*i] = Finished::Done;
                }
            }
        }
        for (i, (job, outcome)) in runs.iter().enumerate() {
            if *outcome != Outcome::Completed {
                results[i] = self.finish_one(tx, now, job, outcome).await?;
            }
        }
        for (result, (job, _)) in results.iter().zip(runs) {
            record_metrics(job, *result);
        }
        Ok(results)
    }

    async fn finish_one(
        &self,
        tx: &mut Tx,
        now: i64,
        job: &Job,
        outcome: &Outcome,
    ) -> Result<Finished, StoreError> {
        let (state, attempt, run_at, error, result) = match outcome {
            Outcome::Completed => ("done", job.attempt, now, None, Finished::Done),
            Outcome::Retry { error, after } if !job.is_last_attempt() => {
                let delay = after.unwrap_or_else(|| self.retry.backoff(job.attempt));
                let run_at = now.saturating_add(millis(delay));
                (
                    "ready",
                    job.attempt,
                    run_at,
                    Some(error.as_str()),
                    Finished::Retrying { run_at_ms: run_at },
                )
            }
            Outcome::Retry { error, .. } | Outcome::Permanent { error } => (
                "dead",
                job.attempt,
                now,
                Some(error.as_str()),
                Finished::Dead,
            ),
            Outcome::RateLimited { error, after } => {
                let run_at = now.saturating_add(millis(*after));
                if let Some(key) = &job.pacing_key {
                    super::hold(tx, key, run_at).await?;
                }
                let attempt = job.attempt.saturating_sub(1);
                (
                    "ready",
                    attempt,
                    run_at,
                    Some(error.as_str()),
                    Finished::Retrying { run_at_ms: run_at },
                )
            }
            Outcome::Released => (
                "ready",
                job.attempt.saturating_sub(1),
                now,
                None,
                Finished::Released,
            ),
        };
        let changed = sqlx::query(
            "UPDATE jobs SET state = $1, attempt = $2, run_at = $3, \
               last_error = COALESCE($4, last_error), lease_until = NULL, updated_at = $5 \
             WHERE id = $6 AND attempt = $7 AND state = 'running'",
        )
        .bind(state)
        .bind(i64::from(attempt))
        .bind(run_at)
        .bind(error)
        .bind(now)
        .bind(job.id.0)
        .bind(i64::from(job.attempt))
        .execute(&mut **tx)
        .await?;
        Ok(if changed.rows_affected() == 1 {
            result
        } else {
            Finished::Stale
        })
    }
}

/// Marks a chunk of runs done in one statement; returns the ids that were still ours.
async fn complete_chunk<'a>(
    tx: &mut Tx,
    now: i64,
    jobs: impl Iterator<Item = &'a Job>,
) -> Result<Vec<JobId>, StoreError> {
    let jobs: Vec<&Job> = jobs.collect();
    let pairs = (0..jobs.len())
        .map(|i| format!("(${}, ${})", 2 + 2 * i, 3 + 2 * i))
        .collect::<Vec<_>>()
        .join(", ");
    // A join against VALUES lets PostgreSQL look each row up by primary key; a row-value
    // `IN (VALUES …)` made it scan the table. (A CTE names the columns on both backends.)
    let sql = format!(
        "WITH finished (id, attempt) AS (VALUES {pairs}) \
         UPDATE jobs SET state = 'done', lease_until = NULL, updated_at = $1 \
         FROM finished \
         WHERE jobs.id = finished.id AND jobs.attempt = finished.attempt \
         AND jobs.state = 'running' RETURNING jobs.id"
    );
    let mut query = sqlx::query_scalar::<_, i64>(&sql).bind(now);
    for job in &jobs {
        query = query.bind(job.id.0).bind(i64::from(job.attempt));
    }
    let ids = query.fetch_all(&mut **tx).await?;
    Ok(ids.into_iter().map(JobId).collect())
}

fn record_metrics(job: &Job, result: Finished) {
    let kind = job.kind.clone();
    match result {
        Finished::Done => {}
        Finished::Retrying { .. } => {
            metrics::counter!("switchboard_job_retries_total", "kind" => kind).increment(1)
        }
        Finished::Dead => {
            metrics::counter!("switchboard_jobs_dead_total", "kind" => kind).increment(1)
        }
        Finished::Released => {}
        Finished::Stale => {
            metrics::counter!("switchboard_job_stale_finishes_total", "kind" => kind).increment(1)
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}
