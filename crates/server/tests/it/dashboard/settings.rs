//! The settings pages for users over HTTP: inviting (the mail goes out), changing roles
//! within what the viewer may grant, deactivating (sessions end); bad input changes
//! nothing, another agency's ids are 404, and roles without the permission get 403 (the
//! keys page too). API keys: `settings_keys.rs`.

use reqwest::StatusCode;

use super::{add_user, field, Dashboard, Session, EMAIL, PASSWORD};
use crate::bridge::Bridge;
use crate::mail::{decoded, SmtpServer};

pub(super) const AGENT: &str = "agent@agency.example";
const LOCAL_ADMIN: &str = "local@agency.example";
pub(super) const ELSEWHERE: &str = "admin@elsewhere.example";

/// A user of the bridge's location (an agent or location admin).
pub(super) async fn add_location_user(bridge: &Bridge, email: &str, role: &str) {
    let store = &bridge.test.store;
    let mut tx = store.begin().await.unwrap();
    store
        .create_user(
            &mut tx,
            &store::repo::NewUser {
                email: email.into(),
                name: "Local".into(),
                role: role.into(),
                password_hash: Some(server::auth::hash_password(PASSWORD).unwrap()),
                agency_id: Some(bridge.location.agency_id.clone()),
                location_id: Some(bridge.location.id.clone()),
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

pub(super) async fn scalar(d: &Dashboard, sql: &str) -> String {
    sqlx::query_scalar(sql)
        .fetch_one(d.bridge.test.store.db().reader())
        .await
        .unwrap()
}

pub(super) async fn count(d: &Dashboard, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(d.bridge.test.store.db().reader())
        .await
        .unwrap()
}

pub(super) async fn user_id(d: &Dashboard, email: &str) -> String {
    scalar(d, &format!("SELECT id FROM users WHERE email = '{email}'")).await
}

pub(super) async fn role_of(d: &Dashboard, email: &str) -> String {
    scalar(
        d,
        &format!("SELECT role FROM users WHERE email = '{email}'"),
    )
    .await
}

pub(super) async fn signed_in(d: &Dashboard, email: &str) -> Session {
    let mut s = Session::new(d);
    s.sign_in(email).await;
    s
}

/// Posts a form and answers the status and the page.
pub(super) async fn post(
    s: &mut Session,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let csrf = s.csrf();
    let answer = s.post(path, &csrf, fields).await;
    (answer.status(), answer.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_from_the_page_is_mailed_and_bad_ones_change_nothing() {
    let smtp = SmtpServer::start();
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let d = Dashboard {
        bridge: Bridge::start_with(&[("SWITCHBOARD_SMTP_URL", url.as_str())]).await,
    };
    add_user(&d.bridge, EMAIL, "agency_admin", true).await;
    add_user(&d.bridge, ELSEWHERE, "location_admin", false).await;
    let location = d.bridge.location.id.to_string();
    let mut s = signed_in(&d, EMAIL).await;

    let page = s.get("/settings/users").await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains(EMAIL) && !page.contains(ELSEWHERE), "{page}");
    // The matrix is the server's: an agent row for `manage_users` says no.
    assert!(
        page.contains("<th scope=\"row\">manage_users</th>"),
        "{page}"
    );

    let (status, _) = post(
        &mut s,
        "/settings/users/invite",
        &[
            ("email", "new@agency.example"),
            ("name", "<b>New</b>"),
            ("role", "agent"),
            ("location_id", &location),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let mut mail = None;
    for _ in 0..100 {
        if let Some(m) = smtp.received().first() {
            mail = Some(decoded(m));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mail = mail.expect("the invitation email arrived");
    assert!(mail.contains("new@agency.example") && mail.contains("/accept-invitation?token="));
    let page = s.get("/settings/users").await.text().await.unwrap();
    assert!(page.contains("new@agency.example") && page.contains("invited"));
    assert!(
        page.contains("&#60;b&#62;New&#60;/b&#62;") && !page.contains("<b>New"),
        "names are escaped"
    );
    assert_eq!(
        count(
            &d,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'user.invited'"
        )
        .await,
        1
    );

    let users = "SELECT COUNT(*) FROM users";
    let before = count(&d, users).await;
    for (fields, reason) in [
        (
            vec![
                ("email", "not an address"),
                ("role", "agent"),
                ("location_id", location.as_str()),
            ],
            "email",
        ),
        (
            vec![
                ("email", "x@agency.example"),
                ("role", "agency_admin"),
                ("location_id", location.as_str()),
            ],
            "agency_admin",
        ),
        (
            vec![("email", "x@agency.example"), ("role", "agent")],
            "location",
        ),
        (
            vec![("email", "x@agency.example"), ("role", "operator")],
            "operator",
        ),
        (
            vec![
                ("email", "new@agency.example"),
                ("role", "agent"),
                ("location_id", location.as_str()),
            ],
            "exists",
        ),
    ] {
        let (status, page) = post(&mut s, "/settings/users/invite", &fields).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reason}");
        assert!(
            page.contains("role=\"alert\"") && page.contains("Invitation:"),
            "{page}"
        );
    }
    // Another agency's location is not found, like a missing one.
    let theirs = scalar(
        &d,
        &format!("SELECT location_id FROM users WHERE email = '{ELSEWHERE}'"),
    )
    .await;
    let (status, _) = post(
        &mut s,
        "/settings/users/invite",
        &[
            ("email", "y@agency.example"),
            ("role", "agent"),
            ("location_id", &theirs),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        count(&d, users).await,
        before,
        "no refused invitation made a user"
    );
    assert_eq!(
        smtp.received().len(),
        1,
        "no refused invitation sent an email"
    );
    d.bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_changes_stay_within_what_the_viewer_may_grant() {
    let d = Dashboard::start().await;
    add_location_user(&d.bridge, AGENT, "agent").await;
    add_location_user(&d.bridge, LOCAL_ADMIN, "location_admin").await;
    add_user(&d.bridge, ELSEWHERE, "location_admin", false).await;
    let agent = user_id(&d, AGENT).await;
    let mut admin = signed_in(&d, EMAIL).await;

    let role = |id: &str| format!("/settings/users/{id}/role");
    let (status, _) = post(&mut admin, &role(&agent), &[("role", "location_admin")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(role_of(&d, AGENT).await, "location_admin");
    assert_eq!(
        count(
            &d,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'user.role_changed'"
        )
        .await,
        1
    );
    let (status, _) = post(&mut admin, &role(&agent), &[("role", "agent")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // Refused, and nothing changes: no operator, no agency admin at a location, not
    // oneself, not a made-up role.
    let me = user_id(&d, EMAIL).await;
    for (id, to) in [
        (&agent, "operator"),
        (&agent, "agency_admin"),
        (&agent, "boss"),
        (&me, "location_admin"),
    ] {
        let (status, page) = post(&mut admin, &role(id), &[("role", to)]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{to}");
        assert!(page.contains("Role not changed"), "{page}");
    }
    assert_eq!(role_of(&d, AGENT).await, "agent");
    assert_eq!(role_of(&d, EMAIL).await, "agency_admin");

    // Another agency's user, or no user: the same 404.
    let theirs = user_id(&d, ELSEWHERE).await;
    for id in [theirs.as_str(), "usr_nope", "not-an-id"] {
        let (status, _) = post(&mut admin, &role(id), &[("role", "agent")]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
        let (status, _) = post(&mut admin, &format!("/settings/users/{id}/deactivate"), &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
    }
    assert_eq!(role_of(&d, ELSEWHERE).await, "location_admin");

    // A location admin sees their location's users only: the agency admin is not theirs.
    let mut local = signed_in(&d, LOCAL_ADMIN).await;
    let page = local.get("/settings/users").await.text().await.unwrap();
    assert!(page.contains(AGENT) && !page.contains(EMAIL), "{page}");
    let (status, _) = post(&mut local, &role(&me), &[("role", "agent")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post(&mut local, &role(&agent), &[("role", "location_admin")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(role_of(&d, AGENT).await, "location_admin");
    d.bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivated_user_is_signed_out_everywhere_and_cant_sign_in() {
    let d = Dashboard::start().await;
    add_location_user(&d.bridge, AGENT, "agent").await;
    let agent = user_id(&d, AGENT).await;
    let mut theirs = signed_in(&d, AGENT).await;
    assert_eq!(theirs.get("/inbox").await.status(), StatusCode::OK);
    let mut admin = signed_in(&d, EMAIL).await;

    let me = user_id(&d, EMAIL).await;
    let (status, _) = post(&mut admin, &format!("/settings/users/{me}/deactivate"), &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "not oneself");

    let (status, _) = post(
        &mut admin,
        &format!("/settings/users/{agent}/deactivate"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        scalar(
            &d,
            &format!("SELECT status FROM users WHERE email = '{AGENT}'")
        )
        .await,
        "disabled"
    );
    assert_eq!(
        count(
            &d,
            &format!(
            "SELECT COUNT(*) FROM refresh_tokens WHERE user_id = '{agent}' AND revoked_at IS NULL"
        )
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &d,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'user.deactivated'"
        )
        .await,
        1
    );
    // The open session is over: the access cookie is refused and renewal asks for a
    // sign-in.
    let inbox = theirs.get("/inbox").await;
    assert_eq!(inbox.status(), StatusCode::SEE_OTHER);
    let resume = inbox.headers()["location"].to_str().unwrap().to_string();
    assert!(resume.starts_with("/api/v1/auth/resume"), "{resume}");
    let renewed = theirs.get(&resume).await;
    assert!(renewed.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/login"));
    // And a new sign-in fails.
    let mut again = Session::new(&d);
    let page = again.get("/login").await.text().await.unwrap();
    let csrf = field(&page, "csrf");
    let answer = again
        .post(
            "/login",
            &csrf,
            &[("email", AGENT), ("password", PASSWORD), ("next", "/inbox")],
        )
        .await;
    assert_ne!(answer.status(), StatusCode::SEE_OTHER);
    let page = admin.get("/settings/users").await.text().await.unwrap();
    assert!(page.contains("disabled"), "{page}");
    d.bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_is_refused_users_and_keys() {
    let d = Dashboard::start().await;
    add_location_user(&d.bridge, AGENT, "agent").await;
    let me = user_id(&d, AGENT).await;
    let mut s = signed_in(&d, AGENT).await;
    for path in ["/settings/users", "/settings/keys"] {
        assert_eq!(s.get(path).await.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let users = count(&d, "SELECT COUNT(*) FROM users").await;
    for (path, fields) in [
        (
            "/settings/users/invite".to_string(),
            vec![("email", "z@agency.example"), ("role", "agent")],
        ),
        (
            format!("/settings/users/{me}/role"),
            vec![("role", "location_admin")],
        ),
        (format!("/settings/users/{me}/deactivate"), vec![]),
        ("/settings/keys".to_string(), vec![("name", "mine")]),
    ] {
        let (status, _) = post(&mut s, &path, &fields).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(count(&d, "SELECT COUNT(*) FROM users").await, users);
    assert_eq!(count(&d, "SELECT COUNT(*) FROM api_keys").await, 0);
    assert_eq!(role_of(&d, AGENT).await, "agent");
    // The brand page no longer links what the agent can't open.
    let page = s.get("/settings").await.text().await.unwrap();
    assert!(!page.contains("/settings/users") && !page.contains("/settings/keys"));
    d.bridge.stop().await;
}
