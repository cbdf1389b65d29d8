//! `vmap` against the definition: for every primitive's batch rule,
//! `vmap(f)(xs)` must equal stacking `f(x_i)` over the examples `x_i`.
//!
//! The reference is computed eagerly, example by example, and stacked with
//! `jnp::stack`, so it never touches a batch rule. Inputs are mapped along
//! random axes (and some are left unmapped with `None`), and outputs are placed
//! on random axes. Integer, bool and PRNG results must match exactly; floats
//! (f64) within 1e-12.
//!
//! The elementwise primitives come from the catalogue (tests/common/catalogue.rs)
//! and run on every dtype they accept; the others have dedicated tests named
//! in the catalogue, and `every_primitive_is_covered` checks that none is left out.

mod common;

use common::Gen;
use common::catalogue::{self, Entry, File, sample_all};
use proptest::prelude::*;
use rjax::lax::{self, DotDims};
use rjax::numpy as jnp;
use rjax::random::{self, Key};
use rjax::{Array, DType, Tree, grad, s, tree, vmap, vmap_axes};

/// A reduction over axes, as the lax reductions take them.
type ReduceFn = fn(&Array, &[usize]) -> Array;
/// A named random sampler of one key.
type Sampler = Box<dyn Fn(&Key) -> Array>;

// ---------------------------------------------------------------- helpers

/// `shape` with the batch size `n` inserted at `axis`.
fn with_axis(shape: &[usize], axis: usize, n: usize) -> Vec<usize> {
    let mut s = shape.to_vec();
    s.insert(axis, n);
    s
}

fn norm(a: isize, ndim: usize) -> usize {
    if a < 0 { (a + ndim as isize) as usize } else { a as usize }
}

/// Example `i` of `x` along axis `a`.
fn example(x: &Array, a: isize, i: usize) -> Array {
    jnp::index(&jnp::moveaxis(x, a, 0), s![i])
}

