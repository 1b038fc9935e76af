//! `apprentice loop` end to end with a scripted policy and the oracle supervisor (no model,
//! no training): two rounds on four demo tasks, real git, pytest and SQLite.

mod common;

use common::{Workspace, call, script, stderr};
use serde_json::{Value, json};

/// Every episode: a reply that is no tool call, a destructive command the oracle rejects (or,
/// in shadow mode, would reject), a harmless one it approves; then the step budget ends it.
fn replies() -> Vec<String> {
    vec![
        "I will look around first.".to_string(),
        call("bash", &[("command", "git stash list")]),
        call("bash", &[("command", "ls")]),
    ]
}

fn metrics(episodes: u64) -> Value {
    json!({
        "episodes": episodes,
        "resolved": 0,
        "resolve_rate": 0.0,
        "proposals": 2 * episodes,
        "interventions": episodes,
        "intervention_rate": 0.5,
        "format_errors": episodes,
        "format_error_rate": 1.0 / 3.0,
        "steps": 3 * episodes,
        "steps_per_episode": 3.0,
        "infra_errors": 0,
    })
}

/// The fields of `actual` named in `expected`.
fn pick(actual: &Value, expected: &Value) -> Value {
    let keys = expected.as_object().unwrap().keys();
    Value::Object(keys.map(|k| (k.clone(), actual[k].clone())).collect())
}

#[test]
fn two_measured_rounds_store_ordinary_runs_and_plot_both_splits() {
    let ws = Workspace::new();
    let path = ws.path("replies.json");
    script(&path, &replies());
    let policy = format!("scripted:{}", path.display());
    let out = ws.path("out");
    let (output, report) = ws.json(&[
        "loop",
        "--tasks",
        "demo",
        "--limit",
        "4",
        "--rounds",
        "2",
        "--policy",
        &policy,
        "--train",
        "none",
        "--max-steps",
        "3",
        "--name",
        "l",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(report["loop"], "l");
    let rounds = report["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 2);
    // With --held-out 0.3 and seed 0, one of the first four demo tasks is held out.
    for (i, round) in rounds.iter().enumerate() {
        let n = i + 1;
        assert_eq!(round["round"], n);
        assert_eq!(round["policy"], policy.as_str());
        assert_eq!(round["adapter"], Value::Null);
        assert_eq!(round["training"], Value::Null);
        assert_eq!(pick(&round["train"], &metrics(3)), metrics(3), "round {n}");
        assert_eq!(
            pick(&round["held_out"], &metrics(1)),
            metrics(1),
            "round {n}"
        );
        assert_eq!(round["train"]["run"], format!("l-r{n}-train"));
        assert_eq!(round["held_out"]["run"], format!("l-r{n}-heldout"));
    }

    // The rounds are ordinary runs; held-out tasks ran in shadow mode.
    let (_, held_out) = ws.json(&["show", "l-r1-heldout"]);
    assert_eq!(held_out["config"]["supervise"], "shadow");
    assert_eq!(held_out["interventions"], 1);
    let (_, train) = ws.json(&["show", "l-r2-train"]);
    assert_eq!(train["config"]["supervise"], "every");
    assert_eq!(train["episodes"], 3);

    let plot = report["plot"].as_str().unwrap();
    assert!(plot.starts_with(out.to_str().unwrap()));
    let svg = std::fs::read_to_string(plot).unwrap();
    assert!(
        svg.contains(">train<") && svg.contains(">held-out (shadow)<"),
        "{svg}"
    );
    assert_eq!(svg.matches("<path").count(), 2);
    assert!(std::path::Path::new(report["plots"][1].as_str().unwrap()).exists());

    // Resuming a finished loop redoes nothing and prints its table.
    let output = ws.cmd().args(["loop", "--resume", "l"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let table = String::from_utf8_lossy(&output.stdout);
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .filter(|cells: &Vec<&str>| cells.first().is_some_and(|c| c.parse::<u32>().is_ok()))
        .collect();
    let expected_train = ["3", "0/3", "50.0%", "33.3%", "3.0", "6"];
    let expected_held_out = ["1", "0/1", "50.0%", "33.3%", "3.0", "2"];
    assert_eq!(rows[0][..2], ["1", "train"], "{table}");
    assert_eq!(rows[0][2..], expected_train, "{table}");
    assert_eq!(rows[1][..2], ["1", "held-out"]);
    assert_eq!(rows[1][2..], expected_held_out, "{table}");
    assert_eq!(rows[3][2..], expected_held_out, "{table}");
    let (_, shown) = ws.json(&["show", "l-r1-train"]);
    assert_eq!(shown["episodes"], 3, "the resume ran no more episodes");
}

#[test]
fn training_needs_weights_and_a_split_with_two_sides() {
    let ws = Workspace::new();
    let output = ws
        .cmd()
        .args(["loop", "--tasks", "demo", "--policy", "scripted:gold"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--train none"),
        "{}",
        stderr(&output)
    );
    let output = ws
        .cmd()
        .args([
            "loop",
            "--tasks",
            "demo",
            "--limit",
            "1",
            "--policy",
            "scripted:gold",
        ])
        .args(["--train", "none"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("both sides"),
        "{}",
        stderr(&output)
    );
}
