//! Rust functions called from inside XLA CPU programs.
//!
//! A `stablehlo.custom_call` with `api_version = 4` (XLA's typed FFI) names a
//! handler that XLA calls with the buffers of the call's operands and
//! results. rjax registers its handlers with the CPU plugin through PJRT's
//! FFI extension (`pjrt_c_api_ffi_extension.h`, `register_handler`, platform
//! `Host`); the calling convention is XLA's FFI C API (`xla/ffi/api/c_api.h`),
//! of which this module binds the part a handler needs: the call frame, its
//! buffers, the metadata query XLA makes when a handler is registered, and
//! creating the error a failed call returns.
//!
//! A handler is a type implementing [`HostCall`]; [`register`] makes
//! `H::NAME` callable. Handlers see plain buffers ([`HostBuffer`]); a failure
//! they return (or a panic) becomes an XLA error, which fails the program's
//! run with the message.

#![allow(non_camel_case_types)]

use super::{PjrtError, Plugin};
use crate::core::DType;
use std::ffi::{CString, c_char, c_int, c_void};
use std::marker::{PhantomData, PhantomPinned};
use std::mem::offset_of;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::null_mut;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// `PJRT_Extension_Base` and `XLA_FFI_Extension_Base`: one link of a chain
/// of extensions, told apart by `ty`.
#[repr(C)]
struct ExtensionBase {
    struct_size: usize,
    ty: c_int,
    next: *mut ExtensionBase,
}

/// `PJRT_Extension_Type_FFI`.
const PJRT_EXTENSION_TYPE_FFI: c_int = 5;
/// `XLA_FFI_Extension_Metadata`.
const XLA_FFI_EXTENSION_METADATA: c_int = 1;
/// `XLA_FFI_ArgType_BUFFER` and `XLA_FFI_RetType_BUFFER`.
const XLA_FFI_BUFFER: c_int = 1;
/// `XLA_FFI_ExecutionStage_EXECUTE`.
const XLA_FFI_STAGE_EXECUTE: c_int = 3;
/// `XLA_FFI_Error_Code_INVALID_ARGUMENT` and `_INTERNAL`.
const XLA_FFI_INVALID_ARGUMENT: c_int = 3;
const XLA_FFI_INTERNAL: c_int = 13;

/// `PJRT_FFI_Extension`, up to the entry rjax calls.
#[repr(C)]
struct PjrtFfiExtension {
    base: ExtensionBase,
    type_register: *mut c_void,
    user_data_add: *mut c_void,
    register_handler: Option<unsafe extern "C" fn(*mut RegisterHandlerArgs) -> *mut super::ffi::PJRT_Error>,
}

/// `PJRT_FFI_Register_Handler_Args` (typed handlers only, as in PJRT C API 0.81).
#[repr(C)]
struct RegisterHandlerArgs {
    struct_size: usize,
    target_name: *const c_char,
    target_name_size: usize,
    handler: *mut c_void,
    platform_name: *const c_char,
    platform_name_size: usize,
    traits: u32,
}

impl RegisterHandlerArgs {
    /// The header's `_STRUCT_SIZE`: offset of the last field plus its size.
    const STRUCT_SIZE: usize = offset_of!(RegisterHandlerArgs, traits) + size_of::<u32>();
}

/// `XLA_FFI_Api_Version`.
#[repr(C)]
struct ApiVersion {
    struct_size: usize,
    extension_start: *mut ExtensionBase,
    major: c_int,
    minor: c_int,
}

/// `XLA_FFI_Metadata`, up to the fields a handler sets.
#[repr(C)]
struct Metadata {
    struct_size: usize,
    api_version: ApiVersion,
    traits: u32,
}

/// `XLA_FFI_Metadata_Extension`.
#[repr(C)]
struct MetadataExtension {
    base: ExtensionBase,
    metadata: *mut Metadata,
}

/// `XLA_FFI_Buffer`.
#[repr(C)]
struct FfiBuffer {
    struct_size: usize,
    extension_start: *mut ExtensionBase,
    dtype: c_int,
    data: *mut c_void,
    rank: i64,
    dims: *const i64,
}

/// `XLA_FFI_Args` and `XLA_FFI_Rets` (the same layout).
#[repr(C)]
struct FfiList {
    struct_size: usize,
    extension_start: *mut ExtensionBase,
    size: i64,
    types: *const c_int,
    items: *const *mut c_void,
}

/// `XLA_FFI_Attrs`.
#[repr(C)]
struct FfiAttrs {
    struct_size: usize,
    extension_start: *mut ExtensionBase,
    size: i64,
    types: *const c_int,
    names: *const c_void,
    attrs: *const *mut c_void,
}

