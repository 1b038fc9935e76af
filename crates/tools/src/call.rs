//! The tool call as data, independent of how the model wrote it.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// One tool invocation: a tool name and its arguments as text.
///
/// Arguments are strings because the Qwen3-Coder XML format writes every value raw; a JSON
/// call's non-string values (`30`, `true`, `{"a":1}`) are kept as their JSON text so both
/// formats yield the same call. Tools convert (e.g. line numbers) when they run.
/// `BTreeMap` keeps the order stable, so rendering and serialization are deterministic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    pub name: String,
    #[serde(default, deserialize_with = "arguments_as_text")]
    pub arguments: BTreeMap<String, String>,
}

impl ToolCall {
    /// A call with no arguments.
    pub fn new(name: impl Into<String>) -> Self {
        ToolCall {
            name: name.into(),
            arguments: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) one argument; for building calls in code and tests.
    pub fn arg(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.arguments.insert(key.into(), value.into());
        self
    }

    /// The argument `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.arguments.get(key).map(String::as_str)
    }
}

/// A JSON value as argument text: strings as they are, `null` as empty, anything else as its
/// compact JSON text.
pub(crate) fn json_value_text(value: serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Turns a JSON object's values into argument text.
pub(crate) fn object_to_arguments(
    object: serde_json::Map<String, serde_json::Value>,
) -> BTreeMap<String, String> {
    object
        .into_iter()
        .map(|(k, v)| (k, json_value_text(v)))
        .collect()
}

fn arguments_as_text<'de, D>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: Deserializer<'de>,
{
    let object = Option::<serde_json::Map<String, serde_json::Value>>::deserialize(deserializer)?;
    Ok(object.map(object_to_arguments).unwrap_or_default())
}

/// Which surface syntax the model used; logged so format drift is measurable and training
/// data can be normalized to the canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallSyntax {
    /// `<tool_call>\n<function=NAME>…</function>\n</tool_call>` (canonical).
    Qwen3Xml,
    /// `<function=NAME>…</function>` without the `<tool_call>` wrapper (OpenHands, SWE-agent).
    Qwen3XmlUnwrapped,
    /// `<tool_call>{"name": …, "arguments": …}</tool_call>` (Hermes, Qwen2.5).
    HermesJson,
    /// A fenced ```` ```json ```` block holding the Hermes JSON.
    FencedJson,
    /// A `{"name": …, "arguments": …}` object in plain text.
    BareJson,
}

/// A tolerated deviation from the canonical format. The call still runs; the loop may log
/// these as soft format errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Repair {
    /// Text after a leaked `<|im_end|>`, `<|endoftext|>` or `<|im_start|>` was dropped.
    CutAtSpecialToken,
    /// A closing tag (`</parameter>`, `</function>`, `</tool_call>`) was missing; the element
    /// was closed where the next tag or the end of the text began.
    AddedClosingTag,
    /// `<parameter=key=value</parameter>` was read as `<parameter=key>value</parameter>`.
    InlineParameter,
    /// JSON was repaired: trailing commas, missing final braces, raw control characters or
    /// invalid escapes in strings.
    RepairedJson,
    /// `"parameters"` was used instead of `"arguments"`.
    ParametersKey,
    /// `"arguments"` was a string holding JSON instead of an object.
    ArgumentsAsString,
    /// The tool was called by an alias (`execute_bash`, `finish`).
    Alias,
}

/// The result of parsing one model reply: the call and the text around it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedCall {
    pub call: ToolCall,
    /// Text before the call (reasoning, `<think>` blocks), trimmed.
    pub thought: String,
    /// Text after the call (ignored, but kept for logs), trimmed.
    pub trailing: String,
    pub syntax: CallSyntax,
    pub repairs: Vec<Repair>,
}
