//! SendBlue sends: the request we build and how we read the answer.

use std::time::Duration;

use domain::{MessageStatus, Provider};
use http::Method;
use outbound::Failure;
use serde_json::{json, Value};

use super::*;
use crate::sendblue::CALLBACK_TOKEN_PARAM;
use crate::{Channel, ChannelError, SendAccepted, SendBlue};

fn body_of(request: &outbound::ApiRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

fn build(message: &OutboundMessage) -> Result<outbound::ApiRequest, ChannelError> {
    SendBlue.build_send(&credentials(), SendBlue.default_api_base(), message)
}

#[test]
fn send_request_has_url_auth_headers_and_json_body() {
    let request = build(&message()).unwrap();
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.url, "https://api.sendblue.co/api/send-message");
    assert_eq!(request.headers["sb-api-key-id"], "key-id-123");
    assert_eq!(request.headers["sb-api-secret-key"], "secret-key-456");
    assert_eq!(request.headers["content-type"], "application/json");
    let body = body_of(&request);
    assert_eq!(body["number"], "+19998887777");
    assert_eq!(body["from_number"], "+16468528190");
    assert_eq!(body["content"], "Hello world!");
    assert!(body.get("media_url").is_none());
    let callback = body["status_callback"].as_str().unwrap();
    assert!(callback.starts_with(&format!("{WEBHOOK_URL}?{CALLBACK_TOKEN_PARAM}=")));
    // The token proves the secret without carrying it.
    assert!(!callback.contains(SIGNING_SECRET));
    assert!(!String::from_utf8_lossy(&request.body).contains(SIGNING_SECRET));
}

#[test]
fn send_body_matches_the_published_request() {
    let published: Value = serde_json::from_str(SEND_REQUEST).unwrap();
    let request = build(&OutboundMessage {
        to: published["number"].as_str().unwrap().into(),
        body: published["content"].as_str().unwrap().into(),
        media_urls: vec![published["media_url"].as_str().unwrap().into()],
        status_callback: published["status_callback"].as_str().unwrap().into(),
        ..message()
    })
    .unwrap();
    let body = body_of(&request);
    for key in ["number", "content", "media_url"] {
        assert_eq!(body[key], published[key], "{key}");
    }
    let callback = body["status_callback"].as_str().unwrap();
    assert!(callback.starts_with("https://example.com/message-status/1234abcd?sb_token="));
    // Every field we send is one SendBlue documents; `from_number` is always sent.
    for key in body.as_object().unwrap().keys() {
        assert!(
            published.get(key).is_some() || key == "from_number",
            "{key}"
        );
    }
}

#[test]
fn api_base_override_keeps_its_path_and_rejects_non_urls() {
    let request = SendBlue
        .build_send(&credentials(), "http://127.0.0.1:9/sendblue/", &message())
        .unwrap();
    assert_eq!(request.url, "http://127.0.0.1:9/sendblue/api/send-message");
    for bad in ["", "api.sendblue.co", "ftp://x", "https://x/?q=1"] {
        let err = SendBlue
            .build_send(&credentials(), bad, &message())
            .unwrap_err();
        assert!(matches!(err, ChannelError::InvalidApiBase { .. }), "{bad}");
    }
}

#[test]
fn one_media_travels_as_media_url_and_the_rest_as_links() {
    let request = build(&OutboundMessage {
        media_urls: vec![
            "https://m.example/a.jpg".into(),
            " ".into(),
            "https://m.example/b.png".into(),
            "https://m.example/c.gif".into(),
        ],
        ..message()
    })
    .unwrap();
    let body = body_of(&request);
    assert_eq!(body["media_url"], "https://m.example/a.jpg");
    assert_eq!(
        body["content"],
        "Hello world!\nhttps://m.example/b.png\nhttps://m.example/c.gif"
    );

    let media_only = build(&OutboundMessage {
        body: String::new(),
        media_urls: vec!["https://m.example/a.jpg".into()],
        ..message()
    })
    .unwrap();
    let body = body_of(&media_only);
    assert!(body.get("content").is_none());
    assert_eq!(body["media_url"], "https://m.example/a.jpg");
}

#[test]
fn nothing_to_send_is_refused() {
    let err = build(&OutboundMessage {
        body: "  ".into(),
        ..message()
    })
    .unwrap_err();
    assert!(matches!(err, ChannelError::Unsendable { .. }));
    assert!(matches!(Failure::from(err), Failure::Permanent { .. }));
}

