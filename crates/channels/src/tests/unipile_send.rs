//! UniPile sends: the API base from the DSN, the multipart request, the answer and its errors.

use std::time::Duration;

use domain::{MessageStatus, Provider};
use http::Method;
use outbound::Failure;
use serde_json::json;

use super::{response, OutboundMessage};
use crate::unipile::{LIMIT_EXCEEDED_WAIT, RATE_LIMIT_WAIT, UNNAMED_SEND_PREFIX};
use crate::{Channel, ChannelError, Credentials, MediaFile, UniPile};

pub const SEND_REQUEST: &str =
    include_str!("../../tests/fixtures/unipile-send-message-request.txt");
pub const SEND_RESPONSE: &str =
    include_str!("../../tests/fixtures/unipile-send-message-response.json");

const BASE: &str = "https://api1.unipile.com:13111";

pub fn credentials() -> Credentials {
    Credentials::new()
        .with("dsn", "api1.unipile.com:13111")
        .with("api_key", "unipile-key")
        .with("account_id", "acc-wa-1")
        .with("webhook_secret", "hook-secret")
}

fn message() -> OutboundMessage {
    OutboundMessage {
        to: "+33600000000".into(),
        from_line: "+33611111111".into(),
        body: "Hello world !".into(),
        reference: "msg_01".into(),
        ..Default::default()
    }
}

fn build(message: &OutboundMessage) -> Result<outbound::ApiRequest, ChannelError> {
    UniPile.build_send(&credentials(), BASE, message)
}

fn text(request: &outbound::ApiRequest) -> String {
    String::from_utf8_lossy(&request.body).into_owned()
}

fn boundary(request: &outbound::ApiRequest) -> String {
    let ct = request.headers["content-type"].to_str().unwrap();
    ct.strip_prefix("multipart/form-data; boundary=")
        .unwrap()
        .to_string()
}

#[test]
fn api_base_comes_from_the_dsn_with_or_without_a_scheme() {
    let base = |dsn: &str| UniPile.api_base(&credentials().with("dsn", dsn), None);
    assert_eq!(base("api1.unipile.com:13111").unwrap(), BASE);
    assert_eq!(base(" https://api1.unipile.com:13111/ ").unwrap(), BASE);
    assert_eq!(base("https://api1.unipile.com:13111/api/v1").unwrap(), BASE);
    assert_eq!(
        base("http://127.0.0.1:9000").unwrap(),
        "http://127.0.0.1:9000"
    );
    for bad in [
        "",
        "ftp://api1.unipile.com",
        "api1.unipile.com:13111/other",
        "https://",
    ] {
        let err = base(bad).unwrap_err();
        assert!(
            matches!(
                err,
                ChannelError::InvalidCredential { key: "dsn", .. }
                    | ChannelError::MissingCredential { key: "dsn", .. }
            ),
            "{bad:?}: {err:?}"
        );
    }
}

#[test]
fn the_api_base_override_wins_over_the_dsn() {
    let base = UniPile
        .api_base(&credentials(), Some("http://127.0.0.1:7000/unipile"))
        .unwrap();
    assert_eq!(base, "http://127.0.0.1:7000/unipile");
    // Even a broken DSN does not matter then.
    let broken = credentials().with("dsn", "not a host/with/path");
    assert!(UniPile
        .api_base(&broken, Some("http://sim/unipile"))
        .is_ok());
    assert!(UniPile.api_base(&broken, None).is_err());
}

#[test]
fn credentials_are_checked_at_channel_add() {
    assert!(UniPile.validate_credentials(&credentials()).is_ok());
    let missing = Credentials::new().with("dsn", "h:1").with("api_key", "k");
    assert!(matches!(
        UniPile.validate_credentials(&missing),
        Err(ChannelError::MissingCredential {
            key: "account_id",
            ..
        })
    ));
    let typo = credentials().with("webhook_secrett", "x");
    assert!(matches!(
        UniPile.validate_credentials(&typo),
        Err(ChannelError::UnknownCredential { .. })
    ));
    let bad_key = credentials().with("api_key", "line\nbreak");
    assert!(matches!(
        UniPile.validate_credentials(&bad_key),
        Err(ChannelError::InvalidCredential { key: "api_key", .. })
    ));
    assert_eq!(UniPile.provider(), Provider::Unipile);
    assert!(UniPile.uploads_media());
    assert_eq!(UniPile.pacing().per_line.max, 1);
}

