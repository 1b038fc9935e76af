//! Verification of a task's patch in a fresh sandbox, and proving a task is well formed.

use std::time::Duration;

use apprentice_core::Task;
use apprentice_sandbox::SandboxFactory;
use apprentice_verify::{
    DEFAULT_TEST_CMD, LogParser, Report, ResolutionStatus, VerifyRequest, verify,
};
use serde::Serialize;

/// Grades `patch` for `task` in a fresh copy of its repository.
pub async fn grade_patch(
    task: &Task,
    patch: Option<String>,
    factory: &dyn SandboxFactory,
    timeout: Duration,
) -> Result<Report, String> {
    let source = task.repo_source()?;
    let sandbox = factory
        .create_for(source, &task.env_key())
        .await
        .map_err(|e| e.to_string())?;
    let mut request = VerifyRequest::new(
        &task.instance_id,
        patch,
        &task.test_patch,
        task.fail_to_pass.clone(),
        task.pass_to_pass.clone(),
    );
    let (test_cmd, log_parser) = test_recipe(task, factory)?;
    request.test_cmd = test_cmd;
    request.log_parser = log_parser;
    request.timeout = timeout;
    Ok(verify(&request, sandbox.as_ref()).await)
}

/// The test command and log parser for `task`: a command the task sets itself (anything but
/// the default, e.g. an instance's `test_cmd` field) wins, for a per-instance override; then
/// the repository's spec, as the factory knows it (the one source for local and Docker runs);
/// then pytest `-rA` and the parser SWE-bench uses for the repository.
pub fn test_recipe(
    task: &Task,
    factory: &dyn SandboxFactory,
) -> Result<(String, LogParser), String> {
    let spec = factory.test_spec(&task.env_key());
    let log_parser = match &spec {
        Some(spec) => spec.log_parser.parse::<LogParser>().map_err(|e| {
            format!(
                "task `{}`: the spec for {} {}: {e}",
                task.instance_id, task.repo, task.version
            )
        })?,
        None => LogParser::for_repo(&task.repo),
    };
    let test_cmd = match spec {
        Some(spec) if task.test_cmd == DEFAULT_TEST_CMD => spec.test_cmd,
        _ => task.test_cmd.clone(),
    };
    Ok((test_cmd, log_parser))
}

/// Whether a task proves what it claims.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Validation {
    pub task: String,
    pub valid: bool,
    pub reason: Option<String>,
}

/// A task is valid when, without the gold patch, every FAIL_TO_PASS test fails, and with it,
/// every FAIL_TO_PASS and PASS_TO_PASS test passes.
pub async fn validate_task(
    task: &Task,
    factory: &dyn SandboxFactory,
    timeout: Duration,
) -> Validation {
    let reason = validation_problem(task, factory, timeout).await.err();
    Validation {
        task: task.instance_id.clone(),
        valid: reason.is_none(),
        reason,
    }
}

async fn validation_problem(
    task: &Task,
    factory: &dyn SandboxFactory,
    timeout: Duration,
) -> Result<(), String> {
    if task.patch.trim().is_empty() {
        return Err("no gold patch".into());
    }
    if task.fail_to_pass.is_empty() {
        return Err("FAIL_TO_PASS is empty".into());
    }
    let before = grade_patch(task, None, factory, timeout).await?;
    if let Some(error) = &before.error {
        return Err(format!("without the gold patch: {error}"));
    }
    let passing: Vec<&String> = before.tests_status.fail_to_pass.success.iter().collect();
    if !passing.is_empty() {
        return Err(format!(
            "FAIL_TO_PASS tests pass without the fix: {}",
            list(&passing)
        ));
    }
    let after = grade_patch(task, Some(task.patch.clone()), factory, timeout).await?;
    if let Some(error) = &after.error {
        return Err(format!("with the gold patch: {error}"));
    }
    if after.status != ResolutionStatus::Full {
        let failing: Vec<&String> = after
            .tests_status
            .fail_to_pass
            .failure
            .iter()
            .chain(&after.tests_status.pass_to_pass.failure)
            .collect();
        return Err(format!(
            "with the gold patch the grade is {}; failing: {}",
            after.status.as_str(),
            list(&failing)
        ));
    }
    Ok(())
}

fn list(tests: &[&String]) -> String {
    const SHOWN: usize = 5;
    let mut text = tests
        .iter()
        .take(SHOWN)
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if tests.len() > SHOWN {
        text.push_str(&format!(" and {} more", tests.len() - SHOWN));
    }
    text
}
