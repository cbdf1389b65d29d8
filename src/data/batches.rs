//! [`Batches`]: fixed-size mini-batches over a [`Dataset`], shuffled per key.

use super::dataset::{slice_of, unit_f32};
use super::{DataError, Dataset};
use crate::Array;
use crate::random::{self, Key};

/// An iterator of mini-batches `(x, y)`: `x` f32 `[B, ...]` (u8 pixels divided
/// by 255, so in [0, 1]; f32 images as they are), `y` i32 `[B]`.
///
/// Batches are gathered directly from the host data (no rjax operations per
/// batch), so a batch of 128 CIFAR-10 images costs a copy of 1.5 MB. Order is
/// the data set's, or a permutation drawn from a key with [`Batches::shuffle`]
/// ([`random::permutation`], so the same key gives the same order). The last
/// partial batch is kept unless [`Batches::drop_last`] is set. One `Batches` is
/// one epoch; make a new one, with a new key, for the next.
///
/// ```
/// use rjax::{data::Batches, random, Array};
/// let images = Array::from_vec((0..30u8).collect(), &[10, 3]);
/// let labels = Array::from_vec((0..10).collect(), &[10]);
/// let key = random::key(0);
/// for epoch in 0..2 {
///     let batches = Batches::new(&images, &labels, 10, 4)?.shuffle(&random::fold_in(&key, epoch));
///     assert_eq!(batches.len(), 3);
///     for (x, y) in batches {
///         assert_eq!(x.shape()[1], 3);
///         assert_eq!(x.shape()[0], y.shape()[0]);
///     }
/// }
/// # Ok::<(), rjax::data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Batches {
    data: Dataset,
    batch_size: usize,
    order: Option<Vec<usize>>,
    drop_last: bool,
    next: usize,
}

impl Batches {
    /// Batches of `batch_size` over `images` (u8 or f32 `[N, ...]`) and `labels`
    /// (i32 `[N]`, each in `0..num_classes`), in order, keeping a last partial
    /// batch. Errors as [`Dataset::new`], and for a batch size of 0.
    ///
    /// ```
    /// use rjax::{data::Batches, Array, DType};
    /// let b = Batches::new(&Array::zeros(&[5, 2], DType::U8), &Array::zeros(&[5], DType::I32), 10, 2)?;
    /// assert_eq!(b.len(), 3);
    /// assert!(Batches::new(&Array::zeros(&[5, 2], DType::U8), &Array::zeros(&[5], DType::I32), 10, 0).is_err());
    /// # Ok::<(), rjax::data::DataError>(())
    /// ```
    pub fn new(images: &Array, labels: &Array, num_classes: usize, batch_size: usize) -> Result<Batches, DataError> {
        Batches::from_dataset(Dataset::new(images.clone(), labels.clone(), num_classes)?, batch_size)
    }

    pub(crate) fn from_dataset(data: Dataset, batch_size: usize) -> Result<Batches, DataError> {
        if batch_size == 0 {
            return Err(DataError::Invalid("Batches: the batch size must be at least 1".into()));
        }
        Ok(Batches { data, batch_size, order: None, drop_last: false, next: 0 })
    }

    /// Visits the examples in the order of `random::permutation(key, N)`: the
    /// same key gives the same order, different keys (e.g. `fold_in(key, epoch)`)
    /// different ones. The key must be one concrete key (not traced); a stack
    /// of keys panics.
    ///
    /// ```
    /// use rjax::{data::Batches, random, Array};
    /// let (xs, ys) = (Array::from_vec((0..8u8).collect(), &[8, 1]), Array::from_vec((0..8).collect(), &[8]));
    /// let order = |seed| -> Vec<i32> {
    ///     let b = Batches::new(&xs, &ys, 8, 8).unwrap().shuffle(&random::key(seed));
    ///     b.flat_map(|(_, y)| y.to_vec::<i32>()).collect()
    /// };
    /// assert_eq!(order(1), order(1));
    /// assert_ne!(order(1), order(2));
    /// ```
    #[track_caller]
    pub fn shuffle(mut self, key: &Key) -> Batches {
        random::expect_single("Batches::shuffle", key, random::ONE_KEY_HINT);
        let n = self.data.len();
        self.order = Some(random::permutation(key, n).to_vec::<i32>().into_iter().map(|i| i as usize).collect());
        self
    }

    /// With `true`, a last batch smaller than the batch size is left out, so every
    /// batch has the same shape.
    ///
    /// ```
    /// use rjax::{data::Batches, Array, DType};
    /// let b = Batches::new(&Array::zeros(&[5, 2], DType::U8), &Array::zeros(&[5], DType::I32), 10, 2)?;
    /// assert_eq!(b.drop_last(true).count(), 2);
    /// # Ok::<(), rjax::data::DataError>(())
    /// ```
    pub fn drop_last(mut self, drop: bool) -> Batches {
        self.drop_last = drop;
        self
    }

    /// The batch size.
    ///
    /// ```
    /// use rjax::{data::Batches, Array, DType};
    /// let b = Batches::new(&Array::zeros(&[5, 2], DType::U8), &Array::zeros(&[5], DType::I32), 10, 2)?;
    /// assert_eq!(b.batch_size(), 2);
    /// # Ok::<(), rjax::data::DataError>(())
    /// ```
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Number of batches in a whole epoch (whatever has been consumed).
    fn total(&self) -> usize {
        let n = self.data.len();
        if self.drop_last { n / self.batch_size } else { n.div_ceil(self.batch_size) }
    }

    /// Gathers examples `order[start..end]` into one batch.
    fn gather(&self, start: usize, end: usize) -> (Array, Array) {
        let d = self.data.row_len();
        let b = end - start;
        let index = |i: usize| self.order.as_ref().map_or(i, |o| o[i]);
        let ys_all = self.data.label_slice();
        let ys: Vec<i32> = (start..end).map(|i| ys_all[index(i)]).collect();
        let mut xs = vec![0.0f32; b * d];
        let images = self.data.images();
        let rows = xs.chunks_exact_mut(d.max(1)).zip(start..end);
        if let Some(px) = slice_of::<u8>(images) {
            for (out, i) in rows {
                let r = index(i);
                unit_f32(&px[r * d..(r + 1) * d], out);
            }
        } else if let Some(px) = slice_of::<f32>(images) {
            for (out, i) in rows {
                let r = index(i);
                out.copy_from_slice(&px[r * d..(r + 1) * d]);
            }
        }
        let mut shape = images.shape().to_vec();
        shape[0] = b;
        (Array::from_vec(xs, &shape), Array::from_vec(ys, &[b]))
    }
}

impl Iterator for Batches {
    type Item = (Array, Array);

    fn next(&mut self) -> Option<(Array, Array)> {
        if self.next >= self.total() {
            return None;
        }
        let start = self.next * self.batch_size;
        let end = (start + self.batch_size).min(self.data.len());
        self.next += 1;
        Some(self.gather(start, end))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.total().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Batches {}
