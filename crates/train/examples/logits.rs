//! Dumps the logits of a few chat prompts, with and without a LoRA adapter, from both of
//! apprentice's forward passes, for comparison with other implementations (see
//! `bench/peft_compat`).
//!
//! ```text
//! cargo run --release -p apprentice-train --example logits -- --adapter DIR --out DIR \
//!     [--model PATH.gguf] [--prompt TEXT]...
//! ```
//! Writes `manifest.json` (the token ids of each prompt, rendered with the ChatML template
//! and a generation prompt) and, per prompt `i`, `(seq, vocab)` little-endian f32 files:
//! - `kernel_base_i.f32`, `kernel_lora_i.f32`: the embedded inference model (Q4_1 weights,
//!   quantized activations), one position at a time through the KV cache;
//! - `f32_base_i.f32`, `f32_lora_i.f32`: the trainer's forward (weights dequantized to f32).

use apprentice_embedded::{
    ChatMessage, EmbeddedModel, LoraAdapter, default_cache_dir, fetch_default_model,
};
use apprentice_train::{Mode, TrainableLlama};
use std::io::Write;
use std::path::{Path, PathBuf};

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

const DEFAULT_PROMPTS: [&str; 3] = [
    "List the files in the repository.",
    "Write a Python function that checks whether a number is prime.",
    "The tests in tests/test_convert.py fail. What do you run first?",
];

struct Args {
    model: Option<PathBuf>,
    adapter: PathBuf,
    out: PathBuf,
    prompts: Vec<String>,
}

fn parse_args() -> AnyResult<Args> {
    let (mut model, mut adapter, mut out, mut prompts) = (None, None, None, Vec::new());
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--model" => model = Some(PathBuf::from(value)),
            "--adapter" => adapter = Some(PathBuf::from(value)),
            "--out" => out = Some(PathBuf::from(value)),
            "--prompt" => prompts.push(value),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    if prompts.is_empty() {
        prompts = DEFAULT_PROMPTS.iter().map(|p| p.to_string()).collect();
    }
    Ok(Args {
        model,
        adapter: adapter.ok_or("--adapter DIR is required")?,
        out: out.ok_or("--out DIR is required")?,
        prompts,
    })
}

fn write_f32(path: &Path, rows: &[Vec<f32>]) -> AnyResult<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    for v in rows.iter().flatten() {
        file.write_all(&v.to_le_bytes())?;
    }
    Ok(file.flush()?)
}

/// Logits at every position, fed one token at a time as generation does.
fn kernel_logits(model: &mut EmbeddedModel, tokens: &[u32]) -> AnyResult<Vec<Vec<f32>>> {
    model.clear_cache();
    (1..=tokens.len())
        .map(|n| Ok(model.logits_for(&tokens[..n])?))
        .collect()
}

fn f32_logits(model: &TrainableLlama, tokens: &[u32], mode: Mode) -> AnyResult<Vec<Vec<f32>>> {
    Ok(model.forward(tokens, mode)?.to_vec2::<f32>()?)
}

fn main() -> AnyResult<()> {
    let args = parse_args()?;
    let path = match &args.model {
        Some(p) => p.clone(),
        None => fetch_default_model(&default_cache_dir())?,
    };
    let mut embedded = EmbeddedModel::load(&path)?;
    let adapter = LoraAdapter::load(&args.adapter, embedded.config())?;
    let trainable = TrainableLlama::load_with_adapter(&path, embedded.config(), &adapter)?;
    std::fs::create_dir_all(&args.out)?;
    let mut manifest = Vec::new();
    for (i, prompt) in args.prompts.iter().enumerate() {
        let tokens = embedded.render_chat(&[ChatMessage::user(prompt.clone())], true)?;
        embedded.unload_lora();
        write_f32(
            &args.out.join(format!("kernel_base_{i}.f32")),
            &kernel_logits(&mut embedded, &tokens)?,
        )?;
        embedded.load_lora(&args.adapter)?;
        write_f32(
            &args.out.join(format!("kernel_lora_{i}.f32")),
            &kernel_logits(&mut embedded, &tokens)?,
        )?;
        for (name, mode) in [("f32_base", Mode::REFERENCE), ("f32_lora", Mode::EVAL)] {
            write_f32(
                &args.out.join(format!("{name}_{i}.f32")),
                &f32_logits(&trainable, &tokens, mode)?,
            )?;
        }
        manifest.push(serde_json::json!({"prompt": prompt, "tokens": tokens}));
    }
    let doc = serde_json::json!({
        "model": path,
        "adapter": args.adapter,
        "vocab": embedded.config().vocab_size,
        "prompts": manifest,
    });
    std::fs::write(
        args.out.join("manifest.json"),
        serde_json::to_string_pretty(&doc)?,
    )?;
    println!("{}", args.out.join("manifest.json").display());
    Ok(())
}
