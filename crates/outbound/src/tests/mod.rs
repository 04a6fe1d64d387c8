#![allow(clippy::unwrap_used)]

use super::*;

fn response(status: u16, headers: &[(&'static str, &str)], body: &str) -> ApiResponse {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.insert(*k, v.parse().expect("header"));
    }
    ApiResponse {
        status: StatusCode::from_u16(status).expect("status"),
        headers: map,
        body: Bytes::from(body.to_string()),
    }
}

#[test]
fn statuses_are_classified_by_what_to_do_next() {
    assert_eq!(
        classify_status(&response(429, &[("retry-after", "7")], "")),
        Failure::RateLimited {
            detail: "HTTP 429".into(),
            after: Duration::from_secs(7)
        }
    );
    assert_eq!(
        classify_status(&response(429, &[], "slow down")),
        Failure::RateLimited {
            detail: "HTTP 429: slow down".into(),
            after: DEFAULT_RATE_LIMIT_WAIT
        }
    );
    assert_eq!(
        classify_status(&response(503, &[("retry-after", "2")], "")),
        Failure::Retry {
            detail: "HTTP 503".into(),
            after: Some(Duration::from_secs(2))
        }
    );
    assert!(matches!(
        classify_status(&response(500, &[], "")),
        Failure::Retry { after: None, .. }
    ));
    assert!(matches!(
        classify_status(&response(408, &[], "")),
        Failure::Retry { .. }
    ));
    assert!(matches!(
        classify_status(&response(400, &[], "{}")),
        Failure::Permanent { .. }
    ));
    assert!(matches!(
        classify_status(&response(401, &[], "")),
        Failure::Permanent { .. }
    ));
}

#[test]
fn retry_after_reads_seconds_and_dates_and_ignores_garbage() {
    let mut h = HeaderMap::new();
    h.insert("retry-after", "1.5".parse().expect("v"));
    assert_eq!(retry_after(&h), Some(Duration::from_millis(1500)));
    let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
    h.insert("retry-after", later.parse().expect("v"));
    let wait = retry_after(&h).expect("date");
    assert!(wait > Duration::from_secs(110) && wait <= Duration::from_secs(120));
    let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(60));
    h.insert("retry-after", past.parse().expect("v"));
    assert_eq!(retry_after(&h), Some(Duration::ZERO));
    for bad in ["soon", "-3", "NaN"] {
        h.insert("retry-after", bad.parse().expect("v"));
        assert_eq!(retry_after(&h), None, "{bad}");
    }
}

#[test]
fn long_bodies_are_cut_in_descriptions() {
    let long = "x".repeat(1000);
    assert_eq!(
        describe(&response(502, &[], &long)).len(),
        "HTTP 502: ".len() + 300
    );
}

mod breaker_and_budget {
    use std::time::Duration;

    use tokio::time::Instant;

    use crate::{Breaker, BreakerPolicy, BreakerState, Budget, BudgetReading, Rate};

    const POLICY: BreakerPolicy = BreakerPolicy {
        threshold: 3,
        cooldown: Duration::from_secs(10),
        max_cooldown: Duration::from_secs(30),
    };

    #[tokio::test(start_paused = true)]
    async fn a_breaker_opens_after_consecutive_failures_and_heals_through_one_trial() {
        let mut b = Breaker::default();
        for _ in 0..2 {
            b.admit(Instant::now()).unwrap();
            b.record(false, Instant::now(), &POLICY);
        }
        assert_eq!(b.state(), BreakerState::Closed { failures: 2 });
        // A success in between resets the count.
        b.record(true, Instant::now(), &POLICY);
        for _ in 0..3 {
            b.admit(Instant::now()).unwrap();
            b.record(false, Instant::now(), &POLICY);
        }
        assert!(matches!(b.state(), BreakerState::Open { .. }));
        assert_eq!(b.admit(Instant::now()), Err(Duration::from_secs(10)));
        tokio::time::advance(Duration::from_secs(10)).await;
        // One trial goes; the next waits for it.
        assert_eq!(b.check(Instant::now()), Ok(()));
        b.admit(Instant::now()).unwrap();
        assert!(b.admit(Instant::now()).is_err());
        // The trial fails: open again, twice as long.
        b.record(false, Instant::now(), &POLICY);
        assert_eq!(b.admit(Instant::now()), Err(Duration::from_secs(20)));
        tokio::time::advance(Duration::from_secs(20)).await;
        b.admit(Instant::now()).unwrap();
        b.record(false, Instant::now(), &POLICY);
        // Capped at max_cooldown.
        assert_eq!(b.admit(Instant::now()), Err(Duration::from_secs(30)));
        tokio::time::advance(Duration::from_secs(30)).await;
        b.admit(Instant::now()).unwrap();
        b.record(true, Instant::now(), &POLICY);
        assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
    }

    #[tokio::test(start_paused = true)]
    async fn a_budget_allows_max_per_interval_and_says_how_long_to_wait() {
        let mut budget = Budget::new(Rate {
            max: 100,
            interval: Duration::from_secs(10),
        });
        for i in 0..100 {
            budget.spend(Instant::now()).unwrap();
            if i % 10 == 9 {
                tokio::time::advance(Duration::from_millis(500)).await;
            }
        }
        // The first 10 calls were made 4.5 s ago (advanced 9 × 0.5 s after them, plus this one).
        let wait = budget.spend(Instant::now()).unwrap_err();
        assert_eq!(wait, Duration::from_millis(5000));
        tokio::time::advance(wait).await;
        assert_eq!(budget.remaining(Instant::now()), 10);
        budget.spend(Instant::now()).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_budget_follows_the_servers_count_and_429s() {
        let rate = Rate {
            max: 100,
            interval: Duration::from_secs(10),
        };
        let mut budget = Budget::new(rate);
        budget.spend(Instant::now()).unwrap();
        // Another process spent most of the shared budget.
        budget.correct(
            BudgetReading {
                remaining: 2,
                reset_in: Some(Duration::from_secs(4)),
            },
            Instant::now(),
        );
        assert_eq!(budget.remaining(Instant::now()), 2);
        // A server with more left than we think doesn't loosen our count.
        budget.correct(
            BudgetReading {
                remaining: 50,
                reset_in: None,
            },
            Instant::now(),
        );
        assert_eq!(budget.remaining(Instant::now()), 2);
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(budget.remaining(Instant::now()), 99);

        budget.exhaust_for(Duration::from_secs(3), Instant::now());
        assert_eq!(budget.spend(Instant::now()), Err(Duration::from_secs(3)));
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(budget.remaining(Instant::now()), 100);
    }
}

mod executor;
