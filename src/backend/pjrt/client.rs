//! [`Client`], [`Device`] and [`Executable`]: the safe layer over a plugin's
//! client, its devices, compilation of StableHLO and execution.

use std::ffi::c_char;
use std::fmt;
use std::ptr;
use std::sync::Arc;

use super::buffer::Buffer;
use super::error::PjrtError;
use super::ffi;
use super::options::default_compile_options;
use super::plugin::{Plugin, slice_or_empty, string_from};

/// The plugin's client object, shared by everything created from it so that it
/// is destroyed last.
pub(crate) struct ClientInner {
    pub(crate) plugin: &'static Plugin,
    pub(crate) raw: *mut ffi::PJRT_Client,
    /// Addressable devices, in the plugin's order (owned by the client).
    devices: Vec<*mut ffi::PJRT_Device>,
}

// SAFETY: PJRT clients, devices, executables and buffers are thread-safe
// objects; the raw pointers are only passed to the plugin.
unsafe impl Send for ClientInner {}
unsafe impl Sync for ClientInner {}

impl Drop for ClientInner {
    fn drop(&mut self) {
        let mut args = ffi::PJRT_Client_Destroy_Args::new();
        args.client = self.raw;
        // SAFETY: the client is live and nothing refers to it any more. A
        // failure cannot be reported from `drop`; the error is freed.
        let _ = unsafe { self.plugin.call(self.plugin.api().PJRT_Client_Destroy, "PJRT_Client_Destroy", &mut args) };
    }
}

impl ClientInner {
    /// Calls a function of the client's plugin (see [`Plugin::call`]).
    ///
    /// # Safety
    /// As [`Plugin::call`].
    pub(crate) unsafe fn call<A>(&self, f: ffi::Fn<A>, op: &'static str, args: &mut A) -> Result<(), PjrtError> {
        // SAFETY: forwarded to the caller.
        unsafe { self.plugin.call(f, op, args) }
    }
}

/// A value of a client creation option (`PJRT_NamedValue`).
#[derive(Clone, Debug, PartialEq)]
pub enum OptionValue {
    /// A string.
    Str(String),
    /// A 64-bit integer.
    Int(i64),
    /// A list of 64-bit integers.
    IntList(Vec<i64>),
    /// A float.
    Float(f32),
    /// A boolean.
    Bool(bool),
}

/// A PJRT client: the devices of one plugin, compilation and transfers.
///
/// Buffers, devices and executables keep their client alive. `Client` is
/// cheap to clone (reference counted) and can be shared between threads.
///
/// ```no_run
/// use rjax::backend::pjrt::{Client, Plugin};
/// let client = Client::new(Plugin::cpu()?)?;
/// for d in client.devices()? {
///     println!("{}", d.description()?);
/// }
/// # Ok::<(), rjax::backend::pjrt::PjrtError>(())
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<ClientInner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("plugin", &self.inner.plugin.path()).finish()
    }
}

impl Client {
    /// Creates a client of `plugin` with its default options.
    pub fn new(plugin: &'static Plugin) -> Result<Client, PjrtError> {
        Client::with_options(plugin, &[])
    }

    /// A client of the CPU plugin found by [`locate`](super::locate).
    pub fn cpu() -> Result<Client, PjrtError> {
        Client::new(Plugin::cpu()?)
    }

