//! Commits job outcomes in batches: one transaction, one fsync, for every outcome that
//! arrived while the previous batch was committing.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{InFlight, Observer, PoolReport};
use crate::queue::{Finished, Job, Outcome, Queue};

/// Most outcomes committed in one transaction.
const MAX_BATCH: usize = 512;

/// One run's result on its way to the database.
#[derive(Debug)]
pub(super) struct Report {
    job: Job,
    outcome: Outcome,
    claimed_at: Instant,
    ran_for: Duration,
}

impl Report {
    pub(super) fn new(job: Job, outcome: Outcome, claimed_at: Instant, started: Instant) -> Self {
        Self {
            job,
            outcome,
            claimed_at,
            ran_for: started.elapsed(),
        }
    }
}

pub(super) struct Finisher {
    queue: Queue,
    in_flight: InFlight,
    reports: mpsc::UnboundedReceiver<Report>,
    observer: Option<Observer>,
    totals: PoolReport,
}

impl Finisher {
    pub(super) fn new(
        queue: Queue,
        in_flight: InFlight,
        reports: mpsc::UnboundedReceiver<Report>,
        observer: Option<Observer>,
    ) -> Self {
        Self {
            queue,
            in_flight,
            reports,
            observer,
            totals: PoolReport::default(),
        }
    }

    /// Runs until every sender is gone and every report is committed.
    pub(super) async fn run(mut self) -> PoolReport {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = self.reports.recv().await {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match self.reports.try_recv() {
                    Ok(report) => batch.push(report),
                    Err(_) => break,
                }
            }
            self.commit(&mut batch).await;
        }
        self.totals
    }

    /// Commits a batch, retrying while the database is unavailable: an outcome is never
    /// dropped while the process lives (if it dies, the lease expires and the job runs
    /// again, which is why handlers must be idempotent).
    async fn commit(&mut self, batch: &mut Vec<Report>) {
        let mut delay = Duration::from_millis(50);
        let results = loop {
            let runs: Vec<(&Job, Outcome)> =
                batch.iter().map(|r| (&r.job, r.outcome.clone())).collect();
            match self.queue.finish_many(&runs).await {
                Ok(results) => break results,
                Err(e) => {
                    tracing::warn!(error = %e, jobs = batch.len(), "recording job outcomes failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        };
        if let Ok(mut map) = self.in_flight.lock() {
            for report in batch.iter() {
                map.remove(&report.job.id);
            }
        }
        for (report, result) in batch.drain(..).zip(results) {
            if let Some(observer) = &self.observer {
                observer(&report.job, result, report.claimed_at.elapsed());
            }
            let outcome = match result {
                Finished::Done => {
                    self.totals.completed += 1;
                    "completed"
                }
                Finished::Retrying { .. } => {
                    self.totals.retried += 1;
                    "retry"
                }
                Finished::Dead => {
                    self.totals.dead += 1;
                    "dead"
                }
                Finished::Released => {
                    self.totals.released += 1;
                    "released"
                }
                Finished::Stale => {
                    self.totals.stale += 1;
                    tracing::warn!(job = %report.job.id, attempt = report.job.attempt, "outcome discarded: the job's lease was lost");
                    "stale"
                }
            };
            if let Outcome::Retry { error, .. }
            | Outcome::Permanent { error }
            | Outcome::RateLimited { error, .. } = &report.outcome
            {
                tracing::info!(job = %report.job.id, kind = %report.job.kind, attempt = report.job.attempt, %error, outcome, "job failed");
            }
            metrics::histogram!(
                "switchboard_job_duration_seconds",
                "kind" => report.job.kind.clone(),
                "outcome" => outcome
            )
            .record(report.ran_for.as_secs_f64());
        }
    }
}
