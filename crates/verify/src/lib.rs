//! Verification: is a patch a real fix for a task?
//!
//! Every result apprentice trains on is proven by the task's own tests, graded the way
//! SWE-bench grades them: apply the model patch, reset the test files, apply the task's test
//! patch, run the tests, parse the log, and check FAIL_TO_PASS and PASS_TO_PASS. A wrong
//! verifier silently poisons the training data (a missing test that counts as passing, a
//! forged `PASSED` line, a timeout that reads as "unresolved"), so this crate follows the
//! official harness rule for rule and keeps three outcomes apart: resolved, unresolved, and
//! infrastructure error.
//!
//! * [`parser`]: test log -> test statuses ([`LogParser`]).
//! * [`grading`]: statuses + lists -> FULL / PARTIAL / NO ([`grade`]).
//! * [`verify()`]: the whole flow in a [`apprentice_sandbox::Sandbox`], producing a [`Report`].
//! * [`predictions`]: reading SWE-bench predictions files.

pub mod flags;
pub mod grading;
pub mod parser;
pub mod predictions;
pub mod report;
mod verify;

pub use flags::{NON_TEST_EXTS, is_conftest, is_test_path, patch_flags, test_files};
pub use grading::{
    Grade, ResolutionStatus, TestBucket, TestsStatus, grade, lookup, resolution, test_maintained,
    test_passed,
};
pub use parser::{
    LogParser, TestStatus, UnknownParser, parse_django, parse_matplotlib, parse_pytest,
    parse_pytest_options, parse_pytest_v2, parse_seaborn, parse_sympy,
};
pub use predictions::{Prediction, PredictionsError, parse_predictions, read_predictions};
pub use report::{ApplyMethod, ErrorKind, Flag, LOG_TAIL_BYTES, Report, VerifyError, tail};
pub use verify::{
    DEFAULT_TEST_CMD, DEFAULT_TIMEOUT, END_TEST_OUTPUT, START_TEST_OUTPUT, VerifyRequest, verify,
};
