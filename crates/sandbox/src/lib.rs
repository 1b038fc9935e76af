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
pub use process::{GroupOutput, QUIET_ENV, kill_group, run_in_group, scrub_env};

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

/// The result of [`Sandbox::run_script`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptOutput {
    /// Exit code; `None` when the script was killed (timeout or signal).
    pub exit_code: Option<i32>,
    /// Standard output and standard error together, whole (not capped like [`ExecOutput`]).
    pub output: Vec<u8>,
    /// True when the time limit expired and the script was killed.
    pub timed_out: bool,
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

    /// Runs `script` with bash at the repository root, `input` on its standard input, and
    /// returns all it printed: for work that is one program producing data (the verifier's
    /// whole evaluation), where [`Sandbox::exec`]'s output cap would cut the data and a
    /// command per step would cost a round trip each. The default goes through files in
    /// `.git` (or the root); container backends override it with one exec.
    async fn run_script(
        &self,
        script: &str,
        input: &[u8],
        timeout: Duration,
    ) -> Result<ScriptOutput, SandboxError> {
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = if self.exists(".git/HEAD").await? {
            ".git/"
        } else {
            ""
        };
        let (stdin, stdout) = (
            format!("{dir}.apprentice-script-{nonce:x}.in"),
            format!("{dir}.apprentice-script-{nonce:x}.out"),
        );
        self.write_file(&stdin, input).await?;
        let out = self
            .exec(&format!("( {script}\n) < {stdin} > {stdout} 2>&1"), timeout)
            .await;
        let output = self.read_file(&stdout).await;
        self.exec(
            &format!("rm -f -- {stdin} {stdout}"),
            DEFAULT_COMMAND_TIMEOUT,
        )
        .await?;
        let out = out?;
        Ok(ScriptOutput {
            exit_code: out.exit_code,
            output: output.unwrap_or_default(),
            timed_out: out.timed_out,
        })
    }

    /// Whether the kernel's OOM killer has killed a process in this sandbox since it was
    /// made. Backends that cannot tell say `false`.
    async fn out_of_memory(&self) -> bool {
        false
    }
}

/// What a task's environment is, beyond its files: container backends pick the environment
/// image (Python version, installed packages) by repository and version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvKey {
    pub repo: String,
    pub version: String,
}

/// How a task's tests are run and read: its repository spec's test command and log parser
/// name (`pytest`, `django`, `sympy`, ...), for the task's version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestSpec {
    pub test_cmd: String,
    pub log_parser: String,
}

/// Where [`TestSpec`]s come from (the per-repository spec files). One source serves every
/// backend, so a repository's tests run the same way locally and in a container.
pub trait TestSpecs: Send + Sync + std::fmt::Debug {
    /// The spec for `env`, or `None` when no spec covers that repository and version.
    fn test_spec(&self, env: &EnvKey) -> Option<TestSpec>;
}

/// Makes fresh sandboxes.
#[async_trait]
pub trait SandboxFactory: Send + Sync {
    async fn create(&self, source: &RepoSource) -> Result<Box<dyn Sandbox>, SandboxError>;

    /// How tests run for tasks of `env` in this backend's sandboxes; `None` leaves the choice
    /// to the task (its own test command, the default pytest parser).
    fn test_spec(&self, env: &EnvKey) -> Option<TestSpec> {
        let _ = env;
        None
    }

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
