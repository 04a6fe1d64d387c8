//! The queue's rules, driven step by step with a manual clock.

use std::time::Duration;

use serde_json::json;
use store::queue::{Finished, JobState, NewJob, Outcome, Queue, RetryPolicy};
use store::testing::TestStore;
use store::Clock;

const LEASE: Duration = Duration::from_secs(30);

async fn manual() -> (TestStore, Queue, Clock) {
    let test = TestStore::with_clock(Clock::manual()).await;
    let queue = test.store.queue().clone().with_retry_policy(RetryPolicy {
        max_attempts: 4,
        base: Duration::from_secs(1),
        max_delay: Duration::from_secs(60),
    });
    let clock = test.clock.clone();
    (test, queue, clock)
}

#[tokio::test]
async fn a_rolled_back_transaction_leaves_no_job_and_a_committed_one_always_does() {
    let (test, queue, _) = manual().await;
    let mut tx = test.store.begin().await.unwrap();
    queue
        .enqueue(&mut tx, NewJob::new("deliver", json!({"n": 1})))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    // Dropping without commit rolls back too.
    {
        let mut tx = test.store.begin().await.unwrap();
        queue
            .enqueue(&mut tx, NewJob::new("deliver", json!({"n": 2})))
            .await
            .unwrap();
    }
    let mut tx = test.store.begin().await.unwrap();
    let kept = queue
        .enqueue(&mut tx, NewJob::new("deliver", json!({"n": 3})))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // (SQLite may reuse a rolled-back id, so count rows rather than look ids up.)
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs")
        .fetch_one(test.store.db().reader())
        .await
        .unwrap();
    assert_eq!(rows, 1);
    assert_eq!(queue.state_of(kept).await.unwrap(), (JobState::Ready, 0));
    let jobs = queue.claim(&["deliver"], 10, LEASE).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].id, kept);
    assert_eq!(jobs[0].payload, json!({"n": 3}));
}

#[tokio::test]
async fn a_dead_workers_job_is_reclaimed_after_its_lease_and_its_late_completion_is_rejected() {
    let (_test, queue, clock) = manual().await;
    let id = queue
        .enqueue_now(NewJob::new("deliver", json!({})))
        .await
        .unwrap();
    let first = queue.claim(&["deliver"], 1, LEASE).await.unwrap().remove(0);
    assert_eq!((first.id, first.attempt), (id, 1));

    // The worker holding it goes silent. Before the lease ends, nobody else may take it.
    clock.advance(LEASE - Duration::from_secs(1));
    assert_eq!(queue.reclaim_expired().await.unwrap(), 0);
    assert!(queue
        .claim(&["deliver"], 1, LEASE)
        .await
        .unwrap()
        .is_empty());

    clock.advance(Duration::from_secs(2));
    assert_eq!(queue.reclaim_expired().await.unwrap(), 1);
    let second = queue.claim(&["deliver"], 1, LEASE).await.unwrap().remove(0);
    assert_eq!((second.id, second.attempt), (id, 2));

    // The stale worker wakes up and reports: fenced out, nothing changes.
    assert_eq!(
        queue.finish(&first, Outcome::Completed).await.unwrap(),
        Finished::Stale
    );
    assert_eq!(
        queue
            .finish(
                &first,
                Outcome::Permanent {
                    error: "late".into()
                }
            )
            .await
            .unwrap(),
        Finished::Stale
    );
    assert_eq!(queue.state_of(id).await.unwrap(), (JobState::Running, 2));
    assert_eq!(
        queue.finish(&second, Outcome::Completed).await.unwrap(),
        Finished::Done
    );
    assert_eq!(queue.state_of(id).await.unwrap(), (JobState::Done, 2));
    // Completing twice is also refused.
    assert_eq!(
        queue.finish(&second, Outcome::Completed).await.unwrap(),
        Finished::Stale
    );
}

