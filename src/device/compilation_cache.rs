//! A compilation cache on disk: compiled programs kept as files, so that a
//! later process loads them instead of compiling again (as JAX's
//! `jax_compilation_cache_dir`).
//!
//! Off unless a folder is given ([`set_compilation_cache_dir`] or
//! `RJAX_COMPILATION_CACHE_DIR`). A program's file is named by the MD5 of
//! everything that decides the compiled code (see [`entry`] and [`identity`]). Each
//! file holds a header (magic, length, CRC-32 of the bytes) before the bytes
//! of `PJRT_Executable_Serialize`; it is written to a temporary name and
//! renamed, so a reader sees a whole file or none, and a file cut short or
//! altered is detected, reported and compiled again, never half-read.
//! Programs of eager operations are not kept (they compile in milliseconds).

use crate::backend::pjrt::{Client, Device, Executable};
use md5::{Digest, Md5};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::UNIX_EPOCH;

/// What a cache file starts with (version 1 of the layout).
const MAGIC: &[u8; 8] = b"RJAXEXE1";
/// Magic, then the length (u64) and CRC-32 (u32) of the bytes, little-endian.
const HEADER: usize = 8 + 8 + 4;

/// The folder set by [`set_compilation_cache_dir`]: `None` until set, then
/// `Some(folder or None for off)`.
static DIR: Mutex<Option<Option<PathBuf>>> = Mutex::new(None);

static HITS: AtomicUsize = AtomicUsize::new(0);
static MISSES: AtomicUsize = AtomicUsize::new(0);
static WRITES: AtomicUsize = AtomicUsize::new(0);
static REJECTED: AtomicUsize = AtomicUsize::new(0);

/// Keeps compiled programs in `dir` (created when needed) from now on, and
/// loads them from there instead of compiling; `None` turns the cache off.
/// Without a call, `RJAX_COMPILATION_CACHE_DIR` names the folder, and
/// without that there is no cache. A file is only loaded under the same
/// plugin file (path, size, modification time), platform version, device
/// kinds, `XLA_FLAGS`, compile options and program text as it was written.
///
/// The folder must be yours alone: what is loaded from it runs as native
/// code in this process (rjax creates it readable by its user only). Stale
/// files are never removed; delete the folder to empty the cache.
///
/// ```
/// let dir = std::env::temp_dir().join("rjax-doc-cache");
/// rjax::set_compilation_cache_dir(Some(&dir));
/// assert_eq!(rjax::compilation_cache_dir(), Some(dir));
/// rjax::set_compilation_cache_dir(None::<&std::path::Path>);
/// assert_eq!(rjax::compilation_cache_dir(), None);
/// ```
pub fn set_compilation_cache_dir<P: AsRef<Path>>(dir: Option<P>) {
    *crate::device::runtime::lock(&DIR) = Some(dir.map(|d| d.as_ref().to_path_buf()));
}

/// The folder of the compilation cache, if there is one (see
/// [`set_compilation_cache_dir`]).
///
/// ```
/// rjax::set_compilation_cache_dir(None::<&str>);
/// assert_eq!(rjax::compilation_cache_dir(), None);
/// ```
pub fn compilation_cache_dir() -> Option<PathBuf> {
    match &*crate::device::runtime::lock(&DIR) {
        Some(set) => set.clone(),
        None => std::env::var_os("RJAX_COMPILATION_CACHE_DIR").filter(|v| !v.is_empty()).map(PathBuf::from),
    }
}

/// What the compilation cache did in this process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompilationCacheStats {
    /// Programs loaded from the cache instead of compiled.
    pub hits: usize,
    /// Programs not found there (then compiled).
    pub misses: usize,
    /// Programs written into it.
    pub writes: usize,
    /// Files found damaged (cut short, altered) or that the plugin would not
    /// load: reported, compiled again and written anew.
    pub rejected: usize,
}

/// The counts of the compilation cache since the process started.
///
/// ```
/// let s = rjax::compilation_cache_stats();
/// println!("{} programs loaded from the cache, {} compiled and {} kept", s.hits, s.misses, s.writes);
/// ```
pub fn compilation_cache_stats() -> CompilationCacheStats {
    CompilationCacheStats {
        hits: HITS.load(Ordering::Relaxed),
        misses: MISSES.load(Ordering::Relaxed),
        writes: WRITES.load(Ordering::Relaxed),
        rejected: REJECTED.load(Ordering::Relaxed),
    }
}

