//! A round's training stage: export the train tasks' episodes of every round so far, train
//! SFT, then DPO on top of it, and leave one adapter for the next round.
//!
//! Choices, and why:
//! - **Data: every round so far, train tasks only.** Dataset aggregation as in DAgger: the
//!   supervisor's corrections of earlier, weaker policies stay valid targets, and the set only
//!   grows. Held-out episodes never reach training (their supervisor only watched).
//! - **Each round trains from the base model** on that aggregate, instead of stacking updates
//!   on the previous adapter: an adapter is a function of its data, not of the loop's history,
//!   and a resumed round retrains to the same result.
//! - **SFT then DPO.** SFT rows are the clean (or recovery) view of *resolved* episodes; DPO
//!   pairs are the step pairs at interventions plus resolved-vs-unresolved trajectory pairs.
//!   DPO starts from the SFT adapter by folding it into the frozen base weights and training a
//!   fresh adapter on top, so the DPO reference (the adapter switched off, no second copy) is
//!   the SFT policy, as in the usual SFT → DPO recipe, not the untuned base. The two adapters
//!   are then joined exactly into one of their summed rank ([`crate::adapter`]).
//! - **Caps.** `max_rows` keeps the newest rows (the latest policy's mistakes are the ones
//!   worth correcting); rows longer than `max_tokens` are cut into pieces by the trainer.

use std::path::{Path, PathBuf};

use apprentice_dataset::{Row, SftVariant, dedup, dpo_rows, sft_rows};
use apprentice_embedded::{EmbeddedModel, EmbeddedSpec, default_cache_dir, fetch_default_model};
use apprentice_store::StoredEpisode;
use apprentice_train::peft::fold_adapter;
use apprentice_train::{
    DEFAULT_GRAPH_MEMORY, DpoLossConfig, LoadLimits, LoraConfig, TrainConfig, TrainError,
    TrainReport, TrainableLlama, load_dpo, load_sft, train_dpo, train_sft,
};
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use crate::LoopError;

/// Which training stages run after a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stages {
    #[serde(rename = "sft+dpo")]
    SftDpo,
    #[serde(rename = "sft")]
    Sft,
    #[serde(rename = "dpo")]
    Dpo,
    /// Measure only: every round runs the starting policy (any policy, scripted included).
    #[serde(rename = "none")]
    None,
}

impl Stages {
    pub fn sft(self) -> bool {
        matches!(self, Stages::SftDpo | Stages::Sft)
    }
    pub fn dpo(self) -> bool {
        matches!(self, Stages::SftDpo | Stages::Dpo)
    }
}

impl std::str::FromStr for Stages {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(s.into()))
            .map_err(|_| format!("unknown --train `{s}` (expected sft+dpo, sft, dpo or none)"))
    }
}

/// The training knobs of a loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    pub stages: Stages,
    /// SFT view: `clean` or `recovery`.
    pub variant: String,
    /// Reward-weighted SFT rows (partially resolved and supervised episodes too).
    pub weighted: bool,
    pub rank: usize,
    pub alpha: f32,
    pub epochs: usize,
    pub sft_lr: f64,
    pub dpo_lr: f64,
    pub beta: f64,
    pub grad_accum: usize,
    /// At most this many SFT rows and this many DPO pairs per round (the newest).
    pub max_rows: Option<usize>,
    pub max_tokens: usize,
    /// Bound on each training stage's seconds (the adapter is saved as it is when reached).
    #[serde(default)]
    pub max_seconds: Option<f64>,
    /// MiB of block activations kept from the forward pass (`train --graph-memory`).
    #[serde(default = "default_graph_memory_mib")]
    pub graph_memory_mib: usize,
    pub seed: u64,
}

/// What loops stored before the setting existed trained with.
fn default_graph_memory_mib() -> usize {
    DEFAULT_GRAPH_MEMORY >> 20
}

/// One trained stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageOutcome {
    /// Rows (pairs) trained on, after the token limit.
    pub examples: usize,
    pub steps: usize,
    pub final_loss: f32,
    pub adapter: PathBuf,
}

/// A stage trained, or why it did not (no usable rows is a round with nothing to learn at
/// that stage, not a failure).
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Trained(StageOutcome),
    Skipped(String),
}

impl Stage {
    fn trained(examples: usize, report: TrainReport) -> Self {
        Stage::Trained(StageOutcome {
            examples,
            steps: report.steps,
            final_loss: report.final_loss,
            adapter: report.adapter,
        })
    }
}

