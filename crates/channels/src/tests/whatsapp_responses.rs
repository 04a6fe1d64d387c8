//! Reading the Cloud API's answers: the send response (`whatsapp-send-message-response.json`),
//! Meta's error codes (`whatsapp-error-130429.json`), pacing, and the media lookup.

use std::time::Duration;

use domain::MessageStatus;
use http::Method;
use outbound::Failure;
use serde_json::json;

use super::response;
use super::whatsapp_send::{credentials, BASE};
use crate::whatsapp::{WhatsApp, OUTSIDE_WINDOW_REASON};
use crate::{Channel, ChannelError};

const SEND_RESPONSE: &str =
    include_str!("../../tests/fixtures/whatsapp-send-message-response.json");
const ERROR_130429: &str = include_str!("../../tests/fixtures/whatsapp-error-130429.json");

#[test]
fn the_send_response_gives_the_wamid() {
    let accepted = WhatsApp
        .parse_send(&response(200, &[], SEND_RESPONSE))
        .unwrap();
    assert_eq!(
        accepted.provider_message_id,
        "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"
    );
    assert_eq!(accepted.status, MessageStatus::Sent);
    assert_eq!(accepted.thread, None);
    for body in [
        r#"{"messages":[]}"#,
        "<html>",
        r#"{"messages":[{"id":""}]}"#,
    ] {
        assert!(
            matches!(
                WhatsApp.parse_send(&response(200, &[], body)),
                Err(Failure::Permanent { .. })
            ),
            "{body}"
        );
    }
}

fn meta_error(code: i64, message: &str) -> String {
    json!({"error": {"message": message, "type": "OAuthException", "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": "details here"},
        "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}})
    .to_string()
}

fn failure(status: u16, headers: &[(&'static str, &str)], body: &str) -> Failure {
    WhatsApp
        .parse_send(&response(status, headers, body))
        .unwrap_err()
}

#[test]
fn rate_limits_wait_and_retry() {
    match failure(429, &[], ERROR_130429) {
        Failure::RateLimited { detail, after } => {
            assert_eq!(after, Duration::from_secs(1));
            assert!(detail.contains("WhatsApp error 130429: (#130429) Rate limit hit"));
            assert!(detail.contains("too many messages sent from this phone number"));
        }
        other => panic!("{other:?}"),
    }
    // Meta's code decides even on a 400, and Retry-After wins over our default.
    assert_eq!(
        failure(400, &[("retry-after", "7")], ERROR_130429),
        Failure::RateLimited {
            detail: failure(400, &[], ERROR_130429).detail().to_string(),
            after: Duration::from_secs(7)
        }
    );
    let waits = [
        (131056, Duration::from_secs(6)),
        (80007, Duration::from_secs(60)),
        (4, Duration::from_secs(60)),
    ];
    for (code, wait) in waits {
        match failure(400, &[], &meta_error(code, "limited")) {
            Failure::RateLimited { after, .. } => assert_eq!(after, wait, "{code}"),
            other => panic!("{code}: {other:?}"),
        }
    }
    match failure(429, &[], "") {
        Failure::RateLimited { after, .. } => assert_eq!(after, outbound::DEFAULT_RATE_LIMIT_WAIT),
        other => panic!("{other:?}"),
    }
}

#[test]
fn server_trouble_is_retried() {
    for (status, body) in [
        (500, meta_error(131000, "Something went wrong")),
        (400, meta_error(131000, "Something went wrong")),
        (503, String::new()),
        (502, "<html>bad gateway</html>".into()),
    ] {
        assert!(
            matches!(failure(status, &[], &body), Failure::Retry { .. }),
            "{status} {body}"
        );
    }
}

#[test]
fn the_window_auth_and_undeliverable_are_permanent_with_the_reason() {
    let window = failure(400, &[], &meta_error(131047, "Re-engagement message"));
    let Failure::Permanent { detail } = window else {
        panic!("{window:?}")
    };
    assert!(detail.contains(OUTSIDE_WINDOW_REASON), "{detail}");
    assert!(detail.contains("131047"), "{detail}");
    for (status, code) in [(401, 190), (401, 0), (400, 131026), (403, 200), (400, 100)] {
        match failure(status, &[], &meta_error(code, "Meta says no")) {
            Failure::Permanent { detail } => {
                assert!(detail.contains(&format!("WhatsApp error {code}: Meta says no")))
            }
            other => panic!("{code}: {other:?}"),
        }
    }
    // Even if Meta answered these with a 5xx, retrying would not help.
    assert!(matches!(
        failure(500, &[], &meta_error(131047, "Re-engagement message")),
        Failure::Permanent { .. }
    ));
}

#[test]
fn pacing_and_window() {
    let rate = WhatsApp.pacing().per_line;
    assert_eq!((rate.max, rate.interval), (80, Duration::from_secs(1)));
    assert_eq!(
        WhatsApp.service_window(),
        Some(Duration::from_secs(24 * 3600))
    );
    assert!(!WhatsApp.uploads_media());
    assert!(!WhatsApp.replies_to_keywords());
}

#[test]
fn media_is_looked_up_then_downloaded_with_the_bearer() {
    let lookup = WhatsApp
        .media_request(&credentials(), BASE, "whatsapp-media:1037543291543636")
        .unwrap();
    assert_eq!(lookup.method, Method::GET);
    assert_eq!(lookup.url, format!("{BASE}/1037543291543636"));
    assert_eq!(lookup.headers["authorization"], "Bearer EAAG-token");
    let answer = json!({
        "messaging_product": "whatsapp",
        "url": "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1037&ext=1",
        "mime_type": "image/jpeg", "sha256": "abc", "file_size": 303833,
        "id": "1037543291543636",
    });
    let location = WhatsApp
        .media_location(&response(200, &[], &answer.to_string()))
        .unwrap();
    assert_eq!(
        location,
        "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1037&ext=1"
    );
    let download = WhatsApp
        .media_request(&credentials(), BASE, &location)
        .unwrap();
    assert_eq!(download.url, location);
    assert_eq!(download.headers["authorization"], "Bearer EAAG-token");
    // The bytes themselves, or an error, name no location.
    assert_eq!(
        WhatsApp.media_location(&response(200, &[], "\u{1}PNG")),
        None
    );
    let error = meta_error(100, "bad id");
    assert_eq!(WhatsApp.media_location(&response(400, &[], &error)), None);
    // The sandbox serves both on its own http host.
    let sandbox = "http://127.0.0.1:9/whatsapp/v21.0";
    assert!(WhatsApp
        .media_request(
            &credentials(),
            sandbox,
            "http://127.0.0.1:9/whatsapp/media/1"
        )
        .is_ok());
}

#[test]
fn media_references_that_could_leak_the_token_are_refused() {
    for reference in [
        "whatsapp-media:",
        "whatsapp-media:1/../../me",
        "whatsapp-media:1?x=1",
        "http://evil.example/steal",
        "file:///etc/passwd",
        "not a url",
    ] {
        assert!(
            matches!(
                WhatsApp.media_request(&credentials(), BASE, reference),
                Err(ChannelError::InvalidMediaUrl { .. })
            ),
            "{reference}"
        );
    }
}
