//! The choice itself, as pure functions over candidates, clusters and test scores.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use apprentice_verify::{TestStatus, test_passed};
use serde::Serialize;

use crate::normalize::{changed_source_lines, patch_key};

/// One member's submitted patch for one task.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Index of the member in the ensemble.
    pub member: usize,
    pub patch: String,
}

/// Candidates that make the same source change (equal [`patch_key`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cluster {
    /// Members in the cluster, in member order.
    pub members: Vec<usize>,
    /// The member whose patch stands for the cluster: fewest changed lines, then first.
    pub representative: usize,
    /// Changed source lines of the representative's patch.
    pub changed_lines: usize,
}

impl Cluster {
    pub fn size(&self) -> usize {
        self.members.len()
    }
}

/// Clusters of the candidates that change any source, largest first (then smallest patch,
/// then earliest member). Candidates that change nothing are never a choice.
pub fn clusters(candidates: &[Candidate]) -> Vec<Cluster> {
    let mut by_key: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    for c in candidates {
        let key = patch_key(&c.patch);
        if !key.is_empty() {
            by_key
                .entry(key)
                .or_default()
                .push((c.member, changed_source_lines(&c.patch)));
        }
    }
    let mut out: Vec<Cluster> = by_key
        .into_values()
        .map(|mut members| {
            members.sort_unstable();
            let (representative, changed_lines) = members
                .iter()
                .copied()
                .min_by_key(|&(member, lines)| (lines, member))
                .unwrap_or_default();
            Cluster {
                members: members.into_iter().map(|(m, _)| m).collect(),
                representative,
                changed_lines,
            }
        })
        .collect();
    out.sort_by_key(|c| (Reverse(c.size()), c.changed_lines, c.representative));
    out
}

/// The clusters tied for largest; more than one means the majority vote needs a tie-break.
pub fn largest(clusters: &[Cluster]) -> &[Cluster] {
    let top = clusters.first().map_or(0, Cluster::size);
    let n = clusters.iter().take_while(|c| c.size() == top).count();
    &clusters[..n]
}

/// The majority choice: the largest cluster; among tied ones, those whose representative the
/// supervisor approved (when it was asked and approved any), then the fewest changed lines.
pub fn pick_majority<'a>(clusters: &'a [Cluster], approved: &[usize]) -> Option<&'a Cluster> {
    let tied = largest(clusters);
    let preferred: Vec<&Cluster> = tied
        .iter()
        .filter(|c| approved.contains(&c.representative))
        .collect();
    let pool: Vec<&Cluster> = if preferred.is_empty() {
        tied.iter().collect()
    } else {
        preferred
    };
    pool.into_iter()
        .min_by_key(|c| (c.changed_lines, c.representative))
}

/// How a candidate changed the visible test results against the unpatched baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SuiteScore {
    /// Tests not passing before that pass with the candidate.
    pub fixed: usize,
    /// Tests passing before that do not pass (or no longer run) with the candidate.
    pub broken: usize,
}

/// Compares a candidate's test statuses with the baseline's.
pub fn score(
    baseline: &BTreeMap<String, TestStatus>,
    candidate: &BTreeMap<String, TestStatus>,
) -> SuiteScore {
    let passed = |statuses: &BTreeMap<String, TestStatus>, test: &str| {
        test_passed(statuses.get(test).copied())
    };
    let fixed = candidate
        .keys()
        .filter(|t| passed(candidate, t) && !passed(baseline, t))
        .count();
    let broken = baseline
        .keys()
        .filter(|t| passed(baseline, t) && !passed(candidate, t))
        .count();
    SuiteScore { fixed, broken }
}

/// The `tests` choice: among clusters whose representative ran (a `None` score means its patch
/// did not apply or the tests could not run), the most fixed minus broken, then the fewest
/// broken, then the largest cluster, then the fewest changed lines.
pub fn pick_tests(scored: &[(Cluster, Option<SuiteScore>)]) -> Option<(&Cluster, SuiteScore)> {
    scored
        .iter()
        .filter_map(|(c, s)| s.map(|s| (c, s)))
        .min_by_key(|(c, s)| {
            (
                Reverse(s.fixed as i64 - s.broken as i64),
                s.broken,
                Reverse(c.size()),
                c.changed_lines,
                c.representative,
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(line: &str) -> String {
        format!("--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n x = 0\n-y = 1\n+{line}\n")
    }

    fn cand(member: usize, patch: &str) -> Candidate {
        Candidate {
            member,
            patch: patch.to_string(),
        }
    }

    #[test]
    fn largest_cluster_wins_and_empty_patches_never_vote() {
        let cs = [
            cand(0, &diff("y = 2")),
            cand(1, ""),
            cand(2, &diff("y  =  2 ")),
            cand(3, &diff("y = 3")),
            cand(4, ""),
        ];
        let clusters = clusters(&cs);
        assert_eq!(clusters.len(), 2);
        assert_eq!(clusters[0].members, vec![0, 2]);
        assert_eq!(pick_majority(&clusters, &[]).unwrap().representative, 0);
    }

    #[test]
    fn ties_go_to_the_approved_then_to_the_smallest_patch() {
        let two_lines = "--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,3 @@\n x = 0\n-y = 1\n+y = 4\n+z = 4\n";
        let cs = [cand(0, two_lines), cand(1, &diff("y = 3"))];
        let clusters = clusters(&cs);
        assert_eq!(largest(&clusters).len(), 2);
        assert_eq!(pick_majority(&clusters, &[]).unwrap().representative, 1);
        assert_eq!(pick_majority(&clusters, &[0]).unwrap().representative, 0);
        assert_eq!(pick_majority(&clusters, &[7]).unwrap().representative, 1);
        assert!(pick_majority(&[], &[]).is_none());
    }

    #[test]
    fn scores_count_fixed_and_broken_and_rank_them() {
        use TestStatus::*;
        let base: BTreeMap<String, TestStatus> = [
            ("a".into(), Passed),
            ("b".into(), Failed),
            ("c".into(), Passed),
        ]
        .into();
        let with: BTreeMap<String, TestStatus> = [
            ("a".into(), Passed),
            ("b".into(), Passed),
            ("d".into(), Passed),
        ]
        .into();
        assert_eq!(
            score(&base, &with),
            SuiteScore {
                fixed: 2,
                broken: 1
            }
        );
        let cl = |rep: usize, size: usize| Cluster {
            members: (0..size).map(|i| rep + i).collect(),
            representative: rep,
            changed_lines: 2,
        };
        let s = |fixed, broken| Some(SuiteScore { fixed, broken });
        let scored = vec![(cl(0, 3), s(1, 1)), (cl(10, 1), s(1, 0)), (cl(20, 1), None)];
        assert_eq!(pick_tests(&scored).unwrap().0.representative, 10);
        let ties = vec![(cl(0, 1), s(0, 0)), (cl(10, 2), s(0, 0))];
        assert_eq!(pick_tests(&ties).unwrap().0.representative, 10);
        assert!(pick_tests(&[(cl(0, 1), None)]).is_none());
    }
}
