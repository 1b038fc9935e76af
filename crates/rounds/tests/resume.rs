//! A loop cut off in the middle of round 2 resumes there: round 1 is not redone, round 2's
//! runs finish every task exactly once. Scripted policy, oracle supervisor, real git and
//! pytest, no model.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use apprentice_core::Task;
use apprentice_harness::{EpisodeReport, RunConfig};
use apprentice_rounds::training::{Stages, TrainSettings};
use apprentice_rounds::{LoopConfig, LoopRunner, Observer, split_tasks};
use apprentice_sandbox::LocalSandboxFactory;
use apprentice_store::Store;
use indicatif::ProgressBar;
use tokio::sync::Notify;

/// Signals `cut` at the first episode of round 2.
struct CutInRoundTwo {
    label: Mutex<String>,
    cut: Arc<Notify>,
}

impl Observer for CutInRoundTwo {
    fn bar(&self, _len: usize, what: &str) -> ProgressBar {
        *self.label.lock().unwrap() = what.to_string();
        ProgressBar::hidden()
    }

    fn episode(&self, _bar: &ProgressBar, _report: &EpisodeReport) {
        if self.label.lock().unwrap().starts_with("round 2/") {
            self.cut.notify_one();
        }
    }
}

fn call(name: &str, args: &[(&str, &str)]) -> String {
    let mut text = format!("<tool_call>\n<function={name}>\n");
    for (key, value) in args {
        text.push_str(&format!("<parameter={key}>\n{value}\n</parameter>\n"));
    }
    text + "</function>\n</tool_call>"
}

fn config(dir: &std::path::Path, tasks: &[Task], seed: u64) -> LoopConfig {
    let script = dir.join("script.json");
    let replies = [call("bash", &[("command", "ls")]), call("submit", &[])];
    std::fs::write(&script, serde_json::to_string(&replies).unwrap()).unwrap();
    LoopConfig {
        run: RunConfig {
            tasks: "demo".into(),
            task_ids: tasks.iter().map(|t| t.instance_id.clone()).collect(),
            limit: None,
            policy: format!("scripted:{}", script.display()),
            supervisor: "oracle".into(),
            supervise: "every".into(),
            sandbox: "local".into(),
            workers: 1,
            max_steps: 2,
            max_attempts: 1,
            max_cost_usd_per_episode: None,
            max_episode_seconds: None,
            max_run_cost_usd: None,
            max_run_seconds: None,
            test_timeout_seconds: 120,
        },
        rounds: 2,
        held_out: 0.5,
        seed,
        out: dir.join("out"),
        train: TrainSettings {
            stages: Stages::None,
            variant: "clean".into(),
            weighted: false,
            rank: 8,
            alpha: 16.0,
            epochs: 1,
            sft_lr: 2e-4,
            dpo_lr: 5e-6,
            beta: 0.1,
            grad_accum: 4,
            max_rows: None,
            max_tokens: 1024,
            max_seconds: None,
            graph_memory_mib: 64,
            seed,
        },
    }
}

/// Episode ids of every final episode of a run, by task.
async fn finals(store: &Store, run: &str) -> HashMap<String, i64> {
    let summary = store.run_summary(run).await.unwrap();
    summary
        .episodes_detail
        .iter()
        .map(|e| (e.task.clone(), e.episode))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_cut_in_round_two_resumes_there_without_redoing_round_one() {
    let dir = tempfile::tempdir().unwrap();
    let all = apprentice_tasks::load("demo", &Default::default()).unwrap();
    let tasks: Vec<Task> = all.into_iter().take(3).collect();
    // Two train tasks, so the cut falls between them.
    let seed = (0..1000)
        .find(|&s| split_tasks(tasks.clone(), 0.5, s).is_ok_and(|split| split.train.len() == 2))
        .unwrap();
    let store = Store::open(dir.path().join("s.db").to_str().unwrap())
        .await
        .unwrap();
    let cut = Arc::new(Notify::new());
    let observer = CutInRoundTwo {
        label: Mutex::new(String::new()),
        cut: cut.clone(),
    };
    let runner = LoopRunner {
        store: store.clone(),
        factory: Arc::new(LocalSandboxFactory::new()),
        id: "l".into(),
        config: config(dir.path(), &tasks, seed),
        observer: &observer,
    };
    runner.create().await.unwrap();
    tokio::select! {
        biased;
        _ = cut.notified() => {}
        result = runner.run(tasks.clone()) => panic!("the loop was not cut: {result:?}"),
    }
    let rounds = store.loop_rounds("l").await.unwrap();
    assert_eq!(rounds.len(), 2);
    assert_eq!(
        (rounds[0].status.as_str(), rounds[1].status.as_str()),
        ("finished", "running")
    );
    let round_one = (
        finals(&store, "l-r1-train").await,
        finals(&store, "l-r1-heldout").await,
    );
    let cut_train = finals(&store, "l-r2-train").await;
    assert_eq!(cut_train.len(), 1, "cut after the first episode of round 2");

    let reports = runner.run(tasks.clone()).await.unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(
        finals(&store, "l-r1-train").await,
        round_one.0,
        "round 1 redone"
    );
    assert_eq!(finals(&store, "l-r1-heldout").await, round_one.1);
    let train = finals(&store, "l-r2-train").await;
    for (task, episode) in &cut_train {
        assert_eq!(
            train.get(task),
            Some(episode),
            "a finished task of round 2 redone"
        );
    }
    let split = split_tasks(tasks, 0.5, seed).unwrap();
    assert_eq!(train.len(), split.train.len());
    assert_eq!(
        finals(&store, "l-r2-heldout").await.len(),
        split.held_out.len()
    );
    assert_eq!(reports[1].train.episodes, split.train.len());
    let numbers =
        |m: &apprentice_rounds::SplitMetrics| (m.episodes, m.proposals, m.interventions, m.steps);
    assert_eq!(
        numbers(&reports[0].train),
        numbers(&reports[1].train),
        "same policy, same numbers"
    );
    assert_eq!(numbers(&reports[0].held_out), numbers(&reports[1].held_out));
    let stored = store.loop_rounds("l").await.unwrap();
    assert!(stored.iter().all(|r| r.status == "finished"));
}
