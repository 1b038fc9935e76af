//! Read-side views: run summaries, episode details and steps, shaped as the CLI prints them.

use serde::Serialize;
use sqlx::Row;

use crate::{Store, StoreError};

/// One final episode of a run, as `show` and `run --json` report it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EpisodeDetail {
    pub episode: i64,
    pub task: String,
    pub attempt: i64,
    pub status: String,
    pub end_reason: Option<String>,
    pub resolved: bool,
    pub grade: Option<String>,
    pub steps: i64,
    pub proposals: i64,
    pub interventions: i64,
    pub format_errors: i64,
    pub cost_usd: f64,
    pub error: Option<String>,
}

/// A run in numbers. Rates are over final episodes; attempts lost to infrastructure failures
/// are counted apart and never as unresolved.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunSummary {
    pub run: String,
    pub status: String,
    pub created_at: String,
    pub episodes: usize,
    pub resolved: usize,
    pub resolve_rate: f64,
    pub proposals: i64,
    pub interventions: i64,
    pub intervention_rate: f64,
    pub format_errors: i64,
    pub steps: i64,
    pub cost_usd: f64,
    pub policy_cost_usd: f64,
    pub supervisor_cost_usd: f64,
    pub infra_errors: usize,
    pub interrupted_attempts: usize,
    pub config: serde_json::Value,
    pub episodes_detail: Vec<EpisodeDetail>,
}

/// One stored policy turn.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StepRow {
    pub index: i64,
    pub proposal_text: String,
    pub format_error: Option<String>,
    pub verdict: Option<String>,
    pub verdict_detail: Option<serde_json::Value>,
    pub executed: Option<serde_json::Value>,
    pub observation: String,
    pub exit_code: Option<i64>,
    pub tool_output: Option<String>,
}

/// A final, graded episode with everything an export needs to rebuild its views.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StoredEpisode {
    pub episode: i64,
    pub run: String,
    pub task: String,
    pub resolved: bool,
    pub grade: Option<String>,
    pub report: serde_json::Value,
    /// The conversation the episode started from (system prompt and task).
    pub messages: Vec<apprentice_core::Message>,
    pub steps: Vec<StepRow>,
}

fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}

impl Store {
    /// Summaries of every run, newest first.
    pub async fn runs(&self) -> Result<Vec<RunSummary>, StoreError> {
        let ids = sqlx::query("SELECT id FROM runs ORDER BY created_at DESC, rowid DESC")
            .fetch_all(self.pool())
            .await?;
        let mut out = Vec::new();
        for row in ids {
            out.push(self.run_summary(row.get("id")).await?);
        }
        Ok(out)
    }

    pub async fn run_summary(&self, run_id: &str) -> Result<RunSummary, StoreError> {
        let run = sqlx::query("SELECT status, created_at, config FROM runs WHERE id = $1")
            .bind(run_id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::Usage(format!("no run `{run_id}` in this database")))?;
        let detail = self.final_episodes(run_id).await?;
        let counts = sqlx::query(
            "SELECT SUM(status = 'interrupted') AS interrupted,
                    COUNT(DISTINCT CASE WHEN status = 'infra_error' THEN task_id END) AS infra
             FROM episodes WHERE run_id = $1",
        )
        .bind(run_id)
        .fetch_one(self.pool())
        .await?;
        let finals: std::collections::HashSet<&str> =
            detail.iter().map(|e| e.task.as_str()).collect();
        let infra_tasks = sqlx::query(
            "SELECT DISTINCT task_id FROM episodes WHERE run_id = $1 AND status = 'infra_error'",
        )
        .bind(run_id)
        .fetch_all(self.pool())
        .await?
        .into_iter()
        .filter(|r| !finals.contains(r.get::<String, _>("task_id").as_str()))
        .count();
        let _ = counts.try_get::<i64, _>("infra");
        let costs = sqlx::query(
            "SELECT COALESCE(SUM(policy_cost_usd), 0) AS p, COALESCE(SUM(supervisor_cost_usd), 0) AS s FROM episodes WHERE run_id = $1",
        )
        .bind(run_id)
        .fetch_one(self.pool())
        .await?;
        let resolved = detail.iter().filter(|e| e.resolved).count();
        let proposals: i64 = detail.iter().map(|e| e.proposals).sum();
        let interventions: i64 = detail.iter().map(|e| e.interventions).sum();
        let (policy_cost, supervisor_cost): (f64, f64) = (costs.get("p"), costs.get("s"));
        let config_text: String = run.get("config");
        Ok(RunSummary {
            run: run_id.to_string(),
            status: run.get("status"),
            created_at: run.get("created_at"),
            episodes: detail.len(),
            resolved,
            resolve_rate: ratio(resolved as f64, detail.len() as f64),
            proposals,
            interventions,
            intervention_rate: ratio(interventions as f64, proposals as f64),
            format_errors: detail.iter().map(|e| e.format_errors).sum(),
            steps: detail.iter().map(|e| e.steps).sum(),
            cost_usd: policy_cost + supervisor_cost,
            policy_cost_usd: policy_cost,
            supervisor_cost_usd: supervisor_cost,
            infra_errors: infra_tasks,
            interrupted_attempts: counts
                .try_get::<Option<i64>, _>("interrupted")?
                .unwrap_or(0) as usize,
            config: serde_json::from_str(&config_text).unwrap_or(serde_json::Value::Null),
            episodes_detail: detail,
        })
    }

