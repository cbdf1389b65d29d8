//! Primitives with several results ([`MultiPrimitive`], used by control flow)
//! and [`Op`], what a graph equation applies: either kind of primitive behind
//! one multi-result interface, so every interpreter handles both alike.

use super::array::Array;
use super::aval::Aval;
use super::dtype::HostData;
use super::lowering::{LowerError, Lowering, Value};
use super::trace::Primitive;
use std::fmt;
use std::sync::Arc;

/// A primitive with several results, such as `scan` (final carry and stacked
/// outputs) or `cond` (every output of the taken branch). Its rules sit in
/// one `impl`, as for [`Primitive`]; they see and return one value per result.
///
/// ```
/// use rjax::{core::Op, lax, make_graph, Array};
/// // fori_loop is a `scan`: one equation whose results are the final carry
/// // (the loop index and the value); its parameters print the loop body.
/// let g = make_graph(|x: &Array| lax::fori_loop(0, 3, |_, c: &Array| c * 2.0, x))(&Array::scalar(1.0f32));
/// assert_eq!(g.eqns.len(), 1);
/// let e = &g.eqns[0];
/// assert!(matches!(e.op, Op::Many(_)));
/// assert_eq!((e.op.name(), e.outs.len()), ("scan", 2));
/// assert!(e.op.params().contains("body={ lambda"));
/// ```
pub trait MultiPrimitive: Send + Sync + fmt::Debug + 'static {
    /// The name printed in graphs and error messages, e.g. `scan`.
    fn name(&self) -> &'static str;
    /// The static parameters, as printed in graphs. Two primitives with the
    /// same name and parameters must compute the same function.
    fn params(&self) -> String {
        String::new()
    }
    /// The results' shapes and dtypes, or why the inputs are invalid.
    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String>;
    /// Computes the results on the built-in CPU backend.
    fn eval(&self, inputs: &[&HostData]) -> Vec<HostData>;
    /// [`MultiPrimitive::eval`] on concrete arrays, which an implementation
    /// may share instead of copying (control flow hands its constants and
    /// carry to its body this way, so a data set captured by a `scan` is not
    /// copied). The default evaluates their host data with `eval`.
    fn eval_arrays(&self, inputs: &[&Array]) -> Vec<Array> {
        let hosts: Vec<&HostData> = inputs.iter().map(|x| x.host(self.name())).collect();
        self.eval(&hosts).into_iter().map(Array::from_host).collect()
    }
    /// The results and their tangents given the inputs and their tangents
    /// (`None` is a symbolic zero; at least one is present).
    fn jvp(&self, x: &[Array], t: &[Option<Array>]) -> (Vec<Array>, Vec<Option<Array>>);
    /// The cotangent of each input for which `wants` is true, given the inputs,
    /// the results and the results' cotangents (`None` means zero; at least
    /// one is present).
    fn vjp(&self, x: &[Array], out: &[Array], ct: &[Option<Array>], wants: &[bool]) -> Vec<Option<Array>>;
    /// Applies the primitive to a batch (batch axis 0 on flagged inputs);
    /// returns the results and whether each is batched.
    fn batch(&self, x: &[Array], batched: &[bool]) -> (Vec<Array>, Vec<bool>);
    /// Emits StableHLO computing the results, whose avals must be `out`.
    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &[Aval]) -> Result<Vec<Value>, LowerError>;
}

/// What an equation applies: a one-result [`Primitive`] or a [`MultiPrimitive`].
///
/// ```
/// use rjax::{make_graph, numpy as jnp, Array};
/// let g = make_graph(|x: &Array| jnp::exp(x))(&Array::scalar(1.0f32));
/// assert_eq!(g.eqns[0].op.name(), "exp");
/// ```
#[derive(Clone, Debug)]
pub enum Op {
    /// A primitive with one result.
    One(Arc<dyn Primitive>),
    /// A primitive with several results.
    Many(Arc<dyn MultiPrimitive>),
}

