//! The task's oracle solution as tool calls, and a supervisor that judges against it.

use apprentice_core::{Judgement, ModelError, Review, Supervisor, Trigger, Verdict};
use apprentice_tools::{ToolCall, ToolCatalog};
use async_trait::async_trait;
use serde_json::Value;

use crate::tools::{join_args, split_args};

/// Tools an oracle may use: not memory (the agent's), not bash (only in the realism variant).
const ORACLE_TOOLS: &[&str] = &["list_tools", "help", "call", "finish"];

/// Parses the oracle's `{"steps": [{"tool": ..., "args": {...}}, ...]}`. A `call`'s `args`
/// array becomes the space-separated text an agent would write. A missing final `finish` is
/// added, so the step count (the SPL reference) always includes ending the episode.
pub fn parse_oracle(stdout: &str) -> Result<Vec<ToolCall>, String> {
    let value: Value = serde_json::from_str(stdout.trim())
        .map_err(|e| format!("oracle output is not one JSON object: {e}"))?;
    let steps = value
        .get("steps")
        .and_then(Value::as_array)
        .ok_or("oracle output: field `steps` must be an array")?;
    let mut calls = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let tool = step
            .get("tool")
            .and_then(Value::as_str)
            .ok_or(format!("oracle output: steps[{i}].tool must be a string"))?;
        if !ORACLE_TOOLS.contains(&tool) {
            return Err(format!(
                "oracle output: steps[{i}].tool `{tool}` is not a discovery tool"
            ));
        }
        let mut call = ToolCall::new(tool);
        let args = step
            .get("args")
            .cloned()
            .unwrap_or(Value::Object(Default::default()));
        let Value::Object(args) = args else {
            return Err(format!("oracle output: steps[{i}].args must be an object"));
        };
        for (key, value) in args {
            let text = match value {
                Value::String(s) => s,
                Value::Array(items) => {
                    let words: Option<Vec<String>> =
                        items.iter().map(|v| v.as_str().map(String::from)).collect();
                    join_args(&words.ok_or(format!(
                        "oracle output: steps[{i}].args.{key} must be strings"
                    ))?)
                }
                other => other.to_string(),
            };
            call = call.arg(key, text);
        }
        calls.push(call);
    }
    if calls.last().is_none_or(|c| c.name != "finish") {
        calls.push(ToolCall::new("finish").arg("summary", "done"));
    }
    Ok(calls)
}

/// The environment tools an oracle's `call`s use: what an agent must discover.
pub fn needed_tools(steps: &[ToolCall]) -> Vec<String> {
    let mut tools: Vec<String> = Vec::new();
    for step in steps.iter().filter(|s| s.name == "call") {
        let name = step.get("name").unwrap_or_default().trim().to_string();
        if !tools.contains(&name) {
            tools.push(name);
        }
    }
    tools
}

/// Two calls do the same thing: same tool, same arguments (a `call`'s words compared after
/// splitting, so quoting style does not matter; `finish` summaries never matter).
pub fn same_action(a: &ToolCall, b: &ToolCall) -> bool {
    if a.name != b.name {
        return false;
    }
    match a.name.as_str() {
        "finish" => true,
        "call" => {
            a.get("name").map(str::trim) == b.get("name").map(str::trim)
                && split_args(a.get("args").unwrap_or_default()).ok()
                    == split_args(b.get("args").unwrap_or_default()).ok()
        }
        _ => a.arguments == b.arguments,
    }
}

/// A supervisor that knows the oracle's steps. It approves, except that it refuses a `finish`
/// while oracle actions are still undone, and when the agent looks stuck it hints the next
/// oracle action. No model, no cost.
#[derive(Debug)]
pub struct OracleGuide {
    steps: Vec<ToolCall>,
    catalog: ToolCatalog,
    /// Oracle steps the agent has already taken (matched in any order).
    done: Vec<bool>,
}

impl OracleGuide {
    pub fn new(steps: Vec<ToolCall>, catalog: ToolCatalog) -> Self {
        let done = vec![false; steps.len()];
        OracleGuide {
            steps,
            catalog,
            done,
        }
    }

    /// The first oracle action not yet taken that changes or inspects the environment.
    fn next_step(&self) -> Option<&ToolCall> {
        self.steps
            .iter()
            .zip(&self.done)
            .find(|(s, done)| !**done && s.name != "finish")
            .map(|(s, _)| s)
    }
}

#[async_trait]
impl Supervisor for OracleGuide {
    fn name(&self) -> String {
        "oracle".into()
    }

    async fn review(&mut self, review: &Review<'_>) -> Result<Judgement, ModelError> {
        let proposal = review.proposal;
        if let Some(i) =
            (0..self.steps.len()).find(|&i| !self.done[i] && same_action(&self.steps[i], proposal))
        {
            self.done[i] = true;
        }
        let next = self.next_step().map(|s| self.catalog.render_call(s));
        let verdict = match (proposal.name.as_str(), next, &review.trigger) {
            ("finish", Some(next), _) => Verdict::Reject {
                reason: format!("the task is not done yet. A useful next action:\n{next}"),
            },
            (_, Some(next), Trigger::Stuck(_)) => Verdict::Hint {
                text: format!("try this next:\n{next}"),
            },
            _ => Verdict::Approve,
        };
        Ok(Judgement::free(verdict))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oracle_steps_parse_with_args_as_words_and_a_final_finish() {
        let steps = parse_oracle(
            r#"{"steps": [{"tool": "list_tools", "args": {}},
                          {"tool": "call", "args": {"name": "gw", "args": ["config", "set", "a b"]}}]}"#,
        )
        .unwrap();
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[1].get("args"), Some("config set 'a b'"));
        assert_eq!(steps[2].name, "finish");
        assert_eq!(needed_tools(&steps), ["gw"]);
        assert!(
            parse_oracle(r#"{"steps": [{"tool": "rm"}]}"#)
                .unwrap_err()
                .contains("steps[0].tool")
        );
        assert!(parse_oracle("nope").is_err());
    }

    #[test]
    fn same_action_ignores_quoting_and_finish_summaries() {
        let a = ToolCall::new("call")
            .arg("name", "gw")
            .arg("args", "a 'b c'");
        let b = ToolCall::new("call")
            .arg("name", "gw ")
            .arg("args", "a \"b c\"");
        assert!(same_action(&a, &b));
        assert!(!same_action(
            &a,
            &ToolCall::new("call").arg("name", "gw").arg("args", "a b c")
        ));
        assert!(same_action(
            &ToolCall::new("finish").arg("summary", "x"),
            &ToolCall::new("finish")
        ));
    }
}
