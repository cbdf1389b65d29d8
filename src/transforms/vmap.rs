//! `vmap`: the batching interpreter. Batched values carry their batch axis at
//! position 0 inside the interpreter; each primitive's batch rule says how to
//! apply it to such values.

use super::{rebuild, trace_with};
use crate::core::VarMap;
use crate::core::axis_env::{batching_axis, with_axes, with_batching_axis};
use crate::core::{Array, Aval, Graph, bind_op, initial_env, read};
use crate::primitives::add_batch;
use crate::primitives::structure::moveaxis;
use crate::tree::{Tree, leaves};

/// Which axis of each leaf is mapped: one spec for every leaf, or one per leaf.
///
/// ```
/// use rjax::AxisSpec;
/// let all0: AxisSpec = 0.into();
/// let per_leaf: AxisSpec = vec![Some(1), None].into();
/// assert_ne!(all0, per_leaf);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AxisSpec {
    /// The same axis (or `None`: not mapped) for every leaf.
    All(Option<isize>),
    /// One entry per leaf, in flattening order.
    PerLeaf(Vec<Option<isize>>),
}

impl From<i32> for AxisSpec {
    fn from(a: i32) -> Self {
        AxisSpec::All(Some(a as isize))
    }
}
impl From<Option<isize>> for AxisSpec {
    fn from(a: Option<isize>) -> Self {
        AxisSpec::All(a)
    }
}
impl From<Vec<Option<isize>>> for AxisSpec {
    fn from(a: Vec<Option<isize>>) -> Self {
        AxisSpec::PerLeaf(a)
    }
}

impl AxisSpec {
    #[track_caller]
    fn per_leaf(&self, what: &str, n: usize) -> Vec<Option<isize>> {
        match self {
            AxisSpec::All(a) => vec![*a; n],
            AxisSpec::PerLeaf(v) if v.len() == n => v.clone(),
            AxisSpec::PerLeaf(v) => panic!("vmap: {what} names {} leaves but the tree has {n}", v.len()),
        }
    }
}

/// Runs `g` on inputs that may carry a batch axis at 0 (flagged in `batched`).
/// Returns each output with its batch flag (batched outputs have the axis at 0).
pub(crate) fn batch_graph(g: &Graph, xs: &[Array], batched: &[bool]) -> Vec<(Array, bool)> {
    with_batching_axis(None, || batch_graph_in(g, xs, batched))
}

/// [`batch_graph`] inside the batching axis in scope: collectives naming it
/// go through their batching rule even with unbatched operands.
fn batch_graph_in(g: &Graph, xs: &[Array], batched: &[bool]) -> Vec<(Array, bool)> {
    let current = batching_axis().map(|(name, _)| name);
    let mut env = initial_env(g, xs.iter().cloned());
    let mut bat = VarMap::new(g, false);
    for (v, &b) in g.inputs.iter().zip(batched) {
        bat[v] = b;
    }
    for e in &g.eqns {
        let ins: Vec<Array> = e.inputs.iter().map(|v| read(&env, *v).clone()).collect();
        let flags: Vec<bool> = e.inputs.iter().map(|v| bat[v]).collect();
        let collective = current.as_ref().is_some_and(|c| e.op.named_axes().contains(c));
        let (outs, bs) = if collective || flags.iter().any(|&b| b) {
            e.op.batch(&ins, &flags)
        } else {
            let outs = bind_op(&e.op, &ins.iter().collect::<Vec<_>>());
            let n = outs.len();
            (outs, vec![false; n])
        };
        for ((v, y), b) in e.outs.iter().zip(outs).zip(bs) {
            env[v] = Some(y);
            bat[v] = b;
        }
    }
    g.outputs.iter().map(|v| (read(&env, *v).clone(), bat[v])).collect()
}

/// Maps `f` over axis 0 of every input leaf, stacking outputs along axis 0
/// (JAX's `vmap` with default axes).
///
/// ```
/// use rjax::{vmap, Array};
/// let xs = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// let sums = vmap(|x: &Array| x.sum())(&xs);
/// assert_eq!(sums.to_vec::<f32>(), vec![3.0, 7.0]);
/// ```
pub fn vmap<T: Tree, Y: Tree, F: Fn(&T) -> Y>(f: F) -> impl Fn(&T) -> Y {
    vmap_axes(f, 0, 0)
}

/// `vmap` with chosen input and output axes (`None` = not mapped; an unmapped
/// output must not depend on a mapped input).
///
/// ```
/// use rjax::{vmap_axes, Array, DType};
/// let w = Array::ones(&[3], DType::F32);
/// let xs = Array::ones(&[3, 5], DType::F32);
/// // map over axis 1 of xs, not over w; stack results on axis 0
/// let f = vmap_axes(|(w, x): &(Array, Array)| (w * x).sum(), vec![None, Some(1)], 0);
/// assert_eq!(f(&(w, xs)).shape(), &[5]);
/// ```
pub fn vmap_axes<T: Tree, Y: Tree, F: Fn(&T) -> Y>(
    f: F,
    in_axes: impl Into<AxisSpec>,
    out_axes: impl Into<AxisSpec>,
) -> impl Fn(&T) -> Y {
    vmap_impl(f, in_axes.into(), out_axes.into(), None)
}

