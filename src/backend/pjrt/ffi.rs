//! Raw bindings to the PJRT C API, version 0.81 (`pjrt_c_api.h` as shipped in
//! the `xla-cpu-pjrt` wheel). Only the structs rjax uses are bound; the other
//! entries of the function table are kept as untyped pointers so the table
//! has the header's layout.
//!
//! Every argument struct starts with `struct_size`, which the plugin uses to
//! tell which fields the caller knows about. The header defines it as the
//! offset of the last field plus that field's size (`PJRT_STRUCT_SIZE`), which
//! is smaller than `size_of` when the struct ends in padding; `STRUCT_SIZE`
//! here is computed the same way, and `new()` sets it. `tests/pjrt.rs` checks
//! both numbers against values computed from the header with a C compiler.
//!
//! Names follow the header exactly, so the C documentation can be found by
//! searching for them. Everything here is `unsafe` to use: the safe layer is
//! [`Client`](super::Client).

#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals, missing_docs)]

use std::ffi::{c_char, c_int, c_void};
use std::marker::{PhantomData, PhantomPinned};

/// The API version these bindings were written against.
pub const PJRT_API_MAJOR: i32 = 0;
/// The API minor version these bindings were written against.
pub const PJRT_API_MINOR: i32 = 81;

macro_rules! opaque {
    ($($name:ident),* $(,)?) => {$(
        /// An opaque object owned by the plugin.
        #[repr(C)]
        pub struct $name {
            _data: [u8; 0],
            _marker: PhantomData<(*mut u8, PhantomPinned)>,
        }
    )*};
}

opaque!(
    PJRT_Extension_Base,
    PJRT_Error,
    PJRT_Event,
    PJRT_Client,
    PJRT_Device,
    PJRT_Memory,
    PJRT_DeviceDescription,
    PJRT_Executable,
    PJRT_LoadedExecutable,
    PJRT_Buffer,
);

/// `PJRT_Error_Code` (absl status codes).
pub type PJRT_Error_Code = c_int;
/// `PJRT_Buffer_Type`.
pub type PJRT_Buffer_Type = c_int;
/// `PJRT_HostBufferSemantics`.
pub type PJRT_HostBufferSemantics = c_int;
/// `PJRT_NamedValue_Type`.
pub type PJRT_NamedValue_Type = c_int;

pub const PJRT_Buffer_Type_PRED: PJRT_Buffer_Type = 1;
pub const PJRT_Buffer_Type_S32: PJRT_Buffer_Type = 4;
pub const PJRT_Buffer_Type_U8: PJRT_Buffer_Type = 6;
pub const PJRT_Buffer_Type_U32: PJRT_Buffer_Type = 8;
pub const PJRT_Buffer_Type_F32: PJRT_Buffer_Type = 11;
pub const PJRT_Buffer_Type_F64: PJRT_Buffer_Type = 12;

pub const PJRT_HostBufferSemantics_kImmutableOnlyDuringCall: PJRT_HostBufferSemantics = 0;

pub const PJRT_NamedValue_kString: PJRT_NamedValue_Type = 0;
pub const PJRT_NamedValue_kInt64: PJRT_NamedValue_Type = 1;
pub const PJRT_NamedValue_kInt64List: PJRT_NamedValue_Type = 2;
pub const PJRT_NamedValue_kFloat: PJRT_NamedValue_Type = 3;
pub const PJRT_NamedValue_kBool: PJRT_NamedValue_Type = 4;

