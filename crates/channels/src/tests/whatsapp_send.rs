//! WhatsApp Cloud API sends, checked against Meta's request syntax
//! (`whatsapp-send-text-request.txt`, `whatsapp-send-image-request.txt`), its send
//! response and its error body (`whatsapp-error-130429.json`).

use std::collections::BTreeSet;
use std::time::Duration;

use domain::{MessageStatus, Provider};
use http::Method;
use outbound::Failure;
use serde_json::{json, Value};

use super::response;
use crate::whatsapp::{WhatsApp, DEFAULT_API_BASE, OUTSIDE_WINDOW_REASON};
use crate::{Channel, ChannelError, Credentials, OutboundMessage, Template};

const TEXT_REQUEST: &str = include_str!("../../tests/fixtures/whatsapp-send-text-request.txt");
const IMAGE_REQUEST: &str = include_str!("../../tests/fixtures/whatsapp-send-image-request.txt");
const SEND_RESPONSE: &str =
    include_str!("../../tests/fixtures/whatsapp-send-message-response.json");
const ERROR_130429: &str = include_str!("../../tests/fixtures/whatsapp-error-130429.json");

const BASE: &str = "https://graph.facebook.com/v21.0";
const PHONE_NUMBER_ID: &str = "106540352242922";

pub fn credentials() -> Credentials {
    Credentials::new()
        .with("phone_number_id", PHONE_NUMBER_ID)
        .with("access_token", "EAAG-token")
        .with("app_secret", "app-secret")
        .with("verify_token", "meatyhamhock")
}

fn message() -> OutboundMessage {
    OutboundMessage {
        to: "+16505551234".into(),
        from_line: "+15550783881".into(),
        body: "Does it come in another color?".into(),
        reference: "msg_01".into(),
        ..Default::default()
    }
}

fn sent_json(message: &OutboundMessage) -> (outbound::ApiRequest, Value) {
    let request = WhatsApp.build_send(&credentials(), BASE, message).unwrap();
    let body = serde_json::from_slice(&request.body).unwrap();
    (request, body)
}

fn unsendable(message: &OutboundMessage) -> String {
    match WhatsApp.build_send(&credentials(), BASE, message) {
        Err(ChannelError::Unsendable { provider, reason }) => {
            assert_eq!(provider, Provider::Whatsapp);
            reason
        }
        other => panic!("expected Unsendable, got {other:?}"),
    }
}

/// The quoted keys of Meta's request syntax (`"key":`), which is not JSON (placeholders).
fn syntax_keys(fixture: &str) -> BTreeSet<String> {
    fixture
        .split('"')
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[1].trim_start().starts_with(':'))
        .map(|w| w[0].to_string())
        .collect()
}

fn keys(value: &Value, into: &mut BTreeSet<String>) {
    if let Value::Object(map) = value {
        for (k, v) in map {
            into.insert(k.clone());
            keys(v, into);
        }
    }
}

#[test]
fn a_text_send_follows_metas_syntax() {
    let (request, body) = sent_json(&message());
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.url, format!("{BASE}/{PHONE_NUMBER_ID}/messages"));
    assert_eq!(request.headers["authorization"], "Bearer EAAG-token");
    assert_eq!(request.headers["content-type"], "application/json");
    let mut ours = BTreeSet::new();
    keys(&body, &mut ours);
    let mut expected = syntax_keys(TEXT_REQUEST.split("\n\n").nth(1).unwrap());
    expected.insert("biz_opaque_callback_data".into());
    assert_eq!(ours, expected);
    assert_eq!(
        body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "+16505551234",
            "type": "text",
            "text": {"preview_url": false, "body": "Does it come in another color?"},
            "biz_opaque_callback_data": "msg_01",
        })
    );
}

#[test]
fn an_image_goes_by_link_with_the_text_as_caption() {
    let mut m = message();
    m.media_urls = vec!["https://sb.example/media/cat.JPG?sig=1".into()];
    let (_, body) = sent_json(&m);
    let mut ours = BTreeSet::new();
    keys(&body, &mut ours);
    let mut expected = syntax_keys(IMAGE_REQUEST);
    // Exactly one of id / link: we send links.
    expected.remove("id");
    expected.insert("biz_opaque_callback_data".into());
    assert_eq!(ours, expected);
    assert_eq!(body["type"], "image");
    assert_eq!(
        body["image"],
        json!({"link": "https://sb.example/media/cat.JPG?sig=1", "caption": "Does it come in another color?"})
    );
    assert!(body.get("text").is_none());
}

