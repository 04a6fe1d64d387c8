//! Health, readiness, metrics, request ids, error bodies, limits, shutdown.

use std::time::Duration;

use axum::routing::{get, post};
use axum::{Json, Router};
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::AppState;
use store::queue::NewJob;
use store::testing::TestStore;

use crate::{start_run, TestServer};

/// Routes that exercise the shared layers the way webhook handlers will.
fn probe_routes() -> Router<AppState> {
    server::http::routes()
        .route(
            "/probe/echo",
            post(|Json(body): Json<Value>| async move { Json(body) }),
        )
        .route(
            "/probe/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(400)).await;
                "done"
            }),
        )
        .route(
            "/probe/stuck",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "never"
            }),
        )
        .route(
            "/probe/panic",
            get(|| async { panic!("boom") as &'static str }),
        )
}

async fn probe(env: &[(&str, &str)]) -> TestServer {
    TestServer::start_with(env, probe_routes(), TestStore::new().await).await
}

async fn json_of(response: reqwest::Response) -> Value {
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

#[tokio::test]
async fn healthz_and_readyz_answer_when_the_database_is_migrated() {
    let server = TestServer::start(&[]).await;
    let health = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(json_of(health).await, json!({"status": "ok"}));
    let ready = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(json_of(ready).await, json!({"status": "ready"}));
    server.stop().await;
}

#[tokio::test]
async fn readyz_is_503_when_migrations_are_missing_or_the_database_is_gone() {
    let test = TestStore::new().await;
    sqlx::query("DELETE FROM _sqlx_migrations")
        .execute(test.store.db().writer())
        .await
        .unwrap();
    let server = TestServer::start_with(&[], server::http::routes(), test).await;
    let ready = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = json_of(ready).await;
    assert_eq!(body["code"], "not_migrated");
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("switchboard migrate"));

    server.test.store.db().close().await;
    let ready = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_of(ready).await["code"], "database_unreachable");
    // Liveness doesn't depend on the database.
    assert_eq!(
        server
            .client
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_a_given_one() {
    let server = TestServer::start(&[]).await;
    let made = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    let id = made.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(id.starts_with("req_") && id.len() == 30, "{id}");
    let kept = server
        .client
        .get(server.url("/nope"))
        .header("x-request-id", "trace-abc")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "trace-abc");
    let body = json_of(kept).await;
    assert_eq!(body["request_id"], "trace-abc");
    server.stop().await;
}

#[tokio::test]
async fn every_error_is_the_json_error_body() {
    let server = probe(&[("SWITCHBOARD_MAX_BODY_BYTES", "2048")]).await;
    let c = &server.client;
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            c.get(server.url("/no/such/path")),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            c.delete(server.url("/healthz")),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            c.post(server.url("/probe/echo"))
                .header("content-type", "application/json")
                .body("{not json"),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            c.post(server.url("/probe/echo")).body("{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            c.post(server.url("/probe/echo"))
                .header("content-type", "application/json")
                .body(format!("\"{}\"", "x".repeat(4096))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            c.get(server.url("/probe/panic")),
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
        ),
    ];
    for (request, status, code) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{code}");
        let body = json_of(response).await;
        assert_eq!(body["code"], code);
        assert!(!body["detail"].as_str().unwrap().is_empty());
        assert!(body["request_id"].as_str().unwrap().starts_with("req_"));
    }
    // A body within the limit goes through untouched.
    let ok = c
        .post(server.url("/probe/echo"))
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.json::<Value>().await.unwrap(), json!({"a": 1}));
    server.stop().await;
}

#[tokio::test]
async fn slow_requests_time_out_with_408() {
    let server = probe(&[("SWITCHBOARD_REQUEST_TIMEOUT_SECS", "1")]).await;
    // 0.4 s is inside the limit; 30 s is not.
    let ok = server
        .client
        .get(server.url("/probe/slow"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let started = std::time::Instant::now();
    let late = server
        .client
        .get(server.url("/probe/stuck"))
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), StatusCode::REQUEST_TIMEOUT);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(json_of(late).await["code"], "timeout");
    server.stop().await;
}

#[tokio::test]
async fn metrics_report_requests_by_route_and_queue_depth_by_kind_and_state() {
    let server = TestServer::start(&[]).await;
    server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    server
        .client
        .get(server.url("/no/such/path"))
        .send()
        .await
        .unwrap();
    let queue = server.test.store.queue();
    queue
        .enqueue_now(NewJob::new("deliver", json!({})))
        .await
        .unwrap();
    queue
        .enqueue_now(NewJob::new("deliver", json!({})))
        .await
        .unwrap();

    let page = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let text = page.text().await.unwrap();
    assert!(text.contains("switchboard_http_request_duration_seconds_bucket{route=\"/healthz\",method=\"GET\",status=\"200\""), "{text}");
    assert!(
        text.contains("route=\"unmatched\",method=\"GET\",status=\"404\""),
        "{text}"
    );
    assert!(
        text.contains("switchboard_queue_depth{kind=\"deliver\",state=\"ready\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("switchboard_jobs_enqueued_total{kind=\"deliver\"}"),
        "{text}"
    );

    // A depth that drops to zero reads 0, not its last value.
    let job = queue
        .claim(&["deliver"], 2, Duration::from_secs(30))
        .await
        .unwrap();
    for j in &job {
        queue
            .finish(j, store::queue::Outcome::Completed)
            .await
            .unwrap();
    }
    let text = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("switchboard_queue_depth{kind=\"deliver\",state=\"ready\"} 0"),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let server = probe(&[]).await;
    let slow = tokio::spawn({
        let (client, url) = (server.client.clone(), server.url("/probe/slow"));
        async move { client.get(url).send().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop().await;
    let response = slow.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "done");
}

#[tokio::test]
async fn run_serves_http_and_stops_cleanly_on_shutdown() {
    let test = TestStore::new().await;
    let (base, stop, handle) = start_run(&test, true).await;
    let client = reqwest::Client::new();
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        client.get(format!("{base}/healthz")).send().await.is_err(),
        "still listening after stop"
    );
}
