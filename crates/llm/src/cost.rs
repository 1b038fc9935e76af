//! Dollar cost of a call from its [`Usage`].
//!
//! # Sources
//! Prices are USD per million tokens, standard (non-batch, global) tier:
//! * Anthropic: the pricing table of platform.claude.com/docs/en/about-claude/pricing and
//!   the per-model overview pages (read October–November 2026). Cache writes use the
//!   5-minute rate (1.25 × input); 1-hour writes (2 × input) are not told apart because
//!   `usage` does not say which was used. Long-context premiums are modelled where the
//!   page lists one (Sonnet 4/4.5 above 200K input tokens; Haiku 5.5 above 100K).
//! * OpenAI: developers.openai.com/api/docs/pricing as quoted in June–November 2026, and
//!   the 2025 list prices for older models. GPT-5.6 Sol/Terra/Luna are announced preview
//!   prices with the usual 90 % cached-input discount applied.
//!
//! Prices change; the table is a convenience for budgets and reports, not an invoice.
//! Update it here (one line per model) when the pages change.
//!
//! # Unknown models
//! [`cost_usd`] returns `None` for a model it does not know: local models served by
//! llama.cpp, vLLM or Ollama (the intended case: treat as zero marginal cost), and hosted
//! models missing from the table. A Claude model of a known family but a newer version
//! than the table (say `claude-opus-6`) is priced like the newest known version of that
//! family, on the assumption that a budget should rather be approximately right than
//! silently zero.

use crate::types::Usage;

/// Per-million-token prices of one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// Uncached input.
    pub input: f64,
    /// Output (including reasoning tokens, which are billed as output).
    pub output: f64,
    /// Input written to the prompt cache (Anthropic). OpenAI reports no cache writes; its
    /// rows set this to the input price.
    pub cache_write: f64,
    /// Input read from the prompt cache.
    pub cache_read: f64,
}

impl Price {
    /// Anthropic's standard multipliers: 5-minute cache write 1.25 ×, cache read 0.1 ×.
    const fn claude(input: f64, output: f64) -> Self {
        Self {
            input,
            output,
            cache_write: input * 1.25,
            cache_read: input * 0.1,
        }
    }

    /// OpenAI: no cache-write charge, cached input at `cached`.
    const fn openai(input: f64, cached: f64, output: f64) -> Self {
        Self {
            input,
            output,
            cache_write: input,
            cache_read: cached,
        }
    }

    /// Cost of `usage` at these prices.
    pub fn cost(&self, usage: &Usage) -> f64 {
        (usage.input_tokens as f64 * self.input
            + usage.output_tokens as f64 * self.output
            + usage.cache_creation_input_tokens as f64 * self.cache_write
            + usage.cache_read_input_tokens as f64 * self.cache_read)
            / 1_000_000.0
    }
}

/// One row of the Claude table: prices from `since` (major, minor) on, until the next row
/// of the same family. `long` is a premium that applies to the whole call when the prompt
/// (all input tokens) exceeds the threshold.
struct ClaudeRow {
    family: &'static str,
    since: (u32, u32),
    price: Price,
    long: Option<(u64, Price)>,
}

const fn row(family: &'static str, since: (u32, u32), price: Price) -> ClaudeRow {
    ClaudeRow {
        family,
        since,
        price,
        long: None,
    }
}

