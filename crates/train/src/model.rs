//! A differentiable llama forward pass for LoRA training.
//!
//! The embedded crate's inference model runs quantized matmuls and fused kernels, none of
//! which have a backward pass in candle (gradients would silently stop or fail). Here the
//! base weights are dequantized once to f32 plain `Tensor`s, so they are frozen for free, and
//! only the LoRA `A`/`B` matrices are `Var`s. The projections, RMSNorm, RoPE and attention
//! are custom ops with hand-written backward passes (each tested against candle's composed,
//! differentiable ops): they keep far less for the backward pass and skip the frozen
//! weights' gradients. Training runs the same functions through the `block` module's
//! hand-written block passes, which skip autograd's per-gradient buffers; the autograd path
//! ([`TrainableLlama::forward`], [`crate::sequence_logp`]) is the reference they are tested
//! against.
//!
//! Weights stay in GGUF layout (Q/K rows permuted for interleaved RoPE), exactly as the
//! embedded model runs them, so a freshly initialised adapter (B = 0) reproduces its logits.
//! The conversion to Hugging Face row order happens only when saving ([`crate::peft`]).

mod block;

use crate::attention::{CausalAttention, exp_nonpositive};
use crate::error::{Result, TrainError};
use crate::matmul::{Product, View, elements, slice, with_elements};
use apprentice_embedded::{LlamaConfig, LoraAdapter, Projection};
pub(crate) use block::BlockActivations;
use candle_core::quantized::gguf_file::Content;
use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, CustomOp3, D, DType, Device, Layout, Shape, Tensor, Var,
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use rayon::prelude::*;
use std::borrow::Cow;
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
        let (seq, _) = layout.shape().dims2()?;
        let y = project(slice(storage, layout)?, seq, &self.0)?;
        Ok((CpuStorage::F32(y), Shape::from((seq, self.0.dim(0)?))))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let dx = project_back(&elements(grad)?, x.dim(0)?, &self.0)?;
        Ok(Some(Tensor::from_vec(dx, x.shape(), x.device())?))
    }
}

/// `x · Wᵀ` `(seq, out)` for the rows of `x` `(seq, in)` and a frozen `W` `(out, in)`.
fn project(x: &[f32], seq: usize, w: &Tensor) -> candle_core::Result<Vec<f32>> {
    let mut y = vec![0.0; seq * w.dim(0)?];
    frozen_product(&mut y, x, seq, w, false, false)?;
    Ok(y)
}

/// `g · W` `(seq, in)`: the input's gradient of [`project`] from the output's `g`.
fn project_back(g: &[f32], seq: usize, w: &Tensor) -> candle_core::Result<Vec<f32>> {
    let mut dx = vec![0.0; seq * w.dim(1)?];
    frozen_product(&mut dx, g, seq, w, true, false)?;
    Ok(dx)
}

/// `dst ← [dst +] rows · Wᵀ`, or `rows · W` when `back`, on `seq` rows.
fn frozen_product(
    dst: &mut [f32],
    rows: &[f32],
    seq: usize,
    w: &Tensor,
    back: bool,
    accumulate: bool,
) -> candle_core::Result<()> {
    let (out, inp) = w.dims2()?;
    let (from, to) = if back { (out, inp) } else { (inp, out) };
    if rows.len() != seq * from || dst.len() != seq * to {
        return Err(candle_core::Error::Msg(format!(
            "{} floats into {} are not {seq} rows of {from} into {to} for a {out}×{inp} weight",
            rows.len(),
            dst.len()
        )));
    }
    with_elements(w, |w| {
        let w = if back {
            View::rows(w, inp)
        } else {
            View::transposed(w, inp)
        };
        let product = Product::new(seq, to, from).threaded();
        let product = if accumulate {
            product.accumulating()
        } else {
            product
        };
        product.run(dst, to, View::rows(rows, from), w);
        Ok(())
    })
}

/// RMSNorm over the last dimension with a frozen weight, as one op.
///
/// candle's composed norm keeps five `(seq, n_embd)` intermediates per norm for the backward
/// pass; this keeps none, and its backward is the closed form
/// `dx = r · (g ⊙ w) − x · r³ · Σ(g ⊙ w ⊙ x) / n` with `r = 1 / rms(x)`.
#[derive(Debug, Clone)]
struct RmsNorm {
    weight: Tensor,
    eps: f32,
}

