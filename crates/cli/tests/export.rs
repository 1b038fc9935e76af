//! Training data from real stored runs: the clean and recovery SFT views and DPO pairs of a
//! corrected episode, checked turn by turn.

mod common;

use common::{Workspace, call, script, stderr, wrong_numerals_edit};
use serde_json::Value;

const WRONG_EDIT_NEW: &str = "    if not MIN_VALUE < number < MAX_VALUE:";

fn read_jsonl(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn assistant_texts(messages: &Value) -> Vec<String> {
    messages
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .map(|m| m["content"].as_str().unwrap().to_string())
        .collect()
}

/// One corrected episode (format slip, rejected test edit, revised wrong edit) and one
/// unresolved episode of the same task.
fn corrected_and_failed_runs(ws: &Workspace) {
    let corrected = ws.path("corrected.json");
    script(
        &corrected,
        &[
            "thinking out loud, no call".to_string(),
            call(
                "str_replace",
                &[
                    ("path", "tests/test_convert.py"),
                    ("old_str", "import pytest"),
                    ("new_str", "import pytest  # x"),
                ],
            ),
            wrong_numerals_edit(),
            call("submit", &[]),
        ],
    );
    let failed = ws.path("failed.json");
    script(
        &failed,
        &[call("view", &[("path", "README.md")]), call("submit", &[])],
    );
    for (name, file, supervisor) in [
        ("corrected", &corrected, "oracle"),
        ("failed", &failed, "none"),
    ] {
        let policy = format!("scripted:{}", file.display());
        let (output, summary) = ws.json(&[
            "run",
            "--task",
            "demo__numerals-1",
            "--policy",
            &policy,
            "--supervisor",
            supervisor,
            "--name",
            name,
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(summary["resolved"], u64::from(name == "corrected"));
    }
}

#[test]
fn sft_views_fold_corrections_in_or_keep_them_masked() {
    let ws = Workspace::new();
    corrected_and_failed_runs(&ws);
    let clean = ws.path("clean.jsonl");
    let (output, result) = ws.json(&[
        "export",
        "sft",
        "--run",
        "corrected",
        "--run",
        "failed",
        "--out",
        clean.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        result["rows"], 1,
        "only the resolved episode makes an SFT row"
    );
    let rows = read_jsonl(&clean);
    let row = &rows[0];
    assert_eq!(row["messages"][0]["role"], "system");
    assert!(
        row["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("<issue>")
    );
    assert!(
        row["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["function"]["name"] == "str_replace")
    );
    let said = assistant_texts(&row["messages"]);
    assert_eq!(
        said.len(),
        2,
        "slip and rejected edit dropped; revision stands in: {said:#?}"
    );
    assert!(said[0].contains("<= number <= MAX_VALUE"), "{}", said[0]);
    assert!(said[1].contains("<function=submit>"));
    let first_result = row["messages"][3]["content"].as_str().unwrap();
    assert!(
        !first_result.contains("replaced by the supervisor"),
        "{first_result}"
    );
    assert!(
        row["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m.get("train").is_none())
    );

    let recovery = ws.path("recovery.jsonl");
    let (_, _) = ws.json(&[
        "export",
        "sft",
        "--run",
        "corrected",
        "--variant",
        "recovery",
        "--out",
        recovery.to_str().unwrap(),
    ]);
    let rows = read_jsonl(&recovery);
    let turns: Vec<(String, bool)> = rows[0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .map(|m| {
            (
                m["content"].as_str().unwrap().chars().take(20).collect(),
                m["train"].as_bool().unwrap(),
            )
        })
        .collect();
    let trained: Vec<bool> = turns.iter().map(|t| t.1).collect();
    assert_eq!(trained, [false, false, false, true, true], "{turns:#?}");

    let weighted = ws.path("weighted.jsonl");
    let (_, result) = ws.json(&[
        "export",
        "sft",
        "--run",
        "corrected",
        "--run",
        "failed",
        "--weighted",
        "--out",
        weighted.to_str().unwrap(),
    ]);
    assert_eq!(result["rows"], 1);
    assert_eq!(read_jsonl(&weighted)[0]["weight"], 1.0);
}

#[test]
fn dpo_pairs_come_from_interventions_and_from_failed_trajectories() {
    let ws = Workspace::new();
    corrected_and_failed_runs(&ws);
    let out = ws.path("dpo.jsonl");
    let (output, result) = ws.json(&[
        "export",
        "dpo",
        "--run",
        "corrected",
        "--run",
        "failed",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(result["rows"], 3);
    let rows = read_jsonl(&out);
    let steps: Vec<&Value> = rows.iter().filter(|r| r["kind"] == "step").collect();
    assert_eq!(steps.len(), 2);
    // The rejected test edit: chosen is what ran next (the supervisor's revision).
    assert!(
        steps[0]["rejected"][0]["content"]
            .as_str()
            .unwrap()
            .contains("tests/test_convert.py")
    );
    assert!(
        steps[0]["chosen"][0]["content"]
            .as_str()
            .unwrap()
            .contains("<= number <= MAX_VALUE")
    );
    // The prompt is what the policy saw: system, task, and the format slip with its answer.
    assert_eq!(steps[0]["prompt"].as_array().unwrap().len(), 4);
    assert!(
        steps[1]["rejected"][0]["content"]
            .as_str()
            .unwrap()
            .contains(WRONG_EDIT_NEW.trim())
    );
    assert_eq!(steps[1]["prompt"].as_array().unwrap().len(), 6);
    let trajectory = rows.iter().find(|r| r["kind"] == "trajectory").unwrap();
    assert!(assistant_texts(&trajectory["rejected"])[0].contains("README.md"));
    assert_eq!(trajectory["prompt"].as_array().unwrap().len(), 2);

    let split = ws.path("split.jsonl");
    let (_, result) = ws.json(&[
        "export",
        "dpo",
        "--run",
        "corrected",
        "--run",
        "failed",
        "--holdout",
        "0.999",
        "--out",
        split.to_str().unwrap(),
    ]);
    assert_eq!(
        result["rows"].as_u64().unwrap() + result["heldout_rows"].as_u64().unwrap(),
        3
    );
}
