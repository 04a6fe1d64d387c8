//! The dead-letter queue through the API: each agency sees and replays only its own.

use reqwest::Method;
use serde_json::json;

use super::{get, send, world};
use crate::auth::{bearer, session, user};
use crate::TestServer;

#[tokio::test]
async fn an_agency_sees_and_replays_only_its_own_dead_jobs() {
    let server = TestServer::start(&[]).await;
    let alpha = world(&server, "alpha").await;
    let bravo = world(&server, "bravo").await;

    let (status, page) = get(&server, &alpha.admin, "/api/v1/dead-jobs").await;
    assert_eq!(status, 200, "{page}");
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [alpha.id("dead-jobs")]);
    assert_eq!(page["items"][0]["last_error"], "boom");
    assert_eq!(page["items"][0]["attempts"], 5);

    let (status, body) = get(&server, &alpha.admin, "/api/v1/dead-jobs?kind=Not-A-Kind").await;
    assert_eq!(status, 400, "{body}");

    // Replay all replays only the caller's agency's jobs.
    let (status, body) = send(
        &server,
        Method::POST,
        &alpha.admin,
        "/api/v1/dead-jobs/replay",
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["replayed"], 1);
    let (_, page) = get(&server, &bravo.admin, "/api/v1/dead-jobs").await;
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        1,
        "bravo's job is still dead"
    );

    // Replaying one: once, then it is no longer dead (404, like any id not in the queue).
    let path = format!("/api/v1/dead-jobs/{}/replay", bravo.id("dead-jobs"));
    let (status, body) = send(&server, Method::POST, &bravo.admin, &path, &json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["replayed"], 1);
    let (status, _) = send(&server, Method::POST, &bravo.admin, &path, &json!({})).await;
    assert_eq!(status, 404);

    // Each replay is in its agency's audit log, with the actor.
    let (status, log) = get(&server, &bravo.admin, "/api/v1/audit-log?action=dead_job").await;
    assert_eq!(status, 200, "{log}");
    let entries = log["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!(entries[0]["action"], "dead_job.replayed");
    assert_eq!(entries[0]["target"], bravo.id("dead-jobs"));
    assert!(entries[0]["actor"].as_str().unwrap().starts_with("user:"));

    // An agent may not see the queue at all.
    user(&server, "agent@alpha.test", "agent", Some(&alpha.tenant)).await;
    let agent = bearer(
        session(&server, "agent@alpha.test").await["access_token"]
            .as_str()
            .unwrap(),
    );
    let (status, _) = get(&server, &agent, "/api/v1/dead-jobs").await;
    assert_eq!(status, 403);
    server.stop().await;
}

#[tokio::test]
async fn the_audit_log_pages_and_filters_and_shows_only_the_agency() {
    let server = TestServer::start(&[]).await;
    let alpha = world(&server, "alpha").await;
    let _bravo = world(&server, "bravo").await;
    // Sign-ins are audited: three more for alpha.
    for _ in 0..3 {
        session(&server, "admin@alpha.test").await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/audit-log?action=auth.login&limit=2".to_string();
    loop {
        let (status, page) = get(&server, &alpha.admin, &path).await;
        assert_eq!(status, 200, "{page}");
        for entry in page["items"].as_array().unwrap() {
            assert_eq!(entry["action"], "auth.login");
            assert_eq!(entry["agency_id"], alpha.id("agencies"));
            seen.push(entry["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/v1/audit-log?action=auth.login&limit=2&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 4, "one sign-in in the world, three here");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no entry on two pages");
    let (status, _) = get(
        &server,
        &alpha.admin,
        "/api/v1/audit-log?action=DROP%20TABLE",
    )
    .await;
    assert_eq!(status, 400);
    server.stop().await;
}
