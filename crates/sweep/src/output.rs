//! The sweep's files: a CSV table, the JSON document and SVG plots.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use apprentice_plot::{LineChart, Series};
use serde::Serialize;

use crate::SweepError;
use crate::judge::{ScaleRow, Thresholds};

/// The `sweep --json` document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepReport {
    pub adapter: String,
    pub prompts: usize,
    pub max_tokens: usize,
    pub rows: Vec<ScaleRow>,
    /// The highest scale that, with every scale below it, is not degenerate.
    pub highest_sound_scale: Option<f32>,
    pub thresholds: Thresholds,
    /// Files written.
    pub files: Vec<PathBuf>,
}

const COLUMNS: &str = "scale,samples,rep4,distinct1,distinct2,compression_ratio,token_limit_share,leak_rate,tool_call_rate,perplexity,kl_to_base,resolve_rate,intervention_rate,degenerate,reasons";

/// The rows as CSV, one line per scale; empty cells for metrics not measured.
pub fn csv(rows: &[ScaleRow]) -> String {
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.4}"));
    let mut out = format!("{COLUMNS}\n");
    for r in rows {
        let t = &r.text;
        let _ = writeln!(
            out,
            "{},{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{},{},{},{},{},\"{}\"",
            r.scale,
            r.samples,
            t.rep4,
            t.distinct1,
            t.distinct2,
            t.compression_ratio,
            t.token_limit_share,
            t.leak_rate,
            t.tool_call_rate,
            opt(r.perplexity),
            opt(r.kl_to_base),
            opt(r.resolve_rate),
            opt(r.intervention_rate),
            r.degenerate,
            r.reasons.join("; ").replace('"', "'"),
        );
    }
    out
}

/// The rate metrics (0..1) against scale.
pub fn rates_chart(rows: &[ScaleRow]) -> String {
    let series = |name: &str, f: &dyn Fn(&ScaleRow) -> f64| {
        Series::new(
            name,
            rows.iter().map(|r| (f64::from(r.scale), f(r))).collect(),
        )
    };
    let mut chart = LineChart::new("Degeneration by LoRA scale", "LoRA scale", "rate")
        .with_y_range(0.0, 1.0)
        .with_series(series("rep4", &|r| r.text.rep4))
        .with_series(series("distinct-2", &|r| r.text.distinct2))
        .with_series(series("token limit", &|r| r.text.token_limit_share))
        .with_series(series("leaks", &|r| r.text.leak_rate))
        .with_series(series("tool calls", &|r| r.text.tool_call_rate));
    if rows.iter().any(|r| r.resolve_rate.is_some()) {
        chart = chart
            .with_series(series("resolved", &|r| r.resolve_rate.unwrap_or(f64::NAN)))
            .with_series(series("interventions", &|r| {
                r.intervention_rate.unwrap_or(f64::NAN)
            }));
    }
    chart.to_svg()
}

/// Perplexity and KL (log-free, as measured) against scale.
pub fn likelihood_chart(rows: &[ScaleRow]) -> String {
    let series = |name: &str, f: &dyn Fn(&ScaleRow) -> Option<f64>| {
        Series::new(
            name,
            rows.iter()
                .map(|r| (f64::from(r.scale), f(r).unwrap_or(f64::NAN)))
                .collect(),
        )
    };
    LineChart::new("Held-out likelihood by LoRA scale", "LoRA scale", "value")
        .with_series(series("perplexity", &|r| r.perplexity))
        .with_series(series("KL to base (nats/token)", &|r| r.kl_to_base))
        .with_series(series("compression ratio", &|r| {
            Some(r.text.compression_ratio)
        }))
        .to_svg()
}

/// Writes `sweep.csv`, `sweep.json`, `sweep-rates.svg` and `sweep-likelihood.svg` into `dir`
/// and records them in the report.
pub fn write_all(dir: &Path, report: &mut SweepReport) -> Result<(), SweepError> {
    let io = |path: &Path, e: std::io::Error| SweepError::Input(format!("{}: {e}", path.display()));
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let files = [
        ("sweep.csv", csv(&report.rows)),
        ("sweep-rates.svg", rates_chart(&report.rows)),
        ("sweep-likelihood.svg", likelihood_chart(&report.rows)),
    ];
    report.files = files
        .iter()
        .map(|(name, _)| dir.join(name))
        .chain([dir.join("sweep.json")])
        .collect();
    for (name, text) in &files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| io(&path, e))?;
    }
    let json =
        serde_json::to_string_pretty(report).map_err(|e| SweepError::Input(e.to_string()))?;
    let path = dir.join("sweep.json");
    std::fs::write(&path, json).map_err(|e| io(&path, e))
}
