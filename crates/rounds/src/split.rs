//! Which tasks the loop trains on and which it only measures.
//!
//! The split is the dataset crate's per-task hash ([`apprentice_dataset::is_held_out`]), so
//! `apprentice export --holdout F --seed S` holds out exactly the tasks a loop with
//! `--held-out F --seed S` does, and a task's side never changes between rounds or resumes.

use apprentice_core::Task;

use crate::LoopError;

#[derive(Debug, Clone)]
pub struct Split {
    pub train: Vec<Task>,
    pub held_out: Vec<Task>,
}

impl Split {
    pub fn train_ids(&self) -> Vec<String> {
        ids(&self.train)
    }

    pub fn held_out_ids(&self) -> Vec<String> {
        ids(&self.held_out)
    }
}

fn ids(tasks: &[Task]) -> Vec<String> {
    tasks.iter().map(|t| t.instance_id.clone()).collect()
}

/// Splits by task; both sides must be non-empty, or the loop would train on nothing or measure
/// nothing.
pub fn split_tasks(tasks: Vec<Task>, fraction: f64, seed: u64) -> Result<Split, LoopError> {
    let total = tasks.len();
    let (held_out, train): (Vec<Task>, Vec<Task>) = tasks
        .into_iter()
        .partition(|t| apprentice_dataset::is_held_out(&t.instance_id, fraction, seed));
    if train.is_empty() || held_out.is_empty() {
        return Err(LoopError::Input(format!(
            "--held-out {fraction} with --seed {seed} holds out {} of {total} task(s); both sides need at least one (change --held-out, --seed or the task selection)",
            held_out.len()
        )));
    }
    Ok(Split { train, held_out })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str) -> Task {
        let blank = String::new;
        Task {
            instance_id: id.into(),
            repo: blank(),
            base_commit: blank(),
            patch: blank(),
            test_patch: blank(),
            problem_statement: blank(),
            hints_text: blank(),
            created_at: blank(),
            version: blank(),
            fail_to_pass: Vec::new(),
            pass_to_pass: Vec::new(),
            environment_setup_commit: blank(),
            test_cmd: blank(),
            source: None,
        }
    }

    fn tasks(n: usize) -> Vec<Task> {
        (0..n).map(|i| task(&format!("t{i}"))).collect()
    }

    #[test]
    fn split_is_by_task_deterministic_and_matches_the_export_split() {
        let a = split_tasks(tasks(40), 0.3, 7).unwrap();
        let b = split_tasks(tasks(40), 0.3, 7).unwrap();
        assert_eq!(a.held_out_ids(), b.held_out_ids());
        assert_eq!(a.train.len() + a.held_out.len(), 40);
        for t in &a.held_out {
            assert!(apprentice_dataset::is_held_out(&t.instance_id, 0.3, 7));
        }
        for t in &a.train {
            assert!(!apprentice_dataset::is_held_out(&t.instance_id, 0.3, 7));
        }
        assert!((4..=20).contains(&a.held_out.len()), "{}", a.held_out.len());
        let other_seed = split_tasks(tasks(40), 0.3, 8).unwrap();
        assert_ne!(a.held_out_ids(), other_seed.held_out_ids());
    }

    #[test]
    fn an_empty_side_is_an_input_error() {
        let err = split_tasks(tasks(1), 0.3, 0).unwrap_err();
        assert!(matches!(err, LoopError::Input(_)));
        assert!(err.to_string().contains("both sides"), "{err}");
    }
}
