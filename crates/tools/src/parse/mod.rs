//! Turning a model's raw reply into exactly one [`ToolCall`].
//!
//! We request raw text from every backend and parse it here, because server-side tool parsers
//! fail silently for small models (they return everything as content). Accepted forms:
//!
//! * Qwen3-Coder XML, `<tool_call>\n<function=NAME>\n<parameter=KEY>\nVALUE\n</parameter>\n
//!   </function>\n</tool_call>`, with or without the `<tool_call>` wrapper;
//! * Hermes JSON in `<tool_call>{"name": …, "arguments": …}</tool_call>` (also `parameters`,
//!   arguments as a JSON string, repaired JSON);
//! * the same JSON in a ```` ```json ```` fence or bare in the text (what Qwen2.5-Coder emits
//!   when it ignores the tags).
//!
//! Text after a leaked end-of-turn token is dropped, missing closers at the end are added,
//! and text around the call is kept as the thought. A reply is scanned call by call (each
//! call's extent is parsed, so raw values can mention tags), and more than one call is an
//! error. Work is bounded: the tag index is built in one pass and at most
//! [`MAX_CANDIDATES`] calls and [`MAX_JSON_ATTEMPTS`] untagged JSON objects are examined.

mod index;
mod json;
mod xml;

use crate::call::{CallSyntax, ParsedCall, Repair, ToolCall};
use crate::catalog::ToolCatalog;
use crate::error::FormatError;

use index::{FUNCTION_CLOSE, TOOL_CALL_CLOSE, TOOL_CALL_OPEN, TagIndex, next_at};

/// End-of-turn tokens a server may leave in the text; anything after one is not the model's
/// reply (often a hallucinated next turn).
const END_TOKENS: &[&str] = &["<|im_end|>", "<|endoftext|>", "<|im_start|>", "<|eot_id|>"];

/// Calls counted before giving up; `Multiple` reports at most this many.
pub const MAX_CANDIDATES: usize = 16;
/// `{"name"…` objects examined outside tags before bare-JSON scanning stops.
pub const MAX_JSON_ATTEMPTS: usize = 8;

/// Wrappers llama.cpp-style templates produce around a JSON call; removed from the thought.
const JSON_WRAPPERS: &[(&str, &str)] = &[
    ("```json", "```"),
    ("```JSON", "```"),
    ("```", "```"),
    ("<tools>", "</tools>"),
    ("<tool>", "</tool>"),
    ("<function_call>", "</function_call>"),
    ("<json>", "</json>"),
];

/// Parses `text` into exactly one call and validates it against `catalog` (known tool,
/// arguments present and well-typed; aliases such as `execute_bash` mapped to their tool).
pub fn parse_tool_call(text: &str, catalog: &ToolCatalog) -> Result<ParsedCall, FormatError> {
    let mut parsed = parse_raw_tool_call(text)?;
    let requested = parsed.call.name.trim().to_string();
    parsed.call = catalog.validate(parsed.call)?;
    if parsed.call.name != requested {
        parsed.repairs.push(Repair::Alias);
    }
    Ok(parsed)
}

/// Parses `text` into exactly one call without checking it against a catalog: syntax only.
pub fn parse_raw_tool_call(text: &str) -> Result<ParsedCall, FormatError> {
    let mut repairs = Vec::new();
    let text = cut_at_end_token(text, &mut repairs);
    let mut scanner = Scanner::new(text);
    let after_think = think_end(text);
    let mut candidates = scanner.scan_all(after_think);
    if candidates.is_empty() && after_think > 0 {
        candidates = scanner.scan_all(0);
    }
    match candidates.len() {
        0 => Err(scanner.json_error.unwrap_or(FormatError::Missing)),
        1 => candidates
            .pop()
            .map_or(Err(FormatError::Missing), |c| c.result)
            .map(|found| found.into_parsed(text, repairs)),
        n => Err(FormatError::Multiple(n)),
    }
}

/// Where a leading `<think>…</think>` block ends (0 without one). A call drafted while
/// thinking is deliberation, not the action; if nothing follows the block, the reply is
/// scanned whole instead.
fn think_end(text: &str) -> usize {
    if !text.trim_start().starts_with("<think>") {
        return 0;
    }
    text.find("</think>").map_or(0, |i| i + "</think>".len())
}

