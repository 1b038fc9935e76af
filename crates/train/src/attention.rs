//! Causal grouped-query attention as one op with a hand-written backward pass.
//!
//! Composed from candle's ops, attention copies each head out of the projections' row
//! layout, repeats every key and value head for the query heads that share it, computes the
//! full `seq × seq` score matrix of every head (half of it masked away) and keeps the
//! probabilities for the backward pass: `heads · seq²` floats per layer, which at a couple of
//! thousand tokens is most of the trainer's memory and time. This op works on the projections'
//! `(seq, heads · head_dim)` rows in place, computes only the causal part of the scores in
//! blocks of query rows, and keeps no scores: the backward pass recomputes each block's
//! probabilities (one extra `q · kᵀ` product), as FlashAttention does.

use crate::matmul::{Product, View, elements, slice};
use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor};
use rayon::prelude::*;

/// Query rows per block: large enough for efficient products, small enough that the blocks
/// of a short sequence still spread over the threads.
const BLOCK: usize = 64;

/// `softmax(q · kᵀ / √head_dim + causal mask) · v` over `q` `(seq, heads · head_dim)` and
/// `k`, `v` `(seq, kv_heads · head_dim)`, query head `h` reading key/value head
/// `h / (heads / kv_heads)`. The output is `(seq, heads · head_dim)`, the layout the output
/// projection reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CausalAttention {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

/// The rows `r0..r0 + rows` of the probabilities: each row `i` softmaxes its scores
/// `s[i][0..=r0 + i]` (already scaled) and zeroes the masked rest of its `r1` columns.
///
/// This and its `exp` are most of attention's non-matmul time (`heads · seq²` exponentials
/// per layer, twice), so the loops are written to vectorise and, where the CPU has AVX2 and
/// FMA, compiled for them.
fn causal_softmax(s: &mut [f32], r0: usize, r1: usize) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has the features the function is compiled for.
        return unsafe { causal_softmax_avx2(s, r0, r1) };
    }
    causal_softmax_rows(s, r0, r1);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn causal_softmax_avx2(s: &mut [f32], r0: usize, r1: usize) {
    causal_softmax_rows(s, r0, r1);
}

/// Independent accumulators per lane, so the reductions vectorise without reordering a
/// single running sum (which the compiler may not do for floats).
const LANES: usize = 16;

#[inline(always)]
fn causal_softmax_rows(s: &mut [f32], r0: usize, r1: usize) {
    for (i, row) in s.chunks_mut(r1).enumerate() {
        let (keep, masked) = row.split_at_mut(r0 + i + 1);
        let mut lanes = [f32::NEG_INFINITY; LANES];
        let mut chunks = keep.chunks_exact(LANES);
        for c in &mut chunks {
            lanes.iter_mut().zip(c).for_each(|(m, &v)| *m = m.max(v));
        }
        let max = chunks
            .remainder()
            .iter()
            .chain(&lanes)
            .fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let mut sums = [0.0; LANES];
        let mut chunks = keep.chunks_exact_mut(LANES);
        for c in &mut chunks {
            for (sum, v) in sums.iter_mut().zip(c) {
                *v = exp_nonpositive(*v - max);
                *sum += *v;
            }
        }
        let mut sum: f32 = sums.iter().sum();
        for v in chunks.into_remainder() {
            *v = exp_nonpositive(*v - max);
            sum += *v;
        }
        let inv = 1.0 / sum;
        keep.iter_mut().for_each(|v| *v *= inv);
        masked.fill(0.0);
    }
}

/// `eˣ` for `x ≤ 0` (a score minus its row's maximum), within about 2e-7 relative error:
/// `x = k·ln 2 + r` with `|r| ≤ ln 2 / 2`, a degree-6 Taylor polynomial for `eʳ`, and `2ᵏ`
/// built from its bits. Unlike libm's `expf`, it has no branches or calls, so a row of
/// them vectorises. Below -87 (`e⁻⁸⁷ ≈ 1.6e-38`, nothing next to a row's maximum, which
/// contributes 1) it returns `e⁻⁸⁷`; a NaN stays NaN.
#[inline(always)]
pub(crate) fn exp_nonpositive(x: f32) -> f32 {
    // Adding 1.5 · 2²³ rounds to an integer held in the low mantissa bits.
    const SHIFT: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Not `max`, which would turn a NaN score into a probability of ~0 and hide it from
    // the loss's finiteness check.
    let x = if x < -87.0 { -87.0 } else { x };
    let t = x * std::f32::consts::LOG2_E + SHIFT;
    let k = t - SHIFT;
    let r = x - k * LN2_HI - k * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r / 720.0)))));
    let k_int = t.to_bits().wrapping_sub(SHIFT.to_bits());
    p * f32::from_bits(k_int.wrapping_add(127) << 23)
}

