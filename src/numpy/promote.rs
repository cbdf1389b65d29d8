//! JAX's type promotion for the NumPy layer: what a plain Rust number means
//! when it meets an array, and which dtype two operands meet in.
//!
//! A Rust number passed where an array is expected ([`ArrayLike`]) is *weakly
//! typed*, as a Python scalar is in JAX: it takes the dtype of the array it
//! meets when it can. A float (`f64`, `f32`) meeting a float array takes the
//! array's dtype; meeting an integer or bool array, both become the default
//! float type `f32`. An integer (`i32`, `i64`, `u32`, `usize`) takes the dtype of
//! any numeric array (its value wraps into that type, as in JAX), and meeting a
//! bool array both become `i32`. Two arrays meet in [`promote_types`] of their
//! dtypes. A `bool` is a strongly typed bool scalar.
//!
//! ```
//! use rjax::{numpy as jnp, Array, DType};
//! let i = Array::arange(0.0, 4.0, 1.0, DType::I32);
//! assert_eq!((&i * 0.5).to_vec::<f32>(), vec![0.0, 0.5, 1.0, 1.5]); // jnp.arange(4) * 0.5
//! assert_eq!((&i + 1).dtype(), DType::I32);
//! let x = Array::from_vec(vec![1.0f32, -2.0], &[2]);
//! assert_eq!(jnp::minimum(&x, 0.5).to_vec::<f32>(), vec![0.5, -2.0]);
//! assert_eq!(jnp::result_type(&[(&i).into_operand(), (&x).into_operand()]), DType::F32);
//! # use rjax::numpy::ArrayLike;
//! ```

use super::broadcast_arrays;
use crate::core::{Array, DType, promote_types};
use crate::lax;

/// One operand of a NumPy-style function: an array, or a weakly typed scalar.
#[derive(Clone, Debug)]
pub enum Operand {
    /// An array (its dtype is strong).
    Array(Array),
    /// A float scalar that takes the dtype of the array it meets (a Python float in JAX).
    Float(f64),
    /// An integer scalar that takes the dtype of the array it meets (a Python int in JAX).
    Int(i64),
}

/// What NumPy-style functions take: arrays (`Array`, `&Array`) and plain numbers.
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let x = Array::from_vec(vec![1i32, 2, 3], &[3]);
/// assert_eq!(jnp::maximum(&x, 2).to_vec::<i32>(), vec![2, 2, 3]);
/// assert_eq!(jnp::add(1.5, &x).to_vec::<f32>(), vec![2.5, 3.5, 4.5]);
/// ```
pub trait ArrayLike {
    /// This value as an operand.
    fn into_operand(self) -> Operand;
}

impl ArrayLike for Operand {
    fn into_operand(self) -> Operand {
        self
    }
}
impl ArrayLike for Array {
    fn into_operand(self) -> Operand {
        Operand::Array(self)
    }
}
impl<T: ArrayLike + Clone> ArrayLike for &T {
    fn into_operand(self) -> Operand {
        self.clone().into_operand()
    }
}
impl ArrayLike for bool {
    fn into_operand(self) -> Operand {
        Operand::Array(Array::scalar(self))
    }
}
macro_rules! weak {
    ($variant:ident, $as:ty: $($t:ty),*) => {$(
        impl ArrayLike for $t {
            fn into_operand(self) -> Operand {
                Operand::$variant(self as $as)
            }
        }
    )*};
}
weak!(Float, f64: f64, f32);
weak!(Int, i64: i32, i64, u32, usize);

impl Operand {
    /// The dtype of an array operand; `None` for a weak scalar.
    fn strong_dtype(&self) -> Option<DType> {
        match self {
            Operand::Array(a) => Some(a.dtype()),
            _ => None,
        }
    }

    /// This operand as an array of `dtype` (a scalar becomes a 0-d array).
    ///
    /// An integer scalar wraps into a narrower integer type as in JAX (`300` as
    /// `u8` is 44); one outside `i32`'s range that `dtype` cannot hold panics.
    #[track_caller]
    pub fn to_array(&self, dtype: DType) -> Array {
        match *self {
            Operand::Array(ref a) if a.dtype() == dtype => a.clone(),
            Operand::Array(ref a) => lax::convert_element_type(a, dtype),
            Operand::Float(v) => Array::full(&[], v, dtype),
            Operand::Int(v) => match dtype {
                // JAX wraps a Python int of int32's range into the array's
                // integer type and raises OverflowError beyond that range; rjax
                // also takes a value beyond it that the type holds exactly
                _ if !dtype.is_float() && i32::try_from(v).is_err() && !fits(v, dtype) => {
                    panic!("the integer {v} is outside the range of both i32 and {dtype} (JAX raises OverflowError)")
                }
                DType::I32 => Array::scalar(v as i32),
                DType::U32 => Array::scalar(v as u32),
                DType::U8 => Array::scalar(v as u8),
                DType::Bool => Array::scalar(v != 0),
                DType::F32 | DType::F64 => Array::full(&[], v as f64, dtype),
            },
        }
    }
}

