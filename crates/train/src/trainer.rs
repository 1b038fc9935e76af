//! The training loop: AdamW, warmup + decay, gradient accumulation, epochs, checkpoints.
//!
//! Micro-batches are single sequences (no padding, so no wasted FLOPs on a CPU); gradients of
//! the `grad_accum` sequences of one optimizer step are summed. Each sequence's loss is divided
//! by the step's total (token count for SFT, pair count for DPO) *before* its backward pass,
//! so the accumulated gradient is exactly that of the step's mean loss.

use crate::checkpointing;
use crate::data::{DpoExample, Sequence, SftExample};
use crate::error::{Result, TrainError};
use crate::loss::{DpoLossConfig, DpoRewards, PairLogps, dpo_loss};
use crate::model::{Mode, TrainableLlama};
use crate::peft::save_adapter;
use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use indicatif::ProgressBar;
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};
use std::path::{Path, PathBuf};

/// Learning-rate decay after warmup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schedule {
    /// Cosine from the peak to 0 (TRL/HF `cosine`).
    #[default]
    Cosine,
    /// Linear from the peak to 0 (HF default `linear`).
    Linear,
    /// Constant after warmup.
    Constant,
}

/// Optimisation settings shared by SFT and DPO.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Peak learning rate.
    pub lr: f64,
    /// Passes over the data.
    pub epochs: usize,
    /// Sequences (SFT) or pairs (DPO) per optimizer step.
    pub grad_accum: usize,
    /// Fraction of all steps spent warming up linearly from 0.
    pub warmup_ratio: f64,
    /// Decay after warmup.
    pub schedule: Schedule,
    /// AdamW decoupled weight decay.
    pub weight_decay: f64,
    /// Clip the global gradient norm to this (None: no clipping).
    pub max_grad_norm: Option<f64>,
    /// Shuffling seed.
    pub seed: u64,
    /// Preference loss settings (DPO only).
    pub dpo: DpoLossConfig,
    /// Recorded as `base_model_name_or_path` in the adapter config.
    pub base_model: String,
    /// Stop after the optimizer step that reaches this many seconds of training and save the
    /// adapter as it is (the schedule is not shortened to fit): a bound on CPU time.
    pub max_seconds: Option<f64>,
    /// Bytes of block activations kept from the forward pass (the blocks beyond it are
    /// recomputed in the backward pass): more is faster, down to no
    /// recomputation at all; 0 recomputes every block.
    pub graph_memory: usize,
}

/// [`TrainConfig::graph_memory`]'s default: every block of a ~500-token row, four of a
/// 2,000-token one.
pub const DEFAULT_GRAPH_MEMORY: usize = 2 << 30;

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            lr: 2e-4,
            epochs: 1,
            grad_accum: 4,
            warmup_ratio: 0.1,
            schedule: Schedule::Cosine,
            weight_decay: 0.0,
            max_grad_norm: Some(1.0),
            seed: 0,
            dpo: DpoLossConfig::default(),
            base_model: "HuggingFaceTB/SmolLM2-135M-Instruct".into(),
            max_seconds: None,
            graph_memory: DEFAULT_GRAPH_MEMORY,
        }
    }
}

impl TrainConfig {
    fn validate(&self) -> Result<()> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(TrainError::Config(format!(
                "lr must be positive, not {}",
                self.lr
            )));
        }
        if self.epochs == 0 || self.grad_accum == 0 {
            return Err(TrainError::Config(
                "epochs and grad_accum must be at least 1".into(),
            ));
        }
        if !(0.0..1.0).contains(&self.warmup_ratio) {
            return Err(TrainError::Config(format!(
                "warmup_ratio must be in [0, 1), not {}",
                self.warmup_ratio
            )));
        }
        Ok(())
    }
}

/// Learning rate at optimizer step `step` (0-based) of `total`.
pub fn lr_at(cfg: &TrainConfig, step: usize, total: usize) -> f64 {
    let warmup = (cfg.warmup_ratio * total as f64).ceil() as usize;
    if step < warmup {
        return cfg.lr * (step + 1) as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup).max(1) as f64;
    let progress = ((step - warmup) as f64 / span).clamp(0.0, 1.0);
    match cfg.schedule {
        Schedule::Cosine => cfg.lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()),
        Schedule::Linear => cfg.lr * (1.0 - progress),
        Schedule::Constant => cfg.lr,
    }
}

/// What one optimizer step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLog {
    /// 1-based step.
    pub step: usize,
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean loss of the step.
    pub loss: f32,
    /// Learning rate used.
    pub lr: f64,
    /// DPO statistics (None for SFT).
    pub rewards: Option<DpoRewards>,
}

