//! `apprentice sweep lora-scale`: degeneration metrics of an adapter across LoRA scales.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use apprentice_core::SupervisionMode;
use apprentice_embedded::{EmbeddedModel, EmbeddedSpec, LoraSpec};
use apprentice_harness::{Harness, RunConfig};
use apprentice_models::{PolicyMaker, SharedModel, SupervisorSpec};
use apprentice_sweep::{
    Prompt, ScaleRow, SweepConfig, SweepReport, Thresholds, highest_sound_scale, output, prompts,
};
use clap::{Args, Subcommand};

use super::{Context, TaskSelection, load_tasks, require_repositories, sandbox_factory};
use crate::output::{CommandResult, Failure, Table, print_json};

#[derive(Debug, Subcommand)]
pub enum SweepCommand {
    /// Generate at each LoRA scale and report degeneration metrics against the base model.
    LoraScale(LoraScaleArgs),
}

#[derive(Debug, Args)]
pub struct LoraScaleArgs {
    /// The PEFT adapter directory.
    #[arg(long)]
    adapter: PathBuf,
    /// The base GGUF (default: the cached SmolLM2-135M-Instruct).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Scales to measure; 0 (the base model, the calibration) is always added.
    #[arg(long, value_delimiter = ',', default_values_t = [0.1f32, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0])]
    scales: Vec<f32>,
    /// Held-out prompts: JSONL of SFT rows (`messages`, e.g. export's .heldout.jsonl) or `{"prompt": ...}`.
    /// Default: held-out trajectories from the store.
    #[arg(long)]
    prompts: Option<PathBuf>,
    /// Stored runs to take trajectories from (repeatable; default every run).
    #[arg(long = "run", value_name = "RUN")]
    runs: Vec<String>,
    /// The held-out fraction and seed used at export: only those tasks' trajectories are prompts.
    #[arg(long, default_value_t = 0.2)]
    holdout: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// At most this many prompts (spread over the trajectories).
    #[arg(long, default_value_t = 8)]
    max_prompts: usize,
    /// Tokens per reply; replies that reach it did not end their turn.
    #[arg(long, default_value_t = 128)]
    max_tokens: usize,
    /// Where sweep.csv, sweep.json and the SVG plots go.
    #[arg(long, default_value = "sweep")]
    out: PathBuf,
    /// Also run the agent at each scale on --tasks and report resolve and intervention rates.
    #[arg(long)]
    agentic: bool,
    #[command(flatten)]
    selection: TaskSelection,
    /// The agentic runs' supervisor.
    #[arg(long, default_value = "oracle")]
    supervisor: String,
    /// Policy turns per agentic episode.
    #[arg(long, default_value_t = 8)]
    max_steps: usize,
}

pub async fn run(ctx: &Context, command: &SweepCommand) -> CommandResult {
    let SweepCommand::LoraScale(args) = command;
    if !(0.0..1.0).contains(&args.holdout) {
        return Err(Failure::Input(format!(
            "--holdout must be in [0, 1), not {}",
            args.holdout
        )));
    }
    let found = match &args.prompts {
        Some(path) => prompts::from_jsonl(path),
        None => prompts::held_out(&ctx.store().await?, &args.runs, args.holdout, args.seed).await,
    }
    .map_err(|e| Failure::Input(e.to_string()))?;
    let chosen = prompts::spread(found, args.max_prompts.max(1));
    let spec = EmbeddedSpec {
        model: args.model.clone(),
        lora: Some(LoraSpec {
            dir: args.adapter.clone(),
            scale: 1.0,
        }),
        temperature: None,
        seed: None,
        free: false,
    };
    let load = spec.clone();
    let model = tokio::task::spawn_blocking(move || EmbeddedModel::from_spec(&load, None))
        .await
        .map_err(|e| Failure::Crash(e.into()))?
        .map_err(|e| Failure::Input(e.to_string()))?;
    let model: SharedModel = Arc::new(Mutex::new(model));
    let config = SweepConfig {
        scales: args.scales.clone(),
        max_tokens: args.max_tokens,
        max_reference_tokens: args.max_tokens,
        thresholds: Thresholds::default(),
    };
    let mut rows = measure(ctx, &model, chosen.clone(), config.clone()).await?;
    if args.agentic {
        agentic(ctx, args, &spec, &model, &mut rows).await?;
    }
    let mut report = SweepReport {
        adapter: args.adapter.display().to_string(),
        prompts: chosen.len(),
        max_tokens: args.max_tokens,
        highest_sound_scale: highest_sound_scale(&rows),
        rows,
        thresholds: config.thresholds,
        files: Vec::new(),
    };
    output::write_all(&args.out, &mut report).map_err(|e| Failure::Input(e.to_string()))?;
    print_report(ctx, &report)?;
    Ok(ExitCode::SUCCESS)
}

