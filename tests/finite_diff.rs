//! Property tests: for every differentiable operation, reverse mode (`grad`,
//! `vjp`) and forward mode (`jvp`) agree with central finite differences in
//! f64, on random shapes (rank 0..=3, axes 1..=4, size-1 axes included) and
//! random values inside each operation's domain. See `common::check`.
//!
//! The elementwise primitives come from the catalogue (tests/common/catalogue.rs),
//! each on its derivative domain; the others have dedicated tests named in the
//! catalogue, and `every_primitive_is_covered` checks that none is left out.
//! Beside them, `fixed_points` checks the trickiest rules' values and
//! derivatives at hand-computed points (ties, zeros, jumps).

mod common;
#[path = "finite_diff/fixed_points.rs"]
mod fixed_points;

use common::catalogue::{self, Domain, File, sample_all, seed_of};
use common::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rjax::numpy::{GatherMode, Idx};
use rjax::{Array, DType, grad, jvp, lax, lax::DotDims, numpy as jnp, s};

/// A mask choosing a subset of the axes of `shape`.
fn with_axes(sh: impl Strategy<Value = Vec<usize>>) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    sh.prop_flat_map(|s| {
        let n = s.len();
        (Just(s), prop::collection::vec(any::<bool>(), n))
            .prop_map(|(s, m)| (s, m.iter().enumerate().filter(|(_, b)| **b).map(|(i, _)| i).collect()))
    })
}

fn host(x: &Array) -> Vec<f64> {
    x.to_vec::<f64>()
}

/// Gradient check of `take_along_axis` on an operand shaped like `s` (axes
/// flagged in `ox` set to 1) and indices shaped like `s` (axes flagged in `oi`
/// set to 1) with `k` entries along `axis`.
fn check_take_along_axis(
    s: &[usize],
    axis: usize,
    k: usize,
    ox: &[bool],
    oi: &[bool],
    seed: u64,
) -> Result<(), TestCaseError> {
    let mut rng = Gen::new(seed ^ 11);
    let xs: Vec<usize> = (0..s.len()).map(|a| if ox[a] && a != axis { 1 } else { s[a] }).collect();
    let is: Vec<usize> = (0..s.len())
        .map(|a| {
            if a == axis {
                k
            } else if oi[a] {
                1
            } else {
                s[a]
            }
        })
        .collect();
    let n: usize = is.iter().product();
    let d = s[axis] as f64;
    let idx = Array::from_vec((0..n).map(|_| rng.uniform(-d, d).floor() as i32).collect::<Vec<i32>>(), &is);
    let x = rng.array(&xs, -2.0, 2.0);
    check12("take_along_axis", |v| jnp::take_along_axis(&v[0], &idx, axis as isize), &[x], seed)
}

/// A binary function on arrays.
type Bin = fn(&Array, &Array) -> Array;

/// The numpy wrappers of binary primitives: `(primitive, wrapper, wrapper)`.
const NUMPY_BINARY: [(&str, &str, Bin); 7] = [
    ("add", "jnp::add", |a, b| jnp::add(a, b)),
    ("sub", "jnp::subtract", |a, b| jnp::subtract(a, b)),
    ("mul", "jnp::multiply", |a, b| jnp::multiply(a, b)),
    ("div", "jnp::divide", |a, b| jnp::divide(a, b)),
    ("pow", "jnp::power", |a, b| jnp::power(a, b)),
    ("max", "jnp::maximum", |a, b| jnp::maximum(a, b)),
    ("min", "jnp::minimum", |a, b| jnp::minimum(a, b)),
];

