//! LoRA math checked against merged weights on a tiny f32 model.
//!
//! For every scale s, the model with the adapter must give the same logits as a model whose
//! weights were merged by hand: `W' = W + s · alpha/r · P(B) A`, where `P` is llama.cpp's row
//! permutation for Q and K (written out index by index here, independently of the crate).

mod common;

use apprentice_embedded::testing::{
    TinyLlamaSpec, pseudo_random, tiny_llama_weights, write_llama_gguf,
};
use apprentice_embedded::{EmbeddedError, EmbeddedModel, Projection};
use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::path::Path;

const R: usize = 4;
const ALPHA: f32 = 8.0;
const TOKENS: [u32; 7] = [1, 40, 70, 80, 95, 100, 2];

struct Adapter {
    /// (layer, projection) → (A [r, in], B [out, r]) in Hugging Face layout.
    pairs: HashMap<(usize, Projection), (Tensor, Tensor)>,
}

fn dims(spec: &TinyLlamaSpec, p: Projection) -> (usize, usize) {
    let e = spec.n_embd;
    let kv = e / spec.n_head * spec.n_kv_head;
    match p {
        Projection::Q | Projection::O => (e, e),
        Projection::K | Projection::V => (kv, e),
        Projection::Gate | Projection::Up => (spec.n_ff, e),
        Projection::Down => (e, spec.n_ff),
    }
}

fn make_adapter(spec: &TinyLlamaSpec) -> Adapter {
    let mut pairs = HashMap::new();
    let mut seed = 1000;
    for layer in 0..spec.n_layer {
        for p in Projection::ALL {
            let (out, inp) = dims(spec, p);
            seed += 2;
            let a = Tensor::from_vec(pseudo_random(R * inp, seed, 0.3), (R, inp), &Device::Cpu)
                .unwrap();
            let b = Tensor::from_vec(
                pseudo_random(out * R, seed + 1, 0.3),
                (out, R),
                &Device::Cpu,
            )
            .unwrap();
            pairs.insert((layer, p), (a, b));
        }
    }
    Adapter { pairs }
}

fn write_adapter(dir: &Path, adapter: &Adapter, rslora: bool) {
    let config = serde_json::json!({
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": R, "lora_alpha": ALPHA,
        "lora_dropout": 0.0, "bias": "none", "use_rslora": rslora, "modules_to_save": null,
        "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        "base_model_name_or_path": "tiny", "inference_mode": true, "some_future_field": 1
    });
    std::fs::write(dir.join("adapter_config.json"), config.to_string()).unwrap();
    let mut tensors = HashMap::new();
    for (&(layer, p), (a, b)) in &adapter.pairs {
        tensors.insert(p.peft_tensor_name(layer, 'A'), a.clone());
        tensors.insert(p.peft_tensor_name(layer, 'B'), b.clone());
    }
    candle_core::safetensors::save(&tensors, dir.join("adapter_model.safetensors")).unwrap();
}

/// llama.cpp's `permute`: GGUF row `h*hd + 2i + j` holds HF row `h*hd + j*hd/2 + i`.
fn permute_rows(b: &Tensor, n_head: usize) -> Tensor {
    let (rows, cols) = b.dims2().unwrap();
    let hd = rows / n_head;
    let src = b.to_vec2::<f32>().unwrap();
    let mut out = vec![vec![0f32; cols]; rows];
    for h in 0..n_head {
        for i in 0..hd / 2 {
            for j in 0..2 {
                out[h * hd + 2 * i + j] = src[h * hd + j * hd / 2 + i].clone();
            }
        }
    }
    Tensor::new(out, &Device::Cpu).unwrap()
}

