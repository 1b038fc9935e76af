//! Test-log parsers: turn a test runner's console output into a map from test id to status.
//!
//! SWE-bench grades by *reading the log*, not by asking the runner for structured results, and
//! its FAIL_TO_PASS / PASS_TO_PASS lists were produced by its own Python parsers. To grade the
//! same tasks the same way, these parsers reproduce the ids those parsers produce (the v5
//! fixes included: names with spaces, ` - message` tails, ANSI codes) while closing the holes
//! that were exploited in practice (a test printing a fake `PASSED other_test` line).
//!
//! [`LogParser`] names one parser per log format SWE-bench's Python repositories use:
//! pytest and its per-repository variants ([`pytest_variants`]), Django's unittest runner
//! ([`django`]) and sympy's `bin/test` ([`sympy`]). [`LogParser::for_repo`] gives the one
//! SWE-bench uses for a repository.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub mod django;
pub mod pytest_variants;
pub mod sympy;

pub use django::parse_django;
pub use pytest_variants::{parse_matplotlib, parse_pytest_options, parse_pytest_v2, parse_seaborn};
pub use sympy::parse_sympy;

/// The outcome of one test as the log reports it.
///
/// `XPass` is kept distinct even though SWE-bench has no such status (its parsers drop
/// `XPASS` lines, so an xpassed test is *missing* there): grading treats it exactly like a
/// missing test, and keeping it lets the report say what really happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TestStatus {
    Passed,
    Failed,
    Skipped,
    Error,
    #[serde(rename = "XFAIL")]
    XFail,
    #[serde(rename = "XPASS")]
    XPass,
}

impl TestStatus {
    /// The word pytest prints for this status.
    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Passed => "PASSED",
            TestStatus::Failed => "FAILED",
            TestStatus::Skipped => "SKIPPED",
            TestStatus::Error => "ERROR",
            TestStatus::XFail => "XFAIL",
            TestStatus::XPass => "XPASS",
        }
    }

    /// Parses pytest's status word (exact, upper case).
    pub fn from_word(word: &str) -> Option<TestStatus> {
        Some(match word {
            "PASSED" => TestStatus::Passed,
            "FAILED" => TestStatus::Failed,
            "SKIPPED" => TestStatus::Skipped,
            "ERROR" => TestStatus::Error,
            "XFAIL" => TestStatus::XFail,
            "XPASS" => TestStatus::XPass,
            _ => return None,
        })
    }

    /// How bad the status is. When one test is reported twice (a test that passes and then
    /// errors in teardown prints both `PASSED` and `ERROR`; a test may also print a forged
    /// status line), the worse report wins, so printed text can never hide a real failure.
    fn severity(self) -> u8 {
        match self {
            TestStatus::Passed => 0,
            TestStatus::XFail => 1,
            TestStatus::Skipped => 2,
            TestStatus::XPass => 3,
            TestStatus::Failed => 4,
            TestStatus::Error => 5,
        }
    }
}

impl fmt::Display for TestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which parser reads a task's test log. Chosen by name from task data (SWE-bench v5's
/// `log_parser`, SWE-rebench's `install_config.log_parser`), hence [`FromStr`] and serde.
/// SWE-bench's function names (`parse_log_django`) and its per-repository aliases
/// (`parse_log_astropy` = `pytest_v2`, `parse_log_requests` = `pytest_options`, ...) are
/// accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogParser {
    /// pytest run with `-rA` (the short test summary) and/or `-v` (one line per test).
    #[default]
    #[serde(
        alias = "parse_log_pytest",
        alias = "parse_log_astroid",
        alias = "parse_log_flask",
        alias = "parse_log_marshmallow",
        alias = "parse_log_pvlib",
        alias = "parse_log_pyvista",
        alias = "parse_log_sqlfluff",
        alias = "parse_log_xarray"
    )]
    Pytest,
    /// pytest with absolute-path parameters cut to their basename ([`parse_pytest_options`]).
    #[serde(
        alias = "parse_log_pytest_options",
        alias = "parse_log_requests",
        alias = "parse_log_pylint",
        alias = "parse_log_pydicom"
    )]
    PytestOptions,
    /// pytest with escape-less colour codes removed ([`parse_pytest_v2`]).
    #[serde(
        alias = "parse_log_pytest_v2",
        alias = "parse_log_astropy",
        alias = "parse_log_scikit",
        alias = "parse_log_sphinx"
    )]
    PytestV2,
    /// pytest with `MouseButton.LEFT/RIGHT` ids as `1`/`3` ([`parse_matplotlib`]).
    #[serde(alias = "parse_log_matplotlib")]
    Matplotlib,
    /// seaborn's `pytest --no-header -rA` ([`parse_seaborn`]).
    #[serde(alias = "parse_log_seaborn")]
    Seaborn,
    /// Django's `runtests.py --verbosity 2` ([`parse_django`]).
    #[serde(alias = "parse_log_django")]
    Django,
    /// sympy's `bin/test --verbose` ([`parse_sympy`]).
    #[serde(alias = "parse_log_sympy")]
    Sympy,
}

