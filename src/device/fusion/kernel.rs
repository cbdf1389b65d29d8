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
            fn empty(&self) -> DataMut<'a> {
                match self {
                    $(DataMut::$v(_) => DataMut::$v(&mut []),)*
                }
            }
        }
    };
}
typed!(F32: f32, F64: f64, I32: i32, U32: u32, U8: u8, Bool: bool);

/// Where a non-splat operation's block goes: a scratch buffer, or the slice of
/// one of the kernel's outputs.
#[derive(Clone, Copy)]
enum Dst {
    Scratch(usize),
    Out(usize),
}

impl Kernel {
    /// Runs the kernel on its inputs (one per `inputs` entry, in order) and
    /// returns the values of the operations the graph reads, in operation order.
    pub(super) fn run(&self, ins: &[&HostData]) -> Vec<(Var, HostData)> {
        let standard: Vec<HostData>;
        let ins: Vec<&HostData> = if ins.iter().all(|h| Data::of(h).is_some()) {
            ins.to_vec()
        } else {
            standard = ins.iter().map(|h| (*h).clone().into_standard()).collect();
            standard.iter().collect()
        };
        let data: Vec<Data<'_>> =
            ins.iter().map(|h| Data::of(h).unwrap_or_else(|| unreachable!("standard layout"))).collect();
        // values that are the same everywhere: computed once, on one element
        let mut splats: Vec<Option<Buf>> = Vec::with_capacity(self.ops.len());
        for op in &self.ops {
            splats.push(op.splat.then(|| {
                let mut b = Buf::new(op.dtype, 1);
                let args: Vec<Block<'_>> = op.args.iter().map(|s| self.operand(*s, &data, &splats, 0, 1)).collect();
                op.prim.eval_block(&args, b.block_mut(0, 1));
                b
            }));
        }
        // outputs, and where each non-splat operation writes
        let mut outs: Vec<Buf> = Vec::new();
        let mut dst: Vec<Option<Dst>> = Vec::with_capacity(self.ops.len());
        let mut scratch_types = Vec::new();
        for op in &self.ops {
            dst.push(match (&op.out, op.splat) {
                (_, true) => None,
                (Some(_), false) => {
                    outs.push(Buf::new(op.dtype, self.n));
                    Some(Dst::Out(outs.len() - 1))
                }
                (None, false) => {
                    scratch_types.push(op.dtype);
                    Some(Dst::Scratch(scratch_types.len() - 1))
                }
            });
        }
        {
            let mut pieces: Vec<Vec<DataMut<'_>>> = Vec::new();
            for o in outs.iter_mut() {
                for (t, piece) in o.data_mut().chunks(TASK).into_iter().enumerate() {
                    if pieces.len() <= t {
                        pieces.push(Vec::new());
                    }
                    pieces[t].push(piece);
                }
            }
            let tasks = self.n.div_ceil(TASK).max(1);
            pieces.resize_with(tasks, Vec::new);
            let task = |(t, mut mine): (usize, Vec<DataMut<'_>>)| {
                let lo = t * TASK;
                let hi = (lo + TASK).min(self.n);
                self.run_task(lo, hi, &data, &splats, &dst, &scratch_types, &mut mine);
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

    /// Operand `s` over elements `lo..hi` (task-relative for scratch values).
    fn operand<'a>(&self, s: Src, data: &[Data<'a>], splats: &'a [Option<Buf>], lo: usize, hi: usize) -> Block<'a> {
        match s {
            Src::Input(i) => data[i].lane(lo, hi, self.inputs[i].1),
            Src::Op(k) => match &splats[k] {
                Some(b) => b.data().lane(0, 1, true),
                None => unreachable!("a non-splat operand is read from its block buffer"),
            },
        }
    }

    /// Computes elements `lo..hi`, block by block, writing outputs into `mine`
    /// (this task's pieces of the output buffers).
    #[allow(clippy::too_many_arguments)]
    fn run_task(
        &self,
        lo: usize,
        hi: usize,
        data: &[Data<'_>],
        splats: &[Option<Buf>],
        dst: &[Option<Dst>],
        scratch_types: &[DType],
        mine: &mut [DataMut<'_>],
    ) {
        let mut scratch: Vec<Buf> = scratch_types.iter().map(|d| Buf::new(*d, BLOCK)).collect();
        let mut start = lo;
        while start < hi {
            let end = (start + BLOCK).min(hi);
            let (len, rel) = (end - start, start - lo);
            for (k, op) in self.ops.iter().enumerate() {
                let Some(d) = dst[k] else { continue };
                // take the destination out, so the operands can borrow the rest
                let mut target = match d {
                    Dst::Scratch(j) => Target::Scratch(std::mem::replace(&mut scratch[j], Buf::new(op.dtype, 0))),
                    Dst::Out(j) => {
                        let empty = mine[j].empty();
                        Target::Out(std::mem::replace(&mut mine[j], empty))
                    }
                };
                {
                    let args: Vec<Block<'_>> = op
                        .args
                        .iter()
                        .map(|s| match *s {
                            Src::Op(i) => match dst[i] {
                                Some(Dst::Scratch(j)) => scratch[j].data().lane(0, len, false),
                                Some(Dst::Out(j)) => mine[j].reborrow().lane(rel, rel + len, false),
                                None => self.operand(*s, data, splats, start, end),
                            },
                            Src::Input(_) => self.operand(*s, data, splats, start, end),
                        })
                        .collect();
                    let out = match &mut target {
                        Target::Scratch(b) => b.block_mut(0, len),
                        Target::Out(m) => m.block(rel, rel + len),
                    };
                    op.prim.eval_block(&args, out);
                }
                match (d, target) {
                    (Dst::Scratch(j), Target::Scratch(b)) => scratch[j] = b,
                    (Dst::Out(j), Target::Out(m)) => mine[j] = m,
                    _ => unreachable!("a destination comes back where it was taken"),
                }
            }
            start = end;
        }
    }
}

/// A destination taken out for one operation.
enum Target<'a> {
    Scratch(Buf),
    Out(DataMut<'a>),
}

/// `n` copies of the one value in `one`.
fn fill(one: &Buf, dtype: DType, n: usize) -> Buf {
    let mut b = Buf::new(dtype, n);
    let src = one.data().lane(0, 1, true);
    crate::backend::cpu::copy_block(src, b.block_mut(0, n));
    b
}