    /// Creates a client with platform-specific options, e.g.
    /// `("cpu_device_count", OptionValue::Int(4))` for the CPU plugin.
    ///
    /// ```no_run
    /// use rjax::backend::pjrt::{Client, OptionValue, Plugin};
    /// let client = Client::with_options(Plugin::cpu()?, &[("cpu_device_count", OptionValue::Int(4))])?;
    /// assert_eq!(client.devices()?.len(), 4);
    /// # Ok::<(), rjax::backend::pjrt::PjrtError>(())
    /// ```
    pub fn with_options(plugin: &'static Plugin, options: &[(&str, OptionValue)]) -> Result<Client, PjrtError> {
        let named: Vec<ffi::PJRT_NamedValue> = options
            .iter()
            .map(|(name, value)| {
                let mut v = ffi::PJRT_NamedValue::new();
                v.name = name.as_ptr().cast::<c_char>();
                v.name_size = name.len();
                v.value_size = 1;
                match value {
                    OptionValue::Str(s) => {
                        v.type_ = ffi::PJRT_NamedValue_kString;
                        v.value.string_value = s.as_ptr().cast::<c_char>();
                        v.value_size = s.len();
                    }
                    OptionValue::Int(i) => {
                        v.type_ = ffi::PJRT_NamedValue_kInt64;
                        v.value.int64_value = *i;
                    }
                    OptionValue::IntList(l) => {
                        v.type_ = ffi::PJRT_NamedValue_kInt64List;
                        v.value.int64_array_value = l.as_ptr();
                        v.value_size = l.len();
                    }
                    OptionValue::Float(x) => {
                        v.type_ = ffi::PJRT_NamedValue_kFloat;
                        v.value.float_value = *x;
                    }
                    OptionValue::Bool(b) => {
                        v.type_ = ffi::PJRT_NamedValue_kBool;
                        v.value.bool_value = *b;
                    }
                }
                v
            })
            .collect();
        let mut args = ffi::PJRT_Client_Create_Args::new();
        args.create_options = named.as_ptr();
        args.num_options = named.len();
        // SAFETY: the options point into `options` and `named`, alive during the call.
        unsafe { plugin.call(plugin.api().PJRT_Client_Create, "PJRT_Client_Create", &mut args) }?;
        if args.client.is_null() {
            return Err(PjrtError::Invalid("PJRT_Client_Create returned no client".into()));
        }
        let mut inner = ClientInner { plugin, raw: args.client, devices: Vec::new() };
        let mut dargs = ffi::PJRT_Client_AddressableDevices_Args::new();
        dargs.client = inner.raw;
        // SAFETY: valid client; the device array is owned by the client.
        unsafe {
            inner.call(plugin.api().PJRT_Client_AddressableDevices, "PJRT_Client_AddressableDevices", &mut dargs)
        }?;
        inner.devices = unsafe { slice_or_empty(dargs.addressable_devices, dargs.num_addressable_devices) }.to_vec();
        Ok(Client { inner: Arc::new(inner) })
    }

