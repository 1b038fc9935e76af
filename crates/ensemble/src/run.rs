//! Running the members and choosing per task.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use apprentice_core::{SupervisionMode, Task};
use apprentice_harness::{EpisodeReport, Harness, RunConfig, grade_patch};
use apprentice_models::{PolicyMaker, SupervisorSpec};
use apprentice_sandbox::SandboxFactory;
use apprentice_store::{FinalPatch, Store, StoreError};
use futures::StreamExt;
use serde_json::json;

use crate::report::{Choice, EnsembleReport, MemberRun, TaskReport, build};
use crate::select::{Candidate, Cluster, clusters, largest, pick_majority, pick_tests, score};
use crate::suite::{VisibleTask, agent_tests, run_suite, suite_patch};
use crate::tiebreak::approved_by_supervisor;

/// The strategies, in report order.
pub const STRATEGIES: [&str; 3] = ["union", "majority", "tests"];

#[derive(Debug, thiserror::Error)]
pub enum EnsembleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("unknown selection strategy `{0}` (expected union, majority or tests)")]
    Strategy(String),
    #[error("task `{task}`: {detail}")]
    Task { task: String, detail: String },
}

/// One policy of the ensemble, ready to run.
pub struct Member {
    pub policy: String,
    pub maker: PolicyMaker,
}

/// Members, where they run, how they are supervised, and how to choose.
pub struct Ensemble {
    pub name: String,
    pub store: Store,
    pub factory: Arc<dyn SandboxFactory>,
    pub members: Vec<Member>,
    pub supervisor: SupervisorSpec,
    pub mode: SupervisionMode,
    /// The members' run configuration; each member's `policy` is filled in.
    pub config: RunConfig,
    /// Strategies to report, a subset of [`STRATEGIES`].
    pub strategies: Vec<String>,
}

/// One task's candidates and what the members' own runs said about them.
struct TaskInput<'a> {
    task: &'a Task,
    patches: Vec<FinalPatch>,
}

impl Ensemble {
    /// Checks the strategy names.
    pub fn check_strategies(names: &[String]) -> Result<(), EnsembleError> {
        match names.iter().find(|n| !STRATEGIES.contains(&n.as_str())) {
            Some(bad) => Err(EnsembleError::Strategy(bad.clone())),
            None => Ok(()),
        }
    }

    /// The stored run of member `i`.
    pub fn member_run(&self, i: usize) -> String {
        format!("{}-m{}", self.name, i + 1)
    }

    /// Runs every member on every task (members at once, each with the configured workers),
    /// then chooses per task. `on_episode(member, report)` hears each episode as it ends.
    pub async fn run(
        self,
        tasks: Vec<Task>,
        on_episode: &(dyn Fn(usize, EpisodeReport) + Sync),
    ) -> Result<EnsembleReport, EnsembleError> {
        Self::check_strategies(&self.strategies)?;
        let mut harnesses = Vec::new();
        for (i, member) in self.members.into_iter().enumerate() {
            let run = format!("{}-m{}", self.name, i + 1);
            let config = RunConfig {
                policy: member.policy.clone(),
                ..self.config.clone()
            };
            let stored = serde_json::to_value(&config).unwrap_or_default();
            self.store.create_run(&run, &stored).await?;
            harnesses.push((
                run,
                Harness {
                    store: self.store.clone(),
                    factory: Arc::clone(&self.factory),
                    policy: member.maker,
                    supervisor: self.supervisor.clone(),
                    mode: self.mode,
                    config,
                },
            ));
        }
        let runs = harnesses.iter().enumerate().map(|(i, (run, harness))| {
            let tasks = tasks.clone();
            async move {
                harness
                    .run(run, tasks, &|report| on_episode(i, report))
                    .await?;
                harness.store.set_run_status(run, "finished").await
            }
        });
        futures::future::try_join_all(runs).await?;
        let mut members = Vec::new();
        let mut finals: Vec<HashMap<String, FinalPatch>> = Vec::new();
        for (run, harness) in &harnesses {
            let summary = self.store.run_summary(run).await?;
            members.push(MemberRun {
                policy: harness.config.policy.clone(),
                run: run.clone(),
                cost_usd: summary.cost_usd,
            });
            let patches = self.store.final_patches(run).await?;
            finals.push(patches.into_iter().map(|p| (p.task.clone(), p)).collect());
        }
        let chooser = Chooser {
            factory: self.factory.as_ref(),
            supervisor: &self.supervisor,
            strategies: &self.strategies,
            timeout: Duration::from_secs(self.config.test_timeout_seconds),
            spent: Mutex::new(HashMap::new()),
        };
        let inputs: Vec<TaskInput> = tasks
            .iter()
            .map(|task| TaskInput {
                task,
                patches: finals
                    .iter()
                    .map(|m| {
                        m.get(&task.instance_id).cloned().unwrap_or(FinalPatch {
                            task: task.instance_id.clone(),
                            patch: String::new(),
                            resolved: false,
                            cost_usd: 0.0,
                        })
                    })
                    .collect(),
            })
            .collect();
        let workers = self.config.workers.max(1);
        let details: Vec<TaskReport> = futures::stream::iter(inputs.iter())
            .map(|input| chooser.choose(input))
            .buffered(workers)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        let spent = chooser.spent.into_inner().unwrap_or_default();
        let cost = |name: &str| spent.get(name).copied().unwrap_or(0.0);
        Ok(build(
            &self.name,
            &members,
            details,
            &self.strategies,
            &cost,
        ))
    }
}