/// A parser name this crate does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown log parser `{0}` (known: pytest, pytest_options, pytest_v2, matplotlib, seaborn, \
     django, sympy)"
)]
pub struct UnknownParser(pub String);

impl LogParser {
    /// Every parser, for listings and round-trip tests.
    pub const ALL: &'static [LogParser] = &[
        LogParser::Pytest,
        LogParser::PytestOptions,
        LogParser::PytestV2,
        LogParser::Matplotlib,
        LogParser::Seaborn,
        LogParser::Django,
        LogParser::Sympy,
    ];

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            LogParser::Pytest => "pytest",
            LogParser::PytestOptions => "pytest_options",
            LogParser::PytestV2 => "pytest_v2",
            LogParser::Matplotlib => "matplotlib",
            LogParser::Seaborn => "seaborn",
            LogParser::Django => "django",
            LogParser::Sympy => "sympy",
        }
    }

    /// Looks a parser up by name: the canonical names, SWE-bench's function names
    /// (`parse_log_pytest_v2`) and its per-repository aliases (`parse_log_astropy`,
    /// `requests`, ...), as in `log_parsers/python.py`.
    pub fn from_name(name: &str) -> Result<LogParser, UnknownParser> {
        let trimmed = name.trim();
        let short = trimmed.strip_prefix("parse_log_").unwrap_or(trimmed);
        Ok(match short {
            "pytest" | "astroid" | "flask" | "marshmallow" | "pvlib" | "pyvista" | "sqlfluff"
            | "xarray" => LogParser::Pytest,
            "pytest_options" | "requests" | "pylint" | "pydicom" => LogParser::PytestOptions,
            "pytest_v2" | "astropy" | "scikit" | "sphinx" => LogParser::PytestV2,
            "matplotlib" => LogParser::Matplotlib,
            "seaborn" => LogParser::Seaborn,
            "django" => LogParser::Django,
            "sympy" => LogParser::Sympy,
            _ => return Err(UnknownParser(name.to_string())),
        })
    }

    /// The parser SWE-bench uses for a repository (`MAP_REPO_TO_PARSER_PY`), given as
    /// `owner/name` (case-insensitive, a `https://github.com/` prefix or `.git` suffix is
    /// ignored). Repositories it does not list get [`LogParser::Pytest`].
    pub fn for_repo(repo: &str) -> LogParser {
        let repo = repo.trim().to_ascii_lowercase();
        let repo = repo
            .strip_prefix("https://github.com/")
            .unwrap_or(&repo)
            .trim_end_matches('/');
        let repo = repo.strip_suffix(".git").unwrap_or(repo);
        match repo {
            "django/django" => LogParser::Django,
            "sympy/sympy" => LogParser::Sympy,
            "matplotlib/matplotlib" => LogParser::Matplotlib,
            "mwaskom/seaborn" => LogParser::Seaborn,
            "astropy/astropy" | "scikit-learn/scikit-learn" | "sphinx-doc/sphinx" => {
                LogParser::PytestV2
            }
            "psf/requests" | "pylint-dev/pylint" | "pydicom/pydicom" => LogParser::PytestOptions,
            _ => LogParser::Pytest,
        }
    }

    /// Parses a test log into test id -> status.
    pub fn parse(self, log: &str) -> BTreeMap<String, TestStatus> {
        match self {
            LogParser::Pytest => parse_pytest(log),
            LogParser::PytestOptions => parse_pytest_options(log),
            LogParser::PytestV2 => parse_pytest_v2(log),
            LogParser::Matplotlib => parse_matplotlib(log),
            LogParser::Seaborn => parse_seaborn(log),
            LogParser::Django => parse_django(log),
            LogParser::Sympy => parse_sympy(log),
        }
    }
}

