//! The report's experiment: an MLP (3072 → 1024 → 512 → 256 → 10, ReLU,
//! dropout 0.3 after each hidden layer) trained on CIFAR-10 with softmax
//! cross-entropy and Adam (lr 1e-4), batch 128, validation on the last 5,000
//! training images, early stopping on validation accuracy with patience 5
//! (the best parameters restored), then the test accuracy.
//!
//! The data set is copied to the device once, as bytes, and each epoch is
//! one compiled program: a `scan` over the batches of the epoch's
//! permutation, each step (gather and scale the batch, forward, loss,
//! gradient, Adam update, dropout masks from split keys) inside it, the
//! state donated (compiled.rs); evaluation is one program per data set.
//! `--per-batch` calls one jitted step per batch sent from the host instead,
//! with the same results (trainer.rs). Writes metrics.json, curves.png and
//! best.safetensors into --out. After every epoch, latest.safetensors (and
//! best.safetensors when the epoch is the best so far) are written
//! atomically; `--resume` continues a stopped run from them with the same
//! results as an uninterrupted run.
//!
//! Run: `cargo run --release --example mlp_cifar -- --data-dir /path/to/cifar10`
//! (add `--features cuda` for the GPU).

pub mod compiled;
pub mod malloc;
#[path = "../common/protocol.rs"]
pub mod protocol;
pub mod report;
pub mod resume;
pub mod trainer;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use protocol::{EarlyStopping, Protocol, Verdict, WIDTHS};
use rjax::data::cifar10::Source;
use rjax::nn::{Init, Mlp, accuracy, mean_cross_entropy};
use rjax::optim::{GradientTransformation, OptState, adam, apply_updates};
use rjax::random::Key;
use rjax::sharding::Mesh;
use rjax::{Array, Device, Jit, Tree, jit, value_and_grad_with_aux};
use std::path::PathBuf;
use std::time::Instant;
use trainer::{Split, Trainer};

#[derive(Parser, Debug, Clone)]
#[command(about = "Train the report's MLP on CIFAR-10 with rjax")]
pub struct Args {
    /// Where to compute: cpu (built-in), xla-cpu, cuda, or auto ($RJAX_DEVICE,
    /// or cuda with the `cuda` feature when a GPU works, else xla-cpu when its
    /// plugin is installed, else cpu).
    #[arg(long, default_value = "auto")]
    device: String,
    #[command(flatten)]
    protocol: Protocol,
    /// Output folder for metrics.json, curves.png and best.safetensors.
    #[arg(long, default_value = "out/mlp_cifar")]
    out: PathBuf,
    /// Replace the outputs of an earlier run in --out (refused otherwise).
    #[arg(long, conflicts_with = "resume")]
    overwrite: bool,
    /// Continue the run saved in --out (its latest.safetensors) with the same
    /// flags; only --epochs may differ.
    #[arg(long)]
    resume: bool,
    /// One jitted call per batch, batches sent from the host (by default an
    /// epoch is one compiled program over the data set kept on the device).
    #[arg(long)]
    per_batch: bool,
    /// Split every batch over N devices of the --device platform (data
    /// parallel: the parameters replicated, the gradient summed over the
    /// devices by XLA), one jitted step per batch. N must divide
    /// --batch-size. On xla-cpu, the plugin is asked for N devices
    /// (RJAX_XLA_CPU_DEVICES, when set, wins).
    #[arg(long, value_name = "N")]
    data_parallel: Option<usize>,
}

/// Checks, before loading data or training, that the output folder can take
/// this run's outputs: it is created if needed and must be writable, and an
/// earlier run's outputs in it are kept unless `--overwrite` (or `--resume`,
/// which continues that run) is given.
fn prepare_out(out: &std::path::Path, overwrite: bool, resume: bool) -> Result<PathBuf, String> {
    let shown = out.display();
    std::fs::create_dir_all(out)
        .map_err(|e| format!("--out {shown}: cannot create the output folder: {e}; pick another --out"))?;
    let probe = out.join(".rjax-write-test");
    std::fs::write(&probe, b"")
        .map_err(|e| format!("--out {shown}: the output folder is not writable: {e}; pick another --out"))?;
    let _ = std::fs::remove_file(&probe);
    if resume && !out.join(resume::LATEST).exists() {
        return Err(format!(
            "--resume: --out {shown} holds no {} (no epoch of a run there finished); run without --resume",
            resume::LATEST
        ));
    }
    for file in ["best.safetensors", resume::LATEST] {
        if out.join(file).exists() && !overwrite && !resume {
            return Err(format!(
                "--out {shown} already holds an earlier run's {file}; pass --resume to continue that run, \
                 --overwrite to replace it, or pick another --out"
            ));
        }
    }
    Ok(out.to_path_buf())
}