/// `XLA_FFI_CallFrame`: what XLA passes to a handler.
#[repr(C)]
pub(crate) struct CallFrame {
    struct_size: usize,
    extension_start: *mut ExtensionBase,
    api: *const FfiApi,
    ctx: *mut c_void,
    stage: c_int,
    args: FfiList,
    rets: FfiList,
    attrs: FfiAttrs,
    future: *mut c_void,
}

/// `XLA_FFI_Error`, created by XLA and owned by it once returned.
#[repr(C)]
pub(crate) struct FfiError {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// `XLA_FFI_Error_Create_Args`.
#[repr(C)]
struct ErrorCreateArgs {
    struct_size: usize,
    extension_start: *mut ExtensionBase,
    message: *const c_char,
    errc: c_int,
}

impl ErrorCreateArgs {
    const STRUCT_SIZE: usize = offset_of!(ErrorCreateArgs, errc) + size_of::<c_int>();
}

/// `XLA_FFI_ThreadPool_Schedule_Args`.
#[repr(C)]
struct ScheduleArgs {
    struct_size: usize,
    extension_start: *mut ExtensionBase,
    ctx: *mut c_void,
    task: unsafe extern "C" fn(*mut c_void),
    data: *mut c_void,
}

/// `XLA_FFI_ThreadPool_NumThreads_Args`.
#[repr(C)]
struct NumThreadsArgs {
    struct_size: usize,
    extension_start: *mut ExtensionBase,
    ctx: *mut c_void,
    num_threads: *mut i64,
}

type ApiFn<A> = Option<unsafe extern "C" fn(*mut A) -> *mut FfiError>;

/// `XLA_FFI_Api`, up to `XLA_FFI_ThreadPool_NumThreads` (the plugin's order:
/// its table's entries were matched against the plugin's symbols).
#[repr(C)]
struct FfiApi {
    struct_size: usize,
    extension_start: *mut ExtensionBase,
    api_version: ApiVersion,
    internal_api: *mut c_void,
    error_create: ApiFn<ErrorCreateArgs>,
    error_get_message: *mut c_void,
    error_destroy: Option<unsafe extern "C" fn(*mut ErrorDestroyArgs)>,
    /// Handler_Register, Stream_Get, Type_Register, ExecutionContext_Get,
    /// State_Set, State_Get, DeviceMemory_Allocate, DeviceMemory_Free.
    unused: [*mut c_void; 8],
    thread_pool_schedule: ApiFn<ScheduleArgs>,
    thread_pool_num_threads: ApiFn<NumThreadsArgs>,
}

/// `XLA_FFI_Error_Destroy_Args`.
#[repr(C)]
struct ErrorDestroyArgs {
    struct_size: usize,
    extension_start: *mut ExtensionBase,
    error: *mut FfiError,
}

/// `XLA_FFI_Handler`.
type Handler = unsafe extern "C" fn(*mut CallFrame) -> *mut FfiError;

/// One operand or result of a host call: its element type, shape and memory
/// (row-major: rjax's custom calls ask for the default layout).
pub(crate) struct HostBuffer {
    /// Element type.
    pub(crate) dtype: DType,
    /// Dimensions, outermost first.
    pub(crate) dims: Vec<usize>,
    /// The first element; XLA keeps the memory alive for the call.
    pub(crate) data: *mut c_void,
}

/// A Rust function XLA programs can call by name (see [`register`]).
pub(crate) trait HostCall {
    /// The custom call's target name.
    const NAME: &'static str;
    /// Runs on the call's operands, writing its results. The buffers are
    /// valid for the call, results do not overlap operands. `workers` runs
    /// parts of the work on XLA's own threads.
    fn run(args: &[HostBuffer], rets: &[HostBuffer], workers: &Workers) -> Result<(), String>;
}

/// XLA's thread pool, as a host call sees it: parts of a call's work run
/// there, on the threads that run the program's own kernels, instead of on
/// threads of rjax's (which would compete with XLA's for the cores).
pub(crate) struct Workers<'a> {
    frame: &'a CallFrame,
}

/// The parts of one [`Workers::run`], shared with the tasks it schedules,
/// which may start after the call returned (they then find no part left).
struct Parts {
    next: AtomicUsize,
    done: AtomicUsize,
    failed: AtomicBool,
    count: usize,
    /// The work; only called for a claimed part, and the caller of
    /// [`Workers::run`] waits for every claimed part, so it outlives every call.
    work: *const (dyn Fn(usize) + Sync),
}

