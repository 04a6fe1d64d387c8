use http::Method;
use outbound::Failure;
use serde_json::json;

use super::{assert_ghl_headers, body_json, response, BASE, TOKEN};
use crate::api::{
    parse_contact, parse_contact_update, parse_find_contact, parse_tags, parse_upsert_contact, Api,
    ContactKey, ContactUpdate, ContactUpsert, CustomFieldValue, DndChannel,
};
use crate::{DndStatus, Error};

fn api() -> Api<'static> {
    Api::new(BASE, TOKEN)
}

#[test]
fn find_by_phone_encodes_the_plus() {
    let request = api().find_contact("loc 1", ContactKey::Phone("+15551234567"));
    assert_eq!(request.method, Method::GET);
    assert_eq!(
        request.url,
        "https://services.leadconnectorhq.com/contacts/search/duplicate?locationId=loc+1&number=%2B15551234567"
    );
    assert_ghl_headers(&request, "2021-07-28");
    assert!(request.body.is_empty());
}

#[test]
fn find_by_email_encodes_plus_and_at() {
    let request = Api::new("http://127.0.0.1:4000/ghl/", TOKEN)
        .find_contact("l1", ContactKey::Email("test+abc@gmail.com"));
    assert_eq!(
        request.url,
        "http://127.0.0.1:4000/ghl/contacts/search/duplicate?locationId=l1&email=test%2Babc%40gmail.com"
    );
}

