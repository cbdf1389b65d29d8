//! Devices: where arrays live and where programs run.
//!
//! - [`Device::Cpu`]: the built-in CPU backend (pure Rust, always there);
//! - `xla-cpu`: XLA on the CPU through the PJRT CPU plugin;
//! - `cuda`: XLA on NVIDIA GPUs through the PJRT CUDA plugin.
//!
//! An array on an XLA device holds a device buffer; [`device_put`] moves
//! arrays between devices, and results of [`jit`](crate::jit)-compiled
//! functions stay on their device, so a training loop copies nothing between
//! steps. Eager operations on device arrays run on their device as small
//! compiled programs (cached per operation and shapes). Reading values
//! (`to_vec`, `item`, printing) copies them to the host, waiting for pending
//! work.
//!
//! The default device ([`default_device`]) is, in order: the one set with
//! [`set_default_device`], the `RJAX_DEVICE` environment variable (`cpu`,
//! `xla-cpu`, `cuda`, `cuda:1`, ...), `cuda` when rjax is built with the
//! `cuda` feature (falling back to `cpu` with a warning when no GPU plugin
//! works), else the built-in `cpu`.
//!
//! ```
//! use rjax::{device_put, Array, Device};
//! let x = Array::from_vec(vec![1.0f32, 2.0], &[2]);
//! assert_eq!(x.device(), Device::Cpu);
//! // Moving to the built-in CPU is a no-op; `rjax::device("xla-cpu")?` names XLA's CPU.
//! let y = device_put(&x, &Device::Cpu)?;
//! assert_eq!(y.to_vec::<f32>(), vec![1.0, 2.0]);
//! # Ok::<(), rjax::Error>(())
//! ```

mod array;
mod compilation_cache;
pub(crate) mod eager;
mod fusion;
pub(crate) mod program;
mod runtime;
pub mod sharding;

pub use crate::error::Error;
pub(crate) use array::DeviceArray;
pub use compilation_cache::{
    CompilationCacheStats, compilation_cache_dir, compilation_cache_stats, set_compilation_cache_dir,
};
pub(crate) use fusion::CpuPlan;
pub(crate) use program::Program;
pub use runtime::{EAGER_CACHE_SIZE, MemoryStats, Platform};
pub(crate) use runtime::{Runtime, lock};

use crate::core::{Array, Repr};
use std::fmt;
use std::sync::{Arc, Mutex};

/// A place where arrays live and programs run.
///
/// ```
/// use rjax::Device;
/// assert_eq!(Device::Cpu.to_string(), "cpu");
/// assert_eq!(Device::Cpu.platform(), rjax::Platform::Cpu);
/// ```
#[derive(Clone)]
pub enum Device {
    /// The built-in CPU backend.
    Cpu,
    /// A device of a PJRT plugin (XLA on CPU or on a GPU).
    Xla(XlaDevice),
}

/// A device of a PJRT plugin: its runtime (client, compiled programs) and its
/// position among the plugin's devices.
#[derive(Clone)]
pub struct XlaDevice {
    pub(crate) rt: Arc<Runtime>,
    pub(crate) ordinal: usize,
}

impl XlaDevice {
    /// The PJRT device handle.
    pub(crate) fn pjrt(&self) -> &crate::backend::pjrt::Device {
        &self.rt.devices[self.ordinal]
    }

    /// Copies host data into a new buffer on this device.
    pub(crate) fn upload(&self, h: &crate::HostData) -> Result<crate::backend::pjrt::Buffer, Error> {
        Ok(self.rt.client.buffer_on(h, self.pjrt())?)
    }
}

/// The same device: the same runtime and ordinal.
impl PartialEq for XlaDevice {
    fn eq(&self, other: &XlaDevice) -> bool {
        Arc::ptr_eq(&self.rt, &other.rt) && self.ordinal == other.ordinal
    }
}

impl Device {
    /// Which backend the device belongs to.
    ///
    /// ```
    /// assert_eq!(rjax::Device::Cpu.platform(), rjax::Platform::Cpu);
    /// ```
    pub fn platform(&self) -> Platform {
        match self {
            Device::Cpu => Platform::Cpu,
            Device::Xla(d) => d.rt.platform,
        }
    }

