//! [`Error`]: what can go wrong outside pure computation (devices, plugins,
//! compilation), with what to do about it.

use super::runtime::Platform;
use crate::backend::pjrt::PjrtError;
use crate::backend::stablehlo::LowerError;
use std::path::PathBuf;

/// An error from devices, plugins, compilation or execution.
///
/// ```
/// let e = rjax::device("tpu").unwrap_err();
/// assert!(e.to_string().contains("cpu, xla-cpu, cuda"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A device name that is not `cpu`, `xla-cpu` or `cuda` (with an optional `:N`).
    #[error("unknown device {0:?}: use cpu, xla-cpu, cuda, or one of them with an ordinal such as cuda:1")]
    BadDevice(String),
    /// The platform's plugin could not be found or started.
    #[error("the {platform} device is not available: {message}")]
    Unavailable {
        /// The platform asked for.
        platform: Platform,
        /// Why (names what was looked for and how to install it).
        message: String,
    },
    /// An error from the PJRT plugin (transfer, execution, memory statistics).
    #[error(transparent)]
    Pjrt(#[from] PjrtError),
    /// The function could not be lowered to StableHLO.
    #[error(transparent)]
    Lower(#[from] LowerError),
    /// XLA rejected the lowered program.
    #[error(
        "XLA ({platform}) could not compile the program: {message}\n{}",
        match .mlir_path {
            Some(p) => format!("The StableHLO text was written to {}", p.display()),
            None => "Set RJAX_DUMP_DIR to a directory to keep the StableHLO text of every program.".to_string(),
        }
    )]
    Compile {
        /// The platform compiling.
        platform: Platform,
        /// The compiler's message.
        message: String,
        /// Where the rejected program's text was written.
        mlir_path: Option<PathBuf>,
    },
    /// An array whose buffer was donated to a jitted call was used again.
    #[error(
        "{0}: the array's device buffer was donated to a jitted function (donate_argnums) and no longer exists; \
         use that function's outputs instead"
    )]
    Donated(String),
    /// Arrays on different devices were combined.
    #[error("{op}: arrays on different devices ({a} and {b}); move one with device_put")]
    DeviceMismatch {
        /// The operation.
        op: String,
        /// One device.
        a: String,
        /// The other.
        b: String,
    },
    /// An operation the device or backend does not support.
    #[error("{0}")]
    Unsupported(String),
}