/// Claude prices, grouped by family, ascending by version within a family.
const CLAUDE: &[ClaudeRow] = &[
    row("opus", (3, 0), Price::claude(15.0, 75.0)),
    row("opus", (4, 5), Price::claude(5.0, 25.0)),
    row(
        "opus",
        (5, 5),
        Price {
            input: 4.0,
            output: 20.0,
            cache_write: 5.0,
            cache_read: 0.20,
        },
    ),
    row("sonnet", (3, 0), Price::claude(3.0, 15.0)),
    ClaudeRow {
        family: "sonnet",
        since: (4, 0),
        price: Price::claude(3.0, 15.0),
        long: Some((200_000, Price::claude(6.0, 22.5))),
    },
    row("sonnet", (4, 6), Price::claude(3.0, 15.0)),
    row("sonnet", (5, 0), Price::claude(2.0, 10.0)),
    row(
        "haiku",
        (3, 0),
        Price {
            input: 0.25,
            output: 1.25,
            cache_write: 0.30,
            cache_read: 0.03,
        },
    ),
    row(
        "haiku",
        (3, 5),
        Price {
            input: 0.80,
            output: 4.0,
            cache_write: 1.0,
            cache_read: 0.08,
        },
    ),
    row("haiku", (4, 5), Price::claude(1.0, 5.0)),
    // Haiku 5.5's cache-read rate is not on the page we read; 0.1 × input assumed.
    ClaudeRow {
        family: "haiku",
        since: (5, 5),
        price: Price::claude(0.10, 0.50),
        long: Some((100_000, Price::claude(0.50, 2.50))),
    },
    row(
        "fable",
        (5, 0),
        Price {
            input: 10.0,
            output: 50.0,
            cache_write: 12.5,
            cache_read: 1.0,
        },
    ),
    row(
        "fable",
        (5, 1),
        Price {
            input: 10.0,
            output: 50.0,
            cache_write: 12.5,
            cache_read: 0.25,
        },
    ),
    row(
        "mythos",
        (5, 0),
        Price {
            input: 10.0,
            output: 50.0,
            cache_write: 12.5,
            cache_read: 1.0,
        },
    ),
    row(
        "mythos",
        (5, 1),
        Price {
            input: 10.0,
            output: 50.0,
            cache_write: 12.5,
            cache_read: 0.25,
        },
    ),
];

/// OpenAI prices by model-id prefix; the longest prefix followed by the end of the id or
/// a `-` wins (so `gpt-4o-mini-2024-07-18` is `gpt-4o-mini`, while `gpt-5.3-codex` is not
/// mistaken for `gpt-5`).
const OPENAI: &[(&str, Price)] = &[
    ("gpt-5.6-sol", Price::openai(5.0, 0.50, 30.0)),
    ("gpt-5.6-terra", Price::openai(2.5, 0.25, 15.0)),
    ("gpt-5.6-luna", Price::openai(1.0, 0.10, 6.0)),
    ("gpt-5.5-pro", Price::openai(30.0, 30.0, 180.0)),
    ("gpt-5.5", Price::openai(5.0, 0.50, 30.0)),
    ("gpt-5.4-pro", Price::openai(30.0, 30.0, 180.0)),
    ("gpt-5.4-mini", Price::openai(0.75, 0.075, 4.5)),
    ("gpt-5.4-nano", Price::openai(0.20, 0.02, 1.25)),
    ("gpt-5.4", Price::openai(2.5, 0.25, 15.0)),
    ("gpt-5.2", Price::openai(1.75, 0.175, 14.0)),
    ("gpt-5.1", Price::openai(1.25, 0.125, 10.0)),
    ("gpt-5-pro", Price::openai(15.0, 15.0, 120.0)),
    ("gpt-5-mini", Price::openai(0.25, 0.025, 2.0)),
    ("gpt-5-nano", Price::openai(0.05, 0.005, 0.40)),
    ("gpt-5", Price::openai(1.25, 0.125, 10.0)),
    ("gpt-4.1-mini", Price::openai(0.40, 0.10, 1.60)),
    ("gpt-4.1-nano", Price::openai(0.10, 0.025, 0.40)),
    ("gpt-4.1", Price::openai(2.0, 0.50, 8.0)),
    ("gpt-4o-mini", Price::openai(0.15, 0.075, 0.60)),
    ("gpt-4o", Price::openai(2.5, 1.25, 10.0)),
    ("o4-mini", Price::openai(1.10, 0.275, 4.40)),
    ("o3-pro", Price::openai(20.0, 20.0, 80.0)),
    ("o3-mini", Price::openai(1.10, 0.55, 4.40)),
    ("o3", Price::openai(2.0, 0.50, 8.0)),
    ("o1-pro", Price::openai(150.0, 150.0, 600.0)),
    ("o1-mini", Price::openai(1.10, 0.55, 4.40)),
    ("o1", Price::openai(15.0, 7.50, 60.0)),
];

