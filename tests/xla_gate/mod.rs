//! Whether tests that need XLA's CPU plugin run.
//!
//! With `RJAX_REQUIRE_XLA=1` (CI sets it after `scripts/install-plugin cpu`) a
//! missing plugin fails the test. Without it, as on a bare machine with only
//! Rust, such tests print why they did not run and pass, so `cargo test` works
//! everywhere and the XLA tests still cannot be skipped silently in CI.

use rjax::backend::pjrt::Client;
use std::sync::OnceLock;

/// True when the plugin loads; false (with a notice) when it is absent and not required.
pub fn xla_available() -> bool {
    static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();
    let r = AVAILABLE.get_or_init(|| Client::cpu().map(|_| ()).map_err(|e| e.to_string()));
    match r {
        Ok(()) => true,
        Err(e) if std::env::var_os("RJAX_REQUIRE_XLA").is_some_and(|v| v != "0") => {
            panic!("RJAX_REQUIRE_XLA is set but XLA's CPU plugin is unavailable (run scripts/install-plugin cpu): {e}")
        }
        Err(e) => {
            eprintln!("not run: XLA's CPU plugin is not installed (scripts/install-plugin cpu): {e}");
            false
        }
    }
}