/// True when `dtype` holds the integer `v` exactly.
fn fits(v: i64, dtype: DType) -> bool {
    match dtype {
        DType::I32 => i32::try_from(v).is_ok(),
        DType::U32 => u32::try_from(v).is_ok(),
        DType::U8 => u8::try_from(v).is_ok(),
        DType::Bool => v == 0 || v == 1,
        DType::F32 | DType::F64 => true,
    }
}

/// The dtype `operands` meet in (JAX's `jnp.result_type`): the promotion of the
/// arrays' dtypes, raised to `f32` by a weak float when that is not a float type,
/// and to `i32` by a weak int when it is bool. Scalars alone give `f32` if any
/// is a float, else `i32`.
///
/// ```
/// use rjax::numpy::{result_type, Operand};
/// use rjax::{Array, DType};
/// let b = Operand::Array(Array::scalar(true));
/// assert_eq!(result_type(&[b.clone(), Operand::Int(1)]), DType::I32);
/// assert_eq!(result_type(&[b, Operand::Float(0.5)]), DType::F32);
/// ```
pub fn result_type(operands: &[Operand]) -> DType {
    let strong = operands.iter().filter_map(Operand::strong_dtype).reduce(promote_types);
    let weak_float = operands.iter().any(|o| matches!(o, Operand::Float(_)));
    let weak_int = operands.iter().any(|o| matches!(o, Operand::Int(_)));
    match strong {
        Some(d) if weak_float && !d.is_float() => DType::F32,
        Some(DType::Bool) if weak_int => DType::I32,
        Some(d) => d,
        None if weak_float => DType::F32,
        None => DType::I32,
    }
}

/// `a` and `b` converted to their common dtype and broadcast to their common
/// shape (what every NumPy-style binary function does first).
///
/// ```
/// use rjax::{numpy as jnp, Array, DType};
/// let (a, b) = jnp::promote_args("add", &Array::zeros(&[2, 1], DType::I32), 0.5);
/// assert_eq!((a.dtype(), b.shape()), (DType::F32, &[2, 1][..]));
/// ```
#[track_caller]
pub fn promote_args(op: &str, a: impl ArrayLike, b: impl ArrayLike) -> (Array, Array) {
    let ops = [a.into_operand(), b.into_operand()];
    let d = result_type(&ops);
    broadcast_arrays(op, &ops[0].to_array(d), &ops[1].to_array(d))
}

/// Like [`promote_args`], then integers and bools become `f32` (JAX's
/// `promote_args_inexact`, used by true division and the float functions).
///
/// ```
/// use rjax::{numpy as jnp, Array, DType};
/// let (a, _) = jnp::promote_args_inexact("divide", &Array::scalar(3i32), 2);
/// assert_eq!(a.dtype(), DType::F32);
/// ```
#[track_caller]
pub fn promote_args_inexact(op: &str, a: impl ArrayLike, b: impl ArrayLike) -> (Array, Array) {
    let (a, b) = promote_args(op, a, b);
    (to_inexact(&a), to_inexact(&b))
}

/// `x` itself if it is a float array, else `x` converted to `f32`.
///
/// ```
/// use rjax::{numpy as jnp, Array, DType};
/// assert_eq!(jnp::to_inexact(&Array::scalar(2u8)).dtype(), DType::F32);
/// assert_eq!(jnp::to_inexact(&Array::scalar(2.0f64)).dtype(), DType::F64);
/// ```
pub fn to_inexact(x: &Array) -> Array {
    if x.dtype().is_float() { x.clone() } else { lax::convert_element_type(x, DType::F32) }
}

/// An [`ArrayLike`] as an array in its own dtype (a weak float as `f32`, a weak int as `i32`).
///
/// ```
/// use rjax::{numpy as jnp, DType};
/// assert_eq!(jnp::asarray(2.5).dtype(), DType::F32);
/// assert_eq!(jnp::asarray(7).dtype(), DType::I32);
/// ```
pub fn asarray(x: impl ArrayLike) -> Array {
    let o = x.into_operand();
    let d = result_type(std::slice::from_ref(&o));
    o.to_array(d)
}

/// `x` as bool: itself if bool, else `x != 0` (how JAX reads numbers as conditions).
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// assert_eq!(jnp::to_bool(&Array::from_vec(vec![0i32, 3], &[2])).to_vec::<bool>(), vec![false, true]);
/// ```
#[track_caller]
pub fn to_bool(x: &Array) -> Array {
    if x.dtype() == DType::Bool { x.clone() } else { lax::ne(x, &crate::primitives::full(x.shape(), 0.0, x.dtype())) }
}

/// `a` and `b` converted to [`promote_types`] of their dtypes, shapes unchanged
/// (what the matrix products do first, as JAX's `promote_dtypes`).
///
/// ```
/// use rjax::{numpy as jnp, Array, DType};
/// let (a, b) = jnp::promote_dtypes(&Array::zeros(&[2, 3], DType::F32), &Array::zeros(&[3], DType::F64));
/// assert_eq!((a.dtype(), b.dtype(), a.shape()), (DType::F64, DType::F64, &[2, 3][..]));
/// ```
pub fn promote_dtypes(a: &Array, b: &Array) -> (Array, Array) {
    let d = promote_types(a.dtype(), b.dtype());
    (lax::convert_element_type(a, d), lax::convert_element_type(b, d))
}