/// Asserts equal dtype, shape and values: exact for integers, bool and u32,
/// within 1e-12 (relative to max(1, |want|)) for floats; NaN matches NaN.
#[track_caller]
fn assert_same(got: &Array, want: &Array, what: &str) {
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let close = |g: f64, w: f64| (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= 1e-12 * w.abs().max(1.0);
    match got.dtype() {
        DType::F64 => {
            let (g, w) = (got.to_vec::<f64>(), want.to_vec::<f64>());
            for (k, (a, b)) in g.iter().zip(&w).enumerate() {
                assert!(close(*a, *b), "{what}: element {k}: got {a}, want {b}\n got {got:?}\nwant {want:?}");
            }
        }
        DType::F32 => {
            let (g, w) = (got.to_vec::<f32>(), want.to_vec::<f32>());
            for (k, (a, b)) in g.iter().zip(&w).enumerate() {
                assert!(close(*a as f64, *b as f64), "{what}: element {k}: got {a}, want {b}");
            }
        }
        _ => assert_eq!(got, want, "{what}"),
    }
}

/// Checks `vmap_axes(f, in_axes, out_axis)(x)` against stacking `f` applied to
/// each example (mapped leaves sliced along their axis, unmapped ones passed
/// whole).
#[track_caller]
fn check<T: Tree, F: Fn(&T) -> Array>(what: &str, f: F, x: &T, in_axes: &[Option<isize>], out_axis: isize) {
    let got = vmap_axes(&f, in_axes.to_vec(), out_axis as i32)(x);
    let leaves = tree::leaves(x);
    assert_eq!(leaves.len(), in_axes.len(), "{what}: one in_axes entry per leaf");
    let n = leaves
        .iter()
        .zip(in_axes)
        .find_map(|(l, a)| a.map(|a| l.shape()[norm(a, l.ndim())]))
        .expect("at least one mapped input");
    let outs: Vec<Array> = (0..n)
        .map(|i| {
            let li = leaves.iter().zip(in_axes).map(|(l, a)| a.map_or_else(|| l.clone(), |a| example(l, a, i)));
            f(&tree::unflatten(x, li.collect()).expect("same number of leaves"))
        })
        .collect();
    let want = jnp::stack(&outs.iter().collect::<Vec<_>>(), out_axis);
    assert_same(&got, &want, &format!("{what} (in_axes {in_axes:?}, out_axis {out_axis})"));
}

/// The mapping patterns for two inputs: both mapped, only the first, only the second.
fn modes2(a0: usize, a1: usize) -> [[Option<isize>; 2]; 3] {
    let (a, b) = (Some(a0 as isize), Some(a1 as isize));
    [[a, b], [a, None], [None, b]]
}

fn cfg() -> ProptestConfig {
    ProptestConfig::with_cases(32)
}

/// Batch size, an example shape of rank 0..=3, a data seed, and raw picks for axes.
fn case() -> impl Strategy<Value = (usize, Vec<usize>, u64, usize, usize)> {
    (1usize..4, prop::collection::vec(1usize..4, 0..=3), any::<u64>(), any::<usize>(), any::<usize>())
}

// ---------------------------------------------------------------- elementwise

/// Checks elementwise entry `e` on every dtype it accepts, every pattern of
/// mapped and unmapped operands (each mapped one on its own axis, picked from
/// `ra`) and each of its value passes (integer-valued operands too where the
/// domain allows, so that max, min and comparisons meet ties).
fn check_entry(e: &Entry, g: &mut Gen, n: usize, shape: &[usize], ra: usize, oa: isize) {
    let k = e.arity_or_panic();
    let r = shape.len() + 1;
    for &dt in e.dtypes {
        for mask in 1..1u32 << k {
            let axes: Vec<Option<isize>> =
                (0..k).map(|j| (mask >> j & 1 == 1).then_some(((ra >> (4 * j)) % r) as isize)).collect();
            let shapes: Vec<Vec<usize>> =
                axes.iter().map(|a| a.map_or_else(|| shape.to_vec(), |a| with_axis(shape, a as usize, n))).collect();
            for domains in e.value_passes() {
                let xs = sample_all(g, domains, dt, &shapes);
                check(&format!("{} {dt}", e.name), |x: &Vec<Array>| e.call(x), &xs, &axes, oa);
            }
        }
    }
}

/// Runs [`check_entry`] on the catalogue's elementwise entries of `arity` operands.
fn check_arity(arity: usize, (n, shape, seed, ra, rb): (usize, Vec<usize>, u64, usize, usize)) {
    let mut g = Gen::new(seed);
    let oa = (rb % (shape.len() + 1)) as isize;
    for e in catalogue::generic(File::Vmap).filter(|e| e.arity == Some(arity)) {
        check_entry(e, &mut g, n, &shape, ra, oa);
    }
}

proptest! {
    #![proptest_config(cfg())]

    /// Every elementwise primitive of one operand (float functions, neg, abs,
    /// sign, not, stop_gradient), on every dtype.
    #[test]
    fn unary_primitives(c in case()) {
        check_arity(1, c);
    }

    /// Every elementwise primitive of two operands (arithmetic, max/min,
    /// comparisons, bitwise, shifts past the bit width), both operands mapped
    /// or only one.
    #[test]
    fn binary_primitives(c in case()) {
        check_arity(2, c);
    }

    /// select, with every subset of its three operands mapped.
    #[test]
    fn select_every_mapping(c in case()) {
        check_arity(3, c);
    }

    #[test]
    fn convert_element_type((n, shape, seed, ra, rb) in case()) {
        let mut g = Gen::new(seed);
        let (ia, oa) = (ra % (shape.len() + 1), rb % (shape.len() + 1));
        let bshape = with_axis(&shape, ia, n);
        let ax = [Some(ia as isize)];
        let oa = oa as isize;
        check("f64->i32", |x: &Array| lax::convert_element_type(x, DType::I32), &g.f64s(&bshape, -9.0, 9.0), &ax, oa);
        check("i32->f64", |x: &Array| lax::convert_element_type(x, DType::F64), &g.i32s(&bshape, -9, 9), &ax, oa);
        check("bool->f32", |x: &Array| lax::convert_element_type(x, DType::F32), &g.bools(&bshape), &ax, oa);
        check("u32->u8", |x: &Array| lax::convert_element_type(x, DType::U8), &g.u32s(&bshape, 1000), &ax, oa);
    }
}

/// Fails naming any primitive of the catalogue that no test here covers.
#[test]
fn every_primitive_is_covered() {
    catalogue::assert_covered(File::Vmap);
}

#[test]
fn captured_unbatched_operand_and_negative_axes() {
    let mut g = Gen::new(7);
    let w = g.f64s(&[3, 4], -1.0, 1.0);
    let xs = g.f64s(&[3, 4, 5], -1.0, 1.0);
    // mapped along the last axis, stacked on the last axis
    check("captured mul", |x: &Array| lax::mul(x, &w), &xs, &[Some(-1)], -1);
    check("captured add", |x: &Array| lax::add(&w, x), &xs, &[Some(2)], 1);
}

// ---------------------------------------------------------------- structure

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn reshape_broadcast_transpose_slice((n, _s, seed, ra, rb) in case()) {
        let mut g = Gen::new(seed);
        let shape = [2usize, 3, 4];
        let ia = ra % 4;
        let oa = (rb % 4) as isize;
        let x = g.f64s(&with_axis(&shape, ia, n), -1.0, 1.0);
        let ax = [Some(ia as isize)];
        check("reshape", |x: &Array| lax::reshape(x, &[6, 4]), &x, &ax, oa.min(2));
        check("reshape flat", |x: &Array| lax::reshape(x, &[24]), &x, &ax, oa.min(1));
        check("reshape up", |x: &Array| lax::reshape(x, &[1, 2, 1, 12]), &x, &ax, oa);
        let perms = [[0, 1, 2], [2, 0, 1], [1, 2, 0], [2, 1, 0], [0, 2, 1], [1, 0, 2]];
        let p = perms[rb % 6];
        check("transpose", |x: &Array| lax::transpose(x, &p), &x, &ax, oa);
        check("slice", |x: &Array| lax::slice(x, &[0, 1, 1], &[2, 3, 4], &[1, 1, 2]), &x, &ax, oa);
        check("slice strided", |x: &Array| lax::slice(x, &[1, 0, 0], &[2, 3, 4], &[2, 2, 3]), &x, &ax, oa);
        let xi = g.i32s(&with_axis(&shape, ia, n), -9, 9);
        check("transpose i32", |x: &Array| lax::transpose(x, &p), &xi, &ax, oa);
        // broadcast_in_dim: [3, 1] -> [2, 3, 5] via dims [1, 2], and a scalar-like [1]
        let ib = ra % 3;
        let y = g.f64s(&with_axis(&[3, 1], ib, n), -1.0, 1.0);
        check("broadcast_in_dim", |y: &Array| lax::broadcast_in_dim(y, &[2, 3, 5], &[1, 2]), &y, &[Some(ib as isize)], oa);
        let z = g.f64s(&with_axis(&[1], ra % 2, n), -1.0, 1.0);
        check("broadcast [1]", |z: &Array| lax::broadcast_in_dim(z, &[4, 2], &[0]), &z, &[Some((ra % 2) as isize)], oa.min(2));
    }

    #[test]
    fn pad_with_batched_and_unbatched_value((n, _s, seed, ra, rb) in case()) {
        let mut g = Gen::new(seed);
        let shape = [2usize, 3];
        let ia = ra % 3;
        let oa = (rb % 3) as isize;
        let f = |(x, v): &(Array, Array)| lax::pad(x, v, &[1, 0], &[2, 1], &[1, 2]);
        let xb = g.f64s(&with_axis(&shape, ia, n), -1.0, 1.0);
        let x1 = g.f64s(&shape, -1.0, 1.0);
        let vb = g.f64s(&[n], 5.0, 6.0);
        let v1 = Array::scalar(-7.0f64);
        check("pad x mapped", f, &(xb.clone(), v1.clone()), &[Some(ia as isize), None], oa);
        check("pad value mapped", f, &(x1, vb.clone()), &[None, Some(0)], oa);
        check("pad both mapped", f, &(xb, vb), &[Some(ia as isize), Some(0)], oa);
        // integer data and a per-example value, no interior padding
        let xi = g.i32s(&with_axis(&shape, ia, n), -9, 9);
        let vi = g.i32s(&[n], 100, 200);
        let fi = |(x, v): &(Array, Array)| lax::pad(x, v, &[0, 2], &[1, 0], &[0, 0]);
        check("pad i32 both mapped", fi, &(xi, vi), &[Some(ia as isize), Some(0)], oa);
    }

    #[test]
    fn concatenate_mixed_mapping((n, _s, seed, ra, rb) in case()) {
        let mut g = Gen::new(seed);
        let oa = (rb % 3) as isize;
        for axis in 0..2usize {
            for mask in 1..8u32 {
                let axes: Vec<Option<isize>> = (0..3).map(|k| (mask >> k & 1 == 1).then_some(((ra >> (3 * k)) % 3) as isize)).collect();
                let shapes: Vec<Vec<usize>> = (0..3).map(|k| if axis == 0 { vec![k + 1, 2] } else { vec![2, k + 1] }).collect();
                let sh = |k: usize| axes[k].map_or_else(|| shapes[k].clone(), |a| with_axis(&shapes[k], a as usize, n));
                let x = (g.f64s(&sh(0), -1.0, 1.0), g.f64s(&sh(1), -1.0, 1.0), g.f64s(&sh(2), -1.0, 1.0));
                let f = move |(a, b, c): &(Array, Array, Array)| lax::concatenate(&[a, b, c], axis);
                check(&format!("concatenate axis {axis}"), f, &x, &axes, oa);
            }
        }
    }

    #[test]
    fn gather_scatter_add_argsort((n, _s, seed, ra, rb) in case()) {
        let mut g = Gen::new(seed);
        let oa = (rb % 3) as isize;
        for axis in 0..2usize {
            // data [4, 3]; indices have 5 entries along `axis` and match elsewhere;
            // some are out of range (clamped)
            let data_shape = [4usize, 3];
            let mut idx_shape = data_shape.to_vec();
            idx_shape[axis] = 5;
            let size = data_shape[axis] as i32;
            for axes in modes2(ra % 3, (ra / 3) % 3) {
                let sh = |k: usize, s: &[usize]| axes[k].map_or_else(|| s.to_vec(), |a| with_axis(s, a as usize, n));
                let x = (g.f64s(&sh(0, &data_shape), -1.0, 1.0), g.i32s(&sh(1, &idx_shape), -1, size + 2));
                check(&format!("gather axis {axis}"), move |(x, i): &(Array, Array)| lax::gather(x, i, axis), &x, &axes, oa);
                let ixu = g.u32s(&sh(0, &idx_shape), size as u32);
                let upd = g.f64s(&sh(1, &idx_shape), -1.0, 1.0);
                let sc = move |(i, u): &(Array, Array)| lax::scatter_add(i, u, axis, 4);
                check(&format!("scatter_add axis {axis}"), sc, &(ixu, upd), &axes, oa);
                let ixi = g.i32s(&sh(0, &idx_shape), 0, size);
                let updi = g.i32s(&sh(1, &idx_shape), -50, 50);
                check(&format!("scatter_add i32 axis {axis}"), sc, &(ixi, updi), &axes, oa);
            }
            // argsort with ties (stable)
            let ia = ra % 3;
            let x = g.small_f64s(&with_axis(&data_shape, ia, n));
            check(&format!("argsort axis {axis}"), move |x: &Array| lax::argsort(x, axis), &x, &[Some(ia as isize)], oa);
        }
    }

    #[test]
    fn reductions_and_arg_reductions((n, _s, seed, ra, rb) in case()) {
        let mut g = Gen::new(seed);
        let shape = [2usize, 3, 2];
        let ia = ra % 4;
        let ax = [Some(ia as isize)];
        let subsets: [&[usize]; 7] = [&[0], &[1], &[2], &[0, 1], &[0, 2], &[1, 2], &[0, 1, 2]];
        let ops: [(&str, ReduceFn); 4] =
            [("sum", lax::reduce_sum), ("prod", lax::reduce_prod), ("max", lax::reduce_max), ("min", lax::reduce_min)];
        let x = g.small_f64s(&with_axis(&shape, ia, n));
        let xi = g.i32s(&with_axis(&shape, ia, n), -4, 5);
        for axes in subsets {
            let oa = (rb % (4 - axes.len())) as isize;
            for (name, f) in ops {
                check(&format!("reduce_{name} {axes:?}"), |x: &Array| f(x, axes), &x, &ax, oa);
                check(&format!("reduce_{name} i32 {axes:?}"), |x: &Array| f(x, axes), &xi, &ax, oa);
            }
        }
        for axis in 0..3usize {
            let oa = (rb % 3) as isize;
            check("argmax", |x: &Array| lax::argmax(x, axis), &x, &ax, oa);
            check("argmin", |x: &Array| lax::argmin(x, axis), &x, &ax, oa);
            check("argmax i32", |x: &Array| lax::argmax(x, axis), &xi, &ax, oa);
        }
    }
}

