//! SWE-bench's grading rules as a truth table.

use std::collections::BTreeMap;

use apprentice_verify::{
    Grade, ResolutionStatus, TestStatus, grade, lookup, resolution, test_maintained, test_passed,
};

fn map(entries: &[(&str, TestStatus)]) -> BTreeMap<String, TestStatus> {
    entries.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn g(statuses: &[(&str, TestStatus)], f2p: &[&str], p2p: &[&str]) -> Grade {
    grade(&map(statuses), &names(f2p), &names(p2p))
}

#[test]
fn per_status_rules() {
    use TestStatus::*;
    // (status, counts for FAIL_TO_PASS, counts for PASS_TO_PASS)
    let table: [(Option<TestStatus>, bool, bool); 7] = [
        (Some(Passed), true, true),
        (Some(XFail), true, true),
        (Some(Skipped), false, true), // v5: skipped F2P fails, skipped P2P is maintained
        (Some(Failed), false, false),
        (Some(Error), false, false),
        (Some(XPass), false, false), // SWE-bench drops XPASS lines: missing = fail
        (None, false, false),        // missing never passes
    ];
    for (status, f2p_ok, p2p_ok) in table {
        assert_eq!(test_passed(status), f2p_ok, "F2P {status:?}");
        assert_eq!(test_maintained(status), p2p_ok, "P2P {status:?}");

        let statuses: Vec<(&str, TestStatus)> = status.map(|s| ("t::x", s)).into_iter().collect();
        let as_f2p = g(&statuses, &["t::x"], &[]);
        assert_eq!(
            as_f2p.tests_status.fail_to_pass.success.len(),
            usize::from(f2p_ok)
        );
        assert_eq!(
            as_f2p.tests_status.fail_to_pass.failure.len(),
            usize::from(!f2p_ok)
        );
        let as_p2p = g(&statuses, &[], &["t::x"]);
        assert_eq!(
            as_p2p.tests_status.pass_to_pass.success.len(),
            usize::from(p2p_ok)
        );
        assert_eq!(
            as_p2p.tests_status.pass_to_pass.failure.len(),
            usize::from(!p2p_ok)
        );
    }
}

#[test]
fn resolution_truth_table() {
    use ResolutionStatus::*;
    let table = [
        (1.0, 1.0, Full),
        (0.5, 1.0, Partial),
        (0.0, 1.0, No),
        (1.0, 0.5, No),
        (0.5, 0.5, No),
        (0.0, 0.0, No),
    ];
    for (f2p, p2p, expected) in table {
        assert_eq!(resolution(f2p, p2p), expected, "f2p={f2p} p2p={p2p}");
    }
    assert!(Full.is_resolved());
    assert!(!Partial.is_resolved());
    assert!(!No.is_resolved());
    assert!(!Error.is_resolved());
}

#[test]
fn full_partial_no() {
    use TestStatus::*;
    let log = [
        ("f1", Passed),
        ("f2", Failed),
        ("f3", XFail),
        ("p1", Passed),
        ("p2", Skipped),
        ("p3", Failed),
    ];
    let full = g(&log, &["f1", "f3"], &["p1", "p2"]);
    assert_eq!(full.status, ResolutionStatus::Full);
    assert_eq!((full.f2p_rate, full.p2p_rate), (1.0, 1.0));

    let partial = g(&log, &["f1", "f2"], &["p1"]);
    assert_eq!(partial.status, ResolutionStatus::Partial);
    assert_eq!(partial.f2p_rate, 0.5);

    let none_fixed = g(&log, &["f2"], &["p1"]);
    assert_eq!(none_fixed.status, ResolutionStatus::No);

    let regression = g(&log, &["f1"], &["p1", "p3"]);
    assert_eq!(regression.status, ResolutionStatus::No);
    assert_eq!(regression.p2p_rate, 0.5);
    assert_eq!(regression.tests_status.pass_to_pass.failure, names(&["p3"]));

    let partial_with_regression = g(&log, &["f1", "f2"], &["p3"]);
    assert_eq!(partial_with_regression.status, ResolutionStatus::No);
}

#[test]
fn empty_lists_score_one() {
    let nothing = g(&[], &[], &[]);
    assert_eq!(nothing.status, ResolutionStatus::Full);
    assert_eq!((nothing.f2p_rate, nothing.p2p_rate), (1.0, 1.0));

    let only_p2p = g(&[("p", TestStatus::Passed)], &[], &["p"]);
    assert_eq!(only_p2p.status, ResolutionStatus::Full);

    let only_f2p_missing = g(&[], &["f"], &[]);
    assert_eq!(only_f2p_missing.status, ResolutionStatus::No);
}

#[test]
fn empty_log_resolves_nothing() {
    // "Missing test = pass" (SWE-smith#24) must not happen: an empty log fails everything.
    let r = g(&[], &["f1", "f2"], &["p1"]);
    assert_eq!(r.status, ResolutionStatus::No);
    assert_eq!(r.tests_status.fail_to_pass.failure.len(), 2);
    assert_eq!(r.tests_status.pass_to_pass.failure.len(), 1);
    assert_eq!((r.f2p_rate, r.p2p_rate), (0.0, 0.0));
}

#[test]
fn every_expected_test_lands_in_exactly_one_bucket() {
    use TestStatus::*;
    let all = [Passed, Failed, Skipped, Error, XFail, XPass];
    let statuses: Vec<(String, TestStatus)> = all
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("t{i}"), *s))
        .collect();
    let statuses: BTreeMap<String, TestStatus> = statuses.into_iter().collect();
    let expected: Vec<String> = (0..7).map(|i| format!("t{i}")).collect();
    let r = grade(&statuses, &expected, &expected);
    let f = &r.tests_status.fail_to_pass;
    let p = &r.tests_status.pass_to_pass;
    assert_eq!(f.success.len() + f.failure.len(), 7);
    assert_eq!(p.success.len() + p.failure.len(), 7);
    assert_eq!(f.success, names(&["t0", "t4"]));
    assert_eq!(p.success, names(&["t0", "t2", "t4"]));
}

