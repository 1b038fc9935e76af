//! One verification: apply a model patch in a sandbox, reset and patch the tests, run them,
//! grade. The steps and their order follow SWE-bench's `run_instance` and `eval.sh` so that a
//! result here means what it means on the leaderboard.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apprentice_patch::Patch;
use apprentice_sandbox::{ExecOutput, Sandbox};

use crate::flags::{patch_flags, test_files};
use crate::grading::grade;
use crate::parser::{LogParser, TestStatus};
use crate::report::{ApplyMethod, ErrorKind, Flag, LOG_TAIL_BYTES, Report, tail};

/// SWE-bench's pytest command (`pytest -rA`), run as a module so the sandbox's `python3`
/// decides which pytest runs, without writing `.pytest_cache` into the checkout.
pub const DEFAULT_TEST_CMD: &str = "python3 -m pytest -rA -p no:cacheprovider";

/// SWE-bench's default evaluation timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// Limit for each git/patch step; they touch a handful of files.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// SWE-bench's markers around the test output; echoed (SWE-bench relies on `set -x`).
pub const START_TEST_OUTPUT: &str = ">>>>> Start Test Output";
pub const END_TEST_OUTPUT: &str = ">>>>> End Test Output";

/// Printed by our wrapper on the sandbox command's own stdout, which the tests cannot
/// reach (their output goes to a file), so a test cannot forge its exit code.
const EXIT_CODE_MARKER: &str = "__APPRENTICE_TEST_EXIT_CODE=";

/// Everything needed to verify one patch on one task.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyRequest {
    pub instance_id: String,
    /// The model's diff. `None` is SWE-bench's `model_patch: null`; `None` and `""` are both
    /// verified as "no change" (SWE-bench skips them and counts them unresolved; running
    /// the tests gives the same answer plus the statuses, and makes empty-patch calibration
    /// runs possible).
    pub patch: Option<String>,
    /// The task's test changes, applied after the model patch.
    pub test_patch: String,
    pub fail_to_pass: Vec<String>,
    pub pass_to_pass: Vec<String>,
    /// The command; the test patch's test files are appended, shell-quoted.
    pub test_cmd: String,
    pub log_parser: LogParser,
    /// Limit for the test command.
    pub timeout: Duration,
    /// The commit test files are reset to. `None` means the sandbox's `HEAD`, which is the
    /// base commit in a fresh sandbox (both `RepoSource` kinds check it out).
    pub base_commit: Option<String>,
}

impl VerifyRequest {
    /// A request with SWE-bench's defaults: pytest `-rA`, the pytest parser, 1800 s.
    pub fn new(
        instance_id: impl Into<String>,
        patch: Option<String>,
        test_patch: impl Into<String>,
        fail_to_pass: Vec<String>,
        pass_to_pass: Vec<String>,
    ) -> VerifyRequest {
        VerifyRequest {
            instance_id: instance_id.into(),
            patch,
            test_patch: test_patch.into(),
            fail_to_pass,
            pass_to_pass,
            test_cmd: DEFAULT_TEST_CMD.to_string(),
            log_parser: LogParser::Pytest,
            timeout: DEFAULT_TIMEOUT,
            base_commit: None,
        }
    }
}

