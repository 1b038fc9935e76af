//! PEFT LoRA adapters applied at run time on top of the quantized base.
//!
//! The adapter is never merged into the weights: each targeted projection computes
//! `y = W x + s · (alpha / r) · B (A x)` (rsLoRA: `alpha / sqrt(r)`), where `s` is the
//! model's current LoRA scale. Changing `s` is therefore free, which is what a per-request
//! scale sweep needs, and `s = 0` skips the adapter entirely so it is exactly the base model.
//!
//! PEFT stores tensors in Hugging Face layout. llama.cpp's converter permutes the rows of the
//! Q and K projections for its interleaved RoPE, so the `lora_B` of `q_proj`/`k_proj` is
//! permuted the same way on load (as `convert_lora_to_gguf.py` does); A needs nothing.

use crate::config::LlamaConfig;
use crate::error::{EmbeddedError, Result};
use candle_core::{DType, Device, Tensor};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The seven llama projections a LoRA adapter can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Projection {
    /// `self_attn.q_proj`
    Q,
    /// `self_attn.k_proj`
    K,
    /// `self_attn.v_proj`
    V,
    /// `self_attn.o_proj`
    O,
    /// `mlp.gate_proj`
    Gate,
    /// `mlp.up_proj`
    Up,
    /// `mlp.down_proj`
    Down,
}

impl Projection {
    /// All projections, in block order.
    pub const ALL: [Projection; 7] = [
        Self::Q,
        Self::K,
        Self::V,
        Self::O,
        Self::Gate,
        Self::Up,
        Self::Down,
    ];

    /// The Hugging Face module name (`q_proj`, ...).
    pub fn hf_name(self) -> &'static str {
        match self {
            Self::Q => "q_proj",
            Self::K => "k_proj",
            Self::V => "v_proj",
            Self::O => "o_proj",
            Self::Gate => "gate_proj",
            Self::Up => "up_proj",
            Self::Down => "down_proj",
        }
    }

    /// The parent module in Hugging Face naming (`self_attn` or `mlp`).
    pub fn hf_parent(self) -> &'static str {
        match self {
            Self::Q | Self::K | Self::V | Self::O => "self_attn",
            Self::Gate | Self::Up | Self::Down => "mlp",
        }
    }

    /// The GGUF tensor name inside a block (`attn_q`, ...).
    pub fn gguf_name(self) -> &'static str {
        match self {
            Self::Q => "attn_q",
            Self::K => "attn_k",
            Self::V => "attn_v",
            Self::O => "attn_output",
            Self::Gate => "ffn_gate",
            Self::Up => "ffn_up",
            Self::Down => "ffn_down",
        }
    }

    fn from_hf(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.hf_name() == name)
    }

    /// `(out, in)` of this projection in a model with `cfg`.
    pub fn dims(self, cfg: &LlamaConfig) -> (usize, usize) {
        match self {
            Self::Q | Self::O => (cfg.n_embd, cfg.n_embd),
            Self::K | Self::V => (cfg.kv_dim(), cfg.n_embd),
            Self::Gate | Self::Up => (cfg.n_ff, cfg.n_embd),
            Self::Down => (cfg.n_embd, cfg.n_ff),
        }
    }

    /// PEFT tensor name of `lora_A`/`lora_B` for layer `layer`.
    pub fn peft_tensor_name(self, layer: usize, which: char) -> String {
        format!(
            "base_model.model.model.layers.{layer}.{}.{}.lora_{which}.weight",
            self.hf_parent(),
            self.hf_name()
        )
    }
}

/// The A and B matrices of one adapted projection, in the base model's row order.
#[derive(Debug, Clone)]
pub(crate) struct LoraPair {
    a: Tensor,
    b: Tensor,
    /// `alpha / r` or `alpha / sqrt(r)`.
    factor: f64,
}

impl LoraPair {
    /// `scale · factor · B (A x)` for x of shape `(.., in)`.
    pub fn delta(&self, x: &Tensor, scale: f32) -> Result<Tensor> {
        let h = x.broadcast_matmul(&self.a.t()?)?;
        let y = h.broadcast_matmul(&self.b.t()?)?;
        Ok((y * (f64::from(scale) * self.factor))?)
    }
}

/// A loaded PEFT adapter.
#[derive(Debug, Clone)]
pub struct LoraAdapter {
    /// The adapter directory.
    pub dir: PathBuf,
    /// `r` from `adapter_config.json`.
    pub r: usize,
    /// `lora_alpha` from `adapter_config.json`.
    pub alpha: f32,
    /// Whether the factor is `alpha / sqrt(r)` instead of `alpha / r`.
    pub use_rslora: bool,
    pub(crate) pairs: HashMap<(usize, Projection), LoraPair>,
}

