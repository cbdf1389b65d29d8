//! examples/mlp_cifar end to end, in this process: its own `run` (compiled
//! into this test with `#[path]`) on a small learnable data set in CIFAR-10's
//! binary layout (5 training files and a test file of `RECORDS` images each),
//! with the very flags a user passes. Checks the trained table, metrics.json,
//! curves.png and best.safetensors; early stopping with the best parameters
//! restored; and the errors a newcomer meets (offline without data, a bad flag).

#[path = "../examples/mlp_cifar/main.rs"]
#[allow(dead_code)]
mod mlp_cifar;
mod xla_gate;

use clap::Parser;
use mlp_cifar::{Args, run};
use rjax::data::Dataset;
use rjax::data::cifar10::{Cifar10, IMAGE_LEN, Source};
use rjax::nn::{Init, Mlp};
use rjax::numpy as jnp;
use rjax::random::{self, Key};
use rjax::{DType, tree};
use std::path::Path;
use std::time::Duration;

/// Images per file: 5 x 200 training images (200 of them held out for
/// validation) and 200 test images.
const RECORDS: usize = 200;

/// A source that cannot be reached (nothing listens on port 9 of 127.0.0.1),
/// for files of `RECORDS` images.
fn unreachable_source() -> Source {
    Source {
        url: "http://127.0.0.1:9/cifar-10-binary.tar.gz".into(),
        md5: "00000000000000000000000000000000".into(),
        size: None,
        records_per_file: RECORDS,
    }
}

/// `n` images of 10 classes: each class a random prototype image, each image
/// its class's prototype plus Gaussian noise (standard deviation 150 of 255, clipped),
/// so an MLP separates them within a few epochs.
fn learnable(key: &Key, split: u32, n: usize) -> Dataset {
    let prototypes = random::uniform(&random::fold_in(key, 1000), &[10, IMAGE_LEN], DType::F32, 0.0, 255.0);
    let [ky, kn] = random::split2(&random::fold_in(key, split));
    let labels = random::randint(&ky, &[n], 0, 10);
    let noisy = jnp::take(&prototypes, &labels, 0) + random::normal(&kn, &[n, IMAGE_LEN], DType::F32) * 150.0;
    Dataset::new((jnp::clip(&noisy, 0.0, 255.0) + 0.5).astype(DType::U8), labels, 10).expect("a valid data set")
}

/// Writes the learnable set into `dir` in the official layout.
fn write_data(dir: &Path) {
    let key = random::key(11);
    let data = Cifar10 {
        train: learnable(&key, 0, 5 * RECORDS),
        test: learnable(&key, 1, RECORDS),
        classes: Cifar10::official_classes(),
    };
    data.save(dir).expect("write the data set");
}

/// The example's arguments: `flags` after the program name, on XLA's CPU
/// plugin when it is there, else on the built-in CPU, unless `flags` name a `--device`.
fn args(flags: &[&str]) -> Args {
    four_xla_cpu_devices();
    let device: &[&str] = match () {
        _ if flags.contains(&"--device") => &[],
        _ if xla_gate::xla_available() => &["--device", "xla-cpu"],
        _ => &["--device", "cpu"],
    };
    let all = ["mlp_cifar"].iter().chain(device).chain(flags).copied();
    Args::try_parse_from(all).expect("valid flags")
}

/// Asks for the 4 XLA CPU devices that `--data-parallel 4` splits over (the
/// plugin shows fewer on machines of fewer cores), before any test of this
/// process starts xla-cpu: every test calls it first.
fn four_xla_cpu_devices() {
    let _ = rjax::set_xla_cpu_device_count(4);
}

/// A data folder (with the learnable set, or empty) and an output folder, both temporary.
struct Dirs {
    data: tempfile::TempDir,
    out: tempfile::TempDir,
}

impl Dirs {
    fn new(with_data: bool) -> Dirs {
        four_xla_cpu_devices();
        let dirs = Dirs { data: tempfile::tempdir().expect("temp dir"), out: tempfile::tempdir().expect("temp dir") };
        if with_data {
            write_data(dirs.data.path());
        }
        dirs
    }

