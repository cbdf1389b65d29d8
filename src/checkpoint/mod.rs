//! Saving and loading trees of arrays as [safetensors](https://github.com/huggingface/safetensors) files.
//!
//! [`save`] writes every leaf of a [`Tree`] as one tensor, named after its
//! place in the tree ([`leaf_names`]): the [`TreeDef`] keys from the root to
//! the leaf joined by `.`, so a field `w` is `w`, the `w` of the first element
//! of a `Vec` field `layers` is `layers.0.w`, and the second element of a
//! tuple inside a tuple is `0.1`. A key that itself holds `.` or `\` (a
//! `BTreeMap<String, _>` key, say) has them escaped as `\.` and `\\`, so names
//! are unique. A tree that is a single array has the one leaf named `""`.
//! The header's `__metadata__` records `format` (`rjax.checkpoint`),
//! `format_version` ([`FORMAT_VERSION`]), `treedef` (the [`TreeDef`]'s
//! `Display`, for people reading the file) and, for every tensor, a checksum:
//! the key `crc32:` followed by the tensor's name, holding the CRC-32 (IEEE,
//! as zlib computes it) of the tensor's data bytes as 8 lowercase hex digits,
//! e.g. `"crc32:layers.0.w": "1c291ca3"`. These are ordinary string metadata,
//! so other safetensors readers read the file as usual. The same tree always
//! gives the same bytes.
//!
//! Writing is atomic: the bytes go to a temporary file in the destination's
//! directory, which is synced to disk and then renamed over the destination,
//! so a crash or a failed save never leaves a half-written file under the
//! final name, and no temporary file is left behind.
//! A save killed before its rename leaves its temporary file; the next save
//! of the same file removes those of processes that no longer run (on Linux).
//!
//! [`load`] reads the whole file and validates it before building anything;
//! any failure is an error and nothing is returned. It checks, in order:
//! - the safetensors structure: the header length, the JSON, each tensor's
//!   dtype, shape and data offsets, and that the tensors fill the data exactly
//!   (a file cut short or with bytes appended is refused);
//! - the `format_version`, for files whose `format` is `rjax.checkpoint`;
//! - the checksums: every `crc32:` entry names a tensor of the file and holds
//!   8 hex digits, either every tensor has an entry or none has, and each
//!   tensor's data has the recorded CRC-32 (a mismatch is
//!   [`CheckpointError::Checksum`], naming the tensor);
//! - against the template: a tensor for every leaf, with the leaf's dtype and
//!   shape, and no other tensors;
//! - the values: bool bytes are 0 or 1.
//!
//! A file with no `crc32:` entries at all (written by another safetensors
//! tool, or by rjax before it wrote checksums) loads without the checksum
//! check: damage to its tensor data goes unnoticed, except a bool byte other
//! than 0 or 1. Removing all of a file's `crc32:` entries turns the check off
//! the same way. [`load_arrays`] and [`load_metadata`] validate the file as
//! [`load`] does, without the template checks. Loaded arrays are on the host
//! (built-in CPU backend); move them with [`device_put`](crate::device_put).
//!
//! ```
//! use rjax::{checkpoint, Array, DType, Tree};
//! #[derive(Tree, Clone)]
//! struct Layer { w: Array, b: Array }
//! #[derive(Tree, Clone)]
//! struct Model { layers: Vec<Layer>, step: Array }
//!
//! let layer = |n| Layer { w: Array::ones(&[n, n], DType::F32), b: Array::zeros(&[n], DType::F32) };
//! let model = Model { layers: vec![layer(2), layer(3)], step: Array::scalar(7u32) };
//! assert_eq!(checkpoint::leaf_names(&model), ["layers.0.w", "layers.0.b", "layers.1.w", "layers.1.b", "step"]);
//!
//! let path = std::env::temp_dir().join(format!("rjax-doc-{}-module.safetensors", std::process::id()));
//! checkpoint::save(&path, &model)?;
//! let back = checkpoint::load(&path, &model)?;
//! assert_eq!(back.layers[1].w.shape(), &[3, 3]);
//! assert_eq!(back.step.item::<u32>(), 7);
//!
//! // A template of other shapes is refused, naming the leaf.
//! let other = Model { layers: vec![layer(2), layer(4)], step: Array::scalar(0u32) };
//! let err = checkpoint::load(&path, &other).err().map(|e| e.to_string()).unwrap_or_default();
//! assert!(err.contains("\"layers.1.w\"") && err.contains("f32[4,4]") && err.contains("f32[3,3]"));
//!
//! // A bit flipped in the tensor data (the end of the file) is caught by its checksum.
//! let mut bytes = std::fs::read(&path).unwrap();
//! *bytes.last_mut().unwrap() ^= 1;
//! std::fs::write(&path, &bytes).unwrap();
//! assert!(matches!(checkpoint::load(&path, &model), Err(checkpoint::CheckpointError::Checksum { .. })));
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), rjax::checkpoint::CheckpointError>(())
//! ```

