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

/// The weight of an unresolved episode whose every step a live supervisor let run.
///
/// A small policy rarely resolves a task in a few steps, so rows from resolved episodes alone
/// leave its first rounds with nothing to learn from. Each action the supervisor approved
/// (or wrote itself, as a revision) is still a judged-sound action in the context the policy
/// saw: a weaker, partial signal than a resolution, weighted well below it.
pub const SUPERVISED_WEIGHT: f64 = 0.25;

/// The reward an episode earns: 1 when resolved; otherwise the larger of half the
/// FAIL_TO_PASS rate (a partial fix) and [`SUPERVISED_WEIGHT`] times the share of its steps
/// a live supervisor approved, hinted or revised.
fn reward(episode: &StoredEpisode) -> f64 {
    if episode.resolved {
        return 1.0;
    }
    let partial = match episode.grade.as_deref() {
        Some("PARTIAL") => 0.5 * episode.report["f2p_rate"].as_f64().unwrap_or(0.0),
        _ => 0.0,
    };
    partial.max(SUPERVISED_WEIGHT * supervised_share(episode))
}

/// Share of the steps that ran with a live (not shadow) supervisor's consent.
fn supervised_share(episode: &StoredEpisode) -> f64 {
    let consented = episode
        .steps
        .iter()
        .filter(|row| row.format_error.is_none())
        .filter_map(|row| row.verdict_detail.clone())
        .filter_map(|v| serde_json::from_value::<VerdictRecord>(v).ok())
        .filter(|r| !r.shadow && !matches!(r.verdict, Verdict::Reject { .. }))
        .count();
    consented as f64 / episode.steps.len().max(1) as f64
}

/// SFT rows, one per episode. Unweighted rows come from resolved episodes only; weighted rows
/// from every episode that earned a reward above zero (supervised episodes included, see
/// [`SUPERVISED_WEIGHT`]).
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(verdict: Option<serde_json::Value>, slip: bool) -> StepRow {
        StepRow {
            index: 0,
            proposal_text: "<tool_call>\n<function=submit>\n</function>\n</tool_call>".into(),
            format_error: slip.then(|| "no call".to_string()),
            verdict: None,
            verdict_detail: verdict,
            executed: None,
            observation: "ok".into(),
            exit_code: Some(0),
            tool_output: None,
        }
    }

    fn episode(resolved: bool, steps: Vec<StepRow>) -> StoredEpisode {
        StoredEpisode {
            episode: 1,
            run: "r".into(),
            task: "t".into(),
            resolved,
            grade: Some(if resolved { "FULL" } else { "NO" }.into()),
            report: json!({}),
            messages: vec![
                Message::new(Role::System, "sys"),
                Message::new(Role::User, "task"),
            ],
            steps,
        }
    }

    fn verdict(verdict: Verdict, shadow: bool) -> Option<serde_json::Value> {
        let record = VerdictRecord {
            verdict,
            trigger: apprentice_core::Trigger::Routine,
            shadow,
            usage: apprentice_core::Usage::default(),
            millis: 0,
        };
        serde_json::to_value(record).ok()
    }

    #[test]
    fn supervised_unresolved_episodes_earn_a_weight_by_their_consented_share() {
        let approve = || verdict(Verdict::Approve, false);
        let reject = verdict(
            Verdict::Reject {
                reason: "no".into(),
            },
            false,
        );
        let shadow = verdict(Verdict::Approve, true);
        let cases = [
            (episode(true, vec![step(None, false)]), 1.0),
            (episode(false, vec![step(None, false)]), 0.0),
            (episode(false, vec![step(shadow, false)]), 0.0),
            (
                episode(
                    false,
                    vec![
                        step(approve(), false),
                        step(reject, false),
                        step(None, true),
                        step(approve(), false),
                    ],
                ),
                SUPERVISED_WEIGHT * 0.5,
            ),
        ];
        for (e, want) in &cases {
            assert!((reward(e) - want).abs() < 1e-12, "{} vs {want}", reward(e));
        }
        let episodes: Vec<StoredEpisode> = cases.into_iter().map(|(e, _)| e).collect();
        let weights: Vec<Option<f64>> = sft_rows(&episodes, SftVariant::Clean, true)
            .iter()
            .map(|r| r.weight)
            .collect();
        assert_eq!(weights, [Some(1.0), Some(SUPERVISED_WEIGHT * 0.5)]);
        assert_eq!(sft_rows(&episodes, SftVariant::Clean, false).len(), 1);
    }
}
