//! `apprentice train` on a tiny synthetic GGUF: bad datasets are one-line usage errors (exit
//! 2), a diverging run stops without writing an adapter, and a good run reports throughput and
//! the held-out loss.

mod common;

use apprentice_embedded::testing::{TinyLlamaSpec, write_tiny_llama};
use common::{Workspace, stderr};

const ROWS: &str = r#"{"messages":[{"role":"user","content":"the cat"},{"role":"assistant","content":"in the hat"}]}
{"messages":[{"role":"user","content":"there"},{"role":"assistant","content":"inner the"}]}
"#;

fn tiny_model(ws: &Workspace) -> String {
    let path = ws.path("tiny.gguf");
    write_tiny_llama(&path, &TinyLlamaSpec::default()).unwrap();
    path.to_str().unwrap().to_string()
}

fn train(ws: &Workspace, model: &str, data: &str, extra: &[&str]) -> std::process::Output {
    let out = ws.path("adapter");
    let mut args = vec![
        "train",
        "sft",
        "--data",
        data,
        "--out",
        out.to_str().unwrap(),
        "--model",
        model,
    ];
    args.extend_from_slice(extra);
    ws.json(&args).0
}

#[test]
fn foreign_and_broken_datasets_are_usage_errors_naming_file_and_line() {
    let ws = Workspace::new();
    let model = tiny_model(&ws);
    for (name, text, needle) in [
        ("empty.jsonl", "\n", "no rows"),
        ("broken.jsonl", "{\"messages\": [\n", "broken.jsonl:1:"),
        (
            "llama3.jsonl",
            r#"{"messages":[{"role":"user","content":"<|start_header_id|>user<|end_header_id|>hi"},{"role":"assistant","content":"ok"}]}"#,
            "Llama 3",
        ),
        ("ids.jsonl", r#"{"input_ids":[1,2,3]}"#, "token-id row"),
    ] {
        let data = ws.write(name, text);
        let output = train(&ws, &model, data.to_str().unwrap(), &[]);
        assert_eq!(output.status.code(), Some(2), "{name}: {}", stderr(&output));
        let err = stderr(&output);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(name) && err.contains(needle), "{err}");
    }
    assert!(!ws.path("adapter").exists());
}

#[test]
fn a_diverging_run_is_stopped_without_an_adapter() {
    let ws = Workspace::new();
    let model = tiny_model(&ws);
    let data = ws.write("sft.jsonl", ROWS);
    let output = train(
        &ws,
        &model,
        data.to_str().unwrap(),
        &["--lr", "1e30", "--epochs", "3", "--grad-accum", "2"],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("training stopped"),
        "{}",
        stderr(&output)
    );
    assert!(!ws.path("adapter/adapter_model.safetensors").exists());
    assert!(
        ws.path("adapter/checkpoint-epoch-1/adapter_model.safetensors")
            .exists()
    );
}

#[test]
fn a_run_reports_throughput_and_held_out_loss() {
    let ws = Workspace::new();
    let model = tiny_model(&ws);
    let data = ws.write("sft.jsonl", ROWS);
    let out = ws.path("adapter");
    let (output, result) = ws.json(&[
        "train",
        "sft",
        "--data",
        data.to_str().unwrap(),
        "--eval",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--model",
        &model,
        "--lr",
        "1e-2",
        "--epochs",
        "4",
        "--grad-accum",
        "1",
        "--dropout",
        "0",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(result["steps"], 8);
    assert!(result["tokens"].as_u64().unwrap() > 0);
    assert!(result["tokens_per_second"].as_f64().unwrap() > 0.0);
    let eval = &result["eval"];
    assert_eq!(eval["rows"], 2);
    assert!(
        eval["loss_after"].as_f64().unwrap() < eval["loss_before"].as_f64().unwrap(),
        "{eval}"
    );
    assert!(out.join("adapter_model.safetensors").exists());
}
