//! Forward and reverse mode: the jvp and vjp interpreters over a graph, and the
//! user-facing `jvp`, `vjp`, `grad`, `value_and_grad` (with aux variants).

use super::{rebuild, trace_tree};
use crate::core::{Array, Graph, bind_op, initial_env, read};
use crate::core::{Var, VarMap};
use crate::primitives::{binary, full, zeros_like};
use crate::tree::{Tree, leaves};

/// Evaluates `g` on `primals` and propagates `tangents` with each primitive's
/// jvp rule. `None` tangents are symbolic zeros.
pub(crate) fn jvp_graph(g: &Graph, primals: &[Array], tangents: &[Option<Array>]) -> (Vec<Array>, Vec<Option<Array>>) {
    let mut env = initial_env(g, primals.iter().cloned());
    let mut tan: VarMap<Option<Array>> = VarMap::new(g, None);
    for (v, t) in g.inputs.iter().zip(tangents) {
        tan[v] = t.clone();
    }
    for e in &g.eqns {
        let xs: Vec<Array> = e.inputs.iter().map(|v| read(&env, *v).clone()).collect();
        let ts: Vec<Option<Array>> = e.inputs.iter().map(|v| tan[v].clone()).collect();
        let (outs, touts) = e.op.jvp(&xs, &ts);
        for ((v, y), t) in e.outs.iter().zip(outs).zip(touts) {
            tan[v] = t.filter(|_| y.dtype().is_float());
            env[v] = Some(y);
        }
    }
    let outs = g.outputs.iter().map(|v| read(&env, *v).clone()).collect();
    let touts = g.outputs.iter().map(|v| tan[v].clone()).collect();
    (outs, touts)
}

/// The forward pass of reverse mode: every value of the graph, and which ones
/// depend on a differentiated input.
pub(crate) struct Tape {
    env: VarMap<Option<Array>>,
    active: VarMap<bool>,
}

impl Tape {
    /// Evaluates `g` on `primals`; inputs flagged in `diff` (and float) are active.
    pub(crate) fn forward(g: &Graph, primals: &[Array], diff: &[bool]) -> Tape {
        let mut env = initial_env(g, primals.iter().cloned());
        let mut active = VarMap::new(g, false);
        for ((v, p), &d) in g.inputs.iter().zip(primals).zip(diff) {
            active[v] = d && p.dtype().is_float();
        }
        for e in &g.eqns {
            let xs: Vec<&Array> = e.inputs.iter().map(|v| read(&env, *v)).collect();
            let outs = bind_op(&e.op, &xs);
            let live = e.inputs.iter().any(|v| active[v]);
            for (v, y) in e.outs.iter().zip(outs) {
                active[v] = live && y.dtype().is_float();
                env[v] = Some(y);
            }
        }
        Tape { env, active }
    }

    /// The graph's output values.
    pub(crate) fn outputs(&self, g: &Graph) -> Vec<Array> {
        g.outputs.iter().map(|v| read(&self.env, *v).clone()).collect()
    }

    /// Pulls output cotangents back to the inputs (`None` where no derivative
    /// reaches an input).
    pub(crate) fn backward(&self, g: &Graph, out_cts: &[Option<Array>]) -> Vec<Option<Array>> {
        let mut ct: VarMap<Option<Array>> = VarMap::new(g, None);
        let acc = |ct: &mut VarMap<Option<Array>>, v: Var, c: Array| {
            ct[v] = Some(match ct[v].take() {
                Some(prev) => binary::add(&prev, &c),
                None => c,
            });
        };
        for (v, c) in g.outputs.iter().zip(out_cts) {
            if let (Some(c), true) = (c, self.active[v]) {
                acc(&mut ct, *v, c.clone());
            }
        }
        for e in g.eqns.iter().rev() {
            let c: Vec<Option<Array>> =
                e.outs.iter().map(|o| if self.active[o] { ct[o].take() } else { None }).collect();
            if c.iter().all(|c| c.is_none()) {
                continue;
            }
            let xs: Vec<Array> = e.inputs.iter().map(|v| read(&self.env, *v).clone()).collect();
            let wants: Vec<bool> = e.inputs.iter().map(|v| self.active[v]).collect();
            let outs: Vec<Array> = e.outs.iter().map(|o| read(&self.env, *o).clone()).collect();
            let cts = e.op.vjp(&xs, &outs, &c, &wants);
            for ((v, c), w) in e.inputs.iter().zip(cts).zip(&wants) {
                if let (Some(c), true) = (c, *w) {
                    debug_assert_eq!(c.shape(), g.aval(*v).shape.as_slice(), "{} vjp shape", e.op.name());
                    acc(&mut ct, *v, c);
                }
            }
        }
        g.inputs.iter().map(|v| ct[v].clone()).collect()
    }
}

