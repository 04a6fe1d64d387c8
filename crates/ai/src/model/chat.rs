//! Chat completions with tools: `POST {base}/v1/chat/completions`.
//!
//! The tool loop lives with the caller: when the answer's `finish_reason` is
//! `tool_calls`, it appends the assistant message unchanged (with its calls), one `tool`
//! message per call id, and asks again. `arguments` is a JSON *string* the model wrote and
//! may be invalid: [`ToolCall::arguments`] checks it, and a bad one goes back to the model
//! as the tool's error rather than failing the reply.

use outbound::{ApiRequest, ApiResponse, Failure};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use serde_json::{json, Value};

use super::{classify, ModelEndpoint};

/// One message of the conversation sent to the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum ChatMessage {
    System {
        content: String,
    },
    User {
        content: String,
    },
    Assistant {
        content: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
    },
    Tool {
        tool_call_id: String,
        content: String,
    },
}

/// A call the model asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The JSON text the model wrote, unchanged (it is sent back as written).
    pub arguments: String,
}

impl ToolCall {
    /// The arguments as a JSON object, or why they aren't one.
    pub fn arguments(&self) -> Result<serde_json::Map<String, Value>, String> {
        match serde_json::from_str::<Value>(&self.arguments) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err("the arguments must be a JSON object".into()),
            Err(e) => Err(format!("the arguments are not valid JSON: {e}")),
        }
    }
}

impl Serialize for ToolCall {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut call = serializer.serialize_struct("ToolCall", 3)?;
        call.serialize_field("id", &self.id)?;
        call.serialize_field("type", "function")?;
        call.serialize_field(
            "function",
            &json!({"name": self.name, "arguments": self.arguments}),
        )?;
        call.end()
    }
}

/// A tool offered to the model: a name (`a-z A-Z 0-9 _ -`, at most 64), what it does, and
/// its parameters as a JSON Schema object.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub parameters: Value,
}

impl Serialize for ToolSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        json!({
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            }
        })
        .serialize(serializer)
    }
}

/// What to ask.
#[derive(Debug, Clone, Copy)]
pub struct ChatRequest<'a> {
    pub messages: &'a [ChatMessage],
    pub tools: &'a [ToolSpec],
    pub temperature: Option<f32>,
    /// The reply's length limit, in tokens (`max_tokens`, the name every compatible server
    /// takes).
    pub max_tokens: Option<u32>,
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    Other(String),
}

/// Tokens spent, for the reply's record and billing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// The model's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatReply {
    pub content: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    /// The model that answered, as the server names it.
    pub model: String,
}

impl ChatReply {
    /// The assistant message to append before the tools' answers.
    pub fn as_message(&self) -> ChatMessage {
        ChatMessage::Assistant {
            content: self.content.clone(),
            tool_calls: self.tool_calls.clone(),
        }
    }
}

/// The request for one completion.
pub fn chat_request(endpoint: &ModelEndpoint, ask: &ChatRequest<'_>) -> ApiRequest {
    let mut body = json!({
        "model": endpoint.chat_model,
        "messages": ask.messages,
    });
    if !ask.tools.is_empty() {
        body["tools"] = json!(ask.tools);
        body["tool_choice"] = json!("auto");
    }
    if let Some(t) = ask.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(n) = ask.max_tokens {
        body["max_tokens"] = json!(n);
    }
    endpoint
        .authorised(ApiRequest::new(
            http::Method::POST,
            endpoint.url("chat/completions"),
        ))
        .json(&body)
}

fn malformed(why: &str) -> Failure {
    // A 2xx we can't read is the server's fault of the moment, not the request's.
    Failure::Retry {
        detail: format!("the model's answer is malformed: {why}"),
        after: None,
    }
}

