//! Runs a loop's rounds in order, resuming at the first unfinished one.
//!
//! A round is: the train tasks under the configured supervision (run `<loop>-r<N>-train`),
//! the held-out tasks in shadow mode (run `<loop>-r<N>-heldout`), their numbers, and (except
//! after the last round, whose adapter nothing would run with) the training stage. Each piece
//! is stored as it finishes, so a killed loop resumes inside the runs (the harness skips
//! finished tasks), retrains a round whose training was cut short, and never redoes a
//! finished round.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use apprentice_core::{SupervisionMode, Task};
use apprentice_embedded::EmbeddedSpec;
use apprentice_harness::{EpisodeReport, Harness, RunConfig};
use apprentice_models::{PolicyMaker, PolicySpec, SupervisorSpec};
use apprentice_sandbox::SandboxFactory;
use apprentice_store::{LoopRound, RoundOutcome, Store};
use indicatif::ProgressBar;
use serde::Serialize;

use crate::metrics::SplitMetrics;
use crate::split::{Split, split_tasks};
use crate::training::{self, Stage, Stages, Trainer, TrainingOutcome};
use crate::{LoopConfig, LoopError};

/// How the caller shows progress.
pub trait Observer: Sync {
    /// A progress bar for `len` units of `what` (hidden when the caller is quiet).
    fn bar(&self, len: usize, what: &str) -> ProgressBar;
    /// One finished episode.
    fn episode(&self, bar: &ProgressBar, report: &EpisodeReport);
}

/// One round as the loop reports it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RoundReport {
    pub round: usize,
    pub policy: String,
    /// The adapter the round's policy ran with (`None`: the starting policy).
    pub adapter: Option<PathBuf>,
    pub train: SplitMetrics,
    pub held_out: SplitMetrics,
    /// The training stage after this round (`None` after the last round or with `--train
    /// none`); its adapter is the next round's.
    pub training: Option<TrainingOutcome>,
    /// Wall time of the round (attempts and training) in the invocation that finished it.
    pub wall_seconds: f64,
}

impl RoundReport {
    fn from_stored(row: &LoopRound) -> Result<Self, LoopError> {
        let unreadable = |what: &str| {
            LoopError::Other(format!(
                "round {} has unreadable {what} in the store",
                row.round
            ))
        };
        let metrics = |v: &Option<serde_json::Value>, what: &str| {
            v.clone()
                .and_then(|v| serde_json::from_value(v).ok())
                .ok_or_else(|| unreadable(what))
        };
        let training = match &row.training {
            Some(serde_json::Value::Null) | None => None,
            Some(v) => Some(serde_json::from_value(v.clone()).map_err(|_| unreadable("training"))?),
        };
        Ok(RoundReport {
            round: row.round as usize,
            policy: row.policy.clone(),
            adapter: adapter_of(&row.policy),
            train: metrics(&row.train, "train metrics")?,
            held_out: metrics(&row.held_out, "held-out metrics")?,
            training,
            wall_seconds: row.wall_seconds.unwrap_or(0.0),
        })
    }

    /// The adapter this round trained, if any.
    pub fn trained_adapter(&self) -> Option<&Path> {
        self.training.as_ref()?.adapter.as_deref()
    }
}

fn adapter_of(policy: &str) -> Option<PathBuf> {
    EmbeddedSpec::parse(policy).ok()?.lora.map(|l| l.dir)
}

/// The names of round `round`'s two runs.
pub fn run_ids(loop_id: &str, round: usize) -> (String, String) {
    (
        format!("{loop_id}-r{round}-train"),
        format!("{loop_id}-r{round}-heldout"),
    )
}

pub struct LoopRunner<'a> {
    pub store: Store,
    pub factory: Arc<dyn SandboxFactory>,
    pub id: String,
    pub config: LoopConfig,
    pub observer: &'a dyn Observer,
}

