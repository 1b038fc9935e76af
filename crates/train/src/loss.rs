//! Training losses on candle tensors: masked token cross-entropy (SFT) and the DPO family.
//!
//! Everything here is built from differentiable candle ops only (no fused kernels, which
//! silently drop gradients), so `backward()` reaches the LoRA variables. The formulas follow
//! TRL: DPO compares *summed* completion log-probs of the policy and the reference, IPO uses
//! length-normalised ones, and RPO adds the chosen completion's mean NLL.

use crate::error::{Result, TrainError};
use candle_core::{D, DType, Tensor};

/// `log p(target_t)` for every position: `logits` is `(n, vocab)`, `targets` `(n,)` u32.
pub fn token_logps(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let lp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    Ok(lp.gather(&targets.unsqueeze(1)?, 1)?.squeeze(1)?)
}

/// `sum_t mask_t · log p(target_t)`: the summed completion log-prob of one sequence.
pub fn sequence_logp(logits: &Tensor, targets: &Tensor, mask: &Tensor) -> Result<Tensor> {
    Ok((token_logps(logits, targets)? * mask)?.sum_all()?)
}

/// Masked, row-weighted token cross-entropy over a batch:
/// `sum_r w_r · sum_t m_rt · nll_rt / sum_r sum_t m_rt`.
///
/// `logits` `(rows, seq, vocab)`, `targets` `(rows, seq)` u32, `mask` `(rows, seq)` f32 (0 for
/// prompt, padding and `train: false` turns), `weights` `(rows,)`. Dividing by the number of
/// trained tokens (not rows) matches TRL's token-mean, so long rows count per token.
pub fn masked_cross_entropy(
    logits: &Tensor,
    targets: &Tensor,
    mask: &Tensor,
    weights: &Tensor,
) -> Result<Tensor> {
    let (rows, seq, vocab) = logits.dims3()?;
    let lp = token_logps(
        &logits.reshape((rows * seq, vocab))?,
        &targets.flatten_all()?,
    )?
    .reshape((rows, seq))?;
    let weighted = (lp * mask)?.broadcast_mul(&weights.unsqueeze(1)?)?;
    let tokens = mask.sum_all()?.to_scalar::<f32>()?;
    if tokens <= 0.0 {
        return Err(TrainError::Config(
            "cross-entropy over a batch without trained tokens".into(),
        ));
    }
    Ok((weighted.sum_all()?.neg()? / f64::from(tokens))?)
}

/// Which preference loss to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DpoKind {
    /// `-log σ(β Δ)`, the original DPO loss.
    #[default]
    Sigmoid,
    /// `(Δ_norm - 1/(2β))²` on length-normalised log-ratios (IPO); it does not push the
    /// margin to infinity, which makes it safer on small, noisy preference sets.
    Ipo,
}

impl std::str::FromStr for DpoKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sigmoid" => Ok(Self::Sigmoid),
            "ipo" => Ok(Self::Ipo),
            other => Err(format!(
                "unknown DPO loss `{other}` (expected sigmoid or ipo)"
            )),
        }
    }
}

/// Hyper-parameters of the preference loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DpoLossConfig {
    /// Strength of the implicit KL constraint (TRL default 0.1).
    pub beta: f64,
    /// Sigmoid or IPO.
    pub kind: DpoKind,
    /// Weight of the RPO term (mean NLL of the chosen completion); 0 disables it.
    pub rpo_alpha: f64,
}

impl Default for DpoLossConfig {
    fn default() -> Self {
        Self {
            beta: 0.1,
            kind: DpoKind::Sigmoid,
            rpo_alpha: 0.0,
        }
    }
}

/// Summed completion log-probs of a batch of pairs, each tensor `(pairs,)` f32.
#[derive(Debug, Clone)]
pub struct PairLogps {
    /// Policy, chosen completions.
    pub policy_chosen: Tensor,
    /// Policy, rejected completions.
    pub policy_rejected: Tensor,
    /// Reference (adapter off), chosen; treated as constants.
    pub ref_chosen: Tensor,
    /// Reference (adapter off), rejected; treated as constants.
    pub ref_rejected: Tensor,
    /// Completion token counts of the chosen sides (for IPO and RPO).
    pub chosen_tokens: Tensor,
    /// Completion token counts of the rejected sides (for IPO).
    pub rejected_tokens: Tensor,
}

/// TRL's logged reward statistics, means over the batch.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DpoRewards {
    /// `β (logp_θ(y+) - logp_ref(y+))`.
    pub chosen: f32,
    /// `β (logp_θ(y-) - logp_ref(y-))`.
    pub rejected: f32,
    /// `chosen - rejected`.
    pub margin: f32,
    /// Fraction of pairs whose chosen reward exceeds the rejected one.
    pub accuracy: f32,
}

