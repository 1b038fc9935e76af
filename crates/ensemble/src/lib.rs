//! Ensembles: several policies work the same tasks and one patch per task is chosen.
//!
//! Each member is an ordinary stored run (`apprentice show` lists it). Per task, three
//! strategies choose among the members' patches:
//! - `union`: resolved when any member resolved. It needs the grader to choose, so it is the
//!   oracle upper bound of the ensemble, reported as such and never as a deployable result;
//! - `majority`: patches are normalised ([`patch_key`]: whitespace, hunk order and context
//!   lines do not matter, test files are left out) and clustered; the largest cluster wins,
//!   ties go to the patch the supervisor approves (when the ensemble has one), then to the
//!   fewest changed lines;
//! - `tests`: each distinct candidate runs against the repository's visible tests plus the
//!   test files the agents wrote ([`suite`]); the most fixed minus broken wins. The task's
//!   hidden tests are never run here: that module only sees a [`VisibleTask`].
//!
//! The chosen patches are then graded by the real grader, the task's hidden tests.

mod normalize;
mod report;
mod run;
mod select;
pub mod suite;
mod tiebreak;

pub use normalize::{changed_source_lines, patch_key};
pub use report::{
    Choice, EnsembleReport, MemberReport, MemberRun, StrategyReport, TaskReport, build,
};
pub use run::{Ensemble, EnsembleError, Member, STRATEGIES};
pub use select::{
    Candidate, Cluster, SuiteScore, clusters, largest, pick_majority, pick_tests, score,
};
pub use suite::VisibleTask;
pub use tiebreak::approved_by_supervisor;
