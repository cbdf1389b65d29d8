//! Lowering helpers shared by several primitives: conversions with the CPU
//! backend's saturating semantics, reductions and their regions, argmax/argmin,
//! argsort, and the index tuples behind gather and scatter_add.

use super::{LowerError, Lowering, Value, i64_array, i64_list};
use crate::core::{Aval, DType};

/// The smallest value of a dtype (the identity of max).
pub(crate) fn lowest(d: DType) -> f64 {
    match d {
        DType::F32 | DType::F64 => f64::NEG_INFINITY,
        DType::I32 => i32::MIN as f64,
        DType::U32 | DType::U8 | DType::Bool => 0.0,
    }
}

/// The largest value of a dtype (the identity of min).
pub(crate) fn highest(d: DType) -> f64 {
    match d {
        DType::F32 | DType::F64 => f64::INFINITY,
        DType::I32 => i32::MAX as f64,
        DType::U32 => u32::MAX as f64,
        DType::U8 => u8::MAX as f64,
        DType::Bool => 1.0,
    }
}

/// The largest value of float dtype `f` that is at most `v`.
fn float_at_most(v: f64, f: DType) -> f64 {
    if f == DType::F64 {
        return v;
    }
    let r = v as f32;
    if r as f64 > v { f32::from_bits(r.to_bits() - 1) as f64 } else { r as f64 }
}

/// Converts `x` to `to` exactly as the CPU backend does (Rust's `as`): floats
/// to integers truncate and saturate, NaN becomes 0; integers wrap into
/// another integer type; anything nonzero (NaN included) becomes true.
pub(crate) fn convert(cx: &mut Lowering, x: &Value, to: DType) -> Value {
    let from = x.aval.dtype;
    if from == to {
        return x.clone();
    }
    if to == DType::Bool {
        let zero = cx.like(0.0, x);
        return cx.compare("NE", x, &zero);
    }
    if from == DType::Bool || to.is_float() {
        return cx.convert_raw(x, to);
    }
    let (lo, hi) = (lowest(to), highest(to));
    if from.is_float() {
        // NaN -> 0, clamp into the range (so the conversion itself is always
        // in range), then fix the values above the largest float below `hi`.
        let zero = cx.like(0.0, x);
        let nan = cx.is_nan(x);
        let xs = cx.select(&nan, &zero, x);
        let hi_f = float_at_most(hi, from);
        let (lo_c, hi_c) = (cx.like(lo, x), cx.like(hi_f, x));
        let xc = cx.op("stablehlo.clamp", &[&lo_c, &xs, &hi_c], "", &x.aval);
        let mut r = cx.convert_raw(&xc, to);
        if hi_f < hi {
            let big = cx.compare("GT", &xs, &hi_c);
            let top = cx.like(hi, &r);
            r = cx.select(&big, &top, &r);
        }
        return r;
    }
    // integers to integers wrap (two's complement), as in XLA and JAX
    cx.convert_raw(x, to)
}

/// `sign` of an unsigned integer: 1 where positive, else 0.
pub(crate) fn sign_unsigned(cx: &mut Lowering, x: &Value) -> Value {
    let one = cx.like(1.0, x);
    cx.binary("stablehlo.minimum", x, &one)
}

/// The scalar aval of a dtype.
pub(crate) fn scalar(d: DType) -> Aval {
    Aval::new(&[], d)
}

/// Indices (i32) that sort `x` along `axis`: a stable `stablehlo.sort` of
/// (x, iota) whose comparator puts NaN after every number.
pub(crate) fn argsort(cx: &mut Lowering, x: &Value, axis: usize) -> Result<Value, LowerError> {
    let d = x.aval.dtype;
    let idx = cx.iota(&x.aval.with_dtype(DType::I32), axis);
    let (sv, si) = (scalar(d), scalar(DType::I32));
    let region = cx.region(&[sv.clone(), sv, si.clone(), si], |cx, p| {
        let (a, b) = (&p[0], &p[1]);
        let mut less = cx.compare("LT", a, b);
        if d.is_float() {
            let a_num = cx.compare("EQ", a, a);
            let b_nan = cx.is_nan(b);
            let num_before_nan = cx.binary("stablehlo.and", &a_num, &b_nan);
            less = cx.binary("stablehlo.or", &less, &num_before_nan);
        }
        Ok(vec![less])
    })?;
    let attrs = format!("{{dimension = {axis} : i64, is_stable = true}}");
    let outs = [x.aval.clone(), idx.aval.clone()];
    let mut r = cx.op_multi("stablehlo.sort", &[x, &idx], &[region], &attrs, &outs);
    Ok(r.remove(1))
}

