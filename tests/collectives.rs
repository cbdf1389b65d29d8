//! Collectives (`psum`, `pmean`, `pmax`, `all_gather`, `psum_scatter`,
//! `ppermute`, `axis_index`): each runs on the built-in backend through
//! `vmap_named` (batch lanes play the devices) and on XLA through
//! `shard_map` over a mesh of the CPU plugin's devices. For random shapes and
//! values the two agree (f64, 1e-12), and reverse and forward mode through
//! both agree with finite differences (`common::check`), which checks every
//! collective's jvp and transpose. Misuse (an unbound axis, a bad spec) is an
//! error at the caller's line.

mod common;
mod xla_gate;

use common::panics::catch;
use common::{Gen, check};
use proptest::prelude::*;
use rjax::core::sharding::PartitionSpec;
use rjax::sharding::Mesh;
use rjax::{Array, DType, P, grad, jit, lax, numpy as jnp, shard_map, vmap_named};

/// A mesh of the XLA CPU plugin's devices, 8 of them (asked for before the
/// plugin starts; every test of this file starts it through here).
fn mesh(axes: &[(&str, usize)]) -> Mesh {
    let _ = rjax::set_xla_cpu_device_count(8);
    Mesh::on("xla-cpu", axes).expect("a mesh of xla-cpu devices")
}

/// A per-device body and where its result lives.
struct Case {
    name: &'static str,
    body: fn(&Array) -> Array,
    /// The result's spec over the one axis "i": `P!["i"]` or replicated.
    split_out: bool,
}

fn cases() -> Vec<Case> {
    vec![
        Case { name: "psum", body: |x| lax::psum(&(x * x), &["i"]), split_out: false },
        Case { name: "pmean", body: |x| lax::pmean(&jnp::sin(x), &["i"]), split_out: false },
        Case { name: "pmax", body: |x| lax::pmax(&(x * 2.0), &["i"]), split_out: false },
        Case { name: "all_gather", body: |x| lax::all_gather(&jnp::sin(x), "i", 0, false), split_out: false },
        Case { name: "all_gather tiled", body: |x| lax::all_gather(&(x * x), "i", 0, true), split_out: false },
        Case { name: "psum_scatter tiled", body: |x| lax::psum_scatter(&(x * x), "i", 0, true), split_out: true },
        Case {
            name: "psum_scatter",
            body: |x| lax::psum_scatter(&jnp::reshape(&(x * 3.0), &[2, -1]), "i", 0, false),
            split_out: true,
        },
        Case { name: "ppermute", body: |x| lax::ppermute(&(x * x), "i", &[(0, 1), (1, 0)]), split_out: true },
        Case {
            name: "axis_index",
            body: |x| x * &lax::convert_element_type(&lax::axis_index("i"), DType::F64),
            split_out: true,
        },
    ]
}

/// `case` over a mesh axis "i" of 2 devices, through XLA's shard_map.
fn on_xla(case: &Case, m: &Mesh, x: &Array) -> Array {
    let out = if case.split_out { P!["i"] } else { P![] };
    shard_map(case.body, m, vec![P!["i"]], vec![out]).call(x)
}

/// `case` on the built-in backend: lanes of a vmap named "i" play the 2 devices.
fn on_builtin(case: &Case, x: &Array) -> Array {
    let mut lanes_shape = vec![2, x.shape()[0] / 2];
    lanes_shape.extend_from_slice(&x.shape()[1..]);
    let y = vmap_named(case.body, "i")(&lax::reshape(x, &lanes_shape));
    if case.split_out {
        // the lanes' parts, concatenated along dimension 0
        let mut shape = vec![y.shape()[0] * y.shape()[1]];
        shape.extend_from_slice(&y.shape()[2..]);
        lax::reshape(&y, &shape)
    } else {
        // replicated: every lane holds the same value; take the first
        first(&y)
    }
}

