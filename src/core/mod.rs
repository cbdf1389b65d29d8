//! The core: dtypes, abstract values, arrays, the IR ([`Graph`]) and the trace stack.

mod array;
mod aval;
mod display;
mod dtype;
mod graph;
mod op;
mod trace;

pub use array::Array;
pub(crate) use array::Repr;
pub use aval::{Aval, broadcast_shapes, normalize_axis};
pub use dtype::{DType, Element, HostData, promote_types};
pub use graph::{Eqn, Graph, Var};
pub use op::{MultiPrimitive, Op};
pub use trace::{Primitive, bind, bind_multi, eval_graph, trace_graph};
pub(crate) use trace::{bind_op, initial_env, read, tracing};
