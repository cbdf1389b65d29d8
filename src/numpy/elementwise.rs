//! Elementwise functions with broadcasting.

use super::broadcast_arrays;
use crate::core::{Array, DType};
use crate::lax;

macro_rules! unary {
    ($($(#[$doc:meta])* $f:ident => $g:path;)*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $f(x: &Array) -> Array {
            $g(x)
        }
    )*};
}

unary! {
    /// `e^x`.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::exp(&rjax::Array::scalar(0.0f32)).item::<f32>(), 1.0);
    /// ```
    exp => lax::exp;
    /// Natural log.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::log(&rjax::Array::scalar(1.0f32)).item::<f32>(), 0.0);
    /// ```
    log => lax::log;
    /// `log(1 + x)`.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::log1p(&rjax::Array::scalar(0.0f32)).item::<f32>(), 0.0);
    /// ```
    log1p => lax::log1p;
    /// `e^x - 1`.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::expm1(&rjax::Array::scalar(0.0f32)).item::<f32>(), 0.0);
    /// ```
    expm1 => lax::expm1;
    /// Square root.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::sqrt(&rjax::Array::scalar(9.0f32)).item::<f32>(), 3.0);
    /// ```
    sqrt => lax::sqrt;
    /// `1 / sqrt(x)`.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::rsqrt(&rjax::Array::scalar(4.0f32)).item::<f32>(), 0.5);
    /// ```
    rsqrt => lax::rsqrt;
    /// Absolute value.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::abs(&rjax::Array::scalar(-1i32)).item::<i32>(), 1);
    /// ```
    abs => lax::abs;
    /// Sign (-1, 0, 1).
    ///
    /// ```
    /// assert_eq!(rjax::numpy::sign(&rjax::Array::scalar(-4.0f64)).item::<f64>(), -1.0);
    /// ```
    sign => lax::sign;
    /// Sine.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::sin(&rjax::Array::scalar(0.0f32)).item::<f32>(), 0.0);
    /// ```
    sin => lax::sin;
    /// Cosine.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::cos(&rjax::Array::scalar(0.0f32)).item::<f32>(), 1.0);
    /// ```
    cos => lax::cos;
    /// Tangent.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::tan(&rjax::Array::scalar(0.0f32)).item::<f32>(), 0.0);
    /// ```
    tan => lax::tan;
    /// Hyperbolic tangent.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::tanh(&rjax::Array::scalar(0.0f32)).item::<f32>(), 0.0);
    /// ```
    tanh => lax::tanh;
    /// The logistic sigmoid.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::sigmoid(&rjax::Array::scalar(0.0f32)).item::<f32>(), 0.5);
    /// ```
    sigmoid => lax::logistic;
    /// Round down.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::floor(&rjax::Array::scalar(1.7f32)).item::<f32>(), 1.0);
    /// ```
    floor => lax::floor;
    /// Round up.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::ceil(&rjax::Array::scalar(1.2f32)).item::<f32>(), 2.0);
    /// ```
    ceil => lax::ceil;
    /// Round half to even.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::round(&rjax::Array::scalar(0.5f32)).item::<f32>(), 0.0);
    /// ```
    round => lax::round;
    /// `-x`.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::negative(&rjax::Array::scalar(1.0f32)).item::<f32>(), -1.0);
    /// ```
    negative => lax::neg;
    /// Logical not of a bool array.
    ///
    /// ```
    /// assert!(rjax::numpy::logical_not(&rjax::Array::scalar(false)).item::<bool>());
    /// ```
    logical_not => lax::not;
    /// The identity without derivative.
    ///
    /// ```
    /// assert_eq!(rjax::numpy::stop_gradient(&rjax::Array::scalar(1.0f32)).item::<f32>(), 1.0);
    /// ```
    stop_gradient => lax::stop_gradient;
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

macro_rules! binary {
    ($($(#[$doc:meta])* $f:ident => $g:path;)*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $f(a: &Array, b: &Array) -> Array {
            let (a, b) = broadcast_arrays(stringify!($f), a, b);
            $g(&a, &b)
        }
    )*};
}

binary! {
    /// `a + b` with broadcasting.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert_eq!(jnp::add(&Array::scalar(1.0f32), &Array::scalar(2.0f32)).item::<f32>(), 3.0);
    /// ```
    add => lax::add;
    /// `a - b` with broadcasting.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert_eq!(jnp::subtract(&Array::scalar(1.0f32), &Array::scalar(2.0f32)).item::<f32>(), -1.0);
    /// ```
    subtract => lax::sub;
    /// `a * b` with broadcasting.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert_eq!(jnp::multiply(&Array::scalar(3.0f32), &Array::scalar(2.0f32)).item::<f32>(), 6.0);
    /// ```
    multiply => lax::mul;
    /// `a / b` with broadcasting (truncating for integers).
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert_eq!(jnp::divide(&Array::scalar(3.0f32), &Array::scalar(2.0f32)).item::<f32>(), 1.5);
    /// ```
    divide => lax::div;
    /// `a ** b` with broadcasting (floats).
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert_eq!(jnp::power(&Array::scalar(2.0f32), &Array::scalar(3.0f32)).item::<f32>(), 8.0);
    /// ```
    power => lax::pow;
    /// Remainder with the sign of `a`.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert_eq!(jnp::remainder(&Array::scalar(7i32), &Array::scalar(3i32)).item::<i32>(), 1);
    /// ```
    remainder => lax::rem;
    /// Elementwise maximum.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert_eq!(jnp::maximum(&Array::scalar(1.0f32), &Array::scalar(2.0f32)).item::<f32>(), 2.0);
    /// ```
    maximum => lax::max;
    /// Elementwise minimum.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert_eq!(jnp::minimum(&Array::scalar(1.0f32), &Array::scalar(2.0f32)).item::<f32>(), 1.0);
    /// ```
    minimum => lax::min;
    /// `a == b`.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert!(jnp::equal(&Array::scalar(1i32), &Array::scalar(1i32)).item::<bool>());
    /// ```
    equal => lax::eq;
    /// `a != b`.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert!(jnp::not_equal(&Array::scalar(1i32), &Array::scalar(2i32)).item::<bool>());
    /// ```
    not_equal => lax::ne;
    /// `a < b`.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert!(jnp::less(&Array::scalar(1i32), &Array::scalar(2i32)).item::<bool>());
    /// ```
    less => lax::lt;
    /// `a <= b`.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert!(jnp::less_equal(&Array::scalar(2i32), &Array::scalar(2i32)).item::<bool>());
    /// ```
    less_equal => lax::le;
    /// `a > b`.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert!(jnp::greater(&Array::scalar(3i32), &Array::scalar(2i32)).item::<bool>());
    /// ```
    greater => lax::gt;
    /// `a >= b`.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert!(jnp::greater_equal(&Array::scalar(2i32), &Array::scalar(2i32)).item::<bool>());
    /// ```
    greater_equal => lax::ge;
    /// Logical and of bool arrays.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert!(!jnp::logical_and(&Array::scalar(true), &Array::scalar(false)).item::<bool>());
    /// ```
    logical_and => lax::and;
    /// Logical or of bool arrays.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert!(jnp::logical_or(&Array::scalar(true), &Array::scalar(false)).item::<bool>());
    /// ```
    logical_or => lax::or;
    /// Logical xor of bool arrays.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert!(jnp::logical_xor(&Array::scalar(true), &Array::scalar(false)).item::<bool>());
    /// ```
    logical_xor => lax::xor;
}

/// `cond ? x : y` with broadcasting of all three (JAX's `jnp.where`).
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let x = Array::from_vec(vec![-1.0f32, 2.0], &[2]);
/// let pos = jnp::greater(&x, &jnp::zeros_like(&x));
/// assert_eq!(jnp::where_(&pos, &x, &jnp::zeros_like(&x)).to_vec::<f32>(), vec![0.0, 2.0]);
/// ```
#[track_caller]
pub fn where_(cond: &Array, x: &Array, y: &Array) -> Array {
    if cond.dtype() != DType::Bool {
        panic!("where_: the condition must be bool, got {}", cond.aval());
    }
    let (x, y) = broadcast_arrays("where_", x, y);
    let Some(shape) = crate::core::broadcast_shapes(cond.shape(), x.shape()) else {
        panic!("where_: condition {:?} and values {:?} cannot be broadcast together", cond.shape(), x.shape())
    };
    let b = |a: &Array| super::broadcast_to(a, &shape);
    lax::select(&b(cond), &b(&x), &b(&y))
}

/// Limits values to `[lo, hi]`.
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let x = Array::from_vec(vec![-2.0f32, 0.5, 3.0], &[3]);
/// assert_eq!(jnp::clip(&x, 0.0, 1.0).to_vec::<f32>(), vec![0.0, 0.5, 1.0]);
/// ```
#[track_caller]
pub fn clip(x: &Array, lo: f64, hi: f64) -> Array {
    minimum(&maximum(x, &super::scalar_like(lo, x)), &super::scalar_like(hi, x))
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
