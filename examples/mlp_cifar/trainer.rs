//! The two ways the example trains and evaluates: a compiled program per
//! epoch over the data set on the device (the default), or a jitted call per
//! batch with batches sent from the host (`--per-batch`).

use super::compiled::{self, OnDevice, host_f64};
use super::protocol::{Data, Keys, Protocol};
use super::{StepIn, StepOut, TrainState, eval_step, progress, train_step};
use rjax::data::{Batches, Dataset};
use rjax::nn::Mlp;
use rjax::optim::GradientTransformation;
use rjax::random::{self, Key};
use rjax::sharding::{Mesh, NamedSharding, Sharding};
use rjax::{Array, Device, Jit, P};

/// The jitted evaluation of a batch: summed loss and correct predictions.
pub type EvalStep = Jit<(Mlp, Array, Array), (Array, Array)>;

/// Which data set to evaluate on.
#[derive(Clone, Copy)]
pub enum Split {
    Val,
    Test,
}

/// What an epoch's training gives: every step's loss (up to the first that
/// is not finite, where the per-batch path stops) and the correct predictions.
pub struct Trained {
    pub losses: Vec<f64>,
    pub correct: f64,
}

pub enum Trainer {
    PerBatch {
        data: Data,
        step: Jit<StepIn, StepOut>,
        eval: Jit<(Mlp, Array, Array), (Array, Array)>,
        /// Data parallel: the number of devices, and the evaluation on one
        /// device for the batches they do not divide.
        split: Option<(usize, EvalStep)>,
    },
    Compiled {
        train: OnDevice,
        val: OnDevice,
        /// Copied to the device for the one evaluation on it, at the end: not
        /// held there while training.
        test: Dataset,
        device: Device,
        epoch: Jit<compiled::EpochIn, compiled::EpochOut>,
        eval: Jit<(Mlp, Array, Array), (Array, Array)>,
    },
}

impl Trainer {
    /// The per-batch trainer when `per_batch`, else the compiled one, whose
    /// training and validation data are copied to `device` (and the host
    /// copies dropped). With a `mesh`
    /// (data parallel), per-batch steps whose batches are split over its
    /// "data" axis, the state replicated.
    pub fn new(
        per_batch: bool,
        data: Data,
        tx: &GradientTransformation,
        p: &Protocol,
        device: &Device,
        mesh: Option<&Mesh>,
    ) -> Result<Trainer, rjax::Error> {
        let (rate, batch_size) = (p.dropout, p.batch_size);
        if let Some(mesh) = mesh {
            let rows: Sharding = NamedSharding::new(mesh, P!["data"]).into();
            let copy = Sharding::Replicated;
            let step = train_step(tx, rate)
                .in_shardings(vec![copy.clone(), rows.clone(), rows.clone(), copy.clone()])
                .out_shardings(vec![copy.clone(), copy.clone(), copy.clone()])
                .donate_argnums(&[0]);
            let eval = eval_step()
                .in_shardings(vec![copy.clone(), rows.clone(), rows])
                .out_shardings(vec![copy.clone(), copy]);
            let split = Some((mesh.size(), eval_step().on(mesh.devices()[0].clone())));
            return Ok(Trainer::PerBatch { data, step, eval, split });
        }
        if per_batch {
            let step = train_step(tx, rate).on(device.clone()).donate_argnums(&[0]);
            return Ok(Trainer::PerBatch { data, step, eval: eval_step().on(device.clone()), split: None });
        }
        Ok(Trainer::Compiled {
            train: OnDevice::put(&data.train, device)?,
            val: OnDevice::put(&data.val, device)?,
            test: data.test,
            device: device.clone(),
            epoch: compiled::train_epoch(tx, rate, batch_size).on(device.clone()).donate_argnums(&[0]),
            eval: compiled::eval_set().on(device.clone()),
        })
    }

