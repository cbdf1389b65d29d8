//! Reductions: reduce_sum, reduce_prod, reduce_max, reduce_min over a set of
//! axes (removed from the shape), and argmax/argmin along one axis.

mod cpu;
mod lower;

use super::binary::{and, div, eq, mul, select};
use super::structure::broadcast_in_dim;
use crate::backend::stablehlo::{LowerError, Lowering, Value};
use crate::core::{Array, Aval, DType, HostData, Primitive, bind};

/// The monoid a reduction folds with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// Sum (identity 0).
    Sum,
    /// Product (identity 1).
    Prod,
    /// Maximum (identity -inf, or the type's minimum); NaN propagates.
    Max,
    /// Minimum (identity +inf, or the type's maximum); NaN propagates.
    Min,
}

impl ReduceOp {
    /// Name used by the primitive (`reduce_sum`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "reduce_sum",
            ReduceOp::Prod => "reduce_prod",
            ReduceOp::Max => "reduce_max",
            ReduceOp::Min => "reduce_min",
        }
    }
}

/// The reduction primitives; apply them with [`reduce_sum`], [`reduce_prod`],
/// [`reduce_max`], [`reduce_min`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reduce {
    /// Which monoid.
    pub op: ReduceOp,
    /// The axes reduced (sorted, distinct).
    pub axes: Vec<usize>,
}

impl Reduce {
    /// Broadcasts a reduced-shape array back to the operand's shape.
    fn expand(&self, y: &Array, shape: &[usize]) -> Array {
        let kept: Vec<usize> = (0..shape.len()).filter(|a| !self.axes.contains(a)).collect();
        broadcast_in_dim(y, shape, &kept)
    }
    /// For max/min: where the operand attains the extremum, as a float mask,
    /// divided by the number of ties so that the derivative is shared evenly.
    fn share(&self, x: &Array, out: &Array) -> Array {
        let hit = eq(x, &self.expand(out, x.shape()));
        let mask = super::unary::convert_element_type(&hit, x.dtype());
        let count = reduce(ReduceOp::Sum, &mask, &self.axes);
        div(&mask, &self.expand(&count, x.shape()))
    }
    /// For prod: the product of the other elements of each element's group,
    /// without dividing by a zero: `out / x` when the group has no zero; with
    /// one zero, the product of the rest at the zero and 0 elsewhere; with
    /// more, 0 (as JAX).
    fn partials(&self, x: &Array, out: &Array) -> Array {
        let s = x.shape();
        let (zero, one) = (super::full(s, 0.0, x.dtype()), super::full(s, 1.0, x.dtype()));
        let is_zero = eq(x, &zero);
        let safe_x = select(&is_zero, &one, x);
        let zeros = self
            .expand(&reduce(ReduceOp::Sum, &super::unary::convert_element_type(&is_zero, x.dtype()), &self.axes), s);
        let rest = self.expand(&reduce(ReduceOp::Prod, &safe_x, &self.axes), s);
        let no_zero = div(&self.expand(out, s), &safe_x);
        let lone_zero = and(&eq(&zeros, &one), &is_zero);
        select(&eq(&zeros, &zero), &no_zero, &select(&lone_zero, &rest, &zero))
    }
}

impl Primitive for Reduce {
    fn name(&self) -> &'static str {
        self.op.name()
    }
    fn params(&self) -> String {
        format!("axes={:?}", self.axes)
    }
    fn abstract_eval(&self, i: &[Aval]) -> Result<Aval, String> {
        let x = &i[0];
        if let Some(a) = self.axes.iter().find(|&&a| a >= x.ndim()) {
            return Err(format!("axis {a} is out of range for shape {:?}", x.shape));
        }
        if self.axes.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!("axes {:?} must be sorted and distinct", self.axes));
        }
        let shape: Vec<usize> = (0..x.ndim()).filter(|a| !self.axes.contains(a)).map(|a| x.shape[a]).collect();
        Ok(Aval::new(&shape, x.dtype))
    }
    fn eval(&self, i: &[&HostData]) -> HostData {
        cpu::reduce(i[0], self.op, &self.axes)
    }
    fn jvp(&self, x: &[Array], out: &Array, t: &[Option<Array>]) -> Option<Array> {
        let t = t[0].as_ref()?;
        Some(match self.op {
            ReduceOp::Sum => reduce(ReduceOp::Sum, t, &self.axes),
            ReduceOp::Prod => reduce(ReduceOp::Sum, &mul(t, &self.partials(&x[0], out)), &self.axes),
            ReduceOp::Max | ReduceOp::Min => reduce(ReduceOp::Sum, &mul(t, &self.share(&x[0], out)), &self.axes),
        })
    }
    fn vjp(&self, x: &[Array], out: &Array, ct: &Array, wants: &[bool]) -> Vec<Option<Array>> {
        if !wants[0] {
            return vec![None];
        }
        let s = x[0].shape();
        let g = self.expand(ct, s);
        vec![Some(match self.op {
            ReduceOp::Sum => g,
            ReduceOp::Prod => mul(&g, &self.partials(&x[0], out)),
            ReduceOp::Max | ReduceOp::Min => mul(&g, &self.share(&x[0], out)),
        })]
    }
    fn batch(&self, x: &[Array], _: &[bool]) -> (Array, bool) {
        let axes: Vec<usize> = self.axes.iter().map(|a| a + 1).collect();
        (reduce(self.op, &x[0], &axes), true)
    }
    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &Aval) -> Result<Value, LowerError> {
        lower::reduce(cx, &x[0], self.op, &self.axes, out)
    }
}

