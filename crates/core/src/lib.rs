//! The supervised agent loop and the vocabulary around it.
//!
//! A policy proposes an action as text; the text is parsed into a tool call (format errors are
//! answered here, before any supervisor is paid to look); a supervisor may approve, reject,
//! revise or hint; the executed action runs in a sandbox; every event is handed to a recorder
//! as it happens. Backends (models, sandboxes, stores, verifiers) are traits, chosen elsewhere.

mod agent;
mod model;
mod prompt;
mod record;
mod stuck;
mod supervision;
mod task;

pub use agent::{AgentConfig, Episode, EpisodeEnd, EpisodeSummary, run_episode};
pub use model::{Completion, Message, ModelError, Policy, Role, Usage};
pub use prompt::{Transcript, tool_response};
pub use record::{RecordError, Recorder, StepEvent, VerdictRecord};
pub use supervision::{Judgement, Review, SupervisionMode, Supervisor, Trigger, Verdict};
pub use task::Task;
