//! What tools exist, described once and rendered three ways: plain-text help for the model,
//! OpenAI-style JSON schemas for training-data export, and the system-prompt section.
//!
//! The catalog is data, not code, so another tool set (a discovery benchmark with `call` and
//! `finish`) builds its own [`ToolCatalog`] from [`ToolSpec`]s and gets parsing validation,
//! help and prompts for free.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::call::ToolCall;
use crate::error::FormatError;
use crate::neutralize::neutralize;
use crate::render::render_in_order;

/// How an argument's text is interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    String,
    Integer,
    Boolean,
}

impl ParamType {
    /// The JSON-schema type name.
    pub fn json_name(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Boolean => "boolean",
        }
    }
}

/// One argument of a tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamSpec {
    pub name: String,
    pub description: String,
    pub required: bool,
    pub ty: ParamType,
    /// Shown in help and schemas; the tool applies it when the argument is absent.
    pub default: Option<String>,
    /// Inclusive bounds for integers, checked while parsing so a bad value is a format error.
    pub min: Option<i64>,
    pub max: Option<i64>,
}

impl ParamSpec {
    fn new(name: &str, description: &str, ty: ParamType) -> Self {
        ParamSpec {
            name: name.to_string(),
            description: description.to_string(),
            required: true,
            ty,
            default: None,
            min: None,
            max: None,
        }
    }

    /// A required string argument.
    pub fn string(name: &str, description: &str) -> Self {
        Self::new(name, description, ParamType::String)
    }

    /// A required integer argument.
    pub fn integer(name: &str, description: &str) -> Self {
        Self::new(name, description, ParamType::Integer)
    }

    /// A required boolean argument (`true` / `false`).
    pub fn boolean(name: &str, description: &str) -> Self {
        Self::new(name, description, ParamType::Boolean)
    }

    pub fn optional(mut self) -> Self {
        self.required = false;
        self
    }

    /// Marks the argument optional with a documented default.
    pub fn default_value(mut self, value: &str) -> Self {
        self.required = false;
        self.default = Some(value.to_string());
        self
    }

    pub fn min(mut self, min: i64) -> Self {
        self.min = Some(min);
        self
    }

    pub fn max(mut self, max: i64) -> Self {
        self.max = Some(max);
        self
    }

    /// `string, required` / `integer, optional, default 60, 1-600`.
    fn summary(&self) -> String {
        let mut parts = vec![
            self.ty.json_name().to_string(),
            if self.required {
                "required"
            } else {
                "optional"
            }
            .to_string(),
        ];
        if let Some(default) = &self.default {
            parts.push(format!("default {default}"));
        }
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => parts.push(format!("{lo}-{hi}")),
            (Some(lo), None) => parts.push(format!("at least {lo}")),
            (None, Some(hi)) => parts.push(format!("at most {hi}")),
            (None, None) => {}
        }
        parts.join(", ")
    }

    /// Checks one value and returns its normalized text (integers and booleans trimmed).
    fn check(&self, tool: &str, value: &str) -> Result<String, FormatError> {
        let bad = |detail: String| FormatError::BadArgument {
            tool: tool.to_string(),
            arg: self.name.clone(),
            detail,
        };
        match self.ty {
            ParamType::String => Ok(value.to_string()),
            ParamType::Integer => {
                let n: i64 = value
                    .trim()
                    .parse()
                    .map_err(|_| bad(format!("expected a whole number, got `{}`", clip(value))))?;
                self.check_range(n).map_err(bad)?;
                Ok(n.to_string())
            }
            ParamType::Boolean => match value.trim().to_ascii_lowercase().as_str() {
                v @ ("true" | "false") => Ok(v.to_string()),
                _ => Err(bad(format!(
                    "expected true or false, got `{}`",
                    clip(value)
                ))),
            },
        }
    }

    fn check_range(&self, n: i64) -> Result<(), String> {
        let below = self.min.is_some_and(|lo| n < lo);
        let above = self.max.is_some_and(|hi| n > hi);
        if !(below || above) {
            return Ok(());
        }
        Err(match (self.min, self.max) {
            (Some(lo), Some(hi)) => format!("must be between {lo} and {hi}, got {n}"),
            (Some(lo), None) => format!("must be at least {lo}, got {n}"),
            (_, Some(hi)) => format!("must be at most {hi}, got {n}"),
            (None, None) => String::new(),
        })
    }

    fn json_schema(&self) -> Value {
        let mut schema = Map::new();
        schema.insert("type".into(), json!(self.ty.json_name()));
        schema.insert("description".into(), json!(self.description));
        if let Some(default) = &self.default {
            let value = match self.ty {
                ParamType::String => json!(default),
                _ => serde_json::from_str(default).unwrap_or_else(|_| json!(default)),
            };
            schema.insert("default".into(), value);
        }
        if let Some(lo) = self.min {
            schema.insert("minimum".into(), json!(lo));
        }
        if let Some(hi) = self.max {
            schema.insert("maximum".into(), json!(hi));
        }
        Value::Object(schema)
    }
}

