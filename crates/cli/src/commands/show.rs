//! `apprentice show`: runs, a run's episodes, or an episode's steps.

use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use super::Context;
use crate::commands::run::print_summary;
use crate::output::{CommandResult, Table, dollars, percent, print_json};

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A run id; without it, every run is listed.
    run: Option<String>,
    /// Show one episode step by step.
    #[arg(long, value_name = "ID")]
    episode: Option<i64>,
}

pub async fn run(ctx: &Context, args: &ShowArgs) -> CommandResult {
    let store = ctx.store().await?;
    if let Some(episode) = args.episode {
        return show_episode(ctx, &store, episode).await;
    }
    match &args.run {
        Some(run) => print_summary(ctx, &store.run_summary(run).await?)?,
        None => list_runs(ctx, &store).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn list_runs(
    ctx: &Context,
    store: &apprentice_store::Store,
) -> Result<(), crate::output::Failure> {
    let runs = store.runs().await?;
    if ctx.json {
        let light: Vec<_> = runs
            .iter()
            .map(|r| {
                json!({"run": r.run, "status": r.status, "created_at": r.created_at, "episodes": r.episodes, "resolved": r.resolved,
                       "resolve_rate": r.resolve_rate, "proposals": r.proposals, "interventions": r.interventions,
                       "intervention_rate": r.intervention_rate, "format_errors": r.format_errors, "cost_usd": r.cost_usd})
            })
            .collect();
        return print_json(&json!({"runs": light}));
    }
    let mut table = Table::new(&[
        "run",
        "status",
        "policy",
        "supervisor",
        "episodes",
        "resolved",
        "interventions",
        "format errors",
        "cost",
    ]);
    for r in &runs {
        table.row(vec![
            r.run.clone(),
            r.status.clone(),
            r.config["policy"].as_str().unwrap_or("?").to_string(),
            r.config["supervisor"].as_str().unwrap_or("?").to_string(),
            r.episodes.to_string(),
            percent(r.resolve_rate),
            percent(r.intervention_rate),
            r.format_errors.to_string(),
            dollars(r.cost_usd),
        ]);
    }
    println!("{}", table.render());
    Ok(())
}

async fn show_episode(
    ctx: &Context,
    store: &apprentice_store::Store,
    episode: i64,
) -> CommandResult {
    let (detail, patch, report) = store.episode(episode).await?;
    let steps = store.steps(episode).await?;
    if ctx.json {
        print_json(&json!({"episode": detail, "patch": patch, "report": report, "steps": steps}))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "episode {} — task {} attempt {} — {} ({})\n",
        detail.episode,
        detail.task,
        detail.attempt,
        if detail.resolved {
            "resolved"
        } else {
            "unresolved"
        },
        detail.grade.clone().unwrap_or(detail.status.clone())
    );
    for step in &steps {
        let verdict = match (&step.format_error, &step.verdict) {
            (Some(kind), _) => format!("format error ({kind})"),
            (None, Some(v)) => v.clone(),
            (None, None) => "not reviewed".into(),
        };
        println!("── step {} · {verdict}", step.index + 1);
        println!("{}", indent(step.proposal_text.trim()));
        println!("  ⇒");
        println!("{}\n", indent(&clip(step.observation.trim(), 1200)));
    }
    if let Some(patch) = patch.filter(|p| !p.is_empty()) {
        println!("── patch\n{patch}");
    }
    Ok(ExitCode::SUCCESS)
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max).collect();
    format!("{head}\n[...]")
}
