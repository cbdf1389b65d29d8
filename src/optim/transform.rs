//! The gradient-transformation interface: [`Transformation`] (on flat lists of
//! leaves, object safe), [`GradientTransformation`] (on trees), [`chain`],
//! [`identity`] and [`apply_updates`], plus the array helpers the
//! transformations share (moments, bias correction, the step count).

use super::OptState;
use crate::core::{Array, DType};
use crate::numpy as jnp;
use crate::tree::{self, Tree};
use std::fmt;
use std::sync::Arc;

/// A gradient transformation on the flat leaves of a parameter tree.
///
/// Implement this to write a new transformation, and wrap it with
/// [`GradientTransformation::new`] to use it on trees and in [`chain`].
/// `update` must only use rjax operations on its arrays (never read their
/// values), so that it can run under `grad` and `jit`.
///
/// ```
/// use rjax::optim::{GradientTransformation, OptState, Transformation};
/// use rjax::Array;
/// /// Negates the updates.
/// struct Negate;
/// impl Transformation for Negate {
///     fn init(&self, _params: &[Array]) -> OptState {
///         OptState::empty("negate")
///     }
///     fn update(&self, updates: Vec<Array>, state: OptState, _params: &[Array]) -> (Vec<Array>, OptState) {
///         (updates.iter().map(|u| -u).collect(), state)
///     }
/// }
/// let t = GradientTransformation::new(Negate);
/// let p = Array::scalar(1.0f32);
/// let (u, _) = t.update(&Array::scalar(2.0f32), t.init(&p), &p);
/// assert_eq!(u.item::<f32>(), -2.0);
/// ```
pub trait Transformation: Send + Sync {
    /// The initial state for parameters with these leaves.
    fn init(&self, params: &[Array]) -> OptState;
    /// Transforms `updates` (one per leaf of the parameters), returning the new
    /// updates and the next state.
    fn update(&self, updates: Vec<Array>, state: OptState, params: &[Array]) -> (Vec<Array>, OptState);
}

/// A gradient transformation (optax's `GradientTransformation`): `init` makes
/// the state for some parameters, `update` turns gradients into updates and
/// advances the state; both are pure. Cheap to clone.
///
/// ```
/// use rjax::{optim, Array};
/// let params = Array::from_vec(vec![1.0f64, -2.0], &[2]);
/// let opt = optim::sgd(0.1, None, false);
/// let state = opt.init(&params);
/// let grads = Array::from_vec(vec![0.5f64, 1.0], &[2]);
/// let (updates, _state) = opt.update(&grads, state, &params);
/// let params = optim::apply_updates(&params, &updates);
/// assert_eq!(params.to_vec::<f64>(), vec![0.95, -2.1]);
/// ```
#[derive(Clone)]
pub struct GradientTransformation(Arc<dyn Transformation>);

impl fmt::Debug for GradientTransformation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GradientTransformation(..)")
    }
}

impl GradientTransformation {
    /// Wraps a [`Transformation`].
    ///
    /// ```
    /// let t = rjax::optim::GradientTransformation::new(rjax::optim::Identity);
    /// assert_eq!(t.init(&rjax::Array::scalar(0.0f32)).kind, "identity");
    /// ```
    pub fn new(t: impl Transformation + 'static) -> GradientTransformation {
        GradientTransformation(Arc::new(t))
    }

    /// The initial state for `params`.
    ///
    /// ```
    /// use rjax::{optim, Array, DType};
    /// let s = optim::sgd(0.1, Some(0.9), false).init(&Array::zeros(&[4], DType::F32));
    /// assert_eq!(s.inner[0].slots["trace"][0].shape(), &[4]);
    /// ```
    pub fn init<T: Tree>(&self, params: &T) -> OptState {
        self.0.init(&tree::leaves(params))
    }

    /// Turns `grads` into updates (to add to `params` with [`apply_updates`])
    /// and returns the next state. `grads` and `params` must have the same
    /// structure; the state must come from this transformation's `init` or a
    /// previous `update`.
    ///
    /// ```
    /// use rjax::{optim, Array};
    /// let p = Array::scalar(1.0f64);
    /// let opt = optim::adam(0.1);
    /// let (u, s) = opt.update(&Array::scalar(3.0f64), opt.init(&p), &p);
    /// assert!((u.item::<f64>() + 0.1).abs() < 1e-9); // the first Adam step is -lr * sign(g)
    /// assert_eq!(s.inner[0].count.as_ref().unwrap().item::<i32>(), 1);
    /// ```
    #[track_caller]
    pub fn update<T: Tree>(&self, grads: &T, state: OptState, params: &T) -> (T, OptState) {
        let (gd, pd) = (grads.def(), params.def());
        if gd != pd {
            panic!("update: the gradients {gd} and the parameters {pd} differ in structure");
        }
        let (updates, state) = self.0.update(tree::leaves(grads), state, &tree::leaves(params));
        match tree::unflatten(grads, updates) {
            Ok(u) => (u, state),
            Err(e) => panic!("update: the transformation returned the wrong number of updates: {e}"),
        }
    }

