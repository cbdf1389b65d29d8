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
    ///
    /// Panics when the product of the axes overflows `usize`, which no array
    /// can have ([`Aval::checked_size`] says so without panicking).
    #[track_caller]
    pub fn size(&self) -> usize {
        match self.checked_size() {
            Some(n) => n,
            None => panic!("size: the shape {:?} has more than usize::MAX elements", self.shape),
        }
    }
    /// Number of elements, or `None` when the product of the axes overflows
    /// `usize` (see [`checked_size`]).
    ///
    /// ```
    /// use rjax::{Aval, DType};
    /// assert_eq!(Aval::new(&[2, 3], DType::F32).checked_size(), Some(6));
    /// assert_eq!(Aval::new(&[1 << 40, 1 << 40], DType::F32).checked_size(), None);
    /// ```
    pub fn checked_size(&self) -> Option<usize> {
        checked_size(&self.shape)
    }
    /// The bytes an array of this aval takes, or a message saying why no
    /// array can have it. The message starts with "shape", so that callers
    /// say whose shape it is: `format!("{op}: the result {msg}")`.
    ///
    /// An array may take at most [`MAX_ARRAY_BYTES`] (`isize::MAX`, the most
    /// one Rust allocation can be). A shape with a zero axis takes 0 bytes
    /// whatever its other axes, provided the product of those fits in
    /// `isize::MAX` elements, so that its row-major strides exist: `[0, 1 << 62]`
    /// is a valid empty shape, `[0, 1 << 62, 1 << 62]` is not.
    ///
    /// This checks arithmetic only; whether the memory is there is found out
    /// when the array is allocated.
    ///
    /// ```
    /// use rjax::{Aval, DType};
    /// assert_eq!(Aval::new(&[2, 3], DType::F64).byte_size(), Ok(48));
    /// assert_eq!(Aval::new(&[0, 1 << 62], DType::F32).byte_size(), Ok(0));
    /// let e = Aval::new(&[1 << 40, 1 << 40], DType::F32).byte_size().unwrap_err();
    /// assert!(e.starts_with("shape [1099511627776, 1099511627776] of f32 has about 1.21e24 elements"));
    /// ```
    pub fn byte_size(&self) -> Result<usize, String> {
        let limit = MAX_ARRAY_BYTES;
        let extent = self.shape.iter().filter(|&&d| d != 0).try_fold(1usize, |n, &d| n.checked_mul(d));
        match extent.filter(|&n| n <= limit) {
            None if self.shape.contains(&0) => Err(format!(
                "shape {:?} of {} has no elements, but its nonzero axes multiply to about {}, \
                 more than isize::MAX ({limit}), so its strides cannot be represented",
                self.shape,
                self.dtype,
                Approx(self.shape.iter().filter(|&&d| d != 0).map(|&d| d as f64).product()),
            )),
            Some(_) if self.shape.contains(&0) => Ok(0),
            n => match n.and_then(|n| n.checked_mul(self.dtype.size_in_bytes())).filter(|&b| b <= limit) {
                Some(bytes) => Ok(bytes),
                None => {
                    let count = self.shape.iter().map(|&d| d as f64).product::<f64>();
                    Err(format!(
                        "shape {:?} of {} has about {} elements ({} bytes), more than one \
                         array can hold (at most {limit} bytes, isize::MAX)",
                        self.shape,
                        self.dtype,
                        Approx(count),
                        Approx(count * self.dtype.size_in_bytes() as f64),
                    ))
                }
            },
        }
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

/// The most bytes one array may take: `isize::MAX`, the most one Rust
/// allocation (and so one `ndarray` array) can be.
///
/// ```
/// assert_eq!(rjax::core::MAX_ARRAY_BYTES, isize::MAX as usize);
/// ```
pub const MAX_ARRAY_BYTES: usize = isize::MAX as usize;

/// The number of elements of a shape (the product of its axes), or `None`
/// when that overflows `usize`. A shape with a zero axis has 0 elements,
/// however large its other axes.
///
/// ```
/// use rjax::core::checked_size;
/// assert_eq!(checked_size(&[2, 3, 4]), Some(24));
/// assert_eq!(checked_size(&[]), Some(1));
/// assert_eq!(checked_size(&[1 << 40, 1 << 40]), None);
/// assert_eq!(checked_size(&[1 << 40, 1 << 40, 0]), Some(0));
/// ```
pub fn checked_size(shape: &[usize]) -> Option<usize> {
    if shape.contains(&0) {
        return Some(0);
    }
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

/// A count written with three significant digits in scientific notation
/// (`1.21e24`), or exactly when it is a whole number below 10^15.
struct Approx(f64);

impl fmt::Display for Approx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 1e15 && self.0.fract() == 0.0 {
            write!(f, "{}", self.0 as u64)
        } else {
            write!(f, "{:.2e}", self.0)
        }
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
