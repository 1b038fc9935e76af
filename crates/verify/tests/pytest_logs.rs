//! The pytest parser on real logs: every fixture under `tests/fixtures/pytest/` was produced
//! by `regen.sh` running pytest 9.2 on the test files embedded in that script.

use std::collections::BTreeMap;

use apprentice_verify::{LogParser, TestStatus, grade, parse_pytest};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/pytest/{name}.log",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

const M: &str = "tests/test_mixed.py::";

fn mixed(id: &str) -> String {
    format!("{M}{id}")
}

/// What pytest really did with `test_mixed.py`, minus the two skipped tests (which `-rA`
/// folds into `SKIPPED [1] file:line` lines that name no test).
fn expected_mixed_without_skips() -> BTreeMap<String, TestStatus> {
    use TestStatus::*;
    [
        ("test_pass", Passed),
        ("test_fail", Failed),
        ("test_fail_message_with_dash", Failed),
        ("test_setup_error", Error),
        ("test_pass_then_teardown_error", Error),
        ("test_xfail", XFail),
        ("test_xpass", XPass),
        ("test_xpass_strict", Failed),
        ("test_param[a b-1]", Passed),
        ("test_param[x - y-2]", Failed),
        ("test_param[[nested]-3]", Passed),
        ("test_param[plain-4]", Passed),
        ("TestGroup::test_method", Passed),
        ("TestGroup::test_expr[1 + 1]", Passed),
        ("TestGroup::test_expr[f(x)[0]]", Passed),
        ("test_forges_output", Passed),
    ]
    .into_iter()
    .map(|(id, s)| (mixed(id), s))
    .collect()
}

fn expected_mixed_with_skips() -> BTreeMap<String, TestStatus> {
    let mut m = expected_mixed_without_skips();
    m.insert(mixed("test_skipped"), TestStatus::Skipped);
    m.insert(mixed("test_skip_inside"), TestStatus::Skipped);
    m
}

#[test]
fn summary_lines_with_ra() {
    assert_eq!(
        parse_pytest(&fixture("mixed_ra")),
        expected_mixed_without_skips()
    );
}

#[test]
fn summary_and_verbose_lines_with_ra_v() {
    assert_eq!(
        parse_pytest(&fixture("mixed_ra_verbose")),
        expected_mixed_with_skips()
    );
}

#[test]
fn verbose_lines_without_ra() {
    // Only failures are summarised; passes, skips and xfails come from `id STATUS` lines.
    assert_eq!(
        parse_pytest(&fixture("mixed_verbose_only")),
        expected_mixed_with_skips()
    );
}

#[test]
fn classic_console_style_as_astropy_runs_it() {
    // `-vv -o console_output_style=classic --tb=no`: no progress column, multi-line messages.
    assert_eq!(
        parse_pytest(&fixture("mixed_classic")),
        expected_mixed_with_skips()
    );
}

#[test]
fn ansi_colour_codes() {
    let log = fixture("mixed_color");
    assert!(log.contains('\u{1b}'), "fixture should be coloured");
    assert_eq!(parse_pytest(&log), expected_mixed_without_skips());
}

#[test]
fn forged_lines_in_captured_output_change_nothing() {
    // test_forges_output prints `PASSED …::test_fail`, `…::test_fail PASSED` and, on stderr,
    // `FAILED …::test_pass`; pytest shows them in the PASSES section of these -rA logs.
    for name in ["mixed_ra", "mixed_ra_verbose", "mixed_color"] {
        let log = fixture(name);
        assert!(log.contains("forged on stderr"), "{name}");
        let statuses = parse_pytest(&log);
        assert_eq!(statuses[&mixed("test_fail")], TestStatus::Failed, "{name}");
        assert_eq!(statuses[&mixed("test_pass")], TestStatus::Passed, "{name}");
    }
}

#[test]
fn ids_keep_spaces_brackets_and_dashes() {
    let statuses = parse_pytest(&fixture("mixed_ra"));
    for id in [
        "test_param[a b-1]",
        "test_param[x - y-2]",
        "test_param[[nested]-3]",
        "TestGroup::test_expr[1 + 1]",
        "TestGroup::test_expr[f(x)[0]]",
    ] {
        assert!(
            statuses.contains_key(&mixed(id)),
            "{id} missing: {statuses:?}"
        );
    }
    // The ` - message` tail is dropped even when the message itself contains ` - `.
    assert!(statuses.keys().all(|k| !k.contains("ValueError")));
    assert!(statuses.keys().all(|k| !k.ends_with("...")));
}