    async fn final_episodes(&self, run_id: &str) -> Result<Vec<EpisodeDetail>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, task_id, attempt, status, end_reason, resolved, grade, steps, proposals, interventions, format_errors,
                    policy_cost_usd + supervisor_cost_usd AS cost, error
             FROM episodes WHERE run_id = $1 AND status IN ('finished', 'agent_error') ORDER BY id",
        )
        .bind(run_id)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(EpisodeDetail {
                    episode: r.try_get("id")?,
                    task: r.try_get("task_id")?,
                    attempt: r.try_get("attempt")?,
                    status: r.try_get("status")?,
                    end_reason: r.try_get("end_reason")?,
                    resolved: r.try_get::<Option<bool>, _>("resolved")?.unwrap_or(false),
                    grade: r.try_get("grade")?,
                    steps: r.try_get("steps")?,
                    proposals: r.try_get("proposals")?,
                    interventions: r.try_get("interventions")?,
                    format_errors: r.try_get("format_errors")?,
                    cost_usd: r.try_get("cost")?,
                    error: r.try_get("error")?,
                })
            })
            .collect()
    }

    /// The stored steps of an episode, in order.
    pub async fn steps(&self, episode_id: i64) -> Result<Vec<StepRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT idx, proposal_text, format_error, verdict, verdict_detail, executed, observation, exit_code, tool_output
             FROM steps WHERE episode_id = $1 ORDER BY idx",
        )
        .bind(episode_id)
        .fetch_all(self.pool())
        .await?;
        let parse = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
        rows.into_iter()
            .map(|r| {
                Ok(StepRow {
                    index: r.try_get("idx")?,
                    proposal_text: r.try_get("proposal_text")?,
                    format_error: r.try_get("format_error")?,
                    verdict: r.try_get("verdict")?,
                    verdict_detail: parse(r.try_get("verdict_detail")?),
                    executed: parse(r.try_get("executed")?),
                    observation: r.try_get("observation")?,
                    exit_code: r.try_get("exit_code")?,
                    tool_output: r.try_get("tool_output")?,
                })
            })
            .collect()
    }

    /// Every graded episode of `runs`, oldest first, with its steps.
    pub async fn graded_episodes(&self, runs: &[String]) -> Result<Vec<StoredEpisode>, StoreError> {
        let mut out = Vec::new();
        for run in runs {
            self.run_summary(run).await?;
            let rows = sqlx::query(
                "SELECT id, task_id, resolved, grade, report, messages FROM episodes
                 WHERE run_id = $1 AND status = 'finished' ORDER BY id",
            )
            .bind(run)
            .fetch_all(self.pool())
            .await?;
            for r in rows {
                let id: i64 = r.try_get("id")?;
                let report: Option<String> = r.try_get("report")?;
                let messages: Option<String> = r.try_get("messages")?;
                out.push(StoredEpisode {
                    episode: id,
                    run: run.clone(),
                    task: r.try_get("task_id")?,
                    resolved: r.try_get::<Option<bool>, _>("resolved")?.unwrap_or(false),
                    grade: r.try_get("grade")?,
                    report: report
                        .and_then(|t| serde_json::from_str(&t).ok())
                        .unwrap_or_default(),
                    messages: messages
                        .and_then(|t| serde_json::from_str(&t).ok())
                        .unwrap_or_default(),
                    steps: self.steps(id).await?,
                });
            }
        }
        Ok(out)
    }

    /// The episode's task, run, grade report and patch, for `show --episode`.
    pub async fn episode(
        &self,
        episode_id: i64,
    ) -> Result<(EpisodeDetail, Option<String>, serde_json::Value), StoreError> {
        let row = sqlx::query(
            "SELECT id, run_id, task_id, attempt, status, end_reason, resolved, grade, steps, proposals, interventions,
                    format_errors, policy_cost_usd + supervisor_cost_usd AS cost, error, patch, report
             FROM episodes WHERE id = $1",
        )
        .bind(episode_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::Usage(format!("no episode {episode_id} in this database")))?;
        let detail = EpisodeDetail {
            episode: row.try_get("id")?,
            task: row.try_get("task_id")?,
            attempt: row.try_get("attempt")?,
            status: row.try_get("status")?,
            end_reason: row.try_get("end_reason")?,
            resolved: row.try_get::<Option<bool>, _>("resolved")?.unwrap_or(false),
            grade: row.try_get("grade")?,
            steps: row.try_get("steps")?,
            proposals: row.try_get("proposals")?,
            interventions: row.try_get("interventions")?,
            format_errors: row.try_get("format_errors")?,
            cost_usd: row.try_get("cost")?,
            error: row.try_get("error")?,
        };
        let report: Option<String> = row.try_get("report")?;
        let report = report
            .and_then(|r| serde_json::from_str(&r).ok())
            .unwrap_or(serde_json::Value::Null);
        Ok((detail, row.try_get("patch")?, report))
    }
}

/// What one final episode produced: the patch it submitted, its grade and what it cost. The
/// ensemble reads these to choose among its members' patches.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FinalPatch {
    pub task: String,
    pub patch: String,
    pub resolved: bool,
    pub cost_usd: f64,
}

impl Store {
    /// The final episode of each task of a run, oldest first; an episode that failed through the
    /// agent's fault has an empty patch.
    pub async fn final_patches(&self, run_id: &str) -> Result<Vec<FinalPatch>, StoreError> {
        let rows = sqlx::query(
            "SELECT task_id, COALESCE(patch, '') AS patch, COALESCE(resolved, 0) AS resolved,
                    policy_cost_usd + supervisor_cost_usd AS cost
             FROM episodes WHERE run_id = $1 AND status IN ('finished', 'agent_error') ORDER BY id",
        )
        .bind(run_id)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(FinalPatch {
                    task: r.try_get("task_id")?,
                    patch: r.try_get("patch")?,
                    resolved: r.try_get("resolved")?,
                    cost_usd: r.try_get("cost")?,
                })
            })
            .collect()
    }
}
