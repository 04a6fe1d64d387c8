//! Sign-in, failures and lockout, the per-address limit, refresh rotation, logout, CSRF.

use reqwest::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::TenantScope;

use super::*;
use crate::TestServer;

#[tokio::test]
async fn sign_in_gives_tokens_and_cookies_and_me_names_the_caller() {
    let server = TestServer::start(&[]).await;
    let a = tenant(&server, "a").await;
    user(&server, "Agent@Example.com", "agent", Some(&a)).await;

    let response = login(&server, "agent@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookies: Vec<String> = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], 900);
    let access = cookies
        .iter()
        .find(|c| c.starts_with("sb_access="))
        .unwrap();
    let refresh = cookies
        .iter()
        .find(|c| c.starts_with("sb_refresh="))
        .unwrap();
    let csrf = cookies.iter().find(|c| c.starts_with("sb_csrf=")).unwrap();
    for c in [access, refresh] {
        assert!(c.contains("HttpOnly") && c.contains("Secure") && c.contains("SameSite=Strict"));
    }
    assert!(refresh.contains("Path=/api/v1/auth"));
    assert!(!csrf.contains("HttpOnly"));

    let me: Value = me(&server, &bearer(body["access_token"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["kind"], "user");
    assert_eq!(me["email"], "agent@example.com");
    assert_eq!(me["role"], "agent");
    assert_eq!(me["location_id"], a.location.id.to_string());
    assert!(me["permissions"]
        .as_array()
        .unwrap()
        .contains(&json!("send_messages")));
    assert!(actions(&server, &a)
        .await
        .contains(&"auth.login".to_string()));

    // No credentials, or rubbish: 401.
    let none = server
        .client
        .get(server.url("/api/v1/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&server, "Bearer nonsense").await, 401);
    assert_eq!(me_status(&server, "Bearer sb_nonsense").await, 401);
    server.stop().await;
}

#[tokio::test]
async fn failures_look_alike_and_lock_the_account() {
    let server = TestServer::start(&[]).await;
    let a = tenant(&server, "a").await;
    user(&server, "ann@example.com", "agent", Some(&a)).await;

    let wrong = login(&server, "ann@example.com", "not the password").await;
    let unknown = login(&server, "nobody@example.com", PASSWORD).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let (wrong, unknown): (Value, Value) =
        (wrong.json().await.unwrap(), unknown.json().await.unwrap());
    assert_eq!(wrong["code"], "invalid_credentials");
    assert_eq!(wrong["code"], unknown["code"]);
    assert_eq!(wrong["detail"], unknown["detail"]);

    for _ in 0..4 {
        login(&server, "ann@example.com", "not the password").await;
    }
    // Locked now: the right password gets the very same answer.
    let locked = login(&server, "ann@example.com", PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::UNAUTHORIZED);
    let locked: Value = locked.json().await.unwrap();
    assert_eq!(locked["code"], wrong["code"]);
    assert_eq!(locked["detail"], wrong["detail"]);
    let log = actions(&server, &a).await;
    assert!(log.contains(&"auth.locked".to_string()), "{log:?}");
    assert!(log.contains(&"auth.login_refused".to_string()), "{log:?}");
    assert!(!log.contains(&"auth.login".to_string()));
    server.stop().await;
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_address() {
    let server = TestServer::start(&[]).await;
    let mut limited = None;
    for _ in 0..30 {
        let response = login(&server, "nobody@example.com", "whatever it is").await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let limited = limited.expect("no 429 after 30 attempts");
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait));
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    server.stop().await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let server = TestServer::start(&[]).await;
    let a = tenant(&server, "a").await;
    user(&server, "ann@example.com", "agent", Some(&a)).await;
    let first = session(&server, "ann@example.com").await;
    let r1 = first["refresh_token"].as_str().unwrap();

    let rotated = refresh(&server, r1).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let rotated: Value = rotated.json().await.unwrap();
    let r2 = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    let access2 = rotated["access_token"].as_str().unwrap();
    assert_eq!(me_status(&server, &bearer(access2)).await, 200);

    // r1 again: a reuse. The family goes, r2 with it.
    assert_eq!(
        refresh(&server, r1).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh(&server, r2).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(actions(&server, &a)
        .await
        .contains(&"auth.refresh_reused".to_string()));
    assert_eq!(refresh(&server, "rt_unknown").await.status(), 401);
    server.stop().await;
}

#[tokio::test]
async fn logout_ends_one_session_and_logout_all_every_one() {
    let server = TestServer::start(&[]).await;
    let a = tenant(&server, "a").await;
    user(&server, "ann@example.com", "agent", Some(&a)).await;
    let laptop = session(&server, "ann@example.com").await;
    let phone = session(&server, "ann@example.com").await;
    let tablet = session(&server, "ann@example.com").await;

    let out = server
        .client
        .post(server.url("/api/v1/auth/logout"))
        .json(&json!({"refresh_token": tablet["refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert!(actions(&server, &a)
        .await
        .contains(&"auth.logout".to_string()));
    assert_eq!(
        refresh(&server, tablet["refresh_token"].as_str().unwrap())
            .await
            .status(),
        401
    );

    let laptop_access = bearer(laptop["access_token"].as_str().unwrap());
    let all = server
        .client
        .post(server.url("/api/v1/auth/logout-all"))
        .header(AUTHORIZATION, &laptop_access)
        .send()
        .await
        .unwrap();
    assert_eq!(all.status(), StatusCode::NO_CONTENT);
    for s in [&laptop, &phone] {
        let r = s["refresh_token"].as_str().unwrap();
        assert_eq!(refresh(&server, r).await.status(), 401);
        let access = bearer(s["access_token"].as_str().unwrap());
        assert_eq!(me_status(&server, &access).await, 401);
    }
    // Signing in again works.
    let again = session(&server, "ann@example.com").await;
    assert_eq!(
        me_status(&server, &bearer(again["access_token"].as_str().unwrap())).await,
        200
    );
    server.stop().await;
}

#[tokio::test]
async fn a_cookie_post_without_the_csrf_token_is_refused_and_changes_nothing() {
    let server = TestServer::start(&[]).await;
    let a = tenant(&server, "a").await;
    user(&server, "boss@example.com", "agency_admin", Some(&a)).await;
    let s = session(&server, "boss@example.com").await;
    let (access, csrf) = (
        s["access_token"].as_str().unwrap(),
        s["csrf_token"].as_str().unwrap(),
    );
    let cookies = format!("sb_access={access}; sb_csrf={csrf}");

    for header in [None, Some("wrong"), Some("")] {
        let mut request = server
            .client
            .post(server.url("/api/v1/api-keys"))
            .header(COOKIE, &cookies)
            .json(&json!({"name": "forged"}));
        if let Some(value) = header {
            request = request.header("x-csrf-token", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "csrf");
    }
    let scope = TenantScope::for_agency(&a.agency);
    assert!(server.test.store.api_keys(&scope).await.unwrap().is_empty());
    assert!(!actions(&server, &a)
        .await
        .contains(&"api_key.created".to_string()));

    // Reading by cookie needs no token; changing with the echoed token works.
    let read = server
        .client
        .get(server.url("/api/v1/api-keys"))
        .header(COOKIE, &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let made = server
        .client
        .post(server.url("/api/v1/api-keys"))
        .header(COOKIE, &cookies)
        .header("x-csrf-token", csrf)
        .json(&json!({"name": "real"}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);

    // The refresh cookie alone is refused too.
    let refresh_cookie = format!(
        "sb_refresh={}; sb_csrf={csrf}",
        s["refresh_token"].as_str().unwrap()
    );
    let refused = server
        .client
        .post(server.url("/api/v1/auth/refresh"))
        .header(COOKIE, &refresh_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let allowed = server
        .client
        .post(server.url("/api/v1/auth/refresh"))
        .header(COOKIE, &refresh_cookie)
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn two_refreshes_racing_with_one_token_rotate_once() {
    let server = TestServer::start(&[]).await;
    let a = tenant(&server, "a").await;
    user(&server, "ann@example.com", "agent", Some(&a)).await;
    let s = session(&server, "ann@example.com").await;
    let token = s["refresh_token"].as_str().unwrap();
    let (first, second) = tokio::join!(refresh(&server, token), refresh(&server, token));
    let mut statuses = [first.status().as_u16(), second.status().as_u16()];
    statuses.sort_unstable();
    // One rotates; the other is a reuse, which revokes the family (the winner's new
    // token included): a client must never refresh twice with one token.
    assert_eq!(statuses, [200, 401]);
    let winner: Value = if first.status() == StatusCode::OK {
        first.json().await.unwrap()
    } else {
        second.json().await.unwrap()
    };
    let next = winner["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&server, next).await.status(), 401);
    server.stop().await;
}
