//! The core: dtypes, abstract values, arrays, the IR ([`Graph`]), the trace
//! stack and the interface of lowering rules ([`lowering`]). It imports
//! nothing from the rest of the crate.

mod alloc;
mod array;
mod aval;
pub mod axis_env;
mod block;
mod display;
mod dtype;
pub(crate) mod float_env;
mod graph;
pub mod lowering;
pub(crate) mod numeric;
mod op;
pub mod sharding;
pub mod simd;
mod trace;

pub(crate) use alloc::reserve;
pub use array::Array;
pub(crate) use array::{DeviceValue, Repr};
pub use aval::{Aval, MAX_ARRAY_BYTES, broadcast_shapes, checked_size, normalize_axis};
pub use block::{Block, BlockMut, Lane, lanes1, lanes2, lanes3};
pub use dtype::{DType, Element, HostData, promote_types};
pub(crate) use graph::VarMap;
pub use graph::{Eqn, Graph, Var};
pub use op::{MultiPrimitive, Op};
pub use trace::{Primitive, bind, bind_multi, eval_graph, trace_graph};
pub(crate) use trace::{apply_eqn, bind_op, initial_env, read, tracing};