mod atomic;
mod checksum;
mod codec;

pub use crate::error::CheckpointError;

use crate::core::{Array, Aval, HostData};
use crate::tree::{self, Tree, TreeDef};
use safetensors::SafeTensors;
use safetensors::tensor::{SafeTensorError, TensorView};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The version of the checkpoint layout that [`save`] writes (recorded as
/// `format_version` in the header's `__metadata__`). [`load`] reads files of
/// this version or older, and safetensors files without rjax metadata. The
/// checksum entries did not change it: readers that do not know them ignore
/// them, and files without them still load.
///
/// ```
/// assert_eq!(rjax::checkpoint::FORMAT_VERSION, 1);
/// ```
pub const FORMAT_VERSION: u32 = 1;

/// The value of the `format` metadata key in files written by [`save`].
const FORMAT: &str = "rjax.checkpoint";

/// The tensor name of every leaf of `tree`, in leaf order: the keys of the
/// [`TreeDef`] from the root to the leaf, joined by `.` (with `.` and `\`
/// inside a key escaped as `\.` and `\\`). Depends only on the structure,
/// never on the values.
///
/// ```
/// use rjax::{checkpoint::leaf_names, Array};
/// use std::collections::BTreeMap;
/// let x = || Array::scalar(1.0f32);
/// assert_eq!(leaf_names(&(x(), (x(), x()))), ["0", "1.0", "1.1"]);
/// let m = BTreeMap::from([("a.b".to_string(), x()), ("c".to_string(), x())]);
/// assert_eq!(leaf_names(&m), ["a\\.b", "c"]);
/// assert_eq!(leaf_names(&x()), [""]);
/// ```
pub fn leaf_names<T: Tree>(tree: &T) -> Vec<String> {
    let mut out = Vec::new();
    names_into(&tree.def(), &mut Vec::new(), &mut out);
    out
}

fn names_into(def: &TreeDef, path: &mut Vec<String>, out: &mut Vec<String>) {
    match def {
        TreeDef::Leaf => out.push(path.join(".")),
        TreeDef::Node { keys, children, .. } => {
            for (key, child) in keys.iter().zip(children) {
                path.push(key.replace('\\', "\\\\").replace('.', "\\."));
                names_into(child, path, out);
                path.pop();
            }
        }
    }
}

/// The leaves of `tree` with their names, checked to correspond one to one.
fn named_leaves<T: Tree>(path: &Path, tree: &T) -> Result<(Vec<String>, Vec<Array>), CheckpointError> {
    let names = leaf_names(tree);
    let leaves = tree::leaves(tree);
    let structure = |message| CheckpointError::Structure { path: path.to_path_buf(), message };
    if names.len() != leaves.len() {
        return Err(structure(format!(
            "the tree's def() describes {} leaves but leaves_into gives {}",
            names.len(),
            leaves.len()
        )));
    }
    let mut seen = BTreeSet::new();
    if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(structure(format!("two leaves would both be named {dup:?}")));
    }
    Ok((names, leaves))
}

