//! The built-in backend's fast kernels. Its matrix products (the `gemm`
//! crate's AVX-512 or AVX2 kernels, whichever the CPU has) sum in their own
//! order, so they are checked against exact products within the rounding
//! bound of any summation order. Its fused elementwise kernels give exactly
//! what the operations give one by one: random chains of elementwise operations (with
//! broadcast scalars, comparisons and selects, conversions, reshapes, values
//! read both inside and outside a chain) under `jit` on the CPU, bit for bit
//! against the same function applied eagerly, on sizes below, at and above
//! the fused block and task lengths; and a `scan` whose body is fused
//! against the same steps unrolled eagerly.

use proptest::prelude::*;
use rjax::numpy as jnp;
use rjax::{Array, DType, Device, jit, lax, random};

/// The bits of every element, so NaNs compare equal to themselves.
fn bits(a: &Array) -> Vec<u64> {
    match a.dtype() {
        DType::F32 => a.to_vec::<f32>().iter().map(|x| x.to_bits() as u64).collect(),
        DType::F64 => a.to_vec::<f64>().iter().map(|x| x.to_bits()).collect(),
        DType::I32 => a.to_vec::<i32>().iter().map(|x| *x as u32 as u64).collect(),
        DType::Bool => a.to_vec::<bool>().iter().map(|x| *x as u64).collect(),
        other => panic!("unexpected dtype {other}"),
    }
}

/// Applies op `code` to the two latest values (`a` newest) and a scalar.
fn apply(code: u8, a: &Array, b: &Array, s: &Array) -> Array {
    let shape: Vec<isize> = a.shape().iter().map(|&d| d as isize).collect();
    match code % 13 {
        0 => a + b,
        1 => a * b,
        2 => a - b,
        3 => a / &(jnp::abs(b) + 1.0),
        4 => jnp::sqrt(&jnp::abs(a)),
        5 => jnp::exp(&-(a * a)),
        6 => jnp::maximum(a, Array::scalar(0.0f32).astype(a.dtype())),
        7 => jnp::where_(&jnp::greater(a, b), a, &(b * 0.5)),
        8 => a * s,
        9 => jnp::reshape(&jnp::reshape(a, &[-1]), &shape),
        10 => lax::convert_element_type(&lax::convert_element_type(a, DType::F64), a.dtype()),
        11 => jnp::tanh(a) + jnp::abs(s),
        _ => lax::convert_element_type(&lax::convert_element_type(&(a * 100.0), DType::I32), a.dtype()),
    }
}

/// The chain: each op reads the two latest values; returns the last value,
/// one intermediate (read outside the chain) and the sum of another (read by
/// a reduction in the middle of the chain).
fn chain(ops: &[u8], x: &Array, y: &Array, s: &Array) -> (Array, Array, Array) {
    let mut vals = vec![y.clone(), x.clone()];
    let mut total = Array::scalar(0.0f32).astype(x.dtype());
    for (i, &c) in ops.iter().enumerate() {
        let n = vals.len();
        let v = apply(c, &vals[n - 1], &vals[n - 2], s);
        if i == ops.len() / 2 {
            total = v.sum();
        }
        vals.push(if i == ops.len() / 3 { &v + &total } else { v });
    }
    let mid = vals[vals.len() / 2].clone();
    (vals.pop().expect("a value"), mid, total)
}