    /// Runs the example with `--data-dir` and `--out` set to these folders, then `flags`.
    fn run(&self, flags: &[&str]) -> Result<mlp_cifar::report::Summary, Box<dyn std::error::Error>> {
        let (data, out) = (self.data.path().to_str().expect("utf-8"), self.out.path().to_str().expect("utf-8"));
        let all: Vec<&str> = ["--data-dir", data, "--out", out].into_iter().chain(flags.iter().copied()).collect();
        run(&args(&all), &unreachable_source())
    }
}

#[test]
fn trains_on_a_small_data_set_and_writes_its_outputs() {
    let dirs = Dirs::new(true);
    let summary = dirs
        .run(&["--epochs", "4", "--batch-size", "50", "--val-size", "200", "--seed", "3"])
        .expect("the example runs");
    let (data, out) = (&dirs.data, &dirs.out);

    assert_eq!(summary.epochs, 4);
    assert!(summary.best_val_acc > 0.8, "validation accuracy {} (chance 0.1)", summary.best_val_acc);
    assert!(summary.test_acc > 0.8, "test accuracy {} (chance 0.1)", summary.test_acc);
    assert!(summary.train_seconds > 0.0 && summary.peak_rss_mb.is_some_and(|mb| mb > 0.0));

    // metrics.json: the configuration and every epoch's figures
    let text = std::fs::read_to_string(out.path().join("metrics.json")).expect("metrics.json");
    let m: serde_json::Value = serde_json::from_str(&text).expect("metrics.json is JSON");
    assert_eq!(m["config"]["batch_size"], 50);
    assert_eq!(m["config"]["widths"], serde_json::json!([3072, 1024, 512, 256, 10]));
    assert_eq!(m["summary"]["test_acc"].as_f64(), Some(summary.test_acc));
    assert_eq!(m["device_description"].as_str(), Some(summary.device_description.as_str()));
    assert!(summary.device_description.starts_with(&format!("{}: ", summary.device)), "{}", summary.device_description);
    let epochs = m["epochs"].as_array().expect("an epoch list");
    assert_eq!(epochs.len(), 4);
    for (i, e) in epochs.iter().enumerate() {
        assert_eq!(e["epoch"], i + 1);
        for field in ["train_loss", "train_acc", "val_loss", "val_acc", "seconds", "samples_per_s"] {
            assert!(e[field].as_f64().is_some_and(f64::is_finite), "epoch {}: {field} is {}", i + 1, e[field]);
        }
    }
    let first_loss = epochs[0]["train_loss"].as_f64().unwrap_or(f64::NAN);
    let last_loss = epochs[3]["train_loss"].as_f64().unwrap_or(f64::NAN);
    assert!(last_loss < first_loss, "training loss {first_loss} -> {last_loss}");
    let best_val = epochs.iter().filter_map(|e| e["val_acc"].as_f64()).fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(best_val, summary.best_val_acc);

    // curves.png is a PNG image
    let png = std::fs::read(out.path().join("curves.png")).expect("curves.png");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000, "curves.png: {} bytes", png.len());

    // best.safetensors holds the report's MLP, and those parameters give the test accuracy
    let template = Mlp::new(&random::key(0), &mlp_cifar::protocol::WIDTHS, Init::Zeros);
    let best = rjax::checkpoint::load(out.path().join("best.safetensors"), &template).expect("the checkpoint loads");
    assert_eq!(tree::size(&best), tree::size(&template));
    let test = Cifar10::load_records(data.path(), RECORDS).expect("the data set").test;
    let acc = rjax::nn::accuracy(&best.apply(&test.images_f32(), None, 0.0, false), test.labels()).item::<f32>();
    assert!(
        (acc as f64 - summary.test_acc).abs() < 1e-6,
        "checkpoint gives {acc}, the run reported {}",
        summary.test_acc
    );
}

