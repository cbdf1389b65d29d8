//! Finding and loading PJRT plugins.
//!
//! A plugin is a shared library exporting `GetPjrtApi`. It is looked for, in
//! order:
//!
//! 1. the file named by `RJAX_PJRT_CPU` / `RJAX_PJRT_CUDA` (if set, it must exist);
//! 2. the cache that `scripts/install-plugin` fills:
//!    `$RJAX_PLUGIN_DIR/<cpu|cuda>/`, or `~/.cache/rjax/plugins/<cpu|cuda>/`;
//! 3. Python site-packages (virtualenv, conda, `~/.local`, pyenv, system), where
//!    `pip install xla-cpu-pjrt` puts `xla_plugins/xla_cpu_pjrt/xla_cpu_pjrt.so`
//!    and `pip install jax[cuda13]` puts `jax_plugins/xla_cuda13/xla_cuda_plugin.so`.
//!
//! A plugin is loaded once per process and never unloaded (XLA does not
//! support unloading); `PJRT_Plugin_Initialize` is called once, right after
//! `GetPjrtApi`.

use std::ffi::{OsString, c_char};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::error::{ErrorCode, PjrtError};
use super::ffi;

/// Which PJRT plugin to look for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PluginKind {
    /// XLA's CPU plugin (`xla_cpu_pjrt.so`, PyPI `xla-cpu-pjrt`).
    Cpu,
    /// XLA's CUDA plugin (`xla_cuda_plugin.so`, PyPI `jax-cuda13-pjrt` or `jax-cuda12-pjrt`).
    Cuda,
}

impl PluginKind {
    /// `"cpu"` or `"cuda"`: the argument of `scripts/install-plugin` and the cache subdirectory.
    pub fn name(self) -> &'static str {
        match self {
            PluginKind::Cpu => "cpu",
            PluginKind::Cuda => "cuda",
        }
    }
    /// The environment variable that names the plugin file.
    pub fn env_var(self) -> &'static str {
        match self {
            PluginKind::Cpu => "RJAX_PJRT_CPU",
            PluginKind::Cuda => "RJAX_PJRT_CUDA",
        }
    }
    /// The plugin's file name.
    pub fn file_name(self) -> &'static str {
        match self {
            PluginKind::Cpu => "xla_cpu_pjrt.so",
            PluginKind::Cuda => "xla_cuda_plugin.so",
        }
    }
    /// How to install the plugin, as one line of text.
    pub fn install_hint(self) -> String {
        match self {
            PluginKind::Cpu => format!(
                "Install it with `scripts/install-plugin cpu` (in the rjax repository) or \
                 `python3 -m pip install xla-cpu-pjrt`, or set {} to the path of {}.",
                self.env_var(),
                self.file_name()
            ),
            PluginKind::Cuda => format!(
                "Install it with `scripts/install-plugin cuda` (in the rjax repository) or \
                 `python3 -m pip install 'jax[cuda13]'` (which also brings the CUDA libraries), \
                 or set {} to the path of {}.",
                self.env_var(),
                self.file_name()
            ),
        }
    }
    /// The kind a file name suggests (for messages about an explicit path).
    fn guess(path: &Path) -> PluginKind {
        if path.to_string_lossy().contains("cuda") { PluginKind::Cuda } else { PluginKind::Cpu }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PluginKind::Cpu => "CPU",
            PluginKind::Cuda => "CUDA",
        })
    }
}

/// Finds the plugin file for `kind`, reading the process environment. The
/// search order: the file named by `RJAX_PJRT_CPU` / `RJAX_PJRT_CUDA` (if set,
/// it must exist); `$RJAX_PLUGIN_DIR/<cpu|cuda>/` or
/// `~/.cache/rjax/plugins/<cpu|cuda>/` (filled by `scripts/install-plugin`);
/// Python site-packages (virtualenv, conda, `~/.local`, pyenv, system).
pub fn locate(kind: PluginKind) -> Result<PathBuf, PjrtError> {
    locate_with(kind, |name| std::env::var_os(name))
}

