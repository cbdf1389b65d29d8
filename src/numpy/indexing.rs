//! Indexing by integer arrays (take, take_along_axis) with JAX's modes for
//! negative and out-of-bounds indices, and one_hot.

use super::{axis, broadcast_to, squeeze};
use crate::core::{Array, DType};
use crate::lax;
use crate::primitives::full;

/// What an index outside the axis means to [`take_with`] and
/// [`take_along_axis_with`] (JAX's `mode=`). For an axis of length `n`:
///
/// | mode | `-n <= i < 0` | `i < -n` or `i >= n` | JAX |
/// |---|---|---|---|
/// | `Fill` (default) | counts from the end | NaN / int min / uint max / true | `mode="fill"` |
/// | `FillWith(v)` | counts from the end | `v` | `mode="fill", fill_value=v` |
/// | `Clip` | `take`: clamped to 0; `take_along_axis`: counts from the end | clamped | `mode="clip"` |
/// | `Clamp` | counts from the end | clamped into `[0, n)` | `x[i]` (indexing) |
///
/// `lax::gather` itself clamps every index into `[0, n)`, negative ones to 0, as
/// XLA's gather does. Out-of-range entries get no gradient in the fill modes.
///
/// ```
/// use rjax::{numpy as jnp, numpy::GatherMode, Array};
/// let x = Array::from_vec(vec![10i32, 11, 12], &[3]);
/// let i = Array::from_vec(vec![-1i32, 3], &[2]);
/// assert_eq!(jnp::take_with(&x, &i, 0, GatherMode::Fill).to_vec::<i32>(), vec![12, i32::MIN]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GatherMode {
    /// Negative indices count from the end; out-of-range ones give the fill value of the dtype.
    Fill,
    /// Like `Fill` with this fill value.
    FillWith(f64),
    /// JAX's `mode="clip"` (see the table: `take` and `take_along_axis` differ for negative indices).
    Clip,
    /// Negative indices count from the end, then every index is clamped into `[0, n)` (`x[i]` in JAX).
    Clamp,
    /// Every index clamped into `[0, n)` as it is, negative ones to 0 (`lax::gather`).
    ClampRaw,
}

/// The value JAX's fill mode gives for an out-of-range index.
fn default_fill(dtype: DType) -> f64 {
    match dtype {
        DType::F32 | DType::F64 => f64::NAN,
        DType::I32 => i32::MIN as f64,
        DType::U32 => u32::MAX as f64,
        DType::U8 => u8::MAX as f64,
        DType::Bool => 1.0,
    }
}

/// `lax::gather(x, idx, a)` under `mode`, `n` being `x.shape()[a]`.
#[track_caller]
fn gather_with(x: &Array, idx: &Array, a: usize, mode: GatherMode) -> Array {
    let n = x.shape()[a];
    let normalized = || {
        if idx.dtype() != DType::I32 {
            return idx.clone(); // unsigned: nothing counts from the end
        }
        let neg = lax::lt(idx, &full(idx.shape(), 0.0, DType::I32));
        lax::select(&neg, &lax::add(idx, &full(idx.shape(), n as f64, DType::I32)), idx)
    };
    let fill = match mode {
        // Clip here is take's: raw indices clamped (take_along_axis maps its Clip to Clamp)
        GatherMode::ClampRaw | GatherMode::Clip => return lax::gather(x, idx, a),
        GatherMode::Clamp => return lax::gather(x, &normalized(), a),
        GatherMode::Fill => default_fill(x.dtype()),
        GatherMode::FillWith(v) => v,
    };
    let i = normalized();
    let zero = full(i.shape(), 0.0, i.dtype());
    let in_range = lax::and(&lax::ge(&i, &zero), &lax::lt(&i, &full(i.shape(), n as f64, i.dtype())));
    let got = lax::gather(x, &i, a);
    lax::select(&in_range, &got, &full(got.shape(), fill, got.dtype()))
}

