//! Loading and checking task directories (the contract in `tasks/discovery/FORMAT.md`).
//!
//! Every problem is reported as one line naming the file and the field, so a task author can
//! fix a suite without reading Rust.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A task suite that does not follow the format.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{}: {message}", path.display())]
pub struct LoadError {
    pub path: PathBuf,
    pub message: String,
}

fn invalid(path: &Path, message: impl Into<String>) -> LoadError {
    LoadError {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// One typed tool of a family, its command ready to run (`{env}` resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolDef {
    pub name: String,
    pub summary: String,
    pub help: String,
    /// The argv prefix; the agent's arguments are appended.
    pub command: Vec<String>,
}

/// The three executables every task has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    Setup,
    Check,
    Oracle,
}

impl Script {
    pub fn file_name(self) -> &'static str {
        match self {
            Script::Setup => "setup",
            Script::Check => "check",
            Script::Oracle => "oracle",
        }
    }
}

/// One task: what the user wants, its budgets and seeds, and the tools it offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDef {
    pub id: String,
    pub family: String,
    pub instruction: String,
    pub max_steps: usize,
    pub time_limit_s: u64,
    pub seeds: Vec<u64>,
    /// The tools offered, in task.toml's order.
    pub tools: Vec<ToolDef>,
    /// The task directory (absolute); scripts run with it as their working directory.
    pub dir: PathBuf,
}

impl TaskDef {
    pub fn script(&self, script: Script) -> PathBuf {
        self.dir.join(script.file_name())
    }

    pub fn tool(&self, name: &str) -> Option<&ToolDef> {
        self.tools.iter().find(|t| t.name == name)
    }

    pub fn tool_names(&self) -> Vec<String> {
        self.tools.iter().map(|t| t.name.clone()).collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskFile {
    id: String,
    family: String,
    instruction: String,
    max_steps: i64,
    time_limit_s: i64,
    seeds: Vec<i64>,
    tools: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolsFile {
    #[serde(default)]
    tool: Vec<ToolEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolEntry {
    name: String,
    summary: String,
    help: String,
    command: Vec<String>,
}

/// Loads a suite (a directory of families), one family (a directory with `tools.toml`) or one
/// task (a directory with `task.toml`). Task ids must be unique; tasks come sorted by family
/// and directory name.
pub fn load_suite(root: &Path) -> Result<Vec<TaskDef>, LoadError> {
    let root = root
        .canonicalize()
        .map_err(|e| invalid(root, format!("cannot open the task directory: {e}")))?;
    let tasks = if root.join("task.toml").is_file() {
        let family = root
            .parent()
            .ok_or_else(|| invalid(&root, "a task directory must sit inside a family directory"))?;
        let tools = load_tools(family)?;
        vec![load_task(&root, family, &tools)?]
    } else if root.join("tools.toml").is_file() {
        load_family(&root)?
    } else {
        let mut tasks = Vec::new();
        for family in subdirs(&root)? {
            if !family.join("tools.toml").is_file() {
                return Err(invalid(&family, "not a task family: tools.toml is missing"));
            }
            tasks.extend(load_family(&family)?);
        }
        tasks
    };
    if tasks.is_empty() {
        return Err(invalid(&root, "no tasks found"));
    }
    let mut seen = BTreeSet::new();
    for task in &tasks {
        if !seen.insert(task.id.clone()) {
            return Err(invalid(
                &task.dir.join("task.toml"),
                format!("field `id`: `{}` is used by another task", task.id),
            ));
        }
    }
    Ok(tasks)
}

/// Directories under `dir`, sorted, skipping those starting with `_` or `.` (shared code, caches).
fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| invalid(dir, e.to_string()))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('_') && !n.starts_with('.'))
        })
        .collect();
    dirs.sort();
    Ok(dirs)
}

fn load_family(family: &Path) -> Result<Vec<TaskDef>, LoadError> {
    let tools = load_tools(family)?;
    subdirs(family)?
        .iter()
        .map(|dir| {
            if dir.join("task.toml").is_file() {
                load_task(dir, family, &tools)
            } else {
                Err(invalid(dir, "not a task: task.toml is missing"))
            }
        })
        .collect()
}

/// Parses a TOML file into `T`, turning syntax errors into "file: line N: message".
fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| invalid(path, e.to_string()))?;
    toml::from_str(&text).map_err(|e| {
        let message = e.message().trim().replace('\n', " ");
        match e.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                invalid(path, format!("line {line}: {message}"))
            }
            None => invalid(path, message),
        }
    })
}