#[test]
fn iota_inside_a_mapped_function() {
    let mut g = Gen::new(3);
    let xs = g.f64s(&[4, 2, 3], -1.0, 1.0);
    let add_iota = |x: &Array| lax::add(x, &lax::iota(&[2, 3], 1, DType::F64));
    check("x + iota", add_iota, &xs, &[Some(0)], 0);
    check("x + iota, out 2", add_iota, &jnp::moveaxis(&xs, 0, 1), &[Some(1)], 2);
    // an output that depends on no mapped input is broadcast along the batch axis
    let only_iota = |_: &Array| lax::iota(&[3, 2], 0, DType::I32);
    check("iota alone", only_iota, &xs, &[Some(0)], 1);
    let got = vmap(only_iota)(&xs);
    assert_eq!(got.to_vec::<i32>(), [0, 0, 1, 1, 2, 2].repeat(4));
}

// ---------------------------------------------------------------- dot_general

fn dims(lc: &[usize], rc: &[usize], lb: &[usize], rb: &[usize]) -> DotDims {
    DotDims { lhs_contract: lc.to_vec(), rhs_contract: rc.to_vec(), lhs_batch: lb.to_vec(), rhs_batch: rb.to_vec() }
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn dot_general_every_mapping((n, _s, seed, ra, rb) in case()) {
        let mut g = Gen::new(seed);
        // (lhs shape, rhs shape, dims)
        let cases: Vec<(Vec<usize>, Vec<usize>, DotDims)> = vec![
            (vec![3], vec![3], dims(&[0], &[0], &[], &[])),                     // inner product
            (vec![2, 3], vec![3], dims(&[1], &[0], &[], &[])),                  // matrix-vector
            (vec![2, 3], vec![3, 4], dims(&[1], &[0], &[], &[])),               // matmul
            (vec![3, 2], vec![4, 3], dims(&[0], &[1], &[], &[])),               // transposed contraction
            (vec![2], vec![3], dims(&[], &[], &[], &[])),                       // outer product
            (vec![5, 2, 3], vec![5, 3, 4], dims(&[2], &[1], &[0], &[0])),       // batched matmul
            (vec![2, 5, 3], vec![3, 4, 5], dims(&[2], &[0], &[1], &[2])),       // batch axes in the middle / last
            (vec![2, 3, 4], vec![4, 2, 3], dims(&[1, 2], &[2, 0], &[], &[])),   // two contracting axes
            (vec![2, 3, 4, 2], vec![2, 4, 5, 3], dims(&[1, 2], &[3, 1], &[0], &[0])), // batch + two contractions
        ];
        for (k, (ls, rs, d)) in cases.into_iter().enumerate() {
            // batch axes, then the free axes of each side
            let out_rank = ls.len() + rs.len() - d.lhs_batch.len() - d.lhs_contract.len() - d.rhs_contract.len();
            let oa = (rb % (out_rank + 1)) as isize;
            let axes = [Some((ra % (ls.len() + 1)) as isize), Some(((ra / 11) % (rs.len() + 1)) as isize)];
            for axes in [axes, [axes[0], None], [None, axes[1]]] {
                let sh = |k: usize, s: &[usize]| axes[k].map_or_else(|| s.to_vec(), |a| with_axis(s, a as usize, n));
                let d2 = d.clone();
                let f = move |(a, b): &(Array, Array)| lax::dot_general(a, b, &d2);
                let x = (g.f64s(&sh(0, &ls), -1.0, 1.0), g.f64s(&sh(1, &rs), -1.0, 1.0));
                check(&format!("dot_general case {k}"), &f, &x, &axes, oa);
                let xi = (g.i32s(&sh(0, &ls), -5, 6), g.i32s(&sh(1, &rs), -5, 6));
                check(&format!("dot_general i32 case {k}"), &f, &xi, &axes, oa);
            }
        }
    }
}

