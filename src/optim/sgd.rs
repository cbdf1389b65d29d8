//! Momentum ([`trace`]) and stochastic gradient descent ([`sgd`]).

use super::scale_by_learning_rate;
use super::transform::zeros_like_all;
use super::{GradientTransformation, OptState, ScalarOrSchedule, Transformation, chain, identity};
use crate::core::Array;

/// Momentum: `trace = g + decay * trace`; the update is the new trace, or
/// `g + decay * trace` with Nesterov momentum (optax's `trace`). The state
/// holds the slot `"trace"`, zeros at first.
///
/// ```
/// use rjax::{optim, Array};
/// let t = optim::trace(0.5, false);
/// let p = Array::scalar(0.0f64);
/// let g = Array::scalar(1.0f64);
/// let (_, s) = t.update(&g, t.init(&p), &p);
/// let (u, _) = t.update(&g, s, &p);
/// assert_eq!(u.item::<f64>(), 1.5);
/// ```
pub fn trace(decay: f64, nesterov: bool) -> GradientTransformation {
    GradientTransformation::new(Trace { decay, nesterov })
}

struct Trace {
    decay: f64,
    nesterov: bool,
}

impl Transformation for Trace {
    fn init(&self, params: &[Array]) -> OptState {
        OptState::empty("trace").with_slot("trace", zeros_like_all(params))
    }
    fn update(&self, updates: Vec<Array>, mut state: OptState, _: &[Array]) -> (Vec<Array>, OptState) {
        state.expect_kind("trace");
        let old = state.take_slot("trace", "trace", &updates);
        let new: Vec<Array> = updates.iter().zip(&old).map(|(g, t)| g + &(t * self.decay)).collect();
        let out = if self.nesterov {
            updates.iter().zip(&new).map(|(g, t)| g + &(t * self.decay)).collect()
        } else {
            new.clone()
        };
        state.slots.insert("trace".into(), new);
        (out, state)
    }
}

/// Stochastic gradient descent: `-learning_rate * g`, with optional momentum
/// (a [`trace`] before the learning rate) and Nesterov momentum, as optax's
/// `sgd`: `chain(trace or identity, scale_by_learning_rate)`.
///
/// ```
/// use rjax::{optim, Array};
/// let opt = optim::sgd(0.1, Some(0.9), false);
/// let p = Array::scalar(1.0f64);
/// let g = Array::scalar(1.0f64);
/// let (u0, s) = opt.update(&g, opt.init(&p), &p);
/// let (u1, _) = opt.update(&g, s, &p);
/// assert!((u0.item::<f64>() + 0.1).abs() < 1e-15);
/// assert!((u1.item::<f64>() + 0.19).abs() < 1e-15);
/// ```
pub fn sgd(
    learning_rate: impl Into<ScalarOrSchedule>,
    momentum: Option<f64>,
    nesterov: bool,
) -> GradientTransformation {
    let first = match momentum {
        Some(m) => trace(m, nesterov),
        None => identity(),
    };
    chain([first, scale_by_learning_rate(learning_rate)])
}
