//! A fused kernel: a chain of elementwise primitives computed in one pass over
//! memory, block by block. Intermediate values live in small per-thread
//! buffers; only the values the rest of the graph reads are written out.
//! Values that are the same everywhere (broadcast scalars, and whatever is
//! computed from them alone) are computed once and read as [`Lane::Splat`].

use crate::core::{Aval, Block, BlockMut, DType, HostData, Lane, Primitive, Var};
use ndarray::{ArrayD, IxDyn};
use rayon::prelude::*;
use std::sync::Arc;

/// Elements per block: every intermediate of a block stays in the L1/L2 cache.
const BLOCK: usize = 1024;
/// Elements per parallel task (a multiple of [`BLOCK`]).
const TASK: usize = 64 * BLOCK;

/// Where an operand of a fused operation comes from.
#[derive(Clone, Copy, Debug)]
pub(super) enum Src {
    /// The kernel's `i`-th input.
    Input(usize),
    /// The value computed by the kernel's `i`-th operation.
    Op(usize),
}

/// One fused operation.
#[derive(Debug)]
pub(super) struct FusedOp {
    pub prim: Arc<dyn Primitive>,
    pub args: Vec<Src>,
    pub dtype: DType,
    /// The same value everywhere: every operand is.
    pub splat: bool,
    /// The graph variable it defines, when the rest of the graph reads it.
    pub out: Option<(Var, Aval)>,
}

/// A chain of elementwise operations over `n` elements.
#[derive(Debug)]
pub(crate) struct Kernel {
    pub(super) n: usize,
    /// The graph variables read, and whether each is one element (a splat).
    pub(super) inputs: Vec<(Var, bool)>,
    pub(super) ops: Vec<FusedOp>,
}

macro_rules! typed {
    ($($v:ident: $t:ty),*) => {
        /// An owned buffer of any dtype.
        enum Buf {
            $($v(Vec<$t>),)*
        }

        /// A borrowed slice of any dtype.
        #[derive(Clone, Copy)]
        enum Data<'a> {
            $($v(&'a [$t]),)*
        }

        /// A mutable slice of any dtype.
        enum DataMut<'a> {
            $($v(&'a mut [$t]),)*
        }

        impl Buf {
            fn new(dtype: DType, n: usize) -> Buf {
                match dtype {
                    $(DType::$v => Buf::$v(vec![<$t>::default(); n]),)*
                }
            }
            fn data(&self) -> Data<'_> {
                match self {
                    $(Buf::$v(b) => Data::$v(b),)*
                }
            }
            fn data_mut(&mut self) -> DataMut<'_> {
                match self {
                    $(Buf::$v(b) => DataMut::$v(b),)*
                }
            }
            fn block_mut(&mut self, lo: usize, hi: usize) -> BlockMut<'_> {
                match self {
                    $(Buf::$v(b) => BlockMut::$v(&mut b[lo..hi]),)*
                }
            }
            fn dtype(&self) -> DType {
                match self {
                    $(Buf::$v(_) => DType::$v,)*
                }
            }
            /// The elements of a standard-layout array, in its own buffer when it
            /// holds exactly them.
            fn from_host(h: HostData) -> Result<Buf, HostData> {
                match h {
                    $(HostData::$v(a) if a.is_standard_layout() => {
                        let n = a.len();
                        match a.into_raw_vec_and_offset() {
                            (v, Some(0) | None) if v.len() == n => Ok(Buf::$v(v)),
                            // the elements are a part of a larger buffer: copy them
                            (v, offset) => {
                                let o = offset.unwrap_or(0);
                                Ok(Buf::$v(v[o..o + n].to_vec()))
                            }
                        }
                    })*
                    other => Err(other),
                }
            }
            /// The buffer as an array of `shape`.
            fn into_host(self, shape: &[usize]) -> HostData {
                let shape = IxDyn(shape);
                match self {
                    $(Buf::$v(b) => HostData::$v(ArrayD::from_shape_vec(shape, b)
                        .unwrap_or_else(|e| unreachable!("fused output shape: {e}"))),)*
                }
            }
        }

        impl<'a> Data<'a> {
            /// The contiguous data of a standard-layout array.
            fn of(h: &'a HostData) -> Option<Data<'a>> {
                match h {
                    $(HostData::$v(a) => a.as_slice().map(Data::$v),)*
                }
            }
            /// Asks the CPU to bring elements `lo..hi` into its caches.
            fn prefetch(self, lo: usize, hi: usize) {
                match self {
                    $(Data::$v(s) => prefetch(&s[lo.min(s.len())..hi.min(s.len())]),)*
                }
            }
            /// Elements `lo..hi` as a block operand, or element 0 as a splat.
            fn lane(self, lo: usize, hi: usize, splat: bool) -> Block<'a> {
                match self {
                    $(Data::$v(s) => Block::$v(if splat { Lane::Splat(s[0]) } else { Lane::Run(&s[lo..hi]) }),)*
                }
            }
        }

        impl<'a> DataMut<'a> {
            fn block(&mut self, lo: usize, hi: usize) -> BlockMut<'_> {
                match self {
                    $(DataMut::$v(s) => BlockMut::$v(&mut s[lo..hi]),)*
                }
            }
            fn reborrow(&self) -> Data<'_> {
                match self {
                    $(DataMut::$v(s) => Data::$v(s),)*
                }
            }
            /// Splits into consecutive pieces of `len` elements.
            fn chunks(self, len: usize) -> Vec<DataMut<'a>> {
                match self {
                    $(DataMut::$v(s) => s.chunks_mut(len).map(DataMut::$v).collect(),)*
                }
            }
        }
    };
}
typed!(F32: f32, F64: f64, I32: i32, U32: u32, U8: u8, Bool: bool);