/// `y[0]`.
fn first(y: &Array) -> Array {
    let mut limit = y.shape().to_vec();
    limit[0] = 1;
    let start = vec![0; limit.len()];
    let part = lax::slice(y, &start, &limit, &vec![1; limit.len()]);
    lax::reshape(&part, &y.shape()[1..])
}

fn input(seed: u64, rows: usize, cols: usize) -> Array {
    // distinct values (pmax's derivative is taken away from ties)
    let mut g = Gen::new(seed);
    let n = rows * cols;
    let mut v: Vec<f64> = (0..n).map(|i| i as f64 * 0.37 - 1.1 + g.uniform(0.0, 0.1)).collect();
    for i in (1..n).rev() {
        v.swap(i, (g.next_u64() % (i as u64 + 1)) as usize);
    }
    Array::from_vec(v, &[rows, cols])
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: 6, failure_persistence: None, max_shrink_iters: 16, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    /// Every collective: the built-in backend (vmap_named) and XLA
    /// (shard_map) agree, and both differentiate right (reverse and forward
    /// mode against finite differences).
    #[test]
    fn collectives_agree_and_differentiate(seed in any::<u64>(), half_rows in 1usize..3, cols in 1usize..3) {
        if !xla_gate::xla_available() {
            return Ok(());
        }
        let covered: Vec<&str> = cases().iter().map(|c| c.name).collect();
        for api in ["psum", "pmean", "pmax", "all_gather", "psum_scatter", "ppermute", "axis_index"] {
            prop_assert!(covered.iter().any(|n| n.starts_with(api)), "no case applies {}", api);
        }
        let m = mesh(&[("i", 2)]);
        // psum_scatter untiled needs an even number of elements per device
        let x = input(seed, 2 * half_rows * 2, cols);
        for case in cases() {
            let a = on_xla(&case, &m, &x).to_vec::<f64>();
            let b = on_builtin(&case, &x).to_vec::<f64>();
            prop_assert_eq!(a.len(), b.len(), "{}: sizes", case.name);
            for (p, q) in a.iter().zip(&b) {
                prop_assert!((p - q).abs() <= 1e-12 * (1.0 + q.abs()), "{}: XLA {:?} vs built-in {:?}", case.name, a, b);
            }
            check(&format!("{} (built-in)", case.name), |v: &[Array]| on_builtin(&case, &v[0]), std::slice::from_ref(&x), seed)?;
            check(&format!("{} (XLA)", case.name), |v: &[Array]| on_xla(&case, &m, &v[0]), std::slice::from_ref(&x), seed)?;
        }
    }
}

/// Each collective lowers to XLA's collective over the device groups of
/// its axes (global device ids: positions in the mesh).
#[test]
fn collectives_lower_to_xla_collectives() {
    if !xla_gate::xla_available() {
        return;
    }
    let m = mesh(&[("data", 2), ("model", 2)]);
    let body = |x: &Array| {
        let a = lax::psum(x, &["data"]);
        let b = lax::pmax(&a, &["model"]);
        let c = lax::all_gather(&b, "model", 0, true);
        let d = lax::psum_scatter(&c, "model", 0, true);
        let e = lax::ppermute(&d, "data", &[(0, 1), (1, 0)]);
        let i = lax::convert_element_type(&lax::axis_index("model"), DType::F64);
        e * i
    };
    let sm = shard_map(body, &m, vec![P!["data", "model"]], vec![P!["data", "model"]]);
    let f = jit(move |x: &Array| sm.call(x));
    let x = input(5, 4, 4);
    let text = f.lower(&x).unwrap();
    for op in [
        "stablehlo.all_reduce",
        "stablehlo.all_gather",
        "stablehlo.reduce_scatter",
        "stablehlo.collective_permute",
        "stablehlo.partition_id",
        "call_target_name = \"SPMDFullToShardShape\"",
        "call_target_name = \"SPMDShardToFullShape\"",
    ] {
        assert!(text.contains(op), "{op} missing:\n{text}");
    }
    // psum over "data" combines devices {0, 2} and {1, 3}; ppermute swaps along "data"
    assert!(text.contains("replica_groups = dense<[[0, 2], [1, 3]]> : tensor<2x2xi64>"), "{text}");
    assert!(text.contains("source_target_pairs = dense<[[0, 2], [2, 0], [1, 3], [3, 1]]>"), "{text}");
    assert!(text.contains("mhlo.num_partitions = 4"), "{text}");
    // and the compiled program computes what the built-in backend does
    let lanes = lax::transpose(&lax::reshape(&x, &[2, 2, 2, 2]), &[0, 2, 1, 3]);
    let per = vmap_named(|xd: &Array| vmap_named(body, "model")(xd), "data")(&lanes);
    let want = lax::reshape(&lax::transpose(&per, &[0, 2, 1, 3]), &[4, 4]).to_vec::<f64>();
    let got = f.call(&x).to_vec::<f64>();
    for (p, q) in got.iter().zip(&want) {
        assert!((p - q).abs() <= 1e-12 * (1.0 + q.abs()), "XLA {got:?} vs built-in {want:?}");
    }
}

