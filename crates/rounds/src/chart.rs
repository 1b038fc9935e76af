//! The loop's plots: intervention rate by round (train and held-out), and resolve and
//! format-error rates by round, as SVG files.

use std::path::{Path, PathBuf};

use apprentice_plot::{LineChart, Series};

use crate::LoopError;
use crate::driver::RoundReport;
use crate::metrics::SplitMetrics;

pub const INTERVENTIONS: &str = "intervention-rate.svg";
pub const RATES: &str = "resolve-and-format-rates.svg";

fn series(
    rounds: &[RoundReport],
    name: &str,
    side: fn(&RoundReport) -> &SplitMetrics,
    value: fn(&SplitMetrics) -> f64,
) -> Series {
    let points = rounds
        .iter()
        .map(|r| (r.round as f64, value(side(r))))
        .collect();
    Series::new(name, points)
}

fn train(r: &RoundReport) -> &SplitMetrics {
    &r.train
}

fn held_out(r: &RoundReport) -> &SplitMetrics {
    &r.held_out
}

/// The intervention chart: one series per split.
pub fn interventions(rounds: &[RoundReport]) -> LineChart {
    let rate = |m: &SplitMetrics| m.intervention_rate;
    LineChart::new(
        "Supervisor intervention rate by round",
        "round",
        "intervention rate",
    )
    .with_y_range(0.0, 1.0)
    .with_series(series(rounds, "train", train, rate))
    .with_series(series(rounds, "held-out (shadow)", held_out, rate))
}

/// Resolve and format-error rates, train and held-out.
pub fn rates(rounds: &[RoundReport]) -> LineChart {
    let resolve = |m: &SplitMetrics| m.resolve_rate;
    let format = |m: &SplitMetrics| m.format_error_rate;
    LineChart::new("Resolve and format-error rates by round", "round", "rate")
        .with_y_range(0.0, 1.0)
        .with_series(series(rounds, "resolve, train", train, resolve))
        .with_series(series(rounds, "resolve, held-out", held_out, resolve))
        .with_series(series(rounds, "format errors, train", train, format))
        .with_series(series(rounds, "format errors, held-out", held_out, format))
}

/// Writes both charts into `dir`; returns their paths, the intervention chart first.
pub fn write(rounds: &[RoundReport], dir: &Path) -> Result<Vec<PathBuf>, LoopError> {
    std::fs::create_dir_all(dir).map_err(|e| LoopError::io(dir, e))?;
    let mut paths = Vec::new();
    for (name, chart) in [
        (INTERVENTIONS, interventions(rounds)),
        (RATES, rates(rounds)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, chart.to_svg()).map_err(|e| LoopError::io(&path, e))?;
        paths.push(path);
    }
    Ok(paths)
}
