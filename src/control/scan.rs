//! `scan`: a loop with a carry over the leading axis of its inputs, stacking
//! per-step outputs; `fori_loop` with static bounds is a scan with no inputs.
//!
//! The primitive's operands are `consts ++ init ++ xs` and its results
//! `final carry ++ ys` (each `ys` leaf stacked along a new axis 0). Its body
//! takes `consts ++ carry ++ x` (one slice of each `xs` leaf) and returns
//! `carry ++ y`.

use super::{
    Cursor, avals_of, check_carry, copy_tree, depends, fixpoint, graph_text, host_index, host_stack, pick,
    trace_closed, with_lead,
};
use crate::backend::stablehlo::{LowerError, Lowering, Value, i64_array, lower_graph_into};
use crate::core::{Array, Aval, DType, Graph, HostData, MultiPrimitive, bind_multi, eval_graph, trace_graph};
use crate::device::CpuPlan;
use crate::primitives::binary::add;
use crate::primitives::structure::transpose;
use crate::primitives::{add_batch, batch_size, zeros_like};
use crate::transforms::{Tape, batch_graph, jvp_graph};
use crate::tree::{Tree, leaves};
use std::sync::{Arc, OnceLock};

/// The `scan` primitive: a loop over axis 0 of its `xs` operands with a carry
/// (see the [module](self) documentation for the operand layout). Apply it
/// with [`scan`], [`scan_with`], [`scan_n`] or [`fori_loop`].
///
/// ```
/// use rjax::{lax, make_graph, Array};
/// let g = make_graph(|xs: &Array| lax::scan(|c: &Array, x: &Array| (c * x, ()), &Array::scalar(1.0f32), xs).0)(
///     &Array::ones(&[4], rjax::DType::F32),
/// );
/// assert_eq!(g.eqns[0].op.name(), "scan");
/// assert!(g.eqns[0].op.params().contains("length=4"));
/// ```
#[derive(Debug)]
pub struct Scan {
    body: Arc<Graph>,
    num_consts: usize,
    num_carry: usize,
    length: usize,
    reverse: bool,
    text: String,
    /// How the built-in CPU runs the body, planned on first use.
    plan: OnceLock<CpuPlan>,
}

impl Scan {
    fn new(body: Graph, num_consts: usize, num_carry: usize, length: usize, reverse: bool) -> Scan {
        debug_assert_eq!(body.check(), Ok(()), "scan body");
        let text = graph_text(&body);
        Scan { body: Arc::new(body), num_consts, num_carry, length, reverse, text, plan: OnceLock::new() }
    }

    fn num_xs(&self) -> usize {
        self.body.inputs.len() - self.num_consts - self.num_carry
    }

    fn in_avals(&self) -> Vec<Aval> {
        self.body.inputs.iter().map(|v| self.body.aval(*v).clone()).collect()
    }

    fn out_avals(&self) -> Vec<Aval> {
        self.body.outputs.iter().map(|v| self.body.aval(*v).clone()).collect()
    }

    /// `a` with the scanned axis in front.
    fn stacked(&self, a: &Aval) -> Aval {
        let mut s = vec![self.length];
        s.extend_from_slice(&a.shape);
        Aval::new(&s, a.dtype)
    }

    #[track_caller]
    fn apply(self, ins: &[Array]) -> Vec<Array> {
        bind_multi(Arc::new(self), &ins.iter().collect::<Vec<_>>())
    }
}

