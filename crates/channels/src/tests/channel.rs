//! The registry, credentials, errors and the trait's defaults.

use std::time::Duration;

use domain::Provider;
use http::{Method, StatusCode};
use outbound::Failure;

use super::*;
use crate::{for_provider, ChannelError, CredentialSpec, WebhookEvent, WebhookReply};

#[test]
fn sendblue_and_twilio_are_registered_and_the_rest_not_yet() {
    for provider in Provider::ALL {
        let channel = for_provider(*provider).unwrap();
        assert_eq!(channel.provider(), *provider);
    }
}

#[test]
fn sendblue_defaults() {
    let channel = for_provider(Provider::Sendblue).unwrap();
    assert_eq!(channel.default_api_base(), "https://api.sendblue.co");
    let rate = channel.pacing().per_line;
    assert_eq!((rate.max, rate.interval), (1, Duration::from_secs(1)));
    assert_eq!(channel.acknowledgement(), WebhookReply::empty());
    assert_eq!(channel.acknowledgement().status, StatusCode::OK);
    let mut get = webhook(WEBHOOK_URL, &[], "");
    get.method = Method::GET;
    assert!(channel.handshake(&credentials(), &get).is_none());
}

#[test]
fn credentials_are_validated_with_clear_errors() {
    let channel = for_provider(Provider::Sendblue).unwrap();
    assert_eq!(channel.validate_credentials(&credentials()), Ok(()));

    let blank = credentials().with("api_key_id", "   ");
    let err = channel.validate_credentials(&blank).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sendblue channel is missing credential `api_key_id`"
    );
    assert_eq!(err.code(), "missing_credential");

    let typo = credentials().with("signing_secrett", "x");
    let err = channel.validate_credentials(&typo).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sendblue channel does not take credential `signing_secrett` \
         (expected: api_key_id, api_secret_key, signing_secret)"
    );

    let spec = CredentialSpec {
        required: &["a"],
        optional: &["b"],
    };
    let creds: Credentials = [("a", "1"), ("b", "2")].into_iter().collect();
    assert_eq!(spec.check(Provider::Twilio, &creds), Ok(()));
}

#[test]
fn credentials_never_print_their_values() {
    let printed = format!("{:?}", credentials());
    assert!(printed.contains("api_key_id"));
    assert!(!printed.contains("key-id-123"));
    assert!(!printed.contains(SIGNING_SECRET));
}

#[test]
fn errors_answer_webhooks_with_the_contract_statuses() {
    let cases = [
        (
            ChannelError::MissingSignature { header: "h" },
            StatusCode::UNAUTHORIZED,
            "missing_signature",
        ),
        (
            ChannelError::WrongSignature { header: "h" },
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
        ),
        (
            ChannelError::WrongVerifyToken,
            StatusCode::FORBIDDEN,
            "invalid_verify_token",
        ),
        (
            ChannelError::Malformed { detail: "x".into() },
            StatusCode::BAD_REQUEST,
            "malformed_webhook",
        ),
    ];
    for (err, status, code) in cases {
        assert_eq!(err.webhook_status(), status);
        assert_eq!(err.code(), code);
    }
    let failure: Failure = ChannelError::Malformed { detail: "x".into() }.into();
    assert_eq!(
        failure,
        Failure::Permanent {
            detail: "malformed webhook: x".into()
        }
    );
}

#[test]
fn webhook_request_reads_headers_and_query() {
    let request = webhook(
        "https://h.example/w?a=1&b=x%20y",
        &[("sb-signing-secret", "s")],
        "",
    );
    assert_eq!(request.header("SB-Signing-Secret"), Some("s"));
    assert_eq!(request.query_param("b").as_deref(), Some("x y"));
    assert_eq!(request.query_param("c"), None);
    assert_eq!(
        WebhookEvent::Ignored { reason: "r".into() }.dedupe_key(),
        None
    );
}

#[test]
fn inbound_media_is_fetched_only_from_http_urls() {
    let sendblue = for_provider(Provider::Sendblue).unwrap();
    let credentials = crate::Credentials::new();
    let request = sendblue
        .media_request(
            &credentials,
            "https://api.example",
            "https://cdn.example/a.jpg",
        )
        .unwrap();
    assert_eq!(request.method, Method::GET);
    assert_eq!(request.url, "https://cdn.example/a.jpg");
    for bad in ["file:///etc/passwd", "att://x", "not a url"] {
        let err = sendblue
            .media_request(&credentials, "https://api.example", bad)
            .unwrap_err();
        assert_eq!(err.code(), "invalid_media_url", "{bad}");
    }
    assert!(!sendblue.uploads_media());
    assert_eq!(sendblue.service_window(), None);
}
