//! `jit`: caching by signature, results equal to eager execution on the
//! built-in CPU and on XLA's CPU plugin, composition with the other
//! transformations, static arguments, donation, device arrays and eager ops
//! on a device, errors, and memory use over many calls.

mod xla_gate;

use rjax::numpy as jnp;
use rjax::{Array, DType, Device, Tree, device_put, grad, jit, jit_static, random, value_and_grad, vmap};

/// The XLA CPU device, when the plugin is installed (see `xla_gate`).
fn xla() -> Option<Device> {
    xla_gate::xla_available().then(xla_gate::xla_device)
}

fn close(a: &Array, b: &Array, tol: f64) {
    assert_eq!(a.shape(), b.shape());
    let as64 = |x: &Array| device_put(x, &Device::Cpu).expect("to host").astype(DType::F64).to_vec::<f64>();
    for (x, y) in as64(a).iter().zip(as64(b)) {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{x} vs {y}");
    }
}

#[derive(Tree, Clone, Debug)]
struct Mlp {
    w1: Array,
    b1: Array,
    w2: Array,
    b2: Array,
}

fn init(key: &random::Key, dtype: DType) -> Mlp {
    let [k1, k2] = random::split2(key);
    Mlp {
        w1: random::normal(&k1, &[8, 16], dtype) * 0.3,
        b1: Array::zeros(&[16], dtype),
        w2: random::normal(&k2, &[16, 3], dtype) * 0.3,
        b2: Array::zeros(&[3], dtype),
    }
}

fn loss(p: &Mlp, x: &Array, y: &Array) -> Array {
    let h = jnp::maximum(&(jnp::matmul(x, &p.w1) + &p.b1), jnp::zeros_like(&p.b1));
    let logits = jnp::matmul(&h, &p.w2) + &p.b2;
    let logp = &logits - jnp::logsumexp(&logits, 1, true);
    -(jnp::one_hot(y, 3, logits.dtype()) * logp).sum() / (x.shape()[0] as f64)
}

fn train_step((p, x, y): &(Mlp, Array, Array)) -> (Mlp, Array) {
    let (l, g) = value_and_grad(|p: &Mlp| loss(p, x, y))(p);
    (rjax::tree::map2(p, &g, |w, g| w - g * 0.1).expect("same trees"), l)
}

fn batch(key: &random::Key, dtype: DType) -> (Array, Array) {
    let [kx, ky] = random::split2(key);
    (random::normal(&kx, &[32, 8], dtype), random::randint(&ky, &[32], 0, 3))
}

#[test]
fn second_call_with_same_signature_does_not_trace_again() {
    let f = jit(|x: &Array| jnp::sin(x) * 2.0).on(Device::Cpu);
    let a = Array::from_vec(vec![0.5f32, 1.0], &[2]);
    close(&f.call(&a), &(jnp::sin(&a) * 2.0), 0.0);
    f.call(&Array::from_vec(vec![3.0f32, 4.0], &[2]));
    assert_eq!(f.trace_count(), 1);
    f.call(&Array::zeros(&[3], DType::F32)); // new shape
    f.call(&Array::zeros(&[2], DType::F64)); // new dtype
    assert_eq!(f.trace_count(), 3);
    f.call(&Array::zeros(&[3], DType::F32));
    assert_eq!(f.trace_count(), 3);
}

#[test]
fn tree_structure_is_part_of_the_signature() {
    let f = jit(|xs: &Vec<Array>| xs.iter().fold(Array::scalar(0.0f32), |a, x| a + x.sum())).on(Device::Cpu);
    let one = Array::ones(&[2], DType::F32);
    assert_eq!(f.call(&vec![one.clone()]).item::<f32>(), 2.0);
    assert_eq!(f.call(&vec![one.clone(), one.clone()]).item::<f32>(), 4.0);
    assert_eq!(f.trace_count(), 2);
}

#[test]
fn static_values_retrace_per_value() {
    let f = jit_static(|n: &usize, x: &Array| (0..*n).fold(x.clone(), |a, _| a * 2.0)).on(Device::Cpu);
    let x = Array::scalar(1.0f64);
    assert_eq!(f.call_static(&3, &x).item::<f64>(), 8.0);
    assert_eq!(f.call_static(&3, &x).item::<f64>(), 8.0);
    assert_eq!(f.call_static(&1, &x).item::<f64>(), 2.0);
    assert_eq!(f.trace_count(), 2);
}

