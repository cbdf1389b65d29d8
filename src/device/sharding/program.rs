//! [`ShardedProgram`]: a graph compiled once for all devices of a mesh, its
//! inputs and outputs split as their shardings say, partitioned by XLA's
//! SPMD partitioner; and eager operations on sharded arrays, which run as
//! such programs of one equation.

use super::array::{ShardedArray, sharded_array, upload_slices};
use super::{Layout, Mesh, NamedSharding};
use crate::backend::pjrt::{Buffer, CompileOptions, Executable};
use crate::backend::stablehlo::{Lowered, Partitioning, lower_graph_partitioned};
use crate::core::{Array, Aval, Graph, Op};
use crate::device::program::single_op_graph;
use crate::error::Error;
use std::sync::Arc;

/// A program partitioned over a mesh, with its constants on every device.
pub(crate) struct ShardedProgram {
    /// What runs it, for error messages (`jit`, or the eager operation).
    name: String,
    exe: Arc<Executable>,
    mesh: Mesh,
    /// Per captured constant, its copy on each device.
    captures: Vec<Vec<Arc<Buffer>>>,
    inputs: Vec<(NamedSharding, Layout)>,
    outputs: Vec<(Aval, NamedSharding, Layout)>,
    /// Per graph input: may its buffers be donated (aliased to an output)?
    donate: Vec<bool>,
}

/// How a program is cached: held by its `jit` (shared by text while held),
/// or in the cache of eager operations under a key.
pub(crate) enum Cache {
    Held,
    Eager(String),
}

/// The layout of each input and output leaf of a graph.
struct Layouts {
    inputs: Vec<(NamedSharding, Layout)>,
    outputs: Vec<(Aval, NamedSharding, Layout)>,
}

impl Layouts {
    /// The layouts of `graph`'s leaves split as `ins` and `outs` say, or an
    /// error naming `name` and the leaf when a sharding does not fit its
    /// shape or is over another mesh than `mesh`.
    fn of(
        name: &str,
        graph: &Graph,
        mesh: &Mesh,
        ins: &[NamedSharding],
        outs: &[NamedSharding],
    ) -> Result<Layouts, Error> {
        let same_mesh = |s: &NamedSharding| {
            if s.mesh() == mesh {
                Ok(())
            } else {
                Err(Error::Sharding(format!(
                    "{name}: the shardings are over different meshes ({} and {mesh}); use one mesh for every \
                     argument and result",
                    s.mesh()
                )))
            }
        };
        let mut inputs = Vec::with_capacity(ins.len());
        for (i, (s, v)) in ins.iter().zip(&graph.inputs).enumerate() {
            same_mesh(s)?;
            let layout = s.layout(&format!("{name} (argument leaf {i})"), &graph.aval(*v).shape)?;
            inputs.push((s.clone(), layout));
        }
        let mut outputs = Vec::with_capacity(outs.len());
        for (k, (s, v)) in outs.iter().zip(&graph.outputs).enumerate() {
            same_mesh(s)?;
            let aval = graph.aval(*v).clone();
            let layout = s.layout(&format!("{name} (result leaf {k})"), &aval.shape)?;
            outputs.push((aval, s.clone(), layout));
        }
        Ok(Layouts { inputs, outputs })
    }

    /// `graph` lowered with these layouts over a mesh of `n` devices.
    fn lower(&self, graph: &Graph, n: usize, donate: &[bool]) -> Result<Lowered, Error> {
        let partitioning = Partitioning {
            num_partitions: n,
            inputs: self.inputs.iter().map(|(_, l)| l.hlo()).collect(),
            outputs: self.outputs.iter().map(|(_, _, l)| l.hlo()).collect(),
        };
        Ok(lower_graph_partitioned(graph, donate, Some(&partitioning))?)
    }
}