    /// Trains epoch `epoch` from `state`.
    pub fn train_epoch(
        &self,
        state: TrainState,
        p: &Protocol,
        keys: &Keys,
        epoch: usize,
    ) -> Result<(TrainState, Trained), Box<dyn std::error::Error>> {
        // every step's dropout key is folded from the epoch's
        let dropout = random::fold_in(&keys.dropout, epoch as u32);
        match self {
            Trainer::PerBatch { data, step, .. } => {
                per_batch_epoch(step, state, p.epoch_batches(&data.train, keys, epoch)?, epoch, &dropout)
            }
            Trainer::Compiled { train, epoch: program, .. } => {
                let steps = train.labels.shape()[0] / p.batch_size;
                let step_keys = compiled::step_keys(&state.params, &dropout, steps);
                let input = (state, train.images.clone(), train.labels.clone(), keys.shuffle_key(epoch), step_keys);
                let (state, losses, right) = program.try_call(&input)?;
                let correct = host_f64(&right)?.iter().sum();
                Ok((state, Trained { losses: host_f64(&losses)?, correct }))
            }
        }
    }

    /// Mean loss and accuracy of `params` on `split`.
    pub fn evaluate(&self, params: &Mlp, split: Split) -> Result<(f64, f64), rjax::Error> {
        match self {
            Trainer::PerBatch { data, eval, split: devices, .. } => {
                let set = match split {
                    Split::Val => &data.val,
                    Split::Test => &data.test,
                };
                evaluate_batches(eval, devices.as_ref(), params, set)
            }
            Trainer::Compiled { val, test, device, eval, .. } => match split {
                Split::Val => compiled::evaluate(eval, params, val),
                Split::Test => compiled::evaluate(eval, params, &OnDevice::put(test, device)?),
            },
        }
    }
}

/// An epoch of jitted steps on host batches. Every 32 steps the losses so
/// far are read (bounding the work queued ahead of the device, whose dispatch
/// is asynchronous), and a loss that is not finite ends the epoch there.
fn per_batch_epoch(
    step: &Jit<StepIn, StepOut>,
    mut state: TrainState,
    batches: Batches,
    epoch: usize,
    epoch_key: &Key,
) -> Result<(TrainState, Trained), Box<dyn std::error::Error>> {
    let n_batches = batches.len();
    let bar = progress(epoch, n_batches);
    let (mut pending, mut correct) = (Vec::new(), Vec::with_capacity(n_batches));
    let mut losses = Vec::with_capacity(n_batches);
    for (i, (x, y)) in batches.enumerate() {
        let (s, loss, right) = step.try_call(&(state, x, y, random::fold_in(epoch_key, i as u32)))?;
        state = s;
        pending.push(loss);
        correct.push(right);
        bar.inc(1);
        if i % 32 == 31 || i + 1 == n_batches {
            for l in pending.drain(..) {
                losses.push(host_f64(&l)?[0]);
            }
            if losses.iter().any(|l| !l.is_finite()) {
                break;
            }
        }
    }
    bar.finish_and_clear();
    let mut total = 0.0;
    for c in &correct {
        total += host_f64(c)?[0];
    }
    Ok((state, Trained { losses, correct: total }))
}

/// Mean loss and accuracy on a host data set, a jitted call per 1000 images
/// (data parallel: batches the devices do not divide go to `split`'s one device).
fn evaluate_batches(
    eval: &Jit<(Mlp, Array, Array), (Array, Array)>,
    split: Option<&(usize, EvalStep)>,
    p: &Mlp,
    set: &Dataset,
) -> Result<(f64, f64), rjax::Error> {
    let (mut loss, mut correct) = (Vec::new(), Vec::new());
    for (x, y) in set.batches(1000)? {
        let program = match split {
            Some((n, one)) if x.shape()[0] % n != 0 => one,
            _ => eval,
        };
        let (l, c) = program.try_call(&(p.clone(), x, y))?;
        loss.push(l);
        correct.push(c);
    }
    let (mut l, mut c) = (0.0, 0.0);
    for (a, b) in loss.iter().zip(&correct) {
        l += host_f64(a)?[0];
        c += host_f64(b)?[0];
    }
    let n = set.len() as f64;
    Ok((l / n, c / n))
}
