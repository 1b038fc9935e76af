//! Finding a task's repository on a machine with no network.

use std::path::{Path, PathBuf};

use apprentice_sandbox::RepoSource;

/// Looks repositories up in a mirror directory by their `owner/name`.
#[derive(Debug, Clone, Default)]
pub struct RepoLocator {
    mirror: Option<PathBuf>,
}

impl RepoLocator {
    pub fn new(mirror: Option<PathBuf>) -> Self {
        RepoLocator { mirror }
    }

    /// Tries `MIRROR/owner/name`, `MIRROR/owner__name` and `MIRROR/name`. A git repository
    /// is checked out at `base_commit`; a plain directory is taken as it is.
    pub fn locate(&self, repo: &str, base_commit: &str) -> Option<RepoSource> {
        let mirror = self.mirror.as_ref()?;
        let name = repo.rsplit('/').next().unwrap_or(repo);
        let candidates = [
            mirror.join(repo),
            mirror.join(repo.replace('/', "__")),
            mirror.join(name),
        ];
        let path = candidates.into_iter().find(|p| p.is_dir())?;
        Some(source_at(&path, base_commit))
    }
}

pub(crate) fn source_at(path: &Path, base_commit: &str) -> RepoSource {
    if path.join(".git").exists() || path.join("HEAD").is_file() {
        let base_commit = if base_commit.is_empty() {
            "HEAD"
        } else {
            base_commit
        };
        RepoSource::Git {
            path: path.to_path_buf(),
            base_commit: base_commit.to_string(),
        }
    } else {
        RepoSource::Snapshot {
            path: path.to_path_buf(),
        }
    }
}