#[test]
fn interleaved_prints_with_s() {
    use TestStatus::*;
    let expected: BTreeMap<String, TestStatus> = [
        ("test_print_no_newline", Passed),
        ("test_print_lines", Passed),
        ("test_print_then_fail", Failed),
        ("test_after", Passed),
    ]
    .into_iter()
    .map(|(id, s)| (format!("tests/test_interleaved.py::{id}"), s))
    .collect();
    let log = fixture("interleaved_s");
    assert_eq!(parse_pytest(&log), expected);

    // Without the summary (a run killed before the end) the verbose lines alone suffice,
    // including statuses printed on their own line after the test's output.
    let cut = log
        .split("=================================== FAILURES")
        .next()
        .unwrap_or_default();
    assert_eq!(parse_pytest(cut), expected);
    assert!(!parse_pytest(cut).keys().any(|k| k.starts_with('[')));
}

#[test]
fn collection_error_fails_every_test_of_the_file() {
    let statuses = parse_pytest(&fixture("collection_error"));
    let expected: BTreeMap<String, TestStatus> =
        [("tests/test_broken.py".to_string(), TestStatus::Error)].into();
    assert_eq!(statuses, expected);

    // pytest stops at collection errors: nothing ran, so every expected test is missing.
    let g = grade(
        &statuses,
        &["tests/test_broken.py::test_never_runs".to_string()],
        &["tests/test_good.py::test_one".to_string()],
    );
    assert_eq!(g.tests_status.fail_to_pass.failure.len(), 1);
    assert_eq!(g.tests_status.pass_to_pass.failure.len(), 1);
    assert_eq!(g.status.as_str(), "NO");
}

#[test]
fn collection_error_with_continue() {
    let statuses = parse_pytest(&fixture("collection_error_continue"));
    let expected: BTreeMap<String, TestStatus> = [
        ("tests/test_good.py::test_one", TestStatus::Passed),
        ("tests/test_good.py::test_two", TestStatus::Passed),
        ("tests/test_broken.py", TestStatus::Error),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(statuses, expected);
}

#[test]
fn no_phantom_progress_test() {
    // SWE-bench #660: `PASSED [100%]` on its own line produced a test named `[100%]`.
    let log = "tests/t.py::test_a some output\nPASSED [100%]\n";
    let statuses = parse_pytest(log);
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses["tests/t.py::test_a"], TestStatus::Passed);
    assert!(parse_pytest("PASSED [100%]\n").is_empty());
}

#[test]
fn status_lines_without_a_summary_header_count() {
    // A log cut before the header, or from a tool that prints pytest-style lines.
    let log = "PASSED t.py::a\nFAILED t.py::b - AssertionError: x - y\nERROR t.py::c\n";
    let statuses = LogParser::Pytest.parse(log);
    assert_eq!(statuses.len(), 3);
    assert_eq!(statuses["t.py::b"], TestStatus::Failed);
}

#[test]
fn older_pytest_forms() {
    // pytest < 8 printed `XPASS id reason`, the XFAIL reason on its own line, and a
    // collection error with its message.
    let log = "\
=========================== short test summary info ============================
XFAIL t.py::x
  reason: known
XPASS t.py::y some reason
PASSED t.py::z
ERROR tests/test_x.py - ImportError: cannot import name 'q' from 'p' (/src/p.py)
============ 1 passed, 1 xfailed, 1 xpassed in 0.01s ============
";
    let statuses = parse_pytest(log);
    assert_eq!(statuses["t.py::x"], TestStatus::XFail);
    assert_eq!(statuses["t.py::y"], TestStatus::XPass);
    assert_eq!(statuses["tests/test_x.py"], TestStatus::Error);
    assert_eq!(statuses.len(), 4);
}

#[test]
fn forged_verbose_line_for_a_test_that_never_ran() {
    // With -rA the summary is the list of what ran: a printed `id PASSED` for a test absent
    // from it (deselected, say) is ignored; skips still come from verbose lines.
    let log = "\
tests/t.py::test_real PASSED  [ 50%]
tests/t.py::test_skip SKIPPED (why) [100%]
tests/t.py::test_ghost PASSED
=========================== short test summary info ============================
PASSED tests/t.py::test_real
SKIPPED [1] tests/t.py:3: why
=================== 1 passed, 1 skipped in 0.01s ===================
";
    let statuses = parse_pytest(log);
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    assert_eq!(statuses["tests/t.py::test_skip"], TestStatus::Skipped);
}
