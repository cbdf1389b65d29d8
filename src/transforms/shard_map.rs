//! `shard_map`: a function written for one device's part of its inputs, run
//! on every device of a mesh at once, speaking collectives
//! ([`psum`](crate::lax::psum), [`all_gather`](crate::lax::all_gather), ...)
//! over the mesh's axes (JAX's `shard_map`).
//!
//! The body is traced once on the per-device shapes (the mesh's axes bound,
//! so collectives may name them) and becomes one `shard_map` equation. Its
//! rules build new `shard_map`s: jvp maps the body's jvp, vjp maps the
//! body's pullback, batching maps the batched body. Lowered, the body sits
//! between `SPMDFullToShardShape` and `SPMDShardToFullShape` custom calls
//! (manual sharding) in a program partitioned over the mesh; run eagerly it is
//! such a program of one equation.
//!
//! Results whose spec leaves a mesh axis out are taken as replicated along
//! it (equal on every device, as a `psum` gives); their cotangent flows
//! through the device at position 0 of that axis, and the cotangent of an
//! input replicated along an axis is summed over it.

use super::autodiff::{Tape, jvp_graph};
use super::spread_over_leaves;
use super::vmap::batch_graph;
use crate::backend::stablehlo::lower_graph_into;
use crate::core::axis_env::{with_axes, with_lowering_mesh};
use crate::core::lowering::{LowerError, Lowering, Value};
use crate::core::sharding::{Layout, MeshAxes, PartitionSpec};
use crate::core::{Array, Aval, Graph, HostData, MultiPrimitive, Op, bind_multi, trace_graph};
use crate::device::sharding::{Mesh, NamedSharding, note_mesh, single_op_program};
use crate::error::Error;
use crate::primitives::collective::{axis_index, psum};
use crate::primitives::{add_batch, binary, full, structure, zeros_like};
use crate::tree::{Tree, TreeDef, leaves};
use std::marker::PhantomData;
use std::sync::Arc;

/// A function mapped over the devices of a mesh (see [`shard_map`]); call it
/// with [`ShardMapped::call`].
pub struct ShardMapped<T, Y, F> {
    f: F,
    mesh: Mesh,
    in_specs: Vec<PartitionSpec>,
    out_specs: Vec<PartitionSpec>,
    types: PhantomData<fn(&T) -> Y>,
}

/// Maps `f` over the devices of `mesh`: each device runs `f` on its part of
/// the inputs, split as `in_specs` say (one spec per top-level part of the
/// input: tuple element or struct field), and the parts of the results are
/// put together as `out_specs` say. Inside `f`, collectives over the mesh's
/// axes combine the devices. Works under `jit`, `grad`, `vmap`; on its own a
/// call compiles and runs one program over the mesh.
///
/// ```no_run
/// use rjax::sharding::Mesh;
/// use rjax::{lax, shard_map, Array, P};
/// rjax::set_xla_cpu_device_count(4)?; // before the first use of xla-cpu
/// let mesh = Mesh::on("xla-cpu", &[("i", 4)])?;
/// // Each device sums its 2 values, then psum adds the 4 partial sums.
/// let total = shard_map(|x: &Array| lax::psum(&x.sum(), &["i"]), &mesh, vec![P!["i"]], vec![P![]]);
/// let x = Array::from_vec((0..8).map(|v| v as f32).collect(), &[8]);
/// assert_eq!(total.call(&x).item::<f32>(), 28.0);
/// # Ok::<(), rjax::Error>(())
/// ```
pub fn shard_map<T: Tree, Y: Tree, F: Fn(&T) -> Y>(
    f: F,
    mesh: &Mesh,
    in_specs: Vec<PartitionSpec>,
    out_specs: Vec<PartitionSpec>,
) -> ShardMapped<T, Y, F> {
    ShardMapped { f, mesh: mesh.clone(), in_specs, out_specs, types: PhantomData }
}

