//! Task directories: `task.toml`, `problem.md`, `gold.patch`, `test.patch`, and optionally
//! `repo/` holding the project at its base state.

use std::path::Path;

use apprentice_core::Task;
use serde::{Deserialize, Serialize};

use crate::TaskError;
use crate::repos::{RepoLocator, source_at};

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskToml {
    instance_id: String,
    repo: String,
    #[serde(default)]
    base_commit: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    created_at: String,
    #[serde(default)]
    hints_text: String,
    #[serde(default)]
    environment_setup_commit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    test_cmd: Option<String>,
    #[serde(rename = "FAIL_TO_PASS")]
    fail_to_pass: Vec<String>,
    #[serde(rename = "PASS_TO_PASS", default)]
    pass_to_pass: Vec<String>,
}

/// Loads one task directory, or every task directory directly under `path`, sorted by name.
pub(crate) fn load_dir(path: &Path, locator: &RepoLocator) -> Result<Vec<Task>, TaskError> {
    if path.join("task.toml").is_file() {
        return Ok(vec![load_task_dir(path, locator)?]);
    }
    let mut dirs: Vec<_> = std::fs::read_dir(path)
        .map_err(|e| TaskError::io(path, e))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| p.join("task.toml").is_file())
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        return Err(TaskError::invalid(
            path,
            "no task directories (each needs a task.toml) found here",
        ));
    }
    dirs.iter().map(|dir| load_task_dir(dir, locator)).collect()
}

fn load_task_dir(dir: &Path, locator: &RepoLocator) -> Result<Task, TaskError> {
    let toml_path = dir.join("task.toml");
    let text = read(&toml_path)?;
    let meta = parse_task_toml(&text).map_err(|e| TaskError::invalid(&toml_path, e))?;
    let snapshot = dir.join("repo");
    let source = if snapshot.is_dir() {
        Some(source_at(&snapshot, &meta.base_commit))
    } else {
        locator.locate(&meta.repo, &meta.base_commit)
    };
    Ok(Task {
        instance_id: meta.instance_id,
        repo: meta.repo,
        base_commit: meta.base_commit,
        patch: read_optional(&dir.join("gold.patch"))?,
        test_patch: read_optional(&dir.join("test.patch"))?,
        problem_statement: read(&dir.join("problem.md"))?,
        hints_text: meta.hints_text,
        created_at: meta.created_at,
        version: meta.version,
        fail_to_pass: meta.fail_to_pass,
        pass_to_pass: meta.pass_to_pass,
        environment_setup_commit: meta.environment_setup_commit,
        test_cmd: meta
            .test_cmd
            .unwrap_or_else(|| apprentice_verify::DEFAULT_TEST_CMD.to_string()),
        source,
    })
}

/// Parses `task.toml`, naming the offending field (toml's own type errors do not).
fn parse_task_toml(text: &str) -> Result<TaskToml, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    serde_path_to_error::deserialize(toml::Value::Table(table))
        .map_err(|e| format!("field `{}`: {}", e.path(), e.inner().message()))
}

fn read(path: &Path) -> Result<String, TaskError> {
    std::fs::read_to_string(path).map_err(|e| TaskError::io(path, e))
}

fn read_optional(path: &Path) -> Result<String, TaskError> {
    if path.exists() {
        read(path)
    } else {
        Ok(String::new())
    }
}

/// Writes `task` as a task directory under `out` (without a `repo/` snapshot: the repository
/// is found through a mirror at load time). Returns the directory.
pub fn write_task_dir(task: &Task, out: &Path) -> Result<std::path::PathBuf, TaskError> {
    let dir = out.join(&task.instance_id);
    std::fs::create_dir_all(&dir).map_err(|e| TaskError::io(&dir, e))?;
    let meta = TaskToml {
        instance_id: task.instance_id.clone(),
        repo: task.repo.clone(),
        base_commit: task.base_commit.clone(),
        version: task.version.clone(),
        created_at: task.created_at.clone(),
        hints_text: task.hints_text.clone(),
        environment_setup_commit: task.environment_setup_commit.clone(),
        test_cmd: (task.test_cmd != apprentice_verify::DEFAULT_TEST_CMD)
            .then(|| task.test_cmd.clone()),
        fail_to_pass: task.fail_to_pass.clone(),
        pass_to_pass: task.pass_to_pass.clone(),
    };
    let toml_text = toml::to_string(&meta).map_err(|e| TaskError::invalid(&dir, e.to_string()))?;
    for (name, text) in [
        ("task.toml", toml_text.as_str()),
        ("problem.md", &task.problem_statement),
        ("gold.patch", &task.patch),
        ("test.patch", &task.test_patch),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| TaskError::io(&path, e))?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_a_task_directory() {
        let out = tempfile::tempdir().unwrap();
        let task = Task {
            instance_id: "o__r-1".into(),
            repo: "o/r".into(),
            base_commit: "abc".into(),
            patch: "--- a/x\n+++ b/x\n".into(),
            test_patch: String::new(),
            problem_statement: "Broken".into(),
            hints_text: String::new(),
            created_at: "2024-01-01".into(),
            version: "0.20".into(),
            fail_to_pass: vec!["t.py::a[x y]".into()],
            pass_to_pass: vec![],
            environment_setup_commit: String::new(),
            test_cmd: apprentice_verify::DEFAULT_TEST_CMD.into(),
            source: None,
        };
        let dir = write_task_dir(&task, out.path()).unwrap();
        let loaded = load_dir(&dir, &RepoLocator::default()).unwrap();
        assert_eq!(loaded, vec![task]);
    }

    #[test]
    fn a_bad_task_toml_names_the_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("task.toml"),
            "instance_id = 3\nrepo = \"x\"\nFAIL_TO_PASS = []\n",
        )
        .unwrap();
        let err = load_dir(dir.path(), &RepoLocator::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("task.toml") && err.contains("instance_id"),
            "{err}"
        );
    }
}
