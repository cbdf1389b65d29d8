//! Loads CIFAR-10 (binary layout) and prints the split sizes and label histograms.
//!
//!     cargo run --release --example cifar10_info -- --data-dir DIR
//!
//! DIR holds `cifar-10-batches-bin/` (or is it). Without `--data-dir`,
//! `$CIFAR10_DIR`, else `~/.cache/rjax/cifar10`; when the data is not there
//! the official archive is downloaded into that directory.

use rjax::data::Dataset;
use rjax::data::cifar10::{self, Cifar10, Source};
use rjax::random;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

fn histogram(name: &str, set: &Dataset, classes: &[String]) {
    println!("{name}: {} images, images {:?} {}", set.len(), set.images().shape(), set.images().dtype());
    let counts = set.label_counts();
    for (c, class) in classes.iter().enumerate() {
        println!("  {c} {class:<12} {:>6}", counts.get(c).copied().unwrap_or(0));
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut dir: Option<PathBuf> = None;
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--data-dir", Some(d)) => dir = Some(d.into()),
            _ => {
                eprintln!("usage: cifar10_info [--data-dir DIR]  (default: $CIFAR10_DIR, else ~/.cache/rjax/cifar10)");
                return ExitCode::FAILURE;
            }
        }
    }
    let dir = dir.unwrap_or_else(cifar10::default_dir);
    let start = Instant::now();
    let data = match Cifar10::load_or_download(&dir, &Source::official()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("loaded {} in {:.2} s", dir.display(), start.elapsed().as_secs_f64());
    histogram("train", &data.train, &data.classes);
    histogram("test", &data.test, &data.classes);
    if data.train.len() >= 5_000 {
        if let Ok((train, val)) = data.split_validation(5_000) {
            println!("validation split (last 5,000 training images): train {}, val {}", train.len(), val.len());
            histogram("val", &val, &data.classes);
        }
    }
    let start = Instant::now();
    let batches = match data.train.batches(128) {
        Ok(b) => b.shuffle(&random::key(0)).drop_last(true),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let count = batches.count();
    let t = start.elapsed().as_secs_f64();
    println!(
        "one shuffled epoch of {count} batches of 128 (f32 [128, 3072]): {:.2} s, {:.0} us a batch",
        t,
        t * 1e6 / count as f64
    );
    ExitCode::SUCCESS
}