/// The module text of `graph` partitioned over `mesh`, its inputs and
/// outputs split as `ins` and `outs` say (what `Jit::lower` shows).
pub(crate) fn lower_sharded(
    name: &str,
    graph: &Graph,
    mesh: &Mesh,
    ins: &[NamedSharding],
    outs: &[NamedSharding],
    donate: &[bool],
) -> Result<String, Error> {
    Ok(Layouts::of(name, graph, mesh, ins, outs)?.lower(graph, mesh.size(), donate)?.text)
}

impl ShardedProgram {
    /// `graph` compiled for `mesh` with one sharding per input and output
    /// (all over `mesh`). The flag tells whether XLA compiled. A program of
    /// the eager cache is lowered only when the cache misses, and donates
    /// nothing.
    pub(crate) fn compile(
        name: &str,
        graph: &Graph,
        mesh: &Mesh,
        ins: &[NamedSharding],
        outs: &[NamedSharding],
        donate: &[bool],
        cache: Cache,
    ) -> Result<(ShardedProgram, bool), Error> {
        let layouts = Layouts::of(name, graph, mesh, ins, outs)?;
        let options = CompileOptions::partitioned(mesh.device_ids()?);
        let rt = mesh.runtime();
        let (exe, fresh, donate) = match cache {
            Cache::Held => {
                let lowered = layouts.lower(graph, mesh.size(), donate)?;
                let (exe, fresh) = rt.compile(&lowered.text, options)?;
                let n_caps = graph.captures.len();
                (exe, fresh, lowered.aliases[n_caps..].iter().map(|a| a.is_some()).collect())
            }
            Cache::Eager(key) => {
                let exe = rt.compile_eager(key, options, |_| Ok(layouts.lower(graph, mesh.size(), &[])?.text))?;
                (exe, false, vec![false; graph.inputs.len()])
            }
        };
        let replicated = NamedSharding::replicated(mesh);
        let mut captures = Vec::with_capacity(graph.captures.len());
        for (_, c) in &graph.captures {
            let h = c.try_host_data()?;
            let layout = replicated.layout(name, h.shape())?;
            captures.push(upload_slices(h, &layout, &replicated)?.into_iter().map(Arc::new).collect());
        }
        let Layouts { inputs, outputs } = layouts;
        Ok((
            ShardedProgram { name: name.to_string(), exe, mesh: mesh.clone(), captures, inputs, outputs, donate },
            fresh,
        ))
    }

    /// Runs the program on `xs` (one array per graph input; arrays not laid
    /// out as the program wants are split anew from their values).
    pub(crate) fn run(&self, xs: &[Array]) -> Result<Vec<Array>, Error> {
        let n = self.mesh.size();
        // Per device, its arguments: shared with an array, or owned (donated).
        let mut args: Vec<Vec<Arg>> = (0..n).map(|_| Vec::new()).collect();
        let mut donate = Vec::new();
        for c in &self.captures {
            args.iter_mut().zip(c).for_each(|(a, b)| a.push(Arg::Shared(b.clone())));
            donate.push(false);
        }
        for (i, x) in xs.iter().enumerate() {
            let (sharding, layout) = &self.inputs[i];
            let taken = match sharded_array(x) {
                Some(s) if self.donate[i] && s.is_laid_out_as(sharding, layout) => {
                    let unique = !xs.iter().enumerate().any(|(j, y)| j != i && y.id() == x.id());
                    if unique { s.take_for_donation() } else { None }
                }
                _ => None,
            };
            donate.push(taken.is_some());
            match taken {
                Some(bufs) => args.iter_mut().zip(bufs).for_each(|(a, b)| a.push(Arg::Owned(b))),
                None => {
                    let bufs = self.buffers_for(x, sharding, layout)?;
                    args.iter_mut().zip(bufs).for_each(|(a, b)| a.push(Arg::Shared(b)));
                }
            }
        }
        let lists: Vec<Vec<&Buffer>> = args.iter().map(|a| a.iter().map(Arg::buffer).collect()).collect();
        let mut outs = self.exe.execute_partitioned(&lists, &donate)?;
        let mut results = Vec::with_capacity(self.outputs.len());
        for (k, (aval, sharding, layout)) in self.outputs.iter().enumerate().rev() {
            let bufs: Vec<Buffer> = outs.iter_mut().map(|o| o.remove(k)).collect();
            results.push(ShardedArray::wrap(bufs, aval.clone(), sharding.clone(), layout.clone()));
        }
        results.reverse();
        Ok(results)
    }