    /// What the device is, for logs and reports: for an XLA device its kind
    /// (the CPU or GPU model as the plugin names it), the platform and its
    /// version, the PJRT C API version and the plugin's file.
    ///
    /// ```
    /// assert_eq!(rjax::Device::Cpu.describe(), "cpu: rjax's built-in backend (ndarray, gemm)");
    /// ```
    pub fn describe(&self) -> String {
        match self {
            Device::Cpu => "cpu: rjax's built-in backend (ndarray, gemm)".into(),
            Device::Xla(d) => {
                let client = &d.rt.client;
                let kind = d.pjrt().kind().unwrap_or_else(|e| format!("kind unknown ({e})"));
                let platform = client.platform_name().unwrap_or_else(|_| d.rt.platform.to_string());
                let version = client.platform_version().unwrap_or_default();
                let (major, minor) = client.plugin().api_version();
                let plugin = client.plugin().path().display();
                format!("{self}: {kind}, {platform} {version}, PJRT C API {major}.{minor}, plugin {plugin}")
            }
        }
    }

    /// The device's number among its platform's devices (0 for the built-in CPU).
    ///
    /// ```
    /// assert_eq!(rjax::Device::Cpu.ordinal(), 0);
    /// ```
    pub fn ordinal(&self) -> usize {
        match self {
            Device::Cpu => 0,
            Device::Xla(d) => d.ordinal,
        }
    }

    /// Memory in use on the device and its peak, from `PJRT_Device_MemoryStats`.
    /// The built-in CPU backend and the XLA CPU plugin do not track it and
    /// return an error saying so; measure host memory (RSS) there instead.
    ///
    /// ```
    /// assert!(rjax::Device::Cpu.memory_stats().is_err());
    /// ```
    pub fn memory_stats(&self) -> Result<MemoryStats, Error> {
        match self {
            Device::Cpu => Err(Error::Unsupported(
                "the built-in CPU backend does not track memory; measure the process's RSS instead".into(),
            )),
            Device::Xla(d) => Ok(d.pjrt().memory_stats()?),
        }
    }

    /// How many compiled programs the device's platform holds now: those of
    /// live [`jit`](crate::jit)ted functions (freed when the last `Jit`
    /// holding one is dropped or clears its cache) and the cached programs of
    /// eager operations (at most [`EAGER_CACHE_SIZE`], least recently used
    /// out). 0 for the built-in CPU, which compiles nothing.
    ///
    /// ```
    /// assert_eq!(rjax::Device::Cpu.compiled_programs(), 0);
    /// ```
    pub fn compiled_programs(&self) -> usize {
        match self {
            Device::Cpu => 0,
            Device::Xla(d) => d.rt.live_programs(),
        }
    }

    /// A key identifying the device (platform and ordinal).
    pub(crate) fn key(&self) -> (Platform, usize) {
        (self.platform(), self.ordinal())
    }
}

impl PartialEq for Device {
    fn eq(&self, other: &Device) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Device {}

impl std::hash::Hash for Device {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Xla(d) => write!(f, "{}:{}", d.rt.platform, d.ordinal),
        }
    }
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Device({self})")
    }
}

/// The device named by `spec`: `cpu` (built in), `xla-cpu`, `cuda`, with an
/// optional `:N` ordinal (`cuda:1`). Loads the plugin on first use; a missing
/// plugin is an error saying how to install it.
///
/// ```
/// assert_eq!(rjax::device("cpu")?, rjax::Device::Cpu);
/// assert!(rjax::device("tpu").is_err());
/// # Ok::<(), rjax::Error>(())
/// ```
pub fn device(spec: &str) -> Result<Device, Error> {
    let (name, ordinal) = match spec.split_once(':') {
        Some((n, o)) => {
            let o = o.parse::<usize>().map_err(|_| Error::BadDevice(spec.to_string()))?;
            (n, o)
        }
        None => (spec, 0),
    };
    let platform = match name {
        "cpu" => Platform::Cpu,
        "xla-cpu" | "xla_cpu" => Platform::XlaCpu,
        "cuda" | "gpu" => Platform::Cuda,
        _ => return Err(Error::BadDevice(spec.to_string())),
    };
    let no_such = |count: usize| Error::NoSuchDevice { spec: spec.to_string(), platform, count };
    if platform == Platform::Cpu {
        return if ordinal == 0 { Ok(Device::Cpu) } else { Err(no_such(1)) };
    }
    let rt = Runtime::get(platform)?;
    if ordinal >= rt.devices.len() {
        return Err(no_such(rt.devices.len()));
    }
    Ok(Device::Xla(XlaDevice { rt, ordinal }))
}

