//! The AI agent's whole journey with a lead (flows 3 and 7): a question answered from the
//! knowledge base (the passage on the timeline), real free slots offered in the
//! location's time zone, a booking that exists in GHL at the right instant, a tag and a
//! task on the contact; and an injection in a crawled page that changes nothing.

use serde_json::{json, Value};
use store::repo::{AgentSettingsChange, LocationAi, MessageEvent};
use store::TenantScope;

use crate::ai_reply::{script, sent_texts, write_from};
use crate::bridge::Bridge;
use crate::knowledge::{add_source, clinic_site, settled, website, ROBOTS};

const CONTACT: &str = "+19998887030";

async fn write_in(bridge: &Bridge, text: &str) {
    write_from(bridge, CONTACT, text).await;
}

/// Waits for `text` to reach the contact.
async fn answered(bridge: &Bridge, text: &'static str) {
    bridge
        .eventually_within(
            "the AI's answer to reach the contact",
            std::time::Duration::from_secs(40),
            async |b| sent_texts(b).await.iter().any(|t| t == text),
        )
        .await;
}

/// The timeline events of kind `kind` of the contact's messages, oldest first.
async fn events(bridge: &Bridge, scope: &TenantScope, kind: &str) -> Vec<MessageEvent> {
    let store = &bridge.test.store;
    let conversations = store
        .conversations_page(scope, &Default::default(), &store::Paging::first(5))
        .await
        .unwrap()
        .items;
    let mut found = Vec::new();
    for conversation in conversations {
        let messages = store
            .messages_page(
                scope,
                &conversation.id,
                &Default::default(),
                &store::Paging::first(50),
            )
            .await
            .unwrap()
            .items;
        for message in messages.iter().rev() {
            let timeline = store.message_timeline(scope, &message.id).await.unwrap();
            found.extend(timeline.into_iter().filter(|e| e.kind == kind));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_is_answered_from_the_knowledge_base_offered_real_slots_and_booked() {
    let bridge = Bridge::start_with(&[
        ("SWITCHBOARD_OPENAI_API_KEY", "sk-sandbox"),
        (
            "SWITCHBOARD_OPENAI_EMBEDDING_MODEL",
            "text-embedding-3-small",
        ),
    ])
    .await;
    let scope = bridge.agency_scope().await;
    let store = &bridge.test.store;

    // The clinic is in Chicago; its GHL calendar keeps New York hours.
    let mut tx = store.begin().await.unwrap();
    let ai = LocationAi {
        ai_enabled: true,
        quiet_hours: None,
        time_zone: Some("America/Chicago"),
        handoff_phrases: None,
    };
    store
        .set_location_ai(&mut tx, &scope, &bridge.location.id, &ai)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let calendar = bridge
        .control(
            "/ghl/calendars",
            json!({"locationId": bridge.location.ghl_location_id, "name": "Cleanings",
                   "timezone": "America/New_York", "slotMinutes": 60, "open": "09:00",
                   "close": "17:00", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}),
        )
        .await;
    let calendar_id = calendar["id"].as_str().unwrap().to_string();
    let mut change = AgentSettingsChange::default();
    change.settings.strategy = "You are Bright Smile Dental's assistant. Qualify: ask what \
        treatment they want. Book cleanings into the calendar."
        .into();
    change.settings.calendar_id = Some(calendar_id.clone());
    let mut tx = store.begin().await.unwrap();
    store
        .set_agent_settings(&mut tx, &scope, &bridge.location.id, &change)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let (site, _) = clinic_site(ROBOTS).await;
    let source = add_source(&bridge, &scope, website(&format!("{site}/"))).await;
    assert_eq!(settled(&bridge, &scope, &source).await.state, "ready");

    // 1. A question, answered from the knowledge base.
    script(
        &bridge,
        json!([{"content": "Whitening is $299 and takes about 90 minutes."}]),
    )
    .await;
    write_in(&bridge, "How much does teeth whitening cost?").await;
    answered(&bridge, "Whitening is $299 and takes about 90 minutes.").await;
    let replied = events(&bridge, &scope, "ai.replied").await;
    let first = &replied[0].detail;
    assert_eq!(first["retrieval"], "hybrid", "{first}");
    let passages = first["passages"].as_array().unwrap();
    assert!(
        passages[0]["text"]
            .as_str()
            .unwrap()
            .contains("teeth whitening costs $299"),
        "the answering passage is first on the timeline: {first}"
    );
    let requests = bridge.get("/openai/requests").await;
    let chat: Vec<&Value> = requests
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .unwrap_or_default()
                .ends_with("/chat/completions")
        })
        .collect();
    let body = &chat[0]["body"];
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("Bright Smile Dental's assistant"),
        "the strategy is in the prompt"
    );
    assert!(
        system.contains("teeth whitening costs $299"),
        "the passage is in the prompt"
    );
    assert!(
        system.contains("check_availability"),
        "booking is explained when a calendar is set"
    );
    // The crawled injection is in the prompt only inside a data fence, and flagged.
    let injected = passages
        .iter()
        .find(|p| {
            p["text"]
                .as_str()
                .unwrap()
                .contains("Ignore previous instructions")
        })
        .expect("the injected passage was retrieved");
    assert_eq!(injected["injection_suspected"], true);
    let tools: Vec<&str> = body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    for tool in [
        "request_human",
        "check_availability",
        "book_appointment",
        "add_tag",
        "create_task",
    ] {
        assert!(tools.contains(&tool), "{tool} offered: {tools:?}");
    }

    // 2. Asked to book: real free slots, in Chicago time.
    script(
        &bridge,
        json!([
            {"tool_calls": [{"name": "check_availability", "arguments": {"days": 3}}]},
            {"content": "I can do tomorrow morning. Which time suits you?"},
        ]),
    )
    .await;
    write_in(&bridge, "Great, can I book a cleaning?").await;
    answered(&bridge, "I can do tomorrow morning. Which time suits you?").await;
    let checks = events(&bridge, &scope, "ai.tool").await;
    let check = &checks[0].detail;
    assert_eq!(check["tool"], "check_availability", "{check}");
    assert_eq!(check["result"]["time_zone"], "America/Chicago");
    let slots = check["result"]["slots"].as_array().unwrap();
    assert!(!slots.is_empty(), "{check}");
    let slot = slots[0]["start"].as_str().unwrap().to_string();
    assert!(
        slot.ends_with("-06:00") || slot.ends_with("-05:00"),
        "slots are written in Chicago's offset: {slot}"
    );
    let free = bridge
        .get(&format!(
            "/ghl/appointments?locationId={}",
            bridge.location.ghl_location_id
        ))
        .await;
    assert_eq!(free.as_array().unwrap().len(), 0);

    // 3. The lead picks a slot: it is booked, tagged, and the team gets a task.
    script(
        &bridge,
        json!([
            {"tool_calls": [
                {"name": "book_appointment", "arguments": {"start": slot, "title": "Cleaning"}},
                {"name": "add_tag", "arguments": {"tags": ["booked-cleaning"]}},
                {"name": "create_task", "arguments": {"title": "Send the new-patient form", "due_in_hours": 4}},
            ]},
            {"content": "You're booked. See you then!"},
        ]),
    )
    .await;
    write_in(&bridge, "The first one please").await;
    answered(&bridge, "You're booked. See you then!").await;
    let calls = events(&bridge, &scope, "ai.tool").await;
    for call in &calls {
        assert_eq!(call.detail["result"]["ok"], true, "{}", call.detail);
    }
    let booked = bridge
        .get(&format!(
            "/ghl/appointments?locationId={}",
            bridge.location.ghl_location_id
        ))
        .await;
    let booked = booked.as_array().unwrap();
    assert_eq!(booked.len(), 1, "{booked:?}");
    let appointment = &booked[0];
    assert_eq!(appointment["calendarId"], calendar_id.as_str());
    assert_eq!(appointment["calendarTimezone"], "America/New_York");
    let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
    assert_eq!(
        at(appointment["startTime"].as_str().unwrap()),
        at(&slot),
        "the same instant as the slot offered in Chicago time: {appointment}"
    );
    let ghl_requests = bridge.get("/ghl/requests").await;
    let paths: Vec<String> = ghl_requests
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap(),
                r["path"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("POST /ghl/contacts/") && p.ends_with("/tags")),
        "{paths:?}"
    );
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("POST /ghl/contacts/") && p.ends_with("/tasks")),
        "{paths:?}"
    );
    bridge.stop().await;
}
