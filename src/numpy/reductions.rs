//! Reductions with NumPy's `axis`/`keepdims`, and the log-sum-exp family.

use super::{Axes, axis, broadcast_to};
use crate::core::{Array, DType};
use crate::lax;

/// Puts back the reduced axes as size 1 when `keepdims` is set.
fn keep(y: Array, in_shape: &[usize], axes: &[usize], keepdims: bool) -> Array {
    if !keepdims {
        return y;
    }
    let shape: Vec<usize> = in_shape.iter().enumerate().map(|(i, &d)| if axes.contains(&i) { 1 } else { d }).collect();
    lax::reshape(&y, &shape)
}

/// The dtype `sum` and `prod` accumulate in, as JAX: bool and small integer
/// types are raised to the default integer of their signedness (`bool` to
/// `i32`, `u8` to `u32`); other types stay.
fn accumulator(x: &Array) -> Array {
    match x.dtype() {
        DType::Bool => lax::convert_element_type(x, DType::I32),
        DType::U8 => lax::convert_element_type(x, DType::U32),
        _ => x.clone(),
    }
}

/// Max and min of bools are logical or and and (JAX allows them; the primitives do not).
fn extremum(x: &Array, axes: &[usize], max: bool) -> Array {
    let reduce = |x: &Array| if max { lax::reduce_max(x, axes) } else { lax::reduce_min(x, axes) };
    if x.dtype() != DType::Bool {
        return reduce(x);
    }
    lax::convert_element_type(&reduce(&lax::convert_element_type(x, DType::U8)), DType::Bool)
}

macro_rules! reduction {
    ($($(#[$doc:meta])* $f:ident => |$x:ident, $ax:ident| $body:expr;)*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $f(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
            let ax = axes.into().resolve(stringify!($f), x.ndim());
            let ($x, $ax) = (x, &ax[..]);
            keep($body, x.shape(), &ax, keepdims)
        }
    )*};
}

reduction! {
    /// Sum over `axes`. Bools are summed as `i32` and `u8` as `u32` (as JAX);
    /// integer sums wrap on overflow.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array, DType};
    /// assert_eq!(jnp::sum(&Array::from_vec(vec![true, true, false], &[3]), 0, false).item::<i32>(), 2);
    /// let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    /// assert_eq!(jnp::sum(&x, 0, false).to_vec::<f32>(), vec![4.0, 6.0]);
    /// assert_eq!(jnp::sum(&x, 1, true).shape(), &[2, 1]);
    /// ```
    sum => |x, ax| lax::reduce_sum(&accumulator(x), ax);
    /// Product over `axes` (bools as `i32`, `u8` as `u32`, as JAX).
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    /// assert_eq!(jnp::prod(&x, jnp::ALL, false).item::<f32>(), 24.0);
    /// ```
    prod => |x, ax| lax::reduce_prod(&accumulator(x), ax);
    /// Maximum over `axes`; NaN propagates (any NaN makes the result NaN), as JAX.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// let x = Array::from_vec(vec![1.0f32, 5.0, 3.0, 4.0], &[2, 2]);
    /// assert_eq!(jnp::max(&x, 1, false).to_vec::<f32>(), vec![5.0, 4.0]);
    /// ```
    max => |x, ax| extremum(x, ax, true);
    /// Minimum over `axes`; NaN propagates, as JAX.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// let x = Array::from_vec(vec![1.0f32, 5.0, 3.0, 4.0], &[2, 2]);
    /// assert_eq!(jnp::min(&x, 0, false).to_vec::<f32>(), vec![1.0, 4.0]);
    /// ```
    min => |x, ax| extremum(x, ax, false);
}

/// Mean over `axes`. Integers and bools give an `f32` mean (as JAX).
///
/// ```
/// use rjax::{numpy as jnp, Array, DType};
/// assert_eq!(jnp::mean(&Array::arange(0.0, 4.0, 1.0, DType::I32), 0, false).item::<f32>(), 1.5);
/// let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// assert_eq!(jnp::mean(&x, jnp::ALL, false).item::<f32>(), 2.5);
/// ```
#[track_caller]
pub fn mean(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    let x = &super::to_inexact(x);
    let ax = axes.into().resolve("mean", x.ndim());
    let n: usize = ax.iter().map(|&a| x.shape()[a]).product();
    let s = keep(lax::reduce_sum(x, &ax), x.shape(), &ax, keepdims);
    &s / n as f64
}

/// Variance over `axes` (divided by n, NumPy's default `ddof=0`; integers give `f32`).
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let x = Array::from_vec(vec![1.0f64, 3.0], &[2]);
/// assert_eq!(jnp::var(&x, 0, false).item::<f64>(), 1.0);
/// ```
#[track_caller]
pub fn var(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    let x = &super::to_inexact(x);
    let axes = axes.into();
    let m = mean(x, axes.clone(), true);
    let d = x - &m;
    mean(&(&d * &d), axes, keepdims)
}

