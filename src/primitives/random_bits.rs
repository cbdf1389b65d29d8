//! `random_bits`: the ChaCha20 keystream as u32 words, the one source of
//! randomness. See docs/prng.md for the exact algorithm.

use super::batch_all;
use crate::backend::pjrt::host_call::{HostBuffer, HostCall, Workers, custom_call_attrs};
use crate::backend::stablehlo::{self, LowerError, Lowering, Value};
use crate::core::{Array, Aval, DType, HostData, Primitive, bind};
use ndarray::{ArrayD, IxDyn};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

/// Words of key material in a [`Key`](crate::random::Key).
pub const KEY_WORDS: usize = 8;

/// The `random_bits` primitive; apply it with [`random_bits`].
///
/// Inputs: a key `u32[..., 8]` and a stream `u32[..., 2]` with the same leading
/// (batch) axes; output `u32[..., shape]`: for each key, word `j` of the
/// ChaCha20 keystream (key = the 8 words little-endian, 64-bit block counter
/// from 0, 64-bit stream id = `stream[0] | stream[1] << 32`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RandomBits {
    /// The shape of words drawn for each key.
    pub shape: Vec<usize>,
}

/// The keystream words `0..n` of ChaCha20 for one key and stream id.
pub fn chacha_words(key: &[u32], stream: u64, n: usize) -> Vec<u32> {
    let mut out = vec![0u32; n];
    // pieces of the keystream on every core: piece `c` starts at word
    // `c * WORDS_PER_TASK`, so the words are those of one sequential pass
    let fill = |(c, part): (usize, &mut [u32])| fill_words(key, stream, c * WORDS_PER_TASK, part);
    if n > WORDS_PER_TASK {
        use rayon::prelude::*;
        out.par_chunks_mut(WORDS_PER_TASK).enumerate().for_each(fill);
    } else {
        fill((0, &mut out));
    }
    out
}

/// Fills `out` with the keystream words `first..first + out.len()` of
/// ChaCha20 for one key and stream id.
fn fill_words(key: &[u32], stream: u64, first: usize, out: &mut [u32]) {
    let mut seed = [0u8; 32];
    for (i, w) in key.iter().enumerate() {
        seed[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
    }
    let mut rng = ChaCha20Rng::from_seed(seed);
    rng.set_stream(stream);
    rng.set_word_pos(first as u128);
    out.iter_mut().for_each(|w| *w = rng.next_u32());
}

/// Keystream words drawn per parallel task (a whole number of 16-word blocks).
const WORDS_PER_TASK: usize = 1 << 15;

impl Primitive for RandomBits {
    fn name(&self) -> &'static str {
        "random_bits"
    }
    fn params(&self) -> String {
        format!("shape={:?}", self.shape)
    }
    fn abstract_eval(&self, i: &[Aval]) -> Result<Aval, String> {
        let (k, s) = (&i[0], &i[1]);
        let lead = k.ndim().saturating_sub(1);
        let ok = k.dtype == DType::U32
            && s.dtype == DType::U32
            && k.shape.last() == Some(&KEY_WORDS)
            && s.shape.last() == Some(&2)
            && s.shape[..s.ndim() - 1] == k.shape[..lead];
        if !ok {
            return Err(format!("expected a key u32[..., 8] and a stream u32[..., 2], got {k} and {s}"));
        }
        let mut shape = k.shape[..lead].to_vec();
        shape.extend_from_slice(&self.shape);
        Ok(Aval::new(&shape, DType::U32))
    }
    fn eval(&self, i: &[&HostData]) -> HostData {
        let (HostData::U32(k), HostData::U32(s)) = (i[0], i[1]) else {
            unreachable!("random_bits dtypes checked by its shape rule")
        };
        let (k, s) = (k.as_standard_layout(), s.as_standard_layout());
        let (ks, ss) = match (k.as_slice(), s.as_slice()) {
            (Some(a), Some(b)) => (a, b),
            _ => unreachable!("standard layout is contiguous"),
        };
        let n: usize = self.shape.iter().product();
        let mut out = Vec::with_capacity(ks.len() / KEY_WORDS * n);
        for (key, st) in ks.chunks(KEY_WORDS).zip(ss.chunks(2)) {
            out.extend(chacha_words(key, st[0] as u64 | (st[1] as u64) << 32, n));
        }
        let mut shape = k.shape()[..k.ndim() - 1].to_vec();
        shape.extend_from_slice(&self.shape);
        match ArrayD::from_shape_vec(IxDyn(&shape), out) {
            Ok(a) => HostData::U32(a),
            Err(e) => unreachable!("random_bits output shape: {e}"),
        }
    }
    no_derivative!();
    fn batch(&self, x: &[Array], b: &[bool]) -> (Array, bool) {
        let x = batch_all(x, b);
        (random_bits(&x[0], &x[1], &self.shape), true)
    }
    /// ChaCha20 from u32 arithmetic, equal to the CPU's words bit for bit;
    /// on XLA's CPU plugin a call of [`HostRandomBits`], the CPU's own code
    /// (several times faster than XLA's loop, and nothing to compile).
    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &Aval) -> Result<Value, LowerError> {
        if cx.host_calls() {
            let attrs = custom_call_attrs(HostRandomBits::NAME, &[x[0].aval.ndim(), x[1].aval.ndim()], out.ndim());
            return Ok(cx.op("stablehlo.custom_call", &[&x[0], &x[1]], &attrs, out));
        }
        stablehlo::chacha20(cx, &x[0], &x[1], &self.shape, out)
    }
}

