//! [`DeviceArray`]: the representation of an [`Array`] held in a PJRT
//! device's memory.

use super::{Device, XlaDevice};
use crate::backend::pjrt::Buffer;
use crate::core::{Array, Aval, DeviceValue, HostData, Op, Repr};
use crate::error::Error;
use std::any::Any;
use std::sync::{Arc, Mutex, OnceLock};

/// An array in device memory. The buffer may still be being computed
/// (dispatch is asynchronous); reading the values waits for it. The host copy
/// is made once, on first read. A buffer donated to a jitted call is gone:
/// later uses are an [`Error::Donated`].
pub(crate) struct DeviceArray {
    pub(crate) aval: Aval,
    pub(crate) device: XlaDevice,
    buffer: Mutex<Option<Arc<Buffer>>>,
    host: OnceLock<HostData>,
}

impl std::fmt::Debug for DeviceArray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceArray({} on {}:{})", self.aval, self.device.rt.platform, self.device.ordinal)
    }
}

impl DeviceArray {
    /// Wraps a buffer (of `device`) holding a value of `aval`.
    pub(crate) fn wrap(buffer: Buffer, aval: Aval, device: XlaDevice) -> Array {
        let d = DeviceArray { aval, device, buffer: Mutex::new(Some(Arc::new(buffer))), host: OnceLock::new() };
        Array { repr: Arc::new(Repr::Device(Box::new(d))) }
    }

    /// Wraps a buffer that is also held elsewhere (a shard of a sharded array).
    pub(crate) fn wrap_shared(buffer: Arc<Buffer>, aval: Aval, device: XlaDevice) -> Array {
        let d = DeviceArray { aval, device, buffer: Mutex::new(Some(buffer)), host: OnceLock::new() };
        Array { repr: Arc::new(Repr::Device(Box::new(d))) }
    }

    /// Copies host data to `device`. No host copy is kept: reading the
    /// values back copies them from the device (once), as for any other
    /// device array, so an uploaded data set is not held twice in host memory.
    pub(crate) fn upload(h: &HostData, device: &XlaDevice) -> Result<Array, Error> {
        let aval = Aval { shape: h.shape().to_vec(), dtype: h.dtype() };
        Ok(DeviceArray::wrap(device.upload(h)?, aval, device.clone()))
    }

    /// The device buffer, shared, for passing to a program.
    pub(crate) fn buffer(&self, op: &str) -> Result<Arc<Buffer>, Error> {
        self.buffer.lock().unwrap_or_else(|e| e.into_inner()).clone().ok_or_else(|| Error::Donated(op.to_string()))
    }

    /// Takes the buffer out for donation when nothing else holds it; the array
    /// is unusable afterwards (unless its values were already copied to the
    /// host). Returns `None` (nothing taken) when the buffer is shared.
    pub(crate) fn take_for_donation(&self) -> Option<Buffer> {
        let mut slot = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let arc = slot.take()?;
        match Arc::try_unwrap(arc) {
            Ok(b) => Some(b),
            Err(shared) => {
                *slot = Some(shared);
                None
            }
        }
    }

    /// The values on the host, copied once (waiting for pending work).
    pub(crate) fn fetch(&self) -> Result<&HostData, Error> {
        if let Some(h) = self.host.get() {
            return Ok(h);
        }
        let h = self.buffer("reading an array")?.to_host()?;
        Ok(self.host.get_or_init(|| h))
    }

    /// Waits until the value is computed.
    pub(crate) fn block_until_ready(&self) -> Result<(), Error> {
        if self.host.get().is_some() {
            return Ok(());
        }
        Ok(self.buffer("block_until_ready")?.block_until_ready()?)
    }
}

impl DeviceValue for DeviceArray {
    fn aval(&self) -> &Aval {
        &self.aval
    }
    fn read(&self) -> Result<&HostData, String> {
        self.fetch().map_err(|e| e.to_string())
    }
    fn place(&self) -> String {
        format!("{}:{}", self.device.rt.platform, self.device.ordinal)
    }
    #[track_caller]
    fn run_op(&self, op: &Op, inputs: &[&Array], outs: &[Aval]) -> Vec<Array> {
        if inputs.iter().any(|x| super::sharding::sharded_array(x).is_some()) {
            return match super::sharding::run_eager(op, inputs, outs) {
                Ok(ys) => ys,
                Err(e) => panic!("{}: {e}", op.name()),
            };
        }
        match super::eager::device_of(op.name(), inputs) {
            Ok(Some(device)) => super::eager::run(op, &device, inputs, outs),
            Ok(None) => unreachable!("{}: run on a device with no device input", op.name()),
            Err(e) => panic!("{e}"),
        }
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The device array inside `x`, if it holds one.
pub(crate) fn device_array(x: &Array) -> Option<&DeviceArray> {
    match &*x.repr {
        Repr::Device(d) => d.as_any().downcast_ref::<DeviceArray>(),
        _ => None,
    }
}

/// The parts of [`Array`]'s API that involve devices.
impl Array {
    /// The host data, or why it cannot be had: the array is abstract, its
    /// buffer was donated, or the device failed.
    ///
    /// ```
    /// let a = rjax::Array::scalar(2i32);
    /// assert!(a.try_host_data().is_ok());
    /// ```
    pub fn try_host_data(&self) -> Result<&HostData, Error> {
        match &*self.repr {
            Repr::Concrete(h) => Ok(h),
            Repr::Device(_) => match (device_array(self), super::sharding::sharded_array(self)) {
                (Some(d), _) => d.fetch(),
                (_, Some(s)) => s.fetch(),
                _ => Err(Error::Unsupported("an array of an unknown device".into())),
            },
            Repr::Traced(t) => {
                Err(Error::Unsupported(format!("the array is abstract ({}): it is being traced", t.aval)))
            }
        }
    }

    /// Waits until the array's value is computed (a no-op for host arrays).
    /// Jitted functions on XLA devices return before their results are
    /// computed; this is the way to wait for them (to time a step, say).
    ///
    /// ```
    /// let a = rjax::Array::scalar(1.0f32);
    /// a.block_until_ready()?;
    /// # Ok::<(), rjax::Error>(())
    /// ```
    pub fn block_until_ready(&self) -> Result<&Array, Error> {
        if let Some(d) = device_array(self) {
            d.block_until_ready()?;
        }
        if let Some(s) = super::sharding::sharded_array(self) {
            s.block_until_ready()?;
        }
        Ok(self)
    }

    /// The device holding the array: [`Device::Cpu`] for host arrays. An
    /// array split over a mesh reports the mesh's first device (its
    /// [`sharding`](Array::sharding) tells the rest). Abstract arrays (inside
    /// a transformation) have no device and report `Device::Cpu`.
    ///
    /// ```
    /// assert_eq!(rjax::Array::scalar(1.0f32).device(), rjax::Device::Cpu);
    /// ```
    pub fn device(&self) -> Device {
        match (device_array(self), super::sharding::sharded_array(self)) {
            (Some(d), _) => Device::Xla(d.device.clone()),
            (_, Some(s)) => Device::Xla(s.sharding.mesh().xla_devices()[0].clone()),
            _ => Device::Cpu,
        }
    }
}
