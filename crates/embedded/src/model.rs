//! A plain llama forward pass over GGUF weights with a KV cache and optional LoRA.
//!
//! Modelled on candle's `quantized_llama`, but with our own structs so that every projection
//! is a [`Linear`] that can carry a LoRA pair, and with the LoRA scale read at run time.
//!
//! The weights stay in GGUF layout: Q and K rows are in llama.cpp's permuted order, so RoPE is
//! the interleaved variant (`rope_i`), exactly like llama.cpp runs the file.

use crate::config::LlamaConfig;
use crate::error::{EmbeddedError, Result};
use crate::gguf::GgufFile;
use crate::kernels::Q41Matrix;
use crate::lora::{LoraAdapter, LoraPair, Projection};
use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor};
use std::sync::Arc;

/// The quantized base weight of a projection.
enum Base {
    /// Q4_1 weights through our own SIMD kernel (see [`crate::kernels`]).
    Q41(Q41Matrix),
    /// Anything else through candle's `QMatMul` (F32 tensors are dequantized by it).
    Other(QMatMul),
}

/// One projection: `y = W x (+ LoRA)`.
pub(crate) struct Linear {
    base: Base,
    lora: Option<LoraPair>,
}

impl Linear {
    fn new(t: QTensor) -> Result<Self> {
        let base = match Q41Matrix::from_qtensor(&t)? {
            Some(m) => Base::Q41(m),
            None => Base::Other(QMatMul::from_qtensor(t)?),
        };
        Ok(Self { base, lora: None })
    }

    fn forward(&self, x: &Tensor, lora_scale: f32) -> Result<Tensor> {
        let y = match &self.base {
            Base::Q41(m) => x.contiguous()?.apply_op1_no_bwd(m)?,
            Base::Other(q) => q.forward(x)?,
        };
        match &self.lora {
            Some(pair) if lora_scale != 0.0 => Ok((y + pair.delta(x, lora_scale)?)?),
            _ => Ok(y),
        }
    }
}

/// Attention and MLP weights of one transformer block.
struct Block {
    attn_norm: Tensor,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    ffn_norm: Tensor,
    gate: Linear,
    up: Linear,
    down: Linear,
}

impl Block {
    fn load(gguf: &mut GgufFile, i: usize) -> Result<Self> {
        let mut lin = |p: Projection| -> Result<Linear> {
            Linear::new(gguf.tensor(&format!("blk.{i}.{}.weight", p.gguf_name()))?)
        };
        let (q, k, v, o) = (
            lin(Projection::Q)?,
            lin(Projection::K)?,
            lin(Projection::V)?,
            lin(Projection::O)?,
        );
        let (gate, up, down) = (
            lin(Projection::Gate)?,
            lin(Projection::Up)?,
            lin(Projection::Down)?,
        );
        Ok(Self {
            attn_norm: gguf.tensor_f32(&format!("blk.{i}.attn_norm.weight"))?,
            ffn_norm: gguf.tensor_f32(&format!("blk.{i}.ffn_norm.weight"))?,
            q,
            k,
            v,
            o,
            gate,
            up,
            down,
        })
    }

    fn linear_mut(&mut self, p: Projection) -> &mut Linear {
        match p {
            Projection::Q => &mut self.q,
            Projection::K => &mut self.k,
            Projection::V => &mut self.v,
            Projection::O => &mut self.o,
            Projection::Gate => &mut self.gate,
            Projection::Up => &mut self.up,
            Projection::Down => &mut self.down,
        }
    }
}

/// Per-layer key/value cache, grown on demand up to the context length.
struct KvCache {
    k: Vec<Tensor>,
    v: Vec<Tensor>,
    capacity: usize,
    len: usize,
}

/// Everything a block's attention needs about the current chunk of positions.
struct Step<'a> {
    pos: usize,
    seq: usize,
    cos: &'a Tensor,
    sin: &'a Tensor,
    mask: Option<&'a Tensor>,
    lora_scale: f32,
}

/// A llama model ready for inference.
pub(crate) struct Llama {
    pub cfg: LlamaConfig,
    embed: Arc<QTensor>,
    blocks: Vec<Block>,
    norm: Tensor,
    head: QMatMul,
    cos: Tensor,
    sin: Tensor,
    cache: KvCache,
    pub lora_scale: f32,
}

