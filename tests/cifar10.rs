//! `rjax::data`: the CIFAR-10 binary loader on tiny files in the official layout,
//! the download path against a local HTTP server, and `Batches`. Nothing here
//! needs the real data set or the network.

use rjax::data::cifar10::{Cifar10, DIR_NAME, IMAGE_LEN, META_FILE, RECORD_LEN, Source, TEST_FILE, TRAIN_FILES};
use rjax::data::{Batches, DataError, Dataset};
use rjax::{Array, DType, random};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

const FILES: [&str; 6] = [TRAIN_FILES[0], TRAIN_FILES[1], TRAIN_FILES[2], TRAIN_FILES[3], TRAIN_FILES[4], TEST_FILE];

/// Record `i` of file `f`: label `(f + i) % 10`, pixel `j` = `(31 f + 7 i + j) % 256`.
fn record(f: usize, i: usize) -> Vec<u8> {
    let mut r = vec![((f + i) % 10) as u8];
    r.extend((0..IMAGE_LEN).map(|j| ((31 * f + 7 * i + j) % 256) as u8));
    r
}

/// Writes `root/cifar-10-batches-bin/` by hand, `records` records a file, with
/// the class names file; returns the batch directory.
fn write_layout(root: &Path, records: usize) -> PathBuf {
    let bin = root.join(DIR_NAME);
    std::fs::create_dir_all(&bin).unwrap();
    for (f, name) in FILES.iter().enumerate() {
        let bytes: Vec<u8> = (0..records).flat_map(|i| record(f, i)).collect();
        std::fs::write(bin.join(name), bytes).unwrap();
    }
    let names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
    std::fs::write(bin.join(META_FILE), names).unwrap();
    bin
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

// ---------------------------------------------------------------- loader

#[test]
fn loads_the_layout_from_the_directory_or_its_parent() {
    let root = tmp();
    let bin = write_layout(root.path(), 3);
    for dir in [root.path(), bin.as_path()] {
        let d = Cifar10::load_records(dir, 3).unwrap();
        assert_eq!(d.train.images().shape(), &[15, IMAGE_LEN]);
        assert_eq!(d.train.images().dtype(), DType::U8);
        assert_eq!((d.train.labels().shape(), d.train.labels().dtype()), (&[15][..], DType::I32));
        assert_eq!(d.test.images().shape(), &[3, IMAGE_LEN]);
        let want: Vec<i32> = (0..5).flat_map(|f| (0..3).map(move |i| (f + i) % 10)).collect();
        assert_eq!(d.train.labels().to_vec::<i32>(), want);
        // train image 7 is record 1 of file 2; test image 2 is record 2 of file 5
        let px = d.train.images().to_vec::<u8>();
        assert_eq!(&px[7 * IMAGE_LEN..8 * IMAGE_LEN], &record(2, 1)[1..]);
        assert_eq!(&d.test.images().to_vec::<u8>()[2 * IMAGE_LEN..], &record(5, 2)[1..]);
        assert_eq!(d.classes[3], "cat");
    }
}

#[test]
fn the_official_loader_wants_10000_records_a_file() {
    let root = tmp();
    write_layout(root.path(), 2);
    let err = Cifar10::load(root.path()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DataError::FileSize { found: 6146, expected: 30_730_000, .. }), "{msg}");
    assert!(msg.contains("data_batch_1.bin has 6146 bytes, expected 30730000 (10000 records of 3073 bytes)"), "{msg}");
}

#[test]
fn truncated_or_overlong_files_are_errors_naming_the_file_and_sizes() {
    let root = tmp();
    let bin = write_layout(root.path(), 3);
    let path = bin.join(TRAIN_FILES[2]);
    let full = std::fs::read(&path).unwrap();
    std::fs::write(&path, &full[..full.len() - 1]).unwrap();
    let msg = Cifar10::load_records(root.path(), 3).unwrap_err().to_string();
    assert!(msg.contains("data_batch_3.bin has 9218 bytes, expected 9219"), "{msg}");
    assert!(msg.contains("truncated"), "{msg}");
    // fewer whole records than expected
    std::fs::write(&path, &full[..2 * RECORD_LEN]).unwrap();
    let err = Cifar10::load_records(root.path(), 3).unwrap_err();
    assert!(matches!(err, DataError::FileSize { found: 6146, expected: 9219, records: 3, .. }), "{err}");
    // more records than expected
    std::fs::write(&path, [full.clone(), record(2, 3)].concat()).unwrap();
    let err = Cifar10::load_records(root.path(), 3).unwrap_err();
    assert!(matches!(err, DataError::FileSize { found: 12292, expected: 9219, .. }), "{err}");
}

