//! Agencies and locations through the API.

use reqwest::Method;
use serde_json::json;

use super::{get, send, world};
use crate::TestServer;

#[tokio::test]
async fn locations_list_page_by_cursor_and_patch_validates() {
    let server = TestServer::start(&[]).await;
    let alpha = world(&server, "alpha").await;
    let (status, page) = get(&server, &alpha.admin, "/api/v1/locations?limit=1").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], alpha.id("locations"));
    assert!(page["next_cursor"].is_null());
    for bad in [
        "/api/v1/locations?limit=0",
        "/api/v1/locations?cursor=nope!",
    ] {
        let (status, body) = get(&server, &alpha.admin, bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let path = format!("/api/v1/locations/{}", alpha.id("locations"));
    let (status, body) = send(
        &server,
        Method::PATCH,
        &alpha.admin,
        &path,
        &json!({"name": "Main St", "time_zone": "America/Chicago"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "Main St");
    assert_eq!(body["time_zone"], "America/Chicago");
    for bad in [
        json!({"name": ""}),
        json!({"time_zone": "not a zone"}),
        json!({"nope": 1}),
    ] {
        let (status, body) = send(&server, Method::PATCH, &alpha.admin, &path, &bad).await;
        assert!(status == 400 || status == 422, "{bad}: {status} {body}");
    }
    let (_, after) = get(&server, &alpha.admin, &path).await;
    assert_eq!(after["name"], "Main St", "a refused change changes nothing");
    server.stop().await;
}

#[tokio::test]
async fn a_tenant_sees_only_its_own_agency() {
    let server = TestServer::start(&[]).await;
    let alpha = world(&server, "alpha").await;
    let (status, page) = get(&server, &alpha.admin, "/api/v1/agencies").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], alpha.id("agencies"));
    let path = format!("/api/v1/agencies/{}", alpha.id("agencies"));
    let (status, body) = send(
        &server,
        Method::PATCH,
        &alpha.admin,
        &path,
        &json!({"name": "Alpha Co"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "Alpha Co");
    server.stop().await;
}

#[tokio::test]
async fn an_operator_pages_through_every_agency_but_holds_no_tenant_rights() {
    let server = TestServer::start(&[]).await;
    let alpha = world(&server, "alpha").await;
    let bravo = world(&server, "bravo").await;
    crate::auth::user(&server, "ops@switchboard.test", "operator", None).await;
    let session = crate::auth::session(&server, "ops@switchboard.test").await;
    let operator = crate::auth::bearer(session["access_token"].as_str().unwrap());
    let mut seen = Vec::new();
    let mut path = "/api/v1/agencies?limit=1".to_string();
    loop {
        let (status, page) = get(&server, &operator, &path).await;
        assert_eq!(status, 200, "{page}");
        assert!(page["items"].as_array().unwrap().len() <= 1);
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/agencies?limit=1&cursor={cursor}"),
            None => break,
        }
    }
    seen.sort();
    let mut expected = vec![
        alpha.id("agencies").to_string(),
        bravo.id("agencies").to_string(),
    ];
    expected.sort();
    assert_eq!(seen, expected);
    // Tenant data is not an operator's: no scope, so 403.
    let (status, _) = get(&server, &operator, "/api/v1/locations").await;
    assert_eq!(status, 403);
    server.stop().await;
}
