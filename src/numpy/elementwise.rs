//! Elementwise functions with broadcasting.

use super::ArrayLike;
use crate::core::{Array, DType};
use crate::lax;

/// The unary functions, each with how it treats integer and bool inputs:
/// `inexact` converts them to `f32` first (as JAX's `promote_args_inexact`),
/// `rounding` returns them unchanged (rounding an integer is the identity),
/// `any` applies the primitive to every dtype it accepts, `logical` reads
/// numbers as bools (non-zero is true).
macro_rules! unary {
    (@apply inexact, $g:path, $x:ident) => { $g(&super::to_inexact($x)) };
    (@apply rounding, $g:path, $x:ident) => { if $x.dtype().is_float() { $g($x) } else { $x.clone() } };
    (@apply any, $g:path, $x:ident) => { $g($x) };
    (@apply logical, $g:path, $x:ident) => { $g(&super::to_bool($x)) };
    ($($(#[$doc:meta])* $f:ident => $g:path, $kind:ident;)*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $f(x: &Array) -> Array {
            unary!(@apply $kind, $g, x)
        }
    )*};
}

unary! {
    /// `e^x`.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::exp(&rjax::Array::scalar(0.0f32)).item::<f32>(), 1.0);
    /// ```
    exp => lax::exp, inexact;
    /// Natural log.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::log(&rjax::Array::scalar(1.0f32)).item::<f32>(), 0.0);
    /// ```
    log => lax::log, inexact;
    /// `log(1 + x)`.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::log1p(&rjax::Array::scalar(0.0f32)).item::<f32>(), 0.0);
    /// ```
    log1p => lax::log1p, inexact;
    /// `e^x - 1`.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::expm1(&rjax::Array::scalar(0.0f32)).item::<f32>(), 0.0);
    /// ```
    expm1 => lax::expm1, inexact;
    /// Square root.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::sqrt(&rjax::Array::scalar(9.0f32)).item::<f32>(), 3.0);
    /// ```
    sqrt => lax::sqrt, inexact;
    /// `1 / sqrt(x)`.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::rsqrt(&rjax::Array::scalar(4.0f32)).item::<f32>(), 0.5);
    /// ```
    rsqrt => lax::rsqrt, inexact;
    /// Absolute value.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::abs(&rjax::Array::scalar(-1i32)).item::<i32>(), 1);
    /// ```
    abs => lax::abs, any;
    /// Sign (-1, 0, 1).
    ///
    /// ```
    /// assert_eq!(rjax::numpy::sign(&rjax::Array::scalar(-4.0f64)).item::<f64>(), -1.0);
    /// ```
    sign => lax::sign, any;
    /// Sine.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::sin(&rjax::Array::scalar(0.0f32)).item::<f32>(), 0.0);
    /// ```
    sin => lax::sin, inexact;
    /// Cosine.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::cos(&rjax::Array::scalar(0.0f32)).item::<f32>(), 1.0);
    /// ```
    cos => lax::cos, inexact;
    /// Tangent.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::tan(&rjax::Array::scalar(0.0f32)).item::<f32>(), 0.0);
    /// ```
    tan => lax::tan, inexact;
    /// Hyperbolic tangent.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::tanh(&rjax::Array::scalar(0.0f32)).item::<f32>(), 0.0);
    /// ```
    tanh => lax::tanh, inexact;
    /// The logistic sigmoid.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::sigmoid(&rjax::Array::scalar(0.0f32)).item::<f32>(), 0.5);
    /// ```
    sigmoid => lax::logistic, inexact;
    /// Round down.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::floor(&rjax::Array::scalar(1.7f32)).item::<f32>(), 1.0);
    /// ```
    floor => lax::floor, rounding;
    /// Round up.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::ceil(&rjax::Array::scalar(1.2f32)).item::<f32>(), 2.0);
    /// ```
    ceil => lax::ceil, rounding;
    /// Round half to even.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::round(&rjax::Array::scalar(0.5f32)).item::<f32>(), 0.0);
    /// ```
    round => lax::round, rounding;
    /// `-x`.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::negative(&rjax::Array::scalar(1.0f32)).item::<f32>(), -1.0);
    /// ```
    negative => lax::neg, any;
    /// Logical not of a bool array.
    ///
    /// ```
    /// assert!(rjax::numpy::logical_not(&rjax::Array::scalar(false)).item::<bool>());
    /// ```
    logical_not => lax::not, logical;
    /// The identity without derivative.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::stop_gradient(&rjax::Array::scalar(1.0f32)).item::<f32>(), 1.0);
    /// ```
    stop_gradient => lax::stop_gradient, any;
}