#[test]
fn closed_over_arrays_are_constants() {
    let c = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
    let c2 = c.clone();
    let f = jit(move |x: &Array| x * &c2);
    let g = f.graph(&Array::zeros(&[3], DType::F32));
    assert_eq!(g.captures.len(), 1);
    close(&f.call(&Array::ones(&[3], DType::F32)), &c, 0.0);
}

#[test]
fn jit_composes_with_grad_vmap_and_itself() {
    let f = jit(|x: &Array| (jnp::sin(x) * x).sum());
    let x = Array::from_vec(vec![0.3f64, -1.2, 2.0], &[3]);
    let want = grad(|x: &Array| (jnp::sin(x) * x).sum())(&x);
    // grad of jit
    let f2 = f.clone();
    close(&grad(move |x: &Array| f2.call(x))(&x), &want, 1e-12);
    // jit of grad
    let jg = jit(grad(|x: &Array| (jnp::sin(x) * x).sum()));
    close(&jg.call(&x), &want, 1e-12);
    // vmap of jit
    let xs = Array::from_vec(vec![0.1f64, 0.2, 0.3, 0.4, 0.5, 0.6], &[2, 3]);
    let f3 = f.clone();
    let per_row = vmap(move |r: &Array| f3.call(r))(&xs);
    let want_rows: Vec<f64> = (0..2).map(|i| f.call(&jnp::index(&xs, rjax::s![i])).item::<f64>()).collect();
    close(&per_row, &Array::from_vec(want_rows, &[2]), 1e-12);
    // jit inside jit
    let inner = jit(|x: &Array| x * 3.0);
    let outer = jit(move |x: &Array| inner.call(x) + 1.0);
    assert_eq!(outer.call(&Array::scalar(2.0f64)).item::<f64>(), 7.0);
    // second order through jit
    let f4 = f.clone();
    let d2 = grad(move |x: &Array| grad(|x: &Array| f4.call(x))(x).sum())(&x);
    let d2_want = grad(|x: &Array| grad(|x: &Array| (jnp::sin(x) * x).sum())(x).sum())(&x);
    close(&d2, &d2_want, 1e-12);
}

#[test]
fn jitted_training_step_equals_eager_on_builtin_cpu() {
    let key = random::key(0);
    let p = init(&key, DType::F64);
    let (x, y) = batch(&random::fold_in(&key, 1), DType::F64);
    let step = jit(train_step).on(Device::Cpu);
    let (mut pj, mut pe) = (p.clone(), p);
    for _ in 0..3 {
        let (nj, lj) = step.call(&(pj, x.clone(), y.clone()));
        let (ne, le) = train_step(&(pe, x.clone(), y.clone()));
        close(&lj, &le, 0.0);
        (pj, pe) = (nj, ne);
    }
    close(&pj.w1, &pe.w1, 0.0);
    assert_eq!(step.trace_count(), 1);
}

#[test]
fn jitted_training_step_on_xla_equals_eager_and_stays_on_device() {
    let Some(dev) = xla() else { return };
    for dtype in [DType::F32, DType::F64] {
        let key = random::key(7);
        let p = init(&key, dtype);
        let (x, y) = batch(&random::fold_in(&key, 1), dtype);
        let step = jit(train_step).on(dev.clone()).donate_argnums(&[0]);
        let (mut pj, mut pe) = (p.clone(), p);
        let tol = if dtype == DType::F32 { 1e-5 } else { 1e-12 };
        for i in 0..4 {
            let (nj, lj) = step.call(&(pj, x.clone(), y.clone()));
            let (ne, le) = train_step(&(pe, x.clone(), y.clone()));
            close(&lj, &le, tol);
            assert_eq!(nj.w1.device(), dev, "step {i}: parameters stay on the device");
            (pj, pe) = (nj, ne);
        }
        for (a, b) in rjax::tree::leaves(&pj).iter().zip(rjax::tree::leaves(&pe)) {
            close(a, &b, tol * 10.0);
        }
        assert_eq!((step.trace_count(), step.compile_count()), (1, 1), "{dtype}");
    }
}

