//! What a run saves at the end of every epoch, and `--resume` from it.
//!
//! One file, `latest.safetensors` in `--out`, written atomically after each
//! epoch, holds everything the run needs to go on as if it had never stopped:
//! the latest parameters and Adam's state, the best parameters so far, every
//! finished epoch's figures (from which early stopping's state is rebuilt)
//! and the flags that shape the results (checked on resume). The batch order
//! and the dropout masks of an epoch come from keys derived from `--seed` and
//! the epoch's number alone, so a resumed run draws the same ones.

use super::protocol::{EarlyStopping, Protocol, Verdict};
use super::{Epoch, TrainState};
use rjax::nn::Mlp;
use rjax::{Array, Device, Tree, device_put};
use std::path::Path;

/// The file in `--out` holding the run's progress.
pub const LATEST: &str = "latest.safetensors";

/// Everything saved after an epoch.
#[derive(Tree, Clone)]
pub struct Progress {
    /// The parameters and optimizer state after the epoch.
    pub state: TrainState,
    /// The parameters of the epoch with the best validation accuracy so far.
    pub best: Mlp,
    /// One row per finished epoch: `Epoch`'s fields (f64 `[epochs, 9]`).
    pub history: Array,
    /// The flags that shape the results ([`config`]).
    pub config: Array,
}

/// The flags a resumed run must share with the run it continues, by name
/// (`--epochs` may change: a finished run can be continued for more epochs).
fn config_fields(p: &Protocol) -> [(&'static str, f64); 7] {
    [
        ("--lr", p.lr),
        ("--dropout", p.dropout),
        ("--batch-size", p.batch_size as f64),
        ("--val-size", p.val_size as f64),
        ("--patience", p.patience as f64),
        // the seed in two exact halves
        ("--seed", (p.seed & 0xffff_ffff) as f64),
        ("--seed", (p.seed >> 32) as f64),
    ]
}

/// The flags of `p` as saved.
fn config(p: &Protocol) -> Array {
    let values: Vec<f64> = config_fields(p).iter().map(|(_, v)| *v).collect();
    Array::from_vec(values, &[7])
}

/// Columns of a saved epoch.
const EPOCH_COLUMNS: usize = 9;

fn epoch_row(e: &Epoch) -> [f64; EPOCH_COLUMNS] {
    let Epoch { epoch, train_loss, train_acc, val_loss, val_acc, seconds, train_seconds, val_seconds, samples_per_s } =
        *e;
    [epoch as f64, train_loss, train_acc, val_loss, val_acc, seconds, train_seconds, val_seconds, samples_per_s]
}

fn epoch_of(r: &[f64]) -> Epoch {
    Epoch {
        epoch: r[0] as usize,
        train_loss: r[1],
        train_acc: r[2],
        val_loss: r[3],
        val_acc: r[4],
        seconds: r[5],
        train_seconds: r[6],
        val_seconds: r[7],
        samples_per_s: r[8],
    }
}

/// A copy of `t` in host memory (device buffers of the state are donated to
/// the next step, so what is saved is copied first).
pub fn to_host<T: Tree>(t: &T) -> Result<T, Box<dyn std::error::Error>> {
    let host = rjax::tree::leaves(t).iter().map(|w| device_put(w, &Device::Cpu)).collect::<Result<Vec<_>, _>>()?;
    Ok(rjax::tree::unflatten(t, host)?)
}

/// Writes the progress after the last epoch of `history` into `out`
/// atomically (a crash leaves the previous epoch's file). The state may be
/// on a device: the checkpoint reads it before returning, so it may be
/// donated to the next step afterwards.
pub fn save(
    out: &Path,
    p: &Protocol,
    state: &TrainState,
    best: &Mlp,
    history: &[Epoch],
) -> Result<(), Box<dyn std::error::Error>> {
    let rows: Vec<f64> = history.iter().flat_map(epoch_row).collect();
    let progress = Progress {
        state: state.clone(),
        best: best.clone(),
        history: Array::from_vec(rows, &[history.len(), EPOCH_COLUMNS]),
        config: config(p),
    };
    rjax::checkpoint::save(out.join(LATEST), &progress)?;
    Ok(())
}

/// Where a resumed run starts.
pub struct Resumed {
    pub state: TrainState,
    pub best: Mlp,
    pub history: Vec<Epoch>,
    pub stopping: EarlyStopping,
    /// Early stopping had already ended the run: only the final evaluation is left.
    pub stopped: bool,
}

/// Reads the progress saved in `out`, checks that it belongs to a run with
/// the same flags, and rebuilds early stopping's state from its epochs.
/// `template` gives the tree's structure (its values are not used).
pub fn load(out: &Path, p: &Protocol, template: &TrainState) -> Result<Resumed, Box<dyn std::error::Error>> {
    let path = out.join(LATEST);
    if !path.exists() {
        return Err(format!(
            "--resume: {} holds no {LATEST} (no epoch of a run there finished); run without --resume",
            out.display()
        )
        .into());
    }
    // The history's length is read first: the template must have its shape.
    let arrays = rjax::checkpoint::load_arrays(&path)?;
    let rows = arrays.get("history").map(|h| h.shape().to_vec()).unwrap_or_default();
    let template = Progress {
        state: template.clone(),
        best: template.params.clone(),
        history: Array::zeros(&[rows.first().copied().unwrap_or(0), EPOCH_COLUMNS], rjax::DType::F64),
        config: config(p),
    };
    let saved = rjax::checkpoint::load(&path, &template)?;
    let was = saved.config.to_vec::<f64>();
    for ((flag, now), before) in config_fields(p).iter().zip(&was) {
        if now.to_bits() != before.to_bits() {
            return Err(format!(
                "--resume: {flag} differs from the run saved in {} (pass the flags that run used; \
                 only --epochs may change)",
                path.display()
            )
            .into());
        }
    }
    let values = saved.history.to_vec::<f64>();
    let history: Vec<Epoch> = values.chunks_exact(EPOCH_COLUMNS).map(epoch_of).collect();
    let mut stopping = EarlyStopping::new(p.patience);
    let mut stopped = false;
    for e in &history {
        stopped = stopping.replay(e.epoch, e.val_acc) == Verdict::Stop;
    }
    Ok(Resumed { state: saved.state, best: saved.best, history, stopping, stopped })
}
