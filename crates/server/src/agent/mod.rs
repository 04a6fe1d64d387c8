//! The AI agent (flow 3): what it is told ([`prompt`]) and how it calls the model.
//!
//! The model is an OpenAI-compatible API (`ai::model`, sans I/O) reached through the
//! shared outbound executor, so it gets the same time limits, breaker and metrics as
//! every other API. The job that runs a reply is `jobs::ai_reply`.

pub mod prompt;

use std::time::Duration;

use ai::model::{
    chat_request, parse_chat, ChatMessage, ChatReply, ChatRequest, ModelEndpoint, ToolSpec,
};
use outbound::{Call, Failure, Outbound};
use secrecy::ExposeSecret;

/// How long one completion may take: models are slow, a text reply can wait.
const CHAT_TIMEOUT: Duration = Duration::from_secs(60);

/// The model the configuration names, when the AI may answer at all (a key is set).
pub fn endpoint(config: &config::Config) -> Option<ModelEndpoint> {
    let key = config.openai_api_key.as_ref()?;
    Some(ModelEndpoint {
        base_url: config.openai_api_base.clone(),
        api_key: key.expose_secret().to_string(),
        chat_model: config.openai_model.clone(),
        embedding_model: None,
    })
}

/// One completion through the executor; the breaker is per model server.
pub async fn complete(
    outbound: &Outbound,
    endpoint: &ModelEndpoint,
    messages: &[ChatMessage],
    tools: &[ToolSpec],
) -> Result<ChatReply, Failure> {
    let call = Call::new(
        "openai",
        "chat_completions",
        format!("openai:{}", endpoint.base_url),
    )
    .with_timeout(CHAT_TIMEOUT);
    let request = chat_request(
        endpoint,
        &ChatRequest {
            messages,
            tools,
            temperature: Some(0.3),
            max_tokens: Some(400),
        },
    );
    let response = outbound.execute(&call, request).await?;
    parse_chat(&response)
}
