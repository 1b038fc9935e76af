//! Behaviour and efficiency metrics over episodes, as pure functions of [`Trajectory`] values
//! (so they are tested on hand-made trajectories with known answers).
//!
//! Definitions (`shared/reference/benchmarks.md`): pass@k = 1 − C(n−c,k)/C(n,k) and
//! pass^k = C(c,k)/C(n,k) per task, averaged over tasks; SPL = S · L*/max(L, L*);
//! EG(k) = 1 − S(k)/S(1); MG(k) = (S_control(k) − S_memory(k))/S_control(k), where S(k) is
//! the mean number of steps at the k-th exposure to a task.

use std::collections::BTreeMap;

use apprentice_plot::{LineChart, Series};
use serde::{Deserialize, Serialize};

/// One action the agent proposed, reduced to what the metrics need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// 1-based index of the step (policy turn) it was proposed at.
    pub step: usize,
    /// The meta-tool (`call`, `help`, ...) or, for a hallucinated top-level tool, its name.
    pub tool: String,
    /// The environment tool a `call` or `help` names.
    pub target: Option<String>,
    /// The arguments in a canonical form, for spotting repeats.
    pub args: String,
    /// It named a tool that is not offered.
    pub hallucinated: bool,
}

/// One finished episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trajectory {
    pub task: String,
    /// `plain` (no memory tools), `memory` (memory kept) or `control` (memory wiped).
    pub arm: String,
    /// 1-based: the how-many-th time this arm sees this task.
    pub exposure: usize,
    pub seed: u64,
    pub success: bool,
    /// Policy turns used, format errors included.
    pub steps: usize,
    pub oracle_steps: usize,
    /// Environment tools the oracle calls.
    pub needed_tools: Vec<String>,
    pub actions: Vec<Action>,
}

/// C(n, k) as a float (exact for the small n of a campaign).
fn choose(n: usize, k: usize) -> f64 {
    if k > n {
        return 0.0;
    }
    let k = k.min(n - k);
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// The unbiased estimate of "at least one of k tries succeeds" from c successes in n tries.
pub fn pass_at_k(n: usize, c: usize, k: usize) -> Option<f64> {
    (k >= 1 && k <= n && c <= n).then(|| 1.0 - choose(n - c, k) / choose(n, k))
}

/// The estimate of "all of k tries succeed" (tau-bench's pass^k).
pub fn pass_hat_k(n: usize, c: usize, k: usize) -> Option<f64> {
    (k >= 1 && k <= n && c <= n).then(|| choose(c, k) / choose(n, k))
}

/// Success weighted by path length: oracle steps over steps used, on success; 0 on failure.
pub fn spl(t: &Trajectory) -> f64 {
    if !t.success || t.oracle_steps == 0 {
        return 0.0;
    }
    t.oracle_steps as f64 / t.steps.max(t.oracle_steps) as f64
}

/// Actions identical (tool, target and arguments) to an earlier action of the episode.
pub fn redundant_actions(t: &Trajectory) -> usize {
    let mut seen = std::collections::HashSet::new();
    t.actions
        .iter()
        .filter(|a| !seen.insert((&a.tool, &a.target, &a.args)))
        .count()
}

/// Calls of tools that are not offered (through `call`/`help`, or named as a top-level tool).
pub fn hallucinated_calls(t: &Trajectory) -> usize {
    t.actions.iter().filter(|a| a.hallucinated).count()
}

/// For each needed tool, the step at which the agent first `call`ed it (`None`: never).
pub fn first_use(t: &Trajectory) -> Vec<(String, Option<usize>)> {
    t.needed_tools
        .iter()
        .map(|tool| {
            let step = t
                .actions
                .iter()
                .find(|a| a.tool == "call" && a.target.as_deref() == Some(tool))
                .map(|a| a.step);
            (tool.clone(), step)
        })
        .collect()
}

/// The share of needed tools the agent called at least once (1 when none are needed).
pub fn discovery_rate(t: &Trajectory) -> f64 {
    let uses = first_use(t);
    if uses.is_empty() {
        return 1.0;
    }
    uses.iter().filter(|(_, s)| s.is_some()).count() as f64 / uses.len() as f64
}

/// The mean first-use step over the needed tools that were found; `None` when none was.
pub fn first_use_latency(t: &Trajectory) -> Option<f64> {
    mean_of(
        first_use(t)
            .into_iter()
            .filter_map(|(_, s)| s.map(|s| s as f64)),
    )
}

/// EG(k) = 1 − S(k)/S(1): how much cheaper the k-th exposure is than the first.
pub fn efficiency_gain(first: f64, later: f64) -> Option<f64> {
    (first > 0.0).then(|| 1.0 - later / first)
}

/// MG(k) = (S_control(k) − S_memory(k))/S_control(k): what the memory saves.
pub fn memory_gain(control: f64, memory: f64) -> Option<f64> {
    (control > 0.0).then(|| (control - memory) / control)
}

fn mean_of(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values
        .into_iter()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

fn mean(ts: &[&Trajectory], f: impl Fn(&Trajectory) -> f64) -> f64 {
    mean_of(ts.iter().map(|t| f(t))).unwrap_or(0.0)
}

/// One arm's numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmMetrics {
    pub arm: String,
    pub episodes: usize,
    pub tasks: usize,
    pub success_rate: f64,
    /// The k of pass@k and pass^k: the fewest episodes any task had in this arm.
    pub k: usize,
    pub pass_at_k: f64,
    pub pass_hat_k: f64,
    pub mean_steps: f64,
    pub spl: f64,
    pub redundant_actions: f64,
    pub discovery_rate: f64,
    pub first_use_latency: Option<f64>,
    pub hallucinated_calls: f64,
    /// EG at the last exposure; `None` with a single exposure.
    pub efficiency_gain: Option<f64>,
}

/// The mean of one quantity at one exposure of one arm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurvePoint {
    pub arm: String,
    pub exposure: usize,
    pub episodes: usize,
    pub mean_steps: f64,
    pub spl: f64,
    pub success_rate: f64,
}