proptest! {
    #![proptest_config(cfg())]

    /// Every differentiable elementwise primitive of one operand in the
    /// catalogue, on its derivative domain (piecewise constant ones away from
    /// their jumps, where the derivative is zero).
    #[test]
    fn unary_primitives(sh in shape(), seed in any::<u64>()) {
        for e in catalogue::generic(File::FiniteDiff).filter(|e| e.arity == Some(1)) {
            let x = sample_all(&mut Gen::new(seed_of(e.name, seed)), e.domain, DType::F64, std::slice::from_ref(&sh)).remove(0);
            check1(e.name, |x| e.call(std::slice::from_ref(x)), &x, seed)?;
        }
    }

    /// Every differentiable elementwise primitive of two operands, on
    /// operands of broadcast-compatible shapes broadcast first (as the numpy
    /// layer does, so broadcasting's transpose is checked too), on its
    /// derivative domain (max and min away from ties, rem away from its
    /// jumps); then its numpy wrapper, if any, on the same operands
    /// (`remainder` checks rem's, Python's remainder and fmod).
    #[test]
    fn binary_primitives((s, sa, sb) in bcast_shapes(), seed in any::<u64>()) {
        for e in catalogue::generic(File::FiniteDiff).filter(|e| e.arity == Some(2)) {
            // a quotient is drawn at the full shape, from the broadcast divisor
            let sa = if e.domain[0] == Domain::Quotient { s.clone() } else { sa.clone() };
            let xs = sample_all(&mut Gen::new(seed_of(e.name, seed)), e.domain, DType::F64, &[sa, sb.clone()]);
            let f = |v: &[Array]| e.call(&[jnp::broadcast_to(&v[0], &s), jnp::broadcast_to(&v[1], &s)]);
            check12(e.name, f, &xs, seed)?;
            // and through its numpy wrapper, which broadcasts itself
            if let Some((_, np, jf)) = NUMPY_BINARY.iter().find(|w| w.0 == e.name) {
                check12(np, |v| jf(&v[0], &v[1]), &xs, seed)?;
            }
        }
    }
}

