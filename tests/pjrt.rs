//! The PJRT layer against the real XLA CPU plugin (API 0.81).
//!
//! The plugin must be installed (`scripts/install-plugin cpu`; CI does it):
//! without it these tests fail with that instruction, they never skip.
//!
//! Tests share one client. They take a read lock on `EXCLUSIVE`; the memory
//! test takes the write lock so that no other test allocates while it
//! measures the process's resident memory.

mod common;
mod xla_gate;

use common::resident_bytes;
use std::path::{Path, PathBuf};
use std::sync::{OnceLock, RwLock, RwLockReadGuard};
use std::time::Instant;

use ndarray::{ArrayD, IxDyn};
use rjax::HostData;
use rjax::backend::pjrt::{Client, OptionValue, PjrtError, Plugin, PluginKind, default_compile_options, locate_with};

static EXCLUSIVE: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    EXCLUSIVE.read().unwrap_or_else(|e| e.into_inner())
}

fn client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(|| match Client::cpu() {
        Ok(c) => c,
        Err(e) => panic!(
            "the XLA CPU PJRT plugin is required by these tests: run `scripts/install-plugin cpu` \
             (or set RJAX_PJRT_CPU to xla_cpu_pjrt.so).\n{e}"
        ),
    })
}

fn f32s(shape: &[usize], v: Vec<f32>) -> HostData {
    HostData::F32(ArrayD::from_shape_vec(IxDyn(shape), v).unwrap())
}

fn as_f32(h: &HostData) -> &ArrayD<f32> {
    match h {
        HostData::F32(a) => a,
        other => panic!("expected f32 data, got {:?}", other.dtype()),
    }
}

/// A fresh scratch directory for this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rjax-pjrt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn compile_options_proto_bytes() {
    // executable_build_options (field 3, length 15) { device_ordinal: -1, num_replicas: 1, num_partitions: 1 }
    let mut expected = vec![0x1a, 15, 0x08];
    expected.extend([0xff; 9]);
    expected.extend([0x01, 0x20, 0x01, 0x28, 0x01]);
    // env_option_overrides (field 7, length 33) { key (1): "xla_cpu_enable_fast_min_max", value (2): { bool_field (2): false } }
    let key = b"xla_cpu_enable_fast_min_max";
    expected.extend([0x3a, 33, 0x0a, key.len() as u8]);
    expected.extend(key);
    expected.extend([0x12, 2, 0x10, 0x00]);
    assert_eq!(default_compile_options(), expected);
}

#[test]
fn plugin_version_and_attributes() {
    if !xla_gate::xla_available() {
        return;
    }
    let _g = shared();
    let plugin = client().plugin();
    let (major, minor) = plugin.api_version();
    assert_eq!(major, 0);
    assert!(minor >= 81, "minor {minor}");
    let attrs = plugin.attributes().unwrap();
    assert!(attrs.iter().any(|(k, _)| k == "stablehlo_current_version"), "{attrs:?}");
    // Loading the same file again gives the same plugin (loaded once per process).
    let again = Plugin::load(plugin.path()).unwrap();
    assert!(std::ptr::eq(plugin, again));
}

#[test]
fn client_and_devices() {
    if !xla_gate::xla_available() {
        return;
    }
    let _g = shared();
    let c = client();
    assert_eq!(c.platform_name().unwrap(), "cpu");
    c.platform_version().unwrap();
    let devices = c.devices().unwrap();
    assert!(!devices.is_empty());
    let mut ids: Vec<i32> = devices.iter().map(|d| d.id().unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len(), devices.len(), "device ids are distinct");
    for d in &devices {
        assert_eq!(d.kind().unwrap(), "cpu");
        assert!(d.description().unwrap().contains("Cpu"), "{}", d.description().unwrap());
    }

    // Several CPU devices on request, through a client creation option.
    let four = Client::with_options(c.plugin(), &[("cpu_device_count", OptionValue::Int(4))]).unwrap();
    let devices = four.devices().unwrap();
    assert_eq!(devices.len(), 4);
    // Data can be put on any of them.
    let host = f32s(&[2], vec![1.0, 2.0]);
    let b = four.buffer_on(&host, &devices[3]).unwrap();
    assert_eq!(b.to_host().unwrap(), host);
    // ... but not on another client's device.
    let err = c.buffer_on(&host, &devices[0]).unwrap_err();
    assert!(matches!(err, PjrtError::Invalid(_)), "{err}");
}