impl LoraAdapter {
    /// Loads `dir/adapter_config.json` and `dir/adapter_model.safetensors` for a model with
    /// `cfg`, checking every tensor's name and shape.
    pub fn load(dir: &Path, cfg: &LlamaConfig) -> Result<Self> {
        let config = AdapterConfig::read(dir)?;
        config.check_supported(dir)?;
        let weights = dir.join("adapter_model.safetensors");
        let tensors = read_safetensors(&weights)?;
        let mut parts: HashMap<(usize, Projection), (Option<Tensor>, Option<Tensor>)> =
            HashMap::new();
        for (name, tensor) in tensors {
            let (layer, proj, which) = parse_name(&weights, &name, cfg)?;
            let entry = parts.entry((layer, proj)).or_default();
            if which == 'A' {
                entry.0 = Some(tensor);
            } else {
                entry.1 = Some(tensor);
            }
        }
        let mut pairs = HashMap::new();
        for ((layer, proj), (a, b)) in parts {
            let pair = build_pair(&weights, cfg, &config, layer, proj, a, b)?;
            pairs.insert((layer, proj), pair);
        }
        tracing::info!(dir = %dir.display(), modules = pairs.len(), r = config.r, alpha = config.lora_alpha, "loaded LoRA adapter");
        Ok(Self {
            dir: dir.to_path_buf(),
            r: config.r,
            alpha: config.lora_alpha,
            use_rslora: config.use_rslora,
            pairs,
        })
    }

    /// Number of adapted projections.
    pub fn num_modules(&self) -> usize {
        self.pairs.len()
    }

    /// `(A, B)` of one adapted projection, `B` in the base model's (GGUF) row order; for a
    /// trainer that evaluates or continues a saved adapter.
    pub fn matrices(&self, layer: usize, proj: Projection) -> Option<(&Tensor, &Tensor)> {
        self.pairs.get(&(layer, proj)).map(|p| (&p.a, &p.b))
    }

    /// The projections the adapter targets (in any layer), in [`Projection::ALL`] order.
    pub fn targets(&self) -> Vec<Projection> {
        Projection::ALL
            .into_iter()
            .filter(|p| self.pairs.keys().any(|(_, q)| q == p))
            .collect()
    }

    pub(crate) fn take(&mut self, layer: usize, proj: Projection) -> Option<LoraPair> {
        self.pairs.remove(&(layer, proj))
    }
}

/// `target_modules` may be a list of names or one (regex) string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TargetModules {
    List(Vec<String>),
    One(String),
}

/// The fields of PEFT's `adapter_config.json` that matter here; unknown fields are ignored.
#[derive(Debug, Deserialize)]
struct AdapterConfig {
    #[serde(default = "default_r")]
    r: usize,
    #[serde(default = "default_alpha")]
    lora_alpha: f32,
    #[serde(default)]
    use_rslora: bool,
    #[serde(default)]
    use_dora: bool,
    #[serde(default)]
    fan_in_fan_out: bool,
    #[serde(default)]
    bias: Option<String>,
    #[serde(default)]
    modules_to_save: Option<Vec<String>>,
    #[serde(default)]
    alpha_pattern: Option<HashMap<String, serde_json::Value>>,
    #[serde(default)]
    target_modules: Option<TargetModules>,
    #[serde(default)]
    peft_type: Option<String>,
}

fn default_r() -> usize {
    8
}

fn default_alpha() -> f32 {
    8.0
}

impl AdapterConfig {
    fn read(dir: &Path) -> Result<Self> {
        let path = dir.join("adapter_config.json");
        let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => EmbeddedError::MissingFile { path: path.clone() },
            _ => EmbeddedError::io(&path, e),
        })?;
        serde_json::from_str(&text).map_err(|e| EmbeddedError::Adapter {
            path,
            detail: format!("invalid adapter_config.json: {e}"),
        })
    }

    /// Rejects PEFT options whose math this loader does not implement.
    fn check_supported(&self, dir: &Path) -> Result<()> {
        let path = dir.join("adapter_config.json");
        let unsupported = |detail: String| EmbeddedError::Adapter {
            path: path.clone(),
            detail,
        };
        if let Some(t) = &self.peft_type
            && t != "LORA"
        {
            return Err(unsupported(format!("peft_type {t:?} is not LORA")));
        }
        if self.r == 0 {
            return Err(unsupported("r is 0".into()));
        }
        if self.use_dora {
            return Err(unsupported("DoRA (use_dora) is not supported".into()));
        }
        if self.fan_in_fan_out {
            return Err(unsupported(
                "fan_in_fan_out is not supported for llama".into(),
            ));
        }
        if self.bias.as_deref().is_some_and(|b| b != "none") {
            return Err(unsupported("only bias = \"none\" is supported".into()));
        }
        if self.modules_to_save.as_ref().is_some_and(|m| !m.is_empty()) {
            return Err(unsupported("modules_to_save is not supported".into()));
        }
        if self.alpha_pattern.as_ref().is_some_and(|m| !m.is_empty()) {
            return Err(unsupported("alpha_pattern is not supported".into()));
        }
        self.check_targets(&path)
    }

    /// Target names that are not llama projections mean another architecture.
    fn check_targets(&self, path: &Path) -> Result<()> {
        let names = match &self.target_modules {
            Some(TargetModules::List(names)) => names,
            Some(TargetModules::One(pattern)) => {
                // "all-linear" or a regex: the tensor names are checked one by one instead.
                tracing::debug!(pattern, "target_modules given as a pattern");
                return Ok(());
            }
            None => return Ok(()),
        };
        let unknown: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| Projection::from_hf(n).is_none())
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        Err(EmbeddedError::AdapterArchitecture {
            path: path.to_path_buf(),
            detail: format!(
                "target_modules {unknown:?} are not llama projections (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)"
            ),
        })
    }

    fn factor(&self, r: usize) -> f64 {
        let r = r as f64;
        let alpha = f64::from(self.lora_alpha);
        if self.use_rslora {
            alpha / r.sqrt()
        } else {
            alpha / r
        }
    }
}