proptest! {
    #![proptest_config(cfg())]

    /// stop_gradient: no derivative flows through it, in either mode, but the
    /// surrounding product rule still holds.
    #[test]
    fn stop_gradient(x in any_arr(-2.0, 2.0), seed in any::<u64>()) {
        let w = Gen::new(seed).array(x.shape(), -1.0, 1.0);
        let g = grad(|x: &Array| (lax::stop_gradient(&lax::exp(x)) * &w).sum())(&x);
        prop_assert!(host(&g).iter().all(|v| *v == 0.0), "gradient through stop_gradient: {:?}", g);
        let (y, t) = jvp(|x: &Array| lax::stop_gradient(&lax::sin(x)), &x, &w);
        prop_assert_eq!(host(&y), host(&lax::sin(&x)));
        prop_assert!(host(&t).iter().all(|v| *v == 0.0), "tangent through stop_gradient: {:?}", t);
        // d/dx sum(w * x * sg(x)) = w * x
        let g = grad(|x: &Array| (x * lax::stop_gradient(x) * &w).sum())(&x);
        let want: Vec<f64> = host(&x).iter().zip(host(&w)).map(|(a, b)| a * b).collect();
        prop_assert_eq!(host(&g), want);
    }

    // ---- binary ops through numpy, with broadcasting (beyond the generic test) ----

    /// remainder (Python's, sign of b) and fmod (C's, sign of a): a / b is kept
    /// at least 0.1 away from an integer.
    #[test]
    fn remainder(
        (s, sa, sb) in bcast_shapes(),
        seed in any::<u64>(),
        den_full in any::<bool>(),
    ) {
        let mut rng = Gen::new(seed ^ 1);
        let n: usize = s.iter().product();
        let ratio: Vec<f64> = (0..n)
            .map(|_| {
                let r = (rng.uniform(0.0, 4.0) as i32) as f64 + rng.uniform(0.1, 0.9);
                if rng.next_f64() < 0.5 { -r } else { r }
            })
            .collect();
        let mag = |sh: &[usize], rng: &mut Gen| {
            let v = host(&rng.array(sh, 0.5, 2.0)).iter().map(|&v| if rng.next_f64() < 0.5 { -v } else { v }).collect();
            Array::from_vec(v, sh)
        };
        let (a, b) = if den_full {
            // a broadcasts, b = a / ratio has the full shape
            let a = mag(&sa, &mut rng);
            let ab = host(&jnp::broadcast_to(&a, &s));
            (a, Array::from_vec(ab.iter().zip(&ratio).map(|(x, r)| x / r).collect(), &s))
        } else {
            // b broadcasts, a = b * ratio has the full shape
            let b = mag(&sb, &mut rng);
            let bb = host(&jnp::broadcast_to(&b, &s));
            (Array::from_vec(bb.iter().zip(&ratio).map(|(x, r)| x * r).collect(), &s), b)
        };
        check12("remainder", |v| jnp::remainder(&v[0], &v[1]), &[a.clone(), b.clone()], seed)?;
        check12("fmod", |v| jnp::fmod(&v[0], &v[1]), &[a, b], seed)?;
    }

    /// power with a plain integer exponent (by squaring, as JAX's integer_pow).
    #[test]
    fn integer_power(x in any_arr(0.3, 2.0), n in -3i64..=4, flip in any::<bool>(), seed in any::<u64>()) {
        let x = if flip { -x } else { x };
        check1("integer_power", |x| jnp::power(x, n), &x, seed)?;
    }

    #[test]
    fn where_((s, sx, sy) in bcast_shapes(), ones in prop::collection::vec(any::<bool>(), 3), seed in any::<u64>()) {
        let mut rng = Gen::new(seed ^ 2);
        let sc = derive(&s, &ones, 0);
        let cond = jnp::greater(rng.array(&sc, -1.0, 1.0), Array::scalar(0.0f64));
        let (x, y) = (rng.array(&sx, -2.0, 2.0), rng.array(&sy, -2.0, 2.0));
        check12("where_", |v| jnp::where_(&cond, &v[0], &v[1]), &[x, y], seed)?;
    }

    #[test]
    fn select(sh in shape(), seed in any::<u64>()) {
        let mut rng = Gen::new(seed ^ 3);
        let pred = jnp::less(rng.array(&sh, 0.0, 1.0), Array::scalar(0.5f64).broadcast_to(&sh));
        let (x, y) = (rng.array(&sh, -2.0, 2.0), rng.array(&sh, -2.0, 2.0));
        check12("select", |v| lax::exp(&lax::select(&pred, &v[0], &v[1])), &[x, y], seed)?;
    }

    // ---- structural ----

    #[test]
    fn reshape(
        (sh, target) in shape().prop_flat_map(|s| (Just(s.clone()), Just(s).prop_shuffle(), 0..=3usize)
            .prop_map(|(s, mut t, one)| { t.insert(one.min(t.len()), 1); (s, t) })),
        seed in any::<u64>(),
    ) {
        // to a shuffled shape of the same size with an extra 1, and through numpy's -1
        let x = Gen::new(seed ^ 23).array(&sh, -2.0, 2.0);
        check12("reshape", |v| lax::reshape(&v[0], &target), std::slice::from_ref(&x), seed)?;
        check12("reshape -1", |v| jnp::reshape(&v[0], &[-1]), &[x], seed)?;
    }

    #[test]
    fn broadcast_in_dim(
        (out, keep, ones) in shape().prop_flat_map(|s| {
            let n = s.len();
            (Just(s), prop::collection::vec(any::<bool>(), n), prop::collection::vec(prop::bool::weighted(0.3), n))
        }),
        seed in any::<u64>(),
    ) {
        let dims: Vec<usize> = (0..out.len()).filter(|&a| keep[a]).collect();
        let xs: Vec<usize> = dims.iter().map(|&a| if ones[a] { 1 } else { out[a] }).collect();
        let x = Gen::new(seed ^ 4).array(&xs, -2.0, 2.0);
        check12("broadcast_in_dim", |v| lax::broadcast_in_dim(&v[0], &out, &dims), &[x], seed)?;
    }

    #[test]
    fn broadcast_to((s, sa, _) in bcast_shapes(), seed in any::<u64>()) {
        let x = Gen::new(seed ^ 5).array(&sa, -2.0, 2.0);
        check12("broadcast_to", |v| jnp::broadcast_to(&v[0], &s), &[x], seed)?;
    }

    #[test]
    fn transpose(
        (x, perm) in any_arr(-2.0, 2.0).prop_flat_map(|x| {
            let p: Vec<usize> = (0..x.ndim()).collect();
            (Just(x), Just(p).prop_shuffle())
        }),
        seed in any::<u64>(),
    ) {
        check12("transpose", |v| lax::transpose(&v[0], &perm), &[x], seed)?;
    }

    /// lax::slice with start, limit and strides 1..=3 on every axis.
    #[test]
    fn slice(
        (sh, bounds) in shape().prop_flat_map(|s| {
            let b: Vec<_> =
                s.iter().map(|&d| (0..d).prop_flat_map(move |st| (Just(st), st + 1..=d, 1usize..=3))).collect();
            (Just(s), b)
        }),
        seed in any::<u64>(),
    ) {
        let x = Gen::new(seed ^ 6).array(&sh, -2.0, 2.0);
        let start: Vec<usize> = bounds.iter().map(|b| b.0).collect();
        let limit: Vec<usize> = bounds.iter().map(|b| b.1).collect();
        let stride: Vec<usize> = bounds.iter().map(|b| b.2).collect();
        check12("slice", |v| lax::sin(&lax::slice(&v[0], &start, &limit, &stride)), &[x], seed)?;
    }

    /// lax::pad with low, high and interior padding, w.r.t. the operand and the pad value.
    #[test]
    fn pad(
        (sh, cfg) in shape().prop_flat_map(|s| {
            let n = s.len();
            (Just(s), prop::collection::vec((0usize..=2, 0usize..=2, 0usize..=2), n))
        }),
        seed in any::<u64>(),
    ) {
        let mut rng = Gen::new(seed ^ 7);
        let (x, val) = (rng.array(&sh, -2.0, 2.0), rng.array(&[], -2.0, 2.0));
        let lo: Vec<usize> = cfg.iter().map(|c| c.0).collect();
        let hi: Vec<usize> = cfg.iter().map(|c| c.1).collect();
        let interior: Vec<usize> = cfg.iter().map(|c| c.2).collect();
        // a nonlinearity after the pad so that the pad value's derivative depends on where it lands
        check12("pad", |v| lax::sin(&lax::pad(&v[0], &v[1], &lo, &hi, &interior)), &[x, val], seed)?;
    }

    #[test]
    fn concatenate(
        (sh, axis, sizes) in shape_r(1, 3).prop_flat_map(|s| {
            let n = s.len();
            (Just(s), 0..n, prop::collection::vec(1usize..=3, 2..=3))
        }),
        seed in any::<u64>(),
    ) {
        let mut rng = Gen::new(seed ^ 8);
        let parts: Vec<Array> = sizes
            .iter()
            .map(|&k| {
                let mut s = sh.clone();
                s[axis] = k;
                rng.array(&s, -2.0, 2.0)
            })
            .collect();
        check12("concatenate", |v| jnp::concatenate(&v.iter().collect::<Vec<_>>(), axis as isize), &parts, seed)?;
    }

    /// Basic indexing: single (possibly negative) indices, ranges with
    /// out-of-range and negative bounds and steps, new axes, trailing axes left out.
    #[test]
    fn index(
        (sh, idx) in shape().prop_flat_map(|s| {
            let per_axis: Vec<_> = s.iter().map(|&d| {
                let d = d as isize;
                prop_oneof![
                    (-d..d).prop_map(Idx::At),
                    (prop::option::of(-d - 1..=d + 1), prop::option::of(-d - 1..=d + 1), 1usize..=3)
                        .prop_map(|(start, end, step)| Idx::Range { start, end, step }),
                ].boxed()
            }).collect();
            let n = s.len();
            (Just(s), per_axis, 0..=n, prop::option::of(0..=n))
                .prop_map(|(s, mut idx, keep, newaxis)| {
                    idx.truncate(keep);
                    if let Some(p) = newaxis { idx.insert(p.min(idx.len()), Idx::NewAxis); }
                    (s, idx)
                })
        }),
        seed in any::<u64>(),
    ) {
        let x = Gen::new(seed ^ 9).array(&sh, -2.0, 2.0);
        check12("index", |v| jnp::index(&v[0], &idx), &[x], seed)?;
    }

    /// The `s!` macro with ranges, steps, negative indices and `..`.
    #[test]
    fn index_s_macro(x in arr(vec![4, 3, 4], -2.0, 2.0), seed in any::<u64>()) {
        let xs = std::slice::from_ref(&x);
        check12("s![1..;2, -1, ..3]", |v| jnp::index(&v[0], s![1..;2, -1, ..3]), xs, seed)?;
        check12("s![.., 0..3;2, 1..=2]", |v| v[0].at(s![.., 0..3;2, 1..=2]), xs, seed)?;
        check12("s![-2.., 1]", |v| v[0].at(s![-2.., 1]), xs, seed)?;
    }

    /// jnp::take: repeated indices make the gradient accumulate; negative ones
    /// count from the end, out-of-range ones (fill mode) get no gradient.
    #[test]
    fn take(
        (sh, axis, ish) in shape_r(1, 3).prop_flat_map(|s| {
            let n = s.len();
            (Just(s), 0..n, prop::collection::vec(1usize..=3, 0..=2))
        }),
        seed in any::<u64>(),
    ) {
        let mut rng = Gen::new(seed ^ 10);
        let d = sh[axis];
        let n: usize = ish.iter().product();
        // negative indices count from the end
        let idx: Vec<i32> = (0..n).map(|_| rng.uniform(-(d as f64), d as f64).floor() as i32).collect();
        let idx = Array::from_vec(idx, &ish);
        let x = rng.array(&sh, -2.0, 2.0);
        check12("take", |v| jnp::take(&v[0], &idx, axis as isize), std::slice::from_ref(&x), seed)?;
        // out-of-range indices take the fill value and give no gradient
        let wide: Vec<i32> = (0..n).map(|_| rng.uniform(-(d as f64) - 2.0, d as f64 + 2.0).floor() as i32).collect();
        let wide = Array::from_vec(wide, &ish);
        let fill = |v: &[Array]| jnp::take_with(&v[0], &wide, axis as isize, GatherMode::FillWith(0.5));
        check12("take_fill", fill, &[x], seed)?;
    }

    /// jnp::take_along_axis, with indices and operand broadcasting against
    /// each other; the indices' axis has size 1 or the operand's size.
    #[test]
    fn take_along_axis(
        (s, axis, k1, ox, oi) in shape_r(1, 3).prop_flat_map(|s| {
            let n = s.len();
            let ones = prop::collection::vec(prop::bool::weighted(0.3), n);
            (Just(s), 0..n, any::<bool>(), ones.clone(), ones)
        }),
        seed in any::<u64>(),
    ) {
        let k = if k1 { 1 } else { s[axis] };
        check_take_along_axis(&s, axis, k, &ox, &oi, seed)?;
    }

    /// jnp::take_along_axis where the indices' axis is longer or shorter than
    /// the operand's (valid in NumPy and JAX: the output takes the indices' size).
    #[test]
    fn take_along_axis_other_length(
        (s, axis, k, ox, oi) in shape_r(1, 3).prop_flat_map(|s| {
            let n = s.len();
            let ones = prop::collection::vec(prop::bool::weighted(0.3), n);
            (Just(s), 0..n, 1usize..=4, ones.clone(), ones)
        }),
        seed in any::<u64>(),
    ) {
        check_take_along_axis(&s, axis, k, &ox, &oi, seed)?;
    }

    /// lax::gather with out-of-range indices (clamped, so the boundary entries
    /// receive their derivative).
    #[test]
    fn gather(
        (s, axis, k) in shape_r(1, 3).prop_flat_map(|s| { let n = s.len(); (Just(s), 0..n, 1usize..=4) }),
        seed in any::<u64>(),
    ) {
        let mut rng = Gen::new(seed ^ 12);
        let mut is = s.clone();
        is[axis] = k;
        let n: usize = is.iter().product();
        let d = s[axis] as f64;
        let idx: Vec<i32> = (0..n).map(|_| rng.uniform(-2.0, d + 2.0).floor() as i32).collect();
        let idx = Array::from_vec(idx, &is);
        let x = rng.array(&s, -2.0, 2.0);
        check12("gather", |v| lax::gather(&v[0], &idx, axis), &[x], seed)?;
    }

    /// lax::scatter_add w.r.t. the updates (indices may repeat and are clamped).
    #[test]
    fn scatter_add(
        (s, axis, size) in shape_r(1, 3).prop_flat_map(|s| { let n = s.len(); (Just(s), 0..n, 1usize..=4) }),
        seed in any::<u64>(),
    ) {
        let mut rng = Gen::new(seed ^ 13);
        let n: usize = s.iter().product();
        let idx: Vec<i32> = (0..n).map(|_| rng.uniform(-1.0, size as f64 + 1.0).floor() as i32).collect();
        let idx = Array::from_vec(idx, &s);
        let u = rng.array(&s, -2.0, 2.0);
        check12("scatter_add", |v| lax::sin(&lax::scatter_add(&idx, &v[0], axis, size)), &[u], seed)?;
    }

    // ---- reductions ----

    #[test]
    fn reduce_sum((sh, axes) in with_axes(shape()), seed in any::<u64>()) {
        let x = Gen::new(seed ^ 14).array(&sh, -2.0, 2.0);
        check12("reduce_sum", |v| lax::reduce_sum(&v[0], &axes), &[x], seed)?;
    }

    #[test]
    fn reduce_prod(
        (sh, axes) in with_axes(shape()),
        seed in any::<u64>(),
        signs in prop::collection::vec(any::<bool>(), 64),
    ) {
        let x = Gen::new(seed ^ 15).array(&sh, 0.5, 1.5);
        let x = Array::from_vec(host(&x).iter().zip(&signs).map(|(v, s)| if *s { *v } else { -v }).collect(), &sh);
        check12("reduce_prod", |v| lax::reduce_prod(&v[0], &axes), &[x], seed)?;
    }

    #[test]
    fn reduce_max(
        (x, axes) in with_axes(shape()).prop_flat_map(|(s, a)| (distinct(s), Just(a))),
        seed in any::<u64>(),
    ) {
        check12("reduce_max", |v| lax::reduce_max(&v[0], &axes), &[x], seed)?;
    }

    #[test]
    fn reduce_min(
        (x, axes) in with_axes(shape()).prop_flat_map(|(s, a)| (distinct(s), Just(a))),
        seed in any::<u64>(),
    ) {
        check12("reduce_min", |v| lax::reduce_min(&v[0], &axes), &[x], seed)?;
    }

    #[test]
    fn mean_var((sh, axes) in with_axes(shape()), keepdims in any::<bool>(), seed in any::<u64>()) {
        let x = Gen::new(seed ^ 16).array(&sh, -2.0, 2.0);
        check12("mean", |v| jnp::mean(&v[0], axes.clone(), keepdims), std::slice::from_ref(&x), seed)?;
        check12("var", |v| jnp::var(&v[0], axes.clone(), keepdims), &[x], seed)?;
    }

    /// std at distinct values over at least two elements (its derivative is
    /// infinite where the variance is zero).
    #[test]
    fn std(
        (x, axes) in (prop::collection::vec(2usize..=4, 1..=3), any::<u64>()).prop_flat_map(|(s, m)| {
            let axes: Vec<usize> = (0..s.len()).filter(|a| m >> a & 1 == 1 || *a == m as usize % s.len()).collect();
            (distinct(s), Just(axes))
        }),
        keepdims in any::<bool>(),
        seed in any::<u64>(),
    ) {
        check12("std", |v| jnp::std(&v[0], axes.clone(), keepdims), &[x], seed)?;
    }

    #[test]
    fn logsumexp((sh, axes) in with_axes(shape()), keepdims in any::<bool>(), seed in any::<u64>()) {
        let x = Gen::new(seed ^ 17).array(&sh, -3.0, 3.0);
        check12("logsumexp", |v| jnp::logsumexp(&v[0], axes.clone(), keepdims), &[x], seed)?;
    }

    #[test]
    fn softmax(
        (sh, axis) in shape_r(1, 3).prop_flat_map(|s| { let n = s.len() as isize; (Just(s), -n..n) }),
        seed in any::<u64>(),
    ) {
        let x = Gen::new(seed ^ 18).array(&sh, -3.0, 3.0);
        check12("softmax", |v| jnp::softmax(&v[0], axis), std::slice::from_ref(&x), seed)?;
        check12("log_softmax", |v| jnp::log_softmax(&v[0], axis), &[x], seed)?;
    }

    // ---- dot_general ----

    /// jnp::matmul: 1-d operands (promoted), 2-d, and 3-d stacks whose batch
    /// axes broadcast (either side may have batch size 1 or no batch axis).
    #[test]
    fn matmul(
        (ra, rb, ba1, bb1) in (1usize..=3, 1usize..=3, any::<bool>(), any::<bool>()),
        (m, k, n, b) in (1usize..=4, 1usize..=4, 1usize..=4, 1usize..=3),
        seed in any::<u64>(),
    ) {
        let sa = match ra { 1 => vec![k], 2 => vec![m, k], _ => vec![if ba1 { 1 } else { b }, m, k] };
        let sb = match rb { 1 => vec![k], 2 => vec![k, n], _ => vec![if bb1 { 1 } else { b }, k, n] };
        let mut rng = Gen::new(seed ^ 19);
        let (x, y) = (rng.array(&sa, -2.0, 2.0), rng.array(&sb, -2.0, 2.0));
        check12("matmul", |v| jnp::matmul(&v[0], &v[1]), &[x, y], seed)?;
    }

    /// jnp::dot: the last axis of `a` against the second-to-last (or only) axis of `b`.
    #[test]
    fn dot((sa, sb) in (shape_r(1, 3), shape_r(1, 3), 1usize..=4).prop_map(|(mut a, mut b, k)| {
        *a.last_mut().unwrap() = k;
        let nb = b.len();
        b[if nb == 1 { 0 } else { nb - 2 }] = k;
        (a, b)
    }), seed in any::<u64>()) {
        let mut rng = Gen::new(seed ^ 20);
        let (x, y) = (rng.array(&sa, -2.0, 2.0), rng.array(&sb, -2.0, 2.0));
        check12("dot", |v| jnp::dot(&v[0], &v[1]), &[x, y], seed)?;
    }

    #[test]
    fn einsum((b, i, j, k) in (1usize..=3, 1usize..=4, 1usize..=4, 1usize..=4), seed in any::<u64>()) {
        let mut rng = Gen::new(seed ^ 21);
        let (p, q) = (rng.array(&[i, j], -2.0, 2.0), rng.array(&[j, k], -2.0, 2.0));
        check12("einsum ij,jk->ik", |v| jnp::einsum("ij,jk->ik", &[&v[0], &v[1]]), &[p, q], seed)?;
        let (p, q) = (rng.array(&[b, i, j], -2.0, 2.0), rng.array(&[b, j, k], -2.0, 2.0));
        check12("einsum bij,bjk->bik", |v| jnp::einsum("bij,bjk->bik", &[&v[0], &v[1]]), &[p, q], seed)?;
        let (p, q) = (rng.array(&[i], -2.0, 2.0), rng.array(&[i], -2.0, 2.0));
        check12("einsum i,i->", |v| jnp::einsum("i,i->", &[&v[0], &v[1]]), &[p, q], seed)?;
    }

    /// lax::dot_general with 0..=2 batch axes, 0..=2 contracting axes and
    /// 0..=1 free axes per side, all at random positions (so the pairs of
    /// contracting and batch axes come in unsorted orders).
    #[test]
    fn dot_general(
        (sa, sb, dims) in (0usize..=2, 0usize..=2, 0usize..=1, 0usize..=1).prop_flat_map(|(nb, nc, nl, nr)| {
            let lab = nb + nc + nl + nr;
            let lhs: Vec<usize> = (0..nb + nc + nl).collect();
            let rhs: Vec<usize> = (0..nb + nc).chain(nb + nc + nl..lab).collect();
            // at most 2 per axis when there are many axes, to keep the operands small
            let sizes = prop::collection::vec(1usize..=if lab > 4 { 2 } else { 3 }, lab);
            (sizes, Just(lhs).prop_shuffle(), Just(rhs).prop_shuffle()).prop_map(move |(sizes, lhs, rhs)| {
                let pos = |v: &[usize], l: usize| v.iter().position(|&x| x == l).unwrap();
                let dims = DotDims {
                    lhs_batch: (0..nb).map(|l| pos(&lhs, l)).collect(),
                    rhs_batch: (0..nb).map(|l| pos(&rhs, l)).collect(),
                    lhs_contract: (nb..nb + nc).map(|l| pos(&lhs, l)).collect(),
                    rhs_contract: (nb..nb + nc).map(|l| pos(&rhs, l)).collect(),
                };
                let shape = |v: &[usize]| v.iter().map(|&l| sizes[l]).collect::<Vec<_>>();
                (shape(&lhs), shape(&rhs), dims)
            })
        }),
        seed in any::<u64>(),
    ) {
        let mut rng = Gen::new(seed ^ 22);
        let (x, y) = (rng.array(&sa, -2.0, 2.0), rng.array(&sb, -2.0, 2.0));
        check12(&format!("dot_general {dims:?}"), |v| lax::dot_general(&v[0], &v[1], &dims), &[x, y], seed)?;
    }
}

