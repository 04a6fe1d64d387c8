//! Tenant isolation, table-driven from the OpenAPI document: every documented route that
//! takes an id (in its path, query or body) is called by tenant A's admin with tenant B's
//! ids and must answer 404, exactly like a missing id; every list without ids must not
//! show any of B's ids. The same calls with A's own ids must not be 404, so a route that
//! always says 404 can't pass. New routes are walked without anyone remembering to; a
//! route whose path names a resource the test world lacks fails the walk until the world
//! seeds one.

use reqwest::Method;
use serde_json::{json, Map, Value};

use super::{get, send, world, World};
use crate::TestServer;

/// The resource a query or body field like `location_id` refers to.
fn resource_of_field(field: &str) -> Option<&'static str> {
    Some(match field {
        "agency_id" => "agencies",
        "location_id" => "locations",
        "channel_id" => "channels",
        "contact_id" => "contacts",
        "conversation_id" => "conversations",
        "message_id" => "messages",
        _ => return None,
    })
}

/// A `$ref`'d schema, resolved in the document.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap();
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// A value that fits `schema`, its id fields filled from `world`.
fn sample(doc: &Value, schema: &Value, world: &World, field: Option<&str>) -> Value {
    let schema = resolve(doc, schema);
    if let Some(resource) = field.and_then(resource_of_field) {
        return json!(world.id(resource));
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    if let Some(options) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        let option = options
            .iter()
            .find(|o| resolve(doc, o)["type"] != "null")
            .unwrap_or(&options[0]);
        return sample(doc, option, world, field);
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds
            .iter()
            .find(|k| *k != "null")
            .cloned()
            .unwrap_or(Value::Null),
        other => other.clone(),
    };
    match kind.as_str() {
        Some("object") => {
            let mut object = Map::new();
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(properties) = schema["properties"].as_object() {
                for (name, property) in properties {
                    if required.contains(&name.as_str()) || resource_of_field(name).is_some() {
                        object.insert(name.clone(), sample(doc, property, world, Some(name)));
                    }
                }
            }
            Value::Object(object)
        }
        Some("array") => json!([]),
        Some("integer") | Some("number") => json!(schema["minimum"].as_i64().unwrap_or(1)),
        Some("boolean") => json!(false),
        _ if schema["format"] == "email" || field == Some("email") => json!("walk@example.com"),
        _ => json!("walk"),
    }
}

/// One documented operation, ready to call for a given tenant.
struct Operation<'a> {
    method: Method,
    path: &'a str,
    op: &'a Value,
}

impl Operation<'_> {
    fn public(&self) -> bool {
        self.op["security"]
            .as_array()
            .is_some_and(|s| s.is_empty() || s.iter().all(|r| r == &json!({})))
    }

    /// The path with `world`'s ids, its query, and its body; and whether any of those
    /// carries an id.
    fn request(&self, doc: &Value, world: &World) -> (String, Option<Value>, bool) {
        let mut takes_ids = false;
        let mut url = String::new();
        let mut rest = self.path;
        while let Some(open) = rest.find('{') {
            let close = rest[open..].find('}').unwrap() + open;
            let before = &rest[..open];
            let resource = before.trim_end_matches('/').rsplit('/').next().unwrap();
            url.push_str(before);
            url.push_str(world.id(resource));
            takes_ids = true;
            rest = &rest[close + 1..];
        }
        url.push_str(rest);
        let mut query = Vec::new();
        for param in self.op["parameters"].as_array().into_iter().flatten() {
            let name = param["name"].as_str().unwrap();
            if param["in"] == "query" {
                if let Some(resource) = resource_of_field(name) {
                    query.push(format!("{name}={}", world.id(resource)));
                    takes_ids = true;
                }
            }
        }
        if !query.is_empty() {
            url = format!("{url}?{}", query.join("&"));
        }
        let body = self.op["requestBody"]["content"]["application/json"]["schema"]
            .as_object()
            .map(|schema| sample(doc, &Value::Object(schema.clone()), world, None));
        if let Some(Value::Object(fields)) = &body {
            takes_ids |= fields.keys().any(|k| resource_of_field(k).is_some());
        }
        (url, body, takes_ids)
    }
}

async fn call(
    server: &TestServer,
    auth: &str,
    method: &Method,
    url: &str,
    body: &Option<Value>,
) -> (u16, Value) {
    match body {
        Some(body) => send(server, method.clone(), auth, url, body).await,
        None if *method == Method::GET => get(server, auth, url).await,
        None => send(server, method.clone(), auth, url, &Value::Null).await,
    }
}

#[tokio::test]
async fn every_route_answers_another_tenants_ids_with_404() {
    let server = TestServer::start(&[]).await;
    let alpha = world(&server, "alpha").await;
    let bravo = world(&server, "bravo").await;
    let (status, doc) = get(&server, "", "/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method: Method = method.to_uppercase().parse().unwrap();
            operations.push(Operation { method, path, op });
        }
    }
    // Reads first, deletes last: the control calls below change A's own data.
    let rank = |m: &Method| match *m {
        Method::GET => 0,
        Method::DELETE => 2,
        _ => 1,
    };
    operations.sort_by_key(|o| rank(&o.method));

    let bravo_ids: Vec<&String> = bravo.ids.values().collect();
    let mut walked = Vec::new();
    for operation in operations.iter().filter(|o| !o.public()) {
        let (url, body, takes_ids) = operation.request(&doc, &bravo);
        if !takes_ids && operation.method != Method::GET {
            continue; // nothing of B's to send (and it may be `logout-all`)
        }
        let (status, answer) = call(&server, &alpha.admin, &operation.method, &url, &body).await;
        let what = format!("{} {} as another tenant", operation.method, operation.path);
        if takes_ids {
            assert_eq!(status, 404, "{what}: {answer}");
            assert_eq!(answer["code"], "not_found", "{what}");
            walked.push(operation);
        } else if operation.method == Method::GET {
            let text = answer.to_string();
            for id in &bravo_ids {
                assert!(!text.contains(id.as_str()), "{what} shows {id}: {text}");
            }
        }
    }
    assert!(
        walked.len() >= 4,
        "the walk reached only {} routes",
        walked.len()
    );
    for operation in walked {
        let (url, body, _) = operation.request(&doc, &alpha);
        let (status, answer) = call(&server, &alpha.admin, &operation.method, &url, &body).await;
        assert_ne!(
            status, 404,
            "{} {} with the caller's own ids: {answer}",
            operation.method, operation.path
        );
    }
    server.stop().await;
}