#[test]
fn stops_early_and_restores_the_best_parameters() {
    let dirs = Dirs::new(true);
    // lr 0: the parameters never change, so the validation accuracy never
    // improves on epoch 1's and the run stops after 1 + patience epochs
    let flags = ["--epochs", "50", "--patience", "2", "--batch-size", "100", "--val-size", "200", "--lr", "0"];
    let summary = dirs.run(&flags).expect("the example runs");
    assert_eq!((summary.epochs, summary.best_epoch), (3, 1));
    // the checkpoint is the initial model (seed 0's key for the initial parameters)
    let init = Mlp::new(&random::split(&random::key(0), 3)[0], &mlp_cifar::protocol::WIDTHS, Init::LecunNormal);
    let best = rjax::checkpoint::load(dirs.out.path().join("best.safetensors"), &init).expect("the checkpoint loads");
    for (a, b) in tree::leaves(&best).iter().zip(tree::leaves(&init)) {
        assert_eq!(a.to_vec::<f32>(), b.to_vec::<f32>());
    }
}

#[test]
fn offline_without_data_says_what_to_do() {
    let dirs = Dirs::new(false);
    let err = dirs.run(&[]).err().expect("no data and no network is an error").to_string();
    for needed in ["--data-dir", "CIFAR10_DIR", "127.0.0.1:9"] {
        assert!(err.contains(needed), "the error does not mention {needed}: {err}");
    }
    assert_eq!(std::fs::read_dir(dirs.out.path()).expect("out dir").count(), 0, "nothing is written on failure");
}

#[test]
fn rejects_a_dropout_rate_outside_0_1() {
    let err = Dirs::new(false).run(&["--dropout", "1"]).err().expect("dropout 1 is an error").to_string();
    assert!(err.contains("--dropout must be in [0, 1), got 1"), "{err}");
}

#[test]
fn flags_have_the_reports_defaults() {
    let a = Args::try_parse_from(["mlp_cifar"]).expect("no flags");
    let m = format!("{a:?}");
    for v in ["epochs: 100", "patience: 5", "batch_size: 128", "lr: 0.0001", "dropout: 0.3", "val_size: 5000"] {
        assert!(m.contains(v), "default {v} missing from {m}");
    }
    assert!(Args::try_parse_from(["mlp_cifar", "--epochs", "many"]).is_err());
}

/// Runs `f` on another thread; fails the test if it has not returned within `limit`.
fn within<T: Send + 'static>(limit: Duration, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).unwrap_or_else(|e| panic!("{what} did not end within {limit:?}: {e}"))
}

#[test]
fn a_diverging_run_stops_and_keeps_the_old_checkpoint() {
    let dirs = Dirs::new(true);
    let old = dirs.out.path().join("best.safetensors");
    std::fs::write(&old, b"an earlier model").expect("write");
    // Adam's first update moves every weight by about lr: the next forward
    // pass overflows f32 (at 1e30 whether it did depended on the order of the sums)
    let flags = ["--epochs", "3", "--batch-size", "100", "--val-size", "200", "--lr", "1e38", "--overwrite"];
    let (dirs, result) = within(Duration::from_secs(600), "a diverging run", move || {
        let r = dirs.run(&flags).map(|_| ()).map_err(|e| e.to_string());
        (dirs, r)
    });
    let err = result.expect_err("a diverged run is an error");
    for needed in ["diverged", "epoch 1, step 2 of", "training loss is", "nothing was written", "--lr"] {
        assert!(err.contains(needed), "the error does not say {needed:?}: {err}");
    }
    assert_eq!(std::fs::read(&old).expect("read"), b"an earlier model", "the old checkpoint is kept");
    assert_eq!(std::fs::read_dir(dirs.out.path()).expect("out dir").count(), 1, "nothing else is written");
}

#[test]
fn curves_of_non_finite_histories_are_drawn_and_end() {
    use mlp_cifar::Epoch;
    let e = |epoch, train_loss, val_loss, train_acc, val_acc| Epoch {
        epoch,
        train_loss,
        train_acc,
        val_loss,
        val_acc,
        seconds: 1.0,
        train_seconds: 0.9,
        val_seconds: 0.1,
        samples_per_s: 1.0,
    };
    let histories = [
        vec![
            e(1, 2.0, 1.9, 0.3, 0.35),
            e(2, f64::NAN, f64::NAN, 0.1, 0.1),
            e(3, f64::INFINITY, f64::NEG_INFINITY, 0.1, 0.1),
        ],
        vec![e(1, f64::NAN, f64::NAN, f64::NAN, f64::NAN)],
        vec![e(1, 1e308, -1e308, 0.5, 0.5), e(2, -1e308, 1e308, 0.5, 0.5)],
        vec![],
    ];
    let dir = tempfile::tempdir().expect("temp dir");
    for (k, h) in histories.into_iter().enumerate() {
        let path = dir.path().join(format!("curves{k}.png"));
        let p = path.clone();
        let done = within(Duration::from_secs(60), "plotting", move || {
            mlp_cifar::report::plot_curves(&p, &h).map_err(|e| e.to_string())
        });
        done.unwrap_or_else(|e| panic!("history {k}: {e}"));
        let png = std::fs::read(&path).expect("the plot is written");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "history {k}: not a PNG");
    }
}