/// What identifies a loaded plugin in the cache's keys: its path, and its
/// file's size and modification time (so that a plugin replaced in place is
/// another plugin), its platform, version and API version, the kind of each
/// of its devices (another GPU model, or a CPU of other instruction sets
/// where the folder is shared), and `XLA_FLAGS` (which the plugin reads when
/// it starts). Taken once per plugin and process.
pub(crate) fn identity(client: &Client, devices: &[Device]) -> String {
    let plugin = client.plugin();
    let (major, minor) = plugin.api_version();
    let file = std::fs::metadata(plugin.path()).ok();
    let modified = file.as_ref().and_then(|m| m.modified().ok()).and_then(|t| t.duration_since(UNIX_EPOCH).ok());
    let kinds: Vec<String> = devices.iter().map(|d| d.kind().unwrap_or_default()).collect();
    format!(
        "{}\n{:?} {:?}\n{}\n{}\n{major}.{minor}\n{}\n{}\n",
        plugin.path().display(),
        file.map(|m| m.len()),
        modified,
        client.platform_name().unwrap_or_default(),
        client.platform_version().unwrap_or_default(),
        kinds.join(","),
        std::env::var("XLA_FLAGS").unwrap_or_default(),
    )
}

/// The file of one program: named by the MD5 of everything that decides its
/// compiled code: the plugin's [`identity`], the compile options and the text.
pub(crate) fn entry(dir: &Path, identity: &str, options: &[u8], mlir: &str) -> PathBuf {
    let mut h = Md5::new();
    for part in [identity.as_bytes(), options, mlir.as_bytes()] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    let digest: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    dir.join(format!("{digest}.rjax-program"))
}

/// The program kept in `path`, if there is a whole one the plugin loads,
/// placed as `options` (the compile options it was compiled with) say.
pub(crate) fn load(client: &Client, path: &Path, options: &[u8]) -> Option<Executable> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        // no such file, or no such folder (a file in the way: then storing reports it)
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            MISSES.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Err(e) => return reject(path, &format!("cannot be read ({e})")),
    };
    let payload = match check(&bytes) {
        Ok(p) => p,
        Err(why) => return reject(path, why),
    };
    // SAFETY: the bytes are whole (length and CRC-32 checked) and were
    // written by `store` from `PJRT_Executable_Serialize` of a plugin with
    // this file's identity (its name is their digest); the folder is the
    // user's own (created private), as the docs require.
    match unsafe { client.deserialize(payload, Some(options)) } {
        Ok(exe) => {
            HITS.fetch_add(1, Ordering::Relaxed);
            Some(exe)
        }
        Err(e) => reject(path, &format!("was not loaded by the plugin ({e})")),
    }
}

/// The program's bytes in a cache file, or why the file is not whole.
fn check(file: &[u8]) -> Result<&[u8], &'static str> {
    if file.len() < HEADER || &file[..8] != MAGIC {
        return Err("is not a cache file of this rjax (no header)");
    }
    let len = u64::from_le_bytes(file[8..16].try_into().map_err(|_| "has a bad header")?);
    let crc = u32::from_le_bytes(file[16..20].try_into().map_err(|_| "has a bad header")?);
    let payload = &file[HEADER..];
    if payload.len() as u64 != len {
        return Err("is cut short or too long");
    }
    if crc32fast::hash(payload) != crc {
        return Err("does not match its checksum");
    }
    Ok(payload)
}

fn reject(path: &Path, why: &str) -> Option<Executable> {
    REJECTED.fetch_add(1, Ordering::Relaxed);
    eprintln!("rjax: compilation cache: {} {why}; compiling the program again", path.display());
    None
}

/// Keeps `exe` in `path` (whole or not at all). A failure is reported and
/// otherwise ignored: the program is compiled and runs either way.
pub(crate) fn store(path: &Path, exe: &Executable) {
    if let Err(e) = try_store(path, exe) {
        eprintln!("rjax: compilation cache: could not keep {} ({e}); the program runs anyway", path.display());
    }
}

fn try_store(path: &Path, exe: &Executable) -> Result<(), Box<dyn std::error::Error>> {
    let payload = exe.serialize()?;
    let mut file = Vec::with_capacity(HEADER + payload.len());
    file.extend_from_slice(MAGIC);
    file.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    file.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    file.extend_from_slice(&payload);
    let dir = path.parent().ok_or("no folder")?;
    create_private_dir(dir)?;
    // one temporary name per process and write, so that two writers of the
    // same program (processes or threads) never write into one file
    static SERIAL: AtomicUsize = AtomicUsize::new(0);
    let tmp = dir.join(format!(
        ".{}.{}-{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("program"),
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&tmp, &file)?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.into());
    }
    WRITES.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Creates `dir` (and its parents) readable and writable by the user alone:
/// what is loaded from it runs as native code.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payload: &[u8]) -> Vec<u8> {
        let mut f = MAGIC.to_vec();
        f.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        f.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn whole_files_pass_and_damaged_ones_are_named() {
        let f = framed(b"program bytes");
        assert_eq!(check(&f), Ok(&b"program bytes"[..]));
        assert_eq!(check(&f[..f.len() - 1]), Err("is cut short or too long"));
        assert_eq!(check(&f[..10]), Err("is not a cache file of this rjax (no header)"));
        let mut altered = f.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(check(&altered), Err("does not match its checksum"));
        let mut longer = f.clone();
        longer.push(0);
        assert_eq!(check(&longer), Err("is cut short or too long"));
        assert!(check(b"").is_err());
    }
}
