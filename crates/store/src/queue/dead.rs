//! The dead-letter queue: jobs that ran out of attempts or failed permanently.
//!
//! Each job carries the agency it works for (`jobs.agency_id`), so an agency's admins
//! see and replay their own dead jobs; `None` for the agency means every job (operators).

use domain::AgencyId;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{to_u32, JobId, Queue};
use crate::error::StoreError;
use crate::page::{Paged, Paging};

/// A dead job, for operators deciding whether to replay it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeadJob {
    pub id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// The agency it worked for; `None` for installation-wide jobs.
    pub agency_id: Option<String>,
    pub created_at_ms: i64,
    pub died_at_ms: i64,
}

const COLUMNS: &str = "id, kind, payload, attempt, last_error, agency_id, created_at, updated_at";

/// Only `$1`'s jobs, or every job when `$1` is NULL.
const OF_AGENCY: &str = "($1 IS NULL OR agency_id = $1)";

impl DeadJob {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let payload: String = row.try_get("payload")?;
        Ok(DeadJob {
            id: JobId(row.try_get("id")?).to_string(),
            kind: row.try_get("kind")?,
            payload: serde_json::from_str(&payload)?,
            attempts: to_u32(row.try_get("attempt")?),
            last_error: row.try_get("last_error")?,
            agency_id: row.try_get("agency_id")?,
            created_at_ms: row.try_get("created_at")?,
            died_at_ms: row.try_get("updated_at")?,
        })
    }
}

impl Queue {
    /// Dead jobs, newest first, optionally of one kind.
    pub async fn dead_jobs(
        &self,
        kind: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DeadJob>, StoreError> {
        Ok(self
            .dead_jobs_page(None, kind, &Paging::first(limit))
            .await?
            .items)
    }

    /// A page of dead jobs, newest first: of one agency (or all, with `None`), optionally
    /// of one kind. Pages follow the job id (enqueue order): a page's position carries the
    /// last id in both of its fields.
    pub async fn dead_jobs_page(
        &self,
        agency: Option<&AgencyId>,
        kind: Option<&str>,
        paging: &Paging,
    ) -> Result<Paged<DeadJob>, StoreError> {
        let after: Option<i64> = paging.after.as_ref().map(|a| a.at_ms);
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM jobs WHERE state = 'dead' AND {OF_AGENCY} \
             AND ($2 IS NULL OR kind = $2) AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        ))
        .bind(agency.map(AgencyId::as_str))
        .bind(kind)
        .bind(after)
        .bind(paging.fetch())
        .fetch_all(self.db.reader())
        .await?;
        let jobs = rows
            .iter()
            .map(|row| Ok((row.try_get::<i64, _>("id")?, DeadJob::from_row(row)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Paged::from_rows(jobs, paging, |(id, _)| (*id, id.to_string())).map(|(_, job)| job))
    }

    /// One dead job of the agency (any agency with `None`); `NotFound` when it isn't dead
    /// or belongs to another agency.
    pub async fn dead_job(
        &self,
        agency: Option<&AgencyId>,
        id: JobId,
    ) -> Result<DeadJob, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM jobs WHERE state = 'dead' AND {OF_AGENCY} AND id = $2"
        ))
        .bind(agency.map(AgencyId::as_str))
        .bind(id.0)
        .fetch_optional(self.db.reader())
        .await?
        .ok_or(StoreError::NotFound)?;
        DeadJob::from_row(&row)
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

    /// Replays every dead job of the agency (all agencies with `None`), of one kind if
    /// given; returns how many.
    pub async fn replay_all(
        &self,
        agency: Option<&AgencyId>,
        kind: Option<&str>,
    ) -> Result<u64, StoreError> {
        let now = self.db.now_ms();
        let result = sqlx::query(&format!(
            "UPDATE jobs SET state = 'ready', attempt = 0, run_at = $3, updated_at = $3 \
             WHERE state = 'dead' AND {OF_AGENCY} AND ($2 IS NULL OR kind = $2)"
        ))
        .bind(agency.map(AgencyId::as_str))
        .bind(kind)
        .bind(now)
        .execute(self.db.writer())
        .await?;
        if result.rows_affected() > 0 {
            self.db.wake().wake();
        }
        Ok(result.rows_affected())
    }
}
