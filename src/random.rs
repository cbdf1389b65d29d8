//! Explicit, splittable pseudo-random numbers (JAX's `jax.random`), counter-based
//! on ChaCha20.
//!
//! A [`Key`] holds 8 u32 words of ChaCha20 key material. Every function takes a
//! key and returns the same numbers for the same key, on every run and backend:
//! reusing a key reuses its numbers (that is the contract, as in JAX), so split
//! a key into fresh ones for independent draws. The exact algorithm, which the
//! compiled backends reproduce bit for bit, is documented in `docs/prng.md`.
//!
//! Batches of keys: a stack of keys `u32[..., 8]` (from [`split_stack`]) gives
//! per-key results stacked along its leading axes in [`bits`], [`uniform`],
//! [`normal`], [`truncated_normal`], [`bernoulli`], [`randint`],
//! [`permutation`], [`split_stack`] and [`fold_in`] (each equal to calling the
//! function on every key of the stack). [`split`] and [`split2`], and the
//! functions of [`nn`](crate::nn) and [`data`](crate::data) that take a key,
//! need a single key `u32[8]` and panic, naming the stack's shape, when given a
//! stack. Inside [`vmap`](crate::vmap) over a stack of keys every function sees
//! one key, so all of them work there.
//!
//! ```
//! use rjax::{random, DType};
//! let key = random::key(0);
//! let [k1, k2] = random::split2(&key);
//! let x = random::normal(&k1, &[3], DType::F32);
//! let y = random::normal(&k2, &[3], DType::F32);
//! assert_ne!(x.to_vec::<f32>(), y.to_vec::<f32>());
//! assert_eq!(x.to_vec::<f32>(), random::normal(&k1, &[3], DType::F32).to_vec::<f32>());
//! ```

use crate::Tree;
use crate::core::{Array, DType, Element};
use crate::lax::{self, KEY_WORDS, random_bits};
use crate::numpy as jnp;

/// A PRNG key: `u32[..., 8]` (leading axes hold a batch of keys, as `vmap` makes).
#[derive(Clone, Debug, Tree)]
pub struct Key(pub Array);

/// Stream ids keep the uses of one key apart: draws, splits and fold-ins never
/// share keystream words.
const STREAM_BITS: u32 = 0;
const STREAM_SPLIT: u32 = 1;
const STREAM_FOLD_IN: u32 = 2;

/// A key from a 64-bit seed: words `[seed_lo, seed_hi, 0, 0, 0, 0, 0, 0]`.
///
/// ```
/// let k = rjax::random::key(42);
/// assert_eq!(k.data().to_vec::<u32>(), vec![42, 0, 0, 0, 0, 0, 0, 0]);
/// ```
pub fn key(seed: u64) -> Key {
    let mut w = vec![0u32; KEY_WORDS];
    w[0] = seed as u32;
    w[1] = (seed >> 32) as u32;
    Key(Array::from_vec(w, &[KEY_WORDS]))
}

impl Key {
    /// The key words, `u32[..., 8]`.
    ///
    /// ```
    /// assert_eq!(rjax::random::key(1).data().shape(), &[8]);
    /// ```
    pub fn data(&self) -> &Array {
        &self.0
    }

    /// The leading (batch) shape of a stack of keys; `[]` for one key.
    ///
    /// ```
    /// let ks = rjax::random::split_stack(&rjax::random::key(1), 4);
    /// assert_eq!(ks.batch_shape(), &[4]);
    /// ```
    pub fn batch_shape(&self) -> &[usize] {
        &self.0.shape()[..self.0.ndim() - 1]
    }

    /// Key `i` of a stack of keys made by [`split_stack`] (along its first
    /// axis). Panics for a single key, which is not a stack.
    ///
    /// ```
    /// let ks = rjax::random::split_stack(&rjax::random::key(1), 4);
    /// assert_eq!(ks.get(2).data().shape(), &[8]);
    /// ```
    #[track_caller]
    pub fn get(&self, i: usize) -> Key {
        if self.0.ndim() < 2 {
            panic!(
                "Key::get: the key has shape {:?}, a single key rather than a stack of keys; use it as it is, \
                 or make a stack with random::split_stack",
                self.0.shape()
            );
        }
        Key(jnp::index(&self.0, crate::s![i]))
    }
}

