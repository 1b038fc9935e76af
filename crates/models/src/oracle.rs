//! A supervisor with the answer key: it knows the gold patch and judges every proposal by
//! whether it moves the code toward the gold version of each file. No model, no cost.
//!
//! It is privileged (it sees what the agent cannot) but only says things the agent can act on
//! from what it can observe: a file and function to look at, or a concrete edit to make.

use std::collections::HashMap;
use std::time::Duration;

use apprentice_core::{Judgement, ModelError, Review, Supervisor, Task, Trigger, Verdict};
use apprentice_patch::Patch;
use apprentice_sandbox::Sandbox;
use apprentice_tools::ToolCall;
use apprentice_verify::is_test_path;
use async_trait::async_trait;
use similar::{DiffTag, TextDiff};

/// Shell commands that throw work away or rewrite history; never needed to fix an issue.
const DESTRUCTIVE: &[&str] = &[
    "git checkout",
    "git reset",
    "git stash",
    "git clean",
    "git restore",
    "rm -rf",
    "rm -r ",
];

#[derive(Debug)]
pub struct OracleSupervisor {
    gold: Patch,
    /// Gold contents of each file the fix touches, filled on first use from the sandbox's base.
    targets: HashMap<String, String>,
}

impl OracleSupervisor {
    pub fn new(task: &Task) -> Result<Self, String> {
        let gold = Patch::parse(&task.patch)
            .map_err(|e| format!("task `{}`: gold patch: {e}", task.instance_id))?;
        if gold.is_empty() {
            return Err(format!(
                "the oracle supervisor needs a gold patch, and task `{}` has none",
                task.instance_id
            ));
        }
        Ok(OracleSupervisor {
            gold,
            targets: HashMap::new(),
        })
    }

    fn gold_files(&self) -> Vec<String> {
        self.gold
            .files
            .iter()
            .map(|f| f.path().to_string())
            .collect()
    }

    /// The file as the gold patch leaves it.
    async fn target(&mut self, path: &str, sandbox: &dyn Sandbox) -> Result<String, ModelError> {
        if let Some(text) = self.targets.get(path) {
            return Ok(text.clone());
        }
        let file = self
            .gold
            .files
            .iter()
            .find(|f| f.path() == path)
            .ok_or_else(|| ModelError::fatal(format!("`{path}` is not in the gold patch")))?;
        let base = if file.is_creation() {
            String::new()
        } else {
            base_version(path, sandbox).await?
        };
        let target = apprentice_patch::apply_file(&base, file)
            .map_err(|e| ModelError::fatal(format!("gold patch does not apply: {e}")))?;
        self.targets.insert(path.to_string(), target.clone());
        Ok(target)
    }

    async fn current(&self, path: &str, sandbox: &dyn Sandbox) -> String {
        match sandbox.read_file(path).await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(_) => String::new(),
        }
    }

    async fn judge_edit(
        &mut self,
        path: &str,
        after: Option<String>,
        sandbox: &dyn Sandbox,
    ) -> Result<Verdict, ModelError> {
        if is_test_path(path) {
            return Ok(Verdict::Reject {
                reason: "Do not edit the tests; the tests that check this issue are hidden. Change the source code.".into(),
            });
        }
        if !self.gold_files().iter().any(|g| g == path) {
            return Ok(Verdict::Reject {
                reason: format!(
                    "`{path}` does not need to change to fix this issue. Look at {}.",
                    quoted(&self.gold_files())
                ),
            });
        }
        let target = self.target(path, sandbox).await?;
        let current = self.current(path, sandbox).await;
        let Some(after) = after else {
            // The edit cannot apply (e.g. old_str not found); the tool will say so itself.
            return Ok(Verdict::Approve);
        };
        if distance(&after, &target) < distance(&current, &target) {
            return Ok(Verdict::Approve);
        }
        Ok(self
            .revision(
                path,
                &current,
                &target,
                "This edit does not move the code toward a fix.",
            )
            .await)
    }

    /// A `str_replace` that makes the first needed change in `path`.
    async fn revision(&self, path: &str, current: &str, target: &str, why: &str) -> Verdict {
        match next_edit(current, target) {
            Some((old, new)) => Verdict::Revise {
                action: ToolCall::new("str_replace")
                    .arg("path", path)
                    .arg("old_str", old)
                    .arg("new_str", new),
                reason: format!("{why} Make this change in `{path}` instead."),
            },
            None => Verdict::Reject {
                reason: format!("{why} Look again at `{path}`."),
            },
        }
    }

    async fn judge_submit(&mut self, sandbox: &dyn Sandbox) -> Result<Verdict, ModelError> {
        for path in self.gold_files() {
            let target = self.target(&path, sandbox).await?;
            let current = self.current(&path, sandbox).await;
            if distance(&current, &target) > 0 {
                let why = format!("The fix is not complete: `{path}` still needs a change.");
                return Ok(self.revision(&path, &current, &target, &why).await);
            }
        }
        Ok(Verdict::Approve)
    }

    fn hint(&self) -> Verdict {
        let places: Vec<String> = self
            .gold
            .files
            .iter()
            .map(|f| match f.hunks.iter().find(|h| !h.section.is_empty()) {
                Some(h) => format!("`{}` near `{}`", f.path(), h.section),
                None => format!("`{}`", f.path()),
            })
            .collect();
        Verdict::Hint {
            text: format!("The problem is in {}.", places.join(" and ")),
        }
    }
}

