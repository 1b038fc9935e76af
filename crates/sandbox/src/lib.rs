//! Where agent actions run.
//!
//! A [`Sandbox`] is one working copy of a task's repository plus a way to run shell commands in
//! it. Every tool the agent uses (bash, view, edits, search) and the verifier's test run go
//! through this trait, so the same harness works over a local temporary directory today and a
//! Docker container tomorrow.

mod hostdir;
mod local;
mod output;
mod process;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

pub use hostdir::HostDir;
pub use local::{LocalSandbox, LocalSandboxFactory};
pub use output::{CappedBuffer, OutputCap, cap_output};
pub use process::{GroupOutput, kill_group, run_in_group, scrub_env};

/// Where a sandbox's repository comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoSource {
    /// A git repository on this machine; the sandbox checks out `base_commit` in a fresh copy
    /// and removes every ref that could reveal later history.
    Git { path: PathBuf, base_commit: String },
    /// A plain directory of files (bundled demo tasks); the sandbox makes it a one-commit repo.
    Snapshot { path: PathBuf },
}

/// The result of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit code; `None` when the process was killed (timeout or signal).
    pub exit_code: Option<i32>,
    /// Interleaved stdout and stderr, decoded lossily, capped (head and tail kept).
    pub output: String,
    /// True when the time limit expired and the process group was killed.
    pub timed_out: bool,
    /// Bytes dropped from the middle of the output by the cap.
    pub elided_bytes: u64,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("path `{0}` is outside the repository")]
    PathEscapes(String),
    #[error("file `{0}` not found")]
    NotFound(String),
    #[error("`{path}` is not valid UTF-8 text")]
    NotText { path: String },
    #[error("could not prepare the repository from {source_desc}: {detail}")]
    Setup { source_desc: String, detail: String },
    #[error("sandbox I/O failed: {0}")]
    Io(#[from] std::io::Error),
}

/// One isolated working copy of a repository.
#[async_trait]
pub trait Sandbox: Send + Sync {
    /// Runs `command` with `bash -c` at the repository root. The command runs in its own
    /// process group, which is killed whole when `timeout` expires.
    async fn exec(&self, command: &str, timeout: Duration) -> Result<ExecOutput, SandboxError>;

    /// Reads a file given relative to the repository root.
    async fn read_file(&self, path: &str) -> Result<Vec<u8>, SandboxError>;

    /// Writes (creating parent directories) a file given relative to the repository root.
    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), SandboxError>;

    /// True when `path` (relative to the root) exists.
    async fn exists(&self, path: &str) -> Result<bool, SandboxError>;

    /// The working tree's changes against the base commit, as a git diff (new files included).
    async fn diff(&self) -> Result<String, SandboxError>;

    /// A short human description (`local:/tmp/...`, `docker:abc123`) for logs.
    fn describe(&self) -> String;
}

/// What a task's environment is, beyond its files: container backends pick the environment
/// image (Python version, installed packages) by repository and version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvKey {
    pub repo: String,
    pub version: String,
}

/// Makes fresh sandboxes.
#[async_trait]
pub trait SandboxFactory: Send + Sync {
    async fn create(&self, source: &RepoSource) -> Result<Box<dyn Sandbox>, SandboxError>;

    /// A sandbox for a task whose environment is known. Backends without per-task
    /// environments (the local one uses the host's Python) ignore `env`.
    async fn create_for(
        &self,
        source: &RepoSource,
        env: &EnvKey,
    ) -> Result<Box<dyn Sandbox>, SandboxError> {
        let _ = env;
        self.create(source).await
    }
}

/// The default limit for one agent command.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