    /// The plugin this client belongs to.
    pub fn plugin(&self) -> &'static Plugin {
        self.inner.plugin
    }

    /// The platform name, e.g. `"cpu"` or `"cuda"`.
    pub fn platform_name(&self) -> Result<String, PjrtError> {
        let mut args = ffi::PJRT_Client_PlatformName_Args::new();
        args.client = self.inner.raw;
        // SAFETY: valid client; the name lives as long as the client.
        unsafe {
            self.inner.call(self.api().PJRT_Client_PlatformName, "PJRT_Client_PlatformName", &mut args)?;
            Ok(string_from(args.platform_name, args.platform_name_size))
        }
    }

    /// Platform-specific version text (e.g. the CUDA version).
    pub fn platform_version(&self) -> Result<String, PjrtError> {
        let mut args = ffi::PJRT_Client_PlatformVersion_Args::new();
        args.client = self.inner.raw;
        // SAFETY: valid client; the text lives as long as the client.
        unsafe {
            self.inner.call(self.api().PJRT_Client_PlatformVersion, "PJRT_Client_PlatformVersion", &mut args)?;
            Ok(string_from(args.platform_version, args.platform_version_size))
        }
    }

    /// The devices this client can use, in the plugin's order.
    pub fn devices(&self) -> Result<Vec<Device>, PjrtError> {
        Ok(self.inner.devices.iter().map(|&raw| Device { client: self.inner.clone(), raw }).collect())
    }

    /// The first device, where [`Client::buffer`] puts data.
    pub fn default_device(&self) -> Result<Device, PjrtError> {
        self.devices()?.into_iter().next().ok_or_else(|| PjrtError::Invalid("the PJRT client has no devices".into()))
    }

    /// Compiles a StableHLO module given as MLIR text, with
    /// [`default_compile_options`]. A program the compiler rejects is a
    /// [`PjrtError::Compile`] carrying the compiler's message.
    ///
    /// ```no_run
    /// use rjax::backend::pjrt::Client;
    /// let client = Client::cpu()?;
    /// let exe = client.compile(
    ///     "func.func @main(%x: tensor<3xf32>) -> tensor<3xf32> {
    ///        %y = stablehlo.add %x, %x : tensor<3xf32>
    ///        return %y : tensor<3xf32>
    ///      }",
    /// )?;
    /// # Ok::<(), rjax::backend::pjrt::PjrtError>(())
    /// ```
    pub fn compile(&self, mlir: &str) -> Result<Executable, PjrtError> {
        self.compile_with_options(mlir, &default_compile_options())
    }

    /// [`Client::compile`] with a serialized `xla.CompileOptionsProto`.
    pub fn compile_with_options(&self, mlir: &str, compile_options: &[u8]) -> Result<Executable, PjrtError> {
        const FORMAT: &str = "mlir";
        // MLIR's lexer expects a NUL after the text and otherwise reads past
        // `code_size` (mid-token), so the text is passed NUL-terminated (the
        // NUL not counted). `program_text_is_read_only_up_to_its_length` tests it.
        let mut code = Vec::with_capacity(mlir.len() + 1);
        code.extend_from_slice(mlir.as_bytes());
        code.push(0);
        let mut program = ffi::PJRT_Program::new();
        // The plugin only reads `code` when compiling.
        program.code = code.as_mut_ptr().cast::<c_char>();
        program.code_size = mlir.len();
        program.format = FORMAT.as_ptr().cast::<c_char>();
        program.format_size = FORMAT.len();
        let mut args = ffi::PJRT_Client_Compile_Args::new();
        args.client = self.inner.raw;
        args.program = &program;
        args.compile_options = compile_options.as_ptr().cast::<c_char>();
        args.compile_options_size = compile_options.len();
        // SAFETY: program text and options outlive the call.
        let result = unsafe { self.inner.call(self.api().PJRT_Client_Compile, "PJRT_Client_Compile", &mut args) };
        match result {
            Ok(()) => {}
            Err(PjrtError::Plugin { message, .. } | PjrtError::Unimplemented { message, .. }) => {
                return Err(PjrtError::Compile { message });
            }
            Err(e) => return Err(e),
        }
        if args.executable.is_null() {
            return Err(PjrtError::Invalid("PJRT_Client_Compile returned no executable".into()));
        }
        self.own(args.executable)
    }

    /// Loads a program that [`Executable::serialize`] wrote, on this client's
    /// devices, without compiling it. `compile_options` (a serialized
    /// `xla.CompileOptionsProto`, as given to
    /// [`Client::compile_with_options`]) says where it runs: without them the
    /// plugin puts it on its first device, whatever it was compiled for.
    ///
    /// # Safety
    ///
    /// The bytes become native code run by this process, and the plugin
    /// checks little of them: they must be, whole, what `serialize` returned
    /// for a program of the same plugin build (rjax's compilation cache
    /// names each file by the plugin's identity and checks its length and
    /// CRC-32 before calling this). Bytes from anyone else, or damaged, may
    /// be rejected with an error or may misbehave.
    ///
    /// ```no_run
    /// use rjax::backend::pjrt::Client;
    /// let client = Client::cpu()?;
    /// let exe = client.compile(
    ///     "func.func @main(%x: tensor<3xf32>) -> tensor<3xf32> {
    ///        %y = stablehlo.add %x, %x : tensor<3xf32>
    ///        return %y : tensor<3xf32>
    ///      }",
    /// )?;
    /// // SAFETY: the bytes of `serialize` of this plugin, unchanged.
    /// let again = unsafe { client.deserialize(&exe.serialize()?, None) }?;
    /// assert_eq!(again.num_outputs(), 1);
    /// # Ok::<(), rjax::backend::pjrt::PjrtError>(())
    /// ```
    pub unsafe fn deserialize(&self, bytes: &[u8], compile_options: Option<&[u8]>) -> Result<Executable, PjrtError> {
        let mut args = ffi::PJRT_Executable_DeserializeAndLoad_Args::new();
        args.client = self.inner.raw;
        args.serialized_executable = bytes.as_ptr().cast::<c_char>();
        args.serialized_executable_size = bytes.len();
        if let Some(options) = compile_options {
            args.overridden_serialized_compile_options = options.as_ptr().cast::<c_char>();
            args.overridden_serialized_compile_options_size = options.len();
        }
        // SAFETY: the bytes and options outlive the call; the plugin copies what it keeps.
        unsafe {
            self.inner.call(
                self.api().PJRT_Executable_DeserializeAndLoad,
                "PJRT_Executable_DeserializeAndLoad",
                &mut args,
            )
        }?;
        if args.loaded_executable.is_null() {
            return Err(PjrtError::Invalid("PJRT_Executable_DeserializeAndLoad returned no executable".into()));
        }
        self.own(args.loaded_executable)
    }

    /// Takes ownership of a loaded executable the plugin returned.
    fn own(&self, raw: *mut ffi::PJRT_LoadedExecutable) -> Result<Executable, PjrtError> {
        // Owned from here on, so it is destroyed on any error below.
        let mut exe = Executable { client: self.inner.clone(), raw, num_outputs: 0, num_devices: 0 };
        exe.num_outputs = exe.query_num_outputs()?;
        exe.num_devices = exe.query_num_devices()?;
        Ok(exe)
    }

    fn api(&self) -> &'static ffi::PJRT_Api {
        self.inner.plugin.api()
    }
}