impl FromStr for LogParser {
    type Err = UnknownParser;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LogParser::from_name(s)
    }
}

impl fmt::Display for LogParser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses pytest console output.
///
/// Recognised forms:
/// * the `-rA` short test summary: `PASSED id`, `FAILED id - message`, `ERROR id - message`,
///   `XFAIL id - reason`, `XPASS id - reason` (older pytest: `XPASS id reason`),
///   `ERROR path.py` for a collection error; `SKIPPED [n] file:line: reason` names no test
///   and is skipped, as in SWE-bench v5;
/// * the verbose form `id STATUS`, optionally followed by `(reason)` and a `[ NN%]` progress
///   column, including `-s` output where the test's own prints sit between the id and the
///   status (`id partial linePASSED`, or the status alone on a later line).
///
/// Ids end at the first whitespace outside square brackets, so parametrised ids with spaces
/// or ` - ` in them (`test_x[a - b]`) survive, and the ` - message` tail is dropped.
///
/// Trust rules, because tests can print anything (SWE-bench #601 was a forged `PASSED`):
/// * when the log has a `short test summary info` section, status-first lines are believed
///   only inside it: pytest prints them nowhere else, and a test's captured output is shown
///   in sections *before* the summary;
/// * when that summary lists passes (`-rA`), it is the record of which tests ran, and verbose
///   lines may only add skips or make a listed test worse;
/// * when a test is reported more than once, the worse status wins.
///
/// Without a summary (pytest killed, or run without `-r`), every recognised line counts.
pub fn parse_pytest(log: &str) -> BTreeMap<String, TestStatus> {
    let lines: Vec<String> = clean_lines(log);

    // Reports from the three places pytest prints them, merged at the end by trust.
    let mut summary: Vec<(String, TestStatus)> = Vec::new();
    let mut elsewhere: Vec<(String, TestStatus)> = Vec::new();
    let mut verbose: Vec<(String, TestStatus)> = Vec::new();
    let mut has_summary = false;

    let mut in_summary = false;
    // A verbose test line whose status has not been printed yet (`-s` output in between).
    let mut pending: Option<String> = None;

    for line in &lines {
        let line = line.as_str();
        if is_summary_header(line) {
            has_summary = true;
            in_summary = true;
            pending = None;
            continue;
        }
        if is_section_rule(line) {
            in_summary = false;
            pending = None;
            continue;
        }

        if let Some((status, rest)) = split_leading_status(line) {
            let rest = rest.trim();
            if is_status_only_tail(rest) {
                // `PASSED`, `PASSED [100%]`, `SKIPPED (reason)`: the verdict for the test
                // whose id was printed earlier. Never a test named `[100%]` (SWE-bench #660).
                if let Some(id) = pending.take() {
                    verbose.push((id, status));
                }
                continue;
            }
            if status == TestStatus::Skipped && rest.starts_with('[') {
                // `SKIPPED [1] tests/t.py:12: reason`: a location, not a test id.
                continue;
            }
            if let Some(id) = take_test_id(rest) {
                let target = if in_summary {
                    &mut summary
                } else {
                    &mut elsewhere
                };
                target.push((id.to_string(), status));
            }
            continue;
        }

        if let Some((id, status)) = parse_verbose_line(line) {
            match status {
                Some(status) => {
                    pending = None;
                    verbose.push((id.to_string(), status));
                }
                None => pending = Some(id.to_string()),
            }
        }
    }

    let mut results: BTreeMap<String, TestStatus> = BTreeMap::new();
    if !has_summary {
        for (id, status) in elsewhere.into_iter().chain(verbose) {
            record(&mut results, id, status);
        }
        return results;
    }

    // With `-rA` the summary lists every test that ran except skipped ones (pytest folds
    // those into `SKIPPED [n] file:line`), so a verbose line may then only add a skip or make
    // a listed test worse; a verbose `id PASSED` for a test missing from the summary can only
    // have been printed by a test. Without `-rA` (summary of failures only) verbose lines
    // are the sole record of passes and are taken as they are.
    let complete = summary.iter().any(|(_, s)| *s == TestStatus::Passed);
    for (id, status) in summary {
        record(&mut results, id, status);
    }
    for (id, status) in verbose {
        if !complete || status == TestStatus::Skipped || results.contains_key(&id) {
            record(&mut results, id, status);
        }
    }
    results
}

