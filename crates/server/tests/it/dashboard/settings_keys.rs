//! The API-keys settings page over HTTP: a key shown once that works as a bearer until
//! revoked; bad input makes no key; another agency's key is 404 and keeps working.

use reqwest::StatusCode;

use super::settings::{count, post, scalar, signed_in, ELSEWHERE};
use super::{add_user, Dashboard, EMAIL};

/// The whole key on a page, if one is there.
fn key_on(page: &str) -> Option<String> {
    let start = page.find("value=\"sb_")? + "value=\"".len();
    Some(page[start..].split('"').next().unwrap().to_string())
}

async fn me_status(d: &Dashboard, key: &str) -> StatusCode {
    d.bridge
        .client
        .get(d.url("/api/v1/me"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_shown_once_works_as_a_bearer_and_stops_when_revoked() {
    let d = Dashboard::start().await;
    add_user(&d.bridge, ELSEWHERE, "location_admin", false).await;
    let location = d.bridge.location.id.to_string();
    let mut s = signed_in(&d, EMAIL).await;
    assert_eq!(s.get("/settings/keys").await.status(), StatusCode::OK);

    let (status, page) = post(
        &mut s,
        "/settings/keys",
        &[
            ("name", "Zapier <sync>"),
            ("role", "agent"),
            ("location_id", &location),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Copy it now"), "{page}");
    let key = key_on(&page).expect("the new key on its answer page");
    assert!(page.contains("Zapier &#60;sync&#62;") && !page.contains("<sync>"));
    let listed = s.get("/settings/keys").await.text().await.unwrap();
    assert!(
        key_on(&listed).is_none() && !listed.contains(&key),
        "the key is shown once"
    );
    assert_eq!(me_status(&d, &key).await, StatusCode::OK);
    let me: serde_json::Value = d
        .bridge
        .client
        .get(d.url("/api/v1/me"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "agent", "{me}");

    // Bad input makes no key.
    let keys = "SELECT COUNT(*) FROM api_keys";
    let before = count(&d, keys).await;
    for fields in [
        vec![("name", " "), ("role", "agent")],
        vec![("name", "x"), ("role", "operator")],
        vec![
            ("name", "x"),
            ("role", "agency_admin"),
            ("location_id", location.as_str()),
        ],
        vec![("name", "x"), ("role", "chief")],
    ] {
        let (status, page) = post(&mut s, "/settings/keys", &fields).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        assert!(
            page.contains("The key was not made") && key_on(&page).is_none(),
            "{page}"
        );
    }
    assert_eq!(count(&d, keys).await, before);

    // Another agency's key can't be revoked from here: 404, and it still works.
    let mut other = signed_in(&d, ELSEWHERE).await;
    let (status, page) = post(&mut other, "/settings/keys", &[("name", "Theirs")]).await;
    assert_eq!(status, StatusCode::OK);
    let their_key = key_on(&page).unwrap();
    let their_id = scalar(&d, "SELECT id FROM api_keys WHERE name = 'Theirs'").await;
    let (status, _) = post(&mut s, &format!("/settings/keys/{their_id}/revoke"), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(me_status(&d, &their_key).await, StatusCode::OK);

    let ours = scalar(&d, "SELECT id FROM api_keys WHERE name = 'Zapier <sync>'").await;
    let (status, _) = post(&mut s, &format!("/settings/keys/{ours}/revoke"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(me_status(&d, &key).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        count(
            &d,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'api_key.revoked'"
        )
        .await,
        1
    );
    let listed = s.get("/settings/keys").await.text().await.unwrap();
    assert!(listed.contains("revoked"), "{listed}");
    d.bridge.stop().await;
}
