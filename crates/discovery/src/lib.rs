//! The tool-discovery benchmark (issue 7): tasks where an agent must find and use an
//! environment's own tools, repeated over campaigns to measure whether it gets faster.
//!
//! * [`load_suite`] reads task directories (`tasks/discovery/FORMAT.md`);
//! * [`Workdir`] is one episode's environment: `setup`, tools, `check`, and every service in
//!   `.pids` killed at the end (or on Ctrl-C through [`kill_all_services`]);
//! * [`DiscoveryTools`] is the agent's tool set (`list_tools`, `help`, `call`, `finish`, and
//!   optionally `bash` and memory), plugged into the same supervised loop, store and export as
//!   every other run;
//! * [`validate_suite`] proves each task and seed: the oracle passes, doing nothing fails;
//! * [`Bench`] runs campaigns and [`metrics`] turns their trajectories into the metric table.

mod episode;
pub mod metrics;
mod oracle;
mod run;
mod task;
mod tools;
mod validate;
mod workdir;

pub use episode::{CheckResult, InfraError, SCRIPT_TIMEOUT};
pub use oracle::{OracleGuide, needed_tools, parse_oracle, same_action};
pub use run::{Bench, BenchConfig, EpisodeReport, MemoryMode, PolicyChoice, SupervisorChoice};
pub use task::{LoadError, Script, TaskDef, ToolDef, load_suite};
pub use tools::{DiscoveryTools, ToolOptions, catalog, join_args, split_args};
pub use validate::{SeedValidation, validate_suite};
pub use workdir::{Workdir, kill_all_services};
