//! Building Twilio's create-message request and reading its answers, against the official
//! SDK fixtures.

use std::time::Duration;

use domain::MessageStatus;
use outbound::Failure;

use super::{message, response};
use crate::twilio::Twilio;
use crate::{Channel, ChannelError, Credentials, SendAccepted};

const QUEUED: &str =
    include_str!("../../tests/fixtures/twilio-message-create-response-queued.json");
const FETCH_ERROR: &str =
    include_str!("../../tests/fixtures/twilio-message-fetch-response-error.json");

const SID: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const SERVICE: &str = "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn credentials() -> Credentials {
    Credentials::new()
        .with("account_sid", SID)
        .with("auth_token", "token-xyz")
}

fn form_of(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[test]
fn send_is_a_form_post_with_basic_auth() {
    let mut m = message();
    m.body = "Hello! 👍 & more".into();
    m.media_urls = vec![
        "https://cdn.example/a.png".into(),
        " ".into(),
        "https://cdn.example/b.jpg".into(),
    ];
    let request = Twilio
        .build_send(&credentials(), "https://api.twilio.com/", &m)
        .unwrap();
    assert_eq!(request.method, http::Method::POST);
    assert_eq!(
        request.url,
        format!("https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json")
    );
    assert_eq!(
        request.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(request.headers["accept"], "application/json");
    // base64("ACaaaa…:token-xyz")
    use base64::Engine as _;
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{SID}:token-xyz"));
    assert_eq!(
        request.headers["authorization"],
        format!("Basic {expected}").as_str()
    );
    let form = form_of(&request.body);
    let get = |k: &str| -> Vec<&str> {
        form.iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(get("To"), ["+19998887777"]);
    assert_eq!(get("From"), ["+16468528190"]);
    assert_eq!(get("Body"), ["Hello! 👍 & more"]);
    assert_eq!(
        get("MediaUrl"),
        ["https://cdn.example/a.png", "https://cdn.example/b.jpg"]
    );
    assert_eq!(
        get("StatusCallback"),
        ["https://switchboard.example/webhooks/sendblue/ch_1"]
    );
    assert!(get("MessagingServiceSid").is_empty());
    // The `+` of E.164 is encoded, not left to read as a space.
    assert!(String::from_utf8_lossy(&request.body).contains("To=%2B19998887777"));
}

#[test]
fn a_messaging_service_replaces_from() {
    let creds = credentials().with("messaging_service_sid", SERVICE);
    let request = Twilio
        .build_send(&creds, "https://api.twilio.com", &message())
        .unwrap();
    let form = form_of(&request.body);
    assert!(form.contains(&("MessagingServiceSid".into(), SERVICE.into())));
    assert!(!form.iter().any(|(k, _)| k == "From"));
}

#[test]
fn unsendable_messages_and_bad_credentials_fail_before_the_call() {
    let mut empty = message();
    empty.body = "  ".into();
    assert!(matches!(
        Twilio.build_send(&credentials(), "https://api.twilio.com", &empty),
        Err(ChannelError::Unsendable { .. })
    ));
    let mut many = message();
    many.media_urls = (0..11)
        .map(|i| format!("https://cdn.example/{i}.png"))
        .collect();
    assert!(matches!(
        Twilio.build_send(&credentials(), "https://api.twilio.com", &many),
        Err(ChannelError::Unsendable { .. })
    ));
    let bad_sid = Credentials::new()
        .with("account_sid", "AC/../../x")
        .with("auth_token", "t");
    assert!(matches!(
        Twilio.build_send(&bad_sid, "https://api.twilio.com", &message()),
        Err(ChannelError::InvalidCredential { .. })
    ));
    assert!(Twilio.validate_credentials(&credentials()).is_ok());
    assert!(Twilio
        .validate_credentials(&credentials().with("messaging_service_sid", "MG1"))
        .is_err());
    assert!(Twilio
        .validate_credentials(&credentials().with("api_key", "x"))
        .is_err());
    assert!(Twilio
        .validate_credentials(&Credentials::new().with("account_sid", SID))
        .is_err());
}

#[test]
fn the_official_201_is_accepted_as_sent() {
    let accepted = Twilio.parse_send(&response(201, &[], QUEUED)).unwrap();
    assert_eq!(
        accepted,
        SendAccepted {
            provider_message_id: "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
            status: MessageStatus::Sent,
            thread: None,
        }
    );
    // The fetched resource (status `sent`, with an error code from an earlier attempt).
    let fetched = Twilio.parse_send(&response(200, &[], FETCH_ERROR)).unwrap();
    assert_eq!(
        fetched.provider_message_id,
        "SMb7c0a2ce80504485a6f653a7110836f5"
    );
    assert_eq!(fetched.status, MessageStatus::Sent);
    // 2xx without a sid cannot be trusted either way: permanent, never a blind retry.
    assert!(matches!(
        Twilio.parse_send(&response(201, &[], "{}")),
        Err(Failure::Permanent { .. })
    ));
    assert!(matches!(
        Twilio.parse_send(&response(201, &[], "<html>")),
        Err(Failure::Permanent { .. })
    ));
}

const UNSUBSCRIBED: &str = r#"{"code": 21610, "message": "Attempt to send to unsubscribed recipient", "more_info": "https://www.twilio.com/docs/errors/21610", "status": 400}"#;

#[test]
fn error_21610_is_an_opt_out() {
    let failure = Twilio
        .parse_send(&response(400, &[], UNSUBSCRIBED))
        .unwrap_err();
    let Failure::OptedOut { detail } = failure else {
        panic!("{failure:?}")
    };
    assert!(detail.contains("21610"), "{detail}");
    assert!(detail.contains("unsubscribed recipient"), "{detail}");
}

#[test]
fn rate_limits_wait_and_server_errors_retry() {
    let body = r#"{"code": 20429, "message": "Too Many Requests", "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429}"#;
    assert_eq!(
        Twilio.parse_send(&response(429, &[], body)).unwrap_err(),
        Failure::RateLimited {
            detail: "HTTP 429: Twilio error 20429: Too Many Requests (https://www.twilio.com/docs/errors/20429)".into(),
            after: Duration::from_secs(2),
        }
    );
    let told = Twilio
        .parse_send(&response(429, &[("retry-after", "7")], "Too Many Requests"))
        .unwrap_err();
    assert!(matches!(told, Failure::RateLimited { after, .. } if after == Duration::from_secs(7)));
    assert!(matches!(
        Twilio.parse_send(&response(503, &[], "")).unwrap_err(),
        Failure::Retry { .. }
    ));
    let invalid_to = r#"{"code": 21211, "message": "The 'To' number +1999 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
    let Failure::Permanent { detail } = Twilio
        .parse_send(&response(400, &[], invalid_to))
        .unwrap_err()
    else {
        panic!()
    };
    assert!(detail.contains("21211") && detail.contains("not a valid phone number"));
    // RFC 9457 bodies are read too.
    let problem = r#"{"type": "https://www.twilio.com/docs/errors/20003", "title": "Authenticate", "status": 401, "code": 20003}"#;
    let Failure::Permanent { detail } =
        Twilio.parse_send(&response(401, &[], problem)).unwrap_err()
    else {
        panic!()
    };
    assert!(detail.contains("20003: Authenticate"), "{detail}");
}

#[test]
fn pacing_is_one_per_second() {
    let pacing = Twilio.pacing();
    assert_eq!(pacing.per_line.max, 1);
    assert_eq!(pacing.per_line.interval, Duration::from_secs(1));
}

#[test]
fn media_on_twilios_api_is_fetched_with_basic_auth_and_elsewhere_without() {
    let base = "https://api.twilio.com";
    let url = format!("{base}/2010-04-01/Accounts/{SID}/Messages/MMaaaa/Media/MEaaaa");
    use base64::Engine as _;
    let request = Twilio.media_request(&credentials(), base, &url).unwrap();
    assert_eq!(request.method, http::Method::GET);
    assert_eq!(request.url, url);
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SID}:token-xyz"))
    );
    assert_eq!(request.headers["authorization"], expected.as_str());
    // Another host (or a look-alike prefix) gets a plain GET: the token stays with Twilio.
    for elsewhere in [
        "https://cdn.example.com/media/photo.jpg",
        "https://api.twilio.com.evil.example/2010-04-01/x",
    ] {
        let request = Twilio
            .media_request(&credentials(), base, elsewhere)
            .unwrap();
        assert!(
            request.headers.get("authorization").is_none(),
            "{elsewhere}"
        );
    }
    assert!(Twilio
        .media_request(&credentials(), base, "file:///etc/passwd")
        .is_err());
    let no_token = Credentials::new().with("account_sid", SID);
    assert!(Twilio.media_request(&no_token, base, &url).is_err());
}