/// The three inputs of the op as contiguous slices.
struct Inputs<'a> {
    q: &'a [f32],
    k: &'a [f32],
    v: &'a [f32],
    seq: usize,
}

impl CausalAttention {
    fn width(&self) -> usize {
        self.heads * self.head_dim
    }

    fn kv_width(&self) -> usize {
        self.kv_heads * self.head_dim
    }

    fn scale(&self) -> f32 {
        1.0 / (self.head_dim as f32).sqrt()
    }

    /// Offset of key/value head of query head `h` within a `k`/`v` row.
    fn kv_offset(&self, h: usize) -> usize {
        h / (self.heads / self.kv_heads) * self.head_dim
    }

    fn inputs<'a>(
        &self,
        q: &'a [f32],
        k: &'a [f32],
        v: &'a [f32],
    ) -> candle_core::Result<Inputs<'a>> {
        let bad = |what: String| Err(candle_core::Error::Msg(format!("causal attention: {what}")));
        if self.heads == 0 || self.kv_heads == 0 || !self.heads.is_multiple_of(self.kv_heads) {
            return bad(format!(
                "{} heads cannot share {} key/value heads",
                self.heads, self.kv_heads
            ));
        }
        let seq = q.len() / self.width();
        if q.len() != seq * self.width() || k.len() != seq * self.kv_width() || k.len() != v.len() {
            return bad(format!(
                "q, k, v of {}, {}, {} floats do not fit {} heads and {} key/value heads of {}",
                q.len(),
                k.len(),
                v.len(),
                self.heads,
                self.kv_heads,
                self.head_dim
            ));
        }
        Ok(Inputs { q, k, v, seq })
    }

    /// The probabilities of query head `h` for rows `r0..r0 + rows` over keys `0..r1`
    /// (`r1 = r0 + rows`), into `p` `(rows, r1)`.
    fn probabilities(&self, x: &Inputs, h: usize, r0: usize, rows: usize, p: &mut [f32]) {
        let (hd, r1) = (self.head_dim, r0 + rows);
        let q = View::rows(&x.q[r0 * self.width() + h * hd..], self.width());
        let kt = View::transposed(&x.k[self.kv_offset(h)..], self.kv_width());
        Product::new(rows, r1, hd)
            .scaled(self.scale())
            .run(p, r1, q, kt);
        causal_softmax(p, r0, r1);
    }

    fn forward(&self, x: &Inputs) -> Vec<f32> {
        let (width, hd) = (self.width(), self.head_dim);
        let mut out = vec![0.0; x.seq * width];
        out.par_chunks_mut(BLOCK * width)
            .enumerate()
            .for_each(|(block, out)| {
                let (r0, rows) = (block * BLOCK, out.len() / width);
                let r1 = r0 + rows;
                let mut p = vec![0.0; rows * r1];
                for h in 0..self.heads {
                    self.probabilities(x, h, r0, rows, &mut p);
                    let v = View::rows(&x.v[self.kv_offset(h)..], self.kv_width());
                    Product::new(rows, hd, r1).run(
                        &mut out[h * hd..],
                        width,
                        View::rows(&p, r1),
                        v,
                    );
                }
            });
        out
    }

    /// The attention output `(seq, heads · head_dim)` of the projections `q`, `k`, `v`.
    pub(crate) fn apply(&self, q: &[f32], k: &[f32], v: &[f32]) -> candle_core::Result<Vec<f32>> {
        Ok(self.forward(&self.inputs(q, k, v)?))
    }

    /// `[dq, dk, dv]` from the output `out` of [`Self::apply`] and its gradient `g`.
    pub(crate) fn backward(
        &self,
        q: &[f32],
        k: &[f32],
        v: &[f32],
        out: &[f32],
        g: &[f32],
    ) -> candle_core::Result<[Vec<f32>; 3]> {
        let x = self.inputs(q, k, v)?;
        let heads: Vec<[Vec<f32>; 3]> = (0..self.heads)
            .into_par_iter()
            .map(|h| self.head_backward(&x, out, g, h))
            .collect();
        let (hd, width, kv_width) = (self.head_dim, self.width(), self.kv_width());
        let mut dq = vec![0.0; x.seq * width];
        let (mut dk, mut dv) = (vec![0.0; x.seq * kv_width], vec![0.0; x.seq * kv_width]);
        for (h, [dq_h, dk_h, dv_h]) in heads.iter().enumerate() {
            let kv = self.kv_offset(h);
            for r in 0..x.seq {
                let src = r * hd..(r + 1) * hd;
                dq[r * width + h * hd..][..hd].copy_from_slice(&dq_h[src.clone()]);
                let kv_row = r * kv_width + kv..r * kv_width + kv + hd;
                dk[kv_row.clone()]
                    .iter_mut()
                    .zip(&dk_h[src.clone()])
                    .for_each(|(a, b)| *a += b);
                dv[kv_row]
                    .iter_mut()
                    .zip(&dv_h[src])
                    .for_each(|(a, b)| *a += b);
            }
        }
        Ok([dq, dk, dv])
    }

    /// Gradients `(dq, dk_h, dv_h)` of query head `h`: `dq` as `(seq, head_dim)`, and its
    /// share of its key/value head's gradients, also `(seq, head_dim)`.
    fn head_backward(&self, x: &Inputs, out: &[f32], g: &[f32], h: usize) -> [Vec<f32>; 3] {
        let (width, kv_width, hd, seq) = (self.width(), self.kv_width(), self.head_dim, x.seq);
        let (kv, scale) = (self.kv_offset(h), self.scale());
        let [mut dq, mut dk, mut dv] = [0, 1, 2].map(|_| vec![0.0; seq * hd]);
        let (mut p, mut ds) = (Vec::new(), Vec::new());
        for r0 in (0..seq).step_by(BLOCK) {
            let rows = BLOCK.min(seq - r0);
            let r1 = r0 + rows;
            p.resize(rows * r1, 0.0);
            ds.resize(rows * r1, 0.0);
            self.probabilities(x, h, r0, rows, &mut p);
            let g_rows = View::rows(&g[r0 * width + h * hd..], width);
            let vt = View::transposed(&x.v[kv..], kv_width);
            Product::new(rows, r1, hd).run(&mut ds, r1, g_rows, vt);
            // dS = P ⊙ (dP − Σⱼ dP ⊙ P), with Σⱼ dPᵢⱼ Pᵢⱼ = gᵢ · outᵢ.
            for i in 0..rows {
                let at = (r0 + i) * width + h * hd;
                let dot: f32 = g[at..at + hd]
                    .iter()
                    .zip(&out[at..at + hd])
                    .map(|(a, b)| a * b)
                    .sum();
                let row = i * r1..(i + 1) * r1;
                for (d, &pr) in ds[row.clone()].iter_mut().zip(&p[row]) {
                    *d = pr * (*d - dot);
                }
            }
            let k = View::rows(&x.k[kv..], kv_width);
            Product::new(rows, hd, r1).scaled(scale).run(
                &mut dq[r0 * hd..],
                hd,
                View::rows(&ds, r1),
                k,
            );
            let q = View::rows(&x.q[r0 * width + h * hd..], width);
            Product::new(r1, hd, rows).scaled(scale).accumulating().run(
                &mut dk,
                hd,
                View::transposed(&ds, r1),
                q,
            );
            Product::new(r1, hd, rows).accumulating().run(
                &mut dv,
                hd,
                View::transposed(&p, r1),
                g_rows,
            );
        }
        [dq, dk, dv]
    }
}

