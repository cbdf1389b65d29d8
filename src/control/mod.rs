//! Control flow: `scan` (and `fori_loop` on top of it), `while_loop`, and
//! `cond`/`switch`, as multi-result primitives ([`MultiPrimitive`](crate::MultiPrimitive))
//! that hold their bodies as sub-graphs.
//!
//! The user functions are traced into graphs on abstract arguments. Arrays a
//! body closes over (constants, or tracers of an enclosing transformation) are
//! captured by that trace; [`Graph::closed`] turns them into explicit leading inputs of
//! the sub-graph, passed as leading operands of the primitive, so a primitive's
//! sub-graphs are closed and its parameters (which print them) describe it
//! completely.
//!
//! Every rule that transforms a body (jvp, vjp, batch) builds the new body the
//! same way: it traces a function that runs an interpreter (`jvp_graph`,
//! `Tape`, `batch_graph`) over the old body, which records a new graph.
//!
//! ```
//! use rjax::{lax, Array};
//! let (total, partial) = lax::scan(|c: &Array, x: &Array| (c + x, c + x), &Array::scalar(0.0f32),
//!     &Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]));
//! assert_eq!((total.item::<f32>(), partial.to_vec::<f32>()), (6.0, vec![1.0, 3.0, 6.0]));
//! ```

mod cond;
mod scan;
mod while_loop;

pub use cond::{Cond, cond, switch};
pub use scan::{Scan, fori_loop, scan, scan_n, scan_with};
pub use while_loop::{While, while_loop};

use crate::backend::cpu;
use crate::core::VarMap;
use crate::core::{Array, Aval, Graph, HostData, Var, trace_graph};
use crate::tree::{Tree, TreeDef, leaves};

/// Traces `f` on arguments of the given avals into a closed graph whose
/// leading inputs are the arrays it captured (returned with it).
pub(crate) fn trace_closed(avals: &[Aval], f: impl FnOnce(&[Array]) -> Vec<Array>) -> (Graph, Vec<Array>) {
    trace_graph(avals, f).closed()
}

/// Gives closed graphs with their own leading constants (as [`Graph::closed`] returns
/// them) one shared list of leading constants: every graph takes all of them
/// (the ones it does not use as unused inputs), then its own other inputs.
/// An array captured by several graphs appears once.
pub(crate) fn share_consts(parts: Vec<(Graph, Vec<Array>)>) -> (Vec<Graph>, Vec<Array>) {
    let mut all: Vec<Array> = Vec::new();
    let mut keys: Vec<usize> = Vec::new();
    let mut maps = Vec::with_capacity(parts.len());
    for (_, consts) in &parts {
        let mut m = Vec::with_capacity(consts.len());
        for c in consts {
            let k = c.id();
            let p = match keys.iter().position(|x| *x == k) {
                Some(p) => p,
                None => {
                    keys.push(k);
                    all.push(c.clone());
                    keys.len() - 1
                }
            };
            m.push(p);
        }
        maps.push(m);
    }
    let graphs = parts
        .into_iter()
        .zip(maps)
        .map(|((mut g, consts), m)| {
            let rest = g.inputs.split_off(consts.len());
            let mut slots: Vec<Option<Var>> = vec![None; all.len()];
            for (v, p) in g.inputs.iter().zip(&m) {
                slots[*p] = Some(*v);
            }
            let mut inputs = Vec::with_capacity(all.len() + rest.len());
            for (p, s) in slots.into_iter().enumerate() {
                inputs.push(s.unwrap_or_else(|| {
                    g.avals.push(all[p].aval());
                    Var(g.avals.len() as u32 - 1)
                }));
            }
            inputs.extend(rest);
            g.inputs = inputs;
            g
        })
        .collect();
    (graphs, all)
}

/// Which outputs of `g` depend on the inputs flagged in `flags` (only through
/// floating-point values when `float_only`): a superset of the outputs that
/// get a tangent (jvp) or a batch axis (vmap) from those inputs.
pub(crate) fn depends(g: &Graph, flags: &[bool], float_only: bool) -> Vec<bool> {
    let mut f = VarMap::new(g, false);
    for (v, &b) in g.inputs.iter().zip(flags) {
        f[v] = b;
    }
    for e in &g.eqns {
        if e.inputs.iter().any(|v| f[v]) {
            for o in &e.outs {
                f[o] = !float_only || g.aval(*o).dtype.is_float();
            }
        }
    }
    g.outputs.iter().map(|v| f[v]).collect()
}