/// `random_bits` as a Rust function called from XLA CPU programs: operands
/// the keys `u32[..., 8]` and streams `u32[..., 2]`, result the words
/// `u32[..., shape]`, drawn by the built-in backend's code in pieces of
/// [`WORDS_PER_TASK`] words on XLA's threads.
pub(crate) struct HostRandomBits;

impl HostCall for HostRandomBits {
    const NAME: &'static str = "rjax_random_bits";

    fn run(args: &[HostBuffer], rets: &[HostBuffer], workers: &Workers) -> Result<(), String> {
        let ([key, stream], [out]) = (args, rets) else {
            return Err(format!("takes 2 operands and gives 1 result, called with {} and {}", args.len(), rets.len()));
        };
        let lead = key.dims.len().saturating_sub(1);
        let ok = [key.dtype, stream.dtype, out.dtype] == [DType::U32; 3]
            && key.dims.last() == Some(&KEY_WORDS)
            && stream.dims.last() == Some(&2)
            && stream.dims[..stream.dims.len() - 1] == key.dims[..lead]
            && out.dims.get(..lead) == Some(&key.dims[..lead]);
        if !ok {
            return Err(format!(
                "expected keys u32[..., 8], streams u32[..., 2] and words u32[..., shape], got {}{:?}, {}{:?} and {}{:?}",
                key.dtype, key.dims, stream.dtype, stream.dims, out.dtype, out.dims
            ));
        }
        let keys: usize = key.dims[..lead].iter().product();
        let n: usize = out.dims[lead..].iter().product();
        let pieces = n.div_ceil(WORDS_PER_TASK);
        let (k, s, o) = (key.data as usize, stream.data as usize, out.data as usize);
        workers.run(keys * pieces, &|i| {
            let (j, first) = (i / pieces, (i % pieces) * WORDS_PER_TASK);
            // SAFETY: key `j`'s 8 words, its stream's 2 and its `n` words of
            // output are inside the buffers (shapes checked above); pieces
            // write disjoint words.
            let (key, stream, dst) = unsafe {
                (
                    std::slice::from_raw_parts((k as *const u32).add(j * KEY_WORDS), KEY_WORDS),
                    std::slice::from_raw_parts((s as *const u32).add(j * 2), 2),
                    std::slice::from_raw_parts_mut((o as *mut u32).add(j * n + first), WORDS_PER_TASK.min(n - first)),
                )
            };
            fill_words(key, stream[0] as u64 | (stream[1] as u64) << 32, first, dst);
        })
    }
}

/// Draws `shape` words of the ChaCha20 keystream for `key` (`u32[..., 8]`) on
/// the stream `stream` (`u32[..., 2]`). Usually reached through [`crate::random`].
///
/// ```
/// use rjax::{lax, Array};
/// let key = Array::from_vec(vec![0u32; 8], &[8]);
/// let stream = Array::from_vec(vec![0u32, 0], &[2]);
/// let bits = lax::random_bits(&key, &stream, &[4]);
/// // the first words of ChaCha20 with an all-zero key (RFC 7539 test vector)
/// assert_eq!(bits.to_vec::<u32>()[0], 0xade0b876);
/// ```
#[track_caller]
pub fn random_bits(key: &Array, stream: &Array, shape: &[usize]) -> Array {
    bind(RandomBits { shape: shape.to_vec() }, &[key, stream])
}

#[cfg(test)]
mod tests {
    use super::{WORDS_PER_TASK, chacha_words};
    use rand_chacha::ChaCha20Rng;
    use rand_core::{Rng, SeedableRng};

    #[test]
    fn words_drawn_in_parallel_pieces_are_the_sequential_keystream() {
        let key: Vec<u32> = (0..8).map(|i| 0x9e37_79b9u32.wrapping_mul(i + 1)).collect();
        let n = 3 * WORDS_PER_TASK + 5;
        let mut seed = [0u8; 32];
        for (i, w) in key.iter().enumerate() {
            seed[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
        }
        let mut rng = ChaCha20Rng::from_seed(seed);
        rng.set_stream(7);
        let sequential: Vec<u32> = (0..n).map(|_| rng.next_u32()).collect();
        assert_eq!(chacha_words(&key, 7, n), sequential);
        assert_eq!(chacha_words(&key, 7, 17), sequential[..17]);
    }
}
