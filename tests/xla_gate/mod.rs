//! Whether tests that need XLA run, and on which XLA platform.
//!
//! The platform is XLA's CPU plugin (`xla-cpu`), or the one `RJAX_TEST_XLA`
//! names (`cuda` on a GPU machine: `scripts/gpu-check run` sets it, so the
//! same parity and jit suites check the GPU).
//!
//! With `RJAX_REQUIRE_XLA=1` (CI sets it after `scripts/install-plugin cpu`) a
//! missing plugin fails the test. Without it, as on a bare machine with only
//! Rust, such tests print why they did not run and pass, so `cargo test` works
//! everywhere and the XLA tests still cannot be skipped silently in CI.

#![allow(dead_code)]

use rjax::backend::pjrt::{Client, OptionValue, Plugin};
use std::sync::OnceLock;

/// The XLA platform under test: `xla-cpu`, or `$RJAX_TEST_XLA`.
pub fn xla_name() -> String {
    std::env::var("RJAX_TEST_XLA").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "xla-cpu".into())
}

/// A PJRT client of the platform under test.
pub fn xla_client() -> Result<Client, String> {
    let r = match xla_name().as_str() {
        // allocating on demand, beside the runtime's own client
        "cuda" | "gpu" => {
            Plugin::cuda().and_then(|p| Client::with_options(p, &[("preallocate", OptionValue::Bool(false))]))
        }
        _ => Client::cpu(),
    };
    r.map_err(|e| e.to_string())
}

/// Device 0 of the platform under test (check [`xla_available`] first).
pub fn xla_device() -> rjax::Device {
    let name = xla_name();
    rjax::device(&name).unwrap_or_else(|e| panic!("the {name} device: {e}"))
}

/// True when the plugin loads; false (with a notice) when it is absent and not required.
pub fn xla_available() -> bool {
    static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();
    let r = AVAILABLE.get_or_init(|| xla_client().map(|_| ()));
    match r {
        Ok(()) => true,
        Err(e) if std::env::var_os("RJAX_REQUIRE_XLA").is_some_and(|v| v != "0") => {
            panic!(
                "RJAX_REQUIRE_XLA is set but the {} plugin is unavailable (run scripts/install-plugin cpu): {e}",
                xla_name()
            )
        }
        Err(e) => {
            eprintln!("not run: the {} plugin is not installed (scripts/install-plugin cpu): {e}", xla_name());
            false
        }
    }
}
