//! Chat with the embedded model, or benchmark it.
//!
//! ```text
//! cargo run --release -p apprentice-embedded --example generate -- --prompt "Write fizzbuzz in Python"
//! cargo run --release -p apprentice-embedded --example generate -- --bench --prompt-tokens 128 --gen-tokens 128
//! ```
//! Options: `--model PATH` (default: the cached SmolLM2, fetched if needed), `--lora DIR`,
//! `--scale S`, `--max-tokens N`, `--temperature T`, `--seed N`, `--print-model-path`
//! (fetch the default model if needed and print where it is). Threads follow
//! `RAYON_NUM_THREADS` / `CANDLE_NUM_THREADS`.
//!
//! `--bench` runs a fixed-length prompt in one batch (prompt processing) and then exactly
//! `--gen-tokens` greedy steps without stopping at end-of-turn (generation), and prints one
//! JSON line with both speeds and the peak RSS.

use apprentice_embedded::{
    ChatMessage, EmbeddedModel, GenerationParams, default_cache_dir, fetch_default_model,
};
use std::time::Instant;

struct Args {
    model: Option<String>,
    lora: Option<String>,
    scale: f32,
    prompt: String,
    max_tokens: usize,
    temperature: f32,
    seed: Option<u64>,
    bench: bool,
    print_model_path: bool,
    prompt_tokens: usize,
    gen_tokens: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        model: None,
        lora: None,
        scale: 1.0,
        prompt: "Write a Python function that checks whether a number is prime.".into(),
        max_tokens: 128,
        temperature: 0.0,
        seed: None,
        bench: false,
        print_model_path: false,
        prompt_tokens: 128,
        gen_tokens: 128,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |s: String| s.parse::<f64>().map_err(|e| format!("{s}: {e}"));
        match flag.as_str() {
            "--model" => a.model = Some(value()?),
            "--lora" => a.lora = Some(value()?),
            "--scale" => a.scale = num(value()?)? as f32,
            "--prompt" => a.prompt = value()?,
            "--max-tokens" => a.max_tokens = num(value()?)? as usize,
            "--temperature" => a.temperature = num(value()?)? as f32,
            "--seed" => a.seed = Some(num(value()?)? as u64),
            "--bench" => a.bench = true,
            "--print-model-path" => a.print_model_path = true,
            "--prompt-tokens" => a.prompt_tokens = num(value()?)? as usize,
            "--gen-tokens" => a.gen_tokens = num(value()?)? as usize,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(a)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    if args.print_model_path {
        let path = match &args.model {
            Some(p) => p.into(),
            None => fetch_default_model(&default_cache_dir())?,
        };
        println!("{}", path.display());
        return Ok(());
    }
    let t0 = Instant::now();
    let mut model = match &args.model {
        Some(p) => EmbeddedModel::load(p)?,
        None => EmbeddedModel::load_default()?,
    };
    if let Some(dir) = &args.lora {
        model.load_lora(dir)?;
        model.set_lora_scale(args.scale);
    }
    let load_s = t0.elapsed().as_secs_f64();
    if args.bench {
        return bench(&mut model, &args, load_s);
    }
    let params = GenerationParams {
        max_tokens: args.max_tokens,
        temperature: args.temperature,
        seed: args.seed,
        ..GenerationParams::default()
    };
    let t = Instant::now();
    let out = model.generate(&[ChatMessage::user(args.prompt.clone())], &params)?;
    let secs = t.elapsed().as_secs_f64();
    println!("{}", out.text);
    eprintln!(
        "[{} prompt + {} completion tokens in {secs:.2}s, finish: {}]",
        out.prompt_tokens,
        out.completion_tokens,
        out.finish_reason.as_str()
    );
    Ok(())
}

/// The benchmark prompt: a code-and-prose text repeated and cut to `n` tokens.
fn bench_prompt(model: &EmbeddedModel, n: usize) -> Result<Vec<u32>, Box<dyn std::error::Error>> {
    let text = include_str!("bench_prompt.txt").repeat(8);
    let mut ids = model.tokenizer().encode(&text, false)?;
    if ids.len() < n {
        return Err(format!("bench prompt has only {} tokens", ids.len()).into());
    }
    ids.truncate(n);
    Ok(ids)
}

fn bench(
    model: &mut EmbeddedModel,
    args: &Args,
    load_s: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut tokens = bench_prompt(model, args.prompt_tokens)?;
    // Warm-up (thread pool start, page faults), then a clean cache for the measured run.
    model.logits_for(&tokens[..8])?;
    model.logits_for(&[tokens[0] + 1])?;
    let t = Instant::now();
    let mut logits = model.logits_for(&tokens)?;
    let prefill_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for _ in 0..args.gen_tokens {
        let next = argmax(&logits);
        tokens.push(next);
        logits = model.logits_for(&tokens)?;
    }
    let gen_s = t.elapsed().as_secs_f64();
    println!(
        "{{\"impl\": \"apprentice-embedded\", \"load_s\": {load_s:.3}, \"prompt_tokens\": {}, \"prompt_s\": {prefill_s:.4}, \"prompt_tok_s\": {:.2}, \"gen_tokens\": {}, \"gen_s\": {gen_s:.4}, \"gen_tok_s\": {:.2}, \"peak_rss_mb\": {:.1}}}",
        args.prompt_tokens,
        args.prompt_tokens as f64 / prefill_s,
        args.gen_tokens,
        args.gen_tokens as f64 / gen_s,
        peak_rss_mb()
    );
    Ok(())
}

fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best as u32
}

/// `VmHWM` from /proc/self/status (Linux), in MiB; 0 elsewhere.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
