//! The Django parser on real logs from Django's own `tests/runtests.py --verbosity 2
//! --settings=test_sqlite --parallel 1` (the SWE-bench command); provenance in
//! `tests/fixtures/django/regen.sh`. `demo_fixture_tests.py` is the test module that ran.

use std::collections::BTreeMap;

use apprentice_verify::{LogParser, TestStatus, grade};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/django/{name}.log",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn parse(name: &str) -> BTreeMap<String, TestStatus> {
    LogParser::Django.parse(&fixture(name))
}

/// (method, class, status) of the demo module's tests that have no docstring.
const DEMO: &[(&str, &str, TestStatus)] = {
    use TestStatus::*;
    &[
        ("test_pass", "PlainTests", Passed),
        ("test_fail", "PlainTests", Failed),
        ("test_error", "PlainTests", Error),
        ("test_skipped", "PlainTests", Skipped),
        ("test_skip_inside", "PlainTests", Skipped),
        ("test_expected_failure", "PlainTests", XFail),
        ("test_unexpected_success", "PlainTests", XPass),
        ("test_print_lines", "OutputTests", Passed),
        ("test_print_no_newline", "OutputTests", Passed),
        ("test_stderr", "OutputTests", Passed),
        ("test_print_then_fail", "OutputTests", Failed),
        ("test_subtests", "OutputTests", Failed),
        ("test_db", "ModelTests", Passed),
    ]
};

/// Docstring-named tests: the id is the docstring's first line, as in SWE-bench's lists.
const DOCSTRINGS: &[(&str, TestStatus)] = &[
    (
        "Paginator.get_page() with an empty object_list.",
        TestStatus::Passed,
    ),
    (
        "A docstring whose first line is the test's name",
        TestStatus::Passed,
    ),
    (
        "A failing test with a docstring ... and dots.",
        TestStatus::Failed,
    ),
    ("An erroring test with a docstring.", TestStatus::Error),
    ("Regression test.", TestStatus::Passed),
];

fn check_demo(statuses: &BTreeMap<String, TestStatus>, id: impl Fn(&str, &str) -> String) {
    for (method, class, status) in DEMO {
        let id = id(method, class);
        assert_eq!(statuses.get(&id), Some(status), "{id}");
    }
    for (id, status) in DOCSTRINGS {
        assert_eq!(statuses.get(*id), Some(status), "{id}");
    }
    // A failing subtest is reported under its own id as well.
    let sub = format!("{} (i=1)", id("test_subtests", "OutputTests"));
    assert_eq!(statuses.get(&sub), Some(&TestStatus::Failed));
    assert_eq!(
        statuses.get("setUpClass (demo_fixture.tests.BrokenSetUpClass)"),
        Some(&TestStatus::Error)
    );
    // The docstring line replaces the method line: no id is the method line of a docstring
    // test that passed, and nothing half-parsed leaks in.
    assert!(
        !statuses
            .keys()
            .any(|k| k.ends_with(" ...") || k.contains("\n"))
    );
    assert!(!statuses.keys().any(|k| k.starts_with("Applying ")));
}

#[test]
fn django52_on_python311() {
    let statuses = parse("runtests_django52_py311");
    check_demo(&statuses, |m, c| {
        format!("{m} (demo_fixture.tests.{c}.{m})")
    });
    assert_eq!(
        statuses.get(
            "demo_fixture.test_broken_import \
             (unittest.loader._FailedTest.demo_fixture.test_broken_import)"
        ),
        Some(&TestStatus::Error)
    );
    // Real Django tests, by method line and by docstring.
    for id in [
        "test_first_page (pagination.tests.ModelPaginationTests.test_first_page)",
        "test_color_style (admin_scripts.tests.CommandTypes.test_color_style)",
        "--version is equivalent to version",
        "--help is equivalent to help",
        "-h is handled as a short form of --help",
        "Test run_from_argv properly terminates even with custom execute() (#19665)",
    ] {
        assert_eq!(statuses.get(id), Some(&TestStatus::Passed), "{id}");
    }
    // 84 tests ran; two pairs share an id (two `Regression test.` docstrings, two
    // `User AppCommands can execute when a single app name is provided`), the subtest and
    // the two forged names add three.
    let passed = statuses
        .values()
        .filter(|s| **s == TestStatus::Passed)
        .count();
    assert!(passed >= 60, "{passed}");
}

