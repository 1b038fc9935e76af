//! The clean, recovery and preference views of stored episodes.

use std::collections::BTreeMap;

use apprentice_core::{Message, Role, Verdict, VerdictRecord, tool_response};
use apprentice_store::{StepRow, StoredEpisode};
use apprentice_tools::{ToolCall, ToolCatalog};

use crate::{DpoRow, SftRow, SftVariant, Turn};

/// What happened at one step, decoded from its stored row.
enum Step<'a> {
    /// A format error: the reply and the error message the policy got.
    Slip {
        reply: &'a str,
        answer: &'a str,
    },
    /// The action ran as proposed (approved, hinted, shadow-judged or not reviewed).
    Ran {
        reply: &'a str,
        observation: &'a str,
    },
    Rejected {
        reply: &'a str,
        answer: &'a str,
    },
    Revised {
        reply: &'a str,
        reason: String,
        action: ToolCall,
        output: &'a str,
    },
}

fn decode(row: &StepRow) -> Step<'_> {
    let reply = row.proposal_text.as_str();
    if row.format_error.is_some() {
        return Step::Slip {
            reply,
            answer: &row.observation,
        };
    }
    let verdict: Option<VerdictRecord> = row
        .verdict_detail
        .clone()
        .and_then(|v| serde_json::from_value(v).ok());
    match verdict {
        Some(VerdictRecord {
            verdict: Verdict::Reject { .. },
            shadow: false,
            ..
        }) => Step::Rejected {
            reply,
            answer: &row.observation,
        },
        Some(VerdictRecord {
            verdict: Verdict::Revise { action, reason },
            shadow: false,
            ..
        }) => Step::Revised {
            reply,
            reason,
            action,
            output: row.tool_output.as_deref().unwrap_or(&row.observation),
        },
        _ => Step::Ran {
            reply,
            observation: &row.observation,
        },
    }
}

fn turn(role: &'static str, content: impl Into<String>, train: Option<bool>) -> Turn {
    Turn {
        role,
        content: content.into(),
        train,
    }
}

fn from_messages(messages: &[Message]) -> Vec<Turn> {
    messages
        .iter()
        .map(|m| {
            let role = match m.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            turn(role, m.content.clone(), None)
        })
        .collect()
}

/// The turns after the opening messages, in the chosen view.
fn trajectory(episode: &StoredEpisode, variant: SftVariant, catalog: &ToolCatalog) -> Vec<Turn> {
    let recovery = variant == SftVariant::Recovery;
    let train = |yes: bool| recovery.then_some(yes);
    let mut turns = Vec::new();
    for row in &episode.steps {
        match decode(row) {
            Step::Ran { reply, observation } => {
                turns.push(turn("assistant", reply, train(true)));
                turns.push(turn("user", tool_response(observation), train(false)));
            }
            Step::Slip { reply, answer } | Step::Rejected { reply, answer } if recovery => {
                turns.push(turn("assistant", reply, Some(false)));
                turns.push(turn("user", tool_response(answer), Some(false)));
            }
            Step::Slip { .. } | Step::Rejected { .. } => {}
            Step::Revised {
                reply,
                reason,
                action,
                output,
            } => {
                if recovery {
                    turns.push(turn("assistant", reply, Some(false)));
                    turns.push(turn(
                        "user",
                        tool_response(&format!("Action rejected: {reason}")),
                        Some(false),
                    ));
                }
                turns.push(turn("assistant", catalog.render_call(&action), train(true)));
                turns.push(turn("user", tool_response(output), train(false)));
            }
        }
    }
    turns
}