/// Standard deviation over `axes` (`ddof=0`).
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let x = Array::from_vec(vec![1.0f64, 3.0], &[2]);
/// assert_eq!(jnp::std(&x, 0, false).item::<f64>(), 1.0);
/// ```
#[track_caller]
pub fn std(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    lax::sqrt(&var(x, axes, keepdims))
}

/// Index (i32) of the first maximum along `axis`.
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let x = Array::from_vec(vec![1.0f32, 5.0, 3.0, 4.0], &[2, 2]);
/// assert_eq!(jnp::argmax(&x, -1).to_vec::<i32>(), vec![1, 1]);
/// ```
#[track_caller]
pub fn argmax(x: &Array, ax: isize) -> Array {
    lax::argmax(x, axis("argmax", ax, x.ndim()))
}

/// Index (i32) of the first minimum along `axis`.
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let x = Array::from_vec(vec![1.0f32, 5.0, 3.0, 4.0], &[2, 2]);
/// assert_eq!(jnp::argmin(&x, 0).to_vec::<i32>(), vec![0, 1]);
/// ```
#[track_caller]
pub fn argmin(x: &Array, ax: isize) -> Array {
    lax::argmin(x, axis("argmin", ax, x.ndim()))
}

/// `log(sum(exp(x)))` over `axes`, computed stably (the max is subtracted first
/// and its derivative stopped, so gradients are exact and finite).
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let x = Array::from_vec(vec![1000.0f64, 1000.0], &[2]);
/// let y = jnp::logsumexp(&x, 0, false).item::<f64>();
/// assert!((y - (1000.0 + 2f64.ln())).abs() < 1e-9);
/// ```
#[track_caller]
pub fn logsumexp(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    let ax = axes.into().resolve("logsumexp", x.ndim());
    let m = lax::stop_gradient(&keep(lax::reduce_max(x, &ax), x.shape(), &ax, true));
    // an all -inf lane has max -inf; shift by 0 there instead of producing NaN
    let finite = lax::eq(&lax::sub(&m, &m), &super::zeros_like(&m));
    let m = lax::select(&finite, &m, &super::zeros_like(&m));
    let s = lax::reduce_sum(&lax::exp(&(x - &m)), &ax);
    let out = lax::add(&lax::log(&s), &lax::reshape(&m, s.shape()));
    keep(out, x.shape(), &ax, keepdims)
}

/// `exp(x) / sum(exp(x))` along `axis`.
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let p = jnp::softmax(&Array::from_vec(vec![0.0f64, 0.0], &[2]), -1);
/// assert_eq!(p.to_vec::<f64>(), vec![0.5, 0.5]);
/// ```
#[track_caller]
pub fn softmax(x: &Array, ax: isize) -> Array {
    lax::exp(&log_softmax(x, ax))
}

/// `x - logsumexp(x)` along `axis`.
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let p = jnp::log_softmax(&Array::from_vec(vec![0.0f64, 0.0], &[2]), 0);
/// assert!((p.to_vec::<f64>()[0] - 0.5f64.ln()).abs() < 1e-15);
/// ```
#[track_caller]
pub fn log_softmax(x: &Array, ax: isize) -> Array {
    let a = axis("log_softmax", ax, x.ndim()) as isize;
    x - &logsumexp(x, a, true)
}

impl Array {
    /// Sum of all elements.
    ///
    /// ```
    /// let x = rjax::Array::from_vec(vec![1.0f32, 2.0], &[2]);
    /// assert_eq!(x.sum().item::<f32>(), 3.0);
    /// ```
    #[track_caller]
    pub fn sum(&self) -> Array {
        sum(self, Axes::All, false)
    }

    /// Mean of all elements.
    ///
    /// ```
    /// let x = rjax::Array::from_vec(vec![1.0f32, 2.0], &[2]);
    /// assert_eq!(x.mean().item::<f32>(), 1.5);
    /// ```
    #[track_caller]
    pub fn mean(&self) -> Array {
        mean(self, Axes::All, false)
    }

    /// Converts to another dtype.
    ///
    /// ```
    /// let x = rjax::Array::scalar(1u8).astype(rjax::DType::F32);
    /// assert_eq!(x.item::<f32>(), 1.0);
    /// ```
    #[track_caller]
    pub fn astype(&self, dtype: DType) -> Array {
        lax::convert_element_type(self, dtype)
    }

    /// Broadcasts to `shape` with NumPy's rules.
    ///
    /// ```
    /// let x = rjax::Array::scalar(1i32).broadcast_to(&[2]);
    /// assert_eq!(x.to_vec::<i32>(), vec![1, 1]);
    /// ```
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Array {
        broadcast_to(self, shape)
    }
}