async fn base_version(path: &str, sandbox: &dyn Sandbox) -> Result<String, ModelError> {
    let quoted_path = format!("'{}'", path.replace('\'', r"'\''"));
    let out = sandbox
        .exec(
            &format!("git show HEAD:{quoted_path}"),
            Duration::from_secs(30),
        )
        .await
        .map_err(|e| ModelError::infrastructure(e.to_string()))?;
    if !out.success() {
        return Err(ModelError::fatal(format!(
            "cannot read the base version of `{path}`: {}",
            out.output.trim()
        )));
    }
    Ok(out.output)
}

fn quoted(paths: &[String]) -> String {
    paths
        .iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Lines that differ between two texts (inserted plus deleted), ignoring trailing spaces.
fn distance(a: &str, b: &str) -> usize {
    let (a, b) = (normalise(a), normalise(b));
    TextDiff::from_lines(&a, &b)
        .ops()
        .iter()
        .filter(|op| op.tag() != DiffTag::Equal)
        .map(|op| op.old_range().len() + op.new_range().len())
        .sum()
}

fn normalise(text: &str) -> String {
    text.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The first differing block between `current` and `target`, widened with context lines until
/// the old text is unique in `current`, as (old, new) for a `str_replace`.
fn next_edit(current: &str, target: &str) -> Option<(String, String)> {
    let diff = TextDiff::from_lines(current, target);
    let op = diff.ops().iter().find(|op| op.tag() != DiffTag::Equal)?;
    let old_lines: Vec<&str> = current.split_inclusive('\n').collect();
    let new_lines: Vec<&str> = target.split_inclusive('\n').collect();
    let (old_range, new_range) = (op.old_range(), op.new_range());
    for context in 0..old_lines.len().max(1) {
        let before = context.min(old_range.start).min(new_range.start);
        let after = context
            .min(old_lines.len() - old_range.end)
            .min(new_lines.len() - new_range.end);
        let old: String = old_lines[old_range.start - before..old_range.end + after].concat();
        let new: String = new_lines[new_range.start - before..new_range.end + after].concat();
        if !old.is_empty() && current.matches(&old).count() == 1 {
            return Some((old, new));
        }
    }
    None
}

/// What `path` would contain after `call`, when the call is an edit that would apply.
async fn after_edit(call: &ToolCall, sandbox: &dyn Sandbox) -> Option<String> {
    let path = call.get("path")?;
    match call.name.as_str() {
        "create" => Some(call.get("content").unwrap_or_default().to_string()),
        "str_replace" => {
            let current = String::from_utf8(sandbox.read_file(path).await.ok()?).ok()?;
            let old = call.get("old_str")?;
            (!old.is_empty() && current.matches(old).count() == 1)
                .then(|| current.replacen(old, call.get("new_str").unwrap_or_default(), 1))
        }
        _ => None,
    }
}

fn normalise_path(path: &str) -> String {
    path.trim_start_matches("./").to_string()
}

#[async_trait]
impl Supervisor for OracleSupervisor {
    fn name(&self) -> String {
        "oracle".into()
    }

    async fn review(&mut self, review: &Review<'_>) -> Result<Judgement, ModelError> {
        let call = review.proposal;
        let verdict = match call.name.as_str() {
            "str_replace" | "create" => {
                let path = normalise_path(call.get("path").unwrap_or_default());
                let after = after_edit(call, review.sandbox).await;
                self.judge_edit(&path, after, review.sandbox).await?
            }
            "submit" => self.judge_submit(review.sandbox).await?,
            "bash" if DESTRUCTIVE.iter().any(|d| call.get("command").unwrap_or_default().contains(d)) => Verdict::Reject {
                reason: "This command would discard work or rewrite the repository; it is not needed to fix the issue.".into(),
            },
            _ if matches!(review.trigger, Trigger::Stuck(_)) => self.hint(),
            _ => Verdict::Approve,
        };
        Ok(Judgement::free(verdict))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_changed_lines() {
        assert_eq!(distance("a\nb\nc\n", "a\nb\nc\n"), 0);
        assert_eq!(distance("a\nx\nc\n", "a\nb\nc\n"), 2);
        assert_eq!(distance("a  \n", "a\n"), 0);
    }

    #[test]
    fn next_edit_is_unique_in_the_current_text() {
        let current = "x = 1\nreturn a\nx = 1\nreturn a - b\n";
        let target = "x = 1\nreturn a\nx = 1\nreturn a + b\n";
        let (old, new) = next_edit(current, target).unwrap();
        assert_eq!(old, "return a - b\n");
        assert_eq!(new, "return a + b\n");
        let current = "a\nb\na\nb\n";
        let (old, new) = next_edit(current, "a\nb\na\nc\n").unwrap();
        assert_eq!(current.matches(&old).count(), 1);
        assert_eq!(current.replacen(&old, &new, 1), "a\nb\na\nc\n");
    }
}
