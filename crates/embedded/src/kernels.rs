//! A fast CPU matmul for Q4_1 weights.
//!
//! candle 0.11 implements the Q4_1 × Q8_1 dot product only as a scalar loop, and the default
//! SmolLM2 GGUF stores all projections as Q4_1, so decoding with candle's `QMatMul` alone is
//! several times slower than llama.cpp. This module does what ggml does on x86: quantize the
//! activations to Q8_1 blocks, then take integer dot products with AVX2 (`maddubs`/`madd`),
//! spread over candle's own thread pool so it does not compete with a second pool. The
//! arithmetic follows ggml's `quantize_row_q8_1` and `ggml_vec_dot_q4_1_q8_1` (f16-rounded
//! block scales included), which keeps greedy decoding in step with llama.cpp.
//!
//! CPU features are detected at run time, so the crate needs no `-C target-cpu` flag; other
//! CPUs use a scalar fallback with the same numerics.

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{CpuStorage, CustomOp1, Layout, Shape};
use half::f16;

/// Elements per quantization block.
const QK: usize = 32;

/// One ggml `block_q4_1`: `x[j] = d * q[j] + m`, low nibbles hold elements 0..16.
#[derive(Clone, Copy)]
#[repr(C)]
struct BlockQ41 {
    d: u16,
    m: u16,
    qs: [u8; QK / 2],
}

/// One ggml `block_q8_1`, with `d` and `s = d * sum(qs)` already rounded through f16 as
/// ggml stores them, and widened to f32 for the dot product.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct BlockQ81 {
    qs: [i8; QK],
    d: f32,
    s: f32,
}

/// A Q4_1 weight matrix `[out, in]` in row-major block order.
pub(crate) struct Q41Matrix {
    out_dim: usize,
    in_dim: usize,
    blocks: Vec<BlockQ41>,
}

impl Q41Matrix {
    /// Copies a 2-D Q4_1 tensor's blocks; `None` for other dtypes or shapes.
    pub fn from_qtensor(t: &QTensor) -> candle_core::Result<Option<Self>> {
        let &[out_dim, in_dim] = t.shape().dims() else {
            return Ok(None);
        };
        if t.dtype() != GgmlDType::Q4_1 || in_dim % QK != 0 {
            return Ok(None);
        }
        let data = t.data()?;
        let blocks: Vec<BlockQ41> = data.chunks_exact(20).map(parse_q41).collect();
        if blocks.len() != out_dim * in_dim / QK {
            candle_core::bail!(
                "Q4_1 tensor has {} blocks for {out_dim}x{in_dim}",
                blocks.len()
            )
        }
        Ok(Some(Self {
            out_dim,
            in_dim,
            blocks,
        }))
    }

    fn row(&self, r: usize) -> &[BlockQ41] {
        let nb = self.in_dim / QK;
        &self.blocks[r * nb..(r + 1) * nb]
    }

    /// `dst[i, r] = x[i, :] · W[r, :]` for `m` rows of `x`.
    fn matmul(&self, x: &[f32], m: usize, dst: &mut [f32]) {
        let nb = self.in_dim / QK;
        let xq: Vec<BlockQ81> = x.chunks_exact(QK).map(quantize_q81).collect();
        let dot = dot_fn();
        let n = self.out_dim;
        let dst_ptr = SyncPtr(dst.as_mut_ptr());
        const ROWS_PER_ITEM: usize = 4;
        let items = n.div_ceil(ROWS_PER_ITEM);
        candle_core::utils::barrier_pool().execute_chunked(items, |range| {
            let dst_ptr = &dst_ptr;
            for item in range {
                let r0 = item * ROWS_PER_ITEM;
                for r in r0..(r0 + ROWS_PER_ITEM).min(n) {
                    let w = self.row(r);
                    for i in 0..m {
                        let v = dot(w, &xq[i * nb..(i + 1) * nb]);
                        // SAFETY: each (i, r) is written by exactly one work item and
                        // `dst` holds m * n elements (checked by the caller).
                        unsafe { *dst_ptr.0.add(i * n + r) = v };
                    }
                }
            }
        });
    }
}

/// A raw pointer that may cross into the pool's workers (disjoint writes only).
struct SyncPtr(*mut f32);
// SAFETY: used only for disjoint element writes, see `Q41Matrix::matmul`.
unsafe impl Sync for SyncPtr {}

impl CustomOp1 for Q41Matrix {
    fn name(&self) -> &'static str {
        "q4_1-matmul"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("q4_1 matmul expects f32 activations")
        };
        let dims = layout.shape().dims();
        let Some((&k, lead)) = dims.split_last() else {
            candle_core::bail!("q4_1 matmul on a scalar")
        };
        if k != self.in_dim {
            candle_core::bail!(
                "q4_1 matmul: input has {k} features, weight expects {}",
                self.in_dim
            )
        }
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("q4_1 matmul expects contiguous activations")
        };
        let m: usize = lead.iter().product();
        let mut dst = vec![0f32; m * self.out_dim];
        self.matmul(&data[start..end], m, &mut dst);
        let mut out_dims = lead.to_vec();
        out_dims.push(self.out_dim);
        Ok((CpuStorage::F32(dst), Shape::from(out_dims)))
    }
}

