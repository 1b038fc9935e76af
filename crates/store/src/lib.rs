//! The record of everything that happened: runs, episode attempts, and each policy turn.
//!
//! Every step is committed as it happens (WAL mode), so a run killed at any moment leaves a
//! consistent database: finished episodes are whole, the interrupted attempt is marked as such
//! on resume, and a task is never finished twice in one run (a unique index enforces it).

mod loops;
mod summary;

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use apprentice_core::{EpisodeSummary, RecordError, Recorder, StepEvent, Usage};
use async_trait::async_trait;
use serde_json::Value;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use loops::{LoopRound, RoundOutcome};
pub use summary::{EpisodeDetail, FinalPatch, RunSummary, StepRow, StoredEpisode};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database `{db}`: {source}")]
    Open {
        db: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("{0}")]
    Usage(String),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Attempt states; see the `episodes.status` column.
pub mod status {
    pub const RUNNING: &str = "running";
    pub const FINISHED: &str = "finished";
    pub const AGENT_ERROR: &str = "agent_error";
    pub const INFRA_ERROR: &str = "infra_error";
    pub const INTERRUPTED: &str = "interrupted";
}

#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

/// How an attempt that reached verification ended.
#[derive(Debug, Clone)]
pub struct EpisodeOutcome<'a> {
    pub summary: &'a EpisodeSummary,
    pub grade: String,
    pub resolved: bool,
    pub report: Value,
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// Total length covered by possibly overlapping intervals.
fn union_length(
    mut spans: Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
) -> std::time::Duration {
    spans.sort();
    let mut total = chrono::Duration::zero();
    let mut current: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> = None;
    for (start, end) in spans {
        current = match current {
            Some((a, b)) if start <= b => Some((a, b.max(end))),
            Some((a, b)) => {
                total += b - a;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((a, b)) = current {
        total += b - a;
    }
    total.to_std().unwrap_or_default()
}

impl Store {
    /// Opens (creating if needed) a SQLite database by path or `sqlite:` URL.
    pub async fn open(db: &str) -> Result<Store, StoreError> {
        if db.starts_with("postgres://") || db.starts_with("postgresql://") {
            return Err(StoreError::Usage(
                "PostgreSQL stores are not supported yet; use a SQLite path".into(),
            ));
        }
        let open_err = |source| StoreError::Open {
            db: db.to_string(),
            source,
        };
        let options = SqliteConnectOptions::from_str(db)
            .or_else(|_| SqliteConnectOptions::from_str(&format!("sqlite://{db}")))
            .map_err(open_err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(open_err)?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Store { pool })
    }

    pub async fn create_run(&self, id: &str, config: &Value) -> Result<(), StoreError> {
        let exists = sqlx::query("SELECT 1 FROM runs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        if exists.is_some() {
            return Err(StoreError::Usage(format!(
                "run `{id}` already exists; use --resume {id} to continue it"
            )));
        }
        sqlx::query(
            "INSERT INTO runs (id, created_at, config, status) VALUES ($1, $2, $3, 'running')",
        )
        .bind(id)
        .bind(now())
        .bind(config.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The configuration a run was started with, to resume it the same way.
    pub async fn run_config(&self, id: &str) -> Result<Value, StoreError> {
        let row = sqlx::query("SELECT config FROM runs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let text: String = row
            .ok_or_else(|| StoreError::Usage(format!("no run `{id}` in this database")))?
            .try_get("config")?;
        serde_json::from_str(&text)
            .map_err(|e| StoreError::Usage(format!("run `{id}` has an unreadable config: {e}")))
    }

    pub async fn set_run_status(&self, id: &str, status: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET status = $1 WHERE id = $2")
            .bind(status)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The most recently created run.
    pub async fn latest_run(&self) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get("id")))
    }

    /// Dollars spent by every step of every attempt of the run so far (attempts in flight and
    /// attempts lost to infrastructure included), policy and supervisor.
    pub async fn run_cost(&self, run_id: &str) -> Result<f64, StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(s.policy_cost_usd + s.supervisor_cost_usd), 0.0) AS cost
             FROM steps s JOIN episodes e ON s.episode_id = e.id WHERE e.run_id = $1",
        )
        .bind(run_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("cost")?)
    }

    /// Wall time this run has already been at work, over all its sessions: the union of its
    /// attempts' intervals, so parallel workers are not counted twice and the time between a
    /// crash and its `--resume` is not counted at all (an interrupted attempt ends at its last
    /// recorded step).
    pub async fn run_elapsed(&self, run_id: &str) -> Result<std::time::Duration, StoreError> {
        let rows = sqlx::query(
            "SELECT e.started_at AS started,
                    CASE WHEN e.status = 'interrupted'
                         THEN COALESCE((SELECT MAX(s.created_at) FROM steps s WHERE s.episode_id = e.id), e.started_at)
                         ELSE COALESCE(e.finished_at, e.started_at) END AS ended
             FROM episodes e WHERE e.run_id = $1",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        let mut spans = Vec::with_capacity(rows.len());
        for row in rows {
            let started: String = row.try_get("started")?;
            let ended: String = row.try_get("ended")?;
            if let (Some(a), Some(b)) = (parse_time(&started), parse_time(&ended)) {
                spans.push((a, b.max(a)));
            }
        }
        Ok(union_length(spans))
    }

    /// Marks attempts left `running` by a crash as `interrupted`. Returns how many.
    pub async fn interrupt_running(&self, run_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("UPDATE episodes SET status = 'interrupted', finished_at = $1 WHERE run_id = $2 AND status = 'running'")
            .bind(now())
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Tasks whose episode in this run is final (graded, or failed through the agent's fault).
    pub async fn final_tasks(&self, run_id: &str) -> Result<HashSet<String>, StoreError> {
        let rows = sqlx::query("SELECT task_id FROM episodes WHERE run_id = $1 AND status IN ('finished', 'agent_error')")
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|r| r.get("task_id")).collect())
    }

    /// Opens a new attempt of `task_id`; attempts are numbered from 1.
    pub async fn start_episode(&self, run_id: &str, task_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO episodes (run_id, task_id, attempt, status, started_at)
             VALUES ($1, $2, (SELECT COALESCE(MAX(attempt), 0) + 1 FROM episodes WHERE run_id = $1 AND task_id = $2), 'running', $3)
             RETURNING id",
        )
        .bind(run_id)
        .bind(task_id)
        .bind(now())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.get("id"))
    }

    pub fn recorder(&self, episode_id: i64) -> StepRecorder {
        StepRecorder {
            pool: self.pool.clone(),
            episode_id,
        }
    }

    /// Closes an attempt that ran to the end and was graded.
    pub async fn finish_episode(
        &self,
        episode_id: i64,
        outcome: &EpisodeOutcome<'_>,
    ) -> Result<(), StoreError> {
        let s = outcome.summary;
        sqlx::query(
            "UPDATE episodes SET status = 'finished', end_reason = $1, resolved = $2, grade = $3, patch = $4, report = $5,
                 steps = $6, proposals = $7, interventions = $8, format_errors = $9,
                 policy_input_tokens = $10, policy_output_tokens = $11, policy_cost_usd = $12,
                 supervisor_input_tokens = $13, supervisor_output_tokens = $14, supervisor_cost_usd = $15, finished_at = $16
             WHERE id = $17",
        )
        .bind(s.end.as_str())
        .bind(outcome.resolved)
        .bind(&outcome.grade)
        .bind(&s.patch)
        .bind(outcome.report.to_string())
        .bind(s.steps as i64)
        .bind(s.proposals as i64)
        .bind(s.interventions as i64)
        .bind(s.format_errors as i64)
        .bind(s.policy_usage.input_tokens as i64)
        .bind(s.policy_usage.output_tokens as i64)
        .bind(s.policy_usage.cost_usd)
        .bind(s.supervisor_usage.input_tokens as i64)
        .bind(s.supervisor_usage.output_tokens as i64)
        .bind(s.supervisor_usage.cost_usd)
        .bind(now())
        .bind(episode_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Closes an attempt that could not finish; `status` says whose fault it was.
    pub async fn fail_episode(
        &self,
        episode_id: i64,
        status: &str,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE episodes SET status = $1, error = $2, finished_at = $3 WHERE id = $4")
            .bind(status)
            .bind(error)
            .bind(now())
            .bind(episode_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// Writes one episode's steps, each in its own transaction.
#[derive(Debug, Clone)]
pub struct StepRecorder {
    pool: SqlitePool,
    episode_id: i64,
}

fn json<T: serde::Serialize>(value: &Option<T>) -> Option<String> {
    value.as_ref().and_then(|v| serde_json::to_string(v).ok())
}

#[async_trait]
impl Recorder for StepRecorder {
    async fn start(&mut self, messages: &[apprentice_core::Message]) -> Result<(), RecordError> {
        let text = serde_json::to_string(messages).map_err(|e| RecordError(e.to_string()))?;
        sqlx::query("UPDATE episodes SET messages = $1 WHERE id = $2")
            .bind(text)
            .bind(self.episode_id)
            .execute(&self.pool)
            .await
            .map_err(|e| RecordError(e.to_string()))?;
        Ok(())
    }

    async fn record(&mut self, step: &StepEvent) -> Result<(), RecordError> {
        let supervisor = step.verdict.as_ref().map(|v| v.usage).unwrap_or_default();
        let policy: Usage = step.policy_usage;
        sqlx::query(
            "INSERT INTO steps (episode_id, idx, proposal_text, proposal, format_error, verdict, verdict_detail, executed,
                 observation, exit_code, policy_input_tokens, policy_output_tokens, policy_cost_usd,
                 supervisor_input_tokens, supervisor_output_tokens, supervisor_cost_usd,
                 policy_ms, supervisor_ms, exec_ms, created_at, tool_output)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
        )
        .bind(self.episode_id)
        .bind(step.index as i64)
        .bind(&step.proposal_text)
        .bind(json(&step.proposal))
        .bind(&step.format_error)
        .bind(step.verdict.as_ref().map(|v| v.verdict.kind()))
        .bind(json(&step.verdict))
        .bind(json(&step.executed))
        .bind(&step.observation)
        .bind(step.exit_code)
        .bind(policy.input_tokens as i64)
        .bind(policy.output_tokens as i64)
        .bind(policy.cost_usd)
        .bind(supervisor.input_tokens as i64)
        .bind(supervisor.output_tokens as i64)
        .bind(supervisor.cost_usd)
        .bind(step.policy_millis as i64)
        .bind(step.verdict.as_ref().map_or(0, |v| v.millis as i64))
        .bind(step.exec_millis as i64)
        .bind(now())
        .bind(&step.tool_output)
        .execute(&self.pool)
        .await
        .map_err(|e| RecordError(e.to_string()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
        parse_time(text).expect("a valid timestamp")
    }

    #[test]
    fn overlapping_attempts_count_once_and_gaps_not_at_all() {
        let spans = vec![
            (at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:10Z")),
            (at("2026-01-01T00:00:05Z"), at("2026-01-01T00:00:20Z")),
            // a crash, then a resume an hour later
            (at("2026-01-01T01:00:00Z"), at("2026-01-01T01:00:30Z")),
        ];
        assert_eq!(union_length(spans), std::time::Duration::from_secs(50));
        assert_eq!(union_length(Vec::new()), std::time::Duration::ZERO);
    }

    #[tokio::test]
    async fn run_elapsed_spans_sessions_of_a_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("runs.db");
        let store = Store::open(&db.display().to_string()).await.expect("store");
        store
            .create_run("r", &serde_json::json!({}))
            .await
            .expect("run");
        let first = store.start_episode("r", "t1").await.expect("episode");
        store
            .fail_episode(first, "infra_error", "boom")
            .await
            .expect("fail");
        store.start_episode("r", "t2").await.expect("episode");
        store.interrupt_running("r").await.expect("interrupt");
        let elapsed = store.run_elapsed("r").await.expect("elapsed");
        assert!(elapsed < std::time::Duration::from_secs(5), "{elapsed:?}");
        assert_eq!(
            store.run_elapsed("other").await.expect("empty"),
            std::time::Duration::ZERO
        );
    }
}
