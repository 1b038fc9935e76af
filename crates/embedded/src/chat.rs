//! ChatML rendering as SmolLM2's template does it.
//!
//! The template is rendered straight to token ids: control tokens (`<|im_start|>`,
//! `<|im_end|>`) are inserted by id and the text between them is encoded with special-token
//! parsing off. This gives the same ids as rendering the Jinja template to a string and
//! tokenizing it with special tokens parsed (each text run between control tokens is encoded
//! on its own either way), except that message text containing `<|im_end|>` cannot end a turn.

use crate::error::{EmbeddedError, Result};
use crate::tokenizer::GgufTokenizer;
use serde::{Deserialize, Serialize};

/// The system prompt SmolLM2's template inserts when the first message is not a system one.
pub const SMOLLM2_DEFAULT_SYSTEM: &str =
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant` (any string is rendered as is).
    pub role: String,
    /// The message text.
    pub content: String,
}

impl ChatMessage {
    /// A message with the given role.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
        }
    }

    /// A `system` message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }

    /// A `user` message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }

    /// An `assistant` message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }
}

/// The turns to render, with SmolLM2's default system prompt prepended when needed.
fn with_default_system(messages: &[ChatMessage]) -> Vec<(&str, &str)> {
    let mut turns = Vec::with_capacity(messages.len() + 1);
    if messages.first().is_some_and(|m| m.role != "system") {
        turns.push(("system", SMOLLM2_DEFAULT_SYSTEM));
    }
    turns.extend(
        messages
            .iter()
            .map(|m| (m.role.as_str(), m.content.as_str())),
    );
    turns
}

/// Renders the template to text (for logs and for comparing with other renderers).
pub fn render_chatml(messages: &[ChatMessage], add_generation_prompt: bool) -> String {
    let mut out = String::new();
    for (role, content) in with_default_system(messages) {
        out.push_str(&format!("<|im_start|>{role}\n{content}<|im_end|>\n"));
    }
    if add_generation_prompt {
        out.push_str("<|im_start|>assistant\n");
    }
    out
}

/// Renders the template to token ids.
pub(crate) fn render_chatml_ids(
    tok: &GgufTokenizer,
    messages: &[ChatMessage],
    add_generation_prompt: bool,
) -> Result<Vec<u32>> {
    let control = |name: &str| {
        tok.token_to_id(name).ok_or_else(|| {
            EmbeddedError::Generation(format!("the vocabulary has no {name} token for ChatML"))
        })
    };
    let (start, end) = (control("<|im_start|>")?, control("<|im_end|>")?);
    let newline = tok.encode("\n", false)?;
    let mut ids = Vec::new();
    for (role, content) in with_default_system(messages) {
        ids.push(start);
        ids.extend(tok.encode(&format!("{role}\n{content}"), false)?);
        ids.push(end);
        ids.extend_from_slice(&newline);
    }
    if add_generation_prompt {
        ids.push(start);
        ids.extend(tok.encode("assistant\n", false)?);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_system_prompt_is_added_before_user() {
        let text = render_chatml(&[ChatMessage::user("Hi")], true);
        assert_eq!(
            text,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn explicit_system_prompt_replaces_default() {
        let msgs = [ChatMessage::system("Be brief."), ChatMessage::user("Hi")];
        assert_eq!(
            render_chatml(&msgs, false),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        );
    }

    #[test]
    fn empty_conversation_renders_only_the_prompt() {
        assert_eq!(render_chatml(&[], true), "<|im_start|>assistant\n");
    }
}
