//! Shared helpers for the finite-difference tests: the proptest config, shape
//! and value strategies, and `check`, which compares reverse mode (`grad`, and
//! `vjp`) and forward mode (`jvp`) of a function against central differences.
#![allow(dead_code)]

pub mod catalogue;
pub mod panics;
pub mod source;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rjax::{Array, grad, jvp, numpy as jnp, vjp};

/// Relative tolerance of every derivative comparison.
pub const RTOL: f64 = 1e-6;
/// Absolute tolerance, scaled by `max(1, |f|)` of the outputs involved: the
/// round-off of a central difference is about `eps * |f| / h ~ 2e-10 * |f|`
/// for `h = 1e-6`, so 1e-8 leaves a margin of ~50 for rounding inside `f`.
pub const ATOL: f64 = 1e-8;

/// 128 cases per property (the whole file runs in a few seconds); no
/// regression files; bounded shrinking (each step re-runs a full check).
pub fn cfg() -> ProptestConfig {
    ProptestConfig { cases: 128, failure_persistence: None, max_shrink_iters: 256, ..ProptestConfig::default() }
}

/// A small deterministic generator (splitmix64) for test data, weights and
/// tangents: the one generator of the test suite.
pub struct Gen(u64);

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }
    /// An f64 array of `shape` with values uniform in `[lo, hi)`.
    pub fn array(&mut self, shape: &[usize], lo: f64, hi: f64) -> Array {
        let n: usize = shape.iter().product();
        Array::from_vec((0..n).map(|_| self.uniform(lo, hi)).collect::<Vec<f64>>(), shape)
    }
    /// Another name of [`Gen::array`].
    pub fn f64s(&mut self, shape: &[usize], lo: f64, hi: f64) -> Array {
        self.array(shape, lo, hi)
    }
    /// An i32 array of `shape` with values uniform in `[lo, hi)`.
    pub fn i32s(&mut self, shape: &[usize], lo: i32, hi: i32) -> Array {
        let n = shape.iter().product();
        let r = (hi as i64 - lo as i64) as u64;
        Array::from_vec((0..n).map(|_| (lo as i64 + (self.next_u64() % r) as i64) as i32).collect::<Vec<i32>>(), shape)
    }
    /// A u32 array of `shape` with values uniform in `[0, hi)`.
    pub fn u32s(&mut self, shape: &[usize], hi: u32) -> Array {
        let n = shape.iter().product();
        Array::from_vec((0..n).map(|_| (self.next_u64() % hi as u64) as u32).collect::<Vec<u32>>(), shape)
    }
    pub fn bools(&mut self, shape: &[usize]) -> Array {
        let n = shape.iter().product();
        Array::from_vec((0..n).map(|_| self.next_u64() & 1 == 1).collect::<Vec<bool>>(), shape)
    }
    /// Integer-valued f64 in [-2, 2], so that ties and equalities actually happen.
    pub fn small_f64s(&mut self, shape: &[usize]) -> Array {
        rjax::lax::convert_element_type(&self.i32s(shape, -2, 3), rjax::DType::F64)
    }
}

/// `|ad - fd| <= RTOL * max(|ad|, |fd|) + ATOL * max(1, scale)`.
pub fn close(ad: f64, fd: f64, scale: f64) -> bool {
    (ad - fd).abs() <= RTOL * ad.abs().max(fd.abs()) + ATOL * scale.max(1.0)
}

fn with_elem(xs: &[Array], k: usize, i: usize, v: f64) -> Vec<Array> {
    let mut data = xs[k].to_vec::<f64>();
    data[i] = v;
    let mut out = xs.to_vec();
    out[k] = Array::from_vec(data, xs[k].shape());
    out
}

pub fn axpy(xs: &[Array], ts: &[Array], h: f64) -> Vec<Array> {
    xs.iter()
        .zip(ts)
        .map(|(x, t)| {
            let v: Vec<f64> = x.to_vec::<f64>().iter().zip(t.to_vec::<f64>()).map(|(a, b)| a + h * b).collect();
            Array::from_vec(v, x.shape())
        })
        .collect()
}

