//! Optimizers as pure gradient transformations (after optax): `init` makes a
//! state, `update` turns gradients into updates and a new state, and
//! [`apply_updates`] adds the updates to the parameters.
//!
//! ```
//! use rjax::{optim, value_and_grad, numpy as jnp, Array, Tree};
//! #[derive(Tree, Clone)]
//! struct Params { w: Array, b: Array }
//! let x = Array::from_vec(vec![0.0f64, 1.0, 2.0, 3.0], &[4, 1]);
//! let y = Array::from_vec(vec![1.0f64, 3.0, 5.0, 7.0], &[4, 1]);
//! let loss = |p: &Params| jnp::mean(&jnp::square(&(jnp::matmul(&x, &p.w) + &p.b - &y)), jnp::ALL, false);
//! let opt = optim::chain([optim::clip_by_global_norm(10.0), optim::adam(0.1)]);
//! let mut p = Params { w: Array::zeros(&[1, 1], rjax::DType::F64), b: Array::zeros(&[1], rjax::DType::F64) };
//! let mut state = opt.init(&p);
//! let first = loss(&p).item::<f64>();
//! for _ in 0..200 {
//!     let (_, g) = value_and_grad(loss)(&p);       // g: Params
//!     let (updates, s) = opt.update(&g, state, &p); // updates: Params
//!     p = optim::apply_updates(&p, &updates);
//!     state = s;
//! }
//! assert!(loss(&p).item::<f64>() < 1e-3 * first);
//! ```
//!
//! Parameters, gradients and updates are any [`Tree`](crate::Tree) (one type
//! for all three). Every transformation is written with rjax operations and
//! never reads an array's values, so `update` can itself be traced: run under
//! `grad` (differentiating through an optimizer step), and under `jit` with the
//! state as an argument. The step count is an i32 scalar array in the state, and
//! schedules ([`Schedule`]) are rjax functions of it.
//!
//! # The state: one concrete type
//!
//! Every transformation's state is an [`OptState`], a [`Tree`](crate::Tree)
//! holding the transformation's name, an optional step `count`, named per-leaf
//! accumulator lists (`"mu"`, `"nu"`, `"trace"`, each aligned with
//! [`tree::leaves`](crate::tree::leaves) of the parameters) and the inner
//! states of a [`chain`]. The alternative, a typed state per transformation
//! (an associated or generic-associated type, with `chain` nesting the types),
//! gives static checking but makes `chain` a compile-time construction: an
//! optimizer chosen from a configuration at run time, a `Vec` of
//! transformations, or a `Box<dyn ...>` optimizer would not typecheck without
//! type erasure. With one concrete type, [`Transformation`] is object safe,
//! [`chain`] composes any list at run time, and every state is a tree that
//! `jit` can take as an argument (and donate) and a checkpoint can flatten. The
//! price is that a state passed to the wrong optimizer is caught at run time:
//! each update checks the state's `kind`, slots and shapes and panics with the
//! transformation's name. The state's [`Tree::def`](crate::Tree::def) records
//! the kinds and slot names, so a saved state can be checked against
//! `opt.init(&params).def()` before it is restored.
//!
//! Transformations work on the flat list of leaves; [`GradientTransformation`]
//! flattens and rebuilds trees around them.
//!
//! # What is here
//!
//! - optimizers: [`adam`], [`adamw`], [`sgd`] (momentum, Nesterov),
//!   [`rmsprop`] (plain, centered, momentum), with `_with` variants taking
//!   [`AdamOptions`] / [`RmsPropOptions`];
//! - building blocks: [`chain`], [`identity`], [`scale`], [`scale_by_learning_rate`],
//!   [`scale_by_schedule`], [`scale_by_adam`], [`scale_by_rms`], [`trace`],
//!   [`add_decayed_weights`], [`clip_by_global_norm`] (and [`global_norm`]);
//! - schedules: [`constant_schedule`], [`linear_schedule`], [`polynomial_schedule`],
//!   [`exponential_decay`], [`cosine_decay_schedule`], [`warmup_cosine_decay_schedule`],
//!   [`join_schedules`]; learning rates and weight decays take an `f64` or a
//!   [`Schedule`] ([`ScalarOrSchedule`]).
//!
//! Formulas, defaults and state layouts follow optax 0.2.8; `tests/optim.rs`
//! compares every optimizer with optax's numbers. Not provided: optax's masks
//! (`mask=` of `adamw`/`add_decayed_weights`), `mu_dtype`, and the many other
//! optax transformations.

mod adam;
mod clip;
mod rmsprop;
mod scale;
mod schedule;
mod sgd;
mod state;
mod transform;

pub use adam::{AdamOptions, adam, adam_with, adamw, adamw_with, scale_by_adam};
pub use clip::{clip_by_global_norm, global_norm};
pub use rmsprop::{RmsPropOptions, rmsprop, rmsprop_with, scale_by_rms};
pub use scale::{add_decayed_weights, scale, scale_by_learning_rate, scale_by_schedule};
pub use schedule::{
    ScalarOrSchedule, Schedule, constant_schedule, cosine_decay_schedule, exponential_decay, join_schedules,
    linear_schedule, polynomial_schedule, warmup_cosine_decay_schedule,
};
pub use sgd::{sgd, trace};
pub use state::OptState;
pub use transform::{GradientTransformation, Identity, Transformation, apply_updates, chain, identity};