impl Op {
    /// The primitive's name.
    ///
    /// ```
    /// use rjax::{core::Op, lax::Exp};
    /// assert_eq!(Op::One(std::sync::Arc::new(Exp)).name(), "exp");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Op::One(p) => p.name(),
            Op::Many(p) => p.name(),
        }
    }

    /// The primitive's parameters as printed in graphs.
    ///
    /// ```
    /// use rjax::{core::Op, lax::Exp};
    /// assert_eq!(Op::One(std::sync::Arc::new(Exp)).params(), "");
    /// ```
    pub fn params(&self) -> String {
        match self {
            Op::One(p) => p.params(),
            Op::Many(p) => p.params(),
        }
    }

    /// The named axes a collective combines over (see
    /// [`Primitive::named_axes`]); empty for other primitives.
    ///
    /// ```
    /// use rjax::{core::Op, lax::Exp};
    /// assert!(Op::One(std::sync::Arc::new(Exp)).named_axes().is_empty());
    /// ```
    pub fn named_axes(&self) -> Vec<String> {
        match self {
            Op::One(p) => p.named_axes(),
            Op::Many(_) => Vec::new(),
        }
    }

    /// The results' avals (one for a one-result primitive).
    ///
    /// ```
    /// use rjax::{core::Op, lax::Exp, Aval, DType};
    /// let a = Aval::new(&[2], DType::F32);
    /// assert_eq!(Op::One(std::sync::Arc::new(Exp)).abstract_eval(&[a.clone()]), Ok(vec![a]));
    /// ```
    pub fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        match self {
            Op::One(p) => p.abstract_eval(inputs).map(|a| vec![a]),
            Op::Many(p) => p.abstract_eval(inputs),
        }
    }

    /// Evaluates concrete arrays with the built-in CPU rules (a
    /// [`MultiPrimitive`] through its `eval_arrays`, which may share them).
    pub(crate) fn eval(&self, inputs: &[&Array]) -> Vec<Array> {
        match self {
            // on the backend's threads: subnormals flushed to zero, as XLA does
            Op::One(p) => super::float_env::on_backend_threads(|| {
                let hosts: Vec<&HostData> = inputs.iter().map(|x| x.host(p.name())).collect();
                vec![Array::from_host(p.eval(&hosts))]
            }),
            Op::Many(p) => super::float_env::on_backend_threads(|| p.eval_arrays(inputs)),
        }
    }

    /// The jvp interpreter's step: the results (applied with `bind`) and their
    /// tangents, given the inputs' tangents.
    pub(crate) fn jvp(&self, x: &[Array], t: &[Option<Array>]) -> (Vec<Array>, Vec<Option<Array>>) {
        let xr: Vec<&Array> = x.iter().collect();
        if t.iter().all(|t| t.is_none()) {
            let outs = super::trace::bind_op(self, &xr);
            let n = outs.len();
            return (outs, vec![None; n]);
        }
        match self {
            Op::One(p) => {
                let out = super::trace::bind_arc(p.clone(), &xr);
                let tan = if out.dtype().is_float() { p.jvp(x, &out, t) } else { None };
                (vec![out], vec![tan])
            }
            Op::Many(p) => p.jvp(x, t),
        }
    }

    /// The cotangents of the inputs flagged in `wants`, given the results'
    /// cotangents (at least one present).
    pub(crate) fn vjp(&self, x: &[Array], out: &[Array], ct: &[Option<Array>], wants: &[bool]) -> Vec<Option<Array>> {
        match self {
            Op::One(p) => match &ct[0] {
                Some(c) => p.vjp(x, &out[0], c, wants),
                None => vec![None; x.len()],
            },
            Op::Many(p) => p.vjp(x, out, ct, wants),
        }
    }

    /// The batching rule: results and whether each carries the batch axis.
    pub(crate) fn batch(&self, x: &[Array], batched: &[bool]) -> (Vec<Array>, Vec<bool>) {
        match self {
            Op::One(p) => {
                let (y, b) = p.batch(x, batched);
                (vec![y], vec![b])
            }
            Op::Many(p) => p.batch(x, batched),
        }
    }

    /// The lowering rule: one value per result.
    pub(crate) fn lower(&self, cx: &mut Lowering, x: &[Value], out: &[Aval]) -> Result<Vec<Value>, LowerError> {
        match self {
            Op::One(p) => Ok(vec![p.lower(cx, x, &out[0])?]),
            Op::Many(p) => p.lower(cx, x, out),
        }
    }
}
