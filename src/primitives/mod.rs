//! The primitive set: a small lax-like core on which everything else is built.
//!
//! Each family lives in one file and each primitive is one struct whose
//! [`Primitive`](crate::Primitive) impl holds all of its rules (shape rule, CPU
//! evaluation, jvp, vjp, batching, StableHLO lowering) next to each other,
//! followed by the function that applies it (also re-exported from [`crate::lax`]).

/// The jvp and vjp rules of a primitive through which no derivative flows:
/// integer or boolean results, or a derivative that is zero by definition
/// (`stop_gradient`).
macro_rules! no_derivative {
    () => {
        fn jvp(&self, _: &[Array], _: &Array, _: &[Option<Array>]) -> Option<Array> {
            None
        }
        fn vjp(&self, x: &[Array], _: &Array, _: &Array, _: &[bool]) -> Vec<Option<Array>> {
            vec![None; x.len()]
        }
    };
}

pub mod binary;
pub mod collective;
pub mod dot;
pub mod indexing;
pub mod random_bits;
pub mod reduce;
pub mod structure;
pub mod unary;

use crate::backend::pjrt::host_call::register;
use crate::backend::pjrt::{PjrtError, Plugin};
use crate::core::{Array, Aval, DType};

/// Registers the primitives' Rust handlers with XLA's CPU plugin (the
/// matrix products of `dot_general`, the words of `random_bits`), unless
/// `RJAX_XLA_HOST_CALLS` is `0`. True when programs may call them (see
/// `Lowering::host_calls`).
pub(crate) fn register_host_calls(plugin: &Plugin) -> Result<bool, PjrtError> {
    if std::env::var("RJAX_XLA_HOST_CALLS").is_ok_and(|v| v.trim() == "0") {
        return Ok(false);
    }
    register::<dot::HostGemm<false, false>>(plugin)?;
    register::<dot::HostGemm<true, false>>(plugin)?;
    register::<dot::HostGemm<false, true>>(plugin)?;
    register::<dot::HostGemm<true, true>>(plugin)?;
    register::<random_bits::HostRandomBits>(plugin)?;
    Ok(true)
}

/// Error text for a dtype a primitive does not accept.
pub(crate) fn wrong_dtype(kind: &str, a: &Aval) -> String {
    format!("expected {kind} array, got {a}")
}

/// Checks that every input has the same shape and dtype as the first.
pub(crate) fn same_avals(ins: &[Aval]) -> Result<(), String> {
    for a in &ins[1..] {
        if a.shape != ins[0].shape {
            return Err(format!("shapes {:?} and {:?} must be equal", ins[0].shape, a.shape));
        }
        if a.dtype != ins[0].dtype {
            return Err(format!("dtypes {} and {} differ; convert one with astype", ins[0].dtype, a.dtype));
        }
    }
    Ok(())
}

/// `x` with a new leading batch axis of size `n` (values repeated).
pub(crate) fn add_batch(x: &Array, n: usize) -> Array {
    let mut shape = vec![n];
    shape.extend_from_slice(x.shape());
    let dims: Vec<usize> = (1..=x.ndim()).collect();
    structure::broadcast_in_dim(x, &shape, &dims)
}

/// The batch size among the batched inputs (axis 0 of any of them).
pub(crate) fn batch_size(x: &[Array], batched: &[bool]) -> usize {
    x.iter().zip(batched).find(|(_, b)| **b).map(|(a, _)| a.shape()[0]).unwrap_or(1)
}

/// Gives every unbatched input a leading batch axis (for elementwise rules).
pub(crate) fn batch_all(x: &[Array], batched: &[bool]) -> Vec<Array> {
    let n = batch_size(x, batched);
    x.iter().zip(batched).map(|(a, &b)| if b { a.clone() } else { add_batch(a, n) }).collect()
}

/// A scalar constant of `dtype`, broadcast to `shape`.
pub(crate) fn full(shape: &[usize], v: f64, dtype: DType) -> Array {
    let s = Array::full(&[], v, dtype);
    if shape.is_empty() { s } else { structure::broadcast_in_dim(&s, shape, &[]) }
}

/// Zeros with the shape and dtype of `x`.
pub(crate) fn zeros_like(x: &Array) -> Array {
    full(x.shape(), 0.0, x.dtype())
}
