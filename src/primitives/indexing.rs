//! Index-driven primitives: gather/scatter_add along an axis, argsort, iota.

use super::{batch_all, wrong_dtype};
use crate::backend::cpu;
use crate::backend::stablehlo::{self, LowerError, Lowering, Value};
use crate::core::{Array, Aval, DType, HostData, Primitive, bind};
use ndarray::{ArrayD, IxDyn};

fn index_rule(idx: &Aval, axis: usize, data: &Aval, size_on_axis: Option<usize>) -> Result<(), String> {
    if !idx.dtype.is_int() {
        return Err(wrong_dtype("an integer index", idx));
    }
    if idx.ndim() != data.ndim() || axis >= data.ndim() {
        return Err(format!("indices {idx} and operand {data} must have the same rank, with axis {axis} inside it"));
    }
    for a in 0..data.ndim() {
        if a != axis && idx.shape[a] != data.shape[a] {
            return Err(format!("indices {:?} and operand {:?} differ on axis {a}", idx.shape, data.shape));
        }
    }
    if size_on_axis == Some(0) {
        return Err(format!("axis {axis} has size 0, so no index is valid"));
    }
    Ok(())
}

/// The `gather` primitive (NumPy's `take_along_axis`); apply it with [`gather`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Gather {
    /// The axis indexed.
    pub axis: usize,
}

impl Primitive for Gather {
    fn name(&self) -> &'static str {
        "gather"
    }
    fn params(&self) -> String {
        format!("axis={}", self.axis)
    }
    fn abstract_eval(&self, i: &[Aval]) -> Result<Aval, String> {
        index_rule(&i[1], self.axis, &i[0], i[0].shape.get(self.axis).copied())?;
        Ok(i[1].with_dtype(i[0].dtype))
    }
    fn eval(&self, i: &[&HostData]) -> HostData {
        cpu::gather(i[0], i[1], self.axis)
    }
    fn jvp(&self, x: &[Array], _: &Array, t: &[Option<Array>]) -> Option<Array> {
        t[0].as_ref().map(|t| gather(t, &x[1], self.axis))
    }
    fn vjp(&self, x: &[Array], _: &Array, ct: &Array, wants: &[bool]) -> Vec<Option<Array>> {
        vec![wants[0].then(|| scatter_add(&x[1], ct, self.axis, x[0].shape()[self.axis])), None]
    }
    fn batch(&self, x: &[Array], b: &[bool]) -> (Array, bool) {
        let x = batch_all(x, b);
        (gather(&x[0], &x[1], self.axis + 1), true)
    }
    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &Aval) -> Result<Value, LowerError> {
        stablehlo::gather_along(cx, &x[0], &x[1], self.axis, out)
    }
}

/// `out[.., j, ..] = x[.., idx[.., j, ..], ..]` along `axis` (NumPy's
/// `take_along_axis`): `idx` has `x`'s shape except along `axis`. Out-of-range
/// indices are clamped, as in XLA.
///
/// ```
/// use rjax::{lax, Array};
/// let x = Array::from_vec(vec![10.0f32, 11.0, 12.0, 20.0, 21.0, 22.0], &[2, 3]);
/// let idx = Array::from_vec(vec![2i32, 0], &[2, 1]);
/// assert_eq!(lax::gather(&x, &idx, 1).to_vec::<f32>(), vec![12.0, 20.0]);
/// ```
#[track_caller]
pub fn gather(x: &Array, idx: &Array, axis: usize) -> Array {
    bind(Gather { axis }, &[x, idx])
}

/// The `scatter_add` primitive (the transpose of [`gather`]); apply it with [`scatter_add`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ScatterAdd {
    /// The axis indexed.
    pub axis: usize,
    /// The size of the output along `axis`.
    pub size: usize,
}

impl Primitive for ScatterAdd {
    fn name(&self) -> &'static str {
        "scatter_add"
    }
    fn params(&self) -> String {
        format!("axis={} size={}", self.axis, self.size)
    }
    fn abstract_eval(&self, i: &[Aval]) -> Result<Aval, String> {
        let (idx, upd) = (&i[0], &i[1]);
        if upd.dtype == DType::Bool {
            return Err(wrong_dtype("a numeric update", upd));
        }
        index_rule(idx, self.axis, upd, Some(self.size))?;
        if idx.shape != upd.shape {
            return Err(format!("indices {:?} and updates {:?} must have the same shape", idx.shape, upd.shape));
        }
        let mut shape = upd.shape.clone();
        shape[self.axis] = self.size;
        Ok(Aval::new(&shape, upd.dtype))
    }
    fn eval(&self, i: &[&HostData]) -> HostData {
        cpu::scatter_add(i[0], i[1], self.axis, self.size)
    }
    fn jvp(&self, x: &[Array], _: &Array, t: &[Option<Array>]) -> Option<Array> {
        t[1].as_ref().map(|t| scatter_add(&x[0], t, self.axis, self.size))
    }
    fn vjp(&self, x: &[Array], _: &Array, ct: &Array, wants: &[bool]) -> Vec<Option<Array>> {
        vec![None, wants[1].then(|| gather(ct, &x[0], self.axis))]
    }
    fn batch(&self, x: &[Array], b: &[bool]) -> (Array, bool) {
        let x = batch_all(x, b);
        (scatter_add(&x[0], &x[1], self.axis + 1, self.size), true)
    }
    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &Aval) -> Result<Value, LowerError> {
        stablehlo::scatter_add_along(cx, &x[0], &x[1], self.axis, self.size, out)
    }
}

