//! LoRA training of the embedded llama model in Rust: SFT (masked, row-weighted) and DPO/IPO
//! (+RPO) on the rows `apprentice export sft|dpo` writes, saving PEFT-format adapters that
//! the embedded policy, PEFT and llama.cpp's converter load.
//!
//! Why not PyTorch: the agent loop runs on CPUs next to the sandboxes, and one static binary
//! that trains its own adapters keeps the loop self-contained.
//!
//! The pieces: [`loss`] (differentiable losses), [`model`] (a differentiable llama forward
//! with frozen dequantized weights and LoRA `Var`s), [`data`] (JSONL rows → token ids and loss
//! masks with the model's ChatML template), [`trainer`] (AdamW, schedule, accumulation,
//! checkpoints) and [`peft`] (adapter files).

mod attention;
mod checkpointing;
pub mod data;
mod error;
pub mod loss;
mod matmul;
pub mod model;
#[cfg(test)]
mod op_testing;
pub mod peft;
pub mod trainer;

pub use checkpointing::sequence_logp;
pub use data::{DpoExample, LoadLimits, Sequence, SftExample, load_dpo, load_sft};
pub use error::{Result, TrainError};
pub use loss::{DpoKind, DpoLossConfig, DpoRewards};
pub use model::{LoraConfig, Mode, TrainableLlama};
pub use peft::save_adapter;
pub use trainer::{
    DEFAULT_GRAPH_MEMORY, Schedule, StepLog, TrainConfig, TrainReport, train_dpo, train_sft,
};
