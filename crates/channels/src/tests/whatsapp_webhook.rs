//! WhatsApp webhooks: Meta's incoming-text example verbatim, status webhooks built from
//! Meta's status syntax, and webhooks refused for their signature.

use domain::MessageStatus;
use http::StatusCode;
use serde_json::{json, Value};

use super::webhook;
use super::whatsapp_send::credentials;
use crate::whatsapp::signature::header_value;
use crate::whatsapp::webhook::rfc3339;
use crate::whatsapp::{WhatsApp, OUTSIDE_WINDOW_REASON};
use crate::{Channel, InboundMessage, StatusReport, WebhookEvent};

const INCOMING: &str = include_str!("../../tests/fixtures/whatsapp-webhook-incoming-text.json");
const STATUS_SYNTAX: &str = include_str!("../../tests/fixtures/whatsapp-webhook-status-syntax.txt");

const URL: &str = "https://switchboard.example/webhooks/whatsapp/ch_1";
const APP_SECRET: &str = "app-secret";

fn signed(body: &str) -> crate::WebhookRequest {
    let signature = header_value(APP_SECRET, body.as_bytes());
    webhook(
        URL,
        &[
            ("content-type", "application/json"),
            ("x-hub-signature-256", &signature),
        ],
        body,
    )
}

fn receive(body: &str) -> Vec<WebhookEvent> {
    WhatsApp
        .receive_webhook(&credentials(), &signed(body))
        .unwrap()
}

#[test]
fn metas_incoming_text_example() {
    let events = receive(INCOMING);
    assert_eq!(
        events,
        vec![WebhookEvent::Inbound(InboundMessage {
            provider_message_id: "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
                .into(),
            from: "+16505551234".into(),
            to: "+15550783881".into(),
            body: "Does it come in another color?".into(),
            sent_at: Some("2025-06-08T20:59:43Z".into()),
            ..Default::default()
        })]
    );
    assert_eq!(
        WhatsApp
            .parse_webhook(&webhook(URL, &[], INCOMING))
            .unwrap(),
        events
    );
}

#[test]
fn another_numbers_events_are_not_this_channels() {
    let theirs = credentials().with("phone_number_id", "999");
    let events = WhatsApp
        .receive_webhook(&theirs, &signed(INCOMING))
        .unwrap();
    assert!(
        matches!(&events[..], [WebhookEvent::Ignored { reason }] if reason.contains("phone number id")),
        "{events:?}"
    );
}

/// Meta's status syntax with its placeholders filled and its notes removed.
fn status_body(statuses: Value) -> String {
    // Drop the title line and Meta's `<!-- -->` notes (one spans two lines).
    let mut syntax = String::new();
    let mut rest = STATUS_SYNTAX.split_once('\n').unwrap().1;
    while let Some(start) = rest.find("<!--") {
        syntax.push_str(&rest[..start]);
        rest = &rest[rest[start..].find("-->").unwrap() + start + 3..];
    }
    syntax.push_str(rest);
    let filled = syntax
        .replace("<IS_BILLABLE?>", "true")
        .replace("<ERROR_CODE>", "131047")
        .replace("<WHATSAPP_BUSINESS_ACCOUNT_ID>", "102290129340398")
        .replace("<BUSINESS_DISPLAY_PHONE_NUMBER>", "15550783881")
        .replace("<BUSINESS_PHONE_NUMBER_ID>", "106540352242922")
        .replace("<WHATSAPP_MESSAGE_ID>", "wamid.OURS1")
        .replace("<STATUS>", "failed")
        .replace("<WEBHOOK_TRIGGER_TIMESTAMP>", "1749416400")
        .replace("<USER_PHONE_NUMBER_OR_GROUP_ID>", "16505551234");
    let filled = regex_free_fill(&filled);
    let mut value: Value = serde_json::from_str(&filled).unwrap();
    let template = value["entry"][0]["changes"][0]["value"]["statuses"][0].clone();
    let list: Vec<Value> = statuses
        .as_array()
        .unwrap()
        .iter()
        .map(|changes| {
            let mut s = template.clone();
            // A one-to-one message: no group fields.
            for k in ["recipient_type", "recipient_participant_id"] {
                s.as_object_mut().unwrap().remove(k);
            }
            for (k, v) in changes.as_object().unwrap() {
                if v.is_null() {
                    s.as_object_mut().unwrap().remove(k);
                } else {
                    s[k] = v.clone();
                }
            }
            s
        })
        .collect();
    value["entry"][0]["changes"][0]["value"]["statuses"] = Value::Array(list);
    value.to_string()
}

