//! One episode's environment: a fresh WORKDIR, the task's scripts and tools run against it,
//! and every background service the setup started killed when the episode ends.
//!
//! Services are found through `WORKDIR/.pids` (one process-group leader per line, the
//! contract's rule). Each live WORKDIR is registered so [`kill_all_services`] can stop every
//! service at once on Ctrl-C, even while episodes are still running.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use apprentice_sandbox::{
    ExecOutput, HostDir, OutputCap, Sandbox, SandboxError, kill_group, run_in_group, scrub_env,
};
use async_trait::async_trait;
use tokio::process::Command;

use crate::task::{Script, TaskDef};

/// `PATH` with the real python3's directory first: under pyenv, `python3` is a bash shim that
/// costs about 0.3 s a call, and tasks call python for every tool, check and service.
static PATH_ENV: LazyLock<Option<OsString>> = LazyLock::new(|| {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()?;
    let exe = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    let mut dirs = vec![exe.parent()?.to_path_buf()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).ok()
});

/// WORKDIRs whose services may still be running.
static LIVE: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// The most of a script's output kept (setup logs, check and oracle JSON).
const SCRIPT_CAP: OutputCap = OutputCap {
    head: 64 * 1024,
    tail: 16 * 1024,
};

/// What a tool call shows the agent: enough for a status page, short enough for a small model.
pub const TOOL_OUTPUT_CAP: OutputCap = OutputCap {
    head: 3 * 1024,
    tail: 1024,
};

/// A fresh, empty WORKDIR plus a private HOME, both removed (services killed first) on drop.
#[derive(Debug)]
pub struct Workdir {
    dir: tempfile::TempDir,
    files: HostDir,
    home: PathBuf,
}

impl Workdir {
    pub fn create() -> std::io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("apprentice-bench-")
            .tempdir()?;
        let work = dir.path().join("work");
        let home = dir.path().join("home");
        std::fs::create_dir(&work)?;
        std::fs::create_dir(&home)?;
        let work = work.canonicalize()?;
        if let Ok(mut live) = LIVE.lock() {
            live.insert(work.clone());
        }
        Ok(Workdir {
            dir,
            files: HostDir::new(work),
            home,
        })
    }

    /// The WORKDIR on the host.
    pub fn path(&self) -> &Path {
        self.files.root()
    }

    /// The environment every process of the episode gets: scrubbed, a private HOME, a git
    /// identity (tasks commit), and `APP_WORKDIR`.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        scrub_env(&mut command, &self.home);
        if let Some(path) = PATH_ENV.as_ref() {
            command.env("PATH", path);
        }
        command
            .env("APP_WORKDIR", self.files.root())
            .env("GIT_AUTHOR_NAME", "apprentice")
            .env("GIT_AUTHOR_EMAIL", "apprentice@localhost")
            .env("GIT_COMMITTER_NAME", "apprentice")
            .env("GIT_COMMITTER_EMAIL", "apprentice@localhost")
            .env("GIT_CONFIG_NOSYSTEM", "1");
        command
    }

    /// Runs a task script (`setup`, `check`, `oracle`) as `SCRIPT WORKDIR SEED` in the task
    /// directory. `setup`'s stderr is merged into its output (it is only read on failure);
    /// `check` and `oracle` print JSON on stdout, so their stderr goes to a side file that is
    /// appended to the output only when they fail.
    pub async fn run_script(
        &self,
        task: &TaskDef,
        script: Script,
        seed: u64,
        timeout: Duration,
    ) -> std::io::Result<ExecOutput> {
        let path = task.script(script);
        let stderr_path = self
            .dir
            .path()
            .join(format!("{}.stderr", script.file_name()));
        let mut command = match script {
            Script::Setup => {
                // Run through bash only to join stderr to stdout; the arguments are not parsed.
                let mut command = self.command("bash");
                command.args(["-c", "exec \"$0\" \"$@\" 2>&1"]).arg(&path);
                command
            }
            Script::Check | Script::Oracle => {
                let mut command = self.command(&path.to_string_lossy());
                command.stderr(Stdio::from(std::fs::File::create(&stderr_path)?));
                command
            }
        };
        command
            .arg(self.files.root())
            .arg(seed.to_string())
            .current_dir(&task.dir);
        let mut out = run_in_group(command, timeout, SCRIPT_CAP).await?.output;
        if script != Script::Setup && !out.success() {
            let stderr = std::fs::read(&stderr_path).unwrap_or_default();
            let (stderr, _) = apprentice_sandbox::cap_output(&stderr, SCRIPT_CAP);
            out.output.push_str(&stderr);
        }
        Ok(out)
    }

    /// Kills every process group listed in `.pids`. Safe to call more than once.
    pub fn kill_services(&self) {
        kill_listed(self.files.root());
    }
}

/// The process ids listed in `WORKDIR/.pids`; lines that are not numbers are ignored.
pub fn listed_pids(work: &Path) -> Vec<u32> {
    std::fs::read_to_string(work.join(".pids"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn kill_listed(work: &Path) {
    for pid in listed_pids(work) {
        kill_group(pid);
        // A service that did not lead its own group is still stopped.
        if let Ok(pid) = i32::try_from(pid)
            && pid > 1
        {
            // SAFETY: kill(2) sends a signal to one process; no memory is touched.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

/// Kills the services of every live WORKDIR (the Ctrl-C path).
pub fn kill_all_services() {
    if let Ok(live) = LIVE.lock() {
        for work in live.iter() {
            kill_listed(work);
        }
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        self.kill_services();
        if let Ok(mut live) = LIVE.lock() {
            live.remove(self.files.root());
        }
    }
}

/// The agent's `bash` (realism variant) and every tool call run here: in WORKDIR, as their
/// own process group, capped. There is no repository to diff: `check` grades these tasks.
#[async_trait]
impl Sandbox for Workdir {
    async fn exec(&self, command: &str, timeout: Duration) -> Result<ExecOutput, SandboxError> {
        let mut process = self.command("bash");
        process
            .args(["-c", &format!("exec 2>&1\n{command}")])
            .current_dir(self.files.root())
            .stderr(Stdio::null());
        Ok(run_in_group(process, timeout, TOOL_OUTPUT_CAP)
            .await?
            .output)
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
        Ok(String::new())
    }

    fn describe(&self) -> String {
        format!("workdir:{}", self.files.root().display())
    }
}