/// The prices for `model` for a call whose prompt has `prompt_tokens` input tokens in
/// all (long-context premiums depend on it), or `None` for an unknown or local model.
pub fn price_for(model: &str, prompt_tokens: u64) -> Option<Price> {
    let id = model.trim().to_ascii_lowercase();
    if id.contains("claude") {
        return claude_price(&id, prompt_tokens);
    }
    let id = id.strip_prefix("openai/").unwrap_or(&id);
    OPENAI
        .iter()
        .filter(|(prefix, _)| {
            id.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
        })
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, price)| *price)
}

/// Cost in USD of a call to `model` that used `usage`; `None` when the model is unknown
/// (local models: zero marginal cost). See the module docs for sources and caveats.
pub fn cost_usd(model: &str, usage: &Usage) -> Option<f64> {
    price_for(model, usage.total_input_tokens()).map(|p| p.cost(usage))
}

/// Upper-bound cost of a call with `input_tokens` uncached input that generates the full
/// `max_output_tokens`; for checking a budget before the call.
pub fn max_cost_usd(model: &str, input_tokens: u64, max_output_tokens: u32) -> Option<f64> {
    cost_usd(
        model,
        &Usage::new(input_tokens, u64::from(max_output_tokens)),
    )
}

/// Claude ids come in several spellings: `claude-3-5-sonnet-20241022`,
/// `claude-sonnet-4-5-20250929`, `claude-opus-4-1`, `claude-opus-5-5[1m]`, Bedrock
/// `us.anthropic.claude-sonnet-4-20250514-v1:0`, Vertex `claude-opus-4@20250514`,
/// OpenRouter `anthropic/claude-sonnet-4.5`. The family is the first of
/// opus/sonnet/haiku/fable/mythos; the version is the first one or two short numbers
/// before any date.
fn claude_price(id: &str, prompt_tokens: u64) -> Option<Price> {
    let tokens: Vec<&str> = id
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect();
    let family = tokens
        .iter()
        .find(|t| CLAUDE.iter().any(|r| r.family == **t))?;
    let mut version = Vec::with_capacity(2);
    for t in &tokens {
        if !t.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if t.len() > 2 || version.len() == 2 {
            break;
        }
        version.push(t.parse::<u32>().ok()?);
    }
    let major = *version.first()?;
    let minor = version.get(1).copied().unwrap_or(0);
    let row = CLAUDE
        .iter()
        .rev()
        .find(|r| r.family == *family && r.since <= (major, minor))?;
    Some(match row.long {
        Some((threshold, long)) if prompt_tokens > threshold => long,
        _ => row.price,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(model: &str) -> Option<(f64, f64)> {
        price_for(model, 0).map(|p| (p.input, p.output))
    }

    #[test]
    fn claude_ids_in_all_spellings() {
        assert_eq!(io("claude-3-opus-20240229"), Some((15.0, 75.0)));
        assert_eq!(io("claude-opus-4-20250514"), Some((15.0, 75.0)));
        assert_eq!(io("claude-opus-4-1-20250805"), Some((15.0, 75.0)));
        assert_eq!(io("claude-opus-4-5-20251101"), Some((5.0, 25.0)));
        assert_eq!(io("claude-opus-4-8"), Some((5.0, 25.0)));
        assert_eq!(io("claude-opus-5"), Some((5.0, 25.0)));
        assert_eq!(io("claude-opus-5-5[1m]"), Some((4.0, 20.0)));
        assert_eq!(io("claude-3-5-sonnet-20241022"), Some((3.0, 15.0)));
        assert_eq!(io("claude-3-7-sonnet-latest"), Some((3.0, 15.0)));
        assert_eq!(io("claude-sonnet-4-5-20250929"), Some((3.0, 15.0)));
        assert_eq!(io("claude-sonnet-5"), Some((2.0, 10.0)));
        assert_eq!(io("claude-sonnet-5-5"), Some((2.0, 10.0)));
        assert_eq!(io("claude-3-haiku-20240307"), Some((0.25, 1.25)));
        assert_eq!(io("claude-3-5-haiku-20241022"), Some((0.80, 4.0)));
        assert_eq!(io("claude-haiku-4-5-20251001"), Some((1.0, 5.0)));
        assert_eq!(io("claude-haiku-5-5"), Some((0.10, 0.50)));
        assert_eq!(io("claude-fable-5-1"), Some((10.0, 50.0)));
        assert_eq!(
            io("us.anthropic.claude-sonnet-4-20250514-v1:0"),
            Some((3.0, 15.0))
        );
        assert_eq!(
            io("anthropic.claude-3-5-haiku-20241022-v1:0"),
            Some((0.80, 4.0))
        );
        assert_eq!(io("claude-opus-4@20250514"), Some((15.0, 75.0)));
        assert_eq!(io("anthropic/claude-opus-4.5"), Some((5.0, 25.0)));
        // A newer version of a known family: newest known price.
        assert_eq!(io("claude-opus-7"), Some((4.0, 20.0)));
        // Not a priced family or no version.
        assert_eq!(io("claude-2.1"), None);
        assert_eq!(io("claude-instant-1"), None);
        assert_eq!(io("claude-sonnet"), None);
    }

    #[test]
    fn long_context_premiums() {
        let p = price_for("claude-sonnet-4-5", 250_000).map(|p| p.input);
        assert_eq!(p, Some(6.0));
        assert_eq!(
            price_for("claude-sonnet-4-6", 250_000).map(|p| p.input),
            Some(3.0)
        );
        assert_eq!(
            price_for("claude-haiku-5-5", 150_000).map(|p| p.output),
            Some(2.5)
        );
    }

    #[test]
    fn openai_prefixes() {
        assert_eq!(io("gpt-4o-mini-2024-07-18"), Some((0.15, 0.60)));
        assert_eq!(io("gpt-4o"), Some((2.5, 10.0)));
        assert_eq!(io("gpt-4.1-nano"), Some((0.10, 0.40)));
        assert_eq!(io("openai/gpt-5-mini"), Some((0.25, 2.0)));
        assert_eq!(io("gpt-5-codex"), Some((1.25, 10.0)));
        assert_eq!(io("gpt-5.5-2026-04-23"), Some((5.0, 30.0)));
        assert_eq!(io("o3-pro"), Some((20.0, 80.0)));
        assert_eq!(io("o3"), Some((2.0, 8.0)));
        assert_eq!(io("gpt-5.3-codex"), None);
        assert_eq!(io("o3x"), None);
    }

    #[test]
    fn local_models_are_unknown() {
        for m in [
            "qwen2.5-coder-1.5b-instruct",
            "Qwen/Qwen2.5-Coder-7B-Instruct",
            "smollm2-135m",
            "llama3.1:8b",
            "gpt-oss-20b",
            "sft-a",
            "",
        ] {
            assert_eq!(cost_usd(m, &Usage::new(1000, 1000)), None, "{m}");
        }
    }

    #[test]
    fn cost_arithmetic() {
        let u = Usage {
            input_tokens: 1_000_000,
            output_tokens: 100_000,
            cache_creation_input_tokens: 200_000,
            cache_read_input_tokens: 1_000_000,
        };
        // Sonnet 4.6: 3 + 1.5 + 0.2*3.75 + 1*0.30 = 5.55
        let c = cost_usd("claude-sonnet-4-6", &u).unwrap_or(f64::NAN);
        assert!((c - 5.55).abs() < 1e-9, "{c}");
        // gpt-4o: 2.5 + 1.0 + 0.2*2.5 + 1.25 = 5.25
        let c = cost_usd("gpt-4o", &u).unwrap_or(f64::NAN);
        assert!((c - 5.25).abs() < 1e-9, "{c}");
        let m = max_cost_usd("claude-haiku-4-5", 10_000, 1000).unwrap_or(f64::NAN);
        assert!((m - 0.015).abs() < 1e-12, "{m}");
    }
}
