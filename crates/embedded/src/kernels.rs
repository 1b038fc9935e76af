//! A fast CPU matmul for Q4_1 weights.
//!
//! candle 0.11 implements the Q4_1 × Q8_1 dot product only as a scalar loop, and the default
//! SmolLM2 GGUF stores all projections as Q4_1, so decoding with candle's `QMatMul` alone is
//! several times slower than llama.cpp. This module does what ggml does on x86: quantize the
//! activations to Q8_1 blocks, then take integer dot products with AVX2, spread over candle's
//! own thread pool so it does not compete with a second pool.
//!
//! The arithmetic lives in `kernels/q4_1.c`, which `build.rs` compiles with `-O3` in every
//! cargo profile: workspace crates are built unoptimized for tests, and an unoptimized SIMD
//! loop made the real-model tests ~100x slower. The C file mirrors ggml's
//! `quantize_row_q8_1` and `ggml_vec_dot_q4_1_q8_1`. CPU features are detected at run time,
//! so no `-C target-cpu` flag is needed; other CPUs get a scalar path with the same rounding.

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{CpuStorage, CustomOp1, Layout, Shape};
use std::os::raw::c_int;

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

/// A ggml `block_q8_1` with `d` and `s = d * sum(qs)` rounded through f16 and kept as f32.
#[derive(Clone, Copy)]
#[repr(C)]
struct BlockQ81 {
    qs: [i8; QK],
    d: f32,
    s: f32,
}

const _: () = assert!(std::mem::size_of::<BlockQ41>() == 20);
const _: () = assert!(std::mem::size_of::<BlockQ81>() == 40);

unsafe extern "C" {
    fn apprentice_quantize_row_q8_1(x: *const f32, y: *mut BlockQ81, k: i64);
    fn apprentice_q4_1_rows(
        w: *const BlockQ41,
        nb: i64,
        row_start: i64,
        row_end: i64,
        x: *const BlockQ81,
        m: i64,
        dst: *mut f32,
        ldd: i64,
        use_avx2: c_int,
    );
    fn apprentice_q4_1_has_avx2_kernel() -> c_int;
}

/// Whether the AVX2 kernel is compiled in and this CPU can run it (checked once).
fn use_avx2() -> bool {
    static AVX2: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVX2.get_or_init(|| {
        // SAFETY: a pure function without arguments.
        let compiled = unsafe { apprentice_q4_1_has_avx2_kernel() } != 0;
        #[cfg(target_arch = "x86_64")]
        let cpu = std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("f16c");
        #[cfg(not(target_arch = "x86_64"))]
        let cpu = false;
        compiled && cpu
    })
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

    /// `dst[i, r] = x[i, :] · W[r, :]` for `m` rows of `x` (`x.len() == m * in_dim`).
    fn matmul(&self, x: &[f32], m: usize, dst: &mut [f32], avx2: bool) {
        let xq = quantize_q81(x);
        let nb = self.in_dim / QK;
        let n = self.out_dim;
        let dst_ptr = SyncPtr(dst.as_mut_ptr());
        const ROWS_PER_ITEM: usize = 8;
        let items = n.div_ceil(ROWS_PER_ITEM);
        candle_core::utils::barrier_pool().execute_chunked(items, |range| {
            let start = range.start * ROWS_PER_ITEM;
            let end = (range.end * ROWS_PER_ITEM).min(n);
            // SAFETY: `blocks` holds n * nb blocks, `xq` m * nb, `dst` m * n floats (checked
            // by the caller); work items cover disjoint row ranges, so writes never overlap.
            unsafe {
                apprentice_q4_1_rows(
                    self.blocks.as_ptr(),
                    nb as i64,
                    start as i64,
                    end as i64,
                    xq.as_ptr(),
                    m as i64,
                    dst_ptr.get(),
                    n as i64,
                    c_int::from(avx2),
                )
            }
        });
    }
}

/// Quantizes rows of activations (a multiple of 32 values) to Q8_1 blocks.
fn quantize_q81(x: &[f32]) -> Vec<BlockQ81> {
    let mut out = vec![
        BlockQ81 {
            qs: [0; QK],
            d: 0.0,
            s: 0.0
        };
        x.len() / QK
    ];
    // SAFETY: `out` has room for x.len() / 32 blocks and x.len() is a multiple of 32.
    unsafe { apprentice_quantize_row_q8_1(x.as_ptr(), out.as_mut_ptr(), x.len() as i64) };
    out
}

/// A raw pointer that may cross into the pool's workers (disjoint writes only).
struct SyncPtr(*mut f32);
// SAFETY: used only for disjoint writes, see `Q41Matrix::matmul`.
unsafe impl Sync for SyncPtr {}

impl SyncPtr {
    fn get(&self) -> *mut f32 {
        self.0
    }
}

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
        self.matmul(&data[start..end], m, &mut dst, use_avx2());
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

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    fn random(n: usize, seed: u64) -> Vec<f32> {
        crate::testing::pseudo_random(n, seed, 1.0)
    }

    fn quantized(out: usize, inp: usize) -> (QTensor, Q41Matrix) {
        let w = Tensor::from_vec(random(out * inp, 1), (out, inp), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, GgmlDType::Q4_1).unwrap();
        let mat = Q41Matrix::from_qtensor(&q).unwrap().expect("q4_1");
        (q, mat)
    }

    #[test]
    fn q4_1_matmul_matches_dequantized_f32() -> candle_core::Result<()> {
        let (out, inp, m) = (37, 96, 3);
        let (q, mat) = quantized(out, inp);
        let x = Tensor::from_vec(random(m * inp, 2), (m, inp), &Device::Cpu)?;
        let ours = x.apply_op1_no_bwd(&mat)?;
        let reference = x.matmul(&q.dequantize(&Device::Cpu)?.t()?)?;
        let diff = (ours - reference)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 0.05, "max diff {diff}");
        Ok(())
    }

    #[test]
    fn scalar_and_simd_paths_are_bit_identical() {
        let (out, inp, m) = (21, 160, 4);
        let (_, mat) = quantized(out, inp);
        let x = random(m * inp, 5);
        let mut a = vec![0f32; m * out];
        let mut b = vec![0f32; m * out];
        mat.matmul(&x, m, &mut a, false);
        mat.matmul(&x, m, &mut b, use_avx2());
        assert_eq!(a, b);
    }

    #[test]
    fn q8_1_rounding_follows_ggml() {
        let mut x = vec![0f32; 32];
        x[0] = 127.0;
        x[1] = 0.5;
        x[2] = 1.5;
        x[3] = -2.5;
        let b = quantize_q81(&x)[0];
        assert_eq!(b.d, 1.0);
        // Ties go to even, as _mm256_round_ps(_MM_ROUND_NEAREST) does.
        assert_eq!(&b.qs[..4], &[127, 0, 2, -2]);
        assert_eq!(b.s, 127.0);
    }
}
