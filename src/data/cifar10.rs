//! CIFAR-10 in its official binary layout, with download.
//!
//! The layout (as in `cifar-10-binary.tar.gz`): a directory `cifar-10-batches-bin`
//! holding `data_batch_1.bin` … `data_batch_5.bin` (training, 10,000 records
//! each), `test_batch.bin` (10,000 records) and `batches.meta.txt` (the class
//! names, one a line). A record is 3,073 bytes: the label (0-9), then 1,024 red,
//! 1,024 green and 1,024 blue bytes, each plane 32x32 row-major.
//!
//! ```no_run
//! use rjax::data::cifar10::{self, Cifar10};
//! // CIFAR10_DIR, else ~/.cache/rjax/cifar10; downloads the official archive when absent
//! let data = Cifar10::load_or_download(cifar10::default_dir(), &cifar10::Source::official())?;
//! let (train, val) = data.split_validation(5_000)?;
//! assert_eq!((train.len(), val.len(), data.test.len()), (45_000, 5_000, 10_000));
//! # Ok::<(), rjax::data::DataError>(())
//! ```

use super::download;
use super::{DataError, Dataset, GET_DATA_HINT};
use crate::Array;
use std::fs;
use std::path::{Path, PathBuf};

/// The directory name inside the official archive.
pub const DIR_NAME: &str = "cifar-10-batches-bin";
/// The training batch files, in order.
pub const TRAIN_FILES: [&str; 5] =
    ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
/// The test batch file.
pub const TEST_FILE: &str = "test_batch.bin";
/// The class names file (one name a line).
pub const META_FILE: &str = "batches.meta.txt";
/// Bytes per image: 3 planes of 32x32.
pub const IMAGE_LEN: usize = 3 * 32 * 32;
/// Bytes per record: the label byte and the image.
pub const RECORD_LEN: usize = 1 + IMAGE_LEN;
/// Records in each file of the official release.
pub const RECORDS_PER_FILE: usize = 10_000;
/// The official class names, label order (used when `batches.meta.txt` is absent).
pub const CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
/// Where the official archive is published.
pub const OFFICIAL_URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";

/// CIFAR-10: the training set (50,000 images) and the test set (10,000), images
/// u8 `[N, 3072]` (R, G, B planes of 32x32) and labels i32 `[N]`, and the class names.
///
/// ```
/// use rjax::data::cifar10::{Cifar10, IMAGE_LEN};
/// use rjax::data::Dataset;
/// use rjax::{Array, DType};
/// // a tiny set in the official layout: 2 records per file
/// let set = |n: usize| Dataset::new(Array::zeros(&[n, IMAGE_LEN], DType::U8), Array::full(&[n], 7.0, DType::I32), 10);
/// let tiny = Cifar10 { train: set(10)?, test: set(2)?, classes: Cifar10::official_classes() };
/// let dir = tempfile::tempdir().map_err(|e| rjax::data::DataError::Invalid(e.to_string()))?;
/// tiny.save(dir.path())?;
/// let back = Cifar10::load_records(dir.path(), 2)?;
/// assert_eq!(back.train.images().shape(), &[10, IMAGE_LEN]);
/// assert_eq!(back.test.label_counts()[7], 2);
/// # Ok::<(), rjax::data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Cifar10 {
    /// The training set (`data_batch_1.bin` … `data_batch_5.bin`, in order).
    pub train: Dataset,
    /// The test set (`test_batch.bin`).
    pub test: Dataset,
    /// Class names, indexed by label.
    pub classes: Vec<String>,
}

/// Where to download the archive from, and what it must be. The default is
/// [`Source::official`]; point `url` at a mirror (or a local server in tests).
///
/// ```
/// let s = rjax::data::cifar10::Source::official();
/// assert_eq!(s.size, Some(170_052_171));
/// let mirror = rjax::data::cifar10::Source { url: "http://mirror.example/cifar-10-binary.tar.gz".into(), ..s };
/// assert_eq!(mirror.md5, "c32a1d4ab5d03f1284b67883e8d87530");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// URL of a `.tar.gz` holding `cifar-10-batches-bin/` (http or https).
    pub url: String,
    /// Its MD5, hex.
    pub md5: String,
    /// Its size in bytes, if known (checked before and after the transfer).
    pub size: Option<u64>,
    /// Records in each batch file of the archive (10,000 for the official one).
    pub records_per_file: usize,
}

