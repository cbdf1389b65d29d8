//! Weight initializers: LeCun normal (Flax's default), Glorot uniform (Keras's
//! default), Kaiming uniform (PyTorch's `nn.Linear` default) and zeros.
//!
//! Fans follow JAX's `variance_scaling`: for a weight of shape `[.., in, out]`,
//! `fan_in = in * receptive` and `fan_out = out * receptive`, where `receptive`
//! is the product of the leading axes (1 for a dense layer's `[in, out]`).
//!
//! Every initializer takes a single key (`u32[8]`) and returns an array of
//! exactly the shape asked for; a stack of keys panics, naming its shape. To
//! initialize a stack of layers (an ensemble), [`vmap`](crate::vmap) the
//! initializer over a stack of keys.

use crate::core::{Array, DType};
use crate::random::{self, Key};

/// How [`Dense::new`](super::Dense::new) initializes a layer's weight and bias.
///
/// ```
/// use rjax::{nn::{Dense, Init}, random};
/// let d = Dense::new(&random::key(0), 4, 2, Init::GlorotUniform);
/// assert_eq!(d.b.to_vec::<f32>(), vec![0.0, 0.0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// Flax's `nn.Dense` default: [`lecun_normal`] weights, zero bias.
    LecunNormal,
    /// Keras's `Dense` default: [`glorot_uniform`] weights, zero bias.
    GlorotUniform,
    /// PyTorch's `nn.Linear` default: weights and bias both
    /// [`kaiming_uniform`], `U(-1/sqrt(in), 1/sqrt(in))`.
    KaimingUniform,
    /// Zero weights and bias.
    Zeros,
}

impl Init {
    /// A weight `[fan_in, fan_out]` and a bias `[fan_out]` (the bias from a key
    /// split off `key`). `key` must be a single key; a stack of keys panics
    /// (map over a stack with [`vmap`](crate::vmap) to initialize a stack of layers).
    ///
    /// ```
    /// use rjax::{nn::Init, random, DType};
    /// let (w, b) = Init::KaimingUniform.dense(&random::key(0), 3, 5, DType::F64);
    /// assert_eq!((w.shape(), b.shape()), (&[3, 5][..], &[5][..]));
    /// ```
    #[track_caller]
    pub fn dense(self, key: &Key, fan_in: usize, fan_out: usize, dtype: DType) -> (Array, Array) {
        random::expect_single("Init::dense", key, random::ONE_KEY_HINT);
        let [kw, kb] = random::split2(key);
        let shape = [fan_in, fan_out];
        match self {
            Init::LecunNormal => (lecun_normal(&kw, &shape, dtype), zeros(&[fan_out], dtype)),
            Init::GlorotUniform => (glorot_uniform(&kw, &shape, dtype), zeros(&[fan_out], dtype)),
            Init::KaimingUniform => {
                (kaiming_uniform(&kw, &shape, fan_in, dtype), kaiming_uniform(&kb, &[fan_out], fan_in, dtype))
            }
            Init::Zeros => (zeros(&shape, dtype), zeros(&[fan_out], dtype)),
        }
    }
}

/// `(fan_in, fan_out)` of a weight shape, as JAX's `_compute_fans` with
/// `in_axis = -2`, `out_axis = -1`.
#[track_caller]
fn fans(op: &str, shape: &[usize]) -> (f64, f64) {
    let n = shape.len();
    if n < 2 {
        panic!("{op}: a weight needs at least 2 axes ([.., in, out]), got shape {shape:?}");
    }
    // in floating point: a shape too large to allocate is reported when it is drawn
    let receptive: f64 = shape[..n - 2].iter().map(|&d| d as f64).product();
    (shape[n - 2] as f64 * receptive, shape[n - 1] as f64 * receptive)
}

#[track_caller]
fn positive(op: &str, fan: f64) {
    if fan <= 0.0 {
        panic!("{op}: the fan is 0, so the variance 1/fan is undefined");
    }
}

/// The standard deviation of a standard normal truncated to `[-2, 2]` (JAX's
/// constant, written as JAX writes it).
#[allow(clippy::excessive_precision)]
const TRUNCATED_STD: f64 = 0.879_625_661_034_239_78;

/// LeCun normal (Flax's default kernel init, JAX's `lecun_normal`): a normal
/// truncated to two standard deviations, rescaled to variance `1 / fan_in`,
/// i.e. `truncated_normal(-2, 2) * sqrt(1 / fan_in) / 0.87962566103423978`.
///
/// ```
/// use rjax::{nn, random, DType};
/// let w = nn::lecun_normal(&random::key(0), &[100, 50], DType::F32);
/// let bound = 2.0 * 0.1 / 0.8796;
/// assert!(w.to_vec::<f32>().iter().all(|v| v.abs() <= bound));
/// ```
#[track_caller]
pub fn lecun_normal(key: &Key, shape: &[usize], dtype: DType) -> Array {
    random::expect_single("lecun_normal", key, random::ONE_KEY_HINT);
    let (fan_in, _) = fans("lecun_normal", shape);
    positive("lecun_normal", fan_in);
    random::truncated_normal(key, -2.0, 2.0, shape, dtype) * ((1.0 / fan_in).sqrt() / TRUNCATED_STD)
}

/// Glorot (Xavier) uniform (Keras's default kernel init, JAX's
/// `glorot_uniform`): `U(-l, l)` with `l = sqrt(6 / (fan_in + fan_out))`, i.e.
/// variance `2 / (fan_in + fan_out)`.
///
/// ```
/// use rjax::{nn, random, DType};
/// let w = nn::glorot_uniform(&random::key(0), &[4, 2], DType::F64);
/// assert!(w.to_vec::<f64>().iter().all(|v| v.abs() < 1.0)); // sqrt(6 / 6)
/// ```
#[track_caller]
pub fn glorot_uniform(key: &Key, shape: &[usize], dtype: DType) -> Array {
    random::expect_single("glorot_uniform", key, random::ONE_KEY_HINT);
    let (fan_in, fan_out) = fans("glorot_uniform", shape);
    positive("glorot_uniform", fan_in + fan_out);
    random::uniform(key, shape, dtype, -1.0, 1.0) * (6.0 / (fan_in + fan_out)).sqrt()
}

/// PyTorch's `nn.Linear` default for weights and bias: `U(-1/sqrt(fan_in),
/// 1/sqrt(fan_in))` (`kaiming_uniform_` with `a = sqrt(5)`), where `fan_in` is
/// the layer's input size, passed explicitly so the bias can use it too.
///
/// ```
/// use rjax::{nn, random, DType};
/// let b = nn::kaiming_uniform(&random::key(0), &[10], 4, DType::F32);
/// assert!(b.to_vec::<f32>().iter().all(|v| v.abs() <= 0.5));
/// ```
#[track_caller]
pub fn kaiming_uniform(key: &Key, shape: &[usize], fan_in: usize, dtype: DType) -> Array {
    random::expect_single("kaiming_uniform", key, random::ONE_KEY_HINT);
    positive("kaiming_uniform", fan_in as f64);
    let bound = 1.0 / (fan_in as f64).sqrt();
    random::uniform(key, shape, dtype, -bound, bound)
}

/// Zeros.
///
/// ```
/// assert_eq!(rjax::nn::zeros(&[2], rjax::DType::F32).to_vec::<f32>(), vec![0.0, 0.0]);
/// ```
#[track_caller]
pub fn zeros(shape: &[usize], dtype: DType) -> Array {
    Array::zeros(shape, dtype)
}
