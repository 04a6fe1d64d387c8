//! The OpenAI simulator, driven by the gateway's own model client (`ai::model`): a scripted
//! multi-step tool conversation, OpenAI's conversation rules, embeddings, and a 429.

use ai::model::{
    chat_request, classify, embeddings_request, parse_chat, parse_embeddings, ChatMessage,
    ChatRequest, FinishReason, ModelEndpoint, ToolSpec,
};
use outbound::{ApiRequest, ApiResponse, Failure};
use sandbox::SandboxOptions;
use serde_json::json;

use crate::{start, Harness};

fn endpoint(h: &Harness, key: &str) -> ModelEndpoint {
    ModelEndpoint {
        base_url: h.url("/openai"),
        api_key: key.into(),
        chat_model: "gpt-4o-mini".into(),
        embedding_model: Some("text-embedding-3-small".into()),
    }
}

async fn send(h: &Harness, request: ApiRequest) -> ApiResponse {
    h.run(request).await
}

fn availability() -> ToolSpec {
    ToolSpec {
        name: "check_availability",
        description: "Free appointment slots on a day",
        parameters: json!({"type": "object", "properties": {"date": {"type": "string"}}, "required": ["date"]}),
    }
}

#[tokio::test]
async fn a_scripted_tool_conversation_runs_to_its_answer() {
    let h = start(SandboxOptions::default()).await;
    h.control(
        "/openai/script",
        json!({"replies": [
            {"tool_calls": [{"name": "check_availability", "arguments": {"date": "2026-11-26"}}]},
            {"when": "10:00", "content": "Thursday at 10:00 is free. Shall I book it?"},
        ]}),
    )
    .await;
    let model = endpoint(&h, sandbox::OPENAI_SANDBOX_KEY);
    let tools = [availability()];
    let mut messages = vec![
        ChatMessage::System {
            content: "You book appointments.".into(),
        },
        ChatMessage::User {
            content: "Anything open Thursday?".into(),
        },
    ];
    let ask = |messages: &[ChatMessage]| {
        chat_request(
            &model,
            &ChatRequest {
                messages,
                tools: &tools,
                temperature: Some(0.2),
                max_tokens: Some(300),
            },
        )
    };
    let first = parse_chat(&send(&h, ask(&messages)).await).unwrap();
    assert_eq!(first.finish_reason, FinishReason::ToolCalls);
    let call = first.tool_calls[0].clone();
    assert_eq!(call.name, "check_availability");
    assert_eq!(call.arguments().unwrap()["date"], "2026-11-26");
    assert!(first.usage.total_tokens > 0);

    messages.push(first.as_message());
    messages.push(ChatMessage::Tool {
        tool_call_id: call.id.clone(),
        content: json!({"slots": ["10:00", "14:30"]}).to_string(),
    });
    let second = parse_chat(&send(&h, ask(&messages)).await).unwrap();
    assert_eq!(second.finish_reason, FinishReason::Stop);
    assert_eq!(
        second.content.as_deref(),
        Some("Thursday at 10:00 is free. Shall I book it?")
    );

    // With the script used up, the model echoes: still deterministic.
    messages.push(second.as_message());
    messages.push(ChatMessage::User {
        content: "Yes please".into(),
    });
    let third = parse_chat(&send(&h, ask(&messages)).await).unwrap();
    assert_eq!(
        third.content.as_deref(),
        Some("(sandbox model) You said: Yes please")
    );

    // A fenced message is echoed without its fence.
    messages.push(third.as_message());
    messages.push(ChatMessage::User {
        content: ai::fence("message from the contact", "Thanks!"),
    });
    let fourth = parse_chat(&send(&h, ask(&messages)).await).unwrap();
    assert_eq!(
        fourth.content.as_deref(),
        Some("(sandbox model) You said: Thanks!")
    );

    let seen = h.sandbox.requests("openai");
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[1].body["messages"][3]["role"], "tool");
    assert_eq!(seen[1].body["messages"][3]["tool_call_id"], call.id);
}

