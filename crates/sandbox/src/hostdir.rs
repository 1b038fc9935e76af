//! A directory on this machine that an agent's paths are confined to: the file operations of
//! every sandbox whose files live on the host (the local backend, the discovery benchmark's
//! WORKDIR).

use std::path::{Component, Path, PathBuf};

use crate::SandboxError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDir {
    root: PathBuf,
}

impl HostDir {
    /// `root` should be canonical, so symlink checks compare like with like.
    pub fn new(root: PathBuf) -> Self {
        HostDir { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Maps a path the agent gave to a host path, refusing anything outside the root, whether
    /// by `..`, an absolute path elsewhere, or a symlink pointing out.
    pub fn resolve(&self, path: &str) -> Result<PathBuf, SandboxError> {
        let escapes = || SandboxError::PathEscapes(path.to_string());
        let relative = Path::new(path);
        let relative = if relative.is_absolute() {
            relative.strip_prefix(&self.root).map_err(|_| escapes())?
        } else {
            relative
        };
        let mut resolved = self.root.clone();
        for component in relative.components() {
            match component {
                Component::Normal(part) => resolved.push(part),
                Component::CurDir => {}
                Component::ParentDir => {
                    if !resolved.pop() || !resolved.starts_with(&self.root) {
                        return Err(escapes());
                    }
                }
                Component::RootDir | Component::Prefix(_) => return Err(escapes()),
            }
        }
        let existing = nearest_existing(&resolved);
        match existing.canonicalize() {
            Ok(real) if !real.starts_with(&self.root) => Err(escapes()),
            _ => Ok(resolved),
        }
    }

    pub async fn read_file(&self, path: &str) -> Result<Vec<u8>, SandboxError> {
        let resolved = self.resolve(path)?;
        match tokio::fs::read(&resolved).await {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(SandboxError::NotFound(path.to_string()))
            }
            other => Ok(other?),
        }
    }

    /// Writes a file, creating its parent directories.
    pub async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), SandboxError> {
        let resolved = self.resolve(path)?;
        if let Some(parent) = resolved.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        Ok(tokio::fs::write(resolved, contents).await?)
    }

    pub fn exists(&self, path: &str) -> Result<bool, SandboxError> {
        Ok(self.resolve(path)?.exists())
    }
}

fn nearest_existing(path: &Path) -> &Path {
    let mut current = path;
    while !current.exists() {
        match current.parent() {
            Some(parent) => current = parent,
            None => break,
        }
    }
    current
}
