//! Data sets and mini-batches: [`cifar10`] (the official binary release, with
//! download), [`Dataset`] (images and labels held on the host) and [`Batches`]
//! (shuffled fixed-size mini-batches, deterministic per [`random::Key`](crate::random::Key)).
//!
//! ```
//! use rjax::data::Dataset;
//! use rjax::{random, Array};
//!
//! // 10 "images" of 4 bytes each, labels 0..10
//! let ds = Dataset::new(Array::from_vec((0..40u8).collect(), &[10, 4]), Array::from_vec((0..10).collect(), &[10]), 10)?;
//! let epoch_key = random::fold_in(&random::key(0), 1);
//! let mut seen = 0;
//! for (x, y) in ds.batches(4)?.shuffle(&epoch_key).drop_last(true) {
//!     assert_eq!((x.shape(), y.shape()), (&[4, 4][..], &[4][..]));
//!     seen += y.size();
//! }
//! assert_eq!(seen, 8);
//! # Ok::<(), rjax::data::DataError>(())
//! ```

mod batches;
pub mod cifar10;
mod dataset;
mod download;

pub use crate::error::DataError;
pub use batches::Batches;
pub use dataset::Dataset;

use std::path::PathBuf;

/// Where to get CIFAR-10 when it is not on this machine; part of the messages of
/// [`DataError`]s that mean "the data is not here".
pub(crate) const GET_DATA_HINT: &str = "download cifar-10-binary.tar.gz from \
     https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz (on a machine with internet access), extract it, \
     and pass the directory holding cifar-10-batches-bin with --data-dir or set CIFAR10_DIR";

impl DataError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> DataError {
        DataError::Io { action, path: path.into(), source }
    }
}
