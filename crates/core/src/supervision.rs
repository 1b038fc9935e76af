//! What a supervisor may say about a proposed action, and when it is asked.

use apprentice_sandbox::Sandbox;
use apprentice_tools::ToolCall;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Message, ModelError, Task, Usage};

/// A supervisor's decision about one proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Verdict {
    Approve,
    /// The action does not run; the reason reaches the policy as the call's result.
    Reject {
        reason: String,
    },
    /// The supervisor's action runs instead of the proposal.
    Revise {
        action: ToolCall,
        reason: String,
    },
    /// The proposal runs, and the guidance is added to what the policy reads next.
    Hint {
        text: String,
    },
}

impl Verdict {
    /// Approval is the only verdict that is not an intervention.
    pub fn is_intervention(&self) -> bool {
        !matches!(self, Verdict::Approve)
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Reject { .. } => "reject",
            Verdict::Revise { .. } => "revise",
            Verdict::Hint { .. } => "hint",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub verdict: Verdict,
    pub usage: Usage,
}

impl Judgement {
    pub fn free(verdict: Verdict) -> Self {
        Judgement {
            verdict,
            usage: Usage::default(),
        }
    }
}

/// Why the supervisor is being asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "trigger", content = "detail", rename_all = "lowercase")]
pub enum Trigger {
    /// Every proposal is reviewed (`every`, `shadow`) or this one was sampled.
    Routine,
    /// The agent looks stuck; the detail says how.
    Stuck(String),
}

/// Everything a supervisor may look at for one proposal.
pub struct Review<'a> {
    pub task: &'a Task,
    /// The conversation the policy saw when it proposed.
    pub messages: &'a [Message],
    pub proposal_text: &'a str,
    pub proposal: &'a ToolCall,
    pub trigger: Trigger,
    pub step: usize,
    /// The working tree as it is now, for supervisors that inspect files.
    pub sandbox: &'a dyn Sandbox,
}

#[async_trait]
pub trait Supervisor: Send {
    fn name(&self) -> String;

    async fn review(&mut self, review: &Review<'_>) -> Result<Judgement, ModelError>;

    /// The most a review of this many prompt characters may cost, checked before the call.
    fn max_call_cost(&self, _prompt_chars: usize) -> f64 {
        0.0
    }
}

/// When the supervisor is consulted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum SupervisionMode {
    /// Every proposal is judged before it runs.
    Every,
    /// Only when the agent loops, repeats failing commands, slips on format or nears the budget.
    Stuck,
    /// A seeded random fraction of proposals.
    Sample(f64),
    /// Every proposal is judged, nothing is blocked: measures the would-have-intervened rate.
    Shadow,
}

impl std::str::FromStr for SupervisionMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "every" => Ok(SupervisionMode::Every),
            "stuck" => Ok(SupervisionMode::Stuck),
            "shadow" => Ok(SupervisionMode::Shadow),
            _ => {
                let fraction = s
                    .strip_prefix("sample:")
                    .and_then(|f| f.parse::<f64>().ok())
                    .filter(|f| (0.0..=1.0).contains(f));
                fraction.map(SupervisionMode::Sample).ok_or_else(|| {
                    format!("unknown supervision mode `{s}` (expected every, stuck, sample:F with 0<=F<=1, or shadow)")
                })
            }
        }
    }
}

impl std::fmt::Display for SupervisionMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SupervisionMode::Every => write!(f, "every"),
            SupervisionMode::Stuck => write!(f, "stuck"),
            SupervisionMode::Sample(x) => write!(f, "sample:{x}"),
            SupervisionMode::Shadow => write!(f, "shadow"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip_and_bad_ones_are_explained() {
        for text in ["every", "stuck", "shadow", "sample:0.25"] {
            let mode: SupervisionMode = text.parse().unwrap();
            assert_eq!(mode.to_string(), text);
        }
        let err = "sample:2".parse::<SupervisionMode>().unwrap_err();
        assert!(err.contains("sample:F"));
    }
}
