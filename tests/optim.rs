//! `rjax::optim` against optax, and under transformations.
//!
//! The reference numbers in `tests/reference/optax_values.rs` were printed by
//! `tests/reference/optax_reference.py` with optax 0.2.8 and jax 0.10.2 in
//! float64 (`jax_enable_x64`); the script's header says how to regenerate them.
//! The inputs are mirrored here: parameters `(w: [2, 3], b: [3])` = ([`W0`],
//! [`B0`]) and the gradient at step `t` for flat leaf position `i` (w's 6
//! entries, then b's 3) `((7 i + 3 t) mod 11 - 5) / 4`. Every parameter after
//! every step must match at 1e-6 relative.

#[path = "reference/optax_values.rs"]
mod optax_values;

use optax_values::{OPTIMIZERS, SCHEDULES, STEPS};
use rjax::optim::{self, AdamOptions, GradientTransformation, OptState, RmsPropOptions, Schedule};
use rjax::{Array, DType, Tree, grad, make_graph, numpy as jnp, tree, value_and_grad};

type Params = (Array, Array);

const W0: [f64; 6] = [0.5, -1.0, 0.25, 1.5, -0.75, 2.0];
const B0: [f64; 3] = [0.1, -0.2, 0.3];

fn params0(dtype: DType) -> Params {
    (Array::from_slice(&W0, &[2, 3]).astype(dtype), Array::from_slice(&B0, &[3]).astype(dtype))
}

/// The gradient of step `t`, as in the reference script.
fn grads(t: usize, dtype: DType) -> Params {
    let g: Vec<f64> = (0..9).map(|i| (((7 * i + 3 * t) % 11) as f64 - 5.0) / 4.0).collect();
    (Array::from_slice(&g[..6], &[2, 3]).astype(dtype), Array::from_slice(&g[6..], &[3]).astype(dtype))
}

fn flat(p: &Params) -> Vec<f64> {
    tree::leaves(p).iter().flat_map(|x| x.astype(DType::F64).to_vec::<f64>()).collect()
}

/// The rjax counterpart of each configuration of the reference script.
fn optimizer(name: &str) -> GradientTransformation {
    let rms = RmsPropOptions::default();
    match name {
        "ADAM" => optim::adam(0.01),
        "ADAM_NESTEROV" => {
            optim::adam_with(0.05, AdamOptions { b1: 0.8, b2: 0.99, eps: 1e-2, eps_root: 1e-3, nesterov: true })
        }
        "ADAMW" => optim::adamw(0.01, 0.1),
        "ADAMW_SCHEDULES" => optim::adamw(
            optim::linear_schedule(0.001, 0.01, 3, 0),
            optim::exponential_decay(0.5, 1, 0.5, 0, false, None),
        ),
        "SGD" => optim::sgd(0.1, None, false),
        "SGD_MOMENTUM" => optim::sgd(0.1, Some(0.9), false),
        "SGD_NESTEROV" => optim::sgd(0.1, Some(0.9), true),
        "RMSPROP" => optim::rmsprop(0.01),
        "RMSPROP_OPTIONS" => optim::rmsprop_with(
            0.01,
            RmsPropOptions {
                decay: 0.95,
                eps: 1e-2,
                initial_scale: 0.1,
                eps_in_sqrt: false,
                momentum: Some(0.9),
                nesterov: true,
                bias_correction: true,
                ..rms
            },
        ),
        "RMSPROP_CENTERED" => {
            optim::rmsprop_with(0.01, RmsPropOptions { centered: true, eps: 1e-2, momentum: Some(0.5), ..rms })
        }
        "CLIP_ADAM_WARMUP_COSINE" => optim::chain([
            optim::clip_by_global_norm(1.0),
            optim::adam(optim::warmup_cosine_decay_schedule(0.0, 0.1, 2, 5, 0.01)),
        ]),
        "CLIP_SGD" => optim::chain([optim::clip_by_global_norm(2.4), optim::sgd(0.1, None, false)]),
        "DECAY_SGD_STAIRCASE" => optim::chain([
            optim::add_decayed_weights(1e-2),
            optim::sgd(optim::exponential_decay(0.125, 2, 0.5, 1, true, None), Some(0.9), false),
        ]),
        other => panic!("no optimizer for the reference configuration {other}"),
    }
}