/// The reward an episode earns: 1 when resolved, half the FAIL_TO_PASS rate when partial.
fn reward(episode: &StoredEpisode) -> f64 {
    if episode.resolved {
        return 1.0;
    }
    match episode.grade.as_deref() {
        Some("PARTIAL") => 0.5 * episode.report["f2p_rate"].as_f64().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// SFT rows, one per episode. Unweighted rows come from resolved episodes only; weighted rows
/// from every episode that earned a reward above zero.
pub fn sft_rows(episodes: &[StoredEpisode], variant: SftVariant, weighted: bool) -> Vec<SftRow> {
    episodes
        .iter()
        .filter(|e| !e.messages.is_empty())
        .filter_map(|e| {
            let weight = reward(e);
            let keep = if weighted { weight > 0.0 } else { e.resolved };
            keep.then(|| {
                let catalog = catalog_of(e);
                let mut messages = from_messages(&e.messages);
                messages.extend(trajectory(e, variant, &catalog));
                SftRow {
                    messages,
                    tools: catalog.openai_tools(),
                    weight: weighted.then_some(weight),
                    task: e.task.clone(),
                    episode: e.episode,
                }
            })
        })
        .collect()
}

/// Step pairs at every intervention, then trajectory pairs per task.
pub fn dpo_rows(episodes: &[StoredEpisode]) -> Vec<DpoRow> {
    let mut rows: Vec<DpoRow> = episodes
        .iter()
        .flat_map(|e| step_pairs(e, &catalog_of(e)))
        .collect();
    rows.extend(trajectory_pairs(episodes));
    rows
}

/// The tools an episode ran with: the catalog a runner with its own tool set (the discovery
/// benchmark) stores as `tool_catalog` in the report, else the standard repository tools.
fn catalog_of(episode: &StoredEpisode) -> ToolCatalog {
    serde_json::from_value(episode.report["tool_catalog"].clone())
        .unwrap_or_else(|_| ToolCatalog::standard())
}

/// At a revision the supervisor's action is chosen; at a rejection the action that ran next is.
/// The prompt is exactly what the policy saw when it made the rejected proposal.
fn step_pairs(episode: &StoredEpisode, catalog: &ToolCatalog) -> Vec<DpoRow> {
    let steps: Vec<Step> = episode.steps.iter().map(decode).collect();
    let mut seen = from_messages(&episode.messages);
    let mut rows = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let chosen = match step {
            Step::Revised { action, .. } => Some(catalog.render_call(action)),
            Step::Rejected { .. } => steps[i + 1..]
                .iter()
                .find_map(|later| accepted_text(later, catalog)),
            _ => None,
        };
        let reply = match step {
            Step::Slip { reply, .. }
            | Step::Ran { reply, .. }
            | Step::Rejected { reply, .. }
            | Step::Revised { reply, .. } => *reply,
        };
        if let Some(chosen) = chosen {
            rows.push(DpoRow {
                prompt: seen.clone(),
                chosen: vec![turn("assistant", chosen, None)],
                rejected: vec![turn("assistant", reply, None)],
                kind: "step",
                task: episode.task.clone(),
                episode: episode.episode,
            });
        }
        seen.push(turn("assistant", reply, None));
        seen.push(turn(
            "user",
            tool_response(&episode.steps[i].observation),
            None,
        ));
    }
    rows
}

fn accepted_text(step: &Step, catalog: &ToolCatalog) -> Option<String> {
    match step {
        Step::Ran { reply, .. } => Some(reply.to_string()),
        Step::Revised { action, .. } => Some(catalog.render_call(action)),
        _ => None,
    }
}

/// Each unresolved episode paired with a resolved episode of the same task (in turn).
fn trajectory_pairs(episodes: &[StoredEpisode]) -> Vec<DpoRow> {
    let mut by_task: BTreeMap<&str, (Vec<&StoredEpisode>, Vec<&StoredEpisode>)> = BTreeMap::new();
    for e in episodes.iter().filter(|e| !e.messages.is_empty()) {
        let sides = by_task.entry(e.task.as_str()).or_default();
        if e.resolved {
            sides.0.push(e)
        } else {
            sides.1.push(e)
        }
    }
    let mut rows = Vec::new();
    for (task, (resolved, unresolved)) in by_task {
        if resolved.is_empty() {
            continue;
        }
        for (i, failed) in unresolved.iter().enumerate() {
            let good = resolved[i % resolved.len()];
            rows.push(DpoRow {
                prompt: from_messages(&good.messages),
                chosen: trajectory(good, SftVariant::Clean, &catalog_of(good)),
                rejected: trajectory(failed, SftVariant::Clean, &catalog_of(failed)),
                kind: "trajectory",
                task: task.to_string(),
                episode: failed.episode,
            });
        }
    }
    rows
}
