//! Clipping updates by their global norm.

use super::{GradientTransformation, OptState, Transformation};
use crate::core::{Array, DType};
use crate::numpy as jnp;
use crate::tree::{self, Tree};

/// The L2 norm of all leaves together, `sqrt(sum of squares)`: a scalar in the
/// widest float dtype of the leaves (f32 for no leaves).
///
/// ```
/// use rjax::{optim, Array};
/// let t = (Array::from_vec(vec![3.0f64], &[1]), Array::scalar(4.0f64));
/// assert_eq!(optim::global_norm(&t).item::<f64>(), 5.0);
/// ```
#[track_caller]
pub fn global_norm<T: Tree>(t: &T) -> Array {
    norm_of(&tree::leaves(t))
}

#[track_caller]
fn norm_of(leaves: &[Array]) -> Array {
    if let Some(x) = leaves.iter().find(|x| !x.dtype().is_float()) {
        panic!("global_norm: every leaf must be floating point, got {}", x.aval());
    }
    let dtype = if leaves.iter().any(|x| x.dtype() == DType::F64) { DType::F64 } else { DType::F32 };
    let mut total = Array::zeros(&[], dtype);
    for x in leaves {
        total = total + jnp::sum(&jnp::square(x), jnp::ALL, false).astype(dtype);
    }
    jnp::sqrt(&total)
}

/// Rescales the updates so that their [`global_norm`] is at most `max_norm`:
/// unchanged when the norm is below it, `u / norm * max_norm` otherwise
/// (stateless; as optax's `clip_by_global_norm`).
///
/// ```
/// use rjax::{optim, Array};
/// let t = optim::clip_by_global_norm(1.0);
/// let p = Array::zeros(&[2], rjax::DType::F64);
/// let (u, _) = t.update(&Array::from_vec(vec![6.0f64, 8.0], &[2]), t.init(&p), &p);
/// assert_eq!(u.to_vec::<f64>(), vec![0.6, 0.8]);
/// ```
pub fn clip_by_global_norm(max_norm: f64) -> GradientTransformation {
    GradientTransformation::new(ClipByGlobalNorm(max_norm))
}

struct ClipByGlobalNorm(f64);

impl Transformation for ClipByGlobalNorm {
    fn init(&self, _: &[Array]) -> OptState {
        OptState::empty("clip_by_global_norm")
    }
    fn update(&self, updates: Vec<Array>, state: OptState, _: &[Array]) -> (Vec<Array>, OptState) {
        state.expect_kind("clip_by_global_norm");
        if updates.is_empty() {
            return (updates, state);
        }
        let norm = norm_of(&updates);
        let keep = jnp::less(&norm, jnp::scalar_like(self.0, &norm));
        // the divisor is 1 where the branch is not taken, so that neither branch
        // nor its derivative divides by a zero norm
        let divisor = jnp::where_(&keep, jnp::ones_like(&norm), &norm);
        let out = updates
            .iter()
            .map(|u| {
                let clipped = u / &divisor.astype(u.dtype()) * self.0;
                jnp::where_(&keep, u, &clipped)
            })
            .collect();
        (out, state)
    }
}
