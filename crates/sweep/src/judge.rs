//! When a scale counts as degenerate: every metric compared with the base model (scale 0) on
//! the same prompts, in the same sweep.
//!
//! Fixed thresholds do not transfer between prompt sets: a tool-call reply compresses and
//! repeats differently from prose, and the base model already hits the token limit on some
//! prompts. So each limit is the base model's own value plus a margin (for shares and rates)
//! or times a factor (for ratios); KL is to the base model already, so its limit is absolute.
//! The defaults ([`Thresholds::default`]) are loose on purpose: a trained adapter is meant to
//! move the model (fewer prose replies, more tool calls, lower perplexity on the trajectories);
//! what they catch is the collapse seen when a LoRA is over-scaled (loops, token salad, no
//! end of turn, template tokens), which moves these metrics by much more than the margins.
//! With few prompts each share moves in steps of `1/prompts`; keep margins above one step.

use serde::{Deserialize, Serialize};

use crate::metrics::TextMetrics;

/// Limits relative to the base model's values (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Degenerate when the mean repeated 4-gram rate exceeds base + this.
    pub rep4_margin: f64,
    /// Degenerate when distinct-2 falls below base × this.
    pub distinct2_factor: f64,
    /// Degenerate when the mean compression ratio exceeds base × this.
    pub compression_factor: f64,
    /// Degenerate when the token-limit share exceeds base + this.
    pub token_limit_margin: f64,
    /// Degenerate when the leak rate exceeds base + this.
    pub leak_margin: f64,
    /// Degenerate when the tool-call parse rate falls below base − this.
    pub tool_call_drop: f64,
    /// Degenerate when held-out perplexity exceeds base × this.
    pub perplexity_factor: f64,
    /// Degenerate when the mean per-token KL to the base model exceeds this (nats).
    pub kl_max: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            rep4_margin: 0.25,
            distinct2_factor: 0.5,
            compression_factor: 1.5,
            token_limit_margin: 0.3,
            leak_margin: 0.3,
            tool_call_drop: 0.3,
            perplexity_factor: 2.0,
            kl_max: 2.0,
        }
    }
}

/// Everything measured at one scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaleRow {
    pub scale: f32,
    /// Replies generated at this scale.
    pub samples: usize,
    #[serde(flatten)]
    pub text: TextMetrics,
    /// `exp(mean NLL)` of the held-out reference replies; `None` without references.
    pub perplexity: Option<f64>,
    /// Mean per-token `KL(P_scale || P_base)` on the held-out replies, in nats.
    pub kl_to_base: Option<f64>,
    /// With `--agentic`: the run's resolve and intervention rates at this scale.
    pub resolve_rate: Option<f64>,
    pub intervention_rate: Option<f64>,
    /// The stored run of the agentic check.
    pub run: Option<String>,
    pub degenerate: bool,
    /// Which limits this scale broke, each with its value and limit.
    pub reasons: Vec<String>,
}

/// Every limit `row` breaks, compared with `base`.
pub fn judge(base: &ScaleRow, row: &ScaleRow, t: &Thresholds) -> Vec<String> {
    let (b, r) = (&base.text, &row.text);
    let mut reasons = Vec::new();
    let mut above = |name: &str, value: f64, limit: f64| {
        if value > limit + 1e-12 {
            reasons.push(format!("{name} {value:.3} > {limit:.3}"));
        }
    };
    above("rep4", r.rep4, b.rep4 + t.rep4_margin);
    above(
        "compression_ratio",
        r.compression_ratio,
        b.compression_ratio * t.compression_factor,
    );
    above(
        "token_limit_share",
        r.token_limit_share,
        b.token_limit_share + t.token_limit_margin,
    );
    above("leak_rate", r.leak_rate, b.leak_rate + t.leak_margin);
    if let (Some(bp), Some(rp)) = (base.perplexity, row.perplexity) {
        above("perplexity", rp, bp * t.perplexity_factor);
    }
    if let Some(kl) = row.kl_to_base {
        above("kl_to_base", kl, t.kl_max);
    }
    let mut below = |name: &str, value: f64, limit: f64| {
        if value < limit - 1e-12 {
            reasons.push(format!("{name} {value:.3} < {limit:.3}"));
        }
    };
    below("distinct2", r.distinct2, b.distinct2 * t.distinct2_factor);
    below(
        "tool_call_rate",
        r.tool_call_rate,
        b.tool_call_rate - t.tool_call_drop,
    );
    reasons
}

/// The highest scale that, with every scale below it, stays non-degenerate (rows sorted by
/// scale). Scale 0 is the base model itself and never counts as a recommendation.
pub fn highest_sound_scale(rows: &[ScaleRow]) -> Option<f32> {
    rows.iter()
        .take_while(|r| !r.degenerate)
        .filter(|r| r.scale > 0.0)
        .map(|r| r.scale)
        .last()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(scale: f32, text: TextMetrics, perplexity: f64, kl: f64) -> ScaleRow {
        ScaleRow {
            scale,
            samples: 4,
            text,
            perplexity: Some(perplexity),
            kl_to_base: Some(kl),
            resolve_rate: None,
            intervention_rate: None,
            run: None,
            degenerate: false,
            reasons: Vec::new(),
        }
    }

    const BASE: TextMetrics = TextMetrics {
        rep4: 0.05,
        distinct1: 0.6,
        distinct2: 0.8,
        compression_ratio: 1.2,
        token_limit_share: 0.25,
        leak_rate: 0.0,
        tool_call_rate: 0.5,
    };

    #[test]
    fn limits_are_relative_to_the_base_row() {
        let base = row(0.0, BASE, 5.0, 0.0);
        let close = row(
            0.5,
            TextMetrics {
                rep4: 0.25,
                token_limit_share: 0.5,
                ..BASE
            },
            4.0,
            0.3,
        );
        assert!(judge(&base, &close, &Thresholds::default()).is_empty());
        let looped = TextMetrics {
            rep4: 0.9,
            distinct2: 0.1,
            compression_ratio: 6.0,
            token_limit_share: 1.0,
            leak_rate: 0.5,
            tool_call_rate: 0.0,
            ..BASE
        };
        let bad = row(4.0, looped, 50.0, 6.0);
        let reasons = judge(&base, &bad, &Thresholds::default());
        assert_eq!(reasons.len(), 8, "{reasons:?}");
        assert!(
            reasons.contains(&"rep4 0.900 > 0.300".to_string()),
            "{reasons:?}"
        );
    }

    #[test]
    fn the_recommendation_stops_at_the_first_degenerate_scale() {
        let mut rows: Vec<ScaleRow> = [0.0, 0.5, 1.0, 2.0, 4.0]
            .iter()
            .map(|&s| row(s, BASE, 5.0, 0.0))
            .collect();
        rows[3].degenerate = true;
        assert_eq!(highest_sound_scale(&rows), Some(1.0));
        rows[1].degenerate = true;
        assert_eq!(highest_sound_scale(&rows), None);
    }
}