#[test]
fn a_label_above_9_is_an_error_naming_file_record_and_value() {
    let root = tmp();
    let bin = write_layout(root.path(), 3);
    let path = bin.join(TEST_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[2 * RECORD_LEN] = 10;
    std::fs::write(&path, bytes).unwrap();
    let err = Cifar10::load_records(root.path(), 3).unwrap_err();
    assert!(matches!(err, DataError::Label { record: 2, found: 10, max: 9, .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("test_batch.bin: record 2 has label 10, expected 0..=9"), "{msg}");
}

#[test]
fn a_missing_file_or_directory_says_where_to_get_the_data() {
    let root = tmp();
    let bin = write_layout(root.path(), 2);
    std::fs::remove_file(bin.join(TRAIN_FILES[4])).unwrap();
    let err = Cifar10::load_records(root.path(), 2).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(&err, DataError::Missing { path, .. } if path.ends_with("data_batch_5.bin")), "{msg}");
    for hint in ["https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", "--data-dir", "CIFAR10_DIR"] {
        assert!(msg.contains(hint), "{msg}");
    }
    let msg = Cifar10::load(root.path().join("nothing")).unwrap_err().to_string();
    assert!(msg.contains("nothing not found") && msg.contains("CIFAR10_DIR"), "{msg}");
}

#[test]
fn class_names_come_from_the_meta_file_or_default_to_the_official_ones() {
    let root = tmp();
    let bin = write_layout(root.path(), 1);
    std::fs::write(bin.join(META_FILE), "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n").unwrap();
    assert_eq!(Cifar10::load_records(&bin, 1).unwrap().classes[9], "j");
    std::fs::write(bin.join(META_FILE), "a\nb\n").unwrap();
    let err = Cifar10::load_records(&bin, 1).unwrap_err();
    assert!(matches!(err, DataError::Meta { found: 2, expected: 10, .. }), "{err}");
    std::fs::remove_file(bin.join(META_FILE)).unwrap();
    assert_eq!(Cifar10::load_records(&bin, 1).unwrap().classes, Cifar10::official_classes());
}

#[test]
fn validation_is_the_last_n_training_images_and_save_round_trips() {
    let root = tmp();
    write_layout(root.path(), 4);
    let d = Cifar10::load_records(root.path(), 4).unwrap();
    let (train, val) = d.split_validation(6).unwrap();
    assert_eq!((train.len(), val.len()), (14, 6));
    let labels = d.train.labels().to_vec::<i32>();
    assert_eq!(val.labels().to_vec::<i32>(), labels[14..]);
    assert_eq!(train.labels().to_vec::<i32>(), labels[..14]);
    assert_eq!(val.images().to_vec::<u8>(), d.train.images().to_vec::<u8>()[14 * IMAGE_LEN..]);
    assert_eq!(d.split_validation(0).unwrap().1.len(), 0);
    assert!(d.split_validation(21).unwrap_err().to_string().contains("only 20 images"));

    let other = tmp();
    let bin = d.save(other.path()).unwrap();
    for f in FILES {
        assert_eq!(std::fs::read(bin.join(f)).unwrap(), std::fs::read(root.path().join(DIR_NAME).join(f)).unwrap());
    }
    let back = Cifar10::load_records(other.path(), 4).unwrap();
    assert_eq!(back.train.images(), d.train.images());
    assert_eq!(back.classes, d.classes);
}

#[test]
fn images_f32_scales_pixels_to_the_unit_interval() {
    let root = tmp();
    write_layout(root.path(), 1);
    let d = Cifar10::load_records(root.path(), 1).unwrap();
    let x = d.test.images_f32();
    assert_eq!((x.shape(), x.dtype()), (&[1, IMAGE_LEN][..], DType::F32));
    let want: Vec<f32> = record(5, 0)[1..].iter().map(|&v| v as f32 / 255.0).collect();
    assert_eq!(x.to_vec::<f32>(), want);
    assert_eq!(d.train.label_counts().iter().sum::<usize>(), 5);
    // CIFAR-10 sets have 10 classes, whatever labels the files hold
    assert_eq!((d.train.num_classes(), d.test.num_classes(), d.train.label_counts().len()), (10, 10, 10));
}

// ---------------------------------------------------------------- download

/// Serves `body` to every request on 127.0.0.1 with the given status line,
/// announcing `announced` bytes and sending `send` of them; returns the URL.
fn serve(body: Vec<u8>, status: &'static str, announced: usize, send: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let head = format!("HTTP/1.1 {status}\r\nContent-Length: {announced}\r\nConnection: close\r\n\r\n");
            let _ = s.write_all(head.as_bytes()).and_then(|_| s.write_all(&body[..send]));
        }
    });
    format!("http://127.0.0.1:{port}/cifar-10-binary.tar.gz")
}