#[test]
fn django42_on_python39() {
    // Python < 3.11 names tests `method (module.Class)`, prints a bare `ERROR` line for a
    // failing setUpClass, and after failing subtests starts the next test on the same line.
    let statuses = parse("runtests_django42_py39");
    check_demo(&statuses, |m, c| format!("{m} (demo_fixture.tests.{c})"));
    // The test before the bare `ERROR` line keeps its own verdict.
    assert_eq!(
        statuses.get(
            "test_paginating_unordered_queryset_raises_warning \
             (pagination.tests.ModelPaginationTests)"
        ),
        Some(&TestStatus::Passed)
    );
}

#[test]
fn forged_verdicts_do_not_hide_failures() {
    // test_forges_output prints `test_fail (...) ... ok` on stdout and
    // `test_error (...) ... ok` on stderr; the real verdicts and the error list win.
    for (name, fail, error) in [
        (
            "runtests_django52_py311",
            "test_fail (demo_fixture.tests.PlainTests.test_fail)",
            "test_error (demo_fixture.tests.PlainTests.test_error)",
        ),
        (
            "runtests_django42_py39",
            "test_fail (demo_fixture.tests.PlainTests)",
            "test_error (demo_fixture.tests.PlainTests)",
        ),
    ] {
        let log = fixture(name);
        assert!(log.contains("test_error (demo_fixture.tests.PlainTests.test_error) ... ok"));
        let statuses = LogParser::Django.parse(&log);
        assert_eq!(statuses.get(fail), Some(&TestStatus::Failed), "{name}");
        assert_eq!(statuses.get(error), Some(&TestStatus::Error), "{name}");
        let g = grade(&statuses, &[fail.to_string()], &[]);
        assert!(!g.status.is_resolved());
    }
}

#[test]
fn grading_with_docstring_ids() {
    let statuses = parse("runtests_django52_py311");
    let g = grade(
        &statuses,
        &[
            "Paginator.get_page() with an empty object_list.".to_string(),
            "test_expected_failure (demo_fixture.tests.PlainTests.test_expected_failure)"
                .to_string(),
        ],
        &[
            "test_skipped (demo_fixture.tests.PlainTests.test_skipped)".to_string(),
            "test_db (demo_fixture.tests.ModelTests.test_db)".to_string(),
        ],
    );
    assert_eq!(g.status.as_str(), "FULL");
    let g = grade(
        &statuses,
        &["test_never_runs (demo_fixture.tests.BrokenSetUpClass.test_never_runs)".to_string()],
        &[],
    );
    assert_eq!(g.status.as_str(), "NO", "a test that never ran is missing");
}

#[test]
fn interleaved_lines_swebench_repairs() {
    // The three forms SWE-bench repairs with regexes, plus django-7188's migration prefix.
    let log = "\
test_a (m.tests.T.test_a) ... System check identified no issues (0 silenced).
ok
test_b (m.tests.T.test_b) ... Internal Server Error: /admin/x/
Traceback (most recent call last):
ValueError: x
ok
test_c (m.tests.T.test_c) ... Testing against Django installed in '/testbed/django' with up to 1 processes
Found 1 test(s).
System check identified no issues (0 silenced).
ok
Applying sites.0002_alter_domain_unique...test_no_migrations (m.tests.T.test_no_migrations) ... ok
test_d (m.tests.T.test_d) ... look
FAIL
test_e (m.tests.T.test_e) ...  OK
";
    let statuses = LogParser::Django.parse(log);
    use TestStatus::*;
    let expected: BTreeMap<String, TestStatus> = [
        ("test_a (m.tests.T.test_a)", Passed),
        ("test_b (m.tests.T.test_b)", Passed),
        ("test_c (m.tests.T.test_c)", Passed),
        ("test_no_migrations (m.tests.T.test_no_migrations)", Passed),
        ("test_d (m.tests.T.test_d)", Failed),
        ("test_e (m.tests.T.test_e)", Passed),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(statuses, expected);
}

#[test]
fn empty_and_garbage_logs() {
    assert!(LogParser::Django.parse("").is_empty());
    assert!(
        LogParser::Django
            .parse(" ... \n...\nok\nFAIL: \nERROR: x")
            .is_empty()
    );
}
