//! Schedules: functions of the step count (an array) giving a learning rate or
//! another hyperparameter, with optax's formulas.
//!
//! A [`Schedule`] is written with rjax operations on the step, so inside an
//! optimizer's `update` it is traced along with everything else (under `grad`,
//! and under `jit` with the step as an argument). It takes the step as a scalar
//! array of any numeric dtype (optimizers pass their i32 count) and returns an
//! f64 scalar.
//!
//! ```
//! use rjax::optim::{cosine_decay_schedule, join_schedules, linear_schedule};
//! // 3 warmup steps from 0 to 1, then a cosine decay over 8 steps
//! let s = join_schedules(vec![linear_schedule(0.0, 1.0, 3, 0), cosine_decay_schedule(1.0, 8, 0.0, 1.0)], &[3]);
//! assert_eq!(s.value(0), 0.0);
//! assert_eq!(s.value(3), 1.0);
//! assert!((s.value(7) - 0.5).abs() < 1e-12);
//! ```

use crate::core::{Array, DType};
use crate::numpy as jnp;
use std::fmt;
use std::sync::Arc;

/// A function of the step count: `step` (a numeric scalar array) to an f64 scalar.
///
/// ```
/// use rjax::{optim::Schedule, Array};
/// let halve_every_10 = Schedule::new(|step| rjax::numpy::power(&Array::scalar(0.5f64), &(step / 10.0)));
/// assert_eq!(halve_every_10.value(20), 0.25);
/// ```
#[derive(Clone)]
pub struct Schedule(Arc<dyn Fn(&Array) -> Array + Send + Sync>);

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Schedule(..)")
    }
}

impl Schedule {
    /// A schedule from a function that receives the step as an f64 scalar array
    /// and returns a float scalar, written with rjax operations.
    ///
    /// ```
    /// let s = rjax::optim::Schedule::new(|step| step * 0.1 + 1.0);
    /// assert_eq!(s.value(10), 2.0);
    /// ```
    pub fn new(f: impl Fn(&Array) -> Array + Send + Sync + 'static) -> Schedule {
        Schedule(Arc::new(f))
    }

    /// The value at `step`, a numeric scalar array (possibly traced): an f64 scalar.
    ///
    /// ```
    /// use rjax::{optim, Array};
    /// let v = optim::constant_schedule(0.3).at(&Array::scalar(7i32));
    /// assert_eq!(v.item::<f64>(), 0.3);
    /// ```
    #[track_caller]
    pub fn at(&self, step: &Array) -> Array {
        if step.ndim() != 0 || step.dtype() == DType::Bool {
            panic!("schedule: the step must be a numeric scalar, got {}", step.aval());
        }
        let v = (self.0)(&step.astype(DType::F64));
        if v.ndim() != 0 || !v.dtype().is_float() {
            panic!("schedule: the schedule must return a float scalar, got {}", v.aval());
        }
        v.astype(DType::F64)
    }

    /// The value at an integer step, computed now.
    ///
    /// ```
    /// assert_eq!(rjax::optim::linear_schedule(0.0, 1.0, 4, 0).value(1), 0.25);
    /// ```
    #[track_caller]
    pub fn value(&self, step: i64) -> f64 {
        self.at(&Array::scalar(step as f64)).item::<f64>()
    }
}

/// A hyperparameter that is a constant or a [`Schedule`] (optax's `ScalarOrSchedule`);
/// functions taking one accept an `f64`, an `f32` or a `Schedule`.
///
/// ```
/// use rjax::optim::{constant_schedule, ScalarOrSchedule};
/// assert!(matches!(ScalarOrSchedule::from(0.1), ScalarOrSchedule::Scalar(_)));
/// assert!(matches!(ScalarOrSchedule::from(constant_schedule(0.1)), ScalarOrSchedule::Schedule(_)));
/// ```
#[derive(Clone, Debug)]
pub enum ScalarOrSchedule {
    /// The same value at every step.
    Scalar(f64),
    /// A value that depends on the step count.
    Schedule(Schedule),
}

