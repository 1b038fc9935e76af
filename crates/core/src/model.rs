//! What a policy is: something that reads a conversation and writes the next message.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Task;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message {
            role,
            content: content.into(),
        }
    }
}

/// Tokens and dollars of one model call (or a sum of calls).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cost_usd += other.cost_usd;
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    pub usage: Usage,
    /// The reply stopped at the token limit rather than at its end.
    pub truncated: bool,
}

/// A model call that failed. `infrastructure` failures (rate limits, a dead server) are the
/// harness's problem: the attempt is retried and never scored as the agent's failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ModelError {
    pub message: String,
    pub infrastructure: bool,
}

impl ModelError {
    pub fn infrastructure(message: impl Into<String>) -> Self {
        ModelError {
            message: message.into(),
            infrastructure: true,
        }
    }

    pub fn fatal(message: impl Into<String>) -> Self {
        ModelError {
            message: message.into(),
            infrastructure: false,
        }
    }
}

/// The agent's model.
#[async_trait]
pub trait Policy: Send {
    /// The spec string this policy was built from, for the store and reports.
    fn name(&self) -> String;

    /// Writes the next assistant message given the conversation so far.
    async fn propose(
        &mut self,
        task: &Task,
        messages: &[Message],
    ) -> Result<Completion, ModelError>;

    /// Dollars a call with this many prompt characters may cost at most, checked against the
    /// budget before the call is made. Local models cost nothing.
    fn max_call_cost(&self, _prompt_chars: usize) -> f64 {
        0.0
    }
}