fn cut_at_end_token<'a>(text: &'a str, repairs: &mut Vec<Repair>) -> &'a str {
    match END_TOKENS.iter().filter_map(|t| text.find(t)).min() {
        Some(i) => {
            repairs.push(Repair::CutAtSpecialToken);
            &text[..i]
        }
        None => text,
    }
}

/// One call found in the text.
struct Found {
    call: ToolCall,
    syntax: CallSyntax,
    repairs: Vec<Repair>,
    start: usize,
    end: usize,
}

impl Found {
    fn into_parsed(self, text: &str, mut repairs: Vec<Repair>) -> ParsedCall {
        repairs.extend(self.repairs);
        ParsedCall {
            call: self.call,
            thought: text[..self.start].trim().to_string(),
            trailing: text[self.end..].trim().to_string(),
            syntax: self.syntax,
            repairs,
        }
    }
}

/// A call attempt: parsed or not, and where scanning resumes after it.
struct Candidate {
    resume: usize,
    result: Result<Found, FormatError>,
}

struct Scanner<'a> {
    text: &'a str,
    index: TagIndex,
    json_attempts: usize,
    /// The first bare/fenced JSON call attempt that failed to parse; reported when the reply
    /// holds no call at all, so the model hears "invalid JSON" rather than "no call".
    json_error: Option<FormatError>,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Scanner {
            text,
            index: TagIndex::build(text),
            json_attempts: 0,
            json_error: None,
        }
    }

    fn scan_all(&mut self, from: usize) -> Vec<Candidate> {
        let mut found = Vec::new();
        let mut pos = from;
        while found.len() < MAX_CANDIDATES {
            let Some(candidate) = self.next(pos) else {
                break;
            };
            pos = candidate.resume;
            found.push(candidate);
        }
        found
    }

    /// The first call attempt at or after `from`: a tag, or JSON that comes before any tag.
    fn next(&mut self, from: usize) -> Option<Candidate> {
        let tag = [
            next_at(&self.index.tool_call_open, from),
            next_at(&self.index.function_open, from),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(candidate) = self.next_json(from, tag.unwrap_or(self.text.len())) {
            return Some(candidate);
        }
        let start = tag?;
        Some(if self.text[start..].starts_with(TOOL_CALL_OPEN) {
            self.wrapped(start)
        } else {
            self.unwrapped(start)
        })
    }

    /// `<tool_call>` holding XML, JSON or a fenced JSON block.
    fn wrapped(&self, start: usize) -> Candidate {
        let body = skip_whitespace(self.text, start + TOOL_CALL_OPEN.len());
        let result = self.wrapped_body(body).map(|mut found| {
            found.start = start;
            found.end = self.close_wrapper(found.end, &mut found.repairs);
            found
        });
        let resume = match &result {
            Ok(found) => found.end,
            Err(_) => after_next(
                &self.index.tool_call_close,
                start,
                TOOL_CALL_CLOSE,
                self.text,
            ),
        };
        Candidate { resume, result }
    }

    fn wrapped_body(&self, body: usize) -> Result<Found, FormatError> {
        let rest = &self.text[body..];
        if rest.starts_with(index::FUNCTION_OPEN) {
            let f = xml::parse_function(self.text, body, &self.index)?;
            return Ok(found(f.call, CallSyntax::Qwen3Xml, f.repairs, body, f.end));
        }
        if rest.starts_with('{') {
            return self.hermes(body);
        }
        if let Some(fenced) = rest.strip_prefix("```") {
            let line_end = fenced.find('\n').map_or(self.text.len(), |i| body + 3 + i);
            let brace = skip_whitespace(self.text, line_end);
            if self.text[brace..].starts_with('{') {
                let mut found = self.hermes(brace)?;
                found.end = skip_fence(self.text, found.end);
                return Ok(found);
            }
        }
        if rest.is_empty() {
            return Err(FormatError::Unclosed(
                "the <tool_call> block is cut off".into(),
            ));
        }
        Err(FormatError::Malformed(
            "<tool_call> must be followed by <function=NAME> on the next line".into(),
        ))
    }

    /// Hermes JSON at `pos` inside a `<tool_call>`.
    fn hermes(&self, pos: usize) -> Result<Found, FormatError> {
        let span = json::scan_object(self.text, pos, &[TOOL_CALL_CLOSE, TOOL_CALL_OPEN, "```"])?;
        let mut repairs = Vec::new();
        if span.repaired {
            repairs.push(Repair::RepairedJson);
        }
        let call = json::call_from_value(span.value, &mut repairs)?;
        Ok(found(call, CallSyntax::HermesJson, repairs, pos, span.end))
    }

    /// Consumes `</tool_call>` after a call, or notes that it was missing.
    fn close_wrapper(&self, end: usize, repairs: &mut Vec<Repair>) -> usize {
        let pos = skip_whitespace(self.text, end);
        if self.text[pos..].starts_with(TOOL_CALL_CLOSE) {
            return pos + TOOL_CALL_CLOSE.len();
        }
        if !repairs.contains(&Repair::AddedClosingTag) {
            repairs.push(Repair::AddedClosingTag);
        }
        end
    }

    /// `<function=…>` without the wrapper (OpenHands / SWE-agent dialect).
    fn unwrapped(&self, start: usize) -> Candidate {
        let result = xml::parse_function(self.text, start, &self.index).map(|f| {
            // A stray `</tool_call>` after the function belongs to the call, not the prose.
            let pos = skip_whitespace(self.text, f.end);
            let end = match self.text[pos..].starts_with(TOOL_CALL_CLOSE) {
                true => pos + TOOL_CALL_CLOSE.len(),
                false => f.end,
            };
            found(f.call, CallSyntax::Qwen3XmlUnwrapped, f.repairs, start, end)
        });
        let resume = match &result {
            Ok(found) => found.end,
            Err(_) => after_next(&self.index.function_close, start, FUNCTION_CLOSE, self.text),
        };
        Candidate { resume, result }
    }

    /// The first call-shaped JSON object (`{"name": …, "arguments": …}`) in `from..limit`,
    /// bare or in a fence or wrapper.
    fn next_json(&mut self, from: usize, limit: usize) -> Option<Candidate> {
        let region = &self.text[from..limit];
        for (rel, _) in region.match_indices('{') {
            if self.json_attempts >= MAX_JSON_ATTEMPTS {
                return None;
            }
            let pos = from + rel;
            if !self.text[pos + 1..].trim_start().starts_with("\"name\"") {
                continue;
            }
            // Each attempt may scan to the end of the text: bound them.
            self.json_attempts += 1;
            match json::scan_object(self.text, pos, &["```"]) {
                Ok(span) if json::looks_like_call(&span.value) => {
                    return Some(self.json_candidate(from, pos, span));
                }
                Ok(_) => {}
                Err(e) => {
                    self.json_error.get_or_insert(e);
                }
            }
        }
        None
    }

    fn json_candidate(&self, from: usize, pos: usize, span: json::JsonSpan) -> Candidate {
        let mut repairs = Vec::new();
        if span.repaired {
            repairs.push(Repair::RepairedJson);
        }
        let before = self.text[..pos].trim_end();
        let wrapper = JSON_WRAPPERS
            .iter()
            .find(|(open, _)| before.ends_with(open) && before.len() - open.len() >= from);
        let (start, end, syntax) = match wrapper {
            Some((open, close)) => {
                let after = skip_whitespace(self.text, span.end);
                let end = match self.text[after..].starts_with(close) {
                    true => after + close.len(),
                    false => span.end,
                };
                let syntax = match open.starts_with("```") {
                    true => CallSyntax::FencedJson,
                    false => CallSyntax::BareJson,
                };
                (before.len() - open.len(), end, syntax)
            }
            None => (pos, span.end, CallSyntax::BareJson),
        };
        let result = json::call_from_value(span.value, &mut repairs)
            .map(|call| found(call, syntax, repairs, start, end));
        Candidate {
            resume: end,
            result,
        }
    }
}

fn found(
    call: ToolCall,
    syntax: CallSyntax,
    repairs: Vec<Repair>,
    start: usize,
    end: usize,
) -> Found {
    Found {
        call,
        syntax,
        repairs,
        start,
        end,
    }
}

/// The position after the next `marker` (indexed in `list`) after `start`, or the end: where
/// scanning resumes after a broken call, so its insides are not counted as more calls.
fn after_next(list: &[usize], start: usize, marker: &str, text: &str) -> usize {
    next_at(list, start + 1).map_or(text.len(), |p| p + marker.len())
}

/// Consumes a closing ```` ``` ```` after a fenced JSON body.
fn skip_fence(text: &str, end: usize) -> usize {
    let pos = skip_whitespace(text, end);
    match text[pos..].starts_with("```") {
        true => pos + 3,
        false => end,
    }
}

fn skip_whitespace(text: &str, pos: usize) -> usize {
    text.len() - text[pos..].trim_start().len()
}
