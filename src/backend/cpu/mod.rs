//! The built-in CPU backend: kernels on host `ndarray` data.
//!
//! Primitives call these from their `eval` rule. Kernels take standard- or
//! strided-layout inputs and return owned arrays; matrix products go to the
//! `gemm` crate using every core.

mod indexing;
mod layout;

pub use indexing::{argsort, gather, scatter_add};
pub(crate) use layout::transpose_into;
pub use layout::{broadcast_in_dim, concatenate, pad, reshape, slice, transpose};

use crate::core::numeric::{GILES_CENTRAL, GILES_TAIL};
use crate::core::{Block, BlockMut, DType, Element, HostData, Lane, lanes1};
use ndarray::{ArrayD, Zip};

/// Elementwise kernels on arrays of at least this many elements run on every
/// core (rayon); smaller ones on the calling thread, where splitting the work
/// costs more than it saves. Each element is computed alone, so the results
/// are the same either way.
const PARALLEL_MIN_LEN: usize = 1 << 16;

/// Elementwise map of one array.
pub fn map1<A: Copy + Send + Sync, C: Send>(a: &ArrayD<A>, f: impl Fn(A) -> C + Send + Sync) -> ArrayD<C> {
    if a.len() >= PARALLEL_MIN_LEN { Zip::from(a).par_map_collect(|&x| f(x)) } else { a.mapv(f) }
}

/// Elementwise map of two same-shaped arrays.
pub fn zip_map<A: Copy + Send + Sync, B: Copy + Send + Sync, C: Send>(
    a: &ArrayD<A>,
    b: &ArrayD<B>,
    f: impl Fn(A, B) -> C + Send + Sync,
) -> ArrayD<C> {
    let zip = Zip::from(a).and(b);
    if a.len() >= PARALLEL_MIN_LEN { zip.par_map_collect(|&x, &y| f(x, y)) } else { zip.map_collect(|&x, &y| f(x, y)) }
}

/// Elementwise select: `p ? a : b`.
pub fn select(p: &HostData, a: &HostData, b: &HostData) -> HostData {
    let p = match p {
        HostData::Bool(p) => p,
        other => unreachable!("select predicate of dtype {}", other.dtype()),
    };
    macro_rules! sel {
        ($($v:ident),*) => {
            match (a, b) {
                $((HostData::$v(a), HostData::$v(b)) => HostData::$v({
                    let zip = Zip::from(p).and(a).and(b);
                    if p.len() >= PARALLEL_MIN_LEN {
                        zip.par_map_collect(|&p, &x, &y| if p { x } else { y })
                    } else {
                        zip.map_collect(|&p, &x, &y| if p { x } else { y })
                    }
                }),)*
                _ => unreachable!("select branches of different dtypes"),
            }
        };
    }
    sel!(F32, F64, I32, U32, U8, Bool)
}

fn cast_to<A: Element, B: Element>(a: &ArrayD<A>) -> ArrayD<B> {
    map1(a, |x| B::from_f64(x.to_f64()))
}

/// Converts every element to `dtype` as Rust's `as` does (floats to integers
/// truncate and saturate; NaN becomes 0; nonzero becomes true).
pub fn convert(h: &HostData, dtype: DType) -> HostData {
    fn to<B: Element>(h: &HostData) -> ArrayD<B> {
        crate::with_host!(h, |a| cast_to::<_, B>(a))
    }
    match dtype {
        DType::F32 => match h {
            // direct casts avoid double rounding through f64
            HostData::F64(a) => HostData::F32(map1(a, |x| x as f32)),
            _ => HostData::F32(to::<f32>(h)),
        },
        DType::F64 => HostData::F64(to::<f64>(h)),
        // integers to integers wrap (two's complement), as XLA and JAX do
        DType::I32 => match h {
            HostData::U32(a) => HostData::I32(map1(a, |x| x as i32)),
            _ => HostData::I32(to::<i32>(h)),
        },
        DType::U32 => match h {
            HostData::I32(a) => HostData::U32(map1(a, |x| x as u32)),
            _ => HostData::U32(to::<u32>(h)),
        },
        DType::U8 => match h {
            HostData::I32(a) => HostData::U8(map1(a, |x| x as u8)),
            HostData::U32(a) => HostData::U8(map1(a, |x| x as u8)),
            _ => HostData::U8(to::<u8>(h)),
        },
        DType::Bool => HostData::Bool(to::<bool>(h)),
    }
}

/// Copies a block of any dtype (the block rule of reshape, broadcast and
/// stop_gradient).
pub fn copy_block(a: Block<'_>, out: BlockMut<'_>) {
    match (a, out) {
        (Block::F32(a), BlockMut::F32(o)) => lanes1(a, o, |x| x),
        (Block::F64(a), BlockMut::F64(o)) => lanes1(a, o, |x| x),
        (Block::I32(a), BlockMut::I32(o)) => lanes1(a, o, |x| x),
        (Block::U32(a), BlockMut::U32(o)) => lanes1(a, o, |x| x),
        (Block::U8(a), BlockMut::U8(o)) => lanes1(a, o, |x| x),
        (Block::Bool(a), BlockMut::Bool(o)) => lanes1(a, o, |x| x),
        (a, o) => unreachable!("copy of block {a:?} into {o:?}"),
    }
}

