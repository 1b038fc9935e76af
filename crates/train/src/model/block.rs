//! A transformer block's training passes, written out over plain slices.
//!
//! candle's autograd (the [`TrainableLlama::block_forward`] path) gives every gradient that
//! flows into a tensor a zeroed buffer and a parallel add: about twenty `(seq, n_embd..n_ff)`
//! memsets and adds per block, each of which also wakes candle's element-wise worker pool,
//! which then spins beside the matrix products for a while. Here the backward pass is the
//! chain rule in order: the gradients that several consumers feed (the normed input of
//! `q`/`k`/`v` and of `gate`/`up`) are accumulated by the products that make them, and
//! the residual stream's by one add. The ops are the same functions the custom ops run, and
//! `checkpointing`'s tests compare the result with candle's autograd through those ops.

use super::{Block, LoraVars, Mode, Rope, SwiGlu, TrainableLlama, frozen_product, project};
use crate::attention::CausalAttention;
use crate::error::{Result, TrainError};
use crate::matmul::elements;
use apprentice_embedded::Projection;
use candle_core::backprop::GradStore;
use candle_core::{Device, Shape, Tensor};

/// What a block's backward pass reads from its forward pass, all row-major with `seq` rows.
pub(crate) struct BlockActivations {
    x: Vec<f32>,
    /// `norm(x)`, the input of `q`, `k`, `v`.
    h: Vec<f32>,
    /// `q` and `k` after RoPE.
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    attn: Vec<f32>,
    /// `x + o(attn)`.
    x2: Vec<f32>,
    /// `norm(x2)`, the input of `gate` and `up`.
    h2: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
}

impl BlockActivations {
    /// Floats kept per token (the block's input included).
    pub(crate) fn floats_per_token(n_embd: usize, kv_dim: usize, n_ff: usize) -> usize {
        6 * n_embd + 2 * kv_dim + 2 * n_ff
    }
}

/// One block in one pass: its weights, the mode and the dropout seed.
struct Pass<'a> {
    model: &'a TrainableLlama,
    block: &'a Block,
    layer: usize,
    mode: Mode,
    seed: u64,
    seq: usize,
}

impl<'a> Pass<'a> {
    fn new(
        model: &'a TrainableLlama,
        layer: usize,
        x: &[f32],
        mode: Mode,
        seed: u64,
    ) -> Result<Self> {
        let n_embd = model.cfg.n_embd;
        if x.is_empty() || !x.len().is_multiple_of(n_embd) {
            return Err(TrainError::Config(format!(
                "a block input of {} floats is not rows of {n_embd}",
                x.len()
            )));
        }
        Ok(Self {
            model,
            block: model.block(layer)?,
            layer,
            mode,
            seed,
            seq: x.len() / n_embd,
        })
    }

    /// The projection `p` of the rows `x`, with its adapter where the mode applies it.
    fn project(&self, p: Projection, x: &[f32]) -> Result<Vec<f32>> {
        let lin = self.block.lin(p);
        Ok(match self.adapter(p) {
            Some((vars, op)) => {
                let (a, b) = (elements(vars.a.as_tensor())?, elements(vars.b.as_tensor())?);
                op.apply(x, &a, &b, self.dims(&op, vars, x)?)?
            }
            None => project(x, self.seq, &lin.w)?,
        })
    }

    /// The backward pass of [`Self::project`]: the input's gradient into `dx` (added, when
    /// `accumulate`), the adapter's into `grads`.
    fn project_back(
        &self,
        p: Projection,
        x: &[f32],
        g: &[f32],
        dx: &mut [f32],
        accumulate: bool,
        grads: &mut GradStore,
    ) -> Result<()> {
        match self.adapter(p) {
            Some((vars, op)) => {
                let (a, b) = (elements(vars.a.as_tensor())?, elements(vars.b.as_tensor())?);
                let dims = self.dims(&op, vars, x)?;
                let (da, db) = op.backward(x, &a, &b, g, dims, dx, accumulate)?;
                for (var, grad) in [(&vars.a, da), (&vars.b, db)] {
                    let grad = Tensor::from_vec(grad, var.shape(), &Device::Cpu)?;
                    grads.insert(var.as_tensor(), grad);
                }
            }
            None => frozen_product(dx, g, self.seq, &self.block.lin(p).w, true, accumulate)?,
        }
        Ok(())
    }

    fn adapter(&self, p: Projection) -> Option<(&'a LoraVars, super::LoraMatmul)> {
        let dropout = self.model.dropout(self.layer, p, self.seed);
        let factor = self.model.lora_cfg.factor();
        self.block.lin(p).adapter(self.mode, factor, dropout)
    }

    fn dims(&self, op: &super::LoraMatmul, vars: &LoraVars, x: &[f32]) -> Result<[usize; 4]> {
        let x_shape = Shape::from((self.seq, x.len() / self.seq));
        Ok(op.dims(&x_shape, vars.a.shape(), vars.b.shape())?)
    }

