//! Control flow (`scan`, `fori_loop`, `while_loop`, `cond`, `switch`): values
//! against plain Rust loops and branches; derivatives against central finite
//! differences in f64 (`common::check`: grad, vjp and jvp, random lengths and
//! shapes); `vmap` against stacking per-example results; nesting inside each
//! other and inside transformations; errors at the caller's line.

mod common;

use common::panics::{Caught, catch};
use common::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rjax::{Array, DType, grad, jacfwd, jvp, lax, make_graph, numpy as jnp, vmap};

// ---------------------------------------------------------------- helpers

fn f64s(v: &[f64], shape: &[usize]) -> Array {
    Array::from_vec(v.to_vec(), shape)
}

fn scalar(v: f64) -> Array {
    Array::scalar(v)
}

/// All leaves raveled and joined.
fn cat(parts: &[&Array]) -> Array {
    let r: Vec<Array> = parts.iter().map(|p| jnp::ravel(&jnp::astype(p, DType::F64))).collect();
    jnp::concatenate(&r.iter().collect::<Vec<_>>(), 0)
}

/// Same dtype and shape, values within 1e-12 (relative to max(1, |want|)).
#[track_caller]
fn assert_close(got: &Array, want: &Array, what: &str) {
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let (g, w) = (jnp::astype(got, DType::F64).to_vec::<f64>(), jnp::astype(want, DType::F64).to_vec::<f64>());
    for (k, (a, b)) in g.iter().zip(&w).enumerate() {
        assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{what}: element {k}: got {a}, want {b}\n{got:?}\n{want:?}");
    }
}

/// `vmap(f)(x)` equals `f` applied to each example and stacked.
#[track_caller]
fn check_vmap(what: &str, f: impl Fn(&Array) -> Array, x: &Array) {
    let got = vmap(&f)(x);
    let outs: Vec<Array> = (0..x.shape()[0]).map(|i| f(&jnp::index(x, rjax::s![i]))).collect();
    assert_close(&got, &jnp::stack(&outs.iter().collect::<Vec<_>>(), 0), what);
}

/// Forward mode only: `jvp` against central differences along a random tangent.
fn check_jvp(name: &str, f: impl Fn(&[Array]) -> Array, xs: &[Array], seed: u64) -> Result<(), TestCaseError> {
    let y = f(xs).to_vec::<f64>();
    let mut rng = Gen::new(seed);
    let ts: Vec<Array> = xs.iter().map(|x| rng.array(x.shape(), -1.0, 1.0)).collect();
    let (y2, dy) = jvp(|v: &Vec<Array>| f(v), &xs.to_vec(), &ts);
    prop_assert_eq!(y2.to_vec::<f64>(), y.clone(), "{}: jvp primal", name);
    let xmax = xs.iter().flat_map(|x| x.to_vec::<f64>()).fold(1.0f64, |m, v| m.max(v.abs()));
    let h = 1e-6 * xmax;
    let (p, m) = (f(&axpy(xs, &ts, h)).to_vec::<f64>(), f(&axpy(xs, &ts, -h)).to_vec::<f64>());
    for (j, d) in dy.to_vec::<f64>().iter().enumerate() {
        let fd = (p[j] - m[j]) / (2.0 * h);
        prop_assert!(close(*d, fd, y[j].abs()), "jvp of {} element {}: {} vs finite difference {}", name, j, d, fd);
    }
    Ok(())
}

/// A branch of two arrays.
type PairFn<'a> = dyn Fn(&(Array, Array)) -> Array + 'a;

/// The loop body used by several tests: a carry `c`, a step input `x`, a weight `w`.
fn step(c: &Array, x: &Array, w: &Array) -> (Array, Array) {
    (jnp::sin(c) * w + x * c, c * x + jnp::cos(x))
}

// ---------------------------------------------------------------- values