/// [`convert`] on a block: the same conversion of each element.
pub fn convert_block(a: Block<'_>, out: BlockMut<'_>) {
    fn via<A: Element, B: Element>(a: Lane<'_, A>, o: &mut [B]) {
        lanes1(a, o, |x| B::from_f64(x.to_f64()))
    }
    fn to_any<A: Element>(a: Lane<'_, A>, out: BlockMut<'_>) {
        match out {
            BlockMut::F32(o) => via(a, o),
            BlockMut::F64(o) => via(a, o),
            BlockMut::I32(o) => via(a, o),
            BlockMut::U32(o) => via(a, o),
            BlockMut::U8(o) => via(a, o),
            BlockMut::Bool(o) => via(a, o),
        }
    }
    match (a, out) {
        // the direct casts of `convert`
        (Block::F64(a), BlockMut::F32(o)) => lanes1(a, o, |x| x as f32),
        (Block::U32(a), BlockMut::I32(o)) => lanes1(a, o, |x| x as i32),
        (Block::I32(a), BlockMut::U32(o)) => lanes1(a, o, |x| x as u32),
        (Block::I32(a), BlockMut::U8(o)) => lanes1(a, o, |x| x as u8),
        (Block::U32(a), BlockMut::U8(o)) => lanes1(a, o, |x| x as u8),
        (Block::F32(a), o) => to_any(a, o),
        (Block::F64(a), o) => to_any(a, o),
        (Block::I32(a), o) => to_any(a, o),
        (Block::U32(a), o) => to_any(a, o),
        (Block::U8(a), o) => to_any(a, o),
        (Block::Bool(a), o) => to_any(a, o),
    }
}

/// Integer arithmetic with the edge cases XLA defines instead of Rust panics.
pub trait IntArith: Copy {
    /// Wrapping add/sub/mul.
    fn wadd(self, o: Self) -> Self;
    fn wsub(self, o: Self) -> Self;
    fn wmul(self, o: Self) -> Self;
    /// Truncating division; `x / 0` is all ones bits (-1 signed, MAX unsigned).
    fn xdiv(self, o: Self) -> Self;
    /// Remainder with the sign of the dividend; `x % 0` is `x`.
    fn xrem(self, o: Self) -> Self;
}

macro_rules! int_arith {
    ($($t:ty),*) => {$(
        impl IntArith for $t {
            fn wadd(self, o: Self) -> Self { self.wrapping_add(o) }
            fn wsub(self, o: Self) -> Self { self.wrapping_sub(o) }
            fn wmul(self, o: Self) -> Self { self.wrapping_mul(o) }
            fn xdiv(self, o: Self) -> Self { if o == 0 { !0 } else { self.wrapping_div(o) } }
            fn xrem(self, o: Self) -> Self { if o == 0 { self } else { self.wrapping_rem(o) } }
        }
    )*};
}
int_arith!(i32, u32, u8);

/// Special functions the elementwise primitives need, for f32 and f64.
pub trait Special: Copy {
    fn erf(self) -> Self;
    fn erf_inv(self) -> Self;
    fn logistic(self) -> Self;
}

impl Special for f64 {
    fn erf(self) -> f64 {
        libm::erf(self)
    }
    fn erf_inv(self) -> f64 {
        erf_inv64(self)
    }
    fn logistic(self) -> f64 {
        if self >= 0.0 {
            1.0 / (1.0 + (-self).exp())
        } else {
            let e = self.exp();
            e / (1.0 + e)
        }
    }
}

impl Special for f32 {
    fn erf(self) -> f32 {
        libm::erff(self)
    }
    fn erf_inv(self) -> f32 {
        erf_inv64(self as f64) as f32
    }
    fn logistic(self) -> f32 {
        (self as f64).logistic() as f32
    }
}

/// Inverse error function: Giles' single-precision approximation refined by two
/// Newton steps on `erf(y) = x`, which brings it to f64 accuracy.
fn erf_inv64(x: f64) -> f64 {
    if x.is_nan() || !(-1.0..=1.0).contains(&x) {
        return f64::NAN;
    }
    if x == 1.0 {
        return f64::INFINITY;
    }
    if x == -1.0 {
        return f64::NEG_INFINITY;
    }
    let w = -((1.0 - x) * (1.0 + x)).ln();
    let (t, table) = if w < 5.0 { (w - 2.5, &GILES_CENTRAL) } else { (w.sqrt() - 3.0, &GILES_TAIL) };
    let p = table[1..].iter().fold(table[0], |p, c| c + p * t);
    let mut y = p * x;
    for _ in 0..2 {
        let err = libm::erf(y) - x;
        y -= err / (std::f64::consts::FRAC_2_SQRT_PI * (-y * y).exp());
    }
    y
}