fn load_tools(family: &Path) -> Result<Vec<ToolDef>, LoadError> {
    let path = family.join("tools.toml");
    let file: ToolsFile = read_toml(&path)?;
    let env = family.join("_env");
    let env = env.to_string_lossy();
    let mut names = BTreeSet::new();
    let mut tools = Vec::new();
    for (i, entry) in file.tool.into_iter().enumerate() {
        let field = |f: &str| format!("tool[{i}] field `{f}`");
        if !is_name(&entry.name) {
            return Err(invalid(
                &path,
                format!(
                    "{}: `{}` must be lowercase letters, digits, - or _",
                    field("name"),
                    entry.name
                ),
            ));
        }
        if !names.insert(entry.name.clone()) {
            return Err(invalid(
                &path,
                format!("{}: `{}` is defined twice", field("name"), entry.name),
            ));
        }
        if entry.summary.trim().is_empty() || entry.summary.contains('\n') {
            return Err(invalid(
                &path,
                format!("{}: must be one non-empty line", field("summary")),
            ));
        }
        if entry.help.trim().is_empty() {
            return Err(invalid(
                &path,
                format!("{}: must not be empty", field("help")),
            ));
        }
        if entry.command.is_empty() || entry.command[0].trim().is_empty() {
            return Err(invalid(
                &path,
                format!("{}: must name a program", field("command")),
            ));
        }
        tools.push(ToolDef {
            name: entry.name,
            summary: entry.summary.trim().to_string(),
            help: entry.help.trim_end().to_string(),
            command: entry
                .command
                .iter()
                .map(|part| part.replace("{env}", &env))
                .collect(),
        });
    }
    if tools.is_empty() {
        return Err(invalid(&path, "no [[tool]] entries"));
    }
    Ok(tools)
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn load_task(
    dir: &Path,
    family_dir: &Path,
    family_tools: &[ToolDef],
) -> Result<TaskDef, LoadError> {
    let path = dir.join("task.toml");
    let file: TaskFile = read_toml(&path)?;
    let bad = |field: &str, message: String| invalid(&path, format!("field `{field}`: {message}"));
    let id_ok = !file.id.is_empty()
        && file
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !id_ok {
        return Err(bad(
            "id",
            format!("`{}` must be lowercase letters, digits and dashes", file.id),
        ));
    }
    let family_name = family_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if file.family != family_name {
        return Err(bad(
            "family",
            format!(
                "`{}` does not match the family directory `{family_name}`",
                file.family
            ),
        ));
    }
    if file.instruction.trim().is_empty() {
        return Err(bad("instruction", "must not be empty".into()));
    }
    let max_steps = usize::try_from(file.max_steps)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            bad(
                "max_steps",
                format!("must be a positive integer, got {}", file.max_steps),
            )
        })?;
    let time_limit_s = u64::try_from(file.time_limit_s)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            bad(
                "time_limit_s",
                format!("must be a positive integer, got {}", file.time_limit_s),
            )
        })?;
    if file.seeds.is_empty() {
        return Err(bad("seeds", "must list at least one seed".into()));
    }
    let mut seeds = Vec::new();
    for seed in &file.seeds {
        let seed = u64::try_from(*seed).map_err(|_| {
            bad(
                "seeds",
                format!("must be non-negative integers, got {seed}"),
            )
        })?;
        if seeds.contains(&seed) {
            return Err(bad("seeds", format!("seed {seed} is listed twice")));
        }
        seeds.push(seed);
    }
    if file.tools.is_empty() {
        return Err(bad("tools", "must offer at least one tool".into()));
    }
    let mut tools: Vec<ToolDef> = Vec::new();
    for name in &file.tools {
        let tool = family_tools
            .iter()
            .find(|t| &t.name == name)
            .ok_or_else(|| {
                bad(
                    "tools",
                    format!("`{name}` is not defined in {}/tools.toml", family_name),
                )
            })?;
        if tools.iter().any(|t| &t.name == name) {
            return Err(bad("tools", format!("`{name}` is listed twice")));
        }
        tools.push(tool.clone());
    }
    for script in [Script::Setup, Script::Check, Script::Oracle] {
        check_executable(&dir.join(script.file_name()))?;
    }
    Ok(TaskDef {
        id: file.id,
        family: file.family,
        instruction: file.instruction.trim().to_string(),
        max_steps,
        time_limit_s,
        seeds,
        tools,
        dir: dir.to_path_buf(),
    })
}

fn check_executable(path: &Path) -> Result<(), LoadError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .map_err(|_| invalid(path, "missing (every task needs setup, check and oracle)"))?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(invalid(path, "not an executable file (chmod +x)"));
    }
    Ok(())
}
