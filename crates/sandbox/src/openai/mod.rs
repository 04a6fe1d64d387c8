//! OpenAI-compatible simulator, mounted at `/openai` with OpenAI's own paths
//! (`/openai/v1/chat/completions`, `/openai/v1/embeddings`), built from the reference's §6.
//!
//! Deterministic, so tests can prove whole journeys: chat answers come from a script the
//! test loads (`POST /_control/openai/script`: text replies and tool calls, taken in order,
//! each optionally only when the conversation's last user or tool message contains a given
//! text); with no script left, the answer is a fixed echo of the last user message.
//! Embeddings are hashed bags of words: the same words give the same vector, shared words
//! give close ones. Requests are checked as OpenAI checks them (the key, the model, a
//! `tool` message answering a call of the assistant message before it, every call answered).

pub(crate) mod api;
mod control;

use std::collections::VecDeque;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::shared::Shared;
use crate::Simulator;

pub(crate) const SIMULATOR: Simulator = Simulator {
    name: "openai",
    api,
    control: control::router,
    error_body,
};

/// The key every sandbox accepts; more can be added with `POST /_control/openai/keys`.
pub const SANDBOX_KEY: &str = "sk-sandbox";

/// One scripted answer.
#[derive(Debug, Clone)]
pub(crate) struct ScriptedReply {
    /// Only used when the last user or tool message contains this (case-insensitive).
    pub when: Option<String>,
    pub content: Option<String>,
    /// (name, arguments as JSON text).
    pub tool_calls: Vec<(String, String)>,
}

#[derive(Debug)]
pub(crate) struct OpenaiState {
    pub keys: Vec<String>,
    pub script: VecDeque<ScriptedReply>,
    /// Counts completions, for ids.
    pub served: u64,
}

impl Default for OpenaiState {
    fn default() -> Self {
        Self {
            keys: vec![SANDBOX_KEY.to_string()],
            script: VecDeque::new(),
            served: 0,
        }
    }
}

/// OpenAI's error shape.
fn error_body(status: u16, message: &str) -> Value {
    let (kind, code) = match status {
        401 => ("invalid_request_error", "invalid_api_key"),
        429 => ("requests", "rate_limit_exceeded"),
        400..=499 => ("invalid_request_error", "invalid_request"),
        _ => ("server_error", "server_error"),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(error_body(status.as_u16(), message))).into_response()
}

fn api(shared: Shared) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(api::chat_completions))
        .route("/v1/embeddings", post(api::embeddings))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(shared)
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Unknown request URL")
}
