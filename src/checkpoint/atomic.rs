//! Atomic file replacement: write a temporary file beside the destination,
//! sync it, rename it over the destination, sync the directory.

use super::CheckpointError;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Removes the temporary file when dropped, unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            // Best effort: the error that got us here is the one to report.
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn io_error(path: &Path, op: &'static str) -> impl FnOnce(io::Error) -> CheckpointError {
    let path = path.to_path_buf();
    move |source| CheckpointError::Io { path, op, source }
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Creates a new, uniquely named temporary file beside `path`: `.NAME.PID-N.tmp`.
fn create_temp(path: &Path) -> Result<(File, TempFile), CheckpointError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let Some(name) = path.file_name() else {
        let e = io::Error::new(io::ErrorKind::InvalidInput, "the path does not end in a file name");
        return Err(io_error(path, "choosing the file name")(e));
    };
    let dir = parent_dir(path);
    let mut last = None;
    for _ in 0..64 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(".{}.{}-{n}.tmp", name.to_string_lossy(), std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(f) => return Ok((f, TempFile { path: temp, keep: false })),
            // A leftover of a crashed process that had the same id: try the next name.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some((temp, e)),
            Err(e) => return Err(io_error(&temp, "creating the temporary file")(e)),
        }
    }
    let (temp, e) = last.unwrap_or_else(|| (dir.to_path_buf(), io::Error::other("no name was tried")));
    Err(io_error(&temp, "creating the temporary file")(e))
}

/// Removes the temporary files of `path` (`.NAME.PID-N.tmp`) that a killed
/// save left behind: those of processes that no longer run. A file of a live
/// process (this one included: another thread may be saving) is kept. Only
/// where running processes can be told (`/proc`, Linux); elsewhere nothing is
/// removed. Best effort: a file that cannot be removed stays.
fn remove_stale_temps(path: &Path) {
    let (Some(name), proc) = (path.file_name(), Path::new("/proc/self")) else { return };
    if !proc.exists() {
        return;
    }
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(parent_dir(path)) else { return };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().to_string();
        let Some(rest) = file.strip_prefix(&prefix).and_then(|r| r.strip_suffix(".tmp")) else { continue };
        let Some((pid, n)) = rest.split_once('-') else { continue };
        let (Ok(pid), true) = (pid.parse::<u32>(), n.chars().all(|c| c.is_ascii_digit())) else { continue };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Replaces `path` with what `write` writes, atomically: after a crash at any
/// point the destination holds either its old contents or all of the new
/// ones. `write` gets a buffered writer to a temporary file beside `path`. On
/// any error the temporary file is removed and the destination is unchanged.
pub(crate) fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), CheckpointError> {
    remove_stale_temps(path);
    let (file, mut temp) = create_temp(path)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    write(&mut out).map_err(io_error(&temp.path, "writing the temporary file"))?;
    let file = out.into_inner().map_err(|e| io_error(&temp.path, "writing the temporary file")(e.into_error()))?;
    file.sync_all().map_err(io_error(&temp.path, "syncing the temporary file to disk"))?;
    drop(file);
    fs::rename(&temp.path, path).map_err(io_error(path, "renaming the temporary file over the destination"))?;
    temp.keep = true;
    sync_dir(parent_dir(path))
}

/// Makes the rename durable (on Unix, a directory's entries are synced by fsync on the directory).
#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), CheckpointError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_error(dir, "syncing the directory after the rename"))
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), CheckpointError> {
    Ok(())
}