/// The whole metric table of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub arms: Vec<ArmMetrics>,
    pub curve: Vec<CurvePoint>,
    /// MG(k) per exposure, when the run had both a memory and a control arm.
    pub memory_gain: Vec<(usize, f64)>,
}

/// Computes every metric of a set of episodes, arm by arm.
pub fn summarize(trajectories: &[Trajectory]) -> Report {
    let mut by_arm: BTreeMap<&str, Vec<&Trajectory>> = BTreeMap::new();
    for t in trajectories {
        by_arm.entry(&t.arm).or_default().push(t);
    }
    let mut curve = Vec::new();
    let arms = by_arm
        .iter()
        .map(|(arm, ts)| {
            let points = curve_points(arm, ts);
            let gain = match (points.first(), points.last()) {
                (Some(first), Some(last)) if points.len() > 1 => {
                    efficiency_gain(first.mean_steps, last.mean_steps)
                }
                _ => None,
            };
            curve.extend(points);
            arm_metrics(arm, ts, gain)
        })
        .collect();
    let steps_at = |arm: &str, k: usize| {
        curve
            .iter()
            .find(|p: &&CurvePoint| p.arm == arm && p.exposure == k)
            .map(|p| p.mean_steps)
    };
    let memory_gain = curve
        .iter()
        .filter(|p| p.arm == "memory")
        .filter_map(|p| {
            let control = steps_at("control", p.exposure)?;
            memory_gain(control, p.mean_steps).map(|g| (p.exposure, g))
        })
        .collect();
    Report {
        arms,
        curve,
        memory_gain,
    }
}

fn arm_metrics(arm: &str, ts: &[&Trajectory], efficiency_gain: Option<f64>) -> ArmMetrics {
    let mut by_task: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for t in ts {
        let entry = by_task.entry(&t.task).or_default();
        entry.0 += 1;
        entry.1 += usize::from(t.success);
    }
    let k = by_task.values().map(|(n, _)| *n).min().unwrap_or(0);
    let per_task = |f: fn(usize, usize, usize) -> Option<f64>| {
        mean_of(by_task.values().filter_map(|&(n, c)| f(n, c, k))).unwrap_or(0.0)
    };
    ArmMetrics {
        arm: arm.to_string(),
        episodes: ts.len(),
        tasks: by_task.len(),
        success_rate: mean(ts, |t| f64::from(u8::from(t.success))),
        k,
        pass_at_k: per_task(pass_at_k),
        pass_hat_k: per_task(pass_hat_k),
        mean_steps: mean(ts, |t| t.steps as f64),
        spl: mean(ts, spl),
        redundant_actions: mean(ts, |t| redundant_actions(t) as f64),
        discovery_rate: mean(ts, discovery_rate),
        first_use_latency: mean_of(ts.iter().filter_map(|t| first_use_latency(t))),
        hallucinated_calls: mean(ts, |t| hallucinated_calls(t) as f64),
        efficiency_gain,
    }
}

fn curve_points(arm: &str, ts: &[&Trajectory]) -> Vec<CurvePoint> {
    let mut by_exposure: BTreeMap<usize, Vec<&Trajectory>> = BTreeMap::new();
    for t in ts {
        by_exposure.entry(t.exposure).or_default().push(t);
    }
    by_exposure
        .into_iter()
        .map(|(exposure, ts)| CurvePoint {
            arm: arm.to_string(),
            exposure,
            episodes: ts.len(),
            mean_steps: mean(&ts, |t| t.steps as f64),
            spl: mean(&ts, spl),
            success_rate: mean(&ts, |t| f64::from(u8::from(t.success))),
        })
        .collect()
}