impl Source {
    /// The official release: [`OFFICIAL_URL`], 170,052,171 bytes, md5 `c32a1d4ab5d03f1284b67883e8d87530`.
    ///
    /// ```
    /// assert!(rjax::data::cifar10::Source::official().url.starts_with("https://www.cs.toronto.edu/"));
    /// ```
    pub fn official() -> Source {
        Source {
            url: OFFICIAL_URL.into(),
            md5: "c32a1d4ab5d03f1284b67883e8d87530".into(),
            size: Some(170_052_171),
            records_per_file: RECORDS_PER_FILE,
        }
    }
}

impl Default for Source {
    /// [`Source::official`].
    ///
    /// ```
    /// assert_eq!(rjax::data::cifar10::Source::default(), rjax::data::cifar10::Source::official());
    /// ```
    fn default() -> Source {
        Source::official()
    }
}

/// The directory to keep CIFAR-10 in: `$CIFAR10_DIR` when set, else
/// `$XDG_CACHE_HOME/rjax/cifar10`, else `~/.cache/rjax/cifar10` (on Windows
/// `%LOCALAPPDATA%\rjax\cifar10`).
///
/// ```
/// assert!(rjax::data::cifar10::default_dir().as_os_str().len() > 0);
/// ```
pub fn default_dir() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("CIFAR10_DIR") {
        return dir;
    }
    let cache = var("XDG_CACHE_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| var("HOME").map(|h| h.join(".cache")))
        .or_else(|| var("LOCALAPPDATA"))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("rjax").join("cifar10")
}

/// The directory holding the batch files: `dir/cifar-10-batches-bin` when it
/// exists, else `dir` itself.
fn batch_dir(dir: &Path) -> PathBuf {
    let nested = dir.join(DIR_NAME);
    if nested.is_dir() { nested } else { dir.to_path_buf() }
}

fn missing(path: PathBuf) -> DataError {
    DataError::Missing {
        path,
        hint: format!(
            "CIFAR-10 is read from a directory holding {DIR_NAME}/ (or from {DIR_NAME}/ itself) with \
             {}, …, {} and {TEST_FILE}; {GET_DATA_HINT}",
            TRAIN_FILES[0], TRAIN_FILES[4]
        ),
    }
}

/// Appends the records of one batch file after checking its size (before reading
/// anything) and each label.
fn read_batch(path: &Path, records: usize, images: &mut Vec<u8>, labels: &mut Vec<i32>) -> Result<(), DataError> {
    let meta = fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => missing(path.to_path_buf()),
        _ => DataError::io("read", path, e),
    })?;
    let expected = (records * RECORD_LEN) as u64;
    let size_error =
        |found| DataError::FileSize { path: path.to_path_buf(), found, expected, records, record_len: RECORD_LEN };
    if meta.len() != expected {
        return Err(size_error(meta.len()));
    }
    let bytes = fs::read(path).map_err(|e| DataError::io("read", path, e))?;
    if bytes.len() as u64 != expected {
        return Err(size_error(bytes.len() as u64));
    }
    for (record, r) in bytes.chunks_exact(RECORD_LEN).enumerate() {
        if r[0] as usize >= CLASSES.len() {
            let max = (CLASSES.len() - 1) as u8;
            return Err(DataError::Label { path: path.to_path_buf(), record, found: r[0], max });
        }
        labels.push(i32::from(r[0]));
        images.extend_from_slice(&r[1..]);
    }
    Ok(())
}

fn read_set(dir: &Path, files: &[&str], records: usize) -> Result<Dataset, DataError> {
    let n = files.len() * records;
    let mut images = Vec::with_capacity(n * IMAGE_LEN);
    let mut labels = Vec::with_capacity(n);
    for f in files {
        read_batch(&dir.join(f), records, &mut images, &mut labels)?;
    }
    Dataset::new(Array::from_vec(images, &[n, IMAGE_LEN]), Array::from_vec(labels, &[n]), CLASSES.len())
}

