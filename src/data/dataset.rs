//! [`Dataset`]: images and integer labels held on the host.

use super::{Batches, DataError};
use crate::{Array, DType, Element};

/// A labelled data set held on the host: `images` (u8 or f32, shape `[N, ...]`,
/// one example per row), `labels` (i32 `[N]`) and the number of classes, every
/// label being a class index in `0..num_classes`.
///
/// CIFAR-10 sets are u8 `[N, 3072]`: per image 1024 red, 1024 green, then 1024
/// blue bytes, each plane 32x32 row-major, so `images().reshape(&[-1, 3, 32, 32])`
/// gives NCHW images.
///
/// ```
/// use rjax::{data::Dataset, Array};
/// let ds = Dataset::new(Array::from_vec(vec![0u8, 255, 51, 102], &[2, 2]), Array::from_vec(vec![1, 0], &[2]), 2)?;
/// assert_eq!(ds.len(), 2);
/// assert_eq!(ds.images_f32().to_vec::<f32>(), vec![0.0, 1.0, 0.2, 0.4]);
/// # Ok::<(), rjax::data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Dataset {
    images: Array,
    labels: Array,
    num_classes: usize,
}

/// The elements of a concrete array of type `T`, if it is one (row-major).
pub(crate) fn slice_of<T: Element>(a: &Array) -> Option<&[T]> {
    a.host_data().and_then(T::view).and_then(|v| v.as_slice())
}

/// `v / 255` for every byte value, rounded as the division at run time is.
const UNIT: [f32; 256] = {
    let mut t = [0.0f32; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i as f32 / 255.0;
        i += 1;
    }
    t
};

/// `x / 255` for u8 pixels (the usual map to floats in [0, 1]) into `out`, of the same length.
pub(crate) fn unit_f32(bytes: &[u8], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(bytes) {
        *o = UNIT[v as usize];
    }
}

/// The array itself when it is concrete and row-major, else a row-major copy.
fn contiguous<T: Element>(a: &Array, what: &str) -> Result<Array, DataError> {
    if !a.is_concrete() {
        return Err(DataError::Invalid(format!(
            "Dataset: the {what} array is abstract (being traced by a transformation); build data sets from \
             concrete arrays outside grad/vmap/jit"
        )));
    }
    if slice_of::<T>(a).is_some() {
        return Ok(a.clone());
    }
    Ok(Array::from_vec(a.to_vec::<T>(), a.shape()))
}

impl Dataset {
    /// A data set from images (u8 or f32, `[N, ...]`) and labels (i32 `[N]`),
    /// each label a class index in `0..num_classes` (CIFAR-10 has 10 classes).
    ///
    /// An error says which array does not fit: a scalar image array, another
    /// dtype, a label count that differs from the image count, an abstract
    /// (traced) array, no classes, or a label outside `0..num_classes`
    /// ([`DataError::LabelOutOfRange`], naming the first such label).
    ///
    /// ```
    /// use rjax::{data::{Dataset, DataError}, Array};
    /// let images = Array::from_vec(vec![0.5f32; 6], &[3, 2]);
    /// assert!(Dataset::new(images.clone(), Array::from_vec(vec![0, 1, 2], &[3]), 3).is_ok());
    /// assert!(Dataset::new(images.clone(), Array::from_vec(vec![0, 1], &[2]), 3).is_err());
    /// let err = Dataset::new(images, Array::from_vec(vec![0, 3, 2], &[3]), 3).unwrap_err();
    /// assert!(matches!(err, DataError::LabelOutOfRange { index: 1, label: 3, num_classes: 3 }));
    /// ```
    pub fn new(images: Array, labels: Array, num_classes: usize) -> Result<Dataset, DataError> {
        let images = match images.dtype() {
            DType::U8 => contiguous::<u8>(&images, "images")?,
            DType::F32 => contiguous::<f32>(&images, "images")?,
            other => {
                return Err(DataError::Invalid(format!(
                    "Dataset: images must be u8 (raw pixels) or f32, not {other}; convert them with astype"
                )));
            }
        };
        if images.ndim() == 0 {
            return Err(DataError::Invalid(
                "Dataset: images must have shape [N, ...] (one example per row), not a scalar".into(),
            ));
        }
        if labels.dtype() != DType::I32 || labels.ndim() != 1 {
            return Err(DataError::Invalid(format!(
                "Dataset: labels must be i32 [N], not {}{:?}; convert them with astype(DType::I32)",
                labels.dtype(),
                labels.shape()
            )));
        }
        let labels = contiguous::<i32>(&labels, "labels")?;
        let n = images.shape()[0];
        if labels.shape()[0] != n {
            return Err(DataError::Invalid(format!(
                "Dataset: {} labels for {n} images (images {:?}); give one label per image",
                labels.shape()[0],
                images.shape()
            )));
        }
        if num_classes == 0 {
            return Err(DataError::Invalid(
                "Dataset: the number of classes is 0; pass how many classes the labels index (10 for CIFAR-10)".into(),
            ));
        }
        let ys = slice_of::<i32>(&labels).unwrap_or(&[]);
        let in_range = |y: i32| usize::try_from(y).is_ok_and(|y| y < num_classes);
        if let Some(index) = ys.iter().position(|&y| !in_range(y)) {
            return Err(DataError::LabelOutOfRange { index, label: ys[index], num_classes });
        }
        Ok(Dataset { images, labels, num_classes })
    }