/// An input of a kernel: borrowed, or owned because the graph reads it for
/// the last time here (its buffer may then hold an output).
pub(super) enum KernelInput<'a> {
    Borrowed(&'a HostData),
    Owned(HostData),
}

/// Where an input's values are read from while the kernel runs.
enum Source<'a> {
    Borrowed(&'a HostData),
    /// Owned, but not reusable (another size or layout).
    Held(HostData),
    /// Owned and reusable as an output buffer.
    Spare(Buf),
    /// Its buffer is output `j`'s.
    Reused(usize),
}

impl Kernel {
    /// Runs the kernel on its inputs (one per `inputs` entry, in order) and
    /// returns the values of the operations the graph reads, in operation
    /// order. An owned input of an output's dtype and size, in standard
    /// layout, lends that output its buffer: each block is computed in
    /// scratch buffers and written out after every operation of the block
    /// has read its inputs.
    pub(super) fn run(&self, ins: Vec<KernelInput<'_>>) -> Vec<(Var, HostData)> {
        let mut sources: Vec<Source<'_>> = ins
            .into_iter()
            .map(|x| match x {
                KernelInput::Borrowed(h) if Data::of(h).is_some() => Source::Borrowed(h),
                KernelInput::Borrowed(h) => Source::Held(h.clone().into_standard()),
                KernelInput::Owned(h) if h.shape().iter().product::<usize>() != self.n => {
                    Source::Held(h.into_standard())
                }
                KernelInput::Owned(h) => match Buf::from_host(h) {
                    Ok(b) => Source::Spare(b),
                    Err(h) => Source::Held(h.into_standard()),
                },
            })
            .collect();
        // one buffer per written value, taken over from a spare input when one fits
        let mut outs: Vec<Buf> = Vec::new();
        let mut out_of: Vec<Option<usize>> = Vec::with_capacity(self.ops.len());
        for op in &self.ops {
            if op.out.is_none() || op.splat {
                out_of.push(None);
                continue;
            }
            let j = outs.len();
            let spare = sources.iter().position(|s| matches!(s, Source::Spare(b) if b.dtype() == op.dtype));
            outs.push(match spare {
                Some(i) => match std::mem::replace(&mut sources[i], Source::Reused(j)) {
                    Source::Spare(b) => b,
                    _ => unreachable!("a spare input"),
                },
                None => Buf::new(op.dtype, self.n),
            });
            out_of.push(Some(j));
        }
        let data: Vec<Option<Data<'_>>> = sources
            .iter()
            .map(|s| match s {
                Source::Borrowed(h) => Data::of(h),
                Source::Held(h) => Data::of(h),
                Source::Spare(b) => Some(b.data()),
                Source::Reused(_) => None,
            })
            .collect();
        let reused: Vec<Option<usize>> =
            sources.iter().map(|s| if let Source::Reused(j) = s { Some(*j) } else { None }).collect();
        // values that are the same everywhere: computed once, on one element
        let mut splats: Vec<Option<Buf>> = Vec::with_capacity(self.ops.len());
        for op in &self.ops {
            splats.push(op.splat.then(|| {
                let mut b = Buf::new(op.dtype, 1);
                let args: Vec<Block<'_>> = op.args.iter().map(|s| self.splat_operand(*s, &data, &splats)).collect();
                op.prim.eval_block(&args, b.block_mut(0, 1));
                b
            }));
        }
        let Scratch { slot_of: scratch_of, types: scratch_types, copies } = self.scratch_slots(&out_of);
        let plan = Blocks { data: &data, reused: &reused, splats: &splats, scratch_of: &scratch_of, copies: &copies };
        {
            let tasks = self.n.div_ceil(TASK).max(1);
            let mut pieces: Vec<Vec<DataMut<'_>>> = (0..tasks).map(|_| Vec::new()).collect();
            for o in outs.iter_mut() {
                for (t, piece) in o.data_mut().chunks(TASK).into_iter().enumerate() {
                    pieces[t].push(piece);
                }
            }
            let task = |(t, mut mine): (usize, Vec<DataMut<'_>>)| {
                let lo = t * TASK;
                self.run_task(lo, (lo + TASK).min(self.n), &plan, &scratch_types, &mut mine);
            };
            if tasks > 1 {
                pieces.into_par_iter().enumerate().for_each(task);
            } else {
                pieces.into_iter().enumerate().for_each(task);
            }
        }
        // the graph's values, in operation order
        let mut outs = outs.into_iter();
        let mut result = Vec::new();
        for (op, splat) in self.ops.iter().zip(splats) {
            let Some((var, aval)) = &op.out else { continue };
            let buf = match splat {
                Some(one) => fill(&one, op.dtype, self.n),
                None => outs.next().unwrap_or_else(|| unreachable!("one buffer per output")),
            };
            result.push((*var, buf.into_host(&aval.shape)));
        }
        result
    }