/// [`locate`] with an explicit environment (`env(name)` returns a variable's
/// value), so the search can be tested without touching the process environment.
///
/// ```
/// use rjax::backend::pjrt::{PluginKind, locate_with};
/// let err = locate_with(PluginKind::Cpu, |name| match name {
///     "RJAX_PJRT_CPU" => Some("/nowhere/xla_cpu_pjrt.so".into()),
///     _ => None,
/// })
/// .unwrap_err();
/// assert!(err.to_string().contains("/nowhere/xla_cpu_pjrt.so"));
/// ```
pub fn locate_with(kind: PluginKind, env: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf, PjrtError> {
    let env_nonempty = |name: &str| env(name).filter(|v| !v.is_empty());
    let mut searched = Vec::new();

    // 1. The environment variable, which wins when set.
    if let Some(p) = env_nonempty(kind.env_var()) {
        let path = PathBuf::from(p);
        if path.is_file() {
            return Ok(path);
        }
        searched.push(format!("  ${} = {} (no such file)", kind.env_var(), path.display()));
        return Err(PjrtError::NotFound { kind, searched });
    }
    searched.push(format!("  ${} (not set)", kind.env_var()));

    // 2. The install cache.
    let home = env_nonempty("HOME").map(PathBuf::from);
    let cache_root = match env_nonempty("RJAX_PLUGIN_DIR") {
        Some(d) => Some(PathBuf::from(d)),
        None => home.as_ref().map(|h| h.join(".cache/rjax/plugins")),
    };
    if let Some(root) = cache_root {
        let dir = root.join(kind.name());
        let mut patterns = vec![dir.join(kind.file_name())];
        if kind == PluginKind::Cuda {
            patterns.push(dir.join("jax_plugins/xla_cuda1*/xla_cuda_plugin.so"));
        }
        for pattern in patterns {
            if let Some(found) = glob(&pattern).into_iter().next() {
                return Ok(found);
            }
            searched.push(format!("  {}", pattern.display()));
        }
    }

    // 3. Python site-packages.
    let rel = match kind {
        PluginKind::Cpu => "xla_plugins/xla_cpu_pjrt/xla_cpu_pjrt.so",
        PluginKind::Cuda => "jax_plugins/xla_cuda1*/xla_cuda_plugin.so",
    };
    let sites = site_package_patterns(&env_nonempty, home.as_deref());
    for site in &sites {
        if let Some(found) = glob(&site.join(rel)).into_iter().next() {
            return Ok(found);
        }
    }
    searched.push(format!("  {rel} in Python site-packages:"));
    searched.extend(sites.iter().map(|s| format!("    {}", s.display())));
    Err(PjrtError::NotFound { kind, searched })
}

/// Site-packages directories, as patterns with `*`, most specific first.
fn site_package_patterns(env: &dyn Fn(&str) -> Option<OsString>, home: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(pp) = env("PYTHONPATH") {
        out.extend(std::env::split_paths(&pp));
    }
    for var in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
        if let Some(prefix) = env(var) {
            out.push(PathBuf::from(prefix).join("lib/python3*/site-packages"));
        }
    }
    if let Some(h) = home {
        out.push(h.join(".local/lib/python3*/site-packages"));
        out.push(h.join(".pyenv/versions/*/lib/python3*/site-packages"));
        out.push(h.join("miniconda3/lib/python3*/site-packages"));
        out.push(h.join("anaconda3/lib/python3*/site-packages"));
    }
    for p in [
        "/opt/conda/lib/python3*/site-packages",
        "/usr/local/lib/python3*/site-packages",
        "/usr/local/lib/python3*/dist-packages",
        "/usr/lib/python3*/site-packages",
        "/usr/lib/python3/dist-packages",
    ] {
        out.push(PathBuf::from(p));
    }
    out
}

/// Expands `*` in any component of `pattern` (one `*` per component) and
/// returns the existing files, later names first within a directory (so
/// `xla_cuda13` is preferred to `xla_cuda12`, and newer Pythons to older).
fn glob(pattern: &Path) -> Vec<PathBuf> {
    let mut current = vec![PathBuf::new()];
    for comp in pattern.components() {
        let text = comp.as_os_str().to_string_lossy();
        let Some((pre, post)) = text.split_once('*') else {
            current.iter_mut().for_each(|p| p.push(comp));
            continue;
        };
        let mut next = Vec::new();
        for dir in &current {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.len() >= pre.len() + post.len() && n.starts_with(pre) && n.ends_with(post))
                .collect();
            names.sort_by(|a, b| b.cmp(a));
            next.extend(names.into_iter().map(|n| dir.join(n)));
        }
        current = next;
    }
    current.retain(|p| p.is_file());
    current
}

