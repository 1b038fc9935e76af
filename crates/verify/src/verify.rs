//! One verification: apply a model patch in a sandbox, reset and patch the tests, run them,
//! grade. The steps and their order follow SWE-bench's `run_instance` and `eval.sh` so that a
//! result here means what it means on the leaderboard.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apprentice_patch::Patch;
use apprentice_sandbox::Sandbox;

use crate::flags::{patch_flags, test_files};
use crate::grading::grade;
use crate::parser::{LogParser, TestStatus};
use crate::report::{ApplyMethod, ErrorKind, Flag, LOG_TAIL_BYTES, Report, tail};

/// SWE-bench's pytest command (`pytest -rA`), run as a module so the sandbox's `python3`
/// decides which pytest runs, without writing `.pytest_cache` into the checkout.
pub const DEFAULT_TEST_CMD: &str = "python3 -m pytest -rA -p no:cacheprovider";

/// SWE-bench's default evaluation timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// Time the evaluation may take beyond the test command's own limit: the git and patch
/// steps touch a handful of files.
const STEPS_TIMEOUT: Duration = Duration::from_secs(120);

/// SWE-bench's markers around the test output; echoed (SWE-bench relies on `set -x`).
pub const START_TEST_OUTPUT: &str = ">>>>> Start Test Output";
pub const END_TEST_OUTPUT: &str = ">>>>> End Test Output";

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
///
/// All of it runs in the sandbox as one script ([`Sandbox::run_script`]), with the patches
/// on its standard input: in a container every command is a round trip to the engine, and
/// one evaluation used to be a dozen of them.
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

    let eval = Eval::new(req, model_patch.as_ref(), &test_patch);
    let output = match sandbox
        .run_script(&eval.script(), &eval.input(), req.timeout + STEPS_TIMEOUT)
        .await
    {
        Ok(output) => output,
        Err(e) => {
            return report.fail(
                ErrorKind::Environment,
                format!("sandbox failed running the evaluation: {e}"),
            );
        }
    };
    let transcript = Transcript::parse(&String::from_utf8_lossy(&output.output), &eval.nonce);
    report.test_files = test_files(&test_patch);
    judge(req, report, &transcript, output.timed_out, sandbox).await
}

/// Parses a diff, treating blank text as an empty patch.
fn parse_or_empty(text: &str) -> Result<Patch, String> {
    if text.trim().is_empty() {
        return Ok(Patch::default());
    }
    Patch::parse(text).map_err(|e| e.to_string())
}

/// SWE-bench's three ways to apply a model patch, in order, with the name the transcript
/// and the report use. Two flags are added to SWE-bench's `patch --batch --fuzz=5 -p1 -i`:
/// `--forward`, because `--batch` alone applies a hunk *in reverse* when it looks reversed,
/// and with fuzz 5 a patch that matches nothing can then rewrite unrelated code (a hunk
/// replacing `return a + b` with `return a - b` in a missing function flips the real
/// `a - b`); and `--no-backup-if-mismatch`, so a fuzzy apply leaves no `.orig` files.
const APPLY_ATTEMPTS: &[(ApplyMethod, &str, &str)] = &[
    (ApplyMethod::GitApply, "git_apply", "git apply --verbose"),
    (
        ApplyMethod::GitApplyReject,
        "git_apply_reject",
        "git apply --verbose --reject",
    ),
    (
        ApplyMethod::PatchFuzz,
        "patch_fuzz",
        "patch --batch --fuzz=5 -p1 --forward --no-backup-if-mismatch -i",
    ),
];

/// The evaluation script and its input for one request.
struct Eval<'a> {
    req: &'a VerifyRequest,
    /// Tags the script's own markers; unguessable to the code under test, whose output is
    /// in the same stream (after the markers) and could otherwise forge them.
    nonce: String,
    /// The model patch as sent (newline-terminated: git calls a patch whose last line lacks
    /// one corrupt, and model output often does); empty for no patch.
    model: Vec<u8>,
    /// Paths the model patch touches, reset between attempts; `None` when it did not parse.
    model_paths: Option<Vec<String>>,
    test: Vec<u8>,
    test_paths: Vec<String>,
    test_files: Vec<String>,
}

