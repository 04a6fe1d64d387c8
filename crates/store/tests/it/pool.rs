//! The worker pool: concurrency, exactly-once completion, order, backoff, shutdown.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use store::queue::{JobState, NewJob, Outcome, Queue, RetryPolicy};
use store::testing::TestStore;
use store::worker::{Handlers, PoolReport, WorkerOptions, WorkerPool};
use store::{Clock, Db, Store};
use tokio::sync::oneshot;

use crate::wait_for;

fn options(concurrency: usize) -> WorkerOptions {
    WorkerOptions {
        concurrency,
        lease: Duration::from_secs(30),
        idle_poll: Duration::from_millis(200),
        shutdown_grace: Duration::from_secs(5),
        claim_batch: 64,
        ..WorkerOptions::default()
    }
}

/// Starts a pool on its own connection to the test database, as another process would.
async fn start_pool(
    test: &TestStore,
    handlers: Handlers,
    options: WorkerOptions,
) -> (oneshot::Sender<()>, tokio::task::JoinHandle<PoolReport>) {
    let db = Db::connect(&test.options()).await.unwrap();
    let queue = Queue::new(db).with_retry_policy(RetryPolicy {
        max_attempts: 5,
        base: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let pool = WorkerPool::new(queue, handlers, options);
    let handle = tokio::spawn(async move {
        pool.run(async {
            let _ = stopped.await;
        })
        .await
        .unwrap()
    });
    (stop, handle)
}

async fn enqueue_many(store: &Store, jobs: impl IntoIterator<Item = NewJob>) {
    let mut tx = store.begin().await.unwrap();
    for (i, job) in jobs.into_iter().enumerate() {
        store.queue().enqueue(&mut tx, job).await.unwrap();
        if i % 500 == 499 {
            tx.commit().await.unwrap();
            tx = store.begin().await.unwrap();
        }
    }
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_workers_complete_every_job_exactly_once() {
    const JOBS: u64 = 3000;
    let test = TestStore::new().await;
    let runs: Arc<Mutex<HashMap<u64, u32>>> = Arc::default();
    let handlers = {
        let runs = runs.clone();
        Handlers::new().on("deliver", move |job| {
            let runs = runs.clone();
            async move {
                let n = job.payload["n"].as_u64().unwrap();
                *runs.lock().unwrap().entry(n).or_default() += 1;
                tokio::task::yield_now().await;
                Outcome::Completed
            }
        })
    };
    // Four pools, each its own connection set: four competing processes.
    let mut pools = Vec::new();
    for _ in 0..4 {
        pools.push(start_pool(&test, handlers.clone(), options(8)).await);
    }
    enqueue_many(
        &test.store,
        (0..JOBS).map(|n| NewJob::new("deliver", json!({"n": n}))),
    )
    .await;

    wait_for("every job to run", Duration::from_secs(120), || {
        runs.lock().unwrap().len() as u64 == JOBS
    })
    .await;
    let mut report = PoolReport::default();
    for (stop, handle) in pools {
        stop.send(()).unwrap();
        let r = handle.await.unwrap();
        report.completed += r.completed;
        report.stale += r.stale;
    }
    let twice = runs.lock().unwrap().values().filter(|n| **n != 1).count();
    assert_eq!(twice, 0, "some job ran twice");
    assert_eq!(report.completed, JOBS);
    assert_eq!(report.stale, 0);
    let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE state = 'done'")
        .fetch_one(test.store.db().reader())
        .await
        .unwrap();
    assert_eq!(done as u64, JOBS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ordering_keys_keep_order_under_concurrency_and_retries() {
    const KEYS: usize = 4;
    const PER_KEY: usize = 25;
    let test = TestStore::new().await;
    let completed: Arc<Mutex<HashMap<String, Vec<u64>>>> = Arc::default();
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    let overlap = Arc::new(Mutex::new(false));
    let handlers = {
        let (completed, running, overlap) = (completed.clone(), running.clone(), overlap.clone());
        Handlers::new().on("deliver", move |job| {
            let (completed, running, overlap) =
                (completed.clone(), running.clone(), overlap.clone());
            async move {
                let key = job.ordering_key.clone().unwrap();
                if !running.lock().unwrap().insert(key.clone()) {
                    *overlap.lock().unwrap() = true;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
                let n = job.payload["n"].as_u64().unwrap();
                running.lock().unwrap().remove(&key);
                // Every third message fails its first attempt.
                if n % 3 == 0 && job.attempt == 1 {
                    return Outcome::Retry {
                        error: "provider timeout".into(),
                        after: None,
                    };
                }
                completed.lock().unwrap().entry(key).or_default().push(n);
                Outcome::Completed
            }
        })
    };
    let mut pools = Vec::new();
    for _ in 0..2 {
        pools.push(start_pool(&test, handlers.clone(), options(8)).await);
    }
    // Interleaved across conversations, as webhooks would arrive.
    let jobs = (0..PER_KEY).flat_map(|i| {
        (0..KEYS)
            .map(move |k| NewJob::new("deliver", json!({"n": i})).ordered_by(format!("cnv_{k}")))
    });
    enqueue_many(&test.store, jobs).await;
    wait_for(
        "all conversations to drain",
        Duration::from_secs(120),
        || {
            completed
                .lock()
                .unwrap()
                .values()
                .map(Vec::len)
                .sum::<usize>()
                == KEYS * PER_KEY
        },
    )
    .await;
    for (stop, handle) in pools {
        stop.send(()).unwrap();
        handle.await.unwrap();
    }
    assert!(
        !*overlap.lock().unwrap(),
        "two jobs of one conversation ran at once"
    );
    for (key, order) in completed.lock().unwrap().iter() {
        let expected: Vec<u64> = (0..PER_KEY as u64).collect();
        assert_eq!(order, &expected, "{key} out of order");
    }
}

/// The pool's own retry schedule, end to end, without sleeping through the backoff: the
/// database clock is manual and the test moves it to each due time. (Paused tokio time
/// can't drive this: sqlx runs SQLite on its own thread, and tokio auto-advances paused
/// time whenever the runtime waits on it, firing sqlx's own timeouts.)
#[tokio::test]
async fn the_pool_follows_the_backoff_schedule_on_a_manual_clock() {
    let test = TestStore::with_clock(Clock::manual()).await;
    let clock = test.clock.clone();
    let attempts: Arc<Mutex<Vec<i64>>> = Arc::default();
    let handlers = {
        let (attempts, clock) = (attempts.clone(), clock.clone());
        Handlers::new().on("deliver", move |job| {
            let (attempts, clock) = (attempts.clone(), clock.clone());
            async move {
                attempts.lock().unwrap().push(clock.now_ms());
                if job.attempt < 3 {
                    Outcome::Retry {
                        error: "503".into(),
                        after: None,
                    }
                } else {
                    Outcome::Completed
                }
            }
        })
    };
    let policy = RetryPolicy {
        max_attempts: 5,
        base: Duration::from_secs(60),
        max_delay: Duration::from_secs(3600),
    };
    let queue = test.store.queue().clone().with_retry_policy(policy.clone());
    let id = queue
        .enqueue_now(NewJob::new("deliver", json!({})))
        .await
        .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let mut opts = options(2);
    opts.idle_poll = Duration::from_millis(10);
    let pool = tokio::spawn(WorkerPool::new(queue.clone(), handlers, opts).run(async {
        let _ = stopped.await;
    }));
    for attempt in 1..=2 {
        wait_for("the attempt", Duration::from_secs(30), || {
            attempts.lock().unwrap().len() == attempt
        })
        .await;
        wait_for_state(&queue, id, JobState::Ready).await;
        let run_at: i64 = sqlx::query_scalar("SELECT run_at FROM jobs WHERE id = $1")
            .bind(id.0)
            .fetch_one(test.store.db().reader())
            .await
            .unwrap();
        clock.advance(Duration::from_millis(
            u64::try_from(run_at - clock.now_ms()).unwrap(),
        ));
    }
    wait_for_state(&queue, id, JobState::Done).await;
    stop.send(()).unwrap();
    pool.await.unwrap().unwrap();
    let at = attempts.lock().unwrap().clone();
    assert_eq!(at.len(), 3);
    for (i, gap) in at.windows(2).map(|w| w[1] - w[0]).enumerate() {
        let ceiling = i64::try_from(policy.ceiling(i as u32 + 1).as_millis()).unwrap();
        assert!(
            gap >= ceiling / 2 && gap <= ceiling,
            "gap {i}: {gap} ms, ceiling {ceiling}"
        );
    }
}

#[tokio::test]
async fn a_panicking_handler_is_retried_not_lost() {
    let test = TestStore::new().await;
    let handlers = Handlers::new().on("deliver", |job| async move {
        if job.attempt == 1 {
            panic!("bug in handler");
        }
        Outcome::Completed
    });
    let (stop, handle) = start_pool(&test, handlers, options(2)).await;
    let id = test
        .store
        .queue()
        .enqueue_now(NewJob::new("deliver", json!({})))
        .await
        .unwrap();
    let queue = test.store.queue().clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while queue.state_of(id).await.unwrap() != (JobState::Done, 2) {
        assert!(std::time::Instant::now() < deadline, "job never completed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(()).unwrap();
    let report = handle.await.unwrap();
    assert_eq!((report.retried, report.completed), (1, 1));
}

#[tokio::test]
async fn shutdown_finishes_quick_jobs_and_releases_stuck_ones_without_using_an_attempt() {
    let test = TestStore::new().await;
    let started = Arc::new(tokio::sync::Semaphore::new(0));
    let handlers = {
        let started = started.clone();
        Handlers::new()
            .on("quick", |_| async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Outcome::Completed
            })
            .on("stuck", move |_| {
                let started = started.clone();
                async move {
                    started.add_permits(1);
                    std::future::pending::<()>().await;
                    Outcome::Completed
                }
            })
    };
    let mut opts = options(4);
    opts.shutdown_grace = Duration::from_millis(500);
    let (stop, handle) = start_pool(&test, handlers, opts).await;
    let queue = test.store.queue().clone();
    let stuck = queue
        .enqueue_now(NewJob::new("stuck", json!({})))
        .await
        .unwrap();
    let _ = started.acquire().await.unwrap();
    let quick = queue
        .enqueue_now(NewJob::new("quick", json!({})))
        .await
        .unwrap();
    wait_for_state(&queue, quick, JobState::Running).await;
    stop.send(()).unwrap();
    let report = handle.await.unwrap();
    assert_eq!((report.completed, report.released), (1, 1));
    assert_eq!(queue.state_of(quick).await.unwrap(), (JobState::Done, 1));
    assert_eq!(queue.state_of(stuck).await.unwrap(), (JobState::Ready, 0));
}

async fn wait_for_state(queue: &Queue, id: store::queue::JobId, state: JobState) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while queue.state_of(id).await.unwrap().0 != state {
        assert!(
            std::time::Instant::now() < deadline,
            "job never reached {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// An enqueue wakes idle workers at commit, not at their next poll: in the same process
/// through the in-process wake-up, and on PostgreSQL from another process through
/// `LISTEN/NOTIFY`. (On SQLite a second process is only noticed at the next poll; one
/// process owns an embedded database's work.)
#[tokio::test]
async fn a_commit_wakes_idle_workers_without_waiting_for_the_poll() {
    let test = TestStore::new().await;
    let db = Db::connect(&test.options()).await.unwrap();
    let queue = Queue::new(db.clone());
    let mut opts = options(2);
    opts.idle_poll = Duration::from_secs(60);
    let handlers = Handlers::new().on("deliver", |_| async { Outcome::Completed });
    let (stop, stopped) = oneshot::channel::<()>();
    let pool = tokio::spawn(WorkerPool::new(queue.clone(), handlers, opts).run(async {
        let _ = stopped.await;
    }));
    // Let the pool find nothing and go to sleep for its (long) poll.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let producer = match test.backend() {
        store::Backend::Postgres => test.store.queue().clone(),
        store::Backend::Sqlite => queue.clone(),
    };
    let id = producer
        .enqueue_now(NewJob::new("deliver", json!({})))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while queue.state_of(id).await.unwrap().0 != JobState::Done {
        assert!(
            std::time::Instant::now() < deadline,
            "the pool slept through the enqueue"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(()).unwrap();
    pool.await.unwrap().unwrap();
}

/// A request whose client hangs up is dropped wherever it is, even in the middle of
/// `BEGIN` or `COMMIT`. The writer connection must come out of that usable: sqlx's own
/// `begin` and `commit` are not safe to cancel, and a cancelled one once left SQLite's only
/// writer inside a transaction, failing every later write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_begins_and_commits_leave_the_writer_usable() {
    let test = store::testing::TestStore::new().await;
    let store = &test.store;
    for i in 0..400u64 {
        let cut = Duration::from_micros(i % 40 * 5);
        if i % 2 == 0 {
            let _ = tokio::time::timeout(cut, store.begin()).await;
        } else {
            let tx = store.begin().await.unwrap();
            let _ = tokio::time::timeout(cut, tx.commit()).await;
        }
    }
    let tx = tokio::time::timeout(Duration::from_secs(10), store.begin())
        .await
        .expect("the writer is stuck")
        .unwrap();
    tx.commit().await.unwrap();
    store
        .queue()
        .enqueue_now(store::queue::NewJob::new("probe", serde_json::json!({})))
        .await
        .unwrap();
}