impl<T: Tree, Y: Tree, F: Fn(&T) -> Y> ShardMapped<T, Y, F> {
    /// Calls the mapped function; panics at the caller's line where
    /// [`ShardMapped::try_call`] returns an error.
    #[track_caller]
    pub fn call(&self, x: &T) -> Y {
        match self.try_call(x) {
            Ok(y) => y,
            Err(e) => panic!("{e}"),
        }
    }

    /// Calls the mapped function. Errors: the specs do not match the
    /// input's or output's top-level parts, name an axis the mesh lacks, or
    /// split a dimension the mesh axes do not divide.
    pub fn try_call(&self, x: &T) -> Result<Y, Error> {
        let xs = leaves(x);
        let in_specs = per_leaf(&self.in_specs, &x.def(), "in_specs", "input")?;
        let axes = self.mesh.axes();
        let mut in_avals = Vec::with_capacity(xs.len());
        for (i, (leaf, spec)) in xs.iter().zip(&in_specs).enumerate() {
            let layout = layout(axes, spec, leaf.shape(), &format!("input leaf {i}"))?;
            in_avals.push(Aval { shape: layout.shard_shape(), dtype: leaf.dtype() });
        }
        let bound = axes.axes().to_vec();
        let mut template = None;
        let body = with_axes(&bound, || {
            trace_graph(&in_avals, |args| {
                let xt = x.rebuild(&mut args.iter().cloned());
                let y = (self.f)(&xt);
                let outs = leaves(&y);
                template = Some(y);
                outs
            })
        });
        let Some(template) = template else { unreachable!("trace_graph calls the function once") };
        let out_specs = per_leaf(&self.out_specs, &template.def(), "out_specs", "output")?;
        for (k, (v, spec)) in body.outputs.iter().zip(&out_specs).enumerate() {
            spec.check(axes, &body.aval(*v).shape)
                .map_err(|e| Error::Sharding(format!("shard_map: output leaf {k}: {e}")))?;
        }
        note_mesh(&self.mesh);
        let in_avals = xs.iter().map(|l| l.aval()).collect();
        let refs: Vec<&Array> = xs.iter().collect();
        let outs = ShardMap::bind(&self.mesh, body, in_specs, in_avals, out_specs, &refs);
        Ok(template.rebuild(&mut outs.into_iter()))
    }
}

/// One spec per leaf from one per top-level part.
fn per_leaf(specs: &[PartitionSpec], def: &TreeDef, what: &str, side: &str) -> Result<Vec<PartitionSpec>, Error> {
    spread_over_leaves(specs, def).map_err(|parts| {
        Error::Sharding(format!(
            "shard_map: {what} has {} specs but the {side} has {parts} top-level parts (tuple elements or struct fields)",
            specs.len()
        ))
    })
}

fn layout(axes: &MeshAxes, spec: &PartitionSpec, shape: &[usize], what: &str) -> Result<Layout, Error> {
    Layout::new(axes.clone(), spec.clone(), shape).map_err(|e| Error::Sharding(format!("shard_map: {what}: {e}")))
}

/// The `shard_map` primitive: `body` on each device's part of the inputs.
#[derive(Clone, Debug)]
struct ShardMap {
    mesh: Mesh,
    body: Graph,
    in_specs: Vec<PartitionSpec>,
    out_specs: Vec<PartitionSpec>,
    in_avals: Vec<Aval>,
    out_avals: Vec<Aval>,
}

impl ShardMap {
    /// Per-device avals of values with these whole avals and specs (checked
    /// when the `shard_map` was made: the parts divide the dimensions).
    fn shard_avals(&self, avals: &[Aval], specs: &[PartitionSpec]) -> Vec<Aval> {
        let axes = self.mesh.axes();
        avals.iter().zip(specs).map(|(a, s)| Aval { shape: s.shard_shape(axes, &a.shape), dtype: a.dtype }).collect()
    }