#[test]
fn bad_numbers_are_refused_before_anything_runs() {
    for (flags, needed) in [
        (&["--lr", "nan"][..], "--lr must be a finite number >= 0, got NaN"),
        (&["--lr", "inf"][..], "--lr must be a finite number >= 0, got inf"),
        (&["--lr", "-1"][..], "--lr must be a finite number >= 0, got -1"),
        (&["--batch-size", "0"][..], "--batch-size must be at least 1"),
        (&["--epochs", "0"][..], "--epochs must be at least 1"),
        (&["--val-size", "0"][..], "--val-size must be at least 1"),
    ] {
        let dirs = Dirs::new(false);
        let err = dirs.run(flags).err().unwrap_or_else(|| panic!("{flags:?} is refused")).to_string();
        assert!(err.contains(needed), "{flags:?}: {err}");
        assert_eq!(std::fs::read_dir(dirs.out.path()).expect("out dir").count(), 0, "{flags:?}: nothing written");
    }
}

#[test]
fn a_batch_larger_than_the_training_set_is_refused_before_training() {
    let dirs = Dirs::new(true);
    // 1,000 training images, 200 held out: 800 left
    let err = dirs.run(&["--batch-size", "900", "--val-size", "200"]).err().expect("refused").to_string();
    assert!(err.contains("--batch-size 900 is larger than the 800 training images"), "{err}");
    assert_eq!(std::fs::read_dir(dirs.out.path()).expect("out dir").count(), 0, "nothing written");
}

#[test]
fn output_problems_are_found_before_loading_data() {
    // --out names a file
    let dirs = Dirs::new(false);
    let file = dirs.out.path().join("a-file");
    std::fs::write(&file, b"x").expect("write");
    let all = ["--data-dir", "/nonexistent", "--out", file.to_str().expect("utf-8")];
    let err = run(&args(&all), &unreachable_source()).err().expect("refused").to_string();
    assert!(err.contains("--out") && err.contains("cannot create the output folder"), "{err}");
    // an earlier run's model is kept unless --overwrite
    let dirs = Dirs::new(false);
    std::fs::write(dirs.out.path().join("best.safetensors"), b"earlier").expect("write");
    let err = dirs.run(&[]).err().expect("refused").to_string();
    assert!(err.contains("--overwrite"), "{err}");
    assert!(!err.contains("CIFAR10_DIR"), "refused before looking for data: {err}");
    assert_eq!(std::fs::read(dirs.out.path().join("best.safetensors")).expect("read"), b"earlier");
}

#[test]
fn messages_name_the_flag_and_what_to_do() {
    // --data-dir naming a file
    let dirs = Dirs::new(false);
    let file = dirs.data.path().join("not-a-folder");
    std::fs::write(&file, b"x").expect("write");
    let all = ["--data-dir", file.to_str().expect("utf-8"), "--out", dirs.out.path().to_str().expect("utf-8")];
    let err = run(&args(&all), &unreachable_source()).err().expect("refused").to_string();
    assert!(err.contains("is a file, not a folder") && err.contains("--data-dir"), "{err}");
    // a device number the platform does not have
    let err = rjax::device("cpu:3").expect_err("no cpu:3").to_string();
    assert!(err.contains("no device cpu:3: cpu has 1 device(s), numbered 0 to 0"), "{err}");
    if xla_gate::xla_available() {
        let err = rjax::device("xla-cpu:99").expect_err("no xla-cpu:99").to_string();
        assert!(err.starts_with("no device xla-cpu:99: xla-cpu has ") && err.contains("pick one"), "{err}");
    }
}