// ---------------------------------------------------------------- PRNG

fn stream(id: u64) -> Array {
    Array::from_vec(vec![id as u32, (id >> 32) as u32], &[2])
}

#[test]
fn random_bits_over_a_stack_of_keys() {
    let keys = random::split_stack(&random::key(11), 5).0;
    assert_eq!(keys.shape(), &[5, 8]);
    let st = stream(3 << 32 | 9);
    let f = |k: &Array| lax::random_bits(k, &st, &[3, 7]);
    check("random_bits keys mapped", f, &keys, &[Some(0)], 0);
    check("random_bits keys mapped, out 2", f, &keys, &[Some(0)], 2);
    // keys along axis 1
    check("random_bits keys on axis 1", f, &jnp::moveaxis(&keys, 0, 1), &[Some(1)], 1);
    // keys and streams both mapped, or only the stream
    let streams = Array::from_vec((0..10u32).collect::<Vec<_>>(), &[5, 2]);
    let fs = |(k, s): &(Array, Array)| lax::random_bits(k, s, &[40]);
    check("random_bits both mapped", fs, &(keys.clone(), streams.clone()), &[Some(0), Some(0)], 0);
    check("random_bits stream mapped", fs, &(keys.at(s![2]), streams), &[None, Some(0)], 1);
    // a stack of stacks of keys inside vmap: the rule keeps leading key axes
    let nested = random::split_stack(&random::split_stack(&random::key(2), 3), 4).0;
    assert_eq!(nested.shape(), &[3, 4, 8]);
    // (the stream needs the same leading axes as the key)
    let f = |k: &Array| lax::random_bits(k, &jnp::broadcast_to(&stream(5), &[k.shape()[0], 2]), &[6]);
    check("random_bits on key stacks", f, &nested, &[Some(0)], 0);
    check("random_bits on key stacks, axis 1", f, &nested, &[Some(1)], 2);
    // the same through random::bits on a Key stack
    check("random::bits on key stacks", |k: &Array| random::bits(&Key(k.clone()), &[5]), &nested, &[Some(1)], 1);
}