#[test]
fn numbers_are_normalised_and_garbage_refused() {
    let request = build(&OutboundMessage {
        to: " +1 (999) 888-7777 ".into(),
        ..message()
    })
    .unwrap();
    assert_eq!(body_of(&request)["number"], "+19998887777");
    let err = build(&OutboundMessage {
        to: "9998887777".into(),
        ..message()
    })
    .unwrap_err();
    assert!(
        matches!(err, ChannelError::InvalidAddress { field: "to", .. }),
        "{err}"
    );
    let err = build(&OutboundMessage {
        from_line: "not a line".into(),
        ..message()
    })
    .unwrap_err();
    assert!(matches!(
        err,
        ChannelError::InvalidAddress {
            field: "from_line",
            ..
        }
    ));
}

#[test]
fn missing_status_callback_is_left_out() {
    let request = build(&OutboundMessage {
        status_callback: String::new(),
        ..message()
    })
    .unwrap();
    assert!(body_of(&request).get("status_callback").is_none());
}

#[test]
fn status_callback_keeps_its_own_query() {
    let request = build(&OutboundMessage {
        status_callback: "https://h.example/cb?a=1".into(),
        ..message()
    })
    .unwrap();
    let callback = body_of(&request)["status_callback"].to_string();
    assert!(callback.contains("/cb?a=1&sb_token="), "{callback}");
}

#[test]
fn missing_credentials_name_the_key() {
    for key in ["api_key_id", "api_secret_key", "signing_secret"] {
        let creds: Credentials = credentials().iter().filter(|(k, _)| *k != key).collect();
        let err = SendBlue
            .build_send(&creds, SendBlue.default_api_base(), &message())
            .unwrap_err();
        assert_eq!(
            err,
            ChannelError::MissingCredential {
                provider: Provider::Sendblue,
                key
            }
        );
        assert_eq!(
            err.to_string(),
            format!("sendblue channel is missing credential `{key}`")
        );
    }
}

#[test]
fn credential_unfit_for_a_header_is_refused_without_echoing_it() {
    let creds = credentials().with("api_secret_key", "abc\ndef");
    let err = SendBlue
        .build_send(&creds, SendBlue.default_api_base(), &message())
        .unwrap_err();
    assert!(matches!(
        err,
        ChannelError::InvalidCredential {
            key: "api_secret_key",
            ..
        }
    ));
    assert!(!err.to_string().contains("abc"));
}

#[test]
fn published_send_response_is_accepted() {
    let accepted = SendBlue
        .parse_send(&response(200, &[], SEND_RESPONSE))
        .unwrap();
    assert_eq!(
        accepted,
        SendAccepted {
            provider_message_id: "dfd747ba-5600-4a8a-804a-a614a0fbc1c5".into(),
            status: MessageStatus::Sent,
            thread: None,
        }
    );
    let group = SendBlue
        .parse_send(&response(200, &[], GROUP_RESPONSE))
        .unwrap();
    assert_eq!(
        group.provider_message_id,
        "073c1408-a6d9-48e2-ae8c-01f06443833"
    );
    let delivered = patched(SEND_RESPONSE, json!({"status": "DELIVERED"}));
    assert_eq!(
        SendBlue
            .parse_send(&response(200, &[], &delivered))
            .unwrap()
            .status,
        MessageStatus::Delivered
    );
    let new_word = patched(SEND_RESPONSE, json!({"status": "TELEPORTED"}));
    assert_eq!(
        SendBlue
            .parse_send(&response(200, &[], &new_word))
            .unwrap()
            .status,
        MessageStatus::Sent
    );
}

fn error_body(key: Option<&str>, code: Option<i64>, message: &str) -> String {
    patched(
        SEND_RESPONSE,
        json!({"status": "ERROR", "error_key": key, "error_code": code, "error_message": message}),
    )
}