/// [`vmap`] over an axis with a name: inside `f`, collectives over `name`
/// ([`psum`](crate::lax::psum), [`all_gather`](crate::lax::all_gather),
/// [`axis_index`](crate::lax::axis_index), ...) combine the lanes of the
/// batch as `shard_map` combines devices, so code written for devices runs
/// on the built-in backend (JAX's `vmap(f, axis_name=...)`).
///
/// ```
/// use rjax::{lax, vmap_named, Array};
/// let xs = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[4]);
/// let centered = vmap_named(|x: &Array| x - lax::pmean(x, &["batch"]), "batch")(&xs);
/// assert_eq!(centered.to_vec::<f32>(), vec![-1.5, -0.5, 0.5, 1.5]);
/// ```
pub fn vmap_named<T: Tree, Y: Tree, F: Fn(&T) -> Y>(f: F, name: &str) -> impl Fn(&T) -> Y {
    vmap_impl(f, AxisSpec::All(Some(0)), AxisSpec::All(Some(0)), Some(name.to_string()))
}

/// [`vmap_axes`] with an optional axis name (see [`vmap_named`]).
pub fn vmap_axes_named<T: Tree, Y: Tree, F: Fn(&T) -> Y>(
    f: F,
    in_axes: impl Into<AxisSpec>,
    out_axes: impl Into<AxisSpec>,
    name: &str,
) -> impl Fn(&T) -> Y {
    vmap_impl(f, in_axes.into(), out_axes.into(), Some(name.to_string()))
}

fn vmap_impl<T: Tree, Y: Tree, F: Fn(&T) -> Y>(
    f: F,
    in_axes: AxisSpec,
    out_axes: AxisSpec,
    name: Option<String>,
) -> impl Fn(&T) -> Y {
    move |x: &T| {
        let xs = leaves(x);
        let axes = in_axes.per_leaf("in_axes", xs.len());
        let mut n = None;
        let mut moved = Vec::with_capacity(xs.len());
        for (i, (x, a)) in xs.iter().zip(&axes).enumerate() {
            match a {
                None => moved.push(x.clone()),
                Some(a) => {
                    let ax = axis("vmap", *a, x.ndim());
                    let size = x.shape()[ax];
                    match n {
                        None => n = Some(size),
                        Some(m) if m != size => panic!(
                            "vmap: mapped axes have different sizes: {m} and {size} (leaf {i}, shape {:?})",
                            x.shape()
                        ),
                        _ => {}
                    }
                    moved.push(moveaxis(x, ax, 0));
                }
            }
        }
        let Some(n) = n else { panic!("vmap: no input is mapped (every in_axes entry is None)") };
        let batched: Vec<bool> = axes.iter().map(|a| a.is_some()).collect();
        // trace one example: mapped leaves lose their batch axis
        let avals: Vec<Aval> = moved
            .iter()
            .zip(&batched)
            .map(|(m, &b)| if b { Aval::new(&m.shape()[1..], m.dtype()) } else { m.aval() })
            .collect();
        // a named axis is bound while `f` is traced and batched
        let bound: Vec<(String, usize)> = name.iter().map(|a| (a.clone(), n)).collect();
        let (y_t, outs) = with_axes(&bound, || {
            let (g, y_t) = trace_with(&f, x, avals);
            let axis = name.as_deref().map(|a| (a, n));
            (y_t, with_batching_axis(axis, || batch_graph_in(&g, &moved, &batched)))
        });
        let oaxes = out_axes.per_leaf("out_axes", outs.len());
        let placed: Vec<Array> = outs
            .into_iter()
            .zip(oaxes)
            .map(|((o, b), a)| match (a, b) {
                (Some(a), b) => {
                    let o = if b { o } else { add_batch(&o, n) };
                    let ax = axis("vmap out_axes", a, o.ndim());
                    moveaxis(&o, 0, ax)
                }
                (None, false) => o,
                (None, true) => panic!("vmap: out_axes is None for an output that depends on a mapped input"),
            })
            .collect();
        rebuild(&y_t, placed)
    }
}

/// Normalizes one axis or panics at the caller with the operation's name.
#[track_caller]
fn axis(op: &str, a: isize, ndim: usize) -> usize {
    match crate::core::normalize_axis(a, ndim) {
        Ok(a) => a,
        Err(m) => panic!("{op}: {m}"),
    }
}