/// Adds `updates[.., j, ..]` into `out[.., idx[.., j, ..], ..]` of a zero array
/// with `size` entries along `axis` (indices clamped).
///
/// ```
/// use rjax::{lax, Array};
/// let idx = Array::from_vec(vec![0i32, 2, 0], &[3]);
/// let upd = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
/// assert_eq!(lax::scatter_add(&idx, &upd, 0, 3).to_vec::<f32>(), vec![4.0, 0.0, 2.0]);
/// ```
#[track_caller]
pub fn scatter_add(idx: &Array, updates: &Array, axis: usize, size: usize) -> Array {
    bind(ScatterAdd { axis, size }, &[idx, updates])
}

/// The `argsort` primitive; apply it with [`argsort`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ArgSort {
    /// The axis sorted along.
    pub axis: usize,
}

impl Primitive for ArgSort {
    fn name(&self) -> &'static str {
        "argsort"
    }
    fn params(&self) -> String {
        format!("axis={}", self.axis)
    }
    fn abstract_eval(&self, i: &[Aval]) -> Result<Aval, String> {
        if self.axis >= i[0].ndim() {
            return Err(format!("axis {} is out of range for shape {:?}", self.axis, i[0].shape));
        }
        Ok(i[0].with_dtype(DType::I32))
    }
    fn eval(&self, i: &[&HostData]) -> HostData {
        cpu::argsort(i[0], self.axis)
    }
    no_derivative!();
    fn batch(&self, x: &[Array], _: &[bool]) -> (Array, bool) {
        (argsort(&x[0], self.axis + 1), true)
    }
    fn lower(&self, cx: &mut Lowering, x: &[Value], _: &Aval) -> Result<Value, LowerError> {
        stablehlo::argsort(cx, &x[0], self.axis)
    }
}

/// Indices (i32) that sort `x` ascending along `axis`; stable, NaN last.
///
/// ```
/// use rjax::{lax, Array};
/// let x = Array::from_vec(vec![3.0f32, 1.0, 2.0], &[3]);
/// assert_eq!(lax::argsort(&x, 0).to_vec::<i32>(), vec![1, 2, 0]);
/// ```
#[track_caller]
pub fn argsort(x: &Array, axis: usize) -> Array {
    bind(ArgSort { axis }, &[x])
}

/// The `iota` primitive; apply it with [`iota`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Iota {
    /// The output shape.
    pub shape: Vec<usize>,
    /// The axis that counts up.
    pub dimension: usize,
    /// The output dtype.
    pub dtype: DType,
}

impl Primitive for Iota {
    fn name(&self) -> &'static str {
        "iota"
    }
    fn params(&self) -> String {
        format!("dtype={} shape={:?} dimension={}", self.dtype, self.shape, self.dimension)
    }
    fn abstract_eval(&self, _: &[Aval]) -> Result<Aval, String> {
        if self.dimension >= self.shape.len() {
            return Err(format!("dimension {} is out of range for shape {:?}", self.dimension, self.shape));
        }
        if self.dtype == DType::Bool {
            return Err("iota cannot count in bool".into());
        }
        Ok(Aval::new(&self.shape, self.dtype))
    }
    fn eval(&self, _: &[&HostData]) -> HostData {
        let d = self.dimension;
        let a = ArrayD::from_shape_fn(IxDyn(&self.shape), |ix| ix[d] as f64);
        cpu::convert(&HostData::F64(a), self.dtype)
    }
    no_derivative!();
    fn batch(&self, _: &[Array], _: &[bool]) -> (Array, bool) {
        (iota(&self.shape, self.dimension, self.dtype), false)
    }
    fn lower(&self, cx: &mut Lowering, _: &[Value], out: &Aval) -> Result<Value, LowerError> {
        if self.dtype == DType::U8 && self.shape[self.dimension] > 256 {
            // counts past 255 saturate, as the CPU's conversion does
            let i = cx.iota(&out.with_dtype(DType::I32), self.dimension);
            return Ok(stablehlo::convert(cx, &i, DType::U8));
        }
        Ok(cx.iota(out, self.dimension))
    }
}

/// An array of `shape` whose values count 0, 1, ... along `dimension`.
///
/// ```
/// use rjax::{lax, DType};
/// assert_eq!(lax::iota(&[2, 3], 1, DType::I32).to_vec::<i32>(), vec![0, 1, 2, 0, 1, 2]);
/// ```
#[track_caller]
pub fn iota(shape: &[usize], dimension: usize, dtype: DType) -> Array {
    bind(Iota { shape: shape.to_vec(), dimension, dtype }, &[])
}