/// Rows per parallel task of the row-wise ops.
const ROWS_PER_TASK: usize = 16;

impl RmsNorm {
    /// `1 / sqrt(mean(x²) + eps)` of one row.
    fn inverse_rms(&self, row: &[f32]) -> f32 {
        let mean = row.iter().map(|v| v * v).sum::<f32>() / row.len() as f32;
        1.0 / (mean + self.eps).sqrt()
    }

    /// The normalised rows of `x`.
    fn normalize(&self, x: &[f32]) -> candle_core::Result<Vec<f32>> {
        let w = elements(&self.weight)?;
        let mut y = vec![0.0; x.len()];
        y.par_chunks_mut(w.len())
            .zip(x.par_chunks(w.len()))
            .with_min_len(ROWS_PER_TASK)
            .for_each(|(y, x)| {
                let r = self.inverse_rms(x);
                for ((y, x), w) in y.iter_mut().zip(x).zip(&w) {
                    *y = x * r * w;
                }
            });
        Ok(y)
    }

    /// The input's gradient from the output's `g`.
    fn backward(&self, x: &[f32], g: &[f32]) -> candle_core::Result<Vec<f32>> {
        let w = elements(&self.weight)?;
        let n = w.len() as f32;
        let mut dx = vec![0.0; x.len()];
        dx.par_chunks_mut(w.len())
            .zip(x.par_chunks(w.len()).zip(g.par_chunks(w.len())))
            .with_min_len(ROWS_PER_TASK)
            .for_each(|(dx, (x, g))| {
                let r = self.inverse_rms(x);
                let dot: f32 = g.iter().zip(&w).zip(x).map(|((g, w), x)| g * w * x).sum();
                let slope = r * r * r * dot / n;
                for (((d, g), w), x) in dx.iter_mut().zip(g).zip(&w).zip(x) {
                    *d = r * g * w - x * slope;
                }
            });
        Ok(dx)
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
        let y = self.normalize(slice(storage, layout)?)?;
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, g: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let dx = self.backward(&elements(x)?, &elements(g)?)?;
        Ok(Some(Tensor::from_vec(dx, x.shape(), x.device())?))
    }
}

/// Interleaved rotary embedding (`rope_i`: pairs `(2i, 2i + 1)` rotated by `pos · θ_i`) of
/// the rows of a contiguous `(seq, heads · head_dim)` projection, as one op whose backward is
/// the inverse rotation. candle's differentiable version keeps about five copies of its input
/// and wants the heads split out first.
#[derive(Debug, Clone)]
struct Rope {
    /// `(seq, head_dim / 2)`.
    cos: Vec<f32>,
    sin: Vec<f32>,
    /// `head_dim / 2`.
    half: usize,
}

impl Rope {
    fn new(cos: &Tensor, sin: &Tensor) -> Result<Self> {
        Ok(Self {
            cos: cos.flatten_all()?.to_vec1()?,
            sin: sin.flatten_all()?.to_vec1()?,
            half: cos.dim(D::Minus1)?,
        })
    }

    /// Rotates every pair of `x`, `seq` rows of whole heads, by the angle of its row's
    /// position (`inverse`: by its negative, the backward pass).
    fn rotate(&self, x: &mut [f32], seq: usize, inverse: bool) {
        let sign = if inverse { -1.0 } else { 1.0 };
        let width = x.len() / seq.max(1);
        for (pos, row) in x.chunks_mut(width).enumerate() {
            let angles = pos * self.half..(pos + 1) * self.half;
            let (cos, sin) = (&self.cos[angles.clone()], &self.sin[angles]);
            for head in row.chunks_exact_mut(2 * self.half) {
                for ((pair, &c), &s) in head.chunks_exact_mut(2).zip(cos).zip(sin) {
                    let (a, b, s) = (pair[0], pair[1], sign * s);
                    pair[0] = a * c - b * s;
                    pair[1] = a * s + b * c;
                }
            }
        }
    }

    /// Checks that `len` floats are `seq` rows of whole heads at the table's positions.
    fn check(&self, len: usize, seq: usize) -> candle_core::Result<()> {
        if seq * self.half != self.cos.len() || !len.is_multiple_of(2 * self.half * seq.max(1)) {
            return Err(candle_core::Error::Msg(format!(
                "rope: {len} floats in {seq} rows do not fit tables of {} positions of {} pairs",
                self.cos.len() / self.half.max(1),
                self.half
            )));
        }
        Ok(())
    }