/// Picks entries along `axis` by integer indices (NumPy's `take`), in JAX's
/// default mode, [`GatherMode::Fill`]: an index in `[-n, 0)` counts from the
/// end, one outside `[-n, n)` gives NaN (floats), the type's minimum (signed),
/// maximum (unsigned) or true. The result's shape is
/// `x.shape[..axis] ++ idx.shape ++ x.shape[axis+1..]`. Other modes: [`take_with`].
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let x = Array::from_vec(vec![10.0f32, 11.0, 12.0], &[3]);
/// let i = Array::from_vec(vec![2i32, 0, -1, 3], &[4]);
/// let y = jnp::take(&x, &i, 0).to_vec::<f32>();
/// assert_eq!(y[..3], [12.0, 10.0, 12.0]);
/// assert!(y[3].is_nan());
/// ```
#[track_caller]
pub fn take(x: &Array, idx: &Array, ax: isize) -> Array {
    take_with(x, idx, ax, GatherMode::Fill)
}

/// [`take`] with a chosen [`GatherMode`] (JAX's `jnp.take(..., mode=)`).
///
/// ```
/// use rjax::{numpy as jnp, numpy::GatherMode, Array};
/// let x = Array::from_vec(vec![10.0f32, 11.0, 12.0], &[3]);
/// let i = Array::from_vec(vec![-1i32, 5], &[2]);
/// assert_eq!(jnp::take_with(&x, &i, 0, GatherMode::Clip).to_vec::<f32>(), vec![10.0, 12.0]);
/// assert_eq!(jnp::take_with(&x, &i, 0, GatherMode::FillWith(0.0)).to_vec::<f32>(), vec![12.0, 0.0]);
/// assert_eq!(jnp::take_with(&x, &i, 0, GatherMode::Clamp).to_vec::<f32>(), vec![12.0, 12.0]);
/// ```
#[track_caller]
pub fn take_with(x: &Array, idx: &Array, ax: isize, mode: GatherMode) -> Array {
    let a = axis("take", ax, x.ndim());
    if !idx.dtype().is_int() {
        panic!("take: indices must be integers, got {}", idx.aval());
    }
    if idx.ndim() == 0 {
        let one = take_with(x, &lax::reshape(idx, &[1]), a as isize, mode);
        return squeeze(&one, &[a as isize]);
    }
    let (before, after) = (&x.shape()[..a], &x.shape()[a + 1..]);
    let mut out_shape = before.to_vec();
    out_shape.extend_from_slice(idx.shape());
    out_shape.extend_from_slice(after);
    // x as [B.., K, 1 per further index axis.., A..] and idx as [1.., I.., 1..],
    // both broadcast to the output shape (x keeps K), then one gather on axis a.
    let mut xs = before.to_vec();
    xs.push(x.shape()[a]);
    xs.extend(std::iter::repeat_n(1, idx.ndim() - 1));
    xs.extend_from_slice(after);
    let mut is = vec![1; before.len()];
    is.extend_from_slice(idx.shape());
    is.extend(std::iter::repeat_n(1, after.len()));
    let mut x_target = out_shape.clone();
    x_target[a] = x.shape()[a];
    let xb = broadcast_to(&lax::reshape(x, &xs), &x_target);
    let ib = broadcast_to(&lax::reshape(idx, &is), &out_shape);
    // jnp.take's clip mode clamps negative indices to 0, as gather_with's Clip does
    gather_with(&xb, &ib, a, mode)
}

/// NumPy's `take_along_axis`: `idx` broadcasts against `x` except along `axis`.
/// Indices follow JAX's default mode, [`GatherMode::Fill`], as in [`take`].
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// let i = Array::from_vec(vec![1i32, -2], &[2, 1]);
/// assert_eq!(jnp::take_along_axis(&x, &i, 1).to_vec::<f32>(), vec![2.0, 3.0]);
/// ```
#[track_caller]
pub fn take_along_axis(x: &Array, idx: &Array, ax: isize) -> Array {
    take_along_axis_with(x, idx, ax, GatherMode::Fill)
}

