//! `verify()` end to end: a real `LocalSandbox` over a tiny Python project made here, real
//! git, real pytest. Each case is one SWE-bench-style outcome.

use std::path::Path;
use std::time::{Duration, Instant};

use apprentice_sandbox::{LocalSandboxFactory, RepoSource, Sandbox, SandboxFactory};
use apprentice_verify::{
    ApplyMethod, ErrorKind, Flag, Report, ResolutionStatus, TestStatus, VerifyRequest, verify,
};

/// Joins diff lines; written line by line so context lines that are a single space survive
/// editors and formatters.
fn diff(lines: &[&str]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

const CALC: &str = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n";
const TEST_CALC: &str =
    "from calc import add, mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n";

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

async fn sandbox() -> (tempfile::TempDir, Box<dyn Sandbox>) {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "calc.py", CALC);
    write(dir.path(), "tests/test_calc.py", TEST_CALC);
    let sandbox = LocalSandboxFactory::new()
        .create(&RepoSource::Snapshot {
            path: dir.path().to_path_buf(),
        })
        .await
        .expect("sandbox");
    (dir, sandbox)
}

/// Adds `test_add` to the existing test file and creates `tests/test_extra.py`.
fn test_patch() -> String {
    diff(&[
        "diff --git a/tests/test_calc.py b/tests/test_calc.py",
        "--- a/tests/test_calc.py",
        "+++ b/tests/test_calc.py",
        "@@ -4,2 +4,6 @@ from calc import add, mul",
        " def test_mul():",
        "     assert mul(2, 3) == 6",
        "+",
        "+",
        "+def test_add():",
        "+    assert add(2, 3) == 5",
        "diff --git a/tests/test_extra.py b/tests/test_extra.py",
        "new file mode 100644",
        "--- /dev/null",
        "+++ b/tests/test_extra.py",
        "@@ -0,0 +1,5 @@",
        "+from calc import add",
        "+",
        "+",
        "+def test_add_zero():",
        "+    assert add(0, 7) == 7",
    ])
}

fn calc_patch(new_add: &[&str], new_mul: &str) -> String {
    let mut lines = vec![
        "diff --git a/calc.py b/calc.py",
        "--- a/calc.py",
        "+++ b/calc.py",
    ];
    let header = format!("@@ -1,6 +1,{} @@", 5 + new_add.len());
    lines.push(&header);
    lines.push(" def add(a, b):");
    lines.push("-    return a - b");
    let added: Vec<String> = new_add.iter().map(|l| format!("+{l}")).collect();
    lines.extend(added.iter().map(String::as_str));
    lines.extend([" ", " ", " def mul(a, b):", "-    return a * b"]);
    let mul = format!("+{new_mul}");
    lines.push(&mul);
    diff(&lines)
}

fn gold() -> String {
    calc_patch(&["    return a + b"], "    return a * b")
}

fn request(patch: Option<String>) -> VerifyRequest {
    let mut req = VerifyRequest::new(
        "demo__calc-1",
        patch,
        test_patch(),
        vec![
            "tests/test_calc.py::test_add".into(),
            "tests/test_extra.py::test_add_zero".into(),
        ],
        vec!["tests/test_calc.py::test_mul".into()],
    );
    req.timeout = Duration::from_secs(60);
    req
}

async fn run(req: &VerifyRequest) -> (Report, Box<dyn Sandbox>, tempfile::TempDir) {
    let (dir, sb) = sandbox().await;
    let report = verify(req, sb.as_ref()).await;
    (report, sb, dir)
}

fn assert_status(report: &Report, status: ResolutionStatus) {
    assert_eq!(
        report.status, status,
        "error: {:?}\nflags: {:?}\nstatuses: {:?}\nlog:\n{}",
        report.error, report.flags, report.test_statuses, report.log_tail
    );
}

/// Callers spawn verifications on a multi-threaded runtime.
#[allow(dead_code)]
fn verify_future_is_send(req: &VerifyRequest, sb: &dyn Sandbox) {
    fn assert_send<T: Send>(_: T) {}
    assert_send(verify(req, sb));
}