    fn rotated(&self, x: &[f32], seq: usize, inverse: bool) -> candle_core::Result<Vec<f32>> {
        self.check(x.len(), seq)?;
        let mut data = x.to_vec();
        self.rotate(&mut data, seq, inverse);
        Ok(data)
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
        let (seq, _) = layout.shape().dims2()?;
        let y = self.rotated(slice(storage, layout)?, seq, false)?;
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, g: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let dx = self.rotated(&elements(g)?, x.dim(0)?, true)?;
        Ok(Some(Tensor::from_vec(dx, x.shape(), x.device())?))
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
    /// The dropout mask of an input of `n` elements, if dropout is on.
    fn mask(&self, n: usize) -> Option<Vec<f32>> {
        self.dropout.map(|(p, seed)| dropout_mask(n, p, seed))
    }

    /// `(seq, in, r, out)` of `x` `(seq, in)`, `A` `(r, in)` and `B` `(out, r)`.
    fn dims(&self, x: &Shape, a: &Shape, b: &Shape) -> candle_core::Result<[usize; 4]> {
        let ((seq, inp), (r, a_in), (out, b_r)) = (x.dims2()?, a.dims2()?, b.dims2()?);
        if (a_in, b_r, (out, inp)) != (inp, r, self.w.dims2()?) {
            return Err(candle_core::Error::Msg(format!(
                "LoRA shapes do not fit: x {x:?}, A {a:?}, B {b:?}, W {:?}",
                self.w.dims()
            )));
        }
        Ok([seq, inp, r, out])
    }
}

/// `x ⊙ mask`, or `x` itself without dropout.
fn dropped<'a>(x: &'a [f32], mask: Option<&[f32]>) -> Cow<'a, [f32]> {
    match mask {
        Some(m) => Cow::Owned(x.iter().zip(m).map(|(v, m)| v * m).collect()),
        None => Cow::Borrowed(x),
    }
}

impl LoraMatmul {
    /// `x · Wᵀ + factor · (drop(x) · Aᵀ) · Bᵀ` over plain slices.
    fn apply(
        &self,
        x: &[f32],
        a: &[f32],
        b: &[f32],
        dims: [usize; 4],
    ) -> candle_core::Result<Vec<f32>> {
        let [seq, inp, r, out] = dims;
        let mut y = project(x, seq, &self.w)?;
        let xin = dropped(x, self.mask(x.len()).as_deref());
        // y += factor · (xin · Aᵀ) · Bᵀ
        let mut xa = vec![0.0; seq * r];
        Product::new(seq, r, inp)
            .scaled(self.factor as f32)
            .threaded()
            .run(&mut xa, r, View::rows(&xin, inp), View::transposed(a, inp));
        Product::new(seq, out, r).accumulating().threaded().run(
            &mut y,
            out,
            View::rows(&xa, r),
            View::transposed(b, r),
        );
        Ok(y)
    }

