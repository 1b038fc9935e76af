//! A differentiable llama forward pass for LoRA training.
//!
//! The embedded crate's inference model runs quantized matmuls and fused kernels, none of
//! which have a backward pass in candle (gradients would silently stop or fail). Here the
//! base weights are dequantized once to f32 plain `Tensor`s, so they are frozen for free, and
//! only the LoRA `A`/`B` matrices are `Var`s. RMSNorm, RoPE and softmax use candle's
//! composed ("slow") ops, which are differentiable.
//!
//! Weights stay in GGUF layout (Q/K rows permuted for interleaved RoPE), exactly as the
//! embedded model runs them, so a freshly initialised adapter (B = 0) reproduces its logits.
//! The conversion to Hugging Face row order happens only when saving ([`crate::peft`]).

use crate::error::{Result, TrainError};
use apprentice_embedded::{LlamaConfig, LoraAdapter, Projection};
use candle_core::quantized::gguf_file::Content;
use candle_core::{CpuStorage, CustomOp1, CustomOp3, D, DType, Device, Layout, Shape, Tensor, Var};
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::path::Path;

/// Shape and placement of the LoRA adapter being trained (PEFT's `LoraConfig`).
#[derive(Debug, Clone, PartialEq)]
pub struct LoraConfig {
    /// Rank `r`.
    pub rank: usize,
    /// `lora_alpha`; the update is scaled by `alpha / r`.
    pub alpha: f32,
    /// Dropout on the adapter's input during training (PEFT `lora_dropout`).
    pub dropout: f32,
    /// Projections that get an adapter, in every layer.
    pub targets: Vec<Projection>,
    /// Seed of `A`'s initialisation.
    pub seed: u64,
}

impl Default for LoraConfig {
    fn default() -> Self {
        Self {
            rank: 8,
            alpha: 16.0,
            dropout: 0.0,
            targets: Projection::ALL.to_vec(),
            seed: 0,
        }
    }
}

impl LoraConfig {
    /// `alpha / r`, the factor PEFT applies to `B A x`.
    pub fn factor(&self) -> f64 {
        f64::from(self.alpha) / self.rank as f64
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.rank == 0 {
            return Err(TrainError::Config("LoRA rank must be at least 1".into()));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(TrainError::Config(format!(
                "LoRA alpha must be positive, not {}",
                self.alpha
            )));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(TrainError::Config(format!(
                "LoRA dropout must be in [0, 1), not {}",
                self.dropout
            )));
        }
        if self.targets.is_empty() {
            return Err(TrainError::Config("no LoRA target modules".into()));
        }
        Ok(())
    }
}

/// A LoRA pair being trained. `b` is in GGUF row order (see the module docs).
#[derive(Debug, Clone)]
pub struct LoraVars {
    /// `(r, in)`.
    pub a: Var,
    /// `(out, r)`.
    pub b: Var,
}

/// `x · Wᵀ` with a frozen `W` `(out, in)`, as a custom op whose backward returns only the
/// input's gradient `g · W`.
///
/// candle's `matmul` backward always computes both operands' gradients, so a plain
/// `x.matmul(&w.t())` would also compute (and allocate, then drop) the `(out, in)` gradient
/// of every frozen weight on every sequence: a third of the projections' FLOPs and a
/// weight-sized buffer per layer, for nothing.
#[derive(Debug, Clone)]
struct FrozenMatmul(Tensor);

impl CustomOp1 for FrozenMatmul {
    fn name(&self) -> &'static str {
        "frozen-matmul"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let y = input_tensor(storage, layout)?.matmul(&self.0.t()?)?;
        let shape = y.shape().clone();
        Ok((CpuStorage::F32(y.flatten_all()?.to_vec1::<f32>()?), shape))
    }

    fn bwd(&self, _x: &Tensor, _y: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(grad.matmul(&self.0)?))
    }
}

/// A contiguous view of a custom op's input as a fresh (untracked) tensor.
fn input_tensor(storage: &CpuStorage, layout: &Layout) -> candle_core::Result<Tensor> {
    let (start, end) = layout
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg("custom op needs a contiguous input".into()))?;
    Tensor::from_slice(
        &storage.as_slice::<f32>()?[start..end],
        layout.shape(),
        &Device::Cpu,
    )
}

