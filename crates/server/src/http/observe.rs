//! Request ids, logs and metrics for every request.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::request_id::{MakeRequestId, RequestId};
use tracing::Instrument;

/// The header carrying the request id, in and out.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Makes `req_…` ids (sortable, like every other id of ours) for requests that come
/// without one.
#[derive(Debug, Clone, Copy)]
pub(super) struct MakeId;

impl MakeRequestId for MakeId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let id = format!("req_{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// Runs the request inside a span carrying its id, then logs and measures the response
/// by route template (not raw path, which would make a metric series per id).
pub(super) async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let span = tracing::info_span!("request", id = %request_id, %method, %route);
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    span.in_scope(|| tracing::info!(status, ms = elapsed.as_secs_f64() * 1000.0, "handled"));
    metrics::histogram!(
        "switchboard_http_request_duration_seconds",
        "route" => route,
        "method" => method.to_string(),
        "status" => status.to_string()
    )
    .record(elapsed.as_secs_f64());
    response
}