#[test]
fn random_functions_vmapped_over_keys() {
    let ks = random::split_stack(&random::key(5), 6);
    let per_key = |f: &dyn Fn(&Key) -> Array| {
        let outs: Vec<Array> = (0..6).map(|i| f(&ks.get(i))).collect();
        jnp::stack(&outs.iter().collect::<Vec<_>>(), 0)
    };
    let fs: Vec<(&str, Sampler)> = vec![
        ("bits", Box::new(|k| random::bits(k, &[2, 3]))),
        ("uniform f32", Box::new(|k| random::uniform(k, &[4], DType::F32, -1.0, 1.0))),
        ("uniform f64", Box::new(|k| random::uniform(k, &[2, 2], DType::F64, 0.0, 1.0))),
        ("normal f64", Box::new(|k| random::normal(k, &[5], DType::F64))),
        ("truncated_normal", Box::new(|k| random::truncated_normal(k, -1.0, 2.0, &[5], DType::F32))),
        ("bernoulli", Box::new(|k| random::bernoulli(k, 0.4, &[7]))),
        ("randint", Box::new(|k| random::randint(k, &[9], -3, 40))),
        ("permutation", Box::new(|k| random::permutation(k, 8))),
        ("split", Box::new(|k| random::split_stack(k, 3).0)),
        ("fold_in", Box::new(|k| random::fold_in(k, 77).0)),
    ];
    for (name, f) in fs {
        let got = vmap(|k: &Key| f(k))(&ks);
        assert_same(&got, &per_key(&*f), &format!("vmap {name}"));
    }
}