fn read_safetensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    if !path.exists() {
        return Err(EmbeddedError::MissingFile {
            path: path.to_path_buf(),
        });
    }
    candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| EmbeddedError::Adapter {
        path: path.to_path_buf(),
        detail: format!("unreadable safetensors file: {e}"),
    })
}

/// Splits `base_model.model.model.layers.N.<parent>.<proj>.lora_<A|B>[.default].weight`.
fn parse_name(path: &Path, name: &str, cfg: &LlamaConfig) -> Result<(usize, Projection, char)> {
    let arch_err = |detail: String| EmbeddedError::AdapterArchitecture {
        path: path.to_path_buf(),
        detail,
    };
    let parts: Vec<&str> = name.split('.').filter(|p| *p != "default").collect();
    let parsed = match parts.as_slice() {
        [
            "base_model",
            "model",
            "model",
            "layers",
            layer,
            parent,
            proj,
            lora,
            "weight",
        ] => Some((*layer, *parent, *proj, *lora)),
        _ => None,
    };
    let Some((layer, parent, proj, lora)) = parsed else {
        return Err(arch_err(format!(
            "tensor {name} is not a LoRA weight of a llama projection"
        )));
    };
    let which = match lora {
        "lora_A" => 'A',
        "lora_B" => 'B',
        other => {
            return Err(arch_err(format!(
                "tensor {name}: {other} is not lora_A/lora_B"
            )));
        }
    };
    let proj = Projection::from_hf(proj)
        .filter(|p| p.hf_parent() == parent)
        .ok_or_else(|| {
            arch_err(format!(
                "tensor {name}: {parent}.{proj} is not a llama projection"
            ))
        })?;
    let layer: usize = layer
        .parse()
        .map_err(|_| arch_err(format!("tensor {name}: layer {layer:?} is not a number")))?;
    if layer >= cfg.n_layer {
        return Err(arch_err(format!(
            "tensor {name} is for layer {layer} but the model has {} layers",
            cfg.n_layer
        )));
    }
    Ok((layer, proj, which))
}

fn build_pair(
    path: &Path,
    cfg: &LlamaConfig,
    config: &AdapterConfig,
    layer: usize,
    proj: Projection,
    a: Option<Tensor>,
    b: Option<Tensor>,
) -> Result<LoraPair> {
    let missing = |which: char| EmbeddedError::Adapter {
        path: path.to_path_buf(),
        detail: format!("{} is missing", proj.peft_tensor_name(layer, which)),
    };
    let a = a.ok_or_else(|| missing('A'))?.to_dtype(DType::F32)?;
    let b = b.ok_or_else(|| missing('B'))?.to_dtype(DType::F32)?;
    let (out_dim, in_dim) = proj.dims(cfg);
    let r = a.dims().first().copied().unwrap_or(0);
    check_shape(path, &proj.peft_tensor_name(layer, 'A'), &a, &[r, in_dim])?;
    check_shape(path, &proj.peft_tensor_name(layer, 'B'), &b, &[out_dim, r])?;
    let b = match proj {
        Projection::Q => permute_rows_for_gguf(&b, cfg.n_head)?,
        Projection::K => permute_rows_for_gguf(&b, cfg.n_kv_head)?,
        _ => b,
    };
    Ok(LoraPair {
        a: a.contiguous()?,
        b: b.contiguous()?,
        factor: config.factor(r),
    })
}

fn check_shape(path: &Path, name: &str, t: &Tensor, expected: &[usize]) -> Result<()> {
    if t.dims() == expected && expected.iter().all(|&d| d > 0) {
        return Ok(());
    }
    Err(EmbeddedError::AdapterShape {
        path: path.to_path_buf(),
        tensor: name.to_string(),
        found: t.dims().to_vec(),
        expected: expected.to_vec(),
    })
}

/// llama.cpp's `permute(w, n_head)`: rows `(head, half, i)` become `(head, i, half)`, so
/// that HF's rotate-half RoPE layout matches GGUF's interleaved one.
pub fn permute_rows_for_gguf(w: &Tensor, n_head: usize) -> Result<Tensor> {
    let (rows, cols) = w.dims2()?;
    let hd = rows / n_head;
    Ok(w.reshape((n_head, 2, hd / 2, cols))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape((rows, cols))?)
}