    /// The `shard_map` of `body` (as traced: what it closed over becomes
    /// leading operands, whole on every device) over `mesh`, applied to
    /// `args` (whole arrays of `in_avals`). The specs fit (checked where
    /// they came from), so each result's shape is its per-device shape
    /// times the parts its spec splits it into.
    fn bind(
        mesh: &Mesh,
        body: Graph,
        in_specs: Vec<PartitionSpec>,
        in_avals: Vec<Aval>,
        out_specs: Vec<PartitionSpec>,
        args: &[&Array],
    ) -> Vec<Array> {
        let (body, consts) = body.closed();
        let in_specs = vec![PartitionSpec::replicated(); consts.len()].into_iter().chain(in_specs).collect();
        let in_avals = consts.iter().map(|c| c.aval()).chain(in_avals).collect();
        let out_avals = body
            .outputs
            .iter()
            .zip(&out_specs)
            .map(|(v, s)| {
                let a = body.aval(*v);
                Aval { shape: s.whole_shape(mesh.axes(), &a.shape), dtype: a.dtype }
            })
            .collect();
        let prim = ShardMap { mesh: mesh.clone(), body, in_specs, out_specs, in_avals, out_avals };
        let all: Vec<&Array> = consts.iter().chain(args.iter().copied()).collect();
        bind_multi(Arc::new(prim), &all)
    }

    /// Traces `f` as a body on per-device avals, with the mesh's axes bound.
    fn trace_body(&self, avals: &[Aval], f: impl FnOnce(&[Array]) -> Vec<Array>) -> Graph {
        with_axes(self.mesh.axes().axes(), || trace_graph(avals, f))
    }

    /// The shardings of the inputs and outputs, for running it as a program.
    fn shardings(&self) -> (Vec<NamedSharding>, Vec<NamedSharding>) {
        let named = |s: &PartitionSpec| NamedSharding::new(&self.mesh, s.clone());
        (self.in_specs.iter().map(named).collect(), self.out_specs.iter().map(named).collect())
    }

    /// The mesh axes a spec leaves out (its values replicated along them).
    fn unused_axes(&self, spec: &PartitionSpec) -> Vec<String> {
        let used = spec.axes();
        self.mesh.axes().axes().iter().map(|(n, _)| n.clone()).filter(|n| !used.contains(&n.as_str())).collect()
    }
}

