//! Shape manipulation: reshape, squeeze, expand_dims, transpose, concatenate,
//! stack, split, slicing with ranges and steps, pad.

use super::axis;
use crate::core::{Array, checked_size};
use crate::lax;
use std::ops::{Range, RangeFrom, RangeFull, RangeInclusive, RangeTo};

/// Row-major reshape; one entry may be -1 and is inferred.
///
/// ```
/// use rjax::{numpy as jnp, Array, DType};
/// let x = Array::zeros(&[2, 6], DType::F32);
/// assert_eq!(jnp::reshape(&x, &[3, -1]).shape(), &[3, 4]);
/// ```
#[track_caller]
pub fn reshape(x: &Array, shape: &[isize]) -> Array {
    let unknown = shape.iter().filter(|&&d| d < 0).count();
    if unknown > 1 || shape.iter().any(|&d| d < -1) {
        panic!("reshape: {shape:?} may hold at most one -1 and no other negative size");
    }
    let known_axes: Vec<usize> = shape.iter().filter(|&&d| d >= 0).map(|&d| d as usize).collect();
    let Some(known) = checked_size(&known_axes) else {
        panic!(
            "reshape: cannot reshape {:?} ({} elements) into {shape:?} (more than usize::MAX elements)",
            x.shape(),
            x.size()
        );
    };
    let inferred = if known > 0 && x.size() % known == 0 { Some(x.size() / known) } else { None };
    let resolved: Vec<usize> = shape.iter().map(|&d| if d >= 0 { d as usize } else { inferred.unwrap_or(0) }).collect();
    if (unknown == 1 && inferred.is_none()) || checked_size(&resolved) != Some(x.size()) {
        panic!("reshape: cannot reshape {:?} ({} elements) into {shape:?}", x.shape(), x.size());
    }
    lax::reshape(x, &resolved)
}

/// Removes the given size-1 axes (all size-1 axes for an empty list).
///
/// ```
/// use rjax::{numpy as jnp, Array, DType};
/// let x = Array::zeros(&[1, 3, 1], DType::F32);
/// assert_eq!(jnp::squeeze(&x, &[]).shape(), &[3]);
/// assert_eq!(jnp::squeeze(&x, &[0]).shape(), &[3, 1]);
/// ```
#[track_caller]
pub fn squeeze(x: &Array, axes: &[isize]) -> Array {
    let drop: Vec<usize> = if axes.is_empty() {
        (0..x.ndim()).filter(|&a| x.shape()[a] == 1).collect()
    } else {
        let mut v = Vec::with_capacity(axes.len());
        for &a in axes {
            v.push(axis("squeeze", a, x.ndim()));
        }
        v
    };
    if let Some(&a) = drop.iter().find(|&&a| x.shape()[a] != 1) {
        panic!("squeeze: axis {a} of shape {:?} has size {}, not 1", x.shape(), x.shape()[a]);
    }
    let shape: Vec<usize> = (0..x.ndim()).filter(|a| !drop.contains(a)).map(|a| x.shape()[a]).collect();
    lax::reshape(x, &shape)
}

/// Inserts a size-1 axis at `axis` (negative counts from the end of the result).
///
/// ```
/// use rjax::{numpy as jnp, Array, DType};
/// let x = Array::zeros(&[3], DType::F32);
/// assert_eq!(jnp::expand_dims(&x, 0).shape(), &[1, 3]);
/// assert_eq!(jnp::expand_dims(&x, -1).shape(), &[3, 1]);
/// ```
#[track_caller]
pub fn expand_dims(x: &Array, ax: isize) -> Array {
    let a = axis("expand_dims", ax, x.ndim() + 1);
    let mut shape = x.shape().to_vec();
    shape.insert(a, 1);
    lax::reshape(x, &shape)
}

/// Permutes axes (`None` reverses them, as NumPy's default).
///
/// ```
/// use rjax::{numpy as jnp, Array, DType};
/// let x = Array::zeros(&[2, 3, 4], DType::F32);
/// assert_eq!(jnp::transpose(&x, None).shape(), &[4, 3, 2]);
/// assert_eq!(jnp::transpose(&x, Some(&[1, 0, 2])).shape(), &[3, 2, 4]);
/// ```
#[track_caller]
pub fn transpose(x: &Array, axes: Option<&[isize]>) -> Array {
    let perm: Vec<usize> = match axes {
        None => (0..x.ndim()).rev().collect(),
        Some(a) => {
            if a.len() != x.ndim() {
                panic!("transpose: {a:?} does not name every axis of shape {:?}", x.shape());
            }
            let mut p = Vec::with_capacity(a.len());
            for &v in a {
                p.push(axis("transpose", v, x.ndim()));
            }
            p
        }
    };
    lax::transpose(x, &perm)
}

