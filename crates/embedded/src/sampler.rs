//! Next-token choice: greedy, or temperature + nucleus (top-p) sampling with a seedable RNG.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Picks tokens from logits.
pub(crate) struct Sampler {
    temperature: f32,
    top_p: f32,
    rng: StdRng,
}

impl Sampler {
    /// A temperature of 0 (or below) means greedy; `seed` makes sampling reproducible.
    pub fn new(temperature: f32, top_p: f32, seed: Option<u64>) -> Self {
        let rng = match seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_os_rng(),
        };
        Self {
            temperature,
            top_p,
            rng,
        }
    }

    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        if self.temperature <= 0.0 || !self.temperature.is_finite() {
            return argmax(logits);
        }
        let probs = softmax(logits, self.temperature);
        let candidates = nucleus(&probs, self.top_p);
        let total: f32 = candidates.iter().map(|&(_, p)| p).sum();
        let mut r = self.rng.random::<f32>() * total;
        for &(id, p) in &candidates {
            if r < p {
                return id;
            }
            r -= p;
        }
        candidates
            .last()
            .map_or_else(|| argmax(logits), |&(id, _)| id)
    }
}

/// Index of the largest logit; the first one on ties (as llama.cpp's greedy sampler).
pub(crate) fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
}

fn softmax(logits: &[f32], temperature: f32) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut probs: Vec<f32> = logits
        .iter()
        .map(|&l| ((l - max) / temperature).exp())
        .collect();
    let sum: f32 = probs.iter().sum();
    if sum > 0.0 {
        probs.iter_mut().for_each(|p| *p /= sum);
    }
    probs
}

/// The smallest set of most likely tokens whose probability reaches `top_p` (at least one).
fn nucleus(probs: &[f32], top_p: f32) -> Vec<(u32, f32)> {
    let mut sorted: Vec<(u32, f32)> = probs
        .iter()
        .enumerate()
        .filter(|(_, p)| **p > 0.0)
        .map(|(i, &p)| (i as u32, p))
        .collect();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
    if top_p >= 1.0 || !top_p.is_finite() {
        return sorted;
    }
    let mut cum = 0.0;
    let mut keep = 0;
    for &(_, p) in &sorted {
        keep += 1;
        cum += p;
        if cum >= top_p {
            break;
        }
    }
    sorted.truncate(keep.max(1));
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_first_maximum() {
        assert_eq!(argmax(&[0.1, 3.0, 3.0, -1.0]), 1);
        let mut s = Sampler::new(0.0, 1.0, Some(1));
        assert_eq!(s.sample(&[0.0, 1.0, 5.0]), 2);
    }

    #[test]
    fn tiny_top_p_is_greedy() {
        let mut s = Sampler::new(1.0, 0.01, Some(7));
        for _ in 0..20 {
            assert_eq!(s.sample(&[0.0, 2.0, 1.0]), 1);
        }
    }

    #[test]
    fn same_seed_same_samples() {
        let logits: Vec<f32> = (0..50).map(|i| (i % 7) as f32 * 0.3).collect();
        let run = |seed| {
            let mut s = Sampler::new(0.9, 0.95, Some(seed));
            (0..30).map(|_| s.sample(&logits)).collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }
}