#[test]
fn scan_matches_a_loop() {
    // carry (s: f64[2], k: i32), xs (a: f64[n,2], b: f64[n]), ys (sum of s, k)
    let (n, a, b) = (5, (0..10).map(|i| i as f64 * 0.3 - 1.0).collect::<Vec<_>>(), [0.5, -1.0, 2.0, 0.25, 1.5]);
    let run = |reverse: bool| {
        let body = |(s, k): &(Array, Array), (a, b): &(Array, Array)| {
            let s2 = s * b + a;
            ((s2.clone(), lax::add(k, &Array::scalar(1i32))), (s2.sum(), k.clone()))
        };
        let init = (f64s(&[1.0, 2.0], &[2]), Array::scalar(0i32));
        lax::scan_with(body, &init, &(f64s(&a, &[n, 2]), f64s(&b, &[n])), None, reverse)
    };
    for reverse in [false, true] {
        let ((s, k), (sums, ks)) = run(reverse);
        let (mut rs, mut rk) = ([1.0, 2.0], 0);
        let (mut want_sums, mut want_ks) = (vec![0.0; n], vec![0; n]);
        for step in 0..n {
            let i = if reverse { n - 1 - step } else { step };
            rs = [rs[0] * b[i] + a[2 * i], rs[1] * b[i] + a[2 * i + 1]];
            want_sums[i] = rs[0] + rs[1];
            want_ks[i] = rk;
            rk += 1;
        }
        assert_close(&s, &f64s(&rs, &[2]), "final carry");
        assert_eq!(k.item::<i32>(), rk);
        assert_close(&sums, &f64s(&want_sums, &[n]), "stacked outputs");
        assert_eq!(ks.to_vec::<i32>(), want_ks);
    }
}

#[test]
fn scan_n_and_empty_scans() {
    let (c, ys) = lax::scan_n(|c: &Array| (c * 3.0, c + 0.5), &scalar(1.0), 4);
    assert_eq!((c.item::<f64>(), ys.to_vec::<f64>()), (81.0, vec![1.5, 3.5, 9.5, 27.5]));
    let (c, ys) =
        lax::scan(|c: &Array, x: &Array| (c + x.sum(), x * 2.0), &scalar(1.0), &Array::zeros(&[0, 3], DType::F64));
    assert_eq!((c.item::<f64>(), ys.shape()), (1.0, &[0, 3][..]));
    let (c, ys) = lax::scan_n(|c: &Array| (c * 2.0, c.clone()), &scalar(1.0), 0);
    assert_eq!((c.item::<f64>(), ys.shape()), (1.0, &[0][..]));
    // carry only, outputs a unit tree
    let (c, ()) = lax::scan(|c: &Array, x: &Array| (c.clone() * x, ()), &scalar(2.0), &f64s(&[3.0, 4.0], &[2]));
    assert_eq!(c.item::<f64>(), 24.0);
}

#[test]
fn fori_loop_matches_a_loop() {
    for (lo, hi) in [(0, 6), (3, 7), (5, 5), (6, 2)] {
        let got = lax::fori_loop(
            lo,
            hi,
            |i, (a, b): &(Array, Array)| {
                let fi = lax::convert_element_type(i, DType::F64);
                (a * 0.5 + &fi, lax::add(b, i))
            },
            &(scalar(1.0), Array::scalar(0i32)),
        );
        let (mut a, mut b) = (1.0, 0);
        for i in lo..hi {
            a = a * 0.5 + i as f64;
            b += i as i32;
        }
        assert_eq!((got.0.item::<f64>(), got.1.item::<i32>()), (a, b), "fori_loop({lo}, {hi})");
    }
}

#[test]
fn while_loop_matches_a_loop() {
    // Collatz: (n, steps) until n == 1
    let collatz = |n: i32| {
        lax::while_loop(
            |(n, _): &(Array, Array)| lax::ne(n, &Array::scalar(1i32)),
            |(n, s): &(Array, Array)| {
                let even = lax::eq(&lax::rem(n, &Array::scalar(2i32)), &Array::scalar(0i32));
                let half = lax::div(n, &Array::scalar(2i32));
                let up = lax::add(&lax::mul(n, &Array::scalar(3i32)), &Array::scalar(1i32));
                (lax::select(&even, &half, &up), lax::add(s, &Array::scalar(1i32)))
            },
            &(Array::scalar(n), Array::scalar(0i32)),
        )
    };
    for start in [1, 2, 6, 7, 27] {
        let (mut n, mut steps) = (start, 0);
        while n != 1 {
            n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
            steps += 1;
        }
        let (got_n, got_steps) = collatz(start);
        assert_eq!((got_n.item::<i32>(), got_steps.item::<i32>()), (1, steps), "collatz({start})");
    }
    // a loop that never runs
    let c = lax::while_loop(|c: &Array| lax::gt(c, &scalar(10.0)), |c| c * 2.0, &scalar(1.0));
    assert_eq!(c.item::<f64>(), 1.0);
}