/// A device of a [`Client`] (a CPU device, a GPU).
#[derive(Clone)]
pub struct Device {
    pub(crate) client: Arc<ClientInner>,
    pub(crate) raw: *mut ffi::PJRT_Device,
}

// SAFETY: see `ClientInner`.
unsafe impl Send for Device {}
unsafe impl Sync for Device {}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.description() {
            Ok(d) => f.write_str(&d),
            Err(_) => f.write_str("Device(?)"),
        }
    }
}

/// Memory statistics of a device, from `PJRT_Device_MemoryStats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryStats {
    /// Bytes currently allocated.
    pub bytes_in_use: u64,
    /// The most bytes allocated at once, if the plugin reports it.
    pub peak_bytes_in_use: Option<u64>,
    /// The memory available for allocation, if the plugin reports it.
    pub bytes_limit: Option<u64>,
}

impl Device {
    fn description_ptr(&self) -> Result<*mut ffi::PJRT_DeviceDescription, PjrtError> {
        let mut args = ffi::PJRT_Device_GetDescription_Args::new();
        args.device = self.raw;
        // SAFETY: valid device of a live client.
        unsafe { self.client.call(self.api().PJRT_Device_GetDescription, "PJRT_Device_GetDescription", &mut args) }?;
        Ok(args.device_description)
    }

    /// The device id (unique among devices of this kind).
    pub fn id(&self) -> Result<i32, PjrtError> {
        let mut args = ffi::PJRT_DeviceDescription_Id_Args::new();
        args.device_description = self.description_ptr()?;
        // SAFETY: valid description owned by the device.
        unsafe { self.client.call(self.api().PJRT_DeviceDescription_Id, "PJRT_DeviceDescription_Id", &mut args) }?;
        Ok(args.id)
    }

