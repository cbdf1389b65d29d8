//! Activations, dropout, losses and metrics, written with rjax operations (so
//! `grad`, `vmap` and `jit` apply).

use crate::core::{Array, DType};
use crate::numpy as jnp;
use crate::random::{self, Key};

/// `max(x, 0)`, with derivative 0 at 0 (as JAX's `jax.nn.relu`).
///
/// ```
/// let x = rjax::Array::from_vec(vec![-1.0f32, 0.0, 2.0], &[3]);
/// assert_eq!(rjax::nn::relu(&x).to_vec::<f32>(), vec![0.0, 0.0, 2.0]);
/// ```
#[track_caller]
pub fn relu(x: &Array) -> Array {
    jnp::relu(x)
}

/// Panics unless `rate` is a probability.
#[track_caller]
pub(crate) fn check_rate(op: &str, rate: f64) {
    if !(0.0..=1.0).contains(&rate) {
        panic!("{op}: the dropout rate must be in [0, 1], got {rate}");
    }
}

/// Inverted dropout: when `training`, each element is zeroed with probability
/// `rate` and the kept ones are scaled by `1 / (1 - rate)`, so the expected
/// value is unchanged; the identity when not training or when `rate` is 0, and
/// zeros when `rate` is 1 (as Flax's `nn.Dropout`). The same key gives the
/// same mask; use a fresh key per step. `key` must be a single key; a stack of
/// keys panics.
///
/// ```
/// use rjax::{nn, random, Array, DType};
/// let x = Array::ones(&[1000], DType::F32);
/// let y = nn::dropout(&random::key(0), 0.5, &x, true).to_vec::<f32>();
/// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
/// assert_eq!(nn::dropout(&random::key(0), 0.5, &x, false).to_vec::<f32>(), x.to_vec::<f32>());
/// ```
#[track_caller]
pub fn dropout(key: &Key, rate: f64, x: &Array, training: bool) -> Array {
    check_rate("dropout", rate);
    random::expect_single("dropout", key, random::ONE_KEY_HINT);
    if !x.dtype().is_float() {
        panic!("dropout: expected a floating-point array, got {}", x.aval());
    }
    if !training || rate == 0.0 {
        return x.clone();
    }
    if rate == 1.0 {
        return jnp::zeros_like(x);
    }
    let keep = random::bernoulli(key, 1.0 - rate, x.shape());
    jnp::where_(&keep, &(x / (1.0 - rate)), jnp::zeros_like(x))
}

/// `x - logsumexp(x)` along `axis`, computed stably as JAX's
/// `jax.nn.log_softmax`: `shifted - log(sum(exp(shifted)))` with
/// `shifted = x - max(x)` (the maximum's derivative stopped, so gradients are
/// exact; a lane whose maximum is infinite is shifted by 0 instead). Unlike
/// `x - logsumexp(x)` this does not round through `max + log(sum)`.
///
/// ```
/// use rjax::{nn, Array};
/// let y = nn::log_softmax(&Array::from_vec(vec![1000.0f64, 1000.0], &[2]), -1);
/// assert_eq!(y.to_vec::<f64>(), vec![-(2f64.ln()); 2]);
/// ```
#[track_caller]
pub fn log_softmax(x: &Array, axis: isize) -> Array {
    if !x.dtype().is_float() {
        panic!("log_softmax: expected a floating-point array, got {}", x.aval());
    }
    let m = jnp::stop_gradient(&jnp::max(x, axis, true));
    let finite = jnp::less(jnp::abs(&m), jnp::full_like(&m, f64::INFINITY));
    let shifted = x - &jnp::where_(&finite, &m, jnp::zeros_like(&m));
    &shifted - &jnp::log(&jnp::sum(&jnp::exp(&shifted), axis, true))
}