#[test]
fn cond_and_switch_match_branches() {
    let x = f64s(&[1.0, -2.0], &[2]);
    for p in [true, false] {
        let got = lax::cond(
            &Array::scalar(p),
            |(a, b): &(Array, Array)| (a * b, b * 2.0),
            |(a, b): &(Array, Array)| (a + b, a.sum()),
            &(x.clone(), scalar(3.0)),
        );
        let want = if p { ([3.0, -6.0], 6.0) } else { ([4.0, 1.0], -1.0) };
        assert_eq!((got.0.to_vec::<f64>(), got.1.item::<f64>()), (want.0.to_vec(), want.1));
    }
    let branches: [&dyn Fn(&Array) -> Array; 3] = [&|x| x + 1.0, &|x| x * 10.0, &|x| -x];
    for i in -3..6 {
        let got = lax::switch(&Array::scalar(i), &branches, &x).to_vec::<f64>();
        let want: Vec<f64> = x
            .to_vec::<f64>()
            .iter()
            .map(|v| match i.clamp(0, 2) {
                0 => v + 1.0,
                1 => v * 10.0,
                _ => -v,
            })
            .collect();
        assert_eq!(got, want, "switch index {i}");
    }
}

// ---------------------------------------------------------------- derivatives

/// A scan with a captured weight: final carry and stacked outputs, joined.
fn scan_fn(v: &[Array], reverse: bool) -> Array {
    let (c, ys) = lax::scan_with(|c: &Array, x: &Array| step(c, x, &v[2]), &v[0], &v[1], None, reverse);
    cat(&[&c, &ys])
}

/// Carry shape, scan length 1..=6, and a seed.
fn scan_case() -> impl Strategy<Value = (Vec<usize>, usize, u64)> {
    (shape_r(0, 2), 1usize..=6, any::<u64>())
}

