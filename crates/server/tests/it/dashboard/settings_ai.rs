//! Settings, AI and quiet hours: saved for the viewer's own locations only, by admins
//! only, with every bad field refused and nothing changed.

use reqwest::StatusCode;
use store::repo::NewUser;

use super::{add_user, Dashboard, Session, EMAIL, PASSWORD};

/// Quiet hours as (start, end) minutes after midnight.
fn minutes(quiet: Option<domain::quiet_hours::QuietHours>) -> Option<(u16, u16)> {
    quiet.map(|q| (q.start.minutes(), q.end.minutes()))
}

async fn stored(d: &Dashboard) -> store::repo::Location {
    d.bridge
        .test
        .store
        .location_for_operator(&d.bridge.location.id)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_the_switch_zone_and_quiet_hours_and_bad_ones_change_nothing() {
    let d = Dashboard::start().await;
    let location = d.bridge.location.id.to_string();
    let save = format!("/settings/ai/{location}");
    let mut s = Session::new(&d);
    s.sign_in(EMAIL).await;
    let page = s.get("/settings/ai").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{save}\"")), "{html}");
    assert!(
        stored(&d).await.ai_enabled,
        "the AI is on until switched off"
    );

    let csrf = s.csrf();
    // No `ai` field: the box was unticked.
    let fields = [
        ("time_zone", "America/Chicago"),
        ("quiet_start", "21:00"),
        ("quiet_end", "08:00"),
    ];
    let saved = s.post(&save, &csrf, &fields).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let after = stored(&d).await;
    assert!(!after.ai_enabled);
    assert_eq!(minutes(after.quiet_hours), Some((21 * 60, 8 * 60)));
    assert_eq!(after.time_zone.as_deref(), Some("America/Chicago"));
    let html = s.get("/settings/ai").await.text().await.unwrap();
    assert!(
        html.contains("AI off. Quiet 21:00–08:00, America/Chicago."),
        "{html}"
    );

    for (why, bad) in [
        (
            "an unknown zone",
            [
                ("time_zone", "Mars/Olympus"),
                ("quiet_start", "21:00"),
                ("quiet_end", "08:00"),
            ],
        ),
        (
            "an hour past 23",
            [
                ("time_zone", "UTC"),
                ("quiet_start", "25:00"),
                ("quiet_end", "08:00"),
            ],
        ),
        (
            "half a window",
            [
                ("time_zone", "UTC"),
                ("quiet_start", "21:00"),
                ("quiet_end", ""),
            ],
        ),
        (
            "an empty window",
            [
                ("time_zone", "UTC"),
                ("quiet_start", "09:00"),
                ("quiet_end", "09:00"),
            ],
        ),
    ] {
        let mut fields = vec![("ai", "1")];
        fields.extend_from_slice(&bad);
        let refused = s.post(&save, &csrf, &fields).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{why}");
        let html = refused.text().await.unwrap();
        assert!(html.contains("Nothing was saved"), "{why}: {html}");
        assert_eq!(stored(&d).await, after, "{why} changed nothing");
    }
    let forged = s.post(&save, "forged", &[("ai", "1")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // Clearing the window and switching the AI back on.
    let cleared = s
        .post(
            &save,
            &csrf,
            &[
                ("ai", "1"),
                ("time_zone", "UTC"),
                ("quiet_start", ""),
                ("quiet_end", ""),
            ],
        )
        .await;
    assert_eq!(cleared.status(), StatusCode::SEE_OTHER);
    let cleared = stored(&d).await;
    assert!(cleared.ai_enabled);
    assert_eq!(cleared.quiet_hours, None);
    d.bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_are_refused_location_admins_may_and_other_agencies_are_404() {
    let d = Dashboard::start().await;
    let save = format!("/settings/ai/{}", d.bridge.location.id);
    let before = stored(&d).await;

    add_user(&d.bridge, "agent@agency.example", "agent", true).await;
    let mut agent = Session::new(&d);
    agent.sign_in("agent@agency.example").await;
    assert_eq!(
        agent.get("/settings/ai").await.status(),
        StatusCode::FORBIDDEN
    );
    let csrf = agent.csrf();
    let refused = agent.post(&save, &csrf, &[("time_zone", "UTC")]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(stored(&d).await, before);

    let store = &d.bridge.test.store;
    let mut tx = store.begin().await.unwrap();
    store
        .create_user(
            &mut tx,
            &NewUser {
                email: "admin@location.example".into(),
                name: "Location admin".into(),
                role: "location_admin".into(),
                password_hash: Some(server::auth::hash_password(PASSWORD).unwrap()),
                agency_id: Some(d.bridge.location.agency_id.clone()),
                location_id: Some(d.bridge.location.id.clone()),
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut admin = Session::new(&d);
    admin.sign_in("admin@location.example").await;
    let csrf = admin.csrf();
    let saved = admin
        .post(
            &save,
            &csrf,
            &[
                ("time_zone", "Europe/Warsaw"),
                ("quiet_start", "22:00"),
                ("quiet_end", "07:30"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        minutes(stored(&d).await.quiet_hours),
        Some((22 * 60, 7 * 60 + 30))
    );

    // Another agency's admin: our location is a 404, as a missing one is.
    add_user(&d.bridge, "other@elsewhere.example", "agency_admin", false).await;
    let mut other = Session::new(&d);
    other.sign_in("other@elsewhere.example").await;
    let csrf = other.csrf();
    for path in [
        save.as_str(),
        "/settings/ai/loc_01HZZZZZZZZZZZZZZZZZZZZZZZ",
        "/settings/ai/nonsense",
    ] {
        let answer = other.post(path, &csrf, &[("time_zone", "UTC")]).await;
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(stored(&d).await.time_zone.as_deref(), Some("Europe/Warsaw"));
    d.bridge.stop().await;
}