/// Shortens a bad value quoted back in an error, so an error never echoes a whole file.
fn clip(value: &str) -> String {
    const MAX: usize = 40;
    let clipped = match value.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &value[..i]),
        None => value.to_string(),
    };
    neutralize(&clipped)
}

/// One tool: name, what it does, its arguments, and other names models use for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub params: Vec<ParamSpec>,
    /// Names from other scaffolds' data (`execute_bash`, `finish`) mapped to this tool.
    pub aliases: Vec<String>,
}

impl ToolSpec {
    pub fn new(name: &str, description: &str) -> Self {
        ToolSpec {
            name: name.to_string(),
            description: description.to_string(),
            params: Vec::new(),
            aliases: Vec::new(),
        }
    }

    pub fn param(mut self, param: ParamSpec) -> Self {
        self.params.push(param);
        self
    }

    pub fn alias(mut self, alias: &str) -> Self {
        self.aliases.push(alias.to_string());
        self
    }

    pub fn get_param(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The help block for this tool.
    pub fn help(&self) -> String {
        let mut out = format!("{}\n  {}\n", self.name, self.description);
        if self.params.is_empty() {
            out.push_str("  Arguments: none\n");
            return out;
        }
        out.push_str("  Arguments:\n");
        for p in &self.params {
            let _ = writeln!(out, "    {} ({}): {}", p.name, p.summary(), p.description);
        }
        out
    }

    /// A call skeleton with the required arguments as placeholders.
    fn skeleton(&self) -> String {
        let mut call = ToolCall::new(&self.name);
        for p in self.params.iter().filter(|p| p.required) {
            call = call.arg(&p.name, "...");
        }
        self.render_call(&call)
    }

    /// Renders a call of this tool with its arguments in declared order.
    pub fn render_call(&self, call: &ToolCall) -> String {
        let order: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
        render_in_order(call, &order)
    }

    /// The OpenAI `{"type": "function", "function": {...}}` schema.
    pub fn openai_schema(&self) -> Value {
        let properties: Map<String, Value> = self
            .params
            .iter()
            .map(|p| (p.name.clone(), p.json_schema()))
            .collect();
        let required: Vec<&str> = self
            .params
            .iter()
            .filter(|p| p.required)
            .map(|p| p.name.as_str())
            .collect();
        json!({
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": {
                    "type": "object",
                    "properties": properties,
                    "required": required,
                },
            },
        })
    }

    /// Checks a call's arguments against this spec and normalizes them.
    fn validate_arguments(&self, call: ToolCall) -> Result<ToolCall, FormatError> {
        let mut call = call;
        call.name = self.name.clone();
        if let Some(arg) = call.arguments.keys().find(|k| self.get_param(k).is_none()) {
            return Err(FormatError::UnexpectedArgument {
                tool: self.name.clone(),
                arg: arg.clone(),
            });
        }
        for p in &self.params {
            // Small models often emit an empty tag for an optional argument: treat as absent.
            if !p.required && p.ty != ParamType::String {
                call.arguments
                    .retain(|k, v| k != &p.name || !v.trim().is_empty());
            }
            match call.arguments.get_mut(&p.name) {
                Some(value) => *value = p.check(&self.name, value)?,
                None if p.required => {
                    return Err(FormatError::MissingArgument {
                        tool: self.name.clone(),
                        arg: p.name.clone(),
                    });
                }
                None => {}
            }
        }
        Ok(call)
    }
}

