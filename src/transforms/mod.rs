//! The transformations: `grad`, `value_and_grad`, `vjp`, `jvp`, `vmap`
//! (and `vmap_named`), `jacfwd`, `jacrev`, `hessian`, `jit`, `shard_map` and
//! `make_graph`.
//!
//! Each one traces the user function into a [`Graph`](crate::Graph) on abstract
//! inputs, then interprets that graph with its primitives' rules (jvp, vjp or
//! batch). The interpreters apply primitives with [`bind`](crate::bind), so
//! when a transformation runs inside another one its work is recorded into the
//! outer trace: transformations compose to any depth.

mod autodiff;
mod jacobian;
mod jit;
mod shard_map;
mod vmap;

pub use autodiff::{grad, grad_with_aux, jvp, value_and_grad, value_and_grad_with_aux, vjp};
pub use jacobian::{hessian, jacfwd, jacrev};
pub use jit::{JIT_CACHE_SIZE, Jit, jit, jit_static};
pub use shard_map::{ShardMapped, shard_map};
pub use vmap::{AxisSpec, vmap, vmap_axes, vmap_axes_named, vmap_named};

use crate::core::{Array, Aval, Graph, trace_graph};

// the interpreters, for rules that transform sub-graphs (control flow)
use crate::tree::{Tree, TreeDef, leaves};
pub(crate) use autodiff::{Tape, jvp_graph};
pub(crate) use vmap::batch_graph;

/// Traces `f` at the shapes and dtypes of `x`'s leaves and returns its graph
/// (JAX's `make_jaxpr`); its `Display` is a readable listing.
///
/// ```
/// use rjax::{grad, make_graph, numpy as jnp, Array};
/// let g = make_graph(grad(|x: &Array| jnp::sin(x).sum()))(&Array::zeros(&[3], rjax::DType::F32));
/// println!("{g}");
/// assert!(g.to_string().contains("cos"));
/// ```
pub fn make_graph<T: Tree, Y: Tree, F: Fn(&T) -> Y>(f: F) -> impl Fn(&T) -> Graph {
    move |x: &T| trace_tree(&f, x).0
}

/// Traces `f` at `x`'s avals; returns the graph and the output tree with
/// abstract leaves (a template for rebuilding outputs).
pub(crate) fn trace_tree<T: Tree, Y: Tree, F: Fn(&T) -> Y>(f: &F, x: &T) -> (Graph, Y) {
    trace_with(f, x, leaves(x).iter().map(|l| l.aval()).collect())
}

/// Traces `f` on a tree shaped like `x` whose leaves have the given avals.
pub(crate) fn trace_with<T: Tree, Y: Tree, F: Fn(&T) -> Y>(f: &F, x: &T, avals: Vec<Aval>) -> (Graph, Y) {
    let mut template = None;
    let g = trace_graph(&avals, |args| {
        let xt = x.rebuild(&mut args.iter().cloned());
        let y = f(&xt);
        let outs = leaves(&y);
        template = Some(y);
        outs
    });
    match template {
        Some(t) => (g, t),
        None => unreachable!("trace_graph calls the function once"),
    }
}

/// Rebuilds a tree like `template` from `values`.
pub(crate) fn rebuild<Y: Tree>(template: &Y, values: Vec<Array>) -> Y {
    template.rebuild(&mut values.into_iter())
}

/// The leaves of each top-level part of a tree (tuple elements or struct
/// fields; a single leaf is one part), as ranges of leaf positions.
pub(crate) fn top_level_parts(def: &TreeDef) -> Vec<std::ops::Range<usize>> {
    let sizes: Vec<usize> = match def {
        TreeDef::Node { children, .. } => children.iter().map(|c| c.num_leaves()).collect(),
        TreeDef::Leaf => vec![1],
    };
    let mut start = 0;
    sizes
        .into_iter()
        .map(|n| {
            start += n;
            start - n..start
        })
        .collect()
}

/// One value per leaf of `def` from one per top-level part (every leaf of a
/// part gets its value), or, when `per_part` has another length, the number
/// of parts.
pub(crate) fn spread_over_leaves<A: Clone>(per_part: &[A], def: &TreeDef) -> Result<Vec<A>, usize> {
    let parts = top_level_parts(def);
    if per_part.len() != parts.len() {
        return Err(parts.len());
    }
    Ok(per_part.iter().zip(parts).flat_map(|(a, leaves)| std::iter::repeat_n(a.clone(), leaves.len())).collect())
}