/// Every remaining `<PLACEHOLDER>` becomes the string `placeholder`.
fn regex_free_fill(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('>').unwrap() + start;
        out.push_str(&rest[start + 1..end].to_lowercase());
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn report(id: &str, status: MessageStatus, error: Option<String>) -> WebhookEvent {
    WebhookEvent::Status(StatusReport {
        provider_message_id: id.into(),
        status,
        error,
        opted_out: false,
    })
}

#[test]
fn statuses_from_metas_syntax() {
    let body = status_body(json!([
        {"status": "sent", "errors": null},
        {"id": "wamid.OURS2", "status": "read", "errors": null, "conversation": null, "pricing": null},
        {"id": "wamid.OURS3", "status": "delivered", "errors": null},
        {"id": "wamid.OURS4", "status": "failed"},
        {"id": "wamid.OURS5", "status": "played", "errors": null},
    ]));
    let events = receive(&body);
    assert_eq!(events.len(), 5, "{events:?}");
    assert_eq!(events[0], report("wamid.OURS1", MessageStatus::Sent, None));
    // `read` without a `delivered` first is a read.
    assert_eq!(events[1], report("wamid.OURS2", MessageStatus::Read, None));
    assert_eq!(
        events[2],
        report("wamid.OURS3", MessageStatus::Delivered, None)
    );
    let WebhookEvent::Status(failed) = &events[3] else {
        panic!("{:?}", events[3])
    };
    assert_eq!(failed.status, MessageStatus::Failed);
    let error = failed.error.clone().unwrap();
    assert!(error.starts_with(OUTSIDE_WINDOW_REASON), "{error}");
    assert!(
        error.contains("WhatsApp error 131047: error_message (error_details)"),
        "{error}"
    );
    assert!(matches!(&events[4], WebhookEvent::Ignored { reason } if reason.contains("played")));
}

#[test]
fn a_failure_without_errors_still_fails() {
    let body = status_body(json!([{"status": "failed", "errors": null}]));
    assert_eq!(
        receive(&body),
        vec![report(
            "wamid.OURS1",
            MessageStatus::Failed,
            Some("WhatsApp reported the message failed".into())
        )]
    );
}

/// Meta's incoming example with its message replaced.
fn incoming_with(message: Value) -> String {
    let mut value: Value = serde_json::from_str(INCOMING).unwrap();
    value["entry"][0]["changes"][0]["value"]["messages"] = json!([message]);
    value.to_string()
}

fn inbound(events: Vec<WebhookEvent>) -> InboundMessage {
    match &events[..] {
        [WebhookEvent::Inbound(m)] => m.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn media_buttons_and_replies_are_read() {
    let base = json!({"from": "16505551234", "id": "wamid.M", "timestamp": "951782400"});
    let with = |kind: &str, object: Value| {
        let mut m = base.clone();
        m["type"] = kind.into();
        m[kind] = object;
        incoming_with(m)
    };
    let image = inbound(receive(&with(
        "image",
        json!({"caption": "look", "mime_type": "image/jpeg", "sha256": "x", "id": "1037543291543636"}),
    )));
    assert_eq!(image.body, "look");
    assert_eq!(image.media_urls, ["whatsapp-media:1037543291543636"]);
    assert_eq!(image.sent_at.as_deref(), Some("2000-02-29T00:00:00Z"));
    for kind in ["audio", "sticker", "video", "document"] {
        let m = inbound(receive(&with(
            kind,
            json!({"id": "77", "mime_type": "x/y"}),
        )));
        assert_eq!(
            (m.body.as_str(), m.media_urls.clone()),
            ("", vec!["whatsapp-media:77".to_string()]),
            "{kind}"
        );
    }
    let button = inbound(receive(&with(
        "button",
        json!({"payload": "P", "text": "Yes please"}),
    )));
    assert_eq!(button.body, "Yes please");
    let list = inbound(receive(&with(
        "interactive",
        json!({"type": "list_reply", "list_reply": {"id": "a", "title": "Tuesday", "description": "d"}}),
    )));
    assert_eq!(list.body, "Tuesday");
    let reply = inbound(receive(&with(
        "interactive",
        json!({"type": "button_reply", "button_reply": {"id": "b", "title": "Book"}}),
    )));
    assert_eq!(reply.body, "Book");
}

#[test]
fn what_we_do_not_act_on_is_ignored_with_a_reason() {
    let ignored = |body: &str, needle: &str| {
        let events = receive(body);
        assert!(
            matches!(&events[..], [WebhookEvent::Ignored { reason }] if reason.contains(needle)),
            "{needle}: {events:?}"
        );
    };
    let base = json!({"from": "16505551234", "id": "wamid.M", "timestamp": "1749416383"});
    let mut reaction = base.clone();
    reaction["type"] = "reaction".into();
    reaction["reaction"] = json!({"message_id": "wamid.X", "emoji": "👍"});
    ignored(&incoming_with(reaction), "reaction");
    let mut group = base.clone();
    group["type"] = "text".into();
    group["text"] = json!({"body": "hi all"});
    group["group_id"] = "G1".into();
    ignored(&incoming_with(group), "group");
    let mut unsupported = base.clone();
    unsupported["type"] = "unsupported".into();
    ignored(&incoming_with(unsupported), "unsupported");
    let mut blank = base.clone();
    blank["type"] = "text".into();
    blank["text"] = json!({"body": "  "});
    ignored(&incoming_with(blank), "no text or media");

    let mut value: Value = serde_json::from_str(INCOMING).unwrap();
    value["entry"][0]["changes"][0]["field"] = "account_update".into();
    ignored(&value.to_string(), "account_update");
    let errors_only = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "errors": [{"code": 131051, "title": "Unsupported message type"}]}}]}]});
    ignored(&errors_only.to_string(), "errors");
    ignored(&json!({"object": "page", "entry": []}).to_string(), "page");
}