/// Inserts a status, keeping the worse one when the test is already known.
fn record(results: &mut BTreeMap<String, TestStatus>, id: String, status: TestStatus) {
    results
        .entry(id)
        .and_modify(|old| {
            if status.severity() > old.severity() {
                *old = status;
            }
        })
        .or_insert(status);
}

/// Splits the log into lines with ANSI escape sequences and control characters removed.
/// `\r` counts as a line break: terminals overwrite a line with it (`collecting ... \r`).
fn clean_lines(log: &str) -> Vec<String> {
    log.split(['\n', '\r'])
        .map(strip_ansi)
        .filter(|l| !l.trim().is_empty())
        .collect()
}

/// Removes `ESC [ ... letter` sequences and other control characters except tabs.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // Parameters and intermediates, then one final byte in '@'..='~'.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        if c.is_control() && c != '\t' {
            continue;
        }
        out.push(c);
    }
    out
}

/// `=== short test summary info ===`.
fn is_summary_header(line: &str) -> bool {
    let t = line.trim();
    t.starts_with("==") && t.trim_matches('=').trim() == "short test summary info"
}

/// Any other `=====` section rule (`FAILURES`, `PASSES`, the final counts line, a new
/// session header) ends the summary section and any pending verbose line.
fn is_section_rule(line: &str) -> bool {
    line.starts_with("==")
}

/// A line that begins, at column 0, with a status word followed by a space or the end.
fn split_leading_status(line: &str) -> Option<(TestStatus, &str)> {
    let end = line.find([' ', '\t']).unwrap_or(line.len());
    let status = TestStatus::from_word(&line[..end])?;
    Some((status, &line[end..]))
}

/// What may follow a status word when no test id does: nothing, a `(reason)`, a
/// `[ NN%]` progress column, or a `(reason)` then the progress column.
fn is_status_only_tail(rest: &str) -> bool {
    let rest = strip_progress(rest).trim();
    rest.is_empty() || (rest.starts_with('(') && rest.ends_with(')'))
}

/// Removes a trailing pytest progress column such as `[ 27%]` or `[100%]`.
fn strip_progress(text: &str) -> &str {
    let t = text.trim_end();
    if let Some(body) = t.strip_suffix("%]")
        && let Some(open) = body.rfind('[')
    {
        let digits = body[open + 1..].trim();
        let standalone = open == 0 || body[..open].ends_with(char::is_whitespace);
        if standalone && !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
            return t[..open].trim_end();
        }
    }
    t
}

/// Takes a test id from the start of `text`: everything up to the first whitespace outside
/// square brackets. When the brackets never close (a truncated or odd parameter id), the id
/// ends at the first ` - ` instead, or takes the whole text.
fn take_test_id(text: &str) -> Option<&str> {
    let text = text.trim_start();
    let mut depth: usize = 0;
    let mut end = text.len();
    for (i, c) in text.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            c if c.is_whitespace() && depth == 0 => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let mut id = &text[..end];
    if depth > 0 && end == text.len() {
        if let Some(dash) = text.find(" - ") {
            id = &text[..dash];
        }
        id = id.trim_end();
    }
    (!id.is_empty()).then_some(id)
}

