//! The sweep on the embedded model: one load, the LoRA scale changed between generations.

use apprentice_embedded::{EmbeddedModel, FinishReason, GenerationParams};

use crate::SweepError;
use crate::judge::{ScaleRow, Thresholds, judge};
use crate::metrics::{Sample, kl_divergence, nll, text_metrics};
use crate::prompts::Prompt;

/// How to sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepConfig {
    /// Scales to measure; 0 (the base model) is added when missing, it calibrates the rest.
    pub scales: Vec<f32>,
    /// Tokens per reply; replies that reach it count as not ending their turn.
    pub max_tokens: usize,
    /// Reference tokens scored per prompt for perplexity and KL.
    pub max_reference_tokens: usize,
    pub thresholds: Thresholds,
}

/// The scales to run, ascending, without duplicates, starting at 0.
pub fn scale_list(scales: &[f32]) -> Vec<f32> {
    let mut out: Vec<f32> = scales.iter().copied().filter(|s| s.is_finite()).collect();
    out.push(0.0);
    out.sort_by(f32::total_cmp);
    out.dedup();
    out
}

/// Per-scale accumulators.
#[derive(Default)]
struct Tally {
    samples: Vec<Sample>,
    nll: f64,
    kl: f64,
    scored: usize,
}

/// Generates greedily from every prompt at every scale (no stop strings: a reply ends at the
/// end-of-turn token or the limit) and scores the references. `progress` is called after each
/// prompt. The model's scale is left at 0.
pub fn sweep(
    model: &mut EmbeddedModel,
    prompts: &[Prompt],
    config: &SweepConfig,
    progress: &dyn Fn(),
) -> Result<Vec<ScaleRow>, SweepError> {
    let scales = scale_list(&config.scales);
    let mut tallies: Vec<Tally> = scales.iter().map(|_| Tally::default()).collect();
    let params = GenerationParams {
        max_tokens: config.max_tokens,
        temperature: 0.0,
        seed: Some(0),
        ..GenerationParams::default()
    };
    let room = model.config().context_length;
    for prompt in prompts {
        let ids = model.render_chat(&prompt.messages, true)?;
        let reference = match &prompt.reference {
            Some(text) => {
                let mut r = model.tokenizer().encode(text, false)?;
                r.truncate(config.max_reference_tokens);
                r
            }
            None => Vec::new(),
        };
        if ids.len() + config.max_tokens.max(reference.len()) > room {
            tracing::warn!(
                "skipping a prompt of {} tokens: it does not fit the context",
                ids.len()
            );
            progress();
            continue;
        }
        model.set_lora_scale(0.0);
        let base = if reference.is_empty() {
            Vec::new()
        } else {
            model.continuation_logits(&ids, &reference)?
        };
        for (scale, tally) in scales.iter().zip(tallies.iter_mut()) {
            model.set_lora_scale(*scale);
            let out = model.generate_from_tokens(&ids, &params)?;
            tally.samples.push(Sample {
                text: out.text,
                hit_limit: out.finish_reason == FinishReason::Length,
            });
            if reference.is_empty() {
                continue;
            }
            let logits = if *scale == 0.0 {
                base.clone()
            } else {
                model.continuation_logits(&ids, &reference)?
            };
            for ((row, b), &target) in logits.iter().zip(&base).zip(&reference) {
                tally.nll += nll(row, target);
                tally.kl += kl_divergence(row, b);
                tally.scored += 1;
            }
        }
        progress();
    }
    model.set_lora_scale(0.0);
    let mut rows: Vec<ScaleRow> = scales
        .iter()
        .zip(tallies)
        .map(|(&scale, t)| row(scale, t))
        .collect();
    mark_degenerate(&mut rows, &config.thresholds);
    Ok(rows)
}

fn row(scale: f32, t: Tally) -> ScaleRow {
    let per_token = |sum: f64| (t.scored > 0).then(|| sum / t.scored as f64);
    ScaleRow {
        scale,
        samples: t.samples.len(),
        text: text_metrics(&t.samples),
        perplexity: per_token(t.nll).map(f64::exp),
        kl_to_base: per_token(t.kl),
        resolve_rate: None,
        intervention_rate: None,
        run: None,
        degenerate: false,
        reasons: Vec::new(),
    }
}

/// Judges every row against the scale-0 row (the first).
pub fn mark_degenerate(rows: &mut [ScaleRow], thresholds: &Thresholds) {
    let Some(base) = rows.iter().find(|r| r.scale == 0.0).cloned() else {
        return;
    };
    for row in rows.iter_mut() {
        row.reasons = judge(&base, row, thresholds);
        row.degenerate = !row.reasons.is_empty();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_zero_is_always_first() {
        assert_eq!(scale_list(&[2.0, 0.5, 0.5, f32::NAN]), vec![0.0, 0.5, 2.0]);
        assert_eq!(scale_list(&[]), vec![0.0]);
    }
}
