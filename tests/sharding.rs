//! Arrays split over a mesh of the XLA CPU plugin's devices (8, asked for):
//! `device_put` with a sharding, reading back, shards, printing, eager
//! operations, and `jit` partitioned by XLA's SPMD partitioner against the
//! same function on one device.

#[path = "../examples/model_parallel.rs"]
mod model_parallel;
mod xla_gate;

use rjax::sharding::{Mesh, NamedSharding, Sharding};
use rjax::{Array, P, device_put, jit};

/// A mesh of the XLA CPU plugin's devices, 8 of them (asked for before the
/// plugin starts; every test of this file starts it through here).
fn mesh(axes: &[(&str, usize)]) -> Mesh {
    let _ = rjax::set_xla_cpu_device_count(8);
    Mesh::on("xla-cpu", axes).expect("a mesh of xla-cpu devices")
}

fn iota(shape: &[usize]) -> Array {
    let n: usize = shape.iter().product();
    Array::from_vec((0..n).map(|i| i as f32).collect(), shape)
}

#[test]
fn device_put_splits_and_reading_assembles() {
    if !xla_gate::xla_available() {
        return;
    }
    let m = mesh(&[("data", 2), ("model", 2)]);
    let x = iota(&[4, 6]);
    let s = NamedSharding::new(&m, P!["data", "model"]);
    let y = device_put(&x, &s).unwrap();
    assert_eq!(y.sharding(), Sharding::Named(s.clone()));
    assert_eq!(y.to_vec::<f32>(), x.to_vec::<f32>());
    let shards = y.addressable_shards().unwrap();
    assert_eq!(shards.len(), 4);
    // device 1 is data = 0, model = 1: rows 0..2, columns 3..6
    assert_eq!(shards[1].slice, vec![0..2, 3..6]);
    assert_eq!(shards[1].data.to_vec::<f32>(), vec![3.0, 4.0, 5.0, 9.0, 10.0, 11.0]);
    assert_eq!(shards[1].device, m.devices()[1]);
    let printed = format!("{y:?}");
    assert!(printed.contains("sharding=P('data', 'model') over Mesh({data: 2, model: 2}"), "{printed}");
    // replicated over "model": each row block on two devices
    let r = device_put(&x, &NamedSharding::new(&m, P!["data"])).unwrap();
    let shards = r.addressable_shards().unwrap();
    assert_eq!(shards[0].data.to_vec::<f32>(), shards[1].data.to_vec::<f32>());
    assert_eq!(r.to_vec::<f32>(), x.to_vec::<f32>());
}

#[test]
fn eager_ops_on_sharded_arrays_run_over_the_mesh() {
    if !xla_gate::xla_available() {
        return;
    }
    let m = mesh(&[("data", 4)]);
    let x = iota(&[8, 3]);
    let s = NamedSharding::new(&m, P!["data", None]);
    let y = device_put(&x, &s).unwrap();
    let z = &y * 2.0 + 1.0;
    assert_eq!(z.sharding(), Sharding::Named(s));
    assert_eq!(z.to_vec::<f32>(), (&x * 2.0 + 1.0).to_vec::<f32>());
    assert_eq!(y.sum().item::<f32>(), x.sum().item::<f32>());
}

