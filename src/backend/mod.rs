//! Backends that evaluate primitives. `cpu` is built in and always present.

pub(crate) mod cpu;
pub mod pjrt;
pub mod stablehlo;

use std::fmt;

/// The backends a [`Device`](crate::Device) can belong to.
///
/// ```
/// use rjax::Platform;
/// assert_eq!(Platform::XlaCpu.to_string(), "xla-cpu");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    /// The built-in CPU backend.
    Cpu,
    /// XLA on the CPU (PJRT CPU plugin).
    XlaCpu,
    /// XLA on NVIDIA GPUs (PJRT CUDA plugin).
    Cuda,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Platform::Cpu => "cpu",
            Platform::XlaCpu => "xla-cpu",
            Platform::Cuda => "cuda",
        })
    }
}