fn scan_args(s: &[usize], n: usize, seed: u64) -> Vec<Array> {
    let mut g = Gen::new(seed ^ 0x5ca1);
    let mut xs_shape = vec![n];
    xs_shape.extend_from_slice(s);
    vec![g.array(s, -1.0, 1.0), g.array(&xs_shape, -1.0, 1.0), g.array(s, -1.0, 1.0)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..cfg() })]

    #[test]
    fn grad_of_scan((s, n, seed) in scan_case(), reverse in any::<bool>()) {
        check("scan", |v| scan_fn(v, reverse), &scan_args(&s, n, seed), seed)?;
    }

    #[test]
    fn grad_of_scan_with_tree_carry_and_int_leaves((s, n, seed) in scan_case()) {
        let f = |v: &[Array]| {
            let body = |(c, d, k): &(Array, Array, Array), x: &Array| {
                let kf = lax::convert_element_type(k, DType::F64);
                let (c2, y) = step(c, x, &v[2]);
                ((c2, d * &jnp::cos(c) + &kf, lax::add(k, &Array::scalar(1i32))), (y, d.sum()))
            };
            let ((c, d, _), (y, z)) = lax::scan(body, &(v[0].clone(), v[2].clone(), Array::scalar(0i32)), &v[1]);
            cat(&[&c, &d, &y, &z])
        };
        check("scan with a tree carry", f, &scan_args(&s, n, seed), seed)?;
    }

    #[test]
    fn grad_of_fori_loop((s, n, seed) in scan_case()) {
        let f = |v: &[Array]| {
            lax::fori_loop(1, 1 + n, |i, c: &Array| {
                jnp::sin(c) * &v[1] + c * &(lax::convert_element_type(i, DType::F64) * 0.1)
            }, &v[0])
        };
        let a = scan_args(&s, n, seed);
        check("fori_loop", f, &[a[0].clone(), a[2].clone()], seed)?;
    }

    #[test]
    fn grad_of_cond_and_switch(s in shape_r(0, 2), p in any::<bool>(), i in -1i32..4, seed in any::<u64>()) {
        let a = scan_args(&s, 1, seed);
        let args = [a[0].clone(), a[2].clone()];
        let f = |v: &[Array]| {
            let w = &v[1];
            lax::cond(&Array::scalar(p), |x: &Array| jnp::sin(x) * w, |x: &Array| jnp::exp(x) - x * x, &v[0])
        };
        check("cond", f, &args, seed)?;
        let g = |v: &[Array]| {
            let w = &v[1];
            let b: [&PairFn<'_>; 3] =
                [&|(x, y)| x * y, &|(x, _)| jnp::tanh(x) * w, &|(x, y)| x + &jnp::cos(y)];
            lax::switch(&Array::scalar(i), &b, &(v[0].clone(), v[1].clone()))
        };
        check("switch", g, &args, seed)?;
    }

    #[test]
    fn jvp_of_while_loop((s, n, seed) in scan_case()) {
        // the trip count depends on an integer counter only, so the loop is smooth
        let f = |v: &[Array]| {
            let (c, _) = lax::while_loop(
                |(_, i): &(Array, Array)| lax::lt(i, &Array::scalar(n as i32)),
                |(c, i): &(Array, Array)| (jnp::sin(c) * &v[1] + c, lax::add(i, &Array::scalar(1i32))),
                &(v[0].clone(), Array::scalar(0i32)),
            );
            c
        };
        let a = scan_args(&s, n, seed);
        check_jvp("while_loop", f, &[a[0].clone(), a[2].clone()], seed)?;
        // jacfwd is vmap of jvp: batching and forward mode together
        let x = a[0].reshape(&[-1]);
        let w = jnp::ravel(&a[2]);
        let jf = jacfwd(|x: &Array| f(&[x.clone(), w.clone()]))(&x);
        let (_, col) = jvp(|x: &Array| f(&[x.clone(), w.clone()]), &x, &jnp::one_hot(&Array::scalar(0i32), x.shape()[0], DType::F64));
        prop_assert_eq!(jnp::index(&jf, rjax::s![.., 0]).to_vec::<f64>(), col.to_vec::<f64>());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..cfg() })]

    /// Second order: reverse over reverse and forward over reverse through scan.
    #[test]
    fn second_order_through_scan((s, n, seed) in (shape_r(0, 1), 1usize..=4, any::<u64>())) {
        check12("scan", |v| scan_fn(v, false), &scan_args(&s, n, seed), seed)?;
    }
}

#[test]
fn second_order_through_cond_and_fori() {
    // d2/dx2 of x^3 in the true branch: 6x; fori: (x^2)^2 = x^4 -> 12 x^2
    let f = |x: &Array| lax::cond(&Array::scalar(true), |x: &Array| x * x * x, |x| x.clone(), x);
    assert_eq!(grad(grad(f))(&scalar(2.0)).item::<f64>(), 12.0);
    let g = |x: &Array| lax::fori_loop(0, 2, |_, c: &Array| c * c, x);
    assert_close(&grad(grad(g))(&scalar(1.5)), &scalar(12.0 * 1.5 * 1.5), "fori second derivative");
}

// ---------------------------------------------------------------- vmap

#[test]
fn vmap_of_scan_and_fori() {
    let mut g = Gen::new(3);
    let xs = g.array(&[4, 5, 2], -1.0, 1.0);
    let w = g.array(&[2], -1.0, 1.0);
    // batched xs, unbatched init and weight
    check_vmap("scan over batched xs", |x| scan_fn(&[scalar(0.5) * &w, x.clone(), w.clone()], false), &xs);
    // batched init and weight (captured from the mapped argument), unbatched xs
    let x0 = jnp::index(&xs, rjax::s![0]);
    check_vmap(
        "scan with batched carry",
        |c| scan_fn(&[jnp::index(c, rjax::s![0]), x0.clone(), c.sum() * &w], true),
        &xs,
    );
    check_vmap("fori_loop", |c| lax::fori_loop(0, 3, |_, c: &Array| jnp::sin(c) + &w, c), &xs);
    // vmap of grad: per-example gradients
    check_vmap(
        "vmap of grad of scan",
        |x| grad(|x: &Array| scan_fn(&[w.clone(), x.clone(), w.clone()], false).sum())(x),
        &xs,
    );
}

