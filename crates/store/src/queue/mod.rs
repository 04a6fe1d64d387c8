//! The durable job queue: a `jobs` table both backends share.
//!
//! No crate offers "enqueue inside my own transaction" on SQLite and PostgreSQL alike, and
//! that is the property everything rests on: a webhook's message row and the job that
//! delivers it commit together or not at all (an outbox). The life of a job:
//!
//! 1. [`Queue::enqueue`] inserts it `ready` inside the caller's [`Tx`].
//! 2. [`Queue::claim`] takes a batch in one `UPDATE … RETURNING`: state `running`, a lease,
//!    and `attempt + 1`. The attempt number is the job's fencing token.
//! 3. The worker runs it with no transaction open, then reports an [`Outcome`];
//!    [`Queue::finish`] applies it only if the job is still `running` at that attempt, so
//!    a worker whose lease expired (and whose job someone else took) changes nothing.
//! 4. Failures go back to `ready` later (exponential backoff with jitter, or the delay the
//!    job asked for), or to `dead` after the last attempt; dead jobs can be replayed.
//!
//! Two keys shape the claim. An **ordering key** (a conversation) lets at most one of its
//! jobs run at a time, in id order, retries included. A **pacing key** (a location's GHL
//! budget, a line's send rate) is skipped while a hold on it lasts.

mod backoff;
mod claim;
mod dead;
mod finish;
mod listen;
mod unique;

use std::time::Duration;

pub use backoff::RetryPolicy;
pub use dead::DeadJob;
pub use domain::JobId;
pub use finish::{Finished, Outcome};

use crate::db::Db;
use crate::error::StoreError;
use crate::tx::Tx;

/// Sets or extends (never shortens) the hold on a pacing key: `$1` key, `$2` until.
const HOLD_PACING_KEY: &str = "INSERT INTO pacing_holds (pacing_key, until_ms) VALUES ($1, $2) \
     ON CONFLICT (pacing_key) DO UPDATE SET until_ms = excluded.until_ms \
     WHERE pacing_holds.until_ms < excluded.until_ms";

/// Moves a held key's waiting jobs to the hold's end. The claim would skip them anyway
/// (it checks `pacing_holds`), but only after reading each one: with thousands waiting
/// behind one empty budget (a location's GHL status updates, a campaign on a 1/s line),
/// every claim walked them all before reaching anything it could run. Their order
/// within the key is kept: they share one `run_at` and the claim breaks ties by id.
const DEFER_HELD_JOBS: &str = "UPDATE jobs SET run_at = $2 \
     WHERE pacing_key = $1 AND state = 'ready' AND run_at < $2";

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Waiting for its `run_at`.
    Ready,
    /// Claimed by a worker whose lease runs until `lease_until`.
    Running,
    Done,
    /// Out of attempts or failed permanently: in the dead-letter queue.
    Dead,
}

impl JobState {
    pub const ALL: [JobState; 4] = [
        JobState::Ready,
        JobState::Running,
        JobState::Done,
        JobState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Ready => "ready",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub payload: serde_json::Value,
    /// Run no earlier than this long from now.
    pub delay: Duration,
    pub ordering_key: Option<String>,
    pub pacing_key: Option<String>,
    /// Overrides the queue's default number of attempts.
    pub max_attempts: Option<u32>,
    /// The agency the job works for: its admins see it in the dead-letter queue.
    pub agency_id: Option<domain::AgencyId>,
}

impl NewJob {
    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            kind: kind.into(),
            payload,
            delay: Duration::ZERO,
            ordering_key: None,
            pacing_key: None,
            max_attempts: None,
            agency_id: None,
        }
    }

    /// The agency the job works for (see [`NewJob::agency_id`]).
    pub fn for_agency(mut self, agency: &domain::AgencyId) -> Self {
        self.agency_id = Some(agency.clone());
        self
    }

    /// Jobs with the same ordering key run one at a time, in enqueue order.
    pub fn ordered_by(mut self, key: impl Into<String>) -> Self {
        self.ordering_key = Some(key.into());
        self
    }

    /// The budget this job spends; the claim skips it while the key is on hold.
    pub fn paced_by(mut self, key: impl Into<String>) -> Self {
        self.pacing_key = Some(key.into());
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts.max(1));
        self
    }
}

/// A claimed job, as a worker sees it.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: JobId,
    pub kind: String,
    pub payload: serde_json::Value,
    /// This run's attempt number, from 1. Also the fencing token for [`Queue::finish`].
    pub attempt: u32,
    pub max_attempts: u32,
    pub ordering_key: Option<String>,
    pub pacing_key: Option<String>,
    pub lease_until_ms: i64,
    pub created_at_ms: i64,
}

