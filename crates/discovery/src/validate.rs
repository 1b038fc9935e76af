//! Proving a suite: for every task and seed, the oracle's steps replayed through the tools make
//! `check` pass, doing nothing leaves it failing, and every service dies with its episode.
//! Pairs run in parallel, so port clashes between episodes show up here too.

use std::time::Instant;

use apprentice_tools::ToolSet;
use futures::StreamExt;
use serde::Serialize;

use crate::episode::{CheckResult, InfraError, check, oracle_steps, set_up, survivor};
use crate::task::TaskDef;
use crate::tools::{DiscoveryTools, ToolOptions};
use crate::workdir::Workdir;

/// The verdict on one task and seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedValidation {
    pub task: String,
    pub seed: u64,
    pub valid: bool,
    pub oracle_steps: usize,
    pub reason: Option<String>,
    pub millis: u64,
}

/// Validates every task × seed, `workers` pairs at a time, calling `on_result` as each ends.
pub async fn validate_suite(
    tasks: &[TaskDef],
    workers: usize,
    on_result: &(dyn Fn(&SeedValidation) + Sync),
) -> Vec<SeedValidation> {
    let jobs = tasks
        .iter()
        .flat_map(|t| t.seeds.iter().map(move |&s| (t, s)));
    let mut results: Vec<SeedValidation> = futures::stream::iter(jobs)
        .map(|(task, seed)| async move {
            let started = Instant::now();
            let outcome = validate_seed(task, seed).await;
            let result = SeedValidation {
                task: task.id.clone(),
                seed,
                valid: outcome.is_ok(),
                oracle_steps: *outcome.as_ref().unwrap_or(&0),
                reason: outcome.err(),
                millis: started.elapsed().as_millis().try_into().unwrap_or(u64::MAX),
            };
            on_result(&result);
            result
        })
        .buffer_unordered(workers.max(1))
        .collect()
        .await;
    results.sort_by(|a, b| (&a.task, a.seed).cmp(&(&b.task, b.seed)));
    results
}

/// Oracle passes, nothing fails; returns the oracle's step count.
async fn validate_seed(task: &TaskDef, seed: u64) -> Result<usize, String> {
    let solved = with_services(task, seed, |workdir| async move {
        let steps = oracle_steps(task, &workdir, seed).await?;
        let tools = DiscoveryTools::new(task.tools.clone(), &ToolOptions::default());
        for step in &steps {
            tools
                .execute(step, &workdir)
                .await
                .map_err(|e| InfraError(format!("replaying the oracle: {e}")))?;
        }
        Ok((check(task, &workdir, seed).await?, steps.len(), workdir))
    })
    .await?;
    let (result, steps) = solved;
    if !result.success {
        return Err(format!(
            "the oracle's steps do not pass check: {}",
            failed_parts(&result)
        ));
    }
    let (untouched, _) = with_services(task, seed, |workdir| async move {
        Ok((check(task, &workdir, seed).await?, 0, workdir))
    })
    .await?;
    if untouched.success {
        return Err("check passes when the agent does nothing".into());
    }
    Ok(steps)
}

/// Sets up, runs `body`, kills the services and checks that they are gone.
async fn with_services<F, Fut>(
    task: &TaskDef,
    seed: u64,
    body: F,
) -> Result<(CheckResult, usize), String>
where
    F: FnOnce(Workdir) -> Fut,
    Fut: std::future::Future<Output = Result<(CheckResult, usize, Workdir), InfraError>>,
{
    let workdir = set_up(task, seed).await.map_err(|e| e.0)?;
    let (result, steps, workdir) = body(workdir).await.map_err(|e| e.0)?;
    workdir.kill_services();
    if let Some(pid) = survivor(workdir.path()).await {
        return Err(format!("service pid {pid} from .pids survived the kill"));
    }
    Ok((result, steps))
}

fn failed_parts(result: &CheckResult) -> String {
    let failed: Vec<&str> = result
        .subgoals
        .iter()
        .filter(|(_, ok)| !**ok)
        .map(|(name, _)| name.as_str())
        .collect();
    let mut text = if failed.is_empty() {
        "success is false".to_string()
    } else {
        format!("failed subgoals: {}", failed.join(", "))
    };
    if !result.collateral.is_empty() {
        text.push_str(&format!("; collateral: {}", result.collateral.join(", ")));
    }
    text
}