/// Defines a `#[repr(C)]` struct, its `STRUCT_SIZE` (offset of the last field
/// plus its size, as `PJRT_STRUCT_SIZE` in the header) and `new()`, which
/// zeroes it and sets `struct_size`.
macro_rules! pjrt_struct {
    (
        $(#[$meta:meta])*
        $name:ident { $($field:ident : $ty:ty),* ; last $lfield:ident : $lty:ty $(,)? }
    ) => {
        $(#[$meta])*
        #[repr(C)]
        pub struct $name {
            $(pub $field: $ty,)*
            pub $lfield: $lty,
        }
        impl $name {
            /// The header's `<name>_STRUCT_SIZE`.
            #[allow(dead_code)] // generated for every struct, not every one uses it
            pub const STRUCT_SIZE: usize =
                std::mem::offset_of!($name, $lfield) + std::mem::size_of::<$lty>();
            /// All fields zero (null pointers, `false`, 0), `struct_size` set.
            #[allow(clippy::new_without_default)]
            #[allow(dead_code)] // generated for every struct, not every one uses it
            pub fn new() -> Self {
                // SAFETY: every field is an integer, a bool, a raw pointer, an
                // `Option` of a function pointer or a union of those, for which
                // the all-zero bit pattern is valid (0, false, null, None).
                let mut s: Self = unsafe { std::mem::zeroed() };
                s.struct_size = Self::STRUCT_SIZE;
                s
            }
        }
    };
}

pjrt_struct!(PJRT_Api_Version {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base, major_version: c_int;
    last minor_version: c_int
});
pjrt_struct!(PJRT_Error_Destroy_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base;
    last error: *mut PJRT_Error
});
pjrt_struct!(PJRT_Error_Message_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base, error: *const PJRT_Error,
    message: *const c_char;
    last message_size: usize
});
pjrt_struct!(PJRT_Error_GetCode_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base, error: *const PJRT_Error;
    last code: PJRT_Error_Code
});

/// The value of a [`PJRT_NamedValue`] (an anonymous union in C).
#[repr(C)]
#[derive(Clone, Copy)]
pub union PJRT_NamedValue_Value {
    pub string_value: *const c_char,
    pub int64_value: i64,
    pub int64_array_value: *const i64,
    pub float_value: f32,
    pub bool_value: bool,
}

pjrt_struct!(PJRT_NamedValue {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base, name: *const c_char,
    name_size: usize, type_: PJRT_NamedValue_Type, value: PJRT_NamedValue_Value;
    last value_size: usize
});
pjrt_struct!(PJRT_Plugin_Initialize_Args {
    struct_size: usize;
    last extension_start: *mut PJRT_Extension_Base
});
pjrt_struct!(PJRT_Plugin_Attributes_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base,
    attributes: *const PJRT_NamedValue;
    last num_attributes: usize
});

pjrt_struct!(PJRT_Event_Destroy_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base;
    last event: *mut PJRT_Event
});
pjrt_struct!(PJRT_Event_IsReady_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base, event: *mut PJRT_Event;
    last is_ready: bool
});
pjrt_struct!(PJRT_Event_Error_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base;
    last event: *mut PJRT_Event
});
pjrt_struct!(PJRT_Event_Await_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base;
    last event: *mut PJRT_Event
});

pjrt_struct!(PJRT_Client_Create_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base,
    create_options: *const PJRT_NamedValue, num_options: usize,
    kv_get_callback: *mut c_void, kv_get_user_arg: *mut c_void,
    kv_put_callback: *mut c_void, kv_put_user_arg: *mut c_void,
    client: *mut PJRT_Client, kv_try_get_callback: *mut c_void;
    last kv_try_get_user_arg: *mut c_void
});
pjrt_struct!(PJRT_Client_Destroy_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base;
    last client: *mut PJRT_Client
});
pjrt_struct!(PJRT_Client_PlatformName_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base, client: *mut PJRT_Client,
    platform_name: *const c_char;
    last platform_name_size: usize
});
pjrt_struct!(PJRT_Client_PlatformVersion_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base, client: *mut PJRT_Client,
    platform_version: *const c_char;
    last platform_version_size: usize
});
pjrt_struct!(PJRT_Client_AddressableDevices_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base, client: *mut PJRT_Client,
    addressable_devices: *const *mut PJRT_Device;
    last num_addressable_devices: usize
});
pjrt_struct!(PJRT_Program {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base, code: *mut c_char,
    code_size: usize, format: *const c_char;
    last format_size: usize
});
pjrt_struct!(PJRT_Client_Compile_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base, client: *mut PJRT_Client,
    program: *const PJRT_Program, compile_options: *const c_char, compile_options_size: usize;
    last executable: *mut PJRT_LoadedExecutable
});
pjrt_struct!(PJRT_Client_BufferFromHostBuffer_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base, client: *mut PJRT_Client,
    data: *const c_void, type_: PJRT_Buffer_Type, dims: *const i64, num_dims: usize,
    byte_strides: *const i64, num_byte_strides: usize,
    host_buffer_semantics: PJRT_HostBufferSemantics, device: *mut PJRT_Device,
    memory: *mut PJRT_Memory, device_layout: *mut c_void, done_with_host_buffer: *mut PJRT_Event;
    last buffer: *mut PJRT_Buffer
});