#[test]
fn a_send_into_a_known_chat_matches_the_published_request() {
    // POST https://{YOUR_DSN}/api/v1/chats/9f9uio56sopa456s/messages, X-API-KEY, accept,
    // multipart form field text=Hello world !
    assert!(SEND_REQUEST.contains("/api/v1/chats/9f9uio56sopa456s/messages"));
    assert!(SEND_REQUEST.contains("form field: text=Hello world !"));
    let request = build(&OutboundMessage {
        thread: Some("9f9uio56sopa456s".into()),
        ..message()
    })
    .unwrap();
    assert_eq!(request.method, Method::POST);
    assert_eq!(
        request.url,
        format!("{BASE}/api/v1/chats/9f9uio56sopa456s/messages")
    );
    assert_eq!(request.headers["x-api-key"], "unipile-key");
    assert_eq!(request.headers["accept"], "application/json");
    let b = boundary(&request);
    assert_eq!(
        text(&request),
        format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nHello world !\r\n--{b}--\r\n"
        )
    );
}

#[test]
fn without_a_chat_the_send_starts_one_with_the_contacts_whatsapp_id() {
    let request = build(&message()).unwrap();
    assert_eq!(request.url, format!("{BASE}/api/v1/chats"));
    let body = text(&request);
    let b = boundary(&request);
    let field = |name: &str, value: &str| {
        format!("--{b}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
    };
    assert!(body.starts_with(&field("account_id", "acc-wa-1")), "{body}");
    assert!(body.contains(&field("attendees_ids", "33600000000@s.whatsapp.net")));
    assert!(body.contains(&field("text", "Hello world !")));
    // A blank thread is no thread.
    let blank = build(&OutboundMessage {
        thread: Some("  ".into()),
        ..message()
    })
    .unwrap();
    assert_eq!(blank.url, format!("{BASE}/api/v1/chats"));
    // The contact must be a number.
    let err = build(&OutboundMessage {
        to: "33600000000".into(),
        ..message()
    })
    .unwrap_err();
    assert!(matches!(
        err,
        ChannelError::InvalidAddress { field: "to", .. }
    ));
}

#[test]
fn files_travel_as_attachments_parts_with_their_type() {
    let request = build(&OutboundMessage {
        thread: Some("chat/1?x".into()),
        body: String::new(),
        files: vec![
            MediaFile {
                file_name: "photo \"1\".jpg".into(),
                content_type: "image/jpeg".into(),
                bytes: bytes::Bytes::from_static(b"\xff\xd8\xff\x00binary"),
            },
            MediaFile {
                file_name: "notes\r\nX-Evil: 1.txt".into(),
                content_type: String::new(),
                bytes: bytes::Bytes::from_static(b"plain"),
            },
        ],
        ..message()
    })
    .unwrap();
    // The chat id is one path segment, whatever it holds.
    assert_eq!(
        request.url,
        format!("{BASE}/api/v1/chats/chat%2F1%3Fx/messages")
    );
    let b = boundary(&request);
    let mut expected = Vec::new();
    expected.extend_from_slice(
        format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"photo %221%22.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
        )
        .as_bytes(),
    );
    expected.extend_from_slice(b"\xff\xd8\xff\x00binary\r\n");
    expected.extend_from_slice(
        format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"notes%0D%0AX-Evil: 1.txt\"\r\nContent-Type: application/octet-stream\r\n\r\nplain\r\n--{b}--\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(request.body.as_ref(), expected.as_slice());
    // No text field when there is no text.
    assert!(!text(&request).contains("name=\"text\""));
}

#[test]
fn the_boundary_never_occurs_in_the_content() {
    let first = build(&message()).unwrap();
    let b = boundary(&first);
    // A text that contains the boundary the first form used.
    let request = build(&OutboundMessage {
        body: format!("tricky --{b} text"),
        ..message()
    })
    .unwrap();
    let b2 = boundary(&request);
    assert_ne!(b, b2);
    assert_eq!(text(&request).matches(&format!("--{b2}")).count(), 4);
    // Same message, same bytes.
    assert_eq!(build(&message()).unwrap().body, first.body);
}

#[test]
fn nothing_to_send_is_refused_and_unfetched_media_leave_the_text_alone() {
    let err = build(&OutboundMessage {
        body: " ".into(),
        ..message()
    })
    .unwrap_err();
    assert!(matches!(err, ChannelError::Unsendable { .. }));
    let err = build(&OutboundMessage {
        body: String::new(),
        media_urls: vec!["https://example.com/a.jpg".into()],
        ..message()
    })
    .unwrap_err();
    assert!(err.to_string().contains("not fetched"), "{err}");
    let request = build(&OutboundMessage {
        media_urls: vec!["https://example.com/a.jpg".into()],
        ..message()
    })
    .unwrap();
    let body = text(&request);
    assert!(body.contains("Hello world !"));
    assert!(!body.contains("attachments") && !body.contains("example.com"));
}

#[test]
fn the_published_response_is_accepted_with_its_message_id() {
    let accepted = UniPile
        .parse_send(&response(201, &[], SEND_RESPONSE))
        .unwrap();
    assert_eq!(accepted.provider_message_id, "string");
    assert_eq!(accepted.status, MessageStatus::Sent);
    assert_eq!(accepted.thread, None);
}

#[test]
fn a_started_chat_is_read_in_both_published_shapes() {
    let chat_started = json!({"object": "ChatStarted", "chat_id": "chat-9", "message_id": "msg-9"});
    let accepted = UniPile
        .parse_send(&response(201, &[], &chat_started.to_string()))
        .unwrap();
    assert_eq!(accepted.provider_message_id, "msg-9");
    assert_eq!(accepted.thread.as_deref(), Some("chat-9"));
    // ChatStarted naming only the chat: accepted, with an id that says so.
    let only_chat = json!({"object": "ChatStarted", "chat_id": "chat-9"});
    let accepted = UniPile
        .parse_send(&response(201, &[], &only_chat.to_string()))
        .unwrap();
    assert!(accepted
        .provider_message_id
        .starts_with(&format!("{UNNAMED_SEND_PREFIX}chat-9:")));
    assert_eq!(accepted.thread.as_deref(), Some("chat-9"));
    // MessageSent with a null message_id: sent all the same, ids unique.
    let null = r#"{"object":"MessageSent","message_id":null}"#;
    let one = UniPile.parse_send(&response(201, &[], null)).unwrap();
    let two = UniPile.parse_send(&response(201, &[], null)).unwrap();
    assert!(one.provider_message_id.starts_with(UNNAMED_SEND_PREFIX));
    assert_ne!(one.provider_message_id, two.provider_message_id);
    assert_eq!(one.thread, None);
}

#[test]
fn an_accepted_send_without_json_is_a_permanent_failure() {
    let failure = UniPile
        .parse_send(&response(201, &[], "<html>ok</html>"))
        .unwrap_err();
    assert!(matches!(failure, Failure::Permanent { .. }), "{failure:?}");
}

fn problem(status: u16, kind: &str) -> String {
    json!({"status": status, "type": kind, "title": "Refused", "detail": format!("{kind} detail")})
        .to_string()
}

#[test]
fn errors_are_classified_by_type_then_status() {
    let parse = |status: u16, headers: &[(&'static str, &str)], body: &str| {
        UniPile
            .parse_send(&response(status, headers, body))
            .unwrap_err()
    };
    match parse(
        429,
        &[("retry-after", "7")],
        &problem(429, "errors/too_many_requests"),
    ) {
        Failure::RateLimited { after, detail } => {
            assert_eq!(after, Duration::from_secs(7));
            assert!(detail.contains("errors/too_many_requests"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        parse(429, &[], ""),
        Failure::RateLimited { after, .. } if after == RATE_LIMIT_WAIT
    ));
    assert!(matches!(
        parse(422, &[], &problem(422, "errors/limit_exceeded")),
        Failure::RateLimited { after, .. } if after == LIMIT_EXCEEDED_WAIT
    ));
    assert!(matches!(
        parse(504, &[], &problem(504, "errors/request_timeout")),
        Failure::Retry { after: None, .. }
    ));
    assert!(matches!(
        parse(503, &[("retry-after", "3")], "down"),
        Failure::Retry { after: Some(d), .. } if d == Duration::from_secs(3)
    ));
    match parse(422, &[], &problem(422, "errors/cant_send_message")) {
        Failure::Permanent { detail } => {
            assert!(detail.contains("errors/cant_send_message"), "{detail}");
            assert!(
                detail.contains("errors/cant_send_message detail"),
                "{detail}"
            );
        }
        other => panic!("{other:?}"),
    }
    for status in [401, 403] {
        match parse(status, &[], &problem(status, "errors/invalid_credentials")) {
            Failure::Permanent { detail } => assert!(detail.contains("authentication"), "{detail}"),
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(parse(400, &[], "bad"), Failure::Permanent { .. }));
    assert!(matches!(
        parse(404, &[], &problem(404, "errors/resource_not_found")),
        Failure::Permanent { .. }
    ));
}