/// A 2-D mesh: collectives over one axis combine that axis's groups only;
/// over both, the whole mesh. XLA and the built-in backend (nested named
/// vmaps) agree, and so do their gradients.
#[test]
fn collectives_on_a_two_axis_mesh() {
    if !xla_gate::xla_available() {
        return;
    }
    let m = mesh(&[("data", 2), ("model", 2)]);
    let x = input(7, 4, 4);
    let body = |x: &Array| {
        let rows = lax::psum(&(x * x), &["model"]);
        let all = lax::psum(&jnp::sin(x), &["data", "model"]);
        let gathered = lax::all_gather(&rows, "data", 0, true);
        let ids = lax::convert_element_type(&lax::axis_index("model"), DType::F64);
        lax::reshape(&((&gathered.sum() + &all.sum()) * (ids + 1.0)), &[1])
    };
    let sm = shard_map(body, &m, vec![P!["data", "model"]], vec![P!["model"]]);
    let xla = |x: &Array| sm.call(x);
    // built-in: lanes [data, model, rows, cols], vmapped over data then model
    let builtin = |x: &Array| {
        let lanes = lax::transpose(&lax::reshape(x, &[2, 2, 2, 2]), &[0, 2, 1, 3]);
        let per = vmap_named(|xd: &Array| vmap_named(body, "model")(xd), "data")(&lanes);
        // out spec P("model"): one value per model position, replicated over data
        lax::reshape(&first(&per), &[2])
    };
    let a = xla(&x).to_vec::<f64>();
    let b = builtin(&x).to_vec::<f64>();
    assert_eq!(a.len(), 2);
    for (p, q) in a.iter().zip(&b) {
        assert!((p - q).abs() <= 1e-12 * (1.0 + q.abs()), "XLA {a:?} vs built-in {b:?}");
    }
    let ga = grad(|x: &Array| xla(x).sum())(&x).to_vec::<f64>();
    let gb = grad(|x: &Array| builtin(x).sum())(&x).to_vec::<f64>();
    for (p, q) in ga.iter().zip(&gb) {
        assert!((p - q).abs() <= 1e-12 * (1.0 + q.abs()), "gradients: XLA {ga:?} vs built-in {gb:?}");
    }
    check("two-axis body (XLA)", |v: &[Array]| xla(&v[0]), std::slice::from_ref(&x), 3).expect("finite differences");
}

