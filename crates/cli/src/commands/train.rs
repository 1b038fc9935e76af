//! `apprentice train sft|dpo`: a LoRA adapter for the embedded model from exported rows.

use std::path::PathBuf;
use std::process::ExitCode;

use apprentice_embedded::{EmbeddedModel, default_cache_dir, fetch_default_model};
use apprentice_train::{
    DEFAULT_GRAPH_MEMORY, DpoKind, DpoLossConfig, LoadLimits, LoraConfig, TrainConfig, TrainError,
    TrainableLlama, load_dpo, load_sft, train_dpo, train_sft, trainer::sft_eval_loss,
};
use clap::{Args, ValueEnum};
use serde_json::json;

use super::Context;
use crate::output::{CommandResult, Failure, print_json};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Sft,
    Dpo,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    kind: Kind,
    /// JSONL rows from `apprentice export sft|dpo`.
    #[arg(long)]
    data: PathBuf,
    /// Adapter directory (PEFT format; checkpoints in `checkpoint-epoch-N`).
    #[arg(long)]
    out: PathBuf,
    /// Base GGUF model (default: the cached SmolLM2, fetched if needed).
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long, default_value_t = 8)]
    rank: usize,
    #[arg(long, default_value_t = 16.0)]
    alpha: f32,
    #[arg(long, default_value_t = 0.05)]
    dropout: f32,
    /// Peak learning rate (default 2e-4 for SFT, 5e-6 for DPO).
    #[arg(long)]
    lr: Option<f64>,
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Rows (or pairs) per optimizer step.
    #[arg(long, default_value_t = 4)]
    grad_accum: usize,
    /// DPO beta.
    #[arg(long, default_value_t = 0.1)]
    beta: f64,
    /// DPO loss: sigmoid or ipo.
    #[arg(long, default_value = "sigmoid")]
    loss: String,
    /// Weight of the SFT term added to DPO (RPO); 0 = off.
    #[arg(long, default_value_t = 0.0)]
    rpo_alpha: f64,
    /// Train on at most this many rows.
    #[arg(long)]
    max_rows: Option<usize>,
    /// Longest sequence trained on: longer rows are cut into pieces that each keep the system
    /// prompt and the task (the agent's prompt alone is about 1,200 tokens); longer pairs
    /// lose their oldest prompt messages.
    #[arg(long, default_value_t = 2048)]
    max_tokens: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Stop after the step that reaches this many seconds of training and save the adapter
    /// as it is (a bound on CPU time; the learning-rate schedule is not shortened).
    #[arg(long, value_name = "SECONDS")]
    max_seconds: Option<f64>,
    /// Held-out SFT rows: report their assistant-token loss before and after training.
    #[arg(long, value_name = "JSONL")]
    eval: Option<PathBuf>,
    /// Memory for the activations of whole layers kept from the forward pass; the layers
    /// beyond it are recomputed in the backward pass (slower, a third more compute). 0
    /// recomputes every layer: the least memory.
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_GRAPH_MEMORY >> 20)]
    graph_memory: usize,
}

/// Data and configuration problems, and a diverged run (lower the learning rate), are the
/// user's to fix (exit 2); the rest is a crash.
fn failure(e: TrainError) -> Failure {
    match e {
        TrainError::Malformed { .. }
        | TrainError::EmptyDataset { .. }
        | TrainError::Config(_)
        | TrainError::Io { .. }
        | TrainError::NonFiniteLoss { .. }
        | TrainError::NonFiniteGradient { .. }
        | TrainError::NonFiniteAdapter { .. } => Failure::Input(e.to_string()),
        other => Failure::Crash(other.into()),
    }
}

pub async fn run(ctx: &Context, args: &TrainArgs) -> CommandResult {
    let kind = args.kind;
    let loss: DpoKind = args.loss.parse().map_err(Failure::Input)?;
    let model_path = match &args.model {
        Some(p) => p.clone(),
        None => fetch_default_model(&default_cache_dir())
            .map_err(|e| Failure::Crash(anyhow::anyhow!(e)))?,
    };
    let embedded = EmbeddedModel::load(&model_path).map_err(|e| Failure::Input(e.to_string()))?;
    let limits = LoadLimits {
        max_rows: args.max_rows,
        max_tokens: Some(args.max_tokens),
    };
    let lora = LoraConfig {
        rank: args.rank,
        alpha: args.alpha,
        dropout: args.dropout,
        seed: args.seed,
        ..Default::default()
    };
    let cfg = TrainConfig {
        lr: args.lr.unwrap_or(match kind {
            Kind::Sft => 2e-4,
            Kind::Dpo => 5e-6,
        }),
        epochs: args.epochs,
        grad_accum: args.grad_accum,
        seed: args.seed,
        dpo: DpoLossConfig {
            beta: args.beta,
            kind: loss,
            rpo_alpha: args.rpo_alpha,
        },
        max_seconds: args.max_seconds,
        graph_memory: args.graph_memory.saturating_mul(1 << 20),
        ..Default::default()
    };
    let bar = ctx.progress(0, "training");
    let (report, eval) = tokio::task::block_in_place(|| -> Result<_, TrainError> {
        let model = TrainableLlama::load(&model_path, embedded.config(), &lora)?;
        let held_out = match &args.eval {
            Some(path) => load_sft(path, &embedded, limits)?,
            None => Vec::new(),
        };
        let before = sft_eval_loss(&model, &held_out)?;
        let report = match kind {
            Kind::Sft => {
                let rows = load_sft(&args.data, &embedded, limits)?;
                train_sft(&model, &rows, &cfg, &args.out, Some(&bar))?
            }
            Kind::Dpo => {
                let pairs = load_dpo(&args.data, &embedded, limits)?;
                train_dpo(&model, &pairs, &cfg, &args.out, Some(&bar))?
            }
        };
        let eval = (!held_out.is_empty())
            .then(|| -> Result<_, TrainError> {
                Ok((held_out.len(), before, sft_eval_loss(&model, &held_out)?))
            })
            .transpose()?;
        Ok((report, eval))
    })
    .map_err(failure)?;
    let tokens_per_second = report.tokens as f64 / report.seconds.max(1e-9);
    if ctx.json {
        print_json(&json!({
            "adapter": args.out,
            "steps": report.steps,
            "final_loss": report.final_loss,
            "tokens": report.tokens,
            "seconds": report.seconds,
            "tokens_per_second": tokens_per_second,
            "stopped_early": report.stopped_early,
            "losses": report.log.iter().map(|l| l.loss).collect::<Vec<_>>(),
            "eval": eval.map(|(rows, before, after)| json!({"rows": rows, "loss_before": before, "loss_after": after})),
        }))?;
    } else {
        println!(
            "trained {} step(s) ({} tokens, {tokens_per_second:.0} tokens/s), final loss {:.4}; adapter in {}",
            report.steps,
            report.tokens,
            report.final_loss,
            args.out.display()
        );
        if report.stopped_early {
            println!("stopped early by --max-seconds");
        }
        if let Some((rows, before, after)) = eval {
            println!("held-out loss ({rows} rows): {before:.4} before, {after:.4} after");
        }
    }
    Ok(ExitCode::SUCCESS)
}