/// Set for the child process of `a_killed_run_resumes_with_the_same_results`:
/// the example's flags, one per line.
const CHILD_FLAGS: &str = "RJAX_TEST_MLP_CIFAR_CHILD_FLAGS";

/// Not a test: the run that `a_killed_run_resumes_with_the_same_results`
/// starts in a child process (this test binary, run with `--ignored --exact
/// child_run`) and kills.
#[test]
#[ignore = "the child process of a_killed_run_resumes_with_the_same_results"]
fn child_run() {
    let flags = std::env::var(CHILD_FLAGS).expect("started by a_killed_run_resumes_with_the_same_results");
    let flags: Vec<&str> = flags.lines().collect();
    run(&args(&flags), &unreachable_source()).expect("the child's run");
}

/// Every epoch's figures but its time, and the test accuracy, of a run's metrics.json.
fn results(out: &Path) -> (Vec<Vec<f64>>, f64) {
    let text = std::fs::read_to_string(out.join("metrics.json")).expect("metrics.json");
    let m: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let epochs = m["epochs"].as_array().expect("epochs").iter().map(|e| {
        ["epoch", "train_loss", "train_acc", "val_loss", "val_acc"]
            .iter()
            .map(|f| e[f].as_f64().unwrap_or(f64::NAN))
            .collect()
    });
    (epochs.collect(), m["summary"]["test_acc"].as_f64().unwrap_or(f64::NAN))
}