/// A loaded PJRT plugin: its file and its function table. Loaded once per
/// process and kept for its lifetime.
///
/// ```no_run
/// use rjax::backend::pjrt::Plugin;
/// let plugin = Plugin::cpu()?;
/// println!("{} implements PJRT C API {:?}", plugin.path().display(), plugin.api_version());
/// # Ok::<(), rjax::backend::pjrt::PjrtError>(())
/// ```
pub struct Plugin {
    path: PathBuf,
    api: *const ffi::PJRT_Api,
    version: (i32, i32),
}

// SAFETY: the function table is immutable static data of a library that is
// never unloaded, and the PJRT C API functions are thread-safe.
unsafe impl Send for Plugin {}
unsafe impl Sync for Plugin {}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin").field("path", &self.path).field("version", &self.version).finish()
    }
}

/// The flags rjax adds to `XLA_FLAGS` before the CPU plugin is loaded, each
/// unless `XLA_FLAGS` already names its option (so a user's setting wins).
/// XLA reads the variable when the plugin first builds its options, after
/// this.
///
/// - `--xla_cpu_use_xnnpack=false`: XLA's CPU plugin (xla-cpu-pjrt 0.0.1)
///   runs matrix products through XNNPACK, which caches packed operands by
///   their address: when a donated buffer is updated in place, the next run
///   reads the stale packed copy and computes with the old weights (seen: a
///   donated training step drifting from the same step without donation;
///   `tests/jit.rs` checks it).
/// - `--xla_backend_extra_options=xla_cpu_use_multi_output_fusion`: lets XLA's
///   CPU compiler fuse elementwise kernels that read the same operands into
///   one pass with several outputs (Adam's two moments of a weight, for
///   one), which XLA leaves off by default. Same results to the bit; the
///   report's training epoch is 16% faster (docs/xla-cpu-speed.md, "XLA CPU:
///   threads and multi-output fusion"). Any `--xla_backend_extra_options` of
///   the user's replaces it;
///   `XLA_FLAGS=--xla_backend_extra_options=xla_none=1` turns it off (a key
///   XLA ignores; keys without the `xla_` prefix go to LLVM, which stops the
///   process on one it does not know).
///
/// It also sets `TF_CPP_MIN_LOG_LEVEL=1` unless it is set, so that XLA's
/// informational lines ("cpu_device_count set via create_options") stay off
/// the program's output; warnings and errors still show.
const CPU_FLAGS: [(&str, &str); 2] = [
    ("xla_cpu_use_xnnpack", "--xla_cpu_use_xnnpack=false"),
    ("xla_backend_extra_options", "--xla_backend_extra_options=xla_cpu_use_multi_output_fusion"),
];

/// Adds [`CPU_FLAGS`] to `XLA_FLAGS`, each unless it names that option
/// already, and quiets XLA's informational log unless told its level.
fn configure_cpu_plugin_env() {
    let mut vars = Vec::new();
    if std::env::var_os("TF_CPP_MIN_LOG_LEVEL").is_none() {
        vars.push(("TF_CPP_MIN_LOG_LEVEL", "1".to_string()));
    }
    let current = std::env::var("XLA_FLAGS").unwrap_or_default();
    let mut flags = current.clone();
    for (option, flag) in CPU_FLAGS {
        if !current.contains(option) {
            flags = format!("{flags} {flag}").trim().to_string();
        }
    }
    if flags != current {
        vars.push(("XLA_FLAGS", flags));
    }
    for (name, value) in vars {
        // SAFETY: called while `LOADED` is locked and before the plugin is
        // loaded, so no plugin thread reads the environment yet; Rust's own
        // environment accesses are synchronized by the standard library.
        unsafe { std::env::set_var(name, value) };
    }
}

/// Plugins loaded so far, by canonical path.
static LOADED: Mutex<Vec<&'static Plugin>> = Mutex::new(Vec::new());

