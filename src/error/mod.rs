//! The crate's errors, each saying what went wrong and what to do: [`Error`],
//! the one error type of the crate, holds any of the others, so `?` works
//! across devices, data, checkpoints and trees in a user's `main`.
//!
//! ```
//! fn run() -> Result<(), rjax::Error> {
//!     let _ = rjax::data::cifar10::Cifar10::load("/no/such/dir")?; // a DataError
//!     Ok(())
//! }
//! let e = run().unwrap_err();
//! assert!(matches!(e, rjax::Error::Data(_)));
//! assert!(e.to_string().contains("CIFAR10_DIR"));
//! ```

mod checkpoint;
mod data;
mod tree;

pub use checkpoint::CheckpointError;
pub use data::DataError;
pub use tree::TreeError;

use crate::backend::Platform;
use crate::backend::pjrt::PjrtError;
use crate::core::lowering::LowerError;
use std::path::PathBuf;

/// An error from devices, plugins, compilation or execution, or from data,
/// checkpoints and trees.
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
    /// A device number the platform does not have (`xla-cpu:7` with 4 devices).
    #[error("no device {spec}: {platform} has {count} device(s), numbered 0 to {}; pick one of them", .count - 1)]
    NoSuchDevice {
        /// The name asked for.
        spec: String,
        /// Its platform.
        platform: Platform,
        /// How many devices the platform has (at least one).
        count: usize,
    },
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
    /// A mesh, sharding or collective that cannot be used as given (the
    /// message names the operation, the mesh and the spec).
    #[error("{0}")]
    Sharding(String),
    /// A data set could not be read, downloaded or batched.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A checkpoint could not be saved or loaded.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Trees did not match.
    #[error(transparent)]
    Tree(#[from] TreeError),
}
