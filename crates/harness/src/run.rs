//! A run: every selected task, each as one final episode, stored as it goes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use apprentice_core::{
    AgentConfig, Episode, EpisodeSummary, SupervisionMode, Task, Transcript, run_episode,
};
use apprentice_models::{PolicyMaker, SupervisorSpec};
use apprentice_sandbox::SandboxFactory;
use apprentice_store::{EpisodeOutcome, Store, status};
use apprentice_tools::{StandardTools, ToolSet};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::grade::grade_patch;

/// How a run is configured; stored with the run so `--resume` continues it the same way.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunConfig {
    pub tasks: String,
    pub task_ids: Vec<String>,
    pub limit: Option<usize>,
    pub policy: String,
    pub supervisor: String,
    pub supervise: String,
    pub sandbox: String,
    pub workers: usize,
    pub max_steps: usize,
    /// Attempts per task when attempts fail for infrastructure reasons.
    pub max_attempts: usize,
    pub max_cost_usd_per_episode: Option<f64>,
    pub max_episode_seconds: Option<u64>,
    /// Dollars for the whole run (every attempt), checked before each episode and passed down
    /// as the episode's limit, so the last episode stops at the line rather than past it.
    #[serde(default)]
    pub max_run_cost_usd: Option<f64>,
    /// Wall-clock seconds for the whole run, earlier sessions of a resumed run included.
    #[serde(default)]
    pub max_run_seconds: Option<u64>,
    pub test_timeout_seconds: u64,
}

/// The status of a task the run's budget left no room for; nothing is stored for it.
pub const SKIPPED: &str = "skipped";

/// What the caller hears as each task ends.
#[derive(Debug, Clone, Serialize)]
pub struct EpisodeReport {
    pub task: String,
    pub status: String,
    pub resolved: bool,
    pub steps: usize,
    pub interventions: usize,
    pub detail: String,
}

pub struct Harness {
    pub store: Store,
    pub factory: Arc<dyn SandboxFactory>,
    pub policy: PolicyMaker,
    pub supervisor: SupervisorSpec,
    pub mode: SupervisionMode,
    pub config: RunConfig,
}

/// Why an attempt did not produce a graded episode.
enum AttemptError {
    Infrastructure(String),
    Agent(String),
}

impl Harness {
    /// Runs every task of `tasks` not yet final in `run_id`, `workers` at a time, calling
    /// `on_episode` as each ends.
    pub async fn run(
        &self,
        run_id: &str,
        tasks: Vec<Task>,
        on_episode: &(dyn Fn(EpisodeReport) + Sync),
    ) -> Result<(), apprentice_store::StoreError> {
        let interrupted = self.store.interrupt_running(run_id).await?;
        if interrupted > 0 {
            tracing::info!(
                "marked {interrupted} unfinished attempt(s) of run {run_id} as interrupted"
            );
        }
        let done = self.store.final_tasks(run_id).await?;
        let pending: Vec<Task> = tasks
            .into_iter()
            .filter(|t| !done.contains(&t.instance_id))
            .collect();
        let workers = self.config.workers.max(1);
        // The wall budget is the run's, not this session's: earlier sessions' time counts.
        let spent_before = self.store.run_elapsed(run_id).await?;
        let clock = RunClock {
            resumed: Instant::now(),
            spent_before,
        };
        let mut results = futures::stream::iter(pending)
            .map(|task| async move { self.run_task(run_id, &task, clock).await })
            .buffer_unordered(workers);
        while let Some(result) = results.next().await {
            on_episode(result?);
        }
        Ok(())
    }

    async fn run_task(
        &self,
        run_id: &str,
        task: &Task,
        clock: RunClock,
    ) -> Result<EpisodeReport, apprentice_store::StoreError> {
        let mut last_error = String::new();
        for attempt in 1..=self.config.max_attempts.max(1) {
            let Some(limits) = self.episode_limits(run_id, &clock).await? else {
                return Ok(report(task, SKIPPED, None, "run budget exhausted".into()));
            };
            let episode = self.store.start_episode(run_id, &task.instance_id).await?;
            match self.attempt(task, episode, &limits).await {
                Ok(report) => return Ok(report),
                Err(AttemptError::Agent(error)) => {
                    self.store
                        .fail_episode(episode, status::AGENT_ERROR, &error)
                        .await?;
                    return Ok(report(task, status::AGENT_ERROR, None, error));
                }
                Err(AttemptError::Infrastructure(error)) => {
                    tracing::warn!("{}: attempt {attempt} failed: {error}", task.instance_id);
                    self.store
                        .fail_episode(episode, status::INFRA_ERROR, &error)
                        .await?;
                    last_error = error;
                    tokio::time::sleep(Duration::from_millis(500 * attempt as u64)).await;
                }
            }
        }
        Ok(report(task, status::INFRA_ERROR, None, last_error))
    }