/// What a round's training stage did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingOutcome {
    /// Train-task episodes (all rounds so far) the rows came from.
    pub episodes: usize,
    /// SFT rows and DPO pairs exported (deduplicated, capped).
    pub sft_rows: usize,
    pub dpo_pairs: usize,
    pub sft: Option<StageOutcome>,
    pub dpo: Option<StageOutcome>,
    /// The adapter the next round runs with (`None`: nothing was trained).
    pub adapter: Option<PathBuf>,
    /// Why a stage did not run, when one did not.
    pub notes: Vec<String>,
}

/// Fails early when training is asked for a policy that has no weights here to train.
pub fn check_policy(policy: &str, stages: Stages) -> Result<(), LoopError> {
    if stages == Stages::None {
        return Ok(());
    }
    match EmbeddedSpec::parse(policy) {
        Ok(spec) if spec.lora.is_none() => Ok(()),
        Ok(_) => Err(LoopError::Input(format!(
            "--policy `{policy}`: the loop trains its own adapters on the base model; start from a plain embedded model"
        ))),
        Err(_) => Err(LoopError::Input(format!(
            "--policy `{policy}` has no weights to train here; use an embedded policy, or --train none to only measure"
        ))),
    }
}

/// The base model's GGUF file for an embedded policy spec (fetched into the cache if needed).
pub fn model_path(policy: &str) -> Result<PathBuf, LoopError> {
    let spec = EmbeddedSpec::parse(policy).map_err(|e| LoopError::Input(e.to_string()))?;
    match spec.model {
        Some(path) => Ok(path),
        None => {
            fetch_default_model(&default_cache_dir()).map_err(|e| LoopError::Other(e.to_string()))
        }
    }
}

/// The policy spec that runs `base` (a plain embedded spec) with `adapter` at scale 1.
pub fn with_adapter(base: &str, adapter: &Path) -> Result<String, LoopError> {
    let mut spec = EmbeddedSpec::parse(base).map_err(|e| LoopError::Input(e.to_string()))?;
    spec.lora = Some(apprentice_embedded::LoraSpec {
        dir: adapter.to_path_buf(),
        scale: 1.0,
    });
    Ok(spec.to_string())
}

/// Rows written for a round: SFT rows in `dir/sft.jsonl`, DPO pairs in `dir/dpo.jsonl`.
#[derive(Debug, Clone)]
pub struct Exported {
    pub episodes: usize,
    pub sft: PathBuf,
    pub sft_rows: usize,
    pub dpo: PathBuf,
    pub dpo_pairs: usize,
}

/// Writes the round's training rows from `episodes` (train tasks, every round so far).
pub fn export(
    episodes: &[StoredEpisode],
    settings: &TrainSettings,
    dir: &Path,
) -> Result<Exported, LoopError> {
    let variant: SftVariant = settings.variant.parse().map_err(LoopError::Input)?;
    std::fs::create_dir_all(dir).map_err(|e| LoopError::io(dir, e))?;
    let sft = newest(
        dedup(sft_rows(episodes, variant, settings.weighted)),
        settings.max_rows,
    );
    let dpo = newest(dedup(dpo_rows(episodes)), settings.max_rows);
    let exported = Exported {
        episodes: episodes.len(),
        sft: dir.join("sft.jsonl"),
        sft_rows: sft.len(),
        dpo: dir.join("dpo.jsonl"),
        dpo_pairs: dpo.len(),
    };
    write_rows(&exported.sft, &sft)?;
    write_rows(&exported.dpo, &dpo)?;
    Ok(exported)
}

fn newest<R>(mut rows: Vec<R>, cap: Option<usize>) -> Vec<R> {
    if let Some(cap) = cap
        && rows.len() > cap
    {
        rows.drain(..rows.len() - cap);
    }
    rows
}

fn write_rows<R: Row>(path: &Path, rows: &[R]) -> Result<(), LoopError> {
    let mut text = String::new();
    for row in rows {
        text.push_str(&serde_json::to_string(row).map_err(|e| LoopError::Other(e.to_string()))?);
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|e| LoopError::io(path, e))
}

/// Trains adapters for one model with one round's settings. Blocking (run it off the async
/// runtime).
pub struct Trainer {
    pub model: PathBuf,
    pub settings: TrainSettings,
}

impl Trainer {
    fn lora(&self) -> LoraConfig {
        LoraConfig {
            rank: self.settings.rank,
            alpha: self.settings.alpha,
            seed: self.settings.seed,
            ..LoraConfig::default()
        }
    }

