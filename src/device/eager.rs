//! Eager operations on device arrays: each primitive application runs as a
//! [`Program`] of one equation, cached per primitive, parameters, operand
//! shapes and device, so code outside `jit` works on every device.

use super::XlaDevice;
use super::array::device_array;
use super::program::Program;
use crate::core::{Array, Aval, Op};
use crate::error::Error;

/// The XLA device among the inputs, if any (all device inputs must share it).
pub(crate) fn device_of(op: &str, inputs: &[&Array]) -> Result<Option<XlaDevice>, Error> {
    let mut found: Option<&XlaDevice> = None;
    for x in inputs {
        if let Some(d) = device_array(x) {
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
    let xs: Vec<Array> = inputs.iter().map(|&x| x.clone()).collect();
    Program::of_op(op, device, &in_avals, outs)?.run(&xs)
}
