//! The events the loop hands to a store, one per policy turn, as they happen.

use apprentice_tools::ToolCall;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Trigger, Usage, Verdict};

/// A supervisor's verdict as stored: the verdict, why it was asked, and whether it was only
/// recorded (`shadow`) rather than acted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictRecord {
    pub verdict: Verdict,
    pub trigger: Trigger,
    pub shadow: bool,
    pub usage: Usage,
    pub millis: u64,
}

/// One policy turn: what it said, how that parsed, what the supervisor ruled, what ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepEvent {
    pub index: usize,
    pub proposal_text: String,
    /// The parsed call; `None` when the text was a format error.
    pub proposal: Option<ToolCall>,
    pub format_error: Option<String>,
    pub verdict: Option<VerdictRecord>,
    /// The action that actually ran: the proposal, the supervisor's revision, or nothing.
    pub executed: Option<ToolCall>,
    /// What the policy reads next as the result of this turn.
    pub observation: String,
    /// The executed tool's own output, without the supervisor's words around it: what a
    /// trajectory reads like once the correction is folded in.
    pub tool_output: Option<String>,
    pub exit_code: Option<i32>,
    pub policy_usage: Usage,
    pub policy_millis: u64,
    pub exec_millis: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("could not record step: {0}")]
pub struct RecordError(pub String);

/// Receives each step as soon as it is complete, so a crash loses at most the turn in flight.
#[async_trait]
pub trait Recorder: Send {
    /// The conversation the episode starts from (system prompt and task), before any step.
    async fn start(&mut self, messages: &[crate::Message]) -> Result<(), RecordError>;

    async fn record(&mut self, step: &StepEvent) -> Result<(), RecordError>;
}