#[tokio::test]
async fn a_job_that_kills_its_worker_on_the_last_attempt_goes_dead_not_round_again() {
    let (_test, queue, clock) = manual().await;
    let id = queue
        .enqueue_now(NewJob::new("deliver", json!({})).max_attempts(1))
        .await
        .unwrap();
    queue.claim(&["deliver"], 1, LEASE).await.unwrap();
    clock.advance(LEASE * 2);
    assert_eq!(queue.reclaim_expired().await.unwrap(), 1);
    assert_eq!(queue.state_of(id).await.unwrap(), (JobState::Dead, 1));
    let dead = queue.dead_jobs(None, 10).await.unwrap();
    assert!(dead[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("lease expired"));
}

#[tokio::test]
async fn retries_back_off_exponentially_then_dead_letter_then_replay() {
    let (_test, queue, clock) = manual().await;
    let id = queue
        .enqueue_now(NewJob::new("deliver", json!({"to": "+15550001"})))
        .await
        .unwrap();
    let policy = queue.retry_policy().clone();
    for attempt in 1..=3u32 {
        let job = queue.claim(&["deliver"], 1, LEASE).await.unwrap().remove(0);
        assert_eq!(job.attempt, attempt);
        let now = clock.now_ms();
        let Finished::Retrying { run_at_ms } = queue
            .finish(
                &job,
                Outcome::Retry {
                    error: format!("503 on attempt {attempt}"),
                    after: None,
                },
            )
            .await
            .unwrap()
        else {
            panic!("attempt {attempt} should be retried");
        };
        let ceiling = i64::try_from(policy.ceiling(attempt).as_millis()).unwrap();
        let waited = run_at_ms - now;
        assert!(
            waited >= ceiling / 2 && waited <= ceiling,
            "attempt {attempt}: waited {waited} ms, ceiling {ceiling}"
        );
        // Not due yet: nothing to claim until the backoff has passed.
        clock.advance(Duration::from_millis(u64::try_from(waited - 1).unwrap()));
        assert!(queue
            .claim(&["deliver"], 1, LEASE)
            .await
            .unwrap()
            .is_empty());
        clock.advance(Duration::from_millis(1));
    }
    let last = queue.claim(&["deliver"], 1, LEASE).await.unwrap().remove(0);
    assert!(last.is_last_attempt());
    let result = queue
        .finish(
            &last,
            Outcome::Retry {
                error: "503 again".into(),
                after: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(result, Finished::Dead);

    let dead = queue.dead_jobs(Some("deliver"), 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, id.to_string());
    assert_eq!(dead[0].attempts, 4);
    assert_eq!(dead[0].last_error.as_deref(), Some("503 again"));
    assert_eq!(dead[0].payload, json!({"to": "+15550001"}));
    assert!(queue
        .claim(&["deliver"], 1, LEASE)
        .await
        .unwrap()
        .is_empty());

    // Replay gives it a fresh set of attempts; replaying again is a no-op.
    assert!(queue.replay(id).await.unwrap());
    assert!(!queue.replay(id).await.unwrap());
    let again = queue.claim(&["deliver"], 1, LEASE).await.unwrap().remove(0);
    assert_eq!(again.attempt, 1);
    assert_eq!(
        queue.finish(&again, Outcome::Completed).await.unwrap(),
        Finished::Done
    );
    assert!(queue.dead_jobs(None, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn permanent_failures_go_dead_at_once_and_replay_all_brings_them_back() {
    let (_test, queue, _) = manual().await;
    for n in 0..3 {
        queue
            .enqueue_now(NewJob::new("deliver", json!({"n": n})))
            .await
            .unwrap();
    }
    queue
        .enqueue_now(NewJob::new("sync_inbound", json!({})))
        .await
        .unwrap();
    for job in queue
        .claim(&["deliver", "sync_inbound"], 10, LEASE)
        .await
        .unwrap()
    {
        let result = queue
            .finish(
                &job,
                Outcome::Permanent {
                    error: "invalid number".into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(result, Finished::Dead);
    }
    assert_eq!(queue.dead_jobs(None, 10).await.unwrap().len(), 4);
    assert_eq!(queue.replay_all(None, Some("deliver")).await.unwrap(), 3);
    assert_eq!(queue.dead_jobs(None, 10).await.unwrap().len(), 1);
    assert_eq!(queue.claim(&["deliver"], 10, LEASE).await.unwrap().len(), 3);
}

#[tokio::test]
async fn an_explicit_delay_is_honoured_exactly() {
    let (_test, queue, clock) = manual().await;
    queue
        .enqueue_now(NewJob::new("deliver", json!({})))
        .await
        .unwrap();
    let job = queue.claim(&["deliver"], 1, LEASE).await.unwrap().remove(0);
    let now = clock.now_ms();
    let result = queue
        .finish(
            &job,
            Outcome::Retry {
                error: "503 Retry-After: 90".into(),
                after: Some(Duration::from_secs(90)),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        result,
        Finished::Retrying {
            run_at_ms: now + 90_000
        }
    );
    clock.advance(Duration::from_millis(89_999));
    assert!(queue
        .claim(&["deliver"], 1, LEASE)
        .await
        .unwrap()
        .is_empty());
    clock.advance(Duration::from_millis(1));
    assert_eq!(
        queue.claim(&["deliver"], 1, LEASE).await.unwrap()[0].attempt,
        2
    );
}

#[tokio::test]
async fn a_rate_limited_job_holds_its_pacing_key_without_using_an_attempt() {
    let (_test, queue, clock) = manual().await;
    let a1 = queue
        .enqueue_now(NewJob::new("deliver", json!({"n": 1})).paced_by("loc_a"))
        .await
        .unwrap();
    let a2 = queue
        .enqueue_now(NewJob::new("deliver", json!({"n": 2})).paced_by("loc_a"))
        .await
        .unwrap();
    let b1 = queue
        .enqueue_now(NewJob::new("deliver", json!({"n": 3})).paced_by("loc_b"))
        .await
        .unwrap();

    let job = queue.claim(&["deliver"], 1, LEASE).await.unwrap().remove(0);
    assert_eq!(job.id, a1);
    let result = queue
        .finish(
            &job,
            Outcome::RateLimited {
                error: "429".into(),
                after: Duration::from_secs(5),
            },
        )
        .await
        .unwrap();
    assert!(matches!(result, Finished::Retrying { .. }));
    assert_eq!(queue.state_of(a1).await.unwrap(), (JobState::Ready, 0));

    // loc_a is on hold: only loc_b's job can be claimed.
    let claimed: Vec<_> = queue
        .claim(&["deliver"], 10, LEASE)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(claimed, vec![b1]);
    clock.advance(Duration::from_secs(5));
    let claimed: Vec<_> = queue
        .claim(&["deliver"], 10, LEASE)
        .await
        .unwrap()
        .into_iter()
        .map(|j| (j.id, j.attempt))
        .collect();
    assert_eq!(claimed, vec![(a1, 1), (a2, 1)]);

    // A hold set from outside (our own limiter) works the same way, and only extends.
    queue
        .hold_pacing_key("loc_c", clock.now_ms() + 10_000)
        .await
        .unwrap();
    queue
        .hold_pacing_key("loc_c", clock.now_ms() + 1_000)
        .await
        .unwrap();
    let c = queue
        .enqueue_now(NewJob::new("deliver", json!({})).paced_by("loc_c"))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(2));
    assert!(queue
        .claim(&["deliver"], 10, LEASE)
        .await
        .unwrap()
        .is_empty());
    // Idle workers sleep until the hold ends, not until the held job's own due time (which
    // has passed: they would claim again and again for nothing).
    let held_until = clock.now_ms() + 8_000;
    assert_eq!(
        queue.next_run_at(&["deliver"]).await.unwrap(),
        Some(held_until)
    );
    clock.advance(Duration::from_secs(8));
    assert_eq!(queue.claim(&["deliver"], 10, LEASE).await.unwrap()[0].id, c);
}

#[tokio::test]
async fn an_ordering_key_runs_one_job_at_a_time_in_enqueue_order_through_retries() {
    let (_test, queue, clock) = manual().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            queue
                .enqueue_now(NewJob::new("deliver", json!({"n": n})).ordered_by("cnv_1"))
                .await
                .unwrap(),
        );
    }
    let other = queue
        .enqueue_now(NewJob::new("deliver", json!({})).ordered_by("cnv_2"))
        .await
        .unwrap();

    // One claim of many returns only the head of each key.
    let claimed: Vec<_> = queue
        .claim(&["deliver"], 10, LEASE)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(
        claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![ids[0], other]
    );

    // The head fails and waits for its retry: the ones behind it wait too.
    let head = claimed.into_iter().next().unwrap();
    queue
        .finish(
            &head,
            Outcome::Retry {
                error: "timeout".into(),
                after: Some(Duration::from_secs(10)),
            },
        )
        .await
        .unwrap();
    assert!(queue
        .claim(&["deliver"], 10, LEASE)
        .await
        .unwrap()
        .is_empty());
    clock.advance(Duration::from_secs(10));
    let retried = queue.claim(&["deliver"], 10, LEASE).await.unwrap();
    assert_eq!(
        retried
            .iter()
            .map(|j| (j.id, j.attempt))
            .collect::<Vec<_>>(),
        vec![(ids[0], 2)]
    );
    queue.finish(&retried[0], Outcome::Completed).await.unwrap();
    for expected in &ids[1..] {
        let next = queue.claim(&["deliver"], 10, LEASE).await.unwrap();
        assert_eq!(
            next.iter().map(|j| j.id).collect::<Vec<_>>(),
            vec![*expected]
        );
        queue.finish(&next[0], Outcome::Completed).await.unwrap();
    }
}

#[tokio::test]
async fn a_dead_job_does_not_block_its_ordering_key_forever() {
    let (_test, queue, _) = manual().await;
    let first = queue
        .enqueue_now(NewJob::new("deliver", json!({})).ordered_by("cnv_1"))
        .await
        .unwrap();
    let second = queue
        .enqueue_now(NewJob::new("deliver", json!({})).ordered_by("cnv_1"))
        .await
        .unwrap();
    let job = queue
        .claim(&["deliver"], 10, LEASE)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(job.id, first);
    queue
        .finish(
            &job,
            Outcome::Permanent {
                error: "bad number".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        queue.claim(&["deliver"], 10, LEASE).await.unwrap()[0].id,
        second
    );
}

#[tokio::test]
async fn only_the_kinds_asked_for_are_claimed() {
    let (_test, queue, _) = manual().await;
    queue
        .enqueue_now(NewJob::new("future_kind", json!({})))
        .await
        .unwrap();
    let known = queue
        .enqueue_now(NewJob::new("deliver", json!({})))
        .await
        .unwrap();
    let claimed = queue.claim(&["deliver"], 10, LEASE).await.unwrap();
    assert_eq!(
        claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![known]
    );
    assert!(queue.claim(&[], 10, LEASE).await.unwrap().is_empty());
    let depths = queue.depths().await.unwrap();
    assert!(depths.contains(&("future_kind".to_string(), JobState::Ready, 1)));
    assert!(depths.contains(&("deliver".to_string(), JobState::Running, 1)));
}

#[tokio::test]
async fn completions_in_one_batch_are_each_fenced() {
    let (_test, queue, clock) = manual().await;
    for n in 0..5 {
        queue
            .enqueue_now(NewJob::new("deliver", json!({"n": n})))
            .await
            .unwrap();
    }
    let jobs = queue.claim(&["deliver"], 5, LEASE).await.unwrap();
    // Job 0's lease is lost and it is taken over before the batch lands.
    clock.advance(LEASE * 2);
    let extended = queue
        .extend_leases(
            &jobs[1..]
                .iter()
                .map(|j| (j.id, j.attempt))
                .collect::<Vec<_>>(),
            LEASE,
        )
        .await
        .unwrap();
    assert_eq!(extended.len(), 4);
    assert_eq!(queue.reclaim_expired().await.unwrap(), 1);
    let runs: Vec<_> = jobs.iter().map(|j| (j, Outcome::Completed)).collect();
    let results = queue.finish_many(&runs).await.unwrap();
    assert_eq!(results[0], Finished::Stale);
    assert!(results[1..].iter().all(|r| *r == Finished::Done));
}

async fn run_at(test: &TestStore, id: store::queue::JobId) -> i64 {
    sqlx::query_scalar("SELECT run_at FROM jobs WHERE id = $1")
        .bind(id.0)
        .fetch_one(test.store.db().reader())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_held_keys_waiting_jobs_move_to_the_holds_end_and_keep_their_order() {
    let (test, queue, clock) = manual().await;
    let paced = |n: u32| NewJob::new("deliver", json!({ "n": n })).paced_by("loc_a");
    let a1 = queue.enqueue_now(paced(1)).await.unwrap();
    let a2 = queue.enqueue_now(paced(2)).await.unwrap();
    let a3 = queue.enqueue_now(paced(3)).await.unwrap();
    let b1 = queue
        .enqueue_now(NewJob::new("deliver", json!({})).paced_by("loc_b"))
        .await
        .unwrap();
    let enqueued_at = clock.now_ms();

    let job = queue.claim(&["deliver"], 1, LEASE).await.unwrap().remove(0);
    assert_eq!(job.id, a1);
    let limited = Outcome::RateLimited {
        error: "budget empty".into(),
        after: Duration::from_secs(5),
    };
    queue.finish(&job, limited).await.unwrap();
    let hold_end = clock.now_ms() + 5_000;
    for id in [a1, a2, a3] {
        assert_eq!(run_at(&test, id).await, hold_end, "job {id:?}");
    }
    assert_eq!(
        run_at(&test, b1).await,
        enqueued_at,
        "another key is untouched"
    );

    // A shorter hold never brings them forward.
    queue
        .hold_pacing_key("loc_a", clock.now_ms() + 1_000)
        .await
        .unwrap();
    assert_eq!(run_at(&test, a2).await, hold_end);

    clock.advance(Duration::from_secs(5));
    let claimed: Vec<_> = queue
        .claim(&["deliver"], 10, LEASE)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    // (A claim returns its jobs by id.)
    assert_eq!(claimed, vec![a1, a2, a3, b1]);
}
