//! Docker sandboxes and registry-free images.
//!
//! Old repositories only test correctly on their own Python and pinned dependencies, so
//! verification (and, with `--sandbox docker`, the agent's whole episode) runs in a container
//! built for the task's (repository, version). Nothing here needs a container registry:
//!
//! * **base images** are Debian root filesystems made by `debootstrap` and imported into the
//!   engine (`docker import`), one per Debian release + package set ([`images`]);
//! * **environment images** add a virtual environment with the spec's pinned packages,
//!   installed with `pip install --no-index` from a wheelhouse that `pip download` filled on
//!   the host (the build container has no network);
//! * **instance containers** get the repository copied in at `base_commit` as a one-commit
//!   repository, so no later history is reachable ([`DockerSandbox`]).
//!
//! Specs are data, one TOML file per repository under `specs/` ([`spec`]). Every container is
//! labelled `apprentice=1` with its owner's host, pid and process start time, so containers
//! left by a killed run are removed on the next start ([`cleanup`]).

pub mod cleanup;
pub mod engine;
pub mod images;
mod sandbox;
pub mod spec;

pub use engine::connect;
pub use images::{ImageBuilder, ImageInfo};
pub use sandbox::{DockerSandbox, DockerSandboxFactory, Limits};
pub use spec::{EnvSpec, Specs};

use std::path::PathBuf;

/// Everything that can go wrong talking to the engine or building images.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot reach the Docker engine: {0}")]
    Connect(String),
    #[error("Docker engine error: {0}")]
    Engine(#[from] bollard::errors::Error),
    #[error("spec {}: {message}", path.display())]
    Spec { path: PathBuf, message: String },
    #[error("no environment for {repo} version {version}: {detail}")]
    NoSpec {
        repo: String,
        version: String,
        detail: String,
    },
    #[error("building {what} failed: {detail}")]
    Build { what: String, detail: String },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