/// Makes the per-task choices.
struct Chooser<'a> {
    factory: &'a dyn SandboxFactory,
    supervisor: &'a SupervisorSpec,
    strategies: &'a [String],
    timeout: Duration,
    /// Dollars spent by each strategy beyond the members (supervisor tie-breaks).
    spent: Mutex<HashMap<String, f64>>,
}

impl Chooser<'_> {
    async fn choose(&self, input: &TaskInput<'_>) -> Result<TaskReport, EnsembleError> {
        let task = input.task;
        let fail = |detail: String| EnsembleError::Task {
            task: task.instance_id.clone(),
            detail,
        };
        let candidates: Vec<Candidate> = input
            .patches
            .iter()
            .enumerate()
            .map(|(member, p)| Candidate {
                member,
                patch: p.patch.clone(),
            })
            .collect();
        let clusters = clusters(&candidates);
        let mut choices = Vec::new();
        let mut graded: HashMap<usize, (bool, String)> = HashMap::new();
        for strategy in self.strategies {
            let (member, detail) = match strategy.as_str() {
                "union" => {
                    let winner = input.patches.iter().position(|p| p.resolved);
                    choices.push(Choice {
                        strategy: strategy.clone(),
                        member: winner,
                        resolved: winner.is_some(),
                        grade: None,
                        detail: json!({"note": "oracle upper bound: resolved when any member resolved"}),
                    });
                    continue;
                }
                "majority" => self
                    .majority(task, &candidates, &clusters)
                    .await
                    .map_err(fail)?,
                _ => self
                    .tests(task, &candidates, &clusters)
                    .await
                    .map_err(fail)?,
            };
            let (resolved, grade) = match member {
                Some(m) => match graded.get(&m) {
                    Some(done) => done.clone(),
                    None => {
                        let report = grade_patch(
                            task,
                            Some(candidates[m].patch.clone()),
                            self.factory,
                            self.timeout,
                        )
                        .await
                        .map_err(fail)?;
                        let done = (report.resolved, report.status.as_str().to_string());
                        graded.insert(m, done.clone());
                        done
                    }
                },
                None => (false, "NO".to_string()),
            };
            choices.push(Choice {
                strategy: strategy.clone(),
                member,
                resolved,
                grade: Some(grade),
                detail,
            });
        }
        Ok(TaskReport {
            task: task.instance_id.clone(),
            members_resolved: input.patches.iter().map(|p| p.resolved).collect(),
            choices,
        })
    }

    async fn majority(
        &self,
        task: &Task,
        candidates: &[Candidate],
        clusters: &[Cluster],
    ) -> Result<(Option<usize>, serde_json::Value), String> {
        let tied = largest(clusters);
        let mut approved = Vec::new();
        let asked = tied.len() > 1 && *self.supervisor != SupervisorSpec::None;
        if asked {
            let patches: Vec<(usize, &str)> = tied
                .iter()
                .map(|c| {
                    (
                        c.representative,
                        candidates[c.representative].patch.as_str(),
                    )
                })
                .collect();
            let (ok, cost) =
                approved_by_supervisor(task, self.supervisor, &patches, self.factory).await?;
            approved = ok;
            self.charge("majority", cost);
        }
        let winner = pick_majority(clusters, &approved).map(|c| c.representative);
        let detail = json!({
            "clusters": clusters,
            "tied": tied.len(),
            "supervisor_asked": asked,
            "supervisor_approved": approved,
        });
        Ok((winner, detail))
    }

    async fn tests(
        &self,
        task: &Task,
        candidates: &[Candidate],
        clusters: &[Cluster],
    ) -> Result<(Option<usize>, serde_json::Value), String> {
        if clusters.is_empty() {
            return Ok((None, json!({"note": "no member changed any source"})));
        }
        let visible = VisibleTask::of(task)?;
        let tests = agent_tests(candidates.iter().map(|c| c.patch.as_str()));
        let baseline = run_suite(
            &visible,
            suite_patch(None, &tests)?,
            self.factory,
            self.timeout,
        )
        .await
        .unwrap_or_default();
        let mut scored = Vec::new();
        for cluster in clusters {
            let patch = &candidates[cluster.representative].patch;
            let statuses = match suite_patch(Some(patch), &tests) {
                Ok(text) => run_suite(&visible, text, self.factory, self.timeout).await,
                Err(e) => Err(e),
            };
            if let Err(e) = &statuses {
                tracing::info!(
                    "{}: candidate of member {} not scored: {e}",
                    task.instance_id,
                    cluster.representative
                );
            }
            scored.push((cluster.clone(), statuses.ok().map(|s| score(&baseline, &s))));
        }
        let winner = pick_tests(&scored).map(|(c, _)| c.representative);
        let detail = json!({
            "agent_tests": tests.iter().map(|f| f.path()).collect::<Vec<_>>(),
            "tests_run": baseline.keys().collect::<Vec<_>>(),
            "scores": scored.iter().map(|(c, s)| json!({"member": c.representative, "cluster": c.members, "score": s})).collect::<Vec<_>>(),
        });
        Ok((winner, detail))
    }

    fn charge(&self, strategy: &str, cost: f64) {
        if let Ok(mut spent) = self.spent.lock() {
            *spent.entry(strategy.to_string()).or_default() += cost;
        }
    }
}
