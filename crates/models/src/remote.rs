//! A policy served over HTTP by any OpenAI-compatible server.

use apprentice_core::{Completion, Message, ModelError, Policy, Role, Task, Usage};
use apprentice_llm::{ChatClient, ChatMessage, LlmError, OpenAiClient, RequestOptions};
use async_trait::async_trait;

/// The most a policy may write in one turn; a tool call is rarely longer.
const MAX_REPLY_TOKENS: u32 = 1024;

#[derive(Debug)]
pub struct RemotePolicy {
    name: String,
    client: Box<dyn ChatClient>,
    options: RequestOptions,
}

impl RemotePolicy {
    pub fn openai(model: &str, base_url: &str, api_key: Option<String>) -> Result<Self, String> {
        let client = OpenAiClient::new(model, base_url, api_key).map_err(|e| e.to_string())?;
        Ok(RemotePolicy {
            name: format!("openai:{model}@{base_url}"),
            client: Box::new(client),
            options: RequestOptions {
                max_tokens: MAX_REPLY_TOKENS,
                temperature: Some(0.0),
                // Stopping at the closing tag saves tokens; the parser tolerates its absence.
                stop: vec!["</tool_call>".into()],
                ..RequestOptions::default()
            },
        })
    }

    /// Asks a llama.cpp server to apply its adapter id 0 at `scale` on every request.
    pub fn with_lora_scale(mut self, scale: Option<f32>) -> Self {
        self.options.lora_scale = scale;
        if let Some(s) = scale {
            self.name = format!("{}+lora@{s}", self.name);
        }
        self
    }
}

pub(crate) fn to_chat(messages: &[Message]) -> Vec<ChatMessage> {
    messages
        .iter()
        .map(|m| match m.role {
            Role::System => ChatMessage::system(&m.content),
            Role::User => ChatMessage::user(&m.content),
            Role::Assistant => ChatMessage::assistant(&m.content),
        })
        .collect()
}

pub(crate) fn model_error(error: LlmError) -> ModelError {
    if error.is_infrastructure() {
        ModelError::infrastructure(error.to_string())
    } else {
        ModelError::fatal(error.to_string())
    }
}

pub(crate) fn usage(model: &str, usage: &apprentice_llm::Usage) -> Usage {
    Usage {
        input_tokens: usage.total_input_tokens(),
        output_tokens: usage.output_tokens,
        cost_usd: apprentice_llm::cost::cost_usd(model, usage).unwrap_or(0.0),
    }
}

/// The dearest a call can be: the prompt (estimated from its characters) plus a full reply.
pub(crate) fn max_cost(model: &str, prompt_chars: usize, max_tokens: u32) -> f64 {
    let tokens = (prompt_chars as u64).div_ceil(apprentice_llm::budget::CHARS_PER_TOKEN);
    apprentice_llm::cost::max_cost_usd(model, tokens, max_tokens).unwrap_or(0.0)
}

#[async_trait]
impl Policy for RemotePolicy {
    fn name(&self) -> String {
        self.name.clone()
    }

    async fn propose(
        &mut self,
        _task: &Task,
        messages: &[Message],
    ) -> Result<Completion, ModelError> {
        let completion = self
            .client
            .chat("", &to_chat(messages), &self.options)
            .await
            .map_err(model_error)?;
        Ok(Completion {
            usage: usage(self.client.model(), &completion.usage),
            truncated: completion.hit_max_tokens(),
            text: completion.text,
        })
    }

    fn max_call_cost(&self, prompt_chars: usize) -> f64 {
        max_cost(self.client.model(), prompt_chars, self.options.max_tokens)
    }
}