impl MultiPrimitive for Scan {
    fn name(&self) -> &'static str {
        "scan"
    }

    fn params(&self) -> String {
        format!(
            "length={} reverse={} num_consts={} num_carry={} body={}",
            self.length, self.reverse, self.num_consts, self.num_carry, self.text
        )
    }

    fn abstract_eval(&self, ins: &[Aval]) -> Result<Vec<Aval>, String> {
        let want = self.in_avals();
        if ins.len() != want.len() {
            return Err(format!("expected {} operands, got {}", want.len(), ins.len()));
        }
        let (nc, nk) = (self.num_consts, self.num_carry);
        for (i, (a, w)) in ins.iter().zip(&want).enumerate() {
            let (ok, what) = if i < nc + nk {
                (a == w, if i < nc { "constant" } else { "carry" })
            } else {
                (*a == self.stacked(w), "xs")
            };
            if !ok {
                let w = if i < nc + nk { w.clone() } else { self.stacked(w) };
                return Err(format!("operand {i} ({what}) is {a} but the body expects {w}"));
            }
        }
        let outs = self.out_avals();
        let mut r = outs[..nk].to_vec();
        r.extend(outs[nk..].iter().map(|a| self.stacked(a)));
        Ok(r)
    }

    fn eval(&self, ins: &[&HostData]) -> Vec<HostData> {
        let arrays = super::arrays_of_hosts(ins);
        let refs: Vec<&Array> = arrays.iter().collect();
        super::hosts(&self.eval_arrays(&refs), "scan")
    }

    /// The constants and the carry go to the body as they are (shared, not
    /// copied); each step's slice of the scanned inputs is a copy.
    fn eval_arrays(&self, ins: &[&Array]) -> Vec<Array> {
        let (nc, nk) = (self.num_consts, self.num_carry);
        let consts: Vec<Array> = ins[..nc].iter().map(|&x| x.clone()).collect();
        let mut carry: Vec<Array> = ins[nc..nc + nk].iter().map(|&x| x.clone()).collect();
        let xs: Vec<&HostData> = ins[nc + nk..].iter().map(|x| x.host("scan")).collect();
        let outs = self.out_avals();
        let mut ys: Vec<Vec<HostData>> = vec![Vec::with_capacity(self.length); outs.len() - nk];
        let plan = self.plan.get_or_init(|| CpuPlan::new(&self.body));
        for step in 0..self.length {
            let i = if self.reverse { self.length - 1 - step } else { step };
            let mut args = consts.clone();
            args.extend(carry);
            args.extend(xs.iter().map(|x| Array::from_host(host_index(x, i))));
            let mut r = plan.run(&self.body, args);
            let y = r.split_off(nk);
            carry = r;
            for (acc, y) in ys.iter_mut().zip(&y) {
                acc.push(y.host("scan").clone());
            }
        }
        for (mut acc, a) in ys.into_iter().zip(&outs[nk..]) {
            if self.reverse {
                acc.reverse();
            }
            carry.push(Array::from_host(host_stack(&acc, a)));
        }
        carry
    }

    fn jvp(&self, x: &[Array], t: &[Option<Array>]) -> (Vec<Array>, Vec<Option<Array>>) {
        let (nc, nk, n) = (self.num_consts, self.num_carry, x.len());
        let mut nz: Vec<bool> = x.iter().zip(t).map(|(x, t)| t.is_some() && x.dtype().is_float()).collect();
        let body = &self.body;
        fixpoint(&mut nz, nc..nc + nk, |f| depends(body, f, true));
        let out_nz = depends(body, &nz, true);
        let (knz, ynz) = (&nz[nc..nc + nk], &out_nz[nk..]);
        let groups = [0..nc, nc..nc + nk, nc + nk..n];
        // body inputs: consts, their tangents, carry, its tangents, x, its tangents
        let ins = self.in_avals();
        let mut avals = Vec::new();
        for r in groups.clone() {
            avals.extend_from_slice(&ins[r.clone()]);
            avals.extend(pick(&ins[r.clone()], &nz[r]));
        }
        let (g, extra) = trace_closed(&avals, |a| {
            let mut cur = Cursor::new(a);
            let (mut prim, mut tan) = (Vec::new(), Vec::new());
            for r in groups.clone() {
                prim.extend_from_slice(cur.take(r.len()));
                tan.extend(cur.take_some(&nz[r]));
            }
            let (outs, touts) = jvp_graph(body, &prim, &tan);
            let fill = |k: usize| touts[k].clone().unwrap_or_else(|| zeros_like(&outs[k]));
            let mut r = outs[..nk].to_vec();
            r.extend((0..nk).filter(|&j| knz[j]).map(fill));
            r.extend_from_slice(&outs[nk..]);
            r.extend((0..ynz.len()).filter(|&k| ynz[k]).map(|k| fill(nk + k)));
            r
        });
        let nt = |r: std::ops::Range<usize>| nz[r].iter().filter(|b| **b).count();
        let (ntc, ntk) = (nt(0..nc), nt(nc..nc + nk));
        let mut ops = extra.clone();
        for r in groups {
            ops.extend_from_slice(&x[r.clone()]);
            for i in r {
                if nz[i] {
                    ops.push(t[i].clone().unwrap_or_else(|| zeros_like(&x[i])));
                }
            }
        }
        let outs = Scan::new(g, extra.len() + nc + ntc, nk + ntk, self.length, self.reverse).apply(&ops);
        let mut cur = Cursor::new(&outs);
        let mut prim = cur.take(nk).to_vec();
        let mut tans = cur.take_some(knz);
        prim.extend_from_slice(cur.take(ynz.len()));
        tans.extend(cur.take_some(ynz));
        (prim, tans)
    }

    fn vjp(&self, x: &[Array], out: &[Array], ct: &[Option<Array>], wants: &[bool]) -> Vec<Option<Array>> {
        let (nc, nk, nx) = (self.num_consts, self.num_carry, self.num_xs());
        let body = &self.body;
        let ins = self.in_avals();
        let fk: Vec<bool> = ins[nc..nc + nk].iter().map(|a| a.dtype.is_float()).collect();
        let float_want = |i: usize| wants[i] && ins[i].dtype.is_float();
        let wc: Vec<bool> = (0..nc).map(float_want).collect();
        let wx: Vec<bool> = (nc + nk..nc + nk + nx).map(float_want).collect();
        let cy: Vec<bool> = ct[nk..].iter().map(|c| c.is_some()).collect();

        // forward again, stacking the carry that enters each step (the residuals)
        let stacked: Vec<Array> = if nk == 0 {
            Vec::new()
        } else {
            let (rg, rextra) = trace_closed(&ins, |a| {
                let mut r = eval_graph(body, a)[..nk].to_vec();
                r.extend_from_slice(&a[nc..nc + nk]);
                r
            });
            let mut ops = rextra.clone();
            ops.extend_from_slice(x);
            Scan::new(rg, rextra.len() + nc, nk, self.length, self.reverse).apply(&ops).split_off(nk)
        };

        // backward: carry = (carry cotangents, constant cotangents summed so far),
        // xs = (residual carries, xs, ys cotangents), ys = xs cotangents
        let outs_av = self.out_avals();
        let mut avals = ins[..nc].to_vec();
        avals.extend(pick(&ins[nc..nc + nk], &fk));
        avals.extend(pick(&ins[..nc], &wc));
        avals.extend_from_slice(&ins[nc..]);
        avals.extend(pick(&outs_av[nk..], &cy));
        let mut diff = wc.clone();
        diff.extend_from_slice(&fk);
        diff.extend_from_slice(&wx);
        let (g, extra) = trace_closed(&avals, |a| {
            let mut cur = Cursor::new(a);
            let consts = cur.take(nc);
            let ctk = cur.take_some(&fk);
            let acc = cur.take_some(&wc);
            let mut prim = consts.to_vec();
            prim.extend_from_slice(cur.take(nk + nx));
            let mut cts = ctk;
            cts.extend(cur.take_some(&cy));
            let tape = Tape::forward(body, &prim, &diff);
            let cin = tape.backward(body, &cts);
            let fill = |i: usize| cin[i].clone().unwrap_or_else(|| zeros_like(&prim[i]));
            let mut r: Vec<Array> = (nc..nc + nk).filter(|&i| fk[i - nc]).map(fill).collect();
            for (i, a) in acc.into_iter().enumerate() {
                if let Some(a) = a {
                    r.push(match &cin[i] {
                        Some(c) => add(&a, c),
                        None => a,
                    });
                }
            }
            r.extend((nc + nk..nc + nk + nx).filter(|&i| wx[i - nc - nk]).map(fill));
            r
        });
        let mut ops = extra.clone();
        ops.extend_from_slice(&x[..nc]);
        for j in (0..nk).filter(|&j| fk[j]) {
            ops.push(ct[j].clone().unwrap_or_else(|| zeros_like(&out[j])));
        }
        ops.extend(pick(&x[..nc], &wc).iter().map(zeros_like));
        ops.extend(stacked);
        ops.extend_from_slice(&x[nc + nk..]);
        ops.extend(ct[nk..].iter().flatten().cloned());
        let nfk = fk.iter().filter(|b| **b).count();
        let nwc = wc.iter().filter(|b| **b).count();
        let res = Scan::new(g, extra.len() + nc, nfk + nwc, self.length, !self.reverse).apply(&ops);
        let mut cur = Cursor::new(&res);
        let ctk = cur.take_some(&fk);
        let mut r = cur.take_some(&wc);
        r.extend(ctk.into_iter().enumerate().map(|(j, c)| c.filter(|_| wants[nc + j])));
        r.extend(cur.take_some(&wx));
        debug_assert_eq!(r.len(), x.len());
        r
    }

    fn batch(&self, x: &[Array], batched: &[bool]) -> (Vec<Array>, Vec<bool>) {
        let (nc, nk) = (self.num_consts, self.num_carry);
        let n = batch_size(x, batched);
        let body = &self.body;
        let mut flags = batched.to_vec();
        fixpoint(&mut flags, nc..nc + nk, |f| depends(body, f, false));
        let avals: Vec<Aval> =
            self.in_avals().iter().zip(&flags).map(|(a, &b)| if b { with_lead(a, n) } else { a.clone() }).collect();
        let mut yb = Vec::new();
        let (g, extra) = trace_closed(&avals, |a| {
            let r = batch_graph(body, a, &flags);
            let mut outs = Vec::with_capacity(r.len());
            for (k, (y, b)) in r.into_iter().enumerate() {
                if k < nk {
                    outs.push(if flags[nc + k] && !b { add_batch(&y, n) } else { y });
                } else {
                    yb.push(b);
                    outs.push(y);
                }
            }
            outs
        });
        let mut ops = extra.clone();
        for (i, a) in x.iter().enumerate() {
            ops.push(match (i < nc + nk, batched[i], flags[i]) {
                (true, false, true) => add_batch(a, n),
                (false, true, _) => swap01(a),
                _ => a.clone(),
            });
        }
        let mut outs = Scan::new(g, extra.len() + nc, nk, self.length, self.reverse).apply(&ops);
        let mut bs = flags[nc..nc + nk].to_vec();
        for (y, &b) in outs[nk..].iter_mut().zip(&yb) {
            if b {
                *y = swap01(y);
            }
        }
        bs.extend(yb);
        (outs, bs)
    }

    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &[Aval]) -> Result<Vec<Value>, LowerError> {
        let (nc, nk, nx) = (self.num_consts, self.num_carry, self.num_xs());
        let len = self.length;
        if len == 0 {
            let mut r = x[nc..nc + nk].to_vec();
            r.extend(out[nk..].iter().map(|a| cx.constant(0.0, a)));
            return Ok(r);
        }
        let counter = Aval::new(&[], DType::I32);
        let accs: Vec<Value> = out[nk..].iter().map(|a| cx.constant(0.0, a)).collect();
        let mut carried = vec![counter];
        carried.extend(x.iter().chain(&accs).map(|v| v.aval.clone()));
        let cond = cx.region(&carried, |cx, p| {
            let end = cx.scalar(len as f64, DType::I32);
            Ok(vec![cx.compare("LT", &p[0], &end)])
        })?;
        let body = cx.region(&carried, |cx, p| {
            let i = &p[0];
            let idx = if self.reverse {
                let last = cx.scalar((len - 1) as f64, DType::I32);
                cx.binary("stablehlo.subtract", &last, i)
            } else {
                i.clone()
            };
            let zero = cx.scalar(0.0, DType::I32);
            let mut args = p[1..1 + nc + nk].to_vec();
            for xs in &p[1 + nc + nk..1 + nc + nk + nx] {
                args.push(dynamic_row(cx, xs, &idx, &zero));
            }
            let outs = lower_graph_into(cx, &self.body, &args)?;
            let one = cx.scalar(1.0, DType::I32);
            let mut r = vec![cx.binary("stablehlo.add", i, &one)];
            r.extend_from_slice(&p[1..1 + nc]);
            r.extend_from_slice(&outs[..nk]);
            r.extend_from_slice(&p[1 + nc + nk..1 + nc + nk + nx]);
            for (acc, y) in p[1 + nc + nk + nx..].iter().zip(&outs[nk..]) {
                r.push(dynamic_set_row(cx, acc, y, &idx, &zero));
            }
            Ok(r)
        })?;
        let start = cx.scalar(0.0, DType::I32);
        let mut ops: Vec<&Value> = vec![&start];
        ops.extend(x.iter().chain(&accs));
        let res = cx.op_multi("stablehlo.while", &ops, &[cond, body], "", &carried);
        let mut r = res[1 + nc..1 + nc + nk].to_vec();
        r.extend_from_slice(&res[1 + nc + nk + nx..]);
        Ok(r)
    }
}

