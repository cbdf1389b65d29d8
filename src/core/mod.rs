//! The core: dtypes, abstract values, arrays, the IR ([`Graph`]) and the trace stack.

mod array;
mod aval;
mod display;
mod dtype;
mod graph;
mod trace;

pub use array::Array;
pub use aval::{broadcast_shapes, normalize_axis, Aval};
pub use dtype::{DType, Element, HostData};
pub use graph::{Eqn, Graph, Var};
pub use trace::{bind, eval_graph, trace_graph, Primitive};
pub(crate) use trace::{bind_arc, read};
