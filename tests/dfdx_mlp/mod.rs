//! The report's MLP (IN → 1024 → 512 → 256 → 10, ReLU, dropout after each
//! hidden activation, softmax cross-entropy, Adam) written in dfdx 0.13 and
//! loaded with the parameters of an rjax [`Mlp`], so that both frameworks start
//! from the very same numbers. Shared by `tests/dfdx_crosscheck.rs` and
//! `examples/mlp_cifar_dfdx.rs` (which includes this file with `#[path]`).
//!
//! # Parameter layout
//!
//! rjax's `Dense` computes `x @ w + b` with `w: [in, out]`; dfdx's `Linear`
//! computes `x @ weight^T + bias` with `weight: [out, in]`. Both store
//! row-major, so rjax's `w[i, o]` (at `i * out + o`) is dfdx's `weight[o, i]`
//! (at `o * in + i`): [`load_mlp`] transposes each weight on the host, and
//! [`DfdxMlp::params`] transposes back. Biases are `[out]` in both.
//!
//! # Adam: dfdx against optax (rjax's `optim::adam`)
//!
//! Both use the same formula (Kingma & Ba with `eps` outside the square root,
//! on the bias-corrected second moment), with `t` the step count, 1 at the first:
//!
//! ```text
//! m = b1 m + (1 - b1) g      v = b2 v + (1 - b2) g^2
//! p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
//! ```
//!
//! dfdx's `AdamConfig { lr, betas: [b1, b2], eps, weight_decay: None }` is
//! optax's `adam(lr, b1, b2, eps, eps_root=0)`, so [`optax_adam`] sets the
//! betas to 0.9/0.999 and eps to 1e-8 (also dfdx's defaults): same bias
//! correction, same place for eps, no weight decay. What remains is rounding,
//! in f32 (in f64 the two agree to 1e-14 after 20 steps, `tests/dfdx_crosscheck.rs`):
//!
//! - dfdx rounds the betas to f32 and takes `1 - b` in f32 (`1 - 0.999f32` is
//!   `0.00099998713`); optax/rjax take `1 - b` in f64 and round it (`0.001`).
//!   The two cancel in the bias correction, so this alone changes little.
//! - dfdx computes the corrections `1 / (1 - b^t)` in f32, with `b^t` by
//!   `powi`: `b2^t` is close to 1, so `1 - b2^t` loses most of its 24 bits to
//!   cancellation (its relative error is about `3e-8 / (1 - b2^t)`, 1.5e-5 at `t = 2`);
//!   optax/rjax compute `1 - b^t` in f64 and round the result to f32.
//!
//! For a constant gradient, dfdx's bias-corrected second moment is off by up
//! to 1.4e-5 (at `t = 3`; 5e-6 to 8e-6 for `t` from 5 to 1000) where rjax's is
//! off by less than 1e-6, so their Adam updates differ by 2e-6 to 7e-6
//! relative. `DfdxAdamF32` in `tests/dfdx_crosscheck.rs` reproduces dfdx's
//! arithmetic in rjax, and with it the two frameworks' f32 parameters agree
//! bit for bit after 20 steps.

#![allow(dead_code)]

use dfdx::nn::modules;
use dfdx::optim::{Adam, AdamConfig, Optimizer};
use dfdx::prelude::*;
use rjax::nn::{Dense, Mlp};

/// The hidden and output widths after the input.
pub const WIDTHS: [usize; 4] = [1024, 512, 256, 10];

/// The architecture as a dfdx builder type, for `IN` input features.
pub type Arch<const IN: usize> = (
    (Linear<IN, 1024>, ReLU, Dropout),
    (Linear<1024, 512>, ReLU, Dropout),
    (Linear<512, 256>, ReLU, Dropout),
    Linear<256, 10>,
);

/// The built model (what `build_module::<Arch<IN>, E>` returns) with parameters of type `E`.
pub type Net<const IN: usize, E> = (
    (modules::Linear<IN, 1024, E, Cpu>, modules::ReLU, modules::Dropout),
    (modules::Linear<1024, 512, E, Cpu>, modules::ReLU, modules::Dropout),
    (modules::Linear<512, 256, E, Cpu>, modules::ReLU, modules::Dropout),
    modules::Linear<256, 10, E, Cpu>,
);

