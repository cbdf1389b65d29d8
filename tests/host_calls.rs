//! Operations that XLA's CPU plugin runs through rjax's own code (a
//! `stablehlo.custom_call` of a Rust handler registered with the plugin):
//! - matrix products in each layout of their operands (a dense layer's
//!   forward product, weight gradient and input gradient), in f32 and f64,
//!   against the built-in backend (which runs the same `gemm` crate), as
//!   values, as gradients and inside a compiled loop;
//! - `random_bits`, bit for bit equal to the built-in backend's words, for
//!   one key, batched keys and draws split in pieces;
//! - a malformed call failing with the handler's message instead of a wrong
//!   result.
//!
//! Needs the CPU plugin (`scripts/install-plugin cpu`); on CUDA (`RJAX_TEST_XLA=cuda`)
//! these operations stay XLA's and the tests only check parity.

mod xla_gate;

use proptest::prelude::*;
use rjax::backend::pjrt::{Client, host_calls_run};
use rjax::{Array, DType, Device, Tree, device_put, grad, jit, lax, numpy as jnp, random, vmap};
use std::sync::{Mutex, MutexGuard};

fn xla() -> Option<Device> {
    xla_gate::xla_available().then(xla_gate::xla_device)
}

fn normal(seed: u64, shape: &[usize], dtype: DType) -> Array {
    random::normal(&random::key(seed), shape, dtype)
}

/// Largest difference relative to the largest magnitude of `a` (`b` may be on a device).
fn rel_diff(a: &Array, b: &Array) -> f64 {
    let b = device_put(b, &Device::Cpu).expect("to host");
    assert_eq!(a.aval(), b.aval());
    let (a, b) = (a.astype(DType::F64).to_vec::<f64>(), b.astype(DType::F64).to_vec::<f64>());
    let scale = a.iter().fold(1e-300f64, |m, x| m.max(x.abs()));
    a.iter().zip(&b).fold(0.0f64, |m, (x, y)| m.max((x - y).abs())) / scale
}

/// The four layouts the handler takes (`x · w`, `xᵀ · dy`, `dy · wᵀ` and
/// `wᵀ · xᵀ`), all in one program, each plus 1 (work XLA counts: a program
/// of products alone would run without host calls, see
/// `a_program_of_host_calls_alone_is_still_dispatched`).
fn products(xs: &(Array, Array, Array)) -> (Array, Array, Array, Array) {
    let (x, w, dy) = xs;
    (
        jnp::matmul(x, w) + 1.0,
        jnp::matmul(&x.t(), dy) + 1.0,
        jnp::matmul(dy, &w.t()) + 1.0,
        jnp::matmul(&w.t(), &x.t()) + 1.0,
    )
}

/// Does the platform under test have host calls (XLA's CPU plugin, unless
/// `RJAX_XLA_HOST_CALLS=0`)?
fn host_calls_on() -> bool {
    xla_gate::xla_name() == "xla-cpu" && std::env::var("RJAX_XLA_HOST_CALLS").map_or(true, |v| v.trim() != "0")
}

