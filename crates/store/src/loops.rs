//! The skill-acquisition loop's own records: a loop and its rounds. A round's attempts are
//! ordinary runs; these rows name them and keep what the round measured and trained.

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use crate::{Store, StoreError, now};

/// One stored round of a loop.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LoopRound {
    pub round: i64,
    pub policy: String,
    pub train_run: String,
    pub held_out_run: String,
    pub status: String,
    pub train: Option<Value>,
    pub held_out: Option<Value>,
    pub adapter: Option<String>,
    pub sft_rows: i64,
    pub dpo_pairs: i64,
    pub sft_loss: Option<f64>,
    pub dpo_loss: Option<f64>,
    pub training: Option<Value>,
    pub wall_seconds: Option<f64>,
}

/// What a finished round records.
#[derive(Debug, Clone)]
pub struct RoundOutcome<'a> {
    pub train: &'a Value,
    pub held_out: &'a Value,
    pub adapter: Option<&'a str>,
    pub sft_rows: i64,
    pub dpo_pairs: i64,
    pub sft_loss: Option<f64>,
    pub dpo_loss: Option<f64>,
    pub training: &'a Value,
    pub wall_seconds: f64,
}

fn parse_json(text: Option<String>) -> Option<Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

impl Store {
    pub async fn create_loop(&self, id: &str, config: &Value) -> Result<(), StoreError> {
        let exists = sqlx::query("SELECT 1 FROM loops WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        if exists.is_some() {
            return Err(StoreError::Usage(format!(
                "loop `{id}` already exists; use --resume {id} to continue it"
            )));
        }
        sqlx::query(
            "INSERT INTO loops (id, created_at, config, status) VALUES ($1, $2, $3, 'running')",
        )
        .bind(id)
        .bind(now())
        .bind(config.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The configuration a loop was started with, to resume it the same way.
    pub async fn loop_config(&self, id: &str) -> Result<Value, StoreError> {
        let row = sqlx::query("SELECT config FROM loops WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::Usage(format!("no loop `{id}` in this database")))?;
        serde_json::from_str(&row.try_get::<String, _>("config")?)
            .map_err(|e| StoreError::Usage(format!("loop `{id}` has an unreadable config: {e}")))
    }

    pub async fn set_loop_status(&self, id: &str, status: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE loops SET status = $1 WHERE id = $2")
            .bind(status)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Whether a run of this id exists (a resumed round reuses its runs).
    pub async fn run_exists(&self, id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM runs WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.is_some())
    }

    /// Opens a round; a round already open (a resumed loop) is left as it is.
    pub async fn start_round(
        &self,
        loop_id: &str,
        round: i64,
        policy: &str,
        train_run: &str,
        held_out_run: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO loop_rounds (loop_id, round, policy, train_run, held_out_run, status, started_at)
             VALUES ($1, $2, $3, $4, $5, 'running', $6) ON CONFLICT (loop_id, round) DO NOTHING",
        )
        .bind(loop_id)
        .bind(round)
        .bind(policy)
        .bind(train_run)
        .bind(held_out_run)
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn finish_round(
        &self,
        loop_id: &str,
        round: i64,
        outcome: &RoundOutcome<'_>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE loop_rounds SET status = 'finished', train_metrics = $1, held_out_metrics = $2, adapter = $3,
                 sft_rows = $4, dpo_pairs = $5, sft_loss = $6, dpo_loss = $7, training = $8, wall_seconds = $9,
                 finished_at = $10
             WHERE loop_id = $11 AND round = $12",
        )
        .bind(outcome.train.to_string())
        .bind(outcome.held_out.to_string())
        .bind(outcome.adapter)
        .bind(outcome.sft_rows)
        .bind(outcome.dpo_pairs)
        .bind(outcome.sft_loss)
        .bind(outcome.dpo_loss)
        .bind(outcome.training.to_string())
        .bind(outcome.wall_seconds)
        .bind(now())
        .bind(loop_id)
        .bind(round)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The loop's rounds so far, in order (finished and open).
    pub async fn loop_rounds(&self, loop_id: &str) -> Result<Vec<LoopRound>, StoreError> {
        let rows = sqlx::query(
            "SELECT round, policy, train_run, held_out_run, status, train_metrics, held_out_metrics, adapter,
                    sft_rows, dpo_pairs, sft_loss, dpo_loss, training, wall_seconds
             FROM loop_rounds WHERE loop_id = $1 ORDER BY round",
        )
        .bind(loop_id)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(LoopRound {
                    round: r.try_get("round")?,
                    policy: r.try_get("policy")?,
                    train_run: r.try_get("train_run")?,
                    held_out_run: r.try_get("held_out_run")?,
                    status: r.try_get("status")?,
                    train: parse_json(r.try_get("train_metrics")?),
                    held_out: parse_json(r.try_get("held_out_metrics")?),
                    adapter: r.try_get("adapter")?,
                    sft_rows: r.try_get("sft_rows")?,
                    dpo_pairs: r.try_get("dpo_pairs")?,
                    sft_loss: r.try_get("sft_loss")?,
                    dpo_loss: r.try_get("dpo_loss")?,
                    training: parse_json(r.try_get("training")?),
                    wall_seconds: r.try_get("wall_seconds")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn rounds_open_once_and_keep_what_they_finished_with() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s.db").to_str().unwrap())
            .await
            .unwrap();
        store.create_loop("l", &json!({"rounds": 2})).await.unwrap();
        assert!(store.create_loop("l", &json!({})).await.is_err());
        assert_eq!(store.loop_config("l").await.unwrap()["rounds"], 2);
        store
            .start_round("l", 1, "p", "l-r1-train", "l-r1-heldout")
            .await
            .unwrap();
        store.start_round("l", 1, "other", "x", "y").await.unwrap();
        let open = store.loop_rounds("l").await.unwrap();
        assert_eq!((open.len(), open[0].policy.as_str()), (1, "p"));
        assert_eq!(open[0].status, "running");
        let metrics = json!({"resolve_rate": 0.5});
        let outcome = RoundOutcome {
            train: &metrics,
            held_out: &metrics,
            adapter: Some("a"),
            sft_rows: 3,
            dpo_pairs: 4,
            sft_loss: Some(1.5),
            dpo_loss: None,
            training: &json!({}),
            wall_seconds: 2.0,
        };
        store.finish_round("l", 1, &outcome).await.unwrap();
        let done = &store.loop_rounds("l").await.unwrap()[0];
        assert_eq!(done.status, "finished");
        assert_eq!(done.train, Some(metrics));
        assert_eq!((done.sft_rows, done.dpo_pairs), (3, 4));
        assert_eq!((done.sft_loss, done.dpo_loss), (Some(1.5), None));
        assert_eq!(done.adapter.as_deref(), Some("a"));
        assert!(!store.run_exists("l-r1-train").await.unwrap());
    }
}