#[test]
fn vmap_of_while_loop() {
    // batched predicate: examples need different numbers of steps
    let xs = f64s(&[1.0, 3.0, 0.01, 200.0, 7.0], &[5]);
    let f = |x: &Array| {
        let (c, i) = lax::while_loop(
            |(c, _): &(Array, Array)| lax::lt(c, &scalar(100.0)),
            |(c, i): &(Array, Array)| (c * 2.0 + 1.0, lax::add(i, &Array::scalar(1i32))),
            &(x.clone(), Array::scalar(0i32)),
        );
        cat(&[&c, &i])
    };
    check_vmap("while_loop, batched predicate", f, &xs);
    // predicate on an unbatched counter, batched carry
    let g = |x: &Array| {
        lax::while_loop(
            |(_, i): &(Array, Array)| lax::lt(i, &Array::scalar(4i32)),
            |(c, i): &(Array, Array)| (jnp::sin(c) + c, lax::add(i, &Array::scalar(1i32))),
            &(x.clone(), Array::scalar(0i32)),
        )
        .0
    };
    check_vmap("while_loop, unbatched predicate", g, &xs);
    // the bound is batched (a captured constant of the cond)
    let h = |x: &Array| lax::while_loop(|c: &Array| lax::lt(c, x), |c| c + 1.5, &scalar(0.0));
    check_vmap("while_loop, batched cond constant", h, &xs);
}

#[test]
fn vmap_of_cond_and_switch() {
    let xs = f64s(&[-2.0, 0.5, 3.0, -0.1], &[4]);
    let w = scalar(0.75);
    // batched predicate
    let f = |x: &Array| lax::cond(&lax::gt(x, &scalar(0.0)), |x: &Array| jnp::sin(x) * &w, |x| x * x, x);
    check_vmap("cond, batched predicate", f, &xs);
    // unbatched predicate, batched operand
    let g = |x: &Array| lax::cond(&Array::scalar(true), |x: &Array| x * 2.0, |x| x.clone(), x);
    check_vmap("cond, unbatched predicate", g, &xs);
    // batched index, out of range on purpose (clamped)
    let idx = Array::from_vec(vec![-1i32, 1, 2, 7], &[4]);
    let branches: [&dyn Fn(&Array) -> Array; 3] = [&|x| x + 1.0, &|x| x * 10.0, &|x| -x];
    let got = vmap(|(i, x): &(Array, Array)| lax::switch(i, &branches, x))(&(idx, xs.clone()));
    assert_close(&got, &f64s(&[-1.0, 5.0, -3.0, 0.1], &[4]), "switch, batched index");
}

// ---------------------------------------------------------------- nesting

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..cfg() })]

    /// scan inside scan, cond inside scan, fori inside cond: gradients.
    #[test]
    fn nested_gradients((s, n, seed) in scan_case(), p in any::<bool>()) {
        let f = |v: &[Array]| {
            let w = &v[2];
            let (c, ys) = lax::scan(|c: &Array, x: &Array| {
                let (inner, _) = lax::scan_n(|d: &Array| (jnp::sin(d) * w + x, ()), c, 2);
                let pick = lax::gt(&x.sum(), &scalar(0.0));
                let y = lax::cond(&pick, |c: &Array| c * x, |c| lax::fori_loop(0, 2, |_, d: &Array| d * w, c), &inner);
                (y.clone(), jnp::tanh(&y))
            }, &v[0], &v[1]);
            let z = lax::cond(&Array::scalar(p), |c: &Array| c * c, |c| c.clone(), &c);
            cat(&[&z, &ys])
        };
        check("nested control flow", f, &scan_args(&s, n, seed), seed)?;
    }
}

