//! What examples/mlp_cifar and examples/mlp_cifar_dfdx share, so that two
//! runs with the same flags see the same experiment: the report's protocol as
//! command-line flags, the model's widths, the data (with its validation
//! split) and the keys for the initial parameters, dropout and batch order.

use rjax::data::cifar10::{Cifar10, Source, default_dir};
use rjax::data::{Batches, DataError, Dataset};
use rjax::random::{self, Key};
use std::path::PathBuf;
use std::time::Instant;

/// The report's MLP: 3072 → 1024 → 512 → 256 → 10.
pub const WIDTHS: [usize; 5] = [3072, 1024, 512, 256, 10];

/// The report's protocol; every value a flag.
#[derive(clap::Args, Debug, Clone)]
pub struct Protocol {
    /// The CIFAR-10 binary data set (the folder holding cifar-10-batches-bin, or
    /// that folder itself); default $CIFAR10_DIR or ~/.cache/rjax/cifar10.
    /// Downloaded there when absent.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Maximum number of epochs.
    #[arg(long, default_value_t = 100)]
    pub epochs: usize,
    /// Stop after this many epochs without a better validation accuracy.
    #[arg(long, default_value_t = 5)]
    pub patience: usize,
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Adam's learning rate, a finite number >= 0.
    #[arg(long, default_value_t = 1e-4, allow_negative_numbers = true)]
    pub lr: f64,
    /// Dropout rate after each hidden layer, in [0, 1).
    #[arg(long, default_value_t = 0.3)]
    pub dropout: f64,
    /// Seeds the keys of the initial parameters, dropout and batch order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Number of training images held out (the last ones) for validation.
    #[arg(long, default_value_t = 5000)]
    pub val_size: usize,
}

/// The data of one run: training, validation and test sets.
pub struct Data {
    pub dir: PathBuf,
    pub train: Dataset,
    pub val: Dataset,
    pub test: Dataset,
    pub load_seconds: f64,
}

/// The keys derived from `--seed`.
pub struct Keys {
    pub init: Key,
    /// Unused by examples/mlp_cifar_dfdx, whose dfdx model draws its own masks.
    #[allow(dead_code)]
    pub dropout: Key,
    pub shuffle: Key,
}

impl Protocol {
    /// Rejects flag values that make no experiment.
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("--dropout must be in [0, 1), got {}", self.dropout));
        }
        if !(self.lr.is_finite() && self.lr >= 0.0) {
            return Err(format!("--lr must be a finite number >= 0, got {}", self.lr));
        }
        for (flag, v) in [("--epochs", self.epochs), ("--patience", self.patience), ("--batch-size", self.batch_size)] {
            if v == 0 {
                return Err(format!("{flag} must be at least 1, got 0"));
            }
        }
        if self.val_size == 0 {
            return Err("--val-size must be at least 1: early stopping needs validation images".into());
        }
        Ok(())
    }

    /// Rejects, before any training, a `--batch-size` that leaves no full
    /// batch of the `train` images.
    pub fn check_sizes(&self, train: usize) -> Result<(), String> {
        if self.batch_size > train {
            return Err(format!(
                "--batch-size {} is larger than the {train} training images (after holding out --val-size {}): \
                 no step would run; use a smaller --batch-size or --val-size",
                self.batch_size, self.val_size
            ));
        }
        Ok(())
    }

    /// Loads CIFAR-10 (downloading it from `source` when absent; the examples
    /// pass `Source::official()`) and holds out the last `--val-size` training images.
    pub fn load(&self, source: &Source) -> Result<Data, DataError> {
        let dir = self.data_dir.clone().unwrap_or_else(default_dir);
        let t = Instant::now();
        let data = Cifar10::load_or_download(&dir, source)?;
        let (train, val) = data.split_validation(self.val_size)?;
        Ok(Data { dir, train, val, test: data.test, load_seconds: t.elapsed().as_secs_f64() })
    }

    /// The keys of the initial parameters, the dropout masks and the batch order.
    pub fn keys(&self) -> Keys {
        let ks = random::split(&random::key(self.seed), 3);
        Keys { init: ks[0].clone(), dropout: ks[1].clone(), shuffle: ks[2].clone() }
    }

    /// Epoch `epoch`'s shuffled training batches (the last partial one dropped).
    pub fn epoch_batches(&self, train: &Dataset, keys: &Keys, epoch: usize) -> Result<Batches, DataError> {
        Ok(train.batches(self.batch_size)?.shuffle(&keys.shuffle_key(epoch)).drop_last(true))
    }
}

impl Data {
    /// One line saying what was loaded.
    pub fn describe(&self, on: &str) -> String {
        format!(
            "CIFAR-10 from {}: {} train, {} validation, {} test images (loaded in {:.1} s); {on}",
            self.dir.display(),
            self.train.len(),
            self.val.len(),
            self.test.len(),
            self.load_seconds
        )
    }
}

impl Keys {
    /// The key of epoch `epoch`'s batch order.
    pub fn shuffle_key(&self, epoch: usize) -> Key {
        random::fold_in(&self.shuffle, epoch as u32)
    }
}

/// What one epoch's validation accuracy means for early stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Better than every earlier epoch: keep this epoch's model.
    Better,
    /// Not better, and fewer than `--patience` epochs since the best.
    Wait,
    /// `--patience` epochs without a better accuracy: stop (restore the best).
    Stop,
}

/// The report's early stopping on validation accuracy: the best accuracy so
/// far, its epoch, and when to stop.
pub struct EarlyStopping {
    patience: usize,
    pub best_acc: f64,
    pub best_epoch: usize,
}

impl EarlyStopping {
    pub fn new(patience: usize) -> EarlyStopping {
        EarlyStopping { patience, best_acc: f64::NEG_INFINITY, best_epoch: 0 }
    }

    /// Records `epoch`'s validation accuracy; prints why when it is time to stop.
    pub fn observe(&mut self, epoch: usize, val_acc: f64) -> Verdict {
        let verdict = self.replay(epoch, val_acc);
        if verdict == Verdict::Stop {
            println!(
                "early stop: no better validation accuracy for {} epochs (best at epoch {})",
                self.patience, self.best_epoch
            );
        }
        verdict
    }

    /// [`EarlyStopping::observe`] without printing (rebuilding the state of a
    /// resumed run from its saved epochs).
    pub fn replay(&mut self, epoch: usize, val_acc: f64) -> Verdict {
        if val_acc > self.best_acc {
            (self.best_acc, self.best_epoch) = (val_acc, epoch);
            Verdict::Better
        } else if epoch - self.best_epoch >= self.patience {
            Verdict::Stop
        } else {
            Verdict::Wait
        }
    }
}