/// Panics unless every leaf is floating point (only those can be differentiated).
#[track_caller]
fn check_float_leaves(op: &str, xs: &[Array]) {
    if let Some((i, x)) = xs.iter().enumerate().find(|(_, x)| !x.dtype().is_float()) {
        panic!(
            "{op}: input leaf {i} is {} but only floating-point inputs can be differentiated; \
             close over integer arrays instead of passing them as the differentiated argument",
            x.aval()
        );
    }
}

fn zero_fill(cts: Vec<Option<Array>>, like: &[Array]) -> Vec<Array> {
    cts.into_iter().zip(like).map(|(c, x)| c.unwrap_or_else(|| zeros_like(x))).collect()
}

/// Runs `f` forward and backward; `f` returns the loss then further outputs.
fn loss_and_grad<T: Tree, Y: Tree, F: Fn(&T) -> (Array, Y)>(op: &str, f: &F, x: &T) -> (Array, Y, T) {
    let xs = leaves(x);
    check_float_leaves(op, &xs);
    let (g, (loss_t, aux_t)) = trace_tree(f, x);
    if loss_t.ndim() != 0 || !loss_t.dtype().is_float() {
        panic!(
            "{op}: the function must return a floating-point scalar, got {}; \
             use vjp or jacrev for other outputs",
            loss_t.aval()
        );
    }
    let tape = Tape::forward(&g, &xs, &vec![true; xs.len()]);
    let outs = tape.outputs(&g);
    let mut cts: Vec<Option<Array>> = vec![None; outs.len()];
    cts[0] = Some(full(outs[0].shape(), 1.0, outs[0].dtype()));
    let grads = zero_fill(tape.backward(&g, &cts), &xs);
    let aux = rebuild(&aux_t, outs[1..].to_vec());
    (outs[0].clone(), aux, rebuild(x, grads))
}

/// The gradient of a scalar function of a tree of float arrays; the result has
/// the input's type.
///
/// ```
/// use rjax::{grad, Array};
/// let df = grad(|x: &Array| (x * x).sum());
/// assert_eq!(df(&Array::from_vec(vec![1.0f64, 2.0], &[2])).to_vec::<f64>(), vec![2.0, 4.0]);
/// // grad composes: the second derivative of x^3 at 2 is 12
/// let d2 = grad(grad(|x: &Array| x * x * x));
/// assert_eq!(d2(&Array::scalar(2.0f64)).item::<f64>(), 12.0);
/// ```
pub fn grad<T: Tree, F: Fn(&T) -> Array>(f: F) -> impl Fn(&T) -> T {
    move |x: &T| loss_and_grad("grad", &|x: &T| (f(x), ()), x).2
}

/// The value and the gradient of a scalar function.
///
/// ```
/// use rjax::{value_and_grad, Array};
/// let (v, g) = value_and_grad(|x: &Array| (x * 3.0).sum())(&Array::scalar(2.0f32));
/// assert_eq!((v.item::<f32>(), g.item::<f32>()), (6.0, 3.0));
/// ```
pub fn value_and_grad<T: Tree, F: Fn(&T) -> Array>(f: F) -> impl Fn(&T) -> (Array, T) {
    move |x: &T| {
        let (v, _, g) = loss_and_grad("value_and_grad", &|x: &T| (f(x), ()), x);
        (v, g)
    }
}

/// The gradient of the first output of `f`, which also returns auxiliary data
/// (JAX's `has_aux=True`): returns `(gradient, aux)`.
///
/// ```
/// use rjax::{grad_with_aux, Array};
/// let (g, aux) = grad_with_aux(|x: &Array| ((x * x).sum(), x * 10.0))(&Array::scalar(1.0f32));
/// assert_eq!((g.item::<f32>(), aux.item::<f32>()), (2.0, 10.0));
/// ```
pub fn grad_with_aux<T: Tree, A: Tree, F: Fn(&T) -> (Array, A)>(f: F) -> impl Fn(&T) -> (T, A) {
    move |x: &T| {
        let (_, aux, g) = loss_and_grad("grad_with_aux", &f, x);
        (g, aux)
    }
}

