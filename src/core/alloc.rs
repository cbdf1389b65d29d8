//! Checks before the built-in CPU backend allocates an array: the size is
//! representable, and a large allocation can be had, so that running out of
//! memory is a panic naming the operation instead of an abort.
//!
//! Rust aborts the process when an allocation fails (`handle_alloc_error`),
//! which no `catch_unwind` can stop. So before a large array is made, the
//! same number of bytes is reserved fallibly (`Vec::try_reserve_exact`) and
//! released again: an allocation the system refuses outright (more than the
//! machine can provide) becomes a panic or an `Err`. Memory that runs out
//! later, while pages are written, is the operating system's business (an
//! out-of-memory kill), as for any program.

use super::aval::Aval;

/// Allocations of at least this many bytes are probed first; smaller ones
/// are made directly (probing costs a system call, and a failure that small
/// means the process is out of memory anyway).
const PROBE_MIN_BYTES: usize = 64 << 20;

/// Checks that an array of `aval` can be allocated: its byte size is
/// representable ([`Aval::byte_size`]) and, when large, that many bytes can
/// be reserved now. The error names `op`, the bytes and the aval.
pub(crate) fn try_reserve(op: &str, aval: &Aval) -> Result<(), String> {
    let bytes = aval.byte_size().map_err(|m| format!("{op}: the {m}"))?;
    if bytes >= PROBE_MIN_BYTES {
        let mut probe: Vec<u8> = Vec::new();
        if probe.try_reserve_exact(bytes).is_err() {
            return Err(format!("{op}: cannot allocate {bytes} bytes ({}) for {aval}: out of memory", human(bytes)));
        }
    }
    Ok(())
}

/// [`try_reserve`], panicking with its message.
#[track_caller]
pub(crate) fn reserve(op: &str, aval: &Aval) {
    if let Err(m) = try_reserve(op, aval) {
        panic!("{m}");
    }
}

/// A byte count in binary units with one decimal: `4.0 TiB`.
fn human(bytes: usize) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::DType;

    #[test]
    fn human_units() {
        assert_eq!(human(512), "512.0 B");
        assert_eq!(human(4 << 40), "4.0 TiB");
        assert_eq!(human(3 << 29), "1.5 GiB");
    }

    #[test]
    fn small_arrays_are_not_probed_and_impossible_ones_refused() {
        assert_eq!(try_reserve("zeros", &Aval::new(&[4], DType::F32)), Ok(()));
        // a petabyte is beyond any 48-bit address space, overcommit or not
        let e = try_reserve("zeros", &Aval::new(&[1 << 48], DType::F32)).unwrap_err();
        assert_eq!(
            e,
            "zeros: cannot allocate 1125899906842624 bytes (1.0 PiB) for f32[281474976710656]: out of memory"
        );
        let e = try_reserve("ones", &Aval::new(&[1 << 40, 1 << 40], DType::F32)).unwrap_err();
        assert!(e.starts_with("ones: the shape [1099511627776, 1099511627776] of f32 has about 1.21e24"), "{e}");
    }
}