/// shard_map under jit, grad and vmap: one compiled program per use, the
/// same values as eagerly.
#[test]
fn shard_map_composes_with_jit_grad_and_vmap() {
    if !xla_gate::xla_available() {
        return;
    }
    let m = mesh(&[("i", 4)]);
    let w = input(1, 4, 3);
    let x = input(2, 8, 4);
    // a data-parallel loss: each device its rows, the mean loss over all
    let loss_of = std::sync::Arc::new(move |(w, x): &(Array, Array)| {
        let local = move |(w, x): &(Array, Array)| lax::pmean(&jnp::tanh(&x.matmul(w)).sum(), &["i"]);
        shard_map(local, &m, vec![P![], P!["i"]], vec![P![]]).call(&(w.clone(), x.clone()))
    });
    let plain = |(w, x): &(Array, Array)| jnp::tanh(&x.matmul(w)).sum() / 4.0;
    let close = |a: &Array, b: &Array| {
        let (a, b) = (a.to_vec::<f64>(), b.to_vec::<f64>());
        a.len() == b.len() && a.iter().zip(&b).all(|(p, q)| (p - q).abs() <= 1e-12 * (1.0 + q.abs()))
    };
    let args = (w.clone(), x.clone());
    assert!(close(&loss_of(&args), &plain(&args)));
    let gw = grad(|w: &Array| loss_of(&(w.clone(), x.clone())))(&w);
    let gw_plain = grad(|w: &Array| plain(&(w.clone(), x.clone())))(&w);
    assert!(close(&gw, &gw_plain), "{gw:?} vs {gw_plain:?}");
    let (x2, l2) = (x.clone(), loss_of.clone());
    let step = jit(move |w: &Array| grad(|w: &Array| l2(&(w.clone(), x2.clone())))(w));
    assert!(close(&step.call(&w), &gw_plain));
    let text = step.lower(&w).unwrap();
    assert!(text.contains("SPMDFullToShardShape") && text.contains("stablehlo.all_reduce"), "{text}");
    // vmap over a batch of weight matrices
    let ws = jnp::stack(&[&w, &(&w * 2.0)], 0);
    let batched = rjax::vmap(|w: &Array| loss_of(&(w.clone(), x.clone())))(&ws);
    let want = [plain(&(w.clone(), x.clone())), plain(&(&w * 2.0, x.clone()))];
    assert!(close(&batched, &jnp::stack(&[&want[0], &want[1]], 0)));
}

/// A collective outside shard_map and vmap_named, and bad specs, are errors
/// naming what is wrong, at the caller's line.
#[test]
fn misuse_is_reported_at_the_callers_line() {
    let x = Array::from_vec(vec![1.0f64, 2.0], &[2]);
    let c = catch(|| lax::psum(&x, &["i"]));
    assert!(c.msg.contains("psum") && c.msg.contains("\"i\" is not bound"), "{}", c.msg);
    assert!(c.file.ends_with("tests/collectives.rs"), "{c:?}");
    let c = catch(|| vmap_named(|x: &Array| lax::psum(x, &["j"]), "i")(&x));
    assert!(c.msg.contains("bound: [\"i\"]"), "{}", c.msg);
    if !xla_gate::xla_available() {
        return;
    }
    let m = mesh(&[("i", 2)]);
    let bad_axis = shard_map(|x: &Array| x.clone(), &m, vec![P!["j"]], vec![P!["i"]]);
    let c = catch(|| bad_axis.call(&x));
    assert!(c.msg.contains("names no axis \"j\""), "{}", c.msg);
    assert!(c.file.ends_with("tests/collectives.rs"), "{c:?}");
    let odd = shard_map(|x: &Array| x.clone(), &m, vec![P!["i"]], vec![P!["i"]]);
    let c = catch(|| odd.call(&Array::from_vec(vec![1.0f64, 2.0, 3.0], &[3])));
    assert!(c.msg.contains("3 is not divisible by 2"), "{}", c.msg);
    let wrong_count = shard_map(|x: &Array| x.clone(), &m, vec![P!["i"], P![]], vec![P!["i"]]);
    assert!(wrong_count.try_call(&x).unwrap_err().to_string().contains("2 specs but the input has 1"));
    let _: PartitionSpec = P![];
}
