//! Generation parameters, results and the decoding loop.

use crate::error::{EmbeddedError, Result};
use crate::model::Llama;
use crate::sampler::Sampler;
use crate::tokenizer::GgufTokenizer;
use serde::{Deserialize, Serialize};

/// How to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationParams {
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// Softmax temperature; 0 means greedy decoding.
    pub temperature: f32,
    /// Nucleus sampling threshold; 1 disables it.
    pub top_p: f32,
    /// RNG seed; `None` seeds from the OS.
    pub seed: Option<u64>,
    /// Generation stops before the first occurrence of any of these strings.
    pub stop: Vec<String>,
}

impl Default for GenerationParams {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            temperature: 0.0,
            top_p: 1.0,
            seed: None,
            stop: Vec::new(),
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    /// End of turn (`<|im_end|>`/EOS) or a stop string.
    Stop,
    /// `max_tokens` reached.
    Length,
}

impl FinishReason {
    /// `"stop"` or `"length"`, as in OpenAI-style APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
        }
    }
}

/// The result of one generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// Generated text, without the end-of-turn token and cut before any stop string.
    pub text: String,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Tokens generated (the end-of-turn token is not counted).
    pub completion_tokens: usize,
    /// Why generation ended.
    pub finish_reason: FinishReason,
    /// Generated token ids (end-of-turn excluded).
    pub tokens: Vec<u32>,
}

/// Runs one turn: `prompt` through the model (reusing the cached prefix), then sampling.
pub(crate) fn run(
    model: &mut Llama,
    cached: &mut Vec<u32>,
    tok: &GgufTokenizer,
    end_ids: &[u32],
    prompt: &[u32],
    params: &GenerationParams,
) -> Result<Generation> {
    if prompt.is_empty() {
        return Err(EmbeddedError::Generation("empty prompt".into()));
    }
    let mut logits = prefill(model, cached, prompt)?;
    let mut sampler = Sampler::new(params.temperature, params.top_p, params.seed);
    let mut out: Vec<u32> = Vec::new();
    let mut finish = FinishReason::Length;
    let mut cut = None;
    while out.len() < params.max_tokens {
        let next = sampler.sample(&logits);
        if end_ids.contains(&next) {
            finish = FinishReason::Stop;
            break;
        }
        out.push(next);
        if let Some(at) = find_stop(&tok.decode_bytes(&out), &params.stop) {
            cut = Some(at);
            finish = FinishReason::Stop;
            break;
        }
        if out.len() == params.max_tokens || model.cached_len() >= model.cfg.context_length {
            break;
        }
        logits = model.forward(&[next])?;
        cached.push(next);
    }
    let mut bytes = tok.decode_bytes(&out);
    if let Some(at) = cut {
        bytes.truncate(at);
    }
    Ok(Generation {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        prompt_tokens: prompt.len(),
        completion_tokens: out.len(),
        finish_reason: finish,
        tokens: out,
    })
}

/// Runs the prompt in one batch, skipping the prefix already in the KV cache (agent loops
/// resend the whole conversation every turn). At least one token is always run, for logits.
pub(crate) fn prefill(
    model: &mut Llama,
    cached: &mut Vec<u32>,
    prompt: &[u32],
) -> Result<Vec<f32>> {
    if prompt.is_empty() {
        return Err(EmbeddedError::Generation("empty prompt".into()));
    }
    let common = cached
        .iter()
        .zip(prompt)
        .take_while(|(a, b)| a == b)
        .count()
        .min(prompt.len() - 1)
        .min(model.cached_len());
    model.truncate_cache(common);
    cached.truncate(common);
    let logits = model.forward(&prompt[common..]);
    if logits.is_err() {
        // A failed forward may have written part of the cache: forget it all.
        model.truncate_cache(0);
        cached.clear();
    } else {
        cached.extend_from_slice(&prompt[common..]);
    }
    logits
}

/// Byte offset of the earliest stop string in `text`.
fn find_stop(text: &[u8], stops: &[String]) -> Option<usize> {
    stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| find_bytes(text, s.as_bytes()))
        .min()
}

fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_stop_string_wins() {
        let stops = vec!["b".to_string(), "cd".to_string(), String::new()];
        assert_eq!(find_stop(b"xxcdb", &stops), Some(2));
        assert_eq!(find_stop(b"xyz", &stops), None);
    }

    #[test]
    fn finish_reason_strings() {
        assert_eq!(FinishReason::Stop.as_str(), "stop");
        assert_eq!(FinishReason::Length.as_str(), "length");
    }
}