/// A verbose line `path::name[params] STATUS (reason) [ NN%]`. Returns the id and, when the
/// line carries it, the status; `None` status means the test's own output follows the id
/// and the status comes on a later line.
fn parse_verbose_line(line: &str) -> Option<(&str, Option<TestStatus>)> {
    if line.starts_with(char::is_whitespace) {
        return None;
    }
    let id = take_test_id(line)?;
    if !looks_like_node_id(id) {
        return None;
    }
    let rest = strip_progress(&line[id.len()..]).trim();
    if rest.is_empty() {
        return Some((id, None));
    }
    // `id PASSED`, `id SKIPPED (reason)`.
    let first = rest.split_whitespace().next().unwrap_or_default();
    if let Some(status) = TestStatus::from_word(first) {
        let after = rest[first.len()..].trim();
        if after.is_empty() || (after.starts_with('(') && after.ends_with(')')) {
            return Some((id, Some(status)));
        }
    }
    // `id printed textPASSED`: pytest wrote the status right after the test's own output.
    for status in [
        TestStatus::Passed,
        TestStatus::Failed,
        TestStatus::Error,
        TestStatus::Skipped,
        TestStatus::XFail,
        TestStatus::XPass,
    ] {
        if rest.ends_with(status.as_str()) {
            return Some((id, Some(status)));
        }
    }
    Some((id, None))
}

/// pytest node ids are `path::name`, with a file path before the first `::`.
fn looks_like_node_id(id: &str) -> bool {
    match id.split_once("::") {
        Some((file, name)) => !file.is_empty() && !name.is_empty() && !file.contains('['),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_id_stops_at_space_outside_brackets() {
        assert_eq!(take_test_id("t.py::a - boom"), Some("t.py::a"));
        assert_eq!(
            take_test_id("t.py::a[x - y-2] - assert 2 != 2"),
            Some("t.py::a[x - y-2]")
        );
        assert_eq!(take_test_id("t.py::a[[n]-3]"), Some("t.py::a[[n]-3]"));
        assert_eq!(
            take_test_id("t.py::a[unclosed - msg"),
            Some("t.py::a[unclosed")
        );
        assert_eq!(take_test_id("   "), None);
    }

    #[test]
    fn progress_column_is_stripped() {
        assert_eq!(strip_progress("PASSED   [ 27%]"), "PASSED");
        assert_eq!(strip_progress("[100%]"), "");
        assert_eq!(strip_progress("t.py::a[5%]"), "t.py::a[5%]");
    }

    #[test]
    fn ansi_is_removed() {
        assert_eq!(
            strip_ansi("\u{1b}[32mPASSED\u{1b}[0m t.py::\u{1b}[1ma\u{1b}[0m"),
            "PASSED t.py::a"
        );
    }

    #[test]
    fn parser_names() {
        assert_eq!(LogParser::from_name("pytest"), Ok(LogParser::Pytest));
        assert_eq!(
            LogParser::from_name("parse_log_pytest"),
            Ok(LogParser::Pytest)
        );
        assert_eq!("pytest_v2".parse::<LogParser>(), Ok(LogParser::PytestV2));
        assert_eq!(
            LogParser::from_name("parse_log_django"),
            Ok(LogParser::Django)
        );
        assert!(LogParser::from_name("unittest").is_err());
        for p in LogParser::ALL {
            assert_eq!(LogParser::from_name(p.name()), Ok(*p));
        }
        assert_eq!(
            serde_json::to_string(&LogParser::Pytest).ok().as_deref(),
            Some("\"pytest\"")
        );
        assert_eq!(
            serde_json::from_str::<LogParser>("\"parse_log_pytest\"").ok(),
            Some(LogParser::Pytest)
        );
        for p in LogParser::ALL {
            let json = serde_json::to_string(p).unwrap_or_default();
            assert_eq!(serde_json::from_str::<LogParser>(&json).ok(), Some(*p));
            let alias = format!("\"parse_log_{}\"", p.name());
            assert_eq!(serde_json::from_str::<LogParser>(&alias).ok(), Some(*p));
            assert_eq!(LogParser::from_name(&alias[1..alias.len() - 1]), Ok(*p));
        }
        assert_eq!(
            serde_json::from_str::<LogParser>("\"parse_log_astropy\"").ok(),
            Some(LogParser::PytestV2)
        );
    }
}
