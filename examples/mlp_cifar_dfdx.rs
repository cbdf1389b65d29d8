//! The report's experiment in dfdx 0.13 on the CPU, for comparison with
//! rjax's `examples/mlp_cifar.rs`: an MLP (3072 → 1024 → 512 → 256 → 10,
//! ReLU, dropout after each hidden layer) trained on CIFAR-10 with softmax
//! cross-entropy and Adam (optax's defaults: b1 0.9, b2 0.999, eps 1e-8),
//! validation on the last `--val-size` training images, early stopping on
//! validation accuracy with `--patience` (the best parameters kept), then the
//! test accuracy.
//!
//! Same as the rjax run with the same `--seed`: the initial parameters (an
//! rjax `Mlp::new(.., Init::LecunNormal)` copied into dfdx's layers), the data
//! (rjax's CIFAR-10 loader) and the order of the batches (rjax's `Batches`,
//! shuffled with the same keys, last partial batch dropped). Different: the
//! dropout masks (dfdx draws its own, from a generator seeded with `--seed`)
//! and the rounding of Adam's bias corrections (see `tests/dfdx_mlp/mod.rs`).
//!
//! Run: `cargo run --release --example mlp_cifar_dfdx -- --data-dir /path/to/cifar10`

#[path = "../tests/dfdx_mlp/mod.rs"]
mod dfdx_mlp;
#[path = "common/protocol.rs"]
mod protocol;

use clap::Parser;
use dfdx::prelude::Cpu;
use dfdx_mlp::{DfdxMlp, load_mlp, optax_adam};
use protocol::{EarlyStopping, Protocol, Verdict, WIDTHS};
use rjax::data::Dataset;
use rjax::data::cifar10::Source;
use rjax::nn::{Init, Mlp};
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    about = "Train the report's MLP on CIFAR-10 with dfdx on the CPU (rjax's data, order and initial parameters)"
)]
struct Args {
    #[command(flatten)]
    protocol: Protocol,
    /// Also write every epoch's figures and the test accuracy into
    /// OUT/metrics.json (the fields examples/mlp_cifar writes; benches/peers reads them).
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

type Net = DfdxMlp<3072, f32>;

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let p = &args.protocol;
    p.check()?;
    let t_start = Instant::now();
    let data = p.load(&Source::official())?;
    p.check_sizes(data.train.len())?;
    println!("{}", data.describe("dfdx on the CPU"));
    let (train, val, test) = (&data.train, &data.val, &data.test);

    // The keys of examples/mlp_cifar: initial parameters and batch order (dfdx
    // draws its own dropout masks).
    let keys = p.keys();
    let params = Mlp::new(&keys.init, &WIDTHS, Init::LecunNormal);
    let mut net: Net = load_mlp(&Cpu::seed_from_u64(p.seed), &params, p.dropout as f32, optax_adam(p.lr));

    let (mut stopping, mut best) = (EarlyStopping::new(p.patience), None);
    let t_train = Instant::now();
    let mut epochs_run = 0;
    let mut epochs = Vec::new();
    for epoch in 1..=p.epochs {
        let t0 = Instant::now();
        let batches = p.epoch_batches(train, &keys, epoch)?;
        let n_batches = batches.len();
        let (mut loss_sum, mut correct) = (0.0, 0);
        for (x, y) in batches {
            let (loss, right) = net.train_step(&x.to_vec::<f32>(), &y.to_vec::<i32>());
            loss_sum += loss;
            correct += right;
        }
        let n_train = n_batches * p.batch_size;
        let train_seconds = t0.elapsed().as_secs_f64();
        let (val_loss, val_acc) = evaluate(&net, val)?;
        let seconds = t0.elapsed().as_secs_f64();
        epochs.push(serde_json::json!({
            "epoch": epoch, "train_loss": loss_sum / n_batches.max(1) as f64,
            "train_acc": correct as f64 / n_train.max(1) as f64, "val_loss": val_loss, "val_acc": val_acc,
            "seconds": seconds, "train_seconds": train_seconds, "val_seconds": seconds - train_seconds,
            "samples_per_s": n_train as f64 / train_seconds,
        }));
        epochs_run = epoch;
        println!(
            "epoch {epoch:3}  loss {:.4}  train acc {:.4}  val loss {val_loss:.4}  val acc {val_acc:.4}  \
             {seconds:.1} s  {:.0} samples/s",
            loss_sum / n_batches.max(1) as f64,
            correct as f64 / n_train.max(1) as f64,
            n_train as f64 / seconds
        );
        match stopping.observe(epoch, val_acc) {
            Verdict::Better => best = Some(net.net.clone()),
            Verdict::Stop => break,
            Verdict::Wait => {}
        }
    }
    let train_seconds = t_train.elapsed().as_secs_f64();
    net.net = best.ok_or("no epoch was run (--epochs 0)")?;
    let (test_loss, test_acc) = evaluate(&net, test)?;
    println!(
        "test acc {test_acc:.4}  test loss {test_loss:.4}  (best epoch {} of {epochs_run}, \
         val acc {:.4}); training {train_seconds:.1} s, total {:.1} s",
        stopping.best_epoch,
        stopping.best_acc,
        t_start.elapsed().as_secs_f64()
    );
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out)?;
        let doc = serde_json::json!({
            "system": "dfdx 0.13", "device": "cpu", "device_description": "dfdx's CPU backend",
            "summary": {
                "train_seconds": train_seconds, "epochs": epochs_run, "best_epoch": stopping.best_epoch,
                "best_val_acc": stopping.best_acc, "test_loss": test_loss, "test_acc": test_acc,
            },
            "epochs": epochs,
        });
        std::fs::write(out.join("metrics.json"), serde_json::to_string_pretty(&doc)?)?;
    }
    Ok(())
}

/// Mean loss and accuracy on a data set, without dropout, in batches of 1000.
fn evaluate(net: &Net, set: &Dataset) -> Result<(f64, f64), rjax::data::DataError> {
    let (mut loss, mut correct) = (0.0, 0);
    for (x, y) in set.batches(1000)? {
        let (l, c) = net.evaluate(&x.to_vec::<f32>(), &y.to_vec::<i32>());
        loss += l;
        correct += c;
    }
    let n = set.len().max(1) as f64;
    Ok((loss / n, correct as f64 / n))
}
