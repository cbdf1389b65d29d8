//! Arrays over several devices: a [`Mesh`] of devices with named axes, a
//! [`NamedSharding`] (a mesh and a [`PartitionSpec`]) per array, arrays split
//! into per-device shards by [`device_put`](crate::device_put), and `jit`
//! programs partitioned over the mesh by XLA's SPMD partitioner (see
//! [`Jit::in_shardings`](crate::Jit::in_shardings)). Re-exported as
//! `rjax::sharding`; docs/distributed.md describes the model.
//!
//! ```no_run
//! use rjax::sharding::{Mesh, NamedSharding};
//! use rjax::{Array, DType, P, device_put, jit};
//! rjax::set_xla_cpu_device_count(4)?; // before the first use of xla-cpu (it shows fewer on 2-3 cores)
//! let mesh = Mesh::on("xla-cpu", &[("data", 4)])?;
//! let x = device_put(&Array::ones(&[8, 3], DType::F32), &NamedSharding::new(&mesh, P!["data", None]))?;
//! assert_eq!(x.addressable_shards()?.len(), 4);
//! let total = jit(|x: &Array| x.sum()).call(&x); // partitioned by XLA, replicated result
//! assert_eq!(total.item::<f32>(), 24.0);
//! # Ok::<(), rjax::Error>(())
//! ```

mod array;
mod program;

pub(crate) use array::{ShardedArray, sharded_array};
pub(crate) use program::single_op_program;
pub(crate) use program::{Cache, ShardedProgram, lower_sharded, run_eager};

pub use crate::core::sharding::{DimSpec, Layout, MeshAxes, PartitionSpec};

use super::{Device, XlaDevice, runtime::Runtime};
use crate::core::Array;
use crate::error::Error;
use std::fmt;
use std::sync::Arc;

/// Devices arranged in a grid with named axes (JAX's `Mesh`): `[("data",
/// 4)]` is four devices in a row; `[("data", 2), ("model", 2)]` a 2 x 2
/// grid, devices numbered row-major. All devices belong to one XLA platform.
///
/// ```no_run
/// use rjax::sharding::Mesh;
/// let devices = rjax::devices_of("xla-cpu")?;
/// let mesh = Mesh::new(&devices[..4], &[("data", 2), ("model", 2)])?;
/// assert_eq!(mesh.size(), 4);
/// println!("{mesh}"); // Mesh({data: 2, model: 2} on xla-cpu:0,1,2,3)
/// # Ok::<(), rjax::Error>(())
/// ```
#[derive(Clone)]
pub struct Mesh {
    devices: Vec<XlaDevice>,
    axes: MeshAxes,
}

impl Mesh {
    /// The mesh of `devices` (row-major over the axes) with these axes. An
    /// error says what is wrong: the axes' sizes do not multiply to the
    /// number of devices, a device is listed twice or is the built-in CPU,
    /// devices of different platforms, an axis named twice or of size 0.
    pub fn new(devices: &[Device], axes: &[(&str, usize)]) -> Result<Mesh, Error> {
        let axes = MeshAxes::new(axes).map_err(|e| Error::Sharding(format!("Mesh::new: {e}")))?;
        if axes.size() != devices.len() {
            return Err(Error::Sharding(format!(
                "Mesh::new: the axes {axes} need {} devices but {} were given",
                axes.size(),
                devices.len()
            )));
        }
        let mut xla: Vec<XlaDevice> = Vec::with_capacity(devices.len());
        for d in devices {
            match d {
                Device::Cpu => {
                    return Err(Error::Sharding(
                        "Mesh::new: the built-in cpu is one device and cannot be part of a mesh; use the devices of \
                         xla-cpu (rjax::devices_of(\"xla-cpu\")) or cuda"
                            .into(),
                    ));
                }
                Device::Xla(x) => {
                    if let Some(first) = xla.first()
                        && !Arc::ptr_eq(&first.rt, &x.rt)
                    {
                        return Err(Error::Sharding(format!(
                            "Mesh::new: {d} and {} belong to different platforms; a mesh holds devices of one",
                            Device::Xla(first.clone())
                        )));
                    }
                    if xla.contains(x) {
                        return Err(Error::Sharding(format!("Mesh::new: {d} is listed twice")));
                    }
                    xla.push(x.clone());
                }
            }
        }
        Ok(Mesh { devices: xla, axes })
    }

    /// The mesh of the first devices of `platform` (`"xla-cpu"`, `"cuda"`),
    /// as many as the axes need. An error when the platform has fewer: for
    /// the CPU plugin, [`set_xla_cpu_device_count`](crate::set_xla_cpu_device_count)
    /// (or `RJAX_XLA_CPU_DEVICES`) gives it more.
    ///
    /// ```no_run
    /// let mesh = rjax::sharding::Mesh::on("xla-cpu", &[("data", 2)])?;
    /// assert_eq!(mesh.devices().len(), 2);
    /// # Ok::<(), rjax::Error>(())
    /// ```
    pub fn on(platform: &str, axes: &[(&str, usize)]) -> Result<Mesh, Error> {
        let all = super::devices_of(platform)?;
        let need: usize = axes.iter().map(|(_, s)| s).product();
        if need > all.len() {
            return Err(Error::Sharding(format!(
                "Mesh::on: the axes {axes:?} need {need} devices but {platform} has {}{}",
                all.len(),
                if platform.starts_with("xla") {
                    "; ask the CPU plugin for more with rjax::set_xla_cpu_device_count(n) before using it, or \
                     RJAX_XLA_CPU_DEVICES=n"
                } else {
                    ""
                }
            )));
        }
        Mesh::new(&all[..need], axes)
    }