#[tokio::test]
async fn openais_rules_are_kept_and_their_errors_classified() {
    let h = start(SandboxOptions::default()).await;
    let refused = send(
        &h,
        chat_request(
            &endpoint(&h, "sk-wrong"),
            &ChatRequest {
                messages: &[ChatMessage::User {
                    content: "hi".into(),
                }],
                tools: &[],
                temperature: None,
                max_tokens: None,
            },
        ),
    )
    .await;
    assert_eq!(refused.status, 401);
    assert!(matches!(
        parse_chat(&refused),
        Err(Failure::Permanent { .. })
    ));

    let model = endpoint(&h, sandbox::OPENAI_SANDBOX_KEY);
    let orphan_tool = [
        ChatMessage::User {
            content: "hi".into(),
        },
        ChatMessage::Tool {
            tool_call_id: "call_nobody".into(),
            content: "{}".into(),
        },
    ];
    let unanswered = [
        ChatMessage::User {
            content: "hi".into(),
        },
        ChatMessage::Assistant {
            content: None,
            tool_calls: vec![ai::model::ToolCall {
                id: "call_1".into(),
                name: "check_availability".into(),
                arguments: "{}".into(),
            }],
        },
        ChatMessage::User {
            content: "hello?".into(),
        },
    ];
    for messages in [&orphan_tool[..], &unanswered[..], &[]] {
        let answer = send(
            &h,
            chat_request(
                &model,
                &ChatRequest {
                    messages,
                    tools: &[],
                    temperature: None,
                    max_tokens: None,
                },
            ),
        )
        .await;
        assert_eq!(answer.status, 400, "{messages:?}");
        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        assert!(body["error"]["message"].is_string());
        assert!(matches!(classify(&answer), Failure::Permanent { .. }));
    }

    h.control(
        "/faults",
        json!({"target": "openai", "kind": "rate_limit", "retry_after_secs": 3}),
    )
    .await;
    let limited = send(
        &h,
        chat_request(
            &model,
            &ChatRequest {
                messages: &orphan_tool[..1],
                tools: &[],
                temperature: None,
                max_tokens: None,
            },
        ),
    )
    .await;
    assert_eq!(limited.status, 429);
    match parse_chat(&limited) {
        Err(Failure::RateLimited { after, .. }) => assert_eq!(after.as_secs(), 3),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn embeddings_are_deterministic_and_close_for_shared_words() {
    let h = start(SandboxOptions::default()).await;
    let model = endpoint(&h, sandbox::OPENAI_SANDBOX_KEY);
    let texts: Vec<String> = [
        "We are open Monday to Friday, 8am to 6pm",
        "Opening hours: Monday to Friday 8am to 6pm",
        "Parking is free behind the building",
    ]
    .map(String::from)
    .to_vec();
    let request = embeddings_request(&model, &texts).unwrap();
    let got = parse_embeddings(&send(&h, request.clone()).await, texts.len()).unwrap();
    let again = parse_embeddings(&send(&h, request).await, texts.len()).unwrap();
    assert_eq!(got, again, "the same words, the same vectors");
    let cosine = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let similar = cosine(&got.vectors[0], &got.vectors[1]);
    let unrelated = cosine(&got.vectors[0], &got.vectors[2]);
    assert!(similar > unrelated + 0.3, "{similar} vs {unrelated}");

    // The SDK's default encoding, base64 of little-endian f32s, carries the same vector.
    let base64 = h
        .http
        .post(h.url("/openai/v1/embeddings"))
        .bearer_auth(sandbox::OPENAI_SANDBOX_KEY)
        .json(&json!({"model": "m", "input": texts[0], "encoding_format": "base64"}))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let encoded = base64["data"][0]["embedding"].as_str().unwrap();
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let decoded: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(decoded, got.vectors[0]);

    let empty = h
        .http
        .post(h.url("/openai/v1/embeddings"))
        .bearer_auth(sandbox::OPENAI_SANDBOX_KEY)
        .json(&json!({"model": "m", "input": [""]}))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 400);
}
