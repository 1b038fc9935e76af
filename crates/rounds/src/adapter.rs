//! Joining two LoRA adapters into one.
//!
//! DPO trains a second adapter on top of the SFT adapter folded into the base (see
//! [`crate::training`]), but the embedded policy runs one adapter. Two LoRA updates add up
//! exactly as one of their summed rank: `f1·B1·A1 + f2·B2·A2 = [f1·B1 | f2·B2] · [A1 ; A2]`.
//! The joined adapter sets `lora_alpha = r` (factor 1) and carries each factor in its B
//! columns, so it loads unchanged in the embedded policy, PEFT and llama.cpp's converter.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use serde_json::Value;

use crate::LoopError;

const CONFIG: &str = "adapter_config.json";
const WEIGHTS: &str = "adapter_model.safetensors";

struct Adapter {
    config: Value,
    rank: usize,
    factor: f64,
    tensors: HashMap<String, Tensor>,
}

fn bad(path: &Path, detail: impl std::fmt::Display) -> LoopError {
    LoopError::Input(format!("{}: {detail}", path.display()))
}

fn read(dir: &Path) -> Result<Adapter, LoopError> {
    let cfg_path = dir.join(CONFIG);
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| LoopError::io(&cfg_path, e))?;
    let config: Value = serde_json::from_str(&text).map_err(|e| bad(&cfg_path, e))?;
    let (Some(rank), Some(alpha)) = (config["r"].as_u64(), config["lora_alpha"].as_f64()) else {
        return Err(bad(&cfg_path, "`r` and `lora_alpha` must be numbers"));
    };
    if rank == 0 || config["use_rslora"].as_bool() == Some(true) {
        return Err(bad(
            &cfg_path,
            "only plain LoRA (r > 0, no rsLoRA) can be joined",
        ));
    }
    let weights = dir.join(WEIGHTS);
    let tensors =
        candle_core::safetensors::load(&weights, &Device::Cpu).map_err(|e| bad(&weights, e))?;
    Ok(Adapter {
        config,
        rank: rank as usize,
        factor: alpha / rank as f64,
        tensors,
    })
}

/// Writes into `out` one adapter equal to `first` plus `second` (same base model and
/// target modules). Returns the joined rank.
pub fn join(first: &Path, second: &Path, out: &Path) -> Result<usize, LoopError> {
    let (a, b) = (read(first)?, read(second)?);
    let mut names: Vec<&String> = a.tensors.keys().collect();
    names.sort();
    let mut second_names: Vec<&String> = b.tensors.keys().collect();
    second_names.sort();
    if names != second_names {
        return Err(bad(
            second,
            format!("adapts other modules than {}", first.display()),
        ));
    }
    let mut joined = HashMap::new();
    for name in names {
        let (x, y) = (&a.tensors[name], &b.tensors[name]);
        let tensor = if name.ends_with(".lora_A.weight") {
            Tensor::cat(&[x, y], 0)
        } else {
            let x = (x.to_dtype(DType::F32)? * a.factor)?;
            let y = (y.to_dtype(DType::F32)? * b.factor)?;
            Tensor::cat(&[&x, &y], 1)
        }
        .map_err(|e| bad(second, format!("{name}: {e}")))?;
        joined.insert(name.clone(), tensor.to_dtype(DType::F32)?.contiguous()?);
    }
    let rank = a.rank + b.rank;
    let mut config = a.config;
    config["r"] = rank.into();
    config["lora_alpha"] = rank.into();
    std::fs::create_dir_all(out).map_err(|e| LoopError::io(out, e))?;
    let weights = out.join(WEIGHTS);
    candle_core::safetensors::save(&joined, &weights).map_err(|e| bad(&weights, e))?;
    let text = serde_json::to_string_pretty(&config).unwrap_or_default();
    let cfg_path = out.join(CONFIG);
    std::fs::write(&cfg_path, text).map_err(|e| LoopError::io(&cfg_path, e))?;
    Ok(rank)
}

impl From<candle_core::Error> for LoopError {
    fn from(e: candle_core::Error) -> Self {
        LoopError::Other(format!("tensor error: {e}"))
    }
}
