//! `apprentice tasks list|validate|import`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use apprentice_harness::{Validation, validate_task};
use clap::Subcommand;
use futures::StreamExt;
use serde_json::json;

use super::{Context, load_tasks, require_repositories, sandbox_factory};
use crate::output::{CommandResult, Failure, Table, print_json};

#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// List the tasks of a source.
    List { source: String },
    /// Prove each task: FAIL_TO_PASS fails without the gold patch; everything passes with it.
    Validate {
        source: String,
        #[arg(long = "task", value_name = "ID")]
        task_ids: Vec<String>,
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// Seconds each test run may take.
        #[arg(long, default_value_t = 600)]
        test_timeout: u64,
        /// `local` or `docker`.
        #[arg(long, default_value = "local")]
        sandbox: String,
    },
    /// Write a source's tasks as task directories (task.toml, problem.md, gold.patch, test.patch).
    Import {
        source: String,
        #[arg(long, default_value = "tasks/imported")]
        out: PathBuf,
    },
}

pub async fn run(ctx: &Context, command: &TasksCommand) -> CommandResult {
    match command {
        TasksCommand::List { source } => list(ctx, source),
        TasksCommand::Validate {
            source,
            task_ids,
            workers,
            test_timeout,
            sandbox,
        } => validate(ctx, source, task_ids, *workers, *test_timeout, sandbox).await,
        TasksCommand::Import { source, out } => import(ctx, source, out),
    }
}

fn list(ctx: &Context, source: &str) -> CommandResult {
    let tasks = load_tasks(ctx, source, &[], None)?;
    if ctx.json {
        let rows: Vec<_> = tasks
            .iter()
            .map(|t| json!({"instance_id": t.instance_id, "repo": t.repo, "version": t.version,
                            "fail_to_pass": t.fail_to_pass.len(), "pass_to_pass": t.pass_to_pass.len(), "repository_available": t.source.is_some()}))
            .collect();
        print_json(&json!({"tasks": rows}))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&["task", "repo", "F2P", "P2P", "repository"]);
    for t in &tasks {
        let available = if t.source.is_some() {
            "available"
        } else {
            "missing (--repos)"
        };
        table.row(vec![
            t.instance_id.clone(),
            t.repo.clone(),
            t.fail_to_pass.len().to_string(),
            t.pass_to_pass.len().to_string(),
            available.into(),
        ]);
    }
    println!("{}\n{} task(s)", table.render(), tasks.len());
    Ok(ExitCode::SUCCESS)
}

async fn validate(
    ctx: &Context,
    source: &str,
    ids: &[String],
    workers: usize,
    timeout: u64,
    sandbox: &str,
) -> CommandResult {
    let tasks = load_tasks(ctx, source, ids, None)?;
    require_repositories(&tasks)?;
    let factory = sandbox_factory(sandbox)?;
    let bar = ctx.progress(tasks.len(), "validating");
    let timeout = Duration::from_secs(timeout);
    let mut results: Vec<Validation> = futures::stream::iter(&tasks)
        .map(|task| {
            let factory = factory.clone();
            async move { validate_task(task, factory.as_ref(), timeout).await }
        })
        .buffer_unordered(workers.max(1))
        .inspect(|v| {
            bar.inc(1);
            let line = match &v.reason {
                None => format!("valid    {}", v.task),
                Some(reason) => format!("INVALID  {}: {reason}", v.task),
            };
            ctx.note(&bar, line);
        })
        .collect()
        .await;
    bar.finish_and_clear();
    results.sort_by(|a, b| a.task.cmp(&b.task));
    let invalid: Vec<_> = results
        .iter()
        .filter(|v| !v.valid)
        .map(|v| json!({"task": v.task, "reason": v.reason}))
        .collect();
    if ctx.json {
        print_json(
            &json!({"tasks": results.len(), "valid": results.len() - invalid.len(), "invalid": invalid}),
        )?;
    } else {
        println!(
            "{} of {} task(s) valid",
            results.len() - invalid.len(),
            results.len()
        );
    }
    Ok(if invalid.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn import(ctx: &Context, source: &str, out: &std::path::Path) -> CommandResult {
    let tasks = load_tasks(ctx, source, &[], None)?;
    for task in &tasks {
        apprentice_tasks::write_task_dir(task, out).map_err(|e| Failure::Input(e.to_string()))?;
    }
    if ctx.json {
        print_json(&json!({"tasks": tasks.len(), "out": out}))?;
    } else {
        println!(
            "wrote {} task director{} under {}",
            tasks.len(),
            if tasks.len() == 1 { "y" } else { "ies" },
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
