//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::ApiError;
use crate::AppState;

/// `GET /healthz`: the process answers. Deliberately checks nothing else, so a database
/// outage doesn't get healthy processes restarted.
pub(super) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: ready for traffic when the database answers and every migration this
/// build knows is applied.
pub(super) async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let db = state.store.db();
    if let Err(e) = db.ping().await {
        tracing::warn!(error = %e, "readiness: database unreachable");
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unreachable",
            "the database does not answer",
        ));
    }
    match db.is_migrated().await {
        Ok(true) => Ok(Json(json!({"status": "ready"}))),
        Ok(false) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_migrated",
            "the database schema is behind this build; run `switchboard migrate`",
        )),
        Err(e) => Err(ApiError::internal(e.to_string())),
    }
}
