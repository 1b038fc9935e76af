//! Against a real engine: images built from debootstrap, demo tasks verified in containers,
//! limits, clean-up after kills.
//!
//! These need a Docker engine and (for the first base image) root with `debootstrap`. Where no
//! engine answers they print why and pass, unless `APPRENTICE_REQUIRE_DOCKER=1` (CI sets it
//! after `scripts/setup-docker.sh`), in which case they fail.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apprentice_docker::engine::{LABEL_PID, LABEL_SESSION};
use apprentice_docker::{DockerSandboxFactory, Limits, Specs, cleanup, engine};
use apprentice_harness::{grade_patch, test_recipe};
use apprentice_sandbox::{LocalSandboxFactory, RepoSource, Sandbox, SandboxError, SandboxFactory};
use apprentice_verify::{
    DEFAULT_TEST_CMD, ErrorKind, LogParser, ResolutionStatus, VerifyRequest, verify,
};
use bollard::query_parameters::ListContainersOptionsBuilder;
use futures::StreamExt;

/// The engine here has two cores and fuse-overlayfs: tests that each start containers run
/// one at a time so none of them measures or times out on another's load.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn docker_ready() -> bool {
    match engine::connect().await {
        Ok(docker) => docker.ping().await.is_ok(),
        Err(e) => {
            if std::env::var("APPRENTICE_REQUIRE_DOCKER").is_ok_and(|v| v == "1") {
                panic!("APPRENTICE_REQUIRE_DOCKER=1 but no engine: {e}");
            }
            eprintln!("skipping: no Docker engine ({e})");
            false
        }
    }
}

fn demo_task(id: &str) -> apprentice_core::Task {
    let tasks = apprentice_tasks::load("demo", &Default::default()).expect("demo tasks load");
    tasks
        .into_iter()
        .find(|t| t.instance_id == id)
        .expect("demo task present")
}

const TIMEOUT: Duration = Duration::from_secs(300);

