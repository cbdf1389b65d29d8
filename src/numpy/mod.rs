//! NumPy-style functions (JAX calls this module `jax.numpy`): broadcasting,
//! JAX's type promotion (plain numbers are weakly typed, see [`ArrayLike`]),
//! axes with keepdims, slicing. Everything here is written
//! with the primitives of [`crate::lax`], so every transformation applies.
//!
//! ```
//! use rjax::{numpy as jnp, Array};
//! let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
//! let y = jnp::sum(&jnp::exp(&x), 1, false);
//! assert_eq!(y.shape(), &[2]);
//! ```

mod binary;
mod division;
mod elementwise;
mod indexing;
mod linalg;
mod promote;
mod reductions;
mod shape;

pub use crate::core::promote_types;
pub use binary::*;
pub use division::*;
pub use elementwise::*;
pub use indexing::*;
pub use linalg::*;
pub use promote::*;
pub use reductions::*;
pub use shape::*;

use crate::core::{Array, broadcast_shapes, normalize_axis};
use crate::lax;

/// Which axes a reduction runs over.
///
/// Integers (negative counts from the end), lists of them, or [`ALL`].
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let x = Array::ones(&[2, 3], rjax::DType::F32);
/// assert_eq!(jnp::sum(&x, -1, false).shape(), &[2]);
/// assert_eq!(jnp::sum(&x, [0, 1], false).shape(), &[] as &[usize]);
/// assert_eq!(jnp::sum(&x, jnp::ALL, true).shape(), &[1, 1]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Axes {
    /// Every axis.
    All,
    /// These axes.
    Some(Vec<isize>),
}

/// Every axis (JAX's `axis=None`).
pub const ALL: Axes = Axes::All;

impl From<i32> for Axes {
    fn from(a: i32) -> Axes {
        Axes::Some(vec![a as isize])
    }
}
impl From<isize> for Axes {
    fn from(a: isize) -> Axes {
        Axes::Some(vec![a])
    }
}
impl From<usize> for Axes {
    fn from(a: usize) -> Axes {
        Axes::Some(vec![a as isize])
    }
}
impl<const N: usize> From<[i32; N]> for Axes {
    fn from(a: [i32; N]) -> Axes {
        Axes::Some(a.iter().map(|&x| x as isize).collect())
    }
}
impl From<&[i32]> for Axes {
    fn from(a: &[i32]) -> Axes {
        Axes::Some(a.iter().map(|&x| x as isize).collect())
    }
}
impl From<Vec<usize>> for Axes {
    fn from(a: Vec<usize>) -> Axes {
        Axes::Some(a.iter().map(|&x| x as isize).collect())
    }
}

impl Axes {
    /// The sorted, distinct axes for an array of `ndim` dimensions.
    #[track_caller]
    pub(crate) fn resolve(&self, op: &str, ndim: usize) -> Vec<usize> {
        match self {
            Axes::All => (0..ndim).collect(),
            Axes::Some(v) => {
                let mut out = Vec::with_capacity(v.len());
                for &a in v {
                    out.push(axis(op, a, ndim));
                }
                out.sort_unstable();
                if out.windows(2).any(|w| w[0] == w[1]) {
                    panic!("{op}: repeated axis in {v:?}");
                }
                out
            }
        }
    }
}

/// Normalizes one axis or panics at the caller with the op's name.
#[track_caller]
pub(crate) fn axis(op: &str, a: isize, ndim: usize) -> usize {
    match normalize_axis(a, ndim) {
        Ok(a) => a,
        Err(m) => panic!("{op}: {m}"),
    }
}

/// A 0-d array holding `v` in the dtype of `like` (no promotion: for JAX's
/// rules, pass the number itself to a NumPy-style function, see [`ArrayLike`]).
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let s = jnp::scalar_like(2.0, &Array::scalar(1i32));
/// assert_eq!(s.item::<i32>(), 2);
/// ```
pub fn scalar_like(v: f64, like: &Array) -> Array {
    Array::full(&[], v, like.dtype())
}

/// Broadcasts two arrays to their common shape; dtypes must match.
///
/// ```
/// use rjax::{numpy as jnp, Array, DType};
/// let (a, b) = jnp::broadcast_arrays("add", &Array::zeros(&[3, 1], DType::F32), &Array::zeros(&[4], DType::F32));
/// assert_eq!((a.shape(), b.shape()), (&[3, 4][..], &[3, 4][..]));
/// ```
#[track_caller]
pub fn broadcast_arrays(op: &str, a: &Array, b: &Array) -> (Array, Array) {
    if a.dtype() != b.dtype() {
        panic!("{op}: dtypes {} and {} differ; convert one with astype", a.dtype(), b.dtype());
    }
    let shape = match broadcast_shapes(a.shape(), b.shape()) {
        Some(s) => s,
        None => panic!("{op}: shapes {:?} and {:?} cannot be broadcast together", a.shape(), b.shape()),
    };
    (broadcast_to(a, &shape), broadcast_to(b, &shape))
}

/// Broadcasts `x` to `shape` with NumPy's rules (axes aligned from the right).
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let x = Array::from_vec(vec![1, 2], &[2]);
/// assert_eq!(jnp::broadcast_to(&x, &[2, 2]).to_vec::<i32>(), vec![1, 2, 1, 2]);
/// ```
#[track_caller]
pub fn broadcast_to(x: &Array, shape: &[usize]) -> Array {
    if x.shape() == shape {
        return x.clone();
    }
    let ok = x.ndim() <= shape.len() && x.shape().iter().rev().zip(shape.iter().rev()).all(|(&a, &b)| a == b || a == 1);
    if !ok {
        panic!("broadcast_to: cannot broadcast shape {:?} to {:?}", x.shape(), shape);
    }
    let off = shape.len() - x.ndim();
    let dims: Vec<usize> = (off..shape.len()).collect();
    lax::broadcast_in_dim(x, shape, &dims)
}
