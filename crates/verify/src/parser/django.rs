//! Django's test runner (`./tests/runtests.py --verbosity 2`, unittest's text runner).
//!
//! At verbosity 2 unittest writes one description per test, then ` ... `, then the verdict:
//!
//! ```text
//! test_pass (app.tests.PlainTests.test_pass) ... ok
//! test_docstring (app.tests.DocTests.test_docstring)
//! Paginator.get_page() with an empty object_list. ... ok
//! test_skip (app.tests.PlainTests.test_skip) ... skipped 'why'
//! ```
//!
//! A test with a docstring is named by the docstring's first line (the line the verdict is
//! on), as SWE-bench's `parse_log_django` names it. Python 3.11+ writes `name (mod.Class.name)`,
//! older versions `name (mod.Class)`; both are kept verbatim.

use std::collections::BTreeMap;

use super::{TestStatus, clean_lines, record};

/// Parses Django / unittest verbosity-2 output. See the module docs for the format.
///
/// Beyond SWE-bench's rules this handles the ways the verdict gets separated from its test:
/// * the test's own output between ` ... ` and the verdict (`name ... printed\nmore\nok`),
///   which also covers Django's own interleaved lines ("System check identified no issues",
///   "Internal Server Error: /x/", "Testing against Django installed in ...") generically;
/// * output without a trailing newline glued to the verdict (`name ... partialok`), taken
///   provisionally: a verdict alone on a later line replaces it;
/// * a migration's `Applying app.0002_x...` written in front of a description (django-7188);
/// * a test description that follows an unfinished one on the same line
///   (`parent ... next_test (m.C) ... ERROR`, Python < 3.11 after failing subtests);
/// * failing subtests (`  parent (m.C.parent) (i=1) ... FAIL`) fail their parent test too.
///
/// The error list unittest prints after the run (`FAIL: name (m.C)`, `ERROR: ...`,
/// `UNEXPECTED SUCCESS: ...`, the docstring line under it) is the runner's final word: its
/// statuses are merged with the worse status winning, so a test that prints a forged
/// `... ok` line can never hide its own failure.
///
/// Statuses: `ok`/`OK` PASSED, `FAIL` FAILED, `ERROR` ERROR, `skipped ...` SKIPPED,
/// `expected failure` XFAIL, `unexpected success` XPASS. A bare verdict line with no test
/// waiting for one (Python < 3.11 prints `ERROR` alone for a failing `setUpClass`) is
/// ignored; the `ERROR: setUpClass (m.C)` entry of the error list records it.
pub fn parse_django(log: &str) -> BTreeMap<String, TestStatus> {
    let mut results = BTreeMap::new();
    let mut current: Option<Current> = None;
    // Status of the error-list header just read, waiting for a docstring line under it.
    let mut header: Option<TestStatus> = None;

    for raw in clean_lines(log) {
        let line = raw.trim();

        if let Some(status) = header.take()
            && !line.starts_with("---")
            && !line.starts_with("===")
        {
            // The docstring line under `FAIL: name (m.C)`: the id the verdict line used.
            record(&mut results, line.to_string(), status);
            continue;
        }

        if let Some((status, desc)) = error_header(line) {
            commit(&mut results, current.take());
            record(&mut results, desc.to_string(), status);
            if let Some(parent) = subtest_parent(desc) {
                record(&mut results, parent.to_string(), status);
            }
            header = Some(status);
            continue;
        }

        if line.starts_with("------") || line.starts_with("======") {
            // The error list or the final `Ran N tests` / `OK` follows: no test is waiting.
            commit(&mut results, current.take());
            continue;
        }

        if let Some(verdict) = bare_verdict(line) {
            if let Some(cur) = current.as_mut()
                && !cur.definitive
            {
                cur.status = Some(verdict);
                cur.definitive = true;
            }
            continue;
        }

        let Some(parsed) = parse_test_line(line) else {
            continue;
        };
        // A failing subtest: `parent (m.C.parent) (i=1) ... FAIL`.
        if let Some(cur) = current.as_mut()
            && parsed.name.len() > cur.name.len()
            && parsed.name.starts_with(cur.name.as_str())
            && parsed.name[cur.name.len()..].starts_with(" (")
        {
            if let Some(status) = parsed.status {
                record(&mut results, parsed.name.to_string(), status);
                let worse = match cur.status {
                    Some(old) if old.severity() >= status.severity() => old,
                    _ => status,
                };
                cur.status = Some(worse);
            }
            continue;
        }
        commit(&mut results, current.take());
        current = Some(Current {
            name: parsed.name.to_string(),
            status: parsed.status,
            definitive: parsed.definitive,
        });
    }
    commit(&mut results, current);
    results
}

/// The test whose verdict is being read.
struct Current {
    name: String,
    status: Option<TestStatus>,
    /// The verdict was read from its own ` ... VERDICT` position or line; a glued one
    /// (`printedok`) may still be replaced by a verdict on a line of its own.
    definitive: bool,
}

fn commit(results: &mut BTreeMap<String, TestStatus>, current: Option<Current>) {
    if let Some(Current {
        name,
        status: Some(status),
        ..
    }) = current
    {
        record(results, name, status);
    }
}

struct TestLine<'a> {
    name: &'a str,
    status: Option<TestStatus>,
    definitive: bool,
}

