//! [`Buffer`] (an array in device memory) and [`Event`] (completion of
//! asynchronous work), and transfers between [`HostData`] and devices.

use std::ffi::c_void;
use std::fmt;
use std::sync::Arc;

use ndarray::{ArrayD, IxDyn};

use super::client::{Client, ClientInner, Device};
use super::error::PjrtError;
use super::ffi;
use super::plugin::slice_or_empty;
use crate::{DType, HostData};

/// An array in a device's memory, owned by rjax (destroyed on drop).
///
/// ```no_run
/// use rjax::HostData;
/// use rjax::backend::pjrt::Client;
/// let client = Client::cpu()?;
/// let host = HostData::I32(ndarray::ArrayD::from_shape_vec(vec![2, 2], vec![1, 2, 3, 4]).unwrap());
/// let buf = client.buffer(&host)?;
/// assert_eq!(buf.shape()?, vec![2, 2]);
/// assert_eq!(buf.to_host()?, host);
/// # Ok::<(), rjax::backend::pjrt::PjrtError>(())
/// ```
pub struct Buffer {
    pub(crate) client: Arc<ClientInner>,
    pub(crate) raw: *mut ffi::PJRT_Buffer,
}

// SAFETY: PJRT buffers are thread-safe; the pointer is only passed to the plugin.
unsafe impl Send for Buffer {}
unsafe impl Sync for Buffer {}

impl Drop for Buffer {
    fn drop(&mut self) {
        let mut args = ffi::PJRT_Buffer_Destroy_Args::new();
        args.buffer = self.raw;
        // SAFETY: owned, live buffer, not used afterwards. Pending work that
        // uses it keeps the device memory alive inside the runtime.
        let _ = unsafe { self.client.call(self.api().PJRT_Buffer_Destroy, "PJRT_Buffer_Destroy", &mut args) };
    }
}

impl fmt::Debug for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.dtype(), self.shape()) {
            (Ok(d), Ok(s)) => write!(f, "Buffer({d}{s:?})"),
            _ => f.write_str("Buffer(?)"),
        }
    }
}

/// The PJRT element type of a dtype.
fn pjrt_type(d: DType) -> ffi::PJRT_Buffer_Type {
    match d {
        DType::F32 => ffi::PJRT_Buffer_Type_F32,
        DType::F64 => ffi::PJRT_Buffer_Type_F64,
        DType::I32 => ffi::PJRT_Buffer_Type_S32,
        DType::U32 => ffi::PJRT_Buffer_Type_U32,
        DType::U8 => ffi::PJRT_Buffer_Type_U8,
        DType::Bool => ffi::PJRT_Buffer_Type_PRED,
    }
}

/// The dtype of a PJRT element type, if rjax has it.
fn dtype_of(t: ffi::PJRT_Buffer_Type) -> Option<DType> {
    Some(match t {
        ffi::PJRT_Buffer_Type_F32 => DType::F32,
        ffi::PJRT_Buffer_Type_F64 => DType::F64,
        ffi::PJRT_Buffer_Type_S32 => DType::I32,
        ffi::PJRT_Buffer_Type_U32 => DType::U32,
        ffi::PJRT_Buffer_Type_U8 => DType::U8,
        ffi::PJRT_Buffer_Type_PRED => DType::Bool,
        _ => return None,
    })
}

impl Client {
    /// Copies host data to the [default device](Client::default_device).
    pub fn buffer(&self, data: &HostData) -> Result<Buffer, PjrtError> {
        self.buffer_on(data, &self.default_device()?)
    }

    /// Copies host data to `device` (a device of this client). The data is
    /// copied before this returns, so `data` may be dropped right after.
    pub fn buffer_on(&self, data: &HostData, device: &Device) -> Result<Buffer, PjrtError> {
        if !Arc::ptr_eq(&device.client, &self.inner) {
            return Err(PjrtError::Invalid("the device belongs to another PJRT client".into()));
        }
        match data {
            HostData::F32(a) => self.upload(a, DType::F32, device),
            HostData::F64(a) => self.upload(a, DType::F64, device),
            HostData::I32(a) => self.upload(a, DType::I32, device),
            HostData::U32(a) => self.upload(a, DType::U32, device),
            HostData::U8(a) => self.upload(a, DType::U8, device),
            // `bool` is one byte holding 0 or 1, as PRED expects.
            HostData::Bool(a) => self.upload(a, DType::Bool, device),
        }
    }