#[tokio::test]
async fn gold_patch_is_resolved_and_leaves_the_tree_clean() {
    let (report, sb, _dir) = run(&request(Some(gold()))).await;
    assert_status(&report, ResolutionStatus::Full);
    assert!(report.resolved);
    assert!(report.error.is_none());
    assert!(report.patch_successfully_applied);
    assert_eq!(report.apply_method, Some(ApplyMethod::GitApply));
    assert!(report.flags.is_empty(), "{:?}", report.flags);
    assert_eq!(
        report.test_files,
        vec!["tests/test_calc.py", "tests/test_extra.py"]
    );
    assert_eq!(report.test_exit_code, Some(0));
    assert_eq!(
        report.test_statuses.get("tests/test_calc.py::test_add"),
        Some(&TestStatus::Passed)
    );
    assert_eq!((report.f2p_rate, report.p2p_rate), (1.0, 1.0));
    assert!(report.log_tail.contains("short test summary info"));

    let json = report.to_swebench_json();
    let inner = &json["demo__calc-1"];
    assert_eq!(inner["resolved"], true);
    assert_eq!(inner["patch_successfully_applied"], true);
    assert_eq!(
        inner["tests_status"]["FAIL_TO_PASS"]["success"][1],
        "tests/test_extra.py::test_add_zero"
    );

    // Afterwards: the model patch stays, test files are back at base, no scratch files.
    let status = sb
        .exec(
            "git status --porcelain --ignored=no",
            Duration::from_secs(30),
        )
        .await
        .expect("git status");
    assert_eq!(status.output.trim(), "M calc.py");
    assert!(!sb.exists("tests/test_extra.py").await.expect("exists"));
    let git_dir = sb
        .exec("ls .git", Duration::from_secs(10))
        .await
        .expect("ls");
    assert!(
        !git_dir.output.contains("apprentice-verify"),
        "{}",
        git_dir.output
    );
}

#[tokio::test]
async fn empty_patch_is_not_resolved() {
    for patch in [None, Some(String::new())] {
        let is_none = patch.is_none();
        let (report, _sb, _dir) = run(&request(patch)).await;
        assert_status(&report, ResolutionStatus::No);
        assert_eq!(report.apply_method, Some(ApplyMethod::Empty));
        assert_eq!(report.patch_is_none, is_none);
        assert_eq!(
            report.tests_status.fail_to_pass.failure.len(),
            2,
            "both F2P tests fail on the base code"
        );
        assert_eq!(report.tests_status.pass_to_pass.success.len(), 1);
        let json = report.to_swebench_json();
        assert_eq!(json["demo__calc-1"]["patch_is_None"], is_none);
        assert_eq!(json["demo__calc-1"]["resolved"], false);
    }
}

#[tokio::test]
async fn patch_that_breaks_a_pass_to_pass_test_is_not_resolved() {
    let breaking = calc_patch(&["    return a + b"], "    return a * b + 1");
    let (report, _sb, _dir) = run(&request(Some(breaking))).await;
    assert_status(&report, ResolutionStatus::No);
    assert_eq!(report.f2p_rate, 1.0);
    assert_eq!(report.p2p_rate, 0.0);
    assert_eq!(
        report.tests_status.pass_to_pass.failure,
        vec!["tests/test_calc.py::test_mul".to_string()]
    );
}

#[tokio::test]
async fn partial_fix() {
    // Fixes add(0, x) only: test_add_zero passes, test_add does not.
    let partial = calc_patch(&["    return b if a == 0 else a - b"], "    return a * b");
    let (report, _sb, _dir) = run(&request(Some(partial))).await;
    assert_status(&report, ResolutionStatus::Partial);
    assert!(!report.resolved);
    assert_eq!(report.f2p_rate, 0.5);
}

#[tokio::test]
async fn patch_that_does_not_apply_is_an_error() {
    // This hunk also matches the base code *in reverse* (`a - b` -> `a + b` in `add`), and
    // plain `patch --batch --fuzz=5` would apply it that way and "resolve" the task.
    let bad = diff(&[
        "diff --git a/calc.py b/calc.py",
        "--- a/calc.py",
        "+++ b/calc.py",
        "@@ -1,2 +1,2 @@",
        " def subtract(a, b):",
        "-    return a + b",
        "+    return a - b",
    ]);
    let (report, sb, _dir) = run(&request(Some(bad))).await;
    assert_status(&report, ResolutionStatus::Error);
    assert_eq!(report.error_kind(), Some(ErrorKind::PatchApply));
    let message = report
        .error
        .as_ref()
        .map(|e| e.message.as_str())
        .unwrap_or_default();
    assert!(
        message.contains("patch does not apply"),
        "git's message: {message}"
    );
    assert!(!report.patch_successfully_applied);
    assert_eq!(report.apply_method, None);
    assert!(report.log_tail.contains("git apply --verbose --reject"));
    let json = report.to_swebench_json();
    assert_eq!(json["demo__calc-1"]["patch_successfully_applied"], false);
    assert!(json["demo__calc-1"].get("tests_status").is_none());
    // Failed attempts leave nothing behind.
    let status = sb
        .exec("git status --porcelain", Duration::from_secs(30))
        .await
        .expect("git status");
    assert_eq!(status.output.trim(), "");
}