pjrt_struct!(PJRT_DeviceDescription_Id_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base,
    device_description: *mut PJRT_DeviceDescription;
    last id: c_int
});
pjrt_struct!(PJRT_DeviceDescription_Kind_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base,
    device_description: *mut PJRT_DeviceDescription, device_kind: *const c_char;
    last device_kind_size: usize
});
pjrt_struct!(PJRT_DeviceDescription_ToString_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base,
    device_description: *mut PJRT_DeviceDescription, to_string: *const c_char;
    last to_string_size: usize
});
pjrt_struct!(PJRT_Device_GetDescription_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base, device: *mut PJRT_Device;
    last device_description: *mut PJRT_DeviceDescription
});
pjrt_struct!(PJRT_Device_MemoryStats_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base, device: *mut PJRT_Device,
    bytes_in_use: i64,
    peak_bytes_in_use: i64, peak_bytes_in_use_is_set: bool,
    num_allocs: i64, num_allocs_is_set: bool,
    largest_alloc_size: i64, largest_alloc_size_is_set: bool,
    bytes_limit: i64, bytes_limit_is_set: bool,
    bytes_reserved: i64, bytes_reserved_is_set: bool,
    peak_bytes_reserved: i64, peak_bytes_reserved_is_set: bool,
    bytes_reservable_limit: i64, bytes_reservable_limit_is_set: bool,
    largest_free_block_bytes: i64, largest_free_block_bytes_is_set: bool,
    pool_bytes: i64, pool_bytes_is_set: bool,
    peak_pool_bytes: i64;
    last peak_pool_bytes_is_set: bool
});

pjrt_struct!(PJRT_Executable_Destroy_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base;
    last executable: *mut PJRT_Executable
});
pjrt_struct!(PJRT_LoadedExecutable_Destroy_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base;
    last executable: *mut PJRT_LoadedExecutable
});
/// `PJRT_SerializedExecutable`: what backs the bytes of a serialization.
pub type PJRT_SerializedExecutable = c_void;

pjrt_struct!(PJRT_Executable_Serialize_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base, executable: *const PJRT_Executable,
    serialized_bytes: *const c_char, serialized_bytes_size: usize,
    serialized_executable: *mut PJRT_SerializedExecutable;
    last serialized_executable_deleter: Option<unsafe extern "C" fn(exec: *mut PJRT_SerializedExecutable)>
});
pjrt_struct!(PJRT_Executable_DeserializeAndLoad_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base, client: *mut PJRT_Client,
    serialized_executable: *const c_char, serialized_executable_size: usize,
    loaded_executable: *mut PJRT_LoadedExecutable,
    overridden_serialized_compile_options: *const c_char;
    last overridden_serialized_compile_options_size: usize
});
pjrt_struct!(PJRT_LoadedExecutable_GetExecutable_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base,
    loaded_executable: *mut PJRT_LoadedExecutable;
    last executable: *mut PJRT_Executable
});
pjrt_struct!(PJRT_LoadedExecutable_AddressableDevices_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base,
    executable: *mut PJRT_LoadedExecutable, addressable_devices: *const *mut PJRT_Device;
    last num_addressable_devices: usize
});
pjrt_struct!(PJRT_Executable_GetCostAnalysis_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base,
    executable: *mut PJRT_Executable, num_properties: usize;
    last properties: *const PJRT_NamedValue
});
pjrt_struct!(PJRT_Executable_NumOutputs_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base,
    executable: *mut PJRT_Executable;
    last num_outputs: usize
});
pjrt_struct!(PJRT_ExecuteOptions {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base,
    send_callbacks: *mut *mut c_void, recv_callbacks: *mut *mut c_void,
    num_send_ops: usize, num_recv_ops: usize, launch_id: c_int,
    non_donatable_input_indices: *const i64, num_non_donatable_input_indices: usize,
    context: *mut c_void, call_location: *const c_char, num_tasks: usize, task_ids: *mut c_int;
    last incarnation_ids: *mut i64
});
pjrt_struct!(PJRT_LoadedExecutable_Execute_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base,
    executable: *mut PJRT_LoadedExecutable, options: *mut PJRT_ExecuteOptions,
    argument_lists: *const *const *mut PJRT_Buffer, num_devices: usize, num_args: usize,
    output_lists: *const *mut *mut PJRT_Buffer, device_complete_events: *mut *mut PJRT_Event;
    last execute_device: *mut PJRT_Device
});

