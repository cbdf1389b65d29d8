//! Arrays split over a mesh of the XLA CPU plugin's devices (8 by default):
//! `device_put` with a sharding, reading back, shards, printing, eager
//! operations, and `jit` partitioned by XLA's SPMD partitioner against the
//! same function on one device.

mod xla_gate;

use rjax::sharding::{Mesh, NamedSharding, Sharding};
use rjax::{Array, P, device_put, jit};

fn mesh(axes: &[(&str, usize)]) -> Mesh {
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
