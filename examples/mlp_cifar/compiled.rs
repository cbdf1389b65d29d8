//! Whole-epoch compiled training: the data set lives on the device as bytes,
//! and an epoch is one jitted `scan` over its batches (the order a
//! `random::permutation` drawn in the program, each batch gathered and scaled
//! there), with the training state donated: one dispatch and one small read
//! (the steps' losses and correct counts) per epoch. Validation is one
//! program per data set likewise.
//!
//! The permutation and the dropout keys are those of the per-batch path
//! (`Batches::shuffle` with the same key, `fold_in(epoch key, step)` split
//! into one key per hidden layer), so both paths train on the same batches
//! with the same masks. The steps' keys are derived on the host and passed
//! in ([`step_keys`]): deriving them in the program added two keystream loops
//! to compile (41 of its 152 kernels, about 0.2 s of the first epoch) and
//! saved no time once compiled.

use super::{TrainState, step_with_keys};
use rjax::data::Dataset;
use rjax::lax;
use rjax::nn::{Mlp, accuracy, mean_cross_entropy};
use rjax::numpy::{self as jnp, GatherMode};
use rjax::optim::GradientTransformation;
use rjax::random::{self, Key};
use rjax::{Array, DType, Device, Jit, device_put, jit, vmap};

/// One split on the device: `u8[n, 3072]` images, `i32[n]` labels.
pub struct OnDevice {
    pub images: Array,
    pub labels: Array,
}

impl OnDevice {
    /// The split's bytes and labels copied to `device`.
    pub fn put(set: &Dataset, device: &Device) -> Result<OnDevice, rjax::Error> {
        Ok(OnDevice { images: device_put(set.images(), device)?, labels: device_put(set.labels(), device)? })
    }
}

/// The input of an epoch: the state, the training images and labels, the
/// epoch's shuffle key, and every step's dropout keys ([`step_keys`]).
pub type EpochIn = (TrainState, Array, Array, Key, Key);
/// The state after the epoch, and every step's loss and correct count.
pub type EpochOut = (TrainState, Array, Array);

/// Every step's dropout keys for an epoch of `steps` steps whose dropout key
/// is `dropout`: step `i`'s are `params.dropout_keys(fold_in(dropout, i))`,
/// those the per-batch step splits off its key, as a stack
/// `u32[steps, hidden, 8]`, computed where `dropout` is (the host).
pub fn step_keys(params: &Mlp, dropout: &Key, steps: usize) -> Key {
    let ids = Array::arange(0.0, steps as f64, 1.0, DType::U32);
    Key(vmap(|i: &Array| params.dropout_keys(&random::fold_in_array(dropout, i)).0)(&ids))
}

/// Gathers the rows `idx` of the bytes `images` as floats in [0, 1] (`x / 255`,
/// as `Dataset`'s batches) and their labels.
fn batch(images: &Array, labels: &Array, idx: &Array) -> (Array, Array) {
    let x = jnp::take_with(images, idx, 0, GatherMode::ClampRaw).astype(DType::F32) / 255.0;
    (x, jnp::take_with(labels, idx, 0, GatherMode::ClampRaw))
}

/// One epoch of `batch_size` batches (the last partial one dropped) as one
/// program.
pub fn train_epoch(tx: &GradientTransformation, rate: f64, batch_size: usize) -> Jit<EpochIn, EpochOut> {
    let tx = tx.clone();
    jit(move |(s, images, labels, shuffle, keys): &EpochIn| {
        let n = images.shape()[0];
        let steps = n / batch_size;
        let order = random::permutation(shuffle, n);
        let order = lax::slice(&order, &[0], &[steps * batch_size], &[1]);
        let order = jnp::reshape(&order, &[steps as isize, batch_size as isize]);
        let (state, (losses, right)) = lax::scan(
            |s: &TrainState, (idx, keys): &(Array, Array)| {
                let (x, y) = batch(images, labels, idx);
                let (s, loss, right) = step_with_keys(&tx, rate, s, &x, &y, &Key(keys.clone()));
                (s, (loss, right))
            },
            s,
            &(order, keys.0.clone()),
        );
        (state, losses, right)
    })
}

/// The summed loss and number of correct predictions of `params` on a whole
/// split, in batches of up to 1000, as one program.
pub fn eval_set() -> Jit<(Mlp, Array, Array), (Array, Array)> {
    jit(|(p, images, labels): &(Mlp, Array, Array)| {
        let n = images.shape()[0];
        let b = n.clamp(1, 1000);
        let steps = n / b;
        let eval = |x: &Array, y: &Array| {
            let logits = p.apply(&(x.astype(DType::F32) / 255.0), None, 0.0, false);
            let m = x.shape()[0] as f64;
            (mean_cross_entropy(&logits, y) * m, accuracy(&logits, y) * m)
        };
        let rows = |a: &Array, lo: usize, hi: usize| {
            let mut start = vec![0; a.ndim()];
            let mut limit = a.shape().to_vec();
            (start[0], limit[0]) = (lo, hi);
            lax::slice(a, &start, &limit, &vec![1; a.ndim()])
        };
        let head_x = jnp::reshape(&rows(images, 0, steps * b), &[steps as isize, b as isize, -1]);
        let head_y = jnp::reshape(&rows(labels, 0, steps * b), &[steps as isize, b as isize]);
        let zero = Array::scalar(0.0f32);
        let ((mut loss, mut right), _) = lax::scan(
            |(l, c): &(Array, Array), (x, y): &(Array, Array)| {
                let (bl, bc) = eval(x, y);
                ((l + &bl, c + &bc), ())
            },
            &(zero.clone(), zero),
            &(head_x, head_y),
        );
        if steps * b < n {
            let (tl, tc) = eval(&rows(images, steps * b, n), &rows(labels, steps * b, n));
            (loss, right) = (&loss + &tl, &right + &tc);
        }
        (loss, right)
    })
}

/// Mean loss and accuracy of `params` on `set`.
pub fn evaluate(
    eval: &Jit<(Mlp, Array, Array), (Array, Array)>,
    p: &Mlp,
    set: &OnDevice,
) -> Result<(f64, f64), rjax::Error> {
    let (loss, right) = eval.try_call(&(p.clone(), set.images.clone(), set.labels.clone()))?;
    let n = set.labels.shape()[0] as f64;
    Ok((host_f64(&loss)?[0] / n, host_f64(&right)?[0] / n))
}

/// The values of `a` (waiting for them) as f64.
pub fn host_f64(a: &Array) -> Result<Vec<f64>, rjax::Error> {
    Ok(device_put(a, &Device::Cpu)?.astype(DType::F64).to_vec::<f64>())
}
