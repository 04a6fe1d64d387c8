//! SendBlue webhooks: authentication, then inbound vs status vs ignored.

use domain::{MessageStatus, Provider};
use http::StatusCode;
use serde_json::{json, Value};

use super::*;
use crate::sendblue::{delivery_status, CALLBACK_TOKEN_PARAM, SIGNING_SECRET_HEADER};
use crate::{
    secret_matches, Channel, ChannelError, InboundMessage, SendBlue, StatusReport, WebhookEvent,
};

fn signed(body: &str) -> WebhookRequest {
    webhook(
        WEBHOOK_URL,
        &[(SIGNING_SECRET_HEADER, SIGNING_SECRET)],
        body,
    )
}

fn events(body: &str) -> Vec<WebhookEvent> {
    SendBlue
        .receive_webhook(&credentials(), &signed(body))
        .unwrap()
}

fn one(body: &str) -> WebhookEvent {
    let mut events = events(body);
    assert_eq!(events.len(), 1);
    events.remove(0)
}

/// The status_callback URL exactly as `build_send` hands it to SendBlue.
fn callback_url() -> String {
    let request = SendBlue
        .build_send(&credentials(), SendBlue.default_api_base(), &message())
        .unwrap();
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    body["status_callback"].as_str().unwrap().to_string()
}

#[test]
fn the_configured_secret_is_accepted() {
    // The secret as configured at SendBlue (published configuration example).
    let config: Value = serde_json::from_str(SECRET_CONFIG).unwrap();
    let configured = config["webhooks"][0]["secret"].as_str().unwrap();
    let request = webhook(WEBHOOK_URL, &[(SIGNING_SECRET_HEADER, configured)], RECEIVE);
    assert_eq!(SendBlue.verify_webhook(&credentials(), &request), Ok(()));
}

#[test]
fn wrong_or_missing_secret_is_401() {
    let wrong = webhook(
        WEBHOOK_URL,
        &[(SIGNING_SECRET_HEADER, "your-secreT")],
        RECEIVE,
    );
    let err = SendBlue.verify_webhook(&credentials(), &wrong).unwrap_err();
    assert_eq!(
        err,
        ChannelError::WrongSignature {
            header: SIGNING_SECRET_HEADER
        }
    );
    assert_eq!(err.webhook_status(), StatusCode::UNAUTHORIZED);

    let missing = webhook(WEBHOOK_URL, &[], RECEIVE);
    let err = SendBlue
        .verify_webhook(&credentials(), &missing)
        .unwrap_err();
    assert_eq!(
        err,
        ChannelError::MissingSignature {
            header: SIGNING_SECRET_HEADER
        }
    );
    assert_eq!(err.webhook_status(), StatusCode::UNAUTHORIZED);
    // Nothing is parsed from an unauthenticated request.
    assert!(SendBlue.receive_webhook(&credentials(), &missing).is_err());
}

