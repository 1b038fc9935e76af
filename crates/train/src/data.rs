//! Reading `apprentice export sft|dpo` JSONL and tokenising it with the model's chat template.
//!
//! Conversations are rendered with the embedded crate's ChatML renderer, so training sees
//! exactly the token ids the policy sees at inference. The loss mask is derived from turn
//! boundaries: rendering is a concatenation of per-turn encodings, so rendering the first
//! `i` messages gives a prefix of the full ids, and the tokens between two prefixes are one
//! turn. Within an assistant turn the header (`<|im_start|>assistant\n`) is context, and the
//! content plus `<|im_end|>` are trained (the trailing newline is not: generation stops at
//! `<|im_end|>`).

use crate::error::{Result, TrainError};
use apprentice_embedded::{ChatMessage, EmbeddedModel};
use serde::Deserialize;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One message of a row (`train: false` keeps a turn as context only).
#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
    /// `Some(false)` masks this turn from the loss.
    #[serde(default)]
    pub train: Option<bool>,
}

/// A TRL conversational SFT row.
#[derive(Debug, Clone, Deserialize)]
pub struct SftRow {
    /// The conversation.
    pub messages: Vec<Message>,
    /// Reward weight (reward-weighted SFT); 1 when absent.
    #[serde(default)]
    pub weight: Option<f64>,
}

/// A TRL conversational preference row.
#[derive(Debug, Clone, Deserialize)]
pub struct DpoRow {
    /// Shared context.
    pub prompt: Vec<Message>,
    /// Preferred continuation.
    pub chosen: Vec<Message>,
    /// Dispreferred continuation.
    pub rejected: Vec<Message>,
}

/// A tokenised sequence: `mask[t] = 1` when token `t` is a training target.
#[derive(Debug, Clone, PartialEq)]
pub struct Sequence {
    /// Token ids.
    pub tokens: Vec<u32>,
    /// Per-token target mask (same length as `tokens`; `mask[0]` is always 0).
    pub mask: Vec<f32>,
}

impl Sequence {
    /// Number of trained tokens.
    pub fn trained(&self) -> usize {
        self.mask.iter().filter(|&&m| m > 0.0).count()
    }
}

/// A tokenised SFT example.
#[derive(Debug, Clone, PartialEq)]
pub struct SftExample {
    /// The conversation.
    pub seq: Sequence,
    /// Row weight.
    pub weight: f32,
    /// 1-based line of the source file (for messages).
    pub line: usize,
}

/// A tokenised preference pair.
#[derive(Debug, Clone, PartialEq)]
pub struct DpoExample {
    /// Prompt + chosen, mask on the chosen completion.
    pub chosen: Sequence,
    /// Prompt + rejected, mask on the rejected completion.
    pub rejected: Sequence,
    /// 1-based line of the source file.
    pub line: usize,
}

/// Limits applied while loading.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadLimits {
    /// Keep at most this many rows.
    pub max_rows: Option<usize>,
    /// Longest sequence to train on. Longer SFT rows are cut into pieces that each keep the
    /// system prompt and the task and train every turn once; longer preference pairs lose
    /// the oldest messages of their prompt. A turn that does not fit beside the head is left
    /// out (counted, with a warning), never trained truncated.
    pub max_tokens: Option<usize>,
}

fn to_chat(msgs: &[Message]) -> Vec<ChatMessage> {
    msgs.iter()
        .map(|m| ChatMessage::new(m.role.clone(), m.content.clone()))
        .collect()
}

/// Tokenises `messages`; turn `i` is trained when `trained(i)` is true (it must be an
/// assistant turn).
pub fn tokenize_conversation(
    model: &EmbeddedModel,
    messages: &[Message],
    trained: impl Fn(usize, &Message) -> bool,
) -> Result<Sequence> {
    Ok(Turns::tokenize(model, messages, trained)?.seq)
}

/// A tokenised conversation with the token span of every message, for cutting over-long
/// rows into pieces that are exactly what rendering fewer messages would give.
struct Turns {
    seq: Sequence,
    /// Token range of each message (the template's own preamble comes before the first).
    spans: Vec<Range<usize>>,
    /// Messages every piece keeps: those before the first assistant turn, up to and
    /// including the first user turn (the system prompt and the task).
    head: usize,
}

