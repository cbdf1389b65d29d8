//! [`Program`]: a graph made runnable on one device, the one place where
//! programs run. `jit` runs its traced graphs through it, and so do eager
//! operations on device arrays (a graph of one equation).
//!
//! On the built-in CPU a program is the graph with its elementwise chains
//! fused ([`CpuPlan`]); on an XLA device it is the compiled executable with the
//! graph's captured constants already in device memory. Inputs may live
//! anywhere: arrays already on the program's device are passed as they are,
//! others are copied there; donated inputs give their buffers to the outputs.

use super::array::device_array;
use super::sharding::ShardedProgram;
use super::{CpuPlan, Device, DeviceArray, XlaDevice, device_put};
use crate::backend::pjrt::{Buffer, CompileOptions, Executable};
use crate::backend::stablehlo::lower_graph_with;
use crate::core::{Array, Aval, Eqn, Graph, Op, Repr, Var};
use crate::error::Error;
use std::sync::Arc;

/// A graph ready to run on one device.
pub(crate) enum Program {
    /// Run by the built-in CPU backend, its elementwise chains fused.
    Cpu(Graph, CpuPlan),
    /// Compiled by XLA.
    Xla(XlaProgram),
    /// Compiled by XLA and partitioned over the devices of a mesh.
    Sharded(ShardedProgram),
}

/// A program compiled for one XLA device, with its constants on the device.
pub(crate) struct XlaProgram {
    /// What runs it, for error messages (`jit`, or the eager operation).
    name: String,
    exe: Arc<Executable>,
    device: XlaDevice,
    captures: Vec<Arc<Buffer>>,
    /// Per graph input: may its buffer be donated (it is aliased to an output)?
    donate: Vec<bool>,
    out_avals: Vec<Aval>,
}

impl Program {
    /// `graph` made runnable on `device`. For XLA it is lowered (the inputs
    /// flagged in `donate` aliased to outputs of their shape and dtype),
    /// compiled, or taken from the device's cache of programs of the same
    /// text, and its captured constants are sent to the device. The flag
    /// tells whether XLA compiled.
    pub(crate) fn compile(
        name: &str,
        graph: &Graph,
        device: &Device,
        donate: &[bool],
    ) -> Result<(Program, bool), Error> {
        let d = match device {
            Device::Cpu => return Ok((Program::Cpu(graph.clone(), CpuPlan::new(graph)), false)),
            Device::Xla(d) => d,
        };
        let (lowered, exe, fresh) = d.rt.compile_lowering(&CompileOptions::for_device(d.ordinal), |host| {
            let lowered = lower_graph_with(graph, donate, host)?;
            let text = lowered.text.clone();
            Ok((lowered, text))
        })?;
        let captures = lowered.captures.iter().map(|c| buffer_on(c, d, name)).collect::<Result<Vec<_>, _>>()?;
        let n_caps = captures.len();
        let program = XlaProgram {
            name: name.to_string(),
            exe,
            device: d.clone(),
            captures,
            donate: lowered.aliases[n_caps..].iter().map(|a| a.is_some()).collect(),
            out_avals: lowered.out_avals,
        };
        Ok((Program::Xla(program), fresh))
    }

    /// The program of one operation, `outs = op(inputs)`, on `device`,
    /// cached per operation, parameters, shapes and device: a hit neither
    /// lowers nor compiles.
    pub(crate) fn of_op(op: &Op, device: &XlaDevice, ins: &[Aval], outs: &[Aval]) -> Result<Program, Error> {
        let key = format!("eager {}[{}] {:?} -> {:?}", op.name(), op.params(), ins, outs);
        let exe = device.rt.compile_eager(key, CompileOptions::for_device(device.ordinal), |host| {
            Ok(lower_graph_with(&single_op_graph(op, ins, outs), &[], host)?.text)
        })?;
        Ok(Program::Xla(XlaProgram {
            name: op.name().to_string(),
            exe,
            device: device.clone(),
            captures: Vec::new(),
            donate: vec![false; ins.len()],
            out_avals: outs.to_vec(),
        }))
    }

