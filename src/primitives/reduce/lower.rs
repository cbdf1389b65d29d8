//! The StableHLO lowering of the reductions and of argmax/argmin.

use super::ReduceOp;
use crate::backend::stablehlo::{highest, lowest, scalar};
use crate::core::lowering::{LowerError, Lowering, Value, i64_array};
use crate::core::{Aval, DType};

/// `stablehlo.reduce` of `x` over `axes` with the monoid `op` (NaN propagates
/// through max and min, as on the CPU; bool sums and maxima are `or`,
/// products and minima `and`).
pub(crate) fn reduce(
    cx: &mut Lowering,
    x: &Value,
    op: ReduceOp,
    axes: &[usize],
    out: &Aval,
) -> Result<Value, LowerError> {
    let d = x.aval.dtype;
    let (name, init) = match (op, d) {
        (ReduceOp::Sum | ReduceOp::Max, DType::Bool) => ("stablehlo.or", 0.0),
        (ReduceOp::Prod | ReduceOp::Min, DType::Bool) => ("stablehlo.and", 1.0),
        (ReduceOp::Sum, _) => ("stablehlo.add", 0.0),
        (ReduceOp::Prod, _) => ("stablehlo.multiply", 1.0),
        (ReduceOp::Max, _) => ("stablehlo.maximum", lowest(d)),
        (ReduceOp::Min, _) => ("stablehlo.minimum", highest(d)),
    };
    let init = cx.scalar(init, d);
    let region = cx.region(&[scalar(d), scalar(d)], |cx, p| Ok(vec![cx.binary(name, &p[0], &p[1])]))?;
    let attrs = format!("{{dimensions = {}}}", i64_array(axes));
    let mut r = cx.op_multi("stablehlo.reduce", &[x, &init], &[region], &attrs, std::slice::from_ref(out));
    Ok(r.remove(0))
}

/// argmax (`max`) or argmin of `x` along `axis` as i32: a reduction over
/// (value, index) pairs that keeps the better value, the first index among
/// equal values, and the first NaN over anything (the CPU backend's rule).
pub(crate) fn arg_reduce(
    cx: &mut Lowering,
    x: &Value,
    axis: usize,
    max: bool,
    out: &Aval,
) -> Result<Value, LowerError> {
    let d = x.aval.dtype;
    let idx = cx.iota(&x.aval.with_dtype(DType::I32), axis);
    // (worst value, largest index) is the identity: any element beats it
    let init_v = cx.scalar(if max { lowest(d) } else { highest(d) }, d);
    let init_i = cx.scalar(i32::MAX as f64, DType::I32);
    let (sv, si) = (scalar(d), scalar(DType::I32));
    let region = cx.region(&[sv.clone(), si.clone(), sv, si], |cx, p| {
        let (a, ia, b, ib) = (&p[0], &p[1], &p[2], &p[3]);
        let better = cx.compare(if max { "GT" } else { "LT" }, a, b);
        let same = cx.compare("EQ", a, b);
        let first = cx.compare("LT", ia, ib);
        let tie = cx.binary("stablehlo.and", &same, &first);
        let mut pick_a = cx.binary("stablehlo.or", &better, &tie);
        if d.is_float() {
            // a NaN wins over a number, and over a later NaN
            let (a_nan, b_nan) = (cx.is_nan(a), cx.is_nan(b));
            let b_num = cx.unary("stablehlo.not", &b_nan);
            let beats = cx.binary("stablehlo.or", &b_num, &first);
            let nan_wins = cx.binary("stablehlo.and", &a_nan, &beats);
            pick_a = cx.binary("stablehlo.or", &nan_wins, &pick_a);
        }
        Ok(vec![cx.select(&pick_a, a, b), cx.select(&pick_a, ia, ib)])
    })?;
    let attrs = format!("{{dimensions = {}}}", i64_array(&[axis]));
    let outs = [out.with_dtype(d), out.clone()];
    let mut r = cx.op_multi("stablehlo.reduce", &[x, &idx, &init_v, &init_i], &[region], &attrs, &outs);
    Ok(r.remove(1))
}
