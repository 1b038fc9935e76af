//! The `tests` strategy's evidence: each candidate against the tests anyone can see.
//!
//! What runs is the repository's own test suite as it is at the base commit, plus the new test
//! files the agents wrote (every agent's, so one agent's reproduction test also judges the
//! others' fixes). Edits agents made to existing test files are dropped: a candidate must not
//! win by weakening the tests that judge it. The hidden test patch and the FAIL_TO_PASS /
//! PASS_TO_PASS lists never reach this module: it works on a [`VisibleTask`], which does not
//! hold them.

use std::collections::BTreeMap;
use std::time::Duration;

use apprentice_core::Task;
use apprentice_patch::{FilePatch, Patch};
use apprentice_sandbox::{EnvKey, RepoSource, SandboxFactory};
use apprentice_verify::{LogParser, TestStatus, VerifyRequest, is_test_path, verify};

/// What may be known about a task when choosing among patches without its hidden tests.
#[derive(Debug, Clone, PartialEq)]
pub struct VisibleTask {
    pub instance_id: String,
    pub source: RepoSource,
    pub env: EnvKey,
    /// The task's test command, run over the whole suite (no test files appended).
    pub test_cmd: String,
}

impl VisibleTask {
    /// The visible part of `task`: its repository and test command, nothing else.
    pub fn of(task: &Task) -> Result<VisibleTask, String> {
        Ok(VisibleTask {
            instance_id: task.instance_id.clone(),
            source: task.repo_source()?.clone(),
            env: task.env_key(),
            test_cmd: task.test_cmd.clone(),
        })
    }
}

/// The new test files in `patches`, each path once (the first member to create it wins).
pub fn agent_tests<'a>(patches: impl IntoIterator<Item = &'a str>) -> Vec<FilePatch> {
    let mut out: Vec<FilePatch> = Vec::new();
    for text in patches {
        let Ok(patch) = Patch::parse(text) else {
            continue;
        };
        for file in patch.files {
            let new_test = file.is_creation() && is_test_path(file.path());
            if new_test && !out.iter().any(|f| f.path() == file.path()) {
                out.push(file);
            }
        }
    }
    out
}

/// A candidate's source changes (test-file edits dropped) plus the agents' new tests.
pub fn suite_patch(candidate: Option<&str>, tests: &[FilePatch]) -> Result<String, String> {
    let mut files: Vec<FilePatch> = match candidate {
        Some(text) => Patch::parse(text)
            .map_err(|e| format!("candidate patch: {e}"))?
            .files
            .into_iter()
            .filter(|f| !is_test_path(f.path()))
            .collect(),
        None => Vec::new(),
    };
    files.extend(tests.iter().cloned());
    Ok(Patch { files }.to_string())
}

/// Runs the visible suite in a fresh sandbox with `patch` applied. `Err` when the patch did not
/// apply or the tests could not run at all.
pub async fn run_suite(
    task: &VisibleTask,
    patch: String,
    factory: &dyn SandboxFactory,
    timeout: Duration,
) -> Result<BTreeMap<String, TestStatus>, String> {
    let sandbox = factory
        .create_for(&task.source, &task.env)
        .await
        .map_err(|e| e.to_string())?;
    let mut request = VerifyRequest::new(
        &task.instance_id,
        Some(patch),
        String::new(),
        Vec::new(),
        Vec::new(),
    );
    request.test_cmd = task.test_cmd.clone();
    request.log_parser = LogParser::Pytest;
    request.timeout = timeout;
    let report = verify(&request, sandbox.as_ref()).await;
    match report.error {
        Some(error) => Err(error.to_string()),
        None => Ok(report.test_statuses),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIX: &str = "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,1 +1,1 @@\n-y = 1\n+y = 2\ndiff --git a/tests/test_old.py b/tests/test_old.py\n--- a/tests/test_old.py\n+++ b/tests/test_old.py\n@@ -1,1 +1,1 @@\n-assert y == 2\n+assert True\ndiff --git a/tests/test_new.py b/tests/test_new.py\nnew file mode 100644\n--- /dev/null\n+++ b/tests/test_new.py\n@@ -0,0 +1,1 @@\n+assert y == 2\n";

    #[test]
    fn suites_keep_source_changes_and_new_tests_but_never_test_edits() {
        let tests = agent_tests([FIX, FIX, "not a diff"]);
        assert_eq!(tests.len(), 1);
        assert_eq!(tests[0].path(), "tests/test_new.py");
        let text = suite_patch(Some(FIX), &tests).unwrap();
        let files: Vec<String> = Patch::parse(&text)
            .unwrap()
            .files
            .iter()
            .map(|f| f.path().to_string())
            .collect();
        assert_eq!(files, ["m.py", "tests/test_new.py"]);
        let baseline = suite_patch(None, &tests).unwrap();
        assert!(!baseline.contains("m.py b/m.py"));
    }
}