fn read_classes(dir: &Path) -> Result<Vec<String>, DataError> {
    let path = dir.join(META_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Cifar10::official_classes()),
        Err(e) => return Err(DataError::io("read", path, e)),
    };
    let names: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
    if names.len() != CLASSES.len() {
        return Err(DataError::Meta { path, found: names.len(), expected: CLASSES.len() });
    }
    Ok(names)
}

impl Cifar10 {
    /// Loads the official binary release from `dir`: the directory that holds
    /// `cifar-10-batches-bin/`, or that directory itself. Every file must hold
    /// exactly 10,000 records (30,730,000 bytes), checked before it is read; a
    /// missing file, another size or a label above 9 is an error naming the
    /// file, what was expected and what was found.
    ///
    /// ```no_run
    /// let data = rjax::data::cifar10::Cifar10::load("/data/cifar10")?;
    /// assert_eq!((data.train.len(), data.test.len()), (50_000, 10_000));
    /// # Ok::<(), rjax::data::DataError>(())
    /// ```
    pub fn load(dir: impl AsRef<Path>) -> Result<Cifar10, DataError> {
        Cifar10::load_records(dir, RECORDS_PER_FILE)
    }

    /// [`Cifar10::load`] for files of `records_per_file` records each (a
    /// smaller copy of the layout, as tests and [`Cifar10::save`] make).
    ///
    /// ```
    /// use rjax::data::cifar10::{TEST_FILE, TRAIN_FILES};
    /// let dir = tempfile::tempdir().unwrap();
    /// let bin = dir.path().join("cifar-10-batches-bin");
    /// std::fs::create_dir(&bin).unwrap();
    /// for f in TRAIN_FILES.iter().chain([&TEST_FILE]) {
    ///     std::fs::write(bin.join(f), [3u8; 3073]).unwrap(); // one record: label 3, all pixels 3
    /// }
    /// let data = rjax::data::cifar10::Cifar10::load_records(dir.path(), 1)?;
    /// assert_eq!(data.train.labels().to_vec::<i32>(), vec![3; 5]);
    /// // the official loader rejects them, naming the file and both sizes
    /// let err = rjax::data::cifar10::Cifar10::load(&bin).unwrap_err().to_string();
    /// assert!(err.contains("data_batch_1.bin has 3073 bytes, expected 30730000"), "{err}");
    /// # Ok::<(), rjax::data::DataError>(())
    /// ```
    pub fn load_records(dir: impl AsRef<Path>, records_per_file: usize) -> Result<Cifar10, DataError> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(missing(dir.to_path_buf()));
        }
        let dir = batch_dir(dir);
        let train = read_set(&dir, &TRAIN_FILES, records_per_file)?;
        let test = read_set(&dir, &[TEST_FILE], records_per_file)?;
        Ok(Cifar10 { train, test, classes: read_classes(&dir)? })
    }

    /// Loads from `dir` as [`Cifar10::load`] when `dir` holds the data set (its
    /// errors are returned, nothing is overwritten); otherwise downloads
    /// `source`, checks its size and MD5, unpacks it in a temporary directory
    /// inside `dir`, checks the files, and renames `cifar-10-batches-bin` into
    /// `dir` (one atomic step, so `dir` never holds a partial copy); on failure
    /// nothing is left, not even the directories it created. It prints one line
    /// to stderr, and draws a progress bar when stderr is a terminal. Without
    /// network the error says where to get the data and to pass `--data-dir` or
    /// set `CIFAR10_DIR`.
    ///
    /// ```no_run
    /// use rjax::data::cifar10::{Cifar10, Source};
    /// let data = Cifar10::load_or_download("/data/cifar10", &Source::official())?;
    /// assert!(std::path::Path::new("/data/cifar10/cifar-10-batches-bin/test_batch.bin").exists());
    /// # Ok::<(), rjax::data::DataError>(())
    /// ```
    pub fn load_or_download(dir: impl AsRef<Path>, source: &Source) -> Result<Cifar10, DataError> {
        let dir = dir.as_ref();
        if dir.is_file() {
            return Err(DataError::Invalid(format!(
                "{} is a file, not a folder: pass the folder holding {DIR_NAME} (or that folder itself) \
                 with --data-dir or CIFAR10_DIR",
                dir.display()
            )));
        }
        if dir.join(DIR_NAME).exists() || dir.join(TRAIN_FILES[0]).exists() {
            return Cifar10::load_records(dir, source.records_per_file);
        }
        // `.../cifar-10-batches-bin` given for a copy that is not there yet: download next to it
        let root = match (dir.file_name(), dir.parent()) {
            (Some(name), Some(parent)) if name == DIR_NAME => parent,
            _ => dir,
        };
        // directories this call creates, deepest first, removed again (when empty) on failure
        let created: Vec<&Path> = root.ancestors().take_while(|p| !p.as_os_str().is_empty() && !p.exists()).collect();
        fs::create_dir_all(root).map_err(|e| DataError::io("create", root, e))?;
        let result = download_into(root, source);
        if result.is_err() {
            for dir in created {
                let _ = fs::remove_dir(dir);
            }
        }
        result
    }

    /// [`Cifar10::load_or_download`] from [`default_dir`] and [`Source::official`].
    ///
    /// ```no_run
    /// let data = rjax::data::cifar10::Cifar10::load_default()?;
    /// # Ok::<(), rjax::data::DataError>(())
    /// ```
    pub fn load_default() -> Result<Cifar10, DataError> {
        Cifar10::load_or_download(default_dir(), &Source::official())
    }

    /// The official class names, as owned strings.
    ///
    /// ```
    /// assert_eq!(rjax::data::cifar10::Cifar10::official_classes()[9], "truck");
    /// ```
    pub fn official_classes() -> Vec<String> {
        CLASSES.iter().map(|c| c.to_string()).collect()
    }

    /// The training set without its last `n_val` images, and those last `n_val`
    /// images as a validation set (the usual 45,000 / 5,000 split with 5,000).
    ///
    /// ```
    /// use rjax::data::{cifar10::{Cifar10, IMAGE_LEN}, Dataset};
    /// use rjax::{Array, DType};
    /// let train = Dataset::new(Array::zeros(&[10, IMAGE_LEN], DType::U8), Array::from_vec((0..10).collect(), &[10]), 10)?;
    /// let test = Dataset::new(Array::zeros(&[2, IMAGE_LEN], DType::U8), Array::zeros(&[2], DType::I32), 10)?;
    /// let data = Cifar10 { train, test, classes: Cifar10::official_classes() };
    /// let (train, val) = data.split_validation(3)?;
    /// assert_eq!(val.labels().to_vec::<i32>(), vec![7, 8, 9]);
    /// assert_eq!(train.len(), 7);
    /// assert!(data.split_validation(11).is_err());
    /// # Ok::<(), rjax::data::DataError>(())
    /// ```
    pub fn split_validation(&self, n_val: usize) -> Result<(Dataset, Dataset), DataError> {
        let n = self.train.len();
        if n_val > n {
            return Err(DataError::Invalid(format!(
                "split_validation({n_val}): the training set has only {n} images; ask for at most {n}"
            )));
        }
        self.train.split_at(n - n_val)
    }

    /// Writes the data set in the official layout under `dir/cifar-10-batches-bin/`
    /// (returned): the training set in 5 files and the test set in one, so the
    /// training set must have 5 times as many images as the test set. Images
    /// must be u8 `[N, 3072]`, labels 0-9, and there must be 10 class names.
    ///
    /// ```
    /// use rjax::data::{cifar10::{Cifar10, IMAGE_LEN}, Dataset};
    /// use rjax::{Array, DType};
    /// let set = |n: usize| Dataset::new(Array::zeros(&[n, IMAGE_LEN], DType::U8), Array::zeros(&[n], DType::I32), 10);
    /// let data = Cifar10 { train: set(5)?, test: set(1)?, classes: Cifar10::official_classes() };
    /// let dir = tempfile::tempdir().unwrap();
    /// let bin = data.save(dir.path())?;
    /// assert_eq!(std::fs::metadata(bin.join("test_batch.bin")).unwrap().len(), 3073);
    /// # Ok::<(), rjax::data::DataError>(())
    /// ```
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<PathBuf, DataError> {
        let records = self.test.len();
        if self.train.len() != TRAIN_FILES.len() * records {
            return Err(DataError::Invalid(format!(
                "save: the layout has {} training files of as many records as the test file, so {} training \
                 images for {records} test images, not {}",
                TRAIN_FILES.len(),
                TRAIN_FILES.len() * records,
                self.train.len()
            )));
        }
        if self.classes.len() != CLASSES.len() {
            return Err(DataError::Invalid(format!("save: {} class names, expected 10", self.classes.len())));
        }
        let out = dir.as_ref().join(DIR_NAME);
        fs::create_dir_all(&out).map_err(|e| DataError::io("create", &out, e))?;
        let (images, labels) = (record_bytes(&self.train, "train")?, self.train.label_slice());
        for (k, f) in TRAIN_FILES.iter().enumerate() {
            let rows = k * records..(k + 1) * records;
            write_batch(&out.join(f), &images[rows.start * IMAGE_LEN..rows.end * IMAGE_LEN], &labels[rows])?;
        }
        write_batch(&out.join(TEST_FILE), record_bytes(&self.test, "test")?, self.test.label_slice())?;
        let meta = out.join(META_FILE);
        fs::write(&meta, self.classes.join("\n") + "\n").map_err(|e| DataError::io("write", meta, e))?;
        Ok(out)
    }
}

