//! Twilio simulator: Basic auth, create-message (201, resource shape, RFC 2822 dates),
//! signed status callbacks, validation errors, STOP → 21610, inbound injection, faults.
//! Every signature the sandbox sends is checked with the gateway's own verifier
//! (`channels::Twilio`), and the sandbox's signer against Twilio's official vector.

use std::time::Duration;

use axum::http::{HeaderMap, Method};
use channels::{Channel, Credentials, WebhookEvent, WebhookRequest};
use domain::MessageStatus;
use sandbox::SandboxOptions;
use serde_json::{json, Value};

use crate::{keys, receiver, start, Captured, Harness};

const LINE: &str = "+15122164639";
const SID: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const TOKEN: &str = "sandbox-auth-token";
const CONTACT: &str = "+19998887777";

fn fast() -> SandboxOptions {
    SandboxOptions {
        twilio_callback_delay: Duration::from_millis(20),
        ..SandboxOptions::default()
    }
}

async fn account(h: &Harness, extra: Value) {
    let mut body = json!({"accountSid": SID, "authToken": TOKEN, "lines": [LINE]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    h.control("/twilio/accounts", body).await;
}

fn create(h: &Harness, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
    h.http
        .post(h.url(&format!("/twilio/2010-04-01/Accounts/{SID}/Messages.json")))
        .basic_auth(SID, Some(TOKEN))
        .form(form)
}

/// What the gateway would make of a captured webhook, signature checked against `url`.
fn as_gateway_sees(hook: &Captured, url: &str) -> Vec<WebhookEvent> {
    let mut headers = HeaderMap::new();
    for (k, v) in &hook.headers {
        headers.insert(k.clone(), v.clone());
    }
    let request = WebhookRequest {
        method: Method::POST,
        url: url.to_string(),
        headers,
        body: hook.body.clone(),
    };
    let creds = Credentials::new()
        .with("account_sid", SID)
        .with("auth_token", TOKEN);
    channels::Twilio.receive_webhook(&creds, &request).unwrap()
}

fn form_of(hook: &Captured) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&hook.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn wrong_credentials_are_401_with_twilios_error() {
    let h = start(fast()).await;
    account(&h, json!({})).await;
    let r = h
        .http
        .post(h.url(&format!("/twilio/2010-04-01/Accounts/{SID}/Messages.json")))
        .basic_auth(SID, Some("wrong"))
        .form(&[("To", CONTACT), ("From", LINE), ("Body", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], 20003);
    assert_eq!(body["status"], 401);
    let unauthenticated = h
        .http
        .post(h.url(&format!("/twilio/2010-04-01/Accounts/{SID}/Messages.json")))
        .form(&[("To", CONTACT)])
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
}

#[tokio::test]
async fn create_is_201_then_signed_callbacks_sent_and_delivered() {
    let mut gateway = receiver().await;
    let h = start(fast()).await;
    account(&h, json!({})).await;
    let callback = format!("{}/webhooks/twilio/CH1?x=1", gateway.base);
    let r = create(
        &h,
        &[
            ("To", CONTACT),
            ("From", LINE),
            ("Body", "Hello! 👍"),
            ("StatusCallback", callback.as_str()),
        ],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let example: Value = serde_json::from_str(include_str!(
        "fixtures/twilio-message-create-response-queued.json"
    ))
    .unwrap();
    assert_eq!(keys(&created), keys(&example));
    assert_eq!(created["status"], "queued");
    assert_eq!(created["direction"], "outbound-api");
    assert_eq!(created["body"], "Hello! 👍");
    assert_eq!(created["num_segments"], "1");
    assert_eq!(created["num_media"], "0");
    let sid = created["sid"].as_str().unwrap().to_string();
    assert_eq!(sid.len(), 34);
    assert!(sid.starts_with("SM"));
    // RFC 2822, like `Thu, 30 Jul 2015 20:12:31 +0000`.
    let date = created["date_created"].as_str().unwrap();
    assert!(date.ends_with(" +0000") && date.len() == 31, "{date}");
    assert_eq!(&date[3..5], ", ");

    for expected in [MessageStatus::Sent, MessageStatus::Delivered] {
        let hook = gateway.next().await;
        assert_eq!(hook.path, "/webhooks/twilio/CH1");
        assert!(hook.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/x-www-form-urlencoded"));
        let events = as_gateway_sees(&hook, &callback);
        let [WebhookEvent::Status(report)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(report.provider_message_id, sid);
        assert_eq!(report.status, expected);
        let form = form_of(&hook);
        assert_eq!(field(&form, "AccountSid"), Some(SID));
        assert_eq!(field(&form, "From"), Some(LINE));
        assert_eq!(field(&form, "To"), Some(CONTACT));
        assert_eq!(
            field(&form, "RawDlrDoneDate").is_some(),
            expected == MessageStatus::Delivered
        );
    }
    // The stored resource moved on with the callbacks.
    let fetched: Value = h
        .http
        .get(h.url(&format!(
            "/twilio/2010-04-01/Accounts/{SID}/Messages/{sid}.json"
        )))
        .basic_auth(SID, Some(TOKEN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["status"], "delivered");
    let requests = h.get_json("/_control/twilio/requests").await;
    assert_eq!(requests.as_array().unwrap().len(), 2, "{requests}");
    assert_eq!(
        requests[0]["path"],
        format!("/twilio/2010-04-01/Accounts/{SID}/Messages.json")
    );
}

#[tokio::test]
async fn validation_errors_use_twilios_codes() {
    let h = start(fast()).await;
    account(&h, json!({})).await;
    for (form, code) in [
        (vec![("From", LINE), ("Body", "x")], 21604),
        (
            vec![("To", "5551234"), ("From", LINE), ("Body", "x")],
            21211,
        ),
        (vec![("To", CONTACT), ("Body", "x")], 21603),
        (
            vec![("To", CONTACT), ("From", "+15550001111"), ("Body", "x")],
            21606,
        ),
        (vec![("To", CONTACT), ("From", LINE)], 21602),
        (
            vec![
                ("To", CONTACT),
                ("From", LINE),
                ("Body", "x"),
                ("StatusCallback", "nope"),
            ],
            21609,
        ),
    ] {
        let r = create(&h, &form).send().await.unwrap();
        assert_eq!(r.status(), 400, "{form:?}");
        assert_eq!(r.json::<Value>().await.unwrap()["code"], code, "{form:?}");
    }
}

#[tokio::test]
async fn stop_is_forwarded_signed_and_later_sends_get_21610() {
    let mut gateway = receiver().await;
    let h = start(fast()).await;
    account(&h, json!({"advancedOptOut": true, "messagingServiceSid": "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"})).await;
    let url = format!("{}/webhooks/twilio/CH1", gateway.base);
    let answer = h
        .control(
            "/twilio/inbound",
            json!({"line": LINE, "from": CONTACT, "body": "Stop", "url": url}),
        )
        .await;
    assert_eq!(answer["gatewayStatus"], 200);
    let hook = gateway.next().await;
    let events = as_gateway_sees(&hook, &url);
    let [WebhookEvent::Inbound(message)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(message.from, CONTACT);
    assert_eq!(message.to, LINE);
    assert_eq!(message.body, "Stop");
    assert_eq!(message.keyword, Some(domain::Keyword::OptOut));
    assert_eq!(
        message.provider_message_id,
        answer["messageSid"].as_str().unwrap()
    );

    let r = create(&h, &[("To", CONTACT), ("From", LINE), ("Body", "offer")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], 21610);
    assert_eq!(
        body["more_info"],
        "https://www.twilio.com/docs/errors/21610"
    );
    // START opts back in.
    h.control(
        "/twilio/inbound",
        json!({"line": LINE, "from": CONTACT, "body": "START", "url": url}),
    )
    .await;
    let r = create(
        &h,
        &[("To", CONTACT), ("From", LINE), ("Body", "welcome back")],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn a_messaging_service_sends_accepted_from_its_pool() {
    let h = start(fast()).await;
    account(
        &h,
        json!({"messagingServiceSid": "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}),
    )
    .await;
    let r = create(
        &h,
        &[
            ("To", CONTACT),
            ("MessagingServiceSid", "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            ("Body", "x"),
            ("MediaUrl", "https://cdn.example/a.png"),
        ],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["status"], "accepted");
    assert_eq!(created["from"], LINE);
    assert_eq!(created["num_media"], "1");
    assert!(created["sid"].as_str().unwrap().starts_with("MM"));
    let unknown = create(
        &h,
        &[
            ("To", CONTACT),
            ("MessagingServiceSid", "MGbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"),
            ("Body", "x"),
        ],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(unknown.status(), 400);
}

#[tokio::test]
async fn unreachable_recipients_end_undelivered_and_reorder_reverses_callbacks() {
    let mut gateway = receiver().await;
    let h = start(fast()).await;
    account(&h, json!({})).await;
    h.control(
        "/twilio/recipients",
        json!({"number": CONTACT, "fail": true}),
    )
    .await;
    h.control("/faults", json!({"target": "twilio", "kind": "reorder"}))
        .await;
    let callback = format!("{}/webhooks/twilio/CH1", gateway.base);
    let r = create(
        &h,
        &[
            ("To", CONTACT),
            ("From", LINE),
            ("Body", "x"),
            ("StatusCallback", callback.as_str()),
        ],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let first = gateway.next().await;
    let second = gateway.next().await;
    let status = |hook: &Captured| match as_gateway_sees(hook, &callback).as_slice() {
        [WebhookEvent::Status(report)] => (report.status, report.error.clone()),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        status(&first),
        (MessageStatus::Failed, Some("Twilio error 30003".into()))
    );
    assert_eq!(status(&second), (MessageStatus::Sent, None));
}

#[tokio::test]
async fn injected_429_is_twilios_20429() {
    let h = start(fast()).await;
    account(&h, json!({})).await;
    h.control(
        "/faults",
        json!({"target": "twilio", "kind": "rate_limit", "retry_after_secs": 1}),
    )
    .await;
    let r = create(&h, &[("To", CONTACT), ("From", LINE), ("Body", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 20429);
}
