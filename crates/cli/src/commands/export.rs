//! `apprentice export sft|dpo`: training data from stored runs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use apprentice_dataset::{Row, SftVariant, dedup, dpo_rows, sft_rows, split_by_task};
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
pub struct ExportArgs {
    kind: Kind,
    /// Runs to export (repeatable).
    #[arg(long = "run", value_name = "RUN", required = true)]
    runs: Vec<String>,
    /// Where the JSONL rows go.
    #[arg(long)]
    out: PathBuf,
    /// SFT view: clean (corrections folded in) or recovery (mistakes kept, masked from the loss).
    #[arg(long, default_value = "clean")]
    variant: String,
    /// Reward-weighted SFT: every episode with a reward above zero (1 resolved, half the
    /// FAIL_TO_PASS rate when partial, 0.25 x the share of supervisor-approved steps when
    /// supervised), each row with its `weight`.
    #[arg(long)]
    weighted: bool,
    /// Only these tasks (repeatable).
    #[arg(long = "task", value_name = "ID")]
    tasks: Vec<String>,
    /// Fraction of tasks held out; their rows go to `<out>.heldout.jsonl`.
    #[arg(long, default_value_t = 0.0)]
    holdout: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub async fn run(ctx: &Context, args: &ExportArgs) -> CommandResult {
    if !(0.0..1.0).contains(&args.holdout) {
        return Err(Failure::Input(format!(
            "--holdout must be in [0, 1), not {}",
            args.holdout
        )));
    }
    let variant: SftVariant = args.variant.parse().map_err(Failure::Input)?;
    let store = ctx.store().await?;
    let mut episodes = store.graded_episodes(&args.runs).await?;
    episodes.retain(|e| args.tasks.is_empty() || args.tasks.contains(&e.task));
    let (rows, heldout) = match args.kind {
        Kind::Sft => write_split(dedup(sft_rows(&episodes, variant, args.weighted)), args)?,
        Kind::Dpo => write_split(dedup(dpo_rows(&episodes)), args)?,
    };
    if ctx.json {
        print_json(
            &json!({"rows": rows, "out": args.out, "heldout_rows": heldout, "episodes": episodes.len()}),
        )?;
    } else {
        println!(
            "wrote {rows} row(s) to {} from {} episode(s)",
            args.out.display(),
            episodes.len()
        );
        if args.holdout > 0.0 {
            println!(
                "wrote {heldout} held-out row(s) to {}",
                heldout_path(&args.out).display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn heldout_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map_or_else(|| "export".into(), |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}.heldout.jsonl"))
}

fn write_split<R: Row>(rows: Vec<R>, args: &ExportArgs) -> Result<(usize, usize), Failure> {
    let (train, heldout) = split_by_task(rows, args.holdout, args.seed);
    write_jsonl(&args.out, &train)?;
    if args.holdout > 0.0 {
        write_jsonl(&heldout_path(&args.out), &heldout)?;
    }
    Ok((train.len(), heldout.len()))
}

fn write_jsonl<R: Row>(path: &Path, rows: &[R]) -> Result<(), Failure> {
    let failure = |e: std::io::Error| Failure::Input(format!("{}: {e}", path.display()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(failure)?);
    for row in rows {
        let line = serde_json::to_string(row).map_err(|e| Failure::Crash(e.into()))?;
        writeln!(file, "{line}").map_err(failure)?;
    }
    file.flush().map_err(failure)
}
