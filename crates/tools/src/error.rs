//! Why a reply could not be turned into a call, worded for the model.
//!
//! These errors drive the deterministic format-error loop that runs before the supervisor, so
//! each one renders ([`FormatError::observation`]) as a message that says what was wrong and
//! shows the exact expected format with an example: a small model fixes its syntax far more
//! often when it sees the shape it must produce than when it is told only what failed.
//!
//! The example is harness text and keeps its `<tool_call>` tags, as the system prompt does;
//! only the pieces quoted from the model's reply are neutralized.

use serde::{Deserialize, Serialize};

use crate::neutralize::neutralize;

/// A reply that does not hold exactly one valid tool call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormatError {
    #[error("no tool call found")]
    Missing,
    #[error("{0} tool calls found, exactly one is allowed")]
    Multiple(usize),
    #[error("unclosed tool call: {0}")]
    Unclosed(String),
    #[error("unknown tool `{0}`")]
    UnknownTool(String, Vec<String>),
    #[error("tool `{tool}` is missing required argument `{arg}`")]
    MissingArgument { tool: String, arg: String },
    #[error("tool `{tool}` has no argument `{arg}`")]
    UnexpectedArgument { tool: String, arg: String },
    #[error("invalid JSON in tool call: {0}")]
    InvalidJson(String),
    #[error("bad value for `{arg}` of tool `{tool}`: {detail}")]
    BadArgument {
        tool: String,
        arg: String,
        detail: String,
    },
    /// XML-form structure problems that are not a missing closer: text outside any
    /// `<parameter=…>`, an empty function name, a parameter given twice.
    #[error("malformed tool call: {0}")]
    Malformed(String),
    /// The reply hit the token limit inside the call; the parser's repairs cannot be trusted.
    #[error("reply cut off at the length limit inside the tool call")]
    Truncated,
    /// A `bash` command that bash itself cannot parse (`bash -n`).
    #[error("bash syntax error: {0}")]
    BashSyntax(String),
}

/// The canonical call shape, shown after every error.
const FORMAT_EXAMPLE: &str = "<tool_call>
<function=bash>
<parameter=command>
ls -la
</parameter>
</function>
</tool_call>";

impl FormatError {
    /// Short stable name for logs and metrics (`missing`, `multiple`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            FormatError::Missing => "missing",
            FormatError::Multiple(_) => "multiple",
            FormatError::Unclosed(_) => "unclosed",
            FormatError::UnknownTool(..) => "unknown_tool",
            FormatError::MissingArgument { .. } => "missing_argument",
            FormatError::UnexpectedArgument { .. } => "unexpected_argument",
            FormatError::InvalidJson(_) => "invalid_json",
            FormatError::BadArgument { .. } => "bad_argument",
            FormatError::Malformed(_) => "malformed",
            FormatError::Truncated => "truncated",
            FormatError::BashSyntax(_) => "bash_syntax",
        }
    }

    /// The message fed back to the model as the observation for its bad reply.
    pub fn observation(&self) -> String {
        let (problem, example) = (self.problem(), self.example());
        format!(
            "Your reply could not be run: {problem}\n\nEnd each reply with exactly one tool call \
             in this format (values are written raw, with no escaping):\n\n{example}"
        )
    }

    fn problem(&self) -> String {
        match self {
            FormatError::Missing => "it contains no tool call.".to_string(),
            FormatError::Multiple(n) => format!(
                "it contains {n} tool calls, but only one is allowed per reply. Send only the \
                 next call; you will see its result before you choose the one after."
            ),
            FormatError::Unclosed(what) => format!(
                "the tool call is cut off or not closed ({what}). Keep the reply short and close \
                 every tag."
            ),
            FormatError::UnknownTool(name, known) => format!(
                "there is no tool named `{}`. Available tools: {}.",
                neutralize(name),
                known.join(", ")
            ),
            FormatError::MissingArgument { tool, arg } => format!(
                "the tool `{tool}` requires the argument `{arg}`, which is missing. Call `help` \
                 with tool={tool} to see all its arguments."
            ),
            FormatError::UnexpectedArgument { tool, arg } => format!(
                "the tool `{tool}` has no argument named `{}`. Call `help` with tool={tool} \
                 to see its arguments.",
                neutralize(arg)
            ),
            FormatError::InvalidJson(detail) => format!(
                "the JSON in the tool call is invalid ({detail}). The XML format below needs no \
                 escaping; prefer it."
            ),
            FormatError::BadArgument { tool, arg, detail } => {
                format!("the argument `{arg}` of `{tool}` is invalid: {detail}.")
            }
            FormatError::Malformed(detail) => format!("the tool call is malformed: {detail}."),
            FormatError::Truncated => "it was cut off at the length limit before the tool call \
                 was complete. Write less before the call, and keep the call itself short."
                .to_string(),
            FormatError::BashSyntax(detail) => format!(
                "bash cannot parse the command: {}. Fix the quoting or syntax.",
                neutralize(detail)
            ),
        }
    }

    /// The generic example, or one naming the tool and argument the model got wrong.
    fn example(&self) -> String {
        match self {
            FormatError::MissingArgument { tool, arg }
            | FormatError::BadArgument { tool, arg, .. } => {
                format!(
                    "<tool_call>\n<function={tool}>\n<parameter={arg}>\nVALUE\n</parameter>\n\
                     </function>\n</tool_call>"
                )
            }
            _ => FORMAT_EXAMPLE.to_string(),
        }
    }
}