fn parse_err(status: u16, headers: &[(&'static str, &str)], body: &str) -> Failure {
    SendBlue
        .parse_send(&response(status, headers, body))
        .unwrap_err()
}

#[test]
fn opted_out_recipient_is_an_opt_out() {
    let failure = parse_err(400, &[], &error_body(Some("OPTED_OUT"), None, "declined"));
    assert_eq!(
        failure,
        Failure::OptedOut {
            detail: "HTTP 400: OPTED_OUT: declined".into()
        }
    );
    let flagged = patched(
        &error_body(None, Some(10001), "declined"),
        json!({"opted_out": true}),
    );
    assert!(matches!(
        parse_err(200, &[], &flagged),
        Failure::OptedOut { .. }
    ));
}

#[test]
fn line_caps_wait_or_fail() {
    let hourly = error_body(Some("LINE_HOURLY_LIMIT_REACHED"), Some(429), "cap");
    assert_eq!(
        parse_err(400, &[], &hourly),
        Failure::RateLimited {
            detail: "HTTP 400: LINE_HOURLY_LIMIT_REACHED (code 429): cap".into(),
            after: Duration::from_secs(3600)
        }
    );
    assert!(matches!(
        parse_err(400, &[("retry-after", "120")], &hourly),
        Failure::RateLimited { after, .. } if after == Duration::from_secs(120)
    ));
    for key in ["LINE_DAILY_LIMIT_REACHED", "PRE_REPLY_LIMIT_REACHED"] {
        assert!(matches!(
            parse_err(400, &[], &error_body(Some(key), Some(429), "cap")),
            Failure::Permanent { .. }
        ));
    }
}

#[test]
fn request_rate_limits_honour_the_servers_wait() {
    assert_eq!(
        parse_err(429, &[("retry-after-ms", "1500")], ""),
        Failure::RateLimited {
            detail: "HTTP 429".into(),
            after: Duration::from_millis(1500)
        }
    );
    assert!(matches!(
        parse_err(429, &[("retry-after", "7")], "{}"),
        Failure::RateLimited { after, .. } if after == Duration::from_secs(7)
    ));
    assert!(matches!(
        parse_err(429, &[], "slow down"),
        Failure::RateLimited { after, .. } if after == outbound::DEFAULT_RATE_LIMIT_WAIT
    ));
    for code in [429, 4001, 5003] {
        assert!(matches!(
            parse_err(400, &[], &error_body(None, Some(code), "rate")),
            Failure::RateLimited { .. }
        ));
    }
}

#[test]
fn error_codes_are_classified() {
    let validation = parse_err(400, &[], &error_body(None, Some(4000), "bad number"));
    assert_eq!(
        validation,
        Failure::Permanent {
            detail: "HTTP 400: code 4000: bad number".into()
        }
    );
    assert!(matches!(
        parse_err(400, &[], &error_body(None, Some(4002), "911")),
        Failure::Permanent { .. }
    ));
    assert!(matches!(
        parse_err(500, &[], &error_body(None, Some(5000), "oops")),
        Failure::Retry { .. }
    ));
    // A 200 that reports an error is still an error.
    assert!(matches!(
        parse_err(200, &[], &error_body(None, Some(10001), "failed")),
        Failure::Permanent { .. }
    ));
    assert!(matches!(
        parse_err(200, &[], &error_body(None, Some(5000), "internal")),
        Failure::Retry { .. }
    ));
    assert!(matches!(
        parse_err(502, &[], &error_body(None, Some(10001), "failed")),
        Failure::Retry { .. }
    ));
}

#[test]
fn http_statuses_without_provider_codes() {
    assert!(
        matches!(parse_err(401, &[], "{\"message\":\"bad key\"}"), Failure::Permanent { detail } if detail == "HTTP 401: bad key")
    );
    assert!(matches!(
        parse_err(503, &[("retry-after", "3")], "<html>down</html>"),
        Failure::Retry { after: Some(after), .. } if after == Duration::from_secs(3)
    ));
    assert!(matches!(parse_err(409, &[], ""), Failure::Retry { .. }));
    assert!(matches!(
        parse_err(400, &[("x-should-retry", "true")], ""),
        Failure::Retry { .. }
    ));
    assert!(matches!(
        parse_err(500, &[("x-should-retry", "false")], ""),
        Failure::Permanent { .. }
    ));
}

#[test]
fn an_unreadable_acceptance_is_never_retried() {
    // Retrying could send the message twice.
    for body in ["", "not json", "[]", r#"{"status":"QUEUED"}"#] {
        assert!(
            matches!(parse_err(200, &[], body), Failure::Permanent { .. }),
            "{body}"
        );
    }
}