/// `softmax(scale · s + causal mask)` over the last dimension of attention scores
/// `(.., seq, seq)`, as one op.
///
/// Composed from candle's ops, the scaling, the mask and the softmax's five steps each keep a
/// `(heads, seq, seq)` tensor alive for the backward pass, in every layer: at a thousand
/// tokens that is most of the trainer's memory. Here only the probabilities are kept, and the
/// backward is the softmax's closed form `scale · y ⊙ (g − Σ g ⊙ y)`.
#[derive(Debug, Clone, Copy)]
struct CausalSoftmax {
    scale: f32,
}

impl CustomOp1 for CausalSoftmax {
    fn name(&self) -> &'static str {
        "causal-softmax"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let scores = input_tensor(storage, layout)?;
        let seq = scores.dim(D::Minus1)?;
        let mut y = scores.flatten_all()?.to_vec1::<f32>()?;
        for (r, row) in y.chunks_mut(seq).enumerate() {
            let (keep, hidden) = row.split_at_mut(r % seq + 1);
            let max = keep.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let mut sum = 0.0;
            for v in keep.iter_mut() {
                *v = ((*v - max) * self.scale).exp();
                sum += *v;
            }
            keep.iter_mut().for_each(|v| *v /= sum);
            hidden.fill(0.0);
        }
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    fn bwd(&self, _s: &Tensor, y: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let dot = (grad * y)?.sum_keepdim(D::Minus1)?;
        Ok(Some(
            (grad.broadcast_sub(&dot)? * y)?.affine(f64::from(self.scale), 0.0)?,
        ))
    }
}

/// RMSNorm over the last dimension with a frozen weight, as one op.
///
/// candle's composed norm keeps five `(seq, n_embd)` intermediates per norm for the backward
/// pass; this keeps none, and its backward is the closed form
/// `dx = r · (g ⊙ w) − x · r³ · Σ(g ⊙ w ⊙ x) / n` with `r = 1 / rms(x)`.
#[derive(Debug, Clone)]
struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    /// `1 / sqrt(mean(x²) + eps)` per row, `(.., 1)`.
    fn inverse_rms(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        (x.sqr()?.mean_keepdim(D::Minus1)? + self.eps)?
            .sqrt()?
            .recip()
    }
}

impl CustomOp1 for RmsNorm {
    fn name(&self) -> &'static str {
        "rms-norm"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = input_tensor(storage, layout)?;
        let y = x
            .broadcast_mul(&self.inverse_rms(&x)?)?
            .broadcast_mul(&self.weight)?;
        Ok((
            CpuStorage::F32(y.flatten_all()?.to_vec1::<f32>()?),
            y.shape().clone(),
        ))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, g: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let x = x.detach();
        let r = self.inverse_rms(&x)?;
        let gw = g.broadcast_mul(&self.weight)?;
        let n = x.dim(D::Minus1)? as f64;
        let dot = (&gw * &x)?.sum_keepdim(D::Minus1)?;
        let slope = ((r.powf(3.0)? * dot)? / n)?;
        Ok(Some((gw.broadcast_mul(&r)? - x.broadcast_mul(&slope)?)?))
    }
}

/// Interleaved rotary embedding (`rope_i`: pairs `(2i, 2i + 1)` rotated by `pos · θ_i`) of a
/// contiguous `(1, heads, seq, head_dim)` tensor, as one op whose backward is the inverse
/// rotation. candle's differentiable version keeps about five copies of its input.
#[derive(Debug, Clone)]
struct Rope {
    /// `(seq, head_dim / 2)`.
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl Rope {
    fn new(cos: &Tensor, sin: &Tensor) -> Result<Self> {
        Ok(Self {
            cos: cos.flatten_all()?.to_vec1()?,
            sin: sin.flatten_all()?.to_vec1()?,
        })
    }

    /// Rotates every pair of `x`, contiguous `(.., seq, head_dim)`, by the angle of its
    /// position (`inverse`: by its negative, the backward pass). Pair `k` of a head is at
    /// position `k / (head_dim / 2)`, frequency `k % (head_dim / 2)`: entry `k` of the tables.
    fn rotate(&self, x: &mut [f32], inverse: bool) {
        let sign = if inverse { -1.0 } else { 1.0 };
        for head in x.chunks_mut(2 * self.cos.len()) {
            for ((pair, &c), &s) in head.chunks_exact_mut(2).zip(&self.cos).zip(&self.sin) {
                let (a, b, s) = (pair[0], pair[1], sign * s);
                pair[0] = a * c - b * s;
                pair[1] = a * s + b * c;
            }
        }
    }

    fn apply(&self, x: &Tensor, inverse: bool) -> candle_core::Result<Tensor> {
        let mut data = x.flatten_all()?.to_vec1::<f32>()?;
        if data.len() % (2 * self.cos.len()) != 0 {
            return Err(candle_core::Error::Msg(format!(
                "rope: {:?} does not fit tables of {} pairs",
                x.dims(),
                self.cos.len()
            )));
        }
        self.rotate(&mut data, inverse);
        Tensor::from_vec(data, x.shape(), x.device())
    }
}

impl CustomOp1 for Rope {
    fn name(&self) -> &'static str {
        "rope-interleaved"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let y = self.apply(&input_tensor(storage, layout)?, false)?;
        Ok((
            CpuStorage::F32(y.flatten_all()?.to_vec1::<f32>()?),
            y.shape().clone(),
        ))
    }