/// `x * x`.
///
/// ```
/// assert_eq!(rjax::numpy::square(&rjax::Array::scalar(3.0f32)).item::<f32>(), 9.0);
/// ```
#[track_caller]
pub fn square(x: &Array) -> Array {
    lax::mul(x, x)
}

/// `max(x, 0)`, with derivative 0 at 0 (as JAX).
///
/// ```
/// let x = rjax::Array::from_vec(vec![-1.0f32, 2.0], &[2]);
/// assert_eq!(rjax::numpy::relu(&x).to_vec::<f32>(), vec![0.0, 2.0]);
/// ```
#[track_caller]
pub fn relu(x: &Array) -> Array {
    let zero = super::zeros_like(x);
    lax::select(&lax::gt(x, &zero), x, &zero)
}

/// `cond ? x : y` with broadcasting of all three (JAX's `jnp.where`). `x` and
/// `y` are promoted together ([`promote_args`](super::promote_args)), so plain
/// numbers work; a numeric `cond` is true where it is non-zero.
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let x = Array::from_vec(vec![-1.0f32, 2.0], &[2]);
/// assert_eq!(jnp::where_(&jnp::greater(&x, 0), &x, 0.0).to_vec::<f32>(), vec![0.0, 2.0]);
/// let i = Array::from_vec(vec![0i32, 1], &[2]);
/// assert_eq!(jnp::where_(&i, &i, 0.5).to_vec::<f32>(), vec![0.5, 1.0]); // jnp.where(i, i, 0.5)
/// ```
#[track_caller]
pub fn where_(cond: &Array, x: impl ArrayLike, y: impl ArrayLike) -> Array {
    let cond = super::to_bool(cond);
    let (x, y) = super::promote_args("where_", x, y);
    let Some(shape) = crate::core::broadcast_shapes(cond.shape(), x.shape()) else {
        panic!("where_: condition {:?} and values {:?} cannot be broadcast together", cond.shape(), x.shape())
    };
    let b = |a: &Array| super::broadcast_to(a, &shape);
    lax::select(&b(&cond), &b(&x), &b(&y))
}

/// Limits values to `[lo, hi]`: `minimum(maximum(x, lo), hi)`, as JAX, so where
/// `lo > hi` the result is `hi`. The bounds are arrays or plain numbers and are
/// promoted with `x` (an integer array clipped by float bounds becomes `f32`).
///
/// ```
/// use rjax::{numpy as jnp, Array, DType};
/// let x = Array::from_vec(vec![-2.0f32, 0.5, 3.0], &[3]);
/// assert_eq!(jnp::clip(&x, 0.0, 1.0).to_vec::<f32>(), vec![0.0, 0.5, 1.0]);
/// assert_eq!(jnp::clip(&x, 3, 1).to_vec::<f32>(), vec![1.0, 1.0, 1.0]);
/// let i = Array::arange(0.0, 4.0, 1.0, DType::I32);
/// assert_eq!(jnp::clip(&i, 0.5, 2.5).to_vec::<f32>(), vec![0.5, 1.0, 2.0, 2.5]);
/// ```
#[track_caller]
pub fn clip(x: &Array, lo: impl ArrayLike, hi: impl ArrayLike) -> Array {
    super::minimum(hi, super::maximum(lo, x))
}

/// Converts to another dtype.
///
/// ```
/// use rjax::{numpy as jnp, Array, DType};
/// assert_eq!(jnp::astype(&Array::scalar(1.9f32), DType::I32).item::<i32>(), 1);
/// ```
#[track_caller]
pub fn astype(x: &Array, dtype: DType) -> Array {
    lax::convert_element_type(x, dtype)
}

/// Zeros with the shape and dtype of `x`.
///
/// ```
/// let z = rjax::numpy::zeros_like(&rjax::Array::ones(&[2], rjax::DType::F32));
/// assert_eq!(z.to_vec::<f32>(), vec![0.0, 0.0]);
/// ```
pub fn zeros_like(x: &Array) -> Array {
    full_like(x, 0.0)
}

/// Ones with the shape and dtype of `x`.
///
/// ```
/// let o = rjax::numpy::ones_like(&rjax::Array::zeros(&[2], rjax::DType::F64));
/// assert_eq!(o.to_vec::<f64>(), vec![1.0, 1.0]);
/// ```
pub fn ones_like(x: &Array) -> Array {
    full_like(x, 1.0)
}

/// `v` with the shape and dtype of `x`.
///
/// ```
/// let o = rjax::numpy::full_like(&rjax::Array::zeros(&[2], rjax::DType::I32), 7.0);
/// assert_eq!(o.to_vec::<i32>(), vec![7, 7]);
/// ```
pub fn full_like(x: &Array, v: f64) -> Array {
    crate::primitives::full(x.shape(), v, x.dtype())
}