/// Moves axis `from` to position `to`, keeping the others in order.
///
/// ```
/// use rjax::{numpy as jnp, Array, DType};
/// let x = Array::zeros(&[2, 3, 4], DType::F32);
/// assert_eq!(jnp::moveaxis(&x, 0, -1).shape(), &[3, 4, 2]);
/// ```
#[track_caller]
pub fn moveaxis(x: &Array, from: isize, to: isize) -> Array {
    let (f, t) = (axis("moveaxis", from, x.ndim()), axis("moveaxis", to, x.ndim()));
    crate::primitives::structure::moveaxis(x, f, t)
}

/// Joins arrays along an existing axis.
///
/// ```
/// use rjax::{numpy as jnp, Array, DType};
/// let a = Array::zeros(&[2, 3], DType::F32);
/// assert_eq!(jnp::concatenate(&[&a, &a], 1).shape(), &[2, 6]);
/// ```
#[track_caller]
pub fn concatenate(xs: &[&Array], ax: isize) -> Array {
    let Some(first) = xs.first() else { panic!("concatenate: needs at least one array") };
    lax::concatenate(xs, axis("concatenate", ax, first.ndim()))
}

/// Joins same-shaped arrays along a new axis.
///
/// ```
/// use rjax::{numpy as jnp, Array, DType};
/// let a = Array::zeros(&[2, 3], DType::F32);
/// assert_eq!(jnp::stack(&[&a, &a, &a], 0).shape(), &[3, 2, 3]);
/// ```
#[track_caller]
pub fn stack(xs: &[&Array], ax: isize) -> Array {
    let Some(first) = xs.first() else { panic!("stack: needs at least one array") };
    let a = axis("stack", ax, first.ndim() + 1);
    if let Some(x) = xs.iter().find(|x| x.shape() != first.shape()) {
        panic!("stack: shapes {:?} and {:?} differ", first.shape(), x.shape());
    }
    let parts: Vec<Array> = xs.iter().map(|x| expand_dims(x, a as isize)).collect();
    lax::concatenate(&parts.iter().collect::<Vec<_>>(), a)
}

/// Splits into `sections` equal parts along `axis`.
///
/// ```
/// use rjax::{numpy as jnp, Array, DType};
/// let parts = jnp::split(&Array::arange(0.0, 6.0, 1.0, DType::F32), 3, 0);
/// assert_eq!(parts[1].to_vec::<f32>(), vec![2.0, 3.0]);
/// ```
#[track_caller]
pub fn split(x: &Array, sections: usize, ax: isize) -> Vec<Array> {
    let a = axis("split", ax, x.ndim());
    let n = x.shape()[a];
    if sections == 0 || n % sections != 0 {
        panic!("split: axis {a} of size {n} does not divide into {sections} equal sections");
    }
    let cuts: Vec<usize> = (1..sections).map(|i| i * (n / sections)).collect();
    split_at(x, &cuts, a as isize)
}

/// Splits along `axis` before each index in `cuts`.
///
/// ```
/// use rjax::{numpy as jnp, Array, DType};
/// let parts = jnp::split_at(&Array::arange(0.0, 5.0, 1.0, DType::I32), &[1, 3], 0);
/// assert_eq!(parts.iter().map(|p| p.size()).collect::<Vec<_>>(), vec![1, 2, 2]);
/// ```
#[track_caller]
pub fn split_at(x: &Array, cuts: &[usize], ax: isize) -> Vec<Array> {
    let a = axis("split_at", ax, x.ndim());
    let n = x.shape()[a];
    let mut bounds = vec![0];
    bounds.extend(cuts.iter().map(|&c| c.min(n)));
    bounds.push(n);
    bounds
        .windows(2)
        .map(|w| {
            let (mut start, mut limit) = (vec![0; x.ndim()], x.shape().to_vec());
            start[a] = w[0];
            limit[a] = w[1].max(w[0]);
            lax::slice(x, &start, &limit, &vec![1; x.ndim()])
        })
        .collect()
}