    fn rope(&self) -> Result<Rope> {
        self.model.rope(self.seq)
    }

    fn attention(&self) -> CausalAttention {
        self.model.attention()
    }
}

/// `into += from`, element by element.
fn add_into(into: &mut [f32], from: &[f32]) {
    into.iter_mut().zip(from).for_each(|(a, b)| *a += b);
}

impl TrainableLlama {
    /// Block `layer` applied to the rows `x` `(seq, n_embd)`; `seed` draws its dropout masks.
    /// Returns the output and, when `keep`, what [`Self::block_backward`] needs.
    pub(crate) fn block_pass(
        &self,
        layer: usize,
        x: Vec<f32>,
        mode: Mode,
        seed: u64,
        keep: bool,
    ) -> Result<(Vec<f32>, Option<BlockActivations>)> {
        let pass = Pass::new(self, layer, &x, mode, seed)?;
        let (seq, rope) = (pass.seq, pass.rope()?);
        let h = self.norm(&pass.block.attn_norm).normalize(&x)?;
        let mut q = pass.project(Projection::Q, &h)?;
        let mut k = pass.project(Projection::K, &h)?;
        let v = pass.project(Projection::V, &h)?;
        for t in [&mut q, &mut k] {
            rope.check(t.len(), seq)?;
            rope.rotate(t, seq, false);
        }
        let attn = pass.attention().apply(&q, &k, &v)?;
        let mut x2 = pass.project(Projection::O, &attn)?;
        add_into(&mut x2, &x);
        let h2 = self.norm(&pass.block.ffn_norm).normalize(&x2)?;
        let gate = pass.project(Projection::Gate, &h2)?;
        let up = pass.project(Projection::Up, &h2)?;
        let mut y = pass.project(Projection::Down, &SwiGlu::apply(&gate, &up))?;
        add_into(&mut y, &x2);
        let kept = keep.then_some(BlockActivations {
            x,
            h,
            q,
            k,
            v,
            attn,
            x2,
            h2,
            gate,
            up,
        });
        Ok((y, kept))
    }

    /// The gradient of block `layer`'s input from its output's gradient `dy`, given the
    /// activations of its forward pass (same `mode` and `seed`); the adapter's gradients go
    /// into `grads`.
    pub(crate) fn block_backward(
        &self,
        layer: usize,
        acts: &BlockActivations,
        dy: &[f32],
        mode: Mode,
        seed: u64,
        grads: &mut GradStore,
    ) -> Result<Vec<f32>> {
        let BlockActivations {
            x,
            h,
            q,
            k,
            v,
            attn,
            x2,
            h2,
            gate,
            up,
        } = acts;
        let pass = Pass::new(self, layer, x, mode, seed)?;
        let seq = pass.seq;
        if dy.len() != x.len() {
            return Err(TrainError::Config(format!(
                "a gradient of {} floats for a block output of {}",
                dy.len(),
                x.len()
            )));
        }
        // MLP: y = x2 + down(swiglu(gate(h2), up(h2))).
        let mut d_gated = vec![0.0; gate.len()];
        let gated = SwiGlu::apply(gate, up);
        pass.project_back(Projection::Down, &gated, dy, &mut d_gated, false, grads)?;
        drop(gated);
        let (d_gate, d_up) = SwiGlu::backward(gate, up, &d_gated);
        let mut dh2 = vec![0.0; h2.len()];
        pass.project_back(Projection::Gate, h2, &d_gate, &mut dh2, false, grads)?;
        pass.project_back(Projection::Up, h2, &d_up, &mut dh2, true, grads)?;
        let mut dx2 = self.norm(&pass.block.ffn_norm).backward(x2, &dh2)?;
        add_into(&mut dx2, dy);
        // Attention: x2 = x + o(attention(rope(q(h)), rope(k(h)), v(h))).
        let mut d_attn = vec![0.0; attn.len()];
        pass.project_back(Projection::O, attn, &dx2, &mut d_attn, false, grads)?;
        let [mut dq, mut dk, dv] = pass.attention().backward(q, k, v, attn, &d_attn)?;
        let rope = pass.rope()?;
        for t in [&mut dq, &mut dk] {
            rope.rotate(t, seq, true);
        }
        let mut dh = vec![0.0; h.len()];
        pass.project_back(Projection::Q, h, &dq, &mut dh, false, grads)?;
        pass.project_back(Projection::K, h, &dk, &mut dh, true, grads)?;
        pass.project_back(Projection::V, h, &dv, &mut dh, true, grads)?;
        let mut dx = self.norm(&pass.block.attn_norm).backward(x, &dh)?;
        add_into(&mut dx, &dx2);
        Ok(dx)
    }
}