/// Verifies `req.patch` in `sandbox`, which must be a fresh checkout of the task's base
/// commit (the caller owns it; nothing here creates or destroys sandboxes).
///
/// Steps: flag the patch; apply it with `git apply --verbose`, then `git apply --verbose
/// --reject`, then `patch --batch --fuzz=5 -p1` (undoing a failed attempt's partial changes
/// before the next); reset the test patch's files to the base commit (deleting those that
/// do not exist there) so model edits to them cannot count; apply the test patch; run
/// `test_cmd` on the test files between SWE-bench's markers; parse; grade. Never panics and
/// never returns early without a report: every failure is an ERROR report with a kind.
/// Afterwards the test files are reset again and the scratch files removed.
pub async fn verify(req: &VerifyRequest, sandbox: &dyn Sandbox) -> Report {
    let mut report = Report::new(&req.instance_id);
    report.patch_is_none = req.patch.is_none();
    report.patch_exists = req.patch.is_some();

    let test_patch = match parse_or_empty(&req.test_patch) {
        Ok(p) => p,
        Err(message) => {
            return report.fail(
                ErrorKind::TestPatchApply,
                format!("test patch is not a valid diff: {message}"),
            );
        }
    };

    let mut run = Run {
        sandbox,
        scratch: String::new(),
        base: String::new(),
    };
    let report = match run.prepare(req).await {
        Ok(()) => run.steps(req, &test_patch, report).await,
        Err(message) => report.fail(ErrorKind::Environment, message),
    };
    run.cleanup(&test_patch).await;
    report
}

/// Parses a diff, treating blank text as an empty patch.
fn parse_or_empty(text: &str) -> Result<Patch, String> {
    if text.trim().is_empty() {
        return Ok(Patch::default());
    }
    Patch::parse(text).map_err(|e| e.to_string())
}

struct Run<'a> {
    sandbox: &'a dyn Sandbox,
    /// Directory (relative to the repository root) for the patch files and the test log.
    scratch: String,
    /// The commit test files are reset to.
    base: String,
}

