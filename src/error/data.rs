//! [`DataError`]: why a data set could not be loaded, downloaded or batched.

use std::path::PathBuf;

/// Everything that can go wrong loading, downloading or batching data. Each
/// message names the file or URL and says what to do.
///
/// ```
/// let err = rjax::data::cifar10::Cifar10::load("/no/such/dir").err().unwrap();
/// assert!(err.to_string().contains("CIFAR10_DIR"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file or directory of the data set is not there.
    #[error("{path} not found: {hint}")]
    Missing {
        /// The path that was looked for.
        path: PathBuf,
        /// What to do about it.
        hint: String,
    },
    /// Reading or writing a file failed.
    #[error("could not {action} {path}: {source}")]
    Io {
        /// What was being done: "read", "write", "create", ...
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A batch file has the wrong size: truncated, or not a CIFAR-10 binary batch.
    #[error(
        "{path} has {found} bytes, expected {expected} ({records} records of {record_len} bytes): \
         the file is truncated or is not a CIFAR-10 binary batch; download and extract the data set again"
    )]
    FileSize {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        found: u64,
        /// The size it must have.
        expected: u64,
        /// The records it must hold.
        records: usize,
        /// Bytes per record (1 label byte + the pixels).
        record_len: usize,
    },
    /// A record's label byte is not a class index.
    #[error(
        "{path}: record {record} has label {found}, expected 0..={max}: \
         the file is corrupt or is not a CIFAR-10 binary batch; download and extract the data set again"
    )]
    Label {
        /// The file.
        path: PathBuf,
        /// The record's index in the file.
        record: usize,
        /// The label byte found.
        found: u8,
        /// The largest valid label.
        max: u8,
    },
    /// `batches.meta.txt` does not list the expected number of class names.
    #[error("{path} lists {found} class names, expected {expected} (one per line)")]
    Meta {
        /// The file.
        path: PathBuf,
        /// Names found.
        found: usize,
        /// Names expected.
        expected: usize,
    },
    /// The HTTP request failed (no network, server error, connection lost).
    #[error("could not download {url}: {reason}. If this machine is offline: {hint}")]
    Download {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
        /// What to do about it.
        hint: String,
    },
    /// The download has the wrong size (the transfer was cut short, or the file changed).
    #[error(
        "the download from {url} has {found} bytes, expected {expected}: the transfer was cut short or the file \
         on the server is not the expected one; nothing was kept, try again"
    )]
    DownloadSize {
        /// The URL.
        url: String,
        /// Bytes received (or announced by the server).
        found: u64,
        /// Bytes expected.
        expected: u64,
    },
    /// The download's MD5 does not match.
    #[error(
        "the download from {url} has md5 {found}, expected {expected}: it is corrupt or not the expected file; \
         nothing was kept, try again"
    )]
    Checksum {
        /// The URL.
        url: String,
        /// The MD5 computed (lowercase hex).
        found: String,
        /// The MD5 expected.
        expected: String,
    },
    /// The downloaded archive could not be unpacked or lacks the expected directory.
    #[error("the archive from {url} could not be unpacked: {reason}; nothing was kept")]
    Archive {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A [`Dataset`](crate::data::Dataset) label that is not a class index
    /// in `0..num_classes` (the first such label).
    #[error(
        "Dataset: label {index} is {label}, not a class index in 0..{num_classes} (the data set has \
         {num_classes} classes); fix the labels or pass the right number of classes"
    )]
    LabelOutOfRange {
        /// The label's index (its example's row).
        index: usize,
        /// The label.
        label: i32,
        /// The number of classes the data set was given.
        num_classes: usize,
    },
    /// Arrays or arguments that do not fit together (for [`Dataset`] and [`Batches`]).
    #[error("{0}")]
    Invalid(String),
}