/// Writes every leaf of `tree` to the safetensors file `path`, atomically
/// (see the [module documentation](self) for names, metadata and atomicity).
/// All leaves are read to the host first (arrays on an XLA device are copied);
/// if one cannot be read, nothing is written. An existing file at `path` is
/// replaced only once the new one is complete and synced to disk. The bytes
/// go to the file a chunk at a time: saving needs no second copy of the tree
/// in memory.
///
/// ```
/// use rjax::{checkpoint, Array};
/// let path = std::env::temp_dir().join(format!("rjax-doc-{}-save.safetensors", std::process::id()));
/// let params = (Array::from_vec(vec![1.0f64, -0.0, f64::NAN], &[3]), Array::scalar(true));
/// checkpoint::save(&path, &params)?;
/// let back = checkpoint::load(&path, &params)?;
/// assert_eq!(back.0.to_vec::<f64>()[1].to_bits(), (-0.0f64).to_bits());
/// assert!(back.1.item::<bool>());
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), rjax::checkpoint::CheckpointError>(())
/// ```
pub fn save<T: Tree>(path: impl AsRef<Path>, tree: &T) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    let (names, leaves) = named_leaves(path, tree)?;
    let mut hosts: Vec<&HostData> = Vec::with_capacity(leaves.len());
    for (name, leaf) in names.iter().zip(&leaves) {
        let host = leaf.try_host_data().map_err(|source| CheckpointError::Device {
            path: path.to_path_buf(),
            leaf: name.clone(),
            source: Box::new(source),
        })?;
        hosts.push(host);
    }
    let mut metadata = vec![
        ("format".to_string(), FORMAT.to_string()),
        ("format_version".to_string(), FORMAT_VERSION.to_string()),
        ("treedef".to_string(), tree.def().to_string()),
    ];
    metadata.extend(names.iter().zip(&hosts).map(|(name, host)| checksum::entry(name, checksum::of_host(host))));
    // safetensors lays out the header; the leaves' bytes follow it on disk,
    // encoded a chunk at a time (no copy of the whole file in memory)
    let encode_error = |message: String| CheckpointError::Encode { path: path.to_path_buf(), message };
    let layout = names.iter().zip(hosts.iter().copied().map(codec::LeafLayout));
    let mut header = safetensors::serialize(layout, Some(metadata.into_iter().collect()))
        .map_err(|e| encode_error(e.to_string()))?;
    codec::canonicalize_header(&mut header);
    let leaves: Vec<(&str, &HostData)> = names.iter().map(String::as_str).zip(hosts).collect();
    let leaves = codec::data_order(&header, &leaves).map_err(encode_error)?;
    atomic::write_atomic(path, |out| {
        out.write_all(&header)?;
        codec::write_leaves(&leaves, out)
    })
}

