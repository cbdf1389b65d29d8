//! The ChaCha20 keystream (docs/prng.md) from u32 additions, xors and
//! rotations, so that compiled `random_bits` equals the CPU backend bit for bit.
//!
//! The state is four rows of the 4x4 word matrix, each a `ui32[B, 4, blocks]`
//! tensor (B keys, one entry per 64-byte block along the last axis; the block
//! counter is an iota): a quarter round runs on the four columns at once, and
//! the diagonal round is the column round on rows rotated by slices. The 10
//! double rounds are a `stablehlo.while` loop (trip count 10) over
//! elementwise operations, and the 16 output words are transposed back into
//! keystream order.

use super::{LowerError, Lowering, Value, i64_array};
use crate::core::{Aval, DType};
use std::collections::HashMap;

/// "expand 32-byte k".
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// The state as four rows of the 4x4 word matrix, each a `ui32[B, 4, blocks]`
/// tensor (row `r` holds words `4r..4r + 4`), and the shift constants.
struct State<'a> {
    cx: &'a mut Lowering,
    rows: [Value; 4],
    shifts: HashMap<u32, Value>,
    aval: Aval,
}

impl State<'_> {
    fn shift(&mut self, r: u32) -> Value {
        if let Some(v) = self.shifts.get(&r) {
            return v.clone();
        }
        let v = self.cx.constant(r as f64, &self.aval);
        self.shifts.insert(r, v.clone());
        v
    }
    /// `a += b; d ^= a; d <<<= r` on whole rows.
    fn step(&mut self, a: usize, b: usize, d: usize, r: u32) {
        self.rows[a] = self.cx.binary("stablehlo.add", &self.rows[a], &self.rows[b]);
        let t = self.cx.binary("stablehlo.xor", &self.rows[d], &self.rows[a]);
        let (left, right) = (self.shift(r), self.shift(32 - r));
        let hi = self.cx.binary("stablehlo.shift_left", &t, &left);
        let lo = self.cx.binary("stablehlo.shift_right_logical", &t, &right);
        self.rows[d] = self.cx.binary("stablehlo.or", &hi, &lo);
    }
    /// The quarter round on the four columns at once: column `c` is the
    /// quarter round of words `(c, 4 + c, 8 + c, 12 + c)` of the rows as they
    /// are now.
    fn quarters(&mut self) {
        self.step(0, 1, 3, 16);
        self.step(2, 3, 1, 12);
        self.step(0, 1, 3, 8);
        self.step(2, 3, 1, 7);
    }
    /// Row `r` rotated left by `k` columns: column `c` takes column `(c + k) % 4`.
    fn rotate(&mut self, r: usize, k: usize) -> Result<Value, LowerError> {
        let shape = self.aval.shape.clone();
        let (b, blocks) = (shape[0], shape[2]);
        let tail = self.cx.slice(&self.rows[r], &[0, k, 0], &[b, 4, blocks], &[1, 1, 1]);
        let head = self.cx.slice(&self.rows[r], &[0, 0, 0], &[b, k, blocks], &[1, 1, 1]);
        self.cx.concatenate(&[&tail, &head], 1)
    }
    /// One column round and one diagonal round: the diagonal quarter rounds
    /// `(0, 5, 10, 15)`, `(1, 6, 11, 12)`, `(2, 7, 8, 13)`, `(3, 4, 9, 14)` are
    /// the column ones after rotating rows 1, 2, 3 left by 1, 2, 3 columns
    /// (and rotating them back after).
    fn double_round(&mut self) -> Result<(), LowerError> {
        self.quarters();
        for r in 1..4 {
            self.rows[r] = self.rotate(r, r)?;
        }
        self.quarters();
        for r in 1..4 {
            self.rows[r] = self.rotate(r, 4 - r)?;
        }
        Ok(())
    }
}

