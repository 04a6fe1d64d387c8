//! The AI agent (flow 3): what it is told ([`prompt`]) and how it calls the model.
//!
//! The model is an OpenAI-compatible API (`ai::model`, sans I/O) reached through the
//! shared outbound executor, so it gets the same time limits, breaker and metrics as
//! every other API. The job that runs a reply is `jobs::ai_reply`.

pub mod memory;
pub mod prompt;
pub mod tools;

use std::time::Duration;

use ai::model::{
    chat_request, parse_chat, ChatMessage, ChatReply, ChatRequest, ModelEndpoint, ToolSpec,
};
use outbound::{Call, Failure, Outbound};
use secrecy::ExposeSecret;

/// How long one completion may take: models are slow, a text reply can wait.
const CHAT_TIMEOUT: Duration = Duration::from_secs(60);

/// The location's model: its own settings (`agent_settings`) over the operator's
/// defaults. `None` when no key is set for it anywhere: then the AI does not answer (a
/// keyless server such as Ollama takes any key).
pub fn endpoint(
    config: &config::Config,
    settings: &store::repo::AgentSettings,
    own_key: Option<&secrecy::SecretString>,
) -> Option<ModelEndpoint> {
    let key = own_key.or(config.openai_api_key.as_ref())?;
    Some(ModelEndpoint {
        base_url: settings
            .api_base
            .clone()
            .unwrap_or_else(|| config.openai_api_base.clone()),
        api_key: key.expose_secret().to_string(),
        chat_model: settings
            .chat_model
            .clone()
            .unwrap_or_else(|| config.openai_model.clone()),
        embedding_model: settings
            .embedding_model
            .clone()
            .or_else(|| config.openai_embedding_model.clone()),
    })
}

/// The location's model, read from the store: settings and own key.
pub async fn endpoint_for(
    store: &store::Store,
    config: &config::Config,
    scope: &store::TenantScope,
    location: &domain::LocationId,
) -> Result<(Option<ModelEndpoint>, store::repo::AgentSettings), store::StoreError> {
    let settings = store.agent_settings(scope, location).await?;
    let key = if settings.has_api_key {
        store.agent_model_key(scope, location).await?
    } else {
        None
    };
    Ok((endpoint(config, &settings, key.as_ref()), settings))
}

/// How long one embeddings call may take.
const EMBED_TIMEOUT: Duration = Duration::from_secs(60);

/// Embeds `inputs` through the executor; `Ok(None)` when the endpoint has no
/// embedding model.
pub async fn embed(
    outbound: &Outbound,
    endpoint: &ModelEndpoint,
    inputs: &[String],
) -> Result<Option<ai::model::Embeddings>, Failure> {
    let Some(request) = ai::model::embeddings_request(endpoint, inputs) else {
        return Ok(None);
    };
    let call = Call::new(
        "openai",
        "embeddings",
        format!("openai:{}", endpoint.base_url),
    )
    .with_timeout(EMBED_TIMEOUT);
    let response = outbound.execute(&call, request).await?;
    ai::model::parse_embeddings(&response, inputs.len()).map(Some)
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