/// Reads the checkpoint at `path` into a new tree shaped like `template`.
///
/// The file is read whole and validated before anything is built: it must be
/// a well-formed safetensors file, hold a tensor for every leaf of `template`
/// (by [`leaf_names`]) with the leaf's dtype and shape, and no other tensors
/// (use [`load_arrays`] to read a file with more), and every tensor's data must
/// match its recorded checksum (see the [module documentation](self) for the
/// full list of checks). The template's values are not used, only its
/// structure, dtypes and shapes, so it may hold arrays on any device, or
/// abstract ones. The returned arrays are host arrays. Files without rjax
/// metadata (written by other safetensors tools) load by name too, without a
/// checksum check.
///
/// ```
/// use rjax::{checkpoint, Array, DType};
/// use std::collections::BTreeMap;
/// let path = std::env::temp_dir().join(format!("rjax-doc-{}-load.safetensors", std::process::id()));
/// let state = BTreeMap::from([("mu".to_string(), Array::full(&[2], 0.5, DType::F32))]);
/// checkpoint::save(&path, &state)?;
/// let template = BTreeMap::from([("mu".to_string(), Array::zeros(&[2], DType::F32))]);
/// assert_eq!(checkpoint::load(&path, &template)?["mu"].to_vec::<f32>(), vec![0.5, 0.5]);
/// let wrong = BTreeMap::from([("nu".to_string(), Array::zeros(&[2], DType::F32))]);
/// assert!(matches!(checkpoint::load(&path, &wrong), Err(checkpoint::CheckpointError::Missing { .. })));
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), rjax::checkpoint::CheckpointError>(())
/// ```
pub fn load<T: Tree>(path: impl AsRef<Path>, template: &T) -> Result<T, CheckpointError> {
    let path = path.as_ref();
    let (names, leaves) = named_leaves(path, template)?;
    let bytes = read(path)?;
    let (file, _) = parse(path, &bytes)?;
    let mut views = Vec::with_capacity(names.len());
    for (name, leaf) in names.iter().zip(&leaves) {
        let expected = leaf.aval();
        let view = file.tensor(name).map_err(|_| CheckpointError::Missing {
            path: path.to_path_buf(),
            leaf: name.clone(),
            expected: expected.to_string(),
        })?;
        let found = codec::from_safetensors(view.dtype()).map(|d| Aval::new(view.shape(), d));
        if found.as_ref() != Some(&expected) {
            return Err(CheckpointError::Mismatch {
                path: path.to_path_buf(),
                leaf: name.clone(),
                expected: expected.to_string(),
                found: found.map_or_else(|| describe(&view), |a| a.to_string()),
            });
        }
        views.push((expected, view));
    }
    let wanted: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    let mut extra: Vec<String> = file.names().into_iter().filter(|n| !wanted.contains(n)).map(String::from).collect();
    if !extra.is_empty() {
        extra.sort();
        return Err(CheckpointError::Unexpected { path: path.to_path_buf(), names: extra });
    }
    let mut arrays = Vec::with_capacity(views.len());
    for (name, (aval, view)) in names.iter().zip(&views) {
        arrays.push(decode(path, name, aval, view)?);
    }
    tree::unflatten(template, arrays)
        .map_err(|e| CheckpointError::Structure { path: path.to_path_buf(), message: e.to_string() })
}

/// Reads every tensor of the safetensors file at `path`, by name, as host
/// arrays, after validating the whole file. For inspecting a checkpoint or
/// taking parts of it; every tensor must have a dtype rjax holds.
///
/// ```
/// use rjax::{checkpoint, Array};
/// let path = std::env::temp_dir().join(format!("rjax-doc-{}-arrays.safetensors", std::process::id()));
/// checkpoint::save(&path, &vec![Array::scalar(1i32), Array::from_vec(vec![2u8, 3], &[2])])?;
/// let arrays = checkpoint::load_arrays(&path)?;
/// assert_eq!(arrays.keys().collect::<Vec<_>>(), ["0", "1"]);
/// assert_eq!(arrays["1"].to_vec::<u8>(), vec![2, 3]);
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), rjax::checkpoint::CheckpointError>(())
/// ```
pub fn load_arrays(path: impl AsRef<Path>) -> Result<BTreeMap<String, Array>, CheckpointError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    let (file, _) = parse(path, &bytes)?;
    let mut avals = Vec::new();
    for (name, view) in file.iter() {
        let Some(dtype) = codec::from_safetensors(view.dtype()) else {
            return Err(CheckpointError::UnsupportedDtype {
                path: path.to_path_buf(),
                name: name.to_string(),
                dtype: format!("{:?}", view.dtype()),
            });
        };
        avals.push((name, Aval::new(view.shape(), dtype), view));
    }
    let mut out = BTreeMap::new();
    for (name, aval, view) in avals {
        out.insert(name.to_string(), decode(path, name, &aval, &view)?);
    }
    Ok(out)
}