    /// The backward pass of [`Self::apply`] from the output's gradient `g`: writes the input's
    /// gradient into `dx` (adds it, when `accumulate`) and returns `(dA, dB)`.
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &self,
        x: &[f32],
        a: &[f32],
        b: &[f32],
        g: &[f32],
        dims: [usize; 4],
        dx: &mut [f32],
        accumulate: bool,
    ) -> candle_core::Result<(Vec<f32>, Vec<f32>)> {
        let [seq, inp, r, out] = dims;
        let mask = self.mask(x.len());
        let xin = dropped(x, mask.as_deref());
        let factor = self.factor as f32;
        // `gb` is the gradient at `factor · xin · Aᵀ`, scaled back through the factor.
        let mut gb = vec![0.0; seq * r];
        Product::new(seq, r, out).scaled(factor).threaded().run(
            &mut gb,
            r,
            View::rows(g, out),
            View::rows(b, r),
        );
        frozen_product(dx, g, seq, &self.w, true, accumulate)?;
        let through_a = Product::new(seq, inp, r).threaded();
        let (gb_rows, a_rows) = (View::rows(&gb, r), View::rows(a, inp));
        match &mask {
            Some(m) => {
                let mut update = vec![0.0; seq * inp];
                through_a.run(&mut update, inp, gb_rows, a_rows);
                for ((d, u), m) in dx.iter_mut().zip(update).zip(m) {
                    *d += u * m;
                }
            }
            None => through_a.accumulating().run(dx, inp, gb_rows, a_rows),
        }
        let mut da = vec![0.0; r * inp];
        Product::new(r, inp, seq).threaded().run(
            &mut da,
            inp,
            View::transposed(&gb, r),
            View::rows(&xin, inp),
        );
        let mut xa = vec![0.0; seq * r];
        Product::new(seq, r, inp).threaded().run(
            &mut xa,
            r,
            View::rows(&xin, inp),
            View::transposed(a, inp),
        );
        let mut db = vec![0.0; out * r];
        Product::new(out, r, seq).scaled(factor).threaded().run(
            &mut db,
            r,
            View::transposed(g, out),
            View::rows(&xa, r),
        );
        Ok((da, db))
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
        let dims = self.dims(l1.shape(), l2.shape(), l3.shape())?;
        let y = self.apply(slice(s1, l1)?, slice(s2, l2)?, slice(s3, l3)?, dims)?;
        Ok((CpuStorage::F32(y), Shape::from((dims[0], dims[3]))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        a: &Tensor,
        b: &Tensor,
        _y: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let dims = self.dims(x.shape(), a.shape(), b.shape())?;
        let [xs, a_data, b_data, g_data] = [x, a, b, g].map(elements);
        let (xs, a_data, b_data, g_data) = (xs?, a_data?, b_data?, g_data?);
        let mut dx = vec![0.0; xs.len()];
        let (da, db) = self.backward(&xs, &a_data, &b_data, &g_data, dims, &mut dx, false)?;
        let tensor = |data, like: &Tensor| Tensor::from_vec(data, like.shape(), like.device());
        Ok((
            Some(tensor(dx, x)?),
            Some(tensor(da, a)?),
            Some(tensor(db, b)?),
        ))
    }
}

/// `silu(gate) ⊙ up`, the MLP's gating, as one op over `(gate, up)`.
///
/// Composed from candle's ops it keeps `silu(gate)` and the product besides the inputs, and its
/// backward takes about six element-wise passes over `(seq, n_ff)`; here the graph keeps the
/// inputs and the backward is one parallel pass: with `s = σ(gate)`,
/// `d_up = g ⊙ gate ⊙ s` and `d_gate = g ⊙ up ⊙ s ⊙ (1 + gate ⊙ (1 − s))`.
#[derive(Debug, Clone, Copy)]
struct SwiGlu;

/// Elements per parallel task of the element-wise ops.
const ELEMENTWISE_CHUNK: usize = 16_384;

/// `σ(x)`, from `e^-|x|` so the exponential never overflows and the loops over it vectorise.
#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    let e = exp_nonpositive(-x.abs());
    if x >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    }
}

impl SwiGlu {
    fn apply(gate: &[f32], up: &[f32]) -> Vec<f32> {
        let mut y = vec![0.0; gate.len()];
        y.par_chunks_mut(ELEMENTWISE_CHUNK)
            .zip(gate.par_chunks(ELEMENTWISE_CHUNK))
            .zip(up.par_chunks(ELEMENTWISE_CHUNK))
            .for_each(|((y, gate), up)| {
                for ((y, &x), &u) in y.iter_mut().zip(gate).zip(up) {
                    *y = x * sigmoid(x) * u;
                }
            });
        y
    }

    /// `(d_gate, d_up)` from the output's gradient `g`.
    fn backward(gate: &[f32], up: &[f32], g: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let mut d_gate = vec![0.0; gate.len()];
        let mut d_up = vec![0.0; gate.len()];
        d_gate
            .par_chunks_mut(ELEMENTWISE_CHUNK)
            .zip(d_up.par_chunks_mut(ELEMENTWISE_CHUNK))
            .enumerate()
            .for_each(|(c, (d_gate, d_up))| {
                let at = c * ELEMENTWISE_CHUNK;
                for (i, (dg, du)) in d_gate.iter_mut().zip(d_up).enumerate() {
                    let (x, u, g) = (gate[at + i], up[at + i], g[at + i]);
                    let s = sigmoid(x);
                    *du = g * x * s;
                    *dg = g * u * s * (1.0 + x * (1.0 - s));
                }
            });
        (d_gate, d_up)
    }
}