pjrt_struct!(PJRT_Buffer_Destroy_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base;
    last buffer: *mut PJRT_Buffer
});
pjrt_struct!(PJRT_Buffer_ElementType_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base, buffer: *mut PJRT_Buffer;
    last type_: PJRT_Buffer_Type
});
pjrt_struct!(PJRT_Buffer_Dimensions_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base, buffer: *mut PJRT_Buffer,
    dims: *const i64;
    last num_dims: usize
});
pjrt_struct!(PJRT_Buffer_ToHostBuffer_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base, src: *mut PJRT_Buffer,
    host_layout: *mut c_void, dst: *mut c_void, dst_size: usize;
    last event: *mut PJRT_Event
});
pjrt_struct!(PJRT_Buffer_ReadyEvent_Args {
    struct_size: usize, extension_start: *mut PJRT_Extension_Base, buffer: *mut PJRT_Buffer;
    last event: *mut PJRT_Event
});

/// A typed entry of the function table: `PJRT_Error* fn(Args*)`.
pub type Fn<A> = Option<unsafe extern "C" fn(args: *mut A) -> *mut PJRT_Error>;
/// An entry of the function table that rjax does not call.
pub type Unbound = Option<unsafe extern "C" fn()>;

/// `PJRT_Api`: the version and the function table returned by `GetPjrtApi`.
#[repr(C)]
pub struct PJRT_Api {
    pub struct_size: usize,
    pub extension_start: *mut PJRT_Extension_Base,
    pub pjrt_api_version: PJRT_Api_Version,
    pub PJRT_Error_Destroy: Option<unsafe extern "C" fn(args: *mut PJRT_Error_Destroy_Args)>,
    pub PJRT_Error_Message: Option<unsafe extern "C" fn(args: *mut PJRT_Error_Message_Args)>,
    pub PJRT_Error_GetCode: Fn<PJRT_Error_GetCode_Args>,
    pub PJRT_Plugin_Initialize: Fn<PJRT_Plugin_Initialize_Args>,
    pub PJRT_Plugin_Attributes: Fn<PJRT_Plugin_Attributes_Args>,
    pub PJRT_Event_Destroy: Fn<PJRT_Event_Destroy_Args>,
    pub PJRT_Event_IsReady: Fn<PJRT_Event_IsReady_Args>,
    pub PJRT_Event_Error: Fn<PJRT_Event_Error_Args>,
    pub PJRT_Event_Await: Fn<PJRT_Event_Await_Args>,
    pub PJRT_Event_OnReady: Unbound,
    pub PJRT_Client_Create: Fn<PJRT_Client_Create_Args>,
    pub PJRT_Client_Destroy: Fn<PJRT_Client_Destroy_Args>,
    pub PJRT_Client_PlatformName: Fn<PJRT_Client_PlatformName_Args>,
    pub PJRT_Client_ProcessIndex: Unbound,
    pub PJRT_Client_PlatformVersion: Fn<PJRT_Client_PlatformVersion_Args>,
    pub PJRT_Client_Devices: Unbound,
    pub PJRT_Client_AddressableDevices: Fn<PJRT_Client_AddressableDevices_Args>,
    pub PJRT_Client_LookupDevice: Unbound,
    pub PJRT_Client_LookupAddressableDevice: Unbound,
    pub PJRT_Client_AddressableMemories: Unbound,
    pub PJRT_Client_Compile: Fn<PJRT_Client_Compile_Args>,
    pub PJRT_Client_DefaultDeviceAssignment: Unbound,
    pub PJRT_Client_BufferFromHostBuffer: Fn<PJRT_Client_BufferFromHostBuffer_Args>,
    pub PJRT_DeviceDescription_Id: Fn<PJRT_DeviceDescription_Id_Args>,
    pub PJRT_DeviceDescription_ProcessIndex: Unbound,
    pub PJRT_DeviceDescription_Attributes: Unbound,
    pub PJRT_DeviceDescription_Kind: Fn<PJRT_DeviceDescription_Kind_Args>,
    pub PJRT_DeviceDescription_DebugString: Unbound,
    pub PJRT_DeviceDescription_ToString: Fn<PJRT_DeviceDescription_ToString_Args>,
    pub PJRT_Device_GetDescription: Fn<PJRT_Device_GetDescription_Args>,
    pub PJRT_Device_IsAddressable: Unbound,
    pub PJRT_Device_LocalHardwareId: Unbound,
    pub PJRT_Device_AddressableMemories: Unbound,
    pub PJRT_Device_DefaultMemory: Unbound,
    pub PJRT_Device_MemoryStats: Fn<PJRT_Device_MemoryStats_Args>,
    pub PJRT_Memory_Id: Unbound,
    pub PJRT_Memory_Kind: Unbound,
    pub PJRT_Memory_DebugString: Unbound,
    pub PJRT_Memory_ToString: Unbound,
    pub PJRT_Memory_AddressableByDevices: Unbound,
    pub PJRT_Executable_Destroy: Fn<PJRT_Executable_Destroy_Args>,
    pub PJRT_Executable_Name: Unbound,
    pub PJRT_Executable_NumReplicas: Unbound,
    pub PJRT_Executable_NumPartitions: Unbound,
    pub PJRT_Executable_NumOutputs: Fn<PJRT_Executable_NumOutputs_Args>,
    pub PJRT_Executable_SizeOfGeneratedCodeInBytes: Unbound,
    pub PJRT_Executable_GetCostAnalysis: Fn<PJRT_Executable_GetCostAnalysis_Args>,
    pub PJRT_Executable_OutputMemoryKinds: Unbound,
    pub PJRT_Executable_OptimizedProgram: Unbound,
    pub PJRT_Executable_Serialize: Fn<PJRT_Executable_Serialize_Args>,
    pub PJRT_LoadedExecutable_Destroy: Fn<PJRT_LoadedExecutable_Destroy_Args>,
    pub PJRT_LoadedExecutable_GetExecutable: Fn<PJRT_LoadedExecutable_GetExecutable_Args>,
    pub PJRT_LoadedExecutable_AddressableDevices: Fn<PJRT_LoadedExecutable_AddressableDevices_Args>,
    pub PJRT_LoadedExecutable_Delete: Unbound,
    pub PJRT_LoadedExecutable_IsDeleted: Unbound,
    pub PJRT_LoadedExecutable_Execute: Fn<PJRT_LoadedExecutable_Execute_Args>,
    pub PJRT_Executable_DeserializeAndLoad: Fn<PJRT_Executable_DeserializeAndLoad_Args>,
    pub PJRT_LoadedExecutable_Fingerprint: Unbound,
    pub PJRT_Buffer_Destroy: Fn<PJRT_Buffer_Destroy_Args>,
    pub PJRT_Buffer_ElementType: Fn<PJRT_Buffer_ElementType_Args>,
    pub PJRT_Buffer_Dimensions: Fn<PJRT_Buffer_Dimensions_Args>,
    pub PJRT_Buffer_UnpaddedDimensions: Unbound,
    pub PJRT_Buffer_DynamicDimensionIndices: Unbound,
    pub PJRT_Buffer_GetMemoryLayout: Unbound,
    pub PJRT_Buffer_OnDeviceSizeInBytes: Unbound,
    pub PJRT_Buffer_Device: Unbound,
    pub PJRT_Buffer_Memory: Unbound,
    pub PJRT_Buffer_Delete: Unbound,
    pub PJRT_Buffer_IsDeleted: Unbound,
    pub PJRT_Buffer_CopyToDevice: Unbound,
    pub PJRT_Buffer_ToHostBuffer: Fn<PJRT_Buffer_ToHostBuffer_Args>,
    pub PJRT_Buffer_IsOnCpu: Unbound,
    pub PJRT_Buffer_ReadyEvent: Fn<PJRT_Buffer_ReadyEvent_Args>,
    pub PJRT_Buffer_UnsafePointer: Unbound,
    pub PJRT_Buffer_IncreaseExternalReferenceCount: Unbound,
    pub PJRT_Buffer_DecreaseExternalReferenceCount: Unbound,
    pub PJRT_Buffer_OpaqueDeviceMemoryDataPointer: Unbound,
    pub PJRT_CopyToDeviceStream_Destroy: Unbound,
    pub PJRT_CopyToDeviceStream_AddChunk: Unbound,
    pub PJRT_CopyToDeviceStream_TotalBytes: Unbound,
    pub PJRT_CopyToDeviceStream_GranuleSize: Unbound,
    pub PJRT_CopyToDeviceStream_CurrentBytes: Unbound,
    pub PJRT_TopologyDescription_Create: Unbound,
    pub PJRT_TopologyDescription_Destroy: Unbound,
    pub PJRT_TopologyDescription_PlatformName: Unbound,
    pub PJRT_TopologyDescription_PlatformVersion: Unbound,
    pub PJRT_TopologyDescription_GetDeviceDescriptions: Unbound,
    pub PJRT_TopologyDescription_Serialize: Unbound,
    pub PJRT_TopologyDescription_Attributes: Unbound,
    pub PJRT_Compile: Unbound,
    pub PJRT_Executable_OutputElementTypes: Unbound,
    pub PJRT_Executable_OutputDimensions: Unbound,
    pub PJRT_Buffer_CopyToMemory: Unbound,
    pub PJRT_Client_CreateViewOfDeviceBuffer: Unbound,
    pub PJRT_Executable_Fingerprint: Unbound,
    pub PJRT_Client_TopologyDescription: Unbound,
    pub PJRT_Executable_GetCompiledMemoryStats: Unbound,
    pub PJRT_Memory_Kind_Id: Unbound,
    pub PJRT_ExecuteContext_Create: Unbound,
    pub PJRT_ExecuteContext_Destroy: Unbound,
    pub PJRT_Buffer_CopyRawToHost: Unbound,
    pub PJRT_AsyncHostToDeviceTransferManager_Destroy: Unbound,
    pub PJRT_AsyncHostToDeviceTransferManager_TransferData: Unbound,
    pub PJRT_Client_CreateBuffersForAsyncHostToDevice: Unbound,
    pub PJRT_AsyncHostToDeviceTransferManager_RetrieveBuffer: Unbound,
    pub PJRT_AsyncHostToDeviceTransferManager_Device: Unbound,
    pub PJRT_AsyncHostToDeviceTransferManager_BufferCount: Unbound,
    pub PJRT_AsyncHostToDeviceTransferManager_BufferSize: Unbound,
    pub PJRT_AsyncHostToDeviceTransferManager_SetBufferError: Unbound,
    pub PJRT_AsyncHostToDeviceTransferManager_AddMetadata: Unbound,
    pub PJRT_Client_DmaMap: Unbound,
    pub PJRT_Client_DmaUnmap: Unbound,
    pub PJRT_Client_CreateUninitializedBuffer: Unbound,
    pub PJRT_Client_UpdateGlobalProcessInfo: Unbound,
    pub PJRT_TopologyDescription_Deserialize: Unbound,
    pub PJRT_Client_CreateAliasBuffer: Unbound,
    pub PJRT_Client_FulfillAliasBuffer: Unbound,
    pub PJRT_LoadedExecutable_GetDeviceAssignment: Unbound,
}

