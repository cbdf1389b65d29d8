//! Adam ([`scale_by_adam`], [`adam`]) and AdamW ([`adamw`]), with optax's
//! update formula and defaults.

use super::transform::{bias_correction, debias, ema, increment, zeros_like_all};
use super::{GradientTransformation, OptState, ScalarOrSchedule, Transformation};
use super::{add_decayed_weights, chain, scale_by_learning_rate};
use crate::core::Array;
use crate::numpy as jnp;

/// Adam's hyperparameters; `AdamOptions::default()` is optax's defaults
/// (`b1 = 0.9`, `b2 = 0.999`, `eps = 1e-8`, `eps_root = 0`, no Nesterov).
///
/// ```
/// use rjax::optim::AdamOptions;
/// let o = AdamOptions { b2: 0.99, ..AdamOptions::default() };
/// assert_eq!((o.b1, o.b2, o.eps), (0.9, 0.99, 1e-8));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamOptions {
    /// Decay of the moving average of the gradients.
    pub b1: f64,
    /// Decay of the moving average of the squared gradients.
    pub b2: f64,
    /// Added to the denominator, outside the square root.
    pub eps: f64,
    /// Added to the second moment inside the square root.
    pub eps_root: f64,
    /// Nesterov momentum (NAdam, Dozat 2016, as optax's `nesterov=True`).
    pub nesterov: bool,
}

impl Default for AdamOptions {
    fn default() -> Self {
        AdamOptions { b1: 0.9, b2: 0.999, eps: 1e-8, eps_root: 0.0, nesterov: false }
    }
}

/// Rescales the updates by Adam's rule (optax's `scale_by_adam`). With the step
/// count `t` after this update (1 at the first),
///
/// ```text
/// mu = b1 * mu + (1 - b1) * g          nu = b2 * nu + (1 - b2) * g^2
/// mu_hat = mu / (1 - b1^t)             nu_hat = nu / (1 - b2^t)
/// update = mu_hat / (sqrt(nu_hat + eps_root) + eps)
/// ```
///
/// and with Nesterov momentum
/// `mu_hat = b1 * mu / (1 - b1^(t+1)) + (1 - b1) * g / (1 - b1^t)`.
/// The state holds `count` and the slots `"mu"` and `"nu"` (zeros at first,
/// in the parameters' dtypes); the corrections `1 - b^t` are computed in f64.
///
/// ```
/// use rjax::{optim, Array};
/// let t = optim::scale_by_adam(optim::AdamOptions::default());
/// let p = Array::scalar(0.0f64);
/// let (u, _) = t.update(&Array::scalar(-2.0f64), t.init(&p), &p);
/// assert!((u.item::<f64>() + 1.0).abs() < 1e-8);
/// ```
pub fn scale_by_adam(options: AdamOptions) -> GradientTransformation {
    GradientTransformation::new(ScaleByAdam(options))
}

struct ScaleByAdam(AdamOptions);

const ADAM: &str = "scale_by_adam";

impl Transformation for ScaleByAdam {
    fn init(&self, params: &[Array]) -> OptState {
        OptState::empty(ADAM)
            .with_count()
            .with_slot("mu", zeros_like_all(params))
            .with_slot("nu", zeros_like_all(params))
    }
    fn update(&self, updates: Vec<Array>, mut state: OptState, _: &[Array]) -> (Vec<Array>, OptState) {
        let o = self.0;
        state.expect_kind(ADAM);
        let count = increment(&state.expect_count(ADAM));
        let mu = state.take_slot(ADAM, "mu", &updates);
        let nu = state.take_slot(ADAM, "nu", &updates);
        let mu: Vec<Array> = updates.iter().zip(&mu).map(|(g, m)| ema(g, m, o.b1, 1)).collect();
        let nu: Vec<Array> = updates.iter().zip(&nu).map(|(g, v)| ema(g, v, o.b2, 2)).collect();
        let (c1, c2) = (bias_correction(o.b1, &count), bias_correction(o.b2, &count));
        let c1_next = o.nesterov.then(|| bias_correction(o.b1, &increment(&count)));
        let out = updates
            .iter()
            .zip(mu.iter().zip(&nu))
            .map(|(g, (m, v))| {
                let m_hat = match &c1_next {
                    Some(c) => debias(m, c) * o.b1 + debias(g, &c1) * (1.0 - o.b1),
                    None => debias(m, &c1),
                };
                let v_hat = debias(v, &c2);
                m_hat / (jnp::sqrt(&(v_hat + o.eps_root)) + o.eps)
            })
            .collect();
        state.count = Some(count);
        state.slots.insert("mu".into(), mu);
        state.slots.insert("nu".into(), nu);
        (out, state)
    }
}

