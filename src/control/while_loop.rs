//! `while_loop`: repeat a body while a predicate of the carry holds.
//!
//! The primitive's operands are `cond_consts ++ body_consts ++ init`, its
//! results the final carry. The cond graph takes `cond_consts ++ carry` and
//! returns a bool scalar; the body takes `body_consts ++ carry` and returns
//! the next carry. Forward mode and batching work; reverse mode does not (the
//! number of steps is not known before running), as in JAX.

use super::{Cursor, avals_of, avals_text, check_carry, depends, fixpoint, graph_text, pick, trace_closed, with_lead};
use crate::backend::stablehlo::{LowerError, Lowering, Value, lower_graph_into};
use crate::core::{Array, Aval, DType, Graph, HostData, MultiPrimitive, bind_multi, eval_graph, trace_graph};
use crate::primitives::binary::select;
use crate::primitives::reduce::reduce_max;
use crate::primitives::structure::broadcast_in_dim;
use crate::primitives::unary::convert_element_type;
use crate::primitives::{add_batch, batch_size, zeros_like};
use crate::transforms::{batch_graph, jvp_graph};
use crate::tree::{Tree, leaves};
use std::panic::Location;
use std::sync::Arc;

/// The `while_loop` primitive (see the [module](self) documentation for the
/// operand layout); apply it with [`while_loop`].
///
/// ```
/// use rjax::{lax, make_graph, Array};
/// let g = make_graph(|x: &Array| lax::while_loop(|c: &Array| lax::lt(c, &Array::scalar(10.0f32)), |c| c * 2.0, x))(
///     &Array::scalar(1.0f32),
/// );
/// assert_eq!(g.eqns[0].op.name(), "while");
/// ```
#[derive(Debug)]
pub struct While {
    cond: Arc<Graph>,
    body: Arc<Graph>,
    cond_consts: usize,
    body_consts: usize,
    /// Where `while_loop` was called (named by the reverse-mode error).
    at: &'static Location<'static>,
    text: String,
}

impl While {
    fn new(cond: Graph, body: Graph, cond_consts: usize, body_consts: usize, at: &'static Location<'static>) -> While {
        debug_assert_eq!(cond.check(), Ok(()), "while cond");
        debug_assert_eq!(body.check(), Ok(()), "while body");
        let text = format!("cond={} body={}", graph_text(&cond), graph_text(&body));
        While { cond: Arc::new(cond), body: Arc::new(body), cond_consts, body_consts, at, text }
    }

    fn carry_avals(&self) -> Vec<Aval> {
        self.body.inputs[self.body_consts..].iter().map(|v| self.body.aval(*v).clone()).collect()
    }

    fn const_avals(&self) -> Vec<Aval> {
        let c = self.cond.inputs[..self.cond_consts].iter().map(|v| self.cond.aval(*v).clone());
        c.chain(self.body.inputs[..self.body_consts].iter().map(|v| self.body.aval(*v).clone())).collect()
    }

    #[track_caller]
    fn apply(self, ins: &[Array]) -> Vec<Array> {
        bind_multi(Arc::new(self), &ins.iter().collect::<Vec<_>>())
    }

    /// Splits operands into (cond consts, body consts, carry).
    fn split<'a, T>(&self, x: &'a [T]) -> (&'a [T], &'a [T], &'a [T]) {
        let (cc, rest) = x.split_at(self.cond_consts);
        let (bc, carry) = rest.split_at(self.body_consts);
        (cc, bc, carry)
    }
}

