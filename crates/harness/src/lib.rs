//! Runs a set of tasks end to end: sandbox, supervised episode, verification, storage.
//!
//! Attempts that fail for infrastructure reasons (a model server down, a rate limit, a sandbox
//! that would not start) are stored as such and retried; they never count as the agent's
//! failure. A resumed run skips tasks that already have a final episode.

mod grade;
mod run;

pub use grade::{Validation, grade_patch, test_recipe, validate_task};
pub use run::{EpisodeReport, Harness, RunConfig, SKIPPED};