impl<'a> Eval<'a> {
    fn new(req: &'a VerifyRequest, model: Option<&Patch>, test: &Patch) -> Eval<'a> {
        let nonce = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let text = req.patch.as_deref().unwrap_or_default();
        Eval {
            req,
            nonce: format!("{nonce:x}{:x}", std::process::id()),
            model: if text.trim().is_empty() {
                Vec::new()
            } else {
                terminated(text)
            },
            model_paths: model.map(safe_paths),
            test: if test.is_empty() {
                Vec::new()
            } else {
                terminated(&req.test_patch)
            },
            test_paths: safe_paths(test),
            test_files: test_files(test),
        }
    }

    /// Both patches back to back; the script splits them by length.
    fn input(&self) -> Vec<u8> {
        [self.model.as_slice(), self.test.as_slice()].concat()
    }

    fn script(&self) -> String {
        let base = self.req.base_commit.as_deref().unwrap_or_default();
        let model_paths = self.model_paths.clone().unwrap_or_default();
        let leftovers: Vec<String> = model_paths
            .iter()
            .flat_map(|p| [format!("{p}.rej"), format!("{p}.orig")])
            .collect();
        let mut command = self.req.test_cmd.trim().to_string();
        for f in &self.test_files {
            command.push(' ');
            command.push_str(&sh_quote(f));
        }
        let mut script = format!(
            "set -u\nN={nonce}\nB={base}\nM_LEN={m}\nT_LEN={t}\nPARSED={parsed}\n\
             MODEL_PATHS=({model_paths})\nLEFTOVERS=({leftovers})\nTEST_PATHS=({test_paths})\n",
            nonce = self.nonce,
            base = sh_quote(base),
            m = self.model.len(),
            t = self.test.len(),
            parsed = u8::from(self.model_paths.is_some()),
            model_paths = quote_all(&model_paths),
            leftovers = quote_all(&leftovers),
            test_paths = quote_all(&self.test_paths),
        );
        script.push_str(PREPARE);
        if !self.model.is_empty() {
            script.push_str("applied=\n");
            for (_, name, command) in APPLY_ATTEMPTS {
                script.push_str(&format!(
                    "if [ -z \"$applied\" ]; then mark try {name}\n\
                     if {command} \"$S/model.patch\" </dev/null 2>&1; then applied={name}\n\
                     else undo; fi; fi\n"
                ));
            }
            script.push_str(
                "[ -n \"$applied\" ] || { mark apply_failed; exit 0; }\nmark applied \"$applied\"\n",
            );
        }
        script.push_str(&format!(
            "{TEST_PHASE}\
             {{ echo '{START_TEST_OUTPUT}'; timeout -k 10 {secs:.1} bash -c {command} </dev/null; \
             rc=$?; echo '{END_TEST_OUTPUT}'; }} > \"$S/test_output.txt\" 2>&1\n{FINISH}",
            secs = self.req.timeout.as_secs_f64().max(0.1),
            command = sh_quote(&command),
        ));
        script
    }
}

/// Scratch directory (inside `.git` when there is one, so nothing shows in `git status` or
/// gets collected by the test runner; removed on exit), the patches from stdin, the base
/// commit, and the reset helpers. Every marker line is `@@<nonce> <event> [args]`; the text
/// up to the next marker is the event's output.
const PREPARE: &str = r#"mark() { printf '\n@@%s %s\n' "$N" "$*"; }
fail() { mark fail environment; printf '%s\n' "$*"; exit 0; }
if [ -e .git/HEAD ]; then S=".git/apprentice-verify-$N"; else S=".apprentice-verify-$N"; fi
trap 'rm -rf -- "$S"' EXIT
mkdir -p "$S" || fail "cannot create the scratch directory $S"
head -c "$M_LEN" >"$S/model.patch" && head -c "$T_LEN" >"$S/test.patch" || fail "cannot read the patches"
[ "$(wc -c <"$S/model.patch")" = "$M_LEN" ] && [ "$(wc -c <"$S/test.patch")" = "$T_LEN" ] \
    || fail "the patches did not arrive whole"
if [ -z "$B" ]; then
    B="$(git rev-parse HEAD 2>&1)" || fail "cannot find the base commit (git rev-parse HEAD): $B"
fi
restore() {
    local p
    for p in "$@"; do
        if git cat-file -e "$B:$p" 2>/dev/null; then git checkout -q "$B" -- "$p" || return 1
        else rm -f -- "$p"; fi
    done
}
undo() {
    [ "$PARSED" = 1 ] || return 0
    restore "${MODEL_PATHS[@]}" || fail "cannot reset files to $B"
    rm -f -- "${LEFTOVERS[@]}"
}
"#;

/// Resets the test patch's files and applies it; then the test run's preamble.
const TEST_PHASE: &str = r#"restore "${TEST_PATHS[@]}" || fail "cannot reset files to $B"
if [ "$T_LEN" != 0 ]; then
    mark test_patch
    git apply --verbose "$S/test.patch" </dev/null 2>&1 || { mark test_patch_failed; exit 0; }
fi
oom() { cat /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events 2>/dev/null | awk '$1=="oom_kill"{print $2; exit}'; }
o1="$(oom)"
mark tests_start
"#;

/// The exit code and OOM counts, the test files reset, then the log, last and whole.
const FINISH: &str = r#"o2="$(oom)"
mark tests "$rc" "${o1:--}" "${o2:--}"
restore "${TEST_PATHS[@]}"
mark log "$(wc -c <"$S/test_output.txt")"
cat "$S/test_output.txt"
"#;

/// What the evaluation script printed, split at its markers.
#[derive(Debug, Default)]
struct Transcript {
    /// (event words, output) in order.
    events: Vec<(Vec<String>, String)>,
    /// The test log, when the script got that far.
    log: Option<String>,
}

impl Transcript {
    fn parse(text: &str, nonce: &str) -> Transcript {
        let tag = format!("\n@@{nonce} ");
        let (control, log) = match text.find(&format!("{tag}log ")) {
            Some(i) => {
                let rest = &text[i + 1..];
                let body = rest.split_once('\n').map_or("", |(_, body)| body);
                (&text[..i], Some(body.to_string()))
            }
            None => (text, None),
        };
        let events = control
            .split(&tag)
            .skip(1)
            .map(|chunk| {
                let (head, body) = chunk.split_once('\n').unwrap_or((chunk, ""));
                let words = head.split_whitespace().map(str::to_string).collect();
                (words, body.trim_end_matches('\n').to_string())
            })
            .collect();
        Transcript { events, log }
    }