#[test]
fn a_channel_without_its_signing_secret_answers_500() {
    let creds: Credentials = credentials()
        .iter()
        .filter(|(k, _)| *k != "signing_secret")
        .collect();
    let err = SendBlue
        .verify_webhook(&creds, &signed(RECEIVE))
        .unwrap_err();
    assert_eq!(
        err,
        ChannelError::MissingCredential {
            provider: Provider::Sendblue,
            key: "signing_secret"
        }
    );
    assert_eq!(err.webhook_status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[test]
fn the_comparison_is_constant_time() {
    assert!(secret_matches("your-secret", "your-secret"));
    assert!(!secret_matches("your-secret", "your-secreT"));
    assert!(!secret_matches("your-secre", "your-secret"));
    assert!(!secret_matches("", "your-secret"));
    // The SendBlue module compares through `secret_matches`, which compares digests with
    // `subtle`; no `==` on secrets anywhere.
    let module = include_str!("../sendblue/mod.rs");
    assert!(module.matches("secret_matches(").count() >= 2);
    assert!(include_str!("../secret.rs").contains(".ct_eq("));
}

#[test]
fn status_callbacks_without_the_header_need_our_token() {
    let url = callback_url();
    let with_token = webhook(&url, &[], STATUS_DELIVERED);
    assert_eq!(SendBlue.verify_webhook(&credentials(), &with_token), Ok(()));

    // The token never admits an inbound message.
    let inbound = webhook(&url, &[], RECEIVE);
    assert!(matches!(
        SendBlue.verify_webhook(&credentials(), &inbound),
        Err(ChannelError::MissingSignature { .. })
    ));
    // A token from another secret, or an empty one, is refused.
    let forged = format!("{WEBHOOK_URL}?{CALLBACK_TOKEN_PARAM}=00ff");
    let err = SendBlue
        .verify_webhook(&credentials(), &webhook(&forged, &[], STATUS_DELIVERED))
        .unwrap_err();
    assert_eq!(err.webhook_status(), StatusCode::UNAUTHORIZED);
    let empty = format!("{WEBHOOK_URL}?{CALLBACK_TOKEN_PARAM}=");
    assert!(SendBlue
        .verify_webhook(&credentials(), &webhook(&empty, &[], STATUS_DELIVERED))
        .is_err());
    // A wrong header is not rescued by a good token.
    let both = webhook(&url, &[(SIGNING_SECRET_HEADER, "nope")], STATUS_DELIVERED);
    assert!(SendBlue.verify_webhook(&credentials(), &both).is_err());
}

#[test]
fn current_receive_webhook_is_an_inbound_message() {
    let event = one(RECEIVE);
    assert_eq!(
        event,
        WebhookEvent::Inbound(InboundMessage {
            provider_message_id: "99DCC379-DD76-4712-BA65-11EFB33B8CD6".into(),
            from: "+19998887777".into(),
            to: "+15122164639".into(),
            body: "Hello!".into(),
            media_urls: vec![],
            thread: None,
            sent_at: Some("2025-12-12T15:41:20.932Z".into()),
            opted_out: false,
            keyword: None,
        })
    );
    assert_eq!(
        event.dedupe_key().unwrap(),
        "inbound:99DCC379-DD76-4712-BA65-11EFB33B8CD6"
    );
}

#[test]
fn legacy_receive_webhook_is_an_inbound_message() {
    let WebhookEvent::Inbound(message) = one(RECEIVE_LEGACY) else {
        panic!("not inbound");
    };
    assert_eq!(message.provider_message_id, "xxxxx");
    assert_eq!(message.from, "+19998887777");
    assert_eq!(message.to, "+15122164639");
    assert_eq!(message.body, "Ahoy Developer!");
    assert_eq!(message.media_urls, vec!["some_cdn_link.png".to_string()]);
}

#[test]
fn delivered_callback_is_a_status_report() {
    let event = one(STATUS_DELIVERED);
    assert_eq!(
        event,
        WebhookEvent::Status(StatusReport {
            provider_message_id: "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxx".into(),
            status: MessageStatus::Delivered,
            error: None,
            opted_out: false,
        })
    );
    assert_eq!(
        event.dedupe_key().unwrap(),
        "status:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxx:delivered"
    );
}

#[test]
fn our_own_messages_are_never_inbound() {
    // Echoes of what we sent, in every published shape, even claiming RECEIVED.
    for body in [
        SEND_RESPONSE.to_string(),
        GROUP_RESPONSE.to_string(),
        STATUS_DELIVERED.to_string(),
        patched(STATUS_DELIVERED, json!({"status": "RECEIVED"})),
        patched(RECEIVE, json!({"is_outbound": true})),
        patched(RECEIVE, json!({"is_outbound": "true"})),
    ] {
        let event = one(&body);
        assert!(!matches!(event, WebhookEvent::Inbound(_)), "{body}");
    }
    assert!(matches!(
        one(SEND_RESPONSE),
        WebhookEvent::Status(StatusReport {
            status: MessageStatus::Sent,
            ..
        })
    ));
    assert!(matches!(
        one(&patched(STATUS_DELIVERED, json!({"status": "RECEIVED"}))),
        WebhookEvent::Ignored { .. }
    ));
}

#[test]
fn failures_carry_the_reason_and_the_opt_out() {
    let failed = patched(
        STATUS_DELIVERED,
        json!({"status": "ERROR", "error_code": 10001, "error_message": "Message failed to send"}),
    );
    assert_eq!(
        one(&failed),
        WebhookEvent::Status(StatusReport {
            provider_message_id: "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxx".into(),
            status: MessageStatus::Failed,
            error: Some("code 10001: Message failed to send".into()),
            opted_out: false,
        })
    );
    let opted_out = patched(
        STATUS_DELIVERED,
        json!({"status": "DECLINED", "error_key": "OPTED_OUT", "opted_out": true}),
    );
    let WebhookEvent::Status(report) = one(&opted_out) else {
        panic!("not a status");
    };
    assert_eq!(report.status, MessageStatus::Failed);
    assert!(report.opted_out);
    assert_eq!(report.error.as_deref(), Some("OPTED_OUT"));
    // Any nonzero error code is a failure, whatever the status word.
    let sent_with_error = patched(
        STATUS_DELIVERED,
        json!({"status": "SENT", "error_code": "4000"}),
    );
    assert!(matches!(
        one(&sent_with_error),
        WebhookEvent::Status(StatusReport {
            status: MessageStatus::Failed,
            ..
        })
    ));
    let zero_code = patched(STATUS_DELIVERED, json!({"error_code": 0}));
    assert!(matches!(
        one(&zero_code),
        WebhookEvent::Status(StatusReport {
            status: MessageStatus::Delivered,
            ..
        })
    ));
}

#[test]
fn status_words_map_to_ours() {
    use MessageStatus::*;
    let table = [
        ("QUEUED", Some(Sent)),
        ("PENDING", Some(Sent)),
        ("REGISTERED", Some(Sent)),
        ("ACCEPTED", Some(Sent)),
        ("SENT", Some(Sent)),
        ("SUCCESS", Some(Sent)),
        ("DELIVERED", Some(Delivered)),
        ("READ", Some(Read)),
        ("ERROR", Some(Failed)),
        ("FAILED", Some(Failed)),
        ("DECLINED", Some(Failed)),
        ("RECEIVED", None),
        ("SOMETHING_NEW", None),
        ("", None),
        // The old callback list is lowercase.
        ("delivered", Some(Delivered)),
        ("read", Some(Read)),
        ("failed", Some(Failed)),
        ("queued", Some(Sent)),
    ];
    for (word, expected) in table {
        assert_eq!(delivery_status(word), expected, "{word}");
    }
    let unknown = patched(STATUS_DELIVERED, json!({"status": "SOMETHING_NEW"}));
    assert!(matches!(one(&unknown), WebhookEvent::Ignored { .. }));
}

#[test]
fn typing_groups_and_other_webhook_types_are_ignored() {
    let ignored = [
        json!({"number": "+19998887777", "is_typing": true, "from_number": "+15122164639", "timestamp": "2025-01-01T00:00:00Z"}).to_string(),
        json!({"type": "line_blocked", "number": "+15122164639"}).to_string(),
        patched(RECEIVE, json!({"group_id": "66e3b90d-4447-43c6-9439-15a69408ac2"})),
        patched(RECEIVE, json!({"message_type": "group"})),
        patched(RECEIVE_LEGACY, json!({"number": ["+19998887777", "+13332221111"]})),
        patched(RECEIVE, json!({"content": "", "media_url": ""})),
        patched(RECEIVE, json!({"is_outbound": null, "status": "SENT"})),
    ];
    for body in ignored {
        let event = one(&body);
        assert!(matches!(event, WebhookEvent::Ignored { .. }), "{body}");
        assert_eq!(event.dedupe_key(), None);
    }
}

#[test]
fn no_direction_but_received_is_inbound() {
    let body = patched(RECEIVE, json!({"is_outbound": null}));
    assert!(matches!(one(&body), WebhookEvent::Inbound(_)));
}

#[test]
fn contacts_may_write_from_an_apple_id_email() {
    let body = patched(RECEIVE, json!({"from_number": "Someone@iCloud.com"}));
    let WebhookEvent::Inbound(message) = one(&body) else {
        panic!("not inbound");
    };
    assert_eq!(message.from, "someone@icloud.com");
}

#[test]
fn malformed_webhooks_are_400() {
    let bad = [
        "".to_string(),
        "{".to_string(),
        "[]".to_string(),
        "\"text\"".to_string(),
        patched(RECEIVE, json!({"message_handle": null})),
        patched(
            RECEIVE,
            json!({"from_number": "not a number", "number": null}),
        ),
        patched(RECEIVE, json!({"to_number": null, "sendblue_number": null})),
        patched(RECEIVE, json!({"sendblue_number": "+0123"})),
    ];
    for body in bad {
        let err = SendBlue
            .receive_webhook(&credentials(), &signed(&body))
            .unwrap_err();
        assert_eq!(
            err.webhook_status(),
            StatusCode::BAD_REQUEST,
            "{body}: {err}"
        );
    }
}

#[test]
fn strange_bodies_never_panic() {
    let strange = [
        json!({"message_handle": 5, "is_outbound": 1, "status": []}),
        json!({"message_handle": "h", "is_outbound": false, "from_number": 1, "to_number": {}}),
        json!({"message_handle": "h", "is_outbound": true, "error_code": 1e300, "status": null}),
        json!({"message_handle": "h", "is_outbound": false, "content": {"x": 1}, "media_url": [1, null, "u"]}),
        json!({"message_handle": "\u{0}", "is_outbound": true, "status": "\u{fffd}"}),
    ];
    for body in strange {
        let body = body.to_string();
        let _ = SendBlue.receive_webhook(&credentials(), &signed(&body));
        let _ = SendBlue.parse_send(&response(200, &[], &body));
        let _ = SendBlue.parse_send(&response(400, &[], &body));
    }
    let bytes = webhook(WEBHOOK_URL, &[(SIGNING_SECRET_HEADER, SIGNING_SECRET)], "");
    let mut invalid_utf8 = bytes.clone();
    invalid_utf8.body = bytes::Bytes::from_static(&[0xff, 0xfe, b'{']);
    assert!(SendBlue.parse_webhook(&invalid_utf8).is_err());
    let mut bad_url = bytes;
    bad_url.url = "not a url".into();
    assert!(SendBlue.verify_webhook(&credentials(), &bad_url).is_ok());
}
