//! The ChaCha20 keystream (docs/prng.md) from u32 additions, xors and
//! rotations, so that compiled `random_bits` equals the CPU backend bit for bit.
//!
//! Each of the 16 state words is a `ui32[B, blocks]` tensor (B keys, one
//! column per 64-byte block; the block counter is an iota), the 10 double
//! rounds are a `stablehlo.while` loop (trip count 10) over elementwise
//! operations, and the 16 output words are interleaved back into keystream
//! order.

use super::{LowerError, Lowering, Value};
use crate::core::{Aval, DType};
use std::collections::HashMap;

/// "expand 32-byte k".
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// The state words and the shift-amount constants, on one `[B, blocks]` aval.
struct State<'a> {
    cx: &'a mut Lowering,
    x: Vec<Value>,
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
    /// `x[a] += x[b]; x[d] ^= x[a]; x[d] <<<= r`.
    fn step(&mut self, a: usize, b: usize, d: usize, r: u32) {
        self.x[a] = self.cx.binary("stablehlo.add", &self.x[a], &self.x[b]);
        let t = self.cx.binary("stablehlo.xor", &self.x[d], &self.x[a]);
        let (left, right) = (self.shift(r), self.shift(32 - r));
        let hi = self.cx.binary("stablehlo.shift_left", &t, &left);
        let lo = self.cx.binary("stablehlo.shift_right_logical", &t, &right);
        self.x[d] = self.cx.binary("stablehlo.or", &hi, &lo);
    }
    fn quarter(&mut self, a: usize, b: usize, c: usize, d: usize) {
        self.step(a, b, d, 16);
        self.step(c, d, b, 12);
        self.step(a, b, d, 8);
        self.step(c, d, b, 7);
    }
    /// One column round and one diagonal round.
    fn double_round(&mut self) {
        self.quarter(0, 4, 8, 12);
        self.quarter(1, 5, 9, 13);
        self.quarter(2, 6, 10, 14);
        self.quarter(3, 7, 11, 15);
        self.quarter(0, 5, 10, 15);
        self.quarter(1, 6, 11, 12);
        self.quarter(2, 7, 8, 13);
        self.quarter(3, 4, 9, 14);
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
    let aval = Aval::new(&[b, blocks], DType::U32);
    let column = |cx: &mut Lowering, m: &Value, i: usize| {
        let c = cx.slice(m, &[0, i], &[b, i + 1], &[1, 1]);
        cx.broadcast_in_dim(&c, &[b, blocks], &[0, 1])
    };
    let mut init = Vec::with_capacity(16);
    for w in SIGMA {
        init.push(cx.constant(w as f64, &aval));
    }
    for i in 0..8 {
        init.push(column(cx, &k, i));
    }
    init.push(cx.iota(&aval, 1));
    init.push(cx.constant(0.0, &aval));
    init.push(column(cx, &s, 0));
    init.push(column(cx, &s, 1));

    // 10 double rounds as a loop, so that XLA compiles (and fuses) one double
    // round rather than 20 rounds unrolled: fusing the unrolled rounds makes
    // XLA recompute shared intermediate words in every consumer. (Computing
    // the first double round before the loop, to spare the copies of the
    // constant words into the loop's buffers, made the report's epoch slower
    // on an H200: docs/benchmarks.md, "GPU".)
    let counter = Aval::new(&[], DType::I32);
    let mut carried = vec![counter.clone()];
    carried.extend(std::iter::repeat_n(aval.clone(), 16));
    let cond = cx.region(&carried, |cx, p| {
        let ten = cx.scalar(10.0, DType::I32);
        Ok(vec![cx.compare("LT", &p[0], &ten)])
    })?;
    let body = cx.region(&carried, |cx, p| {
        let one = cx.scalar(1.0, DType::I32);
        let next = cx.binary("stablehlo.add", &p[0], &one);
        let mut st = State { cx, x: p[1..].to_vec(), shifts: HashMap::new(), aval: aval.clone() };
        st.double_round();
        let mut out = vec![next];
        out.extend(st.x);
        Ok(out)
    })?;
    let zero = cx.scalar(0.0, DType::I32);
    let mut operands: Vec<&Value> = vec![&zero];
    operands.extend(init.iter());
    let x = cx.op_multi("stablehlo.while", &operands, &[cond, body], "", &carried).split_off(1);
    let mut words = Vec::with_capacity(16);
    for (xi, ii) in x.iter().zip(&init) {
        let w = cx.binary("stablehlo.add", xi, ii);
        words.push(cx.reshape(&w, &[b, blocks, 1]));
    }
    let refs: Vec<&Value> = words.iter().collect();
    let all = cx.concatenate(&refs, 2)?;
    let flat = cx.reshape(&all, &[b, blocks * 16]);
    let taken = if n == blocks * 16 { flat } else { cx.slice(&flat, &[0, 0], &[b, n], &[1, 1]) };
    Ok(cx.reshape(&taken, &out.shape))
}
