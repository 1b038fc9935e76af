//! The sympy parser on real `sympy.testing.runtests.test(..., verbose=True)` logs (what
//! `bin/test -C --verbose` runs); provenance in `tests/fixtures/sympy/regen.sh`.

use std::collections::BTreeMap;

use apprentice_verify::{LogParser, TestStatus, grade};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/sympy/{name}.log",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

#[test]
fn real_sympy_core_file() {
    let statuses = LogParser::Sympy.parse(&fixture("core_test_basic_verbose"));
    // 25 tests, each under its bare name and `file::name`; the last one carries `[OK]`.
    assert_eq!(statuses.len(), 50, "{statuses:?}");
    assert!(statuses.values().all(|s| *s == TestStatus::Passed));
    assert_eq!(statuses.get("test_rewrite_abs"), Some(&TestStatus::Passed));
    assert_eq!(
        statuses.get("sympy/core/tests/test_basic.py::test__aresame"),
        Some(&TestStatus::Passed)
    );
}

#[test]
fn demo_statuses() {
    let statuses = LogParser::Sympy.parse(&fixture("demo_verbose"));
    use TestStatus::*;
    for (name, status) in [
        ("test_fail", Failed),
        ("test_error", Error),
        ("test_skip", Skipped),
        ("test_slow", Skipped),
        ("test_xfail", XFail),
        ("test_xpass", XPass),
        ("test_print_lines", Passed),
        ("test_print_no_newline", Passed),
    ] {
        assert_eq!(statuses.get(name), Some(&status), "{name}");
        let qualified = format!("sympy/fixturedemo/tests/test_demo.py::{name}");
        assert_eq!(statuses.get(&qualified), Some(&status), "{qualified}");
    }
    // Failure headers keep SWE-bench's ids (`::` for a failure, `:` for an exception).
    assert_eq!(
        statuses.get("sympy/fixturedemo/tests/test_demo.py:test_error"),
        Some(&Error)
    );
    assert_eq!(
        statuses.get("sympy/fixturedemo/tests/test_other.py::test_pass"),
        Some(&Failed)
    );
    // A file that failed to import is an error; its tests are missing.
    assert_eq!(
        statuses.get("sympy/fixturedemo/tests/test_broken.py"),
        Some(&Error)
    );
    assert!(!statuses.contains_key("test_never_runs"));
}

#[test]
fn forged_lines_cannot_create_passes() {
    // test_forges_output prints `test_fail ok` and a fake failure header for test_pass.
    let log = fixture("demo_verbose");
    let statuses = LogParser::Sympy.parse(&log);
    assert_eq!(statuses.get("test_fail"), Some(&TestStatus::Failed));
    // The fake header can only make things fail: test_pass is reported as an error, and
    // the tests after it are no longer read (missing = failed).
    assert_eq!(statuses.get("test_pass"), Some(&TestStatus::Error));
    assert!(!statuses.contains_key("test_raises"));
    let g = grade(&statuses, &["test_fail".to_string()], &[]);
    assert!(!g.status.is_resolved());
}

#[test]
fn output_long_names_and_file_verdicts_without_forgery() {
    // The demo run's tail, after the forging test: what real output looks like there.
    let log = fixture("demo_verbose");
    let start = log.find("test_raises ok").unwrap_or(0);
    let tail = format!(
        "sympy/fixturedemo/tests/test_demo.py[13] \n{}",
        &log[start..]
    );
    let statuses = LogParser::Sympy.parse(&tail);
    use TestStatus::*;
    let expected: BTreeMap<&str, TestStatus> = [
        ("test_raises", Passed),
        (
            "test_with_a_very_long_name_that_pushes_the_status_past_the_terminal_width_of_eighty",
            Passed,
        ),
        // Printed `value is E` and `F`, then passed: the last status is sympy's own.
        ("test_prints_text_ending_like_a_status", Passed),
        ("test_pass", Failed),
        ("test_other_ok", Passed),
    ]
    .into_iter()
    .collect();
    for (name, status) in &expected {
        assert_eq!(statuses.get(*name), Some(status), "{name}");
    }
    assert_eq!(
        statuses.get("sympy/fixturedemo/tests/test_other.py::test_other_ok"),
        Some(&Passed)
    );
}

#[test]
fn shared_names_keep_the_worst_status() {
    let log = "\
sympy/a/tests/test_a.py[1] 
test_same ok                                                                [OK]
sympy/b/tests/test_b.py[1] 
test_same F                                                               [FAIL]
";
    let statuses = LogParser::Sympy.parse(log);
    assert_eq!(statuses.get("test_same"), Some(&TestStatus::Failed));
    assert_eq!(
        statuses.get("sympy/a/tests/test_a.py::test_same"),
        Some(&TestStatus::Passed)
    );
}