// SAFETY: `work` is `Sync` and only called while its owner waits (see above).
unsafe impl Send for Parts {}
unsafe impl Sync for Parts {}

impl Parts {
    /// Claims and runs parts until none is left.
    fn work_off(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.count {
                return;
            }
            // SAFETY: part `i` is claimed and not done, so the caller of
            // `Workers::run` still waits and `work` is alive.
            let work = unsafe { &*self.work };
            if catch_unwind(AssertUnwindSafe(|| work(i))).is_err() {
                self.failed.store(true, Ordering::Relaxed);
            }
            self.done.fetch_add(1, Ordering::Release);
        }
    }
}

/// An `XLA_FFI_Task`: works off the parts of an `Arc<Parts>` it owns.
unsafe extern "C" fn work_task(data: *mut c_void) {
    // SAFETY: `data` is the `Arc` that `Workers::run` leaked for this task.
    let parts = unsafe { Arc::from_raw(data as *const Parts) };
    parts.work_off();
}

impl Workers<'_> {
    fn api(&self) -> Option<&FfiApi> {
        // SAFETY: XLA passes its API table in every call frame of a run.
        let api = unsafe { self.frame.api.as_ref() }?;
        (api.struct_size >= offset_of!(FfiApi, thread_pool_num_threads) + size_of::<usize>()).then_some(api)
    }

    /// Frees an error an API call returned.
    fn drop_error(&self, api: &FfiApi, error: *mut FfiError) {
        if let (false, Some(destroy)) = (error.is_null(), api.error_destroy) {
            let mut args =
                ErrorDestroyArgs { struct_size: size_of::<ErrorDestroyArgs>(), extension_start: null_mut(), error };
            // SAFETY: a live error XLA returned to us.
            unsafe { destroy(&mut args) };
        }
    }

    /// The number of threads of XLA's pool (1 when it has none).
    pub(crate) fn threads(&self) -> usize {
        let Some(api) = self.api() else { return 1 };
        let Some(f) = api.thread_pool_num_threads else { return 1 };
        let mut n = 0i64;
        let mut args = NumThreadsArgs {
            struct_size: size_of::<NumThreadsArgs>(),
            extension_start: null_mut(),
            ctx: self.frame.ctx,
            num_threads: &mut n,
        };
        // SAFETY: a valid argument struct with this call's context.
        let err = unsafe { f(&mut args) };
        if !err.is_null() {
            self.drop_error(api, err);
            return 1;
        }
        usize::try_from(n).unwrap_or(1).max(1)
    }

    /// Runs `work(i)` for every `i < count`, on the calling thread and on
    /// the other threads of XLA's pool (up to `count - 1` of them), each
    /// taking the next part not yet taken, and returns when all are done.
    /// The calling thread takes every part no pool thread has started, so
    /// it finishes even when the pool is busy. Fails if a part panicked.
    pub(crate) fn run(&self, count: usize, work: &(dyn Fn(usize) + Sync)) -> Result<(), String> {
        // SAFETY: erases the borrow's lifetime; see `Parts::work`.
        let work: &'static (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(work) };
        let parts = Arc::new(Parts {
            next: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            failed: AtomicBool::new(false),
            count,
            work,
        });
        if let Some((api, schedule)) = self.api().and_then(|api| Some((api, api.thread_pool_schedule?))) {
            for _ in 1..count.min(self.threads()) {
                let data = Arc::into_raw(parts.clone()) as *mut c_void;
                let mut args = ScheduleArgs {
                    struct_size: size_of::<ScheduleArgs>(),
                    extension_start: null_mut(),
                    ctx: self.frame.ctx,
                    task: work_task,
                    data,
                };
                // SAFETY: a valid argument struct; the task owns `data`.
                let err = unsafe { schedule(&mut args) };
                if !err.is_null() {
                    // not scheduled: take the task's reference back, the
                    // calling thread does its part
                    // SAFETY: `data` came from `Arc::into_raw` above and no task has it.
                    drop(unsafe { Arc::from_raw(data as *const Parts) });
                    self.drop_error(api, err);
                    break;
                }
            }
        }
        parts.work_off();
        while parts.done.load(Ordering::Acquire) < count {
            std::hint::spin_loop();
            std::thread::yield_now();
        }
        match parts.failed.load(Ordering::Relaxed) {
            true => Err("a part of the call panicked".into()),
            false => Ok(()),
        }
    }
}

