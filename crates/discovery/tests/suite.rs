//! The runner against real task directories: loading errors, validation (real python3
//! scripts, a real loopback service), service clean-up, and a stored campaign.

use std::path::{Path, PathBuf};

use apprentice_core::SupervisionMode;
use apprentice_discovery::metrics::summarize;
use apprentice_discovery::{
    Bench, BenchConfig, MemoryMode, PolicyChoice, Script, SupervisorChoice, Workdir, load_suite,
    validate_suite,
};
use apprentice_store::Store;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/suite")
}

/// A copy of the fixture suite to break in one place.
fn copy_suite() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(fixtures().join("toy"))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    dir
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} not in {}", path.display());
    std::fs::write(path, text.replace(from, to)).unwrap();
}

#[test]
fn the_fixture_suite_loads_with_env_paths_resolved() {
    let tasks = load_suite(&fixtures()).unwrap();
    let ids: Vec<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["toy-service-mode", "toy-set-flag"]);
    let flags = tasks[1].tool("flags").unwrap();
    assert!(
        flags.command[1].ends_with("toy/_env/flags.py"),
        "{:?}",
        flags.command
    );
    assert!(
        tasks[1].tool("svc").is_none(),
        "only the tools task.toml offers"
    );
    // A family directory or one task directory loads too.
    assert_eq!(load_suite(&fixtures().join("toy")).unwrap().len(), 2);
    assert_eq!(
        load_suite(&fixtures().join("toy/set-flag")).unwrap().len(),
        1
    );
}

#[test]
fn loading_errors_name_the_file_and_the_field() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "set-flag/task.toml",
            "max_steps = 10",
            "max_steps = 0",
            "field `max_steps`",
        ),
        (
            "set-flag/task.toml",
            "\"weather\"]",
            "\"radio\"]",
            "`radio` is not defined",
        ),
        (
            "set-flag/task.toml",
            "seeds = [1, 2]",
            "seeds = []",
            "field `seeds`",
        ),
        (
            "set-flag/task.toml",
            "family = \"toy\"",
            "family = \"sre\"",
            "field `family`",
        ),
        (
            "set-flag/task.toml",
            "seeds = [1, 2]",
            "seeds = [1, 2]\ncolour = 1",
            "colour",
        ),
        (
            "set-flag/task.toml",
            "max_steps = 10",
            "max_steps = ",
            "line 4",
        ),
        (
            "tools.toml",
            "name = \"weather\"",
            "name = \"flags\"",
            "defined twice",
        ),
        (
            "tools.toml",
            "command = [\"python3\", \"{env}/weather.py\"]",
            "command = []",
            "tool[2] field `command`",
        ),
        (
            "service-mode/task.toml",
            "id = \"toy-service-mode\"",
            "id = \"toy-set-flag\"",
            "used by another task",
        ),
    ];
    for (file, from, to, expected) in cases {
        let dir = copy_suite();
        let path = dir.path().join("toy").join(file);
        edit(&path, from, to);
        let error = load_suite(dir.path()).unwrap_err().to_string();
        assert!(error.contains(expected), "{file}: {error}");
        assert!(error.contains(file.rsplit('/').next().unwrap()), "{error}");
        assert!(!error.contains('\n'), "one line: {error}");
    }
    let dir = copy_suite();
    std::fs::remove_file(dir.path().join("toy/set-flag/oracle")).unwrap();
    let error = load_suite(dir.path()).unwrap_err().to_string();
    assert!(error.contains("set-flag/oracle: missing"), "{error}");
}

#[tokio::test]
async fn every_fixture_seed_validates_in_parallel() {
    let tasks = load_suite(&fixtures()).unwrap();
    let results = validate_suite(&tasks, 4, &|_| {}).await;
    assert_eq!(results.len(), 4);
    for r in &results {
        assert!(r.valid, "{r:?}");
    }
    assert_eq!(results[0].oracle_steps, 5);
}