impl From<f64> for ScalarOrSchedule {
    fn from(v: f64) -> Self {
        ScalarOrSchedule::Scalar(v)
    }
}
impl From<f32> for ScalarOrSchedule {
    fn from(v: f32) -> Self {
        ScalarOrSchedule::Scalar(v as f64)
    }
}
impl From<Schedule> for ScalarOrSchedule {
    fn from(s: Schedule) -> Self {
        ScalarOrSchedule::Schedule(s)
    }
}
impl From<&Schedule> for ScalarOrSchedule {
    fn from(s: &Schedule) -> Self {
        ScalarOrSchedule::Schedule(s.clone())
    }
}

fn f64s(v: f64) -> Array {
    Array::scalar(v)
}

/// The same value at every step.
///
/// ```
/// assert_eq!(rjax::optim::constant_schedule(0.5).value(100), 0.5);
/// ```
pub fn constant_schedule(value: f64) -> Schedule {
    Schedule::new(move |_| f64s(value))
}

/// `(init - end) * (1 - k / transition_steps)^power + end` with
/// `k = clip(step - transition_begin, 0, transition_steps)`: `init` until
/// `transition_begin`, `end` from `transition_begin + transition_steps` on.
/// With `transition_steps == 0` the schedule is the constant `init` (as optax).
///
/// ```
/// let s = rjax::optim::polynomial_schedule(1.0, 0.0, 2.0, 4, 0);
/// assert_eq!(s.value(2), 0.25);
/// assert_eq!(s.value(9), 0.0);
/// ```
pub fn polynomial_schedule(
    init: f64,
    end: f64,
    power: f64,
    transition_steps: usize,
    transition_begin: usize,
) -> Schedule {
    if transition_steps == 0 {
        return constant_schedule(init);
    }
    let (steps, begin) = (transition_steps as f64, transition_begin as f64);
    Schedule::new(move |step| {
        let k = jnp::clip(&(step - begin), 0.0, steps);
        let frac = 1.0 - k / steps;
        jnp::power(&frac, f64s(power)) * (init - end) + end
    })
}

/// Linear interpolation from `init` to `end` over `transition_steps` steps
/// starting at `transition_begin` (a linear warmup when `init < end`).
///
/// ```
/// let warmup = rjax::optim::linear_schedule(0.0, 0.1, 10, 0);
/// assert!((warmup.value(5) - 0.05).abs() < 1e-15);
/// assert_eq!(warmup.value(20), 0.1);
/// ```
pub fn linear_schedule(init: f64, end: f64, transition_steps: usize, transition_begin: usize) -> Schedule {
    polynomial_schedule(init, end, 1.0, transition_steps, transition_begin)
}

/// `init * decay_rate^p` with `p = (step - transition_begin) / transition_steps`
/// (floored when `staircase`), `init` up to `transition_begin`, and bounded by
/// `end_value` if given (from below when decaying, from above when `decay_rate > 1`).
/// With `transition_steps == 0` or `decay_rate == 0` the schedule is the
/// constant `init` (as optax).
///
/// ```
/// let s = rjax::optim::exponential_decay(1.0, 2, 0.5, 0, true, Some(0.2));
/// assert_eq!((s.value(1), s.value(2), s.value(4), s.value(10)), (1.0, 0.5, 0.25, 0.2));
/// ```
pub fn exponential_decay(
    init: f64,
    transition_steps: usize,
    decay_rate: f64,
    transition_begin: usize,
    staircase: bool,
    end_value: Option<f64>,
) -> Schedule {
    if transition_steps == 0 || decay_rate == 0.0 {
        return constant_schedule(init);
    }
    let (steps, begin) = (transition_steps as f64, transition_begin as f64);
    Schedule::new(move |step| {
        let dec = step - begin;
        let mut p = &dec / steps;
        if staircase {
            p = jnp::floor(&p);
        }
        let decayed = jnp::power(f64s(decay_rate), &p) * init;
        let before = jnp::less_equal(&dec, f64s(0.0));
        let v = jnp::where_(&before, f64s(init), &decayed);
        match end_value {
            Some(e) if decay_rate < 1.0 => jnp::maximum(&v, f64s(e)),
            Some(e) => jnp::minimum(&v, f64s(e)),
            None => v,
        }
    })
}

