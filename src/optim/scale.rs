//! Scaling updates: by a constant ([`scale`]), by a schedule of the step count
//! ([`scale_by_schedule`]), by minus a learning rate ([`scale_by_learning_rate`]),
//! and adding decayed weights ([`add_decayed_weights`]).

use super::transform::increment;
use super::{GradientTransformation, OptState, ScalarOrSchedule, Schedule, Transformation};
use crate::core::Array;

/// Multiplies the updates by `step_size` (stateless).
///
/// ```
/// use rjax::{optim, Array};
/// let t = optim::scale(-0.5);
/// let p = Array::scalar(0.0f32);
/// assert_eq!(t.update(&Array::scalar(4.0f32), t.init(&p), &p).0.item::<f32>(), -2.0);
/// ```
pub fn scale(step_size: f64) -> GradientTransformation {
    GradientTransformation::new(Scale(step_size))
}

struct Scale(f64);

impl Transformation for Scale {
    fn init(&self, _: &[Array]) -> OptState {
        OptState::empty("scale")
    }
    fn update(&self, updates: Vec<Array>, state: OptState, _: &[Array]) -> (Vec<Array>, OptState) {
        state.expect_kind("scale");
        (updates.iter().map(|u| u * self.0).collect(), state)
    }
}

/// Multiplies the updates by `schedule(count)`, where `count` starts at 0 and
/// grows by one per update (the state holds it, an i32 scalar).
///
/// ```
/// use rjax::{optim, Array};
/// let t = optim::scale_by_schedule(optim::linear_schedule(1.0, 0.0, 2, 0));
/// let p = Array::scalar(0.0f64);
/// let g = Array::scalar(1.0f64);
/// let (u0, s) = t.update(&g, t.init(&p), &p);
/// let (u1, _) = t.update(&g, s, &p);
/// assert_eq!((u0.item::<f64>(), u1.item::<f64>()), (1.0, 0.5));
/// ```
pub fn scale_by_schedule(schedule: Schedule) -> GradientTransformation {
    GradientTransformation::new(ScaleBySchedule(schedule))
}

struct ScaleBySchedule(Schedule);

impl Transformation for ScaleBySchedule {
    fn init(&self, _: &[Array]) -> OptState {
        OptState::empty("scale_by_schedule").with_count()
    }
    fn update(&self, updates: Vec<Array>, mut state: OptState, _: &[Array]) -> (Vec<Array>, OptState) {
        state.expect_kind("scale_by_schedule");
        let count = state.expect_count("scale_by_schedule");
        let step = self.0.at(&count);
        let out = updates.iter().map(|u| u * &step.astype(u.dtype())).collect();
        state.count = Some(increment(&count));
        (out, state)
    }
}

/// Multiplies the updates by `-learning_rate`, a constant ([`scale`], no
/// state) or a schedule ([`scale_by_schedule`], counting steps).
///
/// ```
/// use rjax::{optim, Array};
/// let t = optim::scale_by_learning_rate(0.1);
/// let p = Array::scalar(0.0f64);
/// assert_eq!(t.update(&Array::scalar(2.0f64), t.init(&p), &p).0.item::<f64>(), -0.2);
/// ```
pub fn scale_by_learning_rate(learning_rate: impl Into<ScalarOrSchedule>) -> GradientTransformation {
    match learning_rate.into() {
        ScalarOrSchedule::Scalar(lr) => scale(-lr),
        ScalarOrSchedule::Schedule(s) => scale_by_schedule(Schedule::new(move |step| -s.at(step))),
    }
}

/// Adds `weight_decay * params` to the updates (decoupled weight decay when
/// followed by the learning rate, as in AdamW). A scheduled weight decay is
/// evaluated at the count before the update, starting at 0.
///
/// ```
/// use rjax::{optim, Array};
/// let t = optim::add_decayed_weights(0.1);
/// let p = Array::scalar(2.0f64);
/// assert_eq!(t.update(&Array::scalar(1.0f64), t.init(&p), &p).0.item::<f64>(), 1.2);
/// ```
pub fn add_decayed_weights(weight_decay: impl Into<ScalarOrSchedule>) -> GradientTransformation {
    GradientTransformation::new(AddDecayedWeights(weight_decay.into()))
}

struct AddDecayedWeights(ScalarOrSchedule);

const DECAY: &str = "add_decayed_weights";

impl Transformation for AddDecayedWeights {
    fn init(&self, _: &[Array]) -> OptState {
        match self.0 {
            ScalarOrSchedule::Scalar(_) => OptState::empty(DECAY),
            ScalarOrSchedule::Schedule(_) => OptState::empty(DECAY).with_count(),
        }
    }
    fn update(&self, updates: Vec<Array>, mut state: OptState, params: &[Array]) -> (Vec<Array>, OptState) {
        state.expect_kind(DECAY);
        if params.len() != updates.len() {
            panic!("{DECAY}: {} updates for {} parameter leaves", updates.len(), params.len());
        }
        let wd = match &self.0 {
            ScalarOrSchedule::Scalar(w) if *w == 0.0 => return (updates, state),
            ScalarOrSchedule::Scalar(w) => Array::scalar(*w),
            ScalarOrSchedule::Schedule(s) => {
                let count = state.expect_count(DECAY);
                state.count = Some(increment(&count));
                s.at(&count)
            }
        };
        let out = updates.iter().zip(params).map(|(u, p)| u + &(p.astype(u.dtype()) * wd.astype(u.dtype()))).collect();
        (out, state)
    }
}
