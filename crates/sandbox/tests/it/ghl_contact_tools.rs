//! The AI agent's contact tools against the GHL simulator, through `ghl::Api`: add tags,
//! update fields (custom fields included), create and list tasks; tenant scoping, recording
//! and the rate-limit gate.

use std::time::{Duration, SystemTime};

use axum::http::Method;
use outbound::Failure;
use sandbox::SandboxOptions;
use serde_json::{json, Value};

use crate::start;

#[tokio::test]
async fn tags_update_and_tasks_on_the_tokens_contacts_only() {
    let h = start(SandboxOptions::default()).await;
    let token = h.location(json!({"locationId": "T1"})).await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    h.location(json!({"locationId": "T2"})).await;
    let seed = |location: &'static str| {
        h.control(
            "/ghl/contacts",
            json!({"locationId": location, "firstName": "Ann", "tags": ["vip"]}),
        )
    };
    let id = seed("T1").await["contact"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let foreign = seed("T2").await["contact"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = h.url("/ghl");
    let api = ghl::Api::new(&base, &token);

    // Tags merge with the existing ones, deduplicated (GHL keeps them lowercase).
    let tags = ["VIP".to_owned(), "booked".to_owned(), "booked".to_owned()];
    let answer = h.run(api.add_tags(&id, &tags)).await;
    assert_eq!(answer.status, 201);
    assert_eq!(
        ghl::api::parse_tags(&answer).unwrap(),
        vec!["vip", "booked"]
    );

    // Update: standard fields and custom fields, visible through GET contact.
    let custom = vec![ghl::CustomFieldValue {
        id: "budgetField01".into(),
        key: Some("budget".into()),
        field_value: json!(2500),
    }];
    let update = ghl::ContactUpdate {
        last_name: Some("Lovelace"),
        email: Some("ann@example.com"),
        timezone: Some("America/Chicago"),
        custom_fields: &custom,
        ..ghl::ContactUpdate::default()
    };
    let answer = h.run(api.update_contact(&id, &update)).await;
    assert_eq!(
        ghl::api::parse_contact_update(&answer).unwrap(),
        Some(id.clone())
    );
    let contact = ghl::api::parse_contact(&h.run(api.get_contact(&id)).await).unwrap();
    assert_eq!(contact.last_name.as_deref(), Some("Lovelace"));
    assert_eq!(contact.first_name.as_deref(), Some("Ann"));
    assert_eq!(contact.timezone.as_deref(), Some("America/Chicago"));
    assert_eq!(contact.tags, vec!["vip", "booked"]);
    let raw: Value = serde_json::from_slice(&h.run(api.get_contact(&id)).await.body).unwrap();
    assert_eq!(
        raw["contact"]["customFields"],
        json!([{"id": "budgetField01", "value": 2500}])
    );

    // A task, then the list.
    let due = SystemTime::now() + Duration::from_secs(86_400);
    let task = ghl::NewTask {
        title: "Call Ann back",
        body: Some("Wants a quote for three windows"),
        due,
        assigned_to: None,
    };
    let created = ghl::api::parse_task(&h.run(api.create_task(&id, &task)).await).unwrap();
    assert_eq!(created.title.as_deref(), Some("Call Ann back"));
    assert_eq!(created.completed, Some(false));
    assert_eq!(created.contact_id.as_deref(), Some(id.as_str()));
    assert_eq!(
        created.due_date.as_deref(),
        Some(ghl::format_rfc3339(due).as_str())
    );
    let listed = h
        .ghl(Method::GET, &format!("/contacts/{id}/tasks"), &token)
        .header("Version", "2021-07-28")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(listed["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(listed["tasks"][0]["id"], created.id.as_str());
    assert!(listed["tasks"][0].get("locationId").is_none());

    // CreateTaskParams is enforced (422), and so is an ISO dueDate.
    let r = h
        .ghl(Method::POST, &format!("/contacts/{id}/tasks"), &token)
        .json(&json!({"title": "x", "dueDate": "tomorrow", "completed": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = h
        .ghl(Method::POST, &format!("/contacts/{id}/tasks"), &token)
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    // Another location's contact: "Contact not found" for every tool, and nothing changes.
    for request in [
        api.add_tags(&foreign, &tags),
        api.update_contact(&foreign, &update),
        api.create_task(&foreign, &task),
    ] {
        let answer = h.run(request).await;
        assert_eq!(answer.status, 400);
        assert!(String::from_utf8_lossy(&answer.body).contains("Contact not found"));
        assert!(matches!(
            ghl::api::parse_task(&answer),
            Err(ghl::Error::Call(Failure::Permanent { .. }))
        ));
    }
    let untouched = h.get_json("/_control/ghl/contacts?locationId=T2").await;
    assert_eq!(untouched[0]["tags"], json!(["vip"]));
    assert!(untouched[0].get("lastName").is_none());

    // Every call was recorded, with its Version header.
    let recorded = h.get_json("/_control/ghl/requests").await;
    let task_post = recorded
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == format!("/ghl/contacts/{id}/tasks") && r["method"] == "POST")
        .unwrap();
    assert_eq!(task_post["headers"]["version"], "2021-07-28");
    assert_eq!(task_post["body"]["completed"], false);
}

#[tokio::test]
async fn calendar_and_contact_tools_share_the_rate_limit() {
    let h = start(SandboxOptions {
        ghl_rate_limit: (3, Duration::from_secs(60)),
        ..SandboxOptions::default()
    })
    .await;
    let token = h.location(json!({"locationId": "RL"})).await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = h
        .control("/ghl/contacts", json!({"locationId": "RL"}))
        .await["contact"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = h.url("/ghl");
    let api = ghl::Api::new(&base, &token);
    assert_eq!(h.run(api.list_calendars("RL")).await.status, 200);
    assert_eq!(
        h.run(api.add_tags(&id, &["a".to_owned()])).await.status,
        201
    );
    let task = ghl::NewTask {
        title: "t",
        body: None,
        due: SystemTime::now(),
        assigned_to: None,
    };
    assert_eq!(h.run(api.create_task(&id, &task)).await.status, 201);
    let limited = h.run(api.list_calendars("RL")).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.headers["x-ratelimit-remaining"], "0");
    assert!(matches!(
        ghl::api::parse_calendars(&limited),
        Err(ghl::Error::Call(Failure::RateLimited { .. }))
    ));
}