impl Plugin {
    /// The CPU plugin, found with [`locate`] and loaded on first use.
    pub fn cpu() -> Result<&'static Plugin, PjrtError> {
        Plugin::load(locate(PluginKind::Cpu)?)
    }

    /// The CUDA plugin, found with [`locate`] and loaded on first use.
    pub fn cuda() -> Result<&'static Plugin, PjrtError> {
        Plugin::load(locate(PluginKind::Cuda)?)
    }

    /// Loads the plugin at `path` (once per process: later calls with the same
    /// file return the same plugin), checks its API version and initializes it.
    ///
    /// ```no_run
    /// let plugin = rjax::backend::pjrt::Plugin::load("/opt/xla/xla_cpu_pjrt.so")?;
    /// # Ok::<(), rjax::backend::pjrt::PjrtError>(())
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<&'static Plugin, PjrtError> {
        let path = path.as_ref();
        let hint = PluginKind::guess(path).install_hint();
        let load_err = |reason: String| PjrtError::Load { path: path.to_path_buf(), reason, hint: hint.clone() };
        if !path.exists() {
            return Err(load_err("no such file".into()));
        }
        let canonical = path.canonicalize().map_err(|e| load_err(e.to_string()))?;
        let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = loaded.iter().find(|p| p.path == canonical) {
            return Ok(p);
        }
        check_elf(&canonical).map_err(load_err)?;
        if PluginKind::guess(&canonical) == PluginKind::Cpu {
            configure_cpu_plugin_env();
        }

        // SAFETY: loading a library runs its initializers; a PJRT plugin's are
        // those of XLA, which are safe to run once in a process.
        let lib = unsafe { libloading::Library::new(&canonical) }.map_err(|e| load_err(e.to_string()))?;
        // SAFETY: `GetPjrtApi` has this signature in every PJRT plugin.
        let get_api = unsafe { lib.get::<ffi::GetPjrtApiFn>(b"GetPjrtApi\0") }
            .map_err(|_| load_err("it does not export GetPjrtApi, so it is not a PJRT plugin".into()))?;
        // SAFETY: calling the plugin's entry point, which takes no arguments.
        let api = unsafe { get_api() };
        // Keep the library (and so `api`) alive for the rest of the process.
        std::mem::forget(lib);
        if api.is_null() {
            return Err(load_err("GetPjrtApi returned no function table".into()));
        }
        // SAFETY: `api` is non-null and points to the plugin's static table.
        let table = unsafe { &*api };
        let (major, minor) = (table.pjrt_api_version.major_version, table.pjrt_api_version.minor_version);
        if major != ffi::PJRT_API_MAJOR || minor < ffi::PJRT_API_MINOR || table.struct_size < ffi::PJRT_Api::STRUCT_SIZE
        {
            return Err(PjrtError::Version {
                path: canonical,
                major,
                minor,
                hint: format!("Install a current plugin. {hint}"),
            });
        }
        let plugin: &'static Plugin = Box::leak(Box::new(Plugin { path: canonical, api, version: (major, minor) }));
        let mut args = ffi::PJRT_Plugin_Initialize_Args::new();
        // SAFETY: `args` is a valid, initialized argument struct.
        unsafe { plugin.call(table.PJRT_Plugin_Initialize, "PJRT_Plugin_Initialize", &mut args) }?;
        loaded.push(plugin);
        Ok(plugin)
    }

    /// The plugin file (canonical path).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The PJRT C API version the plugin implements, `(major, minor)`.
    pub fn api_version(&self) -> (i32, i32) {
        self.version
    }

    /// The plugin's attributes (e.g. `xla_version`, `stablehlo_current_version`)
    /// as `(name, value)` text pairs.
    pub fn attributes(&self) -> Result<Vec<(String, String)>, PjrtError> {
        let mut args = ffi::PJRT_Plugin_Attributes_Args::new();
        // SAFETY: valid argument struct; the returned array lives as long as the process.
        unsafe { self.call(self.api().PJRT_Plugin_Attributes, "PJRT_Plugin_Attributes", &mut args) }?;
        let attrs = unsafe { slice_or_empty(args.attributes, args.num_attributes) };
        Ok(attrs
            .iter()
            .map(|a| {
                // SAFETY: the plugin fills name/value according to `type_`.
                let name = unsafe { string_from(a.name, a.name_size) };
                let value = unsafe {
                    match a.type_ {
                        ffi::PJRT_NamedValue_kString => string_from(a.value.string_value, a.value_size),
                        ffi::PJRT_NamedValue_kInt64 => a.value.int64_value.to_string(),
                        ffi::PJRT_NamedValue_kInt64List => {
                            format!("{:?}", slice_or_empty(a.value.int64_array_value, a.value_size))
                        }
                        ffi::PJRT_NamedValue_kFloat => a.value.float_value.to_string(),
                        ffi::PJRT_NamedValue_kBool => a.value.bool_value.to_string(),
                        t => format!("<value of type {t}>"),
                    }
                };
                (name, value)
            })
            .collect())
    }

    /// The function table.
    pub(crate) fn api(&self) -> &'static ffi::PJRT_Api {
        // SAFETY: checked non-null at load; the library is never unloaded.
        unsafe { &*self.api }
    }

    /// Calls a table entry and turns a returned `PJRT_Error` into a [`PjrtError`].
    ///
    /// # Safety
    /// `args` must be set up as the C API requires for `f`.
    pub(crate) unsafe fn call<A>(&self, f: ffi::Fn<A>, op: &'static str, args: &mut A) -> Result<(), PjrtError> {
        let f = f.ok_or(PjrtError::MissingFunction(op))?;
        // SAFETY: forwarded to the caller.
        let err = unsafe { f(args) };
        self.check(err, op)
    }

    /// Converts (and frees) a `PJRT_Error*`; null means success.
    pub(crate) fn check(&self, err: *mut ffi::PJRT_Error, op: &'static str) -> Result<(), PjrtError> {
        if err.is_null() {
            return Ok(());
        }
        let api = self.api();
        let mut message = String::from("(the plugin gave no message)");
        if let Some(f) = api.PJRT_Error_Message {
            let mut args = ffi::PJRT_Error_Message_Args::new();
            args.error = err;
            // SAFETY: `err` is a live error; the message lives as long as it does.
            unsafe {
                f(&mut args);
                message = string_from(args.message, args.message_size);
            }
        }
        let mut code = ErrorCode::Unknown;
        if let Some(f) = api.PJRT_Error_GetCode {
            let mut args = ffi::PJRT_Error_GetCode_Args::new();
            args.error = err;
            // SAFETY: `err` is a live error; a failure of GetCode is itself an error to free.
            let e2 = unsafe { f(&mut args) };
            if e2.is_null() {
                code = ErrorCode::from_raw(args.code);
            } else {
                self.destroy_error(e2);
            }
        }
        self.destroy_error(err);
        Err(PjrtError::from_plugin(op, code, message))
    }

    fn destroy_error(&self, err: *mut ffi::PJRT_Error) {
        if let Some(f) = self.api().PJRT_Error_Destroy {
            let mut args = ffi::PJRT_Error_Destroy_Args::new();
            args.error = err;
            // SAFETY: `err` is live and not used afterwards.
            unsafe { f(&mut args) };
        }
    }
}

