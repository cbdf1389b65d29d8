//! Copies of escaping elementwise values, so that XLA's multi-output fusion
//! can make an optimizer's whole update one pass over memory.
//!
//! An Adam step returns each new moment (`mu' = (1 - b1) * g + b1 * mu`) and
//! also divides by it for the parameter's update. Left as it is, XLA makes one
//! kernel of the moments and another of the update, which reads them back:
//! nine passes over a weight's size (read `g, mu, nu`, write `mu', nu'`, read
//! `mu', nu', p`, write `p'`). XLA's CPU multi-output fusion only merges
//! *siblings*, kernels that read the same operands and do not depend on each
//! other. So where an elementwise consumer reads such a value, it reads a copy
//! of the value's elementwise computation instead (the same operations on the
//! same operands, so the same bits), the update's kernel and the moments'
//! become siblings, and XLA merges them into one: seven passes.
//!
//! XLA would fold an identical copy back into the original (common
//! subexpression elimination), so the copy reads some of its operands through
//! a `stablehlo.optimization_barrier`, which XLA's passes do not look through
//! and which costs nothing at run time: every scalar (the decay rates), and
//! for an equation that would otherwise still be identical (`g * g`), one of
//! its arrays. A value is copied
//! only when it is large ([`MIN_ELEMENTS`]), a graph output, read by an
//! elementwise equation, and computed by a short elementwise chain
//! ([`MOST_COPIED`] equations). The copies pay off where XLA's multi-output
//! fusion is on, as rjax turns it on for the CPU plugin (see
//! docs/xla-cpu-speed.md, "One pass for Adam's update").

use super::{LowerError, Lowering, lower_eqn};
use crate::core::lowering::Value;
use crate::core::{Graph, Var, VarMap};
use std::collections::HashMap;

/// The fewest elements a value must have to be copied: below it, the passes
/// saved are too small to matter.
const MIN_ELEMENTS: usize = 4096;

/// The most equations copied for one value.
const MOST_COPIED: usize = 12;

/// How to recompute one value: its elementwise equations in graph order, and
/// the operands they read through the barrier.
#[derive(Debug)]
pub(super) struct Copy {
    eqns: Vec<usize>,
    fenced: Vec<Var>,
}

/// True when equation `i` of `g` is elementwise ([`Graph::is_elementwise`]).
fn elementwise(g: &Graph, i: usize) -> bool {
    g.is_elementwise(&g.eqns[i])
}

/// The values of `g` to copy for their elementwise readers, with how.
pub(super) fn plan(g: &Graph) -> HashMap<Var, Copy> {
    let mut defined: VarMap<Option<usize>> = VarMap::new(g, None);
    let mut readers: VarMap<Vec<usize>> = VarMap::new(g, Vec::new());
    for (i, e) in g.eqns.iter().enumerate() {
        for v in &e.outs {
            defined[v] = Some(i);
        }
        for v in &e.inputs {
            readers[v].push(i);
        }
    }
    let mut plan = HashMap::new();
    for &o in &g.outputs {
        let Some(i) = defined[o] else { continue };
        let n = g.aval(o).size();
        if n < MIN_ELEMENTS || plan.contains_key(&o) || !elementwise(g, i) {
            continue;
        }
        if !readers[o].iter().any(|&r| elementwise(g, r)) {
            continue;
        }
        if let Some(copy) = cone(g, &defined, i, n) {
            plan.insert(o, copy);
        }
    }
    plan
}