/// Downloads `source` into a temporary directory in `root`, checks it, and moves
/// `cifar-10-batches-bin` into `root`; the temporary directory is removed in any case.
fn download_into(root: &Path, source: &Source) -> Result<Cifar10, DataError> {
    let tmp = download::TempDir::new_in(root, ".cifar-10-download-")?;
    let archive = tmp.path().join("cifar-10-binary.tar.gz");
    let size = source.size.map(|s| format!(" ({:.1} MB)", s as f64 / 1e6)).unwrap_or_default();
    eprintln!("downloading {}{size} to {}", source.url, root.join(DIR_NAME).display());
    download::fetch(&source.url, &source.md5, source.size, &archive)?;
    let unpacked = tmp.path().join("unpacked");
    download::unpack_tar_gz(&archive, &unpacked, &source.url)?;
    let batches = unpacked.join(DIR_NAME);
    if !batches.is_dir() {
        return Err(DataError::Archive { url: source.url.clone(), reason: format!("it has no {DIR_NAME}/") });
    }
    let data = Cifar10::load_records(&batches, source.records_per_file)?;
    let dest = root.join(DIR_NAME);
    if let Err(e) = fs::rename(&batches, &dest) {
        // another process may have put its copy there first: use that one if it is whole
        return match dest.is_dir() {
            true => Cifar10::load_records(&dest, source.records_per_file),
            false => Err(DataError::io("move the unpacked data set to", dest, e)),
        };
    }
    Ok(data)
}

