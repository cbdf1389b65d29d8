//! `cond` and `switch`: apply one of several functions, chosen at run time.
//!
//! The primitive's operands are `index ++ consts ++ operands`; every branch
//! graph takes `consts ++ operands` (the constants of all branches, each using
//! its own) and all branches return the same avals. The index is an i32
//! scalar, clamped into range (below 0 runs branch 0, past the end the last
//! branch), or a bool scalar choosing between two branches (false: 0, true: 1).

use super::{Cursor, avals_of, avals_text, depends, pick, share_consts, trace_closed};
use crate::backend::stablehlo::{LowerError, Lowering, Value, lower_graph_into};
use crate::core::{Array, Aval, DType, Graph, HostData, MultiPrimitive, bind_multi, eval_graph, trace_graph};
use crate::primitives::binary::{eq, ge, select};
use crate::primitives::structure::broadcast_in_dim;
use crate::primitives::{add_batch, batch_size, zeros_like};
use crate::transforms::{Tape, batch_graph, jvp_graph};
use crate::tree::{Tree, leaves};
use std::sync::Arc;

/// The `cond` primitive (see the [module](self) documentation for the operand
/// layout); apply it with [`cond`] or [`switch`].
///
/// ```
/// use rjax::{lax, make_graph, Array};
/// let g = make_graph(|x: &Array| lax::cond(&lax::gt(x, &Array::scalar(0.0f32)), |x: &Array| x * 2.0, |x| -x, x))(
///     &Array::scalar(1.0f32),
/// );
/// assert_eq!(g.eqns.last().map(|e| e.op.name()), Some("cond"));
/// ```
#[derive(Debug)]
pub struct Cond {
    branches: Vec<Arc<Graph>>,
    text: String,
}

impl Cond {
    fn new(branches: Vec<Graph>) -> Cond {
        for b in &branches {
            debug_assert_eq!(b.check(), Ok(()), "cond branch");
        }
        let texts: Vec<String> = branches.iter().map(super::graph_text).collect();
        Cond { branches: branches.into_iter().map(Arc::new).collect(), text: texts.join(" ") }
    }

    fn in_avals(&self) -> Vec<Aval> {
        let b = &self.branches[0];
        b.inputs.iter().map(|v| b.aval(*v).clone()).collect()
    }

    fn out_avals(&self) -> Vec<Aval> {
        let b = &self.branches[0];
        b.outputs.iter().map(|v| b.aval(*v).clone()).collect()
    }

    #[track_caller]
    fn apply(self, ins: &[Array]) -> Vec<Array> {
        bind_multi(Arc::new(self), &ins.iter().collect::<Vec<_>>())
    }

    /// The branch an index selects (clamped into range).
    /// A new `cond` on `index` whose branches are this one's transformed by
    /// `f`, applied to `ops` followed by `extras`. A new branch takes this
    /// one's operands, then the extra values present in `mask` (of avals
    /// `extra_avals`), and returns `f(branch, operands, extra values by mask)`.
    /// The jvp passes tangents as the extras, the vjp cotangents.
    fn apply_transformed(
        &self,
        index: &Array,
        ops: &[Array],
        extra_avals: &[Aval],
        extras: Vec<Array>,
        mask: &[bool],
        f: impl Fn(&Graph, Vec<Array>, Vec<Option<Array>>) -> Vec<Array>,
    ) -> Vec<Array> {
        let ins = self.in_avals();
        let mut avals = ins.clone();
        avals.extend_from_slice(extra_avals);
        let parts = self
            .branches
            .iter()
            .map(|b| {
                trace_closed(&avals, |a| {
                    let mut cur = Cursor::new(a);
                    let prim = cur.take(ins.len()).to_vec();
                    let extra = cur.take_some(mask);
                    f(b, prim, extra)
                })
            })
            .collect();
        let (graphs, consts) = share_consts(parts);
        let mut operands = vec![index.clone()];
        operands.extend(consts);
        operands.extend_from_slice(ops);
        operands.extend(extras);
        Cond::new(graphs).apply(&operands)
    }