#[test]
fn reads_the_duplicate_search() {
    let found = parse_find_contact(&response(
        200,
        r#"{"contact":{"id":"c1","phone":"+15551234567","dnd":false,"tags":["a"]},"traceId":"t"}"#,
    ))
    .unwrap()
    .unwrap();
    assert_eq!(found.id, "c1");
    assert_eq!(found.phone.as_deref(), Some("+15551234567"));
    assert_eq!(found.tags, vec!["a".to_owned()]);
    assert_eq!(found.sms_blocked(), Some(false));

    assert_eq!(
        parse_find_contact(&response(200, r#"{"contact":null}"#)).unwrap(),
        None
    );
    assert_eq!(parse_find_contact(&response(200, "{}")).unwrap(), None);
    let legacy = parse_find_contact(&response(200, r#"{"contact":{"_id":"c2"}}"#)).unwrap();
    assert_eq!(legacy.unwrap().id, "c2");
    let both = parse_find_contact(&response(200, r#"{"contact":{"id":"c3","_id":"c3"}}"#)).unwrap();
    assert_eq!(both.unwrap().id, "c3");
    assert!(matches!(
        parse_find_contact(&response(200, r#"{"contact":{"id":""}}"#)),
        Err(Error::Call(Failure::Retry { .. }))
    ));

    assert!(matches!(
        parse_find_contact(&response(401, "{}")),
        Err(Error::Unauthorized { .. })
    ));
    assert!(matches!(
        parse_find_contact(&response(400, r#"{"statusCode":400,"message":"bad"}"#)),
        Err(Error::Call(Failure::Permanent { .. }))
    ));
    assert!(matches!(
        parse_find_contact(&response(200, "garbage")),
        Err(Error::Call(Failure::Retry { .. }))
    ));
}

#[test]
fn upsert_sends_only_what_is_set() {
    let request = api().upsert_contact(&ContactUpsert {
        location_id: "l1",
        phone: Some("+15551234567"),
        name: Some("Ada Lovelace"),
        source: Some("Switchboard"),
        ..ContactUpsert::default()
    });
    assert_eq!(request.method, Method::POST);
    assert_eq!(
        request.url,
        "https://services.leadconnectorhq.com/contacts/upsert"
    );
    assert_ghl_headers(&request, "2021-07-28");
    assert_eq!(
        body_json(&request),
        json!({"locationId":"l1","phone":"+15551234567","name":"Ada Lovelace","source":"Switchboard"})
    );
}

#[test]
fn reads_the_upsert() {
    let body = r#"{"new":true,"contact":{"id":"c9","locationId":"l1","email":"a@b.c","dndSettings":{"SMS":{"status":"active","message":"STOP"}}},"traceId":"t"}"#;
    let upserted = parse_upsert_contact(&response(200, body)).unwrap();
    assert!(upserted.created);
    assert_eq!(upserted.contact.id, "c9");
    assert_eq!(upserted.contact.sms_blocked(), Some(true));
    let updated =
        parse_upsert_contact(&response(201, r#"{"new":false,"contact":{"id":"c9"}}"#)).unwrap();
    assert!(!updated.created);

    assert!(matches!(
        parse_upsert_contact(&response(200, r#"{"new":true}"#)),
        Err(Error::Call(Failure::Retry { .. }))
    ));
    let unprocessable = r#"{"statusCode":422,"message":["property additionalEmails should not exist"],"error":"Unprocessable Entity"}"#;
    assert!(matches!(
        parse_upsert_contact(&response(422, unprocessable)),
        Err(Error::Call(Failure::Permanent { detail })) if detail.contains("additionalEmails")
    ));
}

#[test]
fn get_contact_round_trip() {
    let request = api().get_contact("c/1?x");
    assert_eq!(request.method, Method::GET);
    assert_eq!(
        request.url,
        "https://services.leadconnectorhq.com/contacts/c%2F1%3Fx"
    );
    assert_ghl_headers(&request, "2021-07-28");
    let contact = parse_contact(&response(
        200,
        r#"{"contact":{"id":"c1","timezone":"America/Chicago"}}"#,
    ))
    .unwrap();
    assert_eq!(contact.timezone.as_deref(), Some("America/Chicago"));
    assert!(matches!(
        parse_contact(&response(200, "{}")),
        Err(Error::Call(Failure::Retry { .. }))
    ));
    assert!(matches!(
        parse_contact(&response(404, "{}")),
        Err(Error::Call(Failure::Permanent { .. }))
    ));
}

#[test]
fn dnd_update_touches_one_channel() {
    let request = api().update_dnd(
        "c1",
        DndChannel::Sms,
        &DndStatus::Active,
        Some("Replied STOP"),
    );
    assert_eq!(request.method, Method::PUT);
    assert_eq!(
        request.url,
        "https://services.leadconnectorhq.com/contacts/c1"
    );
    assert_ghl_headers(&request, "2021-07-28");
    assert_eq!(
        body_json(&request),
        json!({"dndSettings":{"SMS":{"status":"active","message":"Replied STOP"}}})
    );
    let start = api().update_dnd("c1", DndChannel::WhatsApp, &DndStatus::Inactive, None);
    assert_eq!(
        body_json(&start),
        json!({"dndSettings":{"WhatsApp":{"status":"inactive"}}})
    );
    assert_eq!(
        api()
            .update_dnd("..", DndChannel::Sms, &DndStatus::Active, None)
            .url,
        "https://services.leadconnectorhq.com/contacts/%2E%2E"
    );
}

#[test]
fn reads_the_contact_update() {
    assert_eq!(
        parse_contact_update(&response(200, r#"{"succeded":true,"contact":{"id":"c1"}}"#)).unwrap(),
        Some("c1".to_owned())
    );
    assert_eq!(
        parse_contact_update(&response(200, r#"{"succeded":true}"#)).unwrap(),
        None
    );
    assert!(matches!(
        parse_contact_update(&response(200, r#"{"succeded":false}"#)),
        Err(Error::Call(Failure::Retry { .. }))
    ));
    assert!(matches!(
        parse_contact_update(&response(401, "")),
        Err(Error::Unauthorized { .. })
    ));
    assert!(matches!(
        parse_contact_update(&response(503, "")),
        Err(Error::Call(Failure::Retry { .. }))
    ));
}

#[test]
fn update_sends_only_the_fields_set_and_custom_fields_as_written() {
    let custom = vec![
        CustomFieldValue {
            id: "6dvNaf7VhkQ9snc5vnjJ".into(),
            key: Some("budget".into()),
            field_value: json!(2500),
        },
        CustomFieldValue {
            id: "f2".into(),
            key: None,
            field_value: json!(["roof", "windows"]),
        },
    ];
    let request = api().update_contact(
        "c1",
        &ContactUpdate {
            first_name: Some("Ada"),
            email: Some("ada@example.com"),
            postal_code: Some("35061"),
            timezone: Some("America/Chicago"),
            custom_fields: &custom,
            ..ContactUpdate::default()
        },
    );
    assert_eq!(request.method, Method::PUT);
    assert_eq!(
        request.url,
        "https://services.leadconnectorhq.com/contacts/c1"
    );
    assert_ghl_headers(&request, "2021-07-28");
    assert_eq!(
        body_json(&request),
        json!({
            "firstName": "Ada",
            "email": "ada@example.com",
            "postalCode": "35061",
            "timezone": "America/Chicago",
            "customFields": [
                {"id": "6dvNaf7VhkQ9snc5vnjJ", "key": "budget", "field_value": 2500},
                {"id": "f2", "field_value": ["roof", "windows"]},
            ],
        })
    );
    let names = api().update_contact(
        "c1",
        &ContactUpdate {
            last_name: Some("Lovelace"),
            date_of_birth: Some("1990-09-25"),
            ..ContactUpdate::default()
        },
    );
    assert_eq!(
        body_json(&names),
        json!({"lastName": "Lovelace", "dateOfBirth": "1990-09-25"})
    );
}

#[test]
fn add_tags_round_trip() {
    let request = api().add_tags("c 1", &["VIP".to_owned(), "booked".to_owned()]);
    assert_eq!(request.method, Method::POST);
    assert_eq!(
        request.url,
        "https://services.leadconnectorhq.com/contacts/c%201/tags"
    );
    assert_ghl_headers(&request, "2021-07-28");
    assert_eq!(body_json(&request), json!({"tags": ["VIP", "booked"]}));
    assert_eq!(
        parse_tags(&response(
            201,
            r#"{"tags":["lead","vip","booked"],"traceId":"t"}"#
        ))
        .unwrap(),
        vec!["lead", "vip", "booked"]
    );
    assert!(parse_tags(&response(201, "{}")).unwrap().is_empty());
    let invalid = r#"{"statusCode":422,"message":["tags should not be empty"],"error":"Unprocessable Entity"}"#;
    assert!(matches!(
        parse_tags(&response(422, invalid)),
        Err(Error::Call(Failure::Permanent { .. }))
    ));
    assert!(matches!(
        parse_tags(&response(429, "")),
        Err(Error::Call(Failure::RateLimited { .. }))
    ));
}