/// The learning curve: mean steps by exposure, one line per arm.
pub fn learning_curve_svg(report: &Report) -> String {
    let mut chart = LineChart::new(
        "Steps by exposure (memory vs control)",
        "exposure",
        "mean steps",
    );
    let mut arms: Vec<&str> = report.curve.iter().map(|p| p.arm.as_str()).collect();
    arms.dedup();
    for arm in arms {
        let points = report
            .curve
            .iter()
            .filter(|p| p.arm == arm)
            .map(|p| (p.exposure as f64, p.mean_steps))
            .collect();
        chart = chart.with_series(Series::new(arm, points));
    }
    chart.to_svg()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(step: usize, tool: &str, target: Option<&str>, args: &str) -> Action {
        Action {
            step,
            tool: tool.into(),
            target: target.map(String::from),
            args: args.into(),
            hallucinated: false,
        }
    }

    fn trajectory(arm: &str, exposure: usize, success: bool, steps: usize) -> Trajectory {
        Trajectory {
            task: "t".into(),
            arm: arm.into(),
            exposure,
            seed: 1,
            success,
            steps,
            oracle_steps: 4,
            needed_tools: vec!["gw".into(), "logs".into()],
            actions: vec![],
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn pass_at_k_and_pass_hat_k_match_hand_computed_values() {
        // n=5, c=2: pass@1 = 2/5; pass@2 = 1 - C(3,2)/C(5,2) = 1 - 3/10; pass^2 = 1/10.
        assert!(close(pass_at_k(5, 2, 1).unwrap(), 0.4));
        assert!(close(pass_at_k(5, 2, 2).unwrap(), 0.7));
        assert!(close(pass_hat_k(5, 2, 2).unwrap(), 0.1));
        assert!(close(pass_at_k(3, 0, 3).unwrap(), 0.0));
        assert!(close(pass_hat_k(3, 3, 3).unwrap(), 1.0));
        assert!(close(pass_at_k(4, 1, 4).unwrap(), 1.0));
        assert_eq!(pass_at_k(2, 1, 3), None);
    }

    #[test]
    fn spl_rewards_short_successes_only() {
        assert!(close(spl(&trajectory("plain", 1, true, 8)), 0.5));
        assert!(close(spl(&trajectory("plain", 1, true, 3)), 1.0));
        assert!(close(spl(&trajectory("plain", 1, false, 4)), 0.0));
    }

    #[test]
    fn redundancy_discovery_and_hallucinations_are_counted_per_episode() {
        let mut t = trajectory("plain", 1, true, 7);
        let mut fake = action(2, "call", Some("kubectl"), "get pods");
        fake.hallucinated = true;
        t.actions = vec![
            action(1, "list_tools", None, ""),
            fake,
            action(3, "help", Some("gw"), ""),
            action(4, "call", Some("gw"), "status"),
            action(5, "call", Some("gw"), "status"),
            action(6, "list_tools", None, ""),
            action(7, "finish", None, ""),
        ];
        assert_eq!(redundant_actions(&t), 2);
        assert_eq!(hallucinated_calls(&t), 1);
        assert_eq!(
            first_use(&t),
            [("gw".to_string(), Some(4)), ("logs".to_string(), None)]
        );
        assert!(close(discovery_rate(&t), 0.5));
        assert_eq!(first_use_latency(&t), Some(4.0));
    }

    #[test]
    fn a_campaign_summary_has_gains_by_exposure_and_memory() {
        let runs = [
            ("memory", 1, true, 10),
            ("memory", 2, true, 5),
            ("memory", 3, false, 4),
            ("control", 1, true, 10),
            ("control", 2, false, 10),
            ("control", 3, true, 8),
        ];
        let ts: Vec<Trajectory> = runs
            .iter()
            .map(|&(arm, k, ok, steps)| trajectory(arm, k, ok, steps))
            .collect();
        let report = summarize(&ts);
        let memory = report.arms.iter().find(|a| a.arm == "memory").unwrap();
        assert_eq!((memory.episodes, memory.k), (3, 3));
        assert!(close(memory.success_rate, 2.0 / 3.0));
        assert!(close(memory.pass_at_k, 1.0));
        assert!(close(memory.pass_hat_k, 0.0));
        // EG(3) = 1 - 4/10.
        assert!(close(memory.efficiency_gain.unwrap(), 0.6));
        // SPL: 4/10, 4/5, 0.
        assert!(close(memory.spl, (0.4 + 0.8) / 3.0));
        // MG(k) = (control - memory)/control: 0, 0.5, 0.5.
        assert_eq!(report.memory_gain.len(), 3);
        assert!(close(report.memory_gain[1].1, 0.5));
        assert!(close(report.memory_gain[2].1, 0.5));
        let svg = learning_curve_svg(&report);
        assert!(svg.contains("<svg") && svg.contains("memory") && svg.contains("control"));
    }
}