    /// The kind of device, e.g. `"cpu"` or a GPU model name.
    pub fn kind(&self) -> Result<String, PjrtError> {
        let mut args = ffi::PJRT_DeviceDescription_Kind_Args::new();
        args.device_description = self.description_ptr()?;
        // SAFETY: valid description; the text lives as long as the device.
        unsafe {
            self.client.call(self.api().PJRT_DeviceDescription_Kind, "PJRT_DeviceDescription_Kind", &mut args)?;
            Ok(string_from(args.device_kind, args.device_kind_size))
        }
    }

    /// A short description, e.g. `"CpuDevice(id=0)"`.
    pub fn description(&self) -> Result<String, PjrtError> {
        let mut args = ffi::PJRT_DeviceDescription_ToString_Args::new();
        args.device_description = self.description_ptr()?;
        // SAFETY: valid description; the text lives as long as the device.
        unsafe {
            self.client.call(
                self.api().PJRT_DeviceDescription_ToString,
                "PJRT_DeviceDescription_ToString",
                &mut args,
            )?;
            Ok(string_from(args.to_string, args.to_string_size))
        }
    }

    /// Memory in use on the device and its peak. Plugins that do not track it
    /// (the CPU plugin) return [`PjrtError::Unimplemented`].
    pub fn memory_stats(&self) -> Result<MemoryStats, PjrtError> {
        let mut args = ffi::PJRT_Device_MemoryStats_Args::new();
        args.device = self.raw;
        // SAFETY: valid device of a live client.
        unsafe { self.client.call(self.api().PJRT_Device_MemoryStats, "PJRT_Device_MemoryStats", &mut args) }?;
        let nonneg = |v: i64| v.max(0) as u64;
        Ok(MemoryStats {
            bytes_in_use: nonneg(args.bytes_in_use),
            peak_bytes_in_use: args.peak_bytes_in_use_is_set.then(|| nonneg(args.peak_bytes_in_use)),
            bytes_limit: args.bytes_limit_is_set.then(|| nonneg(args.bytes_limit)),
        })
    }

    fn api(&self) -> &'static ffi::PJRT_Api {
        self.client.plugin.api()
    }
}

/// A compiled program, loaded on the client's devices.
pub struct Executable {
    client: Arc<ClientInner>,
    raw: *mut ffi::PJRT_LoadedExecutable,
    num_outputs: usize,
    num_devices: usize,
}

// SAFETY: see `ClientInner`.
unsafe impl Send for Executable {}
unsafe impl Sync for Executable {}

impl Drop for Executable {
    fn drop(&mut self) {
        let mut args = ffi::PJRT_LoadedExecutable_Destroy_Args::new();
        args.executable = self.raw;
        // SAFETY: owned, live executable, not used afterwards.
        let _ = unsafe {
            self.client.call(self.api().PJRT_LoadedExecutable_Destroy, "PJRT_LoadedExecutable_Destroy", &mut args)
        };
    }
}

impl fmt::Debug for Executable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executable").field("num_outputs", &self.num_outputs).finish()
    }
}

impl Executable {
    /// The number of results the program returns.
    pub fn num_outputs(&self) -> usize {
        self.num_outputs
    }

    /// The floating-point operations XLA's cost model counts in the program
    /// (`flops` of `PJRT_Executable_GetCostAnalysis`), when the plugin
    /// reports them. XLA's CPU plugin runs a program it counts under 1,000
    /// for on the calling thread instead of dispatching it (and counts none
    /// for a custom call).
    ///
    /// ```no_run
    /// let client = rjax::backend::pjrt::Client::cpu()?;
    /// let exe = client.compile(
    ///     "func.func @main(%a: tensor<4096xf32>) -> tensor<4096xf32> {
    ///        %b = stablehlo.add %a, %a : tensor<4096xf32>
    ///        return %b : tensor<4096xf32>
    ///      }",
    /// )?;
    /// assert_eq!(exe.flops()?, Some(4096.0));
    /// # Ok::<(), rjax::backend::pjrt::PjrtError>(())
    /// ```
    pub fn flops(&self) -> Result<Option<f64>, PjrtError> {
        self.with_executable(|exe| {
            let mut args = ffi::PJRT_Executable_GetCostAnalysis_Args::new();
            args.executable = exe;
            // SAFETY: valid executable; the properties live as long as it does.
            unsafe {
                self.client.call(
                    self.api().PJRT_Executable_GetCostAnalysis,
                    "PJRT_Executable_GetCostAnalysis",
                    &mut args,
                )
            }?;
            // SAFETY: the plugin's array of `num_properties` named values.
            let props = unsafe { slice_or_empty(args.properties, args.num_properties) };
            Ok(props.iter().find_map(|p| {
                // SAFETY: name and value are filled according to `type_`.
                unsafe {
                    if string_from(p.name, p.name_size) != "flops" {
                        return None;
                    }
                    match p.type_ {
                        ffi::PJRT_NamedValue_kFloat => Some(p.value.float_value as f64),
                        ffi::PJRT_NamedValue_kInt64 => Some(p.value.int64_value as f64),
                        _ => None,
                    }
                }
            }))
        })
    }

