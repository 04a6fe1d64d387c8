//! `switchboard bench queue` pushes `--jobs` jobs through the real queue and worker pool on a fresh
//! database (a temporary SQLite file, or a throwaway schema in PostgreSQL): producers
//! enqueue in transactions of `--batch` jobs (one multi-row `enqueue_many`; `--batch 1`
//! is one `enqueue` per transaction, as a webhook does) while the pool claims, runs an empty handler
//! and commits outcomes. Throughput is jobs over the time from the first enqueue to the
//! last completion; latency is from a job's claim to the commit of its completion.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;
use store::queue::{Finished, NewJob, Outcome, Queue};
use store::worker::{Handlers, WorkerOptions, WorkerPool};
use store::Db;
use tokio::sync::{oneshot, Notify};

use super::{
    backend_name, cores, drop_scratch, peak_rss_mb, percentile, round, scratch_database,
    sqlite_synchronous,
};
use crate::cli::QueueBenchArgs;

pub(super) async fn run(args: QueueBenchArgs) -> Result<()> {
    if args.jobs == 0 || args.workers == 0 || args.producers == 0 || args.batch == 0 {
        bail!("--jobs, --workers, --producers and --batch must be at least 1");
    }
    let (options, scratch) = scratch_database(&args.database)?;
    let db = Db::connect(&options)
        .await
        .context("opening the benchmark database")?;
    db.migrate().await?;
    let queue = Queue::new(db.clone());

    let done = Arc::new(AtomicU64::new(0));
    let all_done = Arc::new(Notify::new());
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(
        usize::try_from(args.jobs).unwrap_or(0),
    )));
    let observer = {
        let (done, all_done, latencies, total) =
            (done.clone(), all_done.clone(), latencies.clone(), args.jobs);
        Arc::new(
            move |_: &store::queue::Job, result: Finished, claim_to_commit: Duration| {
                if result == Finished::Done {
                    if let Ok(mut l) = latencies.lock() {
                        l.push(claim_to_commit.as_secs_f64() * 1000.0);
                    }
                    if done.fetch_add(1, Ordering::SeqCst) + 1 == total {
                        all_done.notify_one();
                    }
                }
            },
        )
    };
    let pool = WorkerPool::new(
        queue.clone(),
        Handlers::new().on("bench", |_| async { Outcome::Completed }),
        WorkerOptions {
            concurrency: args.workers,
            lease: Duration::from_secs(120),
            idle_poll: Duration::from_millis(100),
            claim_batch: args.workers,
            ..WorkerOptions::default()
        },
    )
    .observe(observer);
    let (stop, stopped) = oneshot::channel::<()>();
    let pool = tokio::spawn(pool.run(async {
        let _ = stopped.await;
    }));

    let started = Instant::now();
    let finished = all_done.notified();
    tokio::pin!(finished);
    finished.as_mut().enable();
    let mut producers = Vec::new();
    for p in 0..args.producers {
        let count = args.jobs / args.producers as u64
            + u64::from((p as u64) < args.jobs % args.producers as u64);
        producers.push(tokio::spawn(produce(queue.clone(), count, args.batch)));
    }
    for producer in producers {
        producer.await??;
    }
    let enqueue_seconds = started.elapsed().as_secs_f64();
    if done.load(Ordering::SeqCst) < args.jobs {
        tokio::time::timeout(Duration::from_secs(600), finished)
            .await
            .context("jobs did not all complete within 10 minutes")?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let _ = stop.send(());
    pool.await??;

    let mut latencies = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    latencies.sort_by(f64::total_cmp);
    let result = json!({
        "bench": "queue",
        "backend": backend_name(args.database.backend),
        "sqlite_synchronous": sqlite_synchronous(&args.database),
        "jobs": args.jobs,
        "workers": args.workers,
        "producers": args.producers,
        "enqueue_batch": args.batch,
        "seconds": round(seconds),
        "jobs_per_sec": round(args.jobs as f64 / seconds),
        "enqueue_seconds": round(enqueue_seconds),
        "p50_ms": round(percentile(&latencies, 0.50)),
        "p99_ms": round(percentile(&latencies, 0.99)),
        "peak_rss_mb": peak_rss_mb(),
        "cores": cores(),
    });
    println!("{result}");
    db.close().await;
    drop_scratch(scratch).await;
    Ok(())
}

async fn produce(queue: Queue, count: u64, batch: usize) -> Result<()> {
    let mut left = count;
    while left > 0 {
        let mut tx = queue.db().begin().await?;
        let n = left.min(batch as u64);
        if batch == 1 {
            queue
                .enqueue(&mut tx, NewJob::new("bench", json!({})))
                .await?;
        } else {
            let jobs: Vec<NewJob> = (0..n).map(|_| NewJob::new("bench", json!({}))).collect();
            queue.enqueue_many(&mut tx, &jobs).await?;
        }
        tx.commit().await?;
        left -= n;
    }
    Ok(())
}
