//! UniPile webhooks: the secret header, the published payload, what is ignored and why,
//! and attachment downloads.

use domain::MessageStatus;
use http::{Method, StatusCode};
use serde_json::{json, Value};

use super::unipile_send::credentials;
use super::{patched, webhook};
use crate::unipile::SECRET_HEADER;
use crate::{Channel, ChannelError, InboundMessage, UniPile, WebhookEvent};

const VERBATIM: &str = include_str!("../../tests/fixtures/unipile-new-message-webhook.txt");
const WELL_FORMED: &str = include_str!("../../tests/fixtures/unipile-new-message-webhook.json");
const URL: &str = "https://switchboard.example/webhooks/unipile/ch_1";
const CONTACT: &str = "33600000000@s.whatsapp.net";
const ACCOUNT_USER: &str = "33611111111@s.whatsapp.net";

/// The published example as a WhatsApp message from a contact to our account.
fn whatsapp() -> Value {
    let mut value: Value = serde_json::from_str(WELL_FORMED).unwrap();
    value["account_id"] = "acc-wa-1".into();
    value["account_type"] = "WHATSAPP".into();
    value["sender"]["attendee_provider_id"] = CONTACT.into();
    value["attendees"][0]["attendee_provider_id"] = ACCOUNT_USER.into();
    value
}

fn events(body: &str) -> Result<Vec<WebhookEvent>, ChannelError> {
    let request = webhook(URL, &[(SECRET_HEADER, "hook-secret")], body);
    UniPile.receive_webhook(&credentials(), &request)
}

fn one(body: &Value) -> WebhookEvent {
    let mut all = events(&body.to_string()).unwrap();
    assert_eq!(all.len(), 1);
    all.remove(0)
}

fn ignored(body: &Value) -> String {
    match one(body) {
        WebhookEvent::Ignored { reason } => reason,
        other => panic!("expected ignored, got {other:?}"),
    }
}

fn inbound(body: &Value) -> InboundMessage {
    match one(body) {
        WebhookEvent::Inbound(m) => m,
        other => panic!("expected inbound, got {other:?}"),
    }
}

#[test]
fn the_secret_header_is_required_and_compared() {
    let body = whatsapp().to_string();
    let missing = UniPile
        .receive_webhook(&credentials(), &webhook(URL, &[], &body))
        .unwrap_err();
    assert!(matches!(missing, ChannelError::MissingSignature { .. }));
    assert_eq!(missing.webhook_status(), StatusCode::UNAUTHORIZED);
    let wrong = UniPile
        .receive_webhook(
            &credentials(),
            &webhook(URL, &[(SECRET_HEADER, "hook-secre")], &body),
        )
        .unwrap_err();
    assert!(matches!(wrong, ChannelError::WrongSignature { .. }));
    assert_eq!(wrong.webhook_status(), StatusCode::UNAUTHORIZED);
    // The header name is case-insensitive, as HTTP says.
    let ok = webhook(URL, &[("X-Switchboard-Secret", "hook-secret")], &body);
    assert!(UniPile.verify_webhook(&credentials(), &ok).is_ok());
    // A wrong secret is refused before the body is even read.
    let garbage = webhook(URL, &[(SECRET_HEADER, "nope")], "not json");
    assert!(matches!(
        UniPile.receive_webhook(&credentials(), &garbage),
        Err(ChannelError::WrongSignature { .. })
    ));
}

#[test]
fn the_verbatim_published_example_is_refused_as_malformed_without_panicking() {
    let body = VERBATIM.split_once("\n\n").unwrap().1;
    assert!(body.trim_start().starts_with('{'));
    let err = events(body).unwrap_err();
    assert!(matches!(err, ChannelError::Malformed { .. }), "{err:?}");
    assert_eq!(err.webhook_status(), StatusCode::BAD_REQUEST);
    assert_eq!(err.code(), "malformed_webhook");
    for cut in [0, 1, 40, body.len() / 2] {
        let _ = events(&body[..cut]);
    }
    assert!(matches!(
        events("[1,2]"),
        Err(ChannelError::Malformed { .. })
    ));
}