/// The `__metadata__` of the safetensors file at `path` (empty when it has
/// none), after validating the whole file (checksums included). For files
/// written by [`save`]: `format`, `format_version`, `treedef` and a
/// `crc32:<name>` checksum per tensor.
///
/// ```
/// use rjax::{checkpoint, Array};
/// let path = std::env::temp_dir().join(format!("rjax-doc-{}-meta.safetensors", std::process::id()));
/// checkpoint::save(&path, &(Array::scalar(1.0f32),))?;
/// let meta = checkpoint::load_metadata(&path)?;
/// assert_eq!(meta["format_version"], "1");
/// assert_eq!(meta["treedef"], "tuple(0=*)");
/// assert_eq!(meta["crc32:0"].len(), 8);
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), rjax::checkpoint::CheckpointError>(())
/// ```
pub fn load_metadata(path: impl AsRef<Path>) -> Result<BTreeMap<String, String>, CheckpointError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    Ok(parse(path, &bytes)?.1)
}

fn read(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    std::fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        op: "reading the file",
        source,
    })
}

/// Parses and validates the header (length, JSON, offsets covering the data
/// exactly), the format version and the checksums; returns the tensors and the
/// `__metadata__`.
fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<(SafeTensors<'a>, BTreeMap<String, String>), CheckpointError> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| corrupt(path, bytes, e))?;
    // `SafeTensors` keeps the metadata private; parsing the header again is cheap.
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| corrupt(path, bytes, e))?;
    let metadata: BTreeMap<String, String> =
        header.metadata().iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect();
    if metadata.get("format").is_some_and(|f| f == FORMAT) {
        let version = metadata.get("format_version");
        let found = version.and_then(|v| v.parse::<u32>().ok()).ok_or_else(|| CheckpointError::Corrupt {
            path: path.to_path_buf(),
            message: format!("the rjax format_version is {version:?}, not a number"),
        })?;
        if found > FORMAT_VERSION {
            return Err(CheckpointError::Version { path: path.to_path_buf(), found, supported: FORMAT_VERSION });
        }
    }
    checksum::verify(path, &file, &metadata)?;
    Ok((file, metadata))
}

/// A corrupt-file error with the parser's message, made specific where the sizes tell more.
fn corrupt(path: &Path, bytes: &[u8], e: SafeTensorError) -> CheckpointError {
    let len = bytes.len();
    let declared = bytes.get(..8).map(|b| {
        let mut n = [0u8; 8];
        n.copy_from_slice(b);
        u64::from_le_bytes(n)
    });
    let message = match (&e, declared) {
        (SafeTensorError::HeaderTooSmall, _) => {
            format!("the file is {len} bytes, shorter than the 8-byte header length that starts a safetensors file")
        }
        (SafeTensorError::InvalidHeaderLength | SafeTensorError::HeaderTooLarge, Some(n)) => {
            format!("the header length field says {n} bytes but {} bytes follow it ({e})", len.saturating_sub(8))
        }
        (SafeTensorError::MetadataIncompleteBuffer, _) => format!(
            "the tensors described by the header do not exactly fill the {len}-byte file: it was cut short or has \
             bytes appended ({e})"
        ),
        _ => e.to_string(),
    };
    CheckpointError::Corrupt { path: path.to_path_buf(), message }
}

/// `F16[2,3]` for a tensor of a dtype rjax does not hold.
fn describe(view: &TensorView<'_>) -> String {
    let dims: Vec<String> = view.shape().iter().map(|d| d.to_string()).collect();
    format!("{:?}[{}]", view.dtype(), dims.join(","))
}

fn decode(path: &Path, name: &str, aval: &Aval, view: &TensorView<'_>) -> Result<Array, CheckpointError> {
    codec::decode(aval.dtype, &aval.shape, view.data()).map(Array::from_host_data).map_err(|message| {
        CheckpointError::Corrupt { path: path.to_path_buf(), message: format!("tensor {name:?}: {message}") }
    })
}
