//! `apprentice bench` end to end on the discovery crate's fixture suite (real python3 tools, a
//! real loopback service): list, validate, a scripted run, show, export and report.

mod common;

use common::{Workspace, call, script, stderr};
use serde_json::Value;

fn fixtures() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../discovery/tests/fixtures/suite"
    )
    .to_string()
}

#[test]
fn list_and_validate_the_fixture_suite() {
    let ws = Workspace::new();
    let (output, tasks) = ws.json(&["bench", "list", "--tasks", &fixtures()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(tasks.as_array().unwrap().len(), 2);
    assert_eq!(tasks[1]["tools"], serde_json::json!(["flags", "weather"]));

    let (output, result) = ws.json(&["bench", "validate", "--tasks", &fixtures()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(result["valid"], true);
    assert_eq!(result["results"].as_array().unwrap().len(), 4);

    let output = ws
        .cmd()
        .args(["bench", "list", "--tasks", "/nonexistent/suite"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("/nonexistent/suite") && err.trim().lines().count() == 1,
        "{err}"
    );
}

#[test]
fn a_scripted_bench_run_is_measured_stored_shown_and_exported() {
    let ws = Workspace::new();
    let replies = ws.path("replies.json");
    script(
        &replies,
        &[
            call("flags", &[("args", "list")]),
            call("list_tools", &[]),
            call("call", &[("name", "kubectl"), ("args", "get flags")]),
            call("call", &[("name", "flags"), ("args", "list")]),
            call("call", &[("name", "flags"), ("args", "set release-1 on")]),
            call("finish", &[("summary", "release flag on")]),
        ],
    );
    let plot = ws.path("curve.svg");
    let (output, result) = ws.json(&[
        "bench",
        "run",
        "--tasks",
        &fixtures(),
        "--task",
        "toy-set-flag",
        "--policy",
        &format!("scripted:{}", replies.display()),
        "--name",
        "scripted",
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let arm = &result["metrics"]["arms"][0];
    assert_eq!(arm["arm"], "plain");
    assert_eq!(arm["success_rate"], 1.0);
    assert_eq!(arm["mean_steps"], 6.0);
    assert_eq!(
        arm["hallucinated_calls"], 2.0,
        "a top-level `flags` and `kubectl`"
    );
    assert!((arm["spl"].as_f64().unwrap() - 4.0 / 6.0).abs() < 1e-9);
    assert_eq!(arm["discovery_rate"], 1.0);
    assert_eq!(arm["first_use_latency"], 4.0);
    assert!(std::fs::read_to_string(&plot).unwrap().contains("<svg"));

    let (output, summary) = ws.json(&["show", "scripted"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(summary["resolved"], 1);
    assert_eq!(summary["format_errors"], 1);
    let steps = ws.first_episode_steps(&summary);
    assert_eq!(steps.len(), 6);
    assert!(
        steps[2]["observation"]
            .as_str()
            .unwrap()
            .contains("list_tools"),
        "{:?}",
        steps[2]
    );
    assert!(steps[4]["observation"].as_str().unwrap().contains("exit 0"));

    let out = ws.path("sft.jsonl");
    let (output, exported) = ws.json(&[
        "export",
        "sft",
        "--run",
        "scripted",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(exported["rows"], 1);
    let row: Value = serde_json::from_str(
        std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let tools: Vec<&str> = row["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["list_tools", "help", "call", "finish"]);
    assert!(
        row["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("release flag")
    );

    let (output, report) = ws.json(&[
        "bench",
        "report",
        "scripted",
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(report["metrics"], result["metrics"]);
}

#[test]
fn an_oracle_campaign_with_memory_and_control_arms_prints_the_table() {
    let ws = Workspace::new();
    let output = ws
        .cmd()
        .current_dir(ws.dir.path())
        .args(["bench", "run", "--tasks", &fixtures(), "--policy", "oracle"])
        .args([
            "--supervisor",
            "oracle",
            "--episodes",
            "2",
            "--memory",
            "both",
            "--workers",
            "4",
        ])
        .args(["--name", "camp"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let table = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "memory",
        "control",
        "pass@k",
        "SPL",
        "MG(2) 0.0%",
        "camp.svg",
    ] {
        assert!(table.contains(needle), "`{needle}` not in:\n{table}");
    }
    assert!(ws.path("camp.svg").exists());
}
