//! rjax's own thin, safe layer over the PJRT C API, through which StableHLO
//! programs are compiled by XLA and run on a plugin's devices (CPU, CUDA).
//!
//! - [`Plugin`]: finds (see [`locate`]) and loads a plugin `.so` once per
//!   process, checks its API version, initializes it.
//! - [`Client`]: devices ([`Device`], with [`Device::memory_stats`]),
//!   compilation of StableHLO MLIR text ([`Client::compile`] → [`Executable`]),
//!   transfers of [`HostData`](crate::HostData) ([`Client::buffer`] → [`Buffer`],
//!   [`Buffer::to_host`]).
//! - [`Executable::execute`] enqueues a run and returns its output buffers;
//!   [`Event`]s tell when asynchronous work is done.
//! - Every failure is a [`PjrtError`] carrying the plugin's message.
//!
//! The bindings ([`ffi`]) are for PJRT C API 0.81. The plugin is not part of
//! rjax: install the CPU one with `scripts/install-plugin cpu`.
//!
//! ```no_run
//! use rjax::HostData;
//! use rjax::backend::pjrt::Client;
//! let client = Client::cpu()?;
//! let exe = client.compile(
//!     "func.func @main(%a: tensor<3xf32>, %b: tensor<3xf32>) -> tensor<3xf32> {
//!        %c = stablehlo.add %a, %b : tensor<3xf32>
//!        return %c : tensor<3xf32>
//!      }",
//! )?;
//! let a = client.buffer(&HostData::F32(ndarray::arr1(&[1.0f32, 2.0, 3.0]).into_dyn()))?;
//! let out = exe.execute(&[&a, &a])?;
//! assert_eq!(out[0].to_host()?, HostData::F32(ndarray::arr1(&[2.0f32, 4.0, 6.0]).into_dyn()));
//! # Ok::<(), rjax::backend::pjrt::PjrtError>(())
//! ```

mod buffer;
mod client;
mod error;
pub(crate) mod ffi;
pub(crate) mod host_call;
mod options;
mod plugin;

pub use buffer::{Buffer, Event};
pub use client::{Client, Device, Executable, MemoryStats, OptionValue};
pub use error::{ErrorCode, PjrtError};
pub use host_call::host_calls_run;
pub use options::{CompileOptions, compile_options_for, default_compile_options};
pub use plugin::{Plugin, PluginKind, locate, locate_with};
