//! The HTTP face: routes and the layers every request passes through.

mod error;
mod health;
mod observe;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;

pub use error::ApiError;
pub use observe::REQUEST_ID;

use crate::AppState;

/// The application's routes, without the shared layers.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(crate::metrics::metrics_page))
        .route("/media/{*key}", get(crate::media::serve))
        .route("/ws", get(crate::live::connect))
        .merge(crate::webhooks::routes())
        .merge(crate::install::routes())
        .merge(crate::api::routes())
        .merge(crate::dashboard::routes())
}

/// Wraps `routes` in the layers every request gets, outermost first: a request id (taken
/// from `x-request-id` or made), tracing and metrics, a panic guard, the time limit, the
/// body size limit, and the rewrite of every error into the JSON error body.
pub fn app(state: AppState, routes: Router<AppState>) -> Router {
    let max_body = state.config.max_body_bytes;
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    routes
        .fallback(error::not_found)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), observe::MakeId))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
                .layer(axum::middleware::from_fn(observe::observe))
                .layer(axum::middleware::from_fn(error::json_errors))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    crate::dashboard::page::frame_policy,
                ))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    crate::auth::limit_api,
                ))
                .layer(CatchPanicLayer::custom(error::panic_response))
                .layer(TimeoutLayer::with_status_code(
                    axum::http::StatusCode::REQUEST_TIMEOUT,
                    timeout,
                ))
                .layer(DefaultBodyLimit::max(max_body)),
        )
        .with_state(state)
}
