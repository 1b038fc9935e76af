//! Degeneration metrics as pure functions of generated text and logits.
//!
//! Text metrics work on word tokens ([`words`]: identifier-like runs, and every other
//! non-space character on its own), so they mean the same for any model or server and can be
//! checked on hand-made text. Definitions follow the usual ones: repeated n-gram rate
//! `1 - unique/total` within one sample (Welleck et al. 2019, n = 4), distinct-n pooled over
//! samples (Li et al. 2016), and the compression ratio `bytes / zlib(bytes)` (Whisper flags
//! speech transcripts above 2.4).

use std::collections::HashSet;
use std::hash::Hash;
use std::io::Write;

use apprentice_tools::{ToolCatalog, parse_tool_call};

/// Chat-template text that must never appear inside a reply: it means the model is writing
/// the next turn itself (or the template leaked into training).
pub const LEAK_MARKERS: &[&str] = &[
    "<|im_start|>",
    "<|im_end|>",
    "<|endoftext|>",
    "<tool_response>",
    "\nuser\n",
    "\nassistant\n",
    "\nsystem\n",
];

/// Splits text into word tokens: runs of letters, digits and `_`, and each other non-space
/// character alone.
pub fn words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        let wordy = c.is_alphanumeric() || c == '_';
        match (wordy, start) {
            (true, None) => start = Some(i),
            (true, Some(_)) => {}
            (false, s) => {
                if let Some(s) = s {
                    out.push(&text[s..i]);
                    start = None;
                }
                if !c.is_whitespace() {
                    out.push(&text[i..i + c.len_utf8()]);
                }
            }
        }
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    out
}

/// `1 - unique/total` over the n-grams of one sample; 0 when it has none.
pub fn repeated_ngram_rate<T: Eq + Hash>(tokens: &[T], n: usize) -> f64 {
    if n == 0 || tokens.len() < n {
        return 0.0;
    }
    let grams: Vec<&[T]> = tokens.windows(n).collect();
    let unique: HashSet<&[T]> = grams.iter().copied().collect();
    1.0 - unique.len() as f64 / grams.len() as f64
}

/// Unique n-grams over all n-grams, pooled across samples; 0 when there are none.
pub fn distinct_n<T: Eq + Hash>(samples: &[Vec<T>], n: usize) -> f64 {
    let mut total = 0usize;
    let mut unique: HashSet<&[T]> = HashSet::new();
    for s in samples.iter().filter(|s| n > 0 && s.len() >= n) {
        for g in s.windows(n) {
            total += 1;
            unique.insert(g);
        }
    }
    if total == 0 {
        0.0
    } else {
        unique.len() as f64 / total as f64
    }
}

/// `bytes / zlib-compressed bytes` (default level); loops compress well and score high. Short
/// texts score below 1 (the stream has a fixed overhead), so compare with the base model's
/// value on the same prompts, not with a universal constant.
pub fn compression_ratio(text: &str) -> f64 {
    if text.is_empty() {
        return 0.0;
    }
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let compressed = encoder
        .write_all(text.as_bytes())
        .and_then(|()| encoder.finish())
        .map_or(text.len(), |bytes| bytes.len());
    text.len() as f64 / compressed.max(1) as f64
}

/// Whether a reply contains chat-template text ([`LEAK_MARKERS`]).
pub fn leaks_template(text: &str) -> bool {
    LEAK_MARKERS.iter().any(|m| text.contains(m))
}

/// Whether a reply is exactly one valid call of the standard tools, as the agent loop parses
/// it (the same parser and catalog).
pub fn parses_as_tool_call(text: &str) -> bool {
    parse_tool_call(text, &ToolCatalog::standard()).is_ok()
}

/// Natural-log softmax.
pub fn log_softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
    let log_sum = max + sum.ln();
    logits.iter().map(|&l| l as f64 - log_sum).collect()
}

/// `-log p(target)` under `logits`.
pub fn nll(logits: &[f32], target: u32) -> f64 {
    log_softmax(logits)
        .get(target as usize)
        .map_or(f64::INFINITY, |lp| -lp)
}

/// `KL(P || Q) = sum_x P(x) (log P(x) - log Q(x))` in nats, P and Q given as logits.
pub fn kl_divergence(p_logits: &[f32], q_logits: &[f32]) -> f64 {
    let (lp, lq) = (log_softmax(p_logits), log_softmax(q_logits));
    lp.iter()
        .zip(&lq)
        .map(|(&a, &b)| {
            if a.is_finite() {
                a.exp() * (a - b)
            } else {
                0.0
            }
        })
        .sum::<f64>()
        .max(0.0)
}

/// One generated reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub text: String,
    /// Generation stopped at the token limit instead of ending its turn.
    pub hit_limit: bool,
}

