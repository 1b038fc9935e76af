//! An OpenAI-compatible policy with `+lora@SCALE` asks a llama.cpp-style server for its
//! adapter at that scale on every request (checked on the request body a loopback server got).

mod common;

use std::net::TcpListener;

use common::{Workspace, call, serve_json, stderr};
use serde_json::json;

fn completion(text: &str) -> String {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "smol",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}
    })
    .to_string()
}

#[test]
fn the_policy_sends_the_lora_scale_with_every_request() {
    let ws = Workspace::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = vec![
        completion(&call("view", &[("path", "numerals/convert.py")])),
        completion(&call("submit", &[])),
    ];
    let server = serve_json(listener, bodies);
    let policy = format!("openai:smol@http://127.0.0.1:{port}/v1+lora@0.5");
    let (output, summary) = ws.json(&[
        "run",
        "--task",
        "demo__numerals-1",
        "--policy",
        &policy,
        "--supervisor",
        "none",
        "--max-steps",
        "2",
    ]);
    let requests = server.join().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(summary["proposals"], 2, "{summary:#}");
    assert_eq!(requests.len(), 2);
    for request in &requests {
        let body = &request[request.find('{').unwrap()..];
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["lora"], json!([{"id": 0, "scale": 0.5}]), "{body:#}");
        assert_eq!(body["model"], "smol");
    }
    assert_eq!(summary["config"]["policy"], policy.as_str());
}
