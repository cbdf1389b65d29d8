//! [`TreeError`]: why trees could not be combined or rebuilt.

use std::fmt;

/// Why two trees could not be combined or a tree could not be rebuilt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeError(pub String);

impl fmt::Display for TreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TreeError {}
