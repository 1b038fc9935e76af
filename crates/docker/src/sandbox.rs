//! The Docker backend of [`Sandbox`]: one container per sandbox, the repository in
//! `/testbed` as a one-commit repository, commands through the exec API.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use apprentice_sandbox::{
    CappedBuffer, EnvKey, ExecOutput, OutputCap, RepoSource, Sandbox, SandboxError, SandboxFactory,
    ScriptOutput, TestSpec, TestSpecs,
};
use async_trait::async_trait;
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::StartExecResults;
use bollard::models::{ContainerCreateBody, ExecConfig, HostConfig};
use bollard::query_parameters::{CreateContainerOptionsBuilder, UploadToContainerOptionsBuilder};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::OnceCell;

use crate::engine::owner_labels;
use crate::images::{ImageBuilder, default_cache_dir};
use crate::spec::{EnvSpec, Specs};
use crate::{DockerError, cleanup};

/// Where the repository lives in the container (SWE-bench's path, so task text that names
/// `/testbed` stays true).
pub const WORKDIR: &str = "/testbed";

/// What a container adds to the quiet-tool settings every backend sets: pip stays offline
/// (packages come from the image's wheelhouse) and root's home.
const CONTAINER_ENV: &[(&str, &str)] = &[("PIP_NO_INDEX", "1"), ("HOME", "/root")];

/// Files the harness itself creates while running tests; never part of a patch.
const EXCLUDES: &str = "__pycache__/\n*.pyc\n.pytest_cache/\n*.egg-info/\n";

/// Extra time the client waits past a command's limit before giving up on the in-container
/// `timeout` and killing the command's processes itself.
const CLIENT_GRACE: Duration = Duration::from_secs(10);

/// Largest file or diff read back whole (reads are not capped like command output, but a
/// runaway file must not exhaust memory).
const MAX_READ: usize = 256 << 20;

/// Resource limits of one sandbox container.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Memory limit in bytes (swap is limited to the same, i.e. no swap).
    pub memory_bytes: i64,
    /// CPUs (fractional allowed).
    pub cpus: f64,
    /// Most processes and threads at once (fork bombs).
    pub pids: i64,
    /// `none` (default) or another network mode (`bridge`) for tasks that need the network.
    pub network: String,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 4 << 30,
            cpus: 2.0,
            pids: 1024,
            network: "none".into(),
        }
    }
}

/// Makes [`DockerSandbox`]es. Connects lazily (on first use), so building the factory is
/// cheap and synchronous; the first use also removes containers left by dead runs and
/// installs the Ctrl-C clean-up.
pub struct DockerSandboxFactory {
    state: OnceCell<Arc<Shared>>,
    specs: Specs,
    limits: Limits,
    cap: OutputCap,
    cache_dir: std::path::PathBuf,
}

struct Shared {
    docker: Docker,
    images: ImageBuilder,
    counter: AtomicU64,
}

impl DockerSandboxFactory {
    /// A factory with the discovered specs ([`Specs::discover`]) and default limits.
    pub fn new() -> Result<Self, DockerError> {
        Ok(Self::with_specs(Specs::discover()?))
    }