/// The tests that run host calls take turns: [`calling_host`] reads the
/// process's count of them.
fn turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f`, asserting that it made host calls (on XLA's CPU plugin) or
/// not (elsewhere: a GPU runs everything in XLA). The count is the
/// process's, so the tests that read it take turns.
fn calling_host<T: Tree>(expected: bool, f: impl FnOnce() -> T) -> T {
    let _turn = turn();
    let before = host_calls_run();
    let out = f();
    for leaf in rjax::tree::leaves(&out) {
        leaf.block_until_ready().expect("run");
    }
    let on =
        xla_gate::xla_name() == "xla-cpu" && std::env::var("RJAX_XLA_HOST_CALLS").map_or(true, |v| v.trim() != "0");
    assert_eq!(host_calls_run() > before, expected && on, "host calls made");
    out
}

#[test]
fn layer_products_match_the_built_in_backend() {
    let Some(dev) = xla() else { return };
    for (dtype, tol) in [(DType::F32, 1e-5), (DType::F64, 1e-13)] {
        for (m, k, n) in [(128, 300, 200), (33, 517, 65), (256, 64, 10)] {
            let args = (normal(1, &[m, k], dtype), normal(2, &[k, n], dtype), normal(3, &[m, n], dtype));
            let cpu = jit(products).on(Device::Cpu).call(&args);
            let on_xla = calling_host(true, || jit(products).on(dev.clone()).call(&args));
            let pairs = [
                ("x·w", &cpu.0, &on_xla.0),
                ("xᵀ·dy", &cpu.1, &on_xla.1),
                ("dy·wᵀ", &cpu.2, &on_xla.2),
                ("wᵀ·xᵀ", &cpu.3, &on_xla.3),
            ];
            for (name, c, x) in pairs {
                let d = rel_diff(c, x);
                assert!(d <= tol, "{dtype} {m}x{k}x{n} {name}: relative difference {d:e}");
            }
        }
    }
}

fn mlp_loss(p: &(Array, Array), x: &Array, y: &Array) -> Array {
    let h = jnp::maximum(jnp::matmul(x, &p.0), 0.0);
    let out = jnp::matmul(&h, &p.1);
    jnp::mean(&jnp::square(&(out - y)), jnp::ALL, false)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Gradients through the handler's products (forward, weight and input
    /// gradients) agree with the built-in backend's in f64.
    #[test]
    fn mlp_gradients_match_the_built_in_backend(b in 40usize..140, d in 60usize..300, h in 40usize..200, seed in 0u64..1000) {
        let Some(dev) = xla() else { return Ok(()) };
        let p = (normal(seed, &[d, h], DType::F64) * 0.1, normal(seed + 1, &[h, 7], DType::F64) * 0.1);
        let (x, y) = (normal(seed + 2, &[b, d], DType::F64), normal(seed + 3, &[b, 7], DType::F64));
        let g = move |p: &(Array, Array)| grad(|p: &(Array, Array)| mlp_loss(p, &x, &y))(p);
        let cpu = jit(g.clone()).on(Device::Cpu).call(&p);
        let on_xla = calling_host(true, || jit(g).on(dev).call(&p));
        for (c, x) in [(&cpu.0, &on_xla.0), (&cpu.1, &on_xla.1)] {
            let diff = rel_diff(c, x);
            prop_assert!(diff <= 1e-12, "relative difference {diff:e} ({b}x{d}x{h})");
        }
    }
}

#[test]
fn products_inside_a_compiled_loop_match() {
    let Some(dev) = xla() else { return };
    // ten steps of w <- w - 0.01 xᵀ(x w) in a fori_loop: the handler runs inside XLA's while
    let x = normal(7, &[96, 160], DType::F32) * 0.1;
    let step = move |w: &Array| {
        let xc = x.clone();
        rjax::lax::fori_loop(0, 10, move |_, w: &Array| w - jnp::matmul(&xc.t(), &jnp::matmul(&xc, w)) * 0.01, w)
    };
    let w = normal(8, &[160, 48], DType::F32);
    let cpu = jit(step.clone()).on(Device::Cpu).call(&w);
    let on_xla = calling_host(true, || jit(step).on(dev).call(&w));
    let d = rel_diff(&cpu, &on_xla);
    assert!(d <= 1e-5, "relative difference {d:e}");
}

#[test]
fn random_bits_equal_the_built_in_words() {
    let Some(dev) = xla() else { return };
    let args = (random::key(42).data().clone(), Array::from_vec(vec![3u32, 1], &[2]));
    // 70,001 words: two whole pieces of 32,768 words and a part of a third;
    // the words and the words plus one (work XLA counts, so that the larger
    // draws run as host calls; the small ones run in XLA, see
    // `a_program_of_host_calls_alone_is_still_dispatched`)
    for shape in [vec![0], vec![5], vec![128, 1024], vec![70_001], vec![3, 7, 11]] {
        let host = shape.iter().product::<usize>() >= 1000;
        let f = move |(k, s): &(Array, Array)| {
            let bits = lax::random_bits(k, s, &shape);
            (bits.clone(), bits + Array::scalar(1u32))
        };
        let cpu = jit(f.clone()).on(Device::Cpu).call(&args);
        let on_xla = calling_host(host, || jit(f).on(dev.clone()).call(&args));
        for (c, x) in [(&cpu.0, &on_xla.0), (&cpu.1, &on_xla.1)] {
            assert_eq!(c, &device_put(x, &Device::Cpu).expect("to host"), "words of shape {:?}", c.shape());
        }
    }
}

#[test]
fn batched_random_bits_and_dropout_masks_equal_the_built_in_ones() {
    let Some(dev) = xla() else { return };
    let keys: Vec<Array> = random::split(&random::key(7), 5).iter().map(|k| k.data().clone()).collect();
    let keys = jnp::stack(&keys.iter().collect::<Vec<_>>(), 0);
    // one draw per key: vmap gives random_bits a batch of keys
    let f = |ks: &Array| vmap(|k: &Array| random::bits(&random::Key(k.clone()), &[300, 40]) + Array::scalar(7u32))(ks);
    let cpu = jit(f).on(Device::Cpu).call(&keys);
    let on_xla = calling_host(true, || jit(f).on(dev.clone()).call(&keys));
    assert_eq!(cpu, device_put(&on_xla, &Device::Cpu).expect("to host"));
    // three masks of different sizes in one program, as a training step draws them
    let masks = |k: &Array| -> Vec<Array> {
        let k = random::Key(k.clone());
        [1024usize, 512, 256]
            .iter()
            .enumerate()
            .map(|(i, &n)| random::bernoulli(&random::fold_in(&k, i as u32), 0.7, &[128, n]))
            .collect()
    };
    let k0 = random::key(9).data().clone();
    let cpu = jit(masks).on(Device::Cpu).call(&k0);
    let on_xla = calling_host(true, || jit(masks).on(dev).call(&k0));
    for (c, x) in cpu.iter().zip(&on_xla) {
        assert_eq!(c, &device_put(x, &Device::Cpu).expect("to host"));
    }
}

/// XLA's CPU plugin runs a program it counts under 1,000 operations in on
/// the calling thread, and counts none for a host call: a program of matrix
/// products alone is compiled without host calls, so that it still returns
/// before its result is computed.
#[test]
fn a_program_of_host_calls_alone_is_still_dispatched() {
    let Some(dev) = xla() else { return };
    let x = normal(4, &[1024, 1024], DType::F32) * 0.03;
    let f = |x: &Array| (0..6).fold(x.clone(), |y, _| jnp::matmul(&y, x));
    let g = jit(f).on(dev.clone());
    let warm = calling_host(false, || g.call(&x));
    let x = device_put(&x, &dev).expect("device_put");
    let _turn = turn();
    let before = host_calls_run();
    let t0 = std::time::Instant::now();
    let y = g.call(&x);
    let dispatched = t0.elapsed();
    y.block_until_ready().expect("run");
    assert!(dispatched * 4 < t0.elapsed(), "the call took {dispatched:?}: it waited for the result");
    assert_eq!(host_calls_run(), before, "no host calls");
    let cpu = jit(f).on(Device::Cpu).call(&device_put(&x, &Device::Cpu).expect("to host"));
    for r in [&warm, &y] {
        let d = rel_diff(&cpu, r);
        assert!(d <= 1e-4, "relative difference {d:e}");
    }
}

#[test]
fn a_malformed_call_fails_with_the_handler_message() {
    // Only the CPU plugin has the handlers; starting the xla-cpu runtime registers them.
    if xla().is_none() || !host_calls_on() {
        return;
    }
    let _turn = turn();
    let client = Client::cpu().expect("the CPU plugin");
    let text = r#"func.func @main(%a: tensor<64x64xi32>, %b: tensor<64x64xi32>) -> tensor<64x64xi32> {
  %c = "stablehlo.custom_call"(%a, %b) {api_version = 4 : i32, call_target_name = "rjax_gemm_nn", backend_config = {}} : (tensor<64x64xi32>, tensor<64x64xi32>) -> tensor<64x64xi32>
  return %c : tensor<64x64xi32>
}"#;
    let exe = client.compile(text).expect("compiles");
    let a = client.buffer(&Array::zeros(&[64, 64], DType::I32).host_data().expect("host").clone()).expect("upload");
    let err = exe.execute(&[&a, &a]).and_then(|outs| outs[0].to_host()).expect_err("an i32 product must fail");
    assert!(err.to_string().contains("rjax_gemm_nn: no product of i32 matrices"), "{err}");
}
