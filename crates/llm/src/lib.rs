//! HTTP clients for the models behind apprentice: small local models served over an
//! OpenAI-compatible API (llama.cpp server, vLLM, Ollama) and the supervising Claude
//! model over the Anthropic Messages API.
//!
//! * [`OpenAiClient`] / [`AnthropicClient`]: one non-streaming call per
//!   [`complete`](OpenAiClient::complete), text in, [`Completion`] out. Tool calls are XML
//!   inside the text and parsed elsewhere, so no structured tool-call support is needed.
//! * [`RetryPolicy`]: retries with exponential backoff and jitter for rate limits,
//!   overload, 5xx, unreachable servers and timeouts; `Retry-After` is honoured.
//! * [`LlmError::is_infrastructure`]: tells provider/network failures from bad requests.
//! * [`cost_usd`] and [`estimate_input_tokens`]: budgets before and after a call.
//! * [`Secret`]: API keys never show in `Debug`, logs or errors.
//!
//! # TLS
//! reqwest is built without its default aws-lc-rs provider (a heavy C build); the first
//! client built installs rustls' `ring` provider as the process default (see
//! `install_crypto_provider`), unless the process already installed one. Server
//! certificates are checked against the OS trust store (rustls-platform-verifier), so
//! containers need the `ca-certificates` package for HTTPS.

mod anthropic;
pub mod budget;
pub mod cost;
mod error;
mod http;
mod openai;
mod retry;
mod secret;
mod types;

pub use anthropic::{ANTHROPIC_DEFAULT_BASE_URL, ANTHROPIC_VERSION, AnthropicClient};
pub use budget::{estimate_input_tokens, estimate_max_cost_usd, estimate_tokens};
pub use cost::{Price, cost_usd, max_cost_usd, price_for};
pub use error::LlmError;
pub use http::DEFAULT_TIMEOUT;
pub use openai::OpenAiClient;
pub use retry::RetryPolicy;
pub use secret::{REDACTED, Secret};
pub use types::{ChatMessage, Completion, RequestOptions, Role, Usage};

/// Either client behind one interface, for code that should not care which API serves
/// the model (the agent loop runs apprentice models and Claude alike).
#[async_trait::async_trait]
pub trait ChatClient: Send + Sync + std::fmt::Debug {
    /// The model name sent in requests.
    fn model(&self) -> &str;

    /// One call. `system` may be empty. The OpenAI client sends it as a leading system
    /// message; the Anthropic client as the `system` field.
    async fn chat(
        &self,
        system: &str,
        messages: &[ChatMessage],
        opts: &RequestOptions,
    ) -> Result<Completion, LlmError>;
}

#[async_trait::async_trait]
impl ChatClient for OpenAiClient {
    fn model(&self) -> &str {
        OpenAiClient::model(self)
    }

    async fn chat(
        &self,
        system: &str,
        messages: &[ChatMessage],
        opts: &RequestOptions,
    ) -> Result<Completion, LlmError> {
        if system.is_empty() {
            return self.complete(messages, opts).await;
        }
        let mut all = Vec::with_capacity(messages.len() + 1);
        all.push(ChatMessage::system(system));
        all.extend_from_slice(messages);
        self.complete(&all, opts).await
    }
}

#[async_trait::async_trait]
impl ChatClient for AnthropicClient {
    fn model(&self) -> &str {
        AnthropicClient::model(self)
    }

    async fn chat(
        &self,
        system: &str,
        messages: &[ChatMessage],
        opts: &RequestOptions,
    ) -> Result<Completion, LlmError> {
        self.complete(system, messages, opts).await
    }
}
