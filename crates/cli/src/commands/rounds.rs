//! `apprentice loop`: rounds of supervised attempts, export and LoRA training, measured on
//! held-out tasks in shadow mode (the logic is in `apprentice-rounds`).

use std::path::PathBuf;
use std::process::ExitCode;

use apprentice_harness::EpisodeReport;
use apprentice_rounds::{
    LoopConfig, LoopError, LoopRunner, Observer, RoundReport, SplitMetrics, Stages, TrainSettings,
    chart,
};
use apprentice_train::DEFAULT_GRAPH_MEMORY;
use clap::Args;
use indicatif::ProgressBar;
use serde_json::json;

use super::run::episode_line;
use super::{
    Context, EpisodeArgs, TaskSelection, load_tasks, require_repositories, sandbox_factory,
};
use crate::output::{CommandResult, Failure, Table, percent, print_json};

#[derive(Debug, Args)]
pub struct LoopArgs {
    #[command(flatten)]
    selection: TaskSelection,
    /// Rounds of attempts; every round but the last is followed by training.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The round-1 policy (later rounds add the trained adapter): embedded[:PATH.gguf], or any
    /// policy with --train none.
    #[arg(long, default_value = "embedded")]
    policy: String,
    /// How episodes run (held-out tasks are always supervised in shadow mode).
    #[command(flatten)]
    episode: EpisodeArgs,
    /// Fraction of tasks held out from training (split by task, as `export --holdout`).
    #[arg(long, default_value_t = 0.3)]
    held_out: f64,
    /// Seed of the held-out split and of training.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Adapters, training rows and plots (default: loops/<loop id>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// A name for the loop (default: loop-<timestamp>); its runs are <name>-r<N>-train|heldout.
    #[arg(long)]
    name: Option<String>,
    /// Continue an interrupted loop with its stored configuration.
    #[arg(long, value_name = "LOOP", conflicts_with = "name")]
    resume: Option<String>,
    /// Training after each round: sft+dpo, sft, dpo, or none (measure only).
    #[arg(long = "train", default_value = "sft+dpo")]
    stages: String,
    /// SFT view: clean or recovery.
    #[arg(long, default_value = "clean")]
    variant: String,
    /// Reward-weighted SFT rows: partially resolved and supervised-but-unresolved episodes
    /// too (what a small model that resolves nothing yet can learn from).
    #[arg(long)]
    weighted: bool,
    #[arg(long, default_value_t = 8)]
    rank: usize,
    #[arg(long, default_value_t = 16.0)]
    alpha: f32,
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// SFT peak learning rate.
    #[arg(long, default_value_t = 2e-4)]
    lr: f64,
    /// DPO peak learning rate.
    #[arg(long, default_value_t = 5e-6)]
    dpo_lr: f64,
    /// DPO beta.
    #[arg(long, default_value_t = 0.1)]
    beta: f64,
    /// Rows (or pairs) per optimizer step.
    #[arg(long, default_value_t = 4)]
    grad_accum: usize,
    /// At most this many SFT rows and DPO pairs per round (the newest).
    #[arg(long)]
    max_rows: Option<usize>,
    /// Longest training sequence: longer rows are cut into pieces that keep the system prompt
    /// and the task (about 1,200 tokens), longer pairs lose their oldest prompt messages.
    #[arg(long, default_value_t = 2048)]
    max_tokens: usize,
    /// Bound on each training stage's seconds; the adapter is saved as it is when reached.
    #[arg(long, value_name = "SECONDS")]
    max_train_seconds: Option<f64>,
    /// Memory for the block activations kept from the forward pass; layers beyond it are
    /// recomputed in the backward pass (as `train --graph-memory`).
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_GRAPH_MEMORY >> 20)]
    graph_memory: usize,
}

impl LoopArgs {
    fn config(&self, id: &str) -> Result<LoopConfig, Failure> {
        let stages: Stages = self.stages.parse().map_err(Failure::Input)?;
        let out = self
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("loops").join(id));
        let out = std::path::absolute(&out)
            .map_err(|e| Failure::Input(format!("--out {}: {e}", out.display())))?;
        Ok(LoopConfig {
            run: self.episode.run_config(&self.selection, &self.policy),
            rounds: self.rounds,
            held_out: self.held_out,
            seed: self.seed,
            out,
            train: TrainSettings {
                stages,
                variant: self.variant.clone(),
                weighted: self.weighted,
                rank: self.rank,
                alpha: self.alpha,
                epochs: self.epochs,
                sft_lr: self.lr,
                dpo_lr: self.dpo_lr,
                beta: self.beta,
                grad_accum: self.grad_accum,
                max_rows: self.max_rows,
                max_tokens: self.max_tokens,
                max_seconds: self.max_train_seconds,
                graph_memory_mib: self.graph_memory,
                seed: self.seed,
            },
        })
    }
}

struct Progress<'a>(&'a Context);

