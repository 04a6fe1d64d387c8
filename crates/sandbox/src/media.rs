//! A media host, mounted at `/media`: files that contacts "send", for the gateway to fetch.
//!
//! Providers hand the gateway links to a contact's attachments (SendBlue's `media_url`,
//! Twilio's `MediaUrl0`); the gateway downloads them. Tests and demos put a file here with
//! `PUT /_control/media/{name}` (the body is the file, its `Content-Type` is what the host
//! will answer with, none if absent) and pass `SANDBOX/media/{name}` as the link. Being a
//! simulator, it records requests and takes faults (`target: "media"`), so slow, failing and
//! missing media can be rehearsed.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::shared::{lock, Shared};
use crate::Simulator;

pub(crate) const SIMULATOR: Simulator = Simulator {
    name: "media",
    api,
    control,
    error_body,
};

/// Largest file the host keeps: above MMS and WhatsApp sizes, so size limits can be tested.
const MAX_FILE: usize = 32 * 1024 * 1024;

/// One hosted file.
#[derive(Debug, Clone)]
pub(crate) struct File {
    content_type: Option<String>,
    bytes: Bytes,
}

/// Hosted files by name.
#[derive(Debug, Default)]
pub(crate) struct MediaState {
    files: HashMap<String, File>,
}

fn api(shared: Shared) -> Router {
    Router::new()
        .route("/{name}", get(serve))
        .with_state(shared)
}

fn control(shared: Shared) -> Router {
    Router::new()
        .route("/media/{name}", put(host).delete(remove))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FILE))
        .with_state(shared)
}

fn error_body(code: u16, message: &str) -> Value {
    json!({"status": code, "message": message})
}

async fn serve(State(shared): State<Shared>, Path(name): Path<String>) -> Response {
    let Some(file) = lock(&shared.media).files.get(&name).cloned() else {
        return (StatusCode::NOT_FOUND, Json(error_body(404, "no such file"))).into_response();
    };
    let mut response = file.bytes.into_response();
    let headers = response.headers_mut();
    headers.remove(header::CONTENT_TYPE);
    if let Some(value) = file
        .content_type
        .and_then(|t| HeaderValue::from_str(&t).ok())
    {
        headers.insert(header::CONTENT_TYPE, value);
    }
    response
}

/// Twilio's media URL, `/twilio/2010-04-01/Accounts/{sid}/Messages/{sid}/Media/{sid}`:
/// the file hosted under the media sid's name, behind HTTP Basic auth with the account's
/// SID and auth token, as Twilio's media auth requires.
pub(crate) async fn twilio_media(
    State(shared): State<Shared>,
    Path((account, _message, media)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    match crate::twilio::authenticate(&shared, &headers) {
        Err(refusal) => *refusal,
        Ok(owner) if owner.sid != account => crate::twilio::error(
            StatusCode::NOT_FOUND,
            20404,
            "The requested resource was not found",
        ),
        Ok(_) => serve(State(shared), Path(media)).await,
    }
}

/// `PUT /_control/media/{name}`: host the body under `name`.
async fn host(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let size = body.len();
    lock(&shared.media).files.insert(
        name.clone(),
        File {
            content_type,
            bytes: body,
        },
    );
    Json(json!({"name": name, "size": size, "path": format!("/media/{name}")}))
}

/// `DELETE /_control/media/{name}`: stop hosting it (the host then answers 404).
async fn remove(State(shared): State<Shared>, Path(name): Path<String>) -> StatusCode {
    match lock(&shared.media).files.remove(&name) {
        Some(_) => StatusCode::NO_CONTENT,
        None => StatusCode::NOT_FOUND,
    }
}