    fn upload<T: Copy>(&self, a: &ArrayD<T>, dtype: DType, device: &Device) -> Result<Buffer, PjrtError> {
        let dims: Vec<i64> = a.shape().iter().map(|&d| d as i64).collect();
        let standard = a.as_standard_layout();
        let values = standard
            .as_slice()
            .ok_or_else(|| PjrtError::Invalid("host array is not contiguous after relayout".into()))?;
        let api = self.inner.plugin.api();
        let mut args = ffi::PJRT_Client_BufferFromHostBuffer_Args::new();
        args.client = self.inner.raw;
        args.data = values.as_ptr().cast::<c_void>();
        args.type_ = pjrt_type(dtype);
        args.dims = dims.as_ptr();
        args.num_dims = dims.len();
        args.host_buffer_semantics = ffi::PJRT_HostBufferSemantics_kImmutableOnlyDuringCall;
        args.device = device.raw;
        // SAFETY: `values` and `dims` outlive the call, and with
        // kImmutableOnlyDuringCall the plugin does not keep `values`.
        unsafe {
            self.inner.call(api.PJRT_Client_BufferFromHostBuffer, "PJRT_Client_BufferFromHostBuffer", &mut args)
        }?;
        // The host data is no longer needed; the event only has to be freed.
        drop(Event::from_raw(&self.inner, args.done_with_host_buffer));
        if args.buffer.is_null() {
            return Err(PjrtError::Invalid("PJRT_Client_BufferFromHostBuffer returned no buffer".into()));
        }
        Ok(Buffer { client: self.inner.clone(), raw: args.buffer })
    }
}

impl Buffer {
    /// The element type.
    pub fn dtype(&self) -> Result<DType, PjrtError> {
        let mut args = ffi::PJRT_Buffer_ElementType_Args::new();
        args.buffer = self.raw;
        // SAFETY: valid buffer.
        unsafe { self.client.call(self.api().PJRT_Buffer_ElementType, "PJRT_Buffer_ElementType", &mut args) }?;
        dtype_of(args.type_).ok_or_else(|| {
            PjrtError::Invalid(format!("the buffer has PJRT element type {}, which rjax does not support", args.type_))
        })
    }

    /// The shape.
    pub fn shape(&self) -> Result<Vec<usize>, PjrtError> {
        let mut args = ffi::PJRT_Buffer_Dimensions_Args::new();
        args.buffer = self.raw;
        // SAFETY: valid buffer; the dimensions live as long as the buffer.
        unsafe { self.client.call(self.api().PJRT_Buffer_Dimensions, "PJRT_Buffer_Dimensions", &mut args) }?;
        let dims = unsafe { slice_or_empty(args.dims, args.num_dims) };
        dims.iter()
            .map(|&d| {
                usize::try_from(d).map_err(|_| PjrtError::Invalid(format!("buffer has a negative dimension {d}")))
            })
            .collect()
    }

    /// An event that completes when the buffer's contents are computed (or
    /// their computation failed: then waiting on it returns that error).
    pub fn ready_event(&self) -> Result<Event, PjrtError> {
        let mut args = ffi::PJRT_Buffer_ReadyEvent_Args::new();
        args.buffer = self.raw;
        // SAFETY: valid buffer; the event is ours to destroy.
        unsafe { self.client.call(self.api().PJRT_Buffer_ReadyEvent, "PJRT_Buffer_ReadyEvent", &mut args) }?;
        Event::from_raw(&self.client, args.event)
            .ok_or_else(|| PjrtError::Invalid("PJRT_Buffer_ReadyEvent returned no event".into()))
    }

    /// Waits until the contents are computed.
    pub fn block_until_ready(&self) -> Result<(), PjrtError> {
        self.ready_event()?.wait()
    }