impl Job {
    /// True when a failure of this run sends the job to the dead-letter queue.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}

/// The queue over a [`Db`].
#[derive(Debug, Clone)]
pub struct Queue {
    db: Db,
    retry: RetryPolicy,
}

impl Queue {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            retry: RetryPolicy::default(),
        }
    }

    /// Uses `retry` for jobs that don't set their own number of attempts.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Inserts a job inside the caller's transaction: it exists if and only if that
    /// transaction commits.
    pub async fn enqueue(&self, tx: &mut Tx, job: NewJob) -> Result<JobId, StoreError> {
        let now = self.db.now_ms();
        let delay = i64::try_from(job.delay.as_millis()).unwrap_or(i64::MAX / 4);
        let max_attempts = job.max_attempts.unwrap_or(self.retry.max_attempts);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO jobs (kind, payload, state, attempt, max_attempts, run_at, \
             ordering_key, pacing_key, agency_id, created_at, updated_at) \
             VALUES ($1, $2, 'ready', 0, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        )
        .bind(&job.kind)
        .bind(job.payload.to_string())
        .bind(i64::from(max_attempts))
        .bind(now.saturating_add(delay))
        .bind(job.ordering_key.as_deref())
        .bind(job.pacing_key.as_deref())
        .bind(job.agency_id.as_ref().map(domain::AgencyId::as_str))
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
        tx.mark_enqueued().await?;
        metrics::counter!("switchboard_jobs_enqueued_total", "kind" => job.kind).increment(1);
        Ok(JobId(id))
    }

    /// Inserts many jobs inside the caller's transaction with multi-row statements (a
    /// campaign's sends, a backfill): far fewer round trips than one `enqueue` per job.
    /// Returns their ids in the order given.
    pub async fn enqueue_many(
        &self,
        tx: &mut Tx,
        jobs: &[NewJob],
    ) -> Result<Vec<JobId>, StoreError> {
        let now = self.db.now_ms();
        let mut ids = Vec::with_capacity(jobs.len());
        for chunk in crate::multirow::chunks(jobs, 7) {
            let rows = (0..chunk.len())
                .map(|i| {
                    let p = 2 + i * 7;
                    format!(
                        "(${p}, ${}, 'ready', 0, ${}, ${}, ${}, ${}, ${}, $1, $1)",
                        p + 1,
                        p + 2,
                        p + 3,
                        p + 4,
                        p + 5,
                        p + 6
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO jobs (kind, payload, state, attempt, max_attempts, run_at, \
                 ordering_key, pacing_key, agency_id, created_at, updated_at) VALUES {rows} \
                 RETURNING id"
            );
            let mut query = sqlx::query_scalar::<_, i64>(&sql).bind(now);
            for job in chunk {
                let delay = i64::try_from(job.delay.as_millis()).unwrap_or(i64::MAX / 4);
                query = query
                    .bind(job.kind.as_str())
                    .bind(job.payload.to_string())
                    .bind(i64::from(
                        job.max_attempts.unwrap_or(self.retry.max_attempts),
                    ))
                    .bind(now.saturating_add(delay))
                    .bind(job.ordering_key.as_deref())
                    .bind(job.pacing_key.as_deref())
                    .bind(job.agency_id.as_ref().map(domain::AgencyId::as_str));
            }
            let mut chunk_ids = query.fetch_all(&mut **tx).await?;
            // Both backends number the rows of one INSERT in VALUES order.
            chunk_ids.sort_unstable();
            ids.extend(chunk_ids.into_iter().map(JobId));
            for job in chunk {
                metrics::counter!("switchboard_jobs_enqueued_total", "kind" => job.kind.clone())
                    .increment(1);
            }
        }
        if !jobs.is_empty() {
            tx.mark_enqueued().await?;
        }
        Ok(ids)
    }

    /// Enqueues one job in a transaction of its own.
    pub async fn enqueue_now(&self, job: NewJob) -> Result<JobId, StoreError> {
        let mut tx = self.db.begin().await?;
        let id = self.enqueue(&mut tx, job).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Holds a pacing key until `until_ms`: jobs carrying it are not claimed before then.
    /// An earlier hold is extended, never shortened.
    pub async fn hold_pacing_key(&self, key: &str, until_ms: i64) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        hold(&mut tx, key, until_ms).await?;
        tx.commit().await
    }

    /// How many jobs are in each state, by kind (`done` excluded: it only grows).
    pub async fn depths(&self) -> Result<Vec<(String, JobState, i64)>, StoreError> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT kind, state, COUNT(*) FROM jobs WHERE state <> 'done' GROUP BY kind, state",
        )
        .fetch_all(self.db.reader())
        .await?;
        rows.into_iter()
            .map(|(kind, state, n)| Ok((kind, parse_state(&state)?, n)))
            .collect()
    }

    /// A job's current state and attempt count, for tests and operators.
    pub async fn state_of(&self, id: JobId) -> Result<(JobState, u32), StoreError> {
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT state, attempt FROM jobs WHERE id = $1")
                .bind(id.0)
                .fetch_optional(self.db.reader())
                .await?;
        let (state, attempt) = row.ok_or(StoreError::NotFound)?;
        Ok((parse_state(&state)?, to_u32(attempt)))
    }

    /// Deletes finished jobs last touched before `before_ms`; returns how many.
    pub async fn purge_done(&self, before_ms: i64) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM jobs WHERE state = 'done' AND updated_at < $1")
            .bind(before_ms)
            .execute(self.db.writer())
            .await?;
        Ok(result.rows_affected())
    }
}

fn parse_state(state: &str) -> Result<JobState, StoreError> {
    JobState::ALL
        .into_iter()
        .find(|s| s.as_str() == state)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown job state {state:?}")))
}

fn to_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// Holds `key` until `until_ms` and defers its waiting jobs to then.
pub(crate) async fn hold(tx: &mut Tx, key: &str, until_ms: i64) -> Result<(), StoreError> {
    sqlx::query(HOLD_PACING_KEY)
        .bind(key)
        .bind(until_ms)
        .execute(&mut **tx)
        .await?;
    sqlx::query(DEFER_HELD_JOBS)
        .bind(key)
        .bind(until_ms)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
