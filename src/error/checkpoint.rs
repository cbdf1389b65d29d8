//! [`CheckpointError`]: why a checkpoint could not be saved or loaded, with what to do about it.

use std::path::PathBuf;

/// An error from [`save`](crate::checkpoint::save), [`load`](crate::checkpoint::load) and the other
/// checkpoint functions. Every variant names the file; loading validates the
/// whole file before building anything, so an error never leaves a partly
/// loaded tree, and a failed save leaves an existing file unchanged.
///
/// ```
/// use rjax::checkpoint::{self, CheckpointError};
/// let e = checkpoint::load_arrays("/nonexistent/dir/model.safetensors").unwrap_err();
/// assert!(matches!(e, CheckpointError::Io { .. }));
/// assert!(e.to_string().contains("/nonexistent/dir/model.safetensors"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Reading, creating, syncing or renaming a file failed.
    #[error("checkpoint {}: {op} failed: {source}; check that the path exists and is writable/readable", .path.display())]
    Io {
        /// The file (or temporary file, or directory) involved.
        path: PathBuf,
        /// What was being done, e.g. "reading the file".
        op: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid safetensors file: too short, a header length
    /// past the end, malformed JSON, data offsets out of range, a bad value.
    #[error(
        "checkpoint {}: the file is truncated or corrupt: {message}; restore it from another copy \
         (nothing was loaded)",
        .path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong (the parser's message, with sizes where known).
        message: String,
    },
    /// A tensor's data does not have the CRC-32 that [`save`](crate::checkpoint::save)
    /// recorded for it: the file was damaged after it was written (a flipped
    /// bit on disk, a bad copy or transfer).
    #[error(
        "checkpoint {}: tensor {name:?} is corrupt: its data has CRC-32 {found:08x} but the file records \
         {expected:08x}, so the file was damaged after it was written; restore it from another copy \
         (nothing was loaded)",
        .path.display()
    )]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The CRC-32 recorded in the file's metadata.
        expected: u32,
        /// The CRC-32 of the tensor's data as read.
        found: u32,
    },
    /// A leaf of the template has no tensor of its name in the file.
    #[error(
        "checkpoint {}: leaf {leaf:?} is missing (the template expects {expected}); load with a template \
         shaped like the tree that was saved, or list the file's tensors with checkpoint::load_arrays",
        .path.display()
    )]
    Missing {
        /// The file.
        path: PathBuf,
        /// The leaf's name (see [`leaf_names`](crate::checkpoint::leaf_names)).
        leaf: String,
        /// The template's dtype and shape, e.g. `f32[2,3]`.
        expected: String,
    },
    /// A tensor's dtype or shape differs from the template's leaf.
    #[error(
        "checkpoint {}: leaf {leaf:?}: the template expects {expected} but the file holds {found}; \
         load with a template of the saved shapes and dtypes (convert afterwards if needed)",
        .path.display()
    )]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// The leaf's name.
        leaf: String,
        /// The template's dtype and shape, e.g. `f32[2,3]`.
        expected: String,
        /// The file's dtype and shape, e.g. `f64[3]`.
        found: String,
    },
    /// The file holds tensors that the template has no leaf for.
    #[error(
        "checkpoint {}: the file holds tensors the template has no leaf for: {}; load with the tree that \
         was saved, or read the tensors with checkpoint::load_arrays and pick the ones you need",
        .path.display(), list_names(.names)
    )]
    Unexpected {
        /// The file.
        path: PathBuf,
        /// The extra tensors' names, sorted.
        names: Vec<String>,
    },
    /// A tensor of a dtype rjax arrays cannot hold (such as F16 or I64).
    #[error(
        "checkpoint {}: tensor {name:?} has dtype {dtype}, which rjax cannot hold (supported: F32, F64, I32, \
         U32, U8, BOOL); convert it to one of these where the file was written",
        .path.display()
    )]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The safetensors dtype, e.g. `F16`.
        dtype: String,
    },
    /// The file was written by a newer rjax with a format this one cannot read.
    #[error(
        "checkpoint {}: format version {found} is newer than this rjax reads (version {supported}); \
         load it with a newer rjax",
        .path.display()
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The version recorded in the file.
        found: u32,
        /// The newest version this rjax reads.
        supported: u32,
    },
    /// A leaf's values could not be read to the host (an abstract array being
    /// traced, a donated buffer, a device failure). Nothing was written.
    #[error(
        "saving checkpoint {}: leaf {leaf:?} could not be read: {source}; save concrete arrays, outside \
         transformations (grad, vmap, jit) and not after donating them (nothing was written)",
        .path.display()
    )]
    Device {
        /// The file that was to be written.
        path: PathBuf,
        /// The leaf's name.
        leaf: String,
        /// The device error (boxed: it is large).
        #[source]
        source: Box<crate::Error>,
    },
    /// The tree's structure gives no unique name to every leaf (a custom
    /// [`Tree`](crate::Tree) impl whose `def` disagrees with its leaves, or
    /// repeats a key).
    #[error("checkpoint {}: {message}; fix the Tree impl so every leaf has its own key", .path.display())]
    Structure {
        /// The file.
        path: PathBuf,
        /// What is inconsistent.
        message: String,
    },
    /// The safetensors encoder refused the tensors (e.g. a header over 100 MB).
    #[error("saving checkpoint {}: {message}; split the tree into several checkpoints", .path.display())]
    Encode {
        /// The file that was to be written.
        path: PathBuf,
        /// The encoder's message.
        message: String,
    },
}

/// At most ten names, then how many more.
fn list_names(names: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut s = names.iter().take(SHOWN).map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}
