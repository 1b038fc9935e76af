//! Campaigns: every selected task, in every arm, for N exposures (seeds cycling), each
//! exposure a supervised episode stored like any other run's.
//!
//! An arm's exposures of one task run in order (the memory file carries from one to the
//! next); different tasks and arms run in parallel, `workers` at a time.

use std::path::PathBuf;
use std::time::Duration;

use apprentice_core::{AgentConfig, Episode, Policy, SupervisionMode, Supervisor, run_episode};
use apprentice_models::{PolicyMaker, ScriptedPolicy, SupervisorSpec};
use apprentice_store::{EpisodeOutcome, Store, StoreError, status};
use apprentice_tools::{ToolCall, ToolSet};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::episode::{
    EpisodeFacts, InfraError, TeeRecorder, check, core_task, oracle_steps, set_up, trajectory,
    transcript,
};
use crate::metrics::Trajectory;
use crate::oracle::OracleGuide;
use crate::task::TaskDef;
use crate::tools::{DiscoveryTools, ToolOptions};

/// Who acts: the oracle's steps replayed (a harness self-test), or any policy spec.
pub enum PolicyChoice {
    Oracle,
    Model(PolicyMaker),
}

/// Who judges: nobody, the oracle guide, or a model supervisor.
pub enum SupervisorChoice {
    None,
    Oracle,
    Model(SupervisorSpec),
}

/// Which arms a campaign runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemoryMode {
    /// No memory tools: one `plain` arm.
    Off,
    /// A `memory` arm whose notes persist from exposure to exposure.
    On,
    /// The `memory` arm and a `control` arm with the same tools whose notes are wiped.
    Both,
}

impl std::str::FromStr for MemoryMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "off" => Ok(MemoryMode::Off),
            "on" => Ok(MemoryMode::On),
            "both" => Ok(MemoryMode::Both),
            other => Err(format!(
                "unknown memory mode `{other}` (expected on, off or both)"
            )),
        }
    }
}

impl MemoryMode {
    pub fn arms(self) -> &'static [&'static str] {
        match self {
            MemoryMode::Off => &["plain"],
            MemoryMode::On => &["memory"],
            MemoryMode::Both => &["memory", "control"],
        }
    }
}

/// How a bench run is configured; stored as the run's config.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BenchConfig {
    pub tasks: String,
    pub task_ids: Vec<String>,
    pub policy: String,
    pub supervisor: String,
    pub supervise: String,
    /// Exposures per task and arm.
    pub episodes: usize,
    pub memory: MemoryMode,
    pub bash: bool,
    pub workers: usize,
}

/// What the caller hears as each episode ends.
#[derive(Debug, Clone, Serialize)]
pub struct EpisodeReport {
    pub key: String,
    pub task: String,
    pub arm: String,
    pub exposure: usize,
    pub seed: u64,
    /// `finished`, `agent_error` or `infra_error`.
    pub status: String,
    pub success: bool,
    pub steps: usize,
    pub detail: String,
    #[serde(skip)]
    pub trajectory: Option<Trajectory>,
}

pub struct Bench {
    pub store: Store,
    pub policy: PolicyChoice,
    pub supervisor: SupervisorChoice,
    pub mode: SupervisionMode,
    pub config: BenchConfig,
}

/// One scheduled episode.
struct Plan<'a> {
    task: &'a TaskDef,
    arm: &'static str,
    exposure: usize,
    seed: u64,
    memory: Option<PathBuf>,
}

impl Plan<'_> {
    /// The store's task id: unique per run, readable in `show`.
    fn key(&self) -> String {
        format!(
            "{}/{}/e{}/s{}",
            self.task.id, self.arm, self.exposure, self.seed
        )
    }
}

enum Failure {
    Infra(String),
    Agent(String),
}

impl From<InfraError> for Failure {
    fn from(e: InfraError) -> Self {
        Failure::Infra(e.0)
    }
}

