//! Held-out prompts: the contexts of assistant turns from trajectories the adapter did not
//! train on, each with the reply that was actually made there (for perplexity and KL).

use std::path::Path;

use apprentice_dataset::{SftVariant, is_held_out, sft_rows};
use apprentice_embedded::ChatMessage;
use apprentice_store::Store;
use serde_json::Value;

use crate::SweepError;

/// A context to generate from, and optionally the reply a trajectory made there.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub messages: Vec<ChatMessage>,
    pub reference: Option<String>,
}

/// Prompts from JSONL rows: TRL conversational rows (`{"messages": [...]}`, as `apprentice
/// export sft` writes them, e.g. its `.heldout.jsonl`), where every trained assistant turn
/// gives one prompt (its context) and reference (its content); or `{"prompt": "text"}` rows,
/// one user message each, without a reference.
pub fn from_jsonl(path: &Path) -> Result<Vec<Prompt>, SweepError> {
    let bad = |detail: String| SweepError::Input(format!("{}: {detail}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let mut prompts = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let row: Value = serde_json::from_str(line)
            .map_err(|e| bad(format!("line {}: not JSON ({e})", i + 1)))?;
        prompts.extend(from_row(&row).map_err(|e| bad(format!("line {}: {e}", i + 1)))?);
    }
    if prompts.is_empty() {
        return Err(bad(
            "no prompts (expected rows with `messages` or `prompt`)".into(),
        ));
    }
    Ok(prompts)
}

/// The prompts of one row (see [`from_jsonl`]).
pub fn from_row(row: &Value) -> Result<Vec<Prompt>, String> {
    if let Some(text) = row.get("prompt").and_then(Value::as_str) {
        return Ok(vec![Prompt {
            messages: vec![ChatMessage::user(text)],
            reference: None,
        }]);
    }
    let turns = row
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("expected a `messages` array or a `prompt` string")?;
    let mut context: Vec<ChatMessage> = Vec::new();
    let mut out = Vec::new();
    for (j, turn) in turns.iter().enumerate() {
        let field = |name: &str| {
            turn.get(name)
                .and_then(Value::as_str)
                .ok_or(format!("messages[{j}].{name} is missing or not a string"))
        };
        let (role, content) = (field("role")?, field("content")?);
        let trained = turn.get("train").and_then(Value::as_bool).unwrap_or(true);
        if role == "assistant" && trained && !context.is_empty() {
            out.push(Prompt {
                messages: context.clone(),
                reference: Some(content.to_string()),
            });
        }
        context.push(ChatMessage::new(role, content));
    }
    Ok(out)
}

/// Prompts from the stored episodes of `runs` (every run when empty) whose tasks fall in the
/// held-out split of `apprentice export --holdout FRACTION --seed SEED`, so an adapter trained
/// on that export never saw them.
pub async fn held_out(
    store: &Store,
    runs: &[String],
    fraction: f64,
    seed: u64,
) -> Result<Vec<Prompt>, SweepError> {
    let runs = if runs.is_empty() {
        store
            .runs()
            .await
            .map_err(|e| SweepError::Input(e.to_string()))?
            .into_iter()
            .map(|r| r.run)
            .collect()
    } else {
        runs.to_vec()
    };
    let episodes = store
        .graded_episodes(&runs)
        .await
        .map_err(|e| SweepError::Input(e.to_string()))?;
    let mut prompts = Vec::new();
    for row in sft_rows(&episodes, SftVariant::Clean, false) {
        if !is_held_out(&row.task, fraction, seed) {
            continue;
        }
        let value = serde_json::to_value(&row).map_err(|e| SweepError::Input(e.to_string()))?;
        prompts.extend(from_row(&value).map_err(SweepError::Input)?);
    }
    if prompts.is_empty() {
        return Err(SweepError::Input(format!(
            "no held-out trajectories in the store ({} run(s), holdout {fraction}, seed {seed}); \
             pass --prompts FILE, or --run RUN with a run whose tasks are held out",
            runs.len()
        )));
    }
    Ok(prompts)
}

/// At most `n` prompts, spread evenly over the list (trajectories come in order, and the first
/// turns of every episode look alike).
pub fn spread(prompts: Vec<Prompt>, n: usize) -> Vec<Prompt> {
    if prompts.len() <= n {
        return prompts;
    }
    let step = prompts.len() as f64 / n as f64;
    let picks: Vec<usize> = (0..n).map(|i| (i as f64 * step) as usize).collect();
    prompts
        .into_iter()
        .enumerate()
        .filter(|(i, _)| picks.contains(i))
        .map(|(_, p)| p)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_trained_assistant_turn_is_a_prompt_with_its_reply() {
        let row = json!({"messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "u"},
            {"role": "assistant", "content": "bad", "train": false},
            {"role": "user", "content": "no"},
            {"role": "assistant", "content": "good"}
        ]});
        let prompts = from_row(&row).unwrap();
        assert_eq!(prompts.len(), 1);
        assert_eq!(prompts[0].messages.len(), 4);
        assert_eq!(prompts[0].reference.as_deref(), Some("good"));
        assert_eq!(
            from_row(&json!({"prompt": "hi"})).unwrap()[0].reference,
            None
        );
        assert!(
            from_row(&json!({"messages": [{"role": "user"}]}))
                .unwrap_err()
                .contains("messages[0].content")
        );
    }

    #[test]
    fn spread_keeps_the_ends_and_evenly_between() {
        let ps: Vec<Prompt> = (0..10)
            .map(|i| Prompt {
                messages: vec![ChatMessage::user(i.to_string())],
                reference: None,
            })
            .collect();
        let picked: Vec<String> = spread(ps, 4)
            .iter()
            .map(|p| p.messages[0].content.clone())
            .collect();
        assert_eq!(picked, ["0", "2", "5", "7"]);
    }
}
