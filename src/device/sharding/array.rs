//! [`ShardedArray`]: an [`Array`] split (or copied) over the devices of a
//! mesh, one PJRT buffer per device.

use super::{Layout, NamedSharding, Shard};
use crate::backend::pjrt::Buffer;
use crate::core::{Array, Aval, DType, DeviceValue, HostData, Op, Repr};
use crate::device::{Device, DeviceArray};
use crate::error::Error;
use ndarray::{ArrayD, IxDyn, Slice};
use std::any::Any;
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};

/// An array over a mesh: the buffer of each device (mesh order), each
/// holding the slice the layout gives it. Reading it assembles the slices
/// on the host once.
pub(crate) struct ShardedArray {
    pub(crate) aval: Aval,
    pub(crate) sharding: NamedSharding,
    pub(crate) layout: Layout,
    buffers: Mutex<Option<Vec<Arc<Buffer>>>>,
    host: OnceLock<HostData>,
}

impl std::fmt::Debug for ShardedArray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ShardedArray({} as {})", self.aval, self.sharding)
    }
}

/// The sharded array inside `x`, if it holds one.
pub(crate) fn sharded_array(x: &Array) -> Option<&ShardedArray> {
    match &*x.repr {
        Repr::Device(d) => d.as_any().downcast_ref::<ShardedArray>(),
        _ => None,
    }
}

impl ShardedArray {
    /// Wraps one buffer per mesh device holding the slices of `layout`.
    pub(crate) fn wrap(buffers: Vec<Buffer>, aval: Aval, sharding: NamedSharding, layout: Layout) -> Array {
        let buffers = Mutex::new(Some(buffers.into_iter().map(Arc::new).collect()));
        let s = ShardedArray { aval, sharding, layout, buffers, host: OnceLock::new() };
        Array { repr: Arc::new(Repr::Device(Box::new(s))) }
    }

    /// Splits host data over the mesh of `sharding`: each device gets a copy
    /// of its slice.
    pub(crate) fn put(h: &HostData, sharding: &NamedSharding) -> Result<Array, Error> {
        let aval = Aval { shape: h.shape().to_vec(), dtype: h.dtype() };
        let layout = sharding.layout("device_put", &aval.shape)?;
        let buffers = upload_slices(h, &layout, sharding)?;
        Ok(ShardedArray::wrap(buffers, aval, sharding.clone(), layout))
    }

    /// Whether it is split as `layout` over the mesh of `sharding` (specs
    /// that differ only in trailing whole dimensions split alike).
    pub(crate) fn is_laid_out_as(&self, sharding: &NamedSharding, layout: &Layout) -> bool {
        self.sharding.mesh() == sharding.mesh() && self.layout.hlo() == layout.hlo()
    }

    /// The buffers, shared, for passing to a program.
    pub(crate) fn buffers(&self, op: &str) -> Result<Vec<Arc<Buffer>>, Error> {
        crate::device::lock(&self.buffers).clone().ok_or_else(|| Error::Donated(op.to_string()))
    }

    /// Takes the buffers out for donation when nothing else holds them.
    pub(crate) fn take_for_donation(&self) -> Option<Vec<Buffer>> {
        let mut slot = crate::device::lock(&self.buffers);
        if slot.as_ref()?.iter().any(|b| Arc::strong_count(b) != 1) {
            return None;
        }
        slot.take().map(|bs| bs.into_iter().filter_map(|b| Arc::try_unwrap(b).ok()).collect())
    }

    /// The whole array on the host, assembled once from one device of each
    /// slice (waiting for pending work).
    pub(crate) fn fetch(&self) -> Result<&HostData, Error> {
        if let Some(h) = self.host.get() {
            return Ok(h);
        }
        let buffers = self.buffers("reading an array")?;
        let mut pieces: Vec<(Vec<Range<usize>>, HostData)> = Vec::new();
        for (k, b) in buffers.iter().enumerate() {
            let slice = self.layout.slice_of(k);
            if pieces.iter().all(|(s, _)| *s != slice) {
                pieces.push((slice, b.to_host()?));
            }
        }
        let h = assemble(&self.aval, &pieces);
        Ok(self.host.get_or_init(|| h))
    }

    /// Each device's part as an array on that device.
    pub(crate) fn shards(&self) -> Result<Vec<Shard>, Error> {
        let buffers = self.buffers("addressable_shards")?;
        let shard_aval = Aval { shape: self.layout.shard_shape(), dtype: self.aval.dtype };
        Ok(buffers
            .iter()
            .zip(self.sharding.mesh().xla_devices())
            .enumerate()
            .map(|(k, (b, d))| Shard {
                device: Device::Xla(d.clone()),
                index_in_mesh: k,
                slice: self.layout.slice_of(k),
                data: DeviceArray::wrap_shared(b.clone(), shard_aval.clone(), d.clone()),
            })
            .collect())
    }

    /// Waits until every device's part is computed.
    pub(crate) fn block_until_ready(&self) -> Result<(), Error> {
        if self.host.get().is_some() {
            return Ok(());
        }
        for b in self.buffers("block_until_ready")? {
            b.block_until_ready()?;
        }
        Ok(())
    }
}

impl DeviceValue for ShardedArray {
    fn aval(&self) -> &Aval {
        &self.aval
    }
    fn read(&self) -> Result<&HostData, String> {
        self.fetch().map_err(|e| e.to_string())
    }
    fn place(&self) -> String {
        format!("{} over {}", self.sharding.spec(), self.sharding.mesh())
    }
    #[track_caller]
    fn run_op(&self, op: &Op, inputs: &[&Array], outs: &[Aval]) -> Vec<Array> {
        match super::run_eager(op, inputs, outs) {
            Ok(ys) => ys,
            Err(e) => panic!("{}: {e}", op.name()),
        }
    }
    fn layout(&self) -> Option<String> {
        Some(self.place())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Copies to each device of the mesh its slice of `h`.
pub(crate) fn upload_slices(h: &HostData, layout: &Layout, sharding: &NamedSharding) -> Result<Vec<Buffer>, Error> {
    let devices = sharding.mesh().xla_devices();
    let mut out = Vec::with_capacity(devices.len());
    if layout.is_replicated() {
        for d in devices {
            out.push(d.upload(h)?);
        }
        return Ok(out);
    }
    for (k, d) in devices.iter().enumerate() {
        out.push(d.upload(&slice_host(h, &layout.slice_of(k)))?);
    }
    Ok(out)
}

/// The slice `ranges` of `h`, as its own array.
fn slice_host(h: &HostData, ranges: &[Range<usize>]) -> HostData {
    crate::map_host!(h, |a| a.slice_each_axis(|ax| Slice::from(ranges[ax.axis.index()].clone())).to_owned())
}

/// The array of `aval` whose slices are `pieces` (together covering it).
fn assemble(aval: &Aval, pieces: &[(Vec<Range<usize>>, HostData)]) -> HostData {
    macro_rules! fill {
        ($variant:ident, $t:ty) => {{
            let mut out = ArrayD::<$t>::default(IxDyn(&aval.shape));
            for (ranges, piece) in pieces {
                if let HostData::$variant(p) = piece {
                    out.slice_each_axis_mut(|ax| Slice::from(ranges[ax.axis.index()].clone())).assign(p);
                }
            }
            HostData::$variant(out)
        }};
    }
    match aval.dtype {
        DType::F32 => fill!(F32, f32),
        DType::F64 => fill!(F64, f64),
        DType::I32 => fill!(I32, i32),
        DType::U32 => fill!(U32, u32),
        DType::U8 => fill!(U8, u8),
        DType::Bool => fill!(Bool, bool),
    }
}
