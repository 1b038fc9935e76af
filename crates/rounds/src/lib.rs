//! The skill-acquisition loop: round after round, the current policy works the train tasks
//! under supervision, everything the train tasks produced so far becomes SFT rows and DPO
//! pairs, a LoRA adapter is trained on them, and the next round runs with it. Held-out tasks
//! are attempted every round with the supervisor in `shadow` mode, so their intervention rate
//! is what the supervisor would have done, never a result it steered.
//!
//! Each round's attempts are two ordinary runs (`<loop>-r<N>-train`, `<loop>-r<N>-heldout`)
//! in the same store as `apprentice run`; the loop's own tables only tie them to rounds and
//! keep the round's numbers, adapter and training outcome.
//!
//! Pieces: [`split`] (which tasks train, which are held out), [`metrics`] (a run as the
//! round's numbers), [`training`] (export and the SFT → DPO stages), [`adapter`] (joining two
//! adapters into one), [`driver`] (the rounds, resume) and [`chart`] (the SVG plots).

pub mod adapter;
pub mod chart;
pub mod driver;
pub mod metrics;
pub mod split;
pub mod training;

use std::path::PathBuf;

use apprentice_harness::RunConfig;
use serde::{Deserialize, Serialize};

pub use driver::{LoopRunner, Observer, RoundReport};
pub use metrics::SplitMetrics;
pub use split::{Split, split_tasks};
pub use training::{Stages, TrainSettings, TrainingOutcome};

#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    /// Bad settings or task selection: the user's to fix.
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Store(#[from] apprentice_store::StoreError),
    #[error(transparent)]
    Train(#[from] apprentice_train::TrainError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

impl LoopError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LoopError::Io {
            path: path.into(),
            source,
        }
    }
}

/// How a loop is configured; stored with the loop so `--resume` continues it the same way.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoopConfig {
    /// The run template: task source and selection, the round-1 policy, the supervisor and
    /// mode for train tasks, limits. Each round's runs copy it with their own tasks and policy.
    pub run: RunConfig,
    pub rounds: usize,
    /// Fraction of tasks held out (the same per-task split as `apprentice export --holdout`).
    pub held_out: f64,
    /// Seed of the split.
    pub seed: u64,
    /// Where adapters, training files and plots go.
    pub out: PathBuf,
    pub train: TrainSettings,
}

impl LoopConfig {
    /// Checks what can be checked before any work.
    pub fn validate(&self) -> Result<(), LoopError> {
        if self.rounds == 0 {
            return Err(LoopError::Input("--rounds must be at least 1".into()));
        }
        if !(self.held_out > 0.0 && self.held_out < 1.0) {
            return Err(LoopError::Input(format!(
                "--held-out must be in (0, 1), not {}",
                self.held_out
            )));
        }
        if self.run.supervise == "shadow" {
            return Err(LoopError::Input(
                "--supervise shadow on the train tasks leaves nothing corrected to learn from; held-out tasks are always shadowed".into(),
            ));
        }
        training::check_policy(&self.run.policy, self.train.stages)
    }
}