/// Swaps axes 0 and 1 (between batch-major and scan-major layouts).
fn swap01(x: &Array) -> Array {
    let mut perm: Vec<usize> = (0..x.ndim()).collect();
    perm.swap(0, 1);
    transpose(x, &perm)
}

/// Row `idx` (a runtime i32 scalar) along axis 0 of `xs`, without that axis.
fn dynamic_row(cx: &mut Lowering, xs: &Value, idx: &Value, zero: &Value) -> Value {
    let s = xs.aval.shape.clone();
    let mut sizes = s.clone();
    sizes[0] = 1;
    let mut ops = vec![xs, idx];
    ops.extend(std::iter::repeat_n(zero, s.len() - 1));
    let attrs = format!("{{slice_sizes = {}}}", i64_array(&sizes));
    let row = cx.op("stablehlo.dynamic_slice", &ops, &attrs, &Aval::new(&sizes, xs.aval.dtype));
    cx.reshape(&row, &s[1..])
}

/// `acc` with row `idx` along axis 0 replaced by `y`.
fn dynamic_set_row(cx: &mut Lowering, acc: &Value, y: &Value, idx: &Value, zero: &Value) -> Value {
    let mut shape = vec![1];
    shape.extend_from_slice(&y.aval.shape);
    let row = cx.reshape(y, &shape);
    let mut ops = vec![acc, &row, idx];
    ops.extend(std::iter::repeat_n(zero, shape.len() - 1));
    let out = acc.aval.clone();
    cx.op("stablehlo.dynamic_update_slice", &ops, "", &out)
}

