//! The ensemble's numbers: per member, per strategy, and who solved what with whom.

use serde::Serialize;

/// One member's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberReport {
    pub policy: String,
    /// The stored run holding this member's episodes (`apprentice show RUN`).
    pub run: String,
    pub resolved: usize,
    pub resolve_rate: f64,
    /// Tasks this member resolved and no other member did.
    pub only_solved: Vec<String>,
    pub cost_usd: f64,
}

/// One selection strategy's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrategyReport {
    pub name: String,
    pub resolved: usize,
    pub resolve_rate: f64,
    /// `union` is an oracle upper bound (it needs the grader to pick), never a deployable result.
    pub upper_bound: bool,
    /// Every member's cost plus what the selection itself cost (supervisor tie-breaks).
    pub cost_usd: f64,
}

/// What one strategy chose for one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Choice {
    pub strategy: String,
    /// The member whose patch was chosen; `None` when no member changed any source.
    pub member: Option<usize>,
    /// The chosen patch's grade by the real grader (the task's hidden tests).
    pub resolved: bool,
    pub grade: Option<String>,
    /// Strategy-specific evidence: cluster sizes, tie-break, test scores.
    pub detail: serde_json::Value,
}

/// Everything decided about one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskReport {
    pub task: String,
    /// Whether each member resolved the task, in member order.
    pub members_resolved: Vec<bool>,
    pub choices: Vec<Choice>,
}

/// The whole ensemble (the `ensemble --json` document).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnsembleReport {
    pub ensemble: String,
    pub tasks: usize,
    pub members: Vec<MemberReport>,
    pub strategies: Vec<StrategyReport>,
    /// `overlap[i][j]`: tasks both member i and member j resolved (the diagonal is each
    /// member's own count).
    pub overlap: Vec<Vec<usize>>,
    pub cost_usd: f64,
    pub details: Vec<TaskReport>,
}

/// A member as run: its spec, run id and cost.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRun {
    pub policy: String,
    pub run: String,
    pub cost_usd: f64,
}

fn rate(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Assembles the report from the members and each task's decisions; `selection_cost` is what
/// strategies spent beyond the members, by strategy name.
pub fn build(
    ensemble: &str,
    members: &[MemberRun],
    details: Vec<TaskReport>,
    strategies: &[String],
    selection_cost: &dyn Fn(&str) -> f64,
) -> EnsembleReport {
    let n = details.len();
    let solved = |i: usize, t: &TaskReport| t.members_resolved.get(i).copied().unwrap_or(false);
    let member_cost: f64 = members.iter().map(|m| m.cost_usd).sum();
    let member_reports = members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let resolved = details.iter().filter(|t| solved(i, t)).count();
            let only_solved = details
                .iter()
                .filter(|t| solved(i, t) && (0..members.len()).all(|j| j == i || !solved(j, t)))
                .map(|t| t.task.clone())
                .collect();
            MemberReport {
                policy: m.policy.clone(),
                run: m.run.clone(),
                resolved,
                resolve_rate: rate(resolved, n),
                only_solved,
                cost_usd: m.cost_usd,
            }
        })
        .collect();
    let overlap = (0..members.len())
        .map(|i| {
            (0..members.len())
                .map(|j| {
                    details
                        .iter()
                        .filter(|t| solved(i, t) && solved(j, t))
                        .count()
                })
                .collect()
        })
        .collect();
    let strategy_reports: Vec<StrategyReport> = strategies
        .iter()
        .map(|name| {
            let resolved = details
                .iter()
                .filter(|t| t.choices.iter().any(|c| &c.strategy == name && c.resolved))
                .count();
            StrategyReport {
                name: name.clone(),
                resolved,
                resolve_rate: rate(resolved, n),
                upper_bound: name == "union",
                cost_usd: member_cost + selection_cost(name),
            }
        })
        .collect();
    let extra: f64 = strategies.iter().map(|s| selection_cost(s)).sum();
    EnsembleReport {
        ensemble: ensemble.to_string(),
        tasks: n,
        members: member_reports,
        strategies: strategy_reports,
        overlap,
        cost_usd: member_cost + extra,
        details,
    }
}
