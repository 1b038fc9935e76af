//! SymPy's own runner (`bin/test -C --verbose`, `sympy.testing.runtests`).
//!
//! ```text
//! sympy/core/tests/test_basic.py[25]
//! test__aresame ok
//! test_fail F
//! test_skip not today s
//! test_rewrite_abs ok                                                         [OK]
//! ________________ sympy/core/tests/test_x.py::test_fail ________________
//! ```
//!
//! Test ids are bare function names, as in SWE-bench's lists (two files may share one).

use std::collections::BTreeMap;

use super::{TestStatus, clean_lines, record};

/// Parses sympy's verbose test output.
///
/// * `file.py[N]` starts a file; `file.py[?]   Failed to import` records `file.py` as ERROR
///   (none of its tests ran, so they are all missing);
/// * a line starting `test_` starts a test: the first word is its name. Sympy writes the
///   status as the very last thing before the next test, after anything the test printed,
///   so the status is read from the end of the test's *last* line: `ok` PASSED, `F` FAILED,
///   `E` and `T` (timeout) ERROR, `f` XFAIL, `X` XPASS, `s`, `w` (slow) and `K` SKIPPED.
///   This reads tests whose output sits between name and status (`name printed\nok`,
///   `name partialok`) and long names after which sympy wraps the status onto its own line,
///   all of which SWE-bench's parser misses (a run cut inside a test leaves that test
///   unrecorded, or read from its last output line);
/// * failure headers `____ file.py::name ____` (F) and `____ file.py:name ____` (E) record
///   the header's own id, as SWE-bench does, and fail the test;
/// * each test is recorded under its bare name and as `file.py::name` when its file is
///   known. A name seen more than once keeps its worst status (SWE-bench keeps the last),
///   so a line printed by one test cannot turn another test's failure into a pass.
///
/// Test lines are read only in the test section: from the `test process starts` banner to
/// the first failure header or the `tests finished` line, so a traceback or a summary can
/// add no passes.
pub fn parse_sympy(log: &str) -> BTreeMap<String, TestStatus> {
    let mut results = BTreeMap::new();
    let mut state = State {
        file: None,
        current: None,
        in_tests: true,
    };

    for raw in clean_lines(log) {
        let (line, ends_file) = strip_file_verdict(raw.trim());
        read_line(&mut results, &mut state, line);
        if ends_file {
            // `[OK]` / `[FAIL]` closes the file's last test.
            commit(&mut results, state.current.take());
        }
    }
    let current = state.current.take();
    commit(&mut results, current);
    results
}

struct State {
    file: Option<String>,
    current: Option<Current>,
    /// Inside the list of tests (not yet at the failure reports or the summary).
    in_tests: bool,
}

fn read_line(results: &mut BTreeMap<String, TestStatus>, state: &mut State, line: &str) {
    if line.is_empty() {
        return;
    }
    if line.contains("test process starts") {
        commit(results, state.current.take());
        state.file = None;
        state.in_tests = true;
        return;
    }
    if line.starts_with('_') && line.ends_with('_') {
        let title = line.trim_matches('_').trim();
        if !title.is_empty() {
            // A failure report (`path.py::name`) or a section (`xpassed tests`): the list
            // of tests is over. A bare rule of underscores is a test's output.
            commit(results, state.current.take());
            state.in_tests = false;
            failure_header(results, title);
            return;
        }
    }
    if line.contains("tests finished:") {
        commit(results, state.current.take());
        state.in_tests = false;
        return;
    }
    if !state.in_tests {
        return;
    }
    if let Some((path, failed_import)) = file_header(line) {
        commit(results, state.current.take());
        if failed_import {
            record(results, path.to_string(), TestStatus::Error);
        }
        state.file = Some(path.to_string());
        return;
    }
    if line.starts_with("test_") {
        commit(results, state.current.take());
        let name = line.split_whitespace().next().unwrap_or_default();
        let rest = &line[name.len()..];
        state.current = Some(Current {
            name: name.to_string(),
            file: state.file.clone(),
            last: rest.trim().to_string(),
        });
        return;
    }
    if let Some(cur) = state.current.as_mut() {
        cur.last = line.to_string();
    }
}

