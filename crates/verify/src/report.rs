//! The verification report: SWE-bench's `report.json` fields plus what training needs to
//! tell a real result from an infrastructure failure or a suspicious patch.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::grading::{ResolutionStatus, TestsStatus};
use crate::parser::TestStatus;

/// Why a verification ended in [`ResolutionStatus::Error`]. These are *not* judgements of the
/// patch (except `PatchApply`, which is the patch's fault but still yields no test signal):
/// keep them out of negative samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// None of `git apply`, `git apply --reject`, `patch --fuzz=5` could apply the patch.
    PatchApply,
    /// The task's own test patch did not apply (or could not be parsed): a broken task.
    TestPatchApply,
    /// The test command ran past its time limit and was killed.
    Timeout,
    /// The kernel's OOM killer killed the test run: the sandbox's memory limit is too small
    /// for the suite (or the patch leaks). Not a timeout, and not the patch's grade.
    OutOfMemory,
    /// The sandbox or the test environment failed: a command could not run, was killed by a
    /// signal, or the tests exited non-zero without reporting a single result.
    Environment,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::PatchApply => "patch_apply",
            ErrorKind::TestPatchApply => "test_patch_apply",
            ErrorKind::Timeout => "timeout",
            ErrorKind::OutOfMemory => "out_of_memory",
            ErrorKind::Environment => "environment",
        }
    }
}

/// An error kind with the message that explains it (git's output, the timeout, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyError {
    pub kind: ErrorKind,
    pub message: String,
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

/// How the model patch got applied, in SWE-bench's order of attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyMethod {
    /// The patch was empty: nothing to apply.
    Empty,
    /// `git apply --verbose`.
    GitApply,
    /// `git apply --verbose --reject`.
    GitApplyReject,
    /// `patch --batch --fuzz=5 -p1 --forward`: the patch only applied with fuzz, so its context lines
    /// did not match the base exactly. Worth knowing when judging a model's diffs.
    PatchFuzz,
}

/// Something about a patch or run that does not change the grade but that a reviewer or a
/// reward filter should see. Flags never block verification: a patch that edits tests may be
/// legitimate; the flag lets the caller decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "flag", rename_all = "snake_case")]
pub enum Flag {
    /// The model patch edits test files (paths under `tests/`/`test/`, `test_*.py`,
    /// `*_test.py`, `tests.py`). Edits to files the test patch touches are discarded before
    /// the run; edits to other test files stay and may affect the result.
    TouchesTestFiles { paths: Vec<String> },
    /// The model patch adds, modifies or deletes a `conftest.py`: the hook pytest gives any
    /// code to rewrite outcomes (SWE-bench #631 resolved instances with a conftest alone).
    TouchesConftest { paths: Vec<String> },
    /// The model patch could not be parsed as a diff, so the checks above could not run.
    /// (git may still have applied it.)
    UnparsedPatch { message: String },
    /// The test command exited non-zero although the log reports no failed or errored test:
    /// the statuses are not trusted and the tests are graded as missing (SWE-bench v5,
    /// #620: forged `PASSED` lines with a failing exit code).
    ExitCodeMismatch { exit_code: i32 },
}

/// The result of verifying one patch on one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub instance_id: String,
    /// FULL, PARTIAL, NO, or ERROR when the patch could not be graded.
    pub status: ResolutionStatus,
    /// Only FULL is resolved.
    pub resolved: bool,
    /// Set exactly when `status` is ERROR.
    pub error: Option<VerifyError>,
    /// SWE-bench's `patch_is_None`: the prediction's patch was `null`.
    pub patch_is_none: bool,
    /// SWE-bench's `patch_exists`: the prediction had a patch (even an empty string).
    pub patch_exists: bool,
    /// The model patch applied and the test patch applied, so tests could run.
    pub patch_successfully_applied: bool,
    /// How the model patch was applied; `None` when it was not.
    pub apply_method: Option<ApplyMethod>,
    pub flags: Vec<Flag>,
    /// FAIL_TO_PASS / PASS_TO_PASS success and failure lists (empty on ERROR).
    pub tests_status: TestsStatus,
    /// Fractions of FAIL_TO_PASS and PASS_TO_PASS tests that pass; 0.0 on ERROR.
    pub f2p_rate: f64,
    pub p2p_rate: f64,
    /// Every test status the log reported, not only the graded ones.
    pub test_statuses: BTreeMap<String, TestStatus>,
    /// The test files the run was given (from the test patch).
    pub test_files: Vec<String>,
    /// The test command's exit code; `None` when it did not run or was killed.
    pub test_exit_code: Option<i32>,
    /// The end of the test log (or of the failing step's output), capped at
    /// [`LOG_TAIL_BYTES`].
    pub log_tail: String,
}

