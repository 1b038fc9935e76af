//! Images without a registry.
//!
//! No container registry is reachable where apprentice usually runs (and prebuilt SWE-bench
//! images are x86_64-only and terabytes in all), so every image is built here from two
//! sources that are reachable: Debian's package archive and PyPI.
//!
//! * **Base** (`apprentice-base:<key>`): `debootstrap --variant=minbase` of the Debian release
//!   that ships the spec's Python, with git, patch and python3-venv, imported as an image. The
//!   root filesystem tarball is cached under the user's cache directory keyed by the same
//!   hash, so a pruned engine (or a new CI job restoring that cache) re-imports in seconds
//!   instead of re-running debootstrap. Imported through the API's `POST /images/create?
//!   fromSrc=-` (what `docker import -` does), so no docker CLI is needed and the tarball is
//!   streamed from disk rather than held in memory.
//! * **Environment** (`apprentice-env:<key>`): a virtual environment in `/opt/venv` with the
//!   spec's pinned packages. `pip download` fills a wheelhouse on the host (which has the
//!   network) for the image's Python and platform; the wheelhouse is uploaded into a build
//!   container that has *no* network, installed with `pip install --no-index`, and the
//!   container committed. Uploading (rather than bind-mounting) works with remote and
//!   rootless engines whose filesystem differs from ours.
//!
//! Images are keyed by hashes of their specs ([`EnvSpec::base_key`], [`EnvSpec::env_key`]),
//! built once, and reused by every instance container.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use bollard::Docker;
use bollard::models::{ContainerConfig, ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CommitContainerOptionsBuilder, CreateImageOptionsBuilder, ListImagesOptionsBuilder,
    RemoveImageOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bytes::Bytes;
use futures::StreamExt;
use serde::Serialize;
use tokio::io::AsyncReadExt;
use tokio::sync::Mutex;

use crate::DockerError;
use crate::cleanup;
use crate::engine::{LABEL, LABEL_KIND, LABEL_SPEC, owner_labels};
use crate::sandbox::{exec_collect, sh_quote};
use crate::spec::EnvSpec;

/// `PATH` inside environment images: the virtual environment first, so `python`, `python3`
/// and `pytest` are the spec's.
pub const IMAGE_PATH: &str =
    "/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// An apprentice image in the engine.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInfo {
    pub tag: String,
    pub kind: String,
    pub id: String,
    pub size_bytes: i64,
    pub created: i64,
}

/// Builds and finds base and environment images.
pub struct ImageBuilder {
    docker: Docker,
    cache_dir: PathBuf,
    /// One lock per image key, so parallel workers needing the same image build it once.
    locks: std::sync::Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

/// The default cache: `$APPRENTICE_CACHE`, else `<user cache dir>/apprentice`.
pub fn default_cache_dir() -> PathBuf {
    std::env::var_os("APPRENTICE_CACHE")
        .map(PathBuf::from)
        .or_else(|| dirs::cache_dir().map(|d| d.join("apprentice")))
        .unwrap_or_else(|| std::env::temp_dir().join("apprentice-cache"))
}

fn build_error(what: impl Into<String>, detail: impl Into<String>) -> DockerError {
    DockerError::Build {
        what: what.into(),
        detail: detail.into(),
    }
}

impl ImageBuilder {
    pub fn new(docker: Docker, cache_dir: PathBuf) -> Self {
        ImageBuilder {
            docker,
            cache_dir,
            locks: std::sync::Mutex::new(HashMap::new()),
        }
    }

    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    fn lock_for(&self, key: &str) -> Arc<Mutex<()>> {
        match self.locks.lock() {
            Ok(mut map) => map.entry(key.to_string()).or_default().clone(),
            Err(_) => Arc::new(Mutex::new(())),
        }
    }

