//! Jobs with a unique key: scheduled work (the daily `retention` run) that every process
//! may ask for at start and every run asks for again, yet exists once.

use super::{JobId, NewJob, Queue};
use crate::error::StoreError;
use crate::tx::Tx;

impl Queue {
    /// Enqueues `job` in the caller's transaction unless a job with `unique_key` already
    /// exists, in whatever state (the unique index `jobs_by_unique_key` decides, so two
    /// processes asking at once get one job). Returns `None` when it existed. Finished
    /// jobs are pruned after 7 days, so a key names one occurrence (a day), not a kind.
    pub async fn enqueue_unique(
        &self,
        tx: &mut Tx,
        job: NewJob,
        unique_key: &str,
    ) -> Result<Option<JobId>, StoreError> {
        let now = self.db.now_ms();
        let delay = i64::try_from(job.delay.as_millis()).unwrap_or(i64::MAX / 4);
        let max_attempts = job.max_attempts.unwrap_or(self.retry.max_attempts);
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO jobs (kind, payload, state, attempt, max_attempts, run_at, \
             ordering_key, pacing_key, agency_id, unique_key, created_at, updated_at) \
             VALUES ($1, $2, 'ready', 0, $3, $4, $5, $6, $7, $8, $9, $9) \
             ON CONFLICT (unique_key) DO NOTHING RETURNING id",
        )
        .bind(&job.kind)
        .bind(job.payload.to_string())
        .bind(i64::from(max_attempts))
        .bind(now.saturating_add(delay))
        .bind(job.ordering_key.as_deref())
        .bind(job.pacing_key.as_deref())
        .bind(job.agency_id.as_ref().map(domain::AgencyId::as_str))
        .bind(unique_key)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(id) = id else { return Ok(None) };
        tx.mark_enqueued().await?;
        metrics::counter!("switchboard_jobs_enqueued_total", "kind" => job.kind).increment(1);
        Ok(Some(JobId(id)))
    }

    /// The state of the job with `unique_key`, if one exists: for tests and operators.
    pub async fn unique_job(
        &self,
        unique_key: &str,
    ) -> Result<Option<(JobId, super::JobState)>, StoreError> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT id, state FROM jobs WHERE unique_key = $1")
                .bind(unique_key)
                .fetch_optional(self.db.reader())
                .await?;
        row.map(|(id, state)| Ok((JobId(id), super::parse_state(&state)?)))
            .transpose()
    }
}