/// One entry of a slicing expression: an index, a range with a step, or a new axis.
///
/// Build them with [`s!`](crate::s): `s![1..3, .., 0, 2..;2]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Idx {
    /// One position (negative counts from the end); the axis is removed.
    At(isize),
    /// `start..end` with a positive `step`; `None` bounds mean the ends.
    Range {
        /// The first position (negative counts from the end); `None`: the start.
        start: Option<isize>,
        /// One past the last position; `None`: the end.
        end: Option<isize>,
        /// The step, at least 1.
        step: usize,
    },
    /// A new axis of size 1 (NumPy's `None`/`newaxis`).
    NewAxis,
}

impl Idx {
    /// The same range with another step (what `s![a..b;k]` builds).
    ///
    /// ```
    /// use rjax::numpy::Idx;
    /// assert_eq!(Idx::from(0..4).step(2), Idx::Range { start: Some(0), end: Some(4), step: 2 });
    /// ```
    #[track_caller]
    pub fn step(self, k: usize) -> Idx {
        match self {
            Idx::Range { start, end, .. } => Idx::Range { start, end, step: k },
            other => panic!("slice: only a range can take a step, not {other:?}"),
        }
    }
}

impl From<i32> for Idx {
    fn from(i: i32) -> Idx {
        Idx::At(i as isize)
    }
}
impl From<isize> for Idx {
    fn from(i: isize) -> Idx {
        Idx::At(i)
    }
}
impl From<usize> for Idx {
    fn from(i: usize) -> Idx {
        Idx::At(i as isize)
    }
}
impl From<Range<i32>> for Idx {
    fn from(r: Range<i32>) -> Idx {
        Idx::Range { start: Some(r.start as isize), end: Some(r.end as isize), step: 1 }
    }
}
impl From<Range<usize>> for Idx {
    fn from(r: Range<usize>) -> Idx {
        Idx::Range { start: Some(r.start as isize), end: Some(r.end as isize), step: 1 }
    }
}
impl From<RangeInclusive<i32>> for Idx {
    fn from(r: RangeInclusive<i32>) -> Idx {
        let end = *r.end() as isize + 1;
        Idx::Range { start: Some(*r.start() as isize), end: if end == 0 { None } else { Some(end) }, step: 1 }
    }
}
impl From<RangeFrom<i32>> for Idx {
    fn from(r: RangeFrom<i32>) -> Idx {
        Idx::Range { start: Some(r.start as isize), end: None, step: 1 }
    }
}
impl From<RangeTo<i32>> for Idx {
    fn from(r: RangeTo<i32>) -> Idx {
        Idx::Range { start: None, end: Some(r.end as isize), step: 1 }
    }
}
impl From<RangeFull> for Idx {
    fn from(_: RangeFull) -> Idx {
        Idx::Range { start: None, end: None, step: 1 }
    }
}

/// Builds a slicing expression for [`index`] and [`Array::at`]: ranges (with an
/// optional `;step`), single indices, `..` for a whole axis. Missing trailing
/// axes are taken whole.
///
/// ```
/// use rjax::{s, Array, DType};
/// let x = Array::arange(0.0, 12.0, 1.0, DType::I32).reshape(&[3, 4]);
/// assert_eq!(x.at(s![1, 0..4;2]).to_vec::<i32>(), vec![4, 6]);
/// assert_eq!(x.at(s![-1]).to_vec::<i32>(), vec![8, 9, 10, 11]);
/// ```
#[macro_export]
macro_rules! s {
    ($($e:expr $(; $step:expr)?),* $(,)?) => {
        &[$( $crate::numpy::Idx::from($e) $(.step($step))? ),*][..]
    };
}

fn resolve_bound(b: isize, n: usize) -> usize {
    let n = n as isize;
    (if b < 0 { b + n } else { b }).clamp(0, n) as usize
}