fn schedule(name: &str) -> Schedule {
    match name {
        "CONSTANT" => optim::constant_schedule(0.3),
        "EXPONENTIAL" => optim::exponential_decay(1.0, 3, 0.5, 0, false, None),
        "EXPONENTIAL_STAIRCASE" => optim::exponential_decay(1.0, 2, 0.5, 2, true, Some(0.3)),
        "EXPONENTIAL_GROWTH" => optim::exponential_decay(0.1, 2, 2.0, 0, false, Some(0.5)),
        "COSINE" => optim::cosine_decay_schedule(1.0, 8, 0.1, 1.0),
        "COSINE_EXPONENT" => optim::cosine_decay_schedule(2.0, 6, 0.0, 2.0),
        "LINEAR" => optim::linear_schedule(0.0, 1.0, 4, 2),
        "POLYNOMIAL" => optim::polynomial_schedule(1.0, 0.1, 2.0, 5, 1),
        "JOIN" => {
            optim::join_schedules(vec![optim::constant_schedule(1.0), optim::linear_schedule(1.0, 0.0, 4, 0)], &[3])
        }
        "WARMUP_COSINE" => optim::warmup_cosine_decay_schedule(0.0, 1.0, 3, 8, 0.1),
        other => panic!("no schedule for the reference configuration {other}"),
    }
}

/// Runs `steps` updates from the reference inputs; the parameters after each.
fn run(opt: &GradientTransformation, steps: usize, dtype: DType) -> Vec<Vec<f64>> {
    let mut p = params0(dtype);
    let mut state = opt.init(&p);
    let mut out = Vec::new();
    for t in 0..steps {
        let (u, s) = opt.update(&grads(t, dtype), state, &p);
        p = optim::apply_updates(&p, &u);
        state = s;
        out.push(flat(&p));
    }
    out
}

#[track_caller]
fn assert_close(got: f64, want: f64, rtol: f64, what: &str) {
    let err = (got - want).abs();
    assert!(
        err <= rtol * want.abs() + 1e-12,
        "{what}: got {got}, optax {want} (relative error {:e})",
        err / want.abs()
    );
}

/// `|got - want| <= rtol * max(|want|, floor)`.
#[track_caller]
fn assert_close_floor(got: f64, want: f64, rtol: f64, floor: f64, what: &str) {
    let err = (got - want).abs();
    assert!(err <= rtol * want.abs().max(floor), "{what}: got {got}, optax {want} (error {err:e})");
}

#[test]
fn optimizers_match_optax() {
    for (name, want) in OPTIMIZERS.iter() {
        let got = run(&optimizer(name), STEPS, DType::F64);
        for (t, (g, w)) in got.iter().zip(want).enumerate() {
            for (i, (a, b)) in g.iter().zip(w).enumerate() {
                assert_close(*a, *b, 1e-6, &format!("{name}, parameter {i} after step {}", t + 1));
            }
        }
    }
}

#[test]
fn schedules_match_optax() {
    for (name, want) in SCHEDULES.iter() {
        let s = schedule(name);
        for (step, w) in want.iter().enumerate() {
            assert_close(s.value(step as i64), *w, 1e-6, &format!("{name} at step {step}"));
            // as an optimizer calls it: an i32 count array, an f64 scalar out
            let v = s.at(&Array::scalar(step as i32));
            assert_eq!((v.dtype(), v.ndim()), (DType::F64, 0), "{name}");
            assert_close(v.item::<f64>(), *w, 1e-6, &format!("{name} at i32 step {step}"));
        }
    }
}

/// In f32 the updates, parameters and moments stay f32 and follow optax's f64
/// numbers to f32 precision (1e-5 relative to values of at least 0.1).
#[test]
fn f32_parameters_stay_f32() {
    for name in ["ADAM", "ADAMW_SCHEDULES", "RMSPROP_CENTERED", "CLIP_ADAM_WARMUP_COSINE", "DECAY_SGD_STAIRCASE"] {
        let opt = optimizer(name);
        let p = params0(DType::F32);
        let (u, s) = opt.update(&grads(0, DType::F32), opt.init(&p), &p);
        assert!(tree::leaves(&u).iter().all(|x| x.dtype() == DType::F32), "{name}: updates");
        for x in tree::leaves(&s) {
            let ok = x.dtype() == DType::F32 || (x.dtype() == DType::I32 && x.ndim() == 0);
            assert!(ok, "{name}: a state leaf is {}", x.aval());
        }
        let want = &OPTIMIZERS.iter().find(|(n, _)| *n == name).map(|(_, v)| v).expect("a reference configuration");
        for (t, (g, w)) in run(&opt, STEPS, DType::F32).iter().zip(want.iter()).enumerate() {
            for (i, (a, b)) in g.iter().zip(w).enumerate() {
                assert_close_floor(*a, *b, 1e-5, 0.1, &format!("{name} in f32, parameter {i} after step {}", t + 1));
            }
        }
    }
}

// ---------------------------------------------------------------- the state

