//! Running calls of the standard tool set against a [`Sandbox`].
//!
//! Every problem the model can fix (a missing file, an ambiguous `old_str`, a path outside the
//! repository, an interactive command) becomes an [`Observation`] it reads; [`ToolError`] is
//! kept for failures of the sandbox itself, which the loop reports as infrastructure errors
//! rather than blaming the agent. Text that comes from the repository, from commands or from
//! the model's own arguments passes through [`neutralize`]; the harness's own help text is
//! shown as is, since it must show the call format.

mod bash;
pub(crate) mod files;
mod paths;
mod search;

use std::sync::LazyLock;

use apprentice_sandbox::{Sandbox, SandboxError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::call::ToolCall;
use crate::catalog::ToolCatalog;
use crate::neutralize::neutralize;

pub use bash::interactive_reason;

/// What the agent sees after a call, plus what the loop needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub text: String,
    /// True after `submit`: the episode ends.
    pub submitted: bool,
    /// The exit code of a `bash` command (`None` when killed, or for other tools).
    pub exit_code: Option<i32>,
}

impl Observation {
    /// A plain observation.
    pub fn text(text: impl Into<String>) -> Self {
        Observation {
            text: text.into(),
            submitted: false,
            exit_code: None,
        }
    }
}

/// The sandbox failed (not the agent): the loop records an infrastructure error.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("sandbox failure: {0}")]
    Sandbox(#[from] SandboxError),
}

/// A tool set the loop can drive: a catalog for prompts and parsing, and an executor.
/// Other benchmarks (e.g. discovery with `call`/`finish`) implement their own.
#[async_trait]
pub trait ToolSet: Send + Sync {
    fn catalog(&self) -> &ToolCatalog;
    async fn execute(
        &self,
        call: &ToolCall,
        sandbox: &dyn Sandbox,
    ) -> Result<Observation, ToolError>;
}

/// The standard repository tools, optionally restricted to a sub-catalog.
#[derive(Debug, Clone)]
pub struct StandardTools {
    catalog: ToolCatalog,
}

impl StandardTools {
    pub fn new() -> Self {
        StandardTools {
            catalog: ToolCatalog::standard(),
        }
    }

    /// Uses `catalog`, which should hold a subset of the standard tools; calls to tools not in
    /// it are refused like unknown tools.
    pub fn with_catalog(catalog: ToolCatalog) -> Self {
        StandardTools { catalog }
    }
}

impl Default for StandardTools {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl ToolSet for StandardTools {
    fn catalog(&self) -> &ToolCatalog {
        &self.catalog
    }

    async fn execute(
        &self,
        call: &ToolCall,
        sandbox: &dyn Sandbox,
    ) -> Result<Observation, ToolError> {
        execute_with(call, sandbox, &self.catalog).await
    }
}

static STANDARD: LazyLock<ToolCatalog> = LazyLock::new(ToolCatalog::standard);

/// Runs one call of the standard tool set.
pub async fn execute(call: &ToolCall, sandbox: &dyn Sandbox) -> Result<Observation, ToolError> {
    execute_with(call, sandbox, &STANDARD).await
}

/// Runs one call, validating it against `catalog` first (calls built by a supervisor or
/// replayed from data did not go through the parser).
pub async fn execute_with(
    call: &ToolCall,
    sandbox: &dyn Sandbox,
    catalog: &ToolCatalog,
) -> Result<Observation, ToolError> {
    let call = match catalog.validate(call.clone()) {
        Ok(call) => call,
        Err(e) => return Ok(Observation::text(e.observation())),
    };
    let args = Args(&call);
    let observation = match call.name.as_str() {
        "list_tools" => return Ok(Observation::text(catalog.help_text())),
        "help" => return Ok(Observation::text(help(catalog, args.text("tool")))),
        "submit" => return Ok(submitted()),
        "bash" => bash::run(sandbox, &args).await?,
        "view" => files::view(sandbox, &args).await?,
        "search" => search::run(sandbox, &args).await?,
        "str_replace" => files::str_replace(sandbox, &args).await?,
        "create" => files::create(sandbox, &args).await?,
        other => Observation::text(format!("The tool `{other}` cannot be run here.")),
    };
    Ok(Observation {
        text: neutralize(&observation.text),
        ..observation
    })
}

fn help(catalog: &ToolCatalog, tool: &str) -> String {
    catalog.tool_help(tool).unwrap_or_else(|| {
        format!(
            "There is no tool named `{}`. Available tools: {}.",
            neutralize(tool.trim()),
            catalog.names().join(", ")
        )
    })
}

fn submitted() -> Observation {
    Observation {
        text: "Your changes have been submitted.".to_string(),
        submitted: true,
        exit_code: None,
    }
}

/// Typed access to a validated call's arguments.
pub(crate) struct Args<'a>(&'a ToolCall);

impl Args<'_> {
    /// A string argument; empty when absent (the catalog already enforced required ones).
    fn text(&self, key: &str) -> &str {
        self.0.get(key).unwrap_or_default()
    }

    fn optional(&self, key: &str) -> Option<&str> {
        self.0.get(key)
    }

    /// An integer argument, already range-checked by the catalog.
    fn number(&self, key: &str) -> Option<u64> {
        self.0.get(key).and_then(|v| v.trim().parse().ok())
    }
}

/// Turns a file operation's error on `path` into what the agent reads when the agent caused
/// it (bad path, missing file, a directory where a file belongs); other errors (disk full,
/// I/O failure) are infrastructure.
fn file_error(error: SandboxError, path: &str) -> Result<Observation, ToolError> {
    use std::io::ErrorKind;
    let text = match error {
        SandboxError::PathEscapes(path) => paths::outside_message(&path),
        SandboxError::NotFound(path) => format!("File not found: {path}"),
        SandboxError::NotText { path } => not_text(&path),
        SandboxError::Io(e) => match e.kind() {
            ErrorKind::NotFound => format!("File not found: {path}"),
            ErrorKind::IsADirectory => format!("`{path}` is a directory, not a file."),
            ErrorKind::NotADirectory | ErrorKind::AlreadyExists => {
                format!("Cannot use `{path}`: a part of the path is a file, not a directory.")
            }
            ErrorKind::PermissionDenied
            | ErrorKind::InvalidInput
            | ErrorKind::InvalidFilename
            | ErrorKind::ReadOnlyFilesystem => format!("Cannot use `{path}`: {e}"),
            _ => return Err(ToolError::Sandbox(SandboxError::Io(e))),
        },
        other => return Err(ToolError::Sandbox(other)),
    };
    Ok(Observation::text(text))
}

fn not_text(path: &str) -> String {
    format!(
        "`{path}` is not a text file (not valid UTF-8); it cannot be viewed or edited with \
         these tools."
    )
}