/// Traces `f` on a carry like `init` and one slice of `xs`, checks the carry,
/// and applies the `scan` primitive.
#[track_caller]
fn scan_impl<C: Tree, X: Tree, Y: Tree>(
    op: &str,
    f: &dyn Fn(&C, &X) -> (C, Y),
    init: &C,
    xs: &X,
    length: Option<usize>,
    reverse: bool,
) -> (C, Y) {
    let (cl, xl) = (leaves(init), leaves(xs));
    let mut len = length.map(|l| (l, None));
    for (k, x) in xl.iter().enumerate() {
        let Some(&l) = x.shape().first() else {
            panic!("{op}: xs leaf {k} is a scalar ({}); every leaf of xs needs a leading axis to scan over", x.aval())
        };
        match len {
            None => len = Some((l, Some((k, x.aval())))),
            Some((m, None)) if m != l => {
                panic!("{op}: length is {m} but xs leaf {k} ({}) has a leading axis of {l}", x.aval())
            }
            Some((m, Some((k0, ref a0)))) if m != l => panic!(
                "{op}: the leaves of xs must have the same leading length, but leaf {k0} is {a0} and leaf {k} is {}",
                x.aval()
            ),
            _ => {}
        }
    }
    let Some((len, _)) = len else {
        panic!("{op}: xs has no leaves, so the number of steps is unknown; give it with scan_n or scan_with")
    };
    let mut avals = avals_of(&cl);
    avals.extend(xl.iter().map(|x| Aval::new(&x.shape()[1..], x.dtype())));
    let mut template = None;
    let g = trace_graph(&avals, |a| {
        let mut it = a.iter().cloned();
        let c = init.rebuild(&mut it);
        let x = xs.rebuild(&mut it);
        let (c2, y) = f(&c, &x);
        let mut outs = leaves(&c2);
        outs.extend(leaves(&y));
        template = Some((c2.def(), y));
        outs
    });
    let Some((cdef, y_t)) = template else { unreachable!("trace_graph calls the function once") };
    let nk = cl.len();
    let outs: Vec<Aval> = g.outputs.iter().map(|v| g.aval(*v).clone()).collect();
    check_carry(op, &init.def(), &cdef, &avals[..nk], &outs[..nk.min(outs.len())]);
    let (g, consts) = g.closed();
    let mut ops = consts.clone();
    ops.extend(cl);
    ops.extend(xl);
    let mut res = Scan::new(g, consts.len(), nk, len, reverse).apply(&ops);
    let ys = res.split_off(nk);
    (init.rebuild(&mut res.into_iter()), y_t.rebuild(&mut ys.into_iter()))
}

