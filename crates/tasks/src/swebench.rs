//! SWE-bench instance files (JSON array, JSONL, one object) and SWE-Bench-CL curricula.

use std::path::Path;

use apprentice_core::Task;
use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::Value;

use crate::TaskError;
use crate::repos::{RepoLocator, source_at};

/// One SWE-bench instance as found in the wild: lists may be strings holding JSON, `version`
/// may be a number, text fields may be null.
#[derive(Debug, Deserialize)]
struct RawInstance {
    instance_id: String,
    repo: String,
    base_commit: String,
    #[serde(default, deserialize_with = "text")]
    patch: String,
    #[serde(default, deserialize_with = "text")]
    test_patch: String,
    problem_statement: String,
    #[serde(default, deserialize_with = "text")]
    hints_text: String,
    #[serde(default, deserialize_with = "text")]
    created_at: String,
    #[serde(default, deserialize_with = "version")]
    version: String,
    #[serde(rename = "FAIL_TO_PASS", deserialize_with = "test_list")]
    fail_to_pass: Vec<String>,
    #[serde(rename = "PASS_TO_PASS", default, deserialize_with = "test_list")]
    pass_to_pass: Vec<String>,
    #[serde(default, deserialize_with = "text")]
    environment_setup_commit: String,
    #[serde(default)]
    test_cmd: Option<String>,
    /// A local checkout of the repository, relative to the file (an apprentice extension).
    #[serde(default)]
    repo_path: Option<String>,
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// Keeps the version's text as written: `"0.20"` must not become `0.2`.
fn version<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Null => Ok(String::new()),
        other => Err(de::Error::custom(format!(
            "`version` must be a string or number, not {other}"
        ))),
    }
}

fn test_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                other => Err(de::Error::custom(format!(
                    "test names must be strings, found {other}"
                ))),
            })
            .collect(),
        Value::String(s) => serde_json::from_str(&s).map_err(|e| {
            de::Error::custom(format!(
                "test list string is not a JSON array of strings: {e}"
            ))
        }),
        Value::Null => Ok(Vec::new()),
        other => Err(de::Error::custom(format!(
            "expected a list of test names, found {other}"
        ))),
    }
}

/// Fields a SWE-Bench-CL task lacks and takes from its SWE-bench instance.
const JOINED_FIELDS: [&str; 2] = ["version", "environment_setup_commit"];

/// SWE-bench instances by `instance_id`, holding only the fields a join fills in.
pub(crate) type JoinIndex = std::collections::HashMap<String, serde_json::Map<String, Value>>;

pub(crate) fn join_index(path: &Path) -> Result<JoinIndex, TaskError> {
    let text = std::fs::read_to_string(path).map_err(|e| TaskError::io(path, e))?;
    let mut index = JoinIndex::new();
    for (place, value) in records(path, &text)? {
        let id = value["instance_id"].as_str().ok_or_else(|| {
            TaskError::invalid(path, format!("{place}: `instance_id` must be a string"))
        })?;
        let fields = JOINED_FIELDS
            .iter()
            .filter_map(|&f| Some((f.to_string(), value.get(f)?.clone())))
            .collect();
        index.insert(id.to_string(), fields);
    }
    Ok(index)
}

/// Fills the fields a record lacks (absent or null) from its instance in `join`.
fn fill_from(mut value: Value, join: &JoinIndex) -> Value {
    let id = value["instance_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if let (Some(fields), Some(record)) = (join.get(&id), value.as_object_mut()) {
        for (name, joined) in fields {
            if record.get(name).is_none_or(Value::is_null) {
                record.insert(name.clone(), joined.clone());
            }
        }
    }
    value
}

pub(crate) fn load_file(
    path: &Path,
    locator: &RepoLocator,
    join: &JoinIndex,
) -> Result<Vec<Task>, TaskError> {
    let text = std::fs::read_to_string(path).map_err(|e| TaskError::io(path, e))?;
    let records = records(path, &text)?;
    if records.is_empty() {
        return Err(TaskError::invalid(path, "contains no tasks"));
    }
    records
        .into_iter()
        .map(|(place, value)| (place, fill_from(value, join)))
        .map(|(place, value)| {
            let raw: RawInstance = serde_json::from_value(value)
                .map_err(|e| TaskError::invalid(path, format!("{place}: {e}")))?;
            to_task(raw, path, locator)
                .map_err(|e| TaskError::invalid(path, format!("{place}: {e}")))
        })
        .collect()
}

