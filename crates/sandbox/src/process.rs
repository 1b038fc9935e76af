//! Running one command as its own process group, with a time limit and capped output.
//!
//! Every backend that starts host processes (the local sandbox, the discovery benchmark's
//! tools and task scripts) goes through [`run_in_group`], so a timeout kills the whole tree
//! and output is capped the same way everywhere.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::ExecOutput;
use crate::output::{CappedBuffer, OutputCap};

/// Environment variables a sandboxed command may see. Everything else (API keys, tokens,
/// cloud credentials) is dropped.
const INHERITED_ENV: &[&str] = &[
    "PATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "PYENV_ROOT",
    "PYENV_VERSION",
];

/// Variables that keep tools from paging, colouring or drawing progress bars; every backend
/// sets them, so an agent sees the same tools wherever it runs.
pub const QUIET_ENV: &[(&str, &str)] = &[
    ("PAGER", "cat"),
    ("GIT_PAGER", "cat"),
    ("MANPAGER", "cat"),
    ("TERM", "dumb"),
    ("NO_COLOR", "1"),
    ("PIP_PROGRESS_BAR", "off"),
    ("PIP_NO_INPUT", "1"),
    ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
    ("TQDM_DISABLE", "1"),
    ("PYTHONDONTWRITEBYTECODE", "1"),
    ("PYTHONUNBUFFERED", "1"),
    ("GIT_TERMINAL_PROMPT", "0"),
];

/// Clears `command`'s environment down to the locale, `PATH`, the quiet-tool settings and
/// `home` as `HOME`, so no credential of the harness reaches what the agent runs.
pub fn scrub_env(command: &mut Command, home: &Path) {
    command.env_clear();
    for key in INHERITED_ENV {
        if let Ok(value) = std::env::var(key) {
            command.env(key, value);
        }
    }
    command.envs(QUIET_ENV.iter().copied()).env("HOME", home);
}

/// How long to wait for the output pipe to close after the group was killed. Something that
/// escaped the group (a double-forked daemon) may hold it open forever.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// What [`run_in_group`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOutput {
    pub output: ExecOutput,
    /// The output pipe was still open [`DRAIN_GRACE`] after the group was killed: a process
    /// that left the group holds it.
    pub pipe_left_open: bool,
}

/// Kills every process in the group led by `pid`, including backgrounded children that would
/// otherwise keep the output pipe open and burn CPU after the command "ended".
pub fn kill_group(pid: u32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    if pid <= 1 {
        return;
    }
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is touched.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
}

/// Runs `command` (program, arguments, directory and environment already set) in a new process
/// group with stdin closed, captures its stdout under `cap`, and kills the whole group when it
/// exits or when `timeout` expires. Callers that want stderr too redirect it (`exec 2>&1`).
pub async fn run_in_group(
    mut command: Command,
    timeout: Duration,
    cap: OutputCap,
) -> std::io::Result<GroupOutput> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn()?;
    let pid = child.id().unwrap_or_default();
    let buffer = Arc::new(Mutex::new(CappedBuffer::new(cap)));
    let reader = child.stdout.take().map(|stdout| {
        let buffer = Arc::clone(&buffer);
        tokio::spawn(async move { drain(stdout, buffer).await })
    });

    let status = tokio::time::timeout(timeout, child.wait()).await;
    kill_group(pid);
    let (exit_code, timed_out) = match status {
        Ok(status) => (status?.code(), false),
        Err(_) => {
            let _ = child.wait().await;
            (None, true)
        }
    };
    let pipe_left_open = match reader {
        Some(reader) => tokio::time::timeout(DRAIN_GRACE, reader).await.is_err(),
        None => false,
    };
    let (output, elided_bytes) = buffer.lock().map(|b| b.finish()).unwrap_or_default();
    Ok(GroupOutput {
        output: ExecOutput {
            exit_code,
            output,
            timed_out,
            elided_bytes,
        },
        pipe_left_open,
    })
}

async fn drain(mut stdout: tokio::process::ChildStdout, buffer: Arc<Mutex<CappedBuffer>>) {
    let mut chunk = vec![0u8; 64 * 1024];
    while let Ok(n) = stdout.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        if let Ok(mut buffer) = buffer.lock() {
            buffer.push(&chunk[..n]);
        }
    }
}
