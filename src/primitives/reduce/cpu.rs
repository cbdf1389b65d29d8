//! The built-in CPU kernels of the reductions and of argmax/argmin.

use super::ReduceOp;
use crate::core::HostData;
use ndarray::{ArrayD, Axis, IxDyn};

trait Fold: Copy {
    fn identity(op: ReduceOp) -> Self;
    fn combine(op: ReduceOp, a: Self, b: Self) -> Self;
}

macro_rules! fold_float {
    ($($t:ty),*) => {$(
        impl Fold for $t {
            fn identity(op: ReduceOp) -> Self {
                match op { ReduceOp::Sum => 0.0, ReduceOp::Prod => 1.0, ReduceOp::Max => <$t>::NEG_INFINITY, ReduceOp::Min => <$t>::INFINITY }
            }
            fn combine(op: ReduceOp, a: Self, b: Self) -> Self {
                match op {
                    ReduceOp::Sum => a + b,
                    ReduceOp::Prod => a * b,
                    // NaN propagates, as in XLA
                    ReduceOp::Max => if a.is_nan() || b.is_nan() { <$t>::NAN } else { a.max(b) },
                    ReduceOp::Min => if a.is_nan() || b.is_nan() { <$t>::NAN } else { a.min(b) },
                }
            }
        }
    )*};
}
fold_float!(f32, f64);

macro_rules! fold_int {
    ($($t:ty),*) => {$(
        impl Fold for $t {
            fn identity(op: ReduceOp) -> Self {
                match op { ReduceOp::Sum => 0, ReduceOp::Prod => 1, ReduceOp::Max => <$t>::MIN, ReduceOp::Min => <$t>::MAX }
            }
            fn combine(op: ReduceOp, a: Self, b: Self) -> Self {
                match op {
                    ReduceOp::Sum => a.wrapping_add(b),
                    ReduceOp::Prod => a.wrapping_mul(b),
                    ReduceOp::Max => a.max(b),
                    ReduceOp::Min => a.min(b),
                }
            }
        }
    )*};
}
fold_int!(i32, u32, u8);

impl Fold for bool {
    fn identity(op: ReduceOp) -> Self {
        matches!(op, ReduceOp::Prod | ReduceOp::Min)
    }
    fn combine(op: ReduceOp, a: Self, b: Self) -> Self {
        match op {
            ReduceOp::Sum | ReduceOp::Max => a || b,
            ReduceOp::Prod | ReduceOp::Min => a && b,
        }
    }
}

fn reduce_typed<T: Fold>(a: &ArrayD<T>, op: ReduceOp, axes: &[usize]) -> ArrayD<T> {
    let mut sorted = axes.to_vec();
    sorted.sort_unstable();
    // Whole-array reductions of contiguous data take one pass over memory.
    if sorted.len() == a.ndim() {
        let v = a.iter().fold(T::identity(op), |acc, &x| T::combine(op, acc, x));
        return ArrayD::from_elem(IxDyn(&[]), v);
    }
    let mut out = a.clone();
    for &ax in sorted.iter().rev() {
        out = out.fold_axis(Axis(ax), T::identity(op), |&acc, &x| T::combine(op, acc, x));
    }
    out
}

/// Reduces over `axes` (which are removed from the shape).
pub(crate) fn reduce(h: &HostData, op: ReduceOp, axes: &[usize]) -> HostData {
    crate::map_host!(h, |a| reduce_typed(a, op, axes))
}

fn arg_typed<T: PartialOrd + Copy>(a: &ArrayD<T>, axis: usize, max: bool, is_nan: impl Fn(T) -> bool) -> ArrayD<i32> {
    a.map_axis(Axis(axis), |lane| {
        let mut best = 0usize;
        for (i, &x) in lane.iter().enumerate() {
            let b = lane[best];
            if is_nan(b) {
                break;
            }
            if is_nan(x) || (max && x > b) || (!max && x < b) {
                best = i;
            }
        }
        best as i32
    })
}

/// Index of the first maximum (`max`) or minimum along `axis`, as i32; NaN wins.
pub(crate) fn arg_reduce(h: &HostData, axis: usize, max: bool) -> HostData {
    HostData::I32(match h {
        HostData::F32(a) => arg_typed(a, axis, max, |x: f32| x.is_nan()),
        HostData::F64(a) => arg_typed(a, axis, max, |x: f64| x.is_nan()),
        HostData::I32(a) => arg_typed(a, axis, max, |_| false),
        HostData::U32(a) => arg_typed(a, axis, max, |_| false),
        HostData::U8(a) => arg_typed(a, axis, max, |_| false),
        HostData::Bool(a) => arg_typed(a, axis, max, |_| false),
    })
}