/// Splits a file into (where, record) pairs, whatever its layout.
fn records(path: &Path, text: &str) -> Result<Vec<(String, Value)>, TaskError> {
    let trimmed = text.trim_start();
    if path.extension().is_some_and(|e| e == "jsonl") {
        return json_lines(path, text);
    }
    if trimmed.starts_with('[') {
        let items: Vec<Value> = serde_json::from_str(text)
            .map_err(|e| TaskError::invalid(path, format!("not a valid JSON array: {e}")))?;
        return Ok(items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("record {}", i + 1), v))
            .collect());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) if object.contains_key("sequences") => {
            curriculum(path, &Value::Object(object))
        }
        Ok(value @ Value::Object(_)) => Ok(vec![("record 1".into(), value)]),
        Ok(_) => Err(TaskError::invalid(
            path,
            "expected SWE-bench instances (a JSON array, JSONL, or a SWE-Bench-CL file)",
        )),
        Err(_) => json_lines(path, text),
    }
}

fn json_lines(path: &Path, text: &str) -> Result<Vec<(String, Value)>, TaskError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line)
                .map(|v| (format!("line {}", i + 1), v))
                .map_err(|e| {
                    TaskError::invalid(
                        path,
                        format!(
                            "line {}: not valid JSON ({e}); expected one instance per line",
                            i + 1
                        ),
                    )
                })
        })
        .collect()
}

/// Flattens a SWE-Bench-CL file into instances, sequence by sequence, in curriculum order.
fn curriculum(path: &Path, doc: &Value) -> Result<Vec<(String, Value)>, TaskError> {
    let sequences = doc["sequences"]
        .as_array()
        .ok_or_else(|| TaskError::invalid(path, "`sequences` must be an array"))?;
    let mut out = Vec::new();
    for (s, sequence) in sequences.iter().enumerate() {
        let name = sequence["id"]
            .as_str()
            .map_or_else(|| format!("sequence {}", s + 1), str::to_string);
        let mut tasks: Vec<&Value> = sequence["tasks"]
            .as_array()
            .ok_or_else(|| TaskError::invalid(path, format!("{name}: `tasks` must be an array")))?
            .iter()
            .collect();
        tasks.sort_by_key(|t| {
            t["continual_learning"]["sequence_position"]
                .as_u64()
                .unwrap_or(u64::MAX)
        });
        for (t, task) in tasks.into_iter().enumerate() {
            out.push((format!("{name} task {}", t + 1), flatten_cl_task(task)));
        }
    }
    Ok(out)
}

fn flatten_cl_task(task: &Value) -> Value {
    let mut flat = serde_json::Map::new();
    for section in ["metadata", "task", "evaluation"] {
        if let Some(fields) = task[section].as_object() {
            flat.extend(fields.clone());
        }
    }
    Value::Object(flat)
}