impl CustomOp3 for CausalAttention {
    fn name(&self) -> &'static str {
        "causal-attention"
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
        let out = self.apply(slice(s1, l1)?, slice(s2, l2)?, slice(s3, l3)?)?;
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        out: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let [q_data, k_data, v_data, out_data, g_data] = [q, k, v, out, g].map(elements);
        let [dq, dk, dv] = self.backward(&q_data?, &k_data?, &v_data?, &out_data?, &g_data?)?;
        let tensor = |data, like: &Tensor| Tensor::from_vec(data, like.shape(), like.device());
        Ok((
            Some(tensor(dq, q)?),
            Some(tensor(dk, k)?),
            Some(tensor(dv, v)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op_testing::assert_matches;
    use candle_core::{D, Device, Var};
    use rand::{Rng, SeedableRng, rngs::StdRng};

    fn var(rows: usize, cols: usize, seed: u64) -> Var {
        let mut rng = StdRng::seed_from_u64(seed);
        let data = (0..rows * cols)
            .map(|_| rng.random_range(-2.0f32..2.0))
            .collect();
        Var::from_vec(data, (rows, cols), &Device::Cpu).unwrap()
    }

    /// The same attention from candle's differentiable ops: heads split out, key/value heads
    /// repeated, masked scores, softmax, merged back.
    fn composed(op: CausalAttention, q: &Tensor, k: &Tensor, v: &Tensor) -> Tensor {
        let seq = q.dim(0).unwrap();
        let split = |t: &Tensor, n: usize| {
            t.reshape((seq, n, op.head_dim))
                .unwrap()
                .transpose(0, 1)
                .unwrap()
                .contiguous()
                .unwrap()
        };
        let group = op.heads / op.kv_heads;
        let repeat = |t: Tensor| {
            t.unsqueeze(1)
                .unwrap()
                .broadcast_as((op.kv_heads, group, seq, op.head_dim))
                .unwrap()
                .reshape((op.heads, seq, op.head_dim))
                .unwrap()
        };
        let (q, k, v) = (
            split(q, op.heads),
            repeat(split(k, op.kv_heads)),
            repeat(split(v, op.kv_heads)),
        );
        let mask: Vec<f32> = (0..seq * seq)
            .map(|i| {
                if i % seq > i / seq {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::from_vec(mask, (seq, seq), &Device::Cpu).unwrap();
        let scores = (q.matmul(&k.t().unwrap()).unwrap() * f64::from(op.scale())).unwrap();
        let p = candle_nn::ops::softmax(&scores.broadcast_add(&mask).unwrap(), D::Minus1).unwrap();
        p.matmul(&v)
            .unwrap()
            .transpose(0, 1)
            .unwrap()
            .reshape((seq, op.width()))
            .unwrap()
    }

    /// Values and the gradients of `q`, `k` and `v` match the composed ops, over more than one
    /// block of rows (a partial last block included) and with key/value heads shared.
    #[test]
    fn matches_composed_ops_and_their_gradients() {
        let op = CausalAttention {
            heads: 4,
            kv_heads: 2,
            head_dim: 8,
        };
        let seq = BLOCK * 2 + 7;
        let (q, k, v) = (var(seq, 32, 1), var(seq, 16, 2), var(seq, 16, 3));
        let weights = var(seq, 32, 4).as_tensor().clone();
        let fused = q.apply_op3(&k, &v, op).unwrap();
        let reference = composed(op, &q, &k, &v);
        assert_matches(&fused, &reference, &weights, &[&q, &k, &v], 1e-4);
    }

    #[test]
    fn exp_matches_libm_over_the_softmax_range() {
        let worst = (0..=870_000)
            .map(|i| -(i as f32) * 1e-4)
            .map(|x| ((exp_nonpositive(x) - x.exp()) / x.exp()).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 5e-7, "relative error {worst}");
        assert!(exp_nonpositive(-1e4) <= 1e-37);
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert!(exp_nonpositive(f32::NAN).is_nan());
    }

    #[test]
    fn rejects_heads_that_do_not_share_evenly() {
        let op = CausalAttention {
            heads: 3,
            kv_heads: 2,
            head_dim: 4,
        };
        let (q, k, v) = (var(2, 12, 1), var(2, 8, 2), var(2, 8, 3));
        let err = q.apply_op3(&k, &v, op).unwrap_err().to_string();
        assert!(err.contains("3 heads cannot share 2"), "{err}");
    }
}