/// `x * x` with derivative rules scaled by `jvp` and `vjp` (1.0 is correct).
#[derive(Debug)]
struct Square {
    jvp: f64,
    vjp: f64,
}

impl rjax::Primitive for Square {
    fn name(&self) -> &'static str {
        "test_square"
    }
    fn abstract_eval(&self, i: &[rjax::Aval]) -> Result<rjax::Aval, String> {
        Ok(i[0].clone())
    }
    fn eval(&self, i: &[&rjax::HostData]) -> rjax::HostData {
        match i[0] {
            rjax::HostData::F64(a) => rjax::HostData::F64(a.mapv(|v| v * v)),
            _ => unreachable!("f64 only"),
        }
    }
    fn jvp(&self, x: &[Array], _: &Array, t: &[Option<Array>]) -> Option<Array> {
        t[0].as_ref().map(|t| t * &x[0] * (2.0 * self.jvp))
    }
    fn vjp(&self, x: &[Array], _: &Array, ct: &Array, _: &[bool]) -> Vec<Option<Array>> {
        vec![Some(ct * &x[0] * (2.0 * self.vjp))]
    }
    fn batch(&self, _: &[Array], _: &[bool]) -> (Array, bool) {
        unimplemented!("not batched in these tests")
    }
    fn lower(
        &self,
        _: &mut rjax::backend::stablehlo::Lowering,
        _: &[rjax::backend::stablehlo::Value],
        _: &rjax::Aval,
    ) -> Result<rjax::backend::stablehlo::Value, rjax::backend::stablehlo::LowerError> {
        Err(rjax::backend::stablehlo::LowerError::new("test_square has no lowering"))
    }
}

