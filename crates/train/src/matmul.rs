//! Matrix products on strided views of plain slices, for the custom ops' hand-written
//! forward and backward passes.
//!
//! candle's `matmul` allocates a fresh output per product and each `+`, `*` or transpose
//! around it is another pass over memory; the ops here write (or accumulate) straight into
//! their outputs and read the projections' row layout in place, through the same `gemm`
//! kernels candle uses.

use candle_core::{CpuStorage, Layout, Storage, Tensor};
use gemm::{Parallelism, gemm};

/// A matrix operand: a slice and the strides of its rows and columns.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    data: &'a [f32],
    rs: usize,
    cs: usize,
}

impl<'a> View<'a> {
    /// A row-major matrix with row stride `rs`.
    pub fn rows(data: &'a [f32], rs: usize) -> Self {
        Self { data, rs, cs: 1 }
    }

    /// The transpose of the row-major matrix with row stride `rs`.
    pub fn transposed(data: &'a [f32], rs: usize) -> Self {
        Self {
            data,
            rs: 1,
            cs: rs,
        }
    }

    /// Panics unless every element of an `m × n` view lies in the slice, which is what
    /// makes handing its pointer to the kernel sound.
    fn check(&self, m: usize, n: usize) {
        if m > 0 && n > 0 {
            assert!((m - 1) * self.rs + (n - 1) * self.cs < self.data.len());
        }
    }
}

/// `dst (m × n) ← [dst +] scale · lhs (m × k) · rhs (k × n)`, `dst` row-major.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Product {
    m: usize,
    n: usize,
    k: usize,
    scale: f32,
    accumulate: bool,
    threaded: bool,
}

impl Product {
    pub fn new(m: usize, n: usize, k: usize) -> Self {
        Self {
            m,
            n,
            k,
            scale: 1.0,
            accumulate: false,
            threaded: false,
        }
    }

    pub fn scaled(self, scale: f32) -> Self {
        Self { scale, ..self }
    }

    /// Add to `dst` instead of overwriting it.
    pub fn accumulating(self) -> Self {
        Self {
            accumulate: true,
            ..self
        }
    }

    /// Spread the product over candle's threads (for the large projections; the attention
    /// op parallelises over heads and blocks instead, with each product on one thread).
    pub fn threaded(self) -> Self {
        Self {
            threaded: true,
            ..self
        }
    }

    /// Computes the product into `dst`, whose rows are `dst_rs` apart.
    pub fn run(self, dst: &mut [f32], dst_rs: usize, lhs: View, rhs: View) {
        let Self { m, n, k, .. } = self;
        if m == 0 || n == 0 {
            return;
        }
        assert!((m - 1) * dst_rs + n <= dst.len());
        if k == 0 {
            if !self.accumulate {
                dst.chunks_mut(dst_rs)
                    .take(m)
                    .for_each(|row| row[..n].fill(0.0));
            }
            return;
        }
        lhs.check(m, k);
        rhs.check(k, n);
        let parallelism = match candle_core::utils::get_num_threads() {
            threads if self.threaded && threads > 1 => Parallelism::Rayon(threads),
            _ => Parallelism::None,
        };
        // SAFETY: the checks above keep every element the kernel reads or writes inside its
        // slice, and `dst` is borrowed mutably, so it aliases neither operand.
        unsafe {
            gemm(
                m,
                n,
                k,
                dst.as_mut_ptr(),
                1,
                dst_rs as isize,
                self.accumulate,
                lhs.data.as_ptr(),
                lhs.cs as isize,
                lhs.rs as isize,
                rhs.data.as_ptr(),
                rhs.cs as isize,
                rhs.rs as isize,
                1.0,
                self.scale,
                false,
                false,
                false,
                parallelism,
            );
        }
    }
}

/// A contiguous custom-op input's elements, borrowed.
pub(crate) fn slice<'a>(s: &'a CpuStorage, l: &Layout) -> candle_core::Result<&'a [f32]> {
    let (start, end) = l
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg("custom op needs contiguous inputs".into()))?;
    Ok(&s.as_slice::<f32>()?[start..end])
}

/// Runs `f` on a CPU tensor's elements in row-major order: borrowed when the tensor is
/// contiguous (the frozen weights, most gradients), else from a contiguous copy.
pub(crate) fn with_elements<R>(
    t: &Tensor,
    f: impl FnOnce(&[f32]) -> candle_core::Result<R>,
) -> candle_core::Result<R> {
    if !t.is_contiguous() {
        return with_elements(&t.contiguous()?, f);
    }
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cpu(cpu) => f(slice(cpu, layout)?),
        _ => Err(candle_core::Error::Msg(
            "the trainer runs on the CPU".into(),
        )),
    }
}

/// A tensor's elements, row-major, as an owned vector.
pub(crate) fn elements(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.flatten_all()?.to_vec1()
}