/// The outcome of a training run.
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// Optimizer steps taken.
    pub steps: usize,
    /// Loss of the last step.
    pub final_loss: f32,
    /// Every step's log.
    pub log: Vec<StepLog>,
    /// Per-epoch checkpoint directories.
    pub checkpoints: Vec<PathBuf>,
    /// The final adapter directory.
    pub adapter: PathBuf,
    /// Tokens through the policy's forward and backward passes (SFT: the rows' lengths;
    /// DPO: chosen plus rejected lengths), for throughput.
    pub tokens: usize,
    /// Wall-clock seconds of the optimisation (data loading and model loading excluded).
    pub seconds: f64,
    /// Whether `max_seconds` ended training before its last planned step.
    pub stopped_early: bool,
}

/// Mean masked NLL per trained token over `examples` (adapter on, no dropout): the held-out
/// metric, and what the SFT loss is on one row.
pub fn sft_eval_loss(model: &TrainableLlama, examples: &[SftExample]) -> Result<f32> {
    let (mut sum, mut n) = (0f64, 0usize);
    for ex in examples {
        let (lp, _) = checkpointing::forward(model, &ex.seq, Mode::EVAL, 0, 0)?;
        sum -= f64::from(lp);
        n += ex.seq.trained();
    }
    Ok((sum / n.max(1) as f64) as f32)
}

/// Sums the gradients of several backward passes, keeping only the variables' entries (a
/// `GradStore` also holds every intermediate's gradient, which would pin activations).
pub(crate) struct Accumulator {
    vars: Vec<Var>,
    grads: Vec<Option<Tensor>>,
}

impl Accumulator {
    fn new(vars: Vec<Var>) -> Self {
        let grads = vec![None; vars.len()];
        Self { vars, grads }
    }

    fn add(&mut self, store: &GradStore) -> Result<()> {
        for (v, acc) in self.vars.iter().zip(&mut self.grads) {
            if let Some(g) = store.get(v.as_tensor()) {
                *acc = Some(match acc.take() {
                    Some(prev) => (prev + g)?,
                    None => g.clone(),
                });
            }
        }
        Ok(())
    }

    /// The global norm of the accumulated gradients.
    fn norm(&self) -> Result<f64> {
        let mut sq = 0f64;
        for g in self.grads.iter().flatten() {
            sq += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
        }
        Ok(sq.sqrt())
    }

    /// The accumulated gradients, clipped to `max_norm` (given their `norm`), as a store for
    /// the optimizer.
    fn take(&mut self, norm: f64, max_norm: Option<f64>) -> Result<GradStore> {
        let scale = match max_norm {
            Some(max) if norm > max => max / (norm + 1e-6),
            _ => 1.0,
        };
        let mut store = GradStore::default();
        for (v, g) in self.vars.iter().zip(&mut self.grads) {
            if let Some(g) = g.take() {
                let g = if scale == 1.0 { g } else { (g * scale)? };
                store.insert(v.as_tensor(), g);
            }
        }
        Ok(store)
    }
}

/// What a training objective does per example.
trait Objective {
    /// Number of examples.
    fn len(&self) -> usize;
    /// Normaliser of a step made of examples `idx` (tokens for SFT, pairs for DPO).
    fn denominator(&self, idx: &[usize]) -> f64;
    /// Tokens example `i` puts through the trained forward pass.
    fn tokens(&self, i: usize) -> usize;
    /// Adds the gradient of example `i`'s loss divided by `denom` to `acc`; returns that loss
    /// and the example's DPO statistics. `seed` draws its dropout masks; `graph_bytes` bounds the
    /// block graphs kept from the forward pass.
    fn accumulate(
        &self,
        model: &TrainableLlama,
        i: usize,
        denom: f64,
        seed: u64,
        graph_bytes: usize,
        acc: &mut Accumulator,
    ) -> Result<(f32, Option<DpoRewards>)>;
}

struct Sft<'a>(&'a [SftExample]);

impl Objective for Sft<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn denominator(&self, idx: &[usize]) -> f64 {
        idx.iter()
            .map(|&i| self.0[i].seq.trained())
            .sum::<usize>()
            .max(1) as f64
    }

    fn tokens(&self, i: usize) -> usize {
        self.0[i].seq.tokens.len()
    }

    fn accumulate(
        &self,
        model: &TrainableLlama,
        i: usize,
        denom: f64,
        seed: u64,
        graph_bytes: usize,
        acc: &mut Accumulator,
    ) -> Result<(f32, Option<DpoRewards>)> {
        let ex = &self.0[i];
        let (lp, acts) = checkpointing::forward(model, &ex.seq, Mode::TRAIN, seed, graph_bytes)?;
        let scale = -f64::from(ex.weight) / denom;
        checkpointing::backward(model, acts, scale, |g| acc.add(g))?;
        Ok(((f64::from(lp) * scale) as f32, None))
    }
}

struct Dpo<'a> {
    pairs: &'a [DpoExample],
    cfg: DpoLossConfig,
}

