//! The one error body: `{"code": "...", "detail": "...", "request_id": "..."}`.
//!
//! Handlers return [`ApiError`]. Errors that come from elsewhere — axum's extractor
//! rejections (bad JSON, wrong content type, body too large), the timeout, a panic, an
//! unknown route — are plain text; [`json_errors`] rewrites them into the same body so
//! clients parse one shape, whatever failed.

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::REQUEST_ID;

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, machine-readable: clients branch on it.
    pub code: &'static str,
    /// For people: what was wrong and, where useful, how to fix it.
    pub detail: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
        }
    }

    /// 400 with a stable `code` for the field or rule that failed.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    /// A failure of ours. The detail is logged, never shown: it may name internals.
    pub fn internal(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        tracing::error!(%detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side; quote the request id when reporting it",
        )
    }
}

impl From<store::StoreError> for ApiError {
    fn from(e: store::StoreError) -> Self {
        match e {
            store::StoreError::NotFound => Self::not_found(),
            store::StoreError::Conflict(detail) => {
                Self::new(StatusCode::CONFLICT, "conflict", detail)
            }
            other => Self::internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"code": self.code, "detail": self.detail});
        (self.status, axum::Json(body)).into_response()
    }
}

pub(super) async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no route for this method and path",
    )
}

pub(super) fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("a request handler panicked").into_response()
}

/// Largest plain-text error body worth quoting in `detail`.
const MAX_QUOTED: usize = 512;

/// Rewrites every error response into the JSON error body and adds the request id;
/// the dashboard's HTML error pages pass as they are.
pub(super) async fn json_errors(request: Request, next: Next) -> Response {
    let request_id = request.headers().get(&REQUEST_ID).cloned();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    // The dashboard's error pages are HTML on purpose: people read them.
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if is_page {
        tracing::info!(status = status.as_u16(), "page answered with an error");
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let bytes = to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let mut value: serde_json::Value = if is_json {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({}))
    } else {
        json!({})
    };
    if value.get("code").is_none() {
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_QUOTED)])
            .trim()
            .to_string();
        value = json!({"code": code_for(status), "detail": detail_for(status, text)});
    }
    if let (Some(id), Some(object)) = (
        request_id.as_ref().and_then(|v| v.to_str().ok()),
        value.as_object_mut(),
    ) {
        object.insert("request_id".into(), json!(id));
    }
    if status.is_server_error() {
        tracing::warn!(status = status.as_u16(), code = %value["code"], "request failed");
    } else {
        tracing::info!(status = status.as_u16(), code = %value["code"], detail = %value["detail"], "request rejected");
    }
    let body = serde_json::to_vec(&value).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

fn detail_for(status: StatusCode, text: String) -> String {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            "the request body is larger than this server accepts".into()
        }
        StatusCode::REQUEST_TIMEOUT => "the request took too long and was abandoned".into(),
        StatusCode::METHOD_NOT_ALLOWED => "this path does not accept that method".into(),
        s if s.is_server_error() => {
            "something went wrong on our side; quote the request id when reporting it".into()
        }
        _ if !text.is_empty() => text,
        s => s.canonical_reason().unwrap_or("error").to_string(),
    }
}