fn to_task(raw: RawInstance, file: &Path, locator: &RepoLocator) -> Result<Task, String> {
    if raw.instance_id.trim().is_empty() {
        return Err("`instance_id` is empty".into());
    }
    let source = match &raw.repo_path {
        Some(rel) => {
            let path = file.parent().unwrap_or(Path::new(".")).join(rel);
            if !path.is_dir() {
                return Err(format!("`repo_path` {} is not a directory", path.display()));
            }
            Some(source_at(&path, &raw.base_commit))
        }
        None => locator.locate(&raw.repo, &raw.base_commit),
    };
    Ok(Task {
        instance_id: raw.instance_id,
        repo: raw.repo,
        base_commit: raw.base_commit,
        patch: raw.patch,
        test_patch: raw.test_patch,
        problem_statement: raw.problem_statement,
        hints_text: raw.hints_text,
        created_at: raw.created_at,
        version: raw.version,
        fail_to_pass: raw.fail_to_pass,
        pass_to_pass: raw.pass_to_pass,
        environment_setup_commit: raw.environment_setup_commit,
        test_cmd: raw
            .test_cmd
            .unwrap_or_else(|| apprentice_verify::DEFAULT_TEST_CMD.to_string()),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str, name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    const ONE: &str = r#"{"instance_id": "o__r-1", "repo": "o/r", "base_commit": "abc", "patch": "", "test_patch": null,
        "problem_statement": "p", "hints_text": null, "created_at": "2023-01-01", "version": 0.2,
        "FAIL_TO_PASS": "[\"t::a\"]", "PASS_TO_PASS": ["t::b"], "environment_setup_commit": "abc"}"#;

    #[test]
    fn accepts_string_lists_numeric_versions_and_nulls() {
        let (_d, path) = write(&format!("[{ONE}]"), "x.json");
        let tasks = load_file(&path, &RepoLocator::default(), &JoinIndex::new()).unwrap();
        assert_eq!(tasks[0].fail_to_pass, vec!["t::a"]);
        assert_eq!(tasks[0].pass_to_pass, vec!["t::b"]);
        assert_eq!(tasks[0].version, "0.2");
        assert_eq!(tasks[0].test_patch, "");
        assert!(tasks[0].source.is_none());
    }

    #[test]
    fn reads_jsonl_and_names_the_bad_line() {
        let (_d, path) = write(
            &format!(
                "{}\n\n{}\nnot json\n",
                ONE.replace('\n', " "),
                ONE.replace('\n', " ")
            ),
            "x.jsonl",
        );
        let err = load_file(&path, &RepoLocator::default(), &JoinIndex::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 4") && err.contains("x.jsonl"), "{err}");
    }

    #[test]
    fn missing_field_and_wrong_type_are_named() {
        let (_d, path) = write(
            r#"[{"instance_id": "a", "base_commit": "x", "problem_statement": "p", "FAIL_TO_PASS": []}]"#,
            "m.json",
        );
        let err = load_file(&path, &RepoLocator::default(), &JoinIndex::new())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("record 1") && err.contains("missing field `repo`"),
            "{err}"
        );
        let (_d, path) = write(
            &ONE.replace(
                "\"FAIL_TO_PASS\": \"[\\\"t::a\\\"]\"",
                "\"FAIL_TO_PASS\": 5",
            ),
            "w.json",
        );
        let err = load_file(&path, &RepoLocator::default(), &JoinIndex::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected a list of test names"), "{err}");
    }

    #[test]
    fn curriculum_is_flattened_in_sequence_order() {
        let cl = r#"{"metadata": {"name": "SWE-Bench-CL"}, "sequences": [{"id": "o_r_sequence", "repo": "o/r", "tasks": [
            {"metadata": {"instance_id": "o__r-2", "repo": "o/r", "base_commit": "b"}, "task": {"problem_statement": "two", "hints_text": null},
             "evaluation": {"patch": "", "test_patch": null, "FAIL_TO_PASS": ["a"], "PASS_TO_PASS": []}, "continual_learning": {"sequence_position": 2}},
            {"metadata": {"instance_id": "o__r-1", "repo": "o/r", "base_commit": "a"}, "task": {"problem_statement": "one", "hints_text": ""},
             "evaluation": {"patch": "", "test_patch": "", "FAIL_TO_PASS": ["a"], "PASS_TO_PASS": []}, "continual_learning": {"sequence_position": 1}}]}]}"#;
        let (_d, path) = write(cl, "cl.json");
        let tasks = load_file(&path, &RepoLocator::default(), &JoinIndex::new()).unwrap();
        let ids: Vec<_> = tasks.iter().map(|t| t.instance_id.as_str()).collect();
        assert_eq!(ids, ["o__r-1", "o__r-2"]);
    }

    #[test]
    fn curriculum_tasks_take_version_from_the_joined_instances() {
        let cl = r#"{"sequences": [{"id": "s", "tasks": [
            {"metadata": {"instance_id": "o__r-1", "repo": "o/r", "base_commit": "a"}, "task": {"problem_statement": "one"},
             "evaluation": {"patch": "", "test_patch": "", "FAIL_TO_PASS": ["a"], "PASS_TO_PASS": []}},
            {"metadata": {"instance_id": "o__r-2", "repo": "o/r", "base_commit": "b", "version": "9.9"}, "task": {"problem_statement": "two"},
             "evaluation": {"patch": "", "test_patch": "", "FAIL_TO_PASS": ["a"], "PASS_TO_PASS": []}}]}]}"#;
        let (_d, path) = write(cl, "cl.json");
        let (_j, instances) = write(
            r#"{"instance_id": "o__r-1", "version": 3.1, "environment_setup_commit": "e1"}
{"instance_id": "o__r-2", "version": "1.0", "environment_setup_commit": "e2"}"#,
            "verified.jsonl",
        );
        let join = join_index(&instances).unwrap();
        let tasks = load_file(&path, &RepoLocator::default(), &join).unwrap();
        assert_eq!(tasks[0].version, "3.1");
        assert_eq!(tasks[0].environment_setup_commit, "e1");
        assert_eq!(tasks[1].version, "9.9", "a field the task has is kept");
        assert_eq!(tasks[1].environment_setup_commit, "e2");
    }

    #[test]
    fn mirror_directory_provides_the_repository() {
        let mirror = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(mirror.path().join("o__r")).unwrap();
        let (_d, path) = write(&format!("[{ONE}]"), "x.json");
        let tasks = load_file(
            &path,
            &RepoLocator::new(Some(mirror.path().to_path_buf())),
            &JoinIndex::new(),
        )
        .unwrap();
        assert!(matches!(
            tasks[0].source,
            Some(apprentice_sandbox::RepoSource::Snapshot { .. })
        ));
    }
}