/// Checks `f` at `xs` (f64 arrays) against central finite differences:
/// - reverse mode: the gradient of `sum(f(xs) * w)` for a random weight array
///   `w` (so every output element matters), element by element, against
///   `sum_j w_j (f_j(x + h e_i) - f_j(x - h e_i)) / 2h` with `h = 1e-6 max(1, |x_i|)`;
///   `vjp` with cotangent `w` must give the same;
/// - forward mode: `jvp` with a random tangent `t`, every output element,
///   against `(f(x + h t) - f(x - h t)) / 2h` with `h = 1e-6 max(1, max |x|)`,
///   and its primal output against `f(xs)`.
pub fn check(name: &str, f: impl Fn(&[Array]) -> Array, xs: &[Array], seed: u64) -> Result<(), TestCaseError> {
    let xs: Vec<Array> = xs.to_vec();
    let fv = |v: &Vec<Array>| f(v);
    let y = f(&xs);
    let yv = y.to_vec::<f64>();
    let mut rng = Gen::new(seed);
    let w = rng.array(y.shape(), -1.0, 1.0);
    let wv = w.to_vec::<f64>();
    let ctx = || format!("{name}: inputs {xs:?}, weights {w:?}");

    // reverse mode
    let g = grad(|v: &Vec<Array>| jnp::sum(&jnp::multiply(f(v), &w), jnp::ALL, false))(&xs);
    let (y_vjp, pullback) = vjp(fv, &xs);
    prop_assert_eq!(y_vjp.to_vec::<f64>(), yv.clone(), "{}: vjp primal output", name);
    let g2 = pullback(&w);
    for (k, x) in xs.iter().enumerate() {
        prop_assert_eq!(g[k].shape(), x.shape(), "{}: gradient shape of input {}", name, k);
        let (gk, g2k) = (g[k].to_vec::<f64>(), g2[k].to_vec::<f64>());
        let xv = x.to_vec::<f64>();
        for i in 0..xv.len() {
            let (xp, xm) = (xv[i] + 1e-6 * xv[i].abs().max(1.0), xv[i] - 1e-6 * xv[i].abs().max(1.0));
            let p = f(&with_elem(&xs, k, i, xp)).to_vec::<f64>();
            let m = f(&with_elem(&xs, k, i, xm)).to_vec::<f64>();
            let fd = (0..p.len()).map(|j| wv[j] * (p[j] - m[j])).sum::<f64>() / (xp - xm);
            let scale: f64 = (0..p.len()).filter(|&j| p[j] != m[j]).map(|j| (wv[j] * yv[j]).abs()).sum();
            prop_assert!(
                close(gk[i], fd, scale),
                "grad of {} w.r.t. input {} element {}: autodiff {} vs finite difference {}\n{}",
                name,
                k,
                i,
                gk[i],
                fd,
                ctx()
            );
            prop_assert!(
                close(g2k[i], gk[i], 0.0),
                "vjp of {} w.r.t. input {} element {}: {} but grad gives {}\n{}",
                name,
                k,
                i,
                g2k[i],
                gk[i],
                ctx()
            );
        }
    }

    // forward mode
    let ts: Vec<Array> = xs.iter().map(|x| rng.array(x.shape(), -1.0, 1.0)).collect();
    let (y2, dy) = jvp(fv, &xs, &ts);
    prop_assert_eq!(y2.shape(), y.shape(), "{}: jvp primal shape", name);
    prop_assert_eq!(dy.shape(), y.shape(), "{}: jvp tangent shape", name);
    for (a, b) in y2.to_vec::<f64>().iter().zip(&yv) {
        prop_assert!(close(*a, *b, 0.0), "{}: jvp primal {} vs f(x) {}\n{}", name, a, b, ctx());
    }
    let xmax = xs.iter().flat_map(|x| x.to_vec::<f64>()).fold(1.0f64, |m, v| m.max(v.abs()));
    let h = 1e-6 * xmax;
    let p = f(&axpy(&xs, &ts, h)).to_vec::<f64>();
    let m = f(&axpy(&xs, &ts, -h)).to_vec::<f64>();
    let dyv = dy.to_vec::<f64>();
    for j in 0..yv.len() {
        let fd = (p[j] - m[j]) / (2.0 * h);
        prop_assert!(
            close(dyv[j], fd, yv[j].abs()),
            "jvp of {}, output element {}: autodiff {} vs finite difference {}\ntangents {:?}\n{}",
            name,
            j,
            dyv[j],
            fd,
            ts,
            ctx()
        );
    }
    Ok(())
}

/// All leaves raveled and joined, so a tree of gradients is one array.
pub fn flat(xs: &[Array]) -> Array {
    let parts: Vec<Array> = xs.iter().map(jnp::ravel).collect();
    jnp::concatenate(&parts.iter().collect::<Vec<_>>(), 0)
}