impl Objective for Dpo<'_> {
    fn len(&self) -> usize {
        self.pairs.len()
    }

    fn denominator(&self, idx: &[usize]) -> f64 {
        idx.len().max(1) as f64
    }

    fn tokens(&self, i: usize) -> usize {
        self.pairs[i].chosen.tokens.len() + self.pairs[i].rejected.tokens.len()
    }

    /// The pair's loss is a function of four summed log-probs: it is differentiated with
    /// respect to the two policy log-probs as scalars, and each sequence is then
    /// back-propagated alone with that derivative as its scale, so only one sequence's
    /// activations and one layer's graph are alive at a time.
    fn accumulate(
        &self,
        model: &TrainableLlama,
        i: usize,
        denom: f64,
        seed: u64,
        graph_bytes: usize,
        acc: &mut Accumulator,
    ) -> Result<(f32, Option<DpoRewards>)> {
        let ex = &self.pairs[i];
        let reference = |s: &Sequence| -> Result<f32> {
            Ok(checkpointing::forward(model, s, Mode::REFERENCE, 0, 0)?.0)
        };
        let (ref_c, ref_r) = (reference(&ex.chosen)?, reference(&ex.rejected)?);
        // Both sequences' activations are alive at once: half the graph memory each.
        let (pc, acts_c) =
            checkpointing::forward(model, &ex.chosen, Mode::TRAIN, seed, graph_bytes / 2)?;
        let (pr, acts_r) = checkpointing::forward(
            model,
            &ex.rejected,
            Mode::TRAIN,
            seed.wrapping_add(1),
            graph_bytes / 2,
        )?;
        let dev = Device::Cpu;
        let scalar = |v: f32| Tensor::new(&[v], &dev);
        let (policy_c, policy_r) = (Var::new(&[pc], &dev)?, Var::new(&[pr], &dev)?);
        let lp = PairLogps {
            policy_chosen: policy_c.as_tensor().clone(),
            policy_rejected: policy_r.as_tensor().clone(),
            ref_chosen: scalar(ref_c)?,
            ref_rejected: scalar(ref_r)?,
            chosen_tokens: scalar(ex.chosen.trained() as f32)?,
            rejected_tokens: scalar(ex.rejected.trained() as f32)?,
        };
        let out = dpo_loss(&lp, &self.cfg)?;
        let loss = (out.loss / denom)?;
        let grads = loss.backward()?;
        let slope = |v: &Var| -> Result<f64> {
            Ok(grads
                .get(v.as_tensor())
                .map(|g| g.sum_all()?.to_scalar::<f32>())
                .transpose()?
                .map_or(0.0, f64::from))
        };
        let (slope_c, slope_r) = (slope(&policy_c)?, slope(&policy_r)?);
        checkpointing::backward(model, acts_c, slope_c, |g| acc.add(g))?;
        checkpointing::backward(model, acts_r, slope_r, |g| acc.add(g))?;
        Ok((loss.to_scalar::<f32>()?, Some(out.rewards)))
    }
}

/// Trains `model`'s adapter on SFT examples and saves it under `out` (checkpoints in
/// `out/checkpoint-epoch-N`).
pub fn train_sft(
    model: &TrainableLlama,
    examples: &[SftExample],
    cfg: &TrainConfig,
    out: &Path,
    bar: Option<&ProgressBar>,
) -> Result<TrainReport> {
    run(model, &Sft(examples), cfg, out, bar)
}

/// Trains `model`'s adapter with the DPO/IPO loss of `cfg.dpo`; the reference is the same
/// model with the adapter off.
pub fn train_dpo(
    model: &TrainableLlama,
    pairs: &[DpoExample],
    cfg: &TrainConfig,
    out: &Path,
    bar: Option<&ProgressBar>,
) -> Result<TrainReport> {
    run(
        model,
        &Dpo {
            pairs,
            cfg: cfg.dpo,
        },
        cfg,
        out,
        bar,
    )
}