/// What a training step updates.
#[derive(Tree, Clone)]
pub struct TrainState {
    pub params: Mlp,
    pub opt: OptState,
}

/// Figures of one epoch.
#[derive(Clone, Debug)]
pub struct Epoch {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_acc: f64,
    pub val_loss: f64,
    pub val_acc: f64,
    /// Training and validation together.
    pub seconds: f64,
    /// The training steps alone (their results read back).
    pub train_seconds: f64,
    /// The validation pass.
    pub val_seconds: f64,
    pub samples_per_s: f64,
}

/// A step's input: the state, a batch's images and labels, the dropout key.
pub type StepIn = (TrainState, Array, Array, Key);
/// A step's output: the state, the loss and the number of correct predictions.
pub type StepOut = (TrainState, Array, Array);

fn main() {
    malloc::cap_arenas();
    let args = Args::parse();
    if let Err(e) = run(&args, &Source::official()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// The device `--device` names. `auto` takes `RJAX_DEVICE` when it is set
/// (an error if that device cannot be used), else with the `cuda` feature
/// the GPU, else XLA's CPU plugin, else the built-in CPU. Falling back past a
/// device prints one line saying why; a plugin the user named (`RJAX_PJRT_CPU`,
/// `RJAX_PJRT_CUDA`) that cannot be loaded is an error, not a fallback.
fn pick_device(name: &str) -> Result<Device, String> {
    if name != "auto" {
        return rjax::device(name).map_err(|e| format!("--device {name}: {e}"));
    }
    if let Ok(spec) = std::env::var("RJAX_DEVICE") {
        return rjax::device(&spec).map_err(|e| format!("--device auto: RJAX_DEVICE={spec} cannot be used: {e}"));
    }
    let mut tried = Vec::new();
    let candidates: &[(&str, &str)] = if cfg!(feature = "cuda") {
        &[("cuda", "RJAX_PJRT_CUDA"), ("xla-cpu", "RJAX_PJRT_CPU")]
    } else {
        &[("xla-cpu", "RJAX_PJRT_CPU")]
    };
    for &(spec, plugin_var) in candidates {
        match rjax::device(spec) {
            Ok(d) => {
                if !tried.is_empty() {
                    eprintln!("--device auto: using {spec} ({})", tried.join("; "));
                }
                return Ok(d);
            }
            Err(e) if std::env::var_os(plugin_var).is_some() => {
                return Err(format!("--device auto: {plugin_var} names a plugin that cannot be used: {e}"));
            }
            Err(e) => tried.push(format!("{spec} cannot be used: {}", e.to_string().lines().next().unwrap_or(""))),
        }
    }
    eprintln!(
        "--device auto: using the built-in cpu backend, slower ({}); install XLA's CPU plugin with \
         `scripts/install-plugin cpu`",
        tried.join("; ")
    );
    Ok(Device::Cpu)
}

/// The mesh of `--data-parallel N`: the first N devices of `device`'s
/// platform along one axis, "data".
fn data_parallel_mesh(n: Option<usize>, device: &Device, batch_size: usize) -> Result<Option<Mesh>, String> {
    let Some(n) = n else { return Ok(None) };
    if n == 0 || batch_size % n != 0 {
        return Err(format!("--data-parallel {n}: N must be at least 1 and divide --batch-size ({batch_size})"));
    }
    if *device == Device::Cpu {
        return Err(format!(
            "--data-parallel {n}: the built-in cpu backend is one device; use --device xla-cpu (or cuda)"
        ));
    }
    let mesh =
        Mesh::on(&device.platform().to_string(), &[("data", n)]).map_err(|e| format!("--data-parallel {n}: {e}"))?;
    Ok(Some(mesh))
}

/// The whole run: trains, evaluates, prints the table and writes the outputs;
/// the data set comes from `source` when it is not in `--data-dir`. Returns
/// the table's figures.
pub fn run(args: &Args, source: &Source) -> Result<report::Summary, Box<dyn std::error::Error>> {
    let p = &args.protocol;
    p.check()?;
    if let Some(n) = args.data_parallel.filter(|&n| n > 1)
        && std::env::var_os("RJAX_XLA_CPU_DEVICES").is_none()
    {
        // Refused only when xla-cpu already started in this process (a
        // program that calls `run` more than once); the mesh then says how
        // many devices it has.
        let _ = rjax::set_xla_cpu_device_count(n);
    }
    let device = pick_device(&args.device)?;
    let mesh = data_parallel_mesh(args.data_parallel, &device, p.batch_size)?;
    let out = prepare_out(&args.out, args.overwrite, args.resume)?;
    let data = p.load(source)?;
    p.check_sizes(data.train.len())?;
    println!("{}", data.describe(&format!("device {}", device.describe())));
    if let Some(m) = &mesh {
        println!("data parallel: each batch split over {m}");
    }

    let keys = p.keys();
    let tx = adam(p.lr);
    let params = Mlp::new(&keys.init, &WIDTHS, Init::LecunNormal);
    let mut state = TrainState { opt: tx.init(&params), params };
    let trainer = Trainer::new(args.per_batch, data, &tx, p, &device, mesh.as_ref())?;

    let mut history: Vec<Epoch> = Vec::new();
    let (mut stopping, mut best_params) = (EarlyStopping::new(p.patience), None);
    let mut stopped = false;
    if args.resume {
        let r = resume::load(&out, p, &state)?;
        println!(
            "resuming after epoch {} of the run in {} (best validation accuracy {:.4} at epoch {})",
            r.history.len(),
            out.display(),
            r.stopping.best_acc,
            r.stopping.best_epoch
        );
        (state, best_params, history, stopping, stopped) = (r.state, Some(r.best), r.history, r.stopping, r.stopped);
    }
    let mut diverged: Option<String> = None;
    let earlier_seconds: f64 = history.iter().map(|e| e.seconds).sum();
    let t_train = Instant::now();
    let first = history.len() + 1;
    for epoch in (first..=p.epochs).filter(|_| !stopped) {
        let t0 = Instant::now();
        let (s, trained) = trainer.train_epoch(state, p, &keys, epoch)?;
        state = s;
        let n_batches = trained.losses.len();
        if let Some((step, v)) = trained.losses.iter().enumerate().find(|(_, l)| !l.is_finite()) {
            diverged = Some(format!("epoch {epoch}, step {} of {n_batches}: the training loss is {v}", step + 1));
            break;
        }
        let train_loss = trained.losses.iter().sum::<f64>() / n_batches.max(1) as f64;
        let train_acc = trained.correct / (n_batches * p.batch_size) as f64;
        let train_seconds = t0.elapsed().as_secs_f64();
        // What the steps freed, handed back before validation and the
        // checkpoints allocate: otherwise the peak RSS grows at every epoch's end.
        rjax::release_host_memory();
        let (val_loss, val_acc) = trainer.evaluate(&state.params, Split::Val)?;
        let seconds = t0.elapsed().as_secs_f64();
        if !val_loss.is_finite() {
            diverged = Some(format!("epoch {epoch}, after its last step: the validation loss is {val_loss}"));
            break;
        }
        let e = Epoch {
            epoch,
            train_loss,
            train_acc,
            val_loss,
            val_acc,
            seconds,
            train_seconds,
            val_seconds: seconds - train_seconds,
            samples_per_s: (n_batches * p.batch_size) as f64 / train_seconds,
        };
        println!(
            "epoch {epoch:3}  loss {:.4}  train acc {:.4}  val loss {:.4}  val acc {:.4}  {:.1} s (train {:.1} s)  \
             {:.0} samples/s",
            e.train_loss, e.train_acc, e.val_loss, e.val_acc, e.seconds, e.train_seconds, e.samples_per_s
        );
        history.push(e);
        let verdict = stopping.observe(epoch, val_acc);
        if verdict == Verdict::Better {
            // A host copy: the device buffers are donated to the next step.
            let best = resume::to_host(&state.params)?;
            rjax::checkpoint::save(out.join("best.safetensors"), &best)?;
            best_params = Some(best);
        }
        if let Some(best) = &best_params {
            resume::save(&out, p, &state, best, &history)?;
        }
        if verdict == Verdict::Stop {
            break;
        }
    }
    let train_seconds = earlier_seconds + t_train.elapsed().as_secs_f64();
    if let Some(at) = &diverged {
        let what = match best_params {
            Some(_) => format!("keeping the best model so far (epoch {})", stopping.best_epoch),
            None => "no epoch finished before, so nothing is written".to_string(),
        };
        eprintln!("training diverged at {at}; stopped, {what}. Lower --lr (it is {}).", p.lr);
        if best_params.is_none() {
            return Err(format!("training diverged at {at}; nothing was written; lower --lr (it is {})", p.lr).into());
        }
    }
    let best = best_params.ok_or("no epoch was run (--epochs 0)")?;
    rjax::release_host_memory();
    let (test_loss, test_acc) = trainer.evaluate(&best, Split::Test)?;
    rjax::checkpoint::save(out.join("best.safetensors"), &best)?;
    // Read back what was written: a checkpoint that does not load is an error now, not later.
    rjax::checkpoint::load(args.out.join("best.safetensors"), &best)?;
    let memory = device.memory_stats().ok();
    let summary = report::Summary {
        device: match &mesh {
            Some(m) => format!("{device} (data parallel over {} devices)", m.size()),
            None => device.to_string(),
        },
        device_description: device.describe(),
        train_seconds,
        epochs: history.len(),
        best_epoch: stopping.best_epoch,
        best_val_acc: stopping.best_acc,
        test_loss,
        test_acc,
        peak_rss_mb: report::peak_rss_mb(),
        peak_device_mb: memory.as_ref().and_then(|m| m.peak_bytes_in_use).map(|b| b as f64 / 1048576.0),
    };
    report::print_table(&summary);
    if let Some(m) = memory {
        // what stays (data, state) against the peak (compiling included)
        let mb = |b: u64| b as f64 / 1048576.0;
        let peak = m.peak_bytes_in_use.map_or("n/a".into(), |b| format!("{:.0} MB", mb(b)));
        println!("device memory: {:.0} MB in use at the end, {peak} at the peak", mb(m.bytes_in_use));
    }
    report::write_metrics(&args.out.join("metrics.json"), args, &summary, &history)?;
    report::plot_curves(&args.out.join("curves.png"), &history)?;
    println!("wrote {}/{{metrics.json, curves.png, best.safetensors, latest.safetensors}}", args.out.display());
    Ok(summary)
}

/// A training step: dropout masks from the step's key, loss and gradient,
/// Adam update; returns the new state, the loss and the number of correct
/// predictions.
pub fn step_body(tx: &GradientTransformation, rate: f64, (s, x, y, key): &StepIn) -> StepOut {
    step_with_keys(tx, rate, s, x, y, &s.params.dropout_keys(key))
}

/// [`step_body`] with the hidden layers' dropout keys already split off the
/// step's key (`Mlp::dropout_keys`): the same step, bit for bit.
pub fn step_with_keys(
    tx: &GradientTransformation,
    rate: f64,
    s: &TrainState,
    x: &Array,
    y: &Array,
    keys: &Key,
) -> StepOut {
    let batch = x.shape()[0] as f64;
    let ((loss, logits), grads) = value_and_grad_with_aux(|p: &Mlp| {
        let logits = p.apply_with_keys(x, Some(keys), rate, true);
        (mean_cross_entropy(&logits, y), logits)
    })(&s.params);
    let (updates, opt) = tx.update(&grads, s.opt.clone(), &s.params);
    let params = apply_updates(&s.params, &updates);
    (TrainState { params, opt }, loss, accuracy(&logits, y) * batch)
}

/// The training step, jitted.
pub fn train_step(tx: &GradientTransformation, rate: f64) -> Jit<StepIn, StepOut> {
    let tx = tx.clone();
    jit(move |input: &StepIn| step_body(&tx, rate, input))
}

/// Summed loss and number of correct predictions on a batch, without dropout.
pub fn eval_step() -> Jit<(Mlp, Array, Array), (Array, Array)> {
    jit(|(p, x, y): &(Mlp, Array, Array)| {
        let logits = p.apply(x, None, 0.0, false);
        let n = x.shape()[0] as f64;
        (mean_cross_entropy(&logits, y) * n, accuracy(&logits, y) * n)
    })
}

pub fn progress(epoch: usize, n: usize) -> ProgressBar {
    let bar = ProgressBar::new(n as u64);
    let style = ProgressStyle::with_template("epoch {prefix} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(epoch.to_string());
    bar
}