/// The gold patch plus a change that breaks the PASS_TO_PASS test `test_functions`, made with
/// real git so it is a valid diff.
fn breaking_patch(task: &apprentice_core::Task) -> String {
    let Some(RepoSource::Snapshot { path }) = &task.source else {
        panic!("demo tasks are snapshots");
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let sh = |script: &str| {
        let out = std::process::Command::new("bash")
            .args(["-c", script])
            .current_dir(dir.path())
            .output()
            .expect("bash");
        assert!(out.status.success(), "{script}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    std::fs::write(dir.path().join("gold.patch"), &task.patch).expect("write");
    sh(&format!(
        "cp -a {}/. repo && cd repo && git init -q && git add -A && \
         git -c user.name=t -c user.email=t@t commit -qm base && git apply ../gold.patch && \
         sed -i 's/\"sqrt\": math.sqrt/\"sqrt\": math.exp/' calcy/evaluate.py",
        path.display()
    ));
    sh("cd repo && git diff")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_task_outcomes_in_docker() {
    let _serial = SERIAL.lock().await;
    if !docker_ready().await {
        return;
    }
    let factory = DockerSandboxFactory::new().expect("specs");
    let task = demo_task("demo__calcy-1");

    let started = Instant::now();
    let gold = grade_patch(&task, Some(task.patch.clone()), &factory, TIMEOUT)
        .await
        .expect("gold graded");
    eprintln!("gold (incl. any image build): {:?}", started.elapsed());
    assert_eq!(gold.error, None, "log: {}", gold.log_tail);
    assert_eq!(
        gold.status,
        ResolutionStatus::Full,
        "log: {}",
        gold.log_tail
    );
    assert!(gold.resolved);

    let started = Instant::now();
    let empty = grade_patch(&task, None, &factory, TIMEOUT)
        .await
        .expect("empty graded");
    eprintln!("empty patch: {:?}", started.elapsed());
    assert_eq!(empty.error, None, "log: {}", empty.log_tail);
    assert_eq!(empty.status, ResolutionStatus::No);
    assert!(!empty.resolved);
    assert_eq!(empty.f2p_rate, 0.0);

    let breaking = grade_patch(&task, Some(breaking_patch(&task)), &factory, TIMEOUT)
        .await
        .expect("breaking graded");
    assert_eq!(breaking.error, None, "log: {}", breaking.log_tail);
    assert_eq!(breaking.status, ResolutionStatus::No);
    assert_eq!(breaking.f2p_rate, 1.0);
    assert!(
        breaking
            .tests_status
            .pass_to_pass
            .failure
            .contains(&"tests/test_calc.py::test_functions".to_string()),
        "{:?}",
        breaking.tests_status.pass_to_pass
    );

    let bad = "diff --git a/calcy/parser.py b/calcy/parser.py\n--- a/calcy/parser.py\n\
               +++ b/calcy/parser.py\n@@ -1,2 +1,2 @@\n-this line is not there\n\
               +neither is this\n context\n";
    let rejected = grade_patch(&task, Some(bad.to_string()), &factory, TIMEOUT)
        .await
        .expect("bad graded");
    assert_eq!(rejected.error_kind(), Some(ErrorKind::PatchApply));
    assert!(!rejected.resolved);
    assert!(!rejected.patch_successfully_applied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_demo_task_resolves_with_gold_in_docker() {
    let _serial = SERIAL.lock().await;
    if !docker_ready().await {
        return;
    }
    let factory = DockerSandboxFactory::new().expect("specs");
    let tasks = apprentice_tasks::load("demo", &Default::default()).expect("demo tasks");
    let started = Instant::now();
    let reports: Vec<_> = futures::stream::iter(tasks.iter().map(|task| {
        let factory = &factory;
        async move {
            let report = grade_patch(task, Some(task.patch.clone()), factory, TIMEOUT).await;
            (task.instance_id.clone(), report)
        }
    }))
    .buffer_unordered(2)
    .collect()
    .await;
    eprintln!(
        "{} demo tasks graded in {:?}",
        reports.len(),
        started.elapsed()
    );
    for (id, report) in reports {
        let report = report.expect("graded");
        assert!(
            report.resolved,
            "{id}: {:?}\n{}",
            report.error, report.log_tail
        );
    }
}

async fn demo_sandbox(factory: &DockerSandboxFactory) -> Box<dyn Sandbox> {
    let task = demo_task("demo__calcy-1");
    factory
        .create_for(task.repo_source().expect("source"), &task.env_key())
        .await
        .expect("sandbox")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_behaves_like_the_local_one() {
    let _serial = SERIAL.lock().await;
    if !docker_ready().await {
        return;
    }
    let factory = DockerSandboxFactory::new().expect("specs");
    let sb = demo_sandbox(&factory).await;
    assert!(sb.describe().starts_with("docker:"));

    let out = sb
        .exec("echo out; echo err >&2; exit 3", Duration::from_secs(20))
        .await
        .expect("exec");
    assert_eq!(out.exit_code, Some(3));
    assert_eq!(out.output, "out\nerr\n");
    assert!(!out.timed_out);

    // The image's Python, no history, no network.
    let out = sb
        .exec(
            "python3 --version; git log --oneline | wc -l; git status --porcelain | wc -l; \
             python3 -c 'import socket; socket.create_connection((\"1.1.1.1\", 80), 2)' \
             2>/dev/null && echo online || echo offline",
            Duration::from_secs(30),
        )
        .await
        .expect("exec");
    assert_eq!(out.output, "Python 3.11.2\n1\n0\noffline\n", "{out:?}");

    // Files in and out, escapes refused.
    sb.write_file("new/dir/file.txt", b"hello\n")
        .await
        .expect("write");
    assert_eq!(
        sb.read_file("new/dir/file.txt").await.expect("read"),
        b"hello\n"
    );
    assert_eq!(
        sb.read_file("/testbed/new/dir/file.txt")
            .await
            .expect("read"),
        b"hello\n"
    );
    assert!(sb.exists("calcy/parser.py").await.expect("exists"));
    assert!(!sb.exists("nope.py").await.expect("exists"));
    assert!(matches!(
        sb.read_file("nope.py").await,
        Err(SandboxError::NotFound(_))
    ));
    for escape in ["../etc/passwd", "/etc/passwd", "a/../../etc/passwd"] {
        assert!(
            matches!(
                sb.read_file(escape).await,
                Err(SandboxError::PathEscapes(_))
            ),
            "{escape}"
        );
    }
    sb.exec("ln -s / rootlink", Duration::from_secs(10))
        .await
        .expect("ln");
    assert!(matches!(
        sb.write_file("rootlink/tmp/x", b"x").await,
        Err(SandboxError::PathEscapes(_))
    ));
    let diff = sb.diff().await.expect("diff");
    assert!(diff.contains("+++ b/new/dir/file.txt"), "{diff}");
    assert!(diff.contains("rootlink"), "{diff}");

    // Output capping: head and tail kept, the middle counted.
    let out = sb
        .exec(
            "head -c 100000 /dev/zero | tr '\\0' x",
            Duration::from_secs(20),
        )
        .await
        .expect("exec");
    assert!(
        out.elided_bytes > 0 && out.output.len() < 20_000,
        "{}",
        out.output.len()
    );

    // Time limit: killed in the container, reported as a timeout, whole process group.
    let started = Instant::now();
    let out = sb
        .exec("sleep 100 & sleep 100; echo never", Duration::from_secs(2))
        .await
        .expect("exec");
    assert!(out.timed_out, "{out:?}");
    assert_eq!(out.exit_code, None);
    assert!(started.elapsed() < Duration::from_secs(10));
    let left = sb
        .exec(
            "cat /proc/[0-9]*/comm 2>/dev/null | grep -c '^sleep$' || true",
            Duration::from_secs(10),
        )
        .await
        .expect("ps");
    // Only the keepalive `sleep infinity` remains.
    assert_eq!(left.output.trim(), "1", "{left:?}");
}

/// A factory whose containers get `memory_bytes` of memory.
fn limited_factory(memory_bytes: i64) -> DockerSandboxFactory {
    DockerSandboxFactory::new()
        .expect("specs")
        .with_limits(Limits {
            memory_bytes,
            ..Limits::default()
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limit_kills_are_reported_as_out_of_memory() {
    let _serial = SERIAL.lock().await;
    if !docker_ready().await {
        return;
    }
    let factory = limited_factory(96 << 20);
    let sb = demo_sandbox(&factory).await;
    let out = sb
        .exec(
            "python3 -c 'b = bytearray(400 << 20); print(len(b))'",
            Duration::from_secs(60),
        )
        .await
        .expect("exec");
    assert_eq!(out.exit_code, Some(137), "{out:?}");
    assert!(!out.timed_out);
    assert!(out.output.contains("out of memory"), "{}", out.output);
    // The sandbox survives and keeps working.
    let ok = sb
        .exec("echo alive", Duration::from_secs(10))
        .await
        .expect("exec");
    assert_eq!(ok.output, "alive\n");
    assert!(!ok.output.contains("out of memory"));
}

async fn containers_of(docker: &bollard::Docker, label: &str, value: &str) -> Vec<String> {
    let filters = HashMap::from([("label", vec![format!("{label}={value}")])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    docker
        .list_containers(Some(options))
        .await
        .expect("list")
        .into_iter()
        .filter_map(|c| c.id)
        .collect()
}

/// Not a test on its own: run by the kill tests in a child process, which creates a sandbox,
/// says so, and waits to be killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper for the kill tests"]
async fn helper_hold_a_sandbox() {
    let factory = DockerSandboxFactory::new().expect("specs");
    let _sb = demo_sandbox(&factory).await;
    println!("READY {}", std::process::id());
    tokio::time::sleep(Duration::from_secs(300)).await;
}

/// Starts the helper and waits until it holds a container; returns it and its pid.
fn start_holder() -> (std::process::Child, u32) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().expect("exe"))
        .args([
            "helper_hold_a_sandbox",
            "--ignored",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn helper");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufReader::new(stdout).lines();
    let pid = loop {
        let line = lines.next().expect("helper output").expect("line");
        // libtest prints `test NAME ... ` without a newline before the test's own output.
        if let Some((_, pid)) = line.split_once("READY ") {
            break pid.trim().parse::<u32>().expect("pid");
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, pid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_leaves_no_containers_after_the_next_start() {
    let _serial = SERIAL.lock().await;
    if !docker_ready().await {
        return;
    }
    let docker = engine::connect().await.expect("engine");
    let (mut child, pid) = start_holder();
    let held = containers_of(&docker, LABEL_PID, &pid.to_string()).await;
    assert_eq!(held.len(), 1, "the helper holds one container");
    // SIGKILL: no destructor, no signal handler runs.
    child.kill().expect("kill");
    child.wait().expect("wait");
    assert_eq!(
        containers_of(&docker, LABEL_PID, &pid.to_string())
            .await
            .len(),
        1,
        "a SIGKILL leaves the container behind"
    );
    // The next start sweeps it.
    let factory = DockerSandboxFactory::new().expect("specs");
    factory.docker().await.expect("start");
    assert!(
        containers_of(&docker, LABEL_PID, &pid.to_string())
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_removes_the_containers_before_exiting() {
    let _serial = SERIAL.lock().await;
    if !docker_ready().await {
        return;
    }
    let docker = engine::connect().await.expect("engine");
    let (mut child, pid) = start_holder();
    assert_eq!(
        containers_of(&docker, LABEL_PID, &pid.to_string())
            .await
            .len(),
        1
    );
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(pid as i32, libc::SIGINT);
    }
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));
    assert!(
        containers_of(&docker, LABEL_PID, &pid.to_string())
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_spares_live_owners() {
    let _serial = SERIAL.lock().await;
    if !docker_ready().await {
        return;
    }
    let factory = DockerSandboxFactory::new().expect("specs");
    let sb = demo_sandbox(&factory).await;
    let docker = factory.docker().await.expect("engine");
    let removed = cleanup::sweep_stale(&docker, false).await.expect("sweep");
    assert!(removed.is_empty(), "{removed:?}");
    let mine = containers_of(&docker, LABEL_SESSION, &engine::session_id()).await;
    assert!(!mine.is_empty());
    drop(sb);
}

#[test]
fn shipped_specs_cover_the_swebench_repositories() {
    let specs = apprentice_docker::Specs::discover().expect("specs");
    assert!(specs.files().len() >= 13);
    let django = specs.resolve("django/django", "5.0").expect("django 5.0");
    assert_eq!(django.log_parser, "django");
    assert!(Path::new(&specs.files()[0].path).exists());
    // Each repository's spec names the parser SWE-bench uses for it.
    for file in specs.files() {
        for version in file.versions.keys() {
            let spec = specs.test_spec(&file.repo, version).expect("test spec");
            let parser: LogParser = spec.log_parser.parse().expect("known parser");
            if !file.repo.ends_with("/*") {
                assert_eq!(parser, LogParser::for_repo(&file.repo), "{}", file.repo);
            }
        }
    }
}

/// A spec file for the demo repositories whose test command and parser differ from the
/// defaults, in a directory of its own.
fn custom_demo_specs(test_cmd: &str, log_parser: &str) -> (tempfile::TempDir, Specs) {
    let dir = tempfile::tempdir().expect("tempdir");
    let builtin =
        std::fs::read_to_string(apprentice_docker::spec::builtin_specs_dir().join("demo.toml"))
            .expect("demo spec");
    let text = builtin
        .replace(
            "test_cmd = \"python3 -m pytest -rA -p no:cacheprovider\"",
            &format!("test_cmd = {test_cmd:?}"),
        )
        .replace(
            "log_parser = \"pytest\"",
            &format!("log_parser = {log_parser:?}"),
        );
    assert_ne!(text, builtin);
    std::fs::write(dir.path().join("demo.toml"), text).expect("write spec");
    let mut specs = Specs::discover().expect("specs");
    specs.load_dir(dir.path()).expect("custom spec");
    (dir, specs)
}

#[test]
fn the_spec_decides_test_command_and_parser_for_both_backends() {
    let task = demo_task("demo__calcy-1");
    let (_dir, specs) = custom_demo_specs("python3 -m pytest -rA -x", "django");
    let local = LocalSandboxFactory::new().with_test_specs(Arc::new(specs.clone()));
    let docker = DockerSandboxFactory::with_specs(specs);
    for factory in [&local as &dyn SandboxFactory, &docker] {
        let (cmd, parser) = test_recipe(&task, factory).expect("recipe");
        assert_eq!(cmd, "python3 -m pytest -rA -x");
        assert_eq!(parser, LogParser::Django);
    }
    // A task's own command (an instance's `test_cmd` field) still wins.
    let mut own = task.clone();
    own.test_cmd = "make check".into();
    assert_eq!(test_recipe(&own, &docker).expect("recipe").0, "make check");
    // No spec for the repository: the task's command and SWE-bench's parser for it.
    let mut unknown = task.clone();
    unknown.repo = "psf/requests-fork".into();
    let bare = LocalSandboxFactory::new();
    assert_eq!(
        test_recipe(&unknown, &bare).expect("recipe"),
        (DEFAULT_TEST_CMD.to_string(), LogParser::Pytest)
    );
    let mut requests = task;
    requests.repo = "psf/requests".into();
    requests.version = "2.27".into();
    assert_eq!(
        test_recipe(&requests, &bare).expect("recipe").1,
        LogParser::PytestOptions
    );
    // The shipped requests spec names its parser; the local backend reads the same file.
    let shipped =
        LocalSandboxFactory::new().with_test_specs(Arc::new(Specs::discover().expect("specs")));
    assert_eq!(
        test_recipe(&requests, &shipped).expect("recipe").1,
        LogParser::PytestOptions
    );
    // A parser name no parser has is the spec's error, named.
    let (_dir, bad) = custom_demo_specs("pytest -rA", "nosuchparser");
    let err = test_recipe(
        &demo_task("demo__calcy-1"),
        &DockerSandboxFactory::with_specs(bad),
    )
    .expect_err("unknown parser");
    assert!(err.contains("nosuchparser"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grading_in_docker_runs_the_specs_test_command() {
    let _serial = SERIAL.lock().await;
    if !docker_ready().await {
        return;
    }
    // Same image as the shipped demo spec (the pins are unchanged); only the command differs:
    // it deselects a PASS_TO_PASS test, so the gold patch can no longer be FULL.
    let (_dir, specs) = custom_demo_specs(
        "python3 -m pytest -rA -p no:cacheprovider --deselect tests/test_calc.py::test_functions",
        "pytest",
    );
    let factory = DockerSandboxFactory::with_specs(specs);
    let task = demo_task("demo__calcy-1");
    let report = grade_patch(&task, Some(task.patch.clone()), &factory, TIMEOUT)
        .await
        .expect("graded");
    assert_eq!(report.error, None, "log: {}", report.log_tail);
    assert_eq!(report.status, ResolutionStatus::No, "{}", report.log_tail);
    assert!(
        report.log_tail.contains("deselected"),
        "{}",
        report.log_tail
    );
    assert_eq!(
        report.tests_status.pass_to_pass.failure,
        vec!["tests/test_calc.py::test_functions".to_string()]
    );
}

/// Builds the typing_extensions instance with scripts/real-instance.sh (PyPI sdists, cached).
fn real_instance() -> (tempfile::TempDir, apprentice_core::Task) {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/real-instance.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .arg(dir.path())
        .output()
        .expect("run real-instance.sh");
    assert!(
        out.status.success(),
        "real-instance.sh failed (it needs PyPI once; the sdists are cached): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let options = apprentice_tasks::LoadOptions {
        repos: Some(dir.path().join("repos")),
        ..Default::default()
    };
    let instances = dir.path().join("instances.json");
    let mut tasks =
        apprentice_tasks::load(&instances.display().to_string(), &options).expect("instance loads");
    assert_eq!(tasks.len(), 1);
    let task = tasks.remove(0);
    assert!(
        matches!(task.source, Some(RepoSource::Git { .. })),
        "{:?}",
        task.source
    );
    (dir, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_pypi_instance_is_resolved_by_its_fix_only() {
    let _serial = SERIAL.lock().await;
    if !docker_ready().await {
        return;
    }
    let (_dir, task) = real_instance();
    let factory = DockerSandboxFactory::new().expect("specs");
    let gold = grade_patch(&task, Some(task.patch.clone()), &factory, TIMEOUT)
        .await
        .expect("gold graded");
    assert_eq!(gold.error, None, "log: {}", gold.log_tail);
    assert_eq!(
        gold.status,
        ResolutionStatus::Full,
        "{:?}",
        gold.tests_status
    );
    assert!(gold.resolved);
    // The whole suite ran, not just the listed tests.
    assert!(
        gold.test_statuses.len() > 300,
        "{}",
        gold.test_statuses.len()
    );

    let empty = grade_patch(&task, None, &factory, TIMEOUT)
        .await
        .expect("empty graded");
    assert_eq!(empty.error, None, "log: {}", empty.log_tail);
    assert_eq!(empty.status, ResolutionStatus::No);
    assert!(!empty.resolved);
    assert_eq!(empty.f2p_rate, 0.0);
    assert_eq!(empty.p2p_rate, 1.0, "{:?}", empty.tests_status);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_tells_out_of_memory_from_timeout() {
    let _serial = SERIAL.lock().await;
    if !docker_ready().await {
        return;
    }
    let factory = limited_factory(128 << 20);
    let task = demo_task("demo__calcy-1");
    let spec = factory.resolve(&task.env_key()).expect("spec");
    let request = |test_cmd: &str, timeout: Duration| {
        let mut req = VerifyRequest::new(
            &task.instance_id,
            Some(task.patch.clone()),
            &task.test_patch,
            task.fail_to_pass.clone(),
            task.pass_to_pass.clone(),
        );
        req.test_cmd = test_cmd.into();
        req.timeout = timeout;
        req
    };
    // A test run that needs more memory than the container has: the OOM killer ends it.
    let sandbox = factory
        .create_sandbox(task.repo_source().expect("source"), &spec)
        .await
        .expect("sandbox");
    let oom = verify(
        &request(
            "python3 -c 'b = bytearray(600 << 20); print(len(b))'",
            Duration::from_secs(120),
        ),
        &sandbox,
    )
    .await;
    assert_eq!(
        oom.error_kind(),
        Some(ErrorKind::OutOfMemory),
        "{:?}",
        oom.error
    );
    assert!(!oom.resolved);
    sandbox.close().await.expect("close");

    // A test run that outlives its limit: a timeout, not out of memory.
    let sandbox = factory
        .create_sandbox(task.repo_source().expect("source"), &spec)
        .await
        .expect("sandbox");
    let started = Instant::now();
    let slow = verify(&request("sleep 60; true", Duration::from_secs(2)), &sandbox).await;
    assert_eq!(
        slow.error_kind(),
        Some(ErrorKind::Timeout),
        "{:?}",
        slow.error
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    sandbox.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_removes_stale_containers_and_untagged_images() {
    let _serial = SERIAL.lock().await;
    if !docker_ready().await {
        return;
    }
    let docker = engine::connect().await.expect("engine");
    let factory = DockerSandboxFactory::new().expect("specs");
    let task = demo_task("demo__calcy-1");
    let spec = factory.resolve(&task.env_key()).expect("spec");
    let env_image = factory
        .with_images(async |b| b.ensure_env(&spec).await)
        .await
        .expect("env image");
    // A container left by a SIGKILLed run.
    let (mut child, pid) = start_holder();
    child.kill().expect("kill");
    child.wait().expect("wait");
    let stale = containers_of(&docker, LABEL_PID, &pid.to_string()).await;
    assert_eq!(stale.len(), 1);
    // An untagged apprentice image, as a rebuild under the same tag leaves behind.
    let dangling = untagged_apprentice_image(&docker, &env_image).await;

    // What `images prune` keeps: every image a current spec uses.
    let keep = factory.specs().images();
    assert!(keep.contains(&env_image));
    let report = factory
        .with_images(async |b| b.prune(&keep, false).await)
        .await
        .expect("prune");
    assert!(!report.containers.is_empty(), "{report:?}");
    assert!(report.dangling.contains(&dangling), "{report:?}");
    assert!(report.layers >= 1, "{report:?}");
    assert!(
        containers_of(&docker, LABEL_PID, &pid.to_string())
            .await
            .is_empty()
    );
    assert!(
        docker.inspect_image(&dangling).await.is_err(),
        "{dangling} still there"
    );
    // What the specs use stays.
    assert!(docker.inspect_image(&env_image).await.is_ok());
}

/// Commits a container of `image` (with a file added) under the apprentice label and no tag.
async fn untagged_apprentice_image(docker: &bollard::Docker, image: &str) -> String {
    use bollard::models::{ContainerConfig, ContainerCreateBody};
    use bollard::query_parameters::CommitContainerOptionsBuilder;
    let created = docker
        .create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            ContainerCreateBody {
                image: Some(image.to_string()),
                cmd: Some(vec!["true".into()]),
                labels: Some(engine::owner_labels("build")),
                ..Default::default()
            },
        )
        .await
        .expect("create");
    let config = ContainerConfig {
        labels: Some(HashMap::from([
            (engine::LABEL.to_string(), "1".to_string()),
            (engine::LABEL_KIND.to_string(), "env".to_string()),
        ])),
        ..Default::default()
    };
    let options = CommitContainerOptionsBuilder::default()
        .container(&created.id)
        .changes("ENV APPRENTICE_PRUNE_TEST=1")
        .build();
    let committed = docker
        .commit_container(options, config)
        .await
        .expect("commit");
    cleanup::remove(docker, &created.id).await.expect("remove");
    committed.id
}