#[track_caller]
fn reduce(op: ReduceOp, x: &Array, axes: &[usize]) -> Array {
    let mut axes = axes.to_vec();
    axes.sort_unstable();
    axes.dedup();
    if axes.is_empty() {
        return x.clone();
    }
    bind(Reduce { op, axes }, &[x])
}

/// Sum over `axes` (removed from the shape).
///
/// ```
/// use rjax::{lax, Array};
/// let a = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// assert_eq!(lax::reduce_sum(&a, &[0]).to_vec::<f32>(), vec![4.0, 6.0]);
/// ```
#[track_caller]
pub fn reduce_sum(x: &Array, axes: &[usize]) -> Array {
    reduce(ReduceOp::Sum, x, axes)
}

/// Product over `axes`. Its derivative divides by the operand, so it needs nonzero inputs.
///
/// ```
/// use rjax::{lax, Array};
/// let a = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// assert_eq!(lax::reduce_prod(&a, &[1]).to_vec::<f32>(), vec![2.0, 12.0]);
/// ```
#[track_caller]
pub fn reduce_prod(x: &Array, axes: &[usize]) -> Array {
    reduce(ReduceOp::Prod, x, axes)
}

/// Maximum over `axes` (NaN propagates; ties share the derivative evenly).
///
/// ```
/// use rjax::{lax, Array};
/// let a = Array::from_vec(vec![1, 5, 3, 4], &[2, 2]);
/// assert_eq!(lax::reduce_max(&a, &[1]).to_vec::<i32>(), vec![5, 4]);
/// ```
#[track_caller]
pub fn reduce_max(x: &Array, axes: &[usize]) -> Array {
    reduce(ReduceOp::Max, x, axes)
}

/// Minimum over `axes` (NaN propagates; ties share the derivative evenly).
///
/// ```
/// use rjax::{lax, Array};
/// let a = Array::from_vec(vec![1, 5, 3, 4], &[2, 2]);
/// assert_eq!(lax::reduce_min(&a, &[0]).to_vec::<i32>(), vec![1, 4]);
/// ```
#[track_caller]
pub fn reduce_min(x: &Array, axes: &[usize]) -> Array {
    reduce(ReduceOp::Min, x, axes)
}

/// The `argmax`/`argmin` primitive; apply it with [`argmax`] or [`argmin`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ArgReduce {
    /// The axis searched (removed from the shape).
    pub axis: usize,
    /// True for argmax, false for argmin.
    pub max: bool,
}

impl Primitive for ArgReduce {
    fn name(&self) -> &'static str {
        if self.max { "argmax" } else { "argmin" }
    }
    fn params(&self) -> String {
        format!("axis={}", self.axis)
    }
    fn abstract_eval(&self, i: &[Aval]) -> Result<Aval, String> {
        let x = &i[0];
        if self.axis >= x.ndim() || x.shape[self.axis] == 0 {
            return Err(format!("axis {} is out of range or empty for shape {:?}", self.axis, x.shape));
        }
        let mut shape = x.shape.clone();
        shape.remove(self.axis);
        Ok(Aval::new(&shape, DType::I32))
    }
    fn eval(&self, i: &[&HostData]) -> HostData {
        cpu::arg_reduce(i[0], self.axis, self.max)
    }
    no_derivative!();
    fn batch(&self, x: &[Array], _: &[bool]) -> (Array, bool) {
        (bind(ArgReduce { axis: self.axis + 1, max: self.max }, &[&x[0]]), true)
    }
    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &Aval) -> Result<Value, LowerError> {
        lower::arg_reduce(cx, &x[0], self.axis, self.max, out)
    }
}

/// Index (i32) of the first maximum along `axis`.
///
/// ```
/// use rjax::{lax, Array};
/// let a = Array::from_vec(vec![1.0f32, 5.0, 3.0], &[3]);
/// assert_eq!(lax::argmax(&a, 0).item::<i32>(), 1);
/// ```
#[track_caller]
pub fn argmax(x: &Array, axis: usize) -> Array {
    bind(ArgReduce { axis, max: true }, &[x])
}

/// Index (i32) of the first minimum along `axis`.
///
/// ```
/// use rjax::{lax, Array};
/// let a = Array::from_vec(vec![1.0f32, 5.0, 0.5], &[3]);
/// assert_eq!(lax::argmin(&a, 0).item::<i32>(), 2);
/// ```
#[track_caller]
pub fn argmin(x: &Array, axis: usize) -> Array {
    bind(ArgReduce { axis, max: false }, &[x])
}