/// Loops `f` over the leading axis of every leaf of `xs`, threading a carry:
/// `f(&carry, &x_i) -> (carry, y_i)`. Returns the final carry and the `y_i`
/// stacked along a new axis 0 (JAX's `lax.scan`). The carry must keep its
/// structure, shapes and dtypes; every `xs` leaf needs the same leading length.
/// Differentiable in both modes (also to higher order) and batchable.
///
/// ```
/// use rjax::{grad, lax, Array};
/// let xs = Array::from_vec(vec![1.0f64, 2.0, 3.0], &[3]);
/// // running product
/// let (p, partial) = lax::scan(|c: &Array, x: &Array| (c * x, c * x), &Array::scalar(1.0f64), &xs);
/// assert_eq!((p.item::<f64>(), partial.to_vec::<f64>()), (6.0, vec![1.0, 2.0, 6.0]));
/// let g = grad(|xs: &Array| lax::scan(|c: &Array, x: &Array| (c * x, ()), &Array::scalar(1.0f64), xs).0)(&xs);
/// assert_eq!(g.to_vec::<f64>(), vec![6.0, 3.0, 2.0]);
/// ```
#[track_caller]
pub fn scan<C: Tree, X: Tree, Y: Tree>(f: impl Fn(&C, &X) -> (C, Y), init: &C, xs: &X) -> (C, Y) {
    scan_impl("scan", &f, init, xs, None, false)
}