fn dtype_of(code: c_int) -> Result<DType, String> {
    Ok(match code {
        1 => DType::Bool,
        4 => DType::I32,
        6 => DType::U8,
        8 => DType::U32,
        11 => DType::F32,
        12 => DType::F64,
        _ => return Err(format!("a buffer of XLA element type {code}, which rjax has no dtype for")),
    })
}

/// The buffers of an argument or result list.
///
/// # Safety
/// `list` must be a list XLA passed in a call frame of the execute stage.
unsafe fn buffers(list: &FfiList, what: &str) -> Result<Vec<HostBuffer>, String> {
    let n = usize::try_from(list.size).map_err(|_| format!("a negative number of {what}"))?;
    (0..n)
        .map(|i| {
            // SAFETY: XLA passes `size` types and items.
            let (ty, item) = unsafe { (*list.types.add(i), *list.items.add(i)) };
            if ty != XLA_FFI_BUFFER {
                return Err(format!("{what} {i} is not a buffer (type {ty})"));
            }
            // SAFETY: an item of type BUFFER points to an `XLA_FFI_Buffer`.
            let b = unsafe { &*(item as *const FfiBuffer) };
            let rank = usize::try_from(b.rank).map_err(|_| format!("{what} {i} has a negative rank"))?;
            let dims = (0..rank)
                // SAFETY: `dims` has `rank` entries.
                .map(|d| usize::try_from(unsafe { *b.dims.add(d) }))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| format!("{what} {i} has a negative dimension"))?;
            Ok(HostBuffer { dtype: dtype_of(b.dtype)?, dims, data: b.data })
        })
        .collect()
}

/// The attributes of a `stablehlo.custom_call` of the host call `name`:
/// XLA's typed FFI, and every operand and result in the default row-major
/// layout (which is how [`HostBuffer`]s are read), given their ranks.
pub(crate) fn custom_call_attrs(name: &str, operand_ranks: &[usize], result_rank: usize) -> String {
    let layout = |rank: usize| {
        let dims: Vec<String> = (0..rank).rev().map(|d| d.to_string()).collect();
        format!("dense<[{}]> : tensor<{rank}xindex>", dims.join(", "))
    };
    let operands: Vec<String> = operand_ranks.iter().map(|&r| layout(r)).collect();
    format!(
        "{{api_version = 4 : i32, call_target_name = \"{name}\", backend_config = {{}}, \
         operand_layouts = [{}], result_layouts = [{}]}}",
        operands.join(", "),
        layout(result_rank)
    )
}

/// Answers XLA's metadata query (made when a handler is registered): the FFI
/// API version the handler was written for, no traits. True when `frame`
/// was that query.
///
/// # Safety
/// `frame` must be a call frame XLA passed.
unsafe fn answer_metadata_query(frame: &CallFrame) -> bool {
    let mut ext = frame.extension_start;
    while !ext.is_null() {
        // SAFETY: every link of the chain starts with an extension base.
        let base = unsafe { &*ext };
        if base.ty == XLA_FFI_EXTENSION_METADATA {
            // SAFETY: a metadata link is an `XLA_FFI_Metadata_Extension`
            // whose `metadata` XLA owns and lets the handler write.
            unsafe {
                let m = &mut *(*(ext as *mut MetadataExtension)).metadata;
                m.api_version.major = 0;
                m.api_version.minor = 1;
                m.traits = 0;
            }
            return true;
        }
        ext = base.next;
    }
    false
}

/// An XLA error carrying `message`, for a handler to return.
///
/// # Safety
/// `frame` must be a call frame XLA passed.
unsafe fn error(frame: &CallFrame, code: c_int, message: &str) -> *mut FfiError {
    let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
    // SAFETY: XLA passes its API table in every call frame of a run.
    let create = unsafe { frame.api.as_ref() }.and_then(|api| api.error_create);
    match create {
        Some(create) => {
            let mut args = ErrorCreateArgs {
                struct_size: ErrorCreateArgs::STRUCT_SIZE,
                extension_start: std::ptr::null_mut(),
                message: text.as_ptr(),
                errc: code,
            };
            // SAFETY: a valid argument struct; XLA copies the message.
            unsafe { create(&mut args) }
        }
        None => {
            // Without the API table there is no way to report a failure, and
            // going on would return results that were never computed.
            eprintln!("rjax: host call failed and XLA gave no way to report it: {message}");
            std::process::abort()
        }
    }
}

/// Host calls run so far, by every program of the process.
static CALLS_RUN: AtomicU64 = AtomicU64::new(0);

