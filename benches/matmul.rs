//! f32 matrix product throughput: rjax (`jnp::matmul` on the built-in CPU
//! backend) next to the `gemm` crate called directly (the machine's GEMM
//! roofline proxy) and ndarray's own `dot`. Throughput is reported in
//! elements/s where one element is one floating-point operation, so
//! "Gelem/s" reads as GFLOP/s.
//!
//! Run: `cargo bench --bench matmul`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array2;
use rjax::{Array, DType, numpy as jnp, random};
use std::hint::black_box;

fn shapes() -> [(usize, usize, usize); 3] {
    [(128, 3072, 1024), (128, 1024, 512), (1024, 1024, 1024)]
}

fn direct_gemm(a: &Array2<f32>, b: &Array2<f32>, out: &mut Array2<f32>) {
    let (m, k) = a.dim();
    let n = b.dim().1;
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    // SAFETY: all three are standard-layout matrices of the stated sizes.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(threads),
        );
    }
}

fn bench(c: &mut Criterion) {
    for (m, k, n) in shapes() {
        let [ka, kb] = random::split2(&random::key(0));
        let a = random::normal(&ka, &[m, k], DType::F32);
        let b = random::normal(&kb, &[k, n], DType::F32);
        let na: Array2<f32> = a.to_ndarray::<f32>().into_dimensionality().expect("2-d");
        let nb: Array2<f32> = b.to_ndarray::<f32>().into_dimensionality().expect("2-d");
        let mut out = Array2::<f32>::zeros((m, n));
        let mut g = c.benchmark_group(format!("matmul_f32_{m}x{k}x{n}"));
        g.throughput(Throughput::Elements((2 * m * k * n) as u64));
        g.sample_size(20);
        g.bench_function("rjax", |bch| bch.iter(|| black_box(jnp::matmul(&a, &b))));
        g.bench_function("gemm_direct", |bch| bch.iter(|| direct_gemm(&na, &nb, black_box(&mut out))));
        g.bench_function("ndarray_dot", |bch| bch.iter(|| black_box(na.dot(&nb))));
        // the backward pass of a dense layer multiplies by a transposed operand
        let at: Array = a.t();
        g.bench_function("rjax_transposed_lhs", |bch| bch.iter(|| black_box(jnp::matmul(&at.t(), &b))));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
