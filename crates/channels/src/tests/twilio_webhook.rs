//! Twilio's inbound-message and status-callback webhooks, with the parameters the reference
//! lists (providers.md §2), signed as Twilio signs them.

use domain::{Keyword, MessageStatus};

use super::webhook;
use crate::twilio::signature::compute_signature;
use crate::twilio::{Twilio, EMPTY_TWIML};
use crate::{Channel, Credentials, InboundMessage, StatusReport, WebhookEvent};

const TOKEN: &str = "auth-token-1";
const URL: &str = "https://switchboard.example/webhooks/twilio/ch_1";

fn credentials() -> Credentials {
    Credentials::new()
        .with("account_sid", "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        .with("auth_token", TOKEN)
}

/// Form-encodes `fields`, signs them, and runs verify + parse.
fn receive(fields: &[(&str, &str)]) -> Vec<WebhookEvent> {
    let params: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &params {
        body.append_pair(k, v);
    }
    let signature = compute_signature(TOKEN, URL, &params);
    let request = webhook(
        URL,
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-twilio-signature", &signature),
        ],
        &body.finish(),
    );
    Twilio.receive_webhook(&credentials(), &request).unwrap()
}

fn one(fields: &[(&str, &str)]) -> WebhookEvent {
    let mut events = receive(fields);
    assert_eq!(events.len(), 1);
    events.remove(0)
}

