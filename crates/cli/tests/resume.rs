//! Crashes and dead servers: a run killed or starved mid-episode resumes without redoing
//! finished work or duplicating rows.

mod common;

use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Workspace, call, script, stderr};
use serde_json::{Value, json};

fn final_tasks(summary: &Value) -> Vec<String> {
    let mut tasks: Vec<String> = summary["episodes_detail"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["task"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    tasks.sort();
    tasks
}

#[test]
fn sigkill_mid_episode_then_resume_finishes_each_task_exactly_once() {
    let ws = Workspace::new();
    let slow = ws.path("slow.json");
    let sleep = call("bash", &[("command", "sleep 1")]);
    script(
        &slow,
        &[sleep.clone(), sleep.clone(), sleep, call("submit", &[])],
    );
    let policy = format!("scripted:{}", slow.display());
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("apprentice"))
        .args([
            "--db",
            ws.db().to_str().unwrap(),
            "-q",
            "run",
            "--tasks",
            "demo",
            "--limit",
            "3",
        ])
        .args([
            "--policy",
            &policy,
            "--supervisor",
            "none",
            "--name",
            "killme",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let started = Instant::now();
    let first = loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no episode finished in time"
        );
        std::thread::sleep(Duration::from_millis(200));
        let (_, summary) = ws.json(&["show", "killme"]);
        if summary["episodes"].as_u64().unwrap_or(0) >= 1 {
            break summary;
        }
    };
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();

    let (output, resumed) = ws.json(&["run", "--resume", "killme"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(resumed["episodes"], 3);
    assert_eq!(final_tasks(&resumed).len(), 3);
    let mut unique = final_tasks(&resumed);
    unique.dedup();
    assert_eq!(unique.len(), 3, "a task finished twice: {resumed:#}");
    let first_episode = &first["episodes_detail"][0];
    let kept = resumed["episodes_detail"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["task"] == first_episode["task"])
        .unwrap();
    assert_eq!(
        kept["episode"], first_episode["episode"],
        "a finished episode was redone"
    );
    for episode in resumed["episodes_detail"].as_array().unwrap() {
        let id = episode["episode"].as_i64().unwrap().to_string();
        let (_, shown) = ws.json(&["show", "--episode", &id]);
        let indices: Vec<i64> = shown["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["index"].as_i64().unwrap())
            .collect();
        assert_eq!(indices, (0..indices.len() as i64).collect::<Vec<_>>());
        assert_eq!(indices.len(), 4);
    }
}

fn openai_reply(text: String) -> String {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "tiny",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    })
    .to_string()
}

fn serve(listener: TcpListener, replies: Vec<String>) -> std::thread::JoinHandle<Vec<String>> {
    common::serve_json(listener, replies.into_iter().map(openai_reply).collect())
}

#[test]
fn a_model_server_dying_mid_run_leaves_the_run_resumable() {
    let ws = Workspace::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let policy = format!("openai:tiny@http://127.0.0.1:{port}/v1");
    let run = |args: &[&str]| ws.json(args);
    let handle = serve(listener, vec![call("view", &[("path", "README.md")])]);
    let (output, summary) = run(&[
        "run",
        "--task",
        "demo__numerals-1",
        "--policy",
        &policy,
        "--supervisor",
        "none",
        "--max-attempts",
        "1",
        "--name",
        "flaky",
    ]);
    handle.join().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(summary["episodes"], 0);
    assert_eq!(summary["infra_errors"], 1);

    let server = serve(
        TcpListener::bind(("127.0.0.1", port)).unwrap(),
        vec![call("submit", &[])],
    );
    let (output, summary) = run(&["run", "--resume", "flaky"]);
    server.join().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(summary["episodes"], 1);
    assert_eq!(summary["infra_errors"], 0);
    assert_eq!(summary["episodes_detail"][0]["attempt"], 2);
    assert_eq!(summary["resolved"], 0);
}