    fn config(&self, lr: f64) -> TrainConfig {
        TrainConfig {
            lr,
            epochs: self.settings.epochs,
            grad_accum: self.settings.grad_accum,
            seed: self.settings.seed,
            dpo: DpoLossConfig {
                beta: self.settings.beta,
                ..DpoLossConfig::default()
            },
            max_seconds: self.settings.max_seconds,
            graph_memory: self.settings.graph_memory_mib.saturating_mul(1 << 20),
            ..TrainConfig::default()
        }
    }

    fn limits(&self) -> LoadLimits {
        LoadLimits {
            max_rows: None,
            max_tokens: Some(self.settings.max_tokens),
        }
    }

    /// SFT on `data` into `out`.
    pub fn sft(&self, data: &Path, out: &Path, bar: &ProgressBar) -> Result<Stage, LoopError> {
        let embedded =
            EmbeddedModel::load(&self.model).map_err(|e| LoopError::Other(e.to_string()))?;
        let examples = match usable(load_sft(data, &embedded, self.limits()))? {
            Ok(examples) => examples,
            Err(why) => return Ok(Stage::Skipped(format!("SFT skipped: {why}"))),
        };
        let model = TrainableLlama::load(&self.model, embedded.config(), &self.lora())?;
        let cfg = self.config(self.settings.sft_lr);
        let report = train_sft(&model, &examples, &cfg, out, Some(bar))?;
        Ok(Stage::trained(examples.len(), report))
    }

    /// DPO on `data` into `out`, on top of `start` (folded into the base) when given.
    pub fn dpo(
        &self,
        data: &Path,
        start: Option<&Path>,
        out: &Path,
        bar: &ProgressBar,
    ) -> Result<Stage, LoopError> {
        let embedded =
            EmbeddedModel::load(&self.model).map_err(|e| LoopError::Other(e.to_string()))?;
        let pairs = match usable(load_dpo(data, &embedded, self.limits()))? {
            Ok(pairs) => pairs,
            Err(why) => return Ok(Stage::Skipped(format!("DPO skipped: {why}"))),
        };
        let mut lora = self.lora();
        // A different A initialisation from the SFT adapter's, so the joined rows are not
        // collinear.
        lora.seed = lora.seed.wrapping_add(1);
        let mut model = TrainableLlama::load(&self.model, embedded.config(), &lora)?;
        if let Some(start) = start {
            fold_adapter(&mut model, start)?;
        }
        let cfg = self.config(self.settings.dpo_lr);
        let report = train_dpo(&model, &pairs, &cfg, out, Some(bar))?;
        Ok(Stage::trained(pairs.len(), report))
    }
}

/// An empty dataset (no rows, or every row over the token limit) is the reason a stage is
/// skipped; other errors stop the loop.
fn usable<T>(loaded: Result<Vec<T>, TrainError>) -> Result<Result<Vec<T>, String>, LoopError> {
    match loaded {
        Ok(rows) => Ok(Ok(rows)),
        Err(TrainError::EmptyDataset { detail, .. }) => Ok(Err(detail)),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_parse_and_say_what_runs() {
        let s: Stages = "sft+dpo".parse().unwrap();
        assert!(s.sft() && s.dpo());
        let s: Stages = "dpo".parse().unwrap();
        assert!(!s.sft() && s.dpo());
        assert!("both".parse::<Stages>().unwrap_err().contains("sft+dpo"));
    }

    #[test]
    fn only_plain_embedded_policies_can_be_trained() {
        assert!(check_policy("embedded", Stages::SftDpo).is_ok());
        assert!(check_policy("embedded:m.gguf", Stages::Sft).is_ok());
        assert!(check_policy("scripted:gold", Stages::None).is_ok());
        let err = check_policy("scripted:gold", Stages::SftDpo).unwrap_err();
        assert!(err.to_string().contains("--train none"), "{err}");
        assert!(check_policy("embedded+lora=a@1", Stages::Sft).is_err());
    }

    #[test]
    fn round_policies_run_the_base_with_the_adapter_at_scale_one() {
        let p = with_adapter("embedded:m.gguf", Path::new("/x/round-1/adapter")).unwrap();
        assert_eq!(p, "embedded:m.gguf+lora=/x/round-1/adapter@1");
    }

    #[test]
    fn the_cap_keeps_the_newest_rows() {
        assert_eq!(newest(vec![1, 2, 3, 4], Some(2)), vec![3, 4]);
        assert_eq!(newest(vec![1, 2], Some(5)), vec![1, 2]);
        assert_eq!(newest(vec![1, 2], None), vec![1, 2]);
    }
}