/// How much of the log a report keeps: enough for the summary section and a traceback,
/// small enough to store one report per attempt.
pub const LOG_TAIL_BYTES: usize = 16 * 1024;

impl Report {
    /// A report for an instance that has not been graded yet (status ERROR until set).
    pub(crate) fn new(instance_id: &str) -> Report {
        Report {
            instance_id: instance_id.to_string(),
            status: ResolutionStatus::Error,
            resolved: false,
            error: None,
            patch_is_none: false,
            patch_exists: true,
            patch_successfully_applied: false,
            apply_method: None,
            flags: Vec::new(),
            tests_status: TestsStatus::default(),
            f2p_rate: 0.0,
            p2p_rate: 0.0,
            test_statuses: BTreeMap::new(),
            test_files: Vec::new(),
            test_exit_code: None,
            log_tail: String::new(),
        }
    }

    /// Marks the report as an error.
    pub(crate) fn fail(mut self, kind: ErrorKind, message: impl Into<String>) -> Report {
        self.status = ResolutionStatus::Error;
        self.resolved = false;
        self.error = Some(VerifyError {
            kind,
            message: message.into(),
        });
        self
    }

    /// The error kind, when the status is ERROR.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        self.error.as_ref().map(|e| e.kind)
    }

    /// SWE-bench's `report.json` for this instance:
    /// `{instance_id: {patch_is_None, patch_exists, patch_successfully_applied, resolved,
    /// tests_status}}`. As in SWE-bench, `tests_status` is present only when tests were
    /// graded (SWE-bench writes no report at all for a timeout; here the caller decides).
    pub fn to_swebench_json(&self) -> serde_json::Value {
        let mut inner = serde_json::Map::new();
        inner.insert("patch_is_None".into(), self.patch_is_none.into());
        inner.insert("patch_exists".into(), self.patch_exists.into());
        inner.insert(
            "patch_successfully_applied".into(),
            self.patch_successfully_applied.into(),
        );
        inner.insert("resolved".into(), self.resolved.into());
        if self.status != ResolutionStatus::Error {
            // Serialising plain string vectors cannot fail; fall back to null rather than
            // panic if that ever changes.
            let tests = serde_json::to_value(&self.tests_status).unwrap_or_default();
            inner.insert("tests_status".into(), tests);
        }
        let mut outer = serde_json::Map::new();
        outer.insert(self.instance_id.clone(), serde_json::Value::Object(inner));
        serde_json::Value::Object(outer)
    }
}

/// The last `max_bytes` of `text`, cut at a line start when one is near, with a marker
/// saying how much was dropped.
pub fn tail(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_string();
    }
    let mut start = text.len() - max_bytes;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    if let Some(nl) = text[start..].find('\n')
        && nl < 512
    {
        start += nl + 1;
    }
    format!("[... {start} bytes elided ...]\n{}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_whole_lines_and_utf8() {
        let text = format!("{}\nlast line é\n", "é".repeat(100));
        let t = tail(&text, 20);
        assert!(t.ends_with("last line é\n"));
        assert!(t.starts_with("[... "));
        assert_eq!(tail("short", 20), "short");
    }

    #[test]
    fn swebench_json_shape() {
        let mut r = Report::new("a__b-1");
        r.status = ResolutionStatus::No;
        r.patch_successfully_applied = true;
        r.tests_status.fail_to_pass.failure.push("t::x".into());
        let v = r.to_swebench_json();
        let inner = &v["a__b-1"];
        assert_eq!(inner["patch_is_None"], false);
        assert_eq!(inner["patch_exists"], true);
        assert_eq!(inner["patch_successfully_applied"], true);
        assert_eq!(inner["resolved"], false);
        assert_eq!(inner["tests_status"]["FAIL_TO_PASS"]["failure"][0], "t::x");
        for key in ["PASS_TO_PASS", "FAIL_TO_FAIL", "PASS_TO_FAIL"] {
            assert!(inner["tests_status"][key]["success"].is_array(), "{key}");
        }

        let e = Report::new("a__b-2").fail(ErrorKind::PatchApply, "nope");
        let v = e.to_swebench_json();
        assert!(v["a__b-2"].get("tests_status").is_none());
        assert_eq!(e.error_kind(), Some(ErrorKind::PatchApply));
        let ours = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(ours["status"], "ERROR");
        assert_eq!(ours["error"]["kind"], "patch_apply");
    }
}