#[test]
fn jit_with_shardings_matches_one_device() {
    if !xla_gate::xla_available() {
        return;
    }
    let m = mesh(&[("data", 4)]);
    let rows = NamedSharding::new(&m, P!["data", None]);
    let f = |(w, x): &(Array, Array)| {
        let h = x.matmul(w);
        (h.clone(), rjax::numpy::tanh(&h).sum())
    };
    let w = iota(&[3, 5]) * 0.1;
    let x = iota(&[8, 3]) * 0.01;
    let sharded = jit(f)
        .in_shardings(vec![Sharding::Replicated, rows.clone().into()])
        .out_shardings(vec![rows.clone().into(), Sharding::Replicated]);
    let (h, loss) = sharded.call(&(w.clone(), x.clone()));
    let (h1, loss1) = jit(f).call(&(w.clone(), x.clone()));
    assert_eq!(h.sharding(), Sharding::Named(rows.clone()));
    assert_eq!(h.addressable_shards().unwrap()[3].data.shape(), &[2, 5]);
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(p, q)| (p - q).abs() <= 1e-5 * (1.0 + q.abs()));
    assert!(close(&h.to_vec::<f32>(), &h1.to_vec::<f32>()));
    assert!(close(&[loss.item::<f32>()], &[loss1.item::<f32>()]));
    let text = sharded.lower(&(w.clone(), x.clone())).unwrap();
    assert!(text.contains("mhlo.num_partitions = 4 : i32"), "{text}");
    assert!(text.contains("{mhlo.sharding = \"{devices=[4,1]0,1,2,3}\"}"), "{text}");
    // Outputs feed the next call where they are; sharded inputs alone choose the mesh.
    let g = jit(|h: &Array| h * 3.0);
    let h3 = g.call(&h);
    assert!(close(&h3.to_vec::<f32>(), &(&h1 * 3.0).to_vec::<f32>()));
    assert_eq!(g.compile_count(), 1);
}

fn close_all(a: &Array, b: &Array, tol: f64) -> bool {
    let (a, b) = (a.astype(rjax::DType::F64).to_vec::<f64>(), b.astype(rjax::DType::F64).to_vec::<f64>());
    a.len() == b.len() && a.iter().zip(&b).all(|(p, q)| (p - q).abs() <= tol * (1.0 + q.abs()))
}

/// The mesh of a case: 2, 4 or 8 devices in a row, or 2 x 2.
fn case_mesh(kind: usize) -> (Mesh, &'static str, &'static str) {
    match kind {
        0 => (mesh(&[("data", 2)]), "data", "data"),
        1 => (mesh(&[("data", 4)]), "data", "data"),
        2 => (mesh(&[("data", 8)]), "data", "data"),
        _ => (mesh(&[("data", 2), ("model", 2)]), "data", "model"),
    }
}

fn mlp_loss((w1, w2, x, y): &(Array, Array, Array, Array)) -> Array {
    let h = rjax::numpy::maximum(x.matmul(w1), Array::scalar(0.0f64).astype(x.dtype()));
    let out = h.matmul(w2);
    rjax::numpy::square(&(out - y)).mean()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 8, failure_persistence: None, ..Default::default() })]

    /// For random shapes divisible by the mesh, jit partitioned by XLA gives
    /// the single-device result: elementwise operations, products split
    /// along the batch and along the contraction, reductions, and the loss
    /// and gradient of a small MLP (f64 within 1e-12, f32 within 1e-5).
    #[test]
    fn sharded_jit_matches_one_device(kind in 0usize..4, b in 1usize..3, k in 1usize..3, n in 1usize..4, seed in 0u64..1000, f32s in proptest::bool::ANY) {
        if !xla_gate::xla_available() {
            return Ok(());
        }
        let (m, a0, a1) = case_mesh(kind);
        let size = m.size();
        let (rows, inner) = (b * size, k * size);
        let dt = if f32s { rjax::DType::F32 } else { rjax::DType::F64 };
        let tol = if f32s { 1e-5 } else { 1e-12 };
        let mut g = common_gen(seed);
        let x = g(&[rows, inner]).astype(dt);
        let w = g(&[inner, n]).astype(dt);
        let y = g(&[rows, n]).astype(dt);
        let w2 = g(&[n, n]).astype(dt);
        let s = |spec| -> Sharding { NamedSharding::new(&m, spec).into() };
        // elementwise, with the operands split two ways
        let ew = |(x, y): &(Array, Array)| rjax::numpy::sin(x) * y + 1.0;
        let xy = (x.clone(), g(&[rows, inner]).astype(dt));
        let got = jit(ew).in_shardings(vec![s(P![a0, None]), s(P![None, a1])]).call(&xy);
        proptest::prop_assert!(close_all(&got, &jit(ew).call(&xy), tol));
        // a product split along the batch (rows) and one along the contraction
        let mm = |(x, w): &(Array, Array)| x.matmul(w);
        let xw = (x.clone(), w.clone());
        let batch = jit(mm).in_shardings(vec![s(P![a0, None]), Sharding::Replicated]).out_shardings(vec![s(P![a0, None])]);
        let contraction = jit(mm).in_shardings(vec![s(P![None, a0]), s(P![a0, None])]);
        let want = jit(mm).call(&xw);
        proptest::prop_assert!(close_all(&batch.call(&xw), &want, tol));
        proptest::prop_assert!(close_all(&contraction.call(&xw), &want, tol));
        // reductions
        let red = |x: &Array| (x.sum(), rjax::numpy::max(x, 0, false), x.mean());
        let spec2 = if a0 == a1 { P![a0] } else { P![a0, a1] };
        let (s1, m1, e1) = jit(red).in_shardings(vec![s(spec2)]).call(&x);
        let (s2, m2, e2) = jit(red).call(&x);
        proptest::prop_assert!(close_all(&s1, &s2, tol) && close_all(&m1, &m2, tol) && close_all(&e1, &e2, tol));
        // the loss and gradient of an MLP, data parallel: batch split, weights replicated
        let lg = |t: &(Array, Array, Array, Array)| rjax::value_and_grad(mlp_loss)(t);
        let t = (w.clone(), w2.clone(), x.clone(), y.clone());
        let dp = jit(lg).in_shardings(vec![Sharding::Replicated, Sharding::Replicated, s(P![a0]), s(P![a0])]);
        let ((l1, g1), (l2, g2)) = (dp.call(&t), jit(lg).call(&t));
        proptest::prop_assert!(close_all(&l1, &l2, tol));
        proptest::prop_assert!(close_all(&g1.0, &g2.0, tol) && close_all(&g1.1, &g2.1, tol));
    }
}

