//! The local backend: a temporary directory per sandbox, commands run as process groups.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use tokio::process::Command;

use crate::hostdir::HostDir;
use crate::output::OutputCap;
use crate::process::{run_in_group, scrub_env};
use crate::{ExecOutput, RepoSource, Sandbox, SandboxError, SandboxFactory};

/// Files the harness itself creates while running tests; never part of a patch.
const EXCLUDES: &str = "__pycache__/\n*.pyc\n.pytest_cache/\n*.egg-info/\n";

/// Makes [`LocalSandbox`]es.
#[derive(Debug, Clone)]
pub struct LocalSandboxFactory {
    cap: OutputCap,
    cut_network: bool,
    specs: Option<std::sync::Arc<dyn crate::TestSpecs>>,
}

impl LocalSandboxFactory {
    /// Probes once whether this host lets us cut the network with `unshare -n`.
    pub fn new() -> Self {
        let cut_network = std::process::Command::new("unshare")
            .args(["-n", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !cut_network {
            tracing::debug!(
                "`unshare -n` is not permitted here; sandboxed commands keep the network"
            );
        }
        LocalSandboxFactory {
            cap: OutputCap::default(),
            cut_network,
            specs: None,
        }
    }

    pub fn with_output_cap(mut self, cap: OutputCap) -> Self {
        self.cap = cap;
        self
    }

    pub fn cuts_network(&self) -> bool {
        self.cut_network
    }

    /// Takes test commands and log parsers from `specs` (the same spec files the container
    /// backends use) instead of leaving them to each task.
    pub fn with_test_specs(mut self, specs: std::sync::Arc<dyn crate::TestSpecs>) -> Self {
        self.specs = Some(specs);
        self
    }
}

impl Default for LocalSandboxFactory {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl SandboxFactory for LocalSandboxFactory {
    fn test_spec(&self, env: &crate::EnvKey) -> Option<crate::TestSpec> {
        self.specs.as_ref()?.test_spec(env)
    }

    async fn create(&self, source: &RepoSource) -> Result<Box<dyn Sandbox>, SandboxError> {
        let dir = tempfile::Builder::new().prefix("apprentice-").tempdir()?;
        let root = dir.path().join("repo");
        let home = dir.path().join("home");
        tokio::fs::create_dir_all(&home).await?;
        populate(source, &root)
            .await
            .map_err(|detail| SandboxError::Setup {
                source_desc: describe_source(source),
                detail,
            })?;
        let root = root.canonicalize()?;
        Ok(Box::new(LocalSandbox {
            _dir: dir,
            files: HostDir::new(root),
            home,
            cap: self.cap,
            cut_network: self.cut_network,
        }))
    }
}

fn describe_source(source: &RepoSource) -> String {
    match source {
        RepoSource::Git { path, base_commit } => format!("{} at {base_commit}", path.display()),
        RepoSource::Snapshot { path } => path.display().to_string(),
    }
}

/// Fills `root` with the repository at its base state, as a one-commit git repository, so no
/// later history is reachable from inside the sandbox.
async fn populate(source: &RepoSource, root: &Path) -> Result<(), String> {
    tokio::fs::create_dir_all(root)
        .await
        .map_err(|e| e.to_string())?;
    match source {
        RepoSource::Snapshot { path } => {
            if !path.is_dir() {
                return Err(format!("`{}` is not a directory", path.display()));
            }
            run_host(
                "cp",
                &[
                    "-a",
                    &format!("{}/.", path.display()),
                    &root.display().to_string(),
                ],
                None,
            )
            .await?;
            let _ = tokio::fs::remove_dir_all(root.join(".git")).await;
        }
        RepoSource::Git { path, base_commit } => {
            let script = format!(
                "git -C {} archive --format=tar {} | tar -x -C {}",
                quote(&path.display().to_string()),
                quote(base_commit),
                quote(&root.display().to_string())
            );
            run_host("bash", &["-o", "pipefail", "-c", &script], None).await?;
        }
    }
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &["commit", "-q", "--allow-empty", "--no-verify", "-m", "base"],
    ] {
        run_host("git", args, Some(root)).await?;
    }
    tokio::fs::write(root.join(".git/info/exclude"), EXCLUDES)
        .await
        .map_err(|e| e.to_string())
}

async fn run_host(program: &str, args: &[&str], dir: Option<&Path>) -> Result<String, String> {
    let mut command = Command::new(program);
    command.args(args).kill_on_drop(true);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    command
        .env("GIT_AUTHOR_NAME", "apprentice")
        .env("GIT_AUTHOR_EMAIL", "apprentice@localhost")
        .env("GIT_COMMITTER_NAME", "apprentice")
        .env("GIT_COMMITTER_EMAIL", "apprentice@localhost")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    let out = command
        .output()
        .await
        .map_err(|e| format!("could not run {program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A repository copy in a temporary directory, removed when the sandbox is dropped.
#[derive(Debug)]
pub struct LocalSandbox {
    _dir: tempfile::TempDir,
    files: HostDir,
    home: PathBuf,
    cap: OutputCap,
    cut_network: bool,
}

impl LocalSandbox {
    /// The repository root on the host.
    pub fn root(&self) -> &Path {
        self.files.root()
    }

    fn command(&self, script: &str) -> Command {
        let mut command = if self.cut_network {
            let mut c = Command::new("unshare");
            c.args(["-n", "bash", "-c", script]);
            c
        } else {
            let mut c = Command::new("bash");
            c.args(["-c", script]);
            c
        };
        scrub_env(&mut command, &self.home);
        command.current_dir(self.files.root()).stderr(Stdio::null());
        command
    }
}

#[async_trait]
impl Sandbox for LocalSandbox {
    async fn exec(&self, command: &str, timeout: Duration) -> Result<ExecOutput, SandboxError> {
        let script = format!("exec 2>&1\n{command}");
        let output = run_in_group(self.command(&script), timeout, self.cap).await?;
        if output.pipe_left_open {
            tracing::warn!("output of `{command}` still open after the group was killed");
        }
        Ok(output.output)
    }

    async fn read_file(&self, path: &str) -> Result<Vec<u8>, SandboxError> {
        self.files.read_file(path).await
    }

    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), SandboxError> {
        self.files.write_file(path, contents).await
    }

    async fn exists(&self, path: &str) -> Result<bool, SandboxError> {
        self.files.exists(path)
    }

    async fn diff(&self) -> Result<String, SandboxError> {
        let setup = |detail| SandboxError::Setup {
            source_desc: self.describe(),
            detail,
        };
        run_host("git", &["add", "-A"], Some(self.files.root()))
            .await
            .map_err(setup)?;
        let diff = run_host(
            "git",
            &[
                "-c",
                "core.quotepath=off",
                "diff",
                "--cached",
                "--no-color",
                "--no-ext-diff",
                "HEAD",
            ],
            Some(self.files.root()),
        )
        .await
        .map_err(setup)?;
        run_host("git", &["reset", "-q"], Some(self.files.root()))
            .await
            .map_err(setup)?;
        Ok(diff)
    }

    fn describe(&self) -> String {
        format!("local:{}", self.files.root().display())
    }
}