    /// The number of examples.
    ///
    /// ```
    /// use rjax::{data::Dataset, Array};
    /// let ds = Dataset::new(Array::zeros(&[5, 3], rjax::DType::U8), Array::zeros(&[5], rjax::DType::I32), 10)?;
    /// assert_eq!(ds.len(), 5);
    /// # Ok::<(), rjax::data::DataError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.images.shape()[0]
    }

    /// The number of classes: every label is in `0..num_classes()`.
    ///
    /// ```
    /// use rjax::{data::Dataset, Array};
    /// let ds = Dataset::new(Array::zeros(&[2, 3], rjax::DType::U8), Array::from_vec(vec![0, 1], &[2]), 10)?;
    /// assert_eq!(ds.num_classes(), 10);
    /// # Ok::<(), rjax::data::DataError>(())
    /// ```
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// True when the data set holds no examples.
    ///
    /// ```
    /// use rjax::{data::Dataset, Array};
    /// let ds = Dataset::new(Array::zeros(&[0, 3], rjax::DType::U8), Array::zeros(&[0], rjax::DType::I32), 10)?;
    /// assert!(ds.is_empty());
    /// # Ok::<(), rjax::data::DataError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The images as stored (u8 or f32, `[N, ...]`).
    ///
    /// ```
    /// use rjax::{data::Dataset, Array};
    /// let ds = Dataset::new(Array::zeros(&[2, 3], rjax::DType::U8), Array::zeros(&[2], rjax::DType::I32), 10)?;
    /// assert_eq!(ds.images().shape(), &[2, 3]);
    /// # Ok::<(), rjax::data::DataError>(())
    /// ```
    pub fn images(&self) -> &Array {
        &self.images
    }

    /// The labels, i32 `[N]`.
    ///
    /// ```
    /// use rjax::{data::Dataset, Array};
    /// let ds = Dataset::new(Array::zeros(&[2, 3], rjax::DType::U8), Array::from_vec(vec![4, 2], &[2]), 5)?;
    /// assert_eq!(ds.labels().to_vec::<i32>(), vec![4, 2]);
    /// # Ok::<(), rjax::data::DataError>(())
    /// ```
    pub fn labels(&self) -> &Array {
        &self.labels
    }

    /// The images as f32 of the same shape: u8 pixels divided by 255 (so in
    /// [0, 1]); f32 images unchanged.
    ///
    /// ```
    /// use rjax::{data::Dataset, Array};
    /// let ds = Dataset::new(Array::from_vec(vec![0u8, 255], &[1, 2]), Array::zeros(&[1], rjax::DType::I32), 10)?;
    /// assert_eq!(ds.images_f32().to_vec::<f32>(), vec![0.0, 1.0]);
    /// # Ok::<(), rjax::data::DataError>(())
    /// ```
    pub fn images_f32(&self) -> Array {
        match slice_of::<u8>(&self.images) {
            Some(bytes) => {
                let mut out = vec![0.0; bytes.len()];
                unit_f32(bytes, &mut out);
                Array::from_vec(out, self.images.shape())
            }
            None => self.images.clone(),
        }
    }

    /// How many examples each class has: entry `c` counts label `c`, for every
    /// class `c` in `0..num_classes()`.
    ///
    /// ```
    /// use rjax::{data::Dataset, Array};
    /// let ds = Dataset::new(Array::zeros(&[4, 1], rjax::DType::U8), Array::from_vec(vec![2, 0, 2, 2], &[4]), 4)?;
    /// assert_eq!(ds.label_counts(), vec![1, 0, 3, 0]);
    /// # Ok::<(), rjax::data::DataError>(())
    /// ```
    pub fn label_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes];
        // every label is in 0..num_classes by construction
        for &y in self.label_slice() {
            if let Some(c) = usize::try_from(y).ok().and_then(|y| counts.get_mut(y)) {
                *c += 1;
            }
        }
        counts
    }

    /// The first `n` examples and the rest, as two data sets (copies).
    ///
    /// ```
    /// use rjax::{data::Dataset, Array};
    /// let ds = Dataset::new(Array::zeros(&[5, 2], rjax::DType::U8), Array::from_vec(vec![0, 1, 2, 3, 4], &[5]), 5)?;
    /// let (head, tail) = ds.split_at(3)?;
    /// assert_eq!(tail.labels().to_vec::<i32>(), vec![3, 4]);
    /// assert_eq!(head.len(), 3);
    /// # Ok::<(), rjax::data::DataError>(())
    /// ```
    pub fn split_at(&self, n: usize) -> Result<(Dataset, Dataset), DataError> {
        if n > self.len() {
            return Err(DataError::Invalid(format!(
                "split_at({n}): the data set has only {} examples; split at most at {}",
                self.len(),
                self.len()
            )));
        }
        Ok((self.rows(0, n), self.rows(n, self.len())))
    }

    /// Mini-batches of `batch_size` examples in order, keeping a last partial
    /// batch; chain [`Batches::shuffle`] and [`Batches::drop_last`] to change that.
    /// An error when `batch_size` is 0.
    ///
    /// ```
    /// use rjax::{data::Dataset, Array};
    /// let ds = Dataset::new(Array::zeros(&[5, 2], rjax::DType::U8), Array::zeros(&[5], rjax::DType::I32), 10)?;
    /// let sizes: Vec<usize> = ds.batches(2)?.map(|(x, _)| x.shape()[0]).collect();
    /// assert_eq!(sizes, vec![2, 2, 1]);
    /// # Ok::<(), rjax::data::DataError>(())
    /// ```
    pub fn batches(&self, batch_size: usize) -> Result<Batches, DataError> {
        Batches::from_dataset(self.clone(), batch_size)
    }

    /// Labels as a slice (always concrete and row-major by construction).
    pub(crate) fn label_slice(&self) -> &[i32] {
        slice_of::<i32>(&self.labels).unwrap_or(&[])
    }

    /// Elements per example.
    pub(crate) fn row_len(&self) -> usize {
        self.images.shape()[1..].iter().product()
    }

    /// Examples `start..end` (copied).
    fn rows(&self, start: usize, end: usize) -> Dataset {
        let d = self.row_len();
        let mut shape = self.images.shape().to_vec();
        shape[0] = end - start;
        let images = match slice_of::<u8>(&self.images) {
            Some(px) => Array::from_slice(&px[start * d..end * d], &shape),
            None => Array::from_slice(&slice_of::<f32>(&self.images).unwrap_or(&[])[start * d..end * d], &shape),
        };
        let labels = Array::from_slice(&self.label_slice()[start..end], &[end - start]);
        Dataset { images, labels, num_classes: self.num_classes }
    }
}
