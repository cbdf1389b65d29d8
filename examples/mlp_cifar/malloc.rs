//! The allocator settings this program chooses for itself (glibc only).
//!
//! glibc's malloc gives each thread that allocates a heap of its own (an
//! "arena", up to 8 per core). rjax's built-in backend computes on its own
//! thread pool and XLA compiles on several threads, so the arrays of one step
//! are made and freed in different arenas, and each keeps the memory freed
//! into it for later: peak RSS of the report's run went up and down by 50 MB
//! or more from run to run with where the large buffers landed. Two arenas
//! (the main thread's and one shared by all others) kept it lower and steady
//! at the same speed (docs/benchmarks.md, "Memory: malloc arenas"); one arena
//! made XLA's compiling threads wait on each other.
//!
//! `MALLOC_ARENA_MAX` in the environment, when set, is left to glibc.

/// Caps glibc's arenas at 2 unless `MALLOC_ARENA_MAX` is set; call before any
/// other thread starts. Does nothing on other platforms.
pub fn cap_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
            return;
        }
        /// glibc's `mallopt` parameter for the most arenas (malloc.h).
        const M_ARENA_MAX: i32 = -8;
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        // SAFETY: mallopt only sets a limit in the allocator's parameters,
        // under its lock; arenas made before the call are kept.
        unsafe {
            mallopt(M_ARENA_MAX, 2);
        }
    }
}
