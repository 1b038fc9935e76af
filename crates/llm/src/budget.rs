//! Token estimates for checking a budget *before* a call.
//!
//! The exact count needs the model's tokenizer (a different one per provider and model
//! generation), which this crate deliberately does not carry. Instead: 4 characters per
//! token, the common rule of thumb for English with BPE tokenizers, plus a few tokens per
//! message for the chat template's role markers. Expect ±30 %: code and non-English text
//! use more tokens per character (Claude models from 4.7 on count ~30 % more tokens for
//! the same text than older ones), so leave a margin. The authoritative numbers arrive in
//! [`crate::Completion::usage`] after the call; reconcile the budget with those.

use crate::cost::max_cost_usd;
use crate::types::ChatMessage;

/// Characters per token assumed by the estimates.
pub const CHARS_PER_TOKEN: u64 = 4;

/// Tokens added per message for role markers and separators of chat templates
/// (`<|im_start|>assistant\n ... <|im_end|>\n` is about 4 tokens).
pub const MESSAGE_OVERHEAD_TOKENS: u64 = 4;

/// Estimated tokens of `text`: characters (not bytes) / 4, rounded up.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(CHARS_PER_TOKEN)
}

/// Estimated input tokens of a chat request made of `messages` (include the system prompt
/// as a message, or add [`estimate_tokens`] of it for the Anthropic client).
pub fn estimate_input_tokens(messages: &[ChatMessage]) -> u64 {
    messages
        .iter()
        .map(|m| estimate_tokens(&m.content) + MESSAGE_OVERHEAD_TOKENS)
        .sum()
}

/// Estimated worst-case cost of a call: the estimated input plus `max_tokens` of output,
/// at `model`'s prices. `None` for unknown/local models (zero marginal cost).
pub fn estimate_max_cost_usd(
    model: &str,
    system: &str,
    messages: &[ChatMessage],
    max_tokens: u32,
) -> Option<f64> {
    let system_tokens = if system.is_empty() {
        0
    } else {
        estimate_tokens(system) + MESSAGE_OVERHEAD_TOKENS
    };
    max_cost_usd(
        model,
        estimate_input_tokens(messages) + system_tokens,
        max_tokens,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_chars_per_token_rounded_up() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abc"), 1);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        // Characters, not bytes: 8 two-byte characters are 2 tokens, not 4.
        assert_eq!(estimate_tokens("éééééééé"), 2);
    }

    #[test]
    fn messages_include_overhead() {
        let msgs = [ChatMessage::system("x".repeat(40)), ChatMessage::user("hi")];
        assert_eq!(estimate_input_tokens(&msgs), 10 + 4 + 1 + 4);
        assert_eq!(estimate_input_tokens(&[]), 0);
    }

    #[test]
    fn max_cost_for_budget_checks() {
        let msgs = [ChatMessage::user("x".repeat(3996))]; // 999 + 4 = 1003 tokens
        let c = estimate_max_cost_usd("claude-haiku-4-5", "", &msgs, 1000).unwrap_or(f64::NAN);
        assert!(
            (c - (1003.0 * 1.0 + 1000.0 * 5.0) / 1e6).abs() < 1e-12,
            "{c}"
        );
        assert_eq!(
            estimate_max_cost_usd("qwen2.5-coder", "sys", &msgs, 1000),
            None
        );
    }
}