/// The test being read: its name, its file and its latest line (the name line's text
/// after the name, or the latest output line).
struct Current {
    name: String,
    file: Option<String>,
    last: String,
}

fn commit(results: &mut BTreeMap<String, TestStatus>, current: Option<Current>) {
    let Some(Current { name, file, last }) = current else {
        return;
    };
    if let Some(status) = final_status(&last) {
        if let Some(file) = file {
            record(results, format!("{file}::{name}"), status);
        }
        record(results, name, status);
    }
}

/// Removes the right-aligned `[OK]` / `[FAIL]` that ends a file's last line (or stands on
/// a line of its own when it did not fit), saying whether there was one.
fn strip_file_verdict(line: &str) -> (&str, bool) {
    for marker in ["[OK]", "[FAIL]"] {
        if let Some(rest) = line.strip_suffix(marker) {
            return (rest.trim_end(), true);
        }
    }
    (line, false)
}

/// `sympy/x/tests/test_y.py[12]` or `sympy/x/tests/test_y.py[?]   Failed to import`.
fn file_header(line: &str) -> Option<(&str, bool)> {
    let open = line.find(".py[")? + 3;
    let path = &line[..open];
    if path.contains(char::is_whitespace) {
        return None;
    }
    let rest = &line[open + 1..];
    let close = rest.find(']')?;
    let count = &rest[..close];
    if count == "?" {
        return Some((path, rest.contains("Failed to import")));
    }
    (!count.is_empty() && count.chars().all(|c| c.is_ascii_digit())).then_some((path, false))
}

/// The status ending a test's last line, glued to printed text or not (`ok`, `partialok`,
/// `not today s`).
fn final_status(text: &str) -> Option<TestStatus> {
    let t = text.trim_end();
    if t.ends_with("ok") {
        return Some(TestStatus::Passed);
    }
    Some(match t.chars().last()? {
        'F' => TestStatus::Failed,
        'E' | 'T' => TestStatus::Error,
        'f' => TestStatus::XFail,
        'X' => TestStatus::XPass,
        's' | 'w' | 'K' => TestStatus::Skipped,
        _ => return None,
    })
}

/// `_____ path.py::name _____` (a failure) or `_____ path.py:name _____` (an exception).
fn failure_header(results: &mut BTreeMap<String, TestStatus>, id: &str) {
    let Some((path, name)) = id.split_once(".py:") else {
        return;
    };
    if path.is_empty() || path.contains(char::is_whitespace) {
        return;
    }
    let (status, name) = match name.strip_prefix(':') {
        Some(n) => (TestStatus::Failed, n),
        None => (TestStatus::Error, name),
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return;
    }
    record(results, id.to_string(), status);
    record(results, format!("{path}.py::{name}"), status);
    record(results, name.to_string(), status);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_headers() {
        assert_eq!(
            file_header("sympy/core/tests/test_basic.py[25]"),
            Some(("sympy/core/tests/test_basic.py", false))
        );
        assert_eq!(
            file_header("sympy/a/tests/test_b.py[?]   Failed to import"),
            Some(("sympy/a/tests/test_b.py", true))
        );
        assert_eq!(file_header("test_x ok"), None);
    }

    #[test]
    fn status_words() {
        assert_eq!(final_status("not today s"), Some(TestStatus::Skipped));
        assert_eq!(final_status("partialok"), Some(TestStatus::Passed));
        assert_eq!(final_status("value is E"), Some(TestStatus::Error));
        assert_eq!(final_status("line one from the test"), None);
        assert_eq!(final_status(""), None);
    }
}