    /// Runs the program on `args` (buffers of the same client). Returns as
    /// soon as the work is enqueued: the outputs may still be computing, and
    /// reading them ([`Buffer::to_host`]) or [`Buffer::ready_event`] waits.
    /// Arguments are never donated, so they stay valid.
    ///
    /// The plugin checks the number of arguments and their sizes in bytes; it
    /// does not necessarily check their dtypes (the CPU plugin runs an `i32`
    /// buffer passed for an `f32` parameter of the same size), so callers must
    /// pass what the program declares.
    ///
    /// ```no_run
    /// use rjax::HostData;
    /// use rjax::backend::pjrt::Client;
    /// let client = Client::cpu()?;
    /// let exe = client.compile(
    ///     "func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
    ///        %y = stablehlo.multiply %x, %x : tensor<2xf32>
    ///        return %y : tensor<2xf32>
    ///      }",
    /// )?;
    /// let x = client.buffer(&HostData::F32(ndarray::arr1(&[3.0f32, 4.0]).into_dyn()))?;
    /// let y = exe.execute(&[&x])?;
    /// assert_eq!(y[0].to_host()?, HostData::F32(ndarray::arr1(&[9.0f32, 16.0]).into_dyn()));
    /// # Ok::<(), rjax::backend::pjrt::PjrtError>(())
    /// ```
    pub fn execute(&self, args: &[&Buffer]) -> Result<Vec<Buffer>, PjrtError> {
        self.execute_donating(args, &[])
    }

    /// [`Executable::execute`] that lets the program reuse the memory of the
    /// arguments flagged in `donate` (missing flags mean false) for outputs
    /// the module aliases to them (`tf.aliasing_output` argument attributes).
    /// A donated buffer is consumed: the plugin marks it deleted, so the
    /// caller must not use it afterwards.
    ///
    /// ```no_run
    /// use rjax::HostData;
    /// use rjax::backend::pjrt::Client;
    /// let client = Client::cpu()?;
    /// let exe = client.compile(
    ///     "func.func @main(%x: tensor<2xf32> {tf.aliasing_output = 0 : i32}) -> tensor<2xf32> {
    ///        %y = stablehlo.add %x, %x : tensor<2xf32>
    ///        return %y : tensor<2xf32>
    ///      }",
    /// )?;
    /// let x = client.buffer(&HostData::F32(ndarray::arr1(&[1.0f32, 2.0]).into_dyn()))?;
    /// let y = exe.execute_donating(&[&x], &[true])?;
    /// assert_eq!(y[0].to_host()?, HostData::F32(ndarray::arr1(&[2.0f32, 4.0]).into_dyn()));
    /// # Ok::<(), rjax::backend::pjrt::PjrtError>(())
    /// ```
    pub fn execute_donating(&self, args: &[&Buffer], donate: &[bool]) -> Result<Vec<Buffer>, PjrtError> {
        if self.num_devices != 1 {
            return Err(PjrtError::Invalid(format!(
                "the executable runs on {} devices: run it with `execute_partitioned`, one argument list per device",
                self.num_devices
            )));
        }
        let mut outs = self.execute_partitioned(&[args.to_vec()], donate)?;
        Ok(outs.pop().unwrap_or_default())
    }

