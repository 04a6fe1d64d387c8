//! The OpenAI API: chat completions and embeddings.

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde_json::{json, Value};

use super::{error, ScriptedReply};
use crate::shared::{lock, Reject, Shared};

/// Dimensions of the sandbox's embeddings.
pub const DIMENSIONS: usize = 64;
/// OpenAI's limit on inputs per embeddings request.
const MAX_INPUTS: usize = 2048;

fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<(), Reject> {
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if lock(&shared.openai).keys.iter().any(|k| k == key) {
        Ok(())
    } else {
        Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
        )))
    }
}

fn bad(message: impl AsRef<str>) -> Reject {
    Box::new(error(StatusCode::BAD_REQUEST, message.as_ref()))
}

fn body_of(body: &Bytes) -> Result<Value, Reject> {
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        bad("We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)")
    })?;
    if !value.is_object() {
        return Err(bad("The request body must be a JSON object."));
    }
    if value["model"].as_str().is_none_or(str::is_empty) {
        return Err(bad("you must provide a model parameter"));
    }
    Ok(value)
}

fn with_rate_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit-requests", "5000"),
        ("x-ratelimit-remaining-requests", "4999"),
        ("x-ratelimit-reset-requests", "12ms"),
        ("x-ratelimit-limit-tokens", "160000"),
        ("x-ratelimit-remaining-tokens", "159976"),
        ("x-ratelimit-reset-tokens", "9ms"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if let Ok(id) = HeaderValue::from_str(&format!("req_{:032x}", fastrand::u128(..))) {
        headers.insert("x-request-id", id);
    }
    response
}

/// The conversation rules OpenAI enforces on `messages`.
fn check_messages(messages: &[Value]) -> Result<(), Reject> {
    if messages.is_empty() {
        return Err(bad("[] is too short - 'messages'"));
    }
    let mut open_calls: HashSet<String> = HashSet::new();
    for (n, message) in messages.iter().enumerate() {
        let role = message["role"].as_str().unwrap_or_default();
        if role != "tool" && !open_calls.is_empty() {
            return Err(bad("An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'."));
        }
        match role {
            "system" | "developer" | "user" => {
                if !(message["content"].is_string() || message["content"].is_array()) {
                    return Err(bad(format!("Invalid value for 'content' at messages[{n}]")));
                }
            }
            "assistant" => {
                for call in message["tool_calls"].as_array().into_iter().flatten() {
                    let id = call["id"].as_str().unwrap_or_default();
                    let name_ok = call["function"]["name"]
                        .as_str()
                        .is_some_and(valid_tool_name);
                    if id.is_empty() || !name_ok || !call["function"]["arguments"].is_string() {
                        return Err(bad(format!("Invalid 'tool_calls' at messages[{n}]")));
                    }
                    open_calls.insert(id.to_string());
                }
                if message["content"].is_null() && open_calls.is_empty() {
                    return Err(bad(format!(
                        "messages[{n}]: an assistant message needs content or tool_calls"
                    )));
                }
            }
            "tool" => {
                let id = message["tool_call_id"].as_str().unwrap_or_default();
                if !open_calls.remove(id) {
                    return Err(bad("Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."));
                }
            }
            other => {
                return Err(bad(format!("Invalid value: '{other}'. Supported values are: 'system', 'assistant', 'user', 'tool', and 'developer'.")));
            }
        }
    }
    if !open_calls.is_empty() {
        return Err(bad("An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'."));
    }
    Ok(())
}

fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn text_of(message: &Value) -> String {
    match &message["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// The text without data-fence marker lines (`<<<DATA …>>>`, `<<<END DATA>>>`), which a
/// gateway wraps untrusted text in: the echo repeats what the contact wrote.
fn unfenced(text: &str) -> String {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("<<<"))
        .collect::<Vec<_>>()
        .join(" ")
        .trim()
        .to_string()
}

/// The next scripted reply that fits, or the echo.
fn next_reply(shared: &Shared, messages: &[Value]) -> ScriptedReply {
    let last = messages
        .iter()
        .rev()
        .find(|m| matches!(m["role"].as_str(), Some("user" | "tool")))
        .map(text_of)
        .unwrap_or_default();
    let lowered = last.to_lowercase();
    let mut state = lock(&shared.openai);
    let fits = state.script.iter().position(|r| {
        r.when
            .as_ref()
            .is_none_or(|w| lowered.contains(&w.to_lowercase()))
    });
    match fits.and_then(|at| state.script.remove(at)) {
        Some(reply) => reply,
        None => ScriptedReply {
            when: None,
            content: Some(format!(
                "(sandbox model) You said: {}",
                unfenced(&last).chars().take(200).collect::<String>()
            )),
            tool_calls: Vec::new(),
        },
    }
}

/// A rough token count (4 characters a token), as OpenAI's usage reports tokens.
fn tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// `POST /v1/chat/completions`.
pub(crate) async fn chat_completions(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    complete(&shared, &headers, &body).unwrap_or_else(|refused| *refused)
}

fn complete(shared: &Shared, headers: &HeaderMap, body: &Bytes) -> Result<Response, Reject> {
    authenticate(shared, headers)?;
    let body = body_of(body)?;
    if body["stream"].as_bool() == Some(true) {
        return Err(bad("the sandbox model does not stream; send stream: false"));
    }
    let messages = body["messages"]
        .as_array()
        .ok_or_else(|| bad("you must provide a messages parameter"))?;
    check_messages(messages)?;
    for tool in body["tools"].as_array().into_iter().flatten() {
        if tool["type"] != "function"
            || !tool["function"]["name"]
                .as_str()
                .is_some_and(valid_tool_name)
        {
            return Err(bad("Invalid 'tools': each is {type: function, function: {name, parameters}} with a name of a-z, A-Z, 0-9, _ and -, at most 64"));
        }
    }
    let reply = next_reply(shared, messages);
    let served = {
        let mut state = lock(&shared.openai);
        state.served += 1;
        state.served
    };
    let tool_calls: Vec<Value> = reply
        .tool_calls
        .iter()
        .enumerate()
        .map(|(n, (name, arguments))| {
            json!({
                "id": format!("call_{served:06}_{n}"),
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            })
        })
        .collect();
    let finish_reason = if tool_calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };
    let mut message = json!({"role": "assistant", "content": reply.content, "refusal": null});
    if !tool_calls.is_empty() {
        message["tool_calls"] = json!(tool_calls);
    }
    let prompt_tokens: u64 = messages.iter().map(|m| tokens(&text_of(m))).sum();
    let completion_tokens = tokens(reply.content.as_deref().unwrap_or_default())
        + reply
            .tool_calls
            .iter()
            .map(|(n, a)| tokens(n) + tokens(a))
            .sum::<u64>();
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let answer = json!({
        "id": format!("chatcmpl-sandbox{served:08}"),
        "object": "chat.completion",
        "created": created,
        "model": body["model"],
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "system_fingerprint": "fp_sandbox",
    });
    Ok(with_rate_headers(Json(answer).into_response()))
}

/// A hashed bag of words: lowercase alphanumeric words, each adding ±1 to one of
/// [`DIMENSIONS`] buckets by a fixed hash (FNV-1a), normalised to length 1.
pub fn embed(text: &str) -> Vec<f32> {
    let mut vector = vec![0f32; DIMENSIONS];
    for word in text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in word.bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        let bucket = usize::try_from(hash % DIMENSIONS as u64).unwrap_or(0);
        vector[bucket] += if hash >> 63 == 0 { 1.0 } else { -1.0 };
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    vector
}

/// `POST /v1/embeddings`.
pub(crate) async fn embeddings(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    embed_inputs(&shared, &headers, &body).unwrap_or_else(|refused| *refused)
}

fn embed_inputs(shared: &Shared, headers: &HeaderMap, body: &Bytes) -> Result<Response, Reject> {
    authenticate(shared, headers)?;
    let body = body_of(body)?;
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => return Err(bad("'input' must be a string or an array of strings")),
    };
    if inputs.is_empty() || inputs.len() > MAX_INPUTS {
        return Err(bad(format!("'input' must hold 1 to {MAX_INPUTS} items")));
    }
    if inputs.iter().any(String::is_empty) {
        return Err(bad(
            "'$.input' is invalid: an input may not be an empty string",
        ));
    }
    let base64 = match body["encoding_format"].as_str() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(bad(format!(
                "Invalid value: '{other}'. Supported values are: 'float' and 'base64'."
            )))
        }
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let vector = embed(text);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let prompt_tokens: u64 = inputs.iter().map(|i| tokens(i)).sum();
    let answer = json!({
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    });
    Ok(with_rate_headers(Json(answer).into_response()))
}