/// [`scan`] with options: `length` (needed when `xs` has no leaves, checked
/// otherwise) and `reverse` (visit the steps from last to first; the `y_i`
/// are still stored at index `i`).
///
/// ```
/// use rjax::{lax, Array};
/// let xs = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
/// let (_, suffix) = lax::scan_with(|c: &Array, x: &Array| (c + x, c + x), &Array::scalar(0.0f32), &xs, None, true);
/// assert_eq!(suffix.to_vec::<f32>(), vec![6.0, 5.0, 3.0]);
/// ```
#[track_caller]
pub fn scan_with<C: Tree, X: Tree, Y: Tree>(
    f: impl Fn(&C, &X) -> (C, Y),
    init: &C,
    xs: &X,
    length: Option<usize>,
    reverse: bool,
) -> (C, Y) {
    scan_impl("scan", &f, init, xs, length, reverse)
}

/// [`scan`] without inputs: `length` steps of `f(&carry) -> (carry, y)`.
///
/// ```
/// use rjax::{lax, Array};
/// let (_, powers) = lax::scan_n(|c: &Array| (c * 2.0, c.clone()), &Array::scalar(1.0f32), 4);
/// assert_eq!(powers.to_vec::<f32>(), vec![1.0, 2.0, 4.0, 8.0]);
/// ```
#[track_caller]
pub fn scan_n<C: Tree, Y: Tree>(f: impl Fn(&C) -> (C, Y), init: &C, length: usize) -> (C, Y) {
    scan_impl("scan", &|c: &C, _: &()| f(c), init, &(), Some(length), false)
}

/// `for i in lower..upper { carry = body(&i, &carry) }` with static bounds,
/// where `i` is an i32 scalar (JAX's `lax.fori_loop`). It is a [`scan`], so it
/// is differentiable in both modes and batchable.
///
/// ```
/// use rjax::{grad, lax, Array};
/// // x * 2^5
/// let f = |x: &Array| lax::fori_loop(0, 5, |_, c: &Array| c * 2.0, x);
/// assert_eq!(f(&Array::scalar(3.0f64)).item::<f64>(), 96.0);
/// assert_eq!(grad(f)(&Array::scalar(3.0f64)).item::<f64>(), 32.0);
/// // the index is an i32 scalar
/// let s = lax::fori_loop(1, 4, |i, c: &Array| c + &lax::convert_element_type(i, rjax::DType::F32), &Array::scalar(0.0f32));
/// assert_eq!(s.item::<f32>(), 6.0);
/// ```
#[track_caller]
pub fn fori_loop<C: Tree>(lower: usize, upper: usize, body: impl Fn(&Array, &C) -> C, init: &C) -> C {
    if upper <= lower {
        return copy_tree(init);
    }
    let (Ok(lo), Ok(_)) = (i32::try_from(lower), i32::try_from(upper)) else {
        panic!("fori_loop: the bounds {lower}..{upper} do not fit in i32")
    };
    let step = |(i, c): &(Array, C), _: &()| {
        let next = add(i, &Array::scalar(1i32));
        ((next, body(i, c)), ())
    };
    let ((_, c), ()) =
        scan_impl("fori_loop", &step, &(Array::scalar(lo), copy_tree(init)), &(), Some(upper - lower), false);
    c
}