fn shapes() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        (1usize..600).prop_map(|n| vec![n]),
        (1usize..300, 1usize..700).prop_map(|(a, b)| vec![a, b]),
        (1usize..4, 100usize..200, 300usize..400).prop_map(|(a, b, c)| vec![a, b, c]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fused_chains_equal_the_operations_one_by_one(
        shape in shapes(),
        ops in prop::collection::vec(any::<u8>(), 1..14),
        f64_ in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let dtype = if f64_ { DType::F64 } else { DType::F32 };
        let k = random::split(&random::key(seed), 3);
        let x = random::normal(&k[0], &shape, dtype);
        let y = random::uniform(&k[1], &shape, dtype, -2.0, 2.0);
        let s = random::normal(&k[2], &[], dtype);
        let eager = chain(&ops, &x, &y, &s);
        let fused = jit(move |(x, y, s): &(Array, Array, Array)| chain(&ops, x, y, s)).on(Device::Cpu).call(&(x, y, s));
        prop_assert_eq!(bits(&fused.0), bits(&eager.0));
        prop_assert_eq!(bits(&fused.1), bits(&eager.1));
        prop_assert_eq!(bits(&fused.2), bits(&eager.2));
        prop_assert_eq!(fused.0.shape(), eager.0.shape());
    }
}

/// Adam's update written out, as in the optimizer: several state arrays and
/// broadcast scalars per step.
fn adam_step(p: &Array, m: &Array, v: &Array, g: &Array, t: &Array) -> (Array, Array, Array) {
    let m = m * 0.9 + g * 0.1;
    let v = v * 0.999 + &(g * g) * 0.001;
    let mhat = &m / &(1.0 - jnp::power(Array::scalar(0.9f32), t));
    let vhat = &v / &(1.0 - jnp::power(Array::scalar(0.999f32), t));
    (p - &(mhat / (jnp::sqrt(&vhat) + 1e-8) * 1e-3), m, v)
}

#[test]
fn a_fused_scan_body_equals_its_steps_unrolled() {
    let shape = [300, 701];
    let keys = random::split(&random::key(7), 2);
    let p0 = random::normal(&keys[0], &shape, DType::F32);
    let g = random::normal(&keys[1], &shape, DType::F32);
    let z = Array::zeros(&shape, DType::F32);
    let steps = 5;
    // eagerly, one operation at a time
    let (mut p, mut m, mut v) = (p0.clone(), z.clone(), z.clone());
    for t in 1..=steps {
        let gt = &g * (t as f64);
        (p, m, v) = adam_step(&p, &m, &v, &gt, &Array::scalar(t as f32));
    }
    // one jitted scan on the built-in CPU
    let f = jit(move |(p, g): &(Array, Array)| {
        let z = jnp::zeros_like(p);
        let ts = Array::arange(1.0, (steps + 1) as f64, 1.0, DType::F32);
        let ((p, m, v), _) = lax::scan(
            |(p, m, v): &(Array, Array, Array), t: &Array| (adam_step(p, m, v, &(g * t), t), ()),
            &(p.clone(), z.clone(), z),
            &ts,
        );
        (p, m, v)
    })
    .on(Device::Cpu);
    let (fp, fm, fv) = f.call(&(p0, g));
    assert_eq!(bits(&fp), bits(&p));
    assert_eq!(bits(&fm), bits(&m));
    assert_eq!(bits(&fv), bits(&v));
}