#[test]
fn compile_cache_on_xla_new_shape_recompiles() {
    let Some(dev) = xla() else { return };
    let f = jit(|x: &Array| jnp::tanh(x) * 3.0 + 0.25).on(dev);
    let a = Array::from_vec(vec![0.5f32, -0.5], &[2]);
    close(&f.call(&a), &(jnp::tanh(&a) * 3.0 + 0.25), 1e-6);
    f.call(&Array::ones(&[2], DType::F32));
    assert_eq!((f.trace_count(), f.compile_count()), (1, 1));
    let b = Array::from_vec(vec![0.1f32, 0.2, 0.3], &[3]);
    close(&f.call(&b), &(jnp::tanh(&b) * 3.0 + 0.25), 1e-6);
    assert_eq!((f.trace_count(), f.compile_count()), (2, 2));
}

#[test]
fn donated_inputs_are_consumed_and_aliased_in_the_module() {
    let Some(dev) = xla() else { return };
    let f = jit(|(w, g): &(Array, Array)| (w - g, g.sum())).on(dev.clone()).donate_argnums(&[0]);
    let w0 = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
    let g = Array::from_vec(vec![0.5f32; 3], &[3]);
    let text = f.lower(&(w0.clone(), g.clone())).expect("lowers");
    assert!(text.contains("{tf.aliasing_output = 0 : i32}"), "{text}");
    // Host inputs are copied, so the caller's w0 stays readable.
    let (w1, _) = f.call(&(w0.clone(), g.clone()));
    assert_eq!(w0.to_vec::<f32>(), vec![1.0, 2.0, 3.0]);
    // A device input (the previous step's output) is donated: it is gone after.
    let w1_view = w1.clone();
    drop(w1_view); // only one holder left: donation can take the buffer
    let (w2, _) = f.call(&(w1.clone(), g.clone()));
    assert_eq!(w2.to_vec::<f32>(), vec![0.0, 1.0, 2.0]);
    let err = w1.try_host_data().expect_err("donated buffer");
    assert!(err.to_string().contains("donated"), "{err}");
}

#[test]
fn jit_runs_on_the_device_of_its_inputs() {
    let Some(dev) = xla() else { return };
    let x = device_put(&Array::from_vec(vec![1.0f32, 4.0, 9.0], &[3]), &dev).expect("device_put");
    assert_eq!(x.device(), dev);
    let f = jit(|x: &Array| jnp::sqrt(x));
    let y = f.call(&x);
    assert_eq!(y.device(), dev);
    assert_eq!(f.compile_count(), 1);
    assert_eq!(y.to_vec::<f32>(), vec![1.0, 2.0, 3.0]);
    let back = device_put(&y, &Device::Cpu).expect("to host");
    assert_eq!(back.device(), Device::Cpu);
}

#[test]
fn eager_ops_on_device_arrays_run_on_the_device() {
    let Some(dev) = xla() else { return };
    let a = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    let x = device_put(&a, &dev).expect("device_put");
    let y = jnp::matmul(&x, &x) + 1.0;
    assert_eq!(y.device(), dev);
    assert_eq!(y, jnp::matmul(&a, &a) + 1.0);
    let s = jnp::sum(&jnp::exp(&y), 0, false);
    close(&s, &jnp::sum(&jnp::exp(&(jnp::matmul(&a, &a) + 1.0)), 0, false), 1e-6);
    // grad of a function of a device array computes on the device too
    let g = grad(|x: &Array| (x * x).sum())(&x);
    assert_eq!(g.device(), dev);
    assert_eq!(g.to_vec::<f32>(), vec![2.0, 4.0, 6.0, 8.0]);
}

#[test]
fn arrays_on_different_devices_do_not_mix() {
    let Some(dev) = xla() else { return };
    let x = device_put(&Array::scalar(1.0f32), &dev).expect("device_put");
    let other = rjax::devices().into_iter().find(|d| *d != dev && *d != Device::Cpu);
    if let Some(other) = other {
        let y = device_put(&Array::scalar(1.0f32), &other).expect("device_put");
        let err = std::panic::catch_unwind(|| &x + &y).expect_err("mixing devices");
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("different devices"), "{msg}");
    }
    // Host arrays mix with device arrays: they are copied to the device.
    assert_eq!((&x + &Array::scalar(2.0f32)).device(), dev);
}