#[test]
fn truncated_parametrised_ids_match_by_prefix_when_unambiguous() {
    use TestStatus::*;
    let statuses = map(&[
        ("t.py::test_x[log(photon)-1]", Passed),
        ("t.py::test_x[log(photon)-2]", Passed),
        ("t.py::test_y[a-1]", Passed),
        ("t.py::test_y[a-2]", Failed),
    ]);
    assert_eq!(lookup(&statuses, "t.py::test_x[log(photon"), Some(Passed));
    assert_eq!(
        lookup(&statuses, "t.py::test_y[a"),
        None,
        "candidates disagree"
    );
    assert_eq!(
        lookup(&statuses, "t.py::test_x"),
        None,
        "balanced ids match exactly"
    );
    assert_eq!(lookup(&statuses, "t.py::test_z[q"), None);
}

#[test]
fn tests_status_json_uses_swebench_keys() {
    let r = g(&[("a", TestStatus::Passed)], &["a"], &["b"]);
    let json = serde_json::to_value(&r.tests_status).expect("serialisable");
    assert_eq!(json["FAIL_TO_PASS"]["success"][0], "a");
    assert_eq!(json["PASS_TO_PASS"]["failure"][0], "b");
    assert!(
        json["FAIL_TO_FAIL"]["success"]
            .as_array()
            .is_some_and(|a| a.is_empty())
    );
    assert!(
        json["PASS_TO_FAIL"]["failure"]
            .as_array()
            .is_some_and(|a| a.is_empty())
    );
    assert_eq!(
        serde_json::to_value(ResolutionStatus::Partial).ok(),
        Some("PARTIAL".into())
    );
    assert_eq!(
        serde_json::to_value(TestStatus::XFail).ok(),
        Some("XFAIL".into())
    );
}
