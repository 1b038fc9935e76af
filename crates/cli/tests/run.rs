//! `apprentice run` end to end on the bundled demo tasks, with real git, pytest and SQLite.

mod common;

use common::{Workspace, call, script, stderr, wrong_numerals_edit};
use serde_json::Value;

#[test]
fn gold_policy_resolves_every_demo_task_without_interventions() {
    let ws = Workspace::new();
    let (output, summary) = ws.json(&[
        "run",
        "--tasks",
        "demo",
        "--policy",
        "scripted:gold",
        "--supervisor",
        "oracle",
        "--workers",
        "2",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let episodes = summary["episodes"].as_u64().unwrap();
    assert!(episodes >= 12);
    assert_eq!(summary["resolved"], summary["episodes"]);
    assert_eq!(summary["resolve_rate"], 1.0);
    assert_eq!(summary["interventions"], 0);
    assert_eq!(summary["intervention_rate"], 0.0);
    assert_eq!(summary["format_errors"], 0);
    assert!(summary["proposals"].as_u64().unwrap() >= 3 * episodes);
    assert_eq!(summary["cost_usd"], 0.0);
    let detail = summary["episodes_detail"].as_array().unwrap();
    assert_eq!(detail.len() as u64, episodes);
    for e in detail {
        assert_eq!(e["resolved"], true, "{e}");
        assert_eq!(e["interventions"], 0);
        assert!(e["steps"].as_u64().unwrap() >= 3);
    }
    let (_, shown) = ws.json(&["show", summary["run"].as_str().unwrap()]);
    assert_eq!(shown["episodes"], summary["episodes"]);
}

/// A policy that slips on format, edits a test, makes a wrong edit, then submits: the
/// supervisor rejects and revises step by step, and the episode resolves through it.
#[test]
fn oracle_corrects_a_wrong_policy_and_every_step_is_stored() {
    let ws = Workspace::new();
    let replies = vec![
        "I will look at the converter first.".to_string(),
        call("view", &[("path", "numerals/convert.py")]),
        call(
            "str_replace",
            &[
                ("path", "tests/test_convert.py"),
                ("old_str", "import pytest"),
                ("new_str", "import pytest  # skip"),
            ],
        ),
        wrong_numerals_edit(),
        call("submit", &[]),
    ];
    let path = ws.path("wrong.json");
    script(&path, &replies);
    let policy = format!("scripted:{}", path.display());
    let (output, summary) = ws.json(&[
        "run",
        "--task",
        "demo__numerals-1",
        "--policy",
        &policy,
        "--supervisor",
        "oracle",
        "--supervise",
        "every",
        "--name",
        "wrong",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(summary["resolved"], 1, "{summary:#}");
    assert_eq!(summary["format_errors"], 1);
    assert_eq!(summary["proposals"], 4);
    assert_eq!(summary["interventions"], 2);
    assert_eq!(summary["intervention_rate"], 0.5);

    let steps = ws.first_episode_steps(&summary);
    let verdicts: Vec<Value> = steps.iter().map(|s| s["verdict"].clone()).collect();
    assert_eq!(
        verdicts,
        [
            Value::Null,
            "approve".into(),
            "reject".into(),
            "revise".into(),
            "approve".into()
        ]
    );
    assert_eq!(steps[0]["format_error"], "missing");
    assert!(
        steps[2]["observation"]
            .as_str()
            .unwrap()
            .starts_with("Action rejected: Do not edit the tests")
    );
    assert!(
        steps[3]["observation"]
            .as_str()
            .unwrap()
            .contains("replaced by the supervisor")
    );
    assert_eq!(steps[3]["executed"]["name"], "str_replace");
    assert!(
        steps[3]["executed"]["arguments"]["new_str"]
            .as_str()
            .unwrap()
            .contains("<= number <= MAX_VALUE")
    );
}

#[test]
fn shadow_mode_counts_would_be_interventions_without_blocking() {
    let ws = Workspace::new();
    let replies = vec![wrong_numerals_edit(), call("submit", &[])];
    let path = ws.path("wrong.json");
    script(&path, &replies);
    let policy = format!("scripted:{}", path.display());
    let (output, summary) = ws.json(&[
        "run",
        "--task",
        "demo__numerals-1",
        "--policy",
        &policy,
        "--supervise",
        "shadow",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        summary["resolved"], 0,
        "the wrong edit ran, so the task stays unresolved"
    );
    assert_eq!(summary["interventions"], 2);
}

#[test]
fn commands_that_hang_or_flood_are_recorded_not_fatal() {
    let ws = Workspace::new();
    let replies = vec![
        call("bash", &[("command", "sleep 600"), ("timeout", "1")]),
        call(
            "bash",
            &[("command", "head -c 50000000 /dev/zero | tr '\\0' x")],
        ),
        call("submit", &[]),
    ];
    let path = ws.path("noisy.json");
    script(&path, &replies);
    let policy = format!("scripted:{}", path.display());
    let (output, summary) = ws.json(&[
        "run",
        "--task",
        "demo__numerals-1",
        "--policy",
        &policy,
        "--supervisor",
        "none",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let steps = ws.first_episode_steps(&summary);
    assert!(
        steps[0]["observation"]
            .as_str()
            .unwrap()
            .contains("timed out"),
        "{}",
        steps[0]["observation"]
    );
    let flood = steps[1]["observation"].as_str().unwrap();
    assert!(
        flood.len() < 40_000 && flood.contains("elided"),
        "{}",
        flood.len()
    );
    assert_eq!(summary["resolved"], 0);
}

#[test]
fn stuck_mode_asks_only_when_the_agent_loops_and_the_oracle_hints() {
    let ws = Workspace::new();
    let failing = call(
        "bash",
        &[("command", "python3 -c 'import sys; sys.exit(1)'")],
    );
    let path = ws.path("loop.json");
    script(
        &path,
        &[
            failing.clone(),
            failing.clone(),
            failing,
            call("submit", &[]),
        ],
    );
    let policy = format!("scripted:{}", path.display());
    let (output, summary) = ws.json(&[
        "run",
        "--task",
        "demo__numerals-1",
        "--policy",
        &policy,
        "--supervise",
        "stuck",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let steps = ws.first_episode_steps(&summary);
    let verdicts: Vec<Value> = steps.iter().map(|s| s["verdict"].clone()).collect();
    assert_eq!(
        verdicts,
        [Value::Null, "hint".into(), "hint".into(), Value::Null]
    );
    assert!(
        steps[1]["observation"]
            .as_str()
            .unwrap()
            .contains("Supervisor hint: The problem is in `numerals/convert.py`")
    );
    assert_eq!(steps[1]["verdict_detail"]["trigger"]["trigger"], "stuck");
    assert_eq!(summary["interventions"], 2);
    assert_eq!(summary["intervention_rate"], 0.5);
}