#[test]
fn state_is_a_tree_that_round_trips() {
    let opt = optimizer("CLIP_ADAM_WARMUP_COSINE");
    let p = params0(DType::F64);
    let (_, s1) = opt.update(&grads(0, DType::F64), opt.init(&p), &p);
    // chain(clip, chain(scale_by_adam, scale_by_schedule)): adam's count, mu and nu
    // for 2 leaves, and the schedule's count
    let leaves = tree::leaves(&s1);
    assert_eq!(leaves.len(), 1 + 2 + 2 + 1);
    assert_eq!(s1.inner[1].inner[0].count.as_ref().map(|c| c.item::<i32>()), Some(1));
    assert_eq!(s1.inner[1].inner[1].count.as_ref().map(|c| c.item::<i32>()), Some(1));
    let def = s1.def().to_string();
    assert!(def.contains("OptState[scale_by_adam]") && def.contains("mu") && def.contains("nu"), "{def}");
    // flatten, rebuild (as jit or a checkpoint would), and continue: same numbers
    let restored: OptState = tree::unflatten(&opt.init(&p), leaves.iter().map(|x| x * 1).collect())
        .unwrap_or_else(|e| panic!("unflatten: {e}"));
    assert_eq!(restored.def(), s1.def());
    let p1 = optim::apply_updates(&p, &opt.update(&grads(0, DType::F64), opt.init(&p), &p).0);
    let a = opt.update(&grads(1, DType::F64), s1, &p1).0;
    let b = opt.update(&grads(1, DType::F64), restored, &p1).0;
    assert_eq!(flat(&a), flat(&b));
    // different optimizers have different state structures
    assert_ne!(optim::adam(0.1).init(&p).def(), optim::sgd(0.1, Some(0.9), false).init(&p).def());
    assert_ne!(optim::adam(0.1).init(&p).def(), optim::adam(optim::constant_schedule(0.1)).init(&p).def());
}

#[test]
#[should_panic(expected = "scale_by_adam: the state was made by trace")]
fn a_state_from_another_optimizer_is_rejected() {
    let p = params0(DType::F64);
    let sgd_state = optim::chain([optim::trace(0.9, false), optim::scale(-0.1)]).init(&p);
    let _ = optim::adam(0.1).update(&grads(0, DType::F64), sgd_state, &p);
}

#[test]
#[should_panic(expected = "the gradients have 1 leaves")]
fn a_state_for_other_parameters_is_rejected() {
    let p = params0(DType::F64);
    let opt = optim::adam(0.1);
    let w = Array::zeros(&[2, 3], DType::F64);
    let _ = opt.update(&w, opt.init(&p), &w);
}

#[test]
#[should_panic(expected = "differ in structure")]
fn gradients_must_match_the_parameters() {
    let opt = optim::sgd(0.1, None, false);
    let p = vec![Array::zeros(&[2], DType::F64)];
    let g = vec![Array::zeros(&[2], DType::F64), Array::zeros(&[2], DType::F64)];
    let _ = opt.update(&g, opt.init(&p), &p);
}

// ---------------------------------------------------------------- under transformations

#[derive(Tree, Clone)]
struct Linear {
    w: Array,
    b: Array,
}

/// A least-squares problem `y = x w* + b*` (f64, 64 examples, 3 features).
fn problem() -> (Array, Array) {
    let n = 64;
    let xs: Vec<f64> = (0..n * 3).map(|k| ((k * 37 % 101) as f64 / 50.0) - 1.0).collect();
    let x = Array::from_vec(xs, &[n, 3]);
    let w_true = Array::from_vec(vec![2.0f64, -1.0, 0.5], &[3, 1]);
    let y = jnp::matmul(&x, &w_true) + 0.3;
    (x, y)
}

fn mse(p: &Linear, x: &Array, y: &Array) -> Array {
    jnp::mean(&jnp::square(&(jnp::matmul(x, &p.w) + &p.b - y)), jnp::ALL, false)
}

fn start() -> Linear {
    Linear { w: Array::zeros(&[3, 1], DType::F64), b: Array::zeros(&[1], DType::F64) }
}