/// `dot_general` in f32 on the built-in CPU, in the layouts an MLP's forward
/// and backward passes use (`x · w`, `xᵀ · dy` and `dy · wᵀ`, the last one
/// as `(w · dyᵀ)ᵀ` when wider than tall), and with both operands transposed,
/// against the exact (f64) product: every element within
/// `k * eps / (1 - k * eps)` of `sum |a| |b|` (the bound for any order of
/// summation, eps = 2^-24).
#[test]
fn f32_products_are_within_the_rounding_bound_of_the_exact_ones() {
    // (m, k, n, lhs stored k x m, rhs stored n x k)
    let cases = [
        (128, 3072, 1024, false, false),
        (3072, 128, 256, true, false),
        (128, 1024, 512, false, false),
        (128, 512, 1024, false, true),
        (128, 256, 512, false, true),
        (40, 70, 90, false, true),
        (7, 33, 5, true, true),
        (96, 128, 200, true, true),
    ];
    for (i, (m, k, n, lhs_t, rhs_t)) in cases.into_iter().enumerate() {
        let keys = random::split(&random::key(i as u64), 2);
        let a = random::normal(&keys[0], &if lhs_t { [k, m] } else { [m, k] }, DType::F32);
        let b = random::normal(&keys[1], &if rhs_t { [n, k] } else { [k, n] }, DType::F32);
        // contracts the stored operands directly, so a transposed one is a
        // strided view inside the kernel, never a copy made beforehand
        let dims = lax::DotDims {
            lhs_contract: vec![if lhs_t { 0 } else { 1 }],
            rhs_contract: vec![if rhs_t { 1 } else { 0 }],
            lhs_batch: vec![],
            rhs_batch: vec![],
        };
        let product = |x: &Array, y: &Array| lax::dot_general(x, y, &dims);
        let f64s = |x: &Array| x.astype(DType::F64);
        let got = product(&a, &b).to_vec::<f32>();
        let exact = product(&f64s(&a), &f64s(&b)).to_vec::<f64>();
        let size = product(&jnp::abs(&f64s(&a)), &jnp::abs(&f64s(&b))).to_vec::<f64>();
        let eps = (k as f64) * 2f64.powi(-24);
        let gamma = eps / (1.0 - eps);
        for j in 0..got.len() {
            let err = (got[j] as f64 - exact[j]).abs();
            assert!(
                err <= gamma * size[j],
                "{m}x{k}x{n} element {j}: {} vs {} (bound {})",
                got[j],
                exact[j],
                gamma * size[j]
            );
        }
    }
}

/// A right operand stored transposed (`dy · wᵀ`) is multiplied as it is, or,
/// when the result is wider than tall, as `(w · dyᵀ)ᵀ` through a transposed
/// copy of the result: the same products as from a row-major copy of `w`
/// made beforehand, within 1e-6 relative to the sum of magnitudes (the
/// order of the sums may differ between the layouts), batched and not.
#[test]
fn a_transposed_right_operand_gives_the_products_of_a_row_major_copy() {
    let cases = [(0, 128, 512, 256), (3, 64, 96, 80), (0, 31, 200, 300), (0, 300, 200, 31), (0, 128, 10, 256)];
    for (i, (batch, m, k, n)) in cases.into_iter().enumerate() {
        let keys = random::split(&random::key(100 + i as u64), 2);
        let lead =
            |s: &[usize]| -> Vec<usize> { (batch > 0).then_some(batch).into_iter().chain(s.iter().copied()).collect() };
        let a = random::normal(&keys[0], &lead(&[m, k]), DType::F32);
        let w = random::normal(&keys[1], &lead(&[n, k]), DType::F32);
        let nb = usize::from(batch > 0);
        let batch_axes: Vec<usize> = (0..nb).collect();
        let strided = lax::dot_general(
            &a,
            &w,
            &lax::DotDims {
                lhs_contract: vec![nb + 1],
                rhs_contract: vec![nb + 1],
                lhs_batch: batch_axes.clone(),
                rhs_batch: batch_axes.clone(),
            },
        );
        let mut perm: Vec<usize> = batch_axes.clone();
        perm.extend([nb + 1, nb]);
        let w_rows = lax::transpose(&w, &perm);
        let dims = lax::DotDims {
            lhs_contract: vec![nb + 1],
            rhs_contract: vec![nb],
            lhs_batch: batch_axes.clone(),
            rhs_batch: batch_axes,
        };
        let plain = lax::dot_general(&a, &w_rows, &dims);
        let size = lax::dot_general(&jnp::abs(&a), &jnp::abs(&w_rows), &dims).to_vec::<f32>();
        assert_eq!(strided.shape(), plain.shape());
        for (j, (s, p)) in strided.to_vec::<f32>().iter().zip(plain.to_vec::<f32>()).enumerate() {
            assert!((s - p).abs() <= 1e-6 * size[j], "{batch}x{m}x{k}x{n} element {j}: {s} vs {p}");
        }
    }
}
