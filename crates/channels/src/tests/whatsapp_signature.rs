//! `X-Hub-Signature-256` (the vector in `whatsapp-x-hub-signature-vector.txt`) and Meta's
//! verification GET (`whatsapp-webhook-verification-request.txt`).

use http::{Method, StatusCode};

use super::webhook;
use super::whatsapp_send::credentials;
use crate::whatsapp::signature::{header_value, is_valid};
use crate::whatsapp::WhatsApp;
use crate::{Channel, ChannelError};

const INCOMING: &str = include_str!("../../tests/fixtures/whatsapp-webhook-incoming-text.json");
const VECTOR: &str = include_str!("../../tests/fixtures/whatsapp-x-hub-signature-vector.txt");
const VERIFICATION: &str =
    include_str!("../../tests/fixtures/whatsapp-webhook-verification-request.txt");
const URL: &str = "https://switchboard.example/webhooks/whatsapp/ch_1";

fn vector_line(prefix: &str) -> String {
    VECTOR
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap()
        .trim()
        .to_string()
}

fn signed(body: &str) -> crate::WebhookRequest {
    let signature = header_value("app-secret", body.as_bytes());
    webhook(URL, &[("x-hub-signature-256", &signature)], body)
}

#[test]
fn the_signature_vector_passes() {
    let key = vector_line("app secret (key):");
    let body = vector_line("raw body:");
    let header = vector_line("X-Hub-Signature-256:");
    let hex = vector_line("hex(HMAC-SHA256(key, body)) =");
    assert_eq!(header_value(&key, body.as_bytes()), header);
    assert_eq!(header, format!("sha256={hex}"));
    assert!(is_valid(&key, body.as_bytes(), &header));
    assert!(is_valid(
        &key,
        body.as_bytes(),
        &header.to_uppercase().replace("SHA256=", "sha256=")
    ));
    assert!(!is_valid(&key, b"tesT", &header));
    assert!(!is_valid("secreT", body.as_bytes(), &header));
    assert!(
        !is_valid(&key, body.as_bytes(), &hex),
        "the sha256= prefix is required"
    );
    assert!(!is_valid(&key, body.as_bytes(), &format!("sha1={hex}")));
    assert!(!is_valid(
        &key,
        body.as_bytes(),
        &header[..header.len() - 2]
    ));
    assert!(!is_valid(&key, body.as_bytes(), "sha256=zz"));
    assert!(!is_valid(&key, body.as_bytes(), "sha256="));
}

#[test]
fn webhooks_without_the_right_signature_are_refused() {
    let missing = webhook(URL, &[], INCOMING);
    assert_eq!(
        WhatsApp.receive_webhook(&credentials(), &missing),
        Err(ChannelError::MissingSignature {
            header: "x-hub-signature-256"
        })
    );
    let mut changed = signed(INCOMING);
    changed.body = INCOMING.replacen("another", "anOther", 1).into();
    let wrong = Err(ChannelError::WrongSignature {
        header: "x-hub-signature-256",
    });
    assert_eq!(WhatsApp.receive_webhook(&credentials(), &changed), wrong);
    let other_secret = credentials().with("app_secret", "another-secret");
    assert_eq!(
        WhatsApp.receive_webhook(&other_secret, &signed(INCOMING)),
        wrong
    );
    assert_eq!(
        ChannelError::MissingSignature { header: "x" }.webhook_status(),
        StatusCode::UNAUTHORIZED
    );
}

fn get(query: &str) -> crate::WebhookRequest {
    let mut request = webhook(&format!("{URL}{query}"), &[], "");
    request.method = Method::GET;
    request
}

#[test]
fn metas_verification_request_is_answered_with_the_challenge() {
    let line = VERIFICATION
        .lines()
        .find(|l| l.starts_with("GET "))
        .unwrap();
    let query = &line[line.find('?').unwrap()..];
    let reply = WhatsApp
        .handshake(&credentials(), &get(query))
        .unwrap()
        .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "1158201444");
    assert!(reply.content_type.starts_with("text/plain"));

    let wrong = credentials().with("verify_token", "other");
    let refused = WhatsApp
        .handshake(&wrong, &get(query))
        .unwrap()
        .unwrap_err();
    assert_eq!(refused, ChannelError::WrongVerifyToken);
    assert_eq!(refused.webhook_status(), StatusCode::FORBIDDEN);
    for query in [
        "",
        "?hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=meatyhamhock",
        "?hub.mode=subscribe&hub.verify_token=meatyhamhock",
        "?hub.mode=subscribe&hub.challenge=%3Cscript%3E%20x&hub.verify_token=meatyhamhock",
    ] {
        let error = WhatsApp
            .handshake(&credentials(), &get(query))
            .unwrap()
            .unwrap_err();
        assert_eq!(error.webhook_status(), StatusCode::BAD_REQUEST, "{query}");
    }
}