/// What to do instead of passing a stack of keys to a function that needs one key.
pub(crate) const ONE_KEY_HINT: &str = "pass one key (Key::get picks one of a stack) or use vmap over the stack";

/// Panics unless `key` is a single key, `u32[8]`: a stack of keys (`[..., 8]`,
/// as [`split_stack`] makes) is named as such, followed by `hint`. Inside
/// `vmap` over a stack, functions see one key, so this passes there.
#[track_caller]
pub(crate) fn expect_single(op: &str, key: &Key, hint: &str) {
    let shape = key.0.shape();
    if shape == [KEY_WORDS] {
        return;
    }
    if shape.len() > 1 && shape[shape.len() - 1] == KEY_WORDS {
        panic!("{op}: expected a single key (shape [8]), got a batch of keys of shape {shape:?}; {hint}");
    }
    panic!(
        "{op}: expected a key (u32 of shape [8]), got an array of shape {shape:?}; make keys with random::key \
         and split them with random::split"
    );
}

/// A stream id `u32[..., 2]` matching the key's batch shape.
fn stream(key: &Key, lo: &Array, id: u32) -> Array {
    let mut shape = key.batch_shape().to_vec();
    shape.push(1);
    let lo = jnp::broadcast_to(lo, &shape);
    let hi = Array::full(&shape, id as f64, DType::U32);
    lax::concatenate(&[&lo, &hi], shape.len() - 1)
}

/// `shape` raw u32 words for `key` (per key, for a stack of keys).
///
/// ```
/// let b = rjax::random::bits(&rjax::random::key(0), &[2, 3]);
/// assert_eq!((b.shape(), b.dtype()), (&[2, 3][..], rjax::DType::U32));
/// ```
pub fn bits(key: &Key, shape: &[usize]) -> Array {
    let zero = Array::scalar(0u32);
    random_bits(&key.0, &stream(key, &zero, STREAM_BITS), shape)
}

/// `n` new keys as a stack `u32[..., n, 8]` (the form `vmap` maps over).
///
/// ```
/// let ks = rjax::random::split_stack(&rjax::random::key(0), 3);
/// assert_eq!(ks.data().shape(), &[3, 8]);
/// ```
#[track_caller]
pub fn split_stack(key: &Key, n: usize) -> Key {
    let Some(len) = n.checked_mul(KEY_WORDS) else {
        panic!("split_stack: {n} keys of {KEY_WORDS} words are more than usize::MAX words");
    };
    let zero = Array::scalar(0u32);
    let words = random_bits(&key.0, &stream(key, &zero, STREAM_SPLIT), &[len]);
    let mut shape = key.batch_shape().to_vec();
    shape.extend([n, KEY_WORDS]);
    Key(lax::reshape(&words, &shape))
}

/// What to do instead of splitting a stack of keys with `split` or `split2`.
const SPLIT_HINT: &str =
    "split each key (Key::get) or use vmap; random::split_stack splits every key of a stack at once";

/// `n` new independent keys. `key` must be a single key (`u32[8]`); a stack of
/// keys panics (use [`split_stack`] for stacks, which also works on one key).
///
/// ```
/// let ks = rjax::random::split(&rjax::random::key(0), 3);
/// assert_eq!(ks.len(), 3);
/// ```
#[track_caller]
pub fn split(key: &Key, n: usize) -> Vec<Key> {
    expect_single("random::split", key, SPLIT_HINT);
    let s = split_stack(key, n);
    (0..n).map(|i| s.get(i)).collect()
}

/// Two new keys, as an array for destructuring: `let [a, b] = split2(&key);`.
/// `key` must be a single key (`u32[8]`); a stack of keys panics.
///
/// ```
/// let [a, b] = rjax::random::split2(&rjax::random::key(0));
/// assert_ne!(a.data().to_vec::<u32>(), b.data().to_vec::<u32>());
/// ```
#[track_caller]
pub fn split2(key: &Key) -> [Key; 2] {
    expect_single("random::split2", key, SPLIT_HINT);
    let s = split_stack(key, 2);
    [s.get(0), s.get(1)]
}

/// A new key derived from `key` and the integer `data` (an epoch or step number,
/// possibly a traced u32 scalar).
///
/// ```
/// use rjax::random;
/// let k = random::key(0);
/// assert_ne!(random::fold_in(&k, 1).data().to_vec::<u32>(), random::fold_in(&k, 2).data().to_vec::<u32>());
/// ```
pub fn fold_in(key: &Key, data: u32) -> Key {
    fold_in_array(key, &Array::scalar(data))
}

