//! Bad input as a new user would bring it: one-line errors with exit code 2, or a recorded,
//! graded failure; never a panic.

mod common;

use common::{Workspace, stderr};

fn assert_one_line_error(output: &std::process::Output, needles: &[&str]) {
    assert_eq!(output.status.code(), Some(2), "{}", stderr(output));
    let err = stderr(output);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "`{needle}` not in: {err}");
    }
}

#[test]
fn task_file_with_a_missing_field_names_it() {
    let ws = Workspace::new();
    let file = ws.write("tasks.json", r#"[{"instance_id": "a__b-1", "base_commit": "abc", "problem_statement": "x", "FAIL_TO_PASS": []}]"#);
    let output = ws
        .cmd()
        .args(["tasks", "list"])
        .arg(&file)
        .output()
        .unwrap();
    assert_one_line_error(&output, &["tasks.json", "record 1", "missing field `repo`"]);
}

#[test]
fn task_file_with_a_wrong_type_names_it() {
    let ws = Workspace::new();
    let file = ws.write(
        "tasks.jsonl",
        r#"{"instance_id": "a__b-1", "repo": "a/b", "base_commit": "abc", "problem_statement": "x", "FAIL_TO_PASS": 7}"#,
    );
    let output = ws
        .cmd()
        .args(["run", "--tasks"])
        .arg(&file)
        .output()
        .unwrap();
    assert_one_line_error(&output, &["tasks.jsonl", "line 1", "list of test names"]);
}

#[test]
fn unknown_repository_is_reported_before_any_work() {
    let ws = Workspace::new();
    let file = ws.write(
        "tasks.json",
        r#"[{"instance_id": "a__b-1", "repo": "a/b", "base_commit": "abc", "problem_statement": "x", "FAIL_TO_PASS": ["t"]}]"#,
    );
    let output = ws
        .cmd()
        .args(["run", "--tasks"])
        .arg(&file)
        .output()
        .unwrap();
    assert_one_line_error(&output, &["a__b-1", "a/b", "--repos"]);
    let output = ws
        .cmd()
        .args(["run", "--tasks", "/no/such/tasks.json"])
        .output()
        .unwrap();
    assert_one_line_error(&output, &["/no/such/tasks.json", "no such file"]);
}

#[test]
fn bad_specs_and_unknown_tasks_are_usage_errors() {
    let ws = Workspace::new();
    let output = ws
        .cmd()
        .args(["run", "--policy", "gpt-4"])
        .output()
        .unwrap();
    assert_one_line_error(&output, &["policy", "scripted:gold"]);
    let output = ws
        .cmd()
        .args(["run", "--supervise", "sometimes"])
        .output()
        .unwrap();
    assert_one_line_error(&output, &["sometimes", "every"]);
    let output = ws
        .cmd()
        .args(["run", "--task", "demo__nope-1"])
        .output()
        .unwrap();
    assert_one_line_error(&output, &["demo__nope-1"]);
    let output = ws.cmd().args(["show", "no-such-run"]).output().unwrap();
    assert_one_line_error(&output, &["no-such-run"]);
}

#[test]
fn predictions_that_are_not_jsonl_are_rejected_with_the_line() {
    let ws = Workspace::new();
    let preds = ws.write(
        "preds.jsonl",
        "{\"instance_id\": \"demo__numerals-1\", \"model_patch\": \"\"}\nthis is not json\n",
    );
    let output = ws
        .cmd()
        .args(["verify", "--predictions"])
        .arg(&preds)
        .output()
        .unwrap();
    assert_one_line_error(&output, &["preds.jsonl", "2"]);
}

#[test]
fn verify_grades_gold_empty_and_unappliable_patches() {
    let ws = Workspace::new();
    let gold = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tasks/demo/demo__numerals-1/gold.patch"
    ))
    .unwrap();
    let bad = "diff --git a/numerals/convert.py b/numerals/convert.py\n--- a/numerals/convert.py\n+++ b/numerals/convert.py\n@@ -1,1 +1,1 @@\n-this line is not there\n+nor this\n";
    let lines = [
        serde_json::json!({"instance_id": "demo__numerals-1", "model_name_or_path": "gold", "model_patch": gold}),
        serde_json::json!({"instance_id": "demo__semver-1", "model_name_or_path": "empty", "model_patch": null}),
        serde_json::json!({"instance_id": "demo__calcy-1", "model_name_or_path": "bad", "model_patch": bad}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let preds = ws.write("preds.jsonl", &text);
    let report = ws.path("report.json");
    let (output, summary) = ws.json(&[
        "verify",
        "--predictions",
        preds.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(summary["instances"], 3);
    assert_eq!(summary["resolved"], 1);
    let results = summary["results"].as_array().unwrap();
    let by_id = |id: &str| {
        results
            .iter()
            .find(|r| r["instance_id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("demo__numerals-1")["status"], "FULL");
    assert_eq!(by_id("demo__semver-1")["status"], "NO");
    assert_eq!(by_id("demo__calcy-1")["status"], "ERROR");
    assert!(
        by_id("demo__calcy-1")["error"]
            .as_str()
            .unwrap()
            .contains("patch_apply")
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    assert_eq!(written["demo__numerals-1"]["resolved"], true);
    assert!(written["demo__numerals-1"]["tests_status"]["FAIL_TO_PASS"]["success"].is_array());
}