impl Run<'_> {
    /// Finds the base commit and makes the scratch directory. Inside `.git` when there is
    /// one, so nothing shows in `git status` or gets collected by the test runner.
    async fn prepare(&mut self, req: &VerifyRequest) -> Result<(), String> {
        self.base = match &req.base_commit {
            Some(commit) => commit.clone(),
            None => {
                let out = self.exec("git rev-parse HEAD", STEP_TIMEOUT).await?;
                if !out.success() {
                    return Err(format!(
                        "cannot find the base commit (`git rev-parse HEAD`): {}",
                        out.output.trim()
                    ));
                }
                out.output.trim().to_string()
            }
        };
        let in_git = self
            .sandbox
            .exists(".git/HEAD")
            .await
            .map_err(|e| format!("sandbox failed: {e}"))?;
        let nonce = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        // The nonce keeps the paths unguessable to code under test that might try to
        // overwrite the log, and lets concurrent runs in one checkout not collide.
        self.scratch = if in_git {
            format!(".git/apprentice-verify-{nonce:x}")
        } else {
            format!(".apprentice-verify-{nonce:x}")
        };
        let out = self
            .exec(
                &format!("mkdir -p {}", sh_quote(&self.scratch)),
                STEP_TIMEOUT,
            )
            .await?;
        if !out.success() {
            return Err(format!("cannot create scratch directory: {}", out.output));
        }
        Ok(())
    }

    async fn steps(&self, req: &VerifyRequest, test_patch: &Patch, mut report: Report) -> Report {
        // 1. Flags.
        let patch_text = req.patch.as_deref().unwrap_or_default();
        let model_patch = match parse_or_empty(patch_text) {
            Ok(p) => Some(p),
            Err(message) => {
                report.flags.push(Flag::UnparsedPatch { message });
                None
            }
        };
        if let Some(p) = &model_patch {
            report.flags.extend(patch_flags(p));
        }

        // 2. Model patch.
        match self
            .apply_model_patch(patch_text, model_patch.as_ref())
            .await
        {
            Ok(method) => report.apply_method = Some(method),
            Err(ApplyFailure::Patch { message, log }) => {
                report.log_tail = tail(&log, LOG_TAIL_BYTES);
                return report.fail(ErrorKind::PatchApply, message);
            }
            Err(ApplyFailure::Sandbox(message)) => {
                return report.fail(ErrorKind::Environment, message);
            }
        }

        // 3. Reset the test patch's files, then apply it.
        if let Err(message) = self.restore(&test_patch.touched_paths()).await {
            return report.fail(ErrorKind::Environment, message);
        }
        if !test_patch.is_empty() {
            match self.apply_test_patch(&req.test_patch).await {
                Ok(()) => {}
                Err(ApplyFailure::Patch { message, log }) => {
                    report.log_tail = tail(&log, LOG_TAIL_BYTES);
                    return report.fail(ErrorKind::TestPatchApply, message);
                }
                Err(ApplyFailure::Sandbox(message)) => {
                    return report.fail(ErrorKind::Environment, message);
                }
            }
        }
        report.patch_successfully_applied = true;

        // 4. Run the tests.
        report.test_files = test_files(test_patch);
        let outcome = match self.run_tests(req, &report.test_files).await {
            Ok(o) => o,
            Err(message) => return report.fail(ErrorKind::Environment, message),
        };
        report.log_tail = tail(&outcome.log, LOG_TAIL_BYTES);
        report.test_exit_code = outcome.exit_code;
        if outcome.timed_out {
            return report.fail(
                ErrorKind::Timeout,
                format!(
                    "Timeout error: {} seconds exceeded.",
                    req.timeout.as_secs_f64()
                ),
            );
        }
        let Some(exit_code) = outcome.exit_code else {
            return report.fail(
                ErrorKind::Timeout,
                "the test command was killed before it finished",
            );
        };
        if let Some((kind, message)) = killed(exit_code) {
            return report.fail(kind, message);
        }

        // 5. Parse and grade.
        let statuses = req.log_parser.parse(test_section(&outcome.log));
        report.test_statuses = statuses.clone();
        let graded_statuses = match judge_exit_code(exit_code, &statuses) {
            ExitVerdict::Trust => statuses,
            ExitVerdict::Distrust => {
                report.flags.push(Flag::ExitCodeMismatch { exit_code });
                BTreeMap::new()
            }
            ExitVerdict::NoResults => {
                return report.fail(
                    ErrorKind::Environment,
                    format!(
                        "the test command exited with code {exit_code} and reported no test \
                         results (runner missing, bad test command, or a conftest that fails \
                         to import)"
                    ),
                );
            }
        };
        let graded = grade(&graded_statuses, &req.fail_to_pass, &req.pass_to_pass);
        report.status = graded.status;
        report.resolved = graded.status.is_resolved();
        report.tests_status = graded.tests_status;
        report.f2p_rate = graded.f2p_rate;
        report.p2p_rate = graded.p2p_rate;
        report
    }

    /// SWE-bench's three attempts. Between attempts the files the patch touches are put
    /// back to the base commit: `git apply --reject` applies what it can before failing,
    /// and `patch` would then see a half-patched tree.
    ///
    /// Two flags are added to SWE-bench's `patch --batch --fuzz=5 -p1 -i`: `--forward`,
    /// because `--batch` alone applies a hunk *in reverse* when it looks reversed, and with
    /// fuzz 5 a patch that matches nothing can then rewrite unrelated code (a hunk replacing
    /// `return a + b` with `return a - b` in a missing function flips the real `a - b`);
    /// and `--no-backup-if-mismatch`, so a fuzzy apply leaves no `.orig` files.
    async fn apply_model_patch(
        &self,
        text: &str,
        parsed: Option<&Patch>,
    ) -> Result<ApplyMethod, ApplyFailure> {
        if text.trim().is_empty() {
            return Ok(ApplyMethod::Empty);
        }
        let file = format!("{}/model.patch", self.scratch);
        self.write_patch(&file, text).await?;
        let quoted = sh_quote(&file);
        let attempts = [
            (
                ApplyMethod::GitApply,
                format!("git apply --verbose {quoted}"),
            ),
            (
                ApplyMethod::GitApplyReject,
                format!("git apply --verbose --reject {quoted}"),
            ),
            (
                ApplyMethod::PatchFuzz,
                format!("patch --batch --fuzz=5 -p1 --forward --no-backup-if-mismatch -i {quoted}"),
            ),
        ];
        let mut log = String::new();
        let mut git_message = String::new();
        for (method, command) in attempts {
            let out = self
                .exec(&command, STEP_TIMEOUT)
                .await
                .map_err(ApplyFailure::Sandbox)?;
            log.push_str(&format!("$ {command}\n{}\n", out.output.trim_end()));
            if out.success() {
                return Ok(method);
            }
            if git_message.is_empty() {
                git_message = out.output.trim().to_string();
            }
            if let Some(patch) = parsed {
                let paths = patch.touched_paths();
                let mut leftovers: Vec<String> = Vec::new();
                for p in &paths {
                    leftovers.push(format!("{p}.rej"));
                    leftovers.push(format!("{p}.orig"));
                }
                self.restore(&paths).await.map_err(ApplyFailure::Sandbox)?;
                self.remove(&leftovers)
                    .await
                    .map_err(ApplyFailure::Sandbox)?;
            }
        }
        Err(ApplyFailure::Patch {
            message: format!(">>>>> Patch Apply Failed:\n{git_message}"),
            log,
        })
    }

    async fn apply_test_patch(&self, text: &str) -> Result<(), ApplyFailure> {
        let file = format!("{}/test.patch", self.scratch);
        self.write_patch(&file, text).await?;
        let command = format!("git apply --verbose {}", sh_quote(&file));
        let out = self
            .exec(&command, STEP_TIMEOUT)
            .await
            .map_err(ApplyFailure::Sandbox)?;
        if out.success() {
            return Ok(());
        }
        Err(ApplyFailure::Patch {
            message: format!("test patch did not apply: {}", out.output.trim()),
            log: format!("$ {command}\n{}", out.output),
        })
    }

    /// Writes a patch file, newline-terminated (git calls a patch whose last line lacks
    /// one corrupt, and model output often does).
    async fn write_patch(&self, file: &str, text: &str) -> Result<(), ApplyFailure> {
        let mut bytes = text.as_bytes().to_vec();
        if !text.ends_with('\n') {
            bytes.push(b'\n');
        }
        self.sandbox
            .write_file(file, &bytes)
            .await
            .map_err(|e| ApplyFailure::Sandbox(format!("cannot write {file}: {e}")))
    }

    /// Runs the test command with its output in a file (read back whole: the sandbox caps
    /// command output, and a big suite's summary must not lose its middle).
    async fn run_tests(
        &self,
        req: &VerifyRequest,
        files: &[String],
    ) -> Result<TestOutcome, String> {
        let log_file = format!("{}/test_output.txt", self.scratch);
        let mut command = req.test_cmd.trim().to_string();
        for f in files {
            command.push(' ');
            command.push_str(&sh_quote(f));
        }
        // Subshell: an `exit` or `cd` in test_cmd cannot skip the end marker.
        let script = format!(
            "{{ echo '{START_TEST_OUTPUT}'; ( {command} ) < /dev/null; rc=$?; \
             echo '{END_TEST_OUTPUT}'; }} > {log} 2>&1; echo \"{EXIT_CODE_MARKER}$rc\"",
            log = sh_quote(&log_file),
        );
        let out = self.exec(&script, req.timeout).await?;
        let log = match self.sandbox.read_file(&log_file).await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(_) if out.timed_out => String::new(),
            Err(e) => {
                return Err(format!(
                    "the test log is missing ({e}); wrapper output: {}",
                    out.output.trim()
                ));
            }
        };
        let exit_code = if out.timed_out {
            None
        } else {
            out.output
                .lines()
                .rev()
                .find_map(|l| l.trim().strip_prefix(EXIT_CODE_MARKER))
                .and_then(|n| n.trim().parse::<i32>().ok())
        };
        Ok(TestOutcome {
            log,
            exit_code,
            timed_out: out.timed_out,
        })
    }

    /// Puts `paths` back to their state at the base commit: checked out when they exist
    /// there, deleted when they do not (a file the patch created). Paths that could leave
    /// the repository are skipped.
    async fn restore(&self, paths: &[String]) -> Result<(), String> {
        let base = sh_quote(&self.base);
        let mut script = String::new();
        for path in paths.iter().filter(|p| is_safe_relative(p)) {
            let q = sh_quote(path);
            let spec = sh_quote(&format!("{}:{path}", self.base));
            script.push_str(&format!(
                "if git cat-file -e {spec} 2>/dev/null; then git checkout -q {base} -- {q} \
                 || exit 1; else rm -f -- {q}; fi\n"
            ));
        }
        if script.is_empty() {
            return Ok(());
        }
        let out = self.exec(&script, STEP_TIMEOUT).await?;
        if out.success() {
            Ok(())
        } else {
            Err(format!(
                "cannot reset files to {}: {}",
                self.base,
                out.output.trim()
            ))
        }
    }

    async fn remove(&self, paths: &[String]) -> Result<(), String> {
        let quoted: Vec<String> = paths
            .iter()
            .filter(|p| is_safe_relative(p))
            .map(|p| sh_quote(p))
            .collect();
        if quoted.is_empty() {
            return Ok(());
        }
        self.exec(&format!("rm -f -- {}", quoted.join(" ")), STEP_TIMEOUT)
            .await
            .map(|_| ())
    }

    /// Best effort, like SWE-bench's closing `git checkout`: the checkout is left with the
    /// model patch applied and the tests as at the base commit.
    async fn cleanup(&self, test_patch: &Patch) {
        if !self.base.is_empty()
            && let Err(e) = self.restore(&test_patch.touched_paths()).await
        {
            tracing::warn!("verify cleanup: {e}");
        }
        if !self.scratch.is_empty() {
            let _ = self
                .exec(
                    &format!("rm -rf -- {}", sh_quote(&self.scratch)),
                    STEP_TIMEOUT,
                )
                .await;
        }
    }

    async fn exec(&self, command: &str, timeout: Duration) -> Result<ExecOutput, String> {
        self.sandbox
            .exec(command, timeout)
            .await
            .map_err(|e| format!("sandbox failed running `{}`: {e}", first_line(command)))
    }
}

