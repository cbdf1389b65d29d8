//! Division, remainders and powers with JAX's semantics:
//!
//! | function | integers | floats |
//! |---|---|---|
//! | [`divide`] (`/`) | true division: converted to `f32` first | IEEE division |
//! | [`floor_divide`] | rounds toward -inf (Python's `//`) | `floor(a / b)`, computed as Python does |
//! | [`remainder`] (`%`) | sign of the divisor (Python's `%`); `x % 0 == 0` | sign of the divisor |
//! | [`fmod`] | sign of the dividend (C's `fmod`); `fmod(x, 0) == 0` | sign of the dividend |
//! | [`power`] | exact, by squaring | `powf`; a plain integer exponent multiplies |
//!
//! Integer division by zero gives what XLA gives (`lax::div(x, 0)` is -1 for
//! signed and the maximum for unsigned types; [`floor_divide`] then adjusts it as
//! JAX does), never a panic. `i32::MIN / -1` wraps to `i32::MIN`.

use super::{ArrayLike, Operand, full_like, promote_args, promote_args_inexact, where_};
use crate::core::{Array, DType};
use crate::lax;

/// `a / b`: true division, as JAX's `divide` and `true_divide`. Integers and
/// bools are converted to `f32` first, so `3 / 2` is `1.5`; for truncating
/// integer division use [`lax::div`], for Python's `//` [`floor_divide`].
///
/// ```
/// use rjax::{numpy as jnp, Array, DType};
/// let i = Array::arange(0.0, 4.0, 1.0, DType::I32);
/// assert_eq!(jnp::divide(&i, 2).to_vec::<f32>(), vec![0.0, 0.5, 1.0, 1.5]);
/// assert_eq!((&i / 2).dtype(), DType::F32);
/// ```
#[track_caller]
pub fn divide(a: impl ArrayLike, b: impl ArrayLike) -> Array {
    let (a, b) = promote_args_inexact("divide", a, b);
    lax::div(&a, &b)
}

/// Another name of [`divide`] (JAX's `true_divide`).
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// assert_eq!(jnp::true_divide(&Array::scalar(3i32), 2).item::<f32>(), 1.5);
/// ```
#[track_caller]
pub fn true_divide(a: impl ArrayLike, b: impl ArrayLike) -> Array {
    divide(a, b)
}

/// `floor(a / b)` (Python's `a // b`), in the promoted dtype: for signed
/// integers the truncated quotient is lowered by one where the signs differ and
/// the division is inexact; for floats as CPython's `float_divmod`.
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let a = Array::from_vec(vec![7i32, -7, 7, -7], &[4]);
/// assert_eq!(jnp::floor_divide(&a, &Array::from_vec(vec![2i32, 2, -2, -2], &[4])).to_vec::<i32>(), vec![3, -4, -4, 3]);
/// assert_eq!(jnp::floor_divide(&Array::scalar(-7.0f64), 2.0).item::<f64>(), -4.0);
/// ```
#[track_caller]
pub fn floor_divide(a: impl ArrayLike, b: impl ArrayLike) -> Array {
    let (a, b) = promote_args("floor_divide", a, b);
    match a.dtype() {
        DType::U32 | DType::U8 => lax::div(&a, &b),
        DType::I32 => {
            let q = lax::div(&a, &b);
            let signs_differ = lax::ne(&lax::sign(&a), &lax::sign(&b));
            let inexact = lax::ne(&lax::rem(&a, &b), &full_like(&a, 0.0));
            lax::select(&lax::and(&signs_differ, &inexact), &lax::sub(&q, &full_like(&q, 1.0)), &q)
        }
        _ => float_divmod(&a, &b).0,
    }
}

/// Python's `divmod` on floats (CPython's `float_divmod`, as JAX computes it).
fn float_divmod(a: &Array, b: &Array) -> (Array, Array) {
    let m = lax::rem(a, b);
    let b_zero = lax::eq(b, &full_like(b, 0.0));
    let a_corrected = lax::select(&b_zero, a, &lax::sub(a, &m));
    let q = lax::div(&a_corrected, b);
    let fix = lax::and(&lax::ne(&m, &full_like(&m, 0.0)), &lax::ne(&lax::sign(b), &lax::sign(&m)));
    let m = lax::select(&fix, &lax::add(&m, b), &m);
    let q = lax::select(&fix, &lax::sub(&q, &full_like(&q, 1.0)), &q);
    (lax::round(&q), m)
}

/// Integer divisors of 0 replaced by 1, as JAX does before `remainder` and `fmod`.
fn nonzero_divisor(b: &Array) -> Array {
    if b.dtype().is_float() {
        return b.clone();
    }
    lax::select(&lax::eq(b, &full_like(b, 0.0)), &full_like(b, 1.0), b)
}

/// Remainder with the sign of the divisor (Python's `%`, JAX's `remainder` and
/// `mod`): `a - floor_divide(a, b) * b`. For integers `x % 0` is 0 (JAX replaces
/// a zero divisor by 1); for floats it is NaN. For C's remainder use [`fmod`].
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// assert_eq!(jnp::remainder(&Array::scalar(-7i32), 3).item::<i32>(), 2);
/// assert_eq!(jnp::remainder(&Array::scalar(7.0f32), -2.0).item::<f32>(), -1.0);
/// assert_eq!((Array::scalar(-7i32) % 3).item::<i32>(), 2);
/// ```
#[track_caller]
pub fn remainder(a: impl ArrayLike, b: impl ArrayLike) -> Array {
    let (a, b) = promote_args("remainder", a, b);
    let b = nonzero_divisor(&b);
    let t = lax::rem(&a, &b);
    let zero = full_like(&t, 0.0);
    let signs_differ = lax::ne(&lax::lt(&t, &zero), &lax::lt(&b, &zero));
    let plus = lax::and(&signs_differ, &lax::ne(&t, &zero));
    lax::select(&plus, &lax::add(&t, &b), &t)
}