impl Bench {
    /// Runs the campaign into `run_id` (created by the caller) and returns every episode's
    /// report, calling `on_episode` as each ends.
    pub async fn run(
        &self,
        run_id: &str,
        tasks: &[TaskDef],
        on_episode: &(dyn Fn(&EpisodeReport) + Sync),
    ) -> Result<Vec<EpisodeReport>, StoreError> {
        let memory_dir = tempfile::Builder::new()
            .prefix("apprentice-bench-memory-")
            .tempdir()
            .map_err(|e| StoreError::Usage(format!("cannot create the memory directory: {e}")))?;
        let lanes: Vec<(&TaskDef, &'static str)> = self
            .config
            .memory
            .arms()
            .iter()
            .flat_map(|&arm| tasks.iter().map(move |t| (t, arm)))
            .collect();
        let memory_dir = memory_dir.path();
        let results: Vec<Result<Vec<EpisodeReport>, StoreError>> = futures::stream::iter(lanes)
            .map(|(task, arm)| async move {
                let memory =
                    (arm != "plain").then(|| memory_dir.join(format!("{arm}-{}.md", task.id)));
                let mut reports = Vec::new();
                for exposure in 1..=self.config.episodes.max(1) {
                    let seed = task.seeds[(exposure - 1) % task.seeds.len()];
                    let plan = Plan {
                        task,
                        arm,
                        exposure,
                        seed,
                        memory: memory.clone(),
                    };
                    let report = self.episode(run_id, &plan).await?;
                    on_episode(&report);
                    reports.push(report);
                }
                Ok(reports)
            })
            .buffer_unordered(self.config.workers.max(1))
            .collect()
            .await;
        let mut all = Vec::new();
        for lane in results {
            all.extend(lane?);
        }
        Ok(all)
    }

    async fn episode(&self, run_id: &str, plan: &Plan<'_>) -> Result<EpisodeReport, StoreError> {
        let key = plan.key();
        let episode = self.store.start_episode(run_id, &key).await?;
        let mut report = EpisodeReport {
            key: key.clone(),
            task: plan.task.id.clone(),
            arm: plan.arm.to_string(),
            exposure: plan.exposure,
            seed: plan.seed,
            status: status::FINISHED.into(),
            success: false,
            steps: 0,
            detail: String::new(),
            trajectory: None,
        };
        match self.attempt(episode, plan).await {
            Ok(trajectory) => {
                report.success = trajectory.success;
                report.steps = trajectory.steps;
                report.detail = if trajectory.success {
                    "success"
                } else {
                    "failure"
                }
                .into();
                report.trajectory = Some(trajectory);
            }
            Err(Failure::Agent(error)) => {
                self.store
                    .fail_episode(episode, status::AGENT_ERROR, &error)
                    .await?;
                report.status = status::AGENT_ERROR.into();
                report.detail = error;
            }
            Err(Failure::Infra(error)) => {
                tracing::warn!("{key}: {error}");
                self.store
                    .fail_episode(episode, status::INFRA_ERROR, &error)
                    .await?;
                report.status = status::INFRA_ERROR.into();
                report.detail = error;
            }
        }
        Ok(report)
    }

    async fn attempt(&self, episode: i64, plan: &Plan<'_>) -> Result<Trajectory, Failure> {
        let (task, seed) = (plan.task, plan.seed);
        if plan.arm == "control"
            && let Some(path) = &plan.memory
        {
            std::fs::write(path, "").map_err(|e| Failure::Infra(format!("wiping memory: {e}")))?;
        }
        let workdir = set_up(task, seed).await?;
        let oracle = oracle_steps(task, &workdir, seed).await?;
        let tools = DiscoveryTools::new(
            task.tools.clone(),
            &ToolOptions {
                bash: self.config.bash,
                memory: plan.memory.clone(),
            },
        );
        let core = core_task(task, &plan.key(), seed);
        let mut policy = self.policy(&core, &oracle, &tools)?;
        let mut supervisor = self.supervisor(&core, &oracle, &tools)?;
        let mut recorder = TeeRecorder {
            inner: self.store.recorder(episode),
            events: Vec::new(),
        };
        let config = AgentConfig {
            max_steps: task.max_steps,
            mode: self.mode,
            max_wall_time: Some(Duration::from_secs(task.time_limit_s)),
            seed,
            ..AgentConfig::default()
        };
        let parts = Episode {
            task: &core,
            transcript: transcript(task, tools.catalog()),
            tools: &tools,
            policy: policy.as_mut(),
            supervisor: supervisor.as_deref_mut().map(|s| s as &mut dyn Supervisor),
            sandbox: &workdir,
            recorder: &mut recorder,
        };
        let summary = run_episode(parts, &config).await.map_err(|e| {
            if e.is_infrastructure() {
                Failure::Infra(e.to_string())
            } else {
                Failure::Agent(e.to_string())
            }
        })?;
        let result = check(task, &workdir, seed).await?;
        drop(workdir);
        let trajectory = trajectory(EpisodeFacts {
            task,
            arm: plan.arm,
            exposure: plan.exposure,
            seed,
            success: result.success,
            steps: summary.steps,
            oracle: &oracle,
            events: &recorder.events,
        });
        let memory = plan
            .memory
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok());
        let outcome = EpisodeOutcome {
            summary: &summary,
            grade: if result.success { "success" } else { "failure" }.into(),
            resolved: result.success,
            report: json!({
                "bench": {
                    "task": task.id, "family": task.family, "arm": plan.arm,
                    "exposure": plan.exposure, "seed": seed,
                    "offered_tools": task.tool_names(),
                },
                "check": result,
                "trajectory": trajectory,
                "memory_after": memory,
                "tool_catalog": tools.catalog(),
            }),
        };
        self.store
            .finish_episode(episode, &outcome)
            .await
            .map_err(|e| Failure::Infra(e.to_string()))?;
        Ok(trajectory)
    }

    fn policy(
        &self,
        core: &apprentice_core::Task,
        oracle: &[ToolCall],
        tools: &DiscoveryTools,
    ) -> Result<Box<dyn Policy>, Failure> {
        match &self.policy {
            PolicyChoice::Oracle => {
                let replies = oracle
                    .iter()
                    .map(|c| tools.catalog().render_call(c))
                    .collect();
                Ok(Box::new(ScriptedPolicy::new("oracle", replies)))
            }
            PolicyChoice::Model(maker) => {
                maker.build(core).map_err(|e| Failure::Agent(e.to_string()))
            }
        }
    }

    fn supervisor(
        &self,
        core: &apprentice_core::Task,
        oracle: &[ToolCall],
        tools: &DiscoveryTools,
    ) -> Result<Option<Box<dyn Supervisor>>, Failure> {
        match &self.supervisor {
            SupervisorChoice::None => Ok(None),
            SupervisorChoice::Oracle => Ok(Some(Box::new(OracleGuide::new(
                oracle.to_vec(),
                tools.catalog().clone(),
            )))),
            SupervisorChoice::Model(spec) => {
                spec.build(core).map_err(|e| Failure::Agent(e.to_string()))
            }
        }
    }
}