#[test]
fn objects_keep_their_client_alive() {
    if !xla_gate::xla_available() {
        return;
    }
    let _g = shared();
    let host = f32s(&[3], vec![1.0, 2.0, 3.0]);
    let (buffer, event, exe) = {
        let c = Client::new(client().plugin()).unwrap();
        let exe = c
            .compile(
                "func.func @main(%a: tensor<3xf32>) -> tensor<3xf32> {
                   %b = stablehlo.add %a, %a : tensor<3xf32>
                   return %b : tensor<3xf32>
                 }",
            )
            .unwrap();
        let b = c.buffer(&host).unwrap();
        let e = b.ready_event().unwrap();
        (b, e, exe)
    }; // the `Client` handle is dropped here
    event.wait().unwrap();
    let out = exe.execute(&[&buffer]).unwrap();
    assert_eq!(out[0].to_host().unwrap(), f32s(&[3], vec![2.0, 4.0, 6.0]));
}

#[test]
fn memory_stats_is_a_value_or_a_clean_error() {
    if !xla_gate::xla_available() {
        return;
    }
    let _g = shared();
    let d = client().default_device().unwrap();
    match d.memory_stats() {
        Ok(s) => {
            if let Some(peak) = s.peak_bytes_in_use {
                assert!(peak >= s.bytes_in_use);
            }
        }
        Err(PjrtError::Unimplemented { op, message }) => {
            assert_eq!(op, "PJRT_Device_MemoryStats");
            assert!(!message.is_empty());
        }
        Err(e) => panic!("unexpected error from memory_stats: {e}"),
    }
}

#[test]
fn round_trip_every_dtype() {
    if !xla_gate::xla_available() {
        return;
    }
    let _g = shared();
    let c = client();
    let shape = IxDyn(&[2, 3]);
    let cases = vec![
        HostData::F32(
            ArrayD::from_shape_vec(shape.clone(), vec![1.5f32, -2.0, 0.0, f32::MAX, f32::MIN_POSITIVE, 7.25]).unwrap(),
        ),
        HostData::F64(
            ArrayD::from_shape_vec(shape.clone(), vec![1e300, -2.5, 0.0, 1e-300, 3.0, std::f64::consts::PI]).unwrap(),
        ),
        HostData::I32(ArrayD::from_shape_vec(shape.clone(), vec![i32::MIN, -1, 0, 1, 42, i32::MAX]).unwrap()),
        HostData::U32(ArrayD::from_shape_vec(shape.clone(), vec![0u32, 1, 2, 1 << 31, 12345, u32::MAX]).unwrap()),
        HostData::U8(ArrayD::from_shape_vec(shape.clone(), vec![0u8, 1, 127, 128, 200, 255]).unwrap()),
        HostData::Bool(ArrayD::from_shape_vec(shape, vec![true, false, false, true, true, false]).unwrap()),
        // Scalars, higher rank and empty arrays.
        HostData::F32(ArrayD::from_elem(IxDyn(&[]), 3.5f32)),
        HostData::I32(ArrayD::from_shape_vec(IxDyn(&[2, 2, 2]), (0..8).collect()).unwrap()),
        HostData::F64(ArrayD::zeros(IxDyn(&[0, 3]))),
        HostData::Bool(ArrayD::from_elem(IxDyn(&[1]), true)),
    ];
    for host in cases {
        let buf = c.buffer(&host).unwrap();
        assert_eq!(buf.dtype().unwrap(), host.dtype());
        assert_eq!(buf.shape().unwrap(), host.shape());
        assert_eq!(buf.to_host().unwrap(), host, "round trip of {:?}{:?}", host.dtype(), host.shape());
    }
    // A non-contiguous (transposed) host array goes over in logical order.
    let a = ArrayD::from_shape_vec(IxDyn(&[2, 3]), (0..6).map(|i| i as f32).collect()).unwrap();
    let transposed = HostData::F32(a.reversed_axes());
    let back = c.buffer(&transposed).unwrap().to_host().unwrap();
    assert_eq!(back, transposed);
    assert_eq!(as_f32(&back).as_slice().unwrap(), &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
}

const DENSE: &str = r#"
module @dense {
  func.func @main(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>, %c: tensor<2x4xf32>)
      -> (tensor<2x4xf32>, tensor<2xf32>) {
    %d = stablehlo.dot_general %a, %b, contracting_dims = [1] x [0]
        : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
    %e = stablehlo.add %d, %c : tensor<2x4xf32>
    %zero = stablehlo.constant dense<0.0> : tensor<2x4xf32>
    %r = stablehlo.maximum %e, %zero : tensor<2x4xf32>
    %x = stablehlo.exponential %r : tensor<2x4xf32>
    %init = stablehlo.constant dense<0.0> : tensor<f32>
    %s = stablehlo.reduce(%x init: %init) applies stablehlo.add across dimensions = [1]
        : (tensor<2x4xf32>, tensor<f32>) -> tensor<2xf32>
    return %x, %s : tensor<2x4xf32>, tensor<2xf32>
  }
}
"#;

/// XLA's cost model, which decides whether the CPU plugin dispatches a
/// program or runs it on the caller's thread (see `Runtime`'s host calls).
#[test]
fn cost_analysis_counts_the_flops() {
    if !xla_gate::xla_available() {
        return;
    }
    let _g = shared();
    let exe = client()
        .compile(
            "func.func @main(%a: tensor<4096xf32>) -> tensor<4096xf32> {
               %b = stablehlo.multiply %a, %a : tensor<4096xf32>
               %c = stablehlo.add %b, %a : tensor<4096xf32>
               return %c : tensor<4096xf32>
             }",
        )
        .unwrap();
    // one multiply and one add per element, whether or not XLA fuses them
    assert_eq!(exe.flops().unwrap(), Some(8192.0));
}

