//! `apprentice ensemble` on demo tasks with scripted members whose outcomes are known, checked
//! strategy by strategy and number by number (real git, pytest and SQLite).

mod common;

use common::{Workspace, call, script, stderr, wrong_numerals_edit};
use serde_json::Value;

const NUMERALS: &str = "demo__numerals-1";
const CALCY: &str = "demo__calcy-1";

/// A member that makes the wrong numerals fix (it narrows the range, which breaks the visible
/// test for 1) and then submits; on other tasks its edit fails and it submits nothing.
fn wrong_member(ws: &Workspace) -> String {
    let path = ws.path("wrong.json");
    script(&path, &[wrong_numerals_edit(), call("submit", &[])]);
    format!("scripted:{}", path.display())
}

fn ensemble(ws: &Workspace, tasks: &[&str], policies: &[&str], extra: &[&str]) -> Value {
    let mut args: Vec<&str> = vec!["ensemble", "--tasks", "demo", "--max-steps", "6"];
    for t in tasks {
        args.extend(["--task", t]);
    }
    for p in policies {
        args.extend(["--policy", p]);
    }
    args.extend(extra);
    let (output, report) = ws.json(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    report
}

fn choice<'a>(report: &'a Value, task: &str, strategy: &str) -> &'a Value {
    let detail = report["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task"] == task)
        .unwrap();
    detail["choices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["strategy"] == strategy)
        .unwrap()
}