impl MultiPrimitive for While {
    fn name(&self) -> &'static str {
        "while"
    }

    fn params(&self) -> String {
        format!("cond_consts={} body_consts={} {}", self.cond_consts, self.body_consts, self.text)
    }

    fn abstract_eval(&self, ins: &[Aval]) -> Result<Vec<Aval>, String> {
        let mut want = self.const_avals();
        let carry = self.carry_avals();
        want.extend_from_slice(&carry);
        if ins.len() != want.len() {
            return Err(format!("expected {} operands, got {}", want.len(), ins.len()));
        }
        if let Some((i, (a, w))) = ins.iter().zip(&want).enumerate().find(|(_, (a, w))| a != w) {
            return Err(format!("operand {i} is {a} but the loop expects {w}"));
        }
        Ok(carry)
    }

    fn eval(&self, ins: &[&HostData]) -> Vec<HostData> {
        let x = super::arrays_of_hosts(ins);
        let (cc, bc, init) = self.split(&x);
        let mut carry = init.to_vec();
        loop {
            let mut args = cc.to_vec();
            args.extend_from_slice(&carry);
            if !eval_graph(&self.cond, &args)[0].item::<bool>() {
                break;
            }
            let mut args = bc.to_vec();
            args.extend(carry);
            carry = eval_graph(&self.body, &args);
        }
        super::hosts(&carry, "while")
    }

    fn jvp(&self, x: &[Array], t: &[Option<Array>]) -> (Vec<Array>, Vec<Option<Array>>) {
        let (ncc, nbc) = (self.cond_consts, self.body_consts);
        let nk = x.len() - ncc - nbc;
        // flags over the body's inputs: body consts, carry
        let mut nz: Vec<bool> =
            x[ncc..].iter().zip(&t[ncc..]).map(|(x, t)| t.is_some() && x.dtype().is_float()).collect();
        let body = &self.body;
        fixpoint(&mut nz, nbc..nbc + nk, |f| depends(body, f, true));
        let (bnz, knz) = nz.split_at(nbc);
        let cav = avals_of(&x[..ncc]);
        let bav = avals_of(&x[ncc..ncc + nbc]);
        let kav = self.carry_avals();
        // cond: cond consts, carry, carry tangents (unused)
        let mut avals = cav.clone();
        avals.extend_from_slice(&kav);
        avals.extend(pick(&kav, knz));
        let cond = &self.cond;
        let (cg, cextra) = trace_closed(&avals, |a| eval_graph(cond, &a[..ncc + nk]));
        // body: body consts, their tangents, carry, its tangents
        let mut avals = bav.clone();
        avals.extend(pick(&bav, bnz));
        avals.extend_from_slice(&kav);
        avals.extend(pick(&kav, knz));
        let (bg, bextra) = trace_closed(&avals, |a| {
            let mut cur = Cursor::new(a);
            let mut prim = cur.take(nbc).to_vec();
            let mut tan = cur.take_some(bnz);
            prim.extend_from_slice(cur.take(nk));
            tan.extend(cur.take_some(knz));
            let (outs, touts) = jvp_graph(body, &prim, &tan);
            let mut r = outs.clone();
            r.extend((0..nk).filter(|&j| knz[j]).map(|j| touts[j].clone().unwrap_or_else(|| zeros_like(&outs[j]))));
            r
        });
        let ntb = bnz.iter().filter(|b| **b).count();
        let ntk = knz.iter().filter(|b| **b).count();
        let mut ops = cextra.clone();
        ops.extend_from_slice(&x[..ncc]);
        ops.extend(bextra.iter().cloned());
        ops.extend_from_slice(&x[ncc..ncc + nbc]);
        ops.extend(pick(&t[ncc..ncc + nbc], bnz).into_iter().flatten());
        ops.extend_from_slice(&x[ncc + nbc..]);
        for (j, k) in (ncc + nbc..x.len()).enumerate() {
            if knz[j] {
                ops.push(t[k].clone().unwrap_or_else(|| zeros_like(&x[k])));
            }
        }
        let w = While::new(cg, bg, cextra.len() + ncc, bextra.len() + nbc + ntb, self.at);
        let outs = w.apply(&ops);
        let mut cur = Cursor::new(&outs);
        let prim = cur.take(nk).to_vec();
        let tans = cur.take_some(knz);
        debug_assert_eq!(tans.iter().flatten().count(), ntk);
        (prim, tans)
    }

    fn vjp(&self, _: &[Array], _: &[Array], _: &[Option<Array>], _: &[bool]) -> Vec<Option<Array>> {
        panic!(
            "while_loop: reverse-mode differentiation does not work for while_loop (the loop at {}:{}), \
             because its number of steps is only known by running it; use scan or fori_loop with static \
             bounds, or forward mode (jvp, jacfwd)",
            self.at.file(),
            self.at.line()
        )
    }

    fn batch(&self, x: &[Array], batched: &[bool]) -> (Vec<Array>, Vec<bool>) {
        let (ncc, nbc) = (self.cond_consts, self.body_consts);
        let nk = x.len() - ncc - nbc;
        let n = batch_size(x, batched);
        let (body, cond) = (&self.body, &self.cond);
        let (cb, bb, kb0) = self.split(batched);
        // the carries that get a batch axis; all of them once the predicate does
        let mut kb = kb0.to_vec();
        let pred_batched = |kb: &[bool]| depends(cond, &[cb, kb].concat(), false)[0];
        loop {
            let mut flags = [bb, &kb].concat();
            fixpoint(&mut flags, nbc..nbc + nk, |f| depends(body, f, false));
            let mut next = flags[nbc..].to_vec();
            if pred_batched(&next) {
                next = vec![true; nk];
            }
            if next == kb {
                break;
            }
            kb = next;
        }
        let pb = pred_batched(&kb);
        let (xc, xb, xk) = self.split(x);
        let (cav, bav) = (avals_of(xc), avals_of(xb));
        let kav: Vec<Aval> = xk
            .iter()
            .zip(kb0)
            .zip(&kb)
            .map(|((a, &b0), &b)| if b && !b0 { with_lead(&a.aval(), n) } else { a.aval() })
            .collect();
        let force = |r: Vec<(Array, bool)>, want: &[bool]| -> Vec<Array> {
            r.into_iter().zip(want).map(|((y, b), &w)| if w && !b { add_batch(&y, n) } else { y }).collect()
        };
        let cflags = [cb, &kb].concat();
        let bflags = [bb, &kb].concat();
        let mut avals = cav.clone();
        avals.extend_from_slice(&kav);
        let (cg, cextra) = trace_closed(&avals, |a| {
            let p = batch_graph(cond, a, &cflags).remove(0).0;
            if pb { vec![any(&p)] } else { vec![p] }
        });
        let (bg, bextra, body_consts) = if pb {
            // run the body on every lane, keep the new carry where the lane's predicate holds
            let mut avals = cav.clone();
            avals.extend_from_slice(&bav);
            avals.extend_from_slice(&kav);
            let (g, extra) = trace_closed(&avals, |a| {
                let (ca, rest) = a.split_at(ncc);
                let (ba, ka) = rest.split_at(nbc);
                let p = force(batch_graph(cond, &[ca, ka].concat(), &cflags), &[true]).remove(0);
                let new = force(batch_graph(body, &[ba, ka].concat(), &bflags), &kb);
                new.iter()
                    .zip(ka)
                    .map(|(y, old)| {
                        let mask = broadcast_in_dim(&p, y.shape(), &[0]);
                        select(&mask, y, old)
                    })
                    .collect()
            });
            let mut consts = xc.to_vec();
            consts.extend_from_slice(xb);
            (g, extra, consts)
        } else {
            let mut avals = bav.clone();
            avals.extend_from_slice(&kav);
            let (g, extra) = trace_closed(&avals, |a| force(batch_graph(body, a, &bflags), &kb));
            (g, extra, xb.to_vec())
        };
        let mut ops = cextra.clone();
        ops.extend_from_slice(xc);
        ops.extend(bextra.iter().cloned());
        ops.extend_from_slice(&body_consts);
        ops.extend(
            xk.iter().zip(kb0).zip(&kb).map(|((a, &b0), &b)| if b && !b0 { add_batch(a, n) } else { a.clone() }),
        );
        let w = While::new(cg, bg, cextra.len() + ncc, bextra.len() + body_consts.len(), self.at);
        (w.apply(&ops), kb)
    }

    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &[Aval]) -> Result<Vec<Value>, LowerError> {
        let (ncc, nbc) = (self.cond_consts, self.body_consts);
        let carried: Vec<Aval> = x.iter().map(|v| v.aval.clone()).collect();
        let cond = cx.region(&carried, |cx, p| {
            let mut args = p[..ncc].to_vec();
            args.extend_from_slice(&p[ncc + nbc..]);
            lower_graph_into(cx, &self.cond, &args)
        })?;
        let body = cx.region(&carried, |cx, p| {
            let outs = lower_graph_into(cx, &self.body, &p[ncc..])?;
            let mut r = p[..ncc + nbc].to_vec();
            r.extend(outs);
            Ok(r)
        })?;
        let ops: Vec<&Value> = x.iter().collect();
        let res = cx.op_multi("stablehlo.while", &ops, &[cond, body], "", &carried);
        debug_assert_eq!(res.len() - ncc - nbc, out.len());
        Ok(res[ncc + nbc..].to_vec())
    }
}