#[test]
fn nested_vmap_and_tuple_outputs() {
    let mut g = Gen::new(1);
    let a = g.f64s(&[3, 4, 2], -1.0, 1.0);
    let b = g.f64s(&[2], -1.0, 1.0);
    // inner vmap over axis 0 of its (4, 2) argument; outer over axis 0 of a
    let inner = |x: &Array| {
        vmap_axes(|(r, b): &(Array, Array)| lax::mul(r, b), vec![Some(0), None], 0)(&(x.clone(), b.clone()))
    };
    check("nested vmap", inner, &a, &[Some(0)], 1);
    // two outputs placed on different axes
    let f = |x: &Array| (lax::reduce_sum(x, &[1]), lax::neg(x));
    let (s_, m) = vmap_axes(f, 1, vec![Some(0), Some(-1)])(&a);
    // an output that does not depend on the mapped input may stay unmapped
    let (c, y) = vmap_axes(|x: &Array| (lax::iota(&[2], 0, DType::U32), lax::exp(x)), 0, vec![None, Some(0)])(&a);
    assert_eq!(c.to_vec::<u32>(), vec![0, 1]);
    assert_same(&y, &lax::exp(&a), "mapped exp next to an unmapped output");
    for i in 0..4 {
        let (s_i, m_i) = f(&example(&a, 1, i));
        assert_same(&example(&s_, 0, i), &s_i, "tuple out 0");
        assert_same(&example(&m, -1, i), &m_i, "tuple out 1");
    }
}

