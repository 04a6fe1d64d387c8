//! GHL simulator: OAuth, bearer auth, rate limits, contacts, recorded requests.

use std::time::Duration;

use axum::http::Method;
use sandbox::SandboxOptions;
use serde_json::{json, Value};

use crate::start;

async fn token_request(h: &crate::Harness, form: &[(&str, &str)]) -> (u16, Value) {
    let r = h
        .http
        .post(h.url("/ghl/oauth/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn refresh_token_rotates_and_a_used_one_is_invalid_grant() {
    let h = start(SandboxOptions::default()).await;
    let loc = h.location(json!({"locationId": "LOC1"})).await;
    let old_refresh = loc["refreshToken"].as_str().unwrap().to_owned();
    let refresh = |t: &str| {
        vec![
            ("client_id", "app-1"),
            ("client_secret", "s"),
            ("grant_type", "refresh_token"),
            ("refresh_token", t),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect::<Vec<_>>()
    };
    let form: Vec<(&str, String)> = refresh(&old_refresh);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body) = token_request(&h, &pairs).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86399);
    assert_eq!(body["userType"], "Location");
    assert_eq!(body["locationId"], "LOC1");
    assert!(body["userId"].is_string());
    let new_refresh = body["refresh_token"].as_str().unwrap();
    assert_ne!(new_refresh, old_refresh);
    // The new access token works.
    let access = body["access_token"].as_str().unwrap();
    let r = h
        .ghl(
            Method::GET,
            "/contacts/search/duplicate?locationId=LOC1&number=%2B15550001111",
            access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Reusing the old refresh token fails, with GHL's and OAuth's error fields.
    let (status, err) = token_request(&h, &pairs).await;
    assert_eq!(status, 400);
    assert_eq!(err["error"], "invalid_grant");
    assert_eq!(err["statusCode"], 400);
    assert_eq!(err["message"], "Invalid grant: refresh token is invalid");
    // An unknown one too; the rotated one still works once.
    let (status, _) = token_request(
        &h,
        &[
            ("client_id", "a"),
            ("client_secret", "s"),
            ("grant_type", "refresh_token"),
            ("refresh_token", "nope"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = token_request(
        &h,
        &[
            ("client_id", "a"),
            ("client_secret", "s"),
            ("grant_type", "refresh_token"),
            ("refresh_token", new_refresh),
        ],
    )
    .await;
    assert_eq!(status, 200);
    // Missing required fields and a JSON body are refused (the endpoint is form-encoded).
    let (status, err) = token_request(&h, &[("grant_type", "refresh_token")]).await;
    assert_eq!(status, 422);
    assert!(err["message"]
        .as_array()
        .unwrap()
        .contains(&json!("client_id should not be empty")));
    let r = h.http.post(h.url("/ghl/oauth/token")).json(&json!({"client_id": "a", "client_secret": "s", "grant_type": "refresh_token", "refresh_token": new_refresh})).send().await.unwrap();
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn authorization_code_is_single_use_and_consent_redirects() {
    let h = start(SandboxOptions::default()).await;
    let code = h
        .control("/ghl/auth-codes", json!({"locationId": "LOC2"}))
        .await;
    let code = code["code"].as_str().unwrap().to_owned();
    let form = [
        ("client_id", "a"),
        ("client_secret", "s"),
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
    ];
    let (status, body) = token_request(&h, &form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["locationId"], "LOC2");
    let (status, err) = token_request(&h, &form).await;
    assert_eq!(status, 400);
    assert_eq!(err["error"], "invalid_grant");

    let r = h.http.get(h.url("/ghl/v2/oauth/chooselocation?response_type=code&client_id=a&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&scope=contacts.readonly"))
        .send().await.unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("http://127.0.0.1:9/cb?code="),
        "{location}"
    );
}

#[tokio::test]
async fn bad_bearer_expired_token_and_missing_version() {
    let h = start(SandboxOptions::default()).await;
    let loc = h
        .location(json!({"locationId": "LOC3", "accessToken": "known-token"}))
        .await;
    assert_eq!(loc["accessToken"], "known-token");
    let path = "/contacts/search/duplicate?locationId=LOC3&email=a%40b.co";
    for token in ["", "wrong"] {
        let r = h.ghl(Method::GET, path, token).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["statusCode"], 401);
        assert_eq!(body["error"], "Unauthorized");
        assert_eq!(body["message"], "Invalid token: access token is invalid");
    }
    assert_eq!(
        h.ghl(Method::GET, path, "known-token")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = h
        .http
        .get(h.url(&format!("/ghl{path}")))
        .bearer_auth("known-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "Version header is required");
    h.control("/ghl/locations/LOC3/expire-tokens", json!({}))
        .await;
    let r = h
        .ghl(Method::GET, path, "known-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The refresh token still works after the access token expired.
    let refresh = loc["refreshToken"].as_str().unwrap();
    let (status, _) = token_request(
        &h,
        &[
            ("client_id", "a"),
            ("client_secret", "s"),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
        ],
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn rate_limit_headers_then_429_after_100_in_the_window() {
    let h = start(SandboxOptions::default()).await;
    let a = h.location(json!({"locationId": "RL1"})).await;
    let b = h.location(json!({"locationId": "RL2"})).await;
    let token = a["accessToken"].as_str().unwrap();
    let path = "/contacts/search/duplicate?locationId=RL1&number=%2B15550002222";
    for i in 1..=100u32 {
        let r = h.ghl(Method::GET, path, token).send().await.unwrap();
        assert_eq!(r.status(), 200, "request {i}");
        let hd = r.headers();
        assert_eq!(hd["x-ratelimit-max"], "100");
        assert_eq!(hd["x-ratelimit-interval-milliseconds"], "10000");
        assert_eq!(hd["x-ratelimit-limit-daily"], "200000");
        assert_eq!(
            hd["x-ratelimit-remaining"].to_str().unwrap(),
            (100 - i).to_string()
        );
        assert_eq!(
            hd["x-ratelimit-daily-remaining"].to_str().unwrap(),
            (200_000 - i).to_string()
        );
    }
    let r = h.ghl(Method::GET, path, token).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    assert_eq!(r.json::<Value>().await.unwrap()["statusCode"], 429);
    // Each location has its own budget.
    let other = b["accessToken"].as_str().unwrap();
    let r = h
        .ghl(
            Method::GET,
            "/contacts/search/duplicate?locationId=RL2",
            other,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn window_slides() {
    let h = start(SandboxOptions {
        ghl_rate_limit: (3, Duration::from_millis(300)),
        ..SandboxOptions::default()
    })
    .await;
    let token = h.location(json!({"locationId": "RL3"})).await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = "/contacts/search/duplicate?locationId=RL3";
    for _ in 0..3 {
        assert_eq!(
            h.ghl(Method::GET, path, &token)
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    assert_eq!(
        h.ghl(Method::GET, path, &token)
            .send()
            .await
            .unwrap()
            .status(),
        429
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        h.ghl(Method::GET, path, &token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn unknown_paths_404_and_requests_are_recorded_in_order() {
    let h = start(SandboxOptions::default()).await;
    let token = h.location(json!({"locationId": "R1"})).await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = h
        .ghl(Method::GET, "/nothing/here", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        "Cannot GET /nothing/here"
    );
    // A known path with the wrong method is a 404 too, as NestJS answers.
    let r = h
        .ghl(Method::GET, "/contacts/upsert", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    h.ghl(Method::POST, "/contacts/upsert", &token)
        .json(&json!({"locationId": "R1", "phone": "+15550001234"}))
        .send()
        .await
        .unwrap();
    let list = h.get_json("/_control/ghl/requests").await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["method"], "GET");
    assert_eq!(list[0]["path"], "/ghl/nothing/here");
    assert_eq!(list[1]["path"], "/ghl/contacts/upsert");
    let post = &list[2];
    assert_eq!(post["method"], "POST");
    assert_eq!(post["path"], "/ghl/contacts/upsert");
    assert_eq!(post["body"]["phone"], "+15550001234");
    assert_eq!(post["headers"]["version"], "2021-04-15");
    let auth = post["headers"]["authorization"].as_str().unwrap();
    assert!(auth.starts_with("Bearer "));
    assert!(post["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(h.sandbox.requests("ghl").len(), 3);
    let r = h
        .http
        .delete(h.url("/_control/ghl/requests"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(h.get_json("/_control/ghl/requests").await, json!([]));
}