impl Llama {
    /// Loads all weights of `gguf`.
    pub fn load(gguf: &mut GgufFile, cfg: LlamaConfig) -> Result<Self> {
        check_tensor_shapes(gguf, &cfg)?;
        let embed = Arc::new(gguf.tensor("token_embd.weight")?);
        // SmolLM2 ties the output head to the embeddings; then the file has no `output.weight`.
        let head = if gguf.has_tensor("output.weight") {
            QMatMul::from_qtensor(gguf.tensor("output.weight")?)?
        } else {
            QMatMul::from_arc(embed.clone())?
        };
        let blocks = (0..cfg.n_layer)
            .map(|i| Block::load(gguf, i))
            .collect::<Result<Vec<_>>>()?;
        let (cos, sin) = rope_tables(&cfg)?;
        Ok(Self {
            embed,
            blocks,
            norm: gguf.tensor_f32("output_norm.weight")?,
            head,
            cos,
            sin,
            cache: KvCache::new(cfg.n_layer),
            cfg,
            lora_scale: 1.0,
        })
    }

    /// Number of positions currently held in the KV cache.
    pub fn cached_len(&self) -> usize {
        self.cache.len
    }

    /// Forgets cached positions from `len` on.
    pub fn truncate_cache(&mut self, len: usize) {
        self.cache.len = self.cache.len.min(len);
    }

    /// Attaches an adapter's pairs to the projections (replacing any previous adapter).
    pub fn set_adapter(&mut self, mut adapter: Option<LoraAdapter>) {
        for (i, block) in self.blocks.iter_mut().enumerate() {
            for p in Projection::ALL {
                block.linear_mut(p).lora = adapter.as_mut().and_then(|a| a.take(i, p));
            }
        }
    }

    /// Runs `tokens` at positions `cache_len..` and returns the last position's logits.
    pub fn forward(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        let x = self.run_tokens(tokens)?;
        let last = self.norm_last(&x, tokens.len())?;
        Ok(self.head.forward(&last)?.flatten_all()?.to_vec1::<f32>()?)
    }

    /// Like [`Llama::forward`], but returns the logits of every position of `tokens`.
    pub fn forward_all(&mut self, tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
        let x = self.run_tokens(tokens)?;
        let normed = candle_nn::ops::rms_norm(&x.contiguous()?, &self.norm, self.cfg.rms_eps)?;
        Ok(self.head.forward(&normed)?.squeeze(0)?.to_vec2::<f32>()?)
    }

    /// Checks `tokens`, runs them at positions `cache_len..` and keeps their keys and values.
    fn run_tokens(&mut self, tokens: &[u32]) -> Result<Tensor> {
        let pos = self.cache.len;
        let seq = tokens.len();
        self.check_run(tokens, pos)?;
        self.cache.reserve(&self.cfg, pos + seq)?;
        let x = self.hidden_states(tokens, pos)?;
        self.cache.len = pos + seq;
        Ok(x)
    }

    fn check_run(&self, tokens: &[u32], pos: usize) -> Result<()> {
        let seq = tokens.len();
        if seq == 0 {
            return Err(EmbeddedError::Generation("no tokens to run".into()));
        }
        if pos + seq > self.cfg.context_length {
            return Err(EmbeddedError::Generation(format!(
                "{} tokens exceed the model's context length {}",
                pos + seq,
                self.cfg.context_length
            )));
        }
        if let Some(bad) = tokens.iter().find(|&&t| t as usize >= self.cfg.vocab_size) {
            return Err(EmbeddedError::Generation(format!(
                "token id {bad} is outside the vocabulary ({})",
                self.cfg.vocab_size
            )));
        }
        Ok(())
    }

    fn hidden_states(&mut self, tokens: &[u32], pos: usize) -> Result<Tensor> {
        let seq = tokens.len();
        let ids = Tensor::new(tokens, &Device::Cpu)?;
        let mut x = self.embed.embedding(&ids)?.unsqueeze(0)?;
        let mask = causal_mask(&self.cfg, pos, seq)?;
        let step = Step {
            pos,
            seq,
            cos: &self.cos.narrow(0, pos, seq)?,
            sin: &self.sin.narrow(0, pos, seq)?,
            mask: mask.as_ref(),
            lora_scale: self.lora_scale,
        };
        for (i, block) in self.blocks.iter().enumerate() {
            x = block_forward(block, &self.cfg, &mut self.cache, i, &x, &step)?;
        }
        Ok(x)
    }

