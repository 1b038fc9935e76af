//! glibc malloc settings for training's allocation pattern.
//!
//! A training step allocates and frees activation buffers of one to tens of megabytes per
//! block. By default glibc serves the larger ones with fresh `mmap`s and trims its heap after
//! frees, so each block's buffers come back from the kernel as new pages that it must zero
//! first: about a sixth of the time of training on long rows. Serving everything up to
//! 32 MiB (glibc's largest `mmap` threshold) from the heap and never trimming it keeps those
//! pages for reuse; the cost is that the process holds its high-water mark of memory until it
//! exits, which a training command reaches anyway.

/// Keeps freed memory in the process for reuse (see the module's doc).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn keep_freed_memory() {
    const MMAP_THRESHOLD: libc::c_int = 32 << 20;
    // SAFETY: `mallopt` only changes malloc's parameters, which it reads under its own lock.
    let ok = unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX) == 1
    };
    if !ok {
        tracing::debug!("glibc refused the malloc settings; training runs with its defaults");
    }
}

/// Other allocators keep no such defaults to change.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn keep_freed_memory() {}