/// Adam as optax's `adam(lr)` (b1 0.9, b2 0.999, eps 1e-8, no weight decay).
pub fn optax_adam(lr: f64) -> AdamConfig {
    AdamConfig { lr, betas: [0.9, 0.999], eps: 1e-8, weight_decay: None }
}

/// A row-major `rows x cols` matrix transposed (rjax's `[in, out]` weight as
/// dfdx's `[out, in]`, and back).
pub fn transpose<E: Copy + Default>(w: &[E], rows: usize, cols: usize) -> Vec<E> {
    assert_eq!(w.len(), rows * cols, "transpose: {} values for a {rows}x{cols} matrix", w.len());
    let mut t = vec![E::default(); w.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
    t
}

/// The indices of the largest logit of each row (the first on ties, as rjax's `argmax`).
fn argmax_rows<E: PartialOrd>(logits: &[E], classes: usize) -> impl Iterator<Item = usize> + '_ {
    logits.chunks(classes).map(|row| {
        let mut best = 0;
        for (i, v) in row.iter().enumerate() {
            if *v > row[best] {
                best = i;
            }
        }
        best
    })
}

/// The dfdx model, its Adam state and the gradient buffers it reuses; `E` is
/// `f32` or `f64`.
pub struct DfdxMlp<const IN: usize, E: Dtype> {
    pub dev: Cpu,
    pub net: Net<IN, E>,
    opt: Adam<Net<IN, E>, E, Cpu>,
    grads: Option<Gradients<E, Cpu>>,
}

/// Builds the dfdx model on `dev` with the parameters of `mlp` (an rjax `Mlp`
/// of widths `[IN, 1024, 512, 256, 10]`, converted to `E`), dropout `rate`
/// after each hidden layer while training, and Adam `adam`.
pub fn load_mlp<const IN: usize, E: Dtype>(dev: &Cpu, mlp: &Mlp, rate: f32, adam: AdamConfig) -> DfdxMlp<IN, E>
where
    DfdxMlp<IN, E>: Build,
{
    let widths: Vec<usize> = mlp.layers.iter().map(|l| l.w.shape()[1]).collect();
    assert_eq!(widths, WIDTHS, "load_mlp: the rjax Mlp's widths after the input differ from the dfdx model's");
    DfdxMlp::build(dev, mlp, rate, adam)
}

/// The construction of a [`DfdxMlp`], implemented for f32 and f64.
pub trait Build {
    fn build(dev: &Cpu, mlp: &Mlp, rate: f32, adam: AdamConfig) -> Self;
}