const INBOUND: &[(&str, &str)] = &[
    ("ToCountry", "US"),
    ("ToState", "CA"),
    ("SmsMessageSid", "SM1234567890abcdef1234567890abcdef"),
    ("NumMedia", "2"),
    ("ToCity", "SAN FRANCISCO"),
    ("FromZip", "94105"),
    ("SmsSid", "SM1234567890abcdef1234567890abcdef"),
    ("FromState", "CA"),
    ("SmsStatus", "received"),
    ("FromCity", "SAN FRANCISCO"),
    ("Body", "Hi there + welcome & more"),
    ("FromCountry", "US"),
    ("To", "+14155552345"),
    ("MessagingServiceSid", "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
    ("ToZip", "94105"),
    ("NumSegments", "1"),
    ("MessageSid", "SM1234567890abcdef1234567890abcdef"),
    ("AccountSid", "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
    ("From", "+14158675309"),
    (
        "MediaUrl0",
        "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/SM/Media/ME0",
    ),
    ("MediaContentType0", "image/jpeg"),
    (
        "MediaUrl1",
        "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/SM/Media/ME1",
    ),
    ("MediaContentType1", "image/png"),
    ("ApiVersion", "2010-04-01"),
];

#[test]
fn an_inbound_message_with_media() {
    let event = one(INBOUND);
    assert_eq!(
        event,
        WebhookEvent::Inbound(InboundMessage {
            provider_message_id: "SM1234567890abcdef1234567890abcdef".into(),
            from: "+14158675309".into(),
            to: "+14155552345".into(),
            body: "Hi there + welcome & more".into(),
            media_urls: vec![
                "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/SM/Media/ME0".into(),
                "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/SM/Media/ME1".into(),
            ],
            thread: None,
            sent_at: None,
            opted_out: false,
            keyword: None,
        })
    );
    assert_eq!(
        event.dedupe_key().unwrap(),
        "inbound:SM1234567890abcdef1234567890abcdef"
    );
}

fn with(
    base: &[(&'static str, &'static str)],
    changes: &[(&'static str, &'static str)],
) -> Vec<(&'static str, &'static str)> {
    let mut fields: Vec<_> = base
        .iter()
        .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
        .copied()
        .collect();
    fields.extend(changes.iter().filter(|(_, v)| !v.is_empty()).copied());
    fields
}

#[test]
fn advanced_opt_out_types_are_keywords() {
    for (kind, keyword) in [
        ("STOP", Keyword::OptOut),
        ("START", Keyword::OptIn),
        ("HELP", Keyword::Help),
    ] {
        // A custom keyword of the service: only OptOutType says what it means.
        let fields = with(INBOUND, &[("Body", "arret"), ("OptOutType", kind)]);
        let WebhookEvent::Inbound(message) = one(&fields) else {
            panic!("{kind}")
        };
        assert_eq!(message.keyword, Some(keyword), "{kind}");
        assert_eq!(message.opted_out, keyword == Keyword::OptOut);
    }
}

const STATUS: &[(&str, &str)] = &[
    ("SmsSid", "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
    ("SmsStatus", "delivered"),
    ("MessageStatus", "delivered"),
    ("To", "+14155552345"),
    ("MessagingServiceSid", "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
    ("MessageSid", "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
    ("AccountSid", "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
    ("From", "+14158675309"),
    ("ApiVersion", "2010-04-01"),
    ("RawDlrDoneDate", "2511220130"),
];

#[test]
fn status_words_map_forward() {
    for (word, status) in [
        ("queued", MessageStatus::Sent),
        ("sending", MessageStatus::Sent),
        ("sent", MessageStatus::Sent),
        ("delivered", MessageStatus::Delivered),
        ("read", MessageStatus::Read),
        ("undelivered", MessageStatus::Failed),
        ("failed", MessageStatus::Failed),
    ] {
        let fields = with(STATUS, &[("MessageStatus", word), ("SmsStatus", word)]);
        let WebhookEvent::Status(report) = one(&fields) else {
            panic!("{word}")
        };
        assert_eq!(report.status, status, "{word}");
        assert_eq!(
            report.provider_message_id,
            "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        );
    }
    // `queued` and `sent` are one status for us: their dedupe keys merge.
    let queued = one(&with(STATUS, &[("MessageStatus", "queued")]));
    let sent = one(&with(STATUS, &[("MessageStatus", "sent")]));
    assert_eq!(queued.dedupe_key(), sent.dedupe_key());
}

#[test]
fn failures_carry_the_code_and_21610_is_an_opt_out() {
    let undelivered = with(
        STATUS,
        &[
            ("MessageStatus", "undelivered"),
            ("ErrorCode", "30003"),
            ("RawDlrDoneDate", ""),
        ],
    );
    assert_eq!(
        one(&undelivered),
        WebhookEvent::Status(StatusReport {
            provider_message_id: "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
            status: MessageStatus::Failed,
            error: Some("Twilio error 30003".into()),
            opted_out: false,
        })
    );
    let unsubscribed = with(
        STATUS,
        &[
            ("MessageStatus", "failed"),
            ("ErrorCode", "21610"),
            ("ErrorMessage", "Attempt to send to unsubscribed recipient"),
        ],
    );
    let WebhookEvent::Status(report) = one(&unsubscribed) else {
        panic!()
    };
    assert!(report.opted_out);
    assert_eq!(
        report.error.as_deref(),
        Some("Twilio error 21610: Attempt to send to unsubscribed recipient")
    );
}

#[test]
fn the_acknowledgement_is_empty_twiml() {
    let reply = Twilio.acknowledgement();
    assert_eq!(reply.status, http::StatusCode::OK);
    assert_eq!(reply.content_type, "text/xml");
    assert_eq!(
        reply.body,
        r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#
    );
    assert_eq!(reply.body, EMPTY_TWIML);
}

#[test]
fn malformed_and_empty_webhooks() {
    let no_sid = [("From", "+14158675309"), ("Body", "x")];
    let params: Vec<(String, String)> = no_sid
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let signature = compute_signature(TOKEN, URL, &params);
    let request = webhook(
        URL,
        &[("x-twilio-signature", &signature)],
        "From=%2B14158675309&Body=x",
    );
    assert!(Twilio.receive_webhook(&credentials(), &request).is_err());
    // Nothing to read: an inbound with neither text nor media is acknowledged and ignored.
    let blank = with(
        INBOUND,
        &[
            ("Body", " "),
            ("NumMedia", "0"),
            ("MediaUrl0", ""),
            ("MediaUrl1", ""),
        ],
    );
    assert!(matches!(one(&blank), WebhookEvent::Ignored { .. }));
}
