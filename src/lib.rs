//! rjax: a JAX-style functional autodiff library for Rust.
//!
//! Write pure functions of immutable [`Array`]s and transform them: [`grad`],
//! [`value_and_grad`], [`jvp`], [`vjp`], [`vmap`], [`jacfwd`], [`jacrev`],
//! [`hessian`], to any depth. Randomness is explicit ([`random::Key`]).
//! Parameters are trees of arrays ([`Tree`], `#[derive(Tree)]`).
//!
//! ```
//! use rjax::{grad, numpy as jnp, Array};
//! let loss = |w: &Array| jnp::sum(&jnp::square(&(w * 2.0 - 1.0)), jnp::ALL, false);
//! let g = grad(loss)(&Array::from_vec(vec![0.0f64, 1.0], &[2]));
//! assert_eq!(g.to_vec::<f64>(), vec![-4.0, 4.0]);
//! ```

#![warn(missing_docs)]

extern crate self as rjax;

pub mod backend;
pub mod checkpoint;
pub(crate) mod control;
pub mod core;
pub mod data;
mod device;
pub mod error;
pub mod lax;
pub mod nn;
pub mod numpy;
mod ops;
pub mod optim;
pub(crate) mod primitives;
pub mod random;
pub mod transforms;
pub mod tree;

pub use crate::core::{
    Array, Aval, DType, Element, Graph, HostData, MultiPrimitive, Primitive, bind, bind_multi, promote_types,
};
pub use device::sharding;
pub use device::{
    CompilationCacheStats, Device, EAGER_CACHE_SIZE, Error, MemoryStats, Placement, Platform, XlaDevice, clear_caches,
    compilation_cache_dir, compilation_cache_stats, default_device, device, device_put, devices, devices_of,
    release_host_memory, set_compilation_cache_dir, set_default_device, set_eager_cache_capacity,
    set_xla_cpu_device_count,
};
pub use rjax_macros::Tree;
pub use transforms::{
    AxisSpec, JIT_CACHE_SIZE, Jit, ShardMapped, grad, grad_with_aux, hessian, jacfwd, jacrev, jit, jit_static, jvp,
    make_graph, shard_map, value_and_grad, value_and_grad_with_aux, vjp, vmap, vmap_axes, vmap_axes_named, vmap_named,
};
pub use tree::Tree;

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