/// The methods of [`DfdxMlp`] for one float type (dfdx's layers need a
/// concrete float type to satisfy their trait bounds, so they are written
/// once here and instantiated for f32 and f64).
macro_rules! dfdx_mlp_for {
    ($e:ty) => {
        impl<const IN: usize> Build for DfdxMlp<IN, $e> {
            fn build(dev: &Cpu, mlp: &Mlp, rate: f32, adam: AdamConfig) -> Self {
                /// Copies an rjax `Dense` (`w: [I, O]`, `b: [O]`) into a dfdx `Linear` (`weight: [O, I]`).
                fn load<const I: usize, const O: usize>(dst: &mut modules::Linear<I, O, $e, Cpu>, src: &Dense) {
                    let shape = src.w.shape();
                    assert_eq!(shape, &[I, O], "load_mlp: an rjax weight has shape {shape:?}, not [{I}, {O}]");
                    let dtype = <$e as rjax::Element>::DTYPE;
                    dst.weight.copy_from(&transpose(&src.w.astype(dtype).to_vec::<$e>(), I, O));
                    dst.bias.copy_from(&src.b.astype(dtype).to_vec::<$e>());
                }
                let mut net: Net<IN, $e> = dev.build_module::<Arch<IN>, $e>();
                load(&mut net.0.0, &mlp.layers[0]);
                load(&mut net.1.0, &mlp.layers[1]);
                load(&mut net.2.0, &mlp.layers[2]);
                load(&mut net.3, &mlp.layers[3]);
                (net.0.2.p, net.1.2.p, net.2.2.p) = (rate, rate, rate);
                let opt = Adam::new(&net, adam);
                DfdxMlp { dev: dev.clone(), net, opt, grads: None }
            }
        }

        impl<const IN: usize> DfdxMlp<IN, $e> {
            fn inputs(&self, x: &[$e]) -> Tensor<(usize, Const<IN>), $e, Cpu> {
                assert_eq!(x.len() % IN, 0, "DfdxMlp: {} input values are not rows of {IN}", x.len());
                self.dev.tensor_from_vec(x.to_vec(), (x.len() / IN, Const::<IN>))
            }

            /// One training step on a batch (`x` row-major `[n, IN]`, labels `[n]`):
            /// forward with dropout (dfdx's own masks), mean softmax cross-entropy,
            /// backward, Adam. Returns the loss and the number of correct predictions.
            pub fn train_step(&mut self, x: &[$e], labels: &[i32]) -> (f64, usize) {
                let n = labels.len();
                let xs = self.inputs(x);
                assert_eq!(xs.shape().0, n, "train_step: {} rows for {n} labels", xs.shape().0);
                let mut onehot: Vec<$e> = vec![0.0; n * 10];
                for (i, &y) in labels.iter().enumerate() {
                    onehot[i * 10 + y as usize] = 1.0;
                }
                let target = self.dev.tensor_from_vec(onehot, (n, Const::<10>));
                let grads = self.grads.take().unwrap_or_else(|| self.net.alloc_grads());
                let logits = self.net.forward_mut(xs.traced(grads));
                let correct = argmax_rows(&logits.as_vec(), 10).zip(labels).filter(|&(p, &y)| p == y as usize).count();
                let loss = cross_entropy_with_logits_loss(logits, target);
                let value = loss.array() as f64;
                let mut grads = loss.backward();
                self.opt.update(&mut self.net, &grads).expect("dfdx Adam update");
                self.net.zero_grads(&mut grads);
                self.grads = Some(grads);
                (value, correct)
            }

            /// The logits `[n, 10]` (row-major) for `x` without dropout.
            pub fn logits(&self, x: &[$e]) -> Vec<$e> {
                self.net.forward(self.inputs(x)).as_vec()
            }

            /// The number of correct predictions on `x` without dropout.
            pub fn correct(&self, x: &[$e], labels: &[i32]) -> usize {
                argmax_rows(&self.logits(x), 10).zip(labels).filter(|&(p, &y)| p == y as usize).count()
            }

            /// The summed softmax cross-entropy (computed in f64 from the
            /// logits) and the number of correct predictions on `x`, without dropout.
            pub fn evaluate(&self, x: &[$e], labels: &[i32]) -> (f64, usize) {
                let logits = self.logits(x);
                let loss = logits
                    .chunks(10)
                    .zip(labels)
                    .map(|(row, &y)| {
                        let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
                        let lse = max + row.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln();
                        lse - row[y as usize] as f64
                    })
                    .sum();
                let correct = argmax_rows(&logits, 10).zip(labels).filter(|&(p, &y)| p == y as usize).count();
                (loss, correct)
            }

            /// The parameters in rjax's layout (`w: [in, out]` row-major, `b: [out]`)
            /// and in the order of `rjax::tree::leaves(&mlp)`: `w0, b0, w1, b1, w2, b2, w3, b3`.
            pub fn params(&self) -> Vec<Vec<$e>> {
                fn read<const I: usize, const O: usize>(l: &modules::Linear<I, O, $e, Cpu>) -> [Vec<$e>; 2] {
                    [transpose(&l.weight.as_vec(), O, I), l.bias.as_vec()]
                }
                let layers = [read(&self.net.0.0), read(&self.net.1.0), read(&self.net.2.0), read(&self.net.3)];
                layers.into_iter().flatten().collect()
            }
        }
    };
}

dfdx_mlp_for!(f32);
dfdx_mlp_for!(f64);