#[test]
fn zero_size_examples() {
    let mut g = Gen::new(4);
    let x = g.f64s(&[3, 2, 0], -1.0, 1.0);
    let ax = [Some(0)];
    check("neg of empty", lax::neg, &x, &ax, 1);
    check("reduce_sum over an empty axis", |x: &Array| lax::reduce_sum(x, &[1]), &x, &ax, 0);
    check("reduce_max over an empty axis", |x: &Array| lax::reduce_max(x, &[1]), &x, &ax, 0);
    check("transpose of empty", |x: &Array| lax::transpose(x, &[1, 0]), &x, &ax, 2);
    check("pad of empty", |x: &Array| lax::pad(x, &Array::scalar(2.0f64), &[1, 1], &[0, 2], &[1, 1]), &x, &ax, 0);
    let y = g.f64s(&[3, 0, 4], -1.0, 1.0);
    let d = dims(&[1], &[0], &[], &[]);
    check(
        "dot_general over an empty contraction",
        |(a, b): &(Array, Array)| lax::dot_general(a, b, &d),
        &(x, y),
        &[Some(0), Some(0)],
        0,
    );
    let e = g.f64s(&[3, 0, 2], -1.0, 1.0);
    let f = g.f64s(&[3, 2, 2], -1.0, 1.0);
    check(
        "concatenate with an empty piece",
        |(a, b): &(Array, Array)| lax::concatenate(&[a, b], 0),
        &(e, f),
        &[Some(0), Some(0)],
        1,
    );
}

#[test]
fn vmap_of_grad_gives_per_example_gradients() {
    let mut g = Gen::new(8);
    let w = g.f64s(&[3], -1.0, 1.0);
    let xs = g.f64s(&[5, 3], -2.0, 2.0);
    let per_example = |x: &Array| grad(|w: &Array| lax::reduce_sum(&lax::tanh(&lax::mul(w, x)), &[0]))(&w);
    check("vmap(grad)", per_example, &xs, &[Some(0)], 0);
    // and grad through a vmapped loss
    let loss =
        |w: &Array| lax::reduce_sum(&vmap(|x: &Array| lax::reduce_sum(&lax::sin(&lax::mul(w, x)), &[0]))(&xs), &[0]);
    let got = grad(loss)(&w);
    let want: Vec<f64> = (0..3)
        .map(|j| {
            (0..5)
                .map(|i| {
                    let (wj, xij) = (w.to_vec::<f64>()[j], xs.to_vec::<f64>()[i * 3 + j]);
                    xij * (wj * xij).cos()
                })
                .sum()
        })
        .collect();
    assert_same(&got, &Array::from_vec(want, &[3]), "grad of a vmapped loss");
}
