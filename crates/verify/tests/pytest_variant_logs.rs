//! pytest_options, pytest_v2, matplotlib and seaborn on real pytest 9.2 logs made by
//! `tests/fixtures/pytest_variants/regen.sh`, and the per-repository defaults.

use std::collections::BTreeMap;

use apprentice_verify::{LogParser, TestStatus};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/pytest_variants/{name}.log",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

const T: &str = "tests/test_variants.py::";

fn expected(path_param: &str, left: &str, right: &str, skip: bool) -> BTreeMap<String, TestStatus> {
    use TestStatus::*;
    let mut m: BTreeMap<String, TestStatus> = [
        (format!("test_path[{path_param}]"), Passed),
        ("test_path[//server/share]".to_string(), Passed),
        ("test_path[/a/*.py]".to_string(), Passed),
        ("test_path[rel/b.txt]".to_string(), Failed),
        (format!("test_click[{left}]"), Passed),
        (format!("test_click[{right}]"), Failed),
        ("test_expr[a b]".to_string(), Passed),
        ("test_expr[x - y]".to_string(), Failed),
        ("test_expr[[1, 2]]".to_string(), Passed),
        ("test_xfail".to_string(), XFail),
        ("test_xpass".to_string(), XPass),
        ("test_error".to_string(), Error),
    ]
    .into_iter()
    .map(|(k, v)| (format!("{T}{k}"), v))
    .collect();
    if skip {
        m.insert(format!("{T}test_skip"), Skipped);
    }
    m
}

const ABS: &str = "/tmp/build-1234/data/input.txt";
const LEFT: &str = "MouseButton.LEFT";
const RIGHT: &str = "MouseButton.RIGHT";

#[test]
fn pytest_options_cuts_absolute_path_params() {
    let log = fixture("options_ra");
    assert_eq!(
        LogParser::PytestOptions.parse(&log),
        expected("/input.txt", LEFT, RIGHT, false)
    );
    // The plain parser keeps the machine-specific path.
    assert_eq!(
        LogParser::Pytest.parse(&log),
        expected(ABS, LEFT, RIGHT, false)
    );
}

#[test]
fn pytest_v2_reads_colour_with_and_without_escapes() {
    let coloured = fixture("v2_classic_color");
    assert!(coloured.contains('\u{1b}'));
    assert_eq!(
        LogParser::PytestV2.parse(&coloured),
        expected(ABS, LEFT, RIGHT, true)
    );
    let no_escape = fixture("v2_color_no_escape");
    assert!(!no_escape.contains('\u{1b}') && no_escape.contains("[32mPASSED"));
    assert_eq!(
        LogParser::PytestV2.parse(&no_escape),
        expected(ABS, LEFT, RIGHT, true)
    );
    // What v2 adds: the plain parser cannot read escape-less colour codes.
    assert_ne!(
        LogParser::Pytest.parse(&no_escape),
        expected(ABS, LEFT, RIGHT, true)
    );
}

#[test]
fn matplotlib_numbers_mouse_buttons() {
    assert_eq!(
        LogParser::Matplotlib.parse(&fixture("matplotlib_color")),
        expected(ABS, "1", "3", false)
    );
}

#[test]
fn seaborn_no_header_with_collection_error() {
    let mut want = expected(ABS, LEFT, RIGHT, true);
    want.insert("tests/test_collect_error.py".to_string(), TestStatus::Error);
    assert_eq!(
        LogParser::Seaborn.parse(&fixture("seaborn_no_header")),
        want
    );
    // A bare `PASSED` line (upstream's IndexError, SWE-bench #611) is no test.
    assert!(
        LogParser::Seaborn
            .parse("PASSED\nPASSED [100%]\n")
            .is_empty()
    );
}

#[test]
fn repo_defaults() {
    for (repo, parser) in [
        ("django/django", LogParser::Django),
        ("sympy/sympy", LogParser::Sympy),
        ("matplotlib/matplotlib", LogParser::Matplotlib),
        ("mwaskom/seaborn", LogParser::Seaborn),
        ("astropy/astropy", LogParser::PytestV2),
        ("scikit-learn/scikit-learn", LogParser::PytestV2),
        ("sphinx-doc/sphinx", LogParser::PytestV2),
        ("psf/requests", LogParser::PytestOptions),
        ("pylint-dev/pylint", LogParser::PytestOptions),
        ("pydata/xarray", LogParser::Pytest),
        ("pytest-dev/pytest", LogParser::Pytest),
        ("pallets/flask", LogParser::Pytest),
        ("someone/else", LogParser::Pytest),
        ("", LogParser::Pytest),
        ("Django/Django", LogParser::Django),
        ("https://github.com/sympy/sympy.git", LogParser::Sympy),
    ] {
        assert_eq!(LogParser::for_repo(repo), parser, "{repo}");
    }
}

#[test]
fn names_and_aliases() {
    for (name, parser) in [
        ("django", LogParser::Django),
        ("parse_log_django", LogParser::Django),
        ("sympy", LogParser::Sympy),
        ("parse_log_sympy", LogParser::Sympy),
        ("pytest_options", LogParser::PytestOptions),
        ("parse_log_requests", LogParser::PytestOptions),
        ("pytest_v2", LogParser::PytestV2),
        ("parse_log_astropy", LogParser::PytestV2),
        ("matplotlib", LogParser::Matplotlib),
        ("parse_log_seaborn", LogParser::Seaborn),
        ("parse_log_xarray", LogParser::Pytest),
    ] {
        assert_eq!(LogParser::from_name(name), Ok(parser), "{name}");
        let json = format!("\"{name}\"");
        assert_eq!(
            serde_json::from_str::<LogParser>(&json).ok(),
            Some(parser),
            "{name}"
        );
    }
    assert!(LogParser::from_name("go_test").is_err());
}