    /// The devices, row-major over the axes.
    pub fn devices(&self) -> Vec<Device> {
        self.devices.iter().cloned().map(Device::Xla).collect()
    }

    /// The axes' names and sizes.
    pub fn axes(&self) -> &MeshAxes {
        &self.axes
    }

    /// How many devices.
    pub fn size(&self) -> usize {
        self.devices.len()
    }

    /// The size of axis `name`, if the mesh has it.
    pub fn axis_size(&self, name: &str) -> Option<usize> {
        self.axes.axis_size(name)
    }

    pub(crate) fn xla_devices(&self) -> &[XlaDevice] {
        &self.devices
    }

    pub(crate) fn runtime(&self) -> &Arc<Runtime> {
        &self.devices[0].rt
    }

    /// The PJRT ids of the devices, the program's device assignment.
    pub(crate) fn device_ids(&self) -> Result<Vec<i32>, Error> {
        self.devices.iter().map(|d| Ok(d.pjrt().id()?)).collect()
    }

    /// Identifies the mesh: platform, devices and axes.
    pub(crate) fn key(&self) -> String {
        format!("{} {}", self.place(), self.axes)
    }

    /// The platform and device numbers, `xla-cpu:0,1,2,3`.
    fn place(&self) -> String {
        let ordinals: Vec<String> = self.devices.iter().map(|d| d.ordinal.to_string()).collect();
        format!("{}:{}", self.devices[0].rt.platform, ordinals.join(","))
    }
}

impl PartialEq for Mesh {
    fn eq(&self, other: &Mesh) -> bool {
        self.axes == other.axes && self.devices == other.devices
    }
}

impl Eq for Mesh {}

impl fmt::Display for Mesh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mesh({} on {})", self.axes, self.place())
    }
}

impl fmt::Debug for Mesh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// How an array is split over a mesh: which mesh axes each dimension is
/// split over (JAX's `NamedSharding`).
///
/// ```no_run
/// use rjax::sharding::{Mesh, NamedSharding};
/// let mesh = Mesh::on("xla-cpu", &[("data", 2)])?;
/// let s = NamedSharding::new(&mesh, rjax::P!["data"]);
/// assert_eq!(s.spec().to_string(), "P('data')");
/// # Ok::<(), rjax::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct NamedSharding {
    mesh: Mesh,
    spec: PartitionSpec,
}

impl NamedSharding {
    /// `spec` over `mesh` (checked against each array it is used for).
    pub fn new(mesh: &Mesh, spec: PartitionSpec) -> NamedSharding {
        NamedSharding { mesh: mesh.clone(), spec }
    }

    /// Every device of `mesh` holds the whole array.
    pub fn replicated(mesh: &Mesh) -> NamedSharding {
        NamedSharding::new(mesh, PartitionSpec::replicated())
    }

    /// The mesh.
    pub fn mesh(&self) -> &Mesh {
        &self.mesh
    }

    /// The spec.
    pub fn spec(&self) -> &PartitionSpec {
        &self.spec
    }

    /// The layout of an array of `shape`, or an error naming `op`, the spec,
    /// the mesh and the shape.
    pub(crate) fn layout(&self, op: &str, shape: &[usize]) -> Result<Layout, Error> {
        Layout::new(self.mesh.axes.clone(), self.spec.clone(), shape)
            .map_err(|e| Error::Sharding(format!("{op}: {e} (over {})", self.mesh)))
    }
}

impl fmt::Display for NamedSharding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NamedSharding({}, {})", self.spec, self.mesh)
    }
}

impl fmt::Debug for NamedSharding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Where an array lives: on one device, split or copied over a mesh, or (for
/// `jit`'s shardings) replicated over whatever mesh the program runs on.
///
/// ```
/// use rjax::sharding::Sharding;
/// let s = rjax::Array::scalar(1.0f32).sharding();
/// assert_eq!(s, Sharding::SingleDevice(rjax::Device::Cpu));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sharding {
    /// The whole array on one device.
    SingleDevice(Device),
    /// Split (or copied) over a mesh.
    Named(NamedSharding),
    /// A copy on every device of the program's mesh (in
    /// [`Jit::in_shardings`](crate::Jit::in_shardings) and
    /// [`Jit::out_shardings`](crate::Jit::out_shardings), where the mesh is
    /// that of the other shardings).
    Replicated,
}

impl From<NamedSharding> for Sharding {
    fn from(s: NamedSharding) -> Sharding {
        Sharding::Named(s)
    }
}

