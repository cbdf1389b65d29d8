//! Abstract values: what is known about an array while tracing (its shape and dtype).

use super::dtype::DType;
use std::fmt;

/// The abstract value of an array: its shape and dtype, without data.
///
/// Every primitive's shape rule maps input avals to an output aval; this is
/// what tracing computes instead of numbers.
///
/// ```
/// use rjax::{Aval, DType};
/// let a = Aval::new(&[2, 3], DType::F32);
/// assert_eq!(a.size(), 6);
/// assert_eq!(a.to_string(), "f32[2,3]");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Aval {
    /// The size of each axis.
    pub shape: Vec<usize>,
    /// The element type.
    pub dtype: DType,
}

impl Aval {
    /// An aval of the given shape and dtype.
    pub fn new(shape: &[usize], dtype: DType) -> Aval {
        Aval { shape: shape.to_vec(), dtype }
    }
    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }
    /// Number of elements.
    pub fn size(&self) -> usize {
        self.shape.iter().product()
    }
    /// The same shape with another dtype.
    pub fn with_dtype(&self, dtype: DType) -> Aval {
        Aval { shape: self.shape.clone(), dtype }
    }
}

impl fmt::Display for Aval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
        write!(f, "{}[{}]", self.dtype, dims.join(","))
    }
}

/// Normalizes a possibly negative axis against `ndim`, or says why it cannot.
///
/// ```
/// assert_eq!(rjax::core::normalize_axis(-1, 3), Ok(2));
/// assert!(rjax::core::normalize_axis(3, 3).is_err());
/// ```
pub fn normalize_axis(axis: isize, ndim: usize) -> Result<usize, String> {
    let n = ndim as isize;
    if axis < -n || axis >= n {
        Err(format!("axis {axis} is out of range for an array of {ndim} dimensions"))
    } else if axis < 0 {
        Ok((axis + n) as usize)
    } else {
        Ok(axis as usize)
    }
}

/// The NumPy broadcast of two shapes, or `None` when they are incompatible.
///
/// ```
/// assert_eq!(rjax::core::broadcast_shapes(&[3, 1], &[4]), Some(vec![3, 4]));
/// assert_eq!(rjax::core::broadcast_shapes(&[3], &[4]), None);
/// ```
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return None;
        };
    }
    Some(out)
}
