//! WhatsApp Cloud API sends, checked against Meta's request syntax
//! (`whatsapp-send-text-request.txt`, `whatsapp-send-image-request.txt`).

use std::collections::BTreeSet;

use domain::Provider;
use http::Method;
use serde_json::{json, Value};

use crate::whatsapp::{WhatsApp, DEFAULT_API_BASE};
use crate::{Channel, ChannelError, Credentials, OutboundMessage, Template};

const TEXT_REQUEST: &str = include_str!("../../tests/fixtures/whatsapp-send-text-request.txt");
const IMAGE_REQUEST: &str = include_str!("../../tests/fixtures/whatsapp-send-image-request.txt");

pub const BASE: &str = "https://graph.facebook.com/v21.0";
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