#[test]
fn compile_and_execute_stablehlo() {
    if !xla_gate::xla_available() {
        return;
    }
    let _g = shared();
    let c = client();
    let exe = c.compile(DENSE).unwrap();
    assert_eq!(exe.num_outputs(), 2);

    let a: Vec<f32> = (0..6).map(|i| (i as f32 - 2.5) * 0.1).collect();
    let b: Vec<f32> = (0..12).map(|i| ((i * 7) % 5) as f32 * 0.2 - 0.4).collect();
    let bias: Vec<f32> = (0..8).map(|i| (i as f32 - 4.0) * 0.05).collect();
    let (ba, bb, bc) = (
        c.buffer(&f32s(&[2, 3], a.clone())).unwrap(),
        c.buffer(&f32s(&[3, 4], b.clone())).unwrap(),
        c.buffer(&f32s(&[2, 4], bias.clone())).unwrap(),
    );
    let out = exe.execute(&[&ba, &bb, &bc]).unwrap();
    assert_eq!(out.len(), 2);

    // The same computation on the host.
    let mut x = [[0f32; 4]; 2];
    let mut s = [0f32; 2];
    for i in 0..2 {
        for j in 0..4 {
            let dot: f32 = (0..3).map(|k| a[i * 3 + k] * b[k * 4 + j]).sum();
            x[i][j] = (dot + bias[i * 4 + j]).max(0.0).exp();
            s[i] += x[i][j];
        }
    }
    // Outputs can be awaited before reading.
    let ev = out[0].ready_event().unwrap();
    ev.wait().unwrap();
    assert!(ev.is_ready().unwrap());
    out[1].block_until_ready().unwrap();

    let got_x = out[0].to_host().unwrap();
    assert_eq!(got_x.shape(), &[2, 4]);
    for (g, e) in as_f32(&got_x).iter().zip(x.iter().flatten()) {
        assert!((g - e).abs() < 1e-5 * e.abs().max(1.0), "{g} vs {e}");
    }
    let got_s = out[1].to_host().unwrap();
    assert_eq!(got_s.shape(), &[2]);
    for (g, e) in as_f32(&got_s).iter().zip(s.iter()) {
        assert!((g - e).abs() < 1e-5 * e.abs().max(1.0), "{g} vs {e}");
    }

    // Inputs are not donated: they stay readable, and the program can run again.
    assert_eq!(ba.to_host().unwrap(), f32s(&[2, 3], a));
    let again = exe.execute(&[&ba, &bb, &bc]).unwrap();
    assert_eq!(again[1].to_host().unwrap(), got_s);
}