    /// How many devices the program runs on (its partitions).
    pub fn num_devices(&self) -> usize {
        self.num_devices
    }

    /// Runs a program compiled for several devices (see
    /// [`CompileOptions::partitioned`](super::CompileOptions::partitioned)):
    /// `args[d]` are the arguments of device `d` in the program's device
    /// assignment (each buffer on that device), and the result holds the
    /// outputs of each device in the same order. `donate` flags arguments by
    /// position, for every device alike. Returns once the work is enqueued.
    pub fn execute_partitioned(&self, args: &[Vec<&Buffer>], donate: &[bool]) -> Result<Vec<Vec<Buffer>>, PjrtError> {
        if args.len() != self.num_devices {
            return Err(PjrtError::Invalid(format!(
                "the executable runs on {} devices but got {} argument lists",
                self.num_devices,
                args.len()
            )));
        }
        let num_args = args.first().map_or(0, Vec::len);
        for (d, list) in args.iter().enumerate() {
            if list.len() != num_args {
                return Err(PjrtError::Invalid(format!(
                    "device {d} got {} arguments, device 0 got {num_args}",
                    list.len()
                )));
            }
            if let Some(i) = list.iter().position(|b| !Arc::ptr_eq(&b.client, &self.client)) {
                return Err(PjrtError::Invalid(format!(
                    "argument {i} of device {d} is a buffer of another PJRT client than the executable's"
                )));
            }
        }
        let arg_ptrs: Vec<Vec<*mut ffi::PJRT_Buffer>> =
            args.iter().map(|list| list.iter().map(|b| b.raw).collect()).collect();
        let arg_lists: Vec<*const *mut ffi::PJRT_Buffer> = arg_ptrs.iter().map(|l| l.as_ptr()).collect();
        let mut outs: Vec<Vec<*mut ffi::PJRT_Buffer>> = vec![vec![ptr::null_mut(); self.num_outputs]; args.len()];
        let out_lists: Vec<*mut *mut ffi::PJRT_Buffer> = outs.iter_mut().map(|l| l.as_mut_ptr()).collect();
        let non_donatable: Vec<i64> =
            (0..num_args).filter(|&i| !donate.get(i).copied().unwrap_or(false)).map(|i| i as i64).collect();
        let mut options = ffi::PJRT_ExecuteOptions::new();
        options.non_donatable_input_indices = non_donatable.as_ptr();
        options.num_non_donatable_input_indices = non_donatable.len();
        let mut eargs = ffi::PJRT_LoadedExecutable_Execute_Args::new();
        eargs.executable = self.raw;
        eargs.options = &mut options;
        eargs.argument_lists = arg_lists.as_ptr();
        eargs.num_devices = args.len();
        eargs.num_args = num_args;
        eargs.output_lists = out_lists.as_ptr();
        // SAFETY: all arrays outlive the call; `outs` has room for every output of every device.
        unsafe {
            self.client.call(self.api().PJRT_LoadedExecutable_Execute, "PJRT_LoadedExecutable_Execute", &mut eargs)
        }?;
        // Take ownership of every output first, so all are destroyed if one is missing.
        let buffers: Vec<Vec<Buffer>> = outs
            .iter()
            .map(|l| {
                l.iter().filter(|p| !p.is_null()).map(|&raw| Buffer { client: self.client.clone(), raw }).collect()
            })
            .collect();
        if let Some(short) = buffers.iter().find(|l| l.len() != self.num_outputs) {
            return Err(PjrtError::Invalid(format!(
                "PJRT_LoadedExecutable_Execute returned {} of {} outputs",
                short.len(),
                self.num_outputs
            )));
        }
        Ok(buffers)
    }