/// A set of tools plus the text that teaches a model to call them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCatalog {
    tools: Vec<ToolSpec>,
    /// Caption and call shown as the example in the system prompt.
    example: Option<(String, ToolCall)>,
    /// Tool-set specific rules appended to the system-prompt section.
    rules: Vec<String>,
}

impl ToolCatalog {
    pub fn new(tools: Vec<ToolSpec>) -> Self {
        ToolCatalog {
            tools,
            example: None,
            rules: Vec::new(),
        }
    }

    /// Sets the example call the system prompt shows, with a caption ("to view a file:").
    pub fn with_example(mut self, caption: &str, call: ToolCall) -> Self {
        self.example = Some((caption.to_string(), call));
        self
    }

    /// Adds a rule line to the system-prompt section.
    pub fn with_rule(mut self, rule: &str) -> Self {
        self.rules.push(rule.to_string());
        self
    }

    /// The repository-editing tools every SWE task uses.
    pub fn standard() -> Self {
        crate::standard::catalog()
    }

    pub fn tools(&self) -> &[ToolSpec] {
        &self.tools
    }

    /// The tool called `name`, or one of whose aliases is `name`.
    pub fn get(&self, name: &str) -> Option<&ToolSpec> {
        self.tools.iter().find(|t| t.name == name).or_else(|| {
            self.tools
                .iter()
                .find(|t| t.aliases.iter().any(|a| a == name))
        })
    }

    pub fn names(&self) -> Vec<String> {
        self.tools.iter().map(|t| t.name.clone()).collect()
    }

    /// Checks a syntactically parsed call against the catalog: known tool (aliases resolved to
    /// the canonical name), no unknown arguments, required ones present, integers and
    /// booleans well-formed and in range (normalized to their trimmed text).
    pub fn validate(&self, call: ToolCall) -> Result<ToolCall, FormatError> {
        match self.get(call.name.trim()) {
            Some(spec) => spec.validate_arguments(call),
            None => Err(FormatError::UnknownTool(call.name, self.names())),
        }
    }

    /// The `list_tools` observation: every tool with its arguments.
    pub fn help_text(&self) -> String {
        let blocks: Vec<String> = self.tools.iter().map(ToolSpec::help).collect();
        format!("Available tools:\n\n{}", blocks.join("\n"))
    }

    /// The `help` observation for one tool: its description, arguments and call skeleton.
    pub fn tool_help(&self, name: &str) -> Option<String> {
        let spec = self.get(name.trim())?;
        Some(format!(
            "{}\nCall it like this:\n\n{}",
            spec.help(),
            spec.skeleton()
        ))
    }

    /// Renders `call` canonically, arguments in the tool's declared order (alphabetical for
    /// an unknown tool). Use this for training data and supervisor revisions.
    pub fn render_call(&self, call: &ToolCall) -> String {
        match self.get(&call.name) {
            Some(spec) => spec.render_call(call),
            None => render_in_order(call, &[]),
        }
    }

    /// OpenAI-style tool schemas (a JSON array), as TRL's `tools` column expects.
    pub fn openai_tools(&self) -> Value {
        Value::Array(self.tools.iter().map(ToolSpec::openai_schema).collect())
    }

    /// The system-prompt section that explains the call format, with one example, and lists
    /// the tools.
    pub fn system_prompt_section(&self) -> String {
        let mut out = String::from(PROMPT_INTRO);
        if let Some((caption, call)) = &self.example {
            let _ = write!(
                out,
                "\n\nFor example, {caption}\n\n{}",
                self.render_call(call)
            );
        }
        let _ = write!(out, "\n\n{}", self.help_text().trim_end());
        if !self.rules.is_empty() {
            out.push_str("\n\nRules:");
            for rule in &self.rules {
                let _ = write!(out, "\n- {rule}");
            }
        }
        out.push('\n');
        out
    }
}

const PROMPT_INTRO: &str = "# Tools

You act by calling tools. In each reply, think briefly about what to do next, then end the \
reply with exactly one tool call. You will see the tool's output before your next reply.

A tool call looks like this. Write each value raw: no quotes, no escaping; a value may span \
several lines.

<tool_call>
<function=TOOL_NAME>
<parameter=ARGUMENT_NAME>
value
</parameter>
</function>
</tool_call>";