/// Checks `logits: [..., C]` float and `labels: [...]` integer.
#[track_caller]
fn check_labels(op: &str, logits: &Array, labels: &Array) {
    if logits.ndim() == 0 || !logits.dtype().is_float() {
        panic!("{op}: logits must be a float array with a class axis last, got {}", logits.aval());
    }
    if !labels.dtype().is_int() {
        panic!("{op}: labels must be integers, got {}", labels.aval());
    }
    if labels.shape() != &logits.shape()[..logits.ndim() - 1] {
        panic!(
            "{op}: labels of shape {:?} do not match logits of shape {:?} (expected {:?})",
            labels.shape(),
            logits.shape(),
            &logits.shape()[..logits.ndim() - 1]
        );
    }
}

/// Per-example softmax cross-entropy with integer labels (as optax's
/// `softmax_cross_entropy_with_integer_labels`): for `logits: [..., C]` and
/// `labels: [...]` (integers in `0..C`), `logsumexp(logits) - logits[label]`,
/// of shape `[...]`. As in optax (its `take_along_axis`), a label in `-C..0`
/// counts from the end and a label outside `-C..C` gives NaN, so a wrong label
/// shows in the loss instead of training silently on another class.
/// [`mean_cross_entropy`] averages it.
///
/// ```
/// use rjax::{nn, Array};
/// let logits = Array::from_vec(vec![0.0f64, 0.0, 5.0, 0.0], &[2, 2]);
/// let loss = nn::softmax_cross_entropy_with_integer_labels(&logits, &Array::from_vec(vec![1i32, 0], &[2]));
/// let l = loss.to_vec::<f64>();
/// assert!((l[0] - 2f64.ln()).abs() < 1e-15);
/// assert!((l[1] - (1.0 + (-5f64).exp()).ln()).abs() < 1e-15);
/// let bad = nn::softmax_cross_entropy_with_integer_labels(&logits, &Array::from_vec(vec![2i32, 0], &[2]));
/// assert!(bad.to_vec::<f64>()[0].is_nan());
/// ```
#[track_caller]
pub fn softmax_cross_entropy_with_integer_labels(logits: &Array, labels: &Array) -> Array {
    check_labels("softmax_cross_entropy_with_integer_labels", logits, labels);
    let label_logits = jnp::take_along_axis(logits, &jnp::expand_dims(labels, -1), -1);
    jnp::logsumexp(logits, -1, false) - jnp::squeeze(&label_logits, &[-1])
}

/// The mean over all examples of [`softmax_cross_entropy_with_integer_labels`]: a scalar.
///
/// ```
/// use rjax::{nn, Array, DType};
/// let l = nn::mean_cross_entropy(&Array::zeros(&[4, 10], DType::F32), &Array::zeros(&[4], DType::I32));
/// assert!((l.item::<f32>() - 10f32.ln()).abs() < 1e-6);
/// ```
#[track_caller]
pub fn mean_cross_entropy(logits: &Array, labels: &Array) -> Array {
    jnp::mean(&softmax_cross_entropy_with_integer_labels(logits, labels), jnp::ALL, false)
}

/// The fraction of examples whose largest logit (the first, on ties) is at the
/// label: an f32 scalar, `correct / n` (the count is exact; an empty batch gives NaN).
///
/// ```
/// use rjax::{nn, Array};
/// let logits = Array::from_vec(vec![0.1f32, 0.9, 0.8, 0.2, 0.3, 0.7], &[3, 2]);
/// let acc = nn::accuracy(&logits, &Array::from_vec(vec![1i32, 0, 0], &[3]));
/// assert_eq!(acc.item::<f32>(), (2.0f64 / 3.0) as f32);
/// ```
#[track_caller]
pub fn accuracy(logits: &Array, labels: &Array) -> Array {
    check_labels("accuracy", logits, labels);
    let pred = jnp::argmax(logits, -1);
    let hit = jnp::equal(&pred, labels.astype(pred.dtype()));
    let correct = jnp::sum(&hit.astype(DType::I32), jnp::ALL, false);
    (correct.astype(DType::F64) / labels.size() as f64).astype(DType::F32)
}
