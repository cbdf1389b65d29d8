//! The README's quick start: a tiny linear regression trained with `grad`.
//!
//! Run with `cargo run --release --example quickstart`.

use rjax::{Array, DType, Tree, grad, numpy as jnp, random};

#[derive(Tree, Clone)]
struct Params {
    w: Array,
    b: Array,
}

fn loss(p: &Params, x: &Array, y: &Array) -> Array {
    let pred = jnp::matmul(x, &p.w) + &p.b;
    jnp::mean(&jnp::square(&(pred - y)), jnp::ALL, false)
}

fn main() {
    let [kx, kw] = random::split2(&random::key(0));
    let x = random::normal(&kx, &[256, 3], DType::F32);
    let true_w = Array::from_vec(vec![2.0f32, -1.0, 0.5], &[3, 1]);
    let y = jnp::matmul(&x, &true_w) + 0.3;
    let mut p = Params { w: random::normal(&kw, &[3, 1], DType::F32) * 0.1, b: Array::zeros(&[1], DType::F32) };
    let step = grad(|p: &Params| loss(p, &x, &y));
    for _ in 0..200 {
        let g = step(&p);
        p = rjax::tree::map2(&p, &g, |w, g| w - g * 0.1).expect("same structure");
    }
    println!("loss {:.6}", loss(&p, &x, &y).item::<f32>());
    println!("w = {}\nb = {}", p.w.t(), p.b);
}