/// [`take_along_axis`] with a chosen [`GatherMode`].
///
/// ```
/// use rjax::{numpy as jnp, numpy::GatherMode, Array};
/// let x = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
/// let i = Array::from_vec(vec![-1i32, 7], &[2]);
/// assert_eq!(jnp::take_along_axis_with(&x, &i, 0, GatherMode::Clip).to_vec::<f32>(), vec![3.0, 3.0]);
/// ```
#[track_caller]
pub fn take_along_axis_with(x: &Array, idx: &Array, ax: isize, mode: GatherMode) -> Array {
    let a = axis("take_along_axis", ax, x.ndim());
    if !idx.dtype().is_int() {
        panic!("take_along_axis: indices must be integers, got {}", idx.aval());
    }
    if idx.ndim() != x.ndim() {
        panic!("take_along_axis: indices {:?} and array {:?} need the same rank", idx.shape(), x.shape());
    }
    // broadcast every axis but `a`, where the indices keep their own length
    let (mut xs1, mut is1) = (x.shape().to_vec(), idx.shape().to_vec());
    xs1[a] = 1;
    is1[a] = 1;
    let Some(mut shape) = crate::core::broadcast_shapes(&xs1, &is1) else {
        panic!("take_along_axis: shapes {:?} and {:?} cannot be broadcast", x.shape(), idx.shape())
    };
    shape[a] = idx.shape()[a];
    let mut xs = shape.clone();
    xs[a] = x.shape()[a];
    // take_along_axis's clip mode counts negative indices from the end, then clamps
    let mode = if mode == GatherMode::Clip { GatherMode::Clamp } else { mode };
    gather_with(&broadcast_to(x, &xs), &broadcast_to(idx, &shape), a, mode)
}

/// One-hot encoding: a new last axis of size `n`, 1 where it equals the label.
/// A label outside `[0, n)`, negative ones included, gives a row of zeros (as
/// JAX's `nn.one_hot`; JAX's default dtype is `f32`).
///
/// ```
/// use rjax::{numpy as jnp, Array, DType};
/// let y = jnp::one_hot(&Array::from_vec(vec![2i32, 0, -1], &[3]), 3, DType::F32);
/// assert_eq!(y.to_vec::<f32>(), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
/// ```
#[track_caller]
pub fn one_hot(labels: &Array, n: usize, dtype: DType) -> Array {
    if !labels.dtype().is_int() {
        panic!("one_hot: labels must be integers, got {}", labels.aval());
    }
    let mut shape = labels.shape().to_vec();
    shape.push(n);
    let classes = lax::iota(&shape, labels.ndim(), labels.dtype());
    let dims: Vec<usize> = (0..labels.ndim()).collect();
    let l = lax::broadcast_in_dim(labels, &shape, &dims);
    lax::convert_element_type(&lax::eq(&l, &classes), dtype)
}

/// Indices (i32) that sort `x` along `axis` (JAX's `argsort`): stable, ascending,
/// NaN last.
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let x = Array::from_vec(vec![3.0f32, f32::NAN, 1.0], &[3]);
/// assert_eq!(jnp::argsort(&x, -1).to_vec::<i32>(), vec![2, 0, 1]);
/// ```
#[track_caller]
pub fn argsort(x: &Array, ax: isize) -> Array {
    lax::argsort(x, axis("argsort", ax, x.ndim()))
}

/// `x` sorted ascending along `axis`, NaN last (JAX's `sort`).
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let x = Array::from_vec(vec![3.0f32, f32::NAN, 1.0], &[3]);
/// let s = jnp::sort(&x, -1).to_vec::<f32>();
/// assert_eq!(s[..2], [1.0, 3.0]);
/// assert!(s[2].is_nan());
/// ```
#[track_caller]
pub fn sort(x: &Array, ax: isize) -> Array {
    let a = axis("sort", ax, x.ndim());
    lax::gather(x, &lax::argsort(x, a), a)
}
