//! The worker pool: claims jobs, runs them with bounded concurrency, reports outcomes.
//!
//! One claim loop per process takes as many jobs as there are free slots, in one
//! statement; each job runs in its own task; outcomes flow to one finisher task that
//! commits them in batches (group commit). A heartbeat extends the leases of jobs still
//! running, so only a worker that really stopped loses its jobs. On shutdown the pool
//! stops claiming, lets running jobs finish within the grace period, then aborts the rest
//! and releases them to the queue without using an attempt.

mod finisher;
mod handlers;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Semaphore};
use tokio::task::AbortHandle;

pub use handlers::Handlers;

use crate::error::StoreError;
use crate::queue::{Finished, Job, JobId, Outcome, Queue};
use finisher::{Finisher, Report};

/// How a pool runs.
/// The shortest idle sleep when a job is due but was not claimable (its ordering key waits
/// for an earlier job). Completions and enqueues wake the pool sooner.
const BLOCKED_RECHECK: Duration = Duration::from_millis(20);

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs running at once.
    pub concurrency: usize,
    /// How long a claimed job is ours before another worker may take it.
    pub lease: Duration,
    /// Longest sleep when idle, as a safety net for missed wake-ups and for pacing holds
    /// and lease expiries, which send no notification.
    pub idle_poll: Duration,
    /// How long running jobs get to finish after shutdown is asked for.
    pub shutdown_grace: Duration,
    /// Most jobs taken by one claim.
    pub claim_batch: usize,
    /// How long finished jobs are kept (for timelines and audits) before they are purged.
    pub done_retention: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            concurrency: 32,
            lease: Duration::from_secs(300),
            idle_poll: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(30),
            claim_batch: 128,
            done_retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// What a pool did, returned when it stops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolReport {
    pub claimed: u64,
    pub completed: u64,
    pub retried: u64,
    pub dead: u64,
    /// Aborted at shutdown and handed back to the queue.
    pub released: u64,
    /// Outcomes refused because the lease had been lost.
    pub stale: u64,
}

/// How often a pool deletes finished jobs past their retention.
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// Jobs this process is running: attempt (for lease extension) and how to abort.
type InFlight = Arc<Mutex<HashMap<JobId, (u32, AbortHandle)>>>;

/// Called once per committed outcome with the job, what became of it, and the time from
/// its claim to the commit of its outcome. For benchmarks and tests.
pub type Observer = Arc<dyn Fn(&Job, Finished, Duration) + Send + Sync>;

/// Runs jobs from a [`Queue`] with the given [`Handlers`].
pub struct WorkerPool {
    queue: Queue,
    handlers: Arc<Handlers>,
    options: WorkerOptions,
    observer: Option<Observer>,
}