#[test]
fn serialized_programs_load_again_and_run_the_same() {
    if !xla_gate::xla_available() {
        return;
    }
    let _g = shared();
    let c = client();
    let exe = c.compile(DENSE).unwrap();
    let bytes = exe.serialize().unwrap();
    // SAFETY: the bytes of `serialize` of this plugin, unchanged.
    let loaded = unsafe { c.deserialize(&bytes, None) }.unwrap();
    assert_eq!(loaded.num_outputs(), exe.num_outputs());
    let a = c.buffer(&f32s(&[2, 3], (0..6).map(|i| i as f32 * 0.3 - 1.0).collect())).unwrap();
    let b = c.buffer(&f32s(&[3, 4], (0..12).map(|i| 0.5 - i as f32 * 0.1).collect())).unwrap();
    let bias = c.buffer(&f32s(&[2, 4], vec![0.25; 8])).unwrap();
    let want = exe.execute(&[&a, &b, &bias]).unwrap();
    let got = loaded.execute(&[&a, &b, &bias]).unwrap();
    assert_eq!((want.len(), got.len()), (2, 2));
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w.to_host().unwrap(), g.to_host().unwrap());
    }
    // Bytes that are not a serialized program: this plugin says so (an
    // error, not a crash; other bytes could do worse, hence `unsafe`).
    // SAFETY: not a program, but too short to be mistaken for one.
    let err = unsafe { c.deserialize(b"not a program", None) }.map(|_| ()).expect_err("garbage loads");
    assert!(!err.to_string().is_empty());
}

#[test]
fn execute_integer_and_f64_programs() {
    if !xla_gate::xla_available() {
        return;
    }
    let _g = shared();
    let c = client();
    let exe = c
        .compile(
            "func.func @main(%a: tensor<4xi32>, %b: tensor<4xf64>) -> (tensor<4xi32>, tensor<4xf64>, tensor<4xi1>) {
               %m = stablehlo.multiply %a, %a : tensor<4xi32>
               %f = stablehlo.sqrt %b : tensor<4xf64>
               %z = stablehlo.constant dense<0> : tensor<4xi32>
               %p = stablehlo.compare GT, %a, %z : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi1>
               return %m, %f, %p : tensor<4xi32>, tensor<4xf64>, tensor<4xi1>
             }",
        )
        .unwrap();
    let a = c.buffer(&HostData::I32(ArrayD::from_shape_vec(IxDyn(&[4]), vec![-3, 0, 2, 5]).unwrap())).unwrap();
    let b = c.buffer(&HostData::F64(ArrayD::from_shape_vec(IxDyn(&[4]), vec![4.0, 2.0, 0.0, 1e10]).unwrap())).unwrap();
    let out = exe.execute(&[&a, &b]).unwrap();
    assert_eq!(
        out[0].to_host().unwrap(),
        HostData::I32(ArrayD::from_shape_vec(IxDyn(&[4]), vec![9, 0, 4, 25]).unwrap())
    );
    assert_eq!(
        out[1].to_host().unwrap(),
        HostData::F64(ArrayD::from_shape_vec(IxDyn(&[4]), vec![2.0, 2f64.sqrt(), 0.0, 1e5]).unwrap())
    );
    assert_eq!(
        out[2].to_host().unwrap(),
        HostData::Bool(ArrayD::from_shape_vec(IxDyn(&[4]), vec![false, false, true, true]).unwrap())
    );
}

#[test]
fn bad_execute_arguments_are_errors() {
    if !xla_gate::xla_available() {
        return;
    }
    let _g = shared();
    let c = client();
    let exe = c.compile(DENSE).unwrap();
    let a = c.buffer(&f32s(&[2, 3], vec![0.0; 6])).unwrap();
    // Too few arguments.
    let err = exe.execute(&[&a]).unwrap_err();
    assert!(matches!(err, PjrtError::Plugin { .. }), "{err}");
    // A buffer of another client.
    let other = Client::new(c.plugin()).unwrap();
    let foreign = other.buffer(&f32s(&[3, 4], vec![0.0; 12])).unwrap();
    let bias = c.buffer(&f32s(&[2, 4], vec![0.0; 8])).unwrap();
    let err = exe.execute(&[&a, &foreign, &bias]).unwrap_err();
    assert!(err.to_string().contains("another PJRT client"), "{err}");
}