    fn bwd(&self, _x: &Tensor, _y: &Tensor, g: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(self.apply(g, true)?))
    }
}

/// `x · wᵀ` for a frozen `w`; `x` is `(seq, in)`.
fn frozen_matmul(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    Ok(x.contiguous()?.apply_op1(FrozenMatmul(w.clone()))?)
}

/// `x · Wᵀ + factor · (drop(x) · Aᵀ) · Bᵀ` for a frozen `W` and the trainable `A`, `B` of
/// a LoRA adapter, as one op over `(x, A, B)`.
///
/// Composed from candle's ops, the adapter path keeps the dropout mask, the dropped input,
/// both products, the scaled update and the sum for the backward pass, and accumulates a
/// gradient for each: most of a block's graph memory and element-wise work. Here the graph
/// keeps only the output; the backward pass redraws the mask from its seed and recomputes the
/// rank-`r` product, which costs `r / out` of the frozen product.
#[derive(Debug, Clone)]
struct LoraMatmul {
    /// `(out, in)`, frozen.
    w: Tensor,
    factor: f64,
    /// `(p, seed)` when dropout is active.
    dropout: Option<(f32, u64)>,
}

impl LoraMatmul {
    fn mask(&self, x: &Tensor) -> candle_core::Result<Option<Tensor>> {
        self.dropout
            .map(|(p, seed)| dropout_mask(x, p, seed))
            .transpose()
    }
}