    /// Runs the program on `xs` (one array per graph input). On XLA the call
    /// returns once the work is enqueued; the outputs stay on the device.
    pub(crate) fn run(&self, xs: &[Array]) -> Result<Vec<Array>, Error> {
        match self {
            Program::Cpu(graph, plan) => {
                let host = xs.iter().map(|x| device_put(x, &Device::Cpu)).collect::<Result<Vec<_>, _>>()?;
                Ok(plan.run(graph, host))
            }
            Program::Xla(p) => p.run(xs),
            Program::Sharded(p) => p.run(xs),
        }
    }
}

/// An argument buffer: borrowed from an array, or owned (uploaded or donated).
enum Arg {
    Shared(Arc<Buffer>),
    Owned(Buffer),
}

impl XlaProgram {
    fn run(&self, xs: &[Array]) -> Result<Vec<Array>, Error> {
        let mut args: Vec<Arg> = self.captures.iter().cloned().map(Arg::Shared).collect();
        for (i, x) in xs.iter().enumerate() {
            let owned = match (&*x.repr, device_array(x)) {
                (_, Some(d)) if self.donate[i] && d.device == self.device => {
                    let unique = !xs.iter().enumerate().any(|(j, y)| j != i && y.id() == x.id());
                    if unique { d.take_for_donation() } else { None }
                }
                // A fresh copy of host data belongs to this call alone.
                (Repr::Concrete(h), _) if self.donate[i] => Some(self.device.upload(h)?),
                _ => None,
            };
            match owned {
                Some(b) => args.push(Arg::Owned(b)),
                None => args.push(Arg::Shared(buffer_on(x, &self.device, &self.name)?)),
            }
        }
        // Owned buffers are uploaded or taken from their array: donated.
        let donate: Vec<bool> = args.iter().map(|a| matches!(a, Arg::Owned(_))).collect();
        let refs: Vec<&Buffer> = args
            .iter()
            .map(|a| match a {
                Arg::Shared(b) => &**b,
                Arg::Owned(b) => b,
            })
            .collect();
        let outs = self.exe.execute_donating(&refs, &donate)?;
        let device = &self.device;
        Ok(outs
            .into_iter()
            .zip(&self.out_avals)
            .map(|(b, a)| DeviceArray::wrap(b, a.clone(), device.clone()))
            .collect())
    }
}

/// The buffer of `x` on `device`: its own when it is there already, else a
/// copy of its values (host data, or an array on another device).
pub(crate) fn buffer_on(x: &Array, device: &XlaDevice, op: &str) -> Result<Arc<Buffer>, Error> {
    if let Some(d) = device_array(x) {
        return if d.device == *device { d.buffer(op) } else { Ok(Arc::new(device.upload(d.fetch()?)?)) };
    }
    match x.host_data() {
        Some(h) => Ok(Arc::new(device.upload(h)?)),
        None => Err(Error::Unsupported(format!("{op}: an abstract array ({}) cannot be sent to a device", x.aval()))),
    }
}

/// The graph `outs = op(inputs)`.
pub(crate) fn single_op_graph(op: &Op, ins: &[Aval], outs: &[Aval]) -> Graph {
    let avals: Vec<Aval> = ins.iter().chain(outs).cloned().collect();
    let inputs: Vec<Var> = (0..ins.len() as u32).map(Var).collect();
    let out_vars: Vec<Var> = (ins.len() as u32..(ins.len() + outs.len()) as u32).map(Var).collect();
    Graph {
        avals,
        inputs: inputs.clone(),
        captures: Vec::new(),
        eqns: vec![Eqn { op: op.clone(), inputs, outs: out_vars.clone() }],
        outputs: out_vars,
    }
}
