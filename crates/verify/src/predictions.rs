//! SWE-bench predictions files: what a model submitted for each task.
//!
//! The official harness accepts three layouts and people produce all of them: JSON Lines (one
//! prediction per line, the usual output of inference scripts), a JSON array, and a JSON
//! object keyed by instance id. A malformed file must fail loudly and point at the line,
//! because a silently dropped prediction reads as an unresolved task and skews a score.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One model submission for one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prediction {
    pub instance_id: String,
    /// Empty when the file does not say (missing or `null`); SWE-bench uses it only to
    /// name log folders, so its absence is no reason to reject a file.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub model_name_or_path: String,
    /// The diff; `None` (JSON `null`) or `""` both mean "no change" (SWE-bench's empty patch).
    #[serde(default)]
    pub model_patch: Option<String>,
}

impl Prediction {
    /// The patch text, `""` when there is none.
    pub fn patch_text(&self) -> &str {
        self.model_patch.as_deref().unwrap_or_default()
    }

    /// True for a `null`, missing or whitespace-only patch.
    pub fn is_empty_patch(&self) -> bool {
        self.patch_text().trim().is_empty()
    }
}

/// Why a predictions file could not be read. Every variant names the file; parse errors
/// name the line too.
#[derive(Debug, thiserror::Error)]
pub enum PredictionsError {
    #[error("cannot read predictions file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}:{line}: duplicate prediction for `{instance_id}` (first on line {first_line})", path.display())]
    Duplicate {
        path: PathBuf,
        line: usize,
        first_line: usize,
        instance_id: String,
    },
}

/// Reads a predictions file in any of the three layouts (detected from the content, not the
/// file name): JSON Lines, a JSON array of predictions, or a JSON object mapping instance id
/// to prediction (the value's `instance_id` may be omitted; when present it must match the
/// key). Blank lines in JSONL are ignored. Duplicate instance ids are an error, since which one
/// counts would otherwise be an accident of order.
pub fn read_predictions(path: impl AsRef<Path>) -> Result<Vec<Prediction>, PredictionsError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| PredictionsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_predictions(&text, path)
}

/// [`read_predictions`] on text already in memory; `path` is only used in error messages.
pub fn parse_predictions(text: &str, path: &Path) -> Result<Vec<Prediction>, PredictionsError> {
    let malformed = |line: usize, message: String| PredictionsError::Malformed {
        path: path.to_path_buf(),
        line,
        message,
    };
    let trimmed = text.trim_start_matches('\u{feff}');
    let first = trimmed.trim_start().chars().next();

    let with_lines: Vec<(usize, Prediction)> = match first {
        None => Vec::new(),
        Some('[') => {
            let items: Vec<Prediction> = serde_json::from_str(trimmed)
                .map_err(|e| malformed(e.line(), describe(&e, "a JSON array of predictions")))?;
            // serde_json does not report where each element started; locate them by the
            // `"instance_id"` keys so a duplicate can still be pointed at.
            let lines = instance_id_lines(trimmed);
            items
                .into_iter()
                .enumerate()
                .map(|(i, p)| (lines.get(i).copied().unwrap_or(1), p))
                .collect()
        }
        Some('{') => parse_object_or_jsonl(trimmed, path)?,
        Some(_) => parse_jsonl(trimmed, path)?,
    };

    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(with_lines.len());
    for (line, prediction) in with_lines {
        if prediction.instance_id.trim().is_empty() {
            return Err(malformed(line, "`instance_id` is empty".to_string()));
        }
        if let Some(first_line) = seen.insert(prediction.instance_id.clone(), line) {
            return Err(PredictionsError::Duplicate {
                path: path.to_path_buf(),
                line,
                first_line,
                instance_id: prediction.instance_id,
            });
        }
        out.push(prediction);
    }
    Ok(out)
}

