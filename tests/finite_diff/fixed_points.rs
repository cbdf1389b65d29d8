//! Values and derivatives at hand-computed points, beside the finite
//! differences (as dfdx keeps a value-and-gradient test beside each op): the
//! places random inputs avoid or rarely meet, such as ties of max/min and of
//! reductions, a zero base of pow, the jumps of rem, stable sorting and
//! clamped indices, and one point per smooth primitive.
//!
//! Every differentiable elementwise primitive of the catalogue needs a row in
//! [`UNARY`] or [`BINARY`] (or a test here): see
//! `every_differentiable_elementwise_primitive_has_a_fixed_point`.

use crate::common::catalogue::PRIMITIVES;
use rjax::numpy as jnp;
use rjax::{Array, grad, jvp, lax, vjp};
use std::f64::consts::{E, FRAC_2_SQRT_PI, LN_2, PI};

type Un = fn(&Array) -> Array;
type Bin = fn(&Array, &Array) -> Array;

fn f64s(v: &[f64]) -> Array {
    Array::from_vec(v.to_vec(), &[v.len()])
}

fn sc(v: f64) -> Array {
    Array::scalar(v)
}

fn host(x: &Array) -> Vec<f64> {
    x.to_vec::<f64>()
}

/// Equal within 4e-16 relative to `max(1, |want|)` (a few ulps of rounding
/// between the hand formula and the library's).
#[track_caller]
fn near(got: f64, want: f64, what: &str) {
    assert!((got - want).abs() <= 4e-16 * want.abs().max(1.0), "{what}: got {got}, want {want}");
}

/// `(primitive, x, f(x), f'(x))`.
const UNARY: &[(&str, Un, f64, f64, f64)] = &[
    ("exp", lax::exp, 1.0, E, E),
    ("log", lax::log, 2.0, LN_2, 0.5),
    ("log1p", lax::log1p, 1.0, LN_2, 0.5),
    ("expm1", lax::expm1, LN_2, 1.0, 2.0),
    ("sqrt", lax::sqrt, 4.0, 2.0, 0.25),
    ("rsqrt", lax::rsqrt, 4.0, 0.5, -0.0625),
    ("sin", lax::sin, PI / 6.0, 0.5, 0.866_025_403_784_438_6),
    ("cos", lax::cos, PI / 3.0, 0.5, -0.866_025_403_784_438_6),
    ("tan", lax::tan, PI / 4.0, 1.0, 2.0),
    // tanh(ln 2) = 3/5, derivative 1 - 9/25
    ("tanh", lax::tanh, LN_2, 0.6, 0.64),
    // logistic(ln 3) = 3/4, derivative 3/4 * 1/4
    ("logistic", lax::logistic, 1.098_612_288_668_109_8, 0.75, 0.1875),
    ("erf", lax::erf, 0.0, 0.0, FRAC_2_SQRT_PI),
    ("erf_inv", lax::erf_inv, 0.0, 0.0, 0.886_226_925_452_758),
    // piecewise constant: zero derivative, rounding ties to even
    ("floor", lax::floor, -2.5, -3.0, 0.0),
    ("ceil", lax::ceil, -2.5, -2.0, 0.0),
    ("round", lax::round, 2.5, 2.0, 0.0),
    ("round", lax::round, -1.5, -2.0, 0.0),
    ("sign", lax::sign, -3.0, -1.0, 0.0),
    ("sign", lax::sign, 0.0, 0.0, 0.0),
    ("neg", lax::neg, 1.5, -1.5, -1.0),
    ("abs", lax::abs, -2.0, 2.0, -1.0),
    // abs at 0: the derivative is sign(0) = 0
    ("abs", lax::abs, 0.0, 0.0, 0.0),
];

