//! Functional neural-network layers: parameters are trees of arrays
//! (`#[derive(Tree)]`), layers are functions of them, so `grad` of a loss has
//! the type of the model and an [`optim`](crate::optim) optimizer updates it.
//!
//! ```
//! use rjax::{nn::{self, Init, Mlp}, optim, random, value_and_grad, Array, DType};
//! let ks = random::split(&random::key(0), 4);
//! let (kx, ky, km, kd) = (&ks[0], &ks[1], &ks[2], &ks[3]);
//! let x = random::normal(kx, &[32, 8], DType::F32);
//! let labels = random::randint(ky, &[32], 0, 3);
//! let mut model = Mlp::new(km, &[8, 16, 3], Init::LecunNormal);
//! let opt = optim::adam(1e-2);
//! let mut state = opt.init(&model);
//! let loss = |m: &Mlp| nn::mean_cross_entropy(&m.apply(&x, Some(kd.clone()), 0.1, true), &labels);
//! let first = loss(&model).item::<f32>();
//! for _ in 0..100 {
//!     let (_, g) = value_and_grad(loss)(&model);   // g: Mlp
//!     let (u, s) = opt.update(&g, state, &model);
//!     model = optim::apply_updates(&model, &u);
//!     state = s;
//! }
//! assert!(loss(&model).item::<f32>() < first);
//! let acc = nn::accuracy(&model.apply(&x, None, 0.0, false), &labels).item::<f32>();
//! assert!(acc > 0.5);
//! ```
//!
//! - layers: [`Dense`] (`x @ w + b`), [`Mlp`] (dense layers, ReLU, dropout);
//! - initializers: [`lecun_normal`] (Flax's default), [`glorot_uniform`]
//!   (Keras's), [`kaiming_uniform`] (PyTorch's `nn.Linear`), [`zeros`], chosen
//!   per layer with [`Init`];
//! - functions: [`relu`], [`dropout`], [`log_softmax`],
//!   [`softmax_cross_entropy_with_integer_labels`] (per example),
//!   [`mean_cross_entropy`], [`accuracy`].

mod functional;
mod init;
mod layers;

pub use functional::{
    accuracy, dropout, log_softmax, mean_cross_entropy, relu, softmax_cross_entropy_with_integer_labels,
};
pub use init::{Init, glorot_uniform, kaiming_uniform, lecun_normal, zeros};
pub use layers::{Dense, Mlp};