/// Integer indices clamped into `[0, n)`, as i32 (u32 indices too large for
/// i32 clamp to `n - 1`, as on the CPU).
fn clamp_index(cx: &mut Lowering, idx: &Value, n: usize) -> Result<Value, LowerError> {
    let top = n.checked_sub(1).ok_or_else(|| LowerError::new("no index is valid on an axis of size 0"))? as f64;
    Ok(match idx.aval.dtype {
        DType::I32 => {
            let (lo, hi) = (cx.like(0.0, idx), cx.like(top, idx));
            cx.op("stablehlo.clamp", &[&lo, idx, &hi], "", &idx.aval)
        }
        DType::U32 | DType::U8 => {
            let hi = cx.like(top.min(highest(idx.aval.dtype)), idx);
            let m = cx.binary("stablehlo.minimum", idx, &hi);
            cx.convert_raw(&m, DType::I32)
        }
        other => return Err(LowerError::new(format!("indices must be integers, got {other}"))),
    })
}

/// The full index tuple of every element of `idx` for take-along-axis:
/// i32 `[..idx.shape, ndim]` holding the element's own position on every axis
/// but `axis`, and the clamped index on `axis`.
fn full_indices(cx: &mut Lowering, idx: &Value, axis: usize, n: usize) -> Result<Value, LowerError> {
    let clamped = clamp_index(cx, idx, n)?;
    let shape = idx.aval.shape.clone();
    let nd = shape.len();
    let mut col_shape = shape.clone();
    col_shape.push(1);
    let mut cols = Vec::with_capacity(nd);
    for d in 0..nd {
        let c = if d == axis { clamped.clone() } else { cx.iota(&Aval::new(&shape, DType::I32), d) };
        cols.push(cx.reshape(&c, &col_shape));
    }
    let refs: Vec<&Value> = cols.iter().collect();
    cx.concatenate(&refs, nd)
}

/// `out[.., j, ..] = x[.., idx[.., j, ..], ..]` along `axis` (indices clamped).
pub(crate) fn gather_along(
    cx: &mut Lowering,
    x: &Value,
    idx: &Value,
    axis: usize,
    out: &Aval,
) -> Result<Value, LowerError> {
    let nd = x.aval.ndim();
    let ix = full_indices(cx, idx, axis, x.aval.shape[axis])?;
    let all: Vec<usize> = (0..nd).collect();
    let attrs = format!(
        "{{dimension_numbers = #stablehlo.gather<collapsed_slice_dims = {l}, start_index_map = {l}, \
         index_vector_dim = {nd}>, indices_are_sorted = false, slice_sizes = {}}}",
        i64_array(&vec![1; nd]),
        l = i64_list(&all)
    );
    Ok(cx.op("stablehlo.gather", &[x, &ix], &attrs, out))
}

/// Adds `upd[.., j, ..]` into `out[.., idx[.., j, ..], ..]` of zeros with
/// `size` entries along `axis` (indices clamped), with `stablehlo.scatter`.
pub(crate) fn scatter_add_along(
    cx: &mut Lowering,
    idx: &Value,
    upd: &Value,
    axis: usize,
    size: usize,
    out: &Aval,
) -> Result<Value, LowerError> {
    let nd = upd.aval.ndim();
    let ix = full_indices(cx, idx, axis, size)?;
    let zeros = cx.constant(0.0, out);
    let d = upd.aval.dtype;
    let region = cx.region(&[scalar(d), scalar(d)], |cx, p| Ok(vec![cx.binary("stablehlo.add", &p[0], &p[1])]))?;
    let all: Vec<usize> = (0..nd).collect();
    let attrs = format!(
        "{{indices_are_sorted = false, scatter_dimension_numbers = #stablehlo.scatter<inserted_window_dims = {l}, \
         scatter_dims_to_operand_dims = {l}, index_vector_dim = {nd}>, unique_indices = false}}",
        l = i64_list(&all)
    );
    let mut r = cx.op_multi("stablehlo.scatter", &[&zeros, &ix, upd], &[region], &attrs, std::slice::from_ref(out));
    Ok(r.remove(0))
}
