//! Matrix products that XLA's CPU plugin runs through rjax's GEMM (a
//! `stablehlo.custom_call` of a handler registered with the plugin):
//! the forward products and weight gradients of dense layers, in f32 and
//! f64, against the built-in backend (which runs the same `gemm` crate), as
//! values, as gradients and inside a compiled loop; and a malformed call
//! failing with the handler's message instead of a wrong result.
//!
//! Needs the CPU plugin (`scripts/install-plugin cpu`); on CUDA (`RJAX_TEST_XLA=cuda`)
//! products stay XLA's and these only check parity.

mod xla_gate;

use proptest::prelude::*;
use rjax::backend::pjrt::Client;
use rjax::{Array, DType, Device, device_put, grad, jit, numpy as jnp, random};

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

/// The two layouts the handler takes (`x · w` and `xᵀ · dy`) and the one
/// it leaves to XLA (`dy · wᵀ`), all in one program.
fn products(xs: &(Array, Array, Array)) -> (Array, Array, Array) {
    let (x, w, dy) = xs;
    (jnp::matmul(x, w), jnp::matmul(&x.t(), dy), jnp::matmul(dy, &w.t()))
}

#[test]
fn layer_products_match_the_built_in_backend() {
    let Some(dev) = xla() else { return };
    for (dtype, tol) in [(DType::F32, 1e-5), (DType::F64, 1e-13)] {
        for (m, k, n) in [(128, 300, 200), (33, 517, 65), (256, 64, 10)] {
            let args = (normal(1, &[m, k], dtype), normal(2, &[k, n], dtype), normal(3, &[m, n], dtype));
            let cpu = jit(products).on(Device::Cpu).call(&args);
            let on_xla = jit(products).on(dev.clone()).call(&args);
            for (name, c, x) in [("x·w", &cpu.0, &on_xla.0), ("xᵀ·dy", &cpu.1, &on_xla.1), ("dy·wᵀ", &cpu.2, &on_xla.2)]
            {
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

    /// Gradients through the handler's products (forward and weight
    /// gradients) agree with the built-in backend's in f64.
    #[test]
    fn mlp_gradients_match_the_built_in_backend(b in 40usize..140, d in 60usize..300, h in 40usize..200, seed in 0u64..1000) {
        let Some(dev) = xla() else { return Ok(()) };
        let p = (normal(seed, &[d, h], DType::F64) * 0.1, normal(seed + 1, &[h, 7], DType::F64) * 0.1);
        let (x, y) = (normal(seed + 2, &[b, d], DType::F64), normal(seed + 3, &[b, 7], DType::F64));
        let g = move |p: &(Array, Array)| grad(|p: &(Array, Array)| mlp_loss(p, &x, &y))(p);
        let cpu = jit(g.clone()).on(Device::Cpu).call(&p);
        let on_xla = jit(g).on(dev).call(&p);
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
    let on_xla = jit(step).on(dev).call(&w);
    let d = rel_diff(&cpu, &on_xla);
    assert!(d <= 1e-5, "relative difference {d:e}");
}

#[test]
fn a_malformed_call_fails_with_the_handler_message() {
    // Only the CPU plugin has the handlers; starting the xla-cpu runtime registers them.
    if xla_gate::xla_name() != "xla-cpu" || xla().is_none() {
        return;
    }
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
