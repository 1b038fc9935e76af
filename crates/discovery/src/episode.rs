//! One benchmark episode: environment up, the supervised loop, `check`, environment down.

use std::path::Path;
use std::time::Duration;

use apprentice_core::{Message, RecordError, Recorder, StepEvent, Task, Transcript};
use apprentice_tools::{ToolCall, ToolCatalog, neutralize};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::metrics::{Action, Trajectory};
use crate::oracle::parse_oracle;
use crate::task::{Script, TaskDef};
use crate::tools::split_args;
use crate::workdir::Workdir;

/// How long `setup`, `check` and `oracle` may each run.
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// What `check` decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub success: bool,
    #[serde(default)]
    pub subgoals: std::collections::BTreeMap<String, bool>,
    #[serde(default)]
    pub collateral: Vec<String>,
}

/// Something outside the agent went wrong: the episode does not count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InfraError(pub String);

/// The last lines of a script's output, for an error message.
fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.trim_end().lines().collect();
    let start = lines.len().saturating_sub(5);
    lines[start..].join(" | ")
}

/// Runs `setup` in a fresh WORKDIR.
pub async fn set_up(task: &TaskDef, seed: u64) -> Result<Workdir, InfraError> {
    let workdir =
        Workdir::create().map_err(|e| InfraError(format!("cannot create a WORKDIR: {e}")))?;
    run_ok(task, &workdir, Script::Setup, seed).await?;
    Ok(workdir)
}

/// Runs one task script and returns its output; a script that fails is an infrastructure
/// error naming the task, seed, script and the end of its output.
async fn run_ok(
    task: &TaskDef,
    workdir: &Workdir,
    script: Script,
    seed: u64,
) -> Result<String, InfraError> {
    let name = script.file_name();
    let out = workdir
        .run_script(task, script, seed, SCRIPT_TIMEOUT)
        .await
        .map_err(|e| InfraError(format!("{}: {name} could not start: {e}", task.id)))?;
    if !out.success() {
        return Err(InfraError(format!(
            "{} seed {seed}: {name} {}: {}",
            task.id,
            exit_text(out.exit_code, out.timed_out),
            tail(&out.output)
        )));
    }
    Ok(out.output)
}

fn exit_text(code: Option<i32>, timed_out: bool) -> String {
    match (code, timed_out) {
        (_, true) => format!("timed out after {}s", SCRIPT_TIMEOUT.as_secs()),
        (Some(code), _) => format!("exited {code}"),
        (None, _) => "was killed".into(),
    }
}

/// The oracle's steps for this WORKDIR (run after setup; it must not change anything).
pub async fn oracle_steps(
    task: &TaskDef,
    workdir: &Workdir,
    seed: u64,
) -> Result<Vec<ToolCall>, InfraError> {
    let output = run_ok(task, workdir, Script::Oracle, seed).await?;
    let steps =
        parse_oracle(&output).map_err(|e| InfraError(format!("{} seed {seed}: {e}", task.id)))?;
    if let Some(name) = steps
        .iter()
        .filter(|s| s.name == "call" || s.name == "help")
        .filter_map(|s| s.get("name"))
        .find(|name| task.tool(name.trim()).is_none())
    {
        return Err(InfraError(format!(
            "{} seed {seed}: the oracle uses tool `{name}`, which task.toml does not offer",
            task.id
        )));
    }
    Ok(steps)
}

/// Runs `check` and parses its one JSON object.
pub async fn check(
    task: &TaskDef,
    workdir: &Workdir,
    seed: u64,
) -> Result<CheckResult, InfraError> {
    let output = run_ok(task, workdir, Script::Check, seed).await?;
    serde_json::from_str(output.trim()).map_err(|e| {
        InfraError(format!(
            "{} seed {seed}: check did not print one JSON object with a boolean `success` ({e}): {}",
            task.id,
            tail(&output)
        ))
    })
}