/// A URL on which nothing listens.
fn dead_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("http://127.0.0.1:{port}/cifar-10-binary.tar.gz")
}

/// A `.tar.gz` of the official layout with `records` records a file; `edit`
/// may change the files before packing.
fn archive(records: usize, edit: impl FnOnce(&Path)) -> Vec<u8> {
    let src = tmp();
    let bin = write_layout(src.path(), records);
    edit(&bin);
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.append_dir_all(DIR_NAME, &bin).unwrap();
    tar.into_inner().unwrap().finish().unwrap()
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn source(url: String, bytes: &[u8]) -> Source {
    Source { url, md5: md5_hex(bytes), size: Some(bytes.len() as u64), records_per_file: 2 }
}

#[test]
fn downloads_verifies_unpacks_and_then_loads_from_disk() {
    let tgz = archive(2, |_| {});
    let url = serve(tgz.clone(), "200 OK", tgz.len(), tgz.len());
    let root = tmp();
    let dest = root.path().join("cache").join("cifar10");
    let d = Cifar10::load_or_download(&dest, &source(url, &tgz)).unwrap();
    assert_eq!((d.train.len(), d.test.len()), (10, 2));
    assert_eq!(d.test.images().to_vec::<u8>()[..IMAGE_LEN], record(5, 0)[1..]);
    // only the data set is left: no archive, no temporary directory
    assert_eq!(entries(&dest), vec![DIR_NAME.to_string()]);
    let mut files = entries(&dest.join(DIR_NAME));
    files.retain(|f| f.ends_with(".bin"));
    assert_eq!(files.len(), 6);
    // present now: loaded from disk, the (dead) URL is not used
    let again = Cifar10::load_or_download(&dest, &source(dead_url(), &tgz)).unwrap();
    assert_eq!(again.train.images(), d.train.images());
    // the batch directory itself as destination: downloads next to it
    let url = serve(tgz.clone(), "200 OK", tgz.len(), tgz.len());
    let other = tmp();
    let d2 = Cifar10::load_or_download(other.path().join(DIR_NAME), &source(url, &tgz)).unwrap();
    assert_eq!(d2.train.labels(), d.train.labels());
    assert_eq!(entries(other.path()), vec![DIR_NAME.to_string()]);
}

#[test]
fn a_wrong_checksum_is_an_error_and_leaves_nothing() {
    let tgz = archive(2, |_| {});
    let url = serve(tgz.clone(), "200 OK", tgz.len(), tgz.len());
    let root = tmp();
    let src = Source { md5: "0123456789abcdef0123456789abcdef".into(), ..source(url, &tgz) };
    let err = Cifar10::load_or_download(root.path(), &src).unwrap_err();
    assert!(matches!(&err, DataError::Checksum { found, .. } if *found == md5_hex(&tgz)), "{err}");
    assert!(err.to_string().contains("expected 0123456789abcdef0123456789abcdef"), "{err}");
    assert!(entries(root.path()).is_empty(), "{:?}", entries(root.path()));
}

#[test]
fn offline_is_an_error_that_says_where_to_get_the_data() {
    let root = tmp();
    let tgz = archive(2, |_| {});
    let dest = root.path().join("new").join("dir");
    let err = Cifar10::load_or_download(&dest, &source(dead_url(), &tgz)).unwrap_err();
    assert!(matches!(err, DataError::Download { .. }), "{err}");
    let msg = err.to_string();
    for hint in ["could not download http://127.0.0.1:", "offline", OFFICIAL_HINT, "--data-dir", "CIFAR10_DIR"] {
        assert!(msg.contains(hint), "{msg}");
    }
    assert!(entries(root.path()).is_empty(), "the directories it made are removed again");
    // a server error is a download error too
    let url = serve(b"gone".to_vec(), "404 Not Found", 4, 4);
    let err = Cifar10::load_or_download(root.path(), &source(url, &tgz)).unwrap_err();
    assert!(matches!(err, DataError::Download { .. }) && err.to_string().contains("404"), "{err}");
    assert!(entries(root.path()).is_empty());
}

const OFFICIAL_HINT: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";

#[test]
fn a_truncated_download_is_an_error_and_leaves_nothing() {
    let tgz = archive(2, |_| {});
    let (half, len) = (tgz.len() / 2, tgz.len() as u64);
    let root = tmp();
    // the connection closes halfway through the announced length
    let url = serve(tgz.clone(), "200 OK", tgz.len(), half);
    let err = Cifar10::load_or_download(root.path(), &source(url, &tgz)).unwrap_err();
    assert!(
        matches!(err, DataError::Download { .. } | DataError::DownloadSize { .. }),
        "a cut transfer must fail: {err}"
    );
    assert!(entries(root.path()).is_empty());
    // the server announces (and sends) fewer bytes than the source's size
    let url = serve(tgz.clone(), "200 OK", half, half);
    let err = Cifar10::load_or_download(root.path(), &source(url, &tgz)).unwrap_err();
    assert!(
        matches!(err, DataError::DownloadSize { found, expected, .. } if (found, expected) == (half as u64, len)),
        "{err}"
    );
    assert!(entries(root.path()).is_empty());
    // size unknown: the checksum still catches it
    let url = serve(tgz.clone(), "200 OK", half, half);
    let err = Cifar10::load_or_download(root.path(), &Source { size: None, ..source(url, &tgz) }).unwrap_err();
    assert!(matches!(err, DataError::Checksum { .. }), "{err}");
    assert!(entries(root.path()).is_empty());
}

#[test]
fn a_bad_file_inside_a_verified_archive_is_caught_before_it_is_moved_into_place() {
    let tgz = archive(2, |bin| {
        let p = bin.join(TRAIN_FILES[1]);
        let b = std::fs::read(&p).unwrap();
        std::fs::write(&p, &b[..b.len() - 10]).unwrap();
    });
    let url = serve(tgz.clone(), "200 OK", tgz.len(), tgz.len());
    let root = tmp();
    let err = Cifar10::load_or_download(root.path(), &source(url, &tgz)).unwrap_err();
    assert!(matches!(err, DataError::FileSize { found: 6136, expected: 6146, .. }), "{err}");
    assert!(entries(root.path()).is_empty());
    // not an archive at all
    let junk = b"this is not a gzip file".to_vec();
    let url = serve(junk.clone(), "200 OK", junk.len(), junk.len());
    let err = Cifar10::load_or_download(root.path(), &source(url, &junk)).unwrap_err();
    assert!(matches!(err, DataError::Archive { .. }) && err.to_string().contains("gzip"), "{err}");
    assert!(entries(root.path()).is_empty());
}

#[test]
fn an_existing_broken_copy_is_reported_not_overwritten() {
    let root = tmp();
    let bin = write_layout(root.path(), 2);
    std::fs::remove_file(bin.join(TEST_FILE)).unwrap();
    let tgz = archive(2, |_| {});
    let err = Cifar10::load_or_download(root.path(), &source(dead_url(), &tgz)).unwrap_err();
    assert!(matches!(&err, DataError::Missing { path, .. } if path.ends_with(TEST_FILE)), "{err}");
    assert_eq!(entries(&bin).len(), 6);
}

// ---------------------------------------------------------------- batches

/// `n` examples of `d` bytes; example `i` has label `i` and pixels `(i + j) % 256`.
fn numbered(n: usize, d: usize) -> Dataset {
    let px: Vec<u8> = (0..n).flat_map(|i| (0..d).map(move |j| ((i + j) % 256) as u8)).collect();
    Dataset::new(Array::from_vec(px, &[n, d]), Array::from_vec((0..n as i32).collect(), &[n]), n).unwrap()
}

fn order(b: Batches) -> Vec<i32> {
    b.flat_map(|(_, y)| y.to_vec::<i32>()).collect()
}

#[test]
fn every_example_once_per_epoch_with_images_matching_labels() {
    let ds = numbered(103, 5);
    for keep in [false, true] {
        let batches = ds.batches(10).unwrap().shuffle(&random::key(3)).drop_last(!keep);
        let mut seen = Vec::new();
        for (x, y) in batches {
            assert_eq!((x.dtype(), y.dtype()), (DType::F32, DType::I32));
            assert_eq!(x.shape(), &[y.shape()[0], 5]);
            let (xs, ys) = (x.to_vec::<f32>(), y.to_vec::<i32>());
            for (r, &i) in ys.iter().enumerate() {
                let want: Vec<f32> = (0..5).map(|j| ((i as usize + j) % 256) as f32 / 255.0).collect();
                assert_eq!(xs[r * 5..(r + 1) * 5], want);
            }
            seen.extend(ys);
        }
        let distinct: BTreeSet<i32> = seen.iter().copied().collect();
        assert_eq!(distinct.len(), seen.len(), "an example came twice");
        assert_eq!(seen.len(), if keep { 103 } else { 100 });
        assert_ne!(seen, (0..seen.len() as i32).collect::<Vec<_>>(), "not shuffled");
    }
}

#[test]
fn the_order_is_a_function_of_the_key() {
    let ds = numbered(50, 2);
    let by = |k: &random::Key| order(ds.batches(8).unwrap().shuffle(k));
    let k = random::key(7);
    assert_eq!(by(&k), by(&k));
    assert_ne!(by(&random::fold_in(&k, 0)), by(&random::fold_in(&k, 1)));
    assert_ne!(by(&k), by(&random::key(8)));
    assert_eq!(by(&k), random::permutation(&k, 50).to_vec::<i32>());
    assert_eq!(order(ds.batches(8).unwrap()), (0..50).collect::<Vec<_>>());
}

#[test]
fn drop_last_and_batch_counts() {
    let ds = numbered(10, 3);
    let sizes = |b: Batches| b.map(|(x, y)| (x.shape()[0], y.shape()[0])).collect::<Vec<_>>();
    assert_eq!(sizes(ds.batches(4).unwrap()), vec![(4, 4), (4, 4), (2, 2)]);
    assert_eq!(sizes(ds.batches(4).unwrap().drop_last(true)), vec![(4, 4), (4, 4)]);
    assert_eq!(sizes(ds.batches(5).unwrap().drop_last(true)), vec![(5, 5), (5, 5)]);
    assert_eq!(ds.batches(11).unwrap().drop_last(true).count(), 0);
    assert_eq!(sizes(ds.batches(11).unwrap()), vec![(10, 10)]);
    let mut b = ds.batches(3).unwrap();
    assert_eq!(b.len(), 4);
    b.next();
    assert_eq!((b.len(), b.size_hint()), (3, (3, Some(3))));
    assert_eq!(ds.batches(3).unwrap().drop_last(true).len(), 3);
}

#[test]
fn batches_keep_the_example_shape_and_pass_f32_through() {
    let x = Array::from_vec((0..24).map(|v| v as f32 * 0.5).collect::<Vec<_>>(), &[4, 2, 3]);
    let y = Array::from_vec(vec![0, 1, 2, 3], &[4]);
    let (bx, by) = Batches::new(&x, &y, 4, 3).unwrap().next().unwrap();
    assert_eq!((bx.shape(), by.shape()), (&[3, 2, 3][..], &[3][..]));
    assert_eq!(bx.to_vec::<f32>(), x.to_vec::<f32>()[..18]);
}

#[test]
fn bad_batch_arguments_are_errors() {
    let x = Array::zeros(&[4, 2], DType::U8);
    let msg = |r: Result<Batches, DataError>| r.unwrap_err().to_string();
    assert!(msg(Batches::new(&x, &Array::zeros(&[4], DType::I32), 10, 0)).contains("at least 1"));
    assert!(msg(Batches::new(&x, &Array::zeros(&[3], DType::I32), 10, 2)).contains("3 labels for 4 images"));
    assert!(msg(Batches::new(&x, &Array::zeros(&[4], DType::F32), 10, 2)).contains("labels must be i32"));
    let f64s = Array::zeros(&[4, 2], DType::F64);
    assert!(msg(Batches::new(&f64s, &Array::zeros(&[4], DType::I32), 10, 2)).contains("u8"));
    let neg = Array::from_vec(vec![0, -1, 0, 0], &[4]);
    assert!(msg(Batches::new(&x, &neg, 10, 2)).contains("label 1 is -1, not a class index in 0..10"));
    assert!(msg(Batches::new(&x, &Array::zeros(&[4], DType::I32), 0, 2)).contains("number of classes is 0"));
}

#[test]
fn labels_must_be_class_indices() {
    let x = Array::zeros(&[5, 2], DType::U8);
    let labels = |v: Vec<i32>| Array::from_vec(v, &[5]);
    // every label in 0..num_classes, including the last class
    let ds = Dataset::new(x.clone(), labels(vec![0, 2, 2, 1, 2]), 3).expect("labels 0..3");
    assert_eq!((ds.num_classes(), ds.label_counts()), (3, vec![1, 1, 3]));
    // classes without examples are counted as 0
    assert_eq!(Dataset::new(x.clone(), labels(vec![0; 5]), 4).expect("valid").label_counts(), vec![5, 0, 0, 0]);
    // the first label out of range is named, with its index and the class count
    for (ys, classes, index, label) in
        [(vec![0, 1, 3, 9, 0], 3, 2, 3), (vec![0, 0, 0, 0, -2], 3, 4, -2), (vec![10, 0, 0, 0, 0], 10, 0, 10)]
    {
        let err = Dataset::new(x.clone(), labels(ys.clone()), classes).expect_err("a label out of range");
        match &err {
            DataError::LabelOutOfRange { index: i, label: l, num_classes: c } => {
                assert_eq!((*i, *l, *c), (index, label, classes), "{ys:?}");
            }
            e => panic!("{ys:?}: expected LabelOutOfRange, got {e}"),
        }
        let msg = err.to_string();
        assert!(msg.contains(&format!("label {index} is {label}, not a class index in 0..{classes}")), "{msg}");
        assert!(msg.contains(&format!("{classes} classes")), "{msg}");
    }
    // split data sets keep the class count
    let (head, tail) = ds.split_at(2).expect("split");
    assert_eq!((head.num_classes(), tail.num_classes()), (3, 3));
    assert_eq!(head.label_counts(), vec![1, 0, 1]);
}

#[test]
fn gathering_a_cifar_sized_batch_is_fast() {
    let n = 5_000;
    let ds = Dataset::new(Array::zeros(&[n, IMAGE_LEN], DType::U8), Array::zeros(&[n], DType::I32), 10).unwrap();
    let start = std::time::Instant::now();
    let count = ds.batches(128).unwrap().shuffle(&random::key(0)).drop_last(true).count();
    let per_batch = start.elapsed() / count as u32;
    assert_eq!(count, 39);
    // a 128 x 3072 gather is about 0.1 ms optimized; allow a slow, shared debug machine
    assert!(per_batch < std::time::Duration::from_millis(50), "{per_batch:?} per batch");
}