    pub fn with_specs(specs: Specs) -> Self {
        DockerSandboxFactory {
            state: OnceCell::new(),
            specs,
            limits: Limits::default(),
            cap: OutputCap::default(),
            cache_dir: default_cache_dir(),
        }
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn with_output_cap(mut self, cap: OutputCap) -> Self {
        self.cap = cap;
        self
    }

    pub fn with_cache_dir(mut self, dir: std::path::PathBuf) -> Self {
        self.cache_dir = dir;
        self
    }

    pub fn specs(&self) -> &Specs {
        &self.specs
    }

    async fn shared(&self) -> Result<Arc<Shared>, DockerError> {
        self.state
            .get_or_try_init(|| async {
                let docker = crate::engine::connect().await?;
                cleanup::install_signal_cleanup(&docker);
                if let Err(e) = cleanup::sweep_stale(&docker, false).await {
                    tracing::warn!("could not sweep stale containers: {e}");
                }
                Ok(Arc::new(Shared {
                    images: ImageBuilder::new(docker.clone(), self.cache_dir.clone()),
                    docker,
                    counter: AtomicU64::new(0),
                }))
            })
            .await
            .cloned()
    }

    /// The engine client (connecting on first use).
    pub async fn docker(&self) -> Result<Docker, DockerError> {
        Ok(self.shared().await?.docker.clone())
    }

    /// The image builder (connecting on first use).
    pub async fn with_images<T>(
        &self,
        f: impl AsyncFnOnce(&ImageBuilder) -> Result<T, DockerError>,
    ) -> Result<T, DockerError> {
        let shared = self.shared().await?;
        f(&shared.images).await
    }

    /// Resolves the spec for `env`. An empty key (a task of unknown provenance) gets the
    /// `demo` environment: Python 3.11 with pytest.
    pub fn resolve(&self, env: &EnvKey) -> Result<EnvSpec, DockerError> {
        if env.repo.is_empty() {
            return self.specs.resolve(crate::spec::DEMO_REPO, "*");
        }
        self.specs.resolve(&env.repo, &env.version)
    }

    /// A sandbox for `source` in the environment `spec`, returned as the concrete type (for
    /// callers that want [`DockerSandbox::oom_kills`] or an explicit [`DockerSandbox::close`]).
    pub async fn create_sandbox(
        &self,
        source: &RepoSource,
        spec: &EnvSpec,
    ) -> Result<DockerSandbox, DockerError> {
        let shared = self.shared().await?;
        let image = shared.images.ensure_env(spec).await?;
        let archive = repo_archive(source).await?;
        let n = shared.counter.fetch_add(1, Ordering::Relaxed);
        let name = format!("apprentice-{}-{n}", crate::engine::session_id());
        let limits = &self.limits;
        let env: Vec<String> = apprentice_sandbox::QUIET_ENV
            .iter()
            .chain(CONTAINER_ENV)
            .map(|(k, v)| format!("{k}={v}"))
            .chain(spec.env.iter().map(|(k, v)| format!("{k}={v}")))
            .collect();
        let body = ContainerCreateBody {
            image: Some(image.clone()),
            cmd: Some(vec!["sleep".into(), "infinity".into()]),
            working_dir: Some(WORKDIR.into()),
            env: Some(env.clone()),
            tty: Some(false),
            labels: Some(owner_labels("sandbox")),
            host_config: Some(HostConfig {
                memory: Some(limits.memory_bytes),
                memory_swap: Some(limits.memory_bytes),
                nano_cpus: Some((limits.cpus * 1e9) as i64),
                pids_limit: Some(limits.pids),
                network_mode: Some(limits.network.clone()),
                // An init reaps the zombies that killed commands leave behind.
                init: Some(true),
                cap_drop: Some(vec!["NET_RAW".into(), "MKNOD".into(), "AUDIT_WRITE".into()]),
                security_opt: Some(vec!["no-new-privileges".into()]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let created = shared.docker.create_container(Some(options), body).await?;
        cleanup::track(&created.id);
        let sandbox = DockerSandbox {
            docker: shared.docker.clone(),
            id: created.id,
            name,
            env,
            cap: self.cap,
            memory_bytes: limits.memory_bytes,
            oom_seen: AtomicBool::new(false),
            oom_kills: AtomicU64::new(0),
            removed: AtomicBool::new(false),
        };
        // From here on, dropping `sandbox` on an error removes the container.
        shared
            .docker
            .start_container(
                &sandbox.id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await?;
        let options = UploadToContainerOptionsBuilder::default()
            .path(WORKDIR)
            .build();
        shared
            .docker
            .upload_to_container(
                &sandbox.id,
                Some(options),
                bollard::body_full(archive.into()),
            )
            .await?;
        sandbox.setup(spec).await?;
        Ok(sandbox)
    }
}

fn to_sandbox_error(source: &RepoSource, e: DockerError) -> SandboxError {
    let source_desc = match source {
        RepoSource::Git { path, base_commit } => format!("{} at {base_commit}", path.display()),
        RepoSource::Snapshot { path } => path.display().to_string(),
    };
    SandboxError::Setup {
        source_desc,
        detail: e.to_string(),
    }
}

#[async_trait]
impl SandboxFactory for DockerSandboxFactory {
    fn test_spec(&self, env: &EnvKey) -> Option<TestSpec> {
        TestSpecs::test_spec(&self.specs, env)
    }

    async fn create(&self, source: &RepoSource) -> Result<Box<dyn Sandbox>, SandboxError> {
        self.create_for(source, &EnvKey::default()).await
    }

    async fn create_for(
        &self,
        source: &RepoSource,
        env: &EnvKey,
    ) -> Result<Box<dyn Sandbox>, SandboxError> {
        let spec = self.resolve(env).map_err(|e| to_sandbox_error(source, e))?;
        let sandbox = self
            .create_sandbox(source, &spec)
            .await
            .map_err(|e| to_sandbox_error(source, e))?;
        Ok(Box::new(sandbox))
    }
}

/// The repository at its base state as a tar stream of its files (no `.git`): `git archive`
/// of `base_commit` for a repository, the directory's files for a snapshot. History never
/// enters the container.
async fn repo_archive(source: &RepoSource) -> Result<Vec<u8>, DockerError> {
    let setup = |detail: String| DockerError::Build {
        what: "the repository archive".into(),
        detail,
    };
    match source {
        RepoSource::Git { path, base_commit } => {
            let out = tokio::process::Command::new("git")
                .arg("-C")
                .arg(path)
                .args(["archive", "--format=tar", base_commit])
                .kill_on_drop(true)
                .output()
                .await?;
            if !out.status.success() {
                return Err(setup(format!(
                    "`git archive {base_commit}` in {} failed: {}",
                    path.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            Ok(out.stdout)
        }
        RepoSource::Snapshot { path } => {
            if !path.is_dir() {
                return Err(setup(format!("`{}` is not a directory", path.display())));
            }
            let path = path.clone();
            tokio::task::spawn_blocking(move || snapshot_tar(&path))
                .await
                .map_err(|e| setup(e.to_string()))?
                .map_err(DockerError::from)
        }
    }
}

fn snapshot_tar(root: &Path) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == ".git" {
            continue;
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            builder.append_dir_all(&name, &path)?;
        } else {
            builder.append_path_with_name(&path, &name)?;
        }
    }
    builder.into_inner()
}

/// One container holding one working copy.
pub struct DockerSandbox {
    docker: Docker,
    id: String,
    name: String,
    env: Vec<String>,
    cap: OutputCap,
    memory_bytes: i64,
    /// Whether the engine's sticky `OOMKilled` flag was already seen set.
    oom_seen: AtomicBool,
    /// OOM kills seen so far in the container's memory cgroup.
    oom_kills: AtomicU64,
    removed: AtomicBool,
}

impl std::fmt::Debug for DockerSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerSandbox")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish()
    }
}

/// Prints the container's OOM kill count (cgroup v1 or v2), or nothing.
const OOM_COUNTER: &str = "cat /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events \
                           2>/dev/null | awk '$1==\"oom_kill\"{print $2; exit}'";

/// Exit status `timeout -s KILL` reports for a command it killed (128 + SIGKILL). The OOM
/// killer's victims exit the same way, which is why both are told apart afterwards.
const KILLED: i64 = 137;

impl DockerSandbox {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many processes the kernel's OOM killer has killed in this container so far.
    pub fn oom_kills(&self) -> u64 {
        self.oom_kills.load(Ordering::Relaxed)
    }

    /// Removes the container now (instead of on drop).
    pub async fn close(self) -> Result<(), DockerError> {
        self.removed.store(true, Ordering::Relaxed);
        cleanup::remove(&self.docker, &self.id).await
    }

    /// Copies in the repository's state: `pre_install` and `install` commands, then a
    /// one-commit git repository so `diff()` shows only what happens afterwards.
    async fn setup(&self, spec: &EnvSpec) -> Result<(), DockerError> {
        let mut script = String::from("set -e\n");
        for command in spec.pre_install.iter().chain(&spec.install) {
            script.push_str(command);
            script.push('\n');
        }
        script.push_str(&format!(
            "rm -rf .git\n\
             git init -q -b main\n\
             git add -A\n\
             git -c core.hooksPath=/dev/null commit -q --allow-empty --no-verify -m base\n\
             printf '%s' {} > .git/info/exclude\n",
            sh_quote(EXCLUDES)
        ));
        let out = self
            .exec(&script, Duration::from_secs(3600))
            .await
            .map_err(|e| DockerError::Build {
                what: format!("instance {}", self.name),
                detail: e.to_string(),
            })?;
        if !out.success() {
            return Err(DockerError::Build {
                what: format!("instance {} ({} {})", self.name, spec.repo, spec.version),
                detail: format!("setup exited with {:?}:\n{}", out.exit_code, out.output),
            });
        }
        Ok(())
    }

    /// Runs `argv` with the sandbox's environment, returning raw stdout and stderr.
    async fn raw(
        &self,
        argv: Vec<String>,
    ) -> Result<(Option<i64>, Vec<u8>, Vec<u8>), SandboxError> {
        exec_collect(
            &self.docker,
            &self.id,
            argv,
            Some(self.env.clone()),
            Duration::from_secs(300),
        )
        .await
        .map_err(|e| self.error(e))
    }

    fn error(&self, e: DockerError) -> SandboxError {
        SandboxError::Io(std::io::Error::other(format!("{}: {e}", self.describe())))
    }

    /// Runs `script` (argument `$1` = `path`) after mapping `path` into the repository:
    /// `$p` is the absolute path with symlinks resolved, and the script exits 3 when it
    /// lies outside `/testbed`.
    async fn with_path(
        &self,
        path: &str,
        script: &str,
    ) -> Result<(Option<i64>, Vec<u8>, Vec<u8>), SandboxError> {
        if path.contains('\0') {
            return Err(SandboxError::PathEscapes(path.to_string()));
        }
        let full = format!(
            "case \"$1\" in /*) p=\"$1\" ;; *) p=\"{WORKDIR}/$1\" ;; esac\n\
             p=$(realpath -m -- \"$p\") || exit 3\n\
             case \"$p\" in {WORKDIR}|{WORKDIR}/*) ;; *) exit 3 ;; esac\n\
             {script}"
        );
        let out = self
            .raw(vec![
                "bash".into(),
                "-c".into(),
                full,
                "apprentice".into(),
                path.into(),
            ])
            .await?;
        if out.0 == Some(3) {
            return Err(SandboxError::PathEscapes(path.to_string()));
        }
        Ok(out)
    }

    /// After a command died of SIGKILL: did the OOM killer do it? Checks the engine's
    /// (sticky) `OOMKilled` flag first, then the cgroup's kill counter.
    async fn check_oom(&self) -> bool {
        if !self.oom_seen.load(Ordering::Relaxed) && self.oom_flag().await {
            self.oom_seen.store(true, Ordering::Relaxed);
        }
        match self.oom_counter().await {
            Some(now) => {
                let before = self.oom_kills.swap(now, Ordering::Relaxed);
                now > before
            }
            // No counter readable: the flag is all there is (it cannot tell a second OOM
            // from the first, so only a fresh flip counts).
            None => {
                let fresh = self.oom_seen.load(Ordering::Relaxed) && self.oom_kills() == 0;
                if fresh {
                    self.oom_kills.store(1, Ordering::Relaxed);
                }
                fresh
            }
        }
    }

    /// The engine's `State.OOMKilled`: set once any process of the container was OOM-killed.
    async fn oom_flag(&self) -> bool {
        self.docker
            .inspect_container(
                &self.id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .ok()
            .and_then(|info| info.state.and_then(|s| s.oom_killed))
            == Some(true)
    }

    /// OOM kills so far in the container's memory cgroup (v1 `memory.oom_control`, v2
    /// `memory.events`), when readable.
    async fn oom_counter(&self) -> Option<u64> {
        let (_, out, _) = self
            .raw(vec!["bash".into(), "-c".into(), OOM_COUNTER.into()])
            .await
            .ok()?;
        String::from_utf8_lossy(&out).trim().parse::<u64>().ok()
    }

    /// Runs `script` with bash in `/testbed` under `timeout -s KILL`, because the exec API
    /// cannot kill what it started; `timeout` runs the command in its own process group and
    /// kills the whole group. A client-side timer backs it up. Output chunks go to `sink` as
    /// they arrive. Returns the exit code (`None` after a timeout) and whether it timed out.
    async fn run_limited(
        &self,
        script: &str,
        input: Option<&[u8]>,
        timeout: Duration,
        sink: impl FnMut(&[u8]),
    ) -> Result<(Option<i64>, bool), SandboxError> {
        let secs = timeout.as_secs_f64().max(0.1);
        let argv = vec![
            "timeout".into(),
            "-s".into(),
            "KILL".into(),
            format!("{secs:.1}"),
            "bash".into(),
            "-c".into(),
            script.to_string(),
        ];
        let started = Instant::now();
        let run = stream_exec(
            &self.docker,
            &self.id,
            argv,
            Some(self.env.clone()),
            input,
            sink,
        );
        match tokio::time::timeout(timeout + CLIENT_GRACE, run).await {
            Ok(Ok(code)) => {
                let timed_out = code == Some(KILLED) && started.elapsed() >= timeout;
                Ok((if timed_out { None } else { code }, timed_out))
            }
            Ok(Err(e)) => Err(self.error(e)),
            Err(_) => {
                self.kill_all().await;
                Ok((None, true))
            }
        }
    }

    /// The client-side fallback when the in-container `timeout` did not end a command: kill
    /// every process but init and the killer itself.
    async fn kill_all(&self) {
        let _ = self
            .raw(vec!["bash".into(), "-c".into(), "kill -9 -1".into()])
            .await;
    }
}

#[async_trait]
impl Sandbox for DockerSandbox {
    /// Runs `command` with bash in `/testbed` under `timeout -s KILL`, because the exec API
    /// cannot kill what it started; `timeout` runs the command in its own process group and
    /// kills the whole group. A client-side timer backs it up. Output is streamed into a
    /// head+tail capture.
    async fn exec(&self, command: &str, timeout: Duration) -> Result<ExecOutput, SandboxError> {
        let mut capture = CappedBuffer::new(self.cap);
        let script = format!("exec 2>&1 </dev/null\n{command}");
        let (exit_code, timed_out) = self
            .run_limited(&script, None, timeout, |chunk| capture.push(chunk))
            .await?;
        let (mut output, elided_bytes) = capture.finish();
        if exit_code == Some(KILLED) && self.check_oom().await {
            output.push_str(&format!(
                "\n[apprentice] out of memory: the container's limit is {} MiB and the kernel \
                 killed a process of this command (exit code 137)\n",
                self.memory_bytes >> 20
            ));
        }
        Ok(ExecOutput {
            exit_code: exit_code.map(|c| c as i32),
            output,
            timed_out,
            elided_bytes,
        })
    }

    /// One exec: the input goes in on stdin, everything printed comes back (to
    /// [`MAX_READ`]), so the verifier's whole evaluation is a single round trip.
    async fn run_script(
        &self,
        script: &str,
        input: &[u8],
        timeout: Duration,
    ) -> Result<ScriptOutput, SandboxError> {
        let mut output = Vec::new();
        let (exit_code, timed_out) = self
            .run_limited(script, Some(input), timeout, |chunk| {
                let room = MAX_READ.saturating_sub(output.len());
                output.extend_from_slice(&chunk[..room.min(chunk.len())]);
            })
            .await?;
        Ok(ScriptOutput {
            exit_code: exit_code.map(|c| c as i32),
            output,
            timed_out,
        })
    }

    async fn out_of_memory(&self) -> bool {
        self.oom_flag().await || self.oom_counter().await.is_some_and(|n| n > 0)
    }

    async fn read_file(&self, path: &str) -> Result<Vec<u8>, SandboxError> {
        let (code, out, err) = self
            .with_path(
                path,
                "[ -e \"$p\" ] || exit 4\n[ -d \"$p\" ] && exit 5\nexec cat -- \"$p\"",
            )
            .await?;
        match code {
            Some(0) => Ok(out),
            Some(4) => Err(SandboxError::NotFound(path.to_string())),
            Some(5) => Err(SandboxError::Io(std::io::Error::other(format!(
                "`{path}` is a directory"
            )))),
            other => Err(SandboxError::Io(std::io::Error::other(format!(
                "reading `{path}` failed ({other:?}): {}",
                String::from_utf8_lossy(&err).trim()
            )))),
        }
    }

    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), SandboxError> {
        let (code, out, err) = self
            .with_path(
                path,
                "[ -d \"$p\" ] && exit 5\nmkdir -p -- \"$(dirname -- \"$p\")\" || exit 6\n\
                 printf '%s' \"$p\"",
            )
            .await?;
        if code != Some(0) {
            return Err(SandboxError::Io(std::io::Error::other(format!(
                "cannot write `{path}` ({code:?}): {}",
                String::from_utf8_lossy(&err).trim()
            ))));
        }
        let resolved = String::from_utf8_lossy(&out).into_owned();
        let (dir, file) = resolved
            .rsplit_once('/')
            .ok_or_else(|| SandboxError::PathEscapes(path.to_string()))?;
        let dir = if dir.is_empty() { "/" } else { dir };
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default(),
        );
        let mut builder = tar::Builder::new(Vec::new());
        builder.append_data(&mut header, file, contents)?;
        let archive = builder.into_inner()?;
        let options = UploadToContainerOptionsBuilder::default().path(dir).build();
        self.docker
            .upload_to_container(&self.id, Some(options), bollard::body_full(archive.into()))
            .await
            .map_err(|e| self.error(e.into()))
    }

    async fn exists(&self, path: &str) -> Result<bool, SandboxError> {
        let (code, _, _) = self
            .with_path(path, "[ -e \"$p\" ] || [ -L \"$p\" ]")
            .await?;
        Ok(code == Some(0))
    }

    async fn diff(&self) -> Result<String, SandboxError> {
        let script = "git add -A && git -c core.quotepath=off diff --cached --no-color \
                      --no-ext-diff HEAD; rc=$?; git reset -q; exit $rc";
        let (code, out, err) = self
            .raw(vec!["bash".into(), "-c".into(), script.into()])
            .await?;
        if code != Some(0) {
            return Err(SandboxError::Setup {
                source_desc: self.describe(),
                detail: format!("git diff failed: {}", String::from_utf8_lossy(&err).trim()),
            });
        }
        String::from_utf8(out).map_err(|_| SandboxError::NotText {
            path: "(diff)".into(),
        })
    }

    fn describe(&self) -> String {
        format!("docker:{}", self.name)
    }
}

impl Drop for DockerSandbox {
    /// Removes the container. On a multi-threaded runtime (the CLI's) the removal is awaited
    /// in place, so a run that ends right after its last sandbox leaves nothing behind; on a
    /// single-threaded one (tests) it is spawned; without a runtime a small one is made.
    fn drop(&mut self) {
        if self.removed.swap(true, Ordering::Relaxed) {
            return;
        }
        let docker = self.docker.clone();
        let id = self.id.clone();
        let remove = async move {
            if let Err(e) = cleanup::remove(&docker, &id).await {
                tracing::warn!("could not remove container {id}: {e}");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| handle.block_on(remove));
            }
            Ok(handle) => {
                handle.spawn(remove);
            }
            Err(_) => {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(remove);
                }
            }
        }
    }
}

/// Runs `argv` in container `id`, feeding stdout and stderr chunks to `sink` as they
/// arrive, and returns the exit code.
async fn stream_exec(
    docker: &Docker,
    id: &str,
    argv: Vec<String>,
    env: Option<Vec<String>>,
    stdin: Option<&[u8]>,
    mut sink: impl FnMut(&[u8]),
) -> Result<Option<i64>, DockerError> {
    let config = ExecConfig {
        cmd: Some(argv),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        attach_stdin: Some(stdin.is_some()),
        tty: Some(false),
        env,
        working_dir: Some(WORKDIR.into()),
        ..Default::default()
    };
    let exec = docker.create_exec(id, config).await?;
    if let StartExecResults::Attached { mut output, input } =
        docker.start_exec(&exec.id, None).await?
    {
        // Feed stdin while reading, so neither side waits on a full pipe; closing our end
        // is the command's end of input.
        let feed = async move {
            if let Some(bytes) = stdin {
                let mut input = input;
                input.write_all(bytes).await?;
                input.shutdown().await?;
            }
            Ok::<(), std::io::Error>(())
        };
        let read = async {
            while let Some(item) = output.next().await {
                match item? {
                    LogOutput::StdOut { message }
                    | LogOutput::StdErr { message }
                    | LogOutput::Console { message } => sink(&message),
                    LogOutput::StdIn { .. } => {}
                }
            }
            Ok::<(), DockerError>(())
        };
        let (fed, read) = tokio::join!(feed, read);
        read?;
        fed?;
    }
    Ok(docker.inspect_exec(&exec.id).await?.exit_code)
}

/// Runs `argv` to completion and returns (exit code, stdout, stderr), each kept to
/// [`MAX_READ`] bytes.
pub(crate) async fn exec_collect(
    docker: &Docker,
    id: &str,
    argv: Vec<String>,
    env: Option<Vec<String>>,
    limit: Duration,
) -> Result<(Option<i64>, Vec<u8>, Vec<u8>), DockerError> {
    let config = ExecConfig {
        cmd: Some(argv),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(false),
        // The image's working directory: `/testbed` in sandboxes, `/` in build containers,
        // where `/testbed` does not exist yet.
        working_dir: None,
        env,
        ..Default::default()
    };
    let exec = docker.create_exec(id, config).await?;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let collect = async {
        if let StartExecResults::Attached { mut output, .. } =
            docker.start_exec(&exec.id, None).await?
        {
            while let Some(item) = output.next().await {
                let (buf, message) = match item? {
                    LogOutput::StdOut { message } | LogOutput::Console { message } => {
                        (&mut stdout, message)
                    }
                    LogOutput::StdErr { message } => (&mut stderr, message),
                    LogOutput::StdIn { .. } => continue,
                };
                let room = MAX_READ.saturating_sub(buf.len());
                buf.extend_from_slice(&message[..room.min(message.len())]);
            }
        }
        Ok::<(), DockerError>(())
    };
    tokio::time::timeout(limit, collect)
        .await
        .map_err(|_| DockerError::Build {
            what: "a container command".into(),
            detail: format!("no answer within {} s", limit.as_secs()),
        })??;
    let code = docker.inspect_exec(&exec.id).await?.exit_code;
    Ok((code, stdout, stderr))
}

/// Single-quotes a string for bash.
pub(crate) fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
