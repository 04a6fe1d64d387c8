//! Control routes of the OpenAI simulator (`/_control/openai/...`): accepted keys and the
//! script of chat answers.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::ScriptedReply;
use crate::control::{parse, ControlError};
use crate::shared::{lock, Shared};

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/openai/keys", post(add_key))
        .route("/openai/script", post(add_script).delete(clear_script))
        .route("/openai/script", get(script))
        .with_state(shared)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyBody {
    key: String,
}

/// `POST /_control/openai/keys` {key}: accept another API key.
async fn add_key(State(shared): State<Shared>, body: Bytes) -> Result<Response, ControlError> {
    let body: KeyBody = parse(&body)?;
    if body.key.is_empty() {
        return Err(ControlError::bad_request("key must not be empty"));
    }
    lock(&shared.openai).keys.push(body.key);
    Ok(Json(json!({"ok": true})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolCallBody {
    name: String,
    /// An object (sent as its JSON text) or a string (sent as is, even if invalid JSON,
    /// to test how bad arguments are handled).
    #[serde(default)]
    arguments: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyBody {
    #[serde(default)]
    when: Option<String>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ToolCallBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptBody {
    replies: Vec<ReplyBody>,
}

/// `POST /_control/openai/script` {replies: [{when?, content?, tool_calls?: [{name,
/// arguments}]}]}: answers to give, in order (each taken once).
async fn add_script(State(shared): State<Shared>, body: Bytes) -> Result<Response, ControlError> {
    let body: ScriptBody = parse(&body)?;
    let mut replies = Vec::with_capacity(body.replies.len());
    for (n, reply) in body.replies.into_iter().enumerate() {
        if reply.content.is_none() && reply.tool_calls.is_empty() {
            return Err(ControlError::bad_request(format!(
                "replies[{n}]: give content, tool_calls or both"
            )));
        }
        let tool_calls = reply
            .tool_calls
            .into_iter()
            .map(|call| {
                let arguments = match call.arguments {
                    Value::String(text) => text,
                    Value::Null => "{}".to_string(),
                    other => other.to_string(),
                };
                (call.name, arguments)
            })
            .collect();
        replies.push(ScriptedReply {
            when: reply.when,
            content: reply.content,
            tool_calls,
        });
    }
    let mut state = lock(&shared.openai);
    state.script.extend(replies);
    Ok(Json(json!({"queued": state.script.len()})).into_response())
}

/// `DELETE /_control/openai/script`: forget what is left of the script.
async fn clear_script(State(shared): State<Shared>) -> Response {
    lock(&shared.openai).script.clear();
    Json(json!({"queued": 0})).into_response()
}

/// `GET /_control/openai/script`: how many answers are left.
async fn script(State(shared): State<Shared>) -> Response {
    Json(json!({"queued": lock(&shared.openai).script.len()})).into_response()
}