/// Empties the caches of compiled eager operations on every started
/// platform (JAX's `jax.clear_caches`, for what rjax caches globally). The
/// programs of `jit`ted functions belong to their [`Jit`](crate::Jit)s: they
/// go with [`Jit::clear_cache`](crate::Jit::clear_cache) or when the `Jit` is
/// dropped.
///
/// ```
/// rjax::clear_caches();
/// ```
pub fn clear_caches() {
    for platform in [Platform::XlaCpu, Platform::Cuda] {
        if let Some(rt) = Runtime::started(platform) {
            rt.clear_eager();
        }
    }
}

/// Sets how many programs of eager operations (operations on device arrays
/// outside `jit`, one small compiled program each per operation, shapes and
/// device) each platform keeps, least recently used out; default
/// [`EAGER_CACHE_SIZE`]. Panics if `n` is 0.
///
/// ```
/// rjax::set_eager_cache_capacity(1024);
/// ```
#[track_caller]
pub fn set_eager_cache_capacity(n: usize) {
    let Some(n) = std::num::NonZeroUsize::new(n) else {
        panic!("set_eager_cache_capacity: the cache must hold at least 1 program, got 0");
    };
    runtime::set_eager_capacity(n);
    for platform in [Platform::XlaCpu, Platform::Cuda] {
        if let Some(rt) = Runtime::started(platform) {
            rt.resize_eager();
        }
    }
}

/// Every device that can be used now: the built-in CPU, then the devices of
/// each PJRT plugin that is installed and starts (XLA CPU, CUDA).
///
/// ```
/// let all = rjax::devices();
/// assert_eq!(all[0], rjax::Device::Cpu);
/// ```
pub fn devices() -> Vec<Device> {
    let mut out = vec![Device::Cpu];
    for platform in [Platform::XlaCpu, Platform::Cuda] {
        if let Ok(rt) = Runtime::get(platform) {
            out.extend((0..rt.devices.len()).map(|ordinal| Device::Xla(XlaDevice { rt: rt.clone(), ordinal })));
        }
    }
    out
}

/// The devices of one platform (`"cpu"`, `"xla-cpu"`, `"cuda"`), in the
/// plugin's order; an error when its plugin is missing or does not start.
///
/// ```
/// assert_eq!(rjax::devices_of("cpu")?, vec![rjax::Device::Cpu]);
/// assert!(rjax::devices_of("tpu").is_err());
/// # Ok::<(), rjax::Error>(())
/// ```
pub fn devices_of(platform: &str) -> Result<Vec<Device>, Error> {
    let first = device(platform)?;
    let Device::Xla(d) = first else { return Ok(vec![Device::Cpu]) };
    Ok((0..d.rt.devices.len()).map(|ordinal| Device::Xla(XlaDevice { rt: d.rt.clone(), ordinal })).collect())
}

/// Asks the XLA CPU plugin for `n` devices (as `RJAX_XLA_CPU_DEVICES=n`
/// does; without either it shows 4, or one per core on machines with fewer
/// cores), so that meshes of more devices can be tried on one machine; they
/// share its cores. Call it before the first use of `xla-cpu`: an error once
/// the plugin started with another count.
///
/// ```
/// rjax::set_xla_cpu_device_count(8).ok(); // before anything uses xla-cpu
/// assert!(rjax::set_xla_cpu_device_count(0).is_err());
/// ```
pub fn set_xla_cpu_device_count(n: usize) -> Result<(), Error> {
    runtime::set_xla_cpu_devices(n)
}

/// Hands the memory the C allocator holds free back to the system (glibc's
/// `malloc_trim`; a no-op elsewhere), as rjax does itself after every XLA
/// compilation. A program whose phases allocate differently (training steps,
/// then an evaluation, then a checkpoint) can call it between them, so that
/// the memory one phase freed does not stay resident in pieces the next does
/// not reuse: `mlp_cifar` does after each epoch's training and before its
/// test evaluation (built-in backend: peak RSS 376-444 MB without, 341-364 MB
/// with, for 2 epochs).
///
/// ```
/// rjax::release_host_memory();
/// ```
pub fn release_host_memory() {
    runtime::release_freed_memory();
}

static DEFAULT: Mutex<Option<Device>> = Mutex::new(None);