/// The elementwise equations of size `n` that equation `i` is computed from
/// (itself included), unless there are more than [`MOST_COPIED`] of them, and
/// the operands to fence: every scalar they read, and, for an equation that
/// reads no fenced operand and no result of a fenced equation (`g * g`), one
/// of its array operands, so that no copied equation is identical to its
/// original.
fn cone(g: &Graph, defined: &VarMap<Option<usize>>, i: usize, n: usize) -> Option<Copy> {
    let mut eqns = vec![i];
    let mut stack = vec![i];
    while let Some(d) = stack.pop() {
        for &v in &g.eqns[d].inputs {
            let Some(j) = defined[v] else { continue };
            if g.aval(v).size() == n && elementwise(g, j) && !eqns.contains(&j) {
                if eqns.len() == MOST_COPIED {
                    return None;
                }
                eqns.push(j);
                stack.push(j);
            }
        }
    }
    eqns.sort_unstable();
    let made: Vec<Var> = eqns.iter().flat_map(|&j| g.eqns[j].outs.iter().copied()).collect();
    let mut fenced: Vec<Var> = Vec::new();
    let mut distinct: Vec<Var> = Vec::new();
    for &j in &eqns {
        let e = &g.eqns[j];
        for &v in &e.inputs {
            if g.aval(v).size() == 1 && !made.contains(&v) && !fenced.contains(&v) {
                fenced.push(v);
            }
        }
        let reads_distinct = e.inputs.iter().any(|v| fenced.contains(v) || distinct.contains(v));
        if !reads_distinct {
            match e.inputs.iter().find(|v| !made.contains(v)) {
                Some(&v) => fenced.push(v),
                None => continue,
            }
        }
        distinct.extend(e.outs.iter().copied());
    }
    Some(Copy { eqns, fenced })
}

/// Emits the copy of a value: its fenced operands through one barrier, then
/// its equations. Every variable it rebinds in `env` is pushed on `saved`
/// with its old value, for [`restore`].
fn emit(
    cx: &mut Lowering,
    g: &Graph,
    copy: &Copy,
    env: &mut VarMap<Option<Value>>,
    saved: &mut Vec<(Var, Option<Value>)>,
) -> Result<(), LowerError> {
    let mut ins = Vec::with_capacity(copy.fenced.len());
    for v in &copy.fenced {
        ins.push(
            env[v].clone().ok_or_else(|| LowerError::new("a copied value reads an operand before it is defined"))?,
        );
    }
    let refs: Vec<&Value> = ins.iter().collect();
    let avals: Vec<_> = ins.iter().map(|v| v.aval.clone()).collect();
    let fenced = cx.op_multi("stablehlo.optimization_barrier", &refs, &[], "", &avals);
    for (v, y) in copy.fenced.iter().zip(fenced) {
        saved.push((*v, env[v].replace(y)));
    }
    for &j in &copy.eqns {
        for v in &g.eqns[j].outs {
            saved.push((*v, env[v].clone()));
        }
        lower_eqn(cx, g, &g.eqns[j], env)?;
    }
    Ok(())
}

/// Puts back what [`emit`] rebound, last first.
fn restore(env: &mut VarMap<Option<Value>>, saved: Vec<(Var, Option<Value>)>) {
    for (v, old) in saved.into_iter().rev() {
        env[v] = old;
    }
}

/// Lowers equation `i` of `g`, reading copies of the values of `plan` it reads
/// when it is elementwise.
pub(super) fn lower_reading_copies(
    cx: &mut Lowering,
    g: &Graph,
    i: usize,
    plan: &HashMap<Var, Copy>,
    env: &mut VarMap<Option<Value>>,
) -> Result<(), LowerError> {
    let e = &g.eqns[i];
    let mut read = e.inputs.clone();
    read.sort_unstable();
    read.dedup();
    let copied: Vec<&Copy> = read.iter().filter_map(|v| plan.get(v)).collect();
    if copied.is_empty() || !elementwise(g, i) {
        return lower_eqn(cx, g, e, env);
    }
    let mut saved = Vec::new();
    let result =
        copied.iter().try_for_each(|copy| emit(cx, g, copy, env, &mut saved)).and_then(|()| lower_eqn(cx, g, e, env));
    // the copies come after `e`'s operands and before its results, so
    // putting them back leaves its results bound
    restore(env, saved);
    result
}
