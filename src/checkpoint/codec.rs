//! Host data to and from safetensors' little-endian bytes, and the deterministic header.

use crate::core::{DType, HostData};
use ndarray::{ArrayD, IxDyn};
use safetensors::{Dtype, View};
use std::borrow::Cow;
use std::io::Write;

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

/// One leaf as safetensors' encoder sees it when it lays out the header: its
/// dtype, shape and byte length, and no bytes (`data` is empty). The encoder
/// then gives the header alone; the leaves' bytes are streamed to the file
/// after it ([`write_leaves`]), so a checkpoint never needs a second copy of
/// the model in memory.
pub(crate) struct LeafLayout<'a>(pub(crate) &'a HostData);

impl View for LeafLayout<'_> {
    fn dtype(&self) -> Dtype {
        to_safetensors(self.0.dtype())
    }
    fn shape(&self) -> &[usize] {
        self.0.shape()
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&[])
    }
    fn data_len(&self) -> usize {
        self.0.shape().iter().product::<usize>() * self.0.dtype().size_in_bytes()
    }
}

/// The leaves in the order of their bytes in a safetensors file whose header
/// (the length prefix and the JSON) is `header`: by their `data_offsets`
/// there (the order safetensors chose), checked to follow each other without
/// a gap. `leaves` pairs the names with their data.
pub(crate) fn data_order<'a>(
    header: &[u8],
    leaves: &[(&'a str, &'a HostData)],
) -> Result<Vec<(&'a str, &'a HostData)>, String> {
    let json = header.get(8..).ok_or("the header is shorter than its length prefix")?;
    let serde_json::Value::Object(map) =
        serde_json::from_slice::<serde_json::Value>(json).map_err(|e| format!("the header is not JSON: {e}"))?
    else {
        return Err("the header is not a JSON object".into());
    };
    let mut order = Vec::with_capacity(leaves.len());
    for &(name, h) in leaves {
        let start = map
            .get(name)
            .and_then(|t| t.get("data_offsets"))
            .and_then(|o| o.get(0))
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| format!("the header has no data offsets for {name:?}"))?;
        order.push((start, name, h));
    }
    // an empty leaf shares its start with the next one: it comes first
    order.sort_by_key(|&(start, _, h)| (start, LeafLayout(h).data_len()));
    let mut end = 0u64;
    for &(start, name, h) in &order {
        if start != end {
            return Err(format!("{name:?} starts at byte {start} of the data, but {end} bytes precede it"));
        }
        end += LeafLayout(h).data_len() as u64;
    }
    Ok(order.into_iter().map(|(_, name, h)| (name, h)).collect())
}

/// Writes the bytes of `leaves`, one after the other, to `out`, a chunk at a
/// time (no copy of a whole leaf is made).
pub(crate) fn write_leaves(leaves: &[(&str, &HostData)], out: &mut dyn Write) -> std::io::Result<()> {
    for &(_, h) in leaves {
        let mut failed = None;
        encode_chunks(h, &mut |bytes| {
            if failed.is_none() {
                failed = out.write_all(bytes).err();
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
    }
    Ok(())
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
#[cfg(test)]
pub(crate) fn encode(h: &HostData) -> Vec<u8> {
    let mut out = Vec::with_capacity(LeafLayout(h).data_len());
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

    /// A leaf with its bytes, as safetensors' own encoder takes it.
    struct Whole<'a>(&'a HostData);

    impl View for Whole<'_> {
        fn dtype(&self) -> Dtype {
            LeafLayout(self.0).dtype()
        }
        fn shape(&self) -> &[usize] {
            self.0.shape()
        }
        fn data(&self) -> Cow<'_, [u8]> {
            Cow::Owned(encode(self.0))
        }
        fn data_len(&self) -> usize {
            LeafLayout(self.0).data_len()
        }
    }

    #[test]
    fn streamed_file_is_safetensors_own_bytes() {
        // mixed dtypes, so that safetensors reorders them (by alignment, then name);
        // empty leaves share their start with the next one
        let leaves = [
            ("b", HostData::U8(ArrayD::from_shape_vec(IxDyn(&[3]), vec![1, 2, 255]).unwrap())),
            ("a", HostData::F32(ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![0.5, -0.0, 3.0, f32::NAN]).unwrap())),
            (
                "c",
                HostData::F64(ArrayD::from_shape_vec(IxDyn(&[70_000]), (0..70_000).map(f64::from).collect()).unwrap()),
            ),
            ("d", HostData::Bool(ArrayD::from_shape_vec(IxDyn(&[0]), vec![]).unwrap())),
            // empty, so it starts where "a" does
            ("c0", HostData::F64(ArrayD::from_shape_vec(IxDyn(&[0, 2]), vec![]).unwrap())),
        ];
        let whole = safetensors::serialize(leaves.iter().map(|(n, h)| (*n, Whole(h))), None).unwrap();
        let mut streamed = safetensors::serialize(leaves.iter().map(|(n, h)| (*n, LeafLayout(h))), None).unwrap();
        let named: Vec<(&str, &HostData)> = leaves.iter().map(|(n, h)| (*n, h)).collect();
        let order = data_order(&streamed, &named).unwrap();
        assert_eq!(order.iter().map(|(n, _)| *n).collect::<Vec<_>>(), ["c", "c0", "a", "b", "d"]);
        write_leaves(&order, &mut streamed).unwrap();
        assert_eq!(streamed, whole);
    }

    #[test]
    fn data_order_rejects_a_header_that_does_not_match() {
        let h = HostData::U8(ArrayD::from_shape_vec(IxDyn(&[4]), vec![1, 2, 3, 4]).unwrap());
        let header = safetensors::serialize([("x", LeafLayout(&h))], None).unwrap();
        assert!(data_order(&header, &[("y", &h)]).unwrap_err().contains("no data offsets for \"y\""));
        let longer = HostData::U8(ArrayD::from_shape_vec(IxDyn(&[5]), vec![0; 5]).unwrap());
        let two = safetensors::serialize([("x", LeafLayout(&h)), ("z", LeafLayout(&h))], None).unwrap();
        // "x" is laid out as 4 bytes: a 5-byte leaf under that name leaves "z" misplaced
        assert!(data_order(&two, &[("x", &longer), ("z", &h)]).unwrap_err().contains("starts at byte 4"));
    }

    #[test]
    fn bad_bool_byte_is_an_error() {
        assert!(decode(DType::Bool, &[2], &[1, 2]).unwrap_err().contains("byte 2"));
    }
}
