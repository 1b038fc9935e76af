//! Llama hyper-parameters read from GGUF metadata.

use crate::error::Result;
use crate::gguf::GgufFile;

/// Shape and numeric constants of a llama-architecture model.
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    /// Number of transformer blocks.
    pub n_layer: usize,
    /// Hidden size.
    pub n_embd: usize,
    /// MLP inner size.
    pub n_ff: usize,
    /// Query heads.
    pub n_head: usize,
    /// Key/value heads (grouped-query attention when smaller than `n_head`).
    pub n_kv_head: usize,
    /// Size of one head.
    pub head_dim: usize,
    /// RoPE base frequency.
    pub rope_theta: f32,
    /// RMSNorm epsilon.
    pub rms_eps: f32,
    /// Longest context the model was trained for.
    pub context_length: usize,
    /// Vocabulary size (rows of the embedding matrix).
    pub vocab_size: usize,
}

impl LlamaConfig {
    /// Reads the `llama.*` keys; refuses other architectures with a named error.
    pub(crate) fn from_gguf(gguf: &GgufFile) -> Result<Self> {
        let arch = gguf.get_str("general.architecture")?;
        if arch != "llama" {
            return Err(gguf.invalid(format!(
                "architecture {arch:?} is not supported (only \"llama\")"
            )));
        }
        let n_embd = gguf.get_usize("llama.embedding_length")?;
        let n_head = gguf.get_usize("llama.attention.head_count")?;
        let n_kv_head = match gguf.get_opt("llama.attention.head_count_kv") {
            Some(_) => gguf.get_usize("llama.attention.head_count_kv")?,
            None => n_head,
        };
        let vocab_size = embedding_rows(gguf)?;
        let cfg = Self {
            n_layer: gguf.get_usize("llama.block_count")?,
            n_embd,
            n_ff: gguf.get_usize("llama.feed_forward_length")?,
            n_head,
            n_kv_head,
            head_dim: n_embd.checked_div(n_head).unwrap_or(0),
            rope_theta: opt_f32(gguf, "llama.rope.freq_base", 10_000.0)?,
            rms_eps: opt_f32(gguf, "llama.attention.layer_norm_rms_epsilon", 1e-5)?,
            context_length: gguf.get_usize("llama.context_length")?,
            vocab_size,
        };
        cfg.validate(gguf)?;
        Ok(cfg)
    }

    fn validate(&self, gguf: &GgufFile) -> Result<()> {
        let ok = self.n_head > 0
            && self.n_kv_head > 0
            && self.n_head.is_multiple_of(self.n_kv_head)
            && self.head_dim * self.n_head == self.n_embd
            && self.head_dim.is_multiple_of(2)
            && self.n_layer > 0;
        if ok {
            Ok(())
        } else {
            Err(gguf.invalid(format!("inconsistent llama hyper-parameters: {self:?}")))
        }
    }

    /// Output rows of the K and V projections.
    pub fn kv_dim(&self) -> usize {
        self.n_kv_head * self.head_dim
    }
}

fn opt_f32(gguf: &GgufFile, key: &str, default: f32) -> Result<f32> {
    match gguf.get_opt(key) {
        Some(_) => gguf.get_f32(key),
        None => Ok(default),
    }
}

fn embedding_rows(gguf: &GgufFile) -> Result<usize> {
    let info = gguf
        .content
        .tensor_infos
        .get("token_embd.weight")
        .ok_or_else(|| gguf.invalid("missing tensor token_embd.weight"))?;
    let dims = info.shape.dims();
    match dims {
        [rows, _] => Ok(*rows),
        _ => Err(gguf.invalid(format!("token_embd.weight has shape {dims:?}"))),
    }
}
