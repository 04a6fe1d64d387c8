//! The executor against a real local server.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use http::Method;

use crate::{ApiRequest, BreakerPolicy, BudgetReading, Call, Failure, Outbound, Rate};

/// A server whose `/status/{code}` answers that code and counts hits.
async fn server() -> (String, Arc<AtomicU32>) {
    let hits = Arc::new(AtomicU32::new(0));
    let counter = hits.clone();
    let app = Router::new()
        .route(
            "/status/{code}",
            get(move |axum::extract::Path(code): axum::extract::Path<u16>| {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let mut headers = HeaderMap::new();
                    if code == 429 {
                        headers.insert("retry-after", "2".parse().unwrap());
                    }
                    if code == 299 {
                        headers.insert("x-left", "0".parse().unwrap());
                        return (StatusCode::OK, headers, "ok");
                    }
                    (StatusCode::from_u16(code).unwrap(), headers, "body")
                }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, hits)
}

fn get_req(base: &str, path: &str) -> ApiRequest {
    ApiRequest::new(Method::GET, format!("{base}{path}"))
}

fn outbound() -> Outbound {
    Outbound::new(BreakerPolicy {
        threshold: 3,
        cooldown: Duration::from_millis(300),
        max_cooldown: Duration::from_secs(5),
    })
    .unwrap()
}

#[tokio::test]
async fn responses_come_back_whatever_their_status() {
    let (base, _) = server().await;
    let out = outbound();
    let call = Call::new("test", "get", "acct-1");
    let ok = out
        .execute(&call, get_req(&base, "/status/200"))
        .await
        .unwrap();
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(&ok.body[..], b"body");
    let bad = out
        .execute(&call, get_req(&base, "/status/400"))
        .await
        .unwrap();
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_open_breaker_stops_calls_until_a_trial_succeeds() {
    let (base, hits) = server().await;
    let out = outbound();
    let call = Call::new("test", "get", "acct-1");
    for _ in 0..3 {
        out.execute(&call, get_req(&base, "/status/503"))
            .await
            .unwrap();
    }
    let refused = out
        .execute(&call, get_req(&base, "/status/200"))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Failure::BreakerOpen { .. }),
        "{refused:?}"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        3,
        "an open breaker still called"
    );
    // Another credential of the same API is unaffected.
    let other = Call::new("test", "get", "acct-2");
    assert!(out
        .execute(&other, get_req(&base, "/status/200"))
        .await
        .is_ok());
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(out
        .execute(&call, get_req(&base, "/status/200"))
        .await
        .is_ok());
    assert!(out
        .execute(&call, get_req(&base, "/status/200"))
        .await
        .is_ok());
}

#[tokio::test]
async fn an_empty_budget_refuses_without_calling_and_429_empties_it() {
    let (base, hits) = server().await;
    let out = outbound();
    let rate = Rate {
        max: 3,
        interval: Duration::from_secs(10),
    };
    let call = Call::new("test", "get", "acct").with_budget("loc-1", rate);
    for _ in 0..3 {
        out.execute(&call, get_req(&base, "/status/200"))
            .await
            .unwrap();
    }
    let refused = out
        .execute(&call, get_req(&base, "/status/200"))
        .await
        .unwrap_err();
    assert!(matches!(refused, Failure::RateLimited { .. }));
    assert_eq!(hits.load(Ordering::SeqCst), 3);

    let other = Call::new("test", "get", "acct").with_budget("loc-2", rate);
    let limited = out
        .execute(&other, get_req(&base, "/status/429"))
        .await
        .unwrap();
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let Failure::RateLimited { after, .. } = out
        .execute(&other, get_req(&base, "/status/200"))
        .await
        .unwrap_err()
    else {
        panic!("not rate limited after a 429");
    };
    assert!(
        after <= Duration::from_secs(2) && after > Duration::from_millis(1500),
        "{after:?}"
    );
}

#[tokio::test]
async fn the_servers_budget_headers_correct_ours() {
    let (base, _) = server().await;
    let out = outbound();
    out.read_budget_headers("test", |headers| {
        let remaining = headers.get("x-left")?.to_str().ok()?.parse().ok()?;
        Some(BudgetReading {
            remaining,
            reset_in: None,
        })
    });
    let call = Call::new("test", "get", "acct").with_budget(
        "loc-1",
        Rate {
            max: 100,
            interval: Duration::from_secs(10),
        },
    );
    out.execute(&call, get_req(&base, "/status/299"))
        .await
        .unwrap();
    assert!(matches!(
        out.execute(&call, get_req(&base, "/status/200")).await,
        Err(Failure::RateLimited { .. })
    ));
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_retryable() {
    let (base, _) = server().await;
    let out = outbound();
    let call = Call::new("test", "slow", "acct").with_timeout(Duration::from_millis(200));
    let Failure::Retry { detail, .. } = out
        .execute(&call, get_req(&base, "/slow"))
        .await
        .unwrap_err()
    else {
        panic!("a timeout is retryable");
    };
    assert!(detail.starts_with("timed out"), "{detail}");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let Failure::Retry { detail, .. } = out
        .execute(
            &Call::new("test", "get", "acct-x"),
            get_req(&format!("http://{closed}"), "/"),
        )
        .await
        .unwrap_err()
    else {
        panic!("a refused connection is retryable");
    };
    assert!(detail.starts_with("could not connect"), "{detail}");
}