/// [`fold_in`] with the data as a u32 array (for values computed inside a transformation).
///
/// ```
/// use rjax::{random, Array};
/// let a = random::fold_in_array(&random::key(0), &Array::scalar(5u32));
/// assert_eq!(a.data().to_vec::<u32>(), random::fold_in(&random::key(0), 5).data().to_vec::<u32>());
/// ```
#[track_caller]
pub fn fold_in_array(key: &Key, data: &Array) -> Key {
    if data.dtype() != DType::U32 || data.ndim() != 0 {
        panic!("fold_in: data must be a u32 scalar, got {}", data.aval());
    }
    Key(random_bits(&key.0, &stream(key, data, STREAM_FOLD_IN), &[KEY_WORDS]))
}

fn float_dtype(op: &str, dtype: DType) {
    if !dtype.is_float() {
        panic!("{op}: dtype must be f32 or f64, got {dtype}");
    }
}

/// `v` as an array of `shape`: a broadcast scalar, so that under `jit` the
/// program gets the scalar, not a full array of it as a captured constant
/// (made on the host and held on the device beside the program).
fn splat<T: Element>(v: T, shape: &[usize]) -> Array {
    jnp::broadcast_to(&Array::scalar(v), shape)
}

/// Uniform on [0, 1): f32 from the top 24 bits of one word, f64 from 53 bits of
/// two words (27 + 26, as NumPy), both exact.
fn unit(key: &Key, shape: &[usize], dtype: DType) -> Array {
    let full = full_shape(key, shape);
    let u32s = |v: u32| splat(v, &full);
    if dtype == DType::F32 {
        let w = lax::shift_right_logical(&bits(key, shape), &u32s(8));
        return lax::convert_element_type(&w, DType::F32) * 2f64.powi(-24);
    }
    let (a, b) = two_words(key, shape);
    let sh = |x: &Array, s: u32| lax::convert_element_type(&lax::shift_right_logical(x, &u32s(s)), DType::F64);
    (sh(&a, 5) * 2f64.powi(26) + sh(&b, 6)) * 2f64.powi(-53)
}

/// Words `2i` and `2i + 1` of the stream, for values that need 64 bits.
fn two_words(key: &Key, shape: &[usize]) -> (Array, Array) {
    let mut s2 = shape.to_vec();
    s2.push(2);
    let w = bits(key, &s2);
    let full = full_shape(key, shape);
    let last = full.len();
    let pick = |i: usize| {
        let (mut start, mut limit) = (vec![0; last + 1], full.clone());
        start[last] = i;
        limit.push(i + 1);
        lax::reshape(&lax::slice(&w, &start, &limit, &vec![1; last + 1]), &full)
    };
    (pick(0), pick(1))
}

/// Uniform on the open interval (-1, 1), exactly symmetric: `(2k + 1) / 2^b - 1`.
fn open_sym(key: &Key, shape: &[usize], dtype: DType) -> Array {
    let full = full_shape(key, shape);
    let u32s = |v: u32| splat(v, &full);
    if dtype == DType::F32 {
        let k = lax::shift_right_logical(&bits(key, shape), &u32s(9));
        let odd = lax::add(&lax::add(&k, &k), &u32s(1));
        return lax::convert_element_type(&odd, DType::F32) * 2f64.powi(-23) - 1.0;
    }
    let (a, b) = two_words(key, shape);
    let sh = |x: &Array| lax::convert_element_type(&lax::shift_right_logical(x, &u32s(6)), DType::F64);
    let k = sh(&a) * 2f64.powi(26) + sh(&b);
    (k * 2.0 + 1.0) * 2f64.powi(-52) - 1.0
}

/// Leading key axes followed by `shape`.
fn full_shape(key: &Key, shape: &[usize]) -> Vec<usize> {
    let mut s = key.batch_shape().to_vec();
    s.extend_from_slice(shape);
    s
}

/// Uniform floats on `[lo, hi)`.
///
/// ```
/// use rjax::{random, DType};
/// let u = random::uniform(&random::key(0), &[1000], DType::F64, -1.0, 1.0).to_vec::<f64>();
/// assert!(u.iter().all(|v| (-1.0..1.0).contains(v)));
/// ```
#[track_caller]
pub fn uniform(key: &Key, shape: &[usize], dtype: DType, lo: f64, hi: f64) -> Array {
    float_dtype("uniform", dtype);
    unit(key, shape, dtype) * (hi - lo) + lo
}

