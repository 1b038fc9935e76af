//! Tiny synthetic llama GGUF files for tests (here and in other crates).
//!
//! A 2-layer model with random weights and a byte-level vocabulary loads in milliseconds and
//! needs no download, so code paths (loading, chat rendering, generation, LoRA, errors) can be
//! tested anywhere. Its output is gibberish by construction.

use crate::error::{EmbeddedError, Result};
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use std::path::Path;

/// Shape of a synthetic model.
#[derive(Debug, Clone)]
pub struct TinyLlamaSpec {
    /// Transformer blocks.
    pub n_layer: usize,
    /// Hidden size (a multiple of 32 for quantized projections).
    pub n_embd: usize,
    /// MLP inner size (a multiple of 32 for quantized projections).
    pub n_ff: usize,
    /// Query heads.
    pub n_head: usize,
    /// Key/value heads.
    pub n_kv_head: usize,
    /// `llama.context_length`.
    pub context_length: usize,
    /// Storage type of the seven projections (F32, or Q4_1 to exercise the kernel).
    pub projection_dtype: GgmlDType,
    /// Seed of the weight generator.
    pub seed: u64,
}

impl Default for TinyLlamaSpec {
    fn default() -> Self {
        Self {
            n_layer: 2,
            n_embd: 64,
            n_ff: 96,
            n_head: 4,
            n_kv_head: 2,
            context_length: 256,
            projection_dtype: GgmlDType::F32,
            seed: 1,
        }
    }
}

/// Merges of the tiny vocabulary, in priority order.
const TINY_MERGES: [&str; 8] = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "Ġ Ġ", "ĠĠ ĠĠ"];
/// Control tokens at ids 0, 1, 2, as in SmolLM2.
const TINY_SPECIALS: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/// Vocabulary of the tiny model: 3 control tokens, the 256 byte symbols, then merge results.
pub fn tiny_vocab() -> Vec<String> {
    let mut tokens: Vec<String> = TINY_SPECIALS.iter().map(|s| s.to_string()).collect();
    tokens.extend(byte_symbols().into_iter().map(String::from));
    tokens.extend(TINY_MERGES.iter().map(|m| m.replace(' ', "")));
    tokens
}

/// GPT-2's printable symbol for each byte value.
fn byte_symbols() -> Vec<char> {
    let direct: Vec<u32> = (33..=126).chain(161..=172).chain(174..=255).collect();
    let mut extra = 0;
    (0..=255u32)
        .map(|b| {
            let code = if direct.contains(&b) {
                b
            } else {
                extra += 1;
                255 + extra
            };
            char::from_u32(code).unwrap_or('?')
        })
        .collect()
}