#[test]
fn the_media_type_comes_from_the_extension() {
    for (url, kind) in [
        ("https://x.example/a.png", "image"),
        ("https://x.example/a.mp4", "video"),
        ("https://x.example/a.3gp#t", "video"),
        ("https://x.example/a.pdf", "document"),
        ("https://x.example/file", "document"),
        ("https://x.example/a.ogg", "audio"),
    ] {
        let m = OutboundMessage {
            body: String::new(),
            media_urls: vec![url.into()],
            ..message()
        };
        let (_, body) = sent_json(&m);
        assert_eq!(body["type"], kind, "{url}");
        assert_eq!(body[kind], json!({"link": url}), "{url}");
    }
}

#[test]
fn extra_media_travel_as_links_in_the_caption() {
    let mut m = message();
    m.media_urls = vec![
        "https://x.example/a.png".into(),
        " ".into(),
        "https://x.example/b.pdf".into(),
    ];
    let (_, body) = sent_json(&m);
    assert_eq!(
        body["image"]["caption"],
        "Does it come in another color?\nhttps://x.example/b.pdf"
    );
}

#[test]
fn what_whatsapp_cannot_carry_is_refused_with_the_reason() {
    let empty = OutboundMessage {
        body: "  ".into(),
        ..message()
    };
    assert!(unsendable(&empty).contains("no text and no media"));
    let long = OutboundMessage {
        body: "x".repeat(4097),
        ..message()
    };
    assert!(unsendable(&long).contains("4096"));
    let at_limit = OutboundMessage {
        body: "é".repeat(4096),
        ..message()
    };
    assert!(WhatsApp.build_send(&credentials(), BASE, &at_limit).is_ok());
    let audio = OutboundMessage {
        media_urls: vec!["https://x.example/voice.mp3".into()],
        ..message()
    };
    assert!(unsendable(&audio).contains("audio takes no caption"));
    let caption = OutboundMessage {
        body: "x".repeat(1025),
        media_urls: vec!["https://x.example/a.png".into()],
        ..message()
    };
    assert!(unsendable(&caption).contains("1024"));
    let bad_to = OutboundMessage {
        to: "16505551234".into(),
        ..message()
    };
    assert!(matches!(
        WhatsApp.build_send(&credentials(), BASE, &bad_to),
        Err(ChannelError::InvalidAddress { field: "to", .. })
    ));
}

#[test]
fn a_template_send_ignores_the_body() {
    let m = OutboundMessage {
        template: Some(Template {
            name: "order_update".into(),
            language: "en_US".into(),
        }),
        media_urls: vec!["https://x.example/a.png".into()],
        ..message()
    };
    let (_, body) = sent_json(&m);
    assert_eq!(
        body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "+16505551234",
            "type": "template",
            "template": {"name": "order_update", "language": {"code": "en_US", "policy": "deterministic"}},
            "biz_opaque_callback_data": "msg_01",
        })
    );
    let nameless = OutboundMessage {
        template: Some(Template {
            name: " ".into(),
            language: "en_US".into(),
        }),
        ..message()
    };
    assert!(unsendable(&nameless).contains("template"));
}

#[test]
fn the_version_is_part_of_the_api_base() {
    assert_eq!(WhatsApp.default_api_base(), DEFAULT_API_BASE);
    assert_eq!(DEFAULT_API_BASE, "https://graph.facebook.com/v21.0");
    let request = WhatsApp
        .build_send(
            &credentials(),
            "http://127.0.0.1:9/whatsapp/v23.0/",
            &message(),
        )
        .unwrap();
    assert_eq!(
        request.url,
        format!("http://127.0.0.1:9/whatsapp/v23.0/{PHONE_NUMBER_ID}/messages")
    );
}

#[test]
fn credentials_are_checked() {
    assert_eq!(WhatsApp.validate_credentials(&credentials()), Ok(()));
    let with_waba = credentials().with("waba_id", "102290129340398");
    assert_eq!(WhatsApp.validate_credentials(&with_waba), Ok(()));
    let mut missing = credentials();
    missing.insert("verify_token", " ");
    assert!(matches!(
        WhatsApp.validate_credentials(&missing),
        Err(ChannelError::MissingCredential {
            key: "verify_token",
            ..
        })
    ));
    let typo = credentials().with("app_secert", "x");
    assert!(matches!(
        WhatsApp.validate_credentials(&typo),
        Err(ChannelError::UnknownCredential { .. })
    ));
    let path = credentials().with("phone_number_id", "1065/../me");
    assert!(matches!(
        WhatsApp.validate_credentials(&path),
        Err(ChannelError::InvalidCredential {
            key: "phone_number_id",
            ..
        })
    ));
    let header = credentials().with("access_token", "a b");
    assert!(WhatsApp.build_send(&header, BASE, &message()).is_err());
}

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