/// Standard normal floats (`sqrt(2) * erf_inv(v)` with `v` uniform on (-1, 1), as JAX).
///
/// ```
/// use rjax::{random, DType};
/// let z = random::normal(&random::key(0), &[10000], DType::F64);
/// assert!(z.mean().item::<f64>().abs() < 0.05);
/// ```
#[track_caller]
pub fn normal(key: &Key, shape: &[usize], dtype: DType) -> Array {
    float_dtype("normal", dtype);
    lax::erf_inv(&open_sym(key, shape, dtype)) * std::f64::consts::SQRT_2
}

/// Normal floats truncated to `[lower, upper]` (inverse-CDF sampling, as JAX).
///
/// ```
/// use rjax::{random, DType};
/// let z = random::truncated_normal(&random::key(0), -2.0, 2.0, &[1000], DType::F32).to_vec::<f32>();
/// assert!(z.iter().all(|v| (-2.0..=2.0).contains(v)));
/// ```
#[track_caller]
pub fn truncated_normal(key: &Key, lower: f64, upper: f64, shape: &[usize], dtype: DType) -> Array {
    float_dtype("truncated_normal", dtype);
    if lower.is_nan() || upper.is_nan() || lower >= upper {
        panic!("truncated_normal: lower {lower} must be below upper {upper}");
    }
    let s2 = std::f64::consts::SQRT_2;
    let (a, b) = (libm::erf(lower / s2), libm::erf(upper / s2));
    // v in (-1, 1) -> u in (a, b)
    let v = open_sym(key, shape, dtype);
    let u = (v + 1.0) * ((b - a) / 2.0) + a;
    let z = lax::erf_inv(&u) * s2;
    jnp::clip(&z, lower, upper)
}

/// Booleans that are true with probability `p`.
///
/// ```
/// use rjax::random;
/// let b = random::bernoulli(&random::key(0), 0.3, &[10000]);
/// let frac = b.astype(rjax::DType::F64).mean().item::<f64>();
/// assert!((frac - 0.3).abs() < 0.02);
/// ```
#[track_caller]
pub fn bernoulli(key: &Key, p: f64, shape: &[usize]) -> Array {
    let u = unit(key, shape, DType::F32);
    jnp::less(&u, jnp::scalar_like(p, &u))
}

/// Integers uniform on `[lo, hi)` (i32), from one word per value reduced modulo
/// the range (a bias below `range / 2^32`).
///
/// ```
/// use rjax::random;
/// let r = random::randint(&random::key(0), &[100], 3, 7).to_vec::<i32>();
/// assert!(r.iter().all(|v| (3..7).contains(v)));
/// ```
#[track_caller]
pub fn randint(key: &Key, shape: &[usize], lo: i32, hi: i32) -> Array {
    if lo >= hi {
        panic!("randint: lo {lo} must be below hi {hi}");
    }
    let range = (hi as i64 - lo as i64) as u32;
    let full = full_shape(key, shape);
    let r = lax::rem(&bits(key, shape), &splat(range, &full));
    // lo + r in i32 via wrapping arithmetic on the u32 bit pattern
    let sum = lax::add(&r, &splat(lo as u32, &full));
    let hi_bit = lax::shift_right_logical(&sum, &splat(31u32, &full));
    let low31 = lax::and(&sum, &splat(0x7fff_ffffu32, &full));
    // reassemble two's complement: value = low31 - hi_bit * 2^31
    let low = lax::convert_element_type(&low31, DType::I32);
    let neg = lax::mul(&lax::convert_element_type(&hi_bit, DType::I32), &splat(i32::MIN, &full));
    lax::add(&low, &neg)
}

/// A random permutation of `0..n` (i32), by sorting 53-bit uniform keys.
///
/// ```
/// use rjax::random;
/// let mut p = random::permutation(&random::key(0), 5).to_vec::<i32>();
/// p.sort();
/// assert_eq!(p, vec![0, 1, 2, 3, 4]);
/// ```
pub fn permutation(key: &Key, n: usize) -> Array {
    let u = unit(key, &[n], DType::F64);
    lax::argsort(&u, u.ndim() - 1)
}