/// How many times XLA programs of this process have called one of rjax's
/// Rust functions (matrix products, random bits; see docs/architecture.md,
/// "PJRT"): a diagnostic, to tell whether a program used them.
///
/// ```
/// let before = rjax::backend::pjrt::host_calls_run();
/// assert!(rjax::backend::pjrt::host_calls_run() >= before);
/// ```
pub fn host_calls_run() -> u64 {
    CALLS_RUN.load(Ordering::Relaxed)
}

/// The `XLA_FFI_Handler` of `H`.
unsafe extern "C" fn handler<H: HostCall>(frame: *mut CallFrame) -> *mut FfiError {
    // SAFETY: XLA calls handlers with a valid call frame.
    let frame = unsafe { &*frame };
    // SAFETY: as above.
    if unsafe { answer_metadata_query(frame) } || frame.stage != XLA_FFI_STAGE_EXECUTE {
        return std::ptr::null_mut();
    }
    CALLS_RUN.fetch_add(1, Ordering::Relaxed);
    let run = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the lists of an execute-stage call frame.
        let args = unsafe { buffers(&frame.args, "operand") }?;
        // SAFETY: as above.
        let rets = unsafe { buffers(&frame.rets, "result") }?;
        H::run(&args, &rets, &Workers { frame })
    }));
    match run {
        Ok(Ok(())) => std::ptr::null_mut(),
        // SAFETY: `frame` came from XLA.
        Ok(Err(m)) => unsafe { error(frame, XLA_FFI_INVALID_ARGUMENT, &format!("{}: {m}", H::NAME)) },
        // SAFETY: as above.
        Err(_) => unsafe { error(frame, XLA_FFI_INTERNAL, &format!("{} panicked", H::NAME)) },
    }
}

/// Makes `H::NAME` a custom call target of `plugin`'s CPU programs (XLA
/// platform `Host`). Registration is for the whole process: call it once
/// per name (the XLA CPU runtime does, when it starts).
pub(crate) fn register<H: HostCall>(plugin: &Plugin) -> Result<(), PjrtError> {
    let unsupported = |why: &str| PjrtError::Invalid(format!("cannot register host call {}: {why}", H::NAME));
    let mut ext = plugin.api().extension_start as *mut ExtensionBase;
    let ffi = loop {
        if ext.is_null() {
            return Err(unsupported("the plugin has no FFI extension"));
        }
        // SAFETY: the plugin's extension chain is static data of the library.
        let base = unsafe { &*ext };
        if base.ty == PJRT_EXTENSION_TYPE_FFI {
            if base.struct_size < offset_of!(PjrtFfiExtension, register_handler) + size_of::<usize>() {
                return Err(unsupported("the plugin's FFI extension cannot register handlers"));
            }
            // SAFETY: an FFI link at least this large is a `PJRT_FFI_Extension`.
            break unsafe { &*(ext as *const PjrtFfiExtension) };
        }
        ext = base.next;
    };
    let register =
        ffi.register_handler.ok_or_else(|| unsupported("the plugin's FFI extension has no register_handler"))?;
    let (name, platform) = (H::NAME, "Host");
    let mut args = RegisterHandlerArgs {
        struct_size: RegisterHandlerArgs::STRUCT_SIZE,
        target_name: name.as_ptr() as *const c_char,
        target_name_size: name.len(),
        handler: handler::<H> as Handler as *mut c_void,
        platform_name: platform.as_ptr() as *const c_char,
        platform_name_size: platform.len(),
        traits: 0,
    };
    // SAFETY: a valid argument struct; the plugin copies the names.
    let err = unsafe { register(&mut args) };
    plugin.check(err, "PJRT_FFI_Register_Handler")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Offsets of the C structs, as the headers lay them out on 64-bit targets.
    #[test]
    fn layouts_match_the_headers() {
        assert_eq!(offset_of!(CallFrame, stage), 32);
        assert_eq!(offset_of!(CallFrame, args), 40);
        assert_eq!(offset_of!(CallFrame, rets), 80);
        assert_eq!(offset_of!(CallFrame, attrs), 120);
        assert_eq!(offset_of!(CallFrame, future), 168);
        assert_eq!(offset_of!(FfiBuffer, dims), 40);
        assert_eq!(offset_of!(FfiApi, error_create), 48);
        assert_eq!(offset_of!(FfiApi, thread_pool_schedule), 48 + 11 * 8);
        assert_eq!(offset_of!(Metadata, traits), 32);
        assert_eq!(RegisterHandlerArgs::STRUCT_SIZE, 52);
        assert_eq!(ErrorCreateArgs::STRUCT_SIZE, 28);
        assert_eq!(offset_of!(PjrtFfiExtension, register_handler), 40);
    }
}