/// A document starting with `{` is either one JSON object keyed by instance id or JSON
/// Lines whose first line is an object. A lone object with an `instance_id` field is a
/// one-line JSONL file.
fn parse_object_or_jsonl(
    text: &str,
    path: &Path,
) -> Result<Vec<(usize, Prediction)>, PredictionsError> {
    let whole: serde_json::Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => {
            // A pretty-printed object opens with a line holding only `{`; anything else
            // that fails as one document is JSON Lines (or broken JSON Lines, which
            // `parse_jsonl` reports with the right line).
            let first_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            if first_line.trim() == "{" {
                return Err(PredictionsError::Malformed {
                    path: path.to_path_buf(),
                    line: e.line(),
                    message: describe(&e, "an object mapping instance_id to a prediction"),
                });
            }
            return parse_jsonl(text, path);
        }
    };
    let is_single_prediction = whole
        .as_object()
        .is_some_and(|o| o.contains_key("instance_id"));
    if is_single_prediction {
        return parse_jsonl(text, path);
    }

    #[derive(Deserialize)]
    struct Keyed {
        #[serde(default)]
        instance_id: Option<String>,
        #[serde(default, deserialize_with = "null_as_empty")]
        model_name_or_path: String,
        #[serde(default)]
        model_patch: Option<String>,
    }
    let map: BTreeMap<String, Keyed> =
        serde_json::from_str(text).map_err(|e| PredictionsError::Malformed {
            path: path.to_path_buf(),
            line: e.line(),
            message: describe(&e, "an object mapping instance_id to a prediction"),
        })?;
    let lines = key_lines(text);
    let mut out = Vec::with_capacity(map.len());
    for (key, value) in map {
        let line = lines.get(&key).copied().unwrap_or(1);
        if let Some(inner) = &value.instance_id
            && inner != &key
        {
            return Err(PredictionsError::Malformed {
                path: path.to_path_buf(),
                line,
                message: format!("key `{key}` holds a prediction for `{inner}`"),
            });
        }
        out.push((
            line,
            Prediction {
                instance_id: key,
                model_name_or_path: value.model_name_or_path,
                model_patch: value.model_patch,
            },
        ));
    }
    out.sort_by_key(|(line, _)| *line);
    Ok(out)
}

fn parse_jsonl(text: &str, path: &Path) -> Result<Vec<(usize, Prediction)>, PredictionsError> {
    let mut out = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let prediction: Prediction =
            serde_json::from_str(raw).map_err(|e| PredictionsError::Malformed {
                path: path.to_path_buf(),
                line,
                message: describe(&e, "one JSON object per line (JSONL)"),
            })?;
        out.push((line, prediction));
    }
    Ok(out)
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// serde_json's message plus what layout was expected, so "expected value at column 1"
/// on a CSV file reads as a format mistake rather than a JSON typo.
fn describe(error: &serde_json::Error, expected: &str) -> String {
    format!("{error} (expected {expected})")
}

/// 1-based line of each `"instance_id"` key, in order: the element lines of an array.
fn instance_id_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .flat_map(|(i, l)| std::iter::repeat_n(i + 1, l.matches("\"instance_id\"").count()))
        .collect()
}