fn run(
    model: &TrainableLlama,
    obj: &dyn Objective,
    cfg: &TrainConfig,
    out: &Path,
    bar: Option<&ProgressBar>,
) -> Result<TrainReport> {
    cfg.validate()?;
    if obj.len() == 0 {
        return Err(TrainError::Config("no training examples".into()));
    }
    let hidden = ProgressBar::hidden();
    let bar = bar.unwrap_or(&hidden);
    let per_epoch = obj.len().div_ceil(cfg.grad_accum);
    let total = per_epoch * cfg.epochs;
    bar.set_length(total as u64);
    let vars = model.vars();
    let mut opt = AdamW::new(
        vars.clone(),
        ParamsAdamW {
            lr: cfg.lr,
            weight_decay: cfg.weight_decay,
            ..Default::default()
        },
    )?;
    let mut acc = Accumulator::new(vars);
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let mut order: Vec<usize> = (0..obj.len()).collect();
    let mut log = Vec::with_capacity(total);
    let mut checkpoints: Vec<PathBuf> = Vec::new();
    let mut step = 0;
    let mut tokens = 0;
    let started = std::time::Instant::now();
    let out_of_time = || {
        cfg.max_seconds
            .is_some_and(|max| started.elapsed().as_secs_f64() >= max)
    };
    'epochs: for epoch in 1..=cfg.epochs {
        order.shuffle(&mut rng);
        for chunk in order.chunks(cfg.grad_accum) {
            let lr = lr_at(cfg, step, total);
            step += 1;
            let denom = obj.denominator(chunk);
            let mut loss_sum = 0f32;
            let mut rewards = Vec::new();
            for &i in chunk {
                // Even seeds: a DPO pair uses `seed` and `seed + 1`.
                let seed = cfg.seed ^ ((((step as u64) << 32) | i as u64) << 1);
                let (loss, r) =
                    obj.accumulate(model, i, denom, seed, cfg.graph_memory, &mut acc)?;
                loss_sum += loss;
                rewards.extend(r);
                tokens += obj.tokens(i);
            }
            // DPO losses are already means per pair (divided by the pair count).
            let loss = loss_sum;
            if !loss.is_finite() {
                return Err(TrainError::NonFiniteLoss {
                    step,
                    loss,
                    checkpoint: checkpoints.last().cloned(),
                });
            }
            let norm = acc.norm()?;
            if !norm.is_finite() {
                return Err(TrainError::NonFiniteGradient {
                    step,
                    norm,
                    checkpoint: checkpoints.last().cloned(),
                });
            }
            opt.set_learning_rate(lr);
            opt.step(&acc.take(norm, cfg.max_grad_norm)?)?;
            let rewards = mean_rewards(&rewards);
            match rewards {
                Some(r) => tracing::info!(
                    step,
                    epoch,
                    loss,
                    lr,
                    reward_chosen = r.chosen,
                    reward_rejected = r.rejected,
                    margin = r.margin,
                    accuracy = r.accuracy,
                    "dpo step"
                ),
                None => tracing::info!(step, epoch, loss, lr, "sft step"),
            }
            bar.set_message(format!("epoch {epoch} loss {loss:.4}"));
            bar.inc(1);
            log.push(StepLog {
                step,
                epoch,
                loss,
                lr,
                rewards,
            });
            if step < total && out_of_time() {
                tracing::warn!(
                    step,
                    total,
                    "--max-seconds reached: saving the adapter as it is"
                );
                break 'epochs;
            }
        }
        let dir = out.join(format!("checkpoint-epoch-{epoch}"));
        save_adapter(model, &dir, &cfg.base_model)?;
        tracing::info!(epoch, dir = %dir.display(), "checkpoint saved");
        checkpoints.push(dir);
    }
    save_adapter(model, out, &cfg.base_model)?;
    bar.finish_and_clear();
    Ok(TrainReport {
        steps: step,
        final_loss: log.last().map_or(f32::NAN, |l| l.loss),
        log,
        checkpoints,
        adapter: out.to_path_buf(),
        tokens,
        seconds: started.elapsed().as_secs_f64(),
        stopped_early: step < total,
    })
}

fn mean_rewards(r: &[DpoRewards]) -> Option<DpoRewards> {
    if r.is_empty() {
        return None;
    }
    let n = r.len() as f32;
    let sum = |f: fn(&DpoRewards) -> f32| r.iter().map(f).sum::<f32>() / n;
    Some(DpoRewards {
        chosen: sum(|x| x.chosen),
        rejected: sum(|x| x.rejected),
        margin: sum(|x| x.margin),
        accuracy: sum(|x| x.accuracy),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine_or_linear_decay() {
        let mut cfg = TrainConfig {
            lr: 1.0,
            warmup_ratio: 0.2,
            ..Default::default()
        };
        // 10 steps: 2 of warmup, then 8 of decay.
        let lrs: Vec<f64> = (0..10).map(|s| lr_at(&cfg, s, 10)).collect();
        assert!((lrs[0] - 0.5).abs() < 1e-12 && (lrs[1] - 1.0).abs() < 1e-12);
        assert!((lrs[2] - 1.0).abs() < 1e-12);
        assert!((lrs[6] - 0.5).abs() < 1e-12, "cosine midpoint {}", lrs[6]);
        assert!(lrs.windows(2).skip(1).all(|w| w[1] <= w[0]));
        cfg.schedule = Schedule::Linear;
        assert!((lr_at(&cfg, 6, 10) - 0.5).abs() < 1e-12);
        assert!((lr_at(&cfg, 9, 10) - 0.125).abs() < 1e-12);
    }
}