    fn norm_last(&self, x: &Tensor, seq: usize) -> Result<Tensor> {
        let last = x.narrow(1, seq - 1, 1)?.contiguous()?;
        Ok(candle_nn::ops::rms_norm(
            &last,
            &self.norm,
            self.cfg.rms_eps,
        )?)
    }
}

fn block_forward(
    b: &Block,
    cfg: &LlamaConfig,
    cache: &mut KvCache,
    layer: usize,
    x: &Tensor,
    step: &Step<'_>,
) -> Result<Tensor> {
    let h = candle_nn::ops::rms_norm(x, &b.attn_norm, cfg.rms_eps)?;
    let attn = attention(b, cfg, cache, layer, &h, step)?;
    let x = (x + b.o.forward(&attn, step.lora_scale)?)?;
    let h = candle_nn::ops::rms_norm(&x, &b.ffn_norm, cfg.rms_eps)?;
    let gate = b.gate.forward(&h, step.lora_scale)?.silu()?;
    let up = b.up.forward(&h, step.lora_scale)?;
    Ok((&x + b.down.forward(&(gate * up)?, step.lora_scale)?)?)
}

/// Splits a projection output `(1, seq, heads * hd)` into `(1, heads, seq, hd)`.
fn heads(t: Tensor, n: usize, step: &Step<'_>, hd: usize) -> Result<Tensor> {
    Ok(t.reshape((1, step.seq, n, hd))?
        .transpose(1, 2)?
        .contiguous()?)
}

/// Grouped-query attention: query heads sharing a KV head are stacked along the sequence
/// axis, `(1, n_kv, group * seq, hd)`, so the cache never has to be repeated per head.
fn attention(
    b: &Block,
    cfg: &LlamaConfig,
    cache: &mut KvCache,
    layer: usize,
    h: &Tensor,
    step: &Step<'_>,
) -> Result<Tensor> {
    let hd = cfg.head_dim;
    let s = step.lora_scale;
    let q = heads(b.q.forward(h, s)?, cfg.n_head, step, hd)?;
    let k = heads(b.k.forward(h, s)?, cfg.n_kv_head, step, hd)?;
    let v = heads(b.v.forward(h, s)?, cfg.n_kv_head, step, hd)?;
    let q = f16_round(&candle_nn::rotary_emb::rope_i(&q, step.cos, step.sin)?)?;
    let k = f16_round(&candle_nn::rotary_emb::rope_i(&k, step.cos, step.sin)?)?;
    let (k, v) = cache.append(layer, &k, &f16_round(&v)?, step.pos)?;
    let group = cfg.n_head / cfg.n_kv_head;
    let q = q.reshape((1, cfg.n_kv_head, group * step.seq, hd))?;
    let scores = (q.matmul(&k.t()?)? * (1.0 / (hd as f64).sqrt()))?;
    let scores = match step.mask {
        Some(m) => scores.broadcast_add(m)?,
        None => scores,
    };
    let probs = f16_round(&candle_nn::ops::softmax_last_dim(&scores)?)?;
    let out = probs.matmul(&v)?;
    let out = out
        .reshape((1, cfg.n_head, step.seq, hd))?
        .transpose(1, 2)?;
    Ok(out.reshape((1, step.seq, cfg.n_embd))?)
}

/// Rounds to f16 precision (kept as f32): llama.cpp stores K and V as f16 by default and
/// converts Q and the attention weights to f16 for its f16 matmuls; doing the same makes
/// near-tied greedy choices fall the same way more often.
fn f16_round(t: &Tensor) -> Result<Tensor> {
    Ok(t.to_dtype(DType::F16)?.to_dtype(DType::F32)?)
}

/// `-inf` above the causal diagonal for the stacked `(group * seq, pos + seq)` score rows;
/// `None` for a single new position, which may see everything cached.
fn causal_mask(cfg: &LlamaConfig, pos: usize, seq: usize) -> Result<Option<Tensor>> {
    if seq == 1 {
        return Ok(None);
    }
    let group = cfg.n_head / cfg.n_kv_head;
    let total = pos + seq;
    let mut data = Vec::with_capacity(group * seq * total);
    for _ in 0..group {
        for i in 0..seq {
            data.extend((0..total).map(|j| if j > pos + i { f32::NEG_INFINITY } else { 0.0 }));
        }
    }
    Ok(Some(Tensor::from_vec(
        data,
        (group * seq, total),
        &Device::Cpu,
    )?))
}

