//! A deliberately over-scaled adapter on the real SmolLM2-135M: the sweep must call its high
//! scales degenerate and its low ones sound. Small on purpose (two short prompts, few
//! tokens), so it runs in CI.

use std::collections::HashMap;
use std::path::Path;

use apprentice_embedded::testing::pseudo_random;
use apprentice_embedded::{ChatMessage, EmbeddedModel, Projection};
use apprentice_sweep::{Prompt, SweepConfig, Thresholds, highest_sound_scale, sweep};
use candle_core::{Device, Tensor};

const R: usize = 4;

/// A random rank-4 adapter on every projection whose B matrices are multiplied far past what
/// training would produce (B starts at zero and moves little).
fn write_overscaled_adapter(model: &EmbeddedModel, dir: &Path, b_magnitude: f32) {
    let cfg = model.config();
    let mut tensors = HashMap::new();
    let mut seed = 7;
    for layer in 0..cfg.n_layer {
        for p in Projection::ALL {
            let (out, inp) = p.dims(cfg);
            seed += 2;
            let a = pseudo_random(R * inp, seed, 1.0 / (inp as f32).sqrt());
            let b = pseudo_random(out * R, seed + 1, b_magnitude);
            let a = Tensor::from_vec(a, (R, inp), &Device::Cpu).unwrap();
            let b = Tensor::from_vec(b, (out, R), &Device::Cpu).unwrap();
            tensors.insert(p.peft_tensor_name(layer, 'A'), a);
            tensors.insert(p.peft_tensor_name(layer, 'B'), b);
        }
    }
    candle_core::safetensors::save(&tensors, dir.join("adapter_model.safetensors")).unwrap();
    let config = serde_json::json!({
        "peft_type": "LORA", "r": R, "lora_alpha": 8, "bias": "none",
        "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    });
    std::fs::write(dir.join("adapter_config.json"), config.to_string()).unwrap();
}

fn prompt(question: &str, answer: &str) -> Prompt {
    Prompt {
        messages: vec![ChatMessage::user(question)],
        reference: Some(answer.to_string()),
    }
}

#[test]
fn high_scales_of_an_overscaled_adapter_are_flagged_and_low_ones_are_not() {
    let mut model = EmbeddedModel::load_default().expect("the cached SmolLM2 model");
    let dir = tempfile::tempdir().unwrap();
    write_overscaled_adapter(&model, dir.path(), 0.25);
    model.load_lora(dir.path()).unwrap();
    let prompts = [
        prompt(
            "What is the capital of France?",
            "The capital of France is Paris.",
        ),
        prompt(
            "Write a Python function that adds two numbers.",
            "def add(a, b):\n    return a + b",
        ),
    ];
    let config = SweepConfig {
        scales: vec![0.05, 8.0],
        max_tokens: 16,
        max_reference_tokens: 8,
        thresholds: Thresholds::default(),
    };
    let rows = sweep(&mut model, &prompts, &config, &|| {}).unwrap();
    let scales: Vec<f32> = rows.iter().map(|r| r.scale).collect();
    assert_eq!(scales, [0.0, 0.05, 8.0]);
    let summary = serde_json::to_string_pretty(&rows).unwrap();
    assert!(!rows[0].degenerate, "{summary}");
    assert_eq!(rows[0].kl_to_base, Some(0.0));
    assert!(!rows[1].degenerate, "{summary}");
    assert!(rows[2].degenerate, "{summary}");
    assert!(rows[2].kl_to_base.unwrap() > rows[1].kl_to_base.unwrap());
    assert_eq!(highest_sound_scale(&rows), Some(0.05));
    assert!(rows.iter().all(|r| r.samples == 2));
}
