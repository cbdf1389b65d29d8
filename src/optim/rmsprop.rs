//! RMSProp ([`scale_by_rms`], [`rmsprop`]), plain or centered, with optax's
//! formulas and defaults.

use super::transform::{bias_correction, debias, ema, increment, zeros_like_all};
use super::{GradientTransformation, OptState, ScalarOrSchedule, Transformation};
use super::{chain, identity, scale_by_learning_rate, trace};
use crate::core::Array;
use crate::numpy as jnp;

/// RMSProp's hyperparameters; `RmsPropOptions::default()` is optax's defaults
/// (`decay = 0.9`, `eps = 1e-8` inside the square root, no bias correction,
/// not centered, no momentum).
///
/// ```
/// use rjax::optim::RmsPropOptions;
/// let o = RmsPropOptions { momentum: Some(0.9), ..RmsPropOptions::default() };
/// assert_eq!((o.decay, o.eps_in_sqrt, o.momentum), (0.9, true, Some(0.9)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsPropOptions {
    /// Decay of the moving average of the squared gradients.
    pub decay: f64,
    /// Added to the denominator.
    pub eps: f64,
    /// The initial value of the second moment.
    pub initial_scale: f64,
    /// Adds `eps` inside the square root (`1 / sqrt(nu + eps)`) instead of
    /// outside (`1 / (sqrt(nu) + eps)`).
    pub eps_in_sqrt: bool,
    /// Divides the moments by `1 - decay^t` (the count is then kept in the state).
    pub bias_correction: bool,
    /// Centered RMSProp: divides by the estimated standard deviation
    /// `sqrt(nu - mu^2)` (optax's `scale_by_stddev`).
    pub centered: bool,
    /// Momentum applied after the learning rate (a [`trace`]), if any.
    pub momentum: Option<f64>,
    /// Nesterov momentum (with `momentum`).
    pub nesterov: bool,
}

impl Default for RmsPropOptions {
    fn default() -> Self {
        RmsPropOptions {
            decay: 0.9,
            eps: 1e-8,
            initial_scale: 0.0,
            eps_in_sqrt: true,
            bias_correction: false,
            centered: false,
            momentum: None,
            nesterov: false,
        }
    }
}

/// Rescales the updates by the root of the moving average of their squares:
/// `nu = decay * nu + (1 - decay) * g^2`, update `g / sqrt(nu + eps)` (or
/// `g / (sqrt(nu) + eps)`), optionally bias-corrected, or centered with
/// `mu = decay * mu + (1 - decay) * g` and `nu - mu^2` in place of `nu`
/// (optax's `scale_by_rms` / `scale_by_stddev`). Uses every option except
/// `momentum` and `nesterov`, which belong to [`rmsprop`].
///
/// ```
/// use rjax::{optim, Array};
/// let t = optim::scale_by_rms(optim::RmsPropOptions { eps: 0.0, ..Default::default() });
/// let p = Array::scalar(0.0f64);
/// let (u, _) = t.update(&Array::scalar(3.0f64), t.init(&p), &p);
/// assert!((u.item::<f64>() - 10f64.sqrt()).abs() < 1e-12); // 3 / sqrt(0.1 * 9)
/// ```
pub fn scale_by_rms(options: RmsPropOptions) -> GradientTransformation {
    GradientTransformation::new(ScaleByRms(options))
}

struct ScaleByRms(RmsPropOptions);

impl ScaleByRms {
    fn kind(&self) -> &'static str {
        if self.0.centered { "scale_by_stddev" } else { "scale_by_rms" }
    }
}

impl Transformation for ScaleByRms {
    fn init(&self, params: &[Array]) -> OptState {
        let o = self.0;
        let nu = params.iter().map(|p| jnp::full_like(p, o.initial_scale)).collect();
        let mut s = OptState::empty(self.kind()).with_slot("nu", nu);
        if o.centered {
            s = s.with_slot("mu", zeros_like_all(params));
        }
        if o.bias_correction { s.with_count() } else { s }
    }

    fn update(&self, updates: Vec<Array>, mut state: OptState, _: &[Array]) -> (Vec<Array>, OptState) {
        let (o, kind) = (self.0, self.kind());
        state.expect_kind(kind);
        let nu = state.take_slot(kind, "nu", &updates);
        let nu: Vec<Array> = updates.iter().zip(&nu).map(|(g, v)| ema(g, v, o.decay, 2)).collect();
        let mu: Option<Vec<Array>> = o.centered.then(|| {
            let mu = state.take_slot(kind, "mu", &updates);
            updates.iter().zip(&mu).map(|(g, m)| ema(g, m, o.decay, 1)).collect()
        });
        let correction = o.bias_correction.then(|| {
            let count = increment(&state.expect_count(kind));
            state.count = Some(count.clone());
            bias_correction(o.decay, &count)
        });
        let hat = |x: &Array| match &correction {
            Some(c) => debias(x, c),
            None => x.clone(),
        };
        let out = updates
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let mut v = hat(&nu[i]);
                if let Some(mu) = &mu {
                    v = v - jnp::square(&hat(&mu[i]));
                }
                let scaling = if o.eps_in_sqrt { jnp::rsqrt(&(v + o.eps)) } else { 1.0 / (jnp::sqrt(&v) + o.eps) };
                scaling * g
            })
            .collect();
        state.slots.insert("nu".into(), nu);
        if let Some(mu) = mu {
            state.slots.insert("mu".into(), mu);
        }
        (out, state)
    }
}

/// RMSProp with optax's defaults (`decay = 0.9`, `eps = 1e-8`).
///
/// ```
/// use rjax::{optim, Array};
/// let opt = optim::rmsprop(0.01);
/// let p = Array::scalar(1.0f64);
/// let (u, _) = opt.update(&Array::scalar(2.0f64), opt.init(&p), &p);
/// assert!((u.item::<f64>() + 0.01 / 0.1f64.sqrt()).abs() < 1e-9);
/// ```
pub fn rmsprop(learning_rate: impl Into<ScalarOrSchedule>) -> GradientTransformation {
    rmsprop_with(learning_rate, RmsPropOptions::default())
}

/// RMSProp with the given options, as optax's `rmsprop`:
/// `chain([scale_by_rms, scale_by_learning_rate(lr), trace(momentum, nesterov) or identity])`.
///
/// ```
/// use rjax::optim::{self, RmsPropOptions};
/// let opt = optim::rmsprop_with(1e-3, RmsPropOptions { centered: true, momentum: Some(0.9), ..Default::default() });
/// assert_eq!(opt.init(&rjax::Array::scalar(0.0f32)).inner[0].kind, "scale_by_stddev");
/// ```
pub fn rmsprop_with(learning_rate: impl Into<ScalarOrSchedule>, options: RmsPropOptions) -> GradientTransformation {
    let momentum = match options.momentum {
        Some(m) => trace(m, options.nesterov),
        None => identity(),
    };
    chain([scale_by_rms(options), scale_by_learning_rate(learning_rate), momentum])
}
