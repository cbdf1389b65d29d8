//! The floating-point environment of the built-in backend: subnormal numbers
//! are flushed to zero, as XLA does on CPU and GPU (and so JAX): a subnormal
//! input reads as zero (DAZ) and a result that would be subnormal is zero
//! (FTZ). Besides agreeing with XLA, this keeps the speed: x86 CPUs take a
//! slow microcode path for every subnormal operand or result, and Adam's
//! first moment of a weight whose gradient is zero decays through the
//! subnormal range (0.9^t) after a few hundred steps, which made the
//! report's MLP twice as slow per epoch from its third epoch on.
//!
//! The built-in backend computes on its own thread pool, whose threads run
//! with the flush bits set (x86-64's MXCSR FTZ and DAZ); the calling thread's
//! environment, and the global rayon pool's, are left as they are. On other
//! architectures subnormals are kept.

use std::sync::OnceLock;

/// Runs `f` on the built-in backend's threads (inline when already on one):
/// parallel work inside `f` (rayon, `gemm`) runs on the same threads.
pub(crate) fn on_backend_threads<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    match pool() {
        Some(p) => p.install(f),
        // no pool could be started: the caller's thread and environment
        None => f(),
    }
}

fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("rjax-cpu-{i}"))
            .start_handler(|_| flush_subnormals())
            .build()
            .ok()
    })
    .as_ref()
}

/// Sets FTZ and DAZ in this thread's MXCSR.
fn flush_subnormals() {
    #[cfg(target_arch = "x86_64")]
    {
        let mut csr: u32 = 0;
        // SAFETY: stmxcsr/ldmxcsr read and write this thread's SSE control
        // register through a valid pointer to a local; bits 15 (FTZ) and 6
        // (DAZ) change only how subnormal values are treated.
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags));
            csr |= (1 << 15) | (1 << 6);
            std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, preserves_flags, readonly));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::on_backend_threads;
    use std::hint::black_box;

    #[test]
    fn subnormals_are_flushed_on_the_backend_threads_only() {
        let (tiny32, tiny64) = (black_box(3e-39f32), black_box(1e-310f64));
        let on_pool = on_backend_threads(|| {
            (black_box(tiny32) * black_box(1.0f32), black_box(1e-20f32) * black_box(1e-20f32), black_box(tiny64) + 0.0)
        });
        if cfg!(target_arch = "x86_64") {
            assert_eq!(on_pool, (0.0, 0.0, 0.0));
        }
        // the caller's thread keeps IEEE subnormals
        assert_eq!(black_box(tiny32) * black_box(1.0f32), 3e-39);
    }
}
