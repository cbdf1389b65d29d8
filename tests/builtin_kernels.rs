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
/// and backward passes use, against the exact (f64) product: every element
/// within `k * eps / (1 - k * eps)` of `sum |a| |b|` (the bound for any order
/// of summation, eps = 2^-24).
#[test]
fn f32_products_are_within_the_rounding_bound_of_the_exact_ones() {
    let cases = [(128, 3072, 1024, false), (3072, 128, 256, true), (128, 1024, 512, false), (7, 33, 5, true)];
    for (i, (m, k, n, lhs_transposed)) in cases.into_iter().enumerate() {
        let keys = random::split(&random::key(i as u64), 2);
        let a_shape = if lhs_transposed { [k, m] } else { [m, k] };
        let a = random::normal(&keys[0], &a_shape, DType::F32);
        let b = random::normal(&keys[1], &[k, n], DType::F32);
        let lhs = |x: &Array| if lhs_transposed { jnp::transpose(x, None) } else { x.clone() };
        let got = jnp::matmul(&lhs(&a), &b).to_vec::<f32>();
        let exact = jnp::matmul(&lhs(&a.astype(DType::F64)), &b.astype(DType::F64)).to_vec::<f64>();
        let size =
            jnp::matmul(&lhs(&jnp::abs(&a.astype(DType::F64))), &jnp::abs(&b.astype(DType::F64))).to_vec::<f64>();
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