/// A deterministic generator of arrays in [-1, 1).
fn common_gen(seed: u64) -> impl FnMut(&[usize]) -> Array {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    move |shape: &[usize]| {
        let n: usize = shape.iter().product();
        let v = (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
            })
            .collect();
        Array::from_vec(v, shape)
    }
}

/// `with_sharding_constraint` inside jit: the value is unchanged, XLA is
/// told (a `Sharding` custom call), and derivatives pass through it (the
/// catalogue's tests of the `sharding_constraint` primitive).
#[test]
fn sharding_constraints_inside_jit() {
    if !xla_gate::xla_available() {
        return;
    }
    use rjax::sharding::with_sharding_constraint;
    let m = mesh(&[("data", 4)]);
    let rows = NamedSharding::new(&m, P!["data", None]);
    let r2 = rows.clone();
    let f = jit(move |x: &Array| {
        let h = with_sharding_constraint(&rjax::numpy::tanh(x), &r2).unwrap();
        (&h * &h).sum()
    });
    let x = iota(&[8, 2]) * 0.1;
    let want = {
        let h = rjax::numpy::tanh(&x);
        (&h * &h).sum()
    };
    assert!(close_all(&f.call(&x), &want, 1e-6));
    let text = f.lower(&x).unwrap();
    assert!(text.contains("call_target_name = \"Sharding\", mhlo.sharding = \"{devices=[4,1]0,1,2,3}\""), "{text}");
    // jvp and vjp through it (jit of grad: the constraint transposes to itself)
    let r3 = rows.clone();
    let df = jit(rjax::grad(move |x: &Array| with_sharding_constraint(&(x * x), &r3).unwrap().sum()));
    assert!(close_all(&df.call(&x), &(&x * 2.0), 1e-6));
    let (_, t) = rjax::jvp(|x: &Array| with_sharding_constraint(&(x * 3.0), &rows).unwrap(), &x, &x);
    assert!(close_all(&t, &(&x * 3.0), 1e-6));
    // under vmap the constraint gains a whole batch dimension
    let r4 = NamedSharding::new(&m, P!["data"]);
    let v = jit(rjax::vmap(move |x: &Array| with_sharding_constraint(x, &r4).unwrap() * 2.0));
    assert!(close_all(&v.call(&x.reshape(&[2, 8])), &(x.reshape(&[2, 8]) * 2.0), 1e-6));
    // outside jit it puts the array so split
    let y = with_sharding_constraint(&x, &rows).unwrap();
    assert_eq!(y.sharding(), Sharding::Named(rows));
}