/// `(primitive, a, b, f(a, b), df/da, df/db)`.
const BINARY: &[(&str, Bin, f64, f64, f64, f64, f64)] = &[
    ("add", lax::add, 1.5, -2.0, -0.5, 1.0, 1.0),
    ("sub", lax::sub, 1.5, -2.0, 3.5, 1.0, -1.0),
    ("mul", lax::mul, 1.5, -2.0, -3.0, -2.0, 1.5),
    ("div", lax::div, 3.0, 2.0, 1.5, 0.5, -0.75),
    ("pow", lax::pow, 2.0, 3.0, 8.0, 12.0, 8.0 * LN_2),
    // a zero base: d/db = log(a) a^b is taken as 0 (as JAX), not NaN
    ("pow", lax::pow, 0.0, 2.0, 0.0, 0.0, 0.0),
    ("pow", lax::pow, 0.0, 1.0, 0.0, 1.0, 0.0),
    ("max", lax::max, 1.0, 2.0, 2.0, 0.0, 1.0),
    ("max", lax::max, 3.0, 1.0, 3.0, 1.0, 0.0),
    // ties split the derivative evenly (as JAX)
    ("max", lax::max, 2.0, 2.0, 2.0, 0.5, 0.5),
    ("min", lax::min, 1.0, 2.0, 1.0, 1.0, 0.0),
    ("min", lax::min, -2.0, -2.0, -2.0, 0.5, 0.5),
    // fmod: a - trunc(a / b) b, so d/db = -trunc(a / b)
    ("rem", lax::rem, 7.5, 2.0, 1.5, 1.0, -3.0),
    ("rem", lax::rem, -7.5, 2.0, -1.5, 1.0, 3.0),
    ("rem", lax::rem, 7.5, -2.0, 1.5, 1.0, 3.0),
];

/// Value, grad, vjp and jvp of each unary primitive at its point.
#[test]
fn unary_values_and_derivatives() {
    for &(name, f, x, y, dy) in UNARY {
        let what = format!("{name}({x})");
        near(f(&sc(x)).item::<f64>(), y, &what);
        near(grad(f)(&sc(x)).item::<f64>(), dy, &format!("grad {what}"));
        let (yv, pullback) = vjp(f, &sc(x));
        near(yv.item::<f64>(), y, &format!("vjp primal {what}"));
        near(pullback(&sc(2.0)).item::<f64>(), 2.0 * dy, &format!("vjp {what}"));
        let (yj, t) = jvp(f, &sc(x), &sc(-3.0));
        near(yj.item::<f64>(), y, &format!("jvp primal {what}"));
        near(t.item::<f64>(), -3.0 * dy, &format!("jvp {what}"));
    }
}

/// Value, grad and jvp (in each operand) of each binary primitive at its point.
#[test]
fn binary_values_and_derivatives() {
    for &(name, f, a, b, y, da, db) in BINARY {
        let what = format!("{name}({a}, {b})");
        let p = (sc(a), sc(b));
        near(f(&p.0, &p.1).item::<f64>(), y, &what);
        let (ga, gb) = grad(|(a, b): &(Array, Array)| f(a, b))(&p);
        near(ga.item::<f64>(), da, &format!("d/da {what}"));
        near(gb.item::<f64>(), db, &format!("d/db {what}"));
        let (_, t) = jvp(|(a, b): &(Array, Array)| f(a, b), &p, &(sc(1.0), sc(10.0)));
        near(t.item::<f64>(), da + 10.0 * db, &format!("jvp {what}"));
    }
}

/// Python's remainder (sign of b) built on rem: at -7.5 % 2 = 0.5 the
/// derivative in b is -floor(a / b) = 4.
#[test]
fn remainder_and_fmod_at_fixed_points() {
    let p = (f64s(&[-7.5, 7.5, 7.5]), f64s(&[2.0, 2.0, -2.0]));
    let r = |(a, b): &(Array, Array)| jnp::remainder(a, b);
    assert_eq!(host(&r(&p)), [0.5, 1.5, -0.5]);
    let (ga, gb) = grad(|p: &(Array, Array)| r(p).sum())(&p);
    assert_eq!((host(&ga), host(&gb)), (vec![1.0, 1.0, 1.0], vec![4.0, -3.0, 4.0]));
    let m = |(a, b): &(Array, Array)| jnp::fmod(a, b);
    assert_eq!(host(&m(&p)), [-1.5, 1.5, 1.5]);
    let (_, gb) = grad(|p: &(Array, Array)| m(p).sum())(&p);
    assert_eq!(host(&gb), [3.0, -3.0, 3.0]);
}

