//! `apprentice bench`: the tool-discovery benchmark (list, validate, run campaigns, report).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use apprentice_core::SupervisionMode;
use apprentice_discovery::metrics::{Report, Trajectory, learning_curve_svg, summarize};
use apprentice_discovery::{
    Bench, BenchConfig, EpisodeReport, MemoryMode, PolicyChoice, SeedValidation, SupervisorChoice,
    TaskDef, kill_all_services, load_suite, validate_suite,
};
use apprentice_models::{PolicySpec, SpecError, SupervisorSpec};
use clap::{Args, Subcommand};
use serde_json::json;

use super::Context;
use super::run::prepare_policy;
use crate::output::{CommandResult, Failure, Table, percent, print_json};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// List the tasks of a discovery suite.
    List(SuiteArgs),
    /// Prove every task and seed: the oracle's steps pass `check`, doing nothing fails.
    Validate(ValidateArgs),
    /// Run a campaign: every task, every arm, N exposures; print the metric table and plot.
    Run(BenchRunArgs),
    /// Recompute the metric table and plot of a stored bench run.
    Report(ReportArgs),
}

#[derive(Debug, Clone, Args)]
pub struct SuiteArgs {
    /// The suite: a directory of families, one family or one task.
    #[arg(long, default_value = "tasks/discovery")]
    tasks: PathBuf,
    /// Only this task (repeatable).
    #[arg(long = "task", value_name = "ID")]
    task_ids: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    suite: SuiteArgs,
    /// Task and seed pairs validated at once.
    #[arg(long, default_value_t = 4)]
    workers: usize,
}

#[derive(Debug, Args)]
pub struct BenchRunArgs {
    #[command(flatten)]
    suite: SuiteArgs,
    /// The agent: oracle (replays the oracle's steps), embedded[...], scripted:FILE, openai:MODEL@URL.
    #[arg(long, default_value = "embedded")]
    policy: String,
    /// The judge: none, oracle (knows the oracle's steps), anthropic:MODEL, openai:MODEL@URL.
    /// `none` by default: the benchmark measures what the agent finds on its own.
    #[arg(long, default_value = "none")]
    supervisor: String,
    /// When the supervisor is asked: every, stuck, sample:F, shadow.
    #[arg(long, default_value = "every")]
    supervise: String,
    /// Exposures per task and arm (seeds cycle).
    #[arg(long, default_value_t = 1)]
    episodes: usize,
    /// Memory between exposures: off (no memory tools), on, or both (memory and a wiped control arm).
    #[arg(long, default_value = "off")]
    memory: String,
    /// The realism variant: offer a bash shell in WORKDIR too.
    #[arg(long)]
    bash: bool,
    /// Task lanes run at once.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// A name for the run (default: bench-<timestamp>).
    #[arg(long)]
    name: Option<String>,
    /// Where to write the learning-curve SVG (default: RUN.svg).
    #[arg(long)]
    plot: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The bench run (default: the latest run).
    run: Option<String>,
    /// Where to write the learning-curve SVG (default: RUN.svg).
    #[arg(long)]
    plot: Option<PathBuf>,
}

pub async fn run(ctx: &Context, command: &BenchCommand) -> CommandResult {
    match command {
        BenchCommand::List(args) => list(ctx, args),
        BenchCommand::Validate(args) => validate(ctx, args).await,
        BenchCommand::Run(args) => run_campaign(ctx, args).await,
        BenchCommand::Report(args) => report(ctx, args).await,
    }
}

fn load(args: &SuiteArgs) -> Result<Vec<TaskDef>, Failure> {
    let tasks = load_suite(&args.tasks).map_err(|e| Failure::Input(e.to_string()))?;
    if let Some(missing) = args
        .task_ids
        .iter()
        .find(|id| !tasks.iter().any(|t| &t.id == *id))
    {
        return Err(Failure::Input(format!(
            "{}: no task `{missing}`",
            args.tasks.display()
        )));
    }
    Ok(tasks
        .into_iter()
        .filter(|t| args.task_ids.is_empty() || args.task_ids.contains(&t.id))
        .collect())
}

fn list(ctx: &Context, args: &SuiteArgs) -> CommandResult {
    let tasks = load(args)?;
    if ctx.json {
        let rows: Vec<_> = tasks
            .iter()
            .map(|t| {
                json!({"id": t.id, "family": t.family, "seeds": t.seeds, "tools": t.tool_names(),
                       "max_steps": t.max_steps, "time_limit_s": t.time_limit_s,
                       "instruction": t.instruction})
            })
            .collect();
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&["task", "family", "seeds", "max steps", "tools"]);
    for t in &tasks {
        table.row(vec![
            t.id.clone(),
            t.family.clone(),
            t.seeds.len().to_string(),
            t.max_steps.to_string(),
            t.tool_names().join(" "),
        ]);
    }
    println!("{}", table.render());
    Ok(ExitCode::SUCCESS)
}

