//! The stylesheet and script, compiled into the binary. Served with an `ETag` of their
//! content and `no-cache`, so a browser revalidates (a 304, no body) and a new release
//! is never hidden behind a stale copy.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

const CSS: &str = include_str!("../../assets/app.css");
const JS: &str = include_str!("../../assets/app.js");
const GHL_JS: &str = include_str!("../../assets/ghl.js");

fn etag(content: &str) -> String {
    format!(
        "\"{}\"",
        &hex::encode(Sha256::digest(content.as_bytes()))[..16]
    )
}

static CSS_ETAG: LazyLock<String> = LazyLock::new(|| etag(CSS));
static JS_ETAG: LazyLock<String> = LazyLock::new(|| etag(JS));
static GHL_JS_ETAG: LazyLock<String> = LazyLock::new(|| etag(GHL_JS));

/// `GET /assets/{name}`: `app.css`, `app.js` or `ghl.js` (the GHL page's).
pub async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let (content, tag, kind) = match name.as_str() {
        "app.css" => (CSS, CSS_ETAG.as_str(), "text/css; charset=utf-8"),
        "app.js" => (JS, JS_ETAG.as_str(), "text/javascript; charset=utf-8"),
        "ghl.js" => (
            GHL_JS,
            GHL_JS_ETAG.as_str(),
            "text/javascript; charset=utf-8",
        ),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == tag.as_bytes());
    let mut response = if cached {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        content.into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(tag) = HeaderValue::from_str(tag) {
        h.insert(header::ETAG, tag);
    }
    response
}
