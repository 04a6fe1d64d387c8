//! Request budgets on `/api/v1`: per credential and per client address, 429 with
//! `Retry-After`, and one caller's flood leaves the others served.

use super::{get, world};
use crate::TestServer;

async fn retry_after(server: &TestServer, auth: &str, path: &str) -> (u16, Option<u64>) {
    let response = server
        .client
        .get(server.url(path))
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    let wait = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (response.status().as_u16(), wait)
}

#[tokio::test]
async fn a_credential_over_its_budget_waits_and_others_go_on() {
    let server = TestServer::start(&[
        ("SWITCHBOARD_API_REQUESTS_PER_MINUTE_PER_CREDENTIAL", "3"),
        ("SWITCHBOARD_API_REQUESTS_PER_MINUTE_PER_ADDRESS", "1000"),
    ])
    .await;
    let alpha = world(&server, "alpha").await;
    let bravo = world(&server, "bravo").await;
    for _ in 0..3 {
        assert_eq!(get(&server, &alpha.admin, "/api/v1/locations").await.0, 200);
    }
    let (status, wait) = retry_after(&server, &alpha.admin, "/api/v1/locations").await;
    assert_eq!(status, 429);
    let wait = wait.expect("a 429 says when to come back");
    assert!(
        (1..=20).contains(&wait),
        "3 a minute refill one every 20 s: {wait}"
    );
    let (status, body) = get(&server, &alpha.admin, "/api/v1/locations").await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")));
    // Another credential has its own budget: another user, or an API key (counted by its
    // public prefix).
    assert_eq!(get(&server, &bravo.admin, "/api/v1/locations").await.0, 200);
    let key = "Bearer sb_0000000alpha_secret";
    for _ in 0..3 {
        assert_eq!(get(&server, key, "/api/v1/locations").await.0, 200);
    }
    assert_eq!(retry_after(&server, key, "/api/v1/locations").await.0, 429);
    server.stop().await;
}

#[tokio::test]
async fn an_address_over_its_budget_waits_whatever_it_presents() {
    let server =
        TestServer::start(&[("SWITCHBOARD_API_REQUESTS_PER_MINUTE_PER_ADDRESS", "4")]).await;
    for _ in 0..4 {
        assert_eq!(get(&server, "", "/api/v1/openapi.json").await.0, 200);
    }
    let (status, wait) = retry_after(&server, "Bearer sb_000000000000_nope", "/api/v1/me").await;
    assert_eq!(status, 429);
    assert!(wait.unwrap() >= 1);
    // Health and metrics are outside the API's budget.
    assert_eq!(get(&server, "", "/healthz").await.0, 200);
    server.stop().await;
}