    /// The leaf-level transformation (for composing transformations).
    pub(crate) fn leaves_update(
        &self,
        updates: Vec<Array>,
        state: OptState,
        params: &[Array],
    ) -> (Vec<Array>, OptState) {
        self.0.update(updates, state, params)
    }

    /// The leaf-level init.
    pub(crate) fn leaves_init(&self, params: &[Array]) -> OptState {
        self.0.init(params)
    }
}

/// `params + updates`, leaf by leaf, with each update converted to its
/// parameter's dtype (as optax's `apply_updates`).
///
/// Panics if the trees differ in structure.
///
/// ```
/// use rjax::{optim, Array};
/// let p = (Array::scalar(1.0f32), Array::scalar(2.0f32));
/// let u = (Array::scalar(0.5f32), Array::scalar(-1.0f32));
/// let q = optim::apply_updates(&p, &u);
/// assert_eq!((q.0.item::<f32>(), q.1.item::<f32>()), (1.5, 1.0));
/// ```
#[track_caller]
pub fn apply_updates<T: Tree>(params: &T, updates: &T) -> T {
    match tree::map2(params, updates, |p, u| p + &u.astype(p.dtype())) {
        Ok(t) => t,
        Err(e) => panic!("apply_updates: {e}"),
    }
}

/// The transformation that changes nothing (its state is empty).
///
/// ```
/// use rjax::{optim, Array};
/// let t = optim::identity();
/// let (u, _) = t.update(&Array::scalar(2.0f32), t.init(&Array::scalar(0.0f32)), &Array::scalar(0.0f32));
/// assert_eq!(u.item::<f32>(), 2.0);
/// ```
pub fn identity() -> GradientTransformation {
    GradientTransformation::new(Identity)
}

/// The [`Transformation`] behind [`identity`].
#[derive(Clone, Copy, Debug)]
pub struct Identity;

impl Transformation for Identity {
    fn init(&self, _: &[Array]) -> OptState {
        OptState::empty("identity")
    }
    fn update(&self, updates: Vec<Array>, state: OptState, _: &[Array]) -> (Vec<Array>, OptState) {
        state.expect_kind("identity");
        (updates, state)
    }
}

/// Applies transformations one after another (optax's `chain`): the state
/// holds one inner state per transformation, in order.
///
/// ```
/// use rjax::{optim, Array};
/// // clip the gradient's norm to 1, then step by -0.5
/// let opt = optim::chain([optim::clip_by_global_norm(1.0), optim::scale(-0.5)]);
/// let p = Array::from_vec(vec![0.0f64, 0.0], &[2]);
/// let (u, state) = opt.update(&Array::from_vec(vec![3.0f64, 4.0], &[2]), opt.init(&p), &p);
/// assert_eq!(u.to_vec::<f64>(), vec![-0.3, -0.4]);
/// assert_eq!(state.inner.len(), 2);
/// ```
pub fn chain(transforms: impl IntoIterator<Item = GradientTransformation>) -> GradientTransformation {
    GradientTransformation::new(Chain(transforms.into_iter().collect()))
}

struct Chain(Vec<GradientTransformation>);

impl Transformation for Chain {
    fn init(&self, params: &[Array]) -> OptState {
        let mut s = OptState::empty("chain");
        s.inner = self.0.iter().map(|t| t.leaves_init(params)).collect();
        s
    }
    fn update(&self, mut updates: Vec<Array>, mut state: OptState, params: &[Array]) -> (Vec<Array>, OptState) {
        state.expect_kind("chain");
        if state.inner.len() != self.0.len() {
            panic!(
                "chain: the state holds {} inner states for {} transformations; pass the state that init returned",
                state.inner.len(),
                self.0.len()
            );
        }
        let inner = std::mem::take(&mut state.inner);
        for (t, s) in self.0.iter().zip(inner) {
            let (u, s) = t.leaves_update(updates, s, params);
            updates = u;
            state.inner.push(s);
        }
        (updates, state)
    }
}

/// `count + 1`, staying at `i32::MAX` instead of overflowing (optax's `safe_increment`).
pub(crate) fn increment(count: &Array) -> Array {
    let max = Array::scalar(i32::MAX);
    jnp::where_(&jnp::less(count, &max), &(count + 1), count)
}

/// `1 - decay^count` as an f64 scalar (the count is an i32 scalar).
pub(crate) fn bias_correction(decay: f64, count: &Array) -> Array {
    1.0 - jnp::power(Array::scalar(decay), count.astype(DType::F64))
}

/// `moment / correction`, the correction converted to the moment's dtype.
pub(crate) fn debias(moment: &Array, correction: &Array) -> Array {
    moment / &correction.astype(moment.dtype())
}

/// The exponential moving average `(1 - decay) * g^order + decay * m`, for order 1 or 2.
pub(crate) fn ema(g: &Array, m: &Array, decay: f64, order: u32) -> Array {
    let g = if order == 2 { jnp::square(g) } else { g.clone() };
    g * (1.0 - decay) + m * decay
}

/// Zeros shaped like each leaf.
pub(crate) fn zeros_like_all(params: &[Array]) -> Vec<Array> {
    params.iter().map(jnp::zeros_like).collect()
}