    /// The episode's limits under what is left of the run's budgets; `None` when nothing is.
    async fn episode_limits(
        &self,
        run_id: &str,
        clock: &RunClock,
    ) -> Result<Option<AgentConfig>, apprentice_store::StoreError> {
        let mut limits = self.agent_config();
        if let Some(budget) = self.config.max_run_cost_usd {
            let left = budget - self.store.run_cost(run_id).await?;
            if left <= 0.0 {
                return Ok(None);
            }
            limits.max_cost_usd = Some(limits.max_cost_usd.map_or(left, |own| own.min(left)));
        }
        if let Some(seconds) = self.config.max_run_seconds {
            let Some(left) = Duration::from_secs(seconds).checked_sub(clock.elapsed()) else {
                return Ok(None);
            };
            limits.max_wall_time = Some(limits.max_wall_time.map_or(left, |own| own.min(left)));
        }
        Ok(Some(limits))
    }

    async fn attempt(
        &self,
        task: &Task,
        episode: i64,
        limits: &AgentConfig,
    ) -> Result<EpisodeReport, AttemptError> {
        let source = task.repo_source().map_err(AttemptError::Agent)?;
        let sandbox = self
            .factory
            .create_for(source, &task.env_key())
            .await
            .map_err(|e| AttemptError::Infrastructure(format!("sandbox: {e}")))?;
        let mut policy = self
            .policy
            .build(task)
            .map_err(|e| AttemptError::Agent(e.to_string()))?;
        let mut supervisor = self
            .supervisor
            .build(task)
            .map_err(|e| AttemptError::Agent(e.to_string()))?;
        let mut recorder = self.store.recorder(episode);
        let supervisor: Option<&mut dyn apprentice_core::Supervisor> = match supervisor.as_mut() {
            Some(s) => Some(s.as_mut()),
            None => None,
        };
        let tools = StandardTools::new();
        let parts = Episode {
            task,
            transcript: Transcript::start(task, tools.catalog()),
            tools: &tools,
            policy: policy.as_mut(),
            supervisor,
            sandbox: sandbox.as_ref(),
            recorder: &mut recorder,
        };
        let summary = run_episode(parts, limits).await.map_err(|e| {
            if e.is_infrastructure() {
                AttemptError::Infrastructure(e.to_string())
            } else {
                AttemptError::Agent(e.to_string())
            }
        })?;
        drop(sandbox);
        self.grade(task, episode, &summary).await
    }

    async fn grade(
        &self,
        task: &Task,
        episode: i64,
        summary: &EpisodeSummary,
    ) -> Result<EpisodeReport, AttemptError> {
        let timeout = Duration::from_secs(self.config.test_timeout_seconds);
        let verdict = grade_patch(
            task,
            Some(summary.patch.clone()),
            self.factory.as_ref(),
            timeout,
        )
        .await
        .map_err(AttemptError::Infrastructure)?;
        let grade = verdict.status.as_str().to_string();
        let outcome = EpisodeOutcome {
            summary,
            grade: grade.clone(),
            resolved: verdict.resolved,
            report: serde_json::to_value(&verdict).unwrap_or_default(),
        };
        self.store
            .finish_episode(episode, &outcome)
            .await
            .map_err(|e| AttemptError::Infrastructure(e.to_string()))?;
        let detail = format!("{grade}, ended by {}", summary.end.as_str());
        Ok(report(task, status::FINISHED, Some(summary), detail).resolved(verdict.resolved))
    }

    fn agent_config(&self) -> AgentConfig {
        AgentConfig {
            max_steps: self.config.max_steps,
            mode: self.mode,
            max_cost_usd: self.config.max_cost_usd_per_episode,
            max_wall_time: self.config.max_episode_seconds.map(Duration::from_secs),
            ..AgentConfig::default()
        }
    }
}

fn report(
    task: &Task,
    status: &str,
    summary: Option<&EpisodeSummary>,
    detail: String,
) -> EpisodeReport {
    EpisodeReport {
        task: task.instance_id.clone(),
        status: status.to_string(),
        resolved: false,
        steps: summary.map_or(0, |s| s.steps),
        interventions: summary.map_or(0, |s| s.interventions),
        detail,
    }
}

impl EpisodeReport {
    fn resolved(mut self, resolved: bool) -> Self {
        self.resolved = resolved;
        self
    }
}

/// How long a run has been at work: earlier sessions (from the store) plus this one.
#[derive(Debug, Clone, Copy)]
struct RunClock {
    resumed: Instant,
    spent_before: Duration,
}

impl RunClock {
    fn elapsed(&self) -> Duration {
        self.spent_before + self.resumed.elapsed()
    }
}