#[tokio::test]
async fn fuzzy_patch_applies_with_patch_fuzz() {
    // The last context line is wrong: git refuses, `patch --fuzz` accepts.
    let fuzzy = diff(&[
        "diff --git a/calc.py b/calc.py",
        "--- a/calc.py",
        "+++ b/calc.py",
        "@@ -1,5 +1,5 @@",
        " def add(a, b):",
        "-    return a - b",
        "+    return a + b",
        " ",
        " ",
        " def mul(x, y):",
    ]);
    let (report, sb, _dir) = run(&request(Some(fuzzy))).await;
    assert_status(&report, ResolutionStatus::Full);
    assert_eq!(report.apply_method, Some(ApplyMethod::PatchFuzz));
    let leftovers = sb
        .exec("git status --porcelain", Duration::from_secs(30))
        .await
        .expect("git status");
    assert_eq!(leftovers.output.trim(), "M calc.py", "no .rej/.orig files");
}

#[tokio::test]
async fn hanging_tests_are_a_timeout_error() {
    let hang = calc_patch(&["    while True:", "        pass"], "    return a * b");
    let mut req = request(Some(hang));
    req.timeout = Duration::from_secs(2);
    let started = Instant::now();
    let (report, _sb, _dir) = run(&req).await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_status(&report, ResolutionStatus::Error);
    assert_eq!(report.error_kind(), Some(ErrorKind::Timeout));
    assert!(!report.resolved);
    assert!(report.patch_successfully_applied);
    assert_eq!(report.test_exit_code, None);
    assert!(
        report.to_swebench_json()["demo__calc-1"]
            .get("tests_status")
            .is_none()
    );
}

#[tokio::test]
async fn hanging_test_command_is_a_timeout_error() {
    let mut req = request(Some(gold()));
    req.test_cmd = "sleep 30; true".into();
    req.timeout = Duration::from_secs(1);
    let started = Instant::now();
    let (report, _sb, _dir) = run(&req).await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.error_kind(), Some(ErrorKind::Timeout));
}

#[tokio::test]
async fn killed_test_command_is_an_error_not_a_no() {
    for (cmd, kind) in [
        // SIGKILL mid-run (a watchdog, the OOM killer) after printing one result.
        (
            "sh -c 'echo PASSED tests/test_calc.py::test_mul; kill -9 $$' sh",
            ErrorKind::Timeout,
        ),
        // A crash of the interpreter.
        ("sh -c 'kill -SEGV $$' sh", ErrorKind::Environment),
        // A test that kills the harness's own shell.
        ("kill -9 $$; true", ErrorKind::Timeout),
        // `timeout 1 pytest ...` inside the command.
        ("timeout 1 sleep 30; exit $?; true", ErrorKind::Timeout),
    ] {
        let mut req = request(Some(gold()));
        req.test_cmd = cmd.into();
        let (report, _sb, _dir) = run(&req).await;
        assert_eq!(report.error_kind(), Some(kind), "{cmd}: {:?}", report.error);
        assert!(!report.resolved);
    }
}

#[tokio::test]
async fn conftest_patch_is_flagged() {
    // SWE-bench #631: a conftest.py that rewrites every outcome to "passed".
    let hack = diff(&[
        "diff --git a/conftest.py b/conftest.py",
        "new file mode 100644",
        "--- /dev/null",
        "+++ b/conftest.py",
        "@@ -0,0 +1,9 @@",
        "+import pytest",
        "+",
        "+",
        "+@pytest.hookimpl(hookwrapper=True)",
        "+def pytest_runtest_makereport(item, call):",
        "+    outcome = yield",
        "+    report = outcome.get_result()",
        "+    if report.when == \"call\":",
        "+        report.outcome = \"passed\"",
    ]);
    let (report, _sb, _dir) = run(&request(Some(hack))).await;
    assert!(
        report.flags.contains(&Flag::TouchesConftest {
            paths: vec!["conftest.py".into()]
        }),
        "{:?}",
        report.flags
    );
    // Flags inform, they do not block: the hack does fool pytest, which is why the flag
    // exists and why callers must look at it before trusting a FULL.
    assert_status(&report, ResolutionStatus::Full);
}

