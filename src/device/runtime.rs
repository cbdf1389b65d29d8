//! One PJRT client per plugin and process, its devices, and its compiled
//! programs.

use crate::backend::pjrt::{self, Client, CompileOptions, Executable, OptionValue, PjrtError, Plugin};
use crate::device::compilation_cache;
use crate::error::Error;
use lru::LruCache;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

pub use crate::backend::Platform;
pub use crate::backend::pjrt::MemoryStats;

/// How many programs of single operations (eager operations on device
/// arrays) each platform keeps by default, least recently used out (see
/// [`set_eager_cache_capacity`](crate::set_eager_cache_capacity)).
pub const EAGER_CACHE_SIZE: usize = 512;

/// The capacity of the eager caches of platforms started from now on.
static EAGER_CAPACITY: AtomicUsize = AtomicUsize::new(EAGER_CACHE_SIZE);

/// How many devices the XLA CPU plugin is asked for when it starts (0: not
/// set, see [`xla_cpu_device_count`]).
static XLA_CPU_DEVICES: AtomicUsize = AtomicUsize::new(0);

/// The most devices the XLA CPU plugin shows unless asked for more.
const XLA_CPU_DEFAULT_DEVICES: usize = 4;

/// How many devices the XLA CPU plugin is asked for: what
/// [`set_xla_cpu_device_count`](crate::set_xla_cpu_device_count) set, else
/// `RJAX_XLA_CPU_DEVICES`, else [`default_xla_cpu_devices`].
fn xla_cpu_device_count() -> Result<usize, PjrtError> {
    match XLA_CPU_DEVICES.load(Ordering::Relaxed) {
        0 => match std::env::var("RJAX_XLA_CPU_DEVICES") {
            Ok(v) => v.trim().parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| {
                PjrtError::Invalid(format!("RJAX_XLA_CPU_DEVICES={v:?} is not a positive number of devices"))
            }),
            Err(_) => Ok(default_xla_cpu_devices()),
        },
        n => Ok(n),
    }
}

/// The XLA CPU plugin's device count unless told otherwise: 4, or the
/// number of cores this process may use when that is fewer. The plugin runs
/// its kernels on one thread per device or per core, whichever is more, so
/// more devices than cores put more threads than cores on every program:
/// its own default of 4 made the report's epoch 11% slower on 2 cores
/// (docs/xla-cpu-speed.md, "XLA CPU: threads and multi-output fusion").
fn default_xla_cpu_devices() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(XLA_CPU_DEFAULT_DEVICES)
}

/// Asks for `n` devices of the XLA CPU plugin; an error once it started.
pub(crate) fn set_xla_cpu_devices(n: usize) -> Result<(), Error> {
    if n == 0 {
        return Err(Error::Sharding("set_xla_cpu_device_count: the plugin needs at least 1 device".into()));
    }
    XLA_CPU_DEVICES.store(n, Ordering::Relaxed);
    match Runtime::started(Platform::XlaCpu) {
        Some(rt) if rt.devices.len() != n => Err(Error::Sharding(format!(
            "set_xla_cpu_device_count({n}): the XLA CPU plugin already started with {} devices; call it before the \
             first use of xla-cpu (or set RJAX_XLA_CPU_DEVICES)",
            rt.devices.len()
        ))),
        _ => Ok(()),
    }
}

/// A PJRT client of one plugin with its devices and its compiled programs:
/// those of `jit`ted functions, shared by text while some `jit` holds them
/// (so dropping a `jit` frees its programs), and a bounded cache of the
/// programs of eager operations.
pub(crate) struct Runtime {
    pub(crate) platform: Platform,
    pub(crate) client: Client,
    pub(crate) devices: Vec<pjrt::Device>,
    /// Are rjax's handlers registered with the plugin, so that programs may
    /// call them (XLA CPU only; see `primitives::register_host_calls`)?
    pub(crate) host_calls: bool,
    programs: Mutex<HashMap<(String, CompileOptions), Weak<Executable>>>,
    eager: Mutex<LruCache<(String, CompileOptions), Arc<Executable>>>,
    /// The loaded plugin's part of compilation-cache keys, taken once, on
    /// the first use of the cache.
    cache_identity: OnceLock<String>,
}

/// XLA's CPU plugin runs a program its cost model counts fewer
/// floating-point operations in than this on the calling thread
/// (`cheap_computation_` in its PJRT client), the others asynchronously.
const INLINE_FLOPS: f64 = 1000.0;

static XLA_CPU: OnceLock<Result<Arc<Runtime>, String>> = OnceLock::new();
static CUDA: OnceLock<Result<Arc<Runtime>, String>> = OnceLock::new();

