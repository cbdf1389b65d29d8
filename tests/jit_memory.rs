//! Resource use over many calls: 10,000 jitted calls and 10,000 eager
//! operations on an XLA device leave the process's resident memory flat.
//! Alone in its own test binary, so no other test allocates meanwhile.

mod common;
mod xla_gate;

use common::resident_bytes;
use rjax::numpy as jnp;
use rjax::{Array, DType, device_put, jit};

/// Each call creates 16 KB of outputs (4,096 f32); leaking them would add
/// 160 MB over 10,000 calls, so a 40 MB bound catches a leak of a quarter of
/// that. Device bytes in use are checked too where the plugin reports them.
#[test]
fn ten_thousand_jitted_calls_and_eager_device_ops_keep_memory_flat() {
    if !xla_gate::xla_available() {
        return;
    }
    let dev = rjax::device("xla-cpu").expect("xla-cpu");
    let step = jit(|(w, g): &(Array, Array)| (w - g * 0.01, (g * g).sum())).on(dev.clone()).donate_argnums(&[0]);
    let g = device_put(&Array::ones(&[64, 64], DType::F32), &dev).expect("device_put");
    let mut w = Array::zeros(&[64, 64], DType::F32);
    let run = |n: usize, w: &mut Array| {
        for _ in 0..n {
            let (nw, _loss) = step.call(&(w.clone(), g.clone()));
            *w = nw;
        }
        w.block_until_ready().expect("run");
    };
    run(500, &mut w); // warm up: compile, allocator pools
    let device_before = dev.memory_stats().ok().map(|m| m.bytes_in_use);
    let before = resident_bytes();
    run(10_000, &mut w);
    let after = resident_bytes();
    let grown = after.saturating_sub(before);
    eprintln!("10,000 jitted calls: RSS {} -> {} MB", before >> 20, after >> 20);
    assert!(grown < 40 << 20, "10,000 jitted calls grew RSS by {} MB", grown >> 20);
    if let (Some(b), Ok(m)) = (device_before, dev.memory_stats()) {
        assert!(m.bytes_in_use <= b + (1 << 20), "device memory grew from {b} to {}", m.bytes_in_use);
    }
    let expect = -0.01 * 10_500.0;
    assert!((w.to_vec::<f32>()[0] - expect).abs() < 1e-2, "{} vs {expect}", w.to_vec::<f32>()[0]);
    assert_eq!(step.compile_count(), 1);

    // Eager operations on the device: one cached single-op program each.
    let mut x = device_put(&Array::zeros(&[64, 64], DType::F32), &dev).expect("device_put");
    let eager = |n: usize, x: &mut Array| {
        for _ in 0..n {
            *x = jnp::add(&*x, &g);
        }
        x.block_until_ready().expect("run");
    };
    eager(500, &mut x);
    let before = resident_bytes();
    eager(10_000, &mut x);
    let after = resident_bytes();
    let grown = after.saturating_sub(before);
    eprintln!("10,000 eager device ops: RSS {} -> {} MB", before >> 20, after >> 20);
    assert!(grown < 40 << 20, "10,000 eager device ops grew RSS by {} MB", grown >> 20);
    assert_eq!(x.to_vec::<f32>()[0], 10_500.0);
}