impl From<&NamedSharding> for Sharding {
    fn from(s: &NamedSharding) -> Sharding {
        Sharding::Named(s.clone())
    }
}

impl fmt::Display for Sharding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sharding::SingleDevice(d) => write!(f, "SingleDevice({d})"),
            Sharding::Named(s) => fmt::Display::fmt(s, f),
            Sharding::Replicated => f.write_str("Replicated"),
        }
    }
}

/// `x`, with XLA told to split it as `sharding` says at this point of a
/// jitted function (JAX's `with_sharding_constraint`): the partitioner lays
/// out the computation around it accordingly. Outside `jit`, the array is
/// put so split ([`device_put`](crate::device_put)). An error when the spec
/// does not fit `x` or names an axis the mesh lacks.
///
/// ```no_run
/// use rjax::sharding::{Mesh, NamedSharding, with_sharding_constraint};
/// use rjax::{jit, Array, DType, P};
/// let mesh = Mesh::on("xla-cpu", &[("data", 2)])?;
/// let rows = NamedSharding::new(&mesh, P!["data"]);
/// let f = jit(move |x: &Array| with_sharding_constraint(&(x * 2.0), &rows).unwrap().sum());
/// assert_eq!(f.call(&Array::ones(&[4], DType::F32)).item::<f32>(), 8.0);
/// # Ok::<(), rjax::Error>(())
/// ```
#[track_caller]
pub fn with_sharding_constraint(x: &Array, sharding: &NamedSharding) -> Result<Array, Error> {
    sharding.layout("with_sharding_constraint", x.shape())?;
    if x.is_concrete() && !crate::core::tracing() {
        return crate::device::device_put(x, sharding);
    }
    note_mesh(&sharding.mesh);
    let prim = crate::primitives::collective::ShardingConstraint {
        axes: sharding.mesh.axes.clone(),
        spec: sharding.spec.clone(),
        mesh: sharding.mesh.key(),
    };
    Ok(crate::core::bind(prim, &[x]))
}

thread_local! {
    /// The meshes seen by each open trace collector (innermost last).
    static SEEN: std::cell::RefCell<Vec<Vec<Mesh>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` (tracing a function for `jit`) and returns the meshes that
/// `shard_map` and `with_sharding_constraint` calls inside it named: the
/// program must run partitioned over them.
pub(crate) fn collect_meshes<R>(f: impl FnOnce() -> R) -> (R, Vec<Mesh>) {
    struct Close;
    impl Drop for Close {
        fn drop(&mut self) {
            SEEN.with(|s| s.borrow_mut().pop());
        }
    }
    SEEN.with(|s| s.borrow_mut().push(Vec::new()));
    let close = Close;
    let r = f();
    let seen = SEEN.with(|s| s.borrow_mut().last_mut().map(std::mem::take).unwrap_or_default());
    drop(close);
    (r, seen)
}

/// Tells every open collector that the function being traced uses `mesh`.
pub(crate) fn note_mesh(mesh: &Mesh) {
    SEEN.with(|s| {
        for seen in s.borrow_mut().iter_mut() {
            if !seen.contains(mesh) {
                seen.push(mesh.clone());
            }
        }
    });
}

/// One device's part of an array (see [`Array::addressable_shards`]).
#[derive(Clone, Debug)]
pub struct Shard {
    /// The device holding it.
    pub device: Device,
    /// Its position in the mesh (row-major).
    pub index_in_mesh: usize,
    /// The slice of the whole array it holds, per dimension.
    pub slice: Vec<std::ops::Range<usize>>,
    /// Its values, an array on `device`.
    pub data: Array,
}

/// The sharding parts of [`Array`]'s API.
impl Array {
    /// Where the array lives: [`Sharding::Named`] for an array split over a
    /// mesh, else [`Sharding::SingleDevice`] with its device.
    ///
    /// ```
    /// assert_eq!(rjax::Array::scalar(1i32).sharding(), rjax::sharding::Sharding::SingleDevice(rjax::Device::Cpu));
    /// ```
    pub fn sharding(&self) -> Sharding {
        match sharded_array(self) {
            Some(s) => Sharding::Named(s.sharding.clone()),
            None => Sharding::SingleDevice(self.device()),
        }
    }

    /// The per-device parts of the array, in mesh order (one for an array on
    /// one device); each is an array on its device. Fails for an array
    /// whose buffers were donated, or an abstract one.
    ///
    /// ```
    /// let shards = rjax::Array::scalar(1i32).addressable_shards()?;
    /// assert_eq!(shards.len(), 1);
    /// # Ok::<(), rjax::Error>(())
    /// ```
    pub fn addressable_shards(&self) -> Result<Vec<Shard>, Error> {
        match sharded_array(self) {
            Some(s) => s.shards(),
            None if self.is_concrete() => Ok(vec![Shard {
                device: self.device(),
                index_in_mesh: 0,
                slice: self.shape().iter().map(|&n| 0..n).collect(),
                data: self.clone(),
            }]),
            None => Err(Error::Unsupported(format!(
                "addressable_shards: the array is abstract ({}): it is being traced",
                self.aval()
            ))),
        }
    }
}
