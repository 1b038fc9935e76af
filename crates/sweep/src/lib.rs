//! LoRA scale sweeps: does an adapter stay sane as its scale grows?
//!
//! One model load; the adapter is applied at run time, so the scale changes between
//! generations for free. At each scale the model answers held-out prompts (contexts from
//! stored trajectories the adapter did not train on, [`prompts`]) and the replies are scored
//! for degeneration ([`metrics`]); the reference replies give perplexity and KL to the base
//! model. Each scale is judged against scale 0 on the same prompts ([`judge`]), and the
//! highest scale that stays sound is named.

pub mod judge;
pub mod metrics;
pub mod output;
pub mod prompts;
mod run;

pub use judge::{ScaleRow, Thresholds, highest_sound_scale};
pub use output::SweepReport;
pub use prompts::Prompt;
pub use run::{SweepConfig, mark_degenerate, scale_list, sweep};

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// Bad input: a prompts file, an empty store, an unwritable output.
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Model(#[from] apprentice_embedded::EmbeddedError),
}
