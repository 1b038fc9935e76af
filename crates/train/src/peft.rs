//! Saving the trained adapter in PEFT's on-disk format.
//!
//! `adapter_config.json` + `adapter_model.safetensors` with keys
//! `base_model.model.model.layers.N.<parent>.<proj>.lora_{A,B}.weight`, which is what PEFT's
//! `PeftModel.from_pretrained`, llama.cpp's `convert_lora_to_gguf.py` and the embedded crate's
//! loader read. Training happens in GGUF row order, so the `lora_B` of `q_proj`/`k_proj` is
//! un-permuted here to Hugging Face order (the inverse of what the loaders apply).

use crate::error::{Result, TrainError};
use crate::model::TrainableLlama;
use apprentice_embedded::{Projection, permute_rows_for_gguf};
use candle_core::Tensor;
use std::collections::HashMap;
use std::path::Path;

/// The tensors of the adapter under their PEFT names, in Hugging Face row order.
pub fn adapter_tensors(model: &TrainableLlama) -> Result<HashMap<String, Tensor>> {
    let cfg = model.config();
    let mut out = HashMap::new();
    for (layer, proj, vars) in model.lora_vars() {
        let a = vars.a.as_tensor().detach().contiguous()?;
        let b = vars.b.as_tensor().detach();
        let b = match proj {
            Projection::Q => unpermute_rows(&b, cfg.n_head)?,
            Projection::K => unpermute_rows(&b, cfg.n_kv_head)?,
            _ => b.contiguous()?,
        };
        out.insert(proj.peft_tensor_name(layer, 'A'), a);
        out.insert(proj.peft_tensor_name(layer, 'B'), b);
    }
    Ok(out)
}

/// Inverse of llama.cpp's `permute(w, n_head)`: rows `(head, i, half)` back to `(head, half, i)`.
fn unpermute_rows(w: &Tensor, n_head: usize) -> Result<Tensor> {
    let (rows, cols) = w.dims2()?;
    let hd = rows / n_head;
    Ok(w.reshape((n_head, hd / 2, 2, cols))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape((rows, cols))?)
}

/// Folds the PEFT adapter in `dir` into `model`'s frozen base weights (`W += alpha/r · B A`,
/// B permuted to GGUF order for Q and K). Training a fresh adapter on the result continues
/// from that adapter with the folded model as the DPO reference, which is what DPO after SFT
/// wants: the reference is the SFT policy, not the untuned base.
pub fn fold_adapter(model: &mut TrainableLlama, dir: &Path) -> Result<()> {
    let cfg_path = dir.join("adapter_config.json");
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| TrainError::io(&cfg_path, e))?;
    let config: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| TrainError::Config(format!("{}: {e}", cfg_path.display())))?;
    let (Some(r), Some(alpha)) = (config["r"].as_f64(), config["lora_alpha"].as_f64()) else {
        return Err(TrainError::Config(format!(
            "{}: `r` and `lora_alpha` must be numbers",
            cfg_path.display()
        )));
    };
    if config["use_rslora"].as_bool() == Some(true) || r <= 0.0 {
        return Err(TrainError::Config(format!(
            "{}: only plain LoRA (r > 0, no rsLoRA) can be folded",
            cfg_path.display()
        )));
    }
    let weights = dir.join("adapter_model.safetensors");
    let tensors = candle_core::safetensors::load(&weights, &candle_core::Device::Cpu)?;
    let (n_layer, n_head, n_kv_head) = {
        let c = model.config();
        (c.n_layer, c.n_head, c.n_kv_head)
    };
    let mut folded = 0;
    for layer in 0..n_layer {
        for proj in Projection::ALL {
            let a = tensors.get(&proj.peft_tensor_name(layer, 'A'));
            let b = tensors.get(&proj.peft_tensor_name(layer, 'B'));
            let (Some(a), Some(b)) = (a, b) else { continue };
            let b = match proj {
                Projection::Q => permute_rows_for_gguf(b, n_head)?,
                Projection::K => permute_rows_for_gguf(b, n_kv_head)?,
                _ => b.clone(),
            };
            let delta = (b
                .to_dtype(candle_core::DType::F32)?
                .matmul(&a.to_dtype(candle_core::DType::F32)?)?
                * (alpha / r))?;
            model.add_to_base(layer, proj, &delta)?;
            folded += 2;
        }
    }
    if folded != tensors.len() {
        return Err(TrainError::Config(format!(
            "{}: {} of its {} tensors are not LoRA pairs of this model",
            weights.display(),
            tensors.len() - folded,
            tensors.len()
        )));
    }
    Ok(())
}

/// Writes `adapter_config.json` and `adapter_model.safetensors` into `dir` (created if
/// needed). `base_model` is recorded as `base_model_name_or_path`.
///
/// Both files are written to temporary names first and renamed, so a crash mid-save never
/// leaves a half-written checkpoint where a good one was.
pub fn save_adapter(model: &TrainableLlama, dir: &Path, base_model: &str) -> Result<()> {
    let tensors = adapter_tensors(model)?;
    check_finite(dir, &tensors)?;
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    let lora = model.lora_config();
    let mut targets: Vec<&str> = lora.targets.iter().map(|p| p.hf_name()).collect();
    targets.sort_unstable();
    let config = serde_json::json!({
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base_model,
        "r": lora.rank,
        "lora_alpha": lora.alpha,
        "lora_dropout": lora.dropout,
        "target_modules": targets,
        "bias": "none",
        "use_rslora": false,
        "use_dora": false,
        "fan_in_fan_out": false,
        "inference_mode": true,
        "init_lora_weights": true,
        "modules_to_save": null,
        "revision": null,
    });
    let text = serde_json::to_string_pretty(&config)
        .map_err(|e| TrainError::Config(format!("serialising adapter_config.json: {e}")))?;
    let cfg_path = dir.join("adapter_config.json");
    let cfg_tmp = dir.join("adapter_config.json.tmp");
    std::fs::write(&cfg_tmp, text).map_err(|e| TrainError::io(&cfg_tmp, e))?;
    let st_path = dir.join("adapter_model.safetensors");
    let st_tmp = dir.join("adapter_model.safetensors.tmp");
    candle_core::safetensors::save(&tensors, &st_tmp)?;
    std::fs::rename(&st_tmp, &st_path).map_err(|e| TrainError::io(&st_path, e))?;
    std::fs::rename(&cfg_tmp, &cfg_path).map_err(|e| TrainError::io(&cfg_path, e))?;
    Ok(())
}

/// Refuses an adapter with NaN or infinite values: such a file would load and silently
/// produce garbage (or NaN logits) in every consumer.
fn check_finite(dir: &Path, tensors: &HashMap<String, Tensor>) -> Result<()> {
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    for name in names {
        let values = tensors[name].flatten_all()?.to_vec1::<f32>()?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err(TrainError::NonFiniteAdapter {
                dir: dir.to_path_buf(),
                tensor: name.clone(),
            });
        }
    }
    Ok(())
}
