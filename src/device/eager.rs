//! Eager operations on device arrays: each primitive application runs as a
//! small compiled program of one equation, cached per primitive, parameters,
//! operand shapes and device, so code outside `jit` works on every device.

use super::error::Error;
use super::{DeviceArray, XlaDevice};
use crate::backend::pjrt::Buffer;
use crate::backend::stablehlo::lower_graph;
use crate::core::{Array, Aval, Eqn, Graph, Op, Repr, Var};
use std::sync::Arc;

/// The XLA device among the inputs, if any (all device inputs must share it).
pub(crate) fn device_of(op: &str, inputs: &[&Array]) -> Result<Option<XlaDevice>, Error> {
    let mut found: Option<&XlaDevice> = None;
    for x in inputs {
        if let Repr::Device(d) = &*x.repr {
            match found {
                None => found = Some(&d.device),
                Some(f) if *f == d.device => {}
                Some(f) => {
                    return Err(Error::DeviceMismatch {
                        op: op.to_string(),
                        a: format!("{}:{}", f.rt.platform, f.ordinal),
                        b: format!("{}:{}", d.device.rt.platform, d.device.ordinal),
                    });
                }
            }
        }
    }
    Ok(found.cloned())
}

/// The buffer of `x` on `device`: its own when it is there already, else a
/// copy of its values (host data, or an array on another device).
pub(crate) fn buffer_on(x: &Array, device: &XlaDevice, op: &str) -> Result<Arc<Buffer>, Error> {
    match &*x.repr {
        Repr::Device(d) if d.device == *device => d.buffer(op),
        Repr::Device(d) => Ok(Arc::new(device.upload(d.fetch()?)?)),
        Repr::Concrete(h) => Ok(Arc::new(device.upload(h)?)),
        Repr::Traced(t) => {
            Err(Error::Unsupported(format!("{op}: an abstract array ({}) cannot be sent to a device", t.aval)))
        }
    }
}

/// Runs `op` on `device` with `inputs` (host inputs are copied there).
/// Returns the results, still being computed, on the device.
#[track_caller]
pub(crate) fn run(op: &Op, device: &XlaDevice, inputs: &[&Array], outs: &[Aval]) -> Vec<Array> {
    match try_run(op, device, inputs, outs) {
        Ok(ys) => ys,
        Err(e) => panic!("{}: {e}", op.name()),
    }
}

fn try_run(op: &Op, device: &XlaDevice, inputs: &[&Array], outs: &[Aval]) -> Result<Vec<Array>, Error> {
    let in_avals: Vec<Aval> = inputs.iter().map(|x| x.aval()).collect();
    let key = format!("eager {}[{}] {:?} -> {:?}", op.name(), op.params(), in_avals, outs);
    let (exe, _) = device
        .rt
        .compile_cached(key, device.ordinal, || Ok(lower_graph(&single_op_graph(op, &in_avals, outs))?.text))?;
    let bufs = inputs.iter().map(|x| buffer_on(x, device, op.name())).collect::<Result<Vec<_>, _>>()?;
    let args: Vec<&Buffer> = bufs.iter().map(|b| &**b).collect();
    let results = exe.execute(&args)?;
    Ok(results.into_iter().zip(outs).map(|(b, a)| DeviceArray::wrap(b, a.clone(), device.clone())).collect())
}

/// The graph `outs = op(inputs)`.
fn single_op_graph(op: &Op, ins: &[Aval], outs: &[Aval]) -> Graph {
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
