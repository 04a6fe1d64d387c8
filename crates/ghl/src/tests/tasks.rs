use std::time::{Duration, UNIX_EPOCH};

use http::Method;
use outbound::Failure;
use serde_json::json;

use super::{assert_ghl_headers, body_json, response, BASE, TOKEN};
use crate::api::{parse_task, Api, NewTask};
use crate::Error;

fn api() -> Api<'static> {
    Api::new(BASE, TOKEN)
}

#[test]
fn create_task_is_open_and_due_in_utc() {
    let request = api().create_task(
        "c1",
        &NewTask {
            title: "Call back about the quote",
            body: Some("Asked for a price on 3 windows"),
            due: UNIX_EPOCH + Duration::from_secs(1_603_623_600),
            assigned_to: Some("u1"),
        },
    );
    assert_eq!(request.method, Method::POST);
    assert_eq!(
        request.url,
        "https://services.leadconnectorhq.com/contacts/c1/tasks"
    );
    assert_ghl_headers(&request, "2021-07-28");
    assert_eq!(
        body_json(&request),
        json!({
            "title": "Call back about the quote",
            "body": "Asked for a price on 3 windows",
            "dueDate": "2020-10-25T11:00:00.000Z",
            "completed": false,
            "assignedTo": "u1",
        })
    );
    let minimal = api().create_task(
        "c/2",
        &NewTask {
            title: "t",
            body: None,
            due: UNIX_EPOCH,
            assigned_to: None,
        },
    );
    assert_eq!(
        minimal.url,
        "https://services.leadconnectorhq.com/contacts/c%2F2/tasks"
    );
    assert_eq!(
        body_json(&minimal),
        json!({"title": "t", "dueDate": "1970-01-01T00:00:00.000Z", "completed": false})
    );
}

#[test]
fn reads_the_created_task() {
    // `TaskByIsSuccessfulResponseDto` with the spec's example values.
    let body = r#"{"task":{"id":"lJpzYrWdpkC2hX6t2yue","title":"test","body":"testing","assignedTo":"tesTUcmRxWrjqzJS8EjkxNKting","dueDate":"2021-07-08T02:30:00.000Z","completed":false,"contactId":"lJpzYrWdpkC2hX6t2yue"},"traceId":"t"}"#;
    let task = parse_task(&response(201, body)).unwrap();
    assert_eq!(task.id, "lJpzYrWdpkC2hX6t2yue");
    assert_eq!(task.title.as_deref(), Some("test"));
    assert_eq!(task.due_date.as_deref(), Some("2021-07-08T02:30:00.000Z"));
    assert_eq!(task.completed, Some(false));
    assert_eq!(task.contact_id.as_deref(), Some("lJpzYrWdpkC2hX6t2yue"));
    assert_eq!(
        task.assigned_to.as_deref(),
        Some("tesTUcmRxWrjqzJS8EjkxNKting")
    );
}

#[test]
fn a_task_answer_without_id_is_a_failure() {
    for body in [
        "{}",
        r#"{"task":null}"#,
        r#"{"task":{"title":"x"}}"#,
        r#"{"task":{"id":" "}}"#,
        r#"{"task":"t1"}"#,
        "",
    ] {
        assert!(
            matches!(
                parse_task(&response(201, body)),
                Err(Error::Call(Failure::Retry { .. }))
            ),
            "{body}"
        );
    }
    let invalid = r#"{"statusCode":422,"message":["dueDate should not be empty"],"error":"Unprocessable Entity"}"#;
    assert!(matches!(
        parse_task(&response(422, invalid)),
        Err(Error::Call(Failure::Permanent { detail })) if detail.contains("dueDate")
    ));
    assert!(matches!(
        parse_task(&response(
            400,
            r#"{"statusCode":400,"message":"Contact not found"}"#
        )),
        Err(Error::Call(Failure::Permanent { .. }))
    ));
}
