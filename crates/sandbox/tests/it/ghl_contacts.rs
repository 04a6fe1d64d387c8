//! GHL contacts: upsert and its deduplication, duplicate lookup, create, DND update, tags.

use axum::http::Method;
use sandbox::SandboxOptions;
use serde_json::{json, Value};

use crate::start;

#[tokio::test]
async fn contacts_upsert_dedupe_get_and_dnd_update() {
    let h = start(SandboxOptions::default()).await;
    let token = h.location(json!({"locationId": "C1"})).await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let post = |path: &str, body: Value| {
        h.ghl(Method::POST, path, &token)
            .header("Version", "2021-07-28")
            .json(&body)
            .send()
    };
    let r = post(
        "/contacts/upsert",
        json!({"locationId": "C1", "phone": "+1 (555) 010-2030", "firstName": "Ann"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["new"], true);
    let id = first["contact"]["id"].as_str().unwrap().to_owned();
    assert_eq!(first["contact"]["phone"], "+15550102030");
    let again: Value = post(
        "/contacts/upsert",
        json!({"locationId": "C1", "phone": "5550102030", "email": "Ann@Example.com"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(again["new"], false);
    assert_eq!(again["contact"]["id"], id.as_str());
    // Duplicate lookup by phone (URL-encoded +) and by email, case-insensitive.
    let dup: Value = h
        .ghl(
            Method::GET,
            "/contacts/search/duplicate?locationId=C1&number=%2B15550102030",
            &token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dup["contact"]["id"], id.as_str());
    let dup: Value = h
        .ghl(
            Method::GET,
            "/contacts/search/duplicate?locationId=C1&email=ann%40example.com",
            &token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dup["contact"]["id"], id.as_str());
    let none: Value = h
        .ghl(
            Method::GET,
            "/contacts/search/duplicate?locationId=C1&number=%2B19990000000",
            &token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(none["contact"].is_null());
    // Create refuses a duplicate; another location's id is refused.
    let r = post(
        "/contacts/",
        json!({"locationId": "C1", "phone": "+15550102030"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["meta"]["contactId"],
        id.as_str()
    );
    assert_eq!(
        post("/contacts/", json!({"locationId": "OTHER"}))
            .await
            .unwrap()
            .status(),
        403
    );
    // Email matches one contact, phone another: the phone is silently dropped (issue #37).
    let bob: Value = post(
        "/contacts/",
        json!({"locationId": "C1", "phone": "+15550109999"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let merged: Value = post(
        "/contacts/upsert",
        json!({"locationId": "C1", "email": "ann@example.com", "phone": "+15550109999"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(merged["contact"]["id"], id.as_str());
    assert_eq!(merged["contact"]["phone"], "+15550102030");
    assert_ne!(bob["contact"]["id"], id.as_str());
    // DND update, then get.
    let r = h.ghl(Method::PUT, &format!("/contacts/{id}"), &token)
        .json(&json!({"dnd": true, "dndSettings": {"SMS": {"status": "active", "message": "STOP", "code": "101"}}}))
        .send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["succeded"], true);
    let got: Value = h
        .ghl(Method::GET, &format!("/contacts/{id}"), &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["contact"]["dnd"], true);
    assert_eq!(got["contact"]["dndSettings"]["SMS"]["status"], "active");
    // The DTO is enforced: no locationId on update, enum values checked, unknown property refused.
    let r = h
        .ghl(Method::PUT, &format!("/contacts/{id}"), &token)
        .json(&json!({"locationId": "C1", "dndSettings": {"SMS": {"status": "on"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let msgs = r.json::<Value>().await.unwrap()["message"].clone();
    assert!(
        msgs.as_array()
            .unwrap()
            .contains(&json!("property locationId should not exist")),
        "{msgs}"
    );
    assert!(
        msgs.to_string()
            .contains("dndSettings.SMS.status must be one of"),
        "{msgs}"
    );
    // Tags add/remove.
    let r = h
        .ghl(Method::POST, &format!("/contacts/{id}/tags"), &token)
        .json(&json!({"tags": ["VIP", "lead"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r: Value = h
        .ghl(Method::DELETE, &format!("/contacts/{id}/tags"), &token)
        .json(&json!({"tags": ["lead"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["tags"], json!(["vip"]));
}