impl CustomOp3 for LoraMatmul {
    fn name(&self) -> &'static str {
        "lora-matmul"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = input_tensor(s1, l1)?;
        let (a, b) = (input_tensor(s2, l2)?, input_tensor(s3, l3)?);
        let xin = match self.mask(&x)? {
            Some(m) => (&x * m)?,
            None => x.clone(),
        };
        let update = (xin.matmul(&a.t()?)? * self.factor)?.matmul(&b.t()?)?;
        let y = (x.matmul(&self.w.t()?)? + update)?;
        let shape = y.shape().clone();
        Ok((CpuStorage::F32(y.flatten_all()?.to_vec1::<f32>()?), shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        a: &Tensor,
        b: &Tensor,
        _y: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (x, a, b) = (x.detach(), a.detach(), b.detach());
        let mask = self.mask(&x)?;
        let xin = match &mask {
            Some(m) => (&x * m)?,
            None => x,
        };
        // `gb` is the gradient at `factor · xin · Aᵀ`, scaled back through the factor.
        let gb = (g.matmul(&b)? * self.factor)?;
        let dx_update = match &mask {
            Some(m) => (gb.matmul(&a)? * m)?,
            None => gb.matmul(&a)?,
        };
        let dx = (g.matmul(&self.w)? + dx_update)?;
        let da = gb.t()?.matmul(&xin)?;
        let db = (g.t()?.matmul(&xin.matmul(&a.t()?)?)? * self.factor)?;
        Ok((Some(dx), Some(da), Some(db)))
    }
}

/// A frozen projection with an optional trainable adapter.
#[derive(Debug)]
struct Linear {
    /// `(out, in)`, frozen.
    w: Tensor,
    lora: Option<LoraVars>,
}

impl Linear {
    /// `dropout` is `(p, seed)` in training mode: the mask is drawn from `seed`, so the
    /// recomputation of a checkpointed layer sees the same mask as its first forward pass.
    fn forward(
        &self,
        x: &Tensor,
        mode: Mode,
        factor: f64,
        dropout: Option<(f32, u64)>,
    ) -> Result<Tensor> {
        match &self.lora {
            Some(l) if mode.lora => {
                let op = LoraMatmul {
                    w: self.w.clone(),
                    factor,
                    dropout: dropout.filter(|&(p, _)| mode.train && p > 0.0),
                };
                Ok(x.contiguous()?
                    .apply_op3(l.a.as_tensor(), l.b.as_tensor(), op)?)
            }
            _ => frozen_matmul(x, &self.w),
        }
    }
}

/// Inverted dropout's mask for `x`: 0 with probability `p`, else `1 / (1 - p)`. Element `i`
/// draws `mix(seed, i)`, a hash rather than a stream cipher: masks are drawn for every
/// projection of every layer on every pass, and a cryptographic generator showed up in
/// profiles.
fn dropout_mask(x: &Tensor, p: f32, seed: u64) -> candle_core::Result<Tensor> {
    let keep = 1.0 / (1.0 - p);
    // The top 24 bits as a uniform float in [0, 1).
    let threshold = (f64::from(p) * f64::from(1u32 << 24)) as u64;
    let mask: Vec<f32> = (0..x.elem_count() as u64)
        .map(|i| {
            if mix(seed, i) >> 40 < threshold {
                0.0
            } else {
                keep
            }
        })
        .collect();
    Tensor::from_vec(mask, x.shape(), x.device())
}

/// A well-mixed seed for one projection's dropout mask in one layer (splitmix64).
fn mix(seed: u64, salt: u64) -> u64 {
    let mut z = seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[derive(Debug)]
struct Block {
    attn_norm: Tensor,
    ffn_norm: Tensor,
    /// In [`Projection::ALL`] order.
    proj: Vec<Linear>,
}

impl Block {
    fn lin(&self, p: Projection) -> &Linear {
        let i = Projection::ALL.iter().position(|&q| q == p).unwrap_or(0);
        &self.proj[i]
    }
}

/// How to run a forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode {
    /// Apply the adapter (`false` is the DPO reference model: no second copy needed).
    pub lora: bool,
    /// Training mode (LoRA dropout active).
    pub train: bool,
}

impl Mode {
    /// Policy in training mode.
    pub const TRAIN: Mode = Mode {
        lora: true,
        train: true,
    };
    /// Policy without dropout.
    pub const EVAL: Mode = Mode {
        lora: true,
        train: false,
    };
    /// The base model (adapter off).
    pub const REFERENCE: Mode = Mode {
        lora: false,
        train: false,
    };
}

/// A llama model with frozen f32 base weights and trainable LoRA variables.
#[derive(Debug)]
pub struct TrainableLlama {
    cfg: LlamaConfig,
    lora_cfg: LoraConfig,
    embed: Tensor,
    head: Tensor,
    norm: Tensor,
    blocks: Vec<Block>,
    cos: Tensor,
    sin: Tensor,
}

impl TrainableLlama {
    /// Reads and dequantizes the weights of the llama GGUF at `path` (whose hyper-parameters
    /// `cfg` the embedded crate has already read and validated) and creates fresh adapters:
    /// `A` uniform in `±1/sqrt(in)` (PEFT's Kaiming-uniform default), `B = 0`, so training
    /// starts exactly at the base model.
    pub fn load(path: &Path, cfg: &LlamaConfig, lora: &LoraConfig) -> Result<Self> {
        lora.validate()?;
        let mut file = std::fs::File::open(path).map_err(|e| TrainError::io(path, e))?;
        let content = Content::read(&mut file)?;
        let dev = Device::Cpu;
        let mut get = |name: &str| -> Result<Tensor> {
            Ok(content
                .tensor(&mut file, name, &dev)?
                .dequantize(&dev)?
                .to_dtype(DType::F32)?)
        };
        let embed = get("token_embd.weight")?;
        let head = if content.tensor_infos.contains_key("output.weight") {
            get("output.weight")?
        } else {
            embed.clone()
        };
        let norm = get("output_norm.weight")?;
        let mut rng = StdRng::seed_from_u64(lora.seed);
        let mut blocks = Vec::with_capacity(cfg.n_layer);
        for i in 0..cfg.n_layer {
            let mut proj = Vec::with_capacity(7);
            for p in Projection::ALL {
                let w = get(&format!("blk.{i}.{}.weight", p.gguf_name()))?;
                let (out, inp) = p.dims(cfg);
                if w.dims() != [out, inp] {
                    return Err(TrainError::Config(format!(
                        "blk.{i}.{} has shape {:?}, expected {:?}",
                        p.gguf_name(),
                        w.dims(),
                        [out, inp]
                    )));
                }
                let lora_vars = if lora.targets.contains(&p) {
                    let bound = 1.0 / (inp as f32).sqrt();
                    let a: Vec<f32> = (0..lora.rank * inp)
                        .map(|_| rng.random_range(-bound..bound))
                        .collect();
                    Some(LoraVars {
                        a: Var::from_tensor(&Tensor::from_vec(a, (lora.rank, inp), &dev)?)?,
                        b: Var::zeros((out, lora.rank), DType::F32, &dev)?,
                    })
                } else {
                    None
                };
                proj.push(Linear { w, lora: lora_vars });
            }
            blocks.push(Block {
                attn_norm: get(&format!("blk.{i}.attn_norm.weight"))?,
                ffn_norm: get(&format!("blk.{i}.ffn_norm.weight"))?,
                proj,
            });
        }
        let (cos, sin) = rope_tables(cfg)?;
        Ok(Self {
            cfg: cfg.clone(),
            lora_cfg: lora.clone(),
            embed,
            head,
            norm,
            blocks,
            cos,
            sin,
        })
    }