/// Makes `device` the default for new computations (jit without inputs on a
/// device, [`device_put`] targets chosen by callers).
///
/// ```
/// rjax::set_default_device(rjax::Device::Cpu);
/// assert_eq!(rjax::default_device(), rjax::Device::Cpu);
/// ```
pub fn set_default_device(device: Device) {
    *DEFAULT.lock().unwrap_or_else(|e| e.into_inner()) = Some(device);
}

/// The default device (see the [module docs](self) for how it is chosen).
///
/// ```
/// let d = rjax::default_device();
/// println!("computing on {d}");
/// ```
pub fn default_device() -> Device {
    let mut slot = DEFAULT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(d) = &*slot {
        return d.clone();
    }
    let chosen = choose_default();
    *slot = Some(chosen.clone());
    chosen
}

fn choose_default() -> Device {
    if let Some(spec) = std::env::var_os("RJAX_DEVICE") {
        let spec = spec.to_string_lossy().into_owned();
        match device(&spec) {
            Ok(d) => return d,
            Err(e) => eprintln!("rjax: RJAX_DEVICE={spec} cannot be used ({e}); using the built-in cpu"),
        }
        return Device::Cpu;
    }
    if cfg!(feature = "cuda") {
        match device("cuda") {
            Ok(d) => return d,
            Err(e) => eprintln!("rjax: built with the `cuda` feature but no CUDA device works ({e}); using cpu"),
        }
    }
    Device::Cpu
}

/// Where [`device_put`] can put an array: a [`Device`], or a
/// [`NamedSharding`](sharding::NamedSharding) / [`Sharding`](sharding::Sharding)
/// (split over a mesh).
pub trait Placement: sealed::Sealed {
    /// `x` placed here.
    #[doc(hidden)]
    fn put(&self, x: &Array) -> Result<Array, Error>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Device {}
    impl Sealed for super::sharding::NamedSharding {}
    impl Sealed for super::sharding::Sharding {}
}

/// A copy of `x` at `to`: on a device (the same array when it is already
/// there), or split over a mesh as a [`NamedSharding`](sharding::NamedSharding)
/// says (each device gets a copy of its slice). Abstract arrays (inside a
/// transformation) are returned unchanged.
///
/// ```
/// use rjax::{device_put, Array, Device};
/// let x = device_put(&Array::scalar(3.0f32), &Device::Cpu)?;
/// assert_eq!(x.item::<f32>(), 3.0);
/// # Ok::<(), rjax::Error>(())
/// ```
pub fn device_put<P: Placement + ?Sized>(x: &Array, to: &P) -> Result<Array, Error> {
    to.put(x)
}

impl Placement for Device {
    fn put(&self, x: &Array) -> Result<Array, Error> {
        let device = self;
        if let Some(d) = array::device_array(x) {
            return match device {
                Device::Xla(to) if d.device == *to => Ok(x.clone()),
                Device::Cpu => Ok(Array::from_host(d.fetch()?.clone())),
                Device::Xla(to) => DeviceArray::upload(d.fetch()?, to),
            };
        }
        if sharding::sharded_array(x).is_some() {
            let h = x.try_host_data()?;
            return match device {
                Device::Cpu => Ok(Array::from_host(h.clone())),
                Device::Xla(to) => DeviceArray::upload(h, to),
            };
        }
        match (&*x.repr, device) {
            (Repr::Concrete(h), Device::Xla(to)) => DeviceArray::upload(h, to),
            _ => Ok(x.clone()), // abstract, or already on the host
        }
    }
}

impl Placement for sharding::NamedSharding {
    fn put(&self, x: &Array) -> Result<Array, Error> {
        if !x.is_concrete() {
            return Ok(x.clone());
        }
        if let Some(s) = sharding::sharded_array(x)
            && s.sharding == *self
        {
            return Ok(x.clone());
        }
        sharding::ShardedArray::put(x.try_host_data()?, self)
    }
}

impl Placement for sharding::Sharding {
    fn put(&self, x: &Array) -> Result<Array, Error> {
        match self {
            sharding::Sharding::SingleDevice(d) => d.put(x),
            sharding::Sharding::Named(s) => s.put(x),
            sharding::Sharding::Replicated => Err(Error::Sharding(
                "device_put: Sharding::Replicated names no mesh; use NamedSharding::replicated(&mesh)".into(),
            )),
        }
    }
}
