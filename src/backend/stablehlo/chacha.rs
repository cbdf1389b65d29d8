//! The ChaCha20 keystream (docs/prng.md) from u32 additions, xors and
//! rotations, so that compiled `random_bits` equals the CPU backend bit for bit.
//!
//! The state is four rows of the 4x4 word matrix, each a `ui32[1, 4, total]`
//! tensor: one entry per 64-byte block along the last axis, the blocks of
//! every key (of every draw lowered together) side by side, each with its
//! key, stream id and block counter. A quarter round runs on the four
//! columns at once, and the diagonal round is the column round on rows
//! rotated by slices. The 10 double rounds are a `stablehlo.while` loop (trip
//! count 10) over elementwise operations, and the 16 output words are
//! transposed back into keystream order.

use super::{LowerError, Lowering, Value, i64_array};
use crate::core::{Aval, DType};
use std::collections::HashMap;

/// "expand 32-byte k".
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// The state as four rows of the 4x4 word matrix, each a `ui32[1, 4, total]`
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

/// One `random_bits` to lower: keystream words `0..prod(shape)` for every
/// key of `key` (`u32[..., 8]`) on the streams `stream` (`u32[..., 2]`),
/// shaped `out` (`u32[..., shape]`).
pub(crate) struct Draw<'a> {
    pub(crate) key: &'a Value,
    pub(crate) stream: &'a Value,
    pub(crate) shape: &'a [usize],
    pub(crate) out: &'a Aval,
}

/// The keystream of one [`Draw`].
pub(crate) fn chacha20(
    cx: &mut Lowering,
    key: &Value,
    stream: &Value,
    shape: &[usize],
    out: &Aval,
) -> Result<Value, LowerError> {
    let mut ys = chacha20_many(cx, &[Draw { key, stream, shape, out }])?;
    ys.pop().ok_or_else(|| LowerError::new("no keystream was drawn"))
}

/// The keystreams of several draws from one loop: the blocks of every key of
/// every draw lie side by side along the rows' last axis, each with its own
/// key, stream and block counter, so a step's dropout masks cost one loop
/// (and its kernels) instead of one each. The words are those of separate
/// draws, bit for bit.
pub(crate) fn chacha20_many(cx: &mut Lowering, draws: &[Draw<'_>]) -> Result<Vec<Value>, LowerError> {
    // per draw: keys, blocks per key, and where its blocks start
    let mut parts = Vec::with_capacity(draws.len());
    let mut total = 0usize;
    for d in draws {
        let nd = d.key.aval.ndim();
        if nd == 0 || d.key.aval.dtype != DType::U32 || d.stream.aval.dtype != DType::U32 {
            return Err(LowerError::new(format!("bad key {} or stream {}", d.key.aval, d.stream.aval)));
        }
        let b: usize = d.key.aval.shape[..nd - 1].iter().product();
        let n: usize = d.shape.iter().product();
        let blocks = n.div_ceil(16);
        if blocks as u64 > u32::MAX as u64 {
            return Err(LowerError::new(format!("{n} words need a block counter wider than 32 bits")));
        }
        parts.push((b, n, blocks, total));
        total += b * blocks;
    }
    if total == 0 {
        return Ok(draws.iter().map(|d| cx.constant(0.0, d.out)).collect());
    }
    let aval = Aval::new(&[1, 4, total], DType::U32);
    // row 0: the constants; rows 1 and 2: the keys; row 3: the block counter
    // (an iota), zero, and the stream ids; each draw's piece [1, r, b * blocks]
    let one = Aval::new(&[1, 1, total], DType::U32);
    let sigma: Vec<Value> = SIGMA.iter().map(|&w| cx.constant(w as f64, &one)).collect();
    let (mut keys_lo, mut keys_hi, mut counters) = (Vec::new(), Vec::new(), Vec::new());
    for (d, &(b, _, blocks, _)) in draws.iter().zip(&parts) {
        if b * blocks == 0 {
            continue;
        }
        let k = cx.reshape(d.key, &[b, 8]);
        let s = cx.reshape(d.stream, &[b, 2]);
        // words `lo..lo + 4` of each key, over its blocks: [4, b, blocks] flattened
        let spread = |cx: &mut Lowering, m: &Value, lo: usize, w: usize| {
            let part = cx.slice(m, &[0, lo], &[b, lo + w], &[1, 1]);
            let wide = cx.broadcast_in_dim(&part, &[w, b, blocks], &[1, 0]);
            cx.reshape(&wide, &[1, w, b * blocks])
        };
        keys_lo.push(spread(cx, &k, 0, 4));
        keys_hi.push(spread(cx, &k, 4, 4));
        let count = cx.iota(&Aval::new(&[1, b, blocks], DType::U32), 2);
        let count = cx.reshape(&count, &[1, 1, b * blocks]);
        let zero = cx.constant(0.0, &Aval::new(&[1, 1, b * blocks], DType::U32));
        let ids = spread(cx, &s, 0, 2);
        counters.push(cx.concatenate(&[&count, &zero, &ids], 1)?);
    }
    let join =
        |cx: &mut Lowering, pieces: &[Value], axis: usize| cx.concatenate(&pieces.iter().collect::<Vec<_>>(), axis);
    let init = [join(cx, &sigma, 1)?, join(cx, &keys_lo, 2)?, join(cx, &keys_hi, 2)?, join(cx, &counters, 2)?];

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
    // [1, 16, total] (word-major); each draw's blocks back in keystream order
    let all = join(cx, &rows, 1)?;
    let mut ys = Vec::with_capacity(draws.len());
    for (d, &(b, n, blocks, at)) in draws.iter().zip(&parts) {
        if b * blocks == 0 {
            ys.push(cx.constant(0.0, d.out));
            continue;
        }
        let mine = cx.slice(&all, &[0, 0, at], &[1, 16, at + b * blocks], &[1, 1, 1]);
        let mine = cx.reshape(&mine, &[16, b, blocks]);
        let by_block = cx.op(
            "stablehlo.transpose",
            &[&mine],
            &format!("{{permutation = {}}}", i64_array(&[1, 2, 0])),
            &Aval::new(&[b, blocks, 16], DType::U32),
        );
        let flat = cx.reshape(&by_block, &[b, blocks * 16]);
        let taken = if n == blocks * 16 { flat } else { cx.slice(&flat, &[0, 0], &[b, n], &[1, 1]) };
        ys.push(cx.reshape(&taken, &d.out.shape));
    }
    Ok(ys)
}