    /// Loads the base like [`TrainableLlama::load`] with `adapter`'s rank, alpha and targets,
    /// and its trained matrices as the starting values (to evaluate a saved adapter, or to
    /// continue training it).
    pub fn load_with_adapter(
        path: &Path,
        cfg: &LlamaConfig,
        adapter: &LoraAdapter,
    ) -> Result<Self> {
        if adapter.use_rslora {
            return Err(TrainError::Config(format!(
                "{}: rsLoRA adapters are not supported by the trainer",
                adapter.dir.display()
            )));
        }
        let lora = LoraConfig {
            rank: adapter.r,
            alpha: adapter.alpha,
            dropout: 0.0,
            targets: adapter.targets(),
            seed: 0,
        };
        let model = Self::load(path, cfg, &lora)?;
        for (layer, proj, vars) in model.lora_vars() {
            if let Some((a, b)) = adapter.matrices(layer, proj) {
                vars.a.set(a)?;
                vars.b.set(b)?;
            }
        }
        Ok(model)
    }

    /// Model hyper-parameters.
    pub fn config(&self) -> &LlamaConfig {
        &self.cfg
    }

    /// The adapter's configuration.
    pub fn lora_config(&self) -> &LoraConfig {
        &self.lora_cfg
    }

    /// Every adapted projection's variables, by layer, in [`Projection::ALL`] order.
    pub fn lora_vars(&self) -> Vec<(usize, Projection, &LoraVars)> {
        let mut out = Vec::new();
        for (i, b) in self.blocks.iter().enumerate() {
            for p in Projection::ALL {
                if let Some(l) = &b.lin(p).lora {
                    out.push((i, p, l));
                }
            }
        }
        out
    }

    /// Adds `delta` (GGUF row order, `(out, in)`) to the frozen weight of one projection:
    /// folding a finished adapter into the base, so the next adapter trains on top of it and
    /// the reference ([`Mode::REFERENCE`]) is the folded model.
    pub(crate) fn add_to_base(
        &mut self,
        layer: usize,
        proj: Projection,
        delta: &Tensor,
    ) -> Result<()> {
        let i = Projection::ALL.iter().position(|&q| q == proj).unwrap_or(0);
        let block = self.blocks.get_mut(layer).ok_or_else(|| {
            TrainError::Config(format!("the model has no layer {layer} to fold into"))
        })?;
        let w = &mut block.proj[i].w;
        if w.dims() != delta.dims() {
            return Err(TrainError::Config(format!(
                "layer {layer} {}: adapter update {:?} does not fit weight {:?}",
                proj.hf_name(),
                delta.dims(),
                w.dims()
            )));
        }
        *w = (&*w + delta)?;
        Ok(())
    }

