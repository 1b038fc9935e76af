//! One side of a round (train or held-out tasks) in numbers.

use apprentice_store::RunSummary;
use serde::{Deserialize, Serialize};

/// The numbers the loop tracks per round and split. Rates are over final episodes, like
/// `apprentice show RUN`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitMetrics {
    pub run: String,
    pub episodes: usize,
    pub resolved: usize,
    pub resolve_rate: f64,
    /// Well-formed tool calls the policy proposed.
    pub proposals: i64,
    /// Rejections, revisions and hints (would-have-been ones on held-out tasks).
    pub interventions: i64,
    /// interventions / proposals.
    pub intervention_rate: f64,
    /// Replies that were not a parseable tool call.
    pub format_errors: i64,
    /// format errors / policy turns (proposals + format errors): how often a reply failed to
    /// be a tool call at all, the first thing SFT on tool calls should fix.
    pub format_error_rate: f64,
    pub steps: i64,
    pub steps_per_episode: f64,
    /// Tasks the infrastructure never let finish (not counted as unresolved).
    pub infra_errors: usize,
}

fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}

impl From<&RunSummary> for SplitMetrics {
    fn from(s: &RunSummary) -> Self {
        SplitMetrics {
            run: s.run.clone(),
            episodes: s.episodes,
            resolved: s.resolved,
            resolve_rate: s.resolve_rate,
            proposals: s.proposals,
            interventions: s.interventions,
            intervention_rate: s.intervention_rate,
            format_errors: s.format_errors,
            format_error_rate: ratio(
                s.format_errors as f64,
                (s.proposals + s.format_errors) as f64,
            ),
            steps: s.steps,
            steps_per_episode: ratio(s.steps as f64, s.episodes as f64),
            infra_errors: s.infra_errors,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(episodes: usize, proposals: i64, format_errors: i64, steps: i64) -> RunSummary {
        RunSummary {
            run: "r".into(),
            status: "finished".into(),
            created_at: String::new(),
            episodes,
            resolved: 1,
            resolve_rate: 0.25,
            proposals,
            interventions: 3,
            intervention_rate: 0.3,
            format_errors,
            steps,
            cost_usd: 0.0,
            policy_cost_usd: 0.0,
            supervisor_cost_usd: 0.0,
            infra_errors: 0,
            interrupted_attempts: 0,
            config: serde_json::Value::Null,
            episodes_detail: Vec::new(),
        }
    }

    #[test]
    fn format_error_rate_is_over_policy_turns_and_steps_are_per_episode() {
        let m = SplitMetrics::from(&summary(4, 10, 6, 18));
        assert_eq!(m.format_error_rate, 6.0 / 16.0);
        assert_eq!(m.steps_per_episode, 4.5);
        assert_eq!((m.resolve_rate, m.intervention_rate), (0.25, 0.3));
    }

    #[test]
    fn an_empty_run_has_zero_rates_not_nan() {
        let m = SplitMetrics::from(&summary(0, 0, 0, 0));
        assert_eq!((m.format_error_rate, m.steps_per_episode), (0.0, 0.0));
    }
}