impl Turns {
    fn tokenize(
        model: &EmbeddedModel,
        messages: &[Message],
        trained: impl Fn(usize, &Message) -> bool,
    ) -> Result<Self> {
        let chat = to_chat(messages);
        let tokens = model.render_chat(&chat, false)?;
        let mut mask = vec![0.0f32; tokens.len()];
        let header = assistant_header(model)?;
        let newline = model.tokenizer().encode("\n", false)?.len();
        let mut start = model.render_chat(&chat[..0], false)?.len();
        let mut spans = Vec::with_capacity(messages.len());
        for (i, m) in messages.iter().enumerate() {
            let prefix = model.render_chat(&chat[..=i], false)?;
            let end = prefix.len();
            if !tokens.starts_with(&prefix) {
                return Err(TrainError::Config(
                    "the chat template is not prefix-preserving for this conversation".into(),
                ));
            }
            if m.role == "assistant" && trained(i, m) {
                let turn = &tokens[start..end];
                let skip = turn.iter().zip(&header).take_while(|(a, b)| a == b).count();
                // Train up to and including `<|im_end|>`: the turn ends with `<|im_end|>\n`.
                let stop = end.saturating_sub(newline);
                for slot in &mut mask[(start + skip).min(stop)..stop] {
                    *slot = 1.0;
                }
            }
            spans.push(start..end);
            start = end;
        }
        let first = |role: &str| messages.iter().position(|m| m.role == role);
        let head = first("user")
            .map_or(0, |u| u + 1)
            .min(first("assistant").unwrap_or(messages.len()));
        Ok(Self {
            seq: Sequence { tokens, mask },
            spans,
            head,
        })
    }

    /// Tokens of the template preamble and the head messages.
    fn head_len(&self) -> usize {
        match self.head.checked_sub(1) {
            Some(last) => self.spans[last].end,
            None => self
                .spans
                .first()
                .map_or(self.seq.tokens.len(), |s| s.start),
        }
    }

    fn len(&self, messages: Range<usize>) -> usize {
        self.spans[messages]
            .iter()
            .map(ExactSizeIterator::len)
            .sum()
    }

    fn is_trained(&self, message: usize) -> bool {
        self.seq.mask[self.spans[message].clone()]
            .iter()
            .any(|&m| m > 0.0)
    }

    /// The head followed by `messages` (contiguous, after the head).
    fn piece(&self, messages: Range<usize>) -> Sequence {
        let head = 0..self.head_len();
        let body = match (self.spans.get(messages.start), messages.end.checked_sub(1)) {
            (Some(first), Some(last)) if !messages.is_empty() => first.start..self.spans[last].end,
            _ => 0..0,
        };
        let take = |v: &[f32]| [&v[head.clone()], &v[body.clone()]].concat();
        Sequence {
            tokens: [
                &self.seq.tokens[head.clone()],
                &self.seq.tokens[body.clone()],
            ]
            .concat(),
            mask: take(&self.seq.mask),
        }
    }

    /// Cuts a conversation longer than `max` tokens into pieces of at most `max`: each is the
    /// head plus a run of consecutive messages ending at a trained turn, taken from the end
    /// backwards with as much preceding context as fits, so every trained turn is trained
    /// exactly once and sees the task. Returns the pieces (in order) and the number of trained
    /// turns too long to fit even alone.
    fn windows(&self, max: usize) -> (Vec<Sequence>, usize) {
        if self.seq.tokens.len() <= max {
            return (vec![self.seq.clone()], 0);
        }
        let budget = max.saturating_sub(self.head_len());
        let (mut pieces, mut too_long) = (Vec::new(), 0);
        let mut end = self.spans.len();
        while let Some(last) = (self.head..end).rev().find(|&m| self.is_trained(m)) {
            let mut start = last + 1;
            while start > self.head && self.len(start - 1..last + 1) <= budget {
                start -= 1;
            }
            if start > last {
                too_long += 1;
                end = last;
                continue;
            }
            pieces.push(self.piece(start..last + 1));
            end = start;
        }
        pieces.reverse();
        (pieces, too_long)
    }
}

fn assistant_header(model: &EmbeddedModel) -> Result<Vec<u32>> {
    let start = model
        .tokenizer()
        .token_to_id("<|im_start|>")
        .ok_or_else(|| TrainError::Config("the vocabulary has no <|im_start|> token".into()))?;
    let mut h = vec![start];
    h.extend(model.tokenizer().encode("assistant\n", false)?);
    Ok(h)
}

fn read_lines(path: &Path) -> Result<Vec<(usize, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    let lines: Vec<(usize, String)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l.to_string()))
        .collect();
    if lines.is_empty() {
        return Err(TrainError::EmptyDataset {
            path: path.to_path_buf(),
            detail: "the file has no rows".into(),
        });
    }
    Ok(lines)
}