    fn find(&self, event: &str) -> Option<&(Vec<String>, String)> {
        self.events
            .iter()
            .find(|(words, _)| words.first().is_some_and(|w| w == event))
    }

    fn has(&self, event: &str) -> bool {
        self.find(event).is_some()
    }
}

/// Turns the transcript into the report: apply outcome, test outcome, grade.
async fn judge(
    req: &VerifyRequest,
    mut report: Report,
    transcript: &Transcript,
    timed_out: bool,
    sandbox: &dyn Sandbox,
) -> Report {
    if let Some((_, message)) = transcript.find("fail") {
        return report.fail(ErrorKind::Environment, message.trim());
    }
    // 1. The model patch.
    let mut attempts = String::new();
    let mut first_error = String::new();
    for (words, output) in &transcript.events {
        if words.first().map(String::as_str) != Some("try") {
            continue;
        }
        let command = APPLY_ATTEMPTS
            .iter()
            .find(|(_, name, _)| words.get(1).is_some_and(|w| w == name))
            .map_or("", |(_, _, command)| command);
        attempts.push_str(&format!("$ {command} model.patch\n{}\n", output.trim_end()));
        if first_error.is_empty() {
            first_error = output.trim().to_string();
        }
    }
    if transcript.has("apply_failed") {
        report.log_tail = tail(&attempts, LOG_TAIL_BYTES);
        return report.fail(
            ErrorKind::PatchApply,
            format!(">>>>> Patch Apply Failed:\n{first_error}"),
        );
    }
    report.apply_method = match transcript.find("applied") {
        Some((words, _)) => APPLY_ATTEMPTS
            .iter()
            .find(|(_, name, _)| words.get(1).is_some_and(|w| w == name))
            .map(|(method, _, _)| *method),
        None if req.patch.as_deref().unwrap_or_default().trim().is_empty() => {
            Some(ApplyMethod::Empty)
        }
        None => None,
    };
    // 2. The test patch.
    if transcript.has("test_patch_failed") {
        let output = transcript
            .find("test_patch")
            .map_or("", |(_, o)| o.as_str());
        report.log_tail = tail(
            &format!("$ git apply --verbose test.patch\n{output}"),
            LOG_TAIL_BYTES,
        );
        return report.fail(
            ErrorKind::TestPatchApply,
            format!("test patch did not apply: {}", output.trim()),
        );
    }
    if !transcript.has("tests_start") {
        return report.fail(
            if timed_out {
                ErrorKind::Timeout
            } else {
                ErrorKind::Environment
            },
            format!(
                "the evaluation stopped before the tests ran{}",
                if timed_out { " (time limit)" } else { "" }
            ),
        );
    }
    report.patch_successfully_applied = true;
    // 3. The test run.
    let log = transcript.log.clone().unwrap_or_default();
    report.log_tail = tail(&log, LOG_TAIL_BYTES);
    let Some((words, _)) = transcript.find("tests") else {
        if sandbox.out_of_memory().await {
            return report.fail(ErrorKind::OutOfMemory, OOM_MESSAGE);
        }
        return report.fail(
            ErrorKind::Timeout,
            if timed_out {
                format!(
                    "Timeout error: {} seconds exceeded.",
                    req.timeout.as_secs_f64()
                )
            } else {
                "the test command was killed before it finished".to_string()
            },
        );
    };
    let Some(exit_code) = words.get(1).and_then(|c| c.parse::<i32>().ok()) else {
        return report.fail(ErrorKind::Environment, "the test run reported no exit code");
    };
    if exit_code == TIMEOUT_EXIT {
        return report.fail(
            ErrorKind::Timeout,
            format!(
                "Timeout error: {} seconds exceeded.",
                req.timeout.as_secs_f64()
            ),
        );
    }
    report.test_exit_code = Some(exit_code);
    if let Some((kind, message)) = killed(exit_code) {
        let oom_counted = match (words.get(2), words.get(3)) {
            (Some(before), Some(after)) => matches!(
                (before.parse::<u64>(), after.parse::<u64>()),
                (Ok(b), Ok(a)) if a > b
            ),
            _ => false,
        };
        if exit_code == 128 + SIGKILL && (oom_counted || sandbox.out_of_memory().await) {
            return report.fail(ErrorKind::OutOfMemory, OOM_MESSAGE);
        }
        return report.fail(kind, message);
    }

    // 4. Parse and grade.
    let statuses = req.log_parser.parse(test_section(&log));
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

const OOM_MESSAGE: &str = "out of memory: the kernel's OOM killer killed the test run \
                           (exit code 137); the sandbox's memory limit is too small for it";

/// What `timeout(1)` returns when the limit expired (the script runs the tests under it).
const TIMEOUT_EXIT: i32 = 124;

const SIGKILL: i32 = 9;

fn terminated(text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    if !text.ends_with('\n') {
        bytes.push(b'\n');
    }
    bytes
}

/// The paths a patch touches that are safe to hand to `rm` at the repository root.
fn safe_paths(patch: &Patch) -> Vec<String> {
    patch
        .touched_paths()
        .into_iter()
        .filter(|p| is_safe_relative(p))
        .collect()
}

fn quote_all(items: &[String]) -> String {
    items
        .iter()
        .map(|i| sh_quote(i))
        .collect::<Vec<_>>()
        .join(" ")
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
/// NO. 128+N is death by signal N as the shell reports it (pytest itself never exits above
/// 5). Kills from outside (SIGKILL from a watchdog, SIGTERM, SIGINT, SIGHUP) count as
/// timeouts, unless the OOM killer did it ([`judge`] checks); crashes (SIGSEGV, SIGABRT,
/// ...) as environment failures.
fn killed(exit_code: i32) -> Option<(ErrorKind, String)> {
    const SIGHUP: i32 = 1;
    const SIGINT: i32 = 2;
    const SIGTERM: i32 = 15;
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
        assert_eq!(killed(124), None);
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