/// Reads a completion, or what its failure means.
pub fn parse_chat(response: &ApiResponse) -> Result<ChatReply, Failure> {
    if !response.status.is_success() {
        return Err(classify(response));
    }
    let body: Value = serde_json::from_slice(&response.body).map_err(|_| malformed("not JSON"))?;
    let choice = body["choices"]
        .get(0)
        .ok_or_else(|| malformed("no choices"))?;
    let message = &choice["message"];
    let content = message["content"].as_str().map(str::to_string);
    let mut tool_calls = Vec::new();
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        let (Some(id), Some(name)) = (call["id"].as_str(), call["function"]["name"].as_str())
        else {
            return Err(malformed("a tool call without an id or a name"));
        };
        tool_calls.push(ToolCall {
            id: id.to_string(),
            name: name.to_string(),
            arguments: call["function"]["arguments"]
                .as_str()
                .unwrap_or("{}")
                .to_string(),
        });
    }
    let finish_reason = match choice["finish_reason"].as_str().unwrap_or("stop") {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_string()),
    };
    if content.is_none() && tool_calls.is_empty() && finish_reason == FinishReason::Stop {
        return Err(malformed("neither text nor tool calls"));
    }
    let tokens = |name: &str| body["usage"][name].as_u64().unwrap_or(0);
    Ok(ChatReply {
        content,
        tool_calls,
        finish_reason,
        usage: Usage {
            prompt_tokens: tokens("prompt_tokens"),
            completion_tokens: tokens("completion_tokens"),
            total_tokens: tokens("total_tokens"),
        },
        model: body["model"].as_str().unwrap_or_default().to_string(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn endpoint() -> ModelEndpoint {
        ModelEndpoint {
            base_url: "https://api.openai.com".into(),
            api_key: "sk-test".into(),
            chat_model: "gpt-4o-2024-08-06".into(),
            embedding_model: None,
        }
    }

    fn answer(status: u16, body: &str) -> ApiResponse {
        ApiResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: http::HeaderMap::new(),
            body: body.as_bytes().to_vec().into(),
        }
    }

    fn weather() -> ToolSpec {
        ToolSpec {
            name: "get_weather",
            description: "The weather in a city",
            parameters: json!({
                "type": "object",
                "properties": {"city": {"type": "string"}, "state": {"type": "string"}},
                "required": ["city", "state"],
                "additionalProperties": false
            }),
        }
    }

    #[test]
    fn the_request_has_the_references_shape() {
        let messages = [ChatMessage::User {
            content: "What's the weather like in SF?".into(),
        }];
        let request = chat_request(
            &endpoint(),
            &ChatRequest {
                messages: &messages,
                tools: &[weather()],
                temperature: None,
                max_tokens: None,
            },
        );
        assert_eq!(request.url, "https://api.openai.com/v1/chat/completions");
        assert_eq!(request.headers["authorization"], "Bearer sk-test");
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let reference: Value = serde_json::from_str(include_str!(
            "fixtures/openai-chat-completion-tools-request.json"
        ))
        .unwrap();
        assert_eq!(body["model"], reference["model"]);
        assert_eq!(body["messages"], reference["messages"]);
        assert_eq!(body["tools"][0]["type"], "function");
        assert_eq!(
            body["tools"][0]["function"]["parameters"],
            reference["tools"][0]["function"]["parameters"]
        );
        assert_eq!(body["tool_choice"], "auto");
    }

    #[test]
    fn a_tool_call_answer_is_read_and_goes_back_unchanged() {
        let reply = parse_chat(&answer(
            200,
            include_str!("fixtures/openai-chat-completion-tool-call-response.json"),
        ))
        .unwrap();
        assert_eq!(reply.finish_reason, FinishReason::ToolCalls);
        assert_eq!(reply.content, None);
        assert_eq!(reply.tool_calls[0].name, "get_weather");
        assert_eq!(
            reply.tool_calls[0].arguments().unwrap()["city"],
            "San Francisco"
        );
        assert_eq!(reply.usage.total_tokens, 67);
        let back = serde_json::to_value(reply.as_message()).unwrap();
        assert_eq!(back["role"], "assistant");
        assert_eq!(back["content"], Value::Null);
        assert_eq!(back["tool_calls"][0]["id"], "call_CUdUoJpsWWVdxXntucvnol1M");
        assert_eq!(
            back["tool_calls"][0]["function"]["arguments"],
            "{\"city\":\"San Francisco\",\"state\":\"CA\"}"
        );
        let tool = serde_json::to_value(ChatMessage::Tool {
            tool_call_id: "call_1".into(),
            content: "sunny".into(),
        })
        .unwrap();
        assert_eq!(
            tool,
            json!({"role": "tool", "tool_call_id": "call_1", "content": "sunny"})
        );
    }

    #[test]
    fn parallel_calls_and_bad_arguments() {
        let reply = parse_chat(&answer(
            200,
            include_str!("fixtures/openai-chat-completion-parallel-tool-calls-response.json"),
        ))
        .unwrap();
        assert!(reply.tool_calls.len() >= 2);
        let bad = ToolCall {
            id: "c".into(),
            name: "x".into(),
            arguments: "{not json".into(),
        };
        assert!(bad.arguments().unwrap_err().contains("not valid JSON"));
        let list = ToolCall {
            arguments: "[1]".into(),
            ..bad
        };
        assert!(list.arguments().is_err());
    }

    #[test]
    fn unreadable_answers_retry_and_errors_are_classified() {
        for body in [
            "<html>",
            "{}",
            r#"{"choices":[{"message":{"content":null},"finish_reason":"stop"}]}"#,
        ] {
            assert!(
                matches!(parse_chat(&answer(200, body)), Err(Failure::Retry { .. })),
                "{body}"
            );
        }
        assert!(matches!(
            parse_chat(&answer(
                401,
                r#"{"error":{"message":"bad key","type":"invalid_request_error","code":"invalid_api_key"}}"#
            )),
            Err(Failure::Permanent { .. })
        ));
    }
}
