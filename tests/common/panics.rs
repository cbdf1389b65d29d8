//! Catching a panic together with the place it was raised, to check that
//! errors are reported at the caller's line.
//!
//! A process-wide panic hook records `info.location()`; it only records while
//! the current thread is inside [`catch`] (a thread-local flag), otherwise it
//! forwards to the previous hook so that ordinary test failures still print.
//! `catch` also holds a static mutex, so hook-based checks never overlap.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Mutex, Once};

static HOOK: Once = Once::new();
static SERIAL: Mutex<()> = Mutex::new(());

thread_local! {
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    static LOCATION: RefCell<Option<(String, u32)>> = const { RefCell::new(None) };
}

fn install_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CAPTURING.with(|c| c.get()) {
                let loc = info.location().map(|l| (l.file().to_string(), l.line()));
                LOCATION.with(|l| *l.borrow_mut() = loc);
            } else {
                previous(info);
            }
        }));
    });
}

/// What a caught panic said and where the hook saw it raised (the file with
/// `/` separators).
#[derive(Debug)]
pub struct Caught {
    pub msg: String,
    pub file: String,
    pub line: u32,
}

/// Runs `f`, which must panic, and returns the panic's message and location.
#[track_caller]
pub fn catch<R>(f: impl FnOnce() -> R) -> Caught {
    match quietly(f) {
        Ok(_) => panic!("expected a panic, but the call returned normally"),
        Err(c) => c,
    }
}

/// Runs `f`; a panic is returned (message and location) instead of printed.
pub fn quietly<R>(f: impl FnOnce() -> R) -> Result<R, Caught> {
    install_hook();
    let result = {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        LOCATION.with(|l| l.borrow_mut().take());
        CAPTURING.with(|c| c.set(true));
        let r = panic::catch_unwind(AssertUnwindSafe(f));
        CAPTURING.with(|c| c.set(false));
        r
    };
    let payload = match result {
        Ok(r) => return Ok(r),
        Err(p) => p,
    };
    let msg = match (payload.downcast_ref::<String>(), payload.downcast_ref::<&str>()) {
        (Some(s), _) => s.clone(),
        (None, Some(s)) => s.to_string(),
        _ => String::from("<non-string panic payload>"),
    };
    let (file, line) = LOCATION.with(|l| l.borrow_mut().take()).expect("the panic hook recorded no location");
    Err(Caught { msg, file: file.replace('\\', "/"), line })
}