impl Observer for Progress<'_> {
    fn bar(&self, len: usize, what: &str) -> ProgressBar {
        self.0.progress(len, what)
    }

    fn episode(&self, bar: &ProgressBar, report: &EpisodeReport) {
        self.0.note(bar, episode_line(report));
    }
}

fn failure(e: LoopError) -> Failure {
    match e {
        LoopError::Input(message) => Failure::Input(message),
        LoopError::Store(e) => e.into(),
        other => Failure::Crash(other.into()),
    }
}

pub async fn run(ctx: &Context, args: &LoopArgs) -> CommandResult {
    let store = ctx.store().await?;
    let (id, config) = match &args.resume {
        Some(id) => {
            let stored = store.loop_config(id).await?;
            let config: LoopConfig = serde_json::from_value(stored)
                .map_err(|e| Failure::Input(format!("loop `{id}` cannot be resumed: {e}")))?;
            (id.clone(), config)
        }
        None => {
            let id = args.name.clone().unwrap_or_else(new_loop_id);
            let config = args.config(&id)?;
            (id, config)
        }
    };
    config.validate().map_err(failure)?;
    let tasks = load_tasks(
        ctx,
        &config.run.tasks,
        &config.run.task_ids,
        config.run.limit,
    )?;
    require_repositories(&tasks)?;
    let observer = Progress(ctx);
    let runner = LoopRunner {
        store: store.clone(),
        factory: sandbox_factory(&config.run.sandbox)?,
        id: id.clone(),
        config,
        observer: &observer,
    };
    if args.resume.is_none() {
        runner.create().await.map_err(failure)?;
    }
    let outcome = tokio::select! {
        result = runner.run(tasks) => result,
        _ = tokio::signal::ctrl_c() => {
            runner.mark_interrupted().await.map_err(failure)?;
            eprintln!("interrupted; continue with: apprentice loop --resume {id}");
            // A training stage may be running on a blocking thread; do not wait for it.
            std::process::exit(130);
        }
    };
    let rounds = match outcome {
        Ok(rounds) => rounds,
        Err(e) => {
            store.set_loop_status(&id, "failed").await?;
            return Err(failure(e));
        }
    };
    let plots = chart::write(&rounds, &runner.config.out).map_err(failure)?;
    print_report(ctx, &id, &runner.config, &rounds, &plots)?;
    let infra = rounds
        .iter()
        .any(|r| r.train.infra_errors + r.held_out.infra_errors > 0);
    Ok(if infra {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn new_loop_id() -> String {
    chrono::Utc::now().format("loop-%Y%m%d-%H%M%S").to_string()
}

fn print_report(
    ctx: &Context,
    id: &str,
    config: &LoopConfig,
    rounds: &[RoundReport],
    plots: &[PathBuf],
) -> Result<(), Failure> {
    if ctx.json {
        return print_json(&json!({
            "loop": id,
            "out": config.out,
            "rounds": rounds,
            "plot": plots.first(),
            "plots": plots,
        }));
    }
    let mut table = Table::new(&[
        "round",
        "split",
        "episodes",
        "resolved",
        "intervention rate",
        "format-error rate",
        "steps/episode",
        "proposals",
    ]);
    for r in rounds {
        for (split, m) in [("train", &r.train), ("held-out", &r.held_out)] {
            table.row(metrics_row(r.round, split, m));
        }
    }
    println!("{}\n", table.render());
    let mut training = Table::new(&[
        "round",
        "ran with",
        "SFT rows",
        "SFT loss",
        "DPO pairs",
        "DPO loss",
        "trained adapter",
        "wall",
    ]);
    for r in rounds {
        training.row(training_row(r));
    }
    println!("{}\n", training.render());
    println!("loop {id}: {} round(s); plots:", rounds.len());
    for plot in plots {
        println!("  {}", plot.display());
    }
    Ok(())
}

fn metrics_row(round: usize, split: &str, m: &SplitMetrics) -> Vec<String> {
    vec![
        round.to_string(),
        split.into(),
        m.episodes.to_string(),
        format!("{}/{}", m.resolved, m.episodes),
        percent(m.intervention_rate),
        percent(m.format_error_rate),
        format!("{:.1}", m.steps_per_episode),
        m.proposals.to_string(),
    ]
}

fn training_row(r: &RoundReport) -> Vec<String> {
    let dash = || "-".to_string();
    let t = r.training.as_ref();
    let loss = |s: Option<&apprentice_rounds::training::StageOutcome>| {
        s.map_or_else(dash, |s| format!("{:.4}", s.final_loss))
    };
    vec![
        r.round.to_string(),
        r.adapter
            .as_ref()
            .map_or_else(|| "base".into(), |a| a.display().to_string()),
        t.map_or_else(dash, |t| t.sft_rows.to_string()),
        loss(t.and_then(|t| t.sft.as_ref())),
        t.map_or_else(dash, |t| t.dpo_pairs.to_string()),
        loss(t.and_then(|t| t.dpo.as_ref())),
        r.trained_adapter()
            .map_or_else(dash, |a| a.display().to_string()),
        format!("{:.0}s", r.wall_seconds),
    ]
}
