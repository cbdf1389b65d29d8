//! The compilation cache on disk (`set_compilation_cache_dir`): a program
//! compiled once is loaded from its file by a later `jit` (the same results,
//! no compiling), a damaged file is detected and compiled again, and a
//! cache that cannot be written never stops a program.
//!
//! One test: the cache folder is one per process.

mod xla_gate;

use rjax::numpy as jnp;
use rjax::{Array, DType, compilation_cache_stats, device_put, jit, random, set_compilation_cache_dir};
use std::path::{Path, PathBuf};

fn programs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "rjax-program"));
    files.sort();
    files
}

/// A program of a few operations, run by a fresh `jit` each call (so that
/// nothing is held in memory between calls): its values, and whether XLA
/// compiled it (rather than loading it from the cache).
fn run_counted(x: &Array) -> (Vec<f32>, bool) {
    let f = jit(|x: &Array| jnp::tanh(&(x * 1.5)) + jnp::sum(&jnp::exp(x), jnp::ALL, true));
    let y = f.call(x);
    assert_eq!(y.device(), x.device());
    (y.to_vec::<f32>(), f.compile_count() == 1)
}

fn run(x: &Array) -> Vec<f32> {
    run_counted(x).0
}

#[test]
fn programs_load_from_the_cache_and_damaged_files_compile_again() {
    if !xla_gate::xla_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    set_compilation_cache_dir(Some(&cache));
    assert_eq!(rjax::compilation_cache_dir(), Some(cache.clone()));
    let dev = xla_gate::xla_device();
    let x = device_put(&random::normal(&random::key(7), &[3, 5], DType::F32), &dev).unwrap();

    // compiled, then kept
    let s0 = compilation_cache_stats();
    let (want, compiled) = run_counted(&x);
    assert!(compiled);
    let s1 = compilation_cache_stats();
    assert_eq!((s1.misses - s0.misses, s1.writes - s0.writes, s1.hits - s0.hits), (1, 1, 0));
    let files = programs(&cache);
    assert_eq!(files.len(), 1, "{files:?}");
    let whole = std::fs::read(&files[0]).unwrap();

    // loaded, not compiled: the same bits
    assert_eq!(run_counted(&x), (want.clone(), false));
    let s2 = compilation_cache_stats();
    assert_eq!((s2.hits - s1.hits, s2.misses - s1.misses, s2.writes - s1.writes), (1, 0, 0));

    // a file cut short: detected, compiled again, written whole
    std::fs::write(&files[0], &whole[..whole.len() / 2]).unwrap();
    assert_eq!(run(&x), want);
    let s3 = compilation_cache_stats();
    assert_eq!((s3.rejected - s2.rejected, s3.writes - s2.writes, s3.hits - s2.hits), (1, 1, 0));
    assert_eq!(run_counted(&x), (want.clone(), false), "the rewritten file loads");
    let whole = std::fs::read(&files[0]).unwrap();
    let s3 = compilation_cache_stats();

    // bytes altered inside (same length): the checksum catches it
    let mut altered = whole.clone();
    let mid = altered.len() / 2;
    altered[mid] ^= 0x5a;
    std::fs::write(&files[0], &altered).unwrap();
    assert_eq!(run(&x), want);
    let s4 = compilation_cache_stats();
    assert_eq!((s4.rejected - s3.rejected, s4.writes - s3.writes), (1, 1));
    assert_eq!(run(&x), want);
    assert_eq!(compilation_cache_stats().hits - s4.hits, 1);

    // another shape is another program, another file
    let y = device_put(&random::normal(&random::key(8), &[4, 2], DType::F32), &dev).unwrap();
    run(&y);
    assert_eq!(programs(&cache).len(), 2);

    // on another device of the platform: another program (the device is in
    // its compile options), loaded back onto that device
    let all = rjax::devices_of(&xla_gate::xla_name()).unwrap();
    let mut files_now = 2;
    if let Some(second) = all.get(1) {
        let x1 = device_put(&x, second).unwrap();
        assert_eq!(run_counted(&x1), (want.clone(), true));
        files_now += 1;
        assert_eq!(programs(&cache).len(), files_now);
        assert_eq!(run_counted(&x1), (want.clone(), false), "loaded for {second}");
    }

    // eager operations on device arrays are not kept
    let _ = (&x * 2.0).to_vec::<f32>();
    assert_eq!(programs(&cache).len(), files_now);

    // a folder that cannot be made (a file is in the way): the program runs anyway
    let blocked = dir.path().join("a-file");
    std::fs::write(&blocked, b"in the way").unwrap();
    set_compilation_cache_dir(Some(blocked.join("cache")));
    let s5 = compilation_cache_stats();
    assert_eq!(run_counted(&x), (want.clone(), true));
    let s5b = compilation_cache_stats();
    assert_eq!((s5b.writes, s5b.rejected, s5b.misses - s5.misses), (s5.writes, s5.rejected, 1));

    // off: nothing is read or written
    set_compilation_cache_dir(None::<&Path>);
    let s6 = compilation_cache_stats();
    assert_eq!(run_counted(&x), (want.clone(), true));
    assert_eq!(compilation_cache_stats(), s6);
}
