//! One module per subcommand; shared plumbing here.

pub mod bench;
pub mod ensemble;
pub mod export;
pub mod images;
pub mod models;
pub mod rounds;
pub mod run;
pub mod show;
pub mod sweep;
pub mod tasks;
pub mod train;
pub mod verify;

use std::path::PathBuf;
use std::sync::Arc;

use apprentice_core::Task;
use apprentice_harness::RunConfig;
use apprentice_sandbox::{LocalSandboxFactory, SandboxFactory};
use apprentice_store::Store;
use apprentice_tasks::LoadOptions;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::Cli;
use crate::output::Failure;

/// What every command may need from the global flags.
pub struct Context {
    pub db: String,
    pub json: bool,
    pub quiet: bool,
    pub repos: Option<PathBuf>,
    pub join: Option<PathBuf>,
}

impl Context {
    pub fn new(cli: &Cli) -> Self {
        Context {
            db: cli.db.clone(),
            json: cli.json,
            quiet: cli.quiet,
            repos: cli.repos.clone(),
            join: cli.join.clone(),
        }
    }

    pub async fn store(&self) -> Result<Store, Failure> {
        Store::open(&self.db).await.map_err(Failure::from)
    }

    /// A progress bar on stderr, hidden when quiet or when stderr is not a terminal.
    pub fn progress(&self, len: usize, what: &str) -> ProgressBar {
        if self.quiet {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len as u64);
        let style =
            ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(what.to_string());
        bar
    }

    /// Prints a line on stderr, above the progress bar when one is drawn (nowhere with --json
    /// or -q).
    pub fn note(&self, bar: &ProgressBar, line: String) {
        if self.json || self.quiet {
            return;
        }
        if bar.is_hidden() {
            eprintln!("{line}");
        } else {
            bar.println(line);
        }
    }
}

/// `--tasks SRC --task ID --limit N`, the task selection every task-taking command shares.
#[derive(Debug, Clone, Args)]
pub struct TaskSelection {
    /// Task source: `demo`, a SWE-bench JSON/JSONL file, a SWE-Bench-CL file, or a directory.
    #[arg(long, default_value = "demo")]
    pub tasks: String,
    /// Only this task (repeatable).
    #[arg(long = "task", value_name = "ID")]
    pub task_ids: Vec<String>,
    /// At most this many tasks.
    #[arg(long)]
    pub limit: Option<usize>,
}

/// How each episode runs: the flags `run`, `loop` and `ensemble` share.
#[derive(Debug, Clone, Args)]
pub struct EpisodeArgs {
    /// The judge: none, oracle, anthropic:MODEL, openai:MODEL@URL.
    #[arg(long, default_value = "oracle")]
    pub supervisor: String,
    /// When the supervisor is asked: every, stuck, sample:F, shadow.
    #[arg(long, default_value = "every")]
    pub supervise: String,
    /// Where actions (and tests) run: local or docker.
    #[arg(long, default_value = "local")]
    pub sandbox: String,
    /// Episodes run at once.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Policy turns per episode.
    #[arg(long, default_value_t = 30)]
    pub max_steps: usize,
    /// Dollars per episode (policy and supervisor), checked before each model call.
    #[arg(long)]
    pub max_cost_usd: Option<f64>,
    /// Wall-clock seconds per episode.
    #[arg(long)]
    pub max_episode_seconds: Option<u64>,
    /// Seconds a verification test run may take.
    #[arg(long, default_value_t = 600)]
    pub test_timeout: u64,
}

impl EpisodeArgs {
    /// A run of `policy` on `selection` with these episode settings, three attempts per task
    /// against infrastructure failures, and no run-wide budgets.
    pub fn run_config(&self, selection: &TaskSelection, policy: &str) -> RunConfig {
        RunConfig {
            tasks: selection.tasks.clone(),
            task_ids: selection.task_ids.clone(),
            limit: selection.limit,
            policy: policy.to_string(),
            supervisor: self.supervisor.clone(),
            supervise: self.supervise.clone(),
            sandbox: self.sandbox.clone(),
            workers: self.workers,
            max_steps: self.max_steps,
            max_attempts: 3,
            max_cost_usd_per_episode: self.max_cost_usd,
            max_episode_seconds: self.max_episode_seconds,
            max_run_cost_usd: None,
            max_run_seconds: None,
            test_timeout_seconds: self.test_timeout,
        }
    }
}

pub fn load_tasks(
    ctx: &Context,
    source: &str,
    ids: &[String],
    limit: Option<usize>,
) -> Result<Vec<Task>, Failure> {
    let options = LoadOptions {
        repos: ctx.repos.clone(),
        join: ctx.join.clone(),
    };
    let tasks =
        apprentice_tasks::load(source, &options).map_err(|e| Failure::Input(e.to_string()))?;
    apprentice_tasks::select(tasks, ids, limit).map_err(|e| Failure::Input(e.to_string()))
}

/// Fails fast, before any work, when a task's repository is not on this machine.
pub fn require_repositories(tasks: &[Task]) -> Result<(), Failure> {
    match tasks.iter().find_map(|t| t.repo_source().err()) {
        Some(message) => Err(Failure::Input(message)),
        None => Ok(()),
    }
}

pub fn sandbox_factory(kind: &str) -> Result<Arc<dyn SandboxFactory>, Failure> {
    match kind {
        "local" => apprentice_docker::Specs::discover()
            .map(|specs| {
                Arc::new(LocalSandboxFactory::new().with_test_specs(Arc::new(specs)))
                    as Arc<dyn SandboxFactory>
            })
            .map_err(|e| Failure::Input(e.to_string())),
        "docker" => apprentice_docker::DockerSandboxFactory::new()
            .map(|f| Arc::new(f) as Arc<dyn SandboxFactory>)
            .map_err(|e| Failure::Input(e.to_string())),
        other => Err(Failure::Input(format!(
            "unknown sandbox `{other}` (expected local or docker)"
        ))),
    }
}