enum ApplyFailure {
    /// The patch itself did not apply.
    Patch { message: String, log: String },
    /// The sandbox failed underneath.
    Sandbox(String),
}

impl From<String> for ApplyFailure {
    fn from(message: String) -> Self {
        ApplyFailure::Sandbox(message)
    }
}

struct TestOutcome {
    log: String,
    exit_code: Option<i32>,
    timed_out: bool,
}

enum ExitVerdict {
    /// Grade the parsed statuses.
    Trust,
    /// Non-zero exit but every reported test is fine: grade as if nothing was reported.
    Distrust,
    /// Non-zero exit and nothing reported: the run itself failed.
    NoResults,
}

/// Exit codes that mean the test run was cut short rather than finished: the statuses of a
/// killed run are partial, so grading them would turn an infrastructure failure into a fake
/// NO. 124 is what `timeout(1)` in a test command returns; 128+N is death by signal N as the
/// shell reports it (pytest itself never exits above 5). Kills from outside (SIGKILL from a
/// watchdog or the OOM killer, SIGTERM, SIGINT, SIGHUP) count as timeouts; crashes (SIGSEGV,
/// SIGABRT, ...) as environment failures.
fn killed(exit_code: i32) -> Option<(ErrorKind, String)> {
    const SIGHUP: i32 = 1;
    const SIGINT: i32 = 2;
    const SIGKILL: i32 = 9;
    const SIGTERM: i32 = 15;
    if exit_code == 124 {
        return Some((
            ErrorKind::Timeout,
            "the test command timed out (exit code 124)".to_string(),
        ));
    }
    let signal = exit_code - 128;
    if !(1..=64).contains(&signal) {
        return None;
    }
    let kind = match signal {
        SIGHUP | SIGINT | SIGKILL | SIGTERM => ErrorKind::Timeout,
        _ => ErrorKind::Environment,
    };
    Some((
        kind,
        format!("the test command was killed by signal {signal} (exit code {exit_code})"),
    ))
}