fn malformed(path: &Path, line: usize, detail: impl Into<String>) -> TrainError {
    TrainError::Malformed {
        path: path.to_path_buf(),
        line,
        detail: detail.into(),
    }
}

/// Chat-template markup of other model families (and ChatML's own special tokens), which in
/// a message's text means the row was rendered for another template: training on it would
/// teach the model a foreign format, and ChatML's tokens would break the turn structure.
const FOREIGN_MARKUP: [(&str, &str); 10] = [
    ("<|start_header_id|>", "Llama 3"),
    ("<|eot_id|>", "Llama 3"),
    ("<|begin_of_text|>", "Llama 3"),
    ("[INST]", "Llama 2 / Mistral"),
    ("[/INST]", "Llama 2 / Mistral"),
    ("<start_of_turn>", "Gemma"),
    ("<|assistant|>", "Zephyr / Phi"),
    ("<|im_start|>", "an already rendered ChatML"),
    ("<|im_end|>", "an already rendered ChatML"),
    ("<|endoftext|>", "an already rendered ChatML"),
];

fn check_messages(path: &Path, line: usize, msgs: &[Message], what: &str) -> Result<()> {
    for (i, m) in msgs.iter().enumerate() {
        if !matches!(m.role.as_str(), "system" | "user" | "assistant") {
            return Err(malformed(
                path,
                line,
                format!(
                    "{what}[{i}]: role {:?} cannot be rendered with ChatML here (expected system, user or assistant; tool results are user turns)",
                    m.role
                ),
            ));
        }
        if let Some((mark, family)) = FOREIGN_MARKUP
            .iter()
            .find(|(mark, _)| m.content.contains(mark))
        {
            return Err(malformed(
                path,
                line,
                format!(
                    "{what}[{i}] contains {mark:?}, {family} chat-template markup: export plain messages and let the model's template render them"
                ),
            ));
        }
    }
    Ok(())
}

/// What a row of another dataset format is, for a clearer message than serde's.
fn foreign_format(text: &str) -> Option<&'static str> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let obj = value.as_object()?;
    if obj.contains_key("input_ids") || obj.contains_key("tokens") {
        return Some("a token-id row (ids belong to the tokenizer that made them)");
    }
    if obj.get("text").is_some_and(serde_json::Value::is_string) {
        return Some("a plain-text row (\"text\", already rendered with some chat template)");
    }
    ["prompt", "chosen", "rejected", "completion"]
        .iter()
        .any(|k| obj.get(*k).is_some_and(serde_json::Value::is_string))
        .then_some("a row of strings (TRL's standard format, not its conversational one)")
}

fn parse_row<T: serde::de::DeserializeOwned>(
    path: &Path,
    line: usize,
    text: &str,
    expected: &str,
) -> Result<T> {
    serde_json::from_str(text).map_err(|e| {
        let detail = match foreign_format(text) {
            Some(what) => format!("{what}; expected {expected} of plain messages"),
            None => format!("not {expected}: {e}"),
        };
        malformed(path, line, detail)
    })
}

/// What loading did to rows longer than the token limit.
#[derive(Debug, Default)]
struct Cuts {
    /// Rows cut into several pieces.
    split: usize,
    /// Trained turns (SFT) or pairs (DPO) that did not fit even alone, and were left out.
    dropped: usize,
}

fn finish<T>(path: &Path, rows: Vec<T>, cuts: Cuts) -> Result<Vec<T>> {
    if cuts.split > 0 {
        tracing::info!(path = %path.display(), rows = cuts.split, "rows longer than --max-tokens were cut into pieces");
    }
    if cuts.dropped > 0 {
        tracing::warn!(path = %path.display(), dropped = cuts.dropped, "turns or pairs longer than --max-tokens even alone were left out");
    }
    if rows.is_empty() {
        return Err(TrainError::EmptyDataset {
            path: PathBuf::from(path),
            detail: format!(
                "no usable rows ({} too long for the token limit were left out)",
                cuts.dropped
            ),
        });
    }
    Ok(rows)
}