/// The helper itself must be able to fail: a wrong reverse rule, a wrong
/// forward rule, and a derivative off by a relative 1e-5 are all caught.
#[test]
fn check_detects_wrong_derivatives() {
    let x = Array::from_vec(vec![0.5f64, -1.5, 2.0, 0.1], &[2, 2]);
    let sq = |jvp: f64, vjp: f64| move |v: &[Array]| rjax::bind(Square { jvp, vjp }, &[&v[0]]);
    assert!(check("square", sq(1.0, 1.0), std::slice::from_ref(&x), 7).is_ok());
    assert!(check("square, wrong vjp", sq(1.0, 1.5), std::slice::from_ref(&x), 7).is_err());
    assert!(check("square, wrong jvp", sq(1.5, 1.0), std::slice::from_ref(&x), 7).is_err());
    assert!(check("square, vjp off by 1e-5", sq(1.0, 1.0 + 1e-5), std::slice::from_ref(&x), 7).is_err());
    assert!(check("square, jvp off by 1e-5", sq(1.0 + 1e-5, 1.0), std::slice::from_ref(&x), 7).is_err());
    // d/dx (x * sg(x)) = x is half the true derivative 2x
    assert!(check("x * sg(x)", |v| &v[0] * &lax::stop_gradient(&v[0]), &[x], 7).is_err());
}