/// SWE-bench v5's exit-code rule (#620): a test run that exits non-zero must show why. pytest
/// exits 1 when a test failed, 2 on collection errors (reported as `ERROR path.py`); a
/// non-zero code with only passing statuses means the log cannot be believed.
fn judge_exit_code(exit_code: i32, statuses: &BTreeMap<String, TestStatus>) -> ExitVerdict {
    if exit_code == 0 {
        return ExitVerdict::Trust;
    }
    if statuses.is_empty() {
        return ExitVerdict::NoResults;
    }
    let explained = statuses
        .values()
        .any(|s| matches!(s, TestStatus::Failed | TestStatus::Error));
    if explained {
        ExitVerdict::Trust
    } else {
        ExitVerdict::Distrust
    }
}

/// The text between the first start marker and the last end marker (to the end when the
/// end marker is missing, as after a kill).
fn test_section(log: &str) -> &str {
    let after_start = match log.find(START_TEST_OUTPUT) {
        Some(i) => &log[i + START_TEST_OUTPUT.len()..],
        None => log,
    };
    match after_start.rfind(END_TEST_OUTPUT) {
        Some(i) => &after_start[..i],
        None => after_start,
    }
}

/// Single-quotes a string for bash.
pub(crate) fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A relative path with no `..` component: safe to hand to `rm` at the repository root.
fn is_safe_relative(path: &str) -> bool {
    !path.is_empty() && !path.starts_with('/') && !path.split('/').any(|c| c == "..")
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn safe_paths() {
        assert!(is_safe_relative("tests/test_a.py"));
        assert!(!is_safe_relative("../etc/passwd"));
        assert!(!is_safe_relative("a/../../b"));
        assert!(!is_safe_relative("/etc/passwd"));
        assert!(!is_safe_relative(""));
    }

    #[test]
    fn markers_slice_the_log() {
        let log = format!("noise\n{START_TEST_OUTPUT}\nbody\n{END_TEST_OUTPUT}\nafter");
        assert_eq!(test_section(&log).trim(), "body");
        let cut = format!("{START_TEST_OUTPUT}\npartial");
        assert_eq!(test_section(&cut).trim(), "partial");
    }

    #[test]
    fn killed_exit_codes() {
        assert_eq!(killed(0), None);
        assert_eq!(killed(1), None);
        assert_eq!(killed(5), None);
        assert_eq!(killed(127), None);
        assert_eq!(killed(124).map(|k| k.0), Some(ErrorKind::Timeout));
        assert_eq!(killed(137).map(|k| k.0), Some(ErrorKind::Timeout));
        assert_eq!(killed(143).map(|k| k.0), Some(ErrorKind::Timeout));
        assert_eq!(killed(139).map(|k| k.0), Some(ErrorKind::Environment));
        assert_eq!(killed(255), None);
    }

    #[test]
    fn exit_code_rule() {
        let mut s = BTreeMap::new();
        assert!(matches!(judge_exit_code(0, &s), ExitVerdict::Trust));
        assert!(matches!(judge_exit_code(4, &s), ExitVerdict::NoResults));
        s.insert("t::a".to_string(), TestStatus::Passed);
        assert!(matches!(judge_exit_code(1, &s), ExitVerdict::Distrust));
        s.insert("t::b".to_string(), TestStatus::Failed);
        assert!(matches!(judge_exit_code(1, &s), ExitVerdict::Trust));
        let mut c = BTreeMap::new();
        c.insert("tests/test_x.py".to_string(), TestStatus::Error);
        assert!(matches!(judge_exit_code(2, &c), ExitVerdict::Trust));
    }
}