    fn pick_branch(&self, index: &HostData) -> usize {
        let last = self.branches.len() - 1;
        match index {
            HostData::Bool(a) => a.iter().next().map_or(0, |b| *b as usize).min(last),
            HostData::I32(a) => a.iter().next().map_or(0, |i| (*i).clamp(0, last as i32) as usize),
            other => unreachable!("cond index of dtype {}", other.dtype()),
        }
    }
}

impl MultiPrimitive for Cond {
    fn name(&self) -> &'static str {
        "cond"
    }

    fn params(&self) -> String {
        format!("branches=({})", self.text)
    }

    fn abstract_eval(&self, ins: &[Aval]) -> Result<Vec<Aval>, String> {
        let Some(index) = ins.first() else { return Err("no index operand".into()) };
        let ok = index.ndim() == 0
            && (index.dtype == DType::I32 || (index.dtype == DType::Bool && self.branches.len() == 2));
        if !ok {
            return Err(format!(
                "the index must be an i32 scalar (or a bool scalar with two branches), got {index} for {} branches",
                self.branches.len()
            ));
        }
        let want = self.in_avals();
        if ins.len() != want.len() + 1 {
            return Err(format!("expected {} operands, got {}", want.len() + 1, ins.len()));
        }
        if let Some((i, (a, w))) = ins[1..].iter().zip(&want).enumerate().find(|(_, (a, w))| a != w) {
            return Err(format!("operand {} is {a} but the branches take {w}", i + 1));
        }
        Ok(self.out_avals())
    }

    fn eval(&self, ins: &[&HostData]) -> Vec<HostData> {
        let b = &self.branches[self.pick_branch(ins[0])];
        super::hosts(&eval_graph(b, &super::arrays_of_hosts(&ins[1..])), "cond")
    }

    fn jvp(&self, x: &[Array], t: &[Option<Array>]) -> (Vec<Array>, Vec<Option<Array>>) {
        let ops = &x[1..];
        let nz: Vec<bool> = ops.iter().zip(&t[1..]).map(|(x, t)| t.is_some() && x.dtype().is_float()).collect();
        let mut onz = vec![false; self.out_avals().len()];
        for b in &self.branches {
            for (o, d) in onz.iter_mut().zip(depends(b, &nz, true)) {
                *o |= d;
            }
        }
        let tangents: Vec<Array> = pick(&t[1..], &nz).into_iter().flatten().collect();
        let outs = self.apply_transformed(&x[0], ops, &pick(&self.in_avals(), &nz), tangents, &nz, |b, prim, tan| {
            let (outs, touts) = jvp_graph(b, &prim, &tan);
            let mut r = outs.clone();
            for (k, o) in outs.iter().enumerate() {
                if onz[k] {
                    r.push(touts[k].clone().unwrap_or_else(|| zeros_like(o)));
                }
            }
            r
        });
        let mut cur = Cursor::new(&outs);
        let prim = cur.take(onz.len()).to_vec();
        (prim, cur.take_some(&onz))
    }

    fn vjp(&self, x: &[Array], _: &[Array], ct: &[Option<Array>], wants: &[bool]) -> Vec<Option<Array>> {
        let ops = &x[1..];
        let ins = self.in_avals();
        let want: Vec<bool> = wants[1..].iter().zip(&ins).map(|(w, a)| *w && a.dtype.is_float()).collect();
        let present: Vec<bool> = ct.iter().map(|c| c.is_some()).collect();
        let cts: Vec<Array> = ct.iter().flatten().cloned().collect();
        let outs =
            self.apply_transformed(&x[0], ops, &pick(&self.out_avals(), &present), cts, &present, |b, prim, cts| {
                let cin = Tape::forward(b, &prim, &want).backward(b, &cts);
                (0..prim.len())
                    .filter(|&i| want[i])
                    .map(|i| cin[i].clone().unwrap_or_else(|| zeros_like(&prim[i])))
                    .collect()
            });
        let mut r = vec![None];
        r.extend(Cursor::new(&outs).take_some(&want));
        r
    }

    fn batch(&self, x: &[Array], batched: &[bool]) -> (Vec<Array>, Vec<bool>) {
        let n = batch_size(x, batched);
        let (ops, flags) = (&x[1..], &batched[1..]);
        if batched[0] {
            // a different branch per example: run them all and select
            let outs: Vec<Vec<Array>> = self
                .branches
                .iter()
                .map(|b| {
                    batch_graph(b, ops, flags).into_iter().map(|(y, b)| if b { y } else { add_batch(&y, n) }).collect()
                })
                .collect();
            let idx = &x[0];
            let last = self.branches.len() - 1;
            let mut acc = outs[0].clone();
            for (k, out) in outs.iter().enumerate().skip(1) {
                let mask = if idx.dtype() == DType::Bool {
                    idx.clone()
                } else {
                    let kk = Array::full(&[n], k as f64, DType::I32);
                    if k == last { ge(idx, &kk) } else { eq(idx, &kk) }
                };
                acc =
                    acc.iter().zip(out).map(|(a, o)| select(&broadcast_in_dim(&mask, o.shape(), &[0]), o, a)).collect();
            }
            let m = acc.len();
            return (acc, vec![true; m]);
        }
        let mut ob = vec![false; self.out_avals().len()];
        for b in &self.branches {
            for (o, d) in ob.iter_mut().zip(depends(b, flags, false)) {
                *o |= d;
            }
        }
        let avals = avals_of(ops);
        let parts = self
            .branches
            .iter()
            .map(|b| {
                trace_closed(&avals, |a| {
                    let r = batch_graph(b, a, flags);
                    r.into_iter().zip(&ob).map(|((y, b), &w)| if w && !b { add_batch(&y, n) } else { y }).collect()
                })
            })
            .collect();
        let (graphs, consts) = share_consts(parts);
        let mut operands = vec![x[0].clone()];
        operands.extend(consts);
        operands.extend_from_slice(ops);
        (Cond::new(graphs).apply(&operands), ob)
    }

    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &[Aval]) -> Result<Vec<Value>, LowerError> {
        let idx = if x[0].aval.dtype == DType::Bool {
            cx.convert_raw(&x[0], DType::I32)
        } else {
            // stablehlo.case runs the last branch for any index out of range
            // (negative too); the CPU rule clamps, so clamp here as well
            let lo = cx.scalar(0.0, DType::I32);
            let hi = cx.scalar((self.branches.len() - 1) as f64, DType::I32);
            let a = x[0].aval.clone();
            cx.op("stablehlo.clamp", &[&lo, &x[0], &hi], "", &a)
        };
        let mut regions = Vec::with_capacity(self.branches.len());
        for b in &self.branches {
            regions.push(cx.region(&[], |cx, _| lower_graph_into(cx, b, &x[1..]))?);
        }
        Ok(cx.op_multi("stablehlo.case", &[&idx], &regions, "", out))
    }
}

