//! Model parallel: a wide hidden layer (256 → 4096 → 10) whose weights are
//! split over the mesh axis "model" (the first layer by columns, the second
//! by rows: each device holds half of the 4096 hidden units), the batch split
//! over "data", on a 2 x 2 mesh of the XLA CPU plugin's devices. XLA's SPMD
//! partitioner inserts the communication; the loss and gradients equal one
//! device's, and a few SGD steps train with the weights staying split.
//!
//! Run: `cargo run --release --example model_parallel` (needs the CPU plugin:
//! `scripts/install-plugin cpu`).

use rjax::nn::{mean_cross_entropy, relu};
use rjax::random::{self, Key};
use rjax::sharding::{Mesh, NamedSharding, Sharding};
use rjax::{Array, DType, HostData, P, jit, value_and_grad};

/// Weights, a batch of inputs and labels.
type Batch = (Array, Array, Array, Array);

/// The loss and the gradients of both weight matrices, flat (one sharding per output).
fn loss_and_grads((w1, w2, x, y): &Batch) -> (Array, Array, Array) {
    let loss = |(w1, w2): &(Array, Array)| mean_cross_entropy(&relu(&x.matmul(w1)).matmul(w2), y);
    let (l, (g1, g2)) = value_and_grad(loss)(&(w1.clone(), w2.clone()));
    (l, g1, g2)
}

/// What the run shows.
pub struct Report {
    /// Per device: the shape of its part of the first layer's weights.
    pub shard_shape: Vec<usize>,
    /// The largest difference between the split and the one-device loss and gradients.
    pub max_diff: f64,
    /// The loss before and after the SGD steps.
    pub losses: (f32, f32),
}

/// Builds the layer, checks the split program against one device and trains a few steps.
pub fn run(steps: usize) -> Result<Report, rjax::Error> {
    let mesh = Mesh::on("xla-cpu", &[("data", 2), ("model", 2)])?;
    let (batch, d_in, wide, d_out) = (64, 256, 4096, 10);
    let key = |i| random::fold_in(&random::key(0), i);
    let init = |k: Key, shape: &[usize]| random::normal(&k, shape, DType::F32) * (1.0 / (shape[0] as f64).sqrt());
    let w1 = init(key(1), &[d_in, wide]);
    let w2 = init(key(2), &[wide, d_out]);
    let x = random::normal(&key(3), &[batch, d_in], DType::F32);
    let y = random::randint(&key(4), &[batch], 0, d_out as i32);

    let split = |spec| -> Sharding { NamedSharding::new(&mesh, spec).into() };
    let (cols, rows) = (split(P![None, "model"]), split(P!["model", None]));
    let step = jit(loss_and_grads)
        .in_shardings(vec![cols.clone(), rows.clone(), split(P!["data", None]), split(P!["data"])])
        .out_shardings(vec![Sharding::Replicated, cols, rows]);
    let (l, g1, g2) = step.try_call(&(w1.clone(), w2.clone(), x.clone(), y.clone()))?;
    let (l0, g10, g20) = jit(loss_and_grads).try_call(&(w1.clone(), w2.clone(), x.clone(), y.clone()))?;
    let values = |a: &Array| -> Result<Vec<f32>, rjax::Error> {
        match a.try_host_data()? {
            HostData::F32(v) => Ok(v.iter().copied().collect()),
            other => Err(rjax::Error::Unsupported(format!("expected f32 values, got {}", other.dtype()))),
        }
    };
    let diff = |a: &Array, b: &Array| -> Result<f64, rjax::Error> {
        let (a, b) = (values(a)?, values(b)?);
        Ok(a.iter().zip(&b).map(|(p, q)| (p - q).abs() as f64).fold(0.0, f64::max))
    };
    let max_diff = diff(&l, &l0)?.max(diff(&g1, &g10)?).max(diff(&g2, &g20)?);
    let shard_shape = g1.addressable_shards()?[0].data.shape().to_vec();

    // SGD with the weights split: each update runs over the mesh, where they are.
    let (mut w1, mut w2) = (w1, w2);
    let first = values(&l)?[0];
    let mut last = first;
    for _ in 0..steps {
        let (l, g1, g2) = step.try_call(&(w1.clone(), w2.clone(), x.clone(), y.clone()))?;
        w1 = &w1 - &g1 * 0.02;
        w2 = &w2 - &g2 * 0.02;
        last = values(&l)?[0];
    }
    Ok(Report { shard_shape, max_diff, losses: (first, last) })
}

#[allow(dead_code)]
fn main() {
    // 2 x 2 devices: the XLA CPU plugin shows fewer on machines of 2 or 3 cores unless asked.
    if let Err(e) = rjax::set_xla_cpu_device_count(4) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    match run(20) {
        Ok(r) => {
            println!("each device holds {:?} of the first layer's [256, 4096] weights", r.shard_shape);
            println!("split over 2 x 2 devices vs one device: largest difference {:.2e}", r.max_diff);
            println!("loss {:.4} -> {:.4} after 20 SGD steps with the weights split", r.losses.0, r.losses.1);
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