    /// The scratch block of each non-splat operation, the dtypes of the
    /// blocks, and the (block, output) pairs copied out after each block.
    /// A block is reused once the last operation reading its value has run
    /// (written values are kept to the end of the block), so a long chain
    /// (Adam's update: 24 operations) works in a few blocks that stay in the
    /// L1 cache instead of one per operation.
    pub(super) fn scratch_slots(&self, out_of: &[Option<usize>]) -> Scratch {
        let n = self.ops.len();
        // the last operation reading each value (n: kept to the end of the block)
        let mut last = vec![0; n];
        for (i, op) in self.ops.iter().enumerate() {
            for a in &op.args {
                if let Src::Op(k) = *a {
                    last[k] = last[k].max(i);
                }
            }
            if out_of[i].is_some() {
                last[i] = n;
            }
        }
        let mut scratch_of = vec![None; n];
        let mut types: Vec<DType> = Vec::new();
        let mut free: Vec<usize> = Vec::new();
        let mut ends: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, op) in self.ops.iter().enumerate() {
            if op.splat {
                continue;
            }
            // a free block of this dtype, or a new one (never an operand's:
            // the operands' blocks are freed after this operation)
            let slot = match free.iter().position(|&b| types[b] == op.dtype) {
                Some(f) => free.swap_remove(f),
                None => {
                    types.push(op.dtype);
                    types.len() - 1
                }
            };
            scratch_of[i] = Some(slot);
            if last[i] < n {
                ends[last[i].max(i)].push(slot);
            }
            free.append(&mut ends[i]);
        }
        let copies = (0..n).filter_map(|i| Some((scratch_of[i]?, out_of[i]?))).collect();
        Scratch { slot_of: scratch_of, types, copies }
    }

    /// Operand `s` of an operation whose operands are all splats.
    fn splat_operand<'a>(&self, s: Src, data: &[Option<Data<'a>>], splats: &'a [Option<Buf>]) -> Block<'a> {
        match s {
            Src::Input(i) => match data[i] {
                Some(d) => d.lane(0, 1, true),
                None => unreachable!("a one-element input is never reused"),
            },
            Src::Op(k) => match &splats[k] {
                Some(b) => b.data().lane(0, 1, true),
                None => unreachable!("a splat operation reads splats only"),
            },
        }
    }

    /// Computes elements `lo..hi` block by block; `mine` holds this task's
    /// pieces of the output buffers.
    fn run_task(&self, lo: usize, hi: usize, plan: &Blocks<'_, '_>, scratch_types: &[DType], mine: &mut [DataMut<'_>]) {
        let mut scratch: Vec<Buf> = scratch_types.iter().map(|d| Buf::new(*d, BLOCK)).collect();
        let mut start = lo;
        while start < hi {
            let end = (start + BLOCK).min(hi);
            let (len, rel) = (end - start, start - lo);
            // the next block's inputs, while this one computes
            if end < hi {
                let next = (end + BLOCK).min(hi);
                for (i, d) in plan.data.iter().enumerate() {
                    match (d, plan.reused[i]) {
                        (Some(d), None) if !self.inputs[i].1 => d.prefetch(end, next),
                        (_, Some(j)) => mine[j].reborrow().prefetch(end - lo, next - lo),
                        _ => {}
                    }
                }
            }
            for (op, s) in self.ops.iter().zip(plan.scratch_of) {
                let Some(s) = *s else { continue };
                // take the destination out, so the operands can borrow the rest
                let mut target = std::mem::replace(&mut scratch[s], Buf::new(op.dtype, 0));
                {
                    let operand = |src: &Src| match *src {
                        Src::Op(i) => match plan.scratch_of[i] {
                            Some(t) => scratch[t].data().lane(0, len, false),
                            None => self.splat_operand(*src, plan.data, plan.splats),
                        },
                        Src::Input(i) => match (plan.reused[i], plan.data[i]) {
                            (Some(j), _) => mine[j].reborrow().lane(rel, rel + len, false),
                            (None, Some(d)) => d.lane(start, end, self.inputs[i].1),
                            (None, None) => unreachable!("an input is read or reused"),
                        },
                    };
                    // elementwise primitives take at most three operands: no allocation per block
                    match op.args.as_slice() {
                        [a] => op.prim.eval_block(&[operand(a)], target.block_mut(0, len)),
                        [a, b] => op.prim.eval_block(&[operand(a), operand(b)], target.block_mut(0, len)),
                        [a, b, c] => {
                            op.prim.eval_block(&[operand(a), operand(b), operand(c)], target.block_mut(0, len))
                        }
                        more => {
                            let args: Vec<Block<'_>> = more.iter().map(operand).collect();
                            op.prim.eval_block(&args, target.block_mut(0, len))
                        }
                    }
                }
                scratch[s] = target;
            }
            for &(s, j) in plan.copies {
                crate::backend::cpu::copy_block(scratch[s].data().lane(0, len, false), mine[j].block(rel, rel + len));
            }
            start = end;
        }
    }
}