/// A branch function with its name for messages.
type Branch<'a, T, Y> = (String, &'a dyn Fn(&T) -> Y);

/// Traces each branch on the operands' avals, checks that they agree, and
/// applies the `cond` primitive.
#[track_caller]
fn branches_impl<T: Tree, Y: Tree>(op: &str, index: &Array, branches: &[Branch<'_, T, Y>], operands: &T) -> Y {
    let ol = leaves(operands);
    let avals = avals_of(&ol);
    let mut parts = Vec::with_capacity(branches.len());
    let mut first: Option<(String, crate::tree::TreeDef, Vec<Aval>, Y)> = None;
    for (name, f) in branches {
        let mut out = None;
        let g = trace_graph(&avals, |a| {
            let y = f(&operands.rebuild(&mut a.iter().cloned()));
            let l = leaves(&y);
            out = Some(y);
            l
        });
        let Some(y) = out else { unreachable!("trace_graph calls the function once") };
        let oav: Vec<Aval> = g.outputs.iter().map(|v| g.aval(*v).clone()).collect();
        match &first {
            None => first = Some((name.clone(), y.def(), oav, y)),
            Some((n0, d0, a0, _)) => {
                if *d0 != y.def() || *a0 != oav {
                    panic!(
                        "{op}: the branches must return the same structure, shapes and dtypes, but {n0} returns \
                         {} {d0} and {name} returns {} {}",
                        avals_text(a0),
                        avals_text(&oav),
                        y.def()
                    );
                }
            }
        }
        parts.push(g.closed());
    }
    let Some((_, _, _, template)) = first else { panic!("{op}: needs at least one branch") };
    let (graphs, consts) = share_consts(parts);
    let mut ins = vec![index.clone()];
    ins.extend(consts);
    ins.extend(ol);
    let outs = Cond::new(graphs).apply(&ins);
    template.rebuild(&mut outs.into_iter())
}

/// `true_fn(operands)` if `pred` (a bool scalar) is true, else
/// `false_fn(operands)`, decided at run time (JAX's `lax.cond`). Both branches
/// are traced and must return the same structure, shapes and dtypes.
/// Differentiable in both modes (the predicate gets no derivative) and
/// batchable: with a batched predicate both branches run and `select` picks.
///
/// ```
/// use rjax::{grad, lax, Array};
/// let f = |x: &Array| lax::cond(&lax::gt(x, &Array::scalar(0.0f64)), |x: &Array| x * x, |x| -x, x);
/// assert_eq!((f(&Array::scalar(3.0f64)).item::<f64>(), f(&Array::scalar(-2.0f64)).item::<f64>()), (9.0, 2.0));
/// assert_eq!(grad(f)(&Array::scalar(3.0f64)).item::<f64>(), 6.0);
/// ```
#[track_caller]
pub fn cond<T: Tree, Y: Tree>(pred: &Array, true_fn: impl Fn(&T) -> Y, false_fn: impl Fn(&T) -> Y, operands: &T) -> Y {
    if pred.aval() != Aval::new(&[], DType::Bool) {
        panic!("cond: the predicate must be a bool scalar, got {}", pred.aval());
    }
    let branches: [Branch<'_, T, Y>; 2] = [("false_fn".into(), &false_fn), ("true_fn".into(), &true_fn)];
    branches_impl("cond", pred, &branches, operands)
}

/// `branches[index](operands)` for an i32 scalar `index`, clamped into range
/// (JAX's `lax.switch`): below 0 runs the first branch, past the end the last.
/// Every branch is traced and must return the same structure, shapes and
/// dtypes.
///
/// ```
/// use rjax::{lax, Array};
/// let x = Array::scalar(3.0f32);
/// let branches: [&dyn Fn(&Array) -> Array; 3] = [&|x| x + 1.0, &|x| x * 2.0, &|x| -x];
/// let at = |i: i32| lax::switch(&Array::scalar(i), &branches, &x).item::<f32>();
/// assert_eq!((at(0), at(1), at(2), at(7), at(-1)), (4.0, 6.0, -3.0, -3.0, 4.0));
/// ```
#[track_caller]
pub fn switch<T: Tree, Y: Tree>(index: &Array, branches: &[&dyn Fn(&T) -> Y], operands: &T) -> Y {
    if index.aval() != Aval::new(&[], DType::I32) {
        panic!("switch: the index must be an i32 scalar, got {}", index.aval());
    }
    let named: Vec<Branch<'_, T, Y>> = branches.iter().enumerate().map(|(i, f)| (format!("branch {i}"), *f)).collect();
    branches_impl("switch", index, &named, operands)
}