async fn validate(ctx: &Context, args: &ValidateArgs) -> CommandResult {
    let tasks = load(&args.suite)?;
    let pairs = tasks.iter().map(|t| t.seeds.len()).sum();
    let bar = ctx.progress(pairs, "validating");
    let on_result = |r: &SeedValidation| {
        bar.inc(1);
        if let Some(reason) = &r.reason {
            ctx.note(
                &bar,
                format!("INVALID {} seed {}: {reason}", r.task, r.seed),
            );
        }
    };
    let results = tokio::select! {
        results = validate_suite(&tasks, args.workers, &on_result) => results,
        () = interrupted() => {
            kill_all_services();
            return Err(Failure::Crash(anyhow::anyhow!("interrupted; every service was stopped")));
        }
    };
    bar.finish_and_clear();
    let valid = results.iter().all(|r| r.valid);
    if ctx.json {
        print_json(&json!({"valid": valid, "results": results}))?;
    } else {
        let mut table = Table::new(&["task", "seed", "valid", "oracle steps", "seconds", "reason"]);
        for r in &results {
            table.row(vec![
                r.task.clone(),
                r.seed.to_string(),
                if r.valid { "yes" } else { "NO" }.into(),
                r.oracle_steps.to_string(),
                format!("{:.1}", r.millis as f64 / 1000.0),
                r.reason.clone().unwrap_or_default(),
            ]);
        }
        println!("{}", table.render());
        let bad = results.iter().filter(|r| !r.valid).count();
        println!(
            "\n{} of {} task/seed pairs valid",
            results.len() - bad,
            results.len()
        );
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn policy_choice(spec: &str) -> Result<Option<PolicySpec>, Failure> {
    if spec == "oracle" {
        return Ok(None);
    }
    match spec.parse::<PolicySpec>() {
        Ok(PolicySpec::ScriptedGold) => Err(Failure::Input(
            "--policy scripted:gold replays a patch; bench tasks have none (use --policy oracle)"
                .into(),
        )),
        Ok(spec) => Ok(Some(spec)),
        Err(e) => Err(Failure::Input(e.to_string())),
    }
}

fn supervisor_choice(spec: &str) -> Result<SupervisorChoice, Failure> {
    match spec
        .parse::<SupervisorSpec>()
        .map_err(|e: SpecError| Failure::Input(e.to_string()))?
    {
        SupervisorSpec::None => Ok(SupervisorChoice::None),
        SupervisorSpec::Oracle => Ok(SupervisorChoice::Oracle),
        model => Ok(SupervisorChoice::Model(model)),
    }
}

async fn run_campaign(ctx: &Context, args: &BenchRunArgs) -> CommandResult {
    let tasks = load(&args.suite)?;
    let memory: MemoryMode = args.memory.parse().map_err(Failure::Input)?;
    let mode: SupervisionMode = args.supervise.parse().map_err(Failure::Input)?;
    let supervisor = supervisor_choice(&args.supervisor)?;
    let policy = match policy_choice(&args.policy)? {
        None => PolicyChoice::Oracle,
        Some(spec) => PolicyChoice::Model(prepare_policy(ctx, spec).await?),
    };
    let config = BenchConfig {
        tasks: args.suite.tasks.display().to_string(),
        task_ids: args.suite.task_ids.clone(),
        policy: args.policy.clone(),
        supervisor: args.supervisor.clone(),
        supervise: args.supervise.clone(),
        episodes: args.episodes.max(1),
        memory,
        bash: args.bash,
        workers: args.workers,
    };
    let run_id = args
        .name
        .clone()
        .unwrap_or_else(|| chrono::Utc::now().format("bench-%Y%m%d-%H%M%S").to_string());
    let store = ctx.store().await?;
    let mut stored = serde_json::to_value(&config).map_err(|e| Failure::Crash(e.into()))?;
    stored["kind"] = json!("bench");
    store.create_run(&run_id, &stored).await?;
    let bench = Bench {
        store: store.clone(),
        policy,
        supervisor,
        mode,
        config,
    };
    let total = tasks.len() * memory.arms().len() * args.episodes.max(1);
    let bar = ctx.progress(total, &run_id);
    let on_episode = |r: &EpisodeReport| {
        bar.inc(1);
        ctx.note(&bar, episode_line(r));
    };
    let outcome = tokio::select! {
        result = bench.run(&run_id, &tasks, &on_episode) => Some(result),
        () = interrupted() => None,
    };
    bar.finish_and_clear();
    let Some(result) = outcome else {
        kill_all_services();
        store.interrupt_running(&run_id).await?;
        store.set_run_status(&run_id, "interrupted").await?;
        return Err(Failure::Crash(anyhow::anyhow!(
            "interrupted; every service was stopped and run {run_id} is marked interrupted"
        )));
    };
    let episodes = result?;
    store.set_run_status(&run_id, "finished").await?;
    let trajectories: Vec<Trajectory> = episodes
        .iter()
        .filter_map(|e| e.trajectory.clone())
        .collect();
    let infra = episodes.iter().filter(|e| e.status != "finished").count();
    let plot = args.plot.clone().unwrap_or_else(|| default_plot(&run_id));
    let metrics = summarize(&trajectories);
    write_plot(&plot, &metrics)?;
    if ctx.json {
        print_json(
            &json!({"run": run_id, "metrics": metrics, "episodes": episodes,
                           "errors": infra, "plot": plot}),
        )?;
    } else {
        print_metrics(&run_id, &metrics, &plot);
        if infra > 0 {
            println!("  {infra} episode(s) ended in an error and are left out of the metrics");
        }
    }
    Ok(if infra == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn report(ctx: &Context, args: &ReportArgs) -> CommandResult {
    let store = ctx.store().await?;
    let run_id = match &args.run {
        Some(run) => run.clone(),
        None => store
            .latest_run()
            .await?
            .ok_or_else(|| Failure::Input("no runs in this database".into()))?,
    };
    let episodes = store.graded_episodes(std::slice::from_ref(&run_id)).await?;
    let trajectories: Vec<Trajectory> = episodes
        .iter()
        .filter_map(|e| serde_json::from_value(e.report["trajectory"].clone()).ok())
        .collect();
    if trajectories.is_empty() {
        return Err(Failure::Input(format!(
            "run `{run_id}` has no finished bench episodes"
        )));
    }
    let metrics = summarize(&trajectories);
    let plot = args.plot.clone().unwrap_or_else(|| default_plot(&run_id));
    write_plot(&plot, &metrics)?;
    if ctx.json {
        print_json(&json!({"run": run_id, "metrics": metrics, "plot": plot}))?;
    } else {
        print_metrics(&run_id, &metrics, &plot);
    }
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C or SIGTERM: either way the episodes' services must not outlive the command.
async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn default_plot(run_id: &str) -> PathBuf {
    PathBuf::from(format!("{run_id}.svg"))
}

fn write_plot(path: &Path, metrics: &Report) -> Result<(), Failure> {
    std::fs::write(path, learning_curve_svg(metrics))
        .map_err(|e| Failure::Input(format!("{}: cannot write the plot: {e}", path.display())))
}

fn episode_line(r: &EpisodeReport) -> String {
    let mark = match (r.status.as_str(), r.success) {
        ("finished", true) => "success",
        ("finished", false) => "failure",
        _ => "error  ",
    };
    format!("{mark} {}  ({} steps; {})", r.key, r.steps, r.detail)
}

fn ratio(value: Option<f64>) -> String {
    value.map_or("-".into(), percent)
}

fn print_metrics(run_id: &str, metrics: &Report, plot: &Path) {
    let mut table = Table::new(&[
        "arm",
        "episodes",
        "success",
        "pass@k",
        "pass^k",
        "k",
        "steps",
        "SPL",
        "redundant",
        "discovered",
        "first use",
        "hallucinated",
        "EG",
    ]);
    for a in &metrics.arms {
        table.row(vec![
            a.arm.clone(),
            a.episodes.to_string(),
            percent(a.success_rate),
            percent(a.pass_at_k),
            percent(a.pass_hat_k),
            a.k.to_string(),
            format!("{:.1}", a.mean_steps),
            format!("{:.2}", a.spl),
            format!("{:.2}", a.redundant_actions),
            percent(a.discovery_rate),
            a.first_use_latency
                .map_or("-".into(), |l| format!("{l:.1}")),
            format!("{:.2}", a.hallucinated_calls),
            ratio(a.efficiency_gain),
        ]);
    }
    println!("{}\n", table.render());
    let mut curve = Table::new(&["arm", "exposure", "episodes", "steps", "SPL", "success"]);
    for p in &metrics.curve {
        curve.row(vec![
            p.arm.clone(),
            p.exposure.to_string(),
            p.episodes.to_string(),
            format!("{:.1}", p.mean_steps),
            format!("{:.2}", p.spl),
            percent(p.success_rate),
        ]);
    }
    println!("{}\n", curve.render());
    if !metrics.memory_gain.is_empty() {
        let gains: Vec<String> = metrics
            .memory_gain
            .iter()
            .map(|(k, g)| format!("MG({k}) {}", percent(*g)))
            .collect();
        println!("memory gain  {}", gains.join("  "));
    }
    println!("run {run_id}; learning curve: {}", plot.display());
}