/// convert_element_type: float to float carries derivatives (converted, both
/// ways); through an integer type none flows.
#[test]
fn convert_element_type() {
    let x = Array::from_vec(vec![1.5f64, -2.25, 3.0], &[3]);
    let w = Array::from_vec(vec![0.5f32, -1.0, 2.0], &[3]);
    assert_eq!(lax::convert_element_type(&x, DType::F32).to_vec::<f32>(), vec![1.5, -2.25, 3.0]);
    assert_eq!(lax::convert_element_type(&x, DType::I32).to_vec::<i32>(), vec![1, -2, 3]);
    // d/dx sum(w * f32(x)) = w, as f64
    let g = grad(|x: &Array| (lax::convert_element_type(x, DType::F32) * &w).sum())(&x);
    assert_eq!((g.dtype(), host(&g)), (DType::F64, vec![0.5, -1.0, 2.0]));
    let t = Array::from_vec(vec![1.0f64, 2.0, -3.0], &[3]);
    let (y, dy) = jvp(|x: &Array| lax::convert_element_type(x, DType::F32), &x, &t);
    assert_eq!((y.dtype(), dy.dtype()), (DType::F32, DType::F32));
    assert_eq!(dy.to_vec::<f32>(), vec![1.0, 2.0, -3.0]);
    // x * f64(i32(x)): the integer path is a constant, so the derivative is trunc(x)
    let through_int = |x: &Array| x * &lax::convert_element_type(&lax::convert_element_type(x, DType::I32), DType::F64);
    assert_eq!(host(&grad(|x: &Array| through_int(x).sum())(&x)), vec![1.0, -2.0, 3.0]);
    assert_eq!(host(&jvp(through_int, &x, &t).1), vec![1.0, -4.0, -9.0]);
}

/// Fails naming any primitive of the catalogue that no test here covers
/// (non-differentiable ones need none).
#[test]
fn every_primitive_is_covered() {
    catalogue::assert_covered(File::FiniteDiff);
}