/// The batch-mean loss (differentiable) and its reward statistics.
#[derive(Debug, Clone)]
pub struct DpoOutput {
    /// Scalar loss.
    pub loss: Tensor,
    /// Logged statistics.
    pub rewards: DpoRewards,
}

/// `log σ(x) = min(x, 0) - log(1 + e^{-|x|})`, stable for large `|x|`.
pub fn log_sigmoid(x: &Tensor) -> Result<Tensor> {
    let neg_abs = x.abs()?.neg()?;
    let soft = (neg_abs.exp()? + 1.0)?.log()?;
    Ok((x.minimum(0.0)? - soft)?)
}

/// The DPO/IPO loss (+ optional RPO term) of a batch of pairs, as a mean over pairs.
pub fn dpo_loss(lp: &PairLogps, cfg: &DpoLossConfig) -> Result<DpoOutput> {
    if !(cfg.beta > 0.0 && cfg.beta.is_finite()) {
        return Err(TrainError::Config(format!(
            "beta must be positive, not {}",
            cfg.beta
        )));
    }
    let ref_c = lp.ref_chosen.detach();
    let ref_r = lp.ref_rejected.detach();
    let c_plus = (&lp.policy_chosen - &ref_c)?;
    let c_minus = (&lp.policy_rejected - &ref_r)?;
    let per_pair = match cfg.kind {
        DpoKind::Sigmoid => log_sigmoid(&((&c_plus - &c_minus)? * cfg.beta)?)?.neg()?,
        DpoKind::Ipo => {
            let d = ((c_plus.div(&lp.chosen_tokens)? - c_minus.div(&lp.rejected_tokens)?)?
                - 1.0 / (2.0 * cfg.beta))?;
            d.sqr()?
        }
    };
    let mut loss = per_pair.mean_all()?;
    if cfg.rpo_alpha != 0.0 {
        let nll = lp.policy_chosen.div(&lp.chosen_tokens)?.neg()?.mean_all()?;
        loss = (loss + (nll * cfg.rpo_alpha)?)?;
    }
    let rc = (c_plus.detach() * cfg.beta)?.to_dtype(DType::F32)?;
    let rr = (c_minus.detach() * cfg.beta)?.to_dtype(DType::F32)?;
    let acc = rc.gt(&rr)?.to_dtype(DType::F32)?.mean_all()?;
    let rewards = DpoRewards {
        chosen: rc.mean_all()?.to_scalar()?,
        rejected: rr.mean_all()?.to_scalar()?,
        margin: (&rc - &rr)?.mean_all()?.to_scalar()?,
        accuracy: acc.to_scalar()?,
    };
    Ok(DpoOutput { loss, rewards })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn t(v: &[f32]) -> Tensor {
        Tensor::new(v, &Device::Cpu).expect("tensor")
    }

    fn scalar(x: &Tensor) -> f32 {
        x.to_scalar::<f32>().expect("scalar")
    }

    fn pairs(pc: &Tensor, pr: &Tensor) -> PairLogps {
        PairLogps {
            policy_chosen: pc.clone(),
            policy_rejected: pr.clone(),
            ref_chosen: t(&[-5.0, -3.0]),
            ref_rejected: t(&[-4.0, -6.0]),
            chosen_tokens: t(&[2.0, 4.0]),
            rejected_tokens: t(&[3.0, 2.0]),
        }
    }

    fn ln_sigmoid(x: f64) -> f64 {
        -(1.0 + (-x).exp()).ln()
    }

    #[test]
    fn sigmoid_loss_and_rewards_match_hand_computation() {
        let (pc, pr) = (t(&[-4.0, -3.5]), t(&[-5.0, -5.0]));
        let cfg = DpoLossConfig {
            beta: 0.5,
            ..Default::default()
        };
        let out = dpo_loss(&pairs(&pc, &pr), &cfg).expect("loss");
        // c+ = [1, -0.5], c- = [-1, 1]; Δ = [2, -1.5]; β Δ = [1, -0.75].
        let expected = -(ln_sigmoid(1.0) + ln_sigmoid(-0.75)) / 2.0;
        assert!((f64::from(scalar(&out.loss)) - expected).abs() < 1e-6);
        assert!((out.rewards.chosen - 0.125).abs() < 1e-6); // mean(0.5, -0.25)
        assert!((out.rewards.rejected - 0.0).abs() < 1e-6); // mean(-0.5, 0.5)
        assert!((out.rewards.margin - 0.125).abs() < 1e-6);
        assert!((out.rewards.accuracy - 0.5).abs() < 1e-6);
    }

    #[test]
    fn ipo_and_rpo_match_hand_computation() {
        let (pc, pr) = (t(&[-4.0, -3.5]), t(&[-5.0, -5.0]));
        let cfg = DpoLossConfig {
            beta: 0.5,
            kind: DpoKind::Ipo,
            rpo_alpha: 0.0,
        };
        let out = dpo_loss(&pairs(&pc, &pr), &cfg).expect("loss");
        // d = c+/n+ - c-/n- - 1 = [1/2 + 1/3 - 1, -1/8 - 1/2 - 1]
        let d0: f64 = 0.5 + 1.0 / 3.0 - 1.0;
        let d1: f64 = -0.125 - 0.5 - 1.0;
        let expected = (d0 * d0 + d1 * d1) / 2.0;
        assert!((f64::from(scalar(&out.loss)) - expected).abs() < 1e-5);

        let rpo = DpoLossConfig {
            beta: 0.5,
            kind: DpoKind::Sigmoid,
            rpo_alpha: 2.0,
        };
        let out = dpo_loss(&pairs(&pc, &pr), &rpo).expect("loss");
        let dpo = -(ln_sigmoid(1.0) + ln_sigmoid(-0.75)) / 2.0;
        let nll = (4.0 / 2.0 + 3.5 / 4.0) / 2.0;
        assert!((f64::from(scalar(&out.loss)) - (dpo + 2.0 * nll)).abs() < 1e-5);
    }

    #[test]
    fn log_sigmoid_is_stable_at_extremes() {
        let y = log_sigmoid(&t(&[-200.0, 0.0, 200.0]))
            .expect("ls")
            .to_vec1::<f32>()
            .expect("vec");
        assert!((y[0] + 200.0).abs() < 1e-3);
        assert!((y[1] + std::f32::consts::LN_2).abs() < 1e-6);
        assert!(y[2].abs() < 1e-6);
    }

    /// Central finite differences of `f` at `x0` against the autograd gradient.
    fn check_grad(x0: &[f32], f: impl Fn(&Tensor) -> Tensor) {
        let var = Var::new(x0, &Device::Cpu).expect("var");
        let loss = f(var.as_tensor());
        let grads = loss.backward().expect("backward");
        let g = grads
            .get(var.as_tensor())
            .expect("gradient")
            .to_vec1::<f32>()
            .expect("vec");
        let h = 1e-2f32;
        for i in 0..x0.len() {
            let mut plus = x0.to_vec();
            plus[i] += h;
            let mut minus = x0.to_vec();
            minus[i] -= h;
            let fd = (scalar(&f(&t(&plus))) - scalar(&f(&t(&minus)))) / (2.0 * h);
            assert!(
                (fd - g[i]).abs() < 2e-3 * (1.0 + fd.abs()),
                "component {i}: finite difference {fd} vs autograd {}",
                g[i]
            );
        }
    }

    #[test]
    fn dpo_gradients_match_finite_differences() {
        for kind in [DpoKind::Sigmoid, DpoKind::Ipo] {
            let cfg = DpoLossConfig {
                beta: 0.3,
                kind,
                rpo_alpha: 0.5,
            };
            // x = [policy_chosen (2), policy_rejected (2)].
            check_grad(&[-4.0, -3.5, -5.0, -2.0], |x| {
                let pc = x.narrow(0, 0, 2).expect("narrow");
                let pr = x.narrow(0, 2, 2).expect("narrow");
                dpo_loss(&pairs(&pc, &pr), &cfg).expect("loss").loss
            });
        }
    }

    #[test]
    fn masked_cross_entropy_matches_hand_computation_and_gradient() {
        // 2 rows, 2 positions, vocab 3.
        let logits = [
            0.5f32, -1.0, 2.0, 0.0, 0.0, 0.0, 1.0, 1.0, -1.0, 3.0, 0.0, 0.5,
        ];
        let targets = Tensor::new(&[[2u32, 1], [0, 2]], &Device::Cpu).expect("targets");
        let mask = Tensor::new(&[[1f32, 0.0], [1.0, 1.0]], &Device::Cpu).expect("mask");
        let weights = t(&[2.0, 0.5]);
        let f = |x: &Tensor| {
            masked_cross_entropy(
                &x.reshape((2, 2, 3)).expect("reshape"),
                &targets,
                &mask,
                &weights,
            )
            .expect("ce")
        };
        let nll = |row: &[f32], target: usize| -> f64 {
            let lse = row.iter().map(|&v| f64::from(v).exp()).sum::<f64>().ln();
            lse - f64::from(row[target])
        };
        let expected = (2.0 * nll(&logits[0..3], 2)
            + 0.5 * nll(&logits[6..9], 0)
            + 0.5 * nll(&logits[9..12], 2))
            / 3.0;
        assert!((f64::from(scalar(&f(&t(&logits)))) - expected).abs() < 1e-5);
        check_grad(&logits, f);
    }
}
