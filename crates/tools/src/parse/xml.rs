//! The Qwen3-Coder XML form: `<function=NAME>` with `<parameter=KEY>` children.
//!
//! This is a tag scan, not an XML parse: values are raw text that may hold `<`, `&`, code and
//! XML-looking text, which any real XML parser rejects. A value ends at the first
//! `</parameter>` that is followed by another tag of the call or by the end of the text (see
//! [`super::index::TagIndex`]), so code mentioning `</parameter>` stays inside the value.

use crate::call::{Repair, ToolCall};
use crate::error::FormatError;
use crate::neutralize::neutralize;

use super::index::{
    FUNCTION_CLOSE, FUNCTION_OPEN, PARAM_CLOSE, PARAM_OPEN, TOOL_CALL_CLOSE, TagIndex, next_at,
};

/// Longest tool or parameter name we look for before giving up on a tag.
const MAX_TAG_NAME: usize = 256;

/// One `<function=…>` element.
pub(super) struct XmlFunction {
    pub call: ToolCall,
    /// Byte position just after the element.
    pub end: usize,
    pub repairs: Vec<Repair>,
}

struct Parameter {
    key: String,
    value: String,
    end: usize,
    repair: Option<Repair>,
}

/// Parses the `<function=NAME>` element that starts at `start`.
pub(super) fn parse_function(
    text: &str,
    start: usize,
    index: &TagIndex,
) -> Result<XmlFunction, FormatError> {
    let (raw_name, mut pos) = tag_name(text, start + FUNCTION_OPEN.len(), "function")?;
    let name = clean_name(raw_name, "function")?;
    let mut call = ToolCall::new(name);
    let mut repairs = Vec::new();
    loop {
        pos = skip_whitespace(text, pos);
        let rest = &text[pos..];
        if let Some(after) = rest.strip_prefix(FUNCTION_CLOSE) {
            pos = text.len() - after.len();
            break;
        }
        if rest.is_empty() || rest.starts_with(TOOL_CALL_CLOSE) || ends_here(index, pos) {
            repairs.push(Repair::AddedClosingTag);
            break;
        }
        if !rest.starts_with(PARAM_OPEN) {
            return Err(FormatError::Malformed(format!(
                "the text `{}` is inside the call of `{}` but outside any <parameter=NAME> tag",
                neutralize(&snippet(rest)),
                neutralize(&call.name)
            )));
        }
        let param = parse_parameter(text, pos, index)?;
        if call.arguments.contains_key(&param.key) {
            return Err(FormatError::Malformed(format!(
                "the parameter `{}` is given twice",
                neutralize(&param.key)
            )));
        }
        repairs.extend(param.repair);
        call.arguments.insert(param.key, param.value);
        pos = param.end;
    }
    Ok(XmlFunction {
        call,
        end: pos,
        repairs,
    })
}

/// True when no later tag of a call follows `pos`: the text there is prose after a function
/// whose `</function>` was dropped.
fn ends_here(index: &TagIndex, pos: usize) -> bool {
    next_at(&index.function_close, pos).is_none() && next_at(&index.param_open, pos).is_none()
}

fn parse_parameter(text: &str, start: usize, index: &TagIndex) -> Result<Parameter, FormatError> {
    let (raw_key, value_start) = tag_name(text, start + PARAM_OPEN.len(), "parameter")?;
    if let Some((key, value)) = inline_parameter(raw_key) {
        return Ok(Parameter {
            key: clean_name(key, "parameter")?,
            value: value.to_string(),
            end: value_start,
            repair: Some(Repair::InlineParameter),
        });
    }
    let key = clean_name(raw_key, "parameter")?;
    let (value_end, end, closed) = value_extent(text, value_start, index);
    Ok(Parameter {
        key,
        value: strip_one_newline(&text[value_start..value_end]).to_string(),
        end,
        repair: (!closed).then_some(Repair::AddedClosingTag),
    })
}

/// `key=value</parameter` (OpenHands' normalization case) as key and value.
fn inline_parameter(raw: &str) -> Option<(&str, &str)> {
    raw.strip_suffix("</parameter")?.split_once('=')
}

/// Where the value starting at `from` ends, where parsing resumes, and whether a proper
/// `</parameter>` closed it. Without one, the value runs to the next tag of the call or the
/// end of the text (the reply was cut at a stop sequence or the model forgot the closer).
fn value_extent(text: &str, from: usize, index: &TagIndex) -> (usize, usize, bool) {
    if let Some(close) = next_at(&index.param_close, from) {
        return (close, close + PARAM_CLOSE.len(), true);
    }
    let end = [
        next_at(&index.param_open, from),
        next_at(&index.function_close, from),
        next_at(&index.tool_call_close, from),
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(text.len());
    (end, end, false)
}

/// The raw text between `<TAG=` (ending at `pos`) and `>`, and the position after `>`.
fn tag_name<'a>(text: &'a str, pos: usize, tag: &str) -> Result<(&'a str, usize), FormatError> {
    let rest = &text[pos..];
    let mut cut_off = true;
    for (count, (i, c)) in rest.char_indices().enumerate() {
        match c {
            '>' => return Ok((&rest[..i], pos + i + 1)),
            '\n' => {
                cut_off = false;
                break;
            }
            _ if count >= MAX_TAG_NAME => {
                cut_off = false;
                break;
            }
            _ => {}
        }
    }
    if cut_off {
        Err(FormatError::Unclosed(format!(
            "the <{tag}=...> tag is cut off"
        )))
    } else {
        Err(FormatError::Malformed(format!(
            "<{tag}= must be followed by the name and > on the same line, like <{tag}=NAME>"
        )))
    }
}

/// Trims a name and drops quotes a model may put around it (`<function="bash">`).
fn clean_name(raw: &str, tag: &str) -> Result<String, FormatError> {
    let name = raw.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    if name.is_empty() {
        return Err(FormatError::Malformed(format!(
            "the <{tag}=...> tag has an empty name"
        )));
    }
    Ok(name.to_string())
}

/// Removes exactly one newline at each end: the canonical form puts values on their own lines.
fn strip_one_newline(value: &str) -> &str {
    let value = value.strip_prefix('\n').unwrap_or(value);
    value.strip_suffix('\n').unwrap_or(value)
}

fn skip_whitespace(text: &str, pos: usize) -> usize {
    text.len() - text[pos..].trim_start().len()
}

/// The start of `rest`, shortened for an error message.
fn snippet(rest: &str) -> String {
    let line = rest.lines().next().unwrap_or_default();
    match line.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}