/// Cosine decay from `init` to `alpha * init` over `decay_steps`, then constant:
/// `init * ((1 - alpha) * c^exponent + alpha)` with
/// `c = (1 + cos(pi * min(step, decay_steps) / decay_steps)) / 2`.
///
/// Panics if `decay_steps` is 0.
///
/// ```
/// let s = rjax::optim::cosine_decay_schedule(1.0, 10, 0.0, 1.0);
/// assert_eq!(s.value(0), 1.0);
/// assert!((s.value(5) - 0.5).abs() < 1e-12);
/// assert_eq!(s.value(10), 0.0);
/// ```
#[track_caller]
pub fn cosine_decay_schedule(init: f64, decay_steps: usize, alpha: f64, exponent: f64) -> Schedule {
    if decay_steps == 0 {
        panic!("cosine_decay_schedule: decay_steps must be positive");
    }
    let n = decay_steps as f64;
    Schedule::new(move |step| {
        let k = jnp::minimum(step, f64s(n));
        let c = (jnp::cos(&(k * (std::f64::consts::PI / n))) + 1.0) * 0.5;
        (jnp::power(&c, f64s(exponent)) * (1.0 - alpha) + alpha) * init
    })
}

/// Runs `schedules[0]` until `boundaries[0]`, then `schedules[1]` on
/// `step - boundaries[0]` until `boundaries[1]`, and so on (optax's
/// `join_schedules`; each schedule sees steps counted from its own start).
///
/// Panics unless there is one boundary fewer than schedules.
///
/// ```
/// use rjax::optim::{constant_schedule, join_schedules, linear_schedule};
/// let s = join_schedules(vec![constant_schedule(1.0), linear_schedule(1.0, 0.0, 4, 0)], &[3]);
/// assert_eq!((s.value(2), s.value(4), s.value(9)), (1.0, 0.75, 0.0));
/// ```
#[track_caller]
pub fn join_schedules(schedules: Vec<Schedule>, boundaries: &[usize]) -> Schedule {
    if schedules.is_empty() || boundaries.len() + 1 != schedules.len() {
        panic!(
            "join_schedules: {} schedules need {} boundaries, got {}",
            schedules.len(),
            schedules.len().saturating_sub(1),
            boundaries.len()
        );
    }
    let boundaries: Vec<f64> = boundaries.iter().map(|&b| b as f64).collect();
    Schedule::new(move |step| {
        let mut out = schedules[0].at(step);
        for (b, s) in boundaries.iter().zip(&schedules[1..]) {
            let next = s.at(&(step - *b));
            out = jnp::where_(&jnp::less(step, f64s(*b)), &out, &next);
        }
        out
    })
}

/// A linear warmup from `init` to `peak` over `warmup_steps`, then a cosine
/// decay to `end` reached at step `decay_steps` (which counts the warmup), as
/// optax's `warmup_cosine_decay_schedule` with exponent 1.
///
/// Panics unless `decay_steps > warmup_steps`.
///
/// ```
/// let s = rjax::optim::warmup_cosine_decay_schedule(0.0, 1.0, 2, 6, 0.0);
/// assert_eq!((s.value(1), s.value(2), s.value(6)), (0.5, 1.0, 0.0));
/// ```
#[track_caller]
pub fn warmup_cosine_decay_schedule(
    init: f64,
    peak: f64,
    warmup_steps: usize,
    decay_steps: usize,
    end: f64,
) -> Schedule {
    if decay_steps <= warmup_steps {
        panic!("warmup_cosine_decay_schedule: decay_steps {decay_steps} must exceed warmup_steps {warmup_steps}");
    }
    let alpha = if peak == 0.0 { 0.0 } else { end / peak };
    join_schedules(
        vec![
            linear_schedule(init, peak, warmup_steps, 0),
            cosine_decay_schedule(peak, decay_steps - warmup_steps, alpha, 1.0),
        ],
        &[warmup_steps],
    )
}