#[test]
fn rejected_program_shows_the_compiler_message() {
    if !xla_gate::xla_available() {
        return;
    }
    let _g = shared();
    let c = client();
    // Operand types disagree.
    let err = c
        .compile(
            "func.func @main(%a: tensor<3xf32>, %b: tensor<4xf32>) -> tensor<3xf32> {
               %c = stablehlo.add %a, %b : (tensor<3xf32>, tensor<4xf32>) -> tensor<3xf32>
               return %c : tensor<3xf32>
             }",
        )
        .unwrap_err();
    let PjrtError::Compile { message } = &err else { panic!("expected a compile error, got {err}") };
    assert!(message.contains("stablehlo.add") || message.contains("shape"), "{message}");
    assert!(err.to_string().starts_with("XLA could not compile the program: "), "{err}");

    // Not MLIR at all.
    let err = c.compile("this is not a program").unwrap_err();
    let PjrtError::Compile { message } = &err else { panic!("expected a compile error, got {err}") };
    assert!(message.to_lowercase().contains("pars") || message.contains("expected"), "{message}");
}

#[test]
fn program_text_is_read_only_up_to_its_length() {
    if !xla_gate::xla_available() {
        return;
    }
    let _g = shared();
    // MLIR's lexer relies on a NUL after the text: without one it would read
    // on past the end of a token. Here it would see the identifier `garbagemore`.
    let text = String::from("garbagemore");
    let err = client().compile(&text[..7]).unwrap_err().to_string();
    assert!(err.contains("'garbage'") && !err.contains("garbagemore"), "{err}");
    // A valid program given as a prefix of a longer text.
    let program = "func.func @main(%a: tensor<3xf32>) -> tensor<3xf32> {
                     %b = stablehlo.negate %a : tensor<3xf32>
                     return %b : tensor<3xf32>
                   }";
    let longer = format!("{program} this trailing text is not MLIR");
    let exe = client().compile(&longer[..program.len()]).unwrap();
    let x = client().buffer(&f32s(&[3], vec![1.0, -2.0, 0.5])).unwrap();
    assert_eq!(exe.execute(&[&x]).unwrap()[0].to_host().unwrap(), f32s(&[3], vec![-1.0, 2.0, -0.5]));
}

#[test]
fn missing_plugin_names_the_path_and_the_install_command() {
    let path = Path::new("/nonexistent/rjax/xla_cpu_pjrt.so");
    let msg = Plugin::load(path).unwrap_err().to_string();
    assert!(msg.contains("/nonexistent/rjax/xla_cpu_pjrt.so"), "{msg}");
    assert!(msg.contains("scripts/install-plugin cpu"), "{msg}");

    // Discovery: an environment variable naming a missing file is an error, not a fallback.
    let env = |name: &str| match name {
        "RJAX_PJRT_CPU" => Some("/nonexistent/elsewhere.so".into()),
        _ => None,
    };
    let msg = locate_with(PluginKind::Cpu, env).unwrap_err().to_string();
    assert!(msg.contains("RJAX_PJRT_CPU = /nonexistent/elsewhere.so"), "{msg}");
    assert!(msg.contains("scripts/install-plugin cpu"), "{msg}");

    // Nothing anywhere: the message lists the places searched.
    let env = |name: &str| match name {
        "HOME" => Some("/nonexistent/home".into()),
        _ => None,
    };
    match locate_with(PluginKind::Cuda, env) {
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("no PJRT CUDA plugin found"), "{msg}");
            assert!(msg.contains("/nonexistent/home/.cache/rjax/plugins/cuda/xla_cuda_plugin.so"), "{msg}");
            assert!(msg.contains("site-packages"), "{msg}");
            assert!(msg.contains("scripts/install-plugin cuda"), "{msg}");
        }
        // A system-wide jax[cuda] installation would be found; that is fine too.
        Ok(p) => assert!(p.to_string_lossy().contains("-packages"), "{}", p.display()),
    }
}