#[test]
fn nested_values_and_vmap() {
    // a while loop inside a scan inside vmap: each row counts how many doublings reach 10
    let xs = f64s(&[1.0, 2.0, 3.0, 0.5, 6.0, 20.0], &[2, 3]);
    let count = |row: &Array| {
        lax::scan(
            |acc: &Array, x: &Array| {
                let (_, k) = lax::while_loop(
                    |(c, _): &(Array, Array)| lax::lt(c, &scalar(10.0)),
                    |(c, k): &(Array, Array)| (c * 2.0, lax::add(k, &Array::scalar(1i32))),
                    &(x.clone(), Array::scalar(0i32)),
                );
                (lax::add(acc, &k), k)
            },
            &Array::scalar(0i32),
            row,
        )
    };
    let (total, per) = vmap(count)(&xs);
    assert_eq!(per.to_vec::<i32>(), vec![4, 3, 2, 5, 1, 0]);
    assert_eq!(total.to_vec::<i32>(), vec![9, 6]);
    // scan inside a while loop, under grad of vmap
    let f = |x: &Array| {
        lax::while_loop(
            |c: &Array| lax::lt(&c.sum(), &scalar(0.0)),
            |c| lax::scan(|c: &Array, x: &Array| (c + x, ()), c, &f64s(&[1.0, 2.0], &[2])).0,
            x,
        )
    };
    let per_example = vmap(|x: &Array| jvp(f, x, &scalar(1.0)).1)(&f64s(&[-5.0, 1.0], &[2]));
    assert_eq!(per_example.to_vec::<f64>(), vec![1.0, 1.0]);
}

// ---------------------------------------------------------------- graphs

#[test]
fn graphs_print_and_check() {
    let g = make_graph(|x: &Array| lax::fori_loop(0, 3, |_, c: &Array| c * 2.0, x))(&scalar(1.0));
    assert_eq!(g.eqns.len(), 1);
    let text = g.to_string();
    assert!(text.contains("= scan[length=3"), "{text}");
    // the body is closed: its constants (the start index, 1 and 2.0) are leading operands
    assert!(text.contains("num_consts=2 num_carry=2 body={ lambda ; "), "{text}");
    assert!(text.contains("mul") && text.contains("add"), "{text}");
    assert_eq!(g.check(), Ok(()));
    let g = make_graph(grad(|x: &Array| scan_fn(&[x.clone(), f64s(&[1.0, 2.0], &[2]), x.clone()], false).sum()))(
        &scalar(1.0),
    );
    assert_eq!(g.check(), Ok(()));
    assert!(g.eqns.iter().filter(|e| e.op.name() == "scan").count() >= 3, "{g}");
    let g = make_graph(|x: &Array| lax::cond(&Array::scalar(true), |x: &Array| x + 1.0, |x| x * 2.0, x))(&scalar(1.0));
    assert!(g.to_string().contains("cond[branches=({ lambda"), "{g}");
}

// ---------------------------------------------------------------- errors

/// Asserts the panic names every part and was raised at `line` of this file.
#[track_caller]
fn raised(c: Caught, line: u32, parts: &[&str]) {
    let Caught { msg, file, line: at } = c;
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} lacks {p:?}");
    }
    assert!(file.ends_with("tests/control_flow.rs") && at == line, "{msg:?} raised at {file}:{at}, not line {line}");
}

#[test]
fn carry_mismatches_are_reported_at_the_call() {
    let xs = f64s(&[1.0, 2.0, 3.0], &[3]);
    let c2 = f64s(&[0.0, 0.0], &[2]);
    let grow = |c: &Array, x: &Array| (jnp::concatenate(&[c, &x.reshape(&[1])], 0), ());
    let (c, line) = (catch(|| lax::scan(grow, &c2, &xs)), line!());
    raised(c, line, &["scan", "f64[2]", "f64[3]", "carry"]);
    let (c, line) = (catch(|| lax::fori_loop(0, 3, |_, c: &Array| jnp::astype(c, DType::F32), &c2)), line!());
    raised(c, line, &["fori_loop", "f64[2]", "f32[2]"]);
    let (c, line) = (catch(|| lax::while_loop(|_: &Array| Array::scalar(false), |c| c.sum(), &c2)), line!());
    raised(c, line, &["while_loop", "f64[2]", "f64[]"]);
    let (c, line) = (catch(|| lax::while_loop(|c: &Array| c.sum(), |c| c.clone(), &c2)), line!());
    raised(c, line, &["while_loop", "bool scalar", "f64[]"]);
    let v = vec![c2.clone(), c2.clone()];
    let (c, line) = (catch(|| lax::scan(|v: &Vec<Array>, _: &Array| (vec![v[0].clone()], ()), &v, &xs)), line!());
    raised(c, line, &["scan", "structure"]);
}

