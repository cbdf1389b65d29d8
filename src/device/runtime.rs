//! One PJRT client per plugin and process, its devices, and its compiled
//! programs.

use crate::backend::pjrt::{self, Client, Executable, OptionValue, PjrtError, Plugin, compile_options_for};
use crate::error::Error;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

pub use crate::backend::Platform;
pub use crate::backend::pjrt::MemoryStats;

/// A PJRT client of one plugin with its devices and a cache of compiled
/// programs keyed by their text and device.
pub(crate) struct Runtime {
    pub(crate) platform: Platform,
    pub(crate) client: Client,
    pub(crate) devices: Vec<pjrt::Device>,
    programs: Mutex<HashMap<(String, usize), Arc<Executable>>>,
}

static XLA_CPU: OnceLock<Result<Arc<Runtime>, String>> = OnceLock::new();
static CUDA: OnceLock<Result<Arc<Runtime>, String>> = OnceLock::new();

impl Runtime {
    /// The runtime of a PJRT platform, started on first use.
    pub(crate) fn get(platform: Platform) -> Result<Arc<Runtime>, Error> {
        let slot = match platform {
            Platform::Cpu => return Err(Error::Unsupported("the built-in CPU backend has no PJRT runtime".into())),
            Platform::XlaCpu => &XLA_CPU,
            Platform::Cuda => &CUDA,
        };
        slot.get_or_init(|| Runtime::start(platform).map(Arc::new).map_err(|e| e.to_string()))
            .clone()
            .map_err(|message| Error::Unavailable { platform, message })
    }

    fn start(platform: Platform) -> Result<Runtime, PjrtError> {
        let client = match platform {
            Platform::Cuda => {
                // Allocate on demand, so memory statistics show what programs use.
                Client::with_options(Plugin::cuda()?, &[("preallocate", OptionValue::Bool(false))])?
            }
            _ => Client::new(Plugin::cpu()?)?,
        };
        let devices = client.devices()?;
        if devices.is_empty() {
            return Err(PjrtError::Invalid(format!("the {platform} plugin reports no devices")));
        }
        Ok(Runtime { platform, client, devices, programs: Mutex::new(HashMap::new()) })
    }

    /// Compiles `mlir` for device `ordinal`, or returns the program compiled
    /// before from the same text. A program the compiler rejects is written to
    /// a file named in the error.
    pub(crate) fn compile(&self, mlir: &str, ordinal: usize) -> Result<(Arc<Executable>, bool), Error> {
        self.compile_cached(mlir.to_string(), ordinal, || Ok(mlir.to_string()))
    }

    /// Returns the program cached under `key` for device `ordinal`, or
    /// compiles the text `make` gives and caches it. The flag tells whether
    /// it compiled.
    pub(crate) fn compile_cached(
        &self,
        key: String,
        ordinal: usize,
        make: impl FnOnce() -> Result<String, Error>,
    ) -> Result<(Arc<Executable>, bool), Error> {
        let key = (key, ordinal);
        if let Some(exe) = self.programs.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok((exe.clone(), false));
        }
        let text = make()?;
        let mlir = text.as_str();
        dump(mlir, "program");
        let exe = match self.client.compile_with_options(mlir, &compile_options_for(Some(ordinal))) {
            Ok(exe) => Arc::new(exe),
            Err(PjrtError::Compile { message }) => {
                let path = dump(mlir, "rejected").or_else(|| write_rejected(mlir));
                return Err(Error::Compile { platform: self.platform, message, mlir_path: path });
            }
            Err(e) => return Err(e.into()),
        };
        self.programs.lock().unwrap_or_else(|e| e.into_inner()).insert(key, exe.clone());
        Ok((exe, true))
    }
}

/// Writes `mlir` into `$RJAX_DUMP_DIR` (when set) and returns the file.
fn dump(mlir: &str, what: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("RJAX_DUMP_DIR")?;
    let path = PathBuf::from(dir).join(format!("{what}-{:016x}.mlir", fingerprint(mlir)));
    std::fs::create_dir_all(path.parent()?).ok()?;
    std::fs::write(&path, mlir).ok()?;
    Some(path)
}

/// Writes a rejected program into the temporary directory.
fn write_rejected(mlir: &str) -> Option<PathBuf> {
    let path =
        std::env::temp_dir().join(format!("rjax-rejected-{}-{:016x}.mlir", std::process::id(), fingerprint(mlir)));
    std::fs::write(&path, mlir).ok()?;
    Some(path)
}

fn fingerprint(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}