impl PJRT_Api {
    /// The header's `PJRT_Api_STRUCT_SIZE` for version 0.81.
    pub const STRUCT_SIZE: usize =
        std::mem::offset_of!(PJRT_Api, PJRT_LoadedExecutable_GetDeviceAssignment) + std::mem::size_of::<Unbound>();
}

/// The signature of the plugin's one exported symbol, `GetPjrtApi`.
pub type GetPjrtApiFn = unsafe extern "C" fn() -> *const PJRT_Api;

/// The bindings' layout against the header (private to the crate, so tested here).
#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes computed from pjrt_c_api.h (API 0.81) with gcc on x86_64:
    /// `sizeof(T)` and the header's `T_STRUCT_SIZE` (offset of the last field plus its size).
    #[test]
    fn struct_sizes_match_the_0_81_header() {
        macro_rules! check {
            ($($t:ident: $size:literal, $struct_size:literal;)*) => {$(
                assert_eq!(size_of::<$t>(), $size, "size_of::<{}>()", stringify!($t));
                assert_eq!($t::STRUCT_SIZE, $struct_size, "{}::STRUCT_SIZE", stringify!($t));
                assert_eq!(align_of::<$t>(), 8, "align_of::<{}>()", stringify!($t));
            )*};
        }
        check! {
            PJRT_Api_Version: 24, 24;
            PJRT_Error_Destroy_Args: 24, 24;
            PJRT_Error_Message_Args: 40, 40;
            PJRT_Error_GetCode_Args: 32, 28;
            PJRT_NamedValue: 56, 56;
            PJRT_Plugin_Initialize_Args: 16, 16;
            PJRT_Plugin_Attributes_Args: 32, 32;
            PJRT_Event_Destroy_Args: 24, 24;
            PJRT_Event_IsReady_Args: 32, 25;
            PJRT_Event_Error_Args: 24, 24;
            PJRT_Event_Await_Args: 24, 24;
            PJRT_Client_Create_Args: 88, 88;
            PJRT_Client_Destroy_Args: 24, 24;
            PJRT_Client_PlatformName_Args: 40, 40;
            PJRT_Client_PlatformVersion_Args: 40, 40;
            PJRT_Client_AddressableDevices_Args: 40, 40;
            PJRT_Program: 48, 48;
            PJRT_Client_Compile_Args: 56, 56;
            PJRT_Client_BufferFromHostBuffer_Args: 120, 120;
            PJRT_DeviceDescription_Id_Args: 32, 28;
            PJRT_DeviceDescription_Kind_Args: 40, 40;
            PJRT_DeviceDescription_ToString_Args: 40, 40;
            PJRT_Device_GetDescription_Args: 32, 32;
            PJRT_Device_MemoryStats_Args: 192, 185;
            PJRT_Executable_Destroy_Args: 24, 24;
            PJRT_LoadedExecutable_Destroy_Args: 24, 24;
            PJRT_LoadedExecutable_GetExecutable_Args: 32, 32;
            PJRT_LoadedExecutable_AddressableDevices_Args: 40, 40;
            PJRT_Executable_NumOutputs_Args: 32, 32;
            PJRT_Executable_GetCostAnalysis_Args: 40, 40;
            PJRT_Executable_Serialize_Args: 56, 56;
            PJRT_Executable_DeserializeAndLoad_Args: 64, 64;
            PJRT_ExecuteOptions: 112, 112;
            PJRT_LoadedExecutable_Execute_Args: 80, 80;
            PJRT_Buffer_Destroy_Args: 24, 24;
            PJRT_Buffer_ElementType_Args: 32, 28;
            PJRT_Buffer_Dimensions_Args: 40, 40;
            PJRT_Buffer_ToHostBuffer_Args: 56, 56;
            PJRT_Buffer_ReadyEvent_Args: 32, 32;
            PJRT_Api: 984, 984;
        }
        // `new()` fills in struct_size.
        assert_eq!(PJRT_Client_Create_Args::new().struct_size, 88);
        assert_eq!(PJRT_Device_MemoryStats_Args::new().struct_size, 185);
        // Entries of the function table sit where the header puts them (3 words of header, then 8 bytes each).
        assert_eq!(std::mem::offset_of!(PJRT_Api, PJRT_Error_Destroy), 40);
        assert_eq!(std::mem::offset_of!(PJRT_Api, PJRT_Client_Compile), 40 + 20 * 8);
        assert_eq!(std::mem::offset_of!(PJRT_Api, PJRT_LoadedExecutable_Execute), 40 + 55 * 8);
        assert_eq!(std::mem::offset_of!(PJRT_Api, PJRT_Buffer_ToHostBuffer), 40 + 70 * 8);
        assert_eq!(std::mem::offset_of!(PJRT_Api, PJRT_Executable_Serialize), 40 + 49 * 8);
        assert_eq!(std::mem::offset_of!(PJRT_Api, PJRT_Executable_DeserializeAndLoad), 40 + 56 * 8);
    }
}
