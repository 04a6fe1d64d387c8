//! An OpenAI-compatible model API, sans I/O: requests to build and answers to read, for
//! chat completions with tools and for embeddings. The server sends them through the
//! shared outbound layer (time limits, breaker, metrics), like every other API.
//!
//! "OpenAI-compatible" covers OpenAI, OpenRouter, Ollama and vLLM: the same paths and
//! shapes under a different base URL. Bases are written either way in the wild
//! (`https://api.openai.com` or `https://openrouter.ai/api/v1`), so a base that already
//! ends in `/v1` gets no second one.

mod chat;
mod classify;
mod embeddings;

use std::fmt;

pub use chat::{
    chat_request, parse_chat, ChatMessage, ChatReply, ChatRequest, FinishReason, ToolCall,
    ToolSpec, Usage,
};
pub use classify::classify;
pub use embeddings::{embeddings_request, parse_embeddings, Embeddings};

/// Where a location's model lives and how to reach it.
#[derive(Clone)]
pub struct ModelEndpoint {
    /// `https://api.openai.com`, `http://127.0.0.1:11434/v1`, the sandbox's `…/openai`.
    pub base_url: String,
    /// Sent as `Authorization: Bearer …`; empty for servers that take none (Ollama).
    pub api_key: String,
    /// The chat model (`gpt-4o-mini`, `llama3.1`).
    pub chat_model: String,
    /// The embedding model, when one is configured; retrieval is lexical only without.
    pub embedding_model: Option<String>,
}

impl fmt::Debug for ModelEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelEndpoint")
            .field("base_url", &self.base_url)
            .field(
                "api_key",
                &if self.api_key.is_empty() { "" } else { "<set>" },
            )
            .field("chat_model", &self.chat_model)
            .field("embedding_model", &self.embedding_model)
            .finish()
    }
}

impl ModelEndpoint {
    /// The URL of `path` (`chat/completions`, `embeddings`) under the base's `/v1`.
    pub fn url(&self, path: &str) -> String {
        let base = self.base_url.trim_end_matches('/');
        if base.ends_with("/v1") {
            format!("{base}/{path}")
        } else {
            format!("{base}/v1/{path}")
        }
    }

    fn authorised(&self, request: outbound::ApiRequest) -> outbound::ApiRequest {
        let request = request.header("content-type", "application/json");
        if self.api_key.is_empty() {
            request
        } else {
            request.header("authorization", format!("Bearer {}", self.api_key))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn endpoint(base: &str) -> ModelEndpoint {
        ModelEndpoint {
            base_url: base.into(),
            api_key: "sk-test".into(),
            chat_model: "gpt-4o-mini".into(),
            embedding_model: None,
        }
    }

    #[test]
    fn bases_with_and_without_v1_reach_the_same_paths() {
        assert_eq!(
            endpoint("https://api.openai.com").url("chat/completions"),
            "https://api.openai.com/v1/chat/completions"
        );
        assert_eq!(
            endpoint("https://openrouter.ai/api/v1/").url("embeddings"),
            "https://openrouter.ai/api/v1/embeddings"
        );
        assert_eq!(
            endpoint("http://127.0.0.1:9/openai").url("embeddings"),
            "http://127.0.0.1:9/openai/v1/embeddings"
        );
    }

    #[test]
    fn the_key_is_never_in_debug_output() {
        assert!(!format!("{:?}", endpoint("https://x")).contains("sk-test"));
    }
}
