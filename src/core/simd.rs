//! The vector instructions the built-in backend's elementwise loops use.
//!
//! The block loops ([`lanes1`](super::lanes1) and its siblings) are compiled
//! once per x86-64 level and the copy for this CPU is chosen at run time, as
//! the `gemm` crate chooses its kernels: one binary runs everywhere and uses
//! AVX-512 where the CPU has it.

/// The instruction sets the block loops are compiled for, in increasing order.
///
/// ```
/// use rjax::core::simd::{level, Level};
/// assert!(level() >= Level::Baseline);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// The target's baseline (SSE2 on x86-64); the only level elsewhere.
    Baseline,
    /// x86-64-v3: AVX2, FMA, BMI (8 `f32` lanes).
    X86V3,
    /// x86-64-v4: AVX-512 F, BW, CD, DQ and VL (16 `f32` lanes).
    X86V4,
}

/// The level the block loops run at on this CPU, detected on first use.
/// `RJAX_SIMD=baseline` or `RJAX_SIMD=v3` caps it (to compare the copies;
/// every copy computes the same bits).
///
/// ```
/// println!("elementwise loops: {:?}", rjax::core::simd::level());
/// ```
pub fn level() -> Level {
    use std::sync::atomic::{AtomicU8, Ordering};
    static LEVEL: AtomicU8 = AtomicU8::new(u8::MAX);
    match LEVEL.load(Ordering::Relaxed) {
        0 => Level::Baseline,
        1 => Level::X86V3,
        2 => Level::X86V4,
        _ => {
            let l = detect().min(cap(std::env::var("RJAX_SIMD").ok().as_deref()));
            LEVEL.store(l as u8, Ordering::Relaxed);
            l
        }
    }
}

/// The highest level `RJAX_SIMD` allows.
fn cap(setting: Option<&str>) -> Level {
    match setting {
        Some("baseline") => Level::Baseline,
        Some("v3") => Level::X86V3,
        _ => Level::X86V4,
    }
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Level {
    use std::arch::is_x86_feature_detected as has;
    let v3 =
        has!("avx") && has!("avx2") && has!("fma") && has!("bmi1") && has!("bmi2") && has!("lzcnt") && has!("movbe");
    let v4 = has!("avx512f") && has!("avx512bw") && has!("avx512cd") && has!("avx512dq") && has!("avx512vl");
    match (v3, v4) {
        (true, true) => Level::X86V4,
        (true, false) => Level::X86V3,
        _ => Level::Baseline,
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Level {
    Level::Baseline
}

#[cfg(test)]
mod tests {
    use super::{Level, cap};

    #[test]
    fn the_setting_caps_the_level() {
        assert_eq!(cap(Some("baseline")), Level::Baseline);
        assert_eq!(cap(Some("v3")), Level::X86V3);
        assert_eq!(cap(None), Level::X86V4);
        assert_eq!(cap(Some("anything else")), Level::X86V4);
    }
}