/// [`check`] on `f`, then on its gradient map `xs -> grad(sum(f(xs) * w))`
/// (for a fixed random `w`): second derivatives by reverse-over-reverse and
/// forward-over-reverse against finite differences of the gradient.
pub fn check12(name: &str, f: impl Fn(&[Array]) -> Array, xs: &[Array], seed: u64) -> Result<(), TestCaseError> {
    check(name, &f, xs, seed)?;
    let y = f(xs);
    let w = Gen::new(seed ^ 0x2d).array(y.shape(), -1.0, 1.0);
    let df =
        |v: &[Array]| flat(&grad(|u: &Vec<Array>| jnp::sum(&jnp::multiply(f(u), &w), jnp::ALL, false))(&v.to_vec()));
    check(&format!("gradient of {name}"), df, xs, seed)
}

/// [`check12`] for a function of one array.
pub fn check1(name: &str, f: impl Fn(&Array) -> Array, x: &Array, seed: u64) -> Result<(), TestCaseError> {
    check12(name, |v: &[Array]| f(&v[0]), std::slice::from_ref(x), seed)
}

/// Shapes of rank 0..=3 with axes of size 1..=4.
pub fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=4, 0..=3)
}

/// Shapes of rank `lo..=hi` with axes of size 1..=4.
pub fn shape_r(lo: usize, hi: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=4, lo..=hi)
}

/// An f64 array of `shape` with values in `[lo, hi)`.
pub fn arr(shape: Vec<usize>, lo: f64, hi: f64) -> impl Strategy<Value = Array> {
    let n: usize = shape.iter().product();
    prop::collection::vec(lo..hi, n).prop_map(move |v| Array::from_vec(v, &shape))
}

/// An array of random shape with values in `[lo, hi)`.
pub fn any_arr(lo: f64, hi: f64) -> impl Strategy<Value = Array> {
    shape().prop_flat_map(move |s| arr(s, lo, hi))
}

/// An f64 array of `shape` with `|x|` in `[lo, hi)` and a random sign.
pub fn arr_signed(shape: Vec<usize>, lo: f64, hi: f64) -> impl Strategy<Value = Array> {
    let n: usize = shape.iter().product();
    prop::collection::vec((lo..hi, any::<bool>()), n)
        .prop_map(move |v| Array::from_vec(v.iter().map(|&(a, s)| if s { a } else { -a }).collect(), &shape))
}

/// An f64 array of `shape` whose values are pairwise at least ~3/n apart in
/// [-2, 2] (no ties for max/min/sort).
pub fn distinct(shape: Vec<usize>) -> impl Strategy<Value = Array> {
    let n: usize = shape.iter().product();
    (Just((0..n).collect::<Vec<usize>>()).prop_shuffle(), prop::collection::vec(-0.1f64..0.1, n)).prop_map(
        move |(perm, jit)| {
            let v = perm.iter().zip(&jit).map(|(&k, &j)| -2.0 + 4.0 * (k as f64 + 0.5 + j) / n as f64).collect();
            Array::from_vec(v, &shape)
        },
    )
}

/// A shape derived from `full` by dropping `drop` leading axes and setting the
/// axes flagged in `ones` to 1 (so it broadcasts to `full`).
pub fn derive(full: &[usize], ones: &[bool], drop: usize) -> Vec<usize> {
    full.iter().zip(ones).skip(drop.min(full.len())).map(|(&d, &o)| if o { 1 } else { d }).collect()
}

/// A broadcast shape and two shapes that broadcast to it (axes set to 1 or
/// dropped at random, so size-1 axes and rank promotion both occur).
pub fn bcast_shapes() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, Vec<usize>)> {
    shape().prop_flat_map(|s| {
        let n = s.len();
        let ones = prop::collection::vec(prop::bool::weighted(0.3), n);
        (Just(s), ones.clone(), 0..=n, ones, 0..=n, any::<bool>()).prop_map(|(s, oa, da, ob, db, full_a)| {
            // one operand keeps the full rank half the time, so every axis is covered
            let (da, db) = if full_a { (0, db) } else { (da, 0) };
            let (a, b) = (derive(&s, &oa, da), derive(&s, &ob, db));
            (s, a, b)
        })
    })
}

/// Two arrays of broadcast-compatible shapes with values in the given ranges.
pub fn bcast_pair(a: (f64, f64), b: (f64, f64)) -> impl Strategy<Value = (Array, Array)> {
    bcast_shapes().prop_flat_map(move |(_, sa, sb)| (arr(sa, a.0, a.1), arr(sb, b.0, b.1)))
}

/// The process's resident memory (VmRSS), in bytes.
pub fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kb * 1024
}