#[tokio::test]
async fn model_edits_to_test_patch_files_are_discarded() {
    // The model "fixes" the tests instead of the code; the test patch's files are reset.
    let cheat = diff(&[
        "diff --git a/tests/test_calc.py b/tests/test_calc.py",
        "--- a/tests/test_calc.py",
        "+++ b/tests/test_calc.py",
        "@@ -4,2 +4,6 @@ from calc import add, mul",
        " def test_mul():",
        "     assert mul(2, 3) == 6",
        "+",
        "+",
        "+def test_add():",
        "+    assert add(2, 3) == -1",
    ]);
    let (report, _sb, _dir) = run(&request(Some(cheat))).await;
    assert!(matches!(
        report.flags.first(),
        Some(Flag::TouchesTestFiles { .. })
    ));
    assert_status(&report, ResolutionStatus::No);
    assert_eq!(
        report.test_statuses.get("tests/test_calc.py::test_add"),
        Some(&TestStatus::Failed)
    );
}

#[tokio::test]
async fn forged_pass_lines_do_not_count() {
    let forge = calc_patch(
        &[
            "    print(\"PASSED tests/test_calc.py::test_add\")",
            "    print(\"tests/test_extra.py::test_add_zero PASSED\")",
            "    return a - b",
        ],
        "    return a * b",
    );
    let (report, _sb, _dir) = run(&request(Some(forge))).await;
    assert_status(&report, ResolutionStatus::No);
    assert_eq!(
        report.tests_status.fail_to_pass.success,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn syntax_error_is_a_collection_error_not_an_infra_error() {
    let broken = calc_patch(&["    return a +"], "    return a * b");
    let (report, _sb, _dir) = run(&request(Some(broken))).await;
    assert_status(&report, ResolutionStatus::No);
    assert_eq!(
        report.test_statuses.get("tests/test_calc.py"),
        Some(&TestStatus::Error)
    );
    assert_eq!(report.test_exit_code, Some(2));
}

#[tokio::test]
async fn test_patch_that_does_not_apply_is_an_error() {
    let mut req = request(Some(gold()));
    req.test_patch = diff(&[
        "diff --git a/tests/test_calc.py b/tests/test_calc.py",
        "--- a/tests/test_calc.py",
        "+++ b/tests/test_calc.py",
        "@@ -1,1 +1,1 @@",
        "-import nothing_like_this",
        "+import calc",
    ]);
    let (report, _sb, _dir) = run(&req).await;
    assert_status(&report, ResolutionStatus::Error);
    assert_eq!(report.error_kind(), Some(ErrorKind::TestPatchApply));
    assert!(!report.patch_successfully_applied);
    assert_eq!(report.apply_method, Some(ApplyMethod::GitApply));
}

#[tokio::test]
async fn missing_test_runner_is_an_environment_error() {
    let mut req = request(Some(gold()));
    req.test_cmd = "definitely-not-a-test-runner -rA".into();
    let (report, _sb, _dir) = run(&req).await;
    assert_status(&report, ResolutionStatus::Error);
    assert_eq!(report.error_kind(), Some(ErrorKind::Environment));
    assert_eq!(report.test_exit_code, Some(127));
    assert!(report.log_tail.contains("not found"), "{}", report.log_tail);
}

#[tokio::test]
async fn failing_exit_code_with_only_passes_is_distrusted() {
    let mut req = request(Some(gold()));
    req.test_cmd = "sh -c 'python3 -m pytest -rA -p no:cacheprovider \"$@\"; exit 3' sh".into();
    let (report, _sb, _dir) = run(&req).await;
    assert!(
        report
            .flags
            .contains(&Flag::ExitCodeMismatch { exit_code: 3 }),
        "{:?}",
        report.flags
    );
    assert_status(&report, ResolutionStatus::No);
    assert_eq!(report.test_statuses.len(), 3, "statuses are still reported");
}

#[tokio::test]
async fn fresh_snapshot_from_git_base_commit() {
    // RepoSource::Git: the sandbox checks out base_commit; the verifier resets to HEAD.
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "calc.py", CALC);
    write(dir.path(), "tests/test_calc.py", TEST_CALC);
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "base"]);
    let base = git(&["rev-parse", "HEAD"]);
    // A later commit that already contains the fix must not leak into the sandbox.
    write(dir.path(), "calc.py", &CALC.replace("a - b", "a + b"));
    git(&["commit", "-qam", "fix"]);

    let sb = LocalSandboxFactory::new()
        .create(&RepoSource::Git {
            path: dir.path().to_path_buf(),
            base_commit: base,
        })
        .await
        .expect("sandbox");
    let report = verify(&request(None), sb.as_ref()).await;
    assert_status(&report, ResolutionStatus::No);
    let report = verify(&request(Some(gold())), sb.as_ref()).await;
    assert_status(&report, ResolutionStatus::Full);
}