/// Waits up to a second for the services of `.pids` to be gone after a kill; names one that
/// is not.
pub async fn survivor(work: &Path) -> Option<u32> {
    let pids = crate::workdir::listed_pids(work);
    for _ in 0..20 {
        if !pids.iter().any(|&p| is_alive(p)) {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pids.into_iter().find(|&p| is_alive(p))
}

/// A process exists and is not a zombie.
fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// The loop's view of a benchmark task: the instruction as the problem statement, the family
/// as the repository, the seed as the version. There is no patch to grade.
pub fn core_task(task: &TaskDef, key: &str, seed: u64) -> Task {
    Task {
        instance_id: key.to_string(),
        repo: task.family.clone(),
        base_commit: String::new(),
        patch: String::new(),
        test_patch: String::new(),
        problem_statement: task.instruction.clone(),
        hints_text: String::new(),
        created_at: String::new(),
        version: seed.to_string(),
        fail_to_pass: Vec::new(),
        pass_to_pass: Vec::new(),
        environment_setup_commit: String::new(),
        test_cmd: String::new(),
        source: None,
    }
}

/// The opening conversation: the operator's role, the meta-tools, the user's request.
pub fn transcript(task: &TaskDef, catalog: &ToolCatalog) -> Transcript {
    let system = format!(
        "You are an operator working in a live environment on this machine (services, files, \
         repositories). You work through tools, one tool call per message. The environment's \
         own tools are not listed below: find them with list_tools, learn one with help, run \
         it with call. Look before you change anything, change only what the task needs, \
         check the result, then call finish.\n\n{}",
        catalog.system_prompt_section()
    );
    let user = format!(
        "<task>\n{}\n</task>\n\nWhen the task is done, call finish with a one-line summary.",
        neutralize(&task.instruction)
    );
    Transcript::new(system, user)
}

/// Passes steps to the store and keeps them for the metrics.
pub struct TeeRecorder<R> {
    pub inner: R,
    pub events: Vec<StepEvent>,
}

#[async_trait]
impl<R: Recorder> Recorder for TeeRecorder<R> {
    async fn start(&mut self, messages: &[Message]) -> Result<(), RecordError> {
        self.inner.start(messages).await
    }

    async fn record(&mut self, step: &StepEvent) -> Result<(), RecordError> {
        self.events.push(step.clone());
        self.inner.record(step).await
    }
}

/// The metric view of one step: what the agent proposed (a format error naming an unknown
/// top-level tool counts as a hallucinated call). Other format errors are no action.
pub fn action_of(step: &StepEvent, task: &TaskDef) -> Option<Action> {
    let index = step.index + 1;
    let Some(call) = &step.proposal else {
        return (step.format_error.as_deref() == Some("unknown_tool")).then(|| Action {
            step: index,
            tool: unknown_tool_name(&step.proposal_text),
            target: None,
            args: String::new(),
            hallucinated: true,
        });
    };
    let target = matches!(call.name.as_str(), "call" | "help")
        .then(|| call.get("name").unwrap_or_default().trim().to_string());
    let hallucinated = match (call.name.as_str(), &target) {
        ("call", Some(name)) => task.tool(name).is_none(),
        ("help", Some(name)) => {
            task.tool(name).is_none()
                && crate::tools::catalog(&Default::default())
                    .get(name)
                    .is_none()
        }
        _ => false,
    };
    let args = match call.name.as_str() {
        "call" => split_args(call.get("args").unwrap_or_default())
            .map(|w| w.join("\u{1f}"))
            .unwrap_or_else(|_| call.get("args").unwrap_or_default().to_string()),
        "finish" => String::new(),
        _ => serde_json::to_string(&call.arguments).unwrap_or_default(),
    };
    Some(Action {
        step: index,
        tool: call.name.clone(),
        target,
        args,
        hallucinated,
    })
}

/// The function name in a reply rejected as an unknown tool (`<function=NAME>`), if visible.
fn unknown_tool_name(reply: &str) -> String {
    reply
        .split_once("<function=")
        .and_then(|(_, rest)| rest.split(['>', '\n']).next())
        .map(|name| name.trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Everything the metrics need about one finished episode.
pub struct EpisodeFacts<'a> {
    pub task: &'a TaskDef,
    pub arm: &'a str,
    pub exposure: usize,
    pub seed: u64,
    pub success: bool,
    pub steps: usize,
    pub oracle: &'a [ToolCall],
    pub events: &'a [StepEvent],
}

pub fn trajectory(facts: EpisodeFacts<'_>) -> Trajectory {
    Trajectory {
        task: facts.task.id.clone(),
        arm: facts.arm.to_string(),
        exposure: facts.exposure,
        seed: facts.seed,
        success: facts.success,
        steps: facts.steps,
        oracle_steps: facts.oracle.len(),
        needed_tools: crate::oracle::needed_tools(facts.oracle),
        actions: facts
            .events
            .iter()
            .filter_map(|e| action_of(e, facts.task))
            .collect(),
    }
}