impl MultiPrimitive for ShardMap {
    fn name(&self) -> &'static str {
        "shard_map"
    }
    fn params(&self) -> String {
        let specs = |v: &[PartitionSpec]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ");
        format!(
            "mesh={} in_specs=[{}] out_specs=[{}] body={{ {} }}",
            self.mesh.key(),
            specs(&self.in_specs),
            specs(&self.out_specs),
            self.body.to_string().replace('\n', " ")
        )
    }
    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        if inputs != self.in_avals.as_slice() {
            return Err(format!("traced for inputs {:?}, applied to {inputs:?}", self.in_avals));
        }
        Ok(self.out_avals.clone())
    }
    fn eval(&self, inputs: &[&HostData]) -> Vec<HostData> {
        let arrays: Vec<Array> = inputs.iter().map(|h| Array::from_host((*h).clone())).collect();
        let refs: Vec<&Array> = arrays.iter().collect();
        self.eval_arrays(&refs).iter().map(|a| a.host("shard_map").clone()).collect()
    }
    fn eval_arrays(&self, inputs: &[&Array]) -> Vec<Array> {
        let (ins, outs) = self.shardings();
        let op = Op::Many(Arc::new(self.clone()));
        match single_op_program(&op, inputs, &self.out_avals, &self.mesh, &ins, &outs) {
            Ok(ys) => ys,
            Err(e) => panic!("shard_map: {e}"),
        }
    }
    fn jvp(&self, x: &[Array], t: &[Option<Array>]) -> (Vec<Array>, Vec<Option<Array>>) {
        let n = x.len();
        let shard = self.shard_avals(&self.in_avals, &self.in_specs);
        let has_t: Vec<bool> = t.iter().zip(x).map(|(t, x)| t.is_some() && x.dtype().is_float()).collect();
        let t_avals: Vec<Aval> = shard.iter().zip(&has_t).filter(|(_, h)| **h).map(|(a, _)| a.clone()).collect();
        let avals: Vec<Aval> = shard.iter().cloned().chain(t_avals).collect();
        let body = self.trace_body(&avals, |args| {
            let (p, rest) = args.split_at(n);
            let mut rest = rest.iter();
            let ts: Vec<Option<Array>> = has_t.iter().map(|&h| if h { rest.next().cloned() } else { None }).collect();
            let (ys, tys) = jvp_graph(&self.body, p, &ts);
            let tys: Vec<Array> = tys.into_iter().zip(&ys).map(|(t, y)| t.unwrap_or_else(|| zeros_like(y))).collect();
            ys.into_iter().chain(tys).collect()
        });
        let t_specs = self.in_specs.iter().zip(&has_t).filter(|(_, h)| **h).map(|(s, _)| s.clone());
        let in_specs: Vec<PartitionSpec> = self.in_specs.iter().cloned().chain(t_specs).collect();
        let t_in = self.in_avals.iter().zip(&has_t).filter(|(_, h)| **h).map(|(a, _)| a.clone());
        let in_avals: Vec<Aval> = self.in_avals.iter().cloned().chain(t_in).collect();
        let out_specs: Vec<PartitionSpec> = self.out_specs.iter().chain(&self.out_specs).cloned().collect();
        let args: Vec<&Array> =
            x.iter().chain(t.iter().zip(&has_t).filter(|(_, h)| **h).filter_map(|(t, _)| t.as_ref())).collect();
        let mut outs = ShardMap::bind(&self.mesh, body, in_specs, in_avals, out_specs, &args);
        let touts = outs.split_off(self.out_avals.len());
        let touts = touts.into_iter().zip(&outs).map(|(t, y)| y.dtype().is_float().then_some(t)).collect();
        (outs, touts)
    }
    fn vjp(&self, x: &[Array], out: &[Array], ct: &[Option<Array>], wants: &[bool]) -> Vec<Option<Array>> {
        let n = x.len();
        let cts: Vec<Array> = ct.iter().zip(out).map(|(c, o)| c.clone().unwrap_or_else(|| zeros_like(o))).collect();
        let shard_in = self.shard_avals(&self.in_avals, &self.in_specs);
        let shard_out = self.shard_avals(&self.out_avals, &self.out_specs);
        let avals: Vec<Aval> = shard_in.iter().chain(&shard_out).cloned().collect();
        let diff: Vec<bool> = wants.iter().zip(x).map(|(w, x)| *w && x.dtype().is_float()).collect();
        let body = self.trace_body(&avals, |args| {
            let (p, c) = args.split_at(n);
            // A replicated result's cotangent enters through position 0 of each axis it leaves out.
            let c: Vec<Option<Array>> =
                c.iter().zip(&self.out_specs).map(|(c, s)| Some(first_only(c, &self.unused_axes(s)))).collect();
            let tape = Tape::forward(&self.body, p, &diff);
            let grads = tape.backward(&self.body, &c);
            grads
                .into_iter()
                .zip(p)
                .zip(&self.in_specs)
                .map(|((g, p), s)| {
                    let g = g.unwrap_or_else(|| zeros_like(p));
                    let unused = self.unused_axes(s);
                    if unused.is_empty() || !g.dtype().is_float() {
                        g
                    } else {
                        let names: Vec<&str> = unused.iter().map(String::as_str).collect();
                        psum(&g, &names)
                    }
                })
                .collect()
        });
        let in_specs: Vec<PartitionSpec> = self.in_specs.iter().chain(&self.out_specs).cloned().collect();
        let in_avals: Vec<Aval> = self.in_avals.iter().chain(&self.out_avals).cloned().collect();
        let args: Vec<&Array> = x.iter().chain(&cts).collect();
        let grads = ShardMap::bind(&self.mesh, body, in_specs, in_avals, self.in_specs.clone(), &args);
        grads.into_iter().zip(&diff).map(|(g, d)| d.then_some(g)).collect()
    }
    fn batch(&self, x: &[Array], batched: &[bool]) -> (Vec<Array>, Vec<bool>) {
        let n = crate::primitives::batch_size(x, batched);
        let shard = self.shard_avals(&self.in_avals, &self.in_specs);
        let avals: Vec<Aval> = shard
            .iter()
            .zip(batched)
            .map(|(a, &b)| {
                if !b {
                    return a.clone();
                }
                let mut shape = vec![n];
                shape.extend_from_slice(&a.shape);
                Aval { shape, dtype: a.dtype }
            })
            .collect();
        let body = self.trace_body(&avals, |args| {
            batch_graph(&self.body, args, batched)
                .into_iter()
                .map(|(o, b)| if b { o } else { add_batch(&o, n) })
                .collect()
        });
        let in_specs: Vec<PartitionSpec> =
            self.in_specs.iter().zip(batched).map(|(s, &b)| if b { s.insert_whole(0) } else { s.clone() }).collect();
        let in_avals: Vec<Aval> = x.iter().map(|a| a.aval()).collect();
        let out_specs: Vec<PartitionSpec> = self.out_specs.iter().map(|s| s.insert_whole(0)).collect();
        let refs: Vec<&Array> = x.iter().collect();
        let outs = ShardMap::bind(&self.mesh, body, in_specs, in_avals, out_specs, &refs);
        let k = outs.len();
        (outs, vec![true; k])
    }
    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &[Aval]) -> Result<Vec<Value>, LowerError> {
        let axes = self.mesh.axes().clone();
        let shard = self.shard_avals(&self.in_avals, &self.in_specs);
        let hlo = |spec: &PartitionSpec, a: &Aval| {
            Layout::new(axes.clone(), spec.clone(), &a.shape).map(|l| l.hlo()).map_err(LowerError::new)
        };
        let mut args = Vec::with_capacity(x.len());
        for ((v, spec), s) in x.iter().zip(&self.in_specs).zip(&shard) {
            let h = hlo(spec, &v.aval)?;
            let full = cx.op("stablehlo.custom_call", &[v], &custom_call("Sharding", &h), &v.aval);
            args.push(cx.op("stablehlo.custom_call", &[&full], &custom_call("SPMDFullToShardShape", "{manual}"), s));
        }
        let outs = with_lowering_mesh(&axes, || lower_graph_into(cx, &self.body, &args))?;
        let mut results = Vec::with_capacity(outs.len());
        for ((v, spec), a) in outs.iter().zip(&self.out_specs).zip(out) {
            let h = hlo(spec, a)?;
            let manual = cx.op("stablehlo.custom_call", &[v], &custom_call("Sharding", "{manual}"), &v.aval);
            results.push(cx.op("stablehlo.custom_call", &[&manual], &custom_call("SPMDShardToFullShape", &h), a));
        }
        Ok(results)
    }
}

/// The attributes of a sharding custom call.
fn custom_call(target: &str, sharding: &str) -> String {
    format!("{{call_target_name = \"{target}\", mhlo.sharding = \"{sharding}\"}}")
}

/// `c` on the devices at position 0 of each of `axes`, zero elsewhere.
fn first_only(c: &Array, axes: &[String]) -> Array {
    let mut out = c.clone();
    for a in axes {
        let first = binary::eq(&axis_index(a), &Array::scalar(0i32));
        let mask = structure::broadcast_in_dim(&first, c.shape(), &[]);
        out = binary::select(&mask, &out, &full(c.shape(), 0.0, c.dtype()));
    }
    out
}