/// select routes each cotangent to the chosen operand; the predicate gets none.
#[test]
fn select_routes_derivatives() {
    let pred = Array::from_vec(vec![true, false, true], &[3]);
    let p = (f64s(&[1.0, 2.0, 3.0]), f64s(&[10.0, 20.0, 30.0]));
    let f = |(a, b): &(Array, Array)| lax::select(&pred, a, b);
    assert_eq!(host(&f(&p)), [1.0, 20.0, 3.0]);
    let w = f64s(&[1.0, 2.0, 3.0]);
    let (ga, gb) = grad(|p: &(Array, Array)| (f(p) * &w).sum())(&p);
    assert_eq!((host(&ga), host(&gb)), (vec![1.0, 0.0, 3.0], vec![0.0, 2.0, 0.0]));
    let (_, t) = jvp(f, &p, &(f64s(&[1.0, 1.0, 1.0]), f64s(&[5.0, 5.0, 5.0])));
    assert_eq!(host(&t), [1.0, 5.0, 1.0]);
}

/// reduce_max and reduce_min share the derivative evenly among the elements
/// attaining the extremum (as JAX).
#[test]
fn reduce_max_min_ties_share_the_derivative() {
    let x = Array::from_vec(vec![1.0f64, 3.0, 3.0, 2.0, 0.0, 2.0], &[2, 3]);
    assert_eq!(host(&lax::reduce_max(&x, &[1])), [3.0, 2.0]);
    let g = grad(|x: &Array| lax::reduce_max(x, &[1]).sum())(&x);
    assert_eq!(host(&g), [0.0, 0.5, 0.5, 0.5, 0.0, 0.5]);
    let t = Array::from_vec(vec![1.0f64, 2.0, 4.0, 8.0, 16.0, 32.0], &[2, 3]);
    let (_, dy) = jvp(|x: &Array| lax::reduce_max(x, &[1]), &x, &t);
    assert_eq!(host(&dy), [3.0, 20.0]);
    let y = f64s(&[4.0, 4.0, 5.0, 4.0]);
    assert_eq!(lax::reduce_min(&y, &[0]).item::<f64>(), 4.0);
    let g = grad(|y: &Array| lax::reduce_min(y, &[0]))(&y);
    assert_eq!(host(&g), [1.0 / 3.0, 1.0 / 3.0, 0.0, 1.0 / 3.0]);
}

/// argsort is stable (equal keys keep their order, NaN last), and gathering
/// by it sends each cotangent back to the element it came from.
#[test]
fn argsort_is_stable_and_gradients_follow_the_sort() {
    let ids = |x: Array| lax::argsort(&x, 0).to_vec::<i32>();
    assert_eq!(ids(f64s(&[2.0, 1.0, 2.0, 1.0, 0.0])), [4, 1, 3, 0, 2]);
    assert_eq!(ids(f64s(&[f64::NAN, 1.0, f64::NAN, 0.0])), [3, 1, 0, 2]);
    assert_eq!(ids(Array::from_vec(vec![3, -1, 3, -1], &[4])), [1, 3, 0, 2]);
    let x = f64s(&[3.0, 1.0, 2.0]);
    let w = f64s(&[10.0, 20.0, 30.0]);
    let sorted = |x: &Array| lax::gather(x, &lax::argsort(x, 0), 0);
    assert_eq!(host(&sorted(&x)), [1.0, 2.0, 3.0]);
    assert_eq!(host(&grad(|x: &Array| (sorted(x) * &w).sum())(&x)), [30.0, 10.0, 20.0]);
}