    /// The buffers of `x` laid out as `layout`, one per device: its own when
    /// it is so already, else its values split anew.
    fn buffers_for(&self, x: &Array, sharding: &NamedSharding, layout: &Layout) -> Result<Vec<Arc<Buffer>>, Error> {
        if let Some(s) = sharded_array(x)
            && s.is_laid_out_as(sharding, layout)
        {
            return s.buffers(&self.name);
        }
        let h = x.try_host_data()?;
        Ok(upload_slices(h, layout, sharding)?.into_iter().map(Arc::new).collect())
    }
}

/// An argument buffer: borrowed from an array, or owned (donated).
enum Arg {
    Shared(Arc<Buffer>),
    Owned(Buffer),
}

impl Arg {
    fn buffer(&self) -> &Buffer {
        match self {
            Arg::Shared(b) => b,
            Arg::Owned(b) => b,
        }
    }
}

/// Runs `op` on `inputs`, some of them split over a mesh, as a program
/// partitioned over that mesh. Other inputs are copied to every device; a
/// result has the sharding of an input of its shape, else is replicated.
pub(crate) fn run_eager(op: &Op, inputs: &[&Array], outs: &[Aval]) -> Result<Vec<Array>, Error> {
    let sharded: Vec<&ShardedArray> = inputs.iter().filter_map(|x| sharded_array(x)).collect();
    let Some(first) = sharded.first() else {
        return Err(Error::Sharding(format!("{}: no input is split over a mesh", op.name())));
    };
    let mesh = first.sharding.mesh().clone();
    if let Some(other) = sharded.iter().find(|s| *s.sharding.mesh() != mesh) {
        return Err(Error::Sharding(format!(
            "{}: arrays over different meshes ({mesh} and {}); put them on one mesh with device_put",
            op.name(),
            other.sharding.mesh()
        )));
    }
    let replicated = NamedSharding::replicated(&mesh);
    let ins: Vec<NamedSharding> =
        inputs.iter().map(|x| sharded_array(x).map_or_else(|| replicated.clone(), |s| s.sharding.clone())).collect();
    let out_shardings: Vec<NamedSharding> = outs
        .iter()
        .map(|a| {
            sharded.iter().find(|s| s.aval.shape == a.shape).map_or_else(|| replicated.clone(), |s| s.sharding.clone())
        })
        .collect();
    single_op_program(op, inputs, outs, &mesh, &ins, &out_shardings)
}

/// Runs `outs = op(inputs)` as a program partitioned over `mesh`, its
/// inputs and outputs split as `ins` and `out_shardings` say (cached with
/// the eager operations' programs).
pub(crate) fn single_op_program(
    op: &Op,
    inputs: &[&Array],
    outs: &[Aval],
    mesh: &Mesh,
    ins: &[NamedSharding],
    out_shardings: &[NamedSharding],
) -> Result<Vec<Array>, Error> {
    let in_avals: Vec<Aval> = inputs.iter().map(|x| x.aval()).collect();
    let specs: Vec<String> = ins.iter().chain(out_shardings).map(|s| s.spec().to_string()).collect();
    let key =
        format!("eager {}[{}] {:?} -> {:?} as {specs:?} on {}", op.name(), op.params(), in_avals, outs, mesh.key());
    let graph = single_op_graph(op, &in_avals, outs);
    let (program, _) = ShardedProgram::compile(op.name(), &graph, mesh, ins, out_shardings, &[], Cache::Eager(key))?;
    let xs: Vec<Array> = inputs.iter().map(|&x| x.clone()).collect();
    program.run(&xs)
}