/// The text metrics of a set of replies (one scale), means over samples unless noted.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct TextMetrics {
    /// Mean repeated 4-gram rate within a sample.
    pub rep4: f64,
    /// Distinct unigrams, pooled.
    pub distinct1: f64,
    /// Distinct bigrams, pooled.
    pub distinct2: f64,
    /// Mean compression ratio.
    pub compression_ratio: f64,
    /// Share of replies cut by the token limit.
    pub token_limit_share: f64,
    /// Share of replies with chat-template text in them.
    pub leak_rate: f64,
    /// Share of replies that are one valid tool call.
    pub tool_call_rate: f64,
}

/// Computes [`TextMetrics`] over `samples` (all zero when there are none).
pub fn text_metrics(samples: &[Sample]) -> TextMetrics {
    if samples.is_empty() {
        return TextMetrics::default();
    }
    let n = samples.len() as f64;
    let tokens: Vec<Vec<&str>> = samples.iter().map(|s| words(&s.text)).collect();
    let share = |f: &dyn Fn(&Sample) -> bool| samples.iter().filter(|s| f(s)).count() as f64 / n;
    TextMetrics {
        rep4: tokens
            .iter()
            .map(|t| repeated_ngram_rate(t, 4))
            .sum::<f64>()
            / n,
        distinct1: distinct_n(&tokens, 1),
        distinct2: distinct_n(&tokens, 2),
        compression_ratio: samples
            .iter()
            .map(|s| compression_ratio(&s.text))
            .sum::<f64>()
            / n,
        token_limit_share: share(&|s| s.hit_limit),
        leak_rate: share(&|s| leaks_template(&s.text)),
        tool_call_rate: share(&|s| parses_as_tool_call(&s.text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROSE: &str = "The converter rejects 3999 because the range check uses a strict \
        upper bound. Changing the comparison to include the maximum fixes the round trip, and \
        the existing tests for smaller numbers still pass.";

    fn loop_text() -> String {
        "return the value of x; ".repeat(20)
    }

    fn sample(text: &str, hit_limit: bool) -> Sample {
        Sample {
            text: text.to_string(),
            hit_limit,
        }
    }

    #[test]
    fn words_split_identifiers_and_symbols() {
        assert_eq!(
            words("<tool_call> x=a_b1  (y)"),
            ["<", "tool_call", ">", "x", "=", "a_b1", "(", "y", ")"]
        );
    }

    #[test]
    fn a_loop_repeats_compresses_and_is_not_distinct() {
        let looped = loop_text();
        let (lw, pw) = (words(&looped), words(PROSE));
        assert!(
            repeated_ngram_rate(&lw, 4) > 0.9,
            "{}",
            repeated_ngram_rate(&lw, 4)
        );
        assert_eq!(repeated_ngram_rate(&pw, 4), 0.0);
        assert!(compression_ratio(&looped) > 5.0);
        assert!(compression_ratio(PROSE) < 1.6);
        assert!(distinct_n(std::slice::from_ref(&lw), 2) < 0.1);
        assert!(distinct_n(std::slice::from_ref(&pw), 2) > 0.9);
        assert_eq!(repeated_ngram_rate(&["a", "b"], 4), 0.0);
        assert_eq!(distinct_n::<&str>(&[], 1), 0.0);
    }

    #[test]
    fn leaked_tokens_and_role_headers_are_caught() {
        assert!(leaks_template("done.<|im_end|>"));
        assert!(leaks_template("ok\nuser\nnow fix the tests"));
        assert!(leaks_template("<tool_response>\nall passed"));
        assert!(!leaks_template(PROSE));
    }

    #[test]
    fn tool_calls_parse_with_the_agent_parser() {
        let call = "<tool_call>\n<function=view>\n<parameter=path>\nnumerals/convert.py\n</parameter>\n</function>\n</tool_call>";
        assert!(parses_as_tool_call(call));
        assert!(!parses_as_tool_call(PROSE));
        assert!(!parses_as_tool_call(
            "<tool_call>\n<function=fly>\n</function>\n</tool_call>"
        ));
    }

    #[test]
    fn metrics_over_samples() {
        let m = text_metrics(&[
            sample(&loop_text(), true),
            sample(PROSE, false),
            sample("fine<|im_start|>user", false),
            sample(
                "<tool_call>\n<function=submit>\n</function>\n</tool_call>",
                false,
            ),
        ]);
        assert_eq!(m.token_limit_share, 0.25);
        assert_eq!(m.leak_rate, 0.25);
        assert_eq!(m.tool_call_rate, 0.25);
        assert!(m.rep4 > 0.2 && m.rep4 < 0.3, "{}", m.rep4);
        assert_eq!(text_metrics(&[]), TextMetrics::default());
    }

    #[test]
    fn likelihood_metrics() {
        let uniform = [0.0f32; 4];
        assert!((nll(&uniform, 2) - 4f64.ln()).abs() < 1e-9);
        assert_eq!(kl_divergence(&uniform, &uniform), 0.0);
        let peaked = [10.0f32, 0.0, 0.0, 0.0];
        let kl = kl_divergence(&peaked, &uniform);
        assert!(kl > 1.3 && kl < 4f64.ln(), "{kl}");
        assert!(kl_divergence(&uniform, &peaked) > kl);
    }
}