/// Deterministic uniform values in `[-scale, scale)` (xorshift; no RNG dependency needed).
pub fn pseudo_random(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).max(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// The f32 weights of a tiny model under their GGUF names (Q/K rows in GGUF order).
pub fn tiny_llama_weights(spec: &TinyLlamaSpec) -> Result<Vec<(String, Tensor)>> {
    let vocab = tiny_vocab().len();
    let kv = spec.n_embd / spec.n_head * spec.n_kv_head;
    let mut seed = spec.seed;
    let mut mk =
        |name: String, shape: &[usize], scale: f32, offset: f32| -> Result<(String, Tensor)> {
            seed += 1;
            let n = shape.iter().product();
            let data: Vec<f32> = pseudo_random(n, seed, scale)
                .into_iter()
                .map(|v| v + offset)
                .collect();
            Ok((name, Tensor::from_vec(data, shape, &Device::Cpu)?))
        };
    let e = spec.n_embd;
    let mut out = vec![
        mk("token_embd.weight".into(), &[vocab, e], 0.5, 0.0)?,
        mk("output_norm.weight".into(), &[e], 0.1, 1.0)?,
    ];
    for i in 0..spec.n_layer {
        let shapes: [(&str, [usize; 2]); 7] = [
            ("attn_q", [e, e]),
            ("attn_k", [kv, e]),
            ("attn_v", [kv, e]),
            ("attn_output", [e, e]),
            ("ffn_gate", [spec.n_ff, e]),
            ("ffn_up", [spec.n_ff, e]),
            ("ffn_down", [e, spec.n_ff]),
        ];
        out.push(mk(format!("blk.{i}.attn_norm.weight"), &[e], 0.1, 1.0)?);
        out.push(mk(format!("blk.{i}.ffn_norm.weight"), &[e], 0.1, 1.0)?);
        for (name, shape) in shapes {
            out.push(mk(format!("blk.{i}.{name}.weight"), &shape, 0.2, 0.0)?);
        }
    }
    Ok(out)
}

/// Writes a tiny model with random weights to `path`.
pub fn write_tiny_llama(path: &Path, spec: &TinyLlamaSpec) -> Result<()> {
    write_llama_gguf(path, spec, &tiny_llama_weights(spec)?)
}

/// Writes `weights` (as from [`tiny_llama_weights`], possibly edited) with the metadata of
/// `spec` and the tiny vocabulary.
pub fn write_llama_gguf(
    path: &Path,
    spec: &TinyLlamaSpec,
    weights: &[(String, Tensor)],
) -> Result<()> {
    let mut qtensors = Vec::with_capacity(weights.len());
    for (name, t) in weights {
        let is_projection = name.starts_with("blk.") && !name.ends_with("norm.weight");
        let dtype = if is_projection {
            spec.projection_dtype
        } else {
            GgmlDType::F32
        };
        qtensors.push((name.as_str(), QTensor::quantize(t, dtype)?));
    }
    let metadata = tiny_metadata(spec);
    let meta_refs: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = qtensors.iter().map(|(n, t)| (*n, t)).collect();
    let mut file = std::fs::File::create(path).map_err(|e| EmbeddedError::io(path, e))?;
    gguf_file::write(&mut file, &meta_refs, &tensor_refs)?;
    Ok(())
}

fn tiny_metadata(spec: &TinyLlamaSpec) -> Vec<(String, Value)> {
    let tokens = tiny_vocab();
    let types: Vec<Value> = (0..tokens.len())
        .map(|i| Value::I32(if i < TINY_SPECIALS.len() { 3 } else { 1 }))
        .collect();
    let u32v = |x: usize| Value::U32(x as u32);
    let s = |x: &str| Value::String(x.to_string());
    vec![
        ("general.architecture".into(), s("llama")),
        ("general.name".into(), s("tiny-test-llama")),
        ("llama.block_count".into(), u32v(spec.n_layer)),
        ("llama.context_length".into(), u32v(spec.context_length)),
        ("llama.embedding_length".into(), u32v(spec.n_embd)),
        ("llama.feed_forward_length".into(), u32v(spec.n_ff)),
        ("llama.attention.head_count".into(), u32v(spec.n_head)),
        ("llama.attention.head_count_kv".into(), u32v(spec.n_kv_head)),
        ("llama.rope.freq_base".into(), Value::F32(10_000.0)),
        (
            "llama.attention.layer_norm_rms_epsilon".into(),
            Value::F32(1e-5),
        ),
        ("tokenizer.ggml.model".into(), s("gpt2")),
        ("tokenizer.ggml.pre".into(), s("smollm")),
        (
            "tokenizer.ggml.tokens".into(),
            Value::Array(tokens.iter().map(|t| s(t)).collect()),
        ),
        ("tokenizer.ggml.token_type".into(), Value::Array(types)),
        (
            "tokenizer.ggml.merges".into(),
            Value::Array(TINY_MERGES.iter().map(|m| s(m)).collect()),
        ),
        ("tokenizer.ggml.bos_token_id".into(), u32v(1)),
        ("tokenizer.ggml.eos_token_id".into(), u32v(2)),
    ]
}