/// Donating sharded arguments reuses every device's buffer: the donated
/// array is gone, the result is right.
#[test]
fn donated_sharded_arguments() {
    if !xla_gate::xla_available() {
        return;
    }
    let m = mesh(&[("data", 2)]);
    let rows = NamedSharding::new(&m, P!["data"]);
    let g = device_put(&Array::from_vec(vec![2.0f32; 4], &[4]), &rows).unwrap();
    let update = |(w, g): &(Array, Array)| w - g * 0.5;
    // the result split as the argument: its buffers are reused
    let step = jit(update).donate_argnums(&[0]).out_shardings(vec![rows.clone().into()]);
    let w = device_put(&iota(&[4]), &rows).unwrap();
    assert!(step.lower(&(w.clone(), g.clone())).unwrap().contains("tf.aliasing_output = 0"));
    let w2 = step.call(&(w.clone(), g.clone()));
    assert_eq!(w2.to_vec::<f32>(), vec![-1.0, 0.0, 1.0, 2.0]);
    assert!(matches!(w.try_host_data(), Err(rjax::Error::Donated(_))), "the donated array should be gone");
    // a result split otherwise (replicated) cannot take the argument's buffers: nothing is donated
    let replicated = jit(update).donate_argnums(&[0]);
    let w = device_put(&iota(&[4]), &rows).unwrap();
    assert!(!replicated.lower(&(w.clone(), g.clone())).unwrap().contains("tf.aliasing_output"));
    assert_eq!(replicated.call(&(w.clone(), g)).to_vec::<f32>(), vec![-1.0, 0.0, 1.0, 2.0]);
    assert_eq!(w.to_vec::<f32>(), iota(&[4]).to_vec::<f32>());
}

