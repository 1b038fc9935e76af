//! Policies that replay a fixed list of replies: the gold patch as tool calls, or a file.

use std::collections::VecDeque;
use std::path::Path;

use apprentice_core::{Completion, Message, ModelError, Policy, Task, Usage};
use apprentice_patch::{FilePatch, Patch};
use apprentice_tools::{ToolCall, ToolCatalog};
use async_trait::async_trait;
use serde::Deserialize;

/// Replays replies in order, then submits. It ignores what it is told (rejections included),
/// which is exactly what makes it useful for testing the harness around it.
#[derive(Debug)]
pub struct ScriptedPolicy {
    name: String,
    replies: VecDeque<String>,
}

impl ScriptedPolicy {
    pub fn new(name: impl Into<String>, replies: Vec<String>) -> Self {
        ScriptedPolicy {
            name: name.into(),
            replies: replies.into(),
        }
    }

    /// The gold patch as the tool calls a careful agent would make: view each file, one
    /// `str_replace` per hunk (or `create` for new files), then `submit`.
    pub fn gold(task: &Task) -> Result<Self, String> {
        let patch = Patch::parse(&task.patch)
            .map_err(|e| format!("task `{}`: gold patch: {e}", task.instance_id))?;
        if patch.is_empty() {
            return Err(format!(
                "task `{}` has no gold patch to replay",
                task.instance_id
            ));
        }
        let catalog = ToolCatalog::standard();
        let replies = patch
            .files
            .iter()
            .flat_map(calls_for_file)
            .chain([ToolCall::new("submit")])
            .map(|call| catalog.render_call(&call))
            .collect();
        Ok(ScriptedPolicy::new("scripted:gold", replies))
    }

    /// Replies from a JSON array of strings, or JSON lines each `{"text": "..."}` or a string.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let replies = parse_script(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(ScriptedPolicy::new(
            format!("scripted:{}", path.display()),
            replies,
        ))
    }
}

fn calls_for_file(file: &FilePatch) -> Vec<ToolCall> {
    let path = file.path().to_string();
    if file.is_deletion() {
        return vec![ToolCall::new("bash").arg(
            "command",
            format!("git rm -q -- '{}'", path.replace('\'', r"'\''")),
        )];
    }
    if file.is_creation() {
        let content: String = file.hunks.iter().map(|h| h.new_text()).collect();
        return vec![
            ToolCall::new("create")
                .arg("path", &path)
                .arg("content", content),
        ];
    }
    let view = ToolCall::new("view").arg("path", &path);
    let edits = file.hunks.iter().map(|hunk| {
        ToolCall::new("str_replace")
            .arg("path", &path)
            .arg("old_str", hunk.old_text())
            .arg("new_str", hunk.new_text())
    });
    std::iter::once(view).chain(edits).collect()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ScriptLine {
    Text(String),
    Object { text: String },
}

fn parse_script(text: &str) -> Result<Vec<String>, String> {
    if text.trim_start().starts_with('[') {
        let lines: Vec<ScriptLine> =
            serde_json::from_str(text).map_err(|e| format!("not a JSON array of replies: {e}"))?;
        return Ok(lines.into_iter().map(ScriptLine::into_text).collect());
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str::<ScriptLine>(line)
                .map(ScriptLine::into_text)
                .map_err(|e| {
                    format!(
                        "line {}: expected {{\"text\": ...}} or a JSON string ({e})",
                        i + 1
                    )
                })
        })
        .collect()
}

impl ScriptLine {
    fn into_text(self) -> String {
        match self {
            ScriptLine::Text(text) | ScriptLine::Object { text } => text,
        }
    }
}

#[async_trait]
impl Policy for ScriptedPolicy {
    fn name(&self) -> String {
        self.name.clone()
    }

    async fn propose(
        &mut self,
        _task: &Task,
        _messages: &[Message],
    ) -> Result<Completion, ModelError> {
        let text = self
            .replies
            .pop_front()
            .unwrap_or_else(|| ToolCatalog::standard().render_call(&ToolCall::new("submit")));
        Ok(Completion {
            usage: Usage::default(),
            text,
            truncated: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_come_as_arrays_or_json_lines_with_errors_by_line() {
        assert_eq!(parse_script(r#"["a", {"text": "b"}]"#).unwrap(), ["a", "b"]);
        assert_eq!(
            parse_script("{\"text\": \"a\"}\n\n\"b\"\n").unwrap(),
            ["a", "b"]
        );
        assert!(
            parse_script("{\"text\": 1}\nnope")
                .unwrap_err()
                .contains("line 1")
        );
    }
}
