//! Downloading a contact's attachments.
//!
//! A webhook names media by id only (`image.id`). We keep it as `whatsapp-media:<id>` in
//! [`crate::InboundMessage::media_urls`]; downloading is two authenticated GETs: the
//! lookup `GET {base}/{id}`, which answers `{url, mime_type, sha256, file_size, id,
//! messaging_product}`, then the `url` it names, with the same bearer token (Meta refuses
//! the download without it).
//!
//! The token must not leak: the second GET follows only a location read from the
//! authenticated lookup answer, and never over plain http to a host other than the API
//! base's (the sandbox serves both on one http host; Meta's download host is https).

use http::Method;
use outbound::{ApiRequest, ApiResponse};
use serde_json::Value;

use crate::json;
use crate::ChannelError;

/// How an inbound attachment is referenced before it is downloaded.
pub const MEDIA_REFERENCE_PREFIX: &str = "whatsapp-media:";

/// `whatsapp-media:<id>`.
pub(super) fn reference(id: &str) -> String {
    format!("{MEDIA_REFERENCE_PREFIX}{id}")
}

pub(super) fn request(
    token: &str,
    api_base: &str,
    reference: &str,
) -> Result<ApiRequest, ChannelError> {
    let invalid = |reason: &str| ChannelError::InvalidMediaUrl {
        value: reference.chars().take(200).collect(),
        reason: reason.to_string(),
    };
    let request = match reference.strip_prefix(MEDIA_REFERENCE_PREFIX) {
        Some(id) => {
            let id = id.trim();
            let safe = !id.is_empty()
                && id.len() <= 128
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !safe {
                return Err(invalid("a WhatsApp media id is letters and digits"));
            }
            let url = crate::channel::endpoint(api_base, &format!("/{id}"))?;
            ApiRequest::new(Method::GET, url)
        }
        None => {
            let request = crate::media_get(reference)?;
            let target = url::Url::parse(reference).map_err(|e| invalid(&e.to_string()))?;
            let base = url::Url::parse(api_base).ok();
            let same_host = base.as_ref().is_some_and(|b| {
                b.host_str() == target.host_str()
                    && b.port_or_known_default() == target.port_or_known_default()
            });
            if target.scheme() != "https" && !same_host {
                return Err(invalid(
                    "the access token goes only over https, or to the API base's own host",
                ));
            }
            request
        }
    };
    Ok(request.header("authorization", format!("Bearer {token}")))
}

/// The download URL of a lookup answer; `None` when the response is the media itself.
pub(super) fn location(response: &ApiResponse) -> Option<String> {
    if !response.status.is_success() {
        return None;
    }
    let answer = json::object(&response.body).ok()?;
    match answer.get("url") {
        Some(Value::String(url)) if !url.trim().is_empty() => Some(url.trim().to_string()),
        _ => None,
    }
}
