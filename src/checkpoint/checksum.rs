//! Per-tensor CRC-32 checksums, kept in the header's `__metadata__` as
//! `crc32:<tensor name>` = 8 lowercase hex digits, so that other safetensors
//! readers see ordinary string metadata.

use super::CheckpointError;
use crate::core::HostData;
use safetensors::SafeTensors;
use std::collections::BTreeMap;
use std::path::Path;

/// The prefix of a checksum's metadata key; the tensor's name follows it.
pub(crate) const PREFIX: &str = "crc32:";

/// The metadata entry recording `crc` for the tensor `name`.
pub(crate) fn entry(name: &str, crc: u32) -> (String, String) {
    (format!("{PREFIX}{name}"), format!("{crc:08x}"))
}

/// The CRC-32 of the bytes [`codec::encode`](super::codec::encode) gives for
/// `h`, computed a chunk at a time (no copy of the whole leaf).
pub(crate) fn of_host(h: &HostData) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    super::codec::encode_chunks(h, &mut |bytes| hasher.update(bytes));
    hasher.finalize()
}

/// `Some(crc)` for exactly 8 hex digits.
fn parse_hex(text: &str) -> Option<u32> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

/// Checks the checksum entries of `metadata` against the tensors of `file`:
/// every entry names a tensor of the file and holds 8 hex digits, either every
/// tensor has an entry or none has, and every tensor's data matches its entry.
/// A file without entries passes unchecked.
pub(crate) fn verify(
    path: &Path,
    file: &SafeTensors<'_>,
    metadata: &BTreeMap<String, String>,
) -> Result<(), CheckpointError> {
    let corrupt = |message| CheckpointError::Corrupt { path: path.to_path_buf(), message };
    let mut expected = BTreeMap::new();
    for (key, text) in metadata {
        let Some(name) = key.strip_prefix(PREFIX) else { continue };
        let crc = parse_hex(text).ok_or_else(|| {
            corrupt(format!("the checksum entry {key:?} is {text:?}, not a CRC-32 written as 8 hex digits"))
        })?;
        expected.insert(name, crc);
    }
    if expected.is_empty() {
        return Ok(());
    }
    if let Some(name) = expected.keys().find(|n| file.tensor(n).is_err()) {
        return Err(corrupt(format!("the metadata has a checksum entry \"{PREFIX}{name}\" but no tensor {name:?}")));
    }
    let mut names = file.names();
    names.sort();
    if let Some(name) = names.iter().find(|n| !expected.contains_key(**n)) {
        return Err(corrupt(format!(
            "tensor {name:?} has no checksum entry (\"{PREFIX}{name}\") although other tensors have one"
        )));
    }
    for (name, crc) in expected {
        let view = file.tensor(name).map_err(|e| corrupt(format!("tensor {name:?}: {e}")))?;
        let found = crc32fast::hash(view.data());
        if found != crc {
            return Err(CheckpointError::Checksum {
                path: path.to_path_buf(),
                name: name.to_string(),
                expected: crc,
                found,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::codec;
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn the_checksum_is_that_of_the_encoded_bytes() {
        let big: Vec<f64> = (0..20_000).map(|i| f64::from(i) * 0.5 - 3.0).collect();
        let hosts = [
            HostData::F64(ArrayD::from_shape_vec(IxDyn(&[100, 200]), big).unwrap()),
            HostData::Bool(ArrayD::from_shape_vec(IxDyn(&[3]), vec![true, false, true]).unwrap()),
            HostData::U8(ArrayD::from_shape_vec(IxDyn(&[0]), vec![]).unwrap()),
        ];
        for h in &hosts {
            assert_eq!(of_host(h), crc32fast::hash(&codec::encode(h)));
        }
        // the CRC-32 (IEEE) check value
        assert_eq!(crc32fast::hash(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn only_eight_hex_digits_parse() {
        assert_eq!(parse_hex("cbf43926"), Some(0xcbf4_3926));
        assert_eq!(parse_hex("CBF43926"), Some(0xcbf4_3926));
        for bad in ["", "cbf4392", "cbf439261", "+bf43926", "cbf4392g", " bf43926"] {
            assert_eq!(parse_hex(bad), None, "{bad:?}");
        }
    }
}