fn parse_q41(c: &[u8]) -> BlockQ41 {
    let mut qs = [0u8; QK / 2];
    qs.copy_from_slice(&c[4..20]);
    BlockQ41 {
        d: u16::from_le_bytes([c[0], c[1]]),
        m: u16::from_le_bytes([c[2], c[3]]),
        qs,
    }
}

/// ggml's `quantize_row_q8_1` for one block (x86 variant: `127 / amax`, ties to even).
fn quantize_q81(x: &[f32]) -> BlockQ81 {
    let amax = x.iter().fold(0f32, |a, v| a.max(v.abs()));
    let d = amax / 127.0;
    let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
    let mut qs = [0i8; QK];
    let mut sum = 0i32;
    for (q, v) in qs.iter_mut().zip(x) {
        let r = (v * id).round_ties_even() as i32;
        *q = r as i8;
        sum += r;
    }
    BlockQ81 {
        qs,
        d: f16::from_f32(d).to_f32(),
        s: f16::from_f32(d * sum as f32).to_f32(),
    }
}

type DotFn = fn(&[BlockQ41], &[BlockQ81]) -> f32;

/// Picks the best dot product for this CPU once.
fn dot_fn() -> DotFn {
    static DOT: std::sync::OnceLock<DotFn> = std::sync::OnceLock::new();
    *DOT.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("f16c")
        {
            return dot_avx2_safe;
        }
        dot_scalar
    })
}

fn dot_scalar(w: &[BlockQ41], x: &[BlockQ81]) -> f32 {
    let mut sum = 0f32;
    for (wb, xb) in w.iter().zip(x) {
        let mut isum = 0i32;
        for j in 0..QK / 2 {
            let lo = i32::from(wb.qs[j] & 0x0F);
            let hi = i32::from(wb.qs[j] >> 4);
            isum += lo * i32::from(xb.qs[j]) + hi * i32::from(xb.qs[j + QK / 2]);
        }
        let d = f16::from_bits(wb.d).to_f32();
        let m = f16::from_bits(wb.m).to_f32();
        sum += d * xb.d * isum as f32 + m * xb.s;
    }
    sum
}

#[cfg(target_arch = "x86_64")]
fn dot_avx2_safe(w: &[BlockQ41], x: &[BlockQ81]) -> f32 {
    // SAFETY: only selected by `dot_fn` after detecting avx2, fma and f16c.
    unsafe { dot_avx2(w, x) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_avx2(w: &[BlockQ41], x: &[BlockQ81]) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = _mm256_setzero_ps();
    let mut summs = 0f32;
    let low = _mm256_set1_epi8(0x0F);
    let ones = _mm256_set1_epi16(1);
    for (wb, xb) in w.iter().zip(x) {
        // d and m of the weight block, widened by F16C.
        let dm = _mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(wb.d) | (i32::from(wb.m) << 16)));
        let dw = _mm_cvtss_f32(dm);
        let mw = _mm_cvtss_f32(_mm_shuffle_ps::<1>(dm, dm));
        summs += mw * xb.s;
        // SAFETY: qs are 16 and 32 bytes long; unaligned loads.
        let q = unsafe { _mm_loadu_si128(wb.qs.as_ptr().cast()) };
        let qx = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16::<4>(q), q), low);
        let qy = unsafe { _mm256_loadu_si256(xb.qs.as_ptr().cast()) };
        let prod = _mm256_madd_epi16(_mm256_maddubs_epi16(qx, qy), ones);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dw * xb.d), _mm256_cvtepi32_ps(prod), acc);
    }
    let h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc));
    let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    let h = _mm_add_ss(h, _mm_movehdup_ps(h));
    _mm_cvtss_f32(h) + summs
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    fn random(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2654435761).max(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s as f32 / u32::MAX as f32) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn q4_1_matmul_matches_dequantized_f32() -> candle_core::Result<()> {
        let (out, inp, m) = (37, 96, 3);
        let w = Tensor::from_vec(random(out * inp, 1), (out, inp), &Device::Cpu)?;
        let q = QTensor::quantize(&w, GgmlDType::Q4_1)?;
        let wd = q.dequantize(&Device::Cpu)?;
        let x = Tensor::from_vec(random(m * inp, 2), (m, inp), &Device::Cpu)?;
        let mat = Q41Matrix::from_qtensor(&q)?.expect("q4_1");
        let ours = x.apply_op1_no_bwd(&mat)?;
        let reference = x.matmul(&wd.t()?)?;
        let diff = (ours - reference)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 0.05, "max diff {diff}");
        Ok(())
    }

    #[test]
    fn scalar_and_simd_dot_agree() {
        let w: Vec<BlockQ41> = (0..4)
            .map(|i| BlockQ41 {
                d: f16::from_f32(0.01 * (i + 1) as f32).to_bits(),
                m: f16::from_f32(-0.05).to_bits(),
                qs: std::array::from_fn(|j| (j * 7 + i) as u8),
            })
            .collect();
        let x: Vec<BlockQ81> = random(128, 3).chunks_exact(QK).map(quantize_q81).collect();
        let a = dot_scalar(&w, &x);
        let b = dot_fn()(&w, &x);
        assert!((a - b).abs() < 1e-4 * a.abs().max(1.0), "{a} vs {b}");
    }
}