    /// All trainable variables (for the optimizer).
    pub fn vars(&self) -> Vec<Var> {
        self.lora_vars()
            .into_iter()
            .flat_map(|(_, _, l)| [l.a.clone(), l.b.clone()])
            .collect()
    }

    /// Bytes the autograd graph of one block holds for a sequence of `seq` tokens: per token,
    /// the outputs of the projections, norms, RoPE and the MLP (about `12 · n_embd +
    /// 3 · n_ff` floats, fitted to the measured peak: 1.3 GB for SmolLM2's 30 blocks at about
    /// 500 tokens), plus the scores and probabilities, `2 · heads · seq²`, which dominate long
    /// sequences.
    pub(crate) fn block_graph_bytes(&self, seq: usize) -> usize {
        let c = &self.cfg;
        let per_token = 12 * c.n_embd + 2 * c.n_kv_head * c.head_dim + 3 * c.n_ff;
        4 * (per_token * seq + 2 * c.n_head * seq * seq)
    }

    /// Number of transformer blocks.
    pub fn n_layers(&self) -> usize {
        self.blocks.len()
    }

    /// Logits `(seq, vocab)` of every position of `tokens` (a full causal pass, no cache).
    pub fn forward(&self, tokens: &[u32], mode: Mode) -> Result<Tensor> {
        let mut x = self.embed(tokens)?;
        for layer in 0..self.blocks.len() {
            x = self.block_forward(layer, &x, mode, 0)?;
        }
        frozen_matmul(&self.rms_norm(&x, &self.norm)?, &self.head)
    }

    /// The embeddings `(seq, n_embd)` of `tokens`, after checking them against the model.
    pub(crate) fn embed(&self, tokens: &[u32]) -> Result<Tensor> {
        let seq = tokens.len();
        if seq == 0 {
            return Err(TrainError::Config("forward pass over no tokens".into()));
        }
        if seq > self.cfg.context_length {
            return Err(TrainError::Config(format!(
                "{seq} tokens exceed the model's context length {}",
                self.cfg.context_length
            )));
        }
        if let Some(bad) = tokens.iter().find(|&&t| t as usize >= self.cfg.vocab_size) {
            return Err(TrainError::Config(format!(
                "token id {bad} is outside the vocabulary ({})",
                self.cfg.vocab_size
            )));
        }
        let ids = Tensor::new(tokens, &Device::Cpu)?;
        Ok(self.embed.index_select(&ids, 0)?)
    }

    /// `log p(target)` at the given positions of the last hidden state `x` `(seq, n_embd)`:
    /// the final norm and the output head run only on those rows, since a vocabulary-wide
    /// row per position is most of the memory and a fifth of the FLOPs of a pass, and only
    /// the trained positions need one.
    pub(crate) fn target_logps(
        &self,
        x: &Tensor,
        positions: &Tensor,
        targets: &Tensor,
    ) -> Result<Tensor> {
        let x = x.index_select(positions, 0)?;
        let x = self.rms_norm(&x, &self.norm)?;
        crate::loss::token_logps(&frozen_matmul(&x, &self.head)?, targets)
    }

    fn rms_norm(&self, x: &Tensor, weight: &Tensor) -> Result<Tensor> {
        let op = RmsNorm {
            weight: weight.clone(),
            eps: f64::from(self.cfg.rms_eps),
        };
        Ok(x.contiguous()?.apply_op1(op)?)
    }