    /// Copies the contents to host memory (waiting for them to be computed).
    pub fn to_host(&self) -> Result<HostData, PjrtError> {
        let dtype = self.dtype()?;
        let shape = self.shape()?;
        let n: usize = shape.iter().product();
        let shape = IxDyn(&shape);
        let wrap = |e: ndarray::ShapeError| PjrtError::Invalid(format!("cannot shape the copied data: {e}"));
        Ok(match dtype {
            DType::F32 => HostData::F32(ArrayD::from_shape_vec(shape, self.download::<f32>(n)?).map_err(wrap)?),
            DType::F64 => HostData::F64(ArrayD::from_shape_vec(shape, self.download::<f64>(n)?).map_err(wrap)?),
            DType::I32 => HostData::I32(ArrayD::from_shape_vec(shape, self.download::<i32>(n)?).map_err(wrap)?),
            DType::U32 => HostData::U32(ArrayD::from_shape_vec(shape, self.download::<u32>(n)?).map_err(wrap)?),
            DType::U8 => HostData::U8(ArrayD::from_shape_vec(shape, self.download::<u8>(n)?).map_err(wrap)?),
            DType::Bool => {
                // Read bytes and compare with 0 rather than trusting them to be valid `bool`s.
                let bytes = self.download::<u8>(n)?;
                HostData::Bool(
                    ArrayD::from_shape_vec(shape, bytes.into_iter().map(|b| b != 0).collect()).map_err(wrap)?,
                )
            }
        })
    }

    /// Copies `n` elements of `T` (the buffer's dense row-major contents).
    fn download<T: Copy + Default>(&self, n: usize) -> Result<Vec<T>, PjrtError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let api = self.api();
        let mut query = ffi::PJRT_Buffer_ToHostBuffer_Args::new();
        query.src = self.raw;
        // SAFETY: with `dst` null the plugin only reports the size needed.
        unsafe { self.client.call(api.PJRT_Buffer_ToHostBuffer, "PJRT_Buffer_ToHostBuffer", &mut query) }?;
        drop(Event::from_raw(&self.client, query.event));
        let bytes = n * size_of::<T>();
        if query.dst_size != bytes {
            return Err(PjrtError::Invalid(format!(
                "the device buffer needs {} bytes on the host, expected {bytes} for {n} elements",
                query.dst_size
            )));
        }
        let mut out = vec![T::default(); n];
        let mut args = ffi::PJRT_Buffer_ToHostBuffer_Args::new();
        args.src = self.raw;
        args.dst = out.as_mut_ptr().cast::<c_void>();
        args.dst_size = bytes;
        // SAFETY: `out` has `bytes` bytes and is not touched until the copy is
        // complete: the event is awaited below before `out` is used or freed.
        unsafe { self.client.call(api.PJRT_Buffer_ToHostBuffer, "PJRT_Buffer_ToHostBuffer", &mut args) }?;
        if let Some(event) = Event::from_raw(&self.client, args.event) {
            event.wait()?;
        }
        Ok(out)
    }

    fn api(&self) -> &'static ffi::PJRT_Api {
        self.client.plugin.api()
    }
}

/// Completion of asynchronous work in the plugin (a transfer, a computation).
/// Destroyed on drop; dropping it does not cancel the work.
pub struct Event {
    /// Keeps the client that produced the event alive until it is destroyed.
    client: Arc<ClientInner>,
    raw: *mut ffi::PJRT_Event,
}

// SAFETY: PJRT events are thread-safe; the pointer is only passed to the plugin.
unsafe impl Send for Event {}
unsafe impl Sync for Event {}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Event")
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        let mut args = ffi::PJRT_Event_Destroy_Args::new();
        args.event = self.raw;
        // SAFETY: owned, live event, not used afterwards.
        let _ = unsafe { self.client.call(self.api().PJRT_Event_Destroy, "PJRT_Event_Destroy", &mut args) };
    }
}

impl Event {
    /// Takes ownership of a raw event (`None` for null).
    pub(crate) fn from_raw(client: &Arc<ClientInner>, raw: *mut ffi::PJRT_Event) -> Option<Event> {
        (!raw.is_null()).then(|| Event { client: client.clone(), raw })
    }

    /// Blocks until the work is done; returns its error if it failed.
    pub fn wait(&self) -> Result<(), PjrtError> {
        let mut args = ffi::PJRT_Event_Await_Args::new();
        args.event = self.raw;
        // SAFETY: valid event.
        unsafe { self.client.call(self.api().PJRT_Event_Await, "PJRT_Event_Await", &mut args) }
    }

    /// Whether the work is done (successfully or not), without blocking.
    pub fn is_ready(&self) -> Result<bool, PjrtError> {
        let mut args = ffi::PJRT_Event_IsReady_Args::new();
        args.event = self.raw;
        // SAFETY: valid event.
        unsafe { self.client.call(self.api().PJRT_Event_IsReady, "PJRT_Event_IsReady", &mut args) }?;
        Ok(args.is_ready)
    }

    fn api(&self) -> &'static ffi::PJRT_Api {
        self.client.plugin.api()
    }
}
