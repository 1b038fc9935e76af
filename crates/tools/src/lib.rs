//! The agent-computer interface: how a small code model's text becomes an action on a
//! repository, and how the result is shown back to it.
//!
//! * [`parse_tool_call`] turns a raw reply into exactly one [`ToolCall`], tolerating the
//!   formats and slips of small models and reporting the rest as a [`FormatError`] whose
//!   [`FormatError::observation`] tells the model how to fix its reply;
//! * [`render_tool_call`] / [`ToolCatalog::render_call`] write the canonical form used in
//!   training data and supervisor revisions;
//! * [`ToolCatalog`] describes a tool set once for help text, the system prompt, parse-time
//!   validation and OpenAI-style JSON schemas;
//! * [`execute`] runs a call of the standard tool set against a
//!   [`Sandbox`](apprentice_sandbox::Sandbox); [`ToolSet`] lets other benchmarks plug in
//!   their own tools;
//! * [`neutralize`] keeps control-token text in files and output out of the prompt.

mod call;
mod catalog;
mod error;
mod exec;
mod neutralize;
pub mod parse;
mod render;
mod shell;
mod standard;
mod vet;

pub use call::{CallSyntax, ParsedCall, Repair, ToolCall};
pub use catalog::{ParamSpec, ParamType, ToolCatalog, ToolSpec};
pub use error::FormatError;
pub use exec::files::{Edit, ReplaceProblem, VIEW_MAX_LINES, render_window, replace_once};
pub use exec::{
    Observation, StandardTools, ToolError, ToolSet, execute, execute_with, interactive_reason,
};
pub use neutralize::{contains_control_text, neutralize};
pub use parse::{parse_raw_tool_call, parse_tool_call};
pub use render::{render_in_order, render_tool_call};
pub use shell::shell_quote;
pub use standard::{
    BASH_DEFAULT_TIMEOUT_S, BASH_MAX_TIMEOUT_S, SEARCH_MAX_MATCHES, SNIPPET_CONTEXT, VIEW_WINDOW,
};
pub use vet::{bash_syntax_error, vet_call};
