//! jit: one training step of the report's MLP (3072 → 1024 → 512 → 256 → 10,
//! ReLU, softmax cross-entropy, batch 128) run eagerly on the built-in CPU
//! backend, jitted on the built-in CPU backend (the graph interpreted) and
//! jitted on XLA's CPU plugin; the compile time of that step; and the cost of
//! calling a tiny jitted function (dispatch overhead).
//!
//! Run: `cargo bench --bench jit` (the XLA rows need `scripts/install-plugin cpu`).

use criterion::{Criterion, criterion_group, criterion_main};
use rjax::{Array, DType, Device, Jit, device_put, jit, numpy as jnp, random, value_and_grad};
use std::cell::RefCell;
use std::hint::black_box;
use std::time::{Duration, Instant};

const WIDTHS: [usize; 5] = [3072, 1024, 512, 256, 10];
const BATCH: usize = 128;
const LR: f64 = 1e-4;

type Params = Vec<(Array, Array)>;
type Batch = (Params, Array, Array);

fn init(key: &random::Key) -> Params {
    WIDTHS
        .windows(2)
        .enumerate()
        .map(|(i, w)| {
            let k = random::fold_in(key, i as u32);
            let scale = (1.0 / w[0] as f64).sqrt();
            (random::normal(&k, &[w[0], w[1]], DType::F32) * scale, Array::zeros(&[w[1]], DType::F32))
        })
        .collect()
}

fn loss(params: &Params, x: &Array, y: &Array) -> Array {
    let mut h = x.clone();
    for (i, (w, b)) in params.iter().enumerate() {
        h = jnp::matmul(&h, w) + b;
        if i + 1 < params.len() {
            h = jnp::maximum(&h, jnp::zeros_like(&h));
        }
    }
    let logp = &h - jnp::logsumexp(&h, 1, true);
    -(jnp::one_hot(y, 10, DType::F32) * logp).sum() / (BATCH as f64)
}

/// Forward, loss, gradient and an SGD update: the work of one training step.
fn step((params, x, y): &Batch) -> (Params, Array) {
    let (l, g) = value_and_grad(|p: &Params| loss(p, x, y))(params);
    let new = params.iter().zip(&g).map(|((w, b), (gw, gb))| (w - gw * LR, b - gb * LR)).collect();
    (new, l)
}

fn data(key: &random::Key) -> (Array, Array) {
    let [kx, ky] = random::split2(key);
    (random::uniform(&kx, &[BATCH, 3072], DType::F32, 0.0, 1.0), random::randint(&ky, &[BATCH], 0, 10))
}

fn xla() -> Option<Device> {
    match rjax::device("xla-cpu") {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("XLA rows not run: {e}");
            None
        }
    }
}

fn run_steps(f: &dyn Fn(&Batch) -> (Params, Array), state: &RefCell<Params>, x: &Array, y: &Array) {
    let p = state.borrow().clone();
    let (p, l) = f(&(p, x.clone(), y.clone()));
    l.block_until_ready().expect("step");
    *state.borrow_mut() = p;
}

fn mlp_step(c: &mut Criterion) {
    let key = random::key(0);
    let (x, y) = data(&random::fold_in(&key, 99));
    let mut g = c.benchmark_group("mlp_step_b128");
    g.sample_size(20).measurement_time(Duration::from_secs(10));

    let state = RefCell::new(init(&key));
    g.bench_function("eager_cpu", |b| b.iter(|| run_steps(&step, &state, &x, &y)));

    let jitted: Jit<Batch, (Params, Array)> = jit(step).on(Device::Cpu);
    let state = RefCell::new(init(&key));
    g.bench_function("jit_cpu", |b| b.iter(|| run_steps(&|a| jitted.call(a), &state, &x, &y)));

    if let Some(dev) = xla() {
        let jitted: Jit<Batch, (Params, Array)> = jit(step).on(dev.clone()).donate_argnums(&[0]);
        let params = init(&key);
        let t = Instant::now();
        let text = jitted.lower(&(params.clone(), x.clone(), y.clone())).expect("lower");
        let lowered = t.elapsed();
        let t = Instant::now();
        jitted.call(&(params.clone(), x.clone(), y.clone())).1.block_until_ready().expect("first call");
        eprintln!(
            "mlp step: trace + lower {:.1} ms, first XLA call (compile + run) {:.0} ms, {} lines of StableHLO",
            lowered.as_secs_f64() * 1e3,
            t.elapsed().as_secs_f64() * 1e3,
            text.lines().count()
        );
        let (xd, yd) = (device_put(&x, &dev).expect("x"), device_put(&y, &dev).expect("y"));
        let on_dev: Params =
            params.iter().map(|(w, b)| (device_put(w, &dev).expect("w"), device_put(b, &dev).expect("b"))).collect();
        let state = RefCell::new(on_dev);
        g.bench_function("jit_xla_cpu", |b| b.iter(|| run_steps(&|a| jitted.call(a), &state, &xd, &yd)));
        // Host batches, as a data loader gives them: copied to the device each step.
        g.bench_function("jit_xla_cpu_host_batch", |b| b.iter(|| run_steps(&|a| jitted.call(a), &state, &x, &y)));
    }
    g.finish();
}

fn compile_time(c: &mut Criterion) {
    let Some(dev) = xla() else { return };
    let key = random::key(0);
    let (x, y) = data(&key);
    let jitted: Jit<Batch, (Params, Array)> = jit(step).on(dev);
    let text = jitted.lower(&(init(&key), x, y)).expect("lower");
    let client = rjax::backend::pjrt::Client::cpu().expect("client");
    let mut g = c.benchmark_group("compile");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("mlp_step_xla_cpu", |b| b.iter(|| black_box(client.compile(&text).expect("compile"))));
    g.finish();
}

fn dispatch(c: &mut Criterion) {
    let mut g = c.benchmark_group("dispatch");
    let cpu = jit(|x: &Array| x + 1.0).on(Device::Cpu);
    let one = Array::scalar(1.0f32);
    g.bench_function("tiny_jit_cpu", |b| b.iter(|| black_box(cpu.call(&one))));
    if let Some(dev) = xla() {
        let f = jit(|x: &Array| x + 1.0).on(dev.clone());
        let x = device_put(&one, &dev).expect("x");
        f.call(&x).block_until_ready().expect("compile");
        g.bench_function("tiny_jit_xla_cpu", |b| b.iter(|| f.call(&x).block_until_ready().map(|_| ()).expect("run")));
        g.bench_function("tiny_jit_xla_cpu_no_wait", |b| b.iter(|| black_box(f.call(&x))));
        g.bench_function("eager_op_xla_cpu", |b| b.iter(|| (&x + 1.0).block_until_ready().map(|_| ()).expect("run")));
    }
    g.finish();
}

criterion_group!(benches, mlp_step, compile_time, dispatch);
criterion_main!(benches);
