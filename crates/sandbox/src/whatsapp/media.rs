//! Graph nodes by id: `GET /{version}/{phone_number_id}` (bearer) answers the business
//! phone number node to a token of that number (gateways read it to check credentials);
//! any other id is 400 / code 100, as Meta answers an object the token cannot see.
//!
//! Media: the lookup `GET /{version}/{media_id}` (bearer) answers `{messaging_product, url,
//! mime_type, sha256, file_size, id}`, and the `url` it names serves the bytes, again only
//! with the bearer (Meta's download host refuses anonymous requests).
//!
//! The download URL is built on the request's Host header: the sandbox has no public URL
//! of its own, and whoever reached the lookup can reach the download the same way.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{authenticate, error, is_version, unix_now};
use crate::shared::{lock, Shared};

pub(crate) async fn lookup_unversioned(
    State(shared): State<Shared>,
    Path(media_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    lookup(&shared, &media_id, &headers)
}

pub(crate) async fn lookup_versioned(
    State(shared): State<Shared>,
    Path((version, media_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !is_version(&version) {
        return super::invalid("Unknown path components");
    }
    lookup(&shared, &media_id, &headers)
}

fn missing(media_id: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        100,
        &format!("Unsupported get request. Object with ID '{media_id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."),
        None,
    )
}

fn lookup(shared: &Shared, media_id: &str, headers: &HeaderMap) -> Response {
    let accounts = match authenticate(shared, headers) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    // The same path names a business phone number: its node, for the token's own numbers.
    if let Some(number) = accounts.iter().find(|a| a.phone_number_id == media_id) {
        return Json(json!({
            "verified_name": format!("Sandbox {}", number.line),
            "display_phone_number": number.display_phone_number(),
            "id": number.phone_number_id,
            "quality_rating": "GREEN",
            "code_verification_status": "VERIFIED",
            "platform_type": "CLOUD_API",
            "throughput": {"level": "STANDARD"},
        }))
        .into_response();
    }
    let state = lock(&shared.whatsapp);
    let Some(media) = state.media.get(media_id).filter(|m| owned(&accounts, m)) else {
        return missing(media_id);
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let digest = super::control::hex_sha256(&media.bytes);
    Json(json!({
        "messaging_product": "whatsapp",
        "url": format!("http://{host}/whatsapp/whatsapp_business/attachments?mid={media_id}&ext={}", unix_now()),
        "mime_type": media.mime_type,
        "sha256": digest,
        "file_size": media.bytes.len(),
        "id": media_id,
    }))
    .into_response()
}

/// Media is reachable only with a token of the number that received it.
fn owned(accounts: &[super::Account], media: &super::Media) -> bool {
    accounts
        .iter()
        .any(|a| a.phone_number_id == media.phone_number_id)
}

#[derive(Deserialize)]
pub(crate) struct Download {
    mid: Option<String>,
}

/// `GET /whatsapp_business/attachments?mid=…`: the bytes, with the bearer of the account
/// that owns them.
pub(crate) async fn download(
    State(shared): State<Shared>,
    Query(query): Query<Download>,
    headers: HeaderMap,
) -> Response {
    let accounts = match authenticate(&shared, &headers) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    let media_id = query.mid.unwrap_or_default();
    let state = lock(&shared.whatsapp);
    match state.media.get(&media_id).filter(|m| owned(&accounts, m)) {
        Some(media) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, media.mime_type.clone())],
            media.bytes.clone(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}