/// Keystream words `0..prod(shape)` for every key of `key` (`u32[..., 8]`) on
/// the streams `stream` (`u32[..., 2]`), shaped `out` (`u32[..., shape]`).
pub(crate) fn chacha20(
    cx: &mut Lowering,
    key: &Value,
    stream: &Value,
    shape: &[usize],
    out: &Aval,
) -> Result<Value, LowerError> {
    let nd = key.aval.ndim();
    if nd == 0 || key.aval.dtype != DType::U32 || stream.aval.dtype != DType::U32 {
        return Err(LowerError::new(format!("bad key {} or stream {}", key.aval, stream.aval)));
    }
    let b: usize = key.aval.shape[..nd - 1].iter().product();
    let n: usize = shape.iter().product();
    if b == 0 || n == 0 {
        return Ok(cx.constant(0.0, out));
    }
    let blocks = n.div_ceil(16);
    if blocks as u64 > u32::MAX as u64 {
        return Err(LowerError::new(format!("{n} words need a block counter wider than 32 bits")));
    }
    let k = cx.reshape(key, &[b, 8]);
    let s = cx.reshape(stream, &[b, 2]);
    let aval = Aval::new(&[b, 4, blocks], DType::U32);
    let one = Aval::new(&[b, 1, blocks], DType::U32);
    // row 0: the constants; rows 1 and 2: the key; row 3: the block counter
    // (an iota), zero, and the stream id
    let sigma: Vec<Value> = SIGMA.iter().map(|&w| cx.constant(w as f64, &one)).collect();
    let key_row = |cx: &mut Lowering, lo: usize| {
        let half = cx.slice(&k, &[0, lo], &[b, lo + 4], &[1, 1]);
        cx.broadcast_in_dim(&half, &[b, 4, blocks], &[0, 1])
    };
    let (counter, zero) = (cx.iota(&one, 2), cx.constant(0.0, &one));
    let ids = cx.broadcast_in_dim(&s, &[b, 2, blocks], &[0, 1]);
    let init = [
        cx.concatenate(&sigma.iter().collect::<Vec<_>>(), 1)?,
        key_row(cx, 0),
        key_row(cx, 4),
        cx.concatenate(&[&counter, &zero, &ids], 1)?,
    ];

    // 10 double rounds as a loop, so that XLA compiles (and fuses) one double
    // round rather than 20 rounds unrolled: fusing the unrolled rounds makes
    // XLA recompute shared intermediate words in every consumer. The loop
    // carries four rows rather than sixteen words: XLA makes a few kernels
    // of each round instead of dozens, which it compiles and runs faster.
    // (Computing the first double round before the loop, to spare the copies
    // of the constant words into the loop's buffers, made the report's epoch
    // slower on an H200: docs/benchmarks.md, "GPU".)
    let trips = Aval::new(&[], DType::I32);
    let mut carried = vec![trips];
    carried.extend(std::iter::repeat_n(aval.clone(), 4));
    let cond = cx.region(&carried, |cx, p| {
        let ten = cx.scalar(10.0, DType::I32);
        Ok(vec![cx.compare("LT", &p[0], &ten)])
    })?;
    let body = cx.region(&carried, |cx, p| {
        let one = cx.scalar(1.0, DType::I32);
        let next = cx.binary("stablehlo.add", &p[0], &one);
        let rows = [p[1].clone(), p[2].clone(), p[3].clone(), p[4].clone()];
        let mut st = State { cx, rows, shifts: HashMap::new(), aval: aval.clone() };
        st.double_round()?;
        let mut out = vec![next];
        out.extend(st.rows);
        Ok(out)
    })?;
    let start = cx.scalar(0.0, DType::I32);
    let mut operands: Vec<&Value> = vec![&start];
    operands.extend(init.iter());
    let x = cx.op_multi("stablehlo.while", &operands, &[cond, body], "", &carried).split_off(1);
    let rows: Vec<Value> = x.iter().zip(&init).map(|(xi, ii)| cx.binary("stablehlo.add", xi, ii)).collect();
    // [B, 16, blocks] (word-major) to keystream order: block by block
    let all = cx.concatenate(&rows.iter().collect::<Vec<_>>(), 1)?;
    let by_block = cx.op(
        "stablehlo.transpose",
        &[&all],
        &format!("{{permutation = {}}}", i64_array(&[0, 2, 1])),
        &Aval::new(&[b, blocks, 16], DType::U32),
    );
    let flat = cx.reshape(&by_block, &[b, blocks * 16]);
    let taken = if n == blocks * 16 { flat } else { cx.slice(&flat, &[0, 0], &[b, n], &[1, 1]) };
    Ok(cx.reshape(&taken, &out.shape))
}