    /// Block `layer` applied to `x` `(seq, n_embd)`; `seed` draws its dropout masks.
    pub(crate) fn block_forward(
        &self,
        layer: usize,
        x: &Tensor,
        mode: Mode,
        seed: u64,
    ) -> Result<Tensor> {
        let b = self
            .blocks
            .get(layer)
            .ok_or_else(|| TrainError::Config(format!("the model has no layer {layer}")))?;
        let cfg = &self.cfg;
        let f = self.lora_cfg.factor();
        let lin = |p: Projection, h: &Tensor| {
            let salt = (layer * Projection::ALL.len()) as u64 + p as u64;
            b.lin(p)
                .forward(h, mode, f, Some((self.lora_cfg.dropout, mix(seed, salt))))
        };
        let seq = x.dim(0)?;
        let cos = self.cos.narrow(0, 0, seq)?;
        let sin = self.sin.narrow(0, 0, seq)?;
        let hd = cfg.head_dim;
        let heads = |t: Tensor, n: usize| -> Result<Tensor> {
            Ok(t.reshape((seq, n, hd))?
                .transpose(0, 1)?
                .contiguous()?
                .unsqueeze(0)?)
        };
        let h = self.rms_norm(x, &b.attn_norm)?;
        let q = heads(lin(Projection::Q, &h)?, cfg.n_head)?;
        let k = heads(lin(Projection::K, &h)?, cfg.n_kv_head)?;
        let v = heads(lin(Projection::V, &h)?, cfg.n_kv_head)?;
        let rope = Rope::new(&cos, &sin)?;
        let q = q.apply_op1(rope.clone())?;
        let k = k.apply_op1(rope)?;
        let group = cfg.n_head / cfg.n_kv_head;
        let repeat = |t: Tensor| -> Result<Tensor> {
            if group == 1 {
                return Ok(t);
            }
            Ok(t.unsqueeze(2)?
                .broadcast_as((1, cfg.n_kv_head, group, seq, hd))?
                .reshape((1, cfg.n_head, seq, hd))?)
        };
        let (k, v) = (repeat(k)?, repeat(v)?);
        let probs = q.matmul(&k.t()?)?.contiguous()?.apply_op1(CausalSoftmax {
            scale: 1.0 / (hd as f32).sqrt(),
        })?;
        let attn = probs
            .matmul(&v)?
            .squeeze(0)?
            .transpose(0, 1)?
            .reshape((seq, cfg.n_embd))?;
        let x = (x + lin(Projection::O, &attn)?)?;
        let h = self.rms_norm(&x, &b.ffn_norm)?;
        let gate = lin(Projection::Gate, &h)?.silu()?;
        let up = lin(Projection::Up, &h)?;
        Ok((&x + lin(Projection::Down, &(gate * up)?)?)?)
    }
}

/// The same tables as the embedded model (`pos · theta^(-2i/hd)`, computed in f64).
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
    Ok((
        Tensor::from_vec(cos, (n, half), &Device::Cpu)?,
        Tensor::from_vec(sin, (n, half), &Device::Cpu)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uniform(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n).map(|_| rng.random_range(-2.0..2.0)).collect()
    }

    /// The fused LoRA projection gives the composed ops' values and the gradients of its
    /// input and of both adapter matrices, dropout included.
    #[test]
    fn lora_matmul_matches_composed_ops_and_their_gradients() {
        let dev = Device::Cpu;
        let (seq, inp, out, r) = (5, 6, 4, 2);
        let var = |dims: (usize, usize), seed| {
            Var::from_vec(uniform(dims.0 * dims.1, seed), dims, &dev).unwrap()
        };
        let (x, a, b) = (var((seq, inp), 1), var((r, inp), 2), var((out, r), 3));
        let w = Tensor::from_vec(uniform(out * inp, 4), (out, inp), &dev).unwrap();
        let weights = Tensor::from_vec(uniform(seq * out, 5), (seq, out), &dev).unwrap();
        let (factor, p, seed) = (1.5, 0.3, 9);
        let op = LoraMatmul {
            w: w.clone(),
            factor,
            dropout: Some((p, seed)),
        };
        let fused = x.apply_op3(&a, &b, op).unwrap();
        let dropped = (x.as_tensor() * dropout_mask(&x, p, seed).unwrap()).unwrap();
        let update = dropped.matmul(&a.t().unwrap()).unwrap();
        let update = (update.matmul(&b.t().unwrap()).unwrap() * factor).unwrap();
        let composed = (x.matmul(&w.t().unwrap()).unwrap() + update).unwrap();
        let max_diff = |p: &Tensor, q: &Tensor| {
            let d = (p - q).unwrap().abs().unwrap().max_all().unwrap();
            d.to_scalar::<f32>().unwrap()
        };
        assert!(max_diff(&fused, &composed) < 1e-5);
        let grads = |t: &Tensor| {
            (t * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap()
        };
        let (ours, reference) = (grads(&fused), grads(&composed));
        for v in [&x, &a, &b] {
            let (g, want) = (ours.get(v).unwrap(), reference.get(v).unwrap());
            assert!(max_diff(g, want) < 1e-5, "{:?}", v.dims());
        }
    }

    /// The hashed mask drops `p` of the elements, scales the rest by `1 / (1 - p)`, is the
    /// same for the same seed and differs between seeds.
    #[test]
    fn dropout_mask_drops_p_and_keeps_the_mean() {
        let x = Tensor::zeros((400, 250), DType::F32, &Device::Cpu).unwrap();
        let mask = |seed| {
            dropout_mask(&x, 0.2, seed)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        let m = mask(3);
        let dropped = m.iter().filter(|&&v| v == 0.0).count() as f64 / m.len() as f64;
        let mean = m.iter().map(|&v| f64::from(v)).sum::<f64>() / m.len() as f64;
        assert!((dropped - 0.2).abs() < 0.005, "dropped {dropped}");
        assert!((mean - 1.0).abs() < 0.01, "mean {mean}");
        assert_eq!(m, mask(3));
        assert_ne!(m, mask(4));
    }

    /// The fused ops (softmax, frozen matmul, RMSNorm, RoPE) give the composed ops' values
    /// and input gradients.
    #[test]
    fn custom_ops_match_composed_ops_and_their_gradients() {
        let dev = Device::Cpu;
        let data = uniform;
        let (heads, seq, scale) = (2, 5, 0.7f32);
        let s = Var::from_vec(data(heads * seq * seq, 1), (1, heads, seq, seq), &dev).unwrap();
        let w = Tensor::from_vec(data(heads * seq * seq, 2), s.shape(), &dev).unwrap();
        let mask: Vec<f32> = (0..seq * seq)
            .map(|k| {
                if k % seq > k / seq {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::from_vec(mask, (seq, seq), &dev).unwrap();
        let fused = s.apply_op1(CausalSoftmax { scale }).unwrap();
        let composed = candle_nn::ops::softmax(
            &(s.as_tensor() * f64::from(scale))
                .unwrap()
                .broadcast_add(&mask)
                .unwrap(),
            D::Minus1,
        )
        .unwrap();
        let x = Var::from_vec(data(3 * 4, 3), (3, 4), &dev).unwrap();
        let m = Tensor::from_vec(data(6 * 4, 4), (6, 4), &dev).unwrap();
        let mw = Tensor::from_vec(data(3 * 6, 5), (3, 6), &dev).unwrap();
        let norm_w = Tensor::from_vec(data(4, 6), 4, &dev).unwrap();
        let norm = RmsNorm {
            weight: norm_w.clone(),
            eps: 1e-5,
        };
        let xw = Tensor::from_vec(data(3 * 4, 7), (3, 4), &dev).unwrap();
        let q = Var::from_vec(data(2 * 5 * 4, 8), (1, 2, 5, 4), &dev).unwrap();
        let angles: Vec<f32> = data(5 * 2, 9);
        let cos = Tensor::from_vec(angles.iter().map(|a| a.cos()).collect(), (5, 2), &dev);
        let sin = Tensor::from_vec(angles.iter().map(|a| a.sin()).collect(), (5, 2), &dev);
        let (cos, sin) = (cos.unwrap(), sin.unwrap());
        let qw = Tensor::from_vec(data(2 * 5 * 4, 10), (1, 2, 5, 4), &dev).unwrap();
        let pairs = [
            (fused, composed, s.as_tensor().clone(), w),
            (
                frozen_matmul(x.as_tensor(), &m).unwrap(),
                x.matmul(&m.t().unwrap()).unwrap(),
                x.as_tensor().clone(),
                mw,
            ),
            (
                x.apply_op1(norm).unwrap(),
                candle_nn::ops::rms_norm_slow(&x, &norm_w, 1e-5).unwrap(),
                x.as_tensor().clone(),
                xw,
            ),
            (
                q.apply_op1(Rope::new(&cos, &sin).unwrap()).unwrap(),
                candle_nn::rotary_emb::rope_i_slow(&q, &cos, &sin).unwrap(),
                q.as_tensor().clone(),
                qw,
            ),
        ];
        for (ours, reference, input, weights) in pairs {
            let diff = (&ours - &reference).unwrap().abs().unwrap();
            assert!(diff.max_all().unwrap().to_scalar::<f32>().unwrap() < 1e-5);
            let grad = |t: &Tensor| {
                let g = (t * &weights)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap();
                g.get(&input).unwrap().clone()
            };
            let diff = (grad(&ours) - grad(&reference)).unwrap().abs().unwrap();
            assert!(diff.max_all().unwrap().to_scalar::<f32>().unwrap() < 1e-5);
        }
    }
}
