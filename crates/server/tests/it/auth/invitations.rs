//! Invitations by email, through a real SMTP server.

use reqwest::header::AUTHORIZATION;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{actions, bearer, login, session, tenant, user, Tenant};
use crate::mail::{decoded, SmtpServer};
use crate::TestServer;

const CHOSEN: &str = "the invitee's own passphrase";

async fn invite(server: &TestServer, auth: &str, body: Value) -> reqwest::Response {
    server
        .client
        .post(server.url("/api/v1/users/invitations"))
        .header(AUTHORIZATION, auth)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn accept(server: &TestServer, token: &str, password: &str) -> reqwest::Response {
    server
        .client
        .post(server.url("/api/v1/auth/accept-invitation"))
        .json(&json!({ "token": token, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn admin_of(server: &TestServer, tenant: &Tenant, email: &str, role: &str) -> String {
    user(server, email, role, Some(tenant)).await;
    bearer(
        session(server, email).await["access_token"]
            .as_str()
            .unwrap(),
    )
}

/// The invitation token in the `n`-th email (waits for it).
async fn invitation_token(smtp: &SmtpServer, n: usize) -> String {
    for _ in 0..100 {
        let received = smtp.received();
        if received.len() >= n {
            let mail = decoded(&received[n - 1]);
            let (_, rest) = mail
                .split_once("https://switchboard.example/accept-invitation?token=")
                .unwrap_or_else(|| panic!("no invitation link in {mail}"));
            return rest.chars().take_while(char::is_ascii_hexdigit).collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no invitation email arrived");
}

#[tokio::test]
async fn an_invited_agent_joins_through_the_mailed_link_and_signs_in() {
    let smtp = SmtpServer::start();
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let server = TestServer::start(&[
        ("SWITCHBOARD_SMTP_URL", url.as_str()),
        ("SWITCHBOARD_PUBLIC_URL", "https://switchboard.example"),
    ])
    .await;
    let acme = tenant(&server, "acme").await;
    let admin = admin_of(&server, &acme, "boss@acme.example", "agency_admin").await;

    let invited = invite(
        &server,
        &admin,
        json!({"email": "new@acme.example", "role": "agent", "location_id": acme.location.id,
               "name": "<b>New</b> O'Hara"}),
    )
    .await;
    assert_eq!(invited.status(), StatusCode::CREATED);
    let body: Value = invited.json().await.unwrap();
    assert_eq!(body["status"], "invited");
    assert_eq!(body["email_sent"], true);
    assert_eq!(
        body["name"], "<b>New</b> O'Hara",
        "stored and returned as text"
    );
    assert_eq!(body["location_id"], json!(acme.location.id));

    // Not a member until accepted.
    assert_eq!(
        login(&server, "new@acme.example", CHOSEN).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let token = invitation_token(&smtp, 1).await;
    let weak = accept(&server, &token, "short").await;
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        accept(&server, &token, CHOSEN).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        accept(&server, &token, CHOSEN).await.status(),
        StatusCode::BAD_REQUEST
    );
    let signed_in = login(&server, "new@acme.example", CHOSEN).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let me: Value = signed_in.json().await.unwrap();
    assert_eq!(me["user"]["role"], "agent");

    let logged = actions(&server, &acme).await;
    assert!(logged.contains(&"user.invited".to_string()), "{logged:?}");
    assert!(logged.contains(&"user.joined".to_string()), "{logged:?}");
}

#[tokio::test]
async fn invitations_stay_inside_the_callers_tenant_and_rank() {
    let server = TestServer::start(&[]).await;
    let acme = tenant(&server, "acme").await;
    let other = tenant(&server, "other").await;
    let agency_admin = admin_of(&server, &acme, "boss@acme.example", "agency_admin").await;
    let location_admin = admin_of(&server, &acme, "lead@acme.example", "location_admin").await;
    let agent = admin_of(&server, &acme, "agent@acme.example", "agent").await;

    // An agent may not invite; a location admin may not make an agency admin.
    let refused = invite(
        &server,
        &agent,
        json!({"email": "x@acme.example", "role": "agent"}),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let refused = invite(
        &server,
        &location_admin,
        json!({"email": "x@acme.example", "role": "agency_admin"}),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // Another tenant's location is not found, and leaks nothing.
    let foreign = invite(
        &server,
        &agency_admin,
        json!({"email": "x@acme.example", "role": "agent", "location_id": other.location.id}),
    )
    .await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    assert!(!foreign.text().await.unwrap().contains("other"));

    // Bad input, and a taken address.
    let bad = invite(
        &server,
        &agency_admin,
        json!({"email": "not mail", "role": "agent", "location_id": acme.location.id}),
    )
    .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let no_location = invite(
        &server,
        &agency_admin,
        json!({"email": "x@acme.example", "role": "agent"}),
    )
    .await;
    assert_eq!(
        no_location.json::<Value>().await.unwrap()["code"],
        "location_required"
    );
    let taken = invite(
        &server,
        &agency_admin,
        json!({"email": "AGENT@acme.example", "role": "agent", "location_id": acme.location.id}),
    )
    .await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);

    // Without a mail server the invitation is made, and the answer says no email went.
    let made = invite(
        &server,
        &location_admin,
        json!({"email": "y@acme.example", "role": "agent"}),
    )
    .await;
    assert_eq!(made.status(), StatusCode::CREATED);
    assert_eq!(made.json::<Value>().await.unwrap()["email_sent"], false);
}