impl KvCache {
    fn new(n_layer: usize) -> Self {
        Self {
            k: Vec::with_capacity(n_layer),
            v: Vec::with_capacity(n_layer),
            capacity: 0,
            len: 0,
        }
    }

    /// Makes room for `needed` positions, doubling so appends stay amortised O(1).
    fn reserve(&mut self, cfg: &LlamaConfig, needed: usize) -> Result<()> {
        if needed <= self.capacity {
            return Ok(());
        }
        let cap = needed
            .max(self.capacity * 2)
            .max(256)
            .min(cfg.context_length);
        let shape = (1, cfg.n_kv_head, cap, cfg.head_dim);
        let grow = |old: Option<&Tensor>| -> Result<Tensor> {
            let fresh = Tensor::zeros(shape, DType::F32, &Device::Cpu)?;
            if let Some(old) = old {
                fresh.slice_set(old, 2, 0)?;
            }
            Ok(fresh)
        };
        for layer in 0..cfg.n_layer {
            let k = grow(self.k.get(layer))?;
            let v = grow(self.v.get(layer))?;
            if layer < self.k.len() {
                self.k[layer] = k;
                self.v[layer] = v;
            } else {
                self.k.push(k);
                self.v.push(v);
            }
        }
        self.capacity = cap;
        Ok(())
    }

    /// Writes the new keys/values at `pos` and returns views of all valid positions.
    fn append(
        &mut self,
        layer: usize,
        k: &Tensor,
        v: &Tensor,
        pos: usize,
    ) -> Result<(Tensor, Tensor)> {
        let seq = k.dim(2)?;
        self.k[layer].slice_set(k, 2, pos)?;
        self.v[layer].slice_set(v, 2, pos)?;
        let k = self.k[layer].narrow(2, 0, pos + seq)?;
        let v = self.v[layer].narrow(2, 0, pos + seq)?;
        Ok((k, v))
    }
}

/// cos/sin of `pos * theta^(-2i/hd)` for every position and pair, as llama.cpp computes them.
fn rope_tables(cfg: &LlamaConfig) -> Result<(Tensor, Tensor)> {
    let half = cfg.head_dim / 2;
    let n = cfg.context_length;
    let mut cos = Vec::with_capacity(n * half);
    let mut sin = Vec::with_capacity(n * half);
    for p in 0..n {
        for i in 0..half {
            let freq = f64::from(cfg.rope_theta).powf(-2.0 * i as f64 / cfg.head_dim as f64);
            let angle = p as f64 * freq;
            cos.push(angle.cos() as f32);
            sin.push(angle.sin() as f32);
        }
    }
    let cos = Tensor::from_vec(cos, (n, half), &Device::Cpu)?;
    let sin = Tensor::from_vec(sin, (n, half), &Device::Cpu)?;
    Ok((cos, sin))
}

/// Checks every weight's shape against the config before loading, so a damaged or
/// mismatched file fails with the tensor's name instead of inside a matmul.
fn check_tensor_shapes(gguf: &GgufFile, cfg: &LlamaConfig) -> Result<()> {
    let mut expected: Vec<(String, Vec<usize>)> = vec![
        ("token_embd.weight".into(), vec![cfg.vocab_size, cfg.n_embd]),
        ("output_norm.weight".into(), vec![cfg.n_embd]),
    ];
    if gguf.has_tensor("output.weight") {
        expected.push(("output.weight".into(), vec![cfg.vocab_size, cfg.n_embd]));
    }
    for i in 0..cfg.n_layer {
        expected.push((format!("blk.{i}.attn_norm.weight"), vec![cfg.n_embd]));
        expected.push((format!("blk.{i}.ffn_norm.weight"), vec![cfg.n_embd]));
        for p in Projection::ALL {
            let (out, inp) = p.dims(cfg);
            expected.push((format!("blk.{i}.{}.weight", p.gguf_name()), vec![out, inp]));
        }
    }
    for (name, dims) in expected {
        let info = gguf
            .content
            .tensor_infos
            .get(&name)
            .ok_or_else(|| gguf.invalid(format!("missing tensor {name}")))?;
        if info.shape.dims() != dims.as_slice() {
            return Err(gguf.invalid(format!(
                "tensor {name} has shape {:?}, expected {dims:?}",
                info.shape.dims()
            )));
        }
    }
    Ok(())
}