/// Bad input is an error naming what is wrong.
#[test]
fn bad_meshes_and_specs_are_named() {
    if !xla_gate::xla_available() {
        return;
    }
    let _ = mesh(&[("data", 8)]);
    let e = Mesh::on("xla-cpu", &[("data", 64)]).unwrap_err().to_string();
    assert!(e.contains("need 64 devices but xla-cpu has 8"), "{e}");
    let devices = rjax::devices_of("xla-cpu").unwrap();
    let e = Mesh::new(&devices[..3], &[("data", 2)]).unwrap_err().to_string();
    assert!(e.contains("need 2 devices but 3 were given"), "{e}");
    let e = Mesh::new(&[devices[0].clone(), devices[0].clone()], &[("data", 2)]).unwrap_err().to_string();
    assert!(e.contains("listed twice"), "{e}");
    let e = Mesh::new(&[rjax::Device::Cpu], &[("data", 1)]).unwrap_err().to_string();
    assert!(e.contains("built-in cpu"), "{e}");
    let m = mesh(&[("data", 4)]);
    let e = device_put(&iota(&[8]), &NamedSharding::new(&m, P!["model"])).unwrap_err().to_string();
    assert!(e.contains("names no axis \"model\" of the mesh {data: 4}"), "{e}");
    let e = device_put(&iota(&[6]), &NamedSharding::new(&m, P!["data"])).unwrap_err().to_string();
    assert!(e.contains("6 is not divisible by 4"), "{e}");
    // arguments over different meshes
    let other = Mesh::new(&devices[4..8], &[("data", 4)]).unwrap();
    let a = device_put(&iota(&[8]), &NamedSharding::new(&m, P!["data"])).unwrap();
    let b = device_put(&iota(&[8]), &NamedSharding::new(&other, P!["data"])).unwrap();
    let e = jit(|(a, b): &(Array, Array)| a + b).try_call(&(a.clone(), b)).unwrap_err().to_string();
    assert!(e.contains("is split over") && e.contains("device_put"), "{e}");
    // an argument split another way than in_shardings asks
    let e = jit(|a: &Array| a * 2.0)
        .in_shardings(vec![NamedSharding::replicated(&m).into()])
        .try_call(&a)
        .unwrap_err()
        .to_string();
    assert!(e.contains("in_shardings asks for"), "{e}");
    let e = jit(|a: &Array| a * 2.0)
        .in_shardings(vec![Sharding::Replicated, Sharding::Replicated])
        .try_call(&iota(&[2]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("name no mesh") || e.contains("2 entries"), "{e}");
    let e = jit(|a: &Array| a * 2.0)
        .in_shardings(vec![NamedSharding::new(&m, P!["data"]).into(), Sharding::Replicated])
        .try_call(&iota(&[8]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("in_shardings has 2 entries but the input has 1 top-level parts"), "{e}");
}

/// examples/model_parallel: a wide layer split over "model" gives one
/// device's loss and gradients (f32 rounding), its weights stay split (each
/// device half of the 4096 units), and SGD lowers the loss.
#[test]
fn the_model_parallel_example_runs() {
    if !xla_gate::xla_available() {
        return;
    }
    let _ = mesh(&[("data", 4)]);
    let r = model_parallel::run(20).expect("the example runs");
    assert_eq!(r.shard_shape, vec![256, 2048]);
    assert!(r.max_diff < 1e-5, "split vs one device: {}", r.max_diff);
    assert!(r.losses.1 < r.losses.0, "loss {} -> {}", r.losses.0, r.losses.1);
}

/// The partitioned path on the XLA platform under test (`RJAX_TEST_XLA`:
/// xla-cpu here, cuda where `scripts/gpu-check run` runs it): a mesh of up to
/// 2 of its devices, a sharded jit, a shard_map with a psum, and its
/// gradient, against the same functions on the built-in backend.
#[test]
fn partitioned_programs_on_the_platform_under_test() {
    if !xla_gate::xla_available() {
        return;
    }
    let name = xla_gate::xla_name();
    if name == "xla-cpu" {
        let _ = rjax::set_xla_cpu_device_count(8);
    }
    let devices = rjax::devices_of(&name).expect("the platform's devices");
    let n = devices.len().min(2);
    let m = Mesh::new(&devices[..n], &[("data", n)]).expect("a mesh");
    let rows = NamedSharding::new(&m, P!["data", None]);
    let x = iota(&[4, 3]).astype(rjax::DType::F64) * 0.1;
    let f = |x: &Array| (rjax::numpy::sin(x) * x).sum();
    let sharded = jit(f).in_shardings(vec![rows.clone().into()]);
    assert!(close_all(&sharded.call(&x), &f(&x), 1e-12));
    let sm = rjax::shard_map(
        |x: &Array| rjax::lax::psum(&(rjax::numpy::sin(x) * x).sum(), &["data"]),
        &m,
        vec![P!["data", None]],
        vec![P![]],
    );
    assert!(close_all(&sm.call(&x), &f(&x), 1e-12));
    let g = rjax::grad(|x: &Array| sm.call(x))(&x);
    assert!(close_all(&g, &rjax::grad(f)(&x), 1e-12));
    assert_eq!(g.sharding(), Sharding::Named(rows));
}

/// `.on(device)` asks for one device: with shardings, or a function that
/// runs over a mesh, that is an error saying which.
#[test]
fn one_device_and_a_mesh_do_not_mix() {
    if !xla_gate::xla_available() {
        return;
    }
    let m = mesh(&[("data", 2)]);
    let dev = m.devices()[0].clone();
    let e = jit(|x: &Array| x * 2.0)
        .on(dev.clone())
        .in_shardings(vec![NamedSharding::new(&m, P!["data"]).into()])
        .try_call(&iota(&[4]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("shardings were given"), "{e}");
    let sm = rjax::shard_map(|x: &Array| x * 2.0, &m, vec![P!["data"]], vec![P!["data"]]);
    let e = jit(move |x: &Array| sm.call(x)).on(dev).try_call(&iota(&[4])).unwrap_err().to_string();
    assert!(e.contains("runs over a mesh (shard_map"), "{e}");
}