#[test]
fn device_names_parse_and_unknown_ones_are_errors() {
    assert_eq!(rjax::device("cpu").expect("cpu"), Device::Cpu);
    let e = rjax::device("tpu").expect_err("unknown");
    assert!(e.to_string().contains("use cpu, xla-cpu, cuda"), "{e}");
    assert!(rjax::device("cpu:3").is_err());
    // the XLA platform under test: xla-cpu, or cuda on a GPU machine
    if let Some(dev) = xla() {
        let platform = xla_gate::xla_name();
        let d = rjax::device(&format!("{platform}:0")).expect("ordinal 0");
        assert_eq!(d, dev);
        assert_eq!(d.to_string(), format!("{platform}:0"));
        assert!(rjax::devices().contains(&d));
        let e = rjax::device(&format!("{platform}:999")).expect_err("no such ordinal");
        assert!(e.to_string().contains("device(s)"), "{e}");
        let text = d.describe();
        let plugin = if platform == "xla-cpu" { "xla_cpu_pjrt.so" } else { ".so" };
        for part in [format!("{platform}:0: "), "PJRT C API 0.".into(), plugin.into()] {
            assert!(text.contains(&part), "describe() lacks {part:?}: {text}");
        }
        if platform == "xla-cpu" {
            assert!(text.contains(", cpu "), "{text}");
            // Nothing in this process asks for a count: 4 devices, or one per
            // core on smaller machines, so that the plugin's kernel threads
            // (one per device or per core) do not outnumber the cores.
            if std::env::var_os("RJAX_XLA_CPU_DEVICES").is_none() {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                assert_eq!(rjax::devices_of("xla-cpu").expect("devices").len(), cores.min(4));
            }
        }
    }
}

/// A primitive whose lowering is not valid StableHLO, to see how a program
/// the compiler rejects is reported.
#[derive(Debug)]
struct Bogus;

impl rjax::Primitive for Bogus {
    fn name(&self) -> &'static str {
        "bogus"
    }
    fn abstract_eval(&self, inputs: &[rjax::Aval]) -> Result<rjax::Aval, String> {
        Ok(inputs[0].clone())
    }
    fn eval(&self, inputs: &[&rjax::HostData]) -> rjax::HostData {
        inputs[0].clone()
    }
    fn jvp(&self, _: &[Array], _: &Array, t: &[Option<Array>]) -> Option<Array> {
        t[0].clone()
    }
    fn vjp(&self, _: &[Array], _: &Array, ct: &Array, _: &[bool]) -> Vec<Option<Array>> {
        vec![Some(ct.clone())]
    }
    fn batch(&self, x: &[Array], _: &[bool]) -> (Array, bool) {
        (x[0].clone(), true)
    }
    fn lower(
        &self,
        cx: &mut rjax::backend::stablehlo::Lowering,
        x: &[rjax::backend::stablehlo::Value],
        out: &rjax::Aval,
    ) -> Result<rjax::backend::stablehlo::Value, rjax::backend::stablehlo::LowerError> {
        Ok(cx.op("stablehlo.no_such_operation", &[&x[0]], "", out))
    }
}

#[test]
fn rejected_program_reports_the_compiler_message_and_the_text_file() {
    let Some(dev) = xla() else { return };
    let f = jit(|x: &Array| rjax::bind(Bogus, &[x]) * 2.0).on(dev);
    let err = match f.try_call(&Array::ones(&[2], DType::F32)) {
        Ok(_) => panic!("XLA accepted an unknown operation"),
        Err(e) => e,
    };
    let msg = err.to_string();
    assert!(msg.contains("could not compile"), "{msg}");
    assert!(msg.contains("no_such_operation"), "the compiler's message: {msg}");
    let path = match &err {
        rjax::Error::Compile { mlir_path: Some(p), .. } => p.clone(),
        other => panic!("expected a compile error with a file, got {other:?}"),
    };
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    let text = std::fs::read_to_string(&path).expect("the StableHLO text was written");
    assert!(text.contains("stablehlo.no_such_operation"));
    let _ = std::fs::remove_file(path);
    // The same function on the built-in backend runs (it never lowers).
    let g = jit(|x: &Array| rjax::bind(Bogus, &[x]) * 2.0).on(Device::Cpu);
    assert_eq!(g.call(&Array::ones(&[2], DType::F32)).to_vec::<f32>(), vec![2.0, 2.0]);
}