/// `name ... VERDICT`, `name ... output` or `name ...` (the trailing space trimmed).
fn parse_test_line(line: &str) -> Option<TestLine<'_>> {
    let line = strip_migration_prefix(line);
    if let Some(name) = line.strip_suffix(" ...") {
        return test_line(refine_name(name), None, false);
    }
    // The verdict ends the line: the name is everything before the *last* separator
    // (docstrings may contain ` ... ` themselves).
    if let Some((head, tail)) = line.rsplit_once(" ... ")
        && let Some(status) = verdict(tail)
    {
        return test_line(refine_name(head), Some(status), true);
    }
    // Output follows the separator: the name ends at the first one.
    let (head, rest) = line.split_once(" ... ")?;
    let glued = glued_verdict(rest);
    test_line(refine_name(head), glued, false)
}

fn test_line(name: &str, status: Option<TestStatus>, definitive: bool) -> Option<TestLine<'_>> {
    let name = name.trim();
    (!name.is_empty()).then_some(TestLine {
        name,
        status,
        definitive,
    })
}

/// `a (m.C) ... b (m.D)`: when the text after the last separator is itself a test
/// description, an unfinished test was followed by another on the same line; the line's
/// verdict belongs to the last one. A docstring containing ` ... ` is left whole.
fn refine_name(head: &str) -> &str {
    match head.rsplit_once(" ... ") {
        Some((_, last)) if is_description(last) => last,
        _ => head,
    }
}

/// django-7188: `Applying sites.0002_alter_domain_unique...test_x (m.C) ... ok`.
fn strip_migration_prefix(line: &str) -> &str {
    if let Some(rest) = line.strip_prefix("Applying ")
        && let Some(dots) = rest.find("...")
        && !rest[..dots].contains(' ')
    {
        let after = &rest[dots + 3..];
        if after.contains(" ... ") || after.ends_with(" ...") {
            return after.trim_start();
        }
    }
    line
}

/// unittest's `str(test)`: `name (dotted.path)`, optionally followed by a subtest's
/// ` (params)`.
fn is_description(text: &str) -> bool {
    let Some((name, rest)) = text.split_once(" (") else {
        return false;
    };
    let Some(close) = rest.find(')') else {
        return false;
    };
    let path = &rest[..close];
    let after = &rest[close + 1..];
    !name.is_empty()
        && !name.contains(char::is_whitespace)
        && !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        && (after.is_empty() || (after.starts_with(" (") && after.ends_with(')')))
}

/// `parent (m.C.parent) (i=1)` -> `parent (m.C.parent)`.
fn subtest_parent(desc: &str) -> Option<&str> {
    let (name, rest) = desc.split_once(" (")?;
    let close = rest.find(')')?;
    let after = &rest[close + 1..];
    if after.starts_with(" (") && after.ends_with(')') {
        Some(&desc[..name.len() + 2 + close + 1])
    } else {
        None
    }
}

/// `FAIL: desc`, `ERROR: desc`, `UNEXPECTED SUCCESS: desc` from the error list, only when
/// `desc` is a test description (a logged `ERROR: something` is not).
fn error_header(line: &str) -> Option<(TestStatus, &str)> {
    let (status, desc) = if let Some(d) = line.strip_prefix("FAIL: ") {
        (TestStatus::Failed, d)
    } else if let Some(d) = line.strip_prefix("ERROR: ") {
        (TestStatus::Error, d)
    } else if let Some(d) = line.strip_prefix("UNEXPECTED SUCCESS: ") {
        (TestStatus::XPass, d)
    } else {
        return None;
    };
    let desc = desc.trim();
    is_description(desc).then_some((status, desc))
}

/// A verdict as unittest writes it after ` ... `.
fn verdict(text: &str) -> Option<TestStatus> {
    let t = text.trim();
    Some(match t {
        "ok" | "OK" => TestStatus::Passed,
        "FAIL" => TestStatus::Failed,
        "ERROR" => TestStatus::Error,
        "expected failure" => TestStatus::XFail,
        "unexpected success" => TestStatus::XPass,
        _ if t == "skipped" || t.starts_with("skipped '") || t.starts_with("skipped \"") => {
            TestStatus::Skipped
        }
        _ => return None,
    })
}

/// A line holding only a verdict (the test's output ended with a newline).
fn bare_verdict(line: &str) -> Option<TestStatus> {
    verdict(line)
}

/// Output without a trailing newline glued to the verdict: `partialok`, `textFAIL`.
fn glued_verdict(rest: &str) -> Option<TestStatus> {
    let t = rest.trim_end();
    if t.ends_with("ERROR") {
        Some(TestStatus::Error)
    } else if t.ends_with("FAIL") {
        Some(TestStatus::Failed)
    } else if t.ends_with("ok") {
        Some(TestStatus::Passed)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions() {
        assert!(is_description("test_x (m.C)"));
        assert!(is_description("test_x (m.C.test_x)"));
        assert!(is_description("test_x (m.C.test_x) (i=1)"));
        assert!(is_description("setUpClass (demo.tests.Broken)"));
        assert!(!is_description("A docstring (with words)."));
        assert!(!is_description("and dots."));
        assert_eq!(
            subtest_parent("test_x (m.C.test_x) (i=1)"),
            Some("test_x (m.C.test_x)")
        );
        assert_eq!(subtest_parent("test_x (m.C.test_x)"), None);
    }

    #[test]
    fn migration_prefix() {
        assert_eq!(
            strip_migration_prefix(
                "Applying sites.0002_alter_domain_unique...test_no_migrations (m.C) ... ok"
            ),
            "test_no_migrations (m.C) ... ok"
        );
        assert_eq!(
            strip_migration_prefix("Applying admin.0001_initial... OK"),
            "Applying admin.0001_initial... OK"
        );
    }
}