/// The u8 `[N, 3072]` pixels of a set, or an error saying why it cannot be saved.
fn record_bytes<'a>(set: &'a Dataset, name: &str) -> Result<&'a [u8], DataError> {
    let bytes = super::dataset::slice_of::<u8>(set.images()).filter(|_| set.row_len() == IMAGE_LEN);
    let bytes = bytes.ok_or_else(|| {
        DataError::Invalid(format!(
            "save: {name} images must be u8 [N, {IMAGE_LEN}], not {}{:?}",
            set.images().dtype(),
            set.images().shape()
        ))
    })?;
    if let Some(y) = set.label_slice().iter().find(|&&y| y as usize >= CLASSES.len()) {
        return Err(DataError::Invalid(format!("save: {name} label {y} is not a CIFAR-10 class (0-9)")));
    }
    Ok(bytes)
}

fn write_batch(path: &Path, images: &[u8], labels: &[i32]) -> Result<(), DataError> {
    let mut out = Vec::with_capacity(labels.len() * RECORD_LEN);
    for (r, &y) in labels.iter().enumerate() {
        out.push(y as u8);
        out.extend_from_slice(&images[r * IMAGE_LEN..(r + 1) * IMAGE_LEN]);
    }
    fs::write(path, out).map_err(|e| DataError::io("write", path, e))
}