impl CustomOp2 for SwiGlu {
    fn name(&self) -> &'static str {
        "swiglu"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        if l1.shape() != l2.shape() {
            return Err(candle_core::Error::Msg(format!(
                "swiglu: gate {:?} and up {:?} differ",
                l1.shape(),
                l2.shape()
            )));
        }
        let y = Self::apply(slice(s1, l1)?, slice(s2, l2)?);
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        gate: &Tensor,
        up: &Tensor,
        _y: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let [gate_data, up_data, g_data] = [gate, up, g].map(elements);
        let (d_gate, d_up) = Self::backward(&gate_data?, &up_data?, &g_data?);
        let tensor = |data, like: &Tensor| Tensor::from_vec(data, like.shape(), like.device());
        Ok((Some(tensor(d_gate, gate)?), Some(tensor(d_up, up)?)))
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
    /// The adapter and its op, when `mode` applies one. `dropout` is `(p, seed)`: the mask
    /// is drawn from `seed` (in training mode), so the recomputation of a checkpointed layer
    /// sees the same mask as its first forward pass.
    fn adapter(
        &self,
        mode: Mode,
        factor: f64,
        dropout: (f32, u64),
    ) -> Option<(&LoraVars, LoraMatmul)> {
        let lora = self.lora.as_ref().filter(|_| mode.lora)?;
        let op = LoraMatmul {
            w: self.w.clone(),
            factor,
            dropout: Some(dropout).filter(|&(p, _)| mode.train && p > 0.0),
        };
        Some((lora, op))
    }

    fn forward(&self, x: &Tensor, mode: Mode, factor: f64, dropout: (f32, u64)) -> Result<Tensor> {
        match self.adapter(mode, factor, dropout) {
            Some((l, op)) => Ok(x
                .contiguous()?
                .apply_op3(l.a.as_tensor(), l.b.as_tensor(), op)?),
            None => frozen_matmul(x, &self.w),
        }
    }
}

/// Inverted dropout's mask for an input of `n` elements: 0 with probability `p`, else
/// `1 / (1 - p)`. Masks are drawn for every projection of every layer on every pass (and
/// redrawn by its backward pass), so they must be cheap: each 64-bit hash `mix(seed, i)`
/// (not a stream cipher, which showed up in profiles) gives four elements 16 bits each, so
/// `p` is resolved to 1/65536.
fn dropout_mask(n: usize, p: f32, seed: u64) -> Vec<f32> {
    const CHUNK: usize = 4096;
    let draw = MaskDraw {
        seed,
        threshold: (f64::from(p) * 65536.0) as u64,
        keep: 1.0 / (1.0 - p),
    };
    let mut mask = vec![0.0; n];
    mask.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(c, chunk)| draw.fill(chunk, (c * CHUNK / MaskDraw::PER_HASH) as u64));
    mask
}

/// The draw of one dropout mask: element `i` is 0 where the 16 bits `i % 4` of the hash
/// `mix(seed, i / 4)` fall under `threshold`, else `keep`.
struct MaskDraw {
    seed: u64,
    threshold: u64,
    keep: f32,
}

impl MaskDraw {
    const PER_HASH: usize = 4;
    /// Hashes per straight-line batch: eight 64-bit lanes, one AVX-512 register.
    const BATCH: usize = 8;

    /// Fills `chunk`, whose first element is hash `first`'s first. The hashing is most of
    /// the cost of a mask, so it is batched to vectorise and, where the CPU has 64-bit vector
    /// multiplies (AVX-512DQ), compiled for them.
    fn fill(&self, chunk: &mut [f32], first: u64) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
        {
            // SAFETY: the CPU has the features the function is compiled for.
            return unsafe { self.fill_avx512(chunk, first) };
        }
        self.fill_batched(chunk, first);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn fill_avx512(&self, chunk: &mut [f32], first: u64) {
        self.fill_batched(chunk, first);
    }

    #[inline(always)]
    fn fill_batched(&self, chunk: &mut [f32], first: u64) {
        let mut batches = chunk.chunks_exact_mut(Self::PER_HASH * Self::BATCH);
        let mut next = first;
        for batch in &mut batches {
            let bits: [u64; Self::BATCH] = std::array::from_fn(|j| mix(self.seed, next + j as u64));
            for (i, m) in batch.iter_mut().enumerate() {
                *m = self.value(bits[i / Self::PER_HASH] >> (16 * (i % Self::PER_HASH)));
            }
            next += Self::BATCH as u64;
        }
        for (j, quad) in batches
            .into_remainder()
            .chunks_mut(Self::PER_HASH)
            .enumerate()
        {
            let bits = mix(self.seed, next + j as u64);
            for (k, m) in quad.iter_mut().enumerate() {
                *m = self.value(bits >> (16 * k));
            }
        }
    }