#[test]
fn dispatch_returns_before_the_result_is_computed() {
    let Some(dev) = xla() else { return };
    let f = jit(|x: &Array| {
        let mut y = x.clone();
        for _ in 0..8 {
            y = jnp::tanh(&jnp::matmul(&y, x));
        }
        y
    })
    .on(dev);
    let x = random::normal(&random::key(3), &[1536, 1536], DType::F32) * 0.02;
    f.call(&x).block_until_ready().expect("warm-up run");
    let x = device_put(&x, &xla_gate::xla_device()).expect("device_put");
    let t0 = std::time::Instant::now();
    let y = f.call(&x);
    let dispatched = t0.elapsed();
    y.block_until_ready().expect("run");
    let total = t0.elapsed();
    assert!(
        dispatched * 4 < total,
        "the call took {dispatched:?} of the {total:?} the program needs: it waited for the result"
    );
}

/// Donation updates a buffer in place; the next run must read the new
/// values. With XLA's CPU plugin this needs XNNPACK off (it caches packed
/// matrix operands by address; see `CPU_FLAGS`):
/// with it on, this test saw the donated run reuse the first step's weights.
#[test]
fn donated_steps_read_the_updated_buffers() {
    let Some(dev) = xla() else { return };
    let x = random::uniform(&random::key(1), &[128, 3072], DType::F32, 0.0, 1.0);
    let step = |(w, x): &(Array, Array)| w - jnp::matmul(&jnp::transpose(x, None), &jnp::matmul(x, w)) * 1e-5;
    let mut results = Vec::new();
    for donate in [false, true] {
        let mut f = jit(step).on(dev.clone());
        if donate {
            f = f.donate_argnums(&[0]);
        }
        let mut w = random::normal(&random::key(0), &[3072, 64], DType::F32) * 0.1;
        let mut sums = Vec::new();
        for _ in 0..3 {
            w = f.call(&(w, x.clone()));
            sums.push(device_put(&w, &Device::Cpu).expect("to host").sum().item::<f32>());
        }
        results.push(sums);
    }
    assert_eq!(results[0], results[1], "donated run differs from the plain one");
}

fn assert_send_sync<T: Send + Sync>(_: &T) {}

/// One `Jit` shared by four threads calling it at once, with one shape in
/// common and one of their own (so they trace and compile concurrently).
fn serves_threads_on(device: rjax::Device) {
    let f = jit(|(x, w): &(Array, Array)| jnp::tanh(&jnp::matmul(x, w)) * 2.0 + 1.0).on(device);
    assert_send_sync(&f);
    let barrier = std::sync::Barrier::new(4);
    std::thread::scope(|s| {
        for t in 0..4usize {
            let (f, barrier) = (&f, &barrier);
            s.spawn(move || {
                barrier.wait();
                for i in 0..25 {
                    let rows = if i % 2 == 0 { 3 } else { 4 + t };
                    let x = Array::from_vec((0..rows * 5).map(|k| (k + i + t) as f64 * 0.01).collect(), &[rows, 5]);
                    let w = Array::from_vec((0..10).map(|k| k as f64 * 0.1 - 0.5).collect::<Vec<f64>>(), &[5, 2]);
                    let want = jnp::tanh(&jnp::matmul(&x, &w)) * 2.0 + 1.0;
                    let got = f.call(&(x, w));
                    for (a, b) in got.to_vec::<f64>().iter().zip(want.to_vec::<f64>()) {
                        assert!((a - b).abs() < 1e-12, "thread {t}, call {i}: {a} vs {b}");
                    }
                }
            });
        }
    });
    // one shape in common and one per thread
    assert_eq!(f.cache_size(), 5);
}

#[test]
fn one_jit_serves_several_threads_at_once_on_the_builtin_cpu() {
    serves_threads_on(rjax::Device::Cpu);
}

#[test]
fn one_jit_serves_several_threads_at_once_on_xla() {
    if xla_gate::xla_available() {
        serves_threads_on(xla_gate::xla_device());
    }
}