/// Every optimizer, driven by `value_and_grad`, fits the least-squares problem.
#[test]
fn training_decreases_the_loss() {
    let (x, y) = problem();
    let loss = |p: &Linear| mse(p, &x, &y);
    let rms = RmsPropOptions::default();
    let cases: Vec<(&str, GradientTransformation, usize)> = vec![
        ("adam", optim::adam(0.05), 300),
        ("adamw", optim::adamw(0.05, 1e-4), 300),
        ("nadam", optim::adam_with(0.05, AdamOptions { nesterov: true, ..AdamOptions::default() }), 300),
        ("sgd", optim::sgd(0.2, None, false), 300),
        ("sgd momentum", optim::sgd(0.05, Some(0.9), false), 300),
        ("sgd nesterov", optim::sgd(0.05, Some(0.9), true), 300),
        ("rmsprop", optim::rmsprop(0.01), 400),
        ("rmsprop centered", optim::rmsprop_with(0.01, RmsPropOptions { centered: true, ..rms }), 400),
        (
            "clip + adam, warmup cosine",
            optim::chain([
                optim::clip_by_global_norm(1.0),
                optim::adam(optim::warmup_cosine_decay_schedule(0.0, 0.1, 20, 400, 0.001)),
            ]),
            400,
        ),
    ];
    let first = loss(&start()).item::<f64>();
    for (name, opt, steps) in cases {
        let mut p = start();
        let mut state = opt.init(&p);
        let mut last = first;
        for _ in 0..steps {
            let (l, g) = value_and_grad(loss)(&p);
            last = l.item::<f64>();
            let (u, s) = opt.update(&g, state, &p);
            p = optim::apply_updates(&p, &u);
            state = s;
        }
        assert!(last < 1e-3 * first, "{name}: the loss went from {first} to {last} in {steps} steps");
    }
}

/// `loss(params after one optimizer step)` as a function of the initial
/// parameters: `update` traced inside `grad` (a second derivative through the
/// inner gradient), checked against central finite differences.
#[test]
fn gradient_through_an_optimizer_step() {
    let (x, y) = problem();
    let loss = |p: &Linear| mse(p, &x, &y);
    let names = ["ADAM", "ADAM_NESTEROV", "ADAMW_SCHEDULES", "SGD_NESTEROV", "RMSPROP_OPTIONS", "RMSPROP_CENTERED"];
    let p0 = Linear { w: Array::from_vec(vec![0.3f64, -0.2, 0.1], &[3, 1]), b: Array::from_vec(vec![0.05f64], &[1]) };
    for name in names.into_iter().chain(["CLIP_ADAM_WARMUP_COSINE", "DECAY_SGD_STAIRCASE"]) {
        let opt = optimizer(name);
        // two steps, so the second sees a state that depends on the parameters
        let after = |p: &Linear| {
            let (u, s) = opt.update(&grad(loss)(p), opt.init(p), p);
            let p1 = optim::apply_updates(p, &u);
            let (u, _) = opt.update(&grad(loss)(&p1), s, &p1);
            loss(&optim::apply_updates(&p1, &u))
        };
        let g = tree::leaves(&grad(after)(&p0)).iter().flat_map(|a| a.to_vec::<f64>()).collect::<Vec<_>>();
        let base = tree::leaves(&p0).iter().flat_map(|a| a.to_vec::<f64>()).collect::<Vec<_>>();
        let eval = |v: &[f64]| {
            let p = Linear { w: Array::from_slice(&v[..3], &[3, 1]), b: Array::from_slice(&v[3..], &[1]) };
            after(&p).item::<f64>()
        };
        for i in 0..base.len() {
            let h = 1e-6;
            let (mut a, mut b) = (base.clone(), base.clone());
            a[i] += h;
            b[i] -= h;
            let fd = (eval(&a) - eval(&b)) / (2.0 * h);
            let err = (g[i] - fd).abs();
            assert!(
                err <= 1e-5 * fd.abs().max(1e-2),
                "{name}: d loss / d p[{i}]: grad {} vs finite difference {fd}",
                g[i]
            );
        }
    }
}

/// A whole training step, gradient and update with the state as an argument,
/// traces into one graph (what `jit` compiles) without reading any value.
#[test]
fn a_training_step_traces_with_the_state_as_an_argument() {
    let (x, y) = problem();
    let loss = |p: &Linear| mse(p, &x, &y);
    let opt = optimizer("CLIP_ADAM_WARMUP_COSINE");
    let p = start();
    let state = opt.init(&p);
    let step = |args: &(Linear, OptState)| {
        let (p, s) = args;
        let (u, s) = opt.update(&grad(loss)(p), s.clone(), p);
        (optim::apply_updates(p, &u), s)
    };
    let g = make_graph(step)(&(p.clone(), state.clone()));
    let text = g.to_string();
    assert!(text.contains("sqrt") && text.contains("pow") && text.contains("cos"), "{text}");
    assert_eq!(g.inputs.len(), tree::leaves(&(p.clone(), state.clone())).len());
    assert_eq!(g.outputs.len(), g.inputs.len());
    // the eager step and the traced one agree on the shapes and dtypes of the new state
    let (_, s1) = step(&(p, state));
    let avals: Vec<_> = tree::leaves(&s1).iter().map(|a| a.aval()).collect();
    let out_avals: Vec<_> = g.outputs[g.outputs.len() - avals.len()..].iter().map(|v| g.aval(*v).clone()).collect();
    assert_eq!(avals, out_avals);
}
