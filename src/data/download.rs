//! Fetching a file over HTTP(S) with a size and MD5 check, and unpacking a `.tar.gz`.

use super::{DataError, GET_DATA_HINT};
use indicatif::{ProgressBar, ProgressStyle};
use md5::{Digest, Md5};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::time::Duration;

fn download_error(url: &str, reason: String) -> DataError {
    DataError::Download { url: url.to_string(), reason, hint: GET_DATA_HINT.to_string() }
}

fn progress_bar(len: Option<u64>, url: &str) -> ProgressBar {
    let name = url.rsplit('/').next().unwrap_or(url).to_string();
    match len {
        Some(n) => {
            let style =
                ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)")
                    .map(|s| s.progress_chars("=> "))
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
            ProgressBar::new(n).with_style(style).with_message(format!("downloading {name}"))
        }
        None => ProgressBar::new_spinner().with_message(format!("downloading {name}")),
    }
}

/// Downloads `url` to `dest`, checking the size (when given: against the
/// announced length before the transfer and the received length after) and the
/// MD5. On error `dest` may hold a partial file: the caller downloads into a
/// temporary directory it discards.
pub(crate) fn fetch(url: &str, md5_hex: &str, size: Option<u64>, dest: &Path) -> Result<(), DataError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .build()
        .into();
    let response = agent.get(url).call().map_err(|e| download_error(url, e.to_string()))?;
    let body = response.into_body();
    let announced = body.content_length();
    if let (Some(expected), Some(found)) = (size, announced) {
        if found != expected {
            return Err(DataError::DownloadSize { url: url.to_string(), found, expected });
        }
    }
    let mut reader = body.into_reader();
    let file = File::create(dest).map_err(|e| DataError::io("create", dest, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let bar = progress_bar(size.or(announced), url);
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total: u64 = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                bar.abandon();
                let of = size.or(announced).map(|s| format!(" of {s}")).unwrap_or_default();
                return Err(download_error(url, format!("the transfer failed after {total}{of} bytes: {e}")));
            }
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(|e| DataError::io("write", dest, e))?;
        total += n as u64;
        bar.inc(n as u64);
    }
    out.flush().map_err(|e| DataError::io("write", dest, e))?;
    bar.finish_and_clear();
    if let Some(expected) = size.or(announced) {
        if total != expected {
            return Err(DataError::DownloadSize { url: url.to_string(), found: total, expected });
        }
    }
    let found: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    if !found.eq_ignore_ascii_case(md5_hex.trim()) {
        return Err(DataError::Checksum { url: url.to_string(), found, expected: md5_hex.trim().to_lowercase() });
    }
    Ok(())
}

/// Unpacks the `.tar.gz` at `archive` into the directory `into` (created). The
/// `tar` crate refuses entries that would land outside `into`.
pub(crate) fn unpack_tar_gz(archive: &Path, into: &Path, url: &str) -> Result<(), DataError> {
    let file = File::open(archive).map_err(|e| DataError::io("read", archive, e))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(file)));
    tar.unpack(into).map_err(|e| DataError::Archive { url: url.to_string(), reason: e.to_string() })
}
