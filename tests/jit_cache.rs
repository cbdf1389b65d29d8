//! Bounded caches of compiled programs: a `jit`'s programs go with it (or
//! with `clear_cache`), its cache keeps the most recently used signatures,
//! and eager operations' programs are kept in a bounded cache. Alone in its
//! own test binary: it counts the programs alive in the process.

mod xla_gate;

use rjax::numpy as jnp;
use rjax::{Array, DType, device_put, jit};

#[test]
fn compiled_programs_are_bounded_and_freed_with_their_jit() {
    if !xla_gate::xla_available() {
        return;
    }
    let dev = rjax::device("xla-cpu").expect("xla-cpu");
    let base = dev.compiled_programs();

    // 20 shapes through a Jit that keeps 8: 8 programs alive, the latest ones
    let f = jit(|x: &Array| jnp::tanh(x) * 3.0).on(dev.clone()).cache_capacity(8);
    for n in 1..=20 {
        let y = f.call(&Array::ones(&[n], DType::F32));
        assert_eq!(y.shape(), &[n]);
    }
    assert_eq!((f.trace_count(), f.compile_count(), f.cache_size()), (20, 20, 8));
    assert_eq!(dev.compiled_programs(), base + 8);
    // the most recent signature is still compiled; the first was dropped
    f.call(&Array::ones(&[20], DType::F32));
    assert_eq!(f.trace_count(), 20);
    f.call(&Array::ones(&[1], DType::F32));
    assert_eq!(f.trace_count(), 21);

    // a second Jit of the same computation shares the programs while both live
    let g = jit(|x: &Array| jnp::tanh(x) * 3.0).on(dev.clone());
    g.call(&Array::ones(&[20], DType::F32));
    assert_eq!(g.compile_count(), 0, "the program compiled from the same text is shared");
    assert_eq!(dev.compiled_programs(), base + 8);
    drop(g);

    // clear_cache and drop free them
    f.clear_cache();
    assert_eq!((f.cache_size(), dev.compiled_programs()), (0, base));
    let y = f.call(&Array::scalar(0.5f32)).item::<f32>();
    assert!((y - 3.0 * 0.5f32.tanh()).abs() < 1e-6);
    assert_eq!(dev.compiled_programs(), base + 1);
    let clone = f.clone();
    drop(f);
    assert_eq!(dev.compiled_programs(), base + 1, "a clone keeps the cache");
    drop(clone);
    assert_eq!(dev.compiled_programs(), base);

    // eager operations on device arrays: at most the set capacity of programs
    rjax::set_eager_cache_capacity(5);
    let x = device_put(&Array::ones(&[3], DType::F32), &dev).expect("device_put");
    for k in 1..=12 {
        // each a new program: another reshape target
        let y = jnp::reshape(&x, &[3, 1, 1][..(k % 3) + 1]) + k as f64;
        assert_eq!(y.to_vec::<f32>(), vec![1.0 + k as f32; 3]);
        let _ = (&x * k as f64).sum();
    }
    assert!(dev.compiled_programs() <= base + 5, "{} eager programs kept", dev.compiled_programs() - base);
    rjax::clear_caches();
    assert_eq!(dev.compiled_programs(), 0);
    rjax::set_eager_cache_capacity(rjax::EAGER_CACHE_SIZE);
}

#[test]
#[should_panic(expected = "Jit::cache_capacity: the cache must hold at least 1 signature, got 0")]
fn a_cache_of_no_signatures_is_refused() {
    let _ = jit(|x: &Array| x * 2.0).cache_capacity(0);
}
