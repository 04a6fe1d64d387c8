//! The control API (`/_control`): what tests and `switchboard demo` use to drive the simulators.
//!
//! Routes common to all simulators live here (health, faults, gateway URL, recorded requests);
//! each simulator adds its own (`/_control/ghl/...`, `/_control/sendblue/...`). Errors use the
//! project's stable shape `{code, detail}`, unlike the simulators, which speak their vendor's.

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use crate::faults::FaultSpec;
use crate::shared::{fault_targets, Shared};
use crate::SIMULATORS;

/// A control API error: `{code, detail}` with an HTTP status.
#[derive(Debug)]
pub(crate) struct ControlError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
}

impl ControlError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            detail: detail.into(),
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            detail: detail.into(),
        }
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"code": self.code, "detail": self.detail})),
        )
            .into_response()
    }
}

/// Parse a JSON control body, answering 400 `{code, detail}` when it does not fit.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ControlError> {
    let body = if body.is_empty() { &b"{}"[..] } else { body };
    serde_json::from_slice(body).map_err(|e| ControlError::bad_request(e.to_string()))
}

/// `{line, url}`: where a simulator posts a line's webhooks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookBody {
    line: String,
    url: Option<String>,
}

/// Applies a `POST /_control/{provider}/webhooks` body to a simulator's webhook table:
/// `url` sets where `line`'s webhooks go, `url: null` forgets it.
pub(crate) fn set_line_webhook(
    webhooks: &mut std::collections::HashMap<String, String>,
    body: &[u8],
) -> Result<Json<serde_json::Value>, ControlError> {
    let WebhookBody { line, url } = parse(body)?;
    match url {
        Some(u) => {
            url::Url::parse(&u).map_err(|e| ControlError::bad_request(format!("url: {e}")))?;
            webhooks.insert(line.clone(), u.clone());
            Ok(Json(json!({"line": line, "url": u})))
        }
        None => {
            webhooks.remove(&line);
            Ok(Json(json!({"line": line, "url": null})))
        }
    }
}

/// Where a simulated contact's message is posted: the request's own `url`, else the URL
/// registered for the line, else the gateway's webhook for `channel_id` on `provider`.
pub(crate) fn inbound_webhook_url(
    shared: &Shared,
    provider: &str,
    webhooks: &std::collections::HashMap<String, String>,
    line: &str,
    url: Option<&str>,
    channel_id: Option<&str>,
) -> Result<String, ControlError> {
    url.map(str::to_string)
        .or_else(|| webhooks.get(line).cloned())
        .or_else(|| {
            let gateway = shared.gateway()?;
            channel_id.map(|c| format!("{gateway}/webhooks/{provider}/{c}"))
        })
        .ok_or_else(|| {
            ControlError::bad_request(
                "no webhook URL: give url or channelId, or register one for the line",
            )
        })
}

pub(crate) fn router(shared: Shared) -> Router {
    let mut router = Router::new()
        .route("/health", get(health))
        .route(
            "/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route(
            "/gateway",
            get(get_gateway).put(set_gateway).post(set_gateway),
        );
    for name in fault_targets() {
        router = router.route(
            &format!("/{name}/requests"),
            get(list_requests).delete(clear_requests),
        );
    }
    let mut router = router.with_state(shared.clone());
    for sim in SIMULATORS {
        router = router.merge((sim.control)(shared.clone()));
    }
    router.fallback(not_found)
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn add_fault(State(shared): State<Shared>, body: Bytes) -> Result<Response, ControlError> {
    let spec: FaultSpec = parse(&body)?;
    let id = shared
        .faults
        .add(spec, &fault_targets())
        .map_err(ControlError::bad_request)?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}

async fn list_faults(State(shared): State<Shared>) -> Json<Vec<serde_json::Value>> {
    Json(shared.faults.list())
}

async fn clear_faults(State(shared): State<Shared>) -> StatusCode {
    shared.faults.clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GatewayBody {
    #[serde(alias = "baseUrl", alias = "gateway_base_url")]
    url: Option<String>,
}

async fn get_gateway(State(shared): State<Shared>) -> Json<serde_json::Value> {
    Json(json!({"url": shared.gateway()}))
}

async fn set_gateway(
    State(shared): State<Shared>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ControlError> {
    let GatewayBody { url } = parse(&body)?;
    if let Some(u) = &url {
        let parsed = url::Url::parse(u).map_err(|e| ControlError::bad_request(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ControlError::bad_request("url must be http or https"));
        }
    }
    shared.set_gateway(url);
    Ok(Json(json!({"url": shared.gateway()})))
}

/// The simulator name is the first segment of the matched path (`/ghl/requests`).
fn simulator_of(uri: &OriginalUri) -> String {
    let path = uri.0.path();
    let path = path.strip_prefix("/_control").unwrap_or(path);
    path.trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn list_requests(
    State(shared): State<Shared>,
    uri: OriginalUri,
) -> Json<Vec<crate::RecordedRequest>> {
    Json(shared.recorder.list(&simulator_of(&uri)))
}

async fn clear_requests(State(shared): State<Shared>, uri: OriginalUri) -> StatusCode {
    shared.recorder.clear(&simulator_of(&uri));
    StatusCode::NO_CONTENT
}

/// JSON 404 for anything outside the simulators and the control API.
pub(crate) async fn not_found(uri: OriginalUri) -> ControlError {
    ControlError::not_found(format!("no route for {}", uri.0.path()))
}