/// The scratch blocks of a kernel run (see [`Kernel::scratch_slots`]).
pub(super) struct Scratch {
    /// The block of each operation (none for splats).
    pub slot_of: Vec<Option<usize>>,
    /// The dtype of each block.
    pub types: Vec<DType>,
    /// (block, output) pairs copied out after each block.
    pub copies: Vec<(usize, usize)>,
}

/// What every task of a kernel run reads.
struct Blocks<'a, 'd> {
    data: &'a [Option<Data<'d>>],
    reused: &'a [Option<usize>],
    splats: &'a [Option<Buf>],
    scratch_of: &'a [Option<usize>],
    copies: &'a [(usize, usize)],
}

/// `n` copies of the one value in `one`.
fn fill(one: &Buf, dtype: DType, n: usize) -> Buf {
    let mut b = Buf::new(dtype, n);
    let src = one.data().lane(0, 1, true);
    crate::backend::cpu::copy_block(src, b.block_mut(0, n));
    b
}

/// Prefetches the cache lines of `s` (a hint: no effect on results).
fn prefetch<T>(s: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
        let bytes = std::mem::size_of_val(s);
        let p = s.as_ptr() as *const i8;
        let mut off = 0;
        while off < bytes {
            // SAFETY: a prefetch of an address inside `s`; it reads nothing.
            unsafe { _mm_prefetch(p.add(off), _MM_HINT_T1) };
            off += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = s;
}
