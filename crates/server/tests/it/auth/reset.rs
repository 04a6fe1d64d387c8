//! Password reset by email, through a real SMTP server.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{actions, bearer, login, me_status, refresh, session, tenant, user, PASSWORD};
use crate::mail::{decoded, SmtpServer};
use crate::TestServer;

const NEW_PASSWORD: &str = "a brand new long passphrase";

async fn server_with_mail(smtp: &SmtpServer) -> TestServer {
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    TestServer::start(&[
        ("SWITCHBOARD_SMTP_URL", url.as_str()),
        ("SWITCHBOARD_PUBLIC_URL", "https://switchboard.example"),
    ])
    .await
}

async fn ask_reset(server: &TestServer, email: &str) -> reqwest::Response {
    server
        .client
        .post(server.url("/api/v1/auth/password-reset"))
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap()
}

async fn confirm(server: &TestServer, token: &str, password: &str) -> reqwest::Response {
    server
        .client
        .post(server.url("/api/v1/auth/password-reset/confirm"))
        .json(&json!({ "token": token, "password": password }))
        .send()
        .await
        .unwrap()
}

/// The reset tokens in every email received, once `count` emails have arrived.
async fn mailed_tokens(smtp: &SmtpServer, count: usize) -> Vec<String> {
    for _ in 0..100 {
        let received: Vec<String> = smtp.received().iter().map(|m| decoded(m)).collect();
        if received.len() >= count {
            return received
                .iter()
                .map(|mail| {
                    let (_, rest) = mail
                        .split_once("https://switchboard.example/reset-password?token=")
                        .unwrap_or_else(|| panic!("no reset link in {mail}"));
                    rest.chars().take_while(char::is_ascii_hexdigit).collect()
                })
                .collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no reset email arrived");
}

#[tokio::test]
async fn a_mailed_link_sets_a_new_password_once_and_signs_out_every_session() {
    let smtp = SmtpServer::start();
    let server = server_with_mail(&smtp).await;
    let acme = tenant(&server, "acme").await;
    user(&server, "ana@acme.example", "agency_admin", Some(&acme)).await;
    let before = session(&server, "ana@acme.example").await;

    let asked = ask_reset(&server, "Ana@Acme.example").await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let token = mailed_tokens(&smtp, 1).await.remove(0);
    assert_eq!(token.len(), 64);
    let mail = &smtp.received()[0];
    assert!(mail.contains("To: ana@acme.example"), "{mail}");

    // Too short a password changes nothing and keeps the link usable.
    let weak = confirm(&server, &token, "short").await;
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    assert_eq!(weak.json::<Value>().await.unwrap()["code"], "weak_password");

    let done = confirm(&server, &token, NEW_PASSWORD).await;
    assert_eq!(done.status(), StatusCode::OK, "{:?}", done.text().await);
    // Once only.
    let again = confirm(&server, &token, "yet another long passphrase").await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        again.json::<Value>().await.unwrap()["code"],
        "invalid_token"
    );

    // The new password works, the old one doesn't, and the old sessions are over.
    assert_eq!(
        login(&server, "ana@acme.example", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&server, "ana@acme.example", NEW_PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    let old_access = before["access_token"].as_str().unwrap();
    assert_eq!(me_status(&server, &bearer(old_access)).await, 401);
    let old_refresh = before["refresh_token"].as_str().unwrap();
    assert_eq!(
        refresh(&server, old_refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let logged = actions(&server, &acme).await;
    assert!(
        logged.contains(&"auth.password_reset_requested".to_string()),
        "{logged:?}"
    );
    assert!(
        logged.contains(&"auth.password_reset".to_string()),
        "{logged:?}"
    );
}

#[tokio::test]
async fn an_unknown_address_gets_the_same_answer_and_no_mail() {
    let smtp = SmtpServer::start();
    let server = server_with_mail(&smtp).await;
    let asked = ask_reset(&server, "nobody@nowhere.example").await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let body: Value = asked.json().await.unwrap();
    assert_eq!(body["status"], "accepted");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(smtp.received().is_empty());
}

#[tokio::test]
async fn only_the_newest_link_works_and_made_up_or_expired_ones_never_do() {
    let smtp = SmtpServer::start();
    let server = server_with_mail(&smtp).await;
    let acme = tenant(&server, "acme").await;
    user(&server, "ana@acme.example", "agency_admin", Some(&acme)).await;
    assert_eq!(
        ask_reset(&server, "ana@acme.example").await.status(),
        StatusCode::ACCEPTED
    );
    let first = mailed_tokens(&smtp, 1).await.remove(0);
    assert_eq!(
        ask_reset(&server, "ana@acme.example").await.status(),
        StatusCode::ACCEPTED
    );
    let second = mailed_tokens(&smtp, 2)
        .await
        .into_iter()
        .find(|t| *t != first)
        .unwrap();
    let stale = confirm(&server, &first, NEW_PASSWORD).await;
    assert_eq!(
        stale.json::<Value>().await.unwrap()["code"],
        "invalid_token"
    );
    assert_eq!(
        confirm(&server, &"0".repeat(64), NEW_PASSWORD)
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );

    // Expired: the newest link, past its hour.
    sqlx::query("UPDATE account_tokens SET expires_at = 0")
        .execute(server.test.store.db().writer())
        .await
        .unwrap();
    assert_eq!(
        confirm(&server, &second, NEW_PASSWORD).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        login(&server, "ana@acme.example", PASSWORD).await.status(),
        StatusCode::OK
    );
    // Before it expired, the newest link was the one that worked: reset that state and use it.
    sqlx::query("UPDATE account_tokens SET expires_at = $1 WHERE used_at IS NULL")
        .bind(i64::MAX)
        .execute(server.test.store.db().writer())
        .await
        .unwrap();
    assert_eq!(
        confirm(&server, &second, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
}
