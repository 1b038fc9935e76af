//! Plain data types shared by both clients.

use serde::{Deserialize, Serialize};
use std::ops::{Add, AddAssign};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions from the harness. The Anthropic client moves these into the `system`
    /// field, because the Messages API has no system role inside `messages`.
    System,
    /// The user / environment side (task text, tool results).
    User,
    /// The model's own earlier turns.
    Assistant,
}

impl Role {
    /// The wire name used by both APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One chat turn. Content is plain text: tool calls are XML inside the text, parsed by the
/// harness, so no structured tool-call fields are needed here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Author of the message.
    pub role: Role,
    /// Raw text.
    pub content: String,
}

impl ChatMessage {
    /// A message with an explicit role.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
}

/// Token counts of one call (or a sum of calls, via `+`/`+=`).
///
/// Semantics follow Anthropic's, so that cost is a plain dot product:
/// `input_tokens` are input tokens billed at the full input rate, and cached input is
/// counted separately. For OpenAI-compatible servers, `input_tokens` is
/// `prompt_tokens - prompt_tokens_details.cached_tokens` and the cached part goes into
/// `cache_read_input_tokens`; use [`Usage::total_input_tokens`] for "prompt size".
/// Servers that omit `usage` yield all zeros.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens billed at the base input rate.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
    /// Input tokens written to the prompt cache (Anthropic `cache_creation_input_tokens`).
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
    /// Input tokens read from the prompt cache (Anthropic `cache_read_input_tokens`,
    /// OpenAI `prompt_tokens_details.cached_tokens`).
    #[serde(default)]
    pub cache_read_input_tokens: u64,
}

impl Usage {
    /// A usage with only the two main counters set.
    pub fn new(input_tokens: u64, output_tokens: u64) -> Self {
        Self {
            input_tokens,
            output_tokens,
            ..Self::default()
        }
    }

    /// Every input token the model read, cached or not.
    pub fn total_input_tokens(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.cache_creation_input_tokens)
            .saturating_add(self.cache_read_input_tokens)
    }
}

impl AddAssign for Usage {
    fn add_assign(&mut self, rhs: Self) {
        self.input_tokens = self.input_tokens.saturating_add(rhs.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(rhs.output_tokens);
        self.cache_creation_input_tokens = self
            .cache_creation_input_tokens
            .saturating_add(rhs.cache_creation_input_tokens);
        self.cache_read_input_tokens = self
            .cache_read_input_tokens
            .saturating_add(rhs.cache_read_input_tokens);
    }
}

impl Add for Usage {
    type Output = Usage;
    fn add(mut self, rhs: Self) -> Self {
        self += rhs;
        self
    }
}

/// The result of one successful call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The generated text (OpenAI: `choices[0].message.content`; Anthropic: all `text`
    /// blocks concatenated). Empty when the server returned no content.
    pub text: String,
    /// Token counts reported by the server.
    pub usage: Usage,
    /// Why generation stopped, verbatim from the server (OpenAI `finish_reason` such as
    /// `"stop"`/`"length"`; Anthropic `stop_reason` such as `"end_turn"`/`"max_tokens"`).
    pub finish_reason: Option<String>,
    /// The model that answered, as the server named it (falls back to the requested name).
    pub model: String,
    /// Separate reasoning text (`reasoning_content`/`reasoning` from vLLM, llama.cpp,
    /// DeepSeek-style servers). Kept out of `text` on purpose: tool calls a model only
    /// *considered* while thinking must not be executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
}

impl Completion {
    /// Whether the server says output was cut by the token limit.
    pub fn hit_max_tokens(&self) -> bool {
        matches!(self.finish_reason.as_deref(), Some("length" | "max_tokens"))
    }
}

/// Per-call sampling and server options. Unset fields are not sent, so each server applies
/// its own default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestOptions {
    /// Upper bound on generated tokens. Always sent: Anthropic requires it, and it bounds
    /// the cost of every call for the budget check.
    pub max_tokens: u32,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Nucleus sampling. Some recent Claude models reject requests that set both this and
    /// `temperature`; set only one for them.
    pub top_p: Option<f32>,
    /// Stop sequences (OpenAI `stop`, Anthropic `stop_sequences`). Not sent when empty.
    pub stop: Vec<String>,
    /// Sampling seed (OpenAI-compatible servers only; the Messages API has none).
    pub seed: Option<u64>,
    /// llama.cpp server's per-request LoRA scale for adapter id 0, sent as
    /// `"lora": [{"id": 0, "scale": s}]` (effective scale `s * alpha / r`). Other adapters
    /// loaded on the server get scale 0 for the request. Ignored by the Anthropic client;
    /// vLLM and Ollama ignore the field (their scale is fixed at load time).
    pub lora_scale: Option<f32>,
}

impl Default for RequestOptions {
    fn default() -> Self {
        Self {
            max_tokens: 1024,
            temperature: None,
            top_p: None,
            stop: Vec::new(),
            seed: None,
            lora_scale: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_adds_up() {
        let mut u = Usage::new(10, 2);
        u += Usage {
            input_tokens: 1,
            output_tokens: 1,
            cache_creation_input_tokens: 5,
            cache_read_input_tokens: 7,
        };
        assert_eq!(u.input_tokens, 11);
        assert_eq!(u.output_tokens, 3);
        assert_eq!(u.total_input_tokens(), 23);
        assert_eq!((Usage::new(1, 1) + Usage::new(2, 3)).output_tokens, 4);
    }

    #[test]
    fn role_wire_names() {
        assert_eq!(
            serde_json::to_string(&ChatMessage::assistant("hi"))
                .ok()
                .as_deref(),
            Some(r#"{"role":"assistant","content":"hi"}"#)
        );
        assert_eq!(Role::System.as_str(), "system");
    }
}