#[test]
fn discovery_order() {
    let dir = scratch("discovery");
    let cached = dir.join("cpu/xla_cpu_pjrt.so");
    std::fs::create_dir_all(cached.parent().unwrap()).unwrap();
    std::fs::write(&cached, "stand-in").unwrap();
    let named = dir.join("named.so");
    std::fs::write(&named, "stand-in").unwrap();
    let root = dir.clone().into_os_string();
    // The cache directory from RJAX_PLUGIN_DIR ...
    let found = locate_with(PluginKind::Cpu, |n| (n == "RJAX_PLUGIN_DIR").then(|| root.clone())).unwrap();
    assert_eq!(found, cached);
    // ... loses to the environment variable.
    let found = locate_with(PluginKind::Cpu, |n| match n {
        "RJAX_PLUGIN_DIR" => Some(root.clone()),
        "RJAX_PJRT_CPU" => Some(named.clone().into_os_string()),
        _ => None,
    })
    .unwrap();
    assert_eq!(found, named);
    // A CUDA plugin installed by `scripts/install-plugin cuda` keeps the wheel's layout.
    let cuda = dir.join("cuda/jax_plugins/xla_cuda13/xla_cuda_plugin.so");
    std::fs::create_dir_all(cuda.parent().unwrap()).unwrap();
    std::fs::write(&cuda, "stand-in").unwrap();
    let found = locate_with(PluginKind::Cuda, |n| (n == "RJAX_PLUGIN_DIR").then(|| root.clone())).unwrap();
    assert_eq!(found, cuda);
    // Site-packages, through VIRTUAL_ENV.
    let venv = dir.join("venv");
    let site = venv.join("lib/python3.12/site-packages/xla_plugins/xla_cpu_pjrt/xla_cpu_pjrt.so");
    std::fs::create_dir_all(site.parent().unwrap()).unwrap();
    std::fs::write(&site, "stand-in").unwrap();
    let found = locate_with(PluginKind::Cpu, |n| match n {
        "VIRTUAL_ENV" => Some(venv.clone().into_os_string()),
        "HOME" => Some("/nonexistent/home".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(found, site);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn files_that_are_not_plugins_are_errors() {
    let dir = scratch("bad-plugins");
    // A text file named like a library.
    let text = dir.join("x.so");
    std::fs::write(&text, "not a library\n").unwrap();
    let err = Plugin::load(&text).unwrap_err();
    assert!(matches!(err, PjrtError::Load { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("x.so") && msg.contains("not a shared library"), "{msg}");

    // An ELF library for another architecture (a header is enough to be rejected).
    let foreign_machine: u16 = if std::env::consts::ARCH == "aarch64" { 62 } else { 183 };
    let mut elf = vec![0u8; 64];
    elf[..4].copy_from_slice(b"\x7fELF");
    elf[4] = 2; // 64-bit
    elf[5] = 1; // little-endian
    elf[6] = 1;
    elf[16] = 3; // ET_DYN
    elf[18..20].copy_from_slice(&foreign_machine.to_le_bytes());
    let foreign = dir.join("foreign.so");
    std::fs::write(&foreign, &elf).unwrap();
    let msg = Plugin::load(&foreign).unwrap_err().to_string();
    assert!(msg.contains("foreign.so") && msg.contains("built for"), "{msg}");
    assert!(msg.contains(std::env::consts::ARCH), "{msg}");

    // A real shared library that is not a PJRT plugin: the C library this process uses.
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let libc = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.contains("/libc.so") || p.contains("/libc-"))
        .expect("libc is mapped");
    let msg = Plugin::load(libc).unwrap_err().to_string();
    assert!(msg.contains("GetPjrtApi"), "{msg}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// 10,000 executions (each creating output buffers and events, then
/// destroying them) must not grow the process: less than 50 MB. Leaking just
/// the 16 KB output of each run would add 160 MB (checked once by hand: 181 MB).
#[test]
fn repeated_execution_keeps_memory_flat() {
    if !xla_gate::xla_available() {
        return;
    }
    let _g = EXCLUSIVE.write().unwrap_or_else(|e| e.into_inner());
    let c = client();
    let exe = c
        .compile(
            "func.func @main(%a: tensor<4096xf32>, %b: tensor<4096xf32>) -> (tensor<4096xf32>, tensor<f32>) {
               %c = stablehlo.add %a, %b : tensor<4096xf32>
               %z = stablehlo.constant dense<0.0> : tensor<f32>
               %s = stablehlo.reduce(%c init: %z) applies stablehlo.add across dimensions = [0]
                   : (tensor<4096xf32>, tensor<f32>) -> tensor<f32>
               return %c, %s : tensor<4096xf32>, tensor<f32>
             }",
        )
        .unwrap();
    let x = c.buffer(&f32s(&[4096], vec![0.5; 4096])).unwrap();
    let run = |n: usize| {
        for i in 0..n {
            let out = exe.execute(&[&x, &x]).unwrap();
            out[0].ready_event().unwrap().wait().unwrap();
            if i % 1000 == 0 {
                assert_eq!(out[1].to_host().unwrap(), HostData::F32(ArrayD::from_elem(IxDyn(&[]), 4096.0)));
            }
        }
    };
    run(1000); // warm up allocator pools and thread pools
    let before = resident_bytes();
    let start = Instant::now();
    run(10_000);
    let elapsed = start.elapsed();
    let after = resident_bytes();
    let growth = after.saturating_sub(before);
    eprintln!(
        "10,000 executions in {:.2} s ({:.1} µs each); RSS {} -> {} MB",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / 10_000.0,
        before >> 20,
        after >> 20
    );
    assert!(growth < 50 << 20, "resident memory grew by {} MB over 10,000 executions", growth >> 20);
}

/// A program partitioned over 2 devices by XLA's SPMD partitioner
/// (`CompileOptions::partitioned`): one argument list per device, each
/// device's part of the result; the wrong number of lists, or a buffer of
/// another client, is an error naming it.
#[test]
fn partitioned_programs_run_one_argument_list_per_device() {
    if !xla_gate::xla_available() {
        return;
    }
    use rjax::backend::pjrt::CompileOptions;
    let _g = shared();
    let c = client();
    let devices = c.devices().unwrap();
    assert!(devices.len() >= 2, "the CPU plugin shows {} devices", devices.len());
    let ids = vec![devices[0].id().unwrap(), devices[1].id().unwrap()];
    let exe = c
        .compile_with_options(
            r#"module @m attributes {mhlo.num_partitions = 2 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%x: tensor<4xf32> {mhlo.sharding = "{devices=[2]0,1}"}) -> (tensor<f32> {mhlo.sharding = "{replicated}"}) {
    %z = stablehlo.constant dense<0.0> : tensor<f32>
    %s = stablehlo.reduce(%x init: %z) applies stablehlo.add across dimensions = [0] : (tensor<4xf32>, tensor<f32>) -> tensor<f32>
    return %s : tensor<f32>
  }
}"#,
            &CompileOptions::partitioned(ids).to_proto(),
        )
        .unwrap();
    assert_eq!(exe.num_devices(), 2);
    let a = c.buffer_on(&f32s(&[2], vec![1.0, 2.0]), &devices[0]).unwrap();
    let b = c.buffer_on(&f32s(&[2], vec![3.0, 4.0]), &devices[1]).unwrap();
    let outs = exe.execute_partitioned(&[vec![&a], vec![&b]], &[]).unwrap();
    for per_device in &outs {
        assert_eq!(as_f32(&per_device[0].to_host().unwrap()).iter().copied().collect::<Vec<_>>(), vec![10.0]);
    }
    let err = exe.execute_partitioned(&[vec![&a]], &[]).unwrap_err().to_string();
    assert!(err.contains("runs on 2 devices but got 1 argument lists"), "{err}");
    let err = exe.execute(&[&a]).unwrap_err().to_string();
    assert!(err.contains("execute_partitioned"), "{err}");
    let other = Client::new(c.plugin()).unwrap();
    let foreign = other.buffer_on(&f32s(&[2], vec![3.0, 4.0]), &other.devices().unwrap()[1]).unwrap();
    let err = exe.execute_partitioned(&[vec![&a], vec![&foreign]], &[]).unwrap_err().to_string();
    assert!(err.contains("argument 0 of device 1 is a buffer of another PJRT client"), "{err}");
}

/// Loading the CPU plugin gives XLA rjax's flags: XNNPACK off, multi-output
/// fusion on (each unless `XLA_FLAGS` named its option before), and an
/// informational log level that keeps XLA's notes off the program's output.
#[test]
fn the_cpu_plugin_starts_with_rjax_flags() {
    let _g = shared();
    client();
    let flags = std::env::var("XLA_FLAGS").expect("XLA_FLAGS set by the plugin's loading");
    assert!(flags.contains("--xla_cpu_use_xnnpack="), "{flags}");
    assert!(flags.contains("--xla_backend_extra_options="), "{flags}");
    assert!(std::env::var_os("TF_CPP_MIN_LOG_LEVEL").is_some());
}
