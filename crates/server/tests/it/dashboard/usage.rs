//! The usage page and its CSV over HTTP: the totals shown match the store's numbers, the
//! CSV rows are the store's rows exactly, bad ranges are 422 with nothing else, another
//! agency's location is 404, and a location's agent sees only that location.

use std::collections::BTreeMap;

use domain::{Actor, Direction, MessageStatus, Provider};
use reqwest::StatusCode;
use serde_json::json;
use store::repo::{
    Channel, ConsentChange, Location, NewChannel, NewLocation, NewMessage, NewUser, UsageRange,
    DAY_MS,
};
use store::{Store, TenantScope};

use super::{add_user, Dashboard, Session, EMAIL, PASSWORD};

/// A message stored on `channel` now, moved on to `status`; returns its SMS segments.
async fn message(
    store: &Store,
    channel: &Channel,
    phone: &str,
    direction: Direction,
    actor: Actor,
    body: &str,
    status: MessageStatus,
) -> i64 {
    let mut tx = store.begin().await.unwrap();
    let contact = store
        .contact_for_handle(&mut tx, channel, phone)
        .await
        .unwrap();
    let conversation = store
        .conversation_for(&mut tx, channel, &contact)
        .await
        .unwrap();
    let inbound = direction == Direction::Inbound;
    let message = store
        .insert_message(
            &mut tx,
            &conversation,
            &channel.agency_id,
            &NewMessage {
                direction,
                actor,
                body: body.into(),
                attachments: vec![],
                status: if inbound {
                    status
                } else {
                    MessageStatus::Pending
                },
                provider_message_id: inbound.then(|| format!("p-{}", domain::MessageId::new())),
                ghl_message_id: None,
            },
        )
        .await
        .unwrap()
        .unwrap();
    if !inbound && status != MessageStatus::Pending {
        store
            .advance_message_status(&mut tx, &message, &channel.agency_id, status, None)
            .await
            .unwrap();
    }
    if body == "STOP" {
        store
            .record_consent(
                &mut tx,
                &TenantScope::for_channel(channel),
                &contact.id,
                ConsentChange::OptOut,
                "keyword:STOP",
                "",
            )
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    i64::from(message.sms_segments)
}

/// A second location of the dashboard's agency (a name full of markup) with a Twilio line.
async fn second_location(d: &Dashboard) -> (Location, Channel) {
    let store = &d.bridge.test.store;
    let agency = store.agency(&d.bridge.location.agency_id).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let location = store
        .create_location(
            &mut tx,
            &agency,
            &NewLocation {
                ghl_location_id: "ghl-second".into(),
                name: "<b>Second</b> & co".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let channel = store
        .create_channel(
            &mut tx,
            &location,
            &NewChannel {
                provider: Provider::Twilio,
                line: "+15557770000".into(),
                credentials: BTreeMap::from([("auth_token".to_string(), "t".to_string())]),
                api_base: None,
                settings: json!({}),
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (location, channel)
}

/// Traffic on both locations: returns the first location's (messages, segments).
async fn traffic(d: &Dashboard, second: &Channel) -> (i64, i64) {
    let store = &d.bridge.test.store;
    let ours = &d.bridge.channel;
    let long = "y".repeat(170);
    let mut segments = 0;
    for (phone, direction, actor, body, status) in [
        (
            "+15550000001",
            Direction::Inbound,
            Actor::Contact,
            "Hi there",
            MessageStatus::Delivered,
        ),
        (
            "+15550000001",
            Direction::Outbound,
            Actor::Ai,
            "Hello! How can I help?",
            MessageStatus::Read,
        ),
        (
            "+15550000002",
            Direction::Outbound,
            Actor::Agent,
            long.as_str(),
            MessageStatus::Delivered,
        ),
        (
            "+15550000003",
            Direction::Outbound,
            Actor::Agent,
            "Are you there?",
            MessageStatus::Failed,
        ),
        (
            "+15550000004",
            Direction::Outbound,
            Actor::Ai,
            "Queued",
            MessageStatus::Pending,
        ),
        (
            "+15550000002",
            Direction::Inbound,
            Actor::Contact,
            "STOP",
            MessageStatus::Delivered,
        ),
    ] {
        segments += message(store, ours, phone, direction, actor, body, status).await;
    }
    for i in 0..3 {
        let phone = format!("+1555000900{i}");
        message(
            store,
            second,
            &phone,
            Direction::Outbound,
            Actor::Ai,
            "elsewhere",
            MessageStatus::Sent,
        )
        .await;
    }
    (6, segments)
}

/// The text of the element with `id` (up to its first `<`).
fn figure(page: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\">");
    let at = page.find(&marker).unwrap_or_else(|| panic!("no #{id}")) + marker.len();
    page[at..].split('<').next().unwrap().to_string()
}

/// The store's usage of `scope` today as the CSV's data lines.
pub(super) async fn store_lines(store: &Store, scope: &TenantScope) -> Vec<String> {
    let today = store.now_ms() / DAY_MS;
    let usage = store
        .usage(
            scope,
            UsageRange {
                first_day: today - 29,
                last_day: today,
            },
        )
        .await
        .unwrap();
    usage
        .rows
        .iter()
        .map(|r| {
            let day = chrono::DateTime::from_timestamp_millis(r.day * DAY_MS)
                .unwrap()
                .format("%Y-%m-%d");
            format!(
                "{day},{},{},{},{},{},{},{},{},{},{}",
                r.channel_id,
                r.provider,
                r.line,
                r.direction,
                r.messages,
                r.sms_segments,
                r.left,
                r.delivered,
                r.failed,
                r.ai_replies
            )
        })
        .collect()
}

fn csv_lines(body: &str) -> Vec<String> {
    assert!(body.ends_with("\r\n"), "RFC 4180 line ends");
    let mut lines: Vec<String> = body.split("\r\n").map(str::to_string).collect();
    assert_eq!(lines.pop().as_deref(), Some(""));
    assert_eq!(
        lines.remove(0),
        "day,channel_id,provider,line,direction,messages,sms_segments,left,delivered,failed,ai_replies"
    );
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_usage_page_and_its_csv_show_the_stores_numbers() {
    let d = Dashboard::start().await;
    let (second, second_line) = second_location(&d).await;
    let (messages, segments) = traffic(&d, &second_line).await;
    let mut s = Session::new(&d);
    s.sign_in(EMAIL).await;

    // The whole agency: both locations.
    let page = s.get("/usage").await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert_eq!(
        page.matches("<svg class=\"chart\"").count(),
        5,
        "five charts"
    );
    assert!(page.contains("role=\"img\"") && page.contains("<title>Messages per day</title>"));
    assert!(page.contains("UTC day"));
    assert_eq!(figure(&page, "total-messages"), (messages + 3).to_string());
    // Outbound that left: read, delivered, failed, and the second line's 3 sent.
    assert_eq!(figure(&page, "total-delivery"), "33.3%", "2 of 6");
    assert_eq!(figure(&page, "total-opt-outs"), "1");
    assert_eq!(figure(&page, "total-ai-replies"), "5", "2 here, 3 there");
    assert_eq!(figure(&page, "total-segments"), (segments + 3).to_string());
    assert!(page.contains("<option value=\"\">All locations</option>"));
    assert!(
        page.contains("&lt;b&gt;Second&lt;/b&gt; &amp; co") || page.contains("&#60;b&#62;Second")
    );
    assert!(!page.contains("<b>Second"), "a location's name is text");

    // One location: only its numbers; the CSV link keeps the filter.
    let only = format!("/usage?location={}", d.bridge.location.id);
    let page = s.get(&only).await.text().await.unwrap();
    assert_eq!(figure(&page, "total-messages"), messages.to_string());
    assert_eq!(figure(&page, "total-delivery"), "66.7%", "2 of 3");
    assert_eq!(figure(&page, "total-segments"), segments.to_string());
    assert!(page.contains(&format!("location={}", d.bridge.location.id)));

    // The CSV: the store's rows, exactly, for the agency and for one location.
    let store = &d.bridge.test.store;
    let agency = store.agency(&d.bridge.location.agency_id).await.unwrap();
    let file = s.get("/usage.csv").await;
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(file.headers()["content-type"], "text/csv; charset=utf-8");
    let disposition = file.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"usage-"),
        "{disposition}"
    );
    let lines = csv_lines(&file.text().await.unwrap());
    assert_eq!(
        lines,
        store_lines(store, &TenantScope::for_agency(&agency)).await
    );
    assert_eq!(lines.len(), 3, "ours in and out, theirs out: {lines:?}");
    let file = s.get(&format!("/usage.csv?location={}", second.id)).await;
    let lines = csv_lines(&file.text().await.unwrap());
    assert_eq!(
        lines,
        store_lines(store, &TenantScope::for_location(&second)).await
    );
    assert_eq!(lines.len(), 1);
    assert!(lines[0].ends_with(",outbound,3,3,3,0,0,3"), "{}", lines[0]);
    d.bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ranges_are_422_and_other_agencies_locations_404() {
    let d = Dashboard::start().await;
    add_user(
        &d.bridge,
        "someone@elsewhere.example",
        "agency_admin",
        false,
    )
    .await;
    let elsewhere = d
        .bridge
        .test
        .store
        .location_by_ghl_id("ghl-elsewhere")
        .await
        .unwrap();
    let mut s = Session::new(&d);
    s.sign_in(EMAIL).await;
    for path in [
        "/usage?from=2026-13-01",
        "/usage?from=2026-11-02&to=2026-11-01",
        "/usage?from=2024-01-01&to=2025-06-01",
        "/usage?to=%3Cscript%3Ealert(1)%3C/script%3E",
    ] {
        let page = s.get(path).await;
        assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        let page = page.text().await.unwrap();
        assert!(page.contains("role=\"alert\""), "{path}");
        assert!(!page.contains("<svg"), "nothing else: {path}");
        assert!(!page.contains("id=\"total-messages\""), "{path}");
        assert!(!page.contains("<script>alert"), "{path}");
    }
    let page = s
        .get("/usage?from=2024-01-01&to=2025-06-01")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("at most 366 days"), "the reason is given");
    let file = s.get("/usage.csv?from=nonsense").await;
    assert_eq!(file.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(file.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));

    for path in [
        format!("/usage?location={}", elsewhere.id),
        format!("/usage.csv?location={}", elsewhere.id),
        "/usage?location=loc_01jd0000000000000000000000".to_string(),
        "/usage?location=not-an-id".to_string(),
    ] {
        let page = s.get(&path).await;
        assert_eq!(page.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(!page.text().await.unwrap().contains("<svg"), "{path}");
    }
    // Without a session: the sign-in, never numbers.
    let mut stranger = Session::new(&d);
    let page = stranger.get("/usage.csv").await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    d.bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locations_agent_sees_only_that_locations_numbers() {
    let d = Dashboard::start().await;
    let (second, second_line) = second_location(&d).await;
    let (messages, _) = traffic(&d, &second_line).await;
    let store = &d.bridge.test.store;
    let mut tx = store.begin().await.unwrap();
    store
        .create_user(
            &mut tx,
            &NewUser {
                email: "agent@agency.example".into(),
                name: "Agent".into(),
                role: "agent".into(),
                password_hash: Some(server::auth::hash_password(PASSWORD).unwrap()),
                agency_id: Some(d.bridge.location.agency_id.clone()),
                location_id: Some(d.bridge.location.id.clone()),
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut s = Session::new(&d);
    s.sign_in("agent@agency.example").await;

    let page = s.get("/usage").await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert_eq!(figure(&page, "total-messages"), messages.to_string());
    assert_eq!(figure(&page, "total-ai-replies"), "2");
    assert!(!page.contains("All locations"), "no agency-wide choice");
    assert!(
        !page.contains(second.id.as_str()),
        "the other location isn't offered"
    );
    let lines = csv_lines(&s.get("/usage.csv").await.text().await.unwrap());
    assert_eq!(lines.len(), 2);
    assert!(lines
        .iter()
        .all(|l| l.contains(d.bridge.channel.id.as_str())));
    assert!(!lines.iter().any(|l| l.contains(second_line.id.as_str())));
    for path in [
        format!("/usage?location={}", second.id),
        format!("/usage.csv?location={}", second.id),
    ] {
        assert_eq!(s.get(&path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let own = s
        .get(&format!("/usage?location={}", d.bridge.location.id))
        .await;
    assert_eq!(own.status(), StatusCode::OK);
    d.bridge.stop().await;
}
