//! A model supervisor over the Anthropic Messages API, against a loopback server that answers
//! in the documented shape: verdicts are stored, costs counted apart, budgets checked before
//! each call, and the API key reaches nothing but the request header.

mod common;

use std::net::TcpListener;

use common::{Workspace, serve_json, stderr};
use serde_json::json;

const KEY: &str = "sk-ant-test-do-not-store-0123456789";

fn verdict(text: &str) -> String {
    json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-opus-4-5",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 1000, "output_tokens": 40}
    })
    .to_string()
}

#[test]
fn anthropic_supervisor_judges_each_step_and_never_leaks_the_key() {
    let ws = Workspace::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = vec![
        verdict("VERDICT: approve\nREASON: looking first is right"),
        verdict("VERDICT: hint\nREASON: remember the upper bound is inclusive"),
        verdict("VERDICT: approve\nREASON: done"),
    ];
    let server = serve_json(listener, bodies);
    let supervisor = format!("anthropic:claude-opus-4-5@http://127.0.0.1:{port}");
    let output = ws
        .cmd()
        .env("ANTHROPIC_API_KEY", KEY)
        .args([
            "run",
            "--task",
            "demo__numerals-1",
            "--policy",
            "scripted:gold",
            "--supervisor",
            &supervisor,
            "--json",
            "-v",
        ])
        .output()
        .unwrap();
    let requests = server.join().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["resolved"], 1);
    assert_eq!(summary["proposals"], 3);
    assert_eq!(summary["interventions"], 1, "the hint counts");
    assert!(summary["supervisor_cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(summary["policy_cost_usd"], 0.0);

    assert_eq!(requests.len(), 3);
    assert!(
        requests[0]
            .to_ascii_lowercase()
            .contains(&format!("x-api-key: {KEY}").to_ascii_lowercase())
    );
    assert!(requests[0].contains("anthropic-version: 2023-06-01"));
    assert!(requests[1].contains("<proposed_action>"));

    let mut stored = Vec::new();
    for entry in std::fs::read_dir(ws.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("store.db")
        {
            stored.extend(std::fs::read(path).unwrap());
        }
    }
    assert!(!stored.is_empty());
    let haystacks = [
        String::from_utf8_lossy(&stored).into_owned(),
        stderr(&output),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    ];
    for haystack in haystacks {
        assert!(!haystack.contains(KEY), "the API key leaked");
    }
}

#[test]
fn budgets_are_checked_before_the_call_not_after() {
    let ws = Workspace::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = serve_json(listener, vec![verdict("VERDICT: approve\nREASON: ok")]);
    let supervisor = format!("anthropic:claude-opus-4-5@http://127.0.0.1:{port}");
    let (output, summary) = {
        let output = ws
            .cmd()
            .env("ANTHROPIC_API_KEY", KEY)
            .args([
                "run",
                "--tasks",
                "demo",
                "--limit",
                "2",
                "--policy",
                "scripted:gold",
                "--supervisor",
                &supervisor,
            ])
            .args(["--max-run-cost-usd", "0.0001", "--json"])
            .output()
            .unwrap();
        let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        (output, summary)
    };
    assert!(output.status.success(), "{}", stderr(&output));
    for episode in summary["episodes_detail"].as_array().unwrap() {
        assert_eq!(episode["end_reason"], "cost_limit", "{episode}");
        assert_eq!(
            episode["proposals"], 1,
            "the policy proposed; the review was never paid for"
        );
    }
    assert_eq!(summary["cost_usd"], 0.0);
    // Nothing was ever sent: unblock the server with a request of our own and check it was the first.
    let _ = std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
        std::io::Write::write_all(&mut s, b"GET / HTTP/1.1\r\ncontent-length: 0\r\n\r\n")
    });
    let requests = server.join().unwrap();
    assert_eq!(requests.len(), 1);
    assert!(
        requests[0].starts_with("GET /"),
        "the supervisor was called despite the budget"
    );
}