    /// True when the engine has an image with this tag.
    pub async fn exists(&self, tag: &str) -> Result<bool, DockerError> {
        match self.docker.inspect_image(tag).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The environment image for `spec`, building it (and its base) if needed.
    pub async fn ensure_env(&self, spec: &EnvSpec) -> Result<String, DockerError> {
        let tag = spec.env_image();
        let lock = self.lock_for(&tag);
        let _guard = lock.lock().await;
        if self.exists(&tag).await? {
            return Ok(tag);
        }
        let base = self.ensure_base(spec).await?;
        let wheels = self.wheelhouse(spec).await?;
        tracing::info!("building {tag} for {} {}", spec.repo, spec.version);
        self.build_env(spec, &base, &wheels, &tag).await?;
        Ok(tag)
    }

    /// The base image for `spec`, importing the cached root filesystem or running debootstrap.
    pub async fn ensure_base(&self, spec: &EnvSpec) -> Result<String, DockerError> {
        let tag = spec.base_image();
        let lock = self.lock_for(&tag);
        let _guard = lock.lock().await;
        if self.exists(&tag).await? {
            return Ok(tag);
        }
        let tarball = self
            .cache_dir
            .join("base")
            .join(format!("{}.tar", spec.base_key()));
        if !tarball.is_file() {
            self.debootstrap(spec, &tarball).await?;
        }
        tracing::info!("importing {} as {tag}", tarball.display());
        self.import(&tarball, &tag, "base", &spec.base_key())
            .await?;
        Ok(tag)
    }

    /// Makes the root filesystem tarball for `spec`'s base image.
    async fn debootstrap(&self, spec: &EnvSpec, tarball: &Path) -> Result<(), DockerError> {
        let what = format!("base image {}", spec.base_image());
        // SAFETY: geteuid has no preconditions and touches no memory.
        if unsafe { libc::geteuid() } != 0 {
            return Err(build_error(
                what,
                "debootstrap needs root (run `apprentice images build` as root, or restore a \
                 cached base tarball into the cache directory)",
            ));
        }
        let dir = tarball
            .parent()
            .ok_or_else(|| build_error(&what, "bad cache path"))?;
        tokio::fs::create_dir_all(dir).await?;
        let work = tempfile::Builder::new().prefix("rootfs-").tempdir_in(dir)?;
        let rootfs = work.path().join("rootfs");
        let include = spec.base_packages().join(",");
        tracing::info!(
            "debootstrap {} ({}) with {include}",
            spec.debian.suite,
            spec.debian.mirror
        );
        let args = [
            "--variant=minbase".to_string(),
            format!("--include={include}"),
            spec.debian.suite.clone(),
            rootfs.display().to_string(),
            spec.debian.mirror.clone(),
        ];
        run_host(&what, "debootstrap", &args).await?;
        // Package caches are a third of the filesystem and useless without the network.
        let trim = format!(
            "rm -rf {r}/var/cache/apt/archives/*.deb {r}/var/lib/apt/lists/* {r}/usr/share/doc \
             {r}/usr/share/man {r}/usr/share/locale",
            r = sh_quote(&rootfs.display().to_string())
        );
        run_host(&what, "bash", &["-c".to_string(), trim]).await?;
        let partial = work.path().join("rootfs.tar");
        run_host(
            &what,
            "tar",
            &[
                "--numeric-owner".to_string(),
                "-C".to_string(),
                rootfs.display().to_string(),
                "-cf".to_string(),
                partial.display().to_string(),
                ".".to_string(),
            ],
        )
        .await?;
        tokio::fs::rename(&partial, tarball).await?;
        Ok(())
    }

    /// `docker import` of a tarball, streamed from disk.
    async fn import(
        &self,
        tarball: &Path,
        tag: &str,
        kind: &str,
        key: &str,
    ) -> Result<(), DockerError> {
        let (repo, version) = tag.split_once(':').unwrap_or((tag, "latest"));
        let options = CreateImageOptionsBuilder::default()
            .from_src("-")
            .repo(repo)
            .tag(version)
            .changes(vec![
                format!("ENV PATH={IMAGE_PATH}"),
                "ENV LANG=C.UTF-8".to_string(),
                format!("LABEL {LABEL}=1 {LABEL_KIND}={kind} {LABEL_SPEC}={key}"),
                "CMD [\"sleep\", \"infinity\"]".to_string(),
            ])
            .build();
        let file = tokio::fs::File::open(tarball).await?;
        let body = futures::stream::unfold(file, |mut file| async move {
            let mut buf = vec![0u8; 1 << 20];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), file))
                }
                Err(e) => Some((Err(e), file)),
            }
        });
        let mut progress =
            self.docker
                .create_image(Some(options), Some(bollard::body_try_stream(body)), None);
        while let Some(item) = progress.next().await {
            item.map_err(|e| build_error(format!("importing {tag}"), e.to_string()))?;
        }
        if !self.exists(tag).await? {
            return Err(build_error(
                format!("importing {tag}"),
                "the engine accepted the tarball but has no such image",
            ));
        }
        Ok(())
    }

    /// Fills (once) the host-side wheelhouse for `spec`'s packages.
    async fn wheelhouse(&self, spec: &EnvSpec) -> Result<PathBuf, DockerError> {
        let dir = self.cache_dir.join("wheels").join(spec.env_key());
        let done = dir.join(".complete");
        if spec.pip.is_empty() || done.is_file() {
            tokio::fs::create_dir_all(&dir).await?;
            return Ok(dir);
        }
        let what = format!("wheelhouse for {} {}", spec.repo, spec.version);
        tokio::fs::create_dir_all(&dir).await?;
        let py = spec.python.replace('.', "");
        let arch = std::env::consts::ARCH;
        let mut args: Vec<String> = [
            "-m",
            "pip",
            "download",
            "--disable-pip-version-check",
            "--no-input",
            "--dest",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(dir.display().to_string());
        // Wheels only, for the image's interpreter and platform, not the host's: there is no
        // compiler in the image and the host may run another Python.
        args.extend(
            [
                "--only-binary=:all:",
                "--implementation",
                "cp",
                "--python-version",
                &spec.python,
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        for abi in [format!("cp{py}"), "abi3".into(), "none".into()] {
            args.push("--abi".into());
            args.push(abi);
        }
        for platform in [
            format!("manylinux_2_28_{arch}"),
            format!("manylinux_2_17_{arch}"),
            format!("manylinux2014_{arch}"),
            format!("manylinux1_{arch}"),
            format!("linux_{arch}"),
            "any".into(),
        ] {
            args.push("--platform".into());
            args.push(platform);
        }
        args.extend(spec.pip.iter().cloned());
        let python = std::env::var("APPRENTICE_HOST_PYTHON").unwrap_or_else(|_| "python3".into());
        run_host(&what, &python, &args).await?;
        tokio::fs::write(&done, spec.pip.join("\n")).await?;
        Ok(dir)
    }

    async fn build_env(
        &self,
        spec: &EnvSpec,
        base: &str,
        wheels: &Path,
        tag: &str,
    ) -> Result<(), DockerError> {
        let what = format!("environment image {tag} ({} {})", spec.repo, spec.version);
        let body = ContainerCreateBody {
            image: Some(base.to_string()),
            cmd: Some(vec!["sleep".into(), "infinity".into()]),
            labels: Some(owner_labels("build")),
            host_config: Some(HostConfig {
                network_mode: Some("none".into()),
                init: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(
                None::<bollard::query_parameters::CreateContainerOptions>,
                body,
            )
            .await?;
        let id = created.id;
        cleanup::track(&id);
        let result = self.build_in(&id, spec, wheels, tag, &what).await;
        if let Err(e) = cleanup::remove(&self.docker, &id).await {
            tracing::warn!("could not remove build container {id}: {e}");
        }
        result
    }

    async fn build_in(
        &self,
        id: &str,
        spec: &EnvSpec,
        wheels: &Path,
        tag: &str,
        what: &str,
    ) -> Result<(), DockerError> {
        self.docker
            .start_container(id, None::<bollard::query_parameters::StartContainerOptions>)
            .await?;
        let archive = tar_dir(wheels, "wheels").await?;
        let options = UploadToContainerOptionsBuilder::default()
            .path("/tmp")
            .build();
        self.docker
            .upload_to_container(id, Some(options), bollard::body_full(archive.into()))
            .await?;
        let mut script = String::from(
            "set -eu\n\
             python3 -m venv /opt/venv\n\
             export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_PROGRESS_BAR=off\n",
        );
        if !spec.pip.is_empty() {
            let packages: Vec<String> = spec.pip.iter().map(|p| sh_quote(p)).collect();
            script.push_str(&format!(
                "/opt/venv/bin/pip install --no-index --find-links /tmp/wheels {}\n",
                packages.join(" ")
            ));
        }
        script.push_str(
            "rm -rf /tmp/wheels /root/.cache\n\
             mkdir -p /testbed\n\
             git config --system user.name apprentice\n\
             git config --system user.email apprentice@localhost\n\
             git config --system init.defaultBranch main\n\
             git config --system --add safe.directory '*'\n\
             git config --system core.pager cat\n",
        );
        let (code, stdout, stderr) = exec_collect(
            &self.docker,
            id,
            vec!["bash".into(), "-c".into(), script],
            None,
            std::time::Duration::from_secs(1800),
        )
        .await?;
        if code != Some(0) {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&stdout),
                String::from_utf8_lossy(&stderr)
            );
            let tail: String = {
                let lines: Vec<&str> = text.lines().collect();
                lines[lines.len().saturating_sub(25)..].join("\n")
            };
            return Err(build_error(
                what,
                format!("setup exited with {code:?}:\n{tail}"),
            ));
        }
        let (repo, version) = tag.split_once(':').unwrap_or((tag, "latest"));
        let options = CommitContainerOptionsBuilder::default()
            .container(id)
            .repo(repo)
            .tag(version)
            .pause(true)
            .build();
        let mut labels = HashMap::from([
            (LABEL.to_string(), "1".to_string()),
            (LABEL_KIND.to_string(), "env".to_string()),
            (LABEL_SPEC.to_string(), spec.env_key()),
        ]);
        labels.insert("apprentice.python".into(), spec.python.clone());
        let config = ContainerConfig {
            env: Some(vec![
                format!("PATH={IMAGE_PATH}"),
                "LANG=C.UTF-8".into(),
                "VIRTUAL_ENV=/opt/venv".into(),
            ]),
            working_dir: Some("/testbed".into()),
            cmd: Some(vec!["sleep".into(), "infinity".into()]),
            labels: Some(labels),
            ..Default::default()
        };
        self.docker.commit_container(options, config).await?;
        Ok(())
    }

    /// Every apprentice image in the engine.
    pub async fn list(&self) -> Result<Vec<ImageInfo>, DockerError> {
        let options = ListImagesOptionsBuilder::default().all(false).build();
        let mut out = Vec::new();
        for image in self.docker.list_images(Some(options)).await? {
            for tag in &image.repo_tags {
                let kind = if tag.starts_with("apprentice-base:") {
                    "base"
                } else if tag.starts_with("apprentice-env:") {
                    "env"
                } else {
                    continue;
                };
                out.push(ImageInfo {
                    tag: tag.clone(),
                    kind: kind.to_string(),
                    id: image.id.clone(),
                    size_bytes: image.size,
                    created: image.created,
                });
            }
        }
        out.sort_by(|a, b| a.tag.cmp(&b.tag));
        Ok(out)
    }

    /// Removes stale containers, then every apprentice image whose tag is not in `keep` (all
    /// of them with `all`), including untagged ones: an environment image rebuilt under the
    /// same tag, or a build killed mid-commit, leaves a `<none>` image that only the label
    /// identifies. Images in use by a live container are skipped with a reason.
    pub async fn prune(
        &self,
        keep: &HashSet<String>,
        all: bool,
    ) -> Result<PruneReport, DockerError> {
        let mut report = PruneReport {
            containers: cleanup::sweep_stale(&self.docker, all).await?,
            ..PruneReport::default()
        };
        let filters = HashMap::from([("label", vec![format!("{LABEL}=1")])]);
        let options = ListImagesOptionsBuilder::default()
            .all(false)
            .filters(&filters)
            .build();
        let mut listed = self.docker.list_images(Some(options)).await?;
        // Newest first: an environment image (or a dangling child) goes before the base
        // image it sits on.
        listed.sort_by_key(|i| std::cmp::Reverse(i.created));
        for image in listed {
            let tags: Vec<String> = image
                .repo_tags
                .iter()
                .filter(|t| t.as_str() != "<none>:<none>")
                .cloned()
                .collect();
            if !all && tags.iter().any(|t| keep.contains(t)) {
                continue;
            }
            let name = tags.first().cloned().unwrap_or_else(|| image.id.clone());
            // By id with force: an image with several tags goes whole.
            let options = RemoveImageOptionsBuilder::default().force(true).build();
            match self
                .docker
                .remove_image(&image.id, Some(options), None)
                .await
            {
                Ok(deleted) => {
                    report.layers += deleted.iter().filter(|d| d.deleted.is_some()).count();
                    report.bytes += image.size.max(0) as u64;
                    if tags.is_empty() {
                        report.dangling.push(name);
                    } else {
                        report.images.extend(tags);
                    }
                }
                Err(e) => report.skipped.push(format!("{name}: {e}")),
            }
        }
        Ok(report)
    }
}

/// What `prune` removed.
#[derive(Debug, Clone, Serialize, Default)]
pub struct PruneReport {
    /// Containers whose owner process is gone (all others' with `--all`).
    pub containers: Vec<String>,
    /// Tagged images removed.
    pub images: Vec<String>,
    /// Untagged (`<none>`) apprentice images removed, by id.
    pub dangling: Vec<String>,
    /// Image layers the engine deleted with them.
    pub layers: usize,
    /// The removed images' sizes (shared layers counted once per image).
    pub bytes: u64,
    /// Images left in place, with the engine's reason (in use by a running container).
    pub skipped: Vec<String>,
}

/// A tar archive of `dir`'s files under `prefix/`.
pub(crate) async fn tar_dir(dir: &Path, prefix: &str) -> Result<Vec<u8>, DockerError> {
    let dir = dir.to_path_buf();
    let prefix = prefix.to_string();
    tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut builder = tar::Builder::new(Vec::new());
        builder.follow_symlinks(false);
        builder.append_dir_all(&prefix, &dir)?;
        builder.into_inner()
    })
    .await
    .map_err(|e| DockerError::Io(std::io::Error::other(e.to_string())))?
    .map_err(DockerError::from)
}

/// Runs a host command, failing with the tail of its output.
async fn run_host(what: &str, program: &str, args: &[String]) -> Result<(), DockerError> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| build_error(what, format!("cannot run {program}: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    Err(build_error(
        what,
        format!("`{program}` exited with {}:\n{tail}", out.status),
    ))
}
