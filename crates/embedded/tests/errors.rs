//! Bad input must fail with an error that names the file and the problem, never a panic.

mod common;

use apprentice_embedded::testing::TinyLlamaSpec;
use apprentice_embedded::{EmbeddedError, EmbeddedModel};
use std::path::Path;

fn load_err(path: &Path) -> EmbeddedError {
    EmbeddedModel::load(path).expect_err("loading should fail")
}

#[test]
fn missing_file() {
    let err = load_err(Path::new("/nonexistent/dir/model.gguf"));
    assert!(matches!(err, EmbeddedError::MissingFile { .. }), "{err}");
    assert!(
        err.to_string().contains("/nonexistent/dir/model.gguf"),
        "{err}"
    );
}

#[test]
fn non_gguf_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.gguf");
    std::fs::write(&path, b"PK\x03\x04 this is a zip, not a model").unwrap();
    let err = load_err(&path);
    assert!(matches!(err, EmbeddedError::NotGguf { .. }), "{err}");
    assert!(err.to_string().contains("model.gguf"), "{err}");
}

#[test]
fn empty_file_is_not_gguf() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.gguf");
    std::fs::write(&path, b"").unwrap();
    assert!(matches!(load_err(&path), EmbeddedError::NotGguf { .. }));
}

#[test]
fn truncated_in_tensor_data() {
    let (_dir, path) = common::tiny_model(&TinyLlamaSpec::default());
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 1000]).unwrap();
    let err = load_err(&path);
    assert!(matches!(err, EmbeddedError::Truncated { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("tiny.gguf") && msg.contains("bytes"), "{msg}");
}

#[test]
fn truncated_in_header() {
    let (_dir, path) = common::tiny_model(&TinyLlamaSpec::default());
    let bytes = std::fs::read(&path).unwrap();
    for cut in [2, 10, 100, 2000] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let err = load_err(&path);
        assert!(
            matches!(err, EmbeddedError::Truncated { .. }),
            "cut at {cut}: {err}"
        );
    }
}

#[test]
fn other_architecture_gguf_is_refused() {
    use candle_core::quantized::gguf_file::{Value, write};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gpt2.gguf");
    let arch = Value::String("gpt2".into());
    let mut f = std::fs::File::create(&path).unwrap();
    write(&mut f, &[("general.architecture", &arch)], &[]).unwrap();
    drop(f);
    let err = load_err(&path);
    assert!(matches!(err, EmbeddedError::InvalidModel { .. }), "{err}");
    assert!(err.to_string().contains("gpt2"), "{err}");
}

#[test]
fn lora_dir_without_files() {
    let (_dir, path) = common::tiny_model(&TinyLlamaSpec::default());
    let mut model = EmbeddedModel::load(&path).unwrap();
    let empty = tempfile::tempdir().unwrap();
    let err = model.load_lora(empty.path()).unwrap_err();
    assert!(matches!(err, EmbeddedError::MissingFile { .. }), "{err}");
    assert!(err.to_string().contains("adapter_config.json"), "{err}");
}
