//! `apprentice ensemble`: several policies on the same tasks, one patch chosen per task.

use std::process::ExitCode;

use apprentice_core::SupervisionMode;
use apprentice_ensemble::{Ensemble, EnsembleReport, Member, STRATEGIES};
use apprentice_harness::RunConfig;
use apprentice_models::{PolicySpec, SupervisorSpec};
use clap::Args;

use super::{
    Context, EpisodeArgs, TaskSelection, load_tasks, require_repositories, sandbox_factory,
};
use crate::commands::run::prepare_policy;
use crate::output::{CommandResult, Failure, Table, dollars, percent, print_json};

#[derive(Debug, Args)]
pub struct EnsembleArgs {
    #[command(flatten)]
    selection: TaskSelection,
    /// A member (repeat for each): any policy spec `run --policy` takes.
    #[arg(long = "policy", value_name = "P", required = true)]
    policies: Vec<String>,
    /// Strategies to report (repeatable or comma-separated): union, majority, tests.
    #[arg(long = "select", value_delimiter = ',', default_values_t = STRATEGIES.map(String::from))]
    select: Vec<String>,
    /// The members' episodes; the supervisor also breaks majority ties.
    #[command(flatten)]
    episode: EpisodeArgs,
    /// A name; members are stored as runs NAME-m1, NAME-m2, ... (default: ens-<timestamp>).
    #[arg(long)]
    name: Option<String>,
}

impl EnsembleArgs {
    fn config(&self) -> RunConfig {
        self.episode.run_config(&self.selection, "")
    }
}

pub async fn run(ctx: &Context, args: &EnsembleArgs) -> CommandResult {
    Ensemble::check_strategies(&args.select).map_err(|e| Failure::Input(e.to_string()))?;
    if args.policies.len() < 2 {
        return Err(Failure::Input(
            "an ensemble needs at least two --policy".into(),
        ));
    }
    let supervisor: SupervisorSpec = args
        .episode
        .supervisor
        .parse()
        .map_err(|e: apprentice_models::SpecError| Failure::Input(e.to_string()))?;
    let mode: SupervisionMode = args.episode.supervise.parse().map_err(Failure::Input)?;
    let mut specs = Vec::new();
    for p in &args.policies {
        let spec: PolicySpec = p.parse().map_err(|e: apprentice_models::SpecError| {
            Failure::Input(format!("--policy {p}: {e}"))
        })?;
        specs.push((p.clone(), spec));
    }
    let tasks = load_tasks(
        ctx,
        &args.selection.tasks,
        &args.selection.task_ids,
        args.selection.limit,
    )?;
    require_repositories(&tasks)?;
    let factory = sandbox_factory(&args.episode.sandbox)?;
    let mut members = Vec::new();
    for (policy, spec) in specs {
        let maker = prepare_policy(ctx, spec).await?;
        members.push(Member { policy, maker });
    }
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| chrono::Utc::now().format("ens-%Y%m%d-%H%M%S").to_string());
    let ensemble = Ensemble {
        name: name.clone(),
        store: ctx.store().await?,
        factory,
        members,
        supervisor,
        mode,
        config: args.config(),
        strategies: args.select.clone(),
    };
    let bar = ctx.progress(tasks.len() * args.policies.len(), &name);
    let on_episode = |member: usize, report: apprentice_harness::EpisodeReport| {
        bar.inc(1);
        let mark = if report.resolved {
            "resolved  "
        } else {
            "unresolved"
        };
        ctx.note(
            &bar,
            format!(
                "m{} {mark} {}  ({})",
                member + 1,
                report.task,
                report.detail
            ),
        );
    };
    let report = ensemble
        .run(tasks, &on_episode)
        .await
        .map_err(|e| match e {
            apprentice_ensemble::EnsembleError::Store(s) => Failure::from(s),
            other => Failure::Crash(other.into()),
        })?;
    bar.finish_and_clear();
    print_report(ctx, &report)?;
    Ok(ExitCode::SUCCESS)
}

fn print_report(ctx: &Context, report: &EnsembleReport) -> Result<(), Failure> {
    if ctx.json {
        return print_json(report);
    }
    let mut members = Table::new(&[
        "member",
        "policy",
        "run",
        "resolved",
        "rate",
        "only it solved",
        "cost",
    ]);
    for (i, m) in report.members.iter().enumerate() {
        members.row(vec![
            format!("m{}", i + 1),
            m.policy.clone(),
            m.run.clone(),
            m.resolved.to_string(),
            percent(m.resolve_rate),
            m.only_solved.len().to_string(),
            dollars(m.cost_usd),
        ]);
    }
    println!("{}\n", members.render());
    let mut strategies = Table::new(&["strategy", "resolved", "rate", "cost", "note"]);
    for s in &report.strategies {
        strategies.row(vec![
            s.name.clone(),
            s.resolved.to_string(),
            percent(s.resolve_rate),
            dollars(s.cost_usd),
            if s.upper_bound {
                "oracle upper bound, not deployable".into()
            } else {
                String::new()
            },
        ]);
    }
    println!("{}\n", strategies.render());
    let header: Vec<String> = std::iter::once("both solved".to_string())
        .chain((1..=report.members.len()).map(|i| format!("m{i}")))
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut overlap = Table::new(&header);
    for (i, row) in report.overlap.iter().enumerate() {
        overlap.row(
            std::iter::once(format!("m{}", i + 1))
                .chain(row.iter().map(usize::to_string))
                .collect(),
        );
    }
    println!("{}\n", overlap.render());
    println!(
        "ensemble {}: {} task(s), {} member(s), cost {}",
        report.ensemble,
        report.tasks,
        report.members.len(),
        dollars(report.cost_usd)
    );
    Ok(())
}
