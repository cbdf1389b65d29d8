//! [`PjrtError`]: every failure of the PJRT layer, with the plugin's own
//! message and what to do about it.

use std::fmt;
use std::path::PathBuf;

use super::plugin::PluginKind;

/// An error from finding, loading or calling a PJRT plugin.
///
/// Errors reported by the plugin carry its message verbatim (for a rejected
/// program, the compiler's diagnostic).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PjrtError {
    /// No plugin file was found in any of the places searched.
    #[error("no PJRT {kind} plugin found. Looked for:\n{}\n{}", .searched.join("\n"), .kind.install_hint())]
    NotFound {
        /// Which plugin was looked for.
        kind: PluginKind,
        /// Each place searched, in order, as a line of text.
        searched: Vec<String>,
    },
    /// A file was found (or named) but is not a loadable PJRT plugin.
    #[error("cannot load PJRT plugin {}: {reason}\n{hint}", .path.display())]
    Load {
        /// The file.
        path: PathBuf,
        /// What is wrong with it (the dynamic loader's message, or rjax's check).
        reason: String,
        /// What to do.
        hint: String,
    },
    /// The plugin implements a PJRT C API version these bindings do not support.
    #[error(
        "PJRT plugin {} implements PJRT C API {major}.{minor}; rjax supports {}.{} and newer {}.x versions. {hint}",
        .path.display(), super::ffi::PJRT_API_MAJOR, super::ffi::PJRT_API_MINOR, super::ffi::PJRT_API_MAJOR
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The plugin's API major version.
        major: i32,
        /// The plugin's API minor version.
        minor: i32,
        /// What to do.
        hint: String,
    },
    /// The compiler rejected the program; `message` is its diagnostic.
    #[error("XLA could not compile the program: {message}")]
    Compile {
        /// The compiler's message.
        message: String,
    },
    /// The plugin does not implement this operation (e.g. memory statistics on CPU).
    #[error("{op} is not implemented by this PJRT plugin: {message}")]
    Unimplemented {
        /// The C API function that was called.
        op: &'static str,
        /// The plugin's message.
        message: String,
    },
    /// A call into the plugin failed.
    #[error("{op} failed ({code}): {message}")]
    Plugin {
        /// The C API function that was called.
        op: &'static str,
        /// The status code the plugin gave.
        code: ErrorCode,
        /// The plugin's message.
        message: String,
    },
    /// The plugin's function table lacks an entry rjax needs.
    #[error("PJRT plugin does not provide {0}; it may be too old or incomplete")]
    MissingFunction(&'static str),
    /// A request rjax cannot pass to the plugin (e.g. buffers of another client).
    #[error("{0}")]
    Invalid(String),
}

/// A status code of a PJRT error (the absl status codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ErrorCode {
    Cancelled,
    Unknown,
    InvalidArgument,
    DeadlineExceeded,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    ResourceExhausted,
    FailedPrecondition,
    Aborted,
    OutOfRange,
    Unimplemented,
    Internal,
    Unavailable,
    DataLoss,
    Unauthenticated,
    /// A code outside the known range (the number is kept).
    Other(i32),
}

impl ErrorCode {
    /// Maps the C enum value.
    pub fn from_raw(code: i32) -> ErrorCode {
        use ErrorCode::*;
        match code {
            1 => Cancelled,
            2 => Unknown,
            3 => InvalidArgument,
            4 => DeadlineExceeded,
            5 => NotFound,
            6 => AlreadyExists,
            7 => PermissionDenied,
            8 => ResourceExhausted,
            9 => FailedPrecondition,
            10 => Aborted,
            11 => OutOfRange,
            12 => Unimplemented,
            13 => Internal,
            14 => Unavailable,
            15 => DataLoss,
            16 => Unauthenticated,
            n => Other(n),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::Other(n) => write!(f, "status code {n}"),
            c => write!(f, "{c:?}"),
        }
    }
}

impl PjrtError {
    /// The error for a failed call of `op`, classified by status code.
    pub(crate) fn from_plugin(op: &'static str, code: ErrorCode, message: String) -> PjrtError {
        match code {
            ErrorCode::Unimplemented => PjrtError::Unimplemented { op, message },
            _ => PjrtError::Plugin { op, code, message },
        }
    }
}