/// Sets `flags[range]` to the fixed point of "flagged, or an output in
/// `carry_out` of `step(flags)` is flagged": the carries of a loop that get a
/// tangent or a batch axis at some iteration. `step` returns the carry outputs.
pub(crate) fn fixpoint(flags: &mut [bool], carry: std::ops::Range<usize>, step: impl Fn(&[bool]) -> Vec<bool>) {
    loop {
        let out = step(flags);
        let mut changed = false;
        for (j, i) in carry.clone().enumerate() {
            if out[j] && !flags[i] {
                flags[i] = true;
                changed = true;
            }
        }
        if !changed {
            return;
        }
    }
}

/// The elements of `v` whose flag in `mask` is set.
pub(crate) fn pick<T: Clone>(v: &[T], mask: &[bool]) -> Vec<T> {
    v.iter().zip(mask).filter(|(_, m)| **m).map(|(x, _)| x.clone()).collect()
}

/// Hands out consecutive runs of a slice (the arguments of a traced body).
pub(crate) struct Cursor<'a, T> {
    items: &'a [T],
    at: usize,
}

impl<'a, T: Clone> Cursor<'a, T> {
    pub(crate) fn new(items: &'a [T]) -> Self {
        Cursor { items, at: 0 }
    }
    /// The next `n` items.
    pub(crate) fn take(&mut self, n: usize) -> &'a [T] {
        let s = &self.items[self.at..self.at + n];
        self.at += n;
        s
    }
    /// For each flag: the next item when set, `None` otherwise.
    pub(crate) fn take_some(&mut self, mask: &[bool]) -> Vec<Option<T>> {
        mask.iter().map(|&m| m.then(|| self.take(1)[0].clone())).collect()
    }
}

/// A graph's listing for a primitive's parameters, indented one level.
pub(crate) fn graph_text(g: &Graph) -> String {
    g.to_string().replace('\n', "\n    ")
}

/// `a` with a leading axis of size `n`.
pub(crate) fn with_lead(a: &Aval, n: usize) -> Aval {
    let mut s = vec![n];
    s.extend_from_slice(&a.shape);
    Aval::new(&s, a.dtype)
}

/// The avals of arrays.
pub(crate) fn avals_of(xs: &[Array]) -> Vec<Aval> {
    xs.iter().map(|x| x.aval()).collect()
}

/// `(f32[3], i32[])`: avals for messages.
pub(crate) fn avals_text(avals: &[Aval]) -> String {
    let items: Vec<String> = avals.iter().map(|a| a.to_string()).collect();
    format!("({})", items.join(", "))
}

/// Concrete arrays holding copies of host data (a rule's `eval` inputs).
pub(crate) fn arrays_of_hosts(hosts: &[&HostData]) -> Vec<Array> {
    hosts.iter().map(|h| Array::from_host((*h).clone())).collect()
}

/// The host data of results computed eagerly.
pub(crate) fn hosts(xs: &[Array], op: &str) -> Vec<HostData> {
    xs.iter().map(|x| x.host(op).clone()).collect()
}

/// Entry `i` along axis 0 of host data.
pub(crate) fn host_index(h: &HostData, i: usize) -> HostData {
    let s = h.shape();
    let mut start = vec![0; s.len()];
    start[0] = i;
    let mut limit = s.to_vec();
    limit[0] = i + 1;
    cpu::reshape(&cpu::slice(h, &start, &limit, &vec![1; s.len()]), &s[1..])
}

/// Stacks host data of aval `each` along a new axis 0 (zeros of shape
/// `[0, ...]` when there is nothing to stack).
pub(crate) fn host_stack(parts: &[HostData], each: &Aval) -> HostData {
    let mut shape = vec![1];
    shape.extend_from_slice(&each.shape);
    if parts.is_empty() {
        shape[0] = 0;
        return Array::full(&shape, 0.0, each.dtype).host("stack").clone();
    }
    let rows: Vec<HostData> = parts.iter().map(|p| cpu::reshape(p, &shape)).collect();
    cpu::concatenate(&rows.iter().collect::<Vec<_>>(), 0)
}

/// A copy of a tree built from its leaves (no `Clone` needed).
pub(crate) fn copy_tree<T: Tree>(t: &T) -> T {
    t.rebuild(&mut leaves(t).into_iter())
}

/// Panics unless a body's carry output has the structure and avals of its
/// carry input.
#[track_caller]
pub(crate) fn check_carry(op: &str, def_in: &TreeDef, def_out: &TreeDef, ins: &[Aval], outs: &[Aval]) {
    if def_in != def_out {
        panic!(
            "{op}: the body must return a carry of the same structure as its input, {def_in}, but returns {def_out}"
        );
    }
    for (k, (a, b)) in ins.iter().zip(outs).enumerate() {
        if a != b {
            panic!(
                "{op}: the carry must keep its shape and dtype in the body, but leaf {k} enters as {a} and \
                 leaves as {b} (carry {} becomes {})",
                avals_text(ins),
                avals_text(outs)
            );
        }
    }
}
