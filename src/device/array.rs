//! [`DeviceArray`]: the representation of an [`Array`] held in a PJRT
//! device's memory.

use super::XlaDevice;
use super::error::Error;
use crate::backend::pjrt::Buffer;
use crate::core::{Array, Aval, HostData, Repr};
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
        Array { repr: Arc::new(Repr::Device(d)) }
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