async fn measure(
    ctx: &Context,
    model: &SharedModel,
    chosen: Vec<Prompt>,
    config: SweepConfig,
) -> Result<Vec<ScaleRow>, Failure> {
    let bar = ctx.progress(chosen.len(), "prompts");
    let model = Arc::clone(model);
    let tick = bar.clone();
    let rows = tokio::task::spawn_blocking(move || {
        let mut model = model
            .lock()
            .map_err(|_| apprentice_sweep::SweepError::Input("the model is poisoned".into()))?;
        apprentice_sweep::sweep(&mut model, &chosen, &config, &|| tick.inc(1))
    })
    .await
    .map_err(|e| Failure::Crash(e.into()))?
    .map_err(|e| Failure::Crash(e.into()))?;
    bar.finish_and_clear();
    Ok(rows)
}

/// Runs the agent at each scale over the same loaded model.
async fn agentic(
    ctx: &Context,
    args: &LoraScaleArgs,
    spec: &EmbeddedSpec,
    model: &SharedModel,
    rows: &mut [ScaleRow],
) -> Result<(), Failure> {
    let supervisor: SupervisorSpec = args
        .supervisor
        .parse()
        .map_err(|e: apprentice_models::SpecError| Failure::Input(e.to_string()))?;
    let sel = &args.selection;
    let tasks = load_tasks(ctx, &sel.tasks, &sel.task_ids, sel.limit)?;
    require_repositories(&tasks)?;
    let store = ctx.store().await?;
    let stamp = chrono::Utc::now().format("sweep-%Y%m%d-%H%M%S").to_string();
    for row in rows.iter_mut() {
        let mut scaled = spec.clone();
        if let Some(lora) = scaled.lora.as_mut() {
            lora.scale = row.scale;
        }
        let run = format!("{stamp}-s{}", row.scale);
        let config = RunConfig {
            tasks: sel.tasks.clone(),
            task_ids: sel.task_ids.clone(),
            limit: sel.limit,
            policy: scaled.to_string(),
            supervisor: args.supervisor.clone(),
            supervise: "every".into(),
            sandbox: "local".into(),
            workers: 1,
            max_steps: args.max_steps,
            max_attempts: 3,
            max_cost_usd_per_episode: None,
            max_episode_seconds: None,
            max_run_cost_usd: None,
            max_run_seconds: None,
            test_timeout_seconds: 600,
        };
        store
            .create_run(&run, &serde_json::to_value(&config).unwrap_or_default())
            .await?;
        let harness = Harness {
            store: store.clone(),
            factory: sandbox_factory("local")?,
            policy: PolicyMaker::with_model(scaled, Arc::clone(model)),
            supervisor: supervisor.clone(),
            mode: SupervisionMode::Every,
            config,
        };
        let bar = ctx.progress(tasks.len(), &run);
        harness.run(&run, tasks.clone(), &|_| bar.inc(1)).await?;
        bar.finish_and_clear();
        store.set_run_status(&run, "finished").await?;
        let summary = store.run_summary(&run).await?;
        row.resolve_rate = Some(summary.resolve_rate);
        row.intervention_rate = Some(summary.intervention_rate);
        row.run = Some(run);
    }
    Ok(())
}

fn print_report(ctx: &Context, report: &SweepReport) -> Result<(), Failure> {
    if ctx.json {
        return print_json(report);
    }
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
    let mut table = Table::new(&[
        "scale",
        "rep4",
        "distinct-1",
        "distinct-2",
        "compress",
        "at limit",
        "leaks",
        "tool calls",
        "ppl",
        "KL",
        "resolved",
        "interv.",
        "degenerate",
    ]);
    for r in &report.rows {
        let t = &r.text;
        table.row(vec![
            r.scale.to_string(),
            format!("{:.3}", t.rep4),
            format!("{:.3}", t.distinct1),
            format!("{:.3}", t.distinct2),
            format!("{:.2}", t.compression_ratio),
            format!("{:.2}", t.token_limit_share),
            format!("{:.2}", t.leak_rate),
            format!("{:.2}", t.tool_call_rate),
            opt(r.perplexity),
            opt(r.kl_to_base),
            opt(r.resolve_rate),
            opt(r.intervention_rate),
            if r.degenerate {
                format!("yes: {}", r.reasons.join("; "))
            } else {
                "no".into()
            },
        ]);
    }
    println!("{}\n", table.render());
    println!(
        "{} prompt(s), {} tokens per reply; files in {}",
        report.prompts,
        report.max_tokens,
        report
            .files
            .first()
            .and_then(|f| f.parent())
            .map_or_else(String::new, |d| d.display().to_string())
    );
    match report.highest_sound_scale {
        Some(s) => println!("highest non-degenerate scale: {s}"),
        None => println!("no scale above 0 is free of degeneration"),
    }
    Ok(())
}
