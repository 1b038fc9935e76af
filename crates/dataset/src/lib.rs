//! Training data from the raw events of stored episodes.
//!
//! The store keeps each proposal, verdict and executed action once; the views a trainer wants
//! are derived here:
//! - **clean** SFT: the trajectory as if the policy had made the supervisor's choices (rejected
//!   proposals and format slips dropped, revisions standing in for the proposals they replaced);
//! - **recovery** SFT: everything the policy saw, mistakes included but marked `train: false`,
//!   so only the recovery is learned;
//! - **DPO** pairs: at each intervention (rejected proposal vs the supervisor's or the policy's
//!   accepted action) and across episodes (a resolved trajectory vs an unresolved one).
//!
//! Rows follow TRL's conversational formats (`messages` + `tools`; `prompt`/`chosen`/`rejected`).

mod views;

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use serde::Serialize;

pub use views::{dpo_rows, sft_rows};

/// One chat turn of a row. `train` is present only in recovery rows: `false` marks a turn kept
/// as context but masked from the loss.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Turn {
    pub role: &'static str,
    pub content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SftVariant {
    Clean,
    Recovery,
}

impl std::str::FromStr for SftVariant {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "clean" => Ok(SftVariant::Clean),
            "recovery" => Ok(SftVariant::Recovery),
            other => Err(format!(
                "unknown SFT variant `{other}` (expected clean or recovery)"
            )),
        }
    }
}

/// A TRL conversational SFT row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SftRow {
    pub messages: Vec<Turn>,
    pub tools: serde_json::Value,
    /// Reward weight from the episode's outcome (reward-weighted SFT only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    pub task: String,
    pub episode: i64,
}

/// A TRL conversational preference row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DpoRow {
    pub prompt: Vec<Turn>,
    pub chosen: Vec<Turn>,
    pub rejected: Vec<Turn>,
    /// `step` (at an intervention) or `trajectory` (resolved vs unresolved episode).
    pub kind: &'static str,
    pub task: String,
    pub episode: i64,
}

/// Rows a dataset is made of: each knows its task (for held-out splits) and its training
/// content (for deduplication).
pub trait Row: Serialize {
    fn task(&self) -> &str;
    fn content_key(&self) -> String;
}

impl Row for SftRow {
    fn task(&self) -> &str {
        &self.task
    }
    fn content_key(&self) -> String {
        serde_json::to_string(&(&self.messages, self.weight)).unwrap_or_default()
    }
}

impl Row for DpoRow {
    fn task(&self) -> &str {
        &self.task
    }
    fn content_key(&self) -> String {
        serde_json::to_string(&(&self.prompt, &self.chosen, &self.rejected)).unwrap_or_default()
    }
}

/// Drops rows whose training content repeats an earlier row's.
pub fn dedup<R: Row>(rows: Vec<R>) -> Vec<R> {
    let mut seen = HashSet::new();
    rows.into_iter()
        .filter(|r| seen.insert(r.content_key()))
        .collect()
}

/// Splits rows by task: a task's rows all land on one side, so held-out tasks are unseen.
/// A task is held out when its seeded hash falls below `fraction`.
pub fn split_by_task<R: Row>(rows: Vec<R>, fraction: f64, seed: u64) -> (Vec<R>, Vec<R>) {
    rows.into_iter()
        .partition(|r| !is_held_out(r.task(), fraction, seed))
}

pub fn is_held_out(task: &str, fraction: f64, seed: u64) -> bool {
    let mut hasher = std::hash::DefaultHasher::new();
    (seed, task).hash(&mut hasher);
    ((hasher.finish() >> 11) as f64 / (1u64 << 53) as f64) < fraction
}
