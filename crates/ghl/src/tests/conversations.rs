use std::time::{Duration, UNIX_EPOCH};

use http::Method;
use outbound::Failure;
use serde_json::json;

use super::{assert_ghl_headers, body_json, response, BASE, TOKEN};
use crate::api::{
    parse_inbound_message, parse_status_update, Api, GhlMessageStatus, InboundMessage,
    ProviderError, NOT_DOWNSTREAMED_WAIT,
};
use crate::Error;

fn api() -> Api<'static> {
    Api::new(BASE, TOKEN)
}

#[test]
fn inbound_message_is_an_sms_with_our_provider_id() {
    let attachments = vec!["https://media.example/a.jpg".to_owned()];
    let request = api().add_inbound_message(&InboundMessage {
        contact_id: "c1",
        conversation_provider_id: Some("prov-1"),
        conversation_id: None,
        message: "Hello from iMessage",
        attachments: &attachments,
        alt_id: Some("msg_01J"),
        date: Some(UNIX_EPOCH + Duration::from_millis(1_738_074_900_123)),
    });
    assert_eq!(request.method, Method::POST);
    assert_eq!(
        request.url,
        "https://services.leadconnectorhq.com/conversations/messages/inbound"
    );
    assert_ghl_headers(&request, "2021-04-15");
    assert_eq!(
        body_json(&request),
        json!({
            "type": "SMS",
            "direction": "inbound",
            "contactId": "c1",
            "conversationProviderId": "prov-1",
            "message": "Hello from iMessage",
            "attachments": ["https://media.example/a.jpg"],
            "altId": "msg_01J",
            "date": "2025-01-28T14:35:00.123Z",
        })
    );

    let minimal = api().add_inbound_message(&InboundMessage {
        contact_id: "c1",
        conversation_id: Some("conv-1"),
        message: "hi",
        ..InboundMessage::default()
    });
    assert_eq!(
        body_json(&minimal),
        json!({"type":"SMS","direction":"inbound","contactId":"c1","conversationId":"conv-1","message":"hi"})
    );
}

#[test]
fn reads_the_added_message() {
    let body = r#"{"success":true,"conversationId":"conv","messageId":"m1","message":"Message added","contactId":"c1","dateAdded":"2025-01-28T14:35:00.000Z"}"#;
    let added = parse_inbound_message(&response(200, body)).unwrap();
    assert_eq!(added.message_id, "m1");
    assert_eq!(added.conversation_id.as_deref(), Some("conv"));
    assert_eq!(added.contact_id.as_deref(), Some("c1"));
}

#[test]
fn a_2xx_without_message_id_is_retried() {
    for (status, body) in [
        (201, ""),
        (201, "  "),
        (200, "{}"),
        (200, r#"{"success":true,"messageId":""}"#),
        (200, r#"{"messageId":null}"#),
        (200, "not json"),
    ] {
        assert!(
            matches!(
                parse_inbound_message(&response(status, body)),
                Err(Error::Call(Failure::Retry { .. }))
            ),
            "{status} {body:?}"
        );
    }
}

#[test]
fn inbound_message_errors_are_classified() {
    assert!(matches!(
        parse_inbound_message(&response(401, "")),
        Err(Error::Unauthorized { .. })
    ));
    assert!(matches!(
        parse_inbound_message(&response(
            400,
            r#"{"statusCode":400,"message":"Invalid conversationProviderId"}"#
        )),
        Err(Error::Call(Failure::Permanent { .. }))
    ));
    // GHL has answered 500 for a wrong provider id or token; it is retried like any 5xx.
    assert!(matches!(
        parse_inbound_message(&response(500, "")),
        Err(Error::Call(Failure::Retry { .. }))
    ));
}

#[test]
fn maps_our_statuses_to_ghl() {
    use domain::MessageStatus::*;
    assert_eq!(
        GhlMessageStatus::from_domain(Pending),
        Some(GhlMessageStatus::Pending)
    );
    assert_eq!(GhlMessageStatus::from_domain(Sent), None);
    assert_eq!(
        GhlMessageStatus::from_domain(Delivered),
        Some(GhlMessageStatus::Delivered)
    );
    assert_eq!(
        GhlMessageStatus::from_domain(Read),
        Some(GhlMessageStatus::Read)
    );
    assert_eq!(
        GhlMessageStatus::from_domain(Failed),
        Some(GhlMessageStatus::Failed)
    );
}

#[test]
fn status_update_request() {
    let request = api().update_message_status("m1", GhlMessageStatus::Delivered, None);
    assert_eq!(request.method, Method::PUT);
    assert_eq!(
        request.url,
        "https://services.leadconnectorhq.com/conversations/messages/m1/status"
    );
    assert_ghl_headers(&request, "2021-04-15");
    assert_eq!(body_json(&request), json!({"status":"delivered"}));

    let error = ProviderError {
        code: "30007".into(),
        kind: "saas".into(),
        message: "Carrier violation".into(),
    };
    let failed = api().update_message_status("m1", GhlMessageStatus::Failed, Some(&error));
    assert_eq!(
        body_json(&failed),
        json!({"status":"failed","error":{"code":"30007","type":"saas","message":"Carrier violation"}})
    );
    // The error explains a failure only.
    let read = api().update_message_status("m1", GhlMessageStatus::Read, Some(&error));
    assert_eq!(body_json(&read), json!({"status":"read"}));
}

#[test]
fn not_downstreamed_yet_is_a_short_retry() {
    let body = r#"{"statusCode":403,"message":"No conversation provider found for this message"}"#;
    let expect_retry = |status: u16, body: &str| match parse_status_update(&response(status, body))
    {
        Err(Error::Call(Failure::Retry { after, .. })) => {
            assert_eq!(after, Some(NOT_DOWNSTREAMED_WAIT))
        }
        other => panic!("{status}: {other:?}"),
    };
    expect_retry(403, body);
    expect_retry(403, "");
    // The same window used to answer 401.
    expect_retry(
        401,
        r#"{"statusCode":401,"message":"No conversation provider found for this message"}"#,
    );
}

#[test]
fn status_update_other_answers() {
    assert_eq!(
        parse_status_update(&response(
            200,
            r#"{"conversationId":"c","messageId":"m","status":"delivered"}"#
        )),
        Ok(())
    );
    assert_eq!(parse_status_update(&response(204, "")), Ok(()));
    assert!(matches!(
        parse_status_update(&response(
            401,
            r#"{"message":"Invalid token: access token is invalid"}"#
        )),
        Err(Error::Unauthorized { .. })
    ));
    assert!(matches!(
        parse_status_update(&response(400, "{}")),
        Err(Error::Call(Failure::Permanent { .. }))
    ));
    assert!(matches!(
        parse_status_update(&response(429, "")),
        Err(Error::Call(Failure::RateLimited { .. }))
    ));
}