/// Loads and tokenises SFT rows. Malformed lines and rows with no trained assistant token
/// are errors naming the file and line; over-long rows are cut into pieces ([`LoadLimits`]).
pub fn load_sft(path: &Path, model: &EmbeddedModel, limits: LoadLimits) -> Result<Vec<SftExample>> {
    let (mut out, mut cuts, mut rows) = (Vec::new(), Cuts::default(), 0);
    for (line, text) in read_lines(path)? {
        if limits.max_rows.is_some_and(|m| rows >= m) {
            break;
        }
        let row: SftRow = parse_row(path, line, &text, "an SFT row ({\"messages\": [...]})")?;
        check_messages(path, line, &row.messages, "messages")?;
        let weight = row.weight.unwrap_or(1.0);
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(malformed(
                path,
                line,
                format!("weight {weight} is not a finite non-negative number"),
            ));
        }
        let turns = Turns::tokenize(model, &row.messages, |_, m| m.train != Some(false))
            .map_err(|e| malformed(path, line, e.to_string()))?;
        if turns.seq.trained() == 0 {
            return Err(malformed(
                path,
                line,
                "no assistant turn to train (all masked or absent)",
            ));
        }
        let (pieces, too_long) = match limits.max_tokens {
            Some(max) => turns.windows(max),
            None => (vec![turns.seq], 0),
        };
        cuts.dropped += too_long;
        cuts.split += usize::from(pieces.len() > 1);
        rows += 1;
        out.extend(pieces.into_iter().map(|seq| SftExample {
            seq,
            weight: weight as f32,
            line,
        }));
    }
    finish(path, out, cuts)
}

/// Loads and tokenises preference rows (prompt + chosen / prompt + rejected; the completion,
/// i.e. every assistant turn after the prompt, is what the log-probs are summed over).
pub fn load_dpo(path: &Path, model: &EmbeddedModel, limits: LoadLimits) -> Result<Vec<DpoExample>> {
    let (mut out, mut cuts) = (Vec::new(), Cuts::default());
    for (line, text) in read_lines(path)? {
        if limits.max_rows.is_some_and(|m| out.len() >= m) {
            break;
        }
        let row: DpoRow = parse_row(
            path,
            line,
            &text,
            "a preference row ({\"prompt\", \"chosen\", \"rejected\"})",
        )?;
        check_messages(path, line, &row.prompt, "prompt")?;
        check_messages(path, line, &row.chosen, "chosen")?;
        check_messages(path, line, &row.rejected, "rejected")?;
        let n = row.prompt.len();
        let side = |completion: &[Message], what: &str| -> Result<Turns> {
            let mut msgs = row.prompt.clone();
            msgs.extend_from_slice(completion);
            let turns = Turns::tokenize(model, &msgs, |i, _| i >= n)
                .map_err(|e| malformed(path, line, e.to_string()))?;
            if turns.seq.trained() == 0 {
                return Err(malformed(
                    path,
                    line,
                    format!("{what} has no assistant turn"),
                ));
            }
            Ok(turns)
        };
        let chosen = side(&row.chosen, "chosen")?;
        let rejected = side(&row.rejected, "rejected")?;
        let full = chosen.seq.tokens.len();
        let fitted = match limits.max_tokens {
            Some(max) => fit_pair(&chosen, &rejected, n, max),
            None => Some((chosen.seq.clone(), rejected.seq.clone())),
        };
        let Some((chosen, rejected)) = fitted else {
            cuts.dropped += 1;
            continue;
        };
        cuts.split += usize::from(chosen.tokens.len() < full);
        out.push(DpoExample {
            chosen,
            rejected,
            line,
        });
    }
    finish(path, out, cuts)
}

/// Shortens a pair's shared prompt to fit `max` tokens: the head (system prompt and task)
/// stays, then as many of the prompt's most recent messages as fit beside the longer
/// completion, so both sides are scored in the same context. `None` when a completion does
/// not fit beside the head alone.
fn fit_pair(
    chosen: &Turns,
    rejected: &Turns,
    prompt: usize,
    max: usize,
) -> Option<(Sequence, Sequence)> {
    if chosen.seq.tokens.len() <= max && rejected.seq.tokens.len() <= max {
        return Some((chosen.seq.clone(), rejected.seq.clone()));
    }
    let completion = chosen
        .len(prompt..chosen.spans.len())
        .max(rejected.len(prompt..rejected.spans.len()));
    let budget = max.checked_sub(chosen.head_len() + completion)?;
    let mut start = prompt;
    while start > chosen.head && chosen.len(start - 1..prompt) <= budget {
        start -= 1;
    }
    Some((
        chosen.piece(start..chosen.spans.len()),
        rejected.piece(start..rejected.spans.len()),
    ))
}