    /// The compiled program as bytes that [`Client::deserialize`] loads
    /// again (in this process or another) without compiling: what a
    /// compilation cache keeps. Only the same plugin build can read them.
    ///
    /// ```no_run
    /// use rjax::backend::pjrt::Client;
    /// let client = Client::cpu()?;
    /// let exe = client.compile(
    ///     "func.func @main(%x: tensor<3xf32>) -> tensor<3xf32> {
    ///        %y = stablehlo.add %x, %x : tensor<3xf32>
    ///        return %y : tensor<3xf32>
    ///      }",
    /// )?;
    /// assert!(!exe.serialize()?.is_empty());
    /// # Ok::<(), rjax::backend::pjrt::PjrtError>(())
    /// ```
    pub fn serialize(&self) -> Result<Vec<u8>, PjrtError> {
        self.with_executable(|exe| {
            let mut args = ffi::PJRT_Executable_Serialize_Args::new();
            args.executable = exe;
            // SAFETY: valid executable; the bytes live until the deleter runs.
            unsafe { self.client.call(self.api().PJRT_Executable_Serialize, "PJRT_Executable_Serialize", &mut args) }?;
            let bytes = if args.serialized_bytes.is_null() {
                Vec::new()
            } else {
                // SAFETY: the plugin's buffer of `serialized_bytes_size` bytes, alive until deleted below.
                unsafe { std::slice::from_raw_parts(args.serialized_bytes.cast::<u8>(), args.serialized_bytes_size) }
                    .to_vec()
            };
            if let Some(delete) = args.serialized_executable_deleter {
                // SAFETY: called once, on the object the plugin returned; the bytes were copied.
                unsafe { delete(args.serialized_executable) };
            }
            if bytes.is_empty() {
                return Err(PjrtError::Invalid("PJRT_Executable_Serialize returned no bytes".into()));
            }
            Ok(bytes)
        })
    }

    /// Runs `f` on the plugin's `PJRT_Executable` of this program, destroyed after.
    fn with_executable<T>(
        &self,
        f: impl FnOnce(*mut ffi::PJRT_Executable) -> Result<T, PjrtError>,
    ) -> Result<T, PjrtError> {
        let mut get = ffi::PJRT_LoadedExecutable_GetExecutable_Args::new();
        get.loaded_executable = self.raw;
        // SAFETY: valid loaded executable; the returned executable is ours to destroy.
        unsafe {
            self.client.call(
                self.api().PJRT_LoadedExecutable_GetExecutable,
                "PJRT_LoadedExecutable_GetExecutable",
                &mut get,
            )
        }?;
        let result = f(get.executable);
        let mut destroy = ffi::PJRT_Executable_Destroy_Args::new();
        destroy.executable = get.executable;
        // SAFETY: destroys the executable obtained above, not used afterwards.
        unsafe { self.client.call(self.api().PJRT_Executable_Destroy, "PJRT_Executable_Destroy", &mut destroy) }?;
        result
    }

    fn query_num_outputs(&self) -> Result<usize, PjrtError> {
        self.with_executable(|exe| {
            let mut num = ffi::PJRT_Executable_NumOutputs_Args::new();
            num.executable = exe;
            // SAFETY: valid executable.
            unsafe { self.client.call(self.api().PJRT_Executable_NumOutputs, "PJRT_Executable_NumOutputs", &mut num) }?;
            Ok(num.num_outputs)
        })
    }

    fn query_num_devices(&self) -> Result<usize, PjrtError> {
        let mut args = ffi::PJRT_LoadedExecutable_AddressableDevices_Args::new();
        args.executable = self.raw;
        // SAFETY: valid loaded executable.
        unsafe {
            self.client.call(
                self.api().PJRT_LoadedExecutable_AddressableDevices,
                "PJRT_LoadedExecutable_AddressableDevices",
                &mut args,
            )
        }?;
        Ok(args.num_addressable_devices)
    }

    fn api(&self) -> &'static ffi::PJRT_Api {
        self.client.plugin.api()
    }
}
