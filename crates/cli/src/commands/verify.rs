//! `apprentice verify`: grade a SWE-bench predictions file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use apprentice_harness::grade_patch;
use apprentice_verify::read_predictions;
use clap::Args;
use futures::StreamExt;
use serde_json::{Value, json};

use super::{Context, TaskSelection, load_tasks, require_repositories, sandbox_factory};
use crate::output::{CommandResult, Failure, print_json};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    selection: TaskSelection,
    /// SWE-bench predictions: JSONL (or a JSON array) of {instance_id, model_name_or_path, model_patch}.
    #[arg(long)]
    predictions: PathBuf,
    /// Write a SWE-bench-style report (keyed by instance_id) here.
    #[arg(long)]
    report: Option<PathBuf>,
    #[arg(long, default_value = "local")]
    sandbox: String,
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Seconds each test run may take.
    #[arg(long, default_value_t = 1800)]
    test_timeout: u64,
}

pub async fn run(ctx: &Context, args: &VerifyArgs) -> CommandResult {
    let predictions =
        read_predictions(&args.predictions).map_err(|e| Failure::Input(e.to_string()))?;
    let tasks = load_tasks(ctx, &args.selection.tasks, &args.selection.task_ids, None)?;
    let by_id: BTreeMap<&str, &apprentice_core::Task> =
        tasks.iter().map(|t| (t.instance_id.as_str(), t)).collect();
    let wanted: Vec<_> = predictions
        .iter()
        .filter(|p| {
            args.selection.task_ids.is_empty() || args.selection.task_ids.contains(&p.instance_id)
        })
        .take(args.selection.limit.unwrap_or(usize::MAX))
        .collect();
    if let Some(unknown) = wanted
        .iter()
        .find(|p| !by_id.contains_key(p.instance_id.as_str()))
    {
        return Err(Failure::Input(format!(
            "{}: instance `{}` is not in task source `{}`",
            args.predictions.display(),
            unknown.instance_id,
            args.selection.tasks
        )));
    }
    let selected: Vec<_> = wanted
        .iter()
        .filter_map(|p| by_id.get(p.instance_id.as_str()).map(|t| (*t).clone()))
        .collect();
    require_repositories(&selected)?;
    let factory = sandbox_factory(&args.sandbox)?;
    let timeout = Duration::from_secs(args.test_timeout);
    let bar = ctx.progress(wanted.len(), "verifying");
    let mut graded: Vec<(String, Result<apprentice_verify::Report, String>)> =
        futures::stream::iter(wanted)
            .map(|prediction| {
                let task = by_id[prediction.instance_id.as_str()];
                let factory = factory.clone();
                async move {
                    let report = grade_patch(
                        task,
                        prediction.model_patch.clone(),
                        factory.as_ref(),
                        timeout,
                    )
                    .await;
                    (prediction.instance_id.clone(), report)
                }
            })
            .buffer_unordered(args.workers.max(1))
            .inspect(|(id, report)| {
                bar.inc(1);
                let status = report.as_ref().map_or("ERROR", |r| r.status.as_str());
                ctx.note(&bar, format!("{status:<8} {id}"));
            })
            .collect()
            .await;
    bar.finish_and_clear();
    graded.sort_by(|a, b| a.0.cmp(&b.0));

    let results: Vec<Value> = graded
        .iter()
        .map(|(id, report)| match report {
            Ok(r) => json!({"instance_id": id, "status": r.status.as_str(), "resolved": r.resolved, "error": r.error.as_ref().map(|e| e.to_string())}),
            Err(e) => json!({"instance_id": id, "status": "ERROR", "resolved": false, "error": e}),
        })
        .collect();
    let resolved = graded
        .iter()
        .filter(|(_, r)| r.as_ref().is_ok_and(|r| r.resolved))
        .count();
    if let Some(path) = &args.report {
        write_report(path, &graded)?;
    }
    if ctx.json {
        print_json(&json!({"instances": graded.len(), "resolved": resolved, "results": results}))?;
    } else {
        println!("{resolved} of {} instance(s) resolved", graded.len());
    }
    let harness_failed = graded.iter().any(|(_, r)| r.is_err());
    Ok(if harness_failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn write_report(
    path: &std::path::Path,
    graded: &[(String, Result<apprentice_verify::Report, String>)],
) -> Result<(), Failure> {
    let mut report = serde_json::Map::new();
    for (id, result) in graded {
        let entry = match result {
            Ok(r) => {
                let mut official = r.to_swebench_json();
                let ours = serde_json::to_value(r).unwrap_or_default();
                if let Some(map) = official.get_mut(id).and_then(Value::as_object_mut) {
                    map.insert("apprentice".into(), ours);
                }
                official[id].clone()
            }
            Err(e) => json!({"error": e}),
        };
        report.insert(id.clone(), entry);
    }
    let text = serde_json::to_string_pretty(&Value::Object(report))
        .map_err(|e| Failure::Crash(e.into()))?;
    std::fs::write(path, text).map_err(|e| Failure::Input(format!("{}: {e}", path.display())))
}
