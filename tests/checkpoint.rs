//! `rjax::checkpoint`: bit-exact round trips of every dtype through a nested
//! tree, stable leaf names and bytes, truncated and corrupted files, per-tensor
//! checksums (a flipped data bit is caught; files without them load), templates
//! that do not match, atomic replacement (a failed save leaves the old file
//! and no temporary file), and arrays living on XLA's CPU device.

mod xla_gate;

use rjax::checkpoint::{self, CheckpointError};
use rjax::numpy as jnp;
use rjax::tree::TreeDef;
use rjax::{Array, DType, Device, Tree, device_put, jit};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// A fresh directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("rjax-checkpoint-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the test directory");
        TempDir(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    /// The names of the directory's entries, sorted (temporary files included).
    fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(&self.0)
            .expect("list the test directory")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[derive(Tree, Clone, Debug)]
struct Block {
    w: Array,
    b: Array,
}

#[derive(Tree, Clone, Debug)]
struct Model {
    layers: Vec<Block>,
    pair: (Array, (Array, Array)),
    named: BTreeMap<String, Array>,
    flags: Array,
    maybe: Option<Array>,
    #[tree(skip)]
    label: String,
}

const F32_QNAN_PAYLOAD: u32 = 0x7fc0_1234;
const F32_SNAN: u32 = 0x7f80_0001;
const F64_QNAN_PAYLOAD: u64 = 0x7ff8_0000_dead_beef;
const F64_NEG_NAN: u64 = 0xfff0_0000_0000_0001;

/// A model holding every dtype, awkward float bit patterns, a scalar, an
/// empty array and a transposed (non-contiguous) one.
fn model() -> Model {
    let f32s = [
        f32::from_bits(F32_QNAN_PAYLOAD),
        f32::from_bits(F32_SNAN),
        -0.0,
        0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MIN_POSITIVE / 8.0,
        -1.5e-38,
        3.25,
    ];
    let f64s = [f64::from_bits(F64_QNAN_PAYLOAD), f64::from_bits(F64_NEG_NAN), -0.0, f64::MAX, 5e-324, -2.5];
    let w1 = Array::from_vec(f32s.to_vec(), &[3, 3]);
    Model {
        layers: vec![
            Block { w: w1.clone(), b: Array::from_vec(vec![-0.0f32, 1.0, f32::from_bits(F32_SNAN)], &[3]) },
            // transposed: values laid out column-major in memory
            Block { w: jnp::transpose(&w1, None), b: Array::zeros(&[0, 3], DType::F32) },
        ],
        pair: (
            Array::from_vec(f64s.to_vec(), &[2, 3]),
            (Array::from_vec(vec![i32::MIN, -1, 0, 1, i32::MAX], &[5]), Array::from_vec(vec![0u32, 1, u32::MAX], &[3])),
        ),
        named: BTreeMap::from([
            ("beta".to_string(), Array::from_vec((0..=255u8).collect(), &[16, 16])),
            ("alpha".to_string(), Array::scalar(-7.0f64)),
        ]),
        flags: Array::from_vec(vec![true, false, false, true], &[2, 1, 2]),
        maybe: Some(Array::scalar(42u8)),
        label: "skipped".into(),
    }
}

/// A template shaped like `model()` with zeros of the same dtypes and shapes.
fn template() -> Model {
    let mut t = rjax::tree::map(&model(), |x| Array::zeros(x.shape(), x.dtype()));
    t.label = "template".into();
    t
}

/// Every element's bits, widened to u64 (exact for every dtype).
fn bits(a: &Array) -> Vec<u64> {
    match a.dtype() {
        DType::F32 => a.to_vec::<f32>().iter().map(|x| u64::from(x.to_bits())).collect(),
        DType::F64 => a.to_vec::<f64>().iter().map(|x| x.to_bits()).collect(),
        DType::I32 => a.to_vec::<i32>().iter().map(|&x| u64::from(x as u32)).collect(),
        DType::U32 => a.to_vec::<u32>().iter().map(|&x| u64::from(x)).collect(),
        DType::U8 => a.to_vec::<u8>().iter().map(|&x| u64::from(x)).collect(),
        DType::Bool => a.to_vec::<bool>().iter().map(|&x| u64::from(x)).collect(),
    }
}

fn assert_same_leaves<T: Tree>(a: &T, b: &T) {
    assert_eq!(a.def(), b.def());
    for (x, y) in rjax::tree::leaves(a).iter().zip(rjax::tree::leaves(b).iter()) {
        assert_eq!((x.dtype(), x.shape()), (y.dtype(), y.shape()));
        assert_eq!(bits(x), bits(y), "{x:?} vs {y:?}");
    }
}

/// The file as it would be with `header` as its JSON header and `data` after it.
fn raw_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn header_len(bytes: &[u8]) -> usize {
    u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize
}

#[test]
fn round_trip_of_every_dtype_is_bit_exact() {
    let dir = TempDir::new("round_trip");
    let path = dir.path("model.safetensors");
    let m = model();
    checkpoint::save(&path, &m).expect("save");
    let back = checkpoint::load(&path, &template()).expect("load");
    assert_same_leaves(&m, &back);
    assert_eq!(back.label, "template", "skipped fields come from the template");
    assert!(rjax::tree::leaves(&back).iter().all(|x| x.device() == Device::Cpu));
    // Spot checks of the awkward bit patterns, straight from the loaded arrays.
    let w = back.layers[0].w.to_vec::<f32>();
    assert_eq!((w[0].to_bits(), w[1].to_bits(), w[2].to_bits()), (F32_QNAN_PAYLOAD, F32_SNAN, 0x8000_0000));
    let d = back.pair.0.to_vec::<f64>();
    assert_eq!((d[0].to_bits(), d[1].to_bits(), d[2].to_bits()), (F64_QNAN_PAYLOAD, F64_NEG_NAN, 1 << 63));
    assert_eq!(bits(&back.layers[1].w), bits(&jnp::transpose(&back.layers[0].w, None)));
    assert_eq!(back.layers[1].b.shape(), &[0, 3]);
    assert_eq!(back.flags.to_vec::<bool>(), vec![true, false, false, true]);

    // The same through load_arrays, by name.
    let arrays = checkpoint::load_arrays(&path).expect("load_arrays");
    let names = checkpoint::leaf_names(&m);
    assert_eq!(arrays.keys().cloned().collect::<Vec<_>>(), {
        let mut n = names.clone();
        n.sort();
        n
    });
    for (name, leaf) in names.iter().zip(rjax::tree::leaves(&m)) {
        assert_eq!(bits(&arrays[name]), bits(&leaf), "{name}");
    }
}

#[test]
fn leaf_names_follow_the_structure_and_are_stable() {
    let names = checkpoint::leaf_names(&model());
    let expected = [
        "layers.0.w",
        "layers.0.b",
        "layers.1.w",
        "layers.1.b",
        "pair.0",
        "pair.1.0",
        "pair.1.1",
        "named.alpha",
        "named.beta",
        "flags",
        "maybe.0",
    ];
    assert_eq!(names, expected);
    assert_eq!(checkpoint::leaf_names(&template()), expected, "names depend on structure only");
    // Keys holding '.' or '\' are escaped, so these two leaves cannot collide.
    let x = || Array::scalar(1.0f32);
    let nested: BTreeMap<String, BTreeMap<String, Array>> = BTreeMap::from([
        ("a.b".to_string(), BTreeMap::from([("c".to_string(), x())])),
        ("a".to_string(), BTreeMap::from([("b.c".to_string(), x()), ("d\\".to_string(), x())])),
    ]);
    assert_eq!(checkpoint::leaf_names(&nested), ["a.b\\.c", "a.d\\\\", "a\\.b.c"]);
    let dir = TempDir::new("names");
    let path = dir.path("nested.safetensors");
    checkpoint::save(&path, &nested).expect("save");
    assert_same_leaves(&nested, &checkpoint::load(&path, &nested).expect("load"));
    // A lone array is the leaf "".
    checkpoint::save(&path, &Array::scalar(3i32)).expect("save");
    assert_eq!(checkpoint::load(&path, &Array::scalar(0i32)).expect("load").item::<i32>(), 3);
    assert_eq!(checkpoint::load_arrays(&path).expect("load_arrays").keys().collect::<Vec<_>>(), [""]);
}

#[test]
fn the_same_tree_gives_the_same_bytes_and_metadata() {
    let dir = TempDir::new("deterministic");
    let (a, b) = (dir.path("a.safetensors"), dir.path("b.safetensors"));
    for _ in 0..4 {
        checkpoint::save(&a, &model()).expect("save a");
        checkpoint::save(&b, &model()).expect("save b");
        assert_eq!(fs::read(&a).expect("read a"), fs::read(&b).expect("read b"));
    }
    let meta = checkpoint::load_metadata(&a).expect("metadata");
    assert_eq!(meta["format"], "rjax.checkpoint");
    assert_eq!(meta["format_version"], checkpoint::FORMAT_VERSION.to_string());
    assert_eq!(meta["treedef"], model().def().to_string());
    // and a checksum per tensor, 8 lowercase hex digits
    let names = checkpoint::leaf_names(&model());
    for name in &names {
        let crc = &meta[&format!("crc32:{name}")];
        assert!(crc.len() == 8 && crc.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{crc}");
    }
    assert_eq!(meta.len(), 3 + names.len());
}

/// The header's JSON object and the data after it.
fn split_file(bytes: &[u8]) -> (serde_json::Map<String, serde_json::Value>, Vec<u8>) {
    let n = header_len(bytes);
    let header = serde_json::from_slice(&bytes[8..8 + n]).expect("a JSON header");
    let serde_json::Value::Object(map) = header else { panic!("the header is not a JSON object") };
    (map, bytes[8 + n..].to_vec())
}

/// The file with its `__metadata__` changed by `edit`.
fn with_metadata(bytes: &[u8], edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> Vec<u8> {
    let (mut header, data) = split_file(bytes);
    let Some(serde_json::Value::Object(meta)) = header.get_mut("__metadata__") else { panic!("no __metadata__") };
    edit(meta);
    raw_file(&serde_json::Value::Object(header).to_string(), &data)
}

#[test]
fn a_flipped_bit_in_any_tensor_is_caught_naming_the_tensor() {
    let dir = TempDir::new("bitflip");
    let (good, bad) = (dir.path("good.safetensors"), dir.path("bad.safetensors"));
    checkpoint::save(&good, &model()).expect("save");
    let bytes = fs::read(&good).expect("read");
    let data_start = 8 + header_len(&bytes);
    let (header, _) = split_file(&bytes);
    let mut checked = Vec::new();
    for (name, info) in header.iter().filter(|(k, _)| *k != "__metadata__") {
        let offsets = info["data_offsets"].as_array().expect("data_offsets");
        let (a, b) = (offsets[0].as_u64().expect("start") as usize, offsets[1].as_u64().expect("end") as usize);
        if a == b {
            continue; // an empty tensor has no bytes to damage
        }
        // one bit: bit 0 of a bool or u8 byte (a valid value either way), else a middle bit
        let dtype = info["dtype"].as_str().expect("dtype");
        let bit = if matches!(dtype, "BOOL" | "U8") { 1 } else { 1 << 3 };
        let mut damaged = bytes.clone();
        damaged[data_start + a + (b - a) / 2] ^= bit;
        fs::write(&bad, &damaged).expect("write");
        let err = checkpoint::load(&bad, &template()).err().unwrap_or_else(|| panic!("{name}: a damaged file loaded"));
        match &err {
            CheckpointError::Checksum { path, name: n, expected, found } => {
                assert_eq!((path, n), (&bad, name));
                assert_ne!(expected, found);
                let msg = err.to_string();
                for part in
                    [bad.display().to_string(), format!("{name:?}"), format!("{expected:08x}"), format!("{found:08x}")]
                {
                    assert!(msg.contains(&part), "{name}: the message lacks {part}: {msg}");
                }
                assert!(msg.contains("corrupt") && msg.contains("another copy"), "{msg}");
            }
            e => panic!("{name}: expected a Checksum error, got {e}"),
        }
        // load_arrays and load_metadata check the data too
        assert!(matches!(checkpoint::load_arrays(&bad), Err(CheckpointError::Checksum { .. })), "{name}");
        assert!(matches!(checkpoint::load_metadata(&bad), Err(CheckpointError::Checksum { .. })), "{name}");
        checked.push(name.clone());
    }
    // bool ("flags"), u8 ("named.beta", "maybe.0") and every other non-empty tensor
    assert_eq!(checked.len(), checkpoint::leaf_names(&model()).len() - 1, "{checked:?}");
    assert!(["flags", "named.beta", "maybe.0"].iter().all(|n| checked.iter().any(|c| c == n)), "{checked:?}");
}

#[test]
fn files_without_checksums_load_unchecked() {
    let dir = TempDir::new("no_checksums");
    let (good, old) = (dir.path("good.safetensors"), dir.path("old.safetensors"));
    checkpoint::save(&good, &model()).expect("save");
    // as rjax wrote version 1 before checksums: the same metadata without the crc32 entries
    let stripped = with_metadata(&fs::read(&good).expect("read"), |meta| meta.retain(|k, _| !k.starts_with("crc32:")));
    fs::write(&old, &stripped).expect("write");
    assert_same_leaves(&model(), &checkpoint::load(&old, &template()).expect("load without checksums"));
    assert_eq!(checkpoint::load_metadata(&old).expect("metadata").len(), 3);
    // As documented, damage to such a file's float data goes unnoticed (a bool
    // byte other than 0 or 1 would still be an error).
    let (header, _) = split_file(&stripped);
    let start = header["pair.0"]["data_offsets"][0].as_u64().expect("offset") as usize;
    let mut damaged = stripped.clone();
    damaged[8 + header_len(&stripped) + start] ^= 0x10;
    fs::write(&old, &damaged).expect("write");
    let loaded = checkpoint::load_arrays(&old).expect("a damaged file without checksums loads");
    assert_ne!(bits(&loaded["pair.0"]), bits(&model().pair.0));
}

#[test]
fn bad_checksum_entries_are_clear_errors() {
    let dir = TempDir::new("bad_entries");
    let (good, bad) = (dir.path("good.safetensors"), dir.path("bad.safetensors"));
    checkpoint::save(&good, &model()).expect("save");
    let bytes = fs::read(&good).expect("read");
    type Edit = Box<dyn FnOnce(&mut serde_json::Map<String, serde_json::Value>)>;
    let cases: [(Edit, &[&str]); 4] = [
        (
            Box::new(|m| {
                m.insert("crc32:layers.9.w".into(), "00000000".into());
            }),
            &["\"crc32:layers.9.w\"", "no tensor \"layers.9.w\""],
        ),
        (
            Box::new(|m| drop(m.insert("crc32:flags".into(), "xyz".into()))),
            &["\"crc32:flags\"", "\"xyz\"", "8 hex digits"],
        ),
        (Box::new(|m| drop(m.insert("crc32:flags".into(), "+1234567".into()))), &["\"+1234567\"", "8 hex digits"]),
        (
            Box::new(|m| drop(m.remove("crc32:pair.1.0"))),
            &["tensor \"pair.1.0\" has no checksum entry", "other tensors have one"],
        ),
    ];
    for (edit, parts) in cases {
        fs::write(&bad, with_metadata(&bytes, edit)).expect("write");
        let msg = expect_corrupt(checkpoint::load(&bad, &template()), &bad, parts[0]);
        for part in parts {
            assert!(msg.contains(part), "the message lacks {part}: {msg}");
        }
    }
    // The untouched file still loads.
    assert_same_leaves(&model(), &checkpoint::load(&good, &template()).expect("load"));
}

fn expect_corrupt(result: Result<Model, CheckpointError>, path: &Path, what: &str) -> String {
    match result {
        Err(e @ CheckpointError::Corrupt { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&path.display().to_string()), "{what}: the message names the file: {msg}");
            msg
        }
        Err(e) => panic!("{what}: expected a Corrupt error, got {e}"),
        Ok(_) => panic!("{what}: a damaged file loaded"),
    }
}

#[test]
fn every_truncation_is_an_error() {
    let dir = TempDir::new("truncated");
    let (good, cut) = (dir.path("good.safetensors"), dir.path("cut.safetensors"));
    checkpoint::save(&good, &model()).expect("save");
    let bytes = fs::read(&good).expect("read");
    let n = header_len(&bytes);
    for len in 0..bytes.len() {
        fs::write(&cut, &bytes[..len]).expect("write");
        let msg = expect_corrupt(checkpoint::load(&cut, &template()), &cut, &format!("cut at {len}"));
        assert!(checkpoint::load_arrays(&cut).is_err() && checkpoint::load_metadata(&cut).is_err());
        if len < 8 {
            assert!(msg.contains("shorter than the 8-byte header length"), "{msg}");
        } else if len < 8 + n {
            assert!(msg.contains(&format!("says {n} bytes")), "{msg}");
        } else {
            assert!(msg.contains("cut short"), "{msg}");
        }
    }
    // Bytes appended are an error too.
    let mut longer = bytes.clone();
    longer.push(0);
    fs::write(&cut, &longer).expect("write");
    expect_corrupt(checkpoint::load(&cut, &template()), &cut, "one byte appended");
}

#[test]
fn every_flipped_header_byte_is_an_error() {
    let dir = TempDir::new("flipped");
    let (good, bad) = (dir.path("good.safetensors"), dir.path("bad.safetensors"));
    checkpoint::save(&good, &model()).expect("save");
    let bytes = fs::read(&good).expect("read");
    let n = header_len(&bytes);
    for i in 0..8 + n {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0xff;
        fs::write(&bad, &damaged).expect("write");
        expect_corrupt(checkpoint::load(&bad, &template()), &bad, &format!("byte {i} flipped"));
    }
}

#[test]
fn malformed_headers_name_what_is_wrong() {
    let dir = TempDir::new("malformed");
    let path = dir.path("bad.safetensors");
    let cases: [(Vec<u8>, &str); 5] = [
        (raw_file(r#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]"#, &[0; 8]), "JSON"),
        (raw_file(r#"{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, &[0; 8]), "cut short"),
        (raw_file(r#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, &[0; 12]), "offset"),
        (raw_file(r#"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, &[0; 8]), "invalid"),
        (
            {
                let mut f = raw_file("{}", &[]);
                f[..8].copy_from_slice(&1000u64.to_le_bytes());
                f
            },
            "says 1000 bytes but 2 bytes follow",
        ),
    ];
    for (bytes, what) in cases {
        fs::write(&path, bytes).expect("write");
        let err = checkpoint::load_arrays(&path).expect_err(what);
        assert!(matches!(err, CheckpointError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains(what), "{what}: {err}");
    }
    // A bool that is neither 0 nor 1.
    fs::write(&path, raw_file(r#"{"b":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}"#, &[1, 7])).expect("write");
    let err = checkpoint::load_arrays(&path).expect_err("bool byte 7");
    assert!(err.to_string().contains("\"b\"") && err.to_string().contains("byte 7"), "{err}");
}

#[test]
fn a_template_that_does_not_match_is_refused_naming_the_leaf() {
    let dir = TempDir::new("mismatch");
    let path = dir.path("model.safetensors");
    checkpoint::save(&path, &model()).expect("save");
    let msg = |r: Result<Model, CheckpointError>| r.expect_err("mismatch").to_string();

    // Missing leaf: the template has a third layer.
    let mut t = template();
    t.layers.push(Block { w: Array::zeros(&[2], DType::F32), b: Array::zeros(&[2], DType::F32) });
    let err = checkpoint::load(&path, &t).expect_err("missing");
    assert!(matches!(&err, CheckpointError::Missing { leaf, .. } if leaf == "layers.2.w"), "{err}");
    assert!(err.to_string().contains("f32[2]"), "{err}");

    // Wrong shape.
    let mut t = template();
    t.layers[0].b = Array::zeros(&[4], DType::F32);
    let m = msg(checkpoint::load(&path, &t));
    assert!(m.contains("\"layers.0.b\"") && m.contains("expects f32[4]") && m.contains("holds f32[3]"), "{m}");

    // Wrong dtype.
    let mut t = template();
    t.pair.1.1 = Array::zeros(&[3], DType::I32);
    let err = checkpoint::load(&path, &t).expect_err("dtype");
    match &err {
        CheckpointError::Mismatch { leaf, expected, found, .. } => {
            assert_eq!((leaf.as_str(), expected.as_str(), found.as_str()), ("pair.1.1", "i32[3]", "u32[3]"));
        }
        e => panic!("expected Mismatch, got {e}"),
    }

    // A template with fewer leaves: the file's extra tensors are named.
    let mut t = template();
    t.maybe = None;
    t.named.remove("beta");
    let err = checkpoint::load(&path, &t).expect_err("extra");
    assert!(matches!(&err, CheckpointError::Unexpected { names, .. } if names == &["maybe.0", "named.beta"]), "{err}");

    // The file is unchanged by failed loads and still loads with the right template.
    assert_same_leaves(&model(), &checkpoint::load(&path, &template()).expect("load"));
}

#[test]
fn foreign_files_load_by_name_and_unknown_dtypes_or_versions_are_refused() {
    let dir = TempDir::new("foreign");
    let path = dir.path("foreign.safetensors");
    // Written by another tool: no __metadata__, tensors in any order.
    let header =
        r#"{"b":{"dtype":"I32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}"#;
    let data = [2.5f32.to_le_bytes(), (-3i32).to_le_bytes()].concat();
    fs::write(&path, raw_file(header, &data)).expect("write");
    let t =
        BTreeMap::from([("a".to_string(), Array::scalar(0.0f32)), ("b".to_string(), Array::zeros(&[1], DType::I32))]);
    let back = checkpoint::load(&path, &t).expect("load");
    assert_eq!((back["a"].item::<f32>(), back["b"].to_vec::<i32>()), (2.5, vec![-3]));

    // A dtype rjax has no arrays for.
    fs::write(&path, raw_file(r#"{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}"#, &[0, 60])).expect("write");
    let err = checkpoint::load_arrays(&path).expect_err("F16");
    assert!(matches!(&err, CheckpointError::UnsupportedDtype { name, dtype, .. } if name == "h" && dtype == "F16"));
    let t = BTreeMap::from([("h".to_string(), Array::zeros(&[1], DType::F32))]);
    let err = checkpoint::load(&path, &t).expect_err("F16 for f32");
    assert!(err.to_string().contains("expects f32[1] but the file holds F16[1]"), "{err}");

    // A newer rjax format.
    let meta = r#"{"__metadata__":{"format":"rjax.checkpoint","format_version":"2"},"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#;
    fs::write(&path, raw_file(meta, &[1])).expect("write");
    let err = checkpoint::load_arrays(&path).expect_err("version 2");
    assert!(matches!(err, CheckpointError::Version { found: 2, supported: 1, .. }), "{err}");
}

#[test]
fn a_failed_save_keeps_the_old_file_and_leaves_no_temporary_file() {
    let dir = TempDir::new("atomic");
    let path = dir.path("model.safetensors");
    checkpoint::save(&path, &model()).expect("save");
    assert_eq!(dir.entries(), ["model.safetensors"], "no temporary file after a successful save");
    let before = fs::read(&path).expect("read");

    // A leaf that cannot be read: an abstract array, saved from inside a transformation.
    let result = std::sync::Mutex::new(None);
    let base = model(); // made outside the trace, so only the one leaf is abstract
    let _ = rjax::make_graph(|x: &Array| {
        let mut m = base.clone();
        m.layers[1].b = x.clone();
        *result.lock().expect("lock") = Some(checkpoint::save(&path, &m));
        x * 2.0
    })(&Array::zeros(&[0, 3], DType::F32));
    let err = result.into_inner().expect("lock").expect("save ran").expect_err("abstract leaf");
    assert!(matches!(&err, CheckpointError::Device { leaf, .. } if leaf == "layers.1.b"), "{err}");
    assert!(err.to_string().contains("abstract"), "{err}");
    assert_eq!(fs::read(&path).expect("read"), before, "the old checkpoint is intact");
    assert_eq!(dir.entries(), ["model.safetensors"]);

    // The rename fails: the destination is a directory (holding a file, so it
    // cannot be replaced). The temporary file is removed.
    let blocked = dir.path("blocked.safetensors");
    fs::create_dir(&blocked).expect("mkdir");
    fs::write(blocked.join("keep"), b"x").expect("write");
    let err = checkpoint::save(&blocked, &model()).expect_err("a directory is in the way");
    assert!(matches!(&err, CheckpointError::Io { op, .. } if op.contains("renaming")), "{err}");
    assert_eq!(dir.entries(), ["blocked.safetensors", "model.safetensors"]);
    assert_eq!(fs::read(blocked.join("keep")).expect("read"), b"x");

    // The directory does not exist.
    let err = checkpoint::save(dir.path("no/such/dir/m.safetensors"), &model()).expect_err("no directory");
    assert!(matches!(err, CheckpointError::Io { .. }), "{err}");

    // A successful save replaces the file whole.
    let mut m = model();
    m.maybe = None;
    checkpoint::save(&path, &m).expect("save");
    let mut t = template();
    t.maybe = None;
    assert_same_leaves(&m, &checkpoint::load(&path, &t).expect("load"));
    assert_eq!(dir.entries(), ["blocked.safetensors", "model.safetensors"]);
}

/// A broken Tree impl: two leaves under the same key.
#[derive(Clone)]
struct Twins(Array, Array);

impl Tree for Twins {
    fn leaves_into(&self, out: &mut Vec<Array>) {
        out.extend([self.0.clone(), self.1.clone()]);
    }
    fn rebuild(&self, leaves: &mut dyn Iterator<Item = Array>) -> Self {
        Twins(leaves.next().expect("leaf"), leaves.next().expect("leaf"))
    }
    fn def(&self) -> TreeDef {
        TreeDef::Node { kind: "Twins".into(), keys: vec!["x".into(), "x".into()], children: vec![TreeDef::Leaf; 2] }
    }
}

#[test]
fn colliding_leaf_names_are_refused_before_writing() {
    let dir = TempDir::new("collide");
    let path = dir.path("twins.safetensors");
    let t = Twins(Array::scalar(1.0f32), Array::scalar(2.0f32));
    let err = checkpoint::save(&path, &t).expect_err("duplicate names");
    assert!(matches!(err, CheckpointError::Structure { .. }) && err.to_string().contains("\"x\""), "{err}");
    assert!(dir.entries().is_empty());
}

#[test]
fn arrays_on_the_xla_cpu_device_are_saved_and_templates_may_live_there() {
    if !xla_gate::xla_available() {
        return;
    }
    let dev = rjax::device("xla-cpu").expect("xla-cpu device");
    let dir = TempDir::new("xla");
    let path = dir.path("device.safetensors");
    let host = model();
    // Every leaf but the empty one is moved to the device.
    let on_device =
        rjax::tree::map(&host, |x| if x.size() == 0 { x.clone() } else { device_put(x, &dev).expect("device_put") });
    assert_eq!(on_device.layers[0].w.device(), dev);
    checkpoint::save(&path, &on_device).expect("save device arrays");
    let back = checkpoint::load(&path, &on_device).expect("load with a device template");
    assert_same_leaves(&host, &back);
    assert_eq!(back.layers[0].w.device(), Device::Cpu);

    // A computed device array (a jitted function's result) is saved as computed.
    let f = jit(|x: &Array| x * 2.0).on(dev.clone());
    let y = f.call(&Array::from_vec(vec![1.5f32, -0.0], &[2]));
    assert_eq!(y.device(), dev);
    checkpoint::save(&path, &(y.clone(),)).expect("save");
    let back = checkpoint::load(&path, &(Array::zeros(&[2], DType::F32),)).expect("load");
    assert_eq!(bits(&back.0), vec![u64::from(3.0f32.to_bits()), u64::from((-0.0f32).to_bits())]);

    // A donated buffer cannot be read: the save fails and the old file stays.
    let before = fs::read(&path).expect("read");
    let step = jit(|(w, g): &(Array, Array)| (w - g, g.sum())).on(dev.clone()).donate_argnums(&[0]);
    let g = Array::from_vec(vec![0.5f32; 2], &[2]);
    let (w1, _) = step.call(&(Array::from_vec(vec![1.0f32, 2.0], &[2]), g.clone()));
    let _ = step.call(&(w1.clone(), g));
    let err = checkpoint::save(&path, &(w1,)).expect_err("donated");
    assert!(matches!(&err, CheckpointError::Device { leaf, .. } if leaf == "0"), "{err}");
    assert!(err.to_string().contains("donated"), "{err}");
    assert_eq!(fs::read(&path).expect("read"), before);
    assert_eq!(dir.entries(), ["device.safetensors"]);
}

/// A save killed half way leaves `.NAME.PID-N.tmp` behind; the next save of the
/// same file removes those of processes that no longer run, and keeps those of
/// running ones (this process, or another saving at the same time) and other files.
#[test]
#[cfg(target_os = "linux")]
fn a_save_removes_temporary_files_that_killed_saves_left() {
    let dir = TempDir::new("stale");
    let path = dir.path("model.safetensors");
    // a process id above Linux's largest (2^22) never runs
    let stale = dir.path(".model.safetensors.4194305-0.tmp");
    let live = dir.path(&format!(".model.safetensors.{}-77.tmp", std::process::id()));
    let other = dir.path(".other.safetensors.4194305-0.tmp");
    for f in [&stale, &live, &other] {
        fs::write(f, vec![0u8; 1024]).expect("write");
    }
    checkpoint::save(&path, &model()).expect("save");
    assert!(!stale.exists(), "the dead process's temporary file is removed");
    assert!(live.exists() && other.exists(), "a live process's file and another target's are kept");
}