/// Adam with optax's defaults: `chain([scale_by_adam(default), scale_by_learning_rate(lr)])`.
///
/// ```
/// use rjax::{grad, optim, Array};
/// let loss = |w: &Array| (w * w).sum();
/// let opt = optim::adam(0.1);
/// let mut w = Array::from_vec(vec![1.0f32, -1.0], &[2]);
/// let mut state = opt.init(&w);
/// for _ in 0..50 {
///     let (u, s) = opt.update(&grad(loss)(&w), state, &w);
///     w = optim::apply_updates(&w, &u);
///     state = s;
/// }
/// assert!(loss(&w).item::<f32>() < 0.05);
/// ```
pub fn adam(learning_rate: impl Into<ScalarOrSchedule>) -> GradientTransformation {
    adam_with(learning_rate, AdamOptions::default())
}

/// Adam with the given options (optax's `adam(learning_rate, b1, b2, eps, eps_root, nesterov=...)`).
///
/// ```
/// use rjax::optim::{self, AdamOptions};
/// let nadam = optim::adam_with(1e-3, AdamOptions { nesterov: true, ..AdamOptions::default() });
/// assert_eq!(nadam.init(&rjax::Array::scalar(0.0f32)).inner.len(), 2);
/// ```
pub fn adam_with(learning_rate: impl Into<ScalarOrSchedule>, options: AdamOptions) -> GradientTransformation {
    chain([scale_by_adam(options), scale_by_learning_rate(learning_rate)])
}

/// AdamW, Adam with decoupled weight decay, with optax's defaults:
/// `chain([scale_by_adam, add_decayed_weights(weight_decay), scale_by_learning_rate(lr)])`,
/// so the step is `-lr * (adam_update + weight_decay * params)`. optax's default
/// weight decay is `1e-4`.
///
/// ```
/// use rjax::{optim, Array};
/// let opt = optim::adamw(0.1, 0.5);
/// let p = Array::scalar(2.0f64);
/// let (u, _) = opt.update(&Array::scalar(0.0f64), opt.init(&p), &p);
/// assert!((u.item::<f64>() + 0.1).abs() < 1e-12); // only the decay: -0.1 * 0.5 * 2
/// ```
pub fn adamw(
    learning_rate: impl Into<ScalarOrSchedule>,
    weight_decay: impl Into<ScalarOrSchedule>,
) -> GradientTransformation {
    adamw_with(learning_rate, weight_decay, AdamOptions::default())
}

/// AdamW with the given Adam options.
///
/// ```
/// use rjax::optim::{self, AdamOptions};
/// let opt = optim::adamw_with(1e-3, 1e-2, AdamOptions { b2: 0.95, ..AdamOptions::default() });
/// assert_eq!(opt.init(&rjax::Array::scalar(0.0f32)).inner.len(), 3);
/// ```
pub fn adamw_with(
    learning_rate: impl Into<ScalarOrSchedule>,
    weight_decay: impl Into<ScalarOrSchedule>,
    options: AdamOptions,
) -> GradientTransformation {
    chain([scale_by_adam(options), add_decayed_weights(weight_decay), scale_by_learning_rate(learning_rate)])
}