/// Another name of [`remainder`] (JAX's `mod`).
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// assert_eq!(jnp::mod_(&Array::scalar(-1i32), 5).item::<i32>(), 4);
/// ```
#[track_caller]
pub fn mod_(a: impl ArrayLike, b: impl ArrayLike) -> Array {
    remainder(a, b)
}

/// Remainder with the sign of the dividend (C's `fmod`, XLA's `rem`). For
/// integers `fmod(x, 0)` is 0 (JAX replaces a zero divisor by 1).
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// assert_eq!(jnp::fmod(&Array::scalar(-7i32), 3).item::<i32>(), -1);
/// assert_eq!(jnp::fmod(&Array::scalar(-7.0f64), 2.0).item::<f64>(), -1.0);
/// ```
#[track_caller]
pub fn fmod(a: impl ArrayLike, b: impl ArrayLike) -> Array {
    let (a, b) = promote_args("fmod", a, b);
    lax::rem(&a, &nonzero_divisor(&b))
}

/// `(floor_divide(a, b), remainder(a, b))`, Python's `divmod`.
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let (q, r) = jnp::divmod(&Array::scalar(-7i32), 2);
/// assert_eq!((q.item::<i32>(), r.item::<i32>()), (-4, 1));
/// ```
#[track_caller]
pub fn divmod(a: impl ArrayLike, b: impl ArrayLike) -> (Array, Array) {
    let (a, b) = (a.into_operand(), b.into_operand());
    (floor_divide(a.clone(), b.clone()), remainder(a, b))
}

/// `a ** b`, as JAX's `power`:
/// - a plain integer exponent (`power(&x, 2)`) keeps `x`'s dtype and multiplies
///   by squaring (exact for integers, `x * x` for floats, derivative `n x^(n-1)`
///   also at 0); a negative one gives `1 / x^|n|` for floats and panics for
///   integers;
/// - integer (or bool) arrays to integer powers are exact, by squaring over the
///   exponent's lowest 6 bits, and a negative exponent gives 0 (but `1` for 1
///   and `±1` for -1), as JAX;
/// - otherwise both are promoted and `lax::pow` applies (integers with a float
///   exponent become `f32`).
///
/// ```
/// use rjax::{numpy as jnp, Array, DType};
/// let i = Array::arange(0.0, 4.0, 1.0, DType::I32);
/// assert_eq!(jnp::power(&i, 2).to_vec::<i32>(), vec![0, 1, 4, 9]);
/// assert_eq!(jnp::power(&i, &i).to_vec::<i32>(), vec![1, 1, 4, 27]);
/// assert_eq!(jnp::power(&i, 0.5).dtype(), DType::F32);
/// assert_eq!(jnp::power(&Array::scalar(2.0f64), -2).item::<f64>(), 0.25);
/// ```
#[track_caller]
pub fn power(a: impl ArrayLike, b: impl ArrayLike) -> Array {
    let (a, b) = (a.into_operand(), b.into_operand());
    if let Operand::Int(n) = b {
        let x = super::asarray(a);
        let x = if x.dtype() == DType::Bool { lax::convert_element_type(&x, DType::I32) } else { x };
        return integer_pow(&x, n);
    }
    let (x, y) = promote_args("power", a, b);
    if x.dtype().is_float() {
        return lax::pow(&x, &y);
    }
    if x.dtype() == DType::Bool {
        let i = |v: &Array| lax::convert_element_type(v, DType::I32);
        return lax::convert_element_type(&pow_int_int(&i(&x), &i(&y)), DType::Bool);
    }
    pow_int_int(&x, &y)
}

/// `x ** n` for a known integer `n` by squaring (JAX's `lax.integer_pow`).
#[track_caller]
fn integer_pow(x: &Array, n: i64) -> Array {
    if n < 0 && !x.dtype().is_float() {
        panic!(
            "power: integers cannot be raised to the negative power {n} (got {}); convert to a float first",
            x.aval()
        );
    }
    let mut k = n.unsigned_abs();
    let mut acc: Option<Array> = None;
    let mut base = x.clone();
    while k > 0 {
        if k & 1 == 1 {
            acc = Some(match acc {
                Some(a) => lax::mul(&a, &base),
                None => base.clone(),
            });
        }
        k >>= 1;
        if k > 0 {
            base = lax::mul(&base, &base);
        }
    }
    let p = acc.unwrap_or_else(|| full_like(x, 1.0));
    if n < 0 { lax::div(&full_like(&p, 1.0), &p) } else { p }
}

/// Integer base to integer powers (arrays), by squaring over the exponent's
/// lowest 6 bits, exactly as JAX's `_pow_int_int`.
fn pow_int_int(x: &Array, y: &Array) -> Array {
    let (zero, one) = (full_like(y, 0.0), full_like(y, 1.0));
    let base_zero = lax::and(&lax::eq(x, &full_like(x, 0.0)), &lax::ne(y, &zero));
    let mut acc = lax::select(&base_zero, &full_like(x, 0.0), &full_like(x, 1.0));
    let (mut x, mut y) = (x.clone(), y.clone());
    for _ in 0..6 {
        acc = where_(&lax::and(&y, &one), lax::mul(&acc, &x), &acc);
        x = lax::mul(&x, &x);
        y = lax::shift_right_logical(&y, &one);
    }
    acc
}
