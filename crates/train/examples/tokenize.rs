//! Writes the token ids and loss masks `apprentice train sft|dpo` trains on, one JSON line per
//! kept row, so another trainer (`bench/train`) sees exactly the same sequences.
//!
//! ```text
//! cargo run --release -p apprentice-train --example tokenize -- --kind sft|dpo --data ROWS.jsonl \
//!     --out TOKENS.jsonl [--model PATH.gguf] [--max-tokens 1024] [--max-rows N]
//! ```
//! SFT lines are `{"tokens": [...], "mask": [...], "weight": w}`; DPO lines are
//! `{"chosen": {"tokens", "mask"}, "rejected": {"tokens", "mask"}}`.

use apprentice_embedded::{EmbeddedModel, default_cache_dir, fetch_default_model};
use apprentice_train::{LoadLimits, Sequence, load_dpo, load_sft};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

fn seq(s: &Sequence) -> serde_json::Value {
    json!({"tokens": s.tokens, "mask": s.mask})
}

fn main() -> AnyResult<()> {
    let (mut kind, mut data, mut out, mut model) = (None, None, None, None);
    let mut limits = LoadLimits {
        max_rows: None,
        max_tokens: Some(1024),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--kind" => kind = Some(value),
            "--data" => data = Some(PathBuf::from(value)),
            "--out" => out = Some(PathBuf::from(value)),
            "--model" => model = Some(PathBuf::from(value)),
            "--max-tokens" => limits.max_tokens = Some(value.parse()?),
            "--max-rows" => limits.max_rows = Some(value.parse()?),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    let data = data.ok_or("--data is required")?;
    let out = out.ok_or("--out is required")?;
    let path = match model {
        Some(p) => p,
        None => fetch_default_model(&default_cache_dir())?,
    };
    let embedded = EmbeddedModel::load(&path)?;
    let lines: Vec<serde_json::Value> = match kind.as_deref() {
        Some("sft") => load_sft(&data, &embedded, limits)?
            .iter()
            .map(|e| {
                let mut v = seq(&e.seq);
                v["weight"] = json!(e.weight);
                v
            })
            .collect(),
        Some("dpo") => load_dpo(&data, &embedded, limits)?
            .iter()
            .map(|p| json!({"chosen": seq(&p.chosen), "rejected": seq(&p.rejected)}))
            .collect(),
        _ => return Err("--kind sft|dpo is required".into()),
    };
    let mut file = std::io::BufWriter::new(std::fs::File::create(&out)?);
    for line in &lines {
        writeln!(file, "{line}")?;
    }
    file.flush()?;
    eprintln!("{} row(s) -> {}", lines.len(), out.display());
    Ok(())
}
