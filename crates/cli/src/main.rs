//! `apprentice`: supervised coding agents whose every correction becomes training data.

mod allocator;
mod commands;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::Failure;

#[derive(Debug, Parser)]
#[command(
    name = "apprentice",
    version,
    about = "Small code models as coding agents, under supervision"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The store: a SQLite file path.
    #[arg(
        long,
        global = true,
        env = "APPRENTICE_DB",
        default_value = "apprentice.db"
    )]
    db: String,
    /// Print exactly one JSON document on stdout instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// A directory of repository mirrors (owner/name, owner__name or name) for SWE-bench tasks.
    #[arg(long, global = true, env = "APPRENTICE_REPOS")]
    repos: Option<PathBuf>,
    /// SWE-bench instances (JSON/JSONL) joined by instance_id to fill what SWE-Bench-CL tasks
    /// lack (version, environment_setup_commit).
    #[arg(long, global = true, env = "APPRENTICE_JOIN", value_name = "FILE")]
    join: Option<PathBuf>,
    /// More logging (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors on stderr, no progress bars.
    #[arg(short, long, global = true)]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a policy on tasks under supervision, verify and store everything.
    Run(commands::run::RunArgs),
    /// Grade a SWE-bench predictions file against tasks.
    Verify(commands::verify::VerifyArgs),
    /// List, validate or import task sources.
    #[command(subcommand)]
    Tasks(commands::tasks::TasksCommand),
    /// Show runs, one run's episodes, or one episode's steps.
    Show(commands::show::ShowArgs),
    /// Fetch or list the embedded model.
    #[command(subcommand)]
    Models(commands::models::ModelsCommand),
    /// Write training data (SFT rows or DPO pairs) from stored runs.
    Export(commands::export::ExportArgs),
    /// Train a LoRA adapter (SFT or DPO) on exported rows.
    Train(commands::train::TrainArgs),
    /// Rounds of supervised attempts, export and LoRA training, measured on held-out tasks.
    Loop(commands::rounds::LoopArgs),
    /// Build, list or prune the Docker images verification runs in.
    #[command(subcommand)]
    Images(commands::images::ImagesCommand),
    /// The tool-discovery benchmark: list, validate, run campaigns, report metrics.
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
    /// Run several policies on the same tasks and choose one patch per task.
    Ensemble(commands::ensemble::EnsembleArgs),
    /// Sweep an adapter's LoRA scale for degeneration.
    #[command(subcommand)]
    Sweep(commands::sweep::SweepCommand),
}

fn init_logging(cli: &Cli) {
    let default = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    if matches!(cli.command, Command::Train(_) | Command::Loop(_)) {
        allocator::keep_freed_memory();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return Failure::Crash(e.into()).report(),
    };
    let result = runtime.block_on(async {
        let ctx = commands::Context::new(&cli);
        match &cli.command {
            Command::Run(args) => commands::run::run(&ctx, args).await,
            Command::Verify(args) => commands::verify::run(&ctx, args).await,
            Command::Tasks(command) => commands::tasks::run(&ctx, command).await,
            Command::Show(args) => commands::show::run(&ctx, args).await,
            Command::Export(args) => commands::export::run(&ctx, args).await,
            Command::Models(command) => commands::models::run(&ctx, command).await,
            Command::Train(args) => commands::train::run(&ctx, args).await,
            Command::Images(command) => commands::images::run(&ctx, command).await,
            Command::Bench(command) => commands::bench::run(&ctx, command).await,
            Command::Loop(args) => commands::rounds::run(&ctx, args).await,
            Command::Ensemble(args) => commands::ensemble::run(&ctx, args).await,
            Command::Sweep(command) => commands::sweep::run(&ctx, command).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}
