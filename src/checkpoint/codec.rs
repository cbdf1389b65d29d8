//! Host data to and from safetensors' little-endian bytes, and the deterministic header.

use crate::core::{DType, HostData};
use ndarray::{ArrayD, IxDyn};
use safetensors::{Dtype, View};
use std::borrow::Cow;

/// The safetensors dtype of an rjax dtype.
pub(crate) fn to_safetensors(d: DType) -> Dtype {
    match d {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
        DType::I32 => Dtype::I32,
        DType::U32 => Dtype::U32,
        DType::U8 => Dtype::U8,
        DType::Bool => Dtype::BOOL,
    }
}

/// The rjax dtype of a safetensors dtype, if rjax has one.
pub(crate) fn from_safetensors(d: Dtype) -> Option<DType> {
    match d {
        Dtype::F32 => Some(DType::F32),
        Dtype::F64 => Some(DType::F64),
        Dtype::I32 => Some(DType::I32),
        Dtype::U32 => Some(DType::U32),
        Dtype::U8 => Some(DType::U8),
        Dtype::BOOL => Some(DType::Bool),
        _ => None,
    }
}

/// One leaf as the encoder sees it: its bytes are made when the encoder asks
/// for them, so only one leaf's copy exists at a time besides the output.
pub(crate) struct LeafView<'a>(pub(crate) &'a HostData);

impl View for LeafView<'_> {
    fn dtype(&self) -> Dtype {
        to_safetensors(self.0.dtype())
    }
    fn shape(&self) -> &[usize] {
        self.0.shape()
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Owned(encode(self.0))
    }
    fn data_len(&self) -> usize {
        self.0.shape().iter().product::<usize>() * self.0.dtype().size_in_bytes()
    }
}

/// Bytes encoded at a time by [`encode_chunks`].
const CHUNK: usize = 1 << 16;

fn le_chunks<T: Copy, const N: usize>(a: &ArrayD<T>, f: impl Fn(T) -> [u8; N], sink: &mut dyn FnMut(&[u8])) {
    let mut buf = Vec::with_capacity(CHUNK + N);
    // `iter` walks in logical row-major order whatever the memory layout.
    for &x in a.iter() {
        buf.extend_from_slice(&f(x));
        if buf.len() >= CHUNK {
            sink(&buf);
            buf.clear();
        }
    }
    sink(&buf);
}

/// Hands the bytes [`encode`] gives for `h` to `sink` a chunk (64 KiB) at a
/// time, so that they can be checksummed without a copy of the whole leaf.
pub(crate) fn encode_chunks(h: &HostData, sink: &mut dyn FnMut(&[u8])) {
    match h {
        HostData::F32(a) => le_chunks(a, f32::to_le_bytes, sink),
        HostData::F64(a) => le_chunks(a, f64::to_le_bytes, sink),
        HostData::I32(a) => le_chunks(a, i32::to_le_bytes, sink),
        HostData::U32(a) => le_chunks(a, u32::to_le_bytes, sink),
        HostData::U8(a) => le_chunks(a, |x| [x], sink),
        HostData::Bool(a) => le_chunks(a, |x| [u8::from(x)], sink),
    }
}

/// The values in row-major order as little-endian bytes (bit-exact: NaN
/// payloads and signed zeros are kept; bools are 0 or 1).
pub(crate) fn encode(h: &HostData) -> Vec<u8> {
    let mut out = Vec::with_capacity(LeafView(h).data_len());
    encode_chunks(h, &mut |bytes| out.extend_from_slice(bytes));
    out
}

fn from_le<T, const N: usize>(bytes: &[u8], shape: &[usize], f: impl Fn([u8; N]) -> T) -> Result<ArrayD<T>, String> {
    if bytes.len() % N != 0 {
        return Err(format!("{} bytes is not a whole number of {N}-byte elements", bytes.len()));
    }
    let values = bytes
        .chunks_exact(N)
        .map(|c| {
            let mut b = [0u8; N];
            b.copy_from_slice(c);
            f(b)
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), values).map_err(|e| format!("shape {shape:?}: {e}"))
}

/// Host data of the given dtype and shape from little-endian bytes.
pub(crate) fn decode(dtype: DType, shape: &[usize], bytes: &[u8]) -> Result<HostData, String> {
    Ok(match dtype {
        DType::F32 => HostData::F32(from_le(bytes, shape, f32::from_le_bytes)?),
        DType::F64 => HostData::F64(from_le(bytes, shape, f64::from_le_bytes)?),
        DType::I32 => HostData::I32(from_le(bytes, shape, i32::from_le_bytes)?),
        DType::U32 => HostData::U32(from_le(bytes, shape, u32::from_le_bytes)?),
        DType::U8 => HostData::U8(from_le(bytes, shape, |[b]| b)?),
        DType::Bool => {
            if let Some(i) = bytes.iter().position(|&b| b > 1) {
                return Err(format!(
                    "a bool tensor holds the byte {} at element {i} (only 0 and 1 are bools)",
                    bytes[i]
                ));
            }
            HostData::Bool(from_le(bytes, shape, |[b]| b == 1)?)
        }
    })
}

/// Rewrites the JSON header of a serialized safetensors buffer with its keys
/// sorted (the encoder writes `__metadata__` from a randomly ordered hash map),
/// so the same tree always gives the same bytes. The header keeps its length
/// (re-encoding the same entries compactly is never longer; the rest is the
/// format's space padding), so the data offsets are unchanged. Leaves the
/// buffer as it is if anything is unexpected: it is valid either way.
pub(crate) fn canonicalize_header(buf: &mut [u8]) {
    let Some(len_bytes) = buf.get(..8) else { return };
    let mut n = [0u8; 8];
    n.copy_from_slice(len_bytes);
    let Ok(n) = usize::try_from(u64::from_le_bytes(n)) else { return };
    let Some(header) = buf.get_mut(8..8usize.saturating_add(n)) else { return };
    let Ok(serde_json::Value::Object(mut map)) = serde_json::from_slice::<serde_json::Value>(header) else { return };
    if let Some(serde_json::Value::Object(meta)) = map.get_mut("__metadata__") {
        meta.sort_keys();
    }
    map.sort_keys();
    let Ok(sorted) = serde_json::to_vec(&map) else { return };
    if sorted.len() <= header.len() {
        header[..sorted.len()].copy_from_slice(&sorted);
        header[sorted.len()..].fill(b' ');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_bit_exact() {
        let nan = f32::from_bits(0x7fc0_1234);
        let h = HostData::F32(ArrayD::from_shape_vec(IxDyn(&[3]), vec![nan, -0.0, 1.5]).unwrap());
        let back = decode(DType::F32, &[3], &encode(&h)).unwrap();
        let HostData::F32(a) = back else { panic!("dtype changed") };
        let bits: Vec<u32> = a.iter().map(|x| x.to_bits()).collect();
        assert_eq!(bits, vec![0x7fc0_1234, 0x8000_0000, 1.5f32.to_bits()]);
    }

    #[test]
    fn bad_bool_byte_is_an_error() {
        assert!(decode(DType::Bool, &[2], &[1, 2]).unwrap_err().contains("byte 2"));
    }
}
