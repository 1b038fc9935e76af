//! Where tasks come from.
//!
//! A task source is named by one string (`demo`, a file, a directory); [`load`] figures out
//! which format it is. Every error names the file, the record and the field, because the
//! person reading it is usually holding a dataset they did not write.

mod dir;
mod repos;
mod swebench;

use std::path::{Path, PathBuf};

use apprentice_core::Task;

pub use dir::write_task_dir;
pub use repos::RepoLocator;

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no task named `{0}` in this source")]
    UnknownTask(String),
}

impl TaskError {
    pub(crate) fn invalid(path: &Path, message: impl Into<String>) -> Self {
        TaskError::Invalid {
            path: path.display().to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        TaskError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Where to find things a task source refers to.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// A mirror directory holding repositories by name, for SWE-bench-style sources.
    pub repos: Option<PathBuf>,
    /// SWE-bench instances (JSON/JSONL) that fill in what SWE-Bench-CL tasks leave out
    /// (`version`, `environment_setup_commit`), matched by `instance_id`.
    pub join: Option<PathBuf>,
}

/// The bundled demo tasks: `APPRENTICE_DEMO_TASKS` if set, else the checkout's `tasks/demo`.
pub fn demo_dir() -> PathBuf {
    std::env::var_os("APPRENTICE_DEMO_TASKS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tasks/demo"))
}

/// Loads every task of `source`, in the source's order.
pub fn load(source: &str, options: &LoadOptions) -> Result<Vec<Task>, TaskError> {
    let path = if source == "demo" {
        demo_dir()
    } else {
        PathBuf::from(source)
    };
    let locator = RepoLocator::new(options.repos.clone());
    if path.is_dir() {
        return dir::load_dir(&path, &locator);
    }
    if !path.exists() {
        return Err(TaskError::invalid(
            &path,
            "no such file or directory (expected `demo`, a SWE-bench JSON/JSONL file, a SWE-Bench-CL JSON file or a directory of tasks)",
        ));
    }
    let join = match &options.join {
        Some(file) => swebench::join_index(file)?,
        None => Default::default(),
    };
    swebench::load_file(&path, &locator, &join)
}

/// Keeps the tasks named in `ids` (all when empty), then the first `limit`.
pub fn select(
    tasks: Vec<Task>,
    ids: &[String],
    limit: Option<usize>,
) -> Result<Vec<Task>, TaskError> {
    if let Some(missing) = ids
        .iter()
        .find(|id| !tasks.iter().any(|t| &t.instance_id == *id))
    {
        return Err(TaskError::UnknownTask(missing.clone()));
    }
    let chosen = tasks
        .into_iter()
        .filter(|t| ids.is_empty() || ids.contains(&t.instance_id))
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    Ok(chosen)
}