fn resolved(report: &Value, strategy: &str) -> u64 {
    let s = report["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == strategy)
        .unwrap();
    s["resolved"].as_u64().unwrap()
}

/// Gold against two identical wrong fixes: the wrong pair outvotes gold, the visible tests
/// catch it (it breaks an existing test), union is the upper bound.
#[test]
fn majority_follows_the_crowd_and_tests_catch_the_breakage() {
    let ws = Workspace::new();
    let wrong = wrong_member(&ws);
    let report = ensemble(
        &ws,
        &[NUMERALS, CALCY],
        &["scripted:gold", &wrong, &wrong],
        &["--supervisor", "none", "--name", "ens"],
    );
    assert_eq!(report["tasks"], 2);
    let members = report["members"].as_array().unwrap();
    let counts: Vec<u64> = members
        .iter()
        .map(|m| m["resolved"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [2, 0, 0]);
    assert_eq!(members[0]["resolve_rate"], 1.0);
    let mut only: Vec<String> = members[0]["only_solved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    only.sort();
    assert_eq!(only, [CALCY, NUMERALS]);
    assert_eq!(members[1]["only_solved"], serde_json::json!([]));
    assert_eq!(members[0]["run"], "ens-m1");
    assert_eq!(members[0]["cost_usd"], 0.0);
    assert_eq!(
        report["overlap"],
        serde_json::json!([[2, 0, 0], [0, 0, 0], [0, 0, 0]])
    );

    assert_eq!(resolved(&report, "union"), 2);
    assert_eq!(resolved(&report, "majority"), 1);
    assert_eq!(resolved(&report, "tests"), 2);
    let union = report["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "union")
        .unwrap();
    assert_eq!(union["upper_bound"], true);

    let majority = choice(&report, NUMERALS, "majority");
    assert_eq!(majority["member"], 1, "{majority:#}");
    assert_eq!(majority["resolved"], false);
    assert_eq!(
        majority["detail"]["clusters"][0]["members"],
        serde_json::json!([1, 2])
    );
    let tests = choice(&report, NUMERALS, "tests");
    assert_eq!(tests["member"], 0, "{tests:#}");
    assert_eq!(tests["resolved"], true);
    assert_eq!(tests["grade"], "FULL");
    let scores = tests["detail"]["scores"].as_array().unwrap();
    let wrong_score = scores.iter().find(|s| s["member"] == 1).unwrap();
    assert!(
        wrong_score["score"]["broken"].as_u64().unwrap() >= 1,
        "{scores:?}"
    );
    let gold_score = scores.iter().find(|s| s["member"] == 0).unwrap();
    assert_eq!(
        gold_score["score"],
        serde_json::json!({"fixed": 0, "broken": 0})
    );
    // Members with no source change never vote: calcy has one candidate.
    assert_eq!(choice(&report, CALCY, "majority")["member"], 0);

    // Every member is an ordinary stored run.
    let (_, shown) = ws.json(&["show", "ens-m2"]);
    assert_eq!(shown["episodes"], 2);
    assert_eq!(shown["resolved"], 0);
}

/// A one-one tie between a wrong fix (first) and gold: without a supervisor the smaller
/// patch, then the first member, wins; with the oracle (in shadow mode, so the members' patches
/// are their own) the approved one does.
#[test]
fn majority_ties_go_to_the_supervisor_when_there_is_one() {
    let ws = Workspace::new();
    let wrong = wrong_member(&ws);
    let policies = [wrong.as_str(), "scripted:gold"];
    let plain = ensemble(
        &ws,
        &[NUMERALS],
        &policies,
        &[
            "--supervisor",
            "none",
            "--select",
            "majority",
            "--name",
            "plain",
        ],
    );
    let c = choice(&plain, NUMERALS, "majority");
    assert_eq!(
        (c["member"].as_u64(), c["resolved"].as_bool()),
        (Some(0), Some(false)),
        "{c:#}"
    );
    assert_eq!(c["detail"]["supervisor_asked"], false);
    assert_eq!(plain["strategies"].as_array().unwrap().len(), 1);

    let judged = ensemble(
        &ws,
        &[NUMERALS],
        &policies,
        &[
            "--supervisor",
            "oracle",
            "--supervise",
            "shadow",
            "--select",
            "majority",
            "--name",
            "judged",
        ],
    );
    let c = choice(&judged, NUMERALS, "majority");
    assert_eq!(c["detail"]["supervisor_asked"], true);
    assert_eq!(c["detail"]["supervisor_approved"], serde_json::json!([1]));
    assert_eq!(
        (c["member"].as_u64(), c["resolved"].as_bool()),
        (Some(1), Some(true)),
        "{c:#}"
    );
}

/// The hidden tests would pick gold; the visible ones (the repository's tests plus an agent's
/// test that pins the bug) pick the other member. `tests` follows what it can see, and the
/// hidden FAIL_TO_PASS tests never run in its sandboxes.
#[test]
fn tests_selection_never_sees_the_hidden_tests() {
    let ws = Workspace::new();
    let pinning_test = "import pytest\n\nfrom numerals import OutOfRangeError, to_roman\n\n\ndef test_3999_is_out_of_range():\n    with pytest.raises(OutOfRangeError):\n        to_roman(3999)\n";
    let path = ws.path("pin.json");
    script(
        &path,
        &[
            call(
                "str_replace",
                &[
                    ("path", "numerals/convert.py"),
                    ("old_str", "(inclusive) to a Roman numeral."),
                    ("new_str", "(inclusive) to a Roman numeral string."),
                ],
            ),
            call(
                "create",
                &[("path", "tests/test_limit.py"), ("content", pinning_test)],
            ),
            call("submit", &[]),
        ],
    );
    let pin = format!("scripted:{}", path.display());
    let report = ensemble(
        &ws,
        &[NUMERALS],
        &["scripted:gold", &pin],
        &[
            "--supervisor",
            "none",
            "--select",
            "union,tests",
            "--name",
            "hidden",
        ],
    );
    let tests = choice(&report, NUMERALS, "tests");
    assert_eq!(tests["member"], 1, "{tests:#}");
    assert_eq!(tests["resolved"], false);
    assert_eq!(
        tests["detail"]["agent_tests"],
        serde_json::json!(["tests/test_limit.py"])
    );
    let run: Vec<&str> = tests["detail"]["tests_run"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        run.contains(&"tests/test_limit.py::test_3999_is_out_of_range"),
        "{run:?}"
    );
    assert!(
        run.iter()
            .any(|t| t.starts_with("tests/test_convert.py::test_to_roman["))
    );
    for hidden in [
        "test_round_trip_whole_range",
        "test_to_roman[3999-MMMCMXCIX]",
    ] {
        assert!(
            !run.iter().any(|t| t.contains(hidden)),
            "{hidden} ran: {run:?}"
        );
    }
    assert_eq!(resolved(&report, "union"), 1);
    assert_eq!(resolved(&report, "tests"), 0);
}

#[test]
fn bad_ensemble_input_is_a_one_line_error() {
    let ws = Workspace::new();
    let out = ws
        .cmd()
        .args([
            "ensemble",
            "--policy",
            "scripted:gold",
            "--policy",
            "scripted:gold",
            "--select",
            "vote",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown selection strategy `vote`"),
        "{}",
        stderr(&out)
    );
    let out = ws
        .cmd()
        .args(["ensemble", "--policy", "scripted:gold"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