#[test]
fn the_well_formed_example_is_a_linkedin_message_and_ignored() {
    // Read without the channel's account (the example is another account's).
    let events = UniPile
        .parse_webhook(&webhook(URL, &[], WELL_FORMED))
        .unwrap();
    match &events[..] {
        [WebhookEvent::Ignored { reason }] => assert!(reason.contains("LINKEDIN"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_whatsapp_message_from_a_contact_is_inbound() {
    let message = inbound(&whatsapp());
    assert_eq!(message.provider_message_id, "ykmhfXlRW0W_cqReJYrfBw");
    assert_eq!(message.from, "+33600000000");
    assert_eq!(message.body, "Hello World !");
    assert_eq!(message.thread.as_deref(), Some("R8J-xM9WX7eoHLp6gSVtWQ"));
    assert_eq!(message.sent_at.as_deref(), Some("2023-09-24T13:49:07.965Z"));
    assert_eq!(
        message.media_urls,
        vec!["unipile-attachment:ykmhfXlRW0W_cqReJYrfBw/2-MTY5MzQ3ODM0MTgxOWI4MDA4My0wMDMmNjg2M2E2MTgtNjM2Yi01OWNkLWFjNmQtYjE3Y2NjNTU5ZWZkXzAxMw=="]
    );
    // Without account_info the payload does not name our number.
    assert_eq!(message.to, "");
    let mut with_info = whatsapp();
    with_info["account_info"] = json!({"type": "WHATSAPP", "user_id": ACCOUNT_USER});
    assert_eq!(inbound(&with_info).to, "+33611111111");
    // The same delivery twice has one dedupe key.
    assert_eq!(
        one(&whatsapp()).dedupe_key().as_deref(),
        Some("inbound:ykmhfXlRW0W_cqReJYrfBw")
    );
}

#[test]
fn attachments_come_as_a_list_or_one_object_and_unavailable_ones_are_skipped() {
    let mut body = whatsapp();
    body["attachments"] = json!([
        {"id": "att-1", "mimetype": "image/png", "unavailable": false},
        {"id": "att-2", "unavailable": "true"},
        {"mimetype": "no id"},
        {"id": "a/b=", "unavailable": "false"}
    ]);
    body["message"] = "".into();
    assert_eq!(
        inbound(&body).media_urls,
        vec![
            "unipile-attachment:ykmhfXlRW0W_cqReJYrfBw/att-1",
            "unipile-attachment:ykmhfXlRW0W_cqReJYrfBw/a/b="
        ]
    );
    body["attachments"] = json!([]);
    assert!(ignored(&body).contains("no text"));
}

#[test]
fn echoes_of_the_accounts_own_messages_are_ignored() {
    let mut by_flag = whatsapp();
    by_flag["is_sender"] = true.into();
    assert!(ignored(&by_flag).contains("echo"));
    let mut by_string_flag = whatsapp();
    by_string_flag["is_sender"] = "true".into();
    assert!(ignored(&by_string_flag).contains("echo"));
    let mut by_account = whatsapp();
    by_account["account_info"] = json!({"type": "WHATSAPP", "user_id": ACCOUNT_USER});
    by_account["sender"]["attendee_provider_id"] = "33611111111:7@s.whatsapp.net".into();
    by_account["attendees"][0]["attendee_provider_id"] = CONTACT.into();
    assert!(ignored(&by_account).contains("echo"));
    // is_sender false is a contact.
    let mut not_sender = whatsapp();
    not_sender["is_sender"] = false.into();
    assert_eq!(inbound(&not_sender).from, "+33600000000");
}

#[test]
fn groups_lids_other_accounts_and_other_events_are_ignored() {
    let mut flagged = whatsapp();
    flagged["is_group"] = true.into();
    assert!(ignored(&flagged).contains("group"));
    let mut group_chat = whatsapp();
    group_chat["provider_chat_id"] = "120363000000000000@g.us".into();
    assert!(ignored(&group_chat).contains("group"));
    let mut crowd = whatsapp();
    crowd["attendees"] = json!([
        {"attendee_provider_id": ACCOUNT_USER},
        {"attendee_provider_id": CONTACT},
        {"attendee_provider_id": "33622222222@s.whatsapp.net"},
        {"attendee_provider_id": "33633333333@s.whatsapp.net"}
    ]);
    assert!(ignored(&crowd).contains("group"));
    let mut lid = whatsapp();
    lid["sender"]["attendee_provider_id"] = "123456789012345@lid".into();
    assert!(ignored(&lid).contains("LID"));
    let mut other = whatsapp();
    other["account_id"] = "someone-else".into();
    assert!(ignored(&other).contains("another UniPile account"));
    // parse_webhook alone (no credentials) cannot tell, and does not guess.
    let request = webhook(URL, &[], &other.to_string());
    assert!(matches!(
        UniPile.parse_webhook(&request).unwrap()[0],
        WebhookEvent::Inbound(_)
    ));
    let mut reaction = whatsapp();
    reaction["event"] = "message_reaction".into();
    reaction["reaction"] = "👍".into();
    assert!(ignored(&reaction).contains("reaction"));
    let mut edited = whatsapp();
    edited["event"] = "message_edited".into();
    assert!(ignored(&edited).contains("message_edited"));
    let status = json!({"AccountStatus": {"account_id": "acc-wa-1", "account_type": "WHATSAPP", "message": "OK"}});
    assert!(ignored(&status).contains("account status"));
    assert!(ignored(&json!({"hello": "world"})).contains("no `event`"));
}

#[test]
fn a_message_without_ids_is_malformed() {
    let mut no_id = whatsapp();
    no_id.as_object_mut().unwrap().remove("message_id");
    assert!(matches!(
        events(&no_id.to_string()),
        Err(ChannelError::Malformed { .. })
    ));
    let no_sender = patched(&whatsapp().to_string(), json!({"sender": null}));
    assert!(matches!(
        events(&no_sender),
        Err(ChannelError::Malformed { .. })
    ));
}

#[test]
fn a_read_receipt_for_our_message_is_a_read_status() {
    let mut ours = whatsapp();
    ours["event"] = "message_read".into();
    ours["is_sender"] = true.into();
    match one(&ours) {
        WebhookEvent::Status(report) => {
            assert_eq!(report.provider_message_id, "ykmhfXlRW0W_cqReJYrfBw");
            assert_eq!(report.status, MessageStatus::Read);
        }
        other => panic!("{other:?}"),
    }
    let mut theirs = whatsapp();
    theirs["event"] = "message_read".into();
    assert!(ignored(&theirs).contains("not sent by the account"));
}

#[test]
fn attachment_references_download_from_the_messages_endpoint() {
    let creds = credentials();
    let base = UniPile.api_base(&creds, None).unwrap();
    let request = UniPile
        .media_request(&creds, &base, "unipile-attachment:msg_1/a/b+c=")
        .unwrap();
    assert_eq!(request.method, Method::GET);
    assert_eq!(
        request.url,
        "https://api1.unipile.com:13111/api/v1/messages/msg_1/attachments/a%2Fb%2Bc%3D"
    );
    assert_eq!(request.headers["x-api-key"], "unipile-key");
    for bad in [
        "https://example.com/file.jpg",
        "unipile-attachment:",
        "unipile-attachment:msg_only",
        "unipile-attachment:/att",
    ] {
        assert!(
            matches!(
                UniPile.media_request(&creds, &base, bad),
                Err(ChannelError::InvalidMediaUrl { .. })
            ),
            "{bad}"
        );
    }
}