#[tokio::test]
async fn a_task_whose_oracle_fails_or_whose_check_passes_untouched_is_invalid() {
    let dir = copy_suite();
    edit(
        &dir.path().join("toy/set-flag/oracle"),
        "f\"release-{seed}\", \"on\"",
        "\"dark-mode\", \"off\"",
    );
    edit(
        &dir.path().join("toy/service-mode/check"),
        "normal = mode == \"mode: normal\"",
        "normal = True",
    );
    let tasks = load_suite(dir.path()).unwrap();
    let results = validate_suite(&tasks, 2, &|_| {}).await;
    let reason = |task: &str| {
        results
            .iter()
            .find(|r| r.task == task)
            .and_then(|r| r.reason.clone())
            .unwrap_or_default()
    };
    assert!(
        reason("toy-set-flag").contains("failed subgoals: release_on"),
        "{results:?}"
    );
    assert!(
        reason("toy-set-flag").contains("collateral: dark-mode"),
        "{results:?}"
    );
    assert!(
        reason("toy-service-mode").contains("does nothing"),
        "{results:?}"
    );
}

#[tokio::test]
async fn dropping_a_workdir_kills_its_service() {
    let tasks = load_suite(&fixtures()).unwrap();
    let task = &tasks[0];
    let workdir = Workdir::create().unwrap();
    let out = workdir
        .run_script(task, Script::Setup, 1, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert!(out.success(), "{}", out.output);
    let pid: i32 = std::fs::read_to_string(workdir.path().join(".pids"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let alive = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z"))
    };
    assert!(alive(pid));
    let path = workdir.path().to_path_buf();
    drop(workdir);
    for _ in 0..40 {
        if !alive(pid) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!alive(pid), "service {pid} survived");
    assert!(!path.exists(), "the WORKDIR is removed");
}

#[tokio::test]
async fn an_oracle_campaign_with_memory_arms_is_stored_and_measured() {
    let db = tempfile::tempdir().unwrap();
    let store = Store::open(&db.path().join("a.db").display().to_string())
        .await
        .unwrap();
    store
        .create_run("b1", &serde_json::json!({}))
        .await
        .unwrap();
    let tasks = load_suite(&fixtures()).unwrap();
    let bench = Bench {
        store: store.clone(),
        policy: PolicyChoice::Oracle,
        supervisor: SupervisorChoice::Oracle,
        mode: SupervisionMode::Every,
        config: BenchConfig {
            tasks: "fixtures".into(),
            task_ids: vec![],
            policy: "oracle".into(),
            supervisor: "oracle".into(),
            supervise: "every".into(),
            episodes: 2,
            memory: MemoryMode::Both,
            bash: false,
            workers: 4,
        },
    };
    let reports = bench.run("b1", &tasks, &|_| {}).await.unwrap();
    assert_eq!(reports.len(), 8);
    assert!(reports.iter().all(|r| r.success), "{reports:?}");
    let trajectories: Vec<_> = reports
        .iter()
        .filter_map(|r| r.trajectory.clone())
        .collect();
    let report = summarize(&trajectories);
    for arm in &report.arms {
        assert_eq!((arm.episodes, arm.k), (4, 2));
        assert_eq!(arm.spl, 1.0, "the oracle is its own reference");
        assert_eq!(arm.discovery_rate, 1.0);
        assert_eq!(arm.hallucinated_calls, 0.0);
    }
    assert_eq!(report.memory_gain, [(1, 0.0), (2, 0.0)]);
    let summary = store.run_summary("b1").await.unwrap();
    assert_eq!((summary.episodes, summary.resolved), (8, 8));
    assert_eq!(
        summary.interventions, 0,
        "the guide approves the oracle's own steps"
    );
    let stored = store.graded_episodes(&["b1".into()]).await.unwrap();
    let first = &stored[0];
    assert!(first.task.contains("/e"), "{}", first.task);
    assert_eq!(first.report["check"]["success"], true);
    assert!(first.report["tool_catalog"].is_object());
    assert!(first.messages[0].content.contains("list_tools"));
}
