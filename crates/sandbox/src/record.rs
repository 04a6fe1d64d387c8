//! What each simulator received, in arrival order, for tests and for `GET /_control/{sim}/requests`.
//!
//! Recording happens before fault injection and authentication, so a test can see exactly what
//! the gateway sent even when the simulator refused it. Bodies are buffered once here (with a
//! size limit, as every vendor has one) and handed on unchanged.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use axum::body::{to_bytes, Body};
use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::Serialize;

use crate::clock;
use crate::shared::{lock, Shared};

/// Largest request body a simulator accepts.
pub(crate) const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// One request as a simulator saw it (or, under `webhooks`, one webhook the sandbox sent).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    /// Path with query, prefix included (`/ghl/contacts/search/duplicate?locationId=…`); for
    /// webhooks, the full URL.
    pub path: String,
    /// Header names lowercase; repeated headers joined with `, `.
    pub headers: serde_json::Map<String, serde_json::Value>,
    /// The JSON body when it parses as JSON, else the body as text (`null` when empty).
    pub body: serde_json::Value,
    /// Arrival time, ISO-8601 UTC.
    pub at: String,
}

impl RecordedRequest {
    pub(crate) fn new(method: &str, path: String, headers: &HeaderMap, body: &[u8]) -> Self {
        let mut map = serde_json::Map::new();
        for (name, value) in headers {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match map.get_mut(name.as_str()) {
                Some(serde_json::Value::String(existing)) => {
                    existing.push_str(", ");
                    existing.push_str(&value);
                }
                _ => {
                    map.insert(name.as_str().to_owned(), value.into());
                }
            }
        }
        let body = if body.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(body)
                .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned().into())
        };
        Self {
            method: method.to_owned(),
            path,
            headers: map,
            body,
            at: clock::now_iso(),
        }
    }
}

/// Bounded per-simulator request logs.
pub(crate) struct Recorder {
    limit: usize,
    logs: Mutex<HashMap<String, VecDeque<RecordedRequest>>>,
}

impl Recorder {
    pub fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            logs: Mutex::new(HashMap::new()),
        }
    }

    pub fn push(&self, simulator: &str, request: RecordedRequest) {
        let mut logs = lock(&self.logs);
        let log = logs.entry(simulator.to_owned()).or_default();
        if log.len() >= self.limit {
            log.pop_front();
        }
        log.push_back(request);
    }

    pub fn list(&self, simulator: &str) -> Vec<RecordedRequest> {
        lock(&self.logs)
            .get(simulator)
            .map(|log| log.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn clear(&self, simulator: &str) {
        lock(&self.logs).remove(simulator);
    }
}

/// Wrap a simulator's router so every request is recorded under `name`.
pub(crate) fn wrap(router: Router, shared: Shared, name: &'static str) -> Router {
    router.layer(middleware::from_fn_with_state((shared, name), record))
}

async fn record(
    State((shared, name)): State<(Shared, &'static str)>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, BODY_LIMIT).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.clone(), |original| original.0.clone());
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    shared.recorder.push(
        name,
        RecordedRequest::new(parts.method.as_str(), path, &parts.headers, &bytes),
    );
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