#[test]
fn a_killed_run_resumes_with_the_same_results() {
    let dirs = Dirs::new(true);
    let data = dirs.data.path().to_str().expect("utf-8").to_string();
    let flags = ["--epochs", "4", "--batch-size", "100", "--val-size", "200", "--seed", "5", "--patience", "10"];
    // the uninterrupted run
    dirs.run(&flags).expect("the whole run");
    // the same run in a child process, killed (SIGKILL) once an epoch is saved
    let out = tempfile::tempdir().expect("temp dir");
    let out_s = out.path().to_str().expect("utf-8").to_string();
    let child_flags: Vec<&str> = ["--data-dir", &data, "--out", &out_s].into_iter().chain(flags).collect();
    let exe = std::env::current_exe().expect("this test binary");
    let mut child = std::process::Command::new(exe)
        .args(["--ignored", "--exact", "child_run", "--test-threads", "1"])
        .env(CHILD_FLAGS, child_flags.join("\n"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start the child run");
    let latest = out.path().join(mlp_cifar::resume::LATEST);
    let t0 = std::time::Instant::now();
    while !latest.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the child run ended ({status}) before saving an epoch");
        }
        assert!(t0.elapsed() < Duration::from_secs(600), "no epoch saved within 600 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("kill the child run");
    child.wait().expect("reap the child run");
    assert!(!out.path().join("metrics.json").exists(), "the child was killed before finishing");
    // resuming gives the uninterrupted run's epochs, test accuracy and model
    let resumed = run(&args(&[&child_flags[..], &["--resume"]].concat()), &unreachable_source()).expect("resumed");
    assert_eq!(resumed.epochs, 4);
    assert_eq!(results(out.path()), results(dirs.out.path()));
    let model = |dir: &Path| std::fs::read(dir.join("best.safetensors")).expect("best.safetensors");
    assert!(model(out.path()) == model(dirs.out.path()), "the resumed run's model differs");
    // a finished run resumed again only evaluates; with more --epochs it goes on
    let again = run(&args(&[&child_flags[..], &["--resume"]].concat()), &unreachable_source()).expect("again");
    assert_eq!((again.epochs, again.test_acc), (4, resumed.test_acc));
    let more: Vec<&str> = child_flags.iter().map(|&f| if f == "4" { "5" } else { f }).chain(["--resume"]).collect();
    assert_eq!(run(&args(&more), &unreachable_source()).expect("one more epoch").epochs, 5);
}

#[test]
fn resume_refuses_what_it_cannot_continue() {
    let dirs = Dirs::new(true);
    let err = dirs.run(&["--resume"]).err().expect("nothing to resume").to_string();
    assert!(
        err.contains("--resume") && err.contains("latest.safetensors") && err.contains("without --resume"),
        "{err}"
    );
    dirs.run(&["--epochs", "1", "--batch-size", "100", "--val-size", "200"]).expect("one epoch");
    let err = dirs.run(&["--epochs", "2", "--batch-size", "100", "--val-size", "200"]).err().expect("refused");
    assert!(err.to_string().contains("--resume to continue that run"), "{err}");
    let err = dirs
        .run(&["--epochs", "2", "--batch-size", "100", "--val-size", "200", "--lr", "0.001", "--resume"])
        .err()
        .expect("a different --lr is refused")
        .to_string();
    assert!(err.contains("--lr differs from the run saved in"), "{err}");
    assert!(Args::try_parse_from(["mlp_cifar", "--resume", "--overwrite"]).is_err(), "--resume and --overwrite");
}

#[test]
fn a_named_plugin_that_cannot_be_loaded_is_an_error_not_a_fallback() {
    let dir = tempfile::tempdir().expect("temp dir");
    let not_a_library = dir.path().join("xla_cpu_pjrt.so");
    std::fs::write(&not_a_library, b"not a shared library").expect("write");
    for plugin in [not_a_library, dir.path().join("missing.so")] {
        let flags = ["--device", "auto", "--data-dir", "/nonexistent", "--out", dir.path().to_str().expect("utf-8")];
        let out = std::process::Command::new(std::env::current_exe().expect("this test binary"))
            .args(["--ignored", "--exact", "child_run", "--test-threads", "1", "--nocapture"])
            .env(CHILD_FLAGS, flags.join("\n"))
            .env("RJAX_PJRT_CPU", &plugin)
            .env_remove("RJAX_REQUIRE_XLA")
            .env_remove("RJAX_DEVICE")
            .output()
            .expect("run the child");
        let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{}: the run went on: {text}", plugin.display());
        assert!(text.contains("RJAX_PJRT_CPU names a plugin that cannot be used"), "{}: {text}", plugin.display());
        assert!(text.contains(&plugin.display().to_string()), "the message names the file: {text}");
        assert!(!text.contains("built-in cpu"), "no fallback: {text}");
    }
}

#[test]
fn the_compiled_epoch_trains_as_the_per_batch_steps_do() {
    let flags = ["--epochs", "2", "--batch-size", "100", "--val-size", "200", "--seed", "7"];
    let compiled = Dirs::new(true);
    let a = compiled.run(&flags).expect("the compiled run");
    let per_batch = Dirs::new(true);
    let b = per_batch.run(&[&flags[..], &["--per-batch"]].concat()).expect("the per-batch run");
    // the same batches, masks and updates: the same figures every epoch
    let (ea, eb) = (results(compiled.out.path()), results(per_batch.out.path()));
    assert_eq!(ea.0.len(), 2);
    for (x, y) in ea.0.iter().zip(&eb.0) {
        for (u, v) in x.iter().zip(y) {
            assert!((u - v).abs() <= 1e-6 * v.abs().max(1.0), "compiled {x:?} vs per-batch {y:?}");
        }
    }
    assert!((a.test_acc - b.test_acc).abs() < 1e-6, "test accuracy {} vs {}", a.test_acc, b.test_acc);
    // on the built-in backend (fused elementwise kernels) likewise
    let builtin = Dirs::new(true);
    builtin.run(&[&flags[..], &["--device", "cpu"]].concat()).expect("the built-in run");
    let builtin_steps = Dirs::new(true);
    builtin_steps.run(&[&flags[..], &["--device", "cpu", "--per-batch"]].concat()).expect("the built-in per-batch run");
    let (ec, ed) = (results(builtin.out.path()), results(builtin_steps.out.path()));
    for (x, y) in ec.0.iter().zip(&ed.0) {
        for (u, v) in x.iter().zip(y) {
            assert!((u - v).abs() <= 1e-6 * v.abs().max(1.0), "built-in compiled {x:?} vs per-batch {y:?}");
        }
    }
    // and it trains as XLA does, up to the rounding of two different matrix
    // product kernels (accumulated over 2 epochs: the losses agree to about
    // 1e-4, and a prediction or two may flip)
    for (x, y) in ec.0.iter().zip(&ea.0) {
        let [_, tl, ta, vl, va] = x[..] else { panic!("5 figures per epoch: {x:?}") };
        let [_, tl2, ta2, vl2, va2] = y[..] else { panic!("5 figures per epoch: {y:?}") };
        assert!((tl - tl2).abs() <= 1e-3 * tl2 && (vl - vl2).abs() <= 1e-3 * vl2, "built-in {x:?} vs xla {y:?}");
        assert!((ta - ta2).abs() <= 0.01 && (va - va2).abs() <= 0.01, "built-in {x:?} vs xla {y:?}");
    }
}

/// `--data-parallel 4`: each batch split over 4 XLA CPU devices, the
/// gradient summed by XLA. The same batches, dropout masks and updates as one
/// device, up to the order of the sums: 24 steps (3 epochs of 8) give the
/// same epoch figures (losses within 2e-3 relative: on one device the
/// products run in rjax's GEMM, split in XLA's, and 24 Adam steps amplify
/// the difference of their roundings, 5e-4 by epoch 3), and step by step the
/// example's own train step, split over 4 devices, gives every loss within
/// 1e-5 of the one-device step.
#[test]
fn data_parallel_trains_as_one_device_does() {
    if !xla_gate::xla_available() {
        return;
    }
    let flags = ["--epochs", "3", "--batch-size", "100", "--val-size", "200", "--seed", "5", "--per-batch"];
    let one = Dirs::new(true);
    let a = one.run(&flags).expect("the one-device run");
    let dp = Dirs::new(true);
    let b = dp.run(&[&flags[..], &["--data-parallel", "4"]].concat()).expect("the data-parallel run");
    assert!(b.device.contains("data parallel over 4 devices"), "{}", b.device);
    let (ea, eb) = (results(one.out.path()), results(dp.out.path()));
    assert_eq!(eb.0.len(), 3);
    for (x, y) in ea.0.iter().zip(&eb.0) {
        let [_, tl, ta, vl, va] = x[..] else { panic!("5 figures per epoch: {x:?}") };
        let [_, tl2, ta2, vl2, va2] = y[..] else { panic!("5 figures per epoch: {y:?}") };
        assert!((tl - tl2).abs() <= 2e-3 * tl && (vl - vl2).abs() <= 2e-3 * vl, "one {x:?} vs split {y:?}");
        assert!((ta - ta2).abs() <= 0.005 && (va - va2).abs() <= 0.005, "one {x:?} vs split {y:?}");
    }
    assert!((a.test_acc - b.test_acc).abs() <= 0.005, "test accuracy {} vs {}", a.test_acc, b.test_acc);

    // step by step
    use rjax::optim::{GradientTransformation, adam};
    use rjax::sharding::{Mesh, NamedSharding, Sharding};
    let tx: GradientTransformation = adam(1e-3);
    let params = Mlp::new(&random::key(1), &[48, 32, 10], Init::LecunNormal);
    let init = mlp_cifar::TrainState { opt: tx.init(&params), params };
    let mesh = Mesh::on("xla-cpu", &[("data", 4)]).expect("4 devices");
    let rows: Sharding = NamedSharding::new(&mesh, rjax::P!["data"]).into();
    let single = mlp_cifar::train_step(&tx, 0.3);
    let split = mlp_cifar::train_step(&tx, 0.3)
        .in_shardings(vec![Sharding::Replicated, rows.clone(), rows, Sharding::Replicated])
        .donate_argnums(&[0]);
    let (mut s1, mut s2) = (init.clone(), init);
    let key = random::key(9);
    for step in 0..24u32 {
        let k = random::fold_in(&key, step);
        let x = random::normal(&random::fold_in(&k, 1), &[64, 48], DType::F32);
        let y = random::randint(&random::fold_in(&k, 2), &[64], 0, 10);
        let (n1, l1, _) = single.call(&(s1, x.clone(), y.clone(), random::fold_in(&k, 3)));
        let (n2, l2, _) = split.call(&(s2, x, y, random::fold_in(&k, 3)));
        let (l1, l2) = (l1.item::<f32>() as f64, l2.item::<f32>() as f64);
        assert!((l1 - l2).abs() <= 1e-5 * l1.abs(), "step {step}: loss {l1} on one device, {l2} split over 4");
        (s1, s2) = (n1, n2);
    }
}