/// `((value, aux), gradient)` for a function returning `(loss, aux)`.
///
/// ```
/// use rjax::{value_and_grad_with_aux, Array};
/// let f = |x: &Array| ((x * x).sum(), x + 1.0);
/// let ((v, aux), g) = value_and_grad_with_aux(f)(&Array::scalar(3.0f64));
/// assert_eq!((v.item::<f64>(), aux.item::<f64>(), g.item::<f64>()), (9.0, 4.0, 6.0));
/// ```
pub fn value_and_grad_with_aux<T: Tree, A: Tree, F: Fn(&T) -> (Array, A)>(f: F) -> impl Fn(&T) -> ((Array, A), T) {
    move |x: &T| {
        let (v, aux, g) = loss_and_grad("value_and_grad_with_aux", &f, x);
        ((v, aux), g)
    }
}

/// Forward mode: `(f(x), J(x) t)` for a tangent `t` shaped like `x`.
///
/// ```
/// use rjax::{jvp, numpy as jnp, Array};
/// let (y, dy) = jvp(|x: &Array| jnp::sin(x), &Array::scalar(0.0f64), &Array::scalar(2.0f64));
/// assert_eq!((y.item::<f64>(), dy.item::<f64>()), (0.0, 2.0));
/// ```
#[track_caller]
pub fn jvp<T: Tree, Y: Tree, F: Fn(&T) -> Y>(f: F, x: &T, t: &T) -> (Y, Y) {
    let (xs, ts) = (leaves(x), leaves(t));
    if x.def() != t.def() {
        panic!("jvp: the tangent's structure {} differs from the primal's {}", t.def(), x.def());
    }
    for (a, b) in xs.iter().zip(&ts) {
        if a.aval() != b.aval() {
            panic!("jvp: a tangent is {} but its primal is {}", b.aval(), a.aval());
        }
    }
    let (g, y_t) = trace_tree(&f, x);
    let tan: Vec<Option<Array>> = xs.iter().zip(ts).map(|(x, t)| x.dtype().is_float().then_some(t)).collect();
    let (ys, dys) = jvp_graph(&g, &xs, &tan);
    let dys = zero_fill(dys, &ys);
    (rebuild(&y_t, ys), rebuild(&y_t, dys))
}

/// Reverse mode: `f(x)` and a function that pulls an output cotangent (shaped
/// like the output) back to a cotangent shaped like `x`.
///
/// ```
/// use rjax::{vjp, Array};
/// let (y, pullback) = vjp(|x: &Array| x * 3.0, &Array::from_vec(vec![1.0f32, 2.0], &[2]));
/// let ct = pullback(&Array::from_vec(vec![1.0f32, 10.0], &[2]));
/// assert_eq!((y.to_vec::<f32>(), ct.to_vec::<f32>()), (vec![3.0, 6.0], vec![3.0, 30.0]));
/// ```
#[track_caller]
pub fn vjp<T: Tree + Clone, Y: Tree, F: Fn(&T) -> Y>(f: F, x: &T) -> (Y, impl Fn(&Y) -> T + use<T, Y, F>) {
    let xs = leaves(x);
    check_float_leaves("vjp", &xs);
    let (g, y_t) = trace_tree(&f, x);
    let tape = Tape::forward(&g, &xs, &vec![true; xs.len()]);
    let ys = tape.outputs(&g);
    let y = rebuild(&y_t, ys.clone());
    let ydef = y.def();
    let x = x.clone();
    let pullback = move |ct: &Y| {
        if ct.def() != ydef {
            panic!("vjp: the cotangent's structure {} differs from the output's {ydef}", ct.def());
        }
        let cts = leaves(ct);
        for (c, y) in cts.iter().zip(&ys) {
            if c.aval() != y.aval() {
                panic!("vjp: a cotangent is {} but its output is {}", c.aval(), y.aval());
            }
        }
        let cts: Vec<Option<Array>> = cts.into_iter().map(Some).collect();
        let grads = zero_fill(tape.backward(&g, &cts), &xs);
        rebuild(&x, grads)
    };
    (y, pullback)
}
