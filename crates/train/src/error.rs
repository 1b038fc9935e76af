//! Errors of the trainer.
//!
//! Input problems (a dataset line that is not a row, a row with nothing to train) name the
//! file and the 1-based line, because the person fixing them opens that file in an editor.

use std::path::PathBuf;

/// Everything that can go wrong while preparing data, training or saving an adapter.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A tensor operation failed (shape mismatch, backward not supported, ...).
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
    /// The embedded model could not be loaded, tokenised or rendered.
    #[error(transparent)]
    Embedded(#[from] apprentice_embedded::EmbeddedError),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A dataset line is not a valid row.
    #[error("{path}:{line}: {detail}")]
    Malformed {
        /// The dataset file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        detail: String,
    },
    /// The dataset has no usable rows.
    #[error("{path}: {detail}")]
    EmptyDataset {
        /// The dataset file.
        path: PathBuf,
        /// Why nothing is left (empty file, every row skipped, ...).
        detail: String,
    },
    /// A configuration value is out of range.
    #[error("invalid training configuration: {0}")]
    Config(String),
    /// The loss became NaN or infinite; the last good checkpoint is kept.
    #[error("loss is {loss} at step {step}; training stopped{}", checkpoint.as_ref().map(|p| format!(", last good checkpoint: {}", p.display())).unwrap_or_default())]
    NonFiniteLoss {
        /// Optimizer step (1-based) at which it happened.
        step: usize,
        /// The offending value.
        loss: f32,
        /// The last checkpoint written before it, if any.
        checkpoint: Option<PathBuf>,
    },
    /// The gradient norm became NaN or infinite (with a finite loss); the step was not
    /// applied and the last good checkpoint is kept.
    #[error("gradient norm is {norm} at step {step}; training stopped{}", checkpoint.as_ref().map(|p| format!(", last good checkpoint: {}", p.display())).unwrap_or_default())]
    NonFiniteGradient {
        /// Optimizer step (1-based) at which it happened.
        step: usize,
        /// The offending norm.
        norm: f64,
        /// The last checkpoint written before it, if any.
        checkpoint: Option<PathBuf>,
    },
    /// An adapter about to be saved holds NaN or infinite values; nothing was written.
    #[error("{}: not saved, tensor {tensor} holds NaN or infinite values", dir.display())]
    NonFiniteAdapter {
        /// Where it would have gone.
        dir: PathBuf,
        /// The first offending tensor.
        tensor: String,
    },
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result with [`TrainError`].
pub type Result<T, E = TrainError> = std::result::Result<T, E>;