/// Basic NumPy indexing: ranges with positive steps (Python's clamping rules),
/// single indices (which drop the axis) and new axes.
///
/// ```
/// use rjax::{numpy as jnp, s, Array, DType};
/// let x = Array::arange(0.0, 10.0, 1.0, DType::F32);
/// assert_eq!(jnp::index(&x, s![-3..]).to_vec::<f32>(), vec![7.0, 8.0, 9.0]);
/// ```
#[track_caller]
pub fn index(x: &Array, idx: &[Idx]) -> Array {
    let real = idx.iter().filter(|i| !matches!(i, Idx::NewAxis)).count();
    if real > x.ndim() {
        panic!("index: {real} indices for an array of shape {:?}", x.shape());
    }
    let n = x.ndim();
    let (mut start, mut limit, mut stride) = (vec![0; n], x.shape().to_vec(), vec![1; n]);
    let mut out_shape = Vec::new();
    let mut a = 0;
    for i in idx {
        match *i {
            Idx::NewAxis => out_shape.push(1),
            Idx::At(k) => {
                let d = x.shape()[a] as isize;
                if k < -d || k >= d {
                    panic!("index: index {k} is out of range for axis {a} of size {d} (shape {:?})", x.shape());
                }
                start[a] = if k < 0 { (k + d) as usize } else { k as usize };
                limit[a] = start[a] + 1;
                a += 1;
            }
            Idx::Range { start: s, end: e, step } => {
                if step == 0 {
                    panic!("index: a step of 0 on axis {a}");
                }
                let d = x.shape()[a];
                start[a] = s.map_or(0, |v| resolve_bound(v, d));
                limit[a] = e.map_or(d, |v| resolve_bound(v, d)).max(start[a]);
                stride[a] = step;
                out_shape.push((limit[a] - start[a]).div_ceil(step));
                a += 1;
            }
        }
    }
    for ax in a..n {
        out_shape.push(x.shape()[ax]);
    }
    let y = lax::slice(x, &start, &limit, &stride);
    lax::reshape(&y, &out_shape)
}

/// Pads each axis with `(before, after)` copies of the constant `value`.
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let x = Array::from_vec(vec![1.0f32, 2.0], &[2]);
/// assert_eq!(jnp::pad(&x, &[(1, 1)], 0.0).to_vec::<f32>(), vec![0.0, 1.0, 2.0, 0.0]);
/// ```
#[track_caller]
pub fn pad(x: &Array, widths: &[(usize, usize)], value: f64) -> Array {
    if widths.len() != x.ndim() {
        panic!("pad: {} widths for an array of shape {:?}", widths.len(), x.shape());
    }
    let lo: Vec<usize> = widths.iter().map(|w| w.0).collect();
    let hi: Vec<usize> = widths.iter().map(|w| w.1).collect();
    lax::pad(x, &super::scalar_like(value, x), &lo, &hi, &vec![0; x.ndim()])
}

/// All elements as one axis.
///
/// ```
/// use rjax::{numpy as jnp, Array, DType};
/// assert_eq!(jnp::ravel(&Array::zeros(&[2, 3], DType::F32)).shape(), &[6]);
/// ```
#[track_caller]
pub fn ravel(x: &Array) -> Array {
    lax::reshape(x, &[x.size()])
}

impl Array {
    /// Row-major reshape; one entry may be -1.
    ///
    /// ```
    /// let x = rjax::Array::zeros(&[6], rjax::DType::F32).reshape(&[2, -1]);
    /// assert_eq!(x.shape(), &[2, 3]);
    /// ```
    #[track_caller]
    pub fn reshape(&self, shape: &[isize]) -> Array {
        reshape(self, shape)
    }

    /// Basic indexing with [`s!`](crate::s).
    ///
    /// ```
    /// use rjax::{s, Array, DType};
    /// let x = Array::arange(0.0, 6.0, 1.0, DType::F32).reshape(&[2, 3]);
    /// assert_eq!(x.at(s![.., 1]).to_vec::<f32>(), vec![1.0, 4.0]);
    /// ```
    #[track_caller]
    pub fn at(&self, idx: &[Idx]) -> Array {
        index(self, idx)
    }

    /// Reverses the axes (the matrix transpose for 2-d arrays).
    ///
    /// ```
    /// let x = rjax::Array::zeros(&[2, 3], rjax::DType::F32);
    /// assert_eq!(x.t().shape(), &[3, 2]);
    /// ```
    #[track_caller]
    pub fn t(&self) -> Array {
        transpose(self, None)
    }
}
