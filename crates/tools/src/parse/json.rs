//! Hermes-style JSON calls, with the repairs small models need.
//!
//! Qwen2.5-Coder writes JSON calls with raw newlines inside strings, regex escapes such as
//! `\d` that JSON does not allow, trailing commas, and a dropped final brace. Each of these has
//! one obvious meaning, so we repair them while scanning instead of failing the step; anything
//! else is left to `serde_json` and reported as [`FormatError::InvalidJson`].

use serde_json::Value;

use crate::call::{Repair, ToolCall, object_to_arguments};
use crate::error::FormatError;

/// A JSON object found in the text.
pub(super) struct JsonSpan {
    /// Byte position just after the object (or where scanning stopped).
    pub end: usize,
    pub value: Value,
    pub repaired: bool,
}

/// Rebuilds a JSON text while scanning it, fixing what is unambiguous.
#[derive(Default)]
struct Repairer {
    out: String,
    stack: Vec<char>,
    in_string: bool,
    changed: bool,
}

impl Repairer {
    /// Handles one character inside a string; returns how many following characters the
    /// escape it starts consumes (so the caller skips them).
    fn string_char(&mut self, c: char, next: &str) -> usize {
        match c {
            '"' => {
                self.in_string = false;
                self.out.push('"');
            }
            '\\' => return self.escape(next),
            c if (c as u32) < 0x20 => {
                self.changed = true;
                match c {
                    '\n' => self.out.push_str("\\n"),
                    '\t' => self.out.push_str("\\t"),
                    '\r' => self.out.push_str("\\r"),
                    other => self.out.push_str(&format!("\\u{:04x}", other as u32)),
                }
            }
            c => self.out.push(c),
        }
        0
    }

    /// A backslash in a string: keeps valid escapes, doubles invalid ones (`\d` → `\\d`).
    fn escape(&mut self, next: &str) -> usize {
        let valid = match next.chars().next() {
            Some('"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't') => 1,
            Some('u')
                if next
                    .get(1..5)
                    .is_some_and(|h| h.chars().all(|c| c.is_ascii_hexdigit())) =>
            {
                1
            }
            _ => 0,
        };
        if valid == 1 {
            self.out.push('\\');
            // Both characters are ASCII here.
            self.out.push_str(&next[..1]);
        } else {
            self.changed = true;
            self.out.push_str("\\\\");
        }
        valid
    }

    /// Handles one structural character; returns true when the outermost object closed.
    fn structural(&mut self, c: char) -> bool {
        match c {
            '"' => self.in_string = true,
            '{' | '[' => self.stack.push(c),
            '}' | ']' => {
                self.drop_trailing_comma();
                self.stack.pop();
                self.out.push(c);
                return self.stack.is_empty();
            }
            _ => {}
        }
        self.out.push(c);
        false
    }

    fn drop_trailing_comma(&mut self) {
        let trimmed = self.out.trim_end().len();
        if self.out[..trimmed].ends_with(',') {
            self.out.truncate(trimmed - 1);
            self.changed = true;
        }
    }

    /// Closes whatever is still open at the end of the text.
    fn close_all(&mut self) {
        self.drop_trailing_comma();
        while let Some(open) = self.stack.pop() {
            self.out.push(if open == '{' { '}' } else { ']' });
            self.changed = true;
        }
    }
}

/// Scans the JSON object starting at `start` (a `{`). Scanning ends at the matching `}`; or,
/// outside a string, at one of `stops` (e.g. `</tool_call>`) or the end of the text, where the
/// open brackets are closed for it. A string still open there means the call was cut off.
pub(super) fn scan_object(
    text: &str,
    start: usize,
    stops: &[&str],
) -> Result<JsonSpan, FormatError> {
    let body = &text[start..];
    let mut r = Repairer::default();
    let mut end = None;
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        if r.in_string {
            let skip = r.string_char(c, &body[i + c.len_utf8()..]);
            for _ in 0..skip {
                chars.next();
            }
        } else if stops.iter().any(|s| body[i..].starts_with(s)) {
            end = Some(i);
            break;
        } else if r.structural(c) {
            return finish(r, start + i + 1);
        }
    }
    if r.in_string {
        return Err(FormatError::Unclosed(
            "a JSON string in the tool call is not terminated".to_string(),
        ));
    }
    r.close_all();
    finish(r, start + end.unwrap_or(body.len()))
}

fn finish(r: Repairer, end: usize) -> Result<JsonSpan, FormatError> {
    let value: Value =
        serde_json::from_str(&r.out).map_err(|e| FormatError::InvalidJson(e.to_string()))?;
    Ok(JsonSpan {
        end,
        value,
        repaired: r.changed,
    })
}

/// True when `value` has the shape of a call written in prose or a code fence: a `name`
/// string plus `arguments` or `parameters`. Other JSON objects in prose (a package.json)
/// are not calls.
pub(super) fn looks_like_call(value: &Value) -> bool {
    let Some(object) = value.as_object() else {
        return false;
    };
    if let Some(inner) = object.get("function").filter(|f| f.is_object()) {
        return looks_like_call(inner);
    }
    object.get("name").is_some_and(Value::is_string)
        && (object.contains_key("arguments") || object.contains_key("parameters"))
}

/// Turns a parsed JSON call into a [`ToolCall`], noting the tolerated deviations.
pub(super) fn call_from_value(
    value: Value,
    repairs: &mut Vec<Repair>,
) -> Result<ToolCall, FormatError> {
    let Value::Object(mut object) = value else {
        return Err(FormatError::InvalidJson(
            "the tool call must be a JSON object".to_string(),
        ));
    };
    // OpenAI shape: {"type": "function", "function": {"name": …, "arguments": "…"}}.
    if let Some(inner) = object.remove("function").filter(Value::is_object) {
        return call_from_value(inner, repairs);
    }
    let name = match object.remove("name") {
        Some(Value::String(name)) => name,
        _ => {
            return Err(FormatError::InvalidJson(
                "the object has no \"name\" string".to_string(),
            ));
        }
    };
    let arguments = match object.remove("arguments") {
        Some(args) => args,
        None => match object.remove("parameters") {
            Some(args) => {
                repairs.push(Repair::ParametersKey);
                args
            }
            None => Value::Null,
        },
    };
    let arguments = arguments_object(arguments, repairs)?;
    Ok(ToolCall {
        name,
        arguments: object_to_arguments(arguments),
    })
}

fn arguments_object(
    arguments: Value,
    repairs: &mut Vec<Repair>,
) -> Result<serde_json::Map<String, Value>, FormatError> {
    let not_object = || FormatError::InvalidJson("\"arguments\" must be a JSON object".to_string());
    match arguments {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(serde_json::Map::new()),
        Value::String(s) if s.trim().is_empty() => Ok(serde_json::Map::new()),
        Value::String(s) => {
            repairs.push(Repair::ArgumentsAsString);
            let start = s.len() - s.trim_start().len();
            if !s[start..].starts_with('{') {
                return Err(not_object());
            }
            let span = scan_object(&s, start, &[])?;
            if span.repaired {
                repairs.push(Repair::RepairedJson);
            }
            match span.value {
                Value::Object(map) => Ok(map),
                _ => Err(not_object()),
            }
        }
        _ => Err(not_object()),
    }
}
