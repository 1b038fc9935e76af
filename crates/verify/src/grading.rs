//! Grading exactly as SWE-bench does (`harness/grading.py`, v5 semantics).
//!
//! Every number a trained model is rewarded with comes from here, so the rules are spelled
//! out and each one is tested:
//!
//! * a FAIL_TO_PASS test **succeeds** when its status is `PASSED` or `XFAIL`; it **fails** when
//!   it is `FAILED`, `ERROR`, `SKIPPED` (v5: a skipped fix proves nothing), `XPASS`, or missing
//!   from the log (a missing test never counts as a pass: SWE-smith#24);
//! * a PASS_TO_PASS test is **maintained** when it is `PASSED`, `XFAIL` or `SKIPPED` (v5:
//!   skipping an unrelated test is not a regression); otherwise it fails;
//! * `XPASS` is not a status SWE-bench's parsers know, so there an xpassed test is missing,
//!   hence a failure; we keep the status for the report but grade it the same way;
//! * f2p = |F2P succeeded| / |F2P|, p2p likewise; an empty list scores 1.0;
//! * FULL: f2p = 1 and p2p = 1; PARTIAL: 0 < f2p < 1 and p2p = 1; NO otherwise. Only FULL is
//!   resolved.
//!
//! Truncated ids: 676 parametrised ids in SWE-bench Verified were cut short by an old parser
//! (`test_x[log(photon`). As in v5, an expected id with unbalanced brackets that is not in the
//! log matches the log's ids that start with it, provided they all have the same status.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::parser::TestStatus;

/// The outcome of grading (and, with `Error`, of a verification that could not grade).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResolutionStatus {
    /// Every FAIL_TO_PASS and PASS_TO_PASS test passes: resolved.
    Full,
    /// Some but not all FAIL_TO_PASS tests pass and no PASS_TO_PASS test broke.
    Partial,
    /// Anything else that was graded.
    No,
    /// Not graded: the patch did not apply, the tests timed out, the environment failed.
    /// Never a negative sample: nothing is known about the patch.
    Error,
}

impl ResolutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResolutionStatus::Full => "FULL",
            ResolutionStatus::Partial => "PARTIAL",
            ResolutionStatus::No => "NO",
            ResolutionStatus::Error => "ERROR",
        }
    }

    /// Only FULL counts as resolved.
    pub fn is_resolved(self) -> bool {
        self == ResolutionStatus::Full
    }
}

/// One `{success, failure}` bucket of SWE-bench's `tests_status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestBucket {
    pub success: Vec<String>,
    pub failure: Vec<String>,
}

impl TestBucket {
    /// success / (success + failure), 1.0 for an empty bucket.
    pub fn rate(&self) -> f64 {
        let total = self.success.len() + self.failure.len();
        if total == 0 {
            1.0
        } else {
            self.success.len() as f64 / total as f64
        }
    }
}

/// SWE-bench's `tests_status`, field names as in `report.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestsStatus {
    #[serde(rename = "FAIL_TO_PASS")]
    pub fail_to_pass: TestBucket,
    #[serde(rename = "PASS_TO_PASS")]
    pub pass_to_pass: TestBucket,
    /// Always empty: tasks carry no FAIL_TO_FAIL list (SWE-bench fills it only with
    /// `calculate_to_fail`). Kept so the JSON has SWE-bench's shape.
    #[serde(rename = "FAIL_TO_FAIL")]
    pub fail_to_fail: TestBucket,
    /// Always empty, as `FAIL_TO_FAIL`.
    #[serde(rename = "PASS_TO_FAIL")]
    pub pass_to_fail: TestBucket,
}

/// The result of grading one test log against a task's lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grade {
    /// FULL, PARTIAL or NO (never ERROR).
    pub status: ResolutionStatus,
    pub tests_status: TestsStatus,
    /// Fraction of FAIL_TO_PASS tests that pass (1.0 when the list is empty).
    pub f2p_rate: f64,
    /// Fraction of PASS_TO_PASS tests maintained (1.0 when the list is empty).
    pub p2p_rate: f64,
}

/// The status the log gives `test`, or `None` when the test is missing.
pub fn lookup(statuses: &BTreeMap<String, TestStatus>, test: &str) -> Option<TestStatus> {
    if let Some(status) = statuses.get(test) {
        return Some(*status);
    }
    if test.matches('[').count() <= test.matches(']').count() {
        return None;
    }
    // A truncated parametrised id: accept the prefix match only when it is unambiguous.
    let mut found: Option<TestStatus> = None;
    for (_, status) in statuses
        .range(test.to_string()..)
        .take_while(|(id, _)| id.starts_with(test))
    {
        match found {
            None => found = Some(*status),
            Some(prev) if prev == *status => {}
            Some(_) => return None,
        }
    }
    found
}

/// FAIL_TO_PASS rule: `PASSED` or `XFAIL`.
pub fn test_passed(status: Option<TestStatus>) -> bool {
    matches!(status, Some(TestStatus::Passed | TestStatus::XFail))
}

/// PASS_TO_PASS rule: `PASSED`, `XFAIL` or `SKIPPED`.
pub fn test_maintained(status: Option<TestStatus>) -> bool {
    matches!(
        status,
        Some(TestStatus::Passed | TestStatus::XFail | TestStatus::Skipped)
    )
}

/// Grades a parsed log against the task's FAIL_TO_PASS and PASS_TO_PASS lists.
pub fn grade(
    statuses: &BTreeMap<String, TestStatus>,
    fail_to_pass: &[String],
    pass_to_pass: &[String],
) -> Grade {
    let mut tests_status = TestsStatus::default();
    for test in fail_to_pass {
        let bucket = &mut tests_status.fail_to_pass;
        if test_passed(lookup(statuses, test)) {
            bucket.success.push(test.clone());
        } else {
            bucket.failure.push(test.clone());
        }
    }
    for test in pass_to_pass {
        let bucket = &mut tests_status.pass_to_pass;
        if test_maintained(lookup(statuses, test)) {
            bucket.success.push(test.clone());
        } else {
            bucket.failure.push(test.clone());
        }
    }
    let f2p_rate = tests_status.fail_to_pass.rate();
    let p2p_rate = tests_status.pass_to_pass.rate();
    Grade {
        status: resolution(f2p_rate, p2p_rate),
        tests_status,
        f2p_rate,
        p2p_rate,
    }
}

/// FULL / PARTIAL / NO from the two rates (SWE-bench's `get_resolution_status`).
pub fn resolution(f2p_rate: f64, p2p_rate: f64) -> ResolutionStatus {
    // Rates are exact ratios of small integers: 1.0 is produced exactly when every test
    // passed, so comparing with 1.0 is sound here.
    let p2p_full = p2p_rate >= 1.0;
    if f2p_rate >= 1.0 && p2p_full {
        ResolutionStatus::Full
    } else if f2p_rate > 0.0 && f2p_rate < 1.0 && p2p_full {
        ResolutionStatus::Partial
    } else {
        ResolutionStatus::No
    }
}