/// gather clamps out-of-range indices, so repeated and clamped picks
/// accumulate their cotangents; scatter_add is its transpose.
#[test]
fn gather_clamps_and_scatter_add_accumulates() {
    let x = f64s(&[10.0, 20.0, 30.0]);
    let idx = Array::from_vec(vec![-1, 5, 1, 1], &[4]);
    assert_eq!(host(&lax::gather(&x, &idx, 0)), [10.0, 30.0, 20.0, 20.0]);
    let w = f64s(&[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(host(&grad(|x: &Array| (lax::gather(x, &idx, 0) * &w).sum())(&x)), [1.0, 7.0, 2.0]);
    assert_eq!(host(&lax::scatter_add(&idx, &w, 0, 3)), [1.0, 7.0, 2.0]);
    let g = grad(|u: &Array| (lax::scatter_add(&idx, u, 0, 3) * &x).sum())(&w);
    assert_eq!(host(&g), [10.0, 30.0, 20.0, 20.0]);
}

/// reduce_prod at a zero element: the product of the others there ([0, 6, 0]
/// here), as JAX; a rule dividing `out / x` would give NaN.
#[test]
fn reduce_prod_at_a_zero() {
    let x = f64s(&[2.0, 0.0, 3.0]);
    assert_eq!(lax::reduce_prod(&x, &[0]).item::<f64>(), 0.0);
    let g = grad(|x: &Array| lax::reduce_prod(x, &[0]));
    assert_eq!(host(&g(&x)), [0.0, 6.0, 0.0]);
    // two zeros: every partial product is 0; none: out / x (JAX's values)
    assert_eq!(host(&g(&f64s(&[0.0, 0.0, 3.0]))), [0.0, 0.0, 0.0]);
    assert_eq!(host(&g(&f64s(&[2.0, 4.0, 3.0]))), [12.0, 6.0, 8.0]);
    // forward mode and along one axis of two
    let m = Array::from_vec(vec![2.0f64, 0.0, 3.0, 1.0, 5.0, 2.0], &[2, 3]);
    let (_, t) = rjax::jvp(|m: &Array| lax::reduce_prod(m, &[1]), &m, &Array::ones(&[2, 3], rjax::DType::F64));
    assert_eq!(host(&t), [6.0, 10.0 + 2.0 + 5.0]);
}

/// pow(0, 0) with a float exponent: as JAX's `lax.pow` (jax 0.10.2, checked),
/// d/da is `b a^(b - 1)` = 0 * inf = NaN and d/db is taken as 0 where a == 0.
/// (A plain integer exponent, `jnp::power(&x, 0)`, has derivative 0 in both.)
#[test]
fn pow_at_zero_zero() {
    let (ga, gb) = grad(|(a, b): &(Array, Array)| lax::pow(a, b))(&(sc(0.0), sc(0.0)));
    assert!(ga.item::<f64>().is_nan());
    assert_eq!(gb.item::<f64>(), 0.0);
    assert_eq!(grad(|a: &Array| rjax::numpy::power(a, 0))(&sc(0.0)).item::<f64>(), 0.0);
}

/// Every differentiable elementwise primitive of the catalogue has a point here.
#[test]
fn every_differentiable_elementwise_primitive_has_a_fixed_point() {
    let here: Vec<&str> = UNARY.iter().map(|r| r.0).chain(BINARY.iter().map(|r| r.0)).chain(["select"]).collect();
    let missing: Vec<&str> = PRIMITIVES
        .iter()
        .filter(|e| e.is_elementwise() && e.diff.checkable() && !here.contains(&e.name))
        .map(|e| e.name)
        .collect();
    assert!(missing.is_empty(), "no fixed point in tests/finite_diff/fixed_points.rs for {missing:?}");
}