/// 1-based line of each top-level-looking key `"key": {` (best effort, for messages only).
fn key_lines(text: &str) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix('"')
            && let Some(end) = rest.find('"')
            && rest[end + 1..].trim_start().starts_with(':')
        {
            out.entry(rest[..end].to_string()).or_insert(i + 1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Prediction>, PredictionsError> {
        parse_predictions(text, Path::new("preds.jsonl"))
    }

    #[test]
    fn jsonl_with_null_and_empty_patches() {
        let text = concat!(
            r#"{"instance_id": "a__b-1", "model_name_or_path": "m", "model_patch": "diff"}"#,
            "\n\n",
            r#"{"instance_id": "a__b-2", "model_name_or_path": "m", "model_patch": null}"#,
            "\n",
            r#"{"instance_id": "a__b-3", "model_name_or_path": "m", "model_patch": ""}"#,
            "\n"
        );
        let preds = parse(text).expect("valid jsonl");
        assert_eq!(preds.len(), 3);
        assert!(!preds[0].is_empty_patch());
        assert!(preds[1].is_empty_patch());
        assert!(preds[2].is_empty_patch());
        assert_eq!(preds[1].model_patch, None);
    }

    #[test]
    fn null_model_name_is_empty() {
        let preds = parse(r#"{"instance_id": "x", "model_name_or_path": null}"#).expect("null");
        assert_eq!(preds[0].model_name_or_path, "");
        let msg = parse(r#"{"instance_id": "x", "model_name_or_path": 3}"#)
            .expect_err("number")
            .to_string();
        assert!(msg.contains("invalid type"), "{msg}");
    }

    #[test]
    fn single_line_jsonl() {
        let preds = parse(r#"{"instance_id": "x", "model_patch": "p"}"#).expect("one line");
        assert_eq!(preds.len(), 1);
        assert_eq!(preds[0].model_name_or_path, "");
    }

    #[test]
    fn json_array() {
        let text = "[\n {\"instance_id\": \"x\", \"model_name_or_path\": \"m\", \"model_patch\": \"p\"},\n {\"instance_id\": \"y\", \"model_name_or_path\": \"m\", \"model_patch\": null}\n]";
        let preds = parse(text).expect("array");
        assert_eq!(
            preds
                .iter()
                .map(|p| p.instance_id.as_str())
                .collect::<Vec<_>>(),
            ["x", "y"]
        );
    }

    #[test]
    fn keyed_object() {
        let text = "{\n  \"y\": {\"model_name_or_path\": \"m\", \"model_patch\": \"q\"},\n  \"x\": {\"instance_id\": \"x\", \"model_name_or_path\": \"m\", \"model_patch\": null}\n}";
        let preds = parse(text).expect("object");
        assert_eq!(
            preds
                .iter()
                .map(|p| p.instance_id.as_str())
                .collect::<Vec<_>>(),
            ["y", "x"],
            "file order is kept"
        );
        assert_eq!(preds[0].patch_text(), "q");
    }

    #[test]
    fn broken_keyed_object_points_at_the_line() {
        let text = "{\n  \"y\": {\"model_patch\": \"q\"}\n  \"x\": {\"model_patch\": null}\n}";
        let msg = parse(text).expect_err("missing comma").to_string();
        assert!(msg.starts_with("preds.jsonl:3:"), "{msg}");
    }

    #[test]
    fn keyed_object_with_mismatched_id() {
        let text = "{\n  \"y\": {\"instance_id\": \"z\", \"model_patch\": \"q\"}\n}";
        let err = parse(text).expect_err("mismatch");
        assert!(err.to_string().contains("preds.jsonl:2"), "{err}");
    }

    #[test]
    fn errors_name_file_and_line() {
        let text = "{\"instance_id\": \"a\", \"model_patch\": null}\n{\"model_patch\": \"x\"}\n";
        let err = parse(text).expect_err("missing instance_id");
        let msg = err.to_string();
        assert!(msg.starts_with("preds.jsonl:2:"), "{msg}");
        assert!(msg.contains("instance_id"), "{msg}");

        let text = "{\"instance_id\": \"a\"}\n{\"instance_id\": 5}\n";
        let msg = parse(text).expect_err("wrong type").to_string();
        assert!(msg.starts_with("preds.jsonl:2:"), "{msg}");
        assert!(msg.contains("invalid type"), "{msg}");

        let msg =
            parse("{\"instance_id\": \"a\"}\n{\"instance_id\": \"a\", \"model_patch\": [1]}\n")
                .expect_err("patch must be a string")
                .to_string();
        assert!(msg.starts_with("preds.jsonl:2:"), "{msg}");

        let msg = parse("instance_id,model_patch\nx,y\n")
            .expect_err("csv")
            .to_string();
        assert!(msg.starts_with("preds.jsonl:1:"), "{msg}");
        assert!(msg.contains("JSONL"), "{msg}");

        let msg = parse("{\"instance_id\": \"a\"}\n{\"instance_id\": \"b\"\n")
            .expect_err("truncated line")
            .to_string();
        assert!(msg.starts_with("preds.jsonl:2:"), "{msg}");

        let msg = parse("[{\"instance_id\": \"a\"},\n {\"instance_id\": true}]")
            .expect_err("array element wrong type")
            .to_string();
        assert!(msg.starts_with("preds.jsonl:2:"), "{msg}");
    }

    #[test]
    fn duplicates_and_empty_ids_are_rejected() {
        let text = "{\"instance_id\": \"a\"}\n{\"instance_id\": \"b\"}\n{\"instance_id\": \"a\"}\n";
        match parse(text) {
            Err(PredictionsError::Duplicate {
                line, first_line, ..
            }) => assert_eq!((line, first_line), (3, 1)),
            other => panic!("expected duplicate error, got {other:?}"),
        }
        let msg = parse("{\"instance_id\": \" \"}")
            .expect_err("empty id")
            .to_string();
        assert!(msg.contains("empty"), "{msg}");
    }

    #[test]
    fn empty_file_has_no_predictions() {
        assert!(parse("").expect("empty").is_empty());
        assert!(parse("\n  \n").expect("blank").is_empty());
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = read_predictions("/nonexistent/preds.jsonl").expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/preds.jsonl"));
    }
}