    /// The mask value of the low 16 bits of `bits`.
    #[inline(always)]
    fn value(&self, bits: u64) -> f32 {
        if bits & 0xffff < self.threshold {
            0.0
        } else {
            self.keep
        }
    }
}

/// A well-mixed seed for one projection's dropout mask in one layer (splitmix64).
#[inline(always)]
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

    /// Bytes one block keeps from its training forward pass for its backward pass
    /// ([`BlockActivations`]) on a sequence of `seq` tokens: per token, the block's input, the
    /// norms' outputs, `q`, `k`, `v`, the attention output, the residual after it, and `gate`
    /// and `up` (`6 · n_embd + 2 · kv_dim + 2 · n_ff` floats). Attention keeps no `seq²`
    /// scores (see [`CausalAttention`]), so this grows linearly with the sequence.
    pub(crate) fn block_graph_bytes(&self, seq: usize) -> usize {
        let c = &self.cfg;
        let per_token =
            BlockActivations::floats_per_token(c.n_embd, c.n_kv_head * c.head_dim, c.n_ff);
        4 * per_token * seq
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
        Ok(x.contiguous()?.apply_op1(self.norm(weight))?)
    }

    /// Block `layer` applied to `x` `(seq, n_embd)`; `seed` draws its dropout masks.
    pub(crate) fn block_forward(
        &self,
        layer: usize,
        x: &Tensor,
        mode: Mode,
        seed: u64,
    ) -> Result<Tensor> {
        let b = self.block(layer)?;
        let lin = |p: Projection, h: &Tensor| {
            let dropout = self.dropout(layer, p, seed);
            b.lin(p).forward(h, mode, self.lora_cfg.factor(), dropout)
        };
        let rope = self.rope(x.dim(0)?)?;
        let h = self.rms_norm(x, &b.attn_norm)?;
        let q = lin(Projection::Q, &h)?.apply_op1(rope.clone())?;
        let k = lin(Projection::K, &h)?.apply_op1(rope)?;
        let v = lin(Projection::V, &h)?;
        let attn = q.apply_op3(&k, &v, self.attention())?;
        let x = (x + lin(Projection::O, &attn)?)?;
        let h = self.rms_norm(&x, &b.ffn_norm)?;
        let gated = lin(Projection::Gate, &h)?.apply_op2(&lin(Projection::Up, &h)?, SwiGlu)?;
        Ok((&x + lin(Projection::Down, &gated)?)?)
    }

    fn block(&self, layer: usize) -> Result<&Block> {
        self.blocks
            .get(layer)
            .ok_or_else(|| TrainError::Config(format!("the model has no layer {layer}")))
    }

    /// The dropout `(p, seed)` of projection `p` of block `layer` in the pass seeded `seed`.
    fn dropout(&self, layer: usize, p: Projection, seed: u64) -> (f32, u64) {
        let salt = (layer * Projection::ALL.len()) as u64 + p as u64;
        (self.lora_cfg.dropout, mix(seed, salt))
    }

    /// The rotary embedding of the first `seq` positions.
    fn rope(&self, seq: usize) -> Result<Rope> {
        Rope::new(&self.cos.narrow(0, 0, seq)?, &self.sin.narrow(0, 0, seq)?)
    }

    fn attention(&self) -> CausalAttention {
        CausalAttention {
            heads: self.cfg.n_head,
            kv_heads: self.cfg.n_kv_head,
            head_dim: self.cfg.head_dim,
        }
    }

    fn norm(&self, weight: &Tensor) -> RmsNorm {
        RmsNorm {
            weight: weight.clone(),
            eps: self.cfg.rms_eps,
        }
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
    use crate::op_testing::assert_matches;

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
        let mask = Tensor::from_vec(dropout_mask(seq * inp, p, seed), (seq, inp), &dev).unwrap();
        let dropped = (x.as_tensor() * mask).unwrap();
        let update = dropped.matmul(&a.t().unwrap()).unwrap();
        let update = (update.matmul(&b.t().unwrap()).unwrap() * factor).unwrap();
        let composed = (x.matmul(&w.t().unwrap()).unwrap() + update).unwrap();
        let inputs = [x.as_tensor(), a.as_tensor(), b.as_tensor()];
        assert_matches(&fused, &composed, &weights, &inputs, 1e-5);
    }

    /// The fused gating gives `silu(gate) ⊙ up` and the gradients of both inputs.
    #[test]
    fn swiglu_matches_composed_ops_and_their_gradients() {
        let dev = Device::Cpu;
        let var = |seed| Var::from_vec(uniform(6 * 5, seed), (6, 5), &dev).unwrap();
        let (gate, up) = (var(1), var(2));
        let weights = var(3).as_tensor().clone();
        let fused = gate.apply_op2(&up, SwiGlu).unwrap();
        let composed = (gate.silu().unwrap() * up.as_tensor()).unwrap();
        let inputs = [gate.as_tensor(), up.as_tensor()];
        assert_matches(&fused, &composed, &weights, &inputs, 1e-5);
    }

    /// The hashed mask drops `p` of the elements, scales the rest by `1 / (1 - p)`, is the
    /// same for the same seed and differs between seeds.
    #[test]
    fn dropout_mask_drops_p_and_keeps_the_mean() {
        let mask = |seed| dropout_mask(400 * 250 + 7, 0.2, seed);
        let m = mask(3);
        for (i, &v) in m.iter().enumerate() {
            let bits = (mix(3, (i / 4) as u64) >> (16 * (i % 4))) & 0xffff;
            assert_eq!(v == 0.0, bits < (0.2f64 * 65536.0) as u64, "element {i}");
        }
        let dropped = m.iter().filter(|&&v| v == 0.0).count() as f64 / m.len() as f64;
        let mean = m.iter().map(|&v| f64::from(v)).sum::<f64>() / m.len() as f64;
        assert!((dropped - 0.2).abs() < 0.005, "dropped {dropped}");
        assert!((mean - 1.0).abs() < 0.01, "mean {mean}");
        assert_eq!(m, mask(3));
        assert_ne!(m, mask(4));
    }

    /// The fused ops (frozen matmul, RMSNorm, RoPE) give the composed ops' values and input
    /// gradients.
    #[test]
    fn custom_ops_match_composed_ops_and_their_gradients() {
        let dev = Device::Cpu;
        let data = uniform;
        let x = Var::from_vec(data(3 * 4, 3), (3, 4), &dev).unwrap();
        let m = Tensor::from_vec(data(6 * 4, 4), (6, 4), &dev).unwrap();
        let mw = Tensor::from_vec(data(3 * 6, 5), (3, 6), &dev).unwrap();
        let norm_w = Tensor::from_vec(data(4, 6), 4, &dev).unwrap();
        let norm = RmsNorm {
            weight: norm_w.clone(),
            eps: 1e-5,
        };
        let xw = Tensor::from_vec(data(3 * 4, 7), (3, 4), &dev).unwrap();
        // Two heads of four over five positions, in the projections' row layout.
        let q = Var::from_vec(data(5 * 2 * 4, 8), (5, 2 * 4), &dev).unwrap();
        let heads_split = |t: &Tensor| {
            let t = t.reshape((5, 2, 4)).unwrap().transpose(0, 1).unwrap();
            t.contiguous().unwrap().unsqueeze(0).unwrap()
        };
        let heads_merged = |t: Tensor| {
            let t = t.squeeze(0).unwrap().transpose(0, 1).unwrap();
            t.reshape((5, 2 * 4)).unwrap()
        };
        let angles: Vec<f32> = data(5 * 2, 9);
        let cos = Tensor::from_vec(angles.iter().map(|a| a.cos()).collect(), (5, 2), &dev);
        let sin = Tensor::from_vec(angles.iter().map(|a| a.sin()).collect(), (5, 2), &dev);
        let (cos, sin) = (cos.unwrap(), sin.unwrap());
        let qw = Tensor::from_vec(data(5 * 2 * 4, 10), (5, 2 * 4), &dev).unwrap();
        let pairs = [
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
                heads_merged(
                    candle_nn::rotary_emb::rope_i_slow(&heads_split(&q), &cos, &sin).unwrap(),
                ),
                q.as_tensor().clone(),
                qw,
            ),
        ];
        for (ours, reference, input, weights) in pairs {
            assert_matches(&ours, &reference, &weights, &[&input], 1e-5);
        }
    }
}