fn merged_weights(spec: &TinyLlamaSpec, adapter: &Adapter, factor: f64) -> Vec<(String, Tensor)> {
    let mut weights = tiny_llama_weights(spec).unwrap();
    for (name, w) in weights.iter_mut() {
        for (&(layer, p), (a, b)) in &adapter.pairs {
            if *name != format!("blk.{layer}.{}.weight", p.gguf_name()) {
                continue;
            }
            let b = match p {
                Projection::Q => permute_rows(b, spec.n_head),
                Projection::K => permute_rows(b, spec.n_kv_head),
                _ => b.clone(),
            };
            let delta = (b.matmul(a).unwrap() * factor).unwrap();
            *w = (&*w + delta).unwrap();
        }
    }
    weights
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn check_against_merged(rslora: bool, scales: &[f32]) {
    let spec = TinyLlamaSpec::default();
    let (dir, base_path) = common::tiny_model(&spec);
    let adapter = make_adapter(&spec);
    write_adapter(dir.path(), &adapter, rslora);
    let mut model = EmbeddedModel::load(&base_path).unwrap();
    let base_logits = model.logits_for(&TOKENS).unwrap();
    model.load_lora(dir.path()).unwrap();
    let r = R as f64;
    let unit = if rslora {
        f64::from(ALPHA) / r.sqrt()
    } else {
        f64::from(ALPHA) / r
    };
    for &s in scales {
        model.set_lora_scale(s);
        let ours = model.logits_for(&TOKENS).unwrap();
        if s == 0.0 {
            assert_eq!(ours, base_logits, "scale 0 must be exactly the base model");
        }
        let merged_path = dir.path().join(format!("merged-{s}.gguf"));
        write_llama_gguf(
            &merged_path,
            &spec,
            &merged_weights(&spec, &adapter, unit * f64::from(s)),
        )
        .unwrap();
        let expected = EmbeddedModel::load(&merged_path)
            .unwrap()
            .logits_for(&TOKENS)
            .unwrap();
        let diff = max_abs_diff(&ours, &expected);
        let spread = max_abs_diff(&expected, &base_logits);
        assert!(diff < 2e-4, "scale {s}: max |lora - merged| = {diff}");
        if s != 0.0 {
            assert!(
                spread > 1e-2,
                "scale {s}: the adapter should change the logits ({spread})"
            );
        }
    }
}

#[test]
fn lora_matches_merged_weights_at_each_scale() {
    check_against_merged(false, &[0.0, 0.5, 1.0, 2.0]);
}

#[test]
fn rslora_uses_alpha_over_sqrt_r() {
    check_against_merged(true, &[1.0]);
}

#[test]
fn unloading_restores_the_base_model() {
    let spec = TinyLlamaSpec::default();
    let (dir, path) = common::tiny_model(&spec);
    write_adapter(dir.path(), &make_adapter(&spec), false);
    let mut model = EmbeddedModel::load(&path).unwrap();
    let base = model.logits_for(&TOKENS).unwrap();
    model.load_lora(dir.path()).unwrap();
    assert_ne!(model.logits_for(&TOKENS).unwrap(), base);
    model.unload_lora();
    assert_eq!(model.logits_for(&TOKENS).unwrap(), base);
}

fn adapter_error(edit: impl FnOnce(&mut HashMap<String, Tensor>)) -> EmbeddedError {
    let spec = TinyLlamaSpec::default();
    let (dir, path) = common::tiny_model(&spec);
    write_adapter(dir.path(), &make_adapter(&spec), false);
    let file = dir.path().join("adapter_model.safetensors");
    let mut tensors = candle_core::safetensors::load(&file, &Device::Cpu).unwrap();
    edit(&mut tensors);
    candle_core::safetensors::save(&tensors, &file).unwrap();
    let mut model = EmbeddedModel::load(&path).unwrap();
    model.load_lora(dir.path()).unwrap_err()
}

#[test]
fn mismatched_adapter_shape_names_the_tensor() {
    let name = Projection::Down.peft_tensor_name(1, 'A');
    let err = adapter_error(|t| {
        t.insert(
            name.clone(),
            Tensor::zeros((R, 64), candle_core::DType::F32, &Device::Cpu).unwrap(),
        );
    });
    assert!(matches!(err, EmbeddedError::AdapterShape { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&name) && msg.contains("[4, 64]") && msg.contains("[4, 96]"),
        "{msg}"
    );
    assert!(msg.contains("adapter_model.safetensors"), "{msg}");
}

#[test]
fn rank_mismatch_between_a_and_b_is_a_shape_error() {
    let name = Projection::Q.peft_tensor_name(0, 'B');
    let err = adapter_error(|t| {
        t.insert(
            name.clone(),
            Tensor::zeros((64, R + 1), candle_core::DType::F32, &Device::Cpu).unwrap(),
        );
    });
    assert!(matches!(err, EmbeddedError::AdapterShape { .. }), "{err}");
}

#[test]
fn adapter_for_another_architecture_is_refused() {
    let err = adapter_error(|t| {
        let a = Tensor::zeros((R, 64), candle_core::DType::F32, &Device::Cpu).unwrap();
        t.insert(
            "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight".into(),
            a,
        );
    });
    assert!(
        matches!(err, EmbeddedError::AdapterArchitecture { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("c_attn"), "{err}");
}

#[test]
fn adapter_for_a_deeper_model_is_refused() {
    let err = adapter_error(|t| {
        let a = Tensor::zeros((R, 64), candle_core::DType::F32, &Device::Cpu).unwrap();
        t.insert(Projection::V.peft_tensor_name(7, 'A'), a);
    });
    assert!(
        matches!(err, EmbeddedError::AdapterArchitecture { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("layer 7"), "{err}");
}

#[test]
fn unsupported_options_are_refused() {
    let spec = TinyLlamaSpec::default();
    let (dir, path) = common::tiny_model(&spec);
    write_adapter(dir.path(), &make_adapter(&spec), false);
    let cfg_path = dir.path().join("adapter_config.json");
    let original = std::fs::read_to_string(&cfg_path).unwrap();
    let mut model = EmbeddedModel::load(&path).unwrap();
    for (key, value) in [
        ("use_dora", serde_json::json!(true)),
        ("target_modules", serde_json::json!(["c_attn"])),
    ] {
        let mut cfg: serde_json::Value = serde_json::from_str(&original).unwrap();
        cfg[key] = value;
        std::fs::write(&cfg_path, cfg.to_string()).unwrap();
        let err = model.load_lora(dir.path()).unwrap_err();
        assert!(
            err.to_string().contains("adapter_config.json"),
            "{key}: {err}"
        );
    }
}