/// Locks `m`, going on after a panic of another holder (every cache stays
/// consistent between its statements).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Runtime {
    /// The runtime of a PJRT platform, started on first use.
    pub(crate) fn get(platform: Platform) -> Result<Arc<Runtime>, Error> {
        let slot = match platform {
            Platform::Cpu => return Err(Error::Unsupported("the built-in CPU backend has no PJRT runtime".into())),
            Platform::XlaCpu => &XLA_CPU,
            Platform::Cuda => &CUDA,
        };
        slot.get_or_init(|| Runtime::start(platform).map(Arc::new).map_err(|e| e.to_string()))
            .clone()
            .map_err(|message| Error::Unavailable { platform, message })
    }

    /// The runtime of `platform` if it was started.
    pub(crate) fn started(platform: Platform) -> Option<Arc<Runtime>> {
        match platform {
            Platform::Cpu => None,
            Platform::XlaCpu => XLA_CPU.get()?.clone().ok(),
            Platform::Cuda => CUDA.get()?.clone().ok(),
        }
    }

    fn start(platform: Platform) -> Result<Runtime, PjrtError> {
        let client = match platform {
            Platform::Cuda => {
                // Allocate on demand, so memory statistics show what programs use.
                Client::with_options(Plugin::cuda()?, &[("preallocate", OptionValue::Bool(false))])?
            }
            _ => {
                let n = xla_cpu_device_count()?;
                Client::with_options(Plugin::cpu()?, &[("cpu_device_count", OptionValue::Int(n as i64))])?
            }
        };
        // A plugin that cannot take the handlers (no FFI extension, an older
        // registration struct) runs every product in XLA, as before.
        let host_calls =
            platform == Platform::XlaCpu && crate::primitives::register_host_calls(Plugin::cpu()?).unwrap_or(false);
        let devices = client.devices()?;
        if devices.is_empty() {
            return Err(PjrtError::Invalid(format!("the {platform} plugin reports no devices")));
        }
        let eager = LruCache::new(eager_capacity());
        Ok(Runtime {
            platform,
            client,
            devices,
            host_calls,
            programs: Mutex::new(HashMap::new()),
            eager: Mutex::new(eager),
            cache_identity: OnceLock::new(),
        })
    }

    /// Compiles `mlir` with `options` (one device, or partitioned over
    /// several), or returns the program compiled from the same text and
    /// options that someone still holds, or loads it from the compilation
    /// cache on disk. The flag tells whether XLA compiled it. A program the
    /// compiler rejects is written to a file named in the error.
    pub(crate) fn compile(&self, mlir: &str, options: CompileOptions) -> Result<(Arc<Executable>, bool), Error> {
        let key = (mlir.to_string(), options);
        if let Some(exe) = lock(&self.programs).get(&key).and_then(Weak::upgrade) {
            return Ok((exe, false));
        }
        let (exe, compiled) = self.compile_text(mlir, &key.1, true)?;
        let mut programs = lock(&self.programs);
        programs.retain(|_, w| w.strong_count() > 0);
        programs.insert(key, Arc::downgrade(&exe));
        Ok((exe, compiled))
    }

    /// The program of an eager operation cached under `key` with these
    /// options, or the text `make` gives compiled and cached (the cache
    /// keeps the [`EAGER_CACHE_SIZE`] most recently used). `make` lowers
    /// with or without host calls, as [`Runtime::compile_lowering`] asks.
    pub(crate) fn compile_eager(
        &self,
        key: String,
        options: CompileOptions,
        make: impl Fn(bool) -> Result<String, Error>,
    ) -> Result<Arc<Executable>, Error> {
        let key = (key, options);
        if let Some(exe) = lock(&self.eager).get(&key) {
            return Ok(exe.clone());
        }
        let ((), exe, _) = self.with_host_calls_if_dispatched(|host| {
            let text = make(host)?;
            let (exe, fresh) = self.compile_text(&text, &key.1, false)?;
            Ok(((), text, exe, fresh))
        })?;
        lock(&self.eager).put(key, exe.clone());
        Ok(exe)
    }

    /// Lowers with `lower` (its flag: may the program call rjax's host
    /// functions, [`Runtime::host_calls`]) and compiles, through the caches
    /// as [`Runtime::compile`]. Returns what `lower` gave besides the text,
    /// the program, and whether XLA compiled.
    pub(crate) fn compile_lowering<T>(
        &self,
        options: &CompileOptions,
        lower: impl Fn(bool) -> Result<(T, String), Error>,
    ) -> Result<(T, Arc<Executable>, bool), Error> {
        self.with_host_calls_if_dispatched(|host| {
            let (t, text) = lower(host)?;
            let (exe, fresh) = self.compile(&text, options.clone())?;
            Ok((t, text, exe, fresh))
        })
    }

    /// Compiles with host calls where the runtime has them, unless XLA
    /// would then run the program on the calling thread: XLA's CPU plugin
    /// dispatches a program asynchronously only when its cost model counts
    /// at least [`INLINE_FLOPS`] in it, and it counts nothing for a custom
    /// call, so a program of little but host calls (a jitted matrix product)
    /// would block its caller. Such a program is compiled again without
    /// them.
    fn with_host_calls_if_dispatched<T>(
        &self,
        compile: impl Fn(bool) -> Result<(T, String, Arc<Executable>, bool), Error>,
    ) -> Result<(T, Arc<Executable>, bool), Error> {
        let (t, text, exe, fresh) = compile(self.host_calls)?;
        let inline = || exe.flops().ok().flatten().is_some_and(|f| f < INLINE_FLOPS);
        if self.host_calls && text.contains("stablehlo.custom_call") && inline() {
            let (t, _, exe, again) = compile(false)?;
            return Ok((t, exe, fresh || again));
        }
        Ok((t, exe, fresh))
    }

    /// Compiles `mlir`; with `keep`, through the compilation cache on disk
    /// when there is one (loaded from there, or kept there once compiled).
    /// The flag tells whether XLA compiled it (false: loaded from the cache).
    fn compile_text(&self, mlir: &str, options: &CompileOptions, keep: bool) -> Result<(Arc<Executable>, bool), Error> {
        dump(mlir, "program");
        let proto = options.to_proto();
        let path = keep.then(compilation_cache::compilation_cache_dir).flatten().map(|dir| {
            let identity = self.cache_identity.get_or_init(|| compilation_cache::identity(&self.client, &self.devices));
            compilation_cache::entry(&dir, identity, &proto, mlir)
        });
        if let Some(exe) = path.as_deref().and_then(|p| compilation_cache::load(&self.client, p, &proto)) {
            return Ok((Arc::new(exe), false));
        }
        let compiled = self.client.compile_with_options(mlir, &proto);
        release_freed_memory();
        match compiled {
            Ok(exe) => {
                if let Some(path) = path {
                    compilation_cache::store(&path, &exe);
                }
                Ok((Arc::new(exe), true))
            }
            Err(PjrtError::Compile { message }) => {
                let path = dump(mlir, "rejected").or_else(|| write_rejected(mlir));
                Err(Error::Compile { platform: self.platform, message, mlir_path: path })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// How many compiled programs are alive: those some `jit` holds and those
    /// in the cache of eager operations.
    pub(crate) fn live_programs(&self) -> usize {
        let held = lock(&self.programs).values().filter(|w| w.strong_count() > 0).count();
        held + lock(&self.eager).len()
    }

    /// Empties the cache of eager operations' programs.
    pub(crate) fn clear_eager(&self) {
        lock(&self.eager).clear();
    }

    /// Keeps at most the current eager capacity of programs (the least
    /// recently used go).
    pub(crate) fn resize_eager(&self) {
        lock(&self.eager).resize(eager_capacity());
    }
}

/// Hands the memory the C allocator holds free back to the system.
///
/// XLA's compiler allocates hundreds of megabytes of small blocks while it
/// compiles a large program (LLVM's modules for each fusion) and frees them
/// when done; glibc keeps that memory in its heap, where the process's
/// resident memory still counts it. Measured on `mlp_cifar --device xla-cpu`:
/// resident memory after the first epoch 782 MB without this, 492 MB with
/// it, and the run's peak 893 MB against 673 MB (docs/benchmarks.md). Called
/// after every compilation (a few milliseconds, against tens to thousands
/// for compiling). A no-op where the C library is not glibc.
pub(crate) fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            /// glibc: releases free memory at the top of the heap and in
            /// free pages inside it; returns 1 if any was released.
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim only walks the allocator's own free lists,
        // under the allocator's locks; it is safe to call from any thread.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// The capacity [`set_eager_capacity`] set.
fn eager_capacity() -> NonZeroUsize {
    NonZeroUsize::new(EAGER_CAPACITY.load(Ordering::Relaxed)).unwrap_or(NonZeroUsize::MIN)
}

/// Sets how many eager programs each platform keeps (at least 1).
pub(crate) fn set_eager_capacity(n: NonZeroUsize) {
    EAGER_CAPACITY.store(n.get(), Ordering::Relaxed);
}

/// Writes `mlir` into `$RJAX_DUMP_DIR` (when set) and returns the file.
fn dump(mlir: &str, what: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("RJAX_DUMP_DIR")?;
    let path = PathBuf::from(dir).join(format!("{what}-{:016x}.mlir", fingerprint(mlir)));
    std::fs::create_dir_all(path.parent()?).ok()?;
    std::fs::write(&path, mlir).ok()?;
    Some(path)
}

/// Writes a rejected program into the temporary directory.
fn write_rejected(mlir: &str) -> Option<PathBuf> {
    let path =
        std::env::temp_dir().join(format!("rjax-rejected-{}-{:016x}.mlir", std::process::id(), fingerprint(mlir)));
    std::fs::write(&path, mlir).ok()?;
    Some(path)
}

fn fingerprint(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}