impl LoopRunner<'_> {
    /// Records a new loop (fails if the id is taken).
    pub async fn create(&self) -> Result<(), LoopError> {
        let config =
            serde_json::to_value(&self.config).map_err(|e| LoopError::Other(e.to_string()))?;
        Ok(self.store.create_loop(&self.id, &config).await?)
    }

    /// Runs every round not finished yet; returns all rounds, finished earlier ones included.
    pub async fn run(&self, tasks: Vec<Task>) -> Result<Vec<RoundReport>, LoopError> {
        self.config.validate()?;
        let split = split_tasks(tasks, self.config.held_out, self.config.seed)?;
        let mut reports = Vec::new();
        for row in self.store.loop_rounds(&self.id).await? {
            if row.status == "finished" {
                reports.push(RoundReport::from_stored(&row)?);
            }
        }
        let mut adapter = reports
            .iter()
            .rev()
            .find_map(|r| r.trained_adapter().map(Path::to_path_buf));
        for round in reports.len() + 1..=self.config.rounds {
            let report = self.round(round, adapter.as_deref(), &split).await?;
            if let Some(trained) = report.trained_adapter() {
                adapter = Some(trained.to_path_buf());
            }
            reports.push(report);
        }
        self.store.set_loop_status(&self.id, "finished").await?;
        Ok(reports)
    }

    /// Marks the open round's runs and the loop as interrupted (after Ctrl-C).
    pub async fn mark_interrupted(&self) -> Result<(), LoopError> {
        for row in self.store.loop_rounds(&self.id).await? {
            if row.status == "finished" {
                continue;
            }
            for run in [&row.train_run, &row.held_out_run] {
                if self.store.run_exists(run).await? {
                    self.store.interrupt_running(run).await?;
                    self.store.set_run_status(run, "interrupted").await?;
                }
            }
        }
        Ok(self.store.set_loop_status(&self.id, "interrupted").await?)
    }

    async fn round(
        &self,
        round: usize,
        adapter: Option<&Path>,
        split: &Split,
    ) -> Result<RoundReport, LoopError> {
        let started = Instant::now();
        let base = &self.config.run.policy;
        let policy = match adapter {
            Some(dir) => training::with_adapter(base, dir)?,
            None => base.clone(),
        };
        let (train_run, held_out_run) = run_ids(&self.id, round);
        self.store
            .start_round(&self.id, round as i64, &policy, &train_run, &held_out_run)
            .await?;
        let mut harness = self.harness(&policy).await?;
        let mode: SupervisionMode = self
            .config
            .run
            .supervise
            .parse()
            .map_err(LoopError::Input)?;
        let label = format!("round {round}/{}", self.config.rounds);
        let what = format!("{label} train");
        self.attempts(&mut harness, &policy, &train_run, &split.train, mode, &what)
            .await?;
        let (shadow, what) = (SupervisionMode::Shadow, format!("{label} held-out"));
        self.attempts(
            &mut harness,
            &policy,
            &held_out_run,
            &split.held_out,
            shadow,
            &what,
        )
        .await?;
        drop(harness);
        let train = SplitMetrics::from(&self.store.run_summary(&train_run).await?);
        let held_out = SplitMetrics::from(&self.store.run_summary(&held_out_run).await?);
        let training = if round < self.config.rounds && self.config.train.stages != Stages::None {
            Some(self.train(round).await?)
        } else {
            None
        };
        let report = RoundReport {
            round,
            adapter: adapter_of(&policy),
            policy,
            train,
            held_out,
            training,
            wall_seconds: started.elapsed().as_secs_f64(),
        };
        self.finish(&report).await?;
        Ok(report)
    }

    async fn finish(&self, report: &RoundReport) -> Result<(), LoopError> {
        let (train, held_out, training) = (
            to_json(&report.train),
            to_json(&report.held_out),
            to_json(&report.training),
        );
        let t = report.training.as_ref();
        let adapter = report.trained_adapter().map(|p| p.display().to_string());
        let outcome = RoundOutcome {
            train: &train,
            held_out: &held_out,
            adapter: adapter.as_deref(),
            sft_rows: t.map_or(0, |t| t.sft_rows as i64),
            dpo_pairs: t.map_or(0, |t| t.dpo_pairs as i64),
            sft_loss: t
                .and_then(|t| t.sft.as_ref())
                .map(|s| f64::from(s.final_loss)),
            dpo_loss: t
                .and_then(|t| t.dpo.as_ref())
                .map(|s| f64::from(s.final_loss)),
            training: &training,
            wall_seconds: report.wall_seconds,
        };
        Ok(self
            .store
            .finish_round(&self.id, report.round as i64, &outcome)
            .await?)
    }

    /// A harness for `policy` (its model loaded once for both of the round's runs).
    async fn harness(&self, policy: &str) -> Result<Harness, LoopError> {
        let spec: PolicySpec = policy
            .parse()
            .map_err(|e: apprentice_models::SpecError| LoopError::Input(e.to_string()))?;
        let maker = tokio::task::spawn_blocking(move || {
            let maker = PolicyMaker::new(spec);
            maker.prepare().map(|()| maker)
        })
        .await
        .map_err(|e| LoopError::Other(e.to_string()))?
        .map_err(|e| LoopError::Input(e.to_string()))?;
        let supervisor: SupervisorSpec = self
            .config
            .run
            .supervisor
            .parse()
            .map_err(|e: apprentice_models::SpecError| LoopError::Input(e.to_string()))?;
        Ok(Harness {
            store: self.store.clone(),
            factory: self.factory.clone(),
            policy: maker,
            supervisor,
            mode: SupervisionMode::Every,
            config: self.config.run.clone(),
        })
    }

    /// One of the round's runs: created on first use, continued on resume.
    async fn attempts(
        &self,
        harness: &mut Harness,
        policy: &str,
        run_id: &str,
        tasks: &[Task],
        mode: SupervisionMode,
        what: &str,
    ) -> Result<(), LoopError> {
        let config = RunConfig {
            task_ids: tasks.iter().map(|t| t.instance_id.clone()).collect(),
            limit: None,
            policy: policy.to_string(),
            supervise: mode.to_string(),
            ..self.config.run.clone()
        };
        if !self.store.run_exists(run_id).await? {
            let stored =
                serde_json::to_value(&config).map_err(|e| LoopError::Other(e.to_string()))?;
            self.store.create_run(run_id, &stored).await?;
        }
        harness.mode = mode;
        harness.config = config;
        let done = self.store.final_tasks(run_id).await?.len();
        let bar = self.observer.bar(tasks.len(), what);
        bar.set_position(done.min(tasks.len()) as u64);
        let on_episode = |report: EpisodeReport| {
            bar.inc(1);
            self.observer.episode(&bar, &report);
        };
        harness.run(run_id, tasks.to_vec(), &on_episode).await?;
        bar.finish_and_clear();
        Ok(self.store.set_run_status(run_id, "finished").await?)
    }

    /// Export and train after round `round` on the train runs of rounds 1..=round.
    async fn train(&self, round: usize) -> Result<TrainingOutcome, LoopError> {
        let runs: Vec<String> = (1..=round).map(|r| run_ids(&self.id, r).0).collect();
        let episodes = self.store.graded_episodes(&runs).await?;
        let dir = self.config.out.join(format!("round-{round}"));
        let exported = training::export(&episodes, &self.config.train, &dir)?;
        let mut outcome = TrainingOutcome {
            episodes: exported.episodes,
            sft_rows: exported.sft_rows,
            dpo_pairs: exported.dpo_pairs,
            ..TrainingOutcome::default()
        };
        let trainer = Arc::new(Trainer {
            model: training::model_path(&self.config.run.policy)?,
            settings: self.config.train.clone(),
        });
        let stages = self.config.train.stages;
        if stages.sft() && exported.sft_rows == 0 {
            outcome
                .notes
                .push("SFT skipped: no SFT rows (no resolved train episode yet)".into());
        } else if stages.sft() {
            let (t, data, out) = (trainer.clone(), exported.sft.clone(), dir.join("sft"));
            let bar = self.observer.bar(0, &format!("round {round} SFT"));
            let b = bar.clone();
            let stage = blocking(move || t.sft(&data, &out, &b)).await?;
            bar.finish_and_clear();
            outcome.record(stage, |o, s| o.sft = Some(s));
        }
        if stages.dpo() && exported.dpo_pairs == 0 {
            outcome.notes.push("DPO skipped: no preference pairs (no intervention and no resolved-vs-unresolved task yet)".into());
        } else if stages.dpo() {
            let start = outcome.sft.as_ref().map(|s| s.adapter.clone());
            let (t, data, out) = (trainer.clone(), exported.dpo.clone(), dir.join("dpo"));
            let bar = self.observer.bar(0, &format!("round {round} DPO"));
            let b = bar.clone();
            let stage = blocking(move || t.dpo(&data, start.as_deref(), &out, &b)).await?;
            bar.finish_and_clear();
            outcome.record(stage, |o, s| o.dpo = Some(s));
        }
        outcome.adapter = match (&outcome.sft, &outcome.dpo) {
            (Some(sft), Some(dpo)) => {
                let joined = dir.join("adapter");
                crate::adapter::join(&sft.adapter, &dpo.adapter, &joined)?;
                Some(joined)
            }
            (Some(only), None) | (None, Some(only)) => Some(only.adapter.clone()),
            (None, None) => None,
        };
        Ok(outcome)
    }
}

impl TrainingOutcome {
    fn record(&mut self, stage: Stage, set: impl FnOnce(&mut Self, training::StageOutcome)) {
        match stage {
            Stage::Trained(s) => set(self, s),
            Stage::Skipped(why) => self.notes.push(why),
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, LoopError> + Send + 'static,
) -> Result<T, LoopError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| LoopError::Other(format!("training stopped: {e}")))?
}