impl std::fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerPool")
            .field("handlers", &self.handlers)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl WorkerPool {
    pub fn new(queue: Queue, handlers: Handlers, options: WorkerOptions) -> Self {
        Self {
            queue,
            handlers: Arc::new(handlers),
            options,
            observer: None,
        }
    }

    /// Calls `observer` for every committed outcome.
    pub fn observe(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Runs until `shutdown` completes, then drains as described in the module docs.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<PoolReport, StoreError> {
        let kinds: Vec<String> = self
            .handlers
            .kinds()
            .into_iter()
            .map(String::from)
            .collect();
        let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
        let in_flight: InFlight = Arc::default();
        let (report_tx, report_rx) = mpsc::unbounded_channel::<Report>();
        let finisher = tokio::spawn(
            Finisher::new(
                self.queue.clone(),
                in_flight.clone(),
                report_rx,
                self.observer.clone(),
            )
            .run(),
        );
        let heartbeat = tokio::spawn(heartbeat(
            self.queue.clone(),
            in_flight.clone(),
            self.options.lease,
        ));
        let listener = self.queue.spawn_listener();
        let slots = Arc::new(Semaphore::new(self.options.concurrency.max(1)));
        let mut claimed_total = 0u64;
        tokio::pin!(shutdown);

        let result = self
            .claim_loop(
                &kinds,
                &slots,
                &in_flight,
                &report_tx,
                &mut claimed_total,
                &mut shutdown,
            )
            .await;

        // Drain: let running jobs finish within the grace period, then release the rest.
        let all = u32::try_from(self.options.concurrency.max(1)).unwrap_or(u32::MAX);
        let drained =
            tokio::time::timeout(self.options.shutdown_grace, slots.acquire_many(all)).await;
        if drained.is_err() {
            let leftovers: Vec<(JobId, AbortHandle)> = in_flight
                .lock()
                .map(|m| m.iter().map(|(id, (_, h))| (*id, h.clone())).collect())
                .unwrap_or_default();
            tracing::warn!(
                jobs = leftovers.len(),
                "shutdown grace expired; releasing running jobs"
            );
            for (_, handle) in leftovers {
                handle.abort();
            }
        }
        drop(report_tx);
        let mut report = finisher.await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "job finisher failed");
            PoolReport::default()
        });
        heartbeat.abort();
        if let Some(listener) = listener {
            listener.abort();
        }
        report.claimed = claimed_total;
        result.map(|()| report)
    }

    async fn claim_loop(
        &self,
        kinds: &[&str],
        slots: &Arc<Semaphore>,
        in_flight: &InFlight,
        report_tx: &mpsc::UnboundedSender<Report>,
        claimed_total: &mut u64,
        shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> Result<(), StoreError> {
        let wake = self.queue.db().wake().clone();
        let mut last_reclaim = Instant::now() - self.options.idle_poll;
        let mut last_purge: Option<Instant> = None;
        loop {
            // Wait for a free slot (or shutdown), then take as many as are free.
            let first = tokio::select! {
                permit = slots.clone().acquire_owned() => permit.map_err(|_| StoreError::Config("worker slots closed".into()))?,
                () = shutdown.as_mut() => return Ok(()),
            };
            let mut permits = vec![first];
            while permits.len() < self.options.claim_batch.max(1) {
                match slots.clone().try_acquire_owned() {
                    Ok(p) => permits.push(p),
                    Err(_) => break,
                }
            }
            // Listen before claiming so an enqueue that lands in between still wakes us.
            let notified = wake.notify().notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            if last_reclaim.elapsed() >= self.options.idle_poll {
                last_reclaim = Instant::now();
                if let Err(e) = self.queue.reclaim_expired().await {
                    tracing::warn!(error = %e, "reclaiming expired leases failed");
                }
                if let Err(e) = self.queue.refresh_statistics().await {
                    tracing::warn!(error = %e, "refreshing queue statistics failed");
                }
                if last_purge.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
                    last_purge = Some(Instant::now());
                    self.purge_done().await;
                }
            }
            let jobs = match self
                .queue
                .claim(kinds, permits.len(), self.options.lease)
                .await
            {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming jobs failed; retrying");
                    drop(permits);
                    tokio::select! {
                        () = tokio::time::sleep(self.options.idle_poll) => continue,
                        () = shutdown.as_mut() => return Ok(()),
                    }
                }
            };
            *claimed_total += jobs.len() as u64;
            if jobs.is_empty() {
                drop(permits);
                let sleep = self.idle_sleep(kinds).await;
                tokio::select! {
                    () = notified => {}
                    () = tokio::time::sleep(sleep) => {}
                    () = shutdown.as_mut() => return Ok(()),
                }
                continue;
            }
            metrics::counter!("switchboard_jobs_claimed_total").increment(jobs.len() as u64);
            for (job, permit) in jobs.into_iter().zip(permits.drain(..)) {
                self.start(job, permit, in_flight, report_tx);
            }
        }
    }

    async fn purge_done(&self) {
        let retention =
            i64::try_from(self.options.done_retention.as_millis()).unwrap_or(i64::MAX / 4);
        let before = self.queue.db().now_ms().saturating_sub(retention);
        match self.queue.purge_done(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "purged finished jobs past retention"),
            Err(e) => tracing::warn!(error = %e, "purging finished jobs failed"),
        }
        // The real-time event log is pruned on the same beat: a day is kept for sockets
        // that resume (see `repo::events`).
        let before = self
            .queue
            .db()
            .now_ms()
            .saturating_sub(crate::repo::EVENT_RETENTION_MS);
        match crate::repo::prune_events(self.queue.db(), before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "pruned real-time events past retention"),
            Err(e) => tracing::warn!(error = %e, "pruning real-time events failed"),
        }
    }

    /// How long to sleep with nothing to do: until the next job is due, at most
    /// `idle_poll`.
    async fn idle_sleep(&self, kinds: &[&str]) -> Duration {
        let poll = self.options.idle_poll;
        match self.queue.next_run_at(kinds).await {
            Ok(Some(at)) => {
                let wait = at.saturating_sub(self.queue.db().now_ms()).max(0);
                let wait = Duration::from_millis(u64::try_from(wait).unwrap_or(0));
                // Due already, yet nothing was claimable: the job waits behind an earlier
                // one of its conversation, whose completion wakes us. Don't spin meanwhile.
                if wait.is_zero() {
                    BLOCKED_RECHECK
                } else {
                    wait
                }
                .min(poll)
            }
            Ok(None) => poll,
            Err(e) => {
                tracing::warn!(error = %e, "reading the next due job failed");
                poll
            }
        }
    }

    fn start(
        &self,
        job: Job,
        permit: tokio::sync::OwnedSemaphorePermit,
        in_flight: &InFlight,
        report_tx: &mpsc::UnboundedSender<Report>,
    ) {
        let Some(handler) = self.handlers.get(&job.kind) else {
            // Only kinds with handlers are claimed; this is a bug, not bad input.
            let _ = report_tx.send(Report::new(
                job,
                Outcome::Released,
                Instant::now(),
                Instant::now(),
            ));
            return;
        };
        let report_tx = report_tx.clone();
        let id = job.id;
        let attempt = job.attempt;
        // The handler runs in a task of its own so a panic becomes a retry, not a lost
        // job, and so shutdown can abort it.
        let run = tokio::spawn(handler(job.clone()));
        let abort = run.abort_handle();
        if let Ok(mut map) = in_flight.lock() {
            map.insert(id, (attempt, abort));
        }
        let claimed_at = Instant::now();
        tokio::spawn(async move {
            let started = Instant::now();
            let outcome = match run.await {
                Ok(outcome) => outcome,
                Err(e) if e.is_cancelled() => Outcome::Released,
                Err(_) => Outcome::Retry {
                    error: "the job handler panicked".into(),
                    after: None,
                },
            };
            let _ = report_tx.send(Report::new(job, outcome, claimed_at, started));
            drop(permit);
        });
    }
}

/// Extends the leases of running jobs every third of a lease.
async fn heartbeat(queue: Queue, in_flight: InFlight, lease: Duration) {
    let every = (lease / 3).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        let running: Vec<(JobId, u32)> = in_flight
            .lock()
            .map(|m| m.iter().map(|(id, (attempt, _))| (*id, *attempt)).collect())
            .unwrap_or_default();
        if running.is_empty() {
            continue;
        }
        match queue.extend_leases(&running, lease).await {
            Ok(extended) if extended.len() < running.len() => tracing::warn!(
                lost = running.len() - extended.len(),
                "some running jobs lost their lease; their results will be discarded"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "extending job leases failed"),
        }
    }
}