#[test]
fn xs_length_mismatches_are_reported_at_the_call() {
    let (a, b) = (f64s(&[1.0, 2.0, 3.0], &[3]), f64s(&[1.0; 8], &[4, 2]));
    let (c, line) =
        (catch(|| lax::scan(|c: &Array, _: &(Array, Array)| (c.clone(), ()), &scalar(0.0), &(a.clone(), b))), line!());
    raised(c, line, &["scan", "f64[3]", "f64[4,2]", "same leading length"]);
    let (c, line) =
        (catch(|| lax::scan_with(|c: &Array, _: &Array| (c.clone(), ()), &scalar(0.0), &a, Some(5), false)), line!());
    raised(c, line, &["scan", "length is 5", "f64[3]"]);
    let (c, line) = (catch(|| lax::scan(|c: &Array, _: &Array| (c.clone(), ()), &scalar(0.0), &scalar(1.0))), line!());
    raised(c, line, &["scan", "scalar"]);
    let (c, line) = (catch(|| lax::scan(|c: &Array, _: &()| (c.clone(), ()), &scalar(0.0), &())), line!());
    raised(c, line, &["scan", "scan_n"]);
}

#[test]
fn branch_mismatches_are_reported_at_the_call() {
    let x = f64s(&[1.0, 2.0], &[2]);
    let t = Array::scalar(true);
    let (c, line) = (catch(|| lax::cond(&t, |x: &Array| x.clone(), |x| jnp::concatenate(&[x, x], 0), &x)), line!());
    raised(c, line, &["cond", "f64[2]", "f64[4]", "true_fn", "false_fn"]);
    let (c, line) = (catch(|| lax::cond(&t, |x: &Array| x.clone(), |x| jnp::astype(x, DType::F32), &x)), line!());
    raised(c, line, &["cond", "f64[2]", "f32[2]"]);
    let branches: [&dyn Fn(&Array) -> Array; 2] = [&|x| x.clone(), &|x| x.sum()];
    let (c, line) = (catch(|| lax::switch(&Array::scalar(0i32), &branches, &x)), line!());
    raised(c, line, &["switch", "f64[2]", "f64[]", "branch 1"]);
    let (c, line) = (catch(|| lax::cond(&scalar(1.0), |x: &Array| x.clone(), |x| x.clone(), &x)), line!());
    raised(c, line, &["cond", "bool scalar", "f64[]"]);
    let (c, line) = (catch(|| lax::switch(&Array::scalar(true), &branches, &x)), line!());
    raised(c, line, &["switch", "i32 scalar", "bool[]"]);
}

#[test]
fn reverse_mode_through_while_loop_is_refused() {
    let loop_at = line!() + 1;
    let f = |x: &Array| lax::while_loop(|c: &Array| lax::lt(c, &scalar(10.0)), |c| c * 2.0, x);
    let Caught { msg, .. } = catch(|| grad(f)(&scalar(1.0)));
    for p in ["reverse-mode differentiation does not work for while_loop", "use scan or fori_loop"] {
        assert!(msg.contains(p), "{msg:?} lacks {p:?}");
    }
    let at = format!("tests/control_flow.rs:{loop_at}");
    assert!(msg.replace('\\', "/").contains(&at), "{msg:?} does not name the loop at {at}");
    // forward mode works, and grad works when no derivative flows through the loop
    assert_eq!(jvp(f, &scalar(3.0), &scalar(1.0)).1.item::<f64>(), 4.0);
    let g = grad(|x: &Array| x * &lax::while_loop(|c: &Array| lax::lt(c, &scalar(10.0)), |c| c * 2.0, &scalar(1.0)));
    assert_eq!(g(&scalar(3.0)).item::<f64>(), 16.0);
}