/// Checks that `path` is an ELF shared object for this machine's architecture,
/// so that a wrong file gets a clear message rather than the loader's.
fn check_elf(path: &Path) -> Result<(), String> {
    use std::io::Read;
    let mut head = [0u8; 20];
    let n = std::fs::File::open(path).and_then(|mut f| f.read(&mut head)).map_err(|e| e.to_string())?;
    if n < 20 || &head[..4] != b"\x7fELF" {
        return Err("it is not a shared library (no ELF header); a PJRT plugin is a Linux .so \
                    such as xla_cpu_pjrt.so"
            .into());
    }
    if !cfg!(target_endian = "little") || head[5] != 1 {
        return Ok(()); // big-endian ELF or host: leave the verdict to the loader
    }
    let machine = u16::from_le_bytes([head[18], head[19]]);
    let name = |m: u16| match m {
        3 => "x86 (32-bit)",
        40 => "ARM (32-bit)",
        62 => "x86_64",
        183 => "aarch64",
        243 => "riscv",
        21 => "ppc64",
        _ => "another architecture",
    };
    let host: Option<u16> = match std::env::consts::ARCH {
        "x86_64" => Some(62),
        "aarch64" => Some(183),
        "x86" => Some(3),
        "arm" => Some(40),
        "riscv64" => Some(243),
        "powerpc64" => Some(21),
        _ => None,
    };
    match host {
        Some(h) if h != machine => Err(format!(
            "it is built for {} (ELF machine {machine}) but this machine is {}; install the plugin \
             built for this platform",
            name(machine),
            std::env::consts::ARCH
        )),
        _ => Ok(()),
    }
}

/// Copies a (pointer, length) string from the plugin; invalid UTF-8 is replaced.
///
/// # Safety
/// `ptr` must point to `len` readable bytes, or be null.
pub(crate) unsafe fn string_from(ptr: *const c_char, len: usize) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: forwarded to the caller.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    String::from_utf8_lossy(bytes).into_owned()
}

/// A slice from a (pointer, length) pair of the plugin; null gives an empty slice.
///
/// # Safety
/// `ptr` must point to `len` valid values that outlive `'a`, or be null.
pub(crate) unsafe fn slice_or_empty<'a, T>(ptr: *const T, len: usize) -> &'a [T] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: forwarded to the caller.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}