/// True when any element of a bool vector is.
fn any(p: &Array) -> Array {
    let m = reduce_max(&convert_element_type(p, DType::I32), &[0]);
    convert_element_type(&m, DType::Bool)
}

/// Runs `body` on the carry while `cond_fn` of the carry (a bool scalar) is
/// true, and returns the final carry (JAX's `lax.while_loop`). The carry must
/// keep its structure, shapes and dtypes. Forward mode (`jvp`, `jacfwd`) and
/// `vmap` work (a batched predicate runs until every example is done, updating
/// only the examples still running); reverse mode panics, as its number of
/// steps is unknown: use [`scan`](super::scan) or [`fori_loop`](super::fori_loop).
///
/// ```
/// use rjax::{jvp, lax, Array};
/// // double until at least 100
/// let f = |x: &Array| lax::while_loop(|c: &Array| lax::lt(c, &Array::scalar(100.0f64)), |c| c * 2.0, x);
/// assert_eq!(f(&Array::scalar(3.0f64)).item::<f64>(), 192.0);
/// let (_, dy) = jvp(f, &Array::scalar(3.0f64), &Array::scalar(1.0f64));
/// assert_eq!(dy.item::<f64>(), 64.0);
/// ```
#[track_caller]
pub fn while_loop<C: Tree>(cond_fn: impl Fn(&C) -> Array, body: impl Fn(&C) -> C, init: &C) -> C {
    let cl = leaves(init);
    let avals = avals_of(&cl);
    let cg = trace_graph(&avals, |a| vec![cond_fn(&init.rebuild(&mut a.iter().cloned()))]);
    let p = cg.aval(cg.outputs[0]);
    if *p != Aval::new(&[], DType::Bool) {
        panic!("while_loop: cond_fn must return a bool scalar, but returns {p}");
    }
    let mut def = None;
    let bg = trace_graph(&avals, |a| {
        let c = body(&init.rebuild(&mut a.iter().cloned()));
        def = Some(c.def());
        leaves(&c)
    });
    let Some(def) = def else { unreachable!("trace_graph calls the function once") };
    let outs: Vec<Aval> = bg.outputs.iter().map(|v| bg.aval(*v).clone()).collect();
    check_carry("while_loop", &init.def(), &def, &avals, &outs);
    if cl.is_empty() {
        panic!("while_loop: the carry {} has no arrays, so the loop could never stop", avals_text(&avals));
    }
    let (cg, cc) = cg.closed();
    let (bg, bc) = bg.closed();
    let mut ops = cc.clone();
    ops.extend_from_slice(&bc);
    ops.extend(cl);
    let outs = While::new(cg, bg, cc.len(), bc.len(), Location::caller()).apply(&ops);
    init.rebuild(&mut outs.into_iter())
}
