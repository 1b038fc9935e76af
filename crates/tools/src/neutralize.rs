//! Keeping control-token text out of what the agent reads.
//!
//! File contents and command output go into the prompt. If a repository file holds the text
//! `<|im_end|>` and the prompt is tokenized with special-token parsing, that text becomes the
//! real end-of-turn token and breaks the conversation; `<tool_call>` or `<tool_response>` in an
//! observation would look like harness structure to the model and to our parser.
//!
//! The escape is a backslash inserted after the `<`, and for `<|…|>` tokens also before the
//! closing `|`: `<|im_end|>` becomes `<\|im_end\|>`, `<tool_call>` becomes `<\tool_call>`,
//! `<parameter=` becomes `<\parameter=`. It is visible (the model sees that something was
//! escaped and can read what), reads like an ordinary backslash escape, and a tokenizer
//! cannot merge it into a control token because the literal no longer occurs. We chose it
//! over an invisible zero-width character because the model would copy an invisible character
//! into `old_str` without knowing it is there.

/// Harness markers escaped wherever they appear (case-sensitive, like tokenizers).
const MARKERS: &[&str] = &[
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<function=",
    "<parameter=",
    "<think>",
    "</think>",
];

/// Longest name between `<|` and `|>` that counts as token-looking (`<|fim_middle|>` etc.).
const MAX_TOKEN_NAME: usize = 64;

/// Returns `text` with every special-token-looking `<|…|>` and every harness marker escaped.
/// Text without them is returned unchanged.
pub fn neutralize(text: &str) -> String {
    if !text.contains('<') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let consumed = escape_at(rest, &mut out);
        rest = &rest[consumed..];
    }
    out.push_str(rest);
    out
}

/// `rest` starts with `<`: writes its escaped or plain form and returns the bytes consumed.
fn escape_at(rest: &str, out: &mut String) -> usize {
    if let Some(marker) = MARKERS.iter().find(|m| rest.starts_with(**m)) {
        out.push_str("<\\");
        out.push_str(&marker[1..]);
        return marker.len();
    }
    if let Some(name_len) = token_name_len(rest) {
        out.push_str("<\\|");
        out.push_str(&rest[2..2 + name_len]);
        out.push_str("\\|>");
        return name_len + 4;
    }
    out.push('<');
    1
}

/// If `rest` starts with `<|NAME|>` (NAME: 1..=64 chars, no `|`, `<`, `>` or line break),
/// the byte length of NAME.
fn token_name_len(rest: &str) -> Option<usize> {
    let body = rest.strip_prefix("<|")?;
    for (count, (i, c)) in body.char_indices().enumerate() {
        match c {
            '|' => return (i > 0 && body[i..].starts_with("|>")).then_some(i),
            '<' | '>' | '\n' | '\r' => return None,
            _ if count >= MAX_TOKEN_NAME => return None,
            _ => {}
        }
    }
    None
}

/// True when `text` holds something [`neutralize`] would escape; for tests and assertions.
pub fn contains_control_text(text: &str) -> bool {
    text.char_indices()
        .filter(|(_, c)| *c == '<')
        .any(|(i, _)| {
            let rest = &text[i..];
            MARKERS.iter().any(|m| rest.starts_with(m)) || token_name_len(rest).is_some()
        })
}