#[test]
fn a_batch_gives_every_event_in_order() {
    let mut value: Value = serde_json::from_str(INCOMING).unwrap();
    let change = value["entry"][0]["changes"][0].clone();
    let mut second = change.clone();
    second["value"]["messages"][0]["id"] = "wamid.SECOND".into();
    second["value"]["statuses"] = json!([{"id": "wamid.OURS", "status": "delivered", "timestamp": "1749416390", "recipient_id": "16505551234"}]);
    value["entry"][0]["changes"] = json!([change, second]);
    let events = receive(&value.to_string());
    let keys: Vec<String> = events.iter().filter_map(WebhookEvent::dedupe_key).collect();
    assert_eq!(
        keys,
        [
            "inbound:wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
            "inbound:wamid.SECOND",
            "status:wamid.OURS:delivered"
        ]
    );
}

#[test]
fn bodies_we_cannot_read_are_malformed() {
    for body in [
        "not json",
        "[]",
        r#"{"object":"whatsapp_business_account"}"#,
        &incoming_with(json!({"from": "16505551234", "type": "text", "text": {"body": "no id"}})),
        &incoming_with(
            json!({"id": "wamid.X", "from": "abc", "type": "text", "text": {"body": "bad from"}}),
        ),
    ] {
        let result = WhatsApp.receive_webhook(&credentials(), &signed(body));
        assert!(
            matches!(&result, Err(e) if e.webhook_status() == StatusCode::BAD_REQUEST),
            "{body}: {result:?}"
        );
    }
}

#[test]
fn unix_seconds_become_rfc3339() {
    assert_eq!(rfc3339(0).as_deref(), Some("1970-01-01T00:00:00Z"));
    assert_eq!(
        rfc3339(1_749_416_383).as_deref(),
        Some("2025-06-08T20:59:43Z")
    );
    assert_eq!(
        rfc3339(4_102_444_799).as_deref(),
        Some("2099-12-31T23:59:59Z")
    );
    assert_eq!(rfc3339(-1), None);
    assert_eq!(rfc3339(i64::MAX), None);
}
