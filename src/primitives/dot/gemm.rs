//! `dot_general` on the CPU: operands are viewed as `[batch, m, k] x [batch, k, n]`
//! and each batch is one call to the `gemm` crate (floats) or a plain loop (integers).

use super::DotDims;
use crate::backend::cpu::transpose_into;
use crate::core::HostData;
use ndarray::{ArrayD, Axis, CowArray, Ix3, IxDyn};
use std::sync::OnceLock;

fn threads() -> usize {
    static N: OnceLock<usize> = OnceLock::new();
    *N.get_or_init(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

/// `dst = a · b` for an m x k matrix `a` and a k x n matrix `b`, each given
/// as (first element, row stride, column stride) in elements, into `dst`
/// (row stride `dst_rs`, columns contiguous), with the `gemm` crate: on every
/// core when `all_cores` and the product is large enough to gain from it,
/// else on the calling thread. `dst` is only written (never read), so it
/// may be uninitialized; `k` must be positive. `unit` is (0, 1) of `T`.
///
/// # Safety
/// The pointers must address matrices of those shapes and strides, `dst`
/// m x n writable elements that overlap neither operand.
pub(crate) unsafe fn gemm_into<T: 'static>(
    [m, n, k]: [usize; 3],
    (dst, dst_rs): (*mut T, isize),
    (a, a_rs, a_cs): (*const T, isize, isize),
    (b, b_rs, b_cs): (*const T, isize, isize),
    (zero, one): (T, T),
    all_cores: bool,
) {
    let par = if all_cores && m * n * k >= 48 * 48 * 48 && threads() > 1 {
        gemm::Parallelism::Rayon(threads())
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: forwarded to the caller; `read_dst` is false, so `dst` is only
    // written, and with k > 0 every element of it is.
    unsafe {
        gemm::gemm(m, n, k, dst, 1, dst_rs, false, a, a_cs, a_rs, b, b_cs, b_rs, zero, one, false, false, false, par)
    }
}

/// Whether the product `c[m, n]` of an `m x k` and a `k x n` operand, each
/// transposed or not (`transpose_b`: stored `n x k`, column-major as `k x
/// n`), runs faster as `cᵀ = bᵀ · aᵀ` into a scratch matrix that is then
/// transposed into `c`. The `gemm` crate multiplies by a transposed right
/// operand at a good rate only when `c` has more rows than columns: for a
/// dense layer's input gradient `dy · wᵀ` (`dy` 128 x 512, `w` 1024 x 512,
/// one core) 1.01 ms as it is, 0.71 ms as `w · dyᵀ` and 0.78 ms with the
/// transposed copy of the result, against 1.34 ms for a row-major copy of
/// `w` and the plain product. With a short sum (`k` under 64) the copy
/// costs more than it saves. Two transposed operands always swap (into a
/// plain product).
pub(crate) fn swapped(m: usize, n: usize, k: usize, transpose_a: bool, transpose_b: bool) -> bool {
    transpose_b && (transpose_a || (m < n && k >= 64))
}

/// Runs `f` on room for `len` elements of `T` (uninitialized), the calling
/// thread's scratch buffer: kept between calls (up to [`SCRATCH_KEPT`]
/// bytes), so that a product computed through a transposed result costs no
/// allocation or page faults after the first call.
pub(crate) fn with_scratch<T: Copy, R>(len: usize, f: impl FnOnce(*mut T) -> R) -> R {
    use std::cell::RefCell;
    thread_local! {
        static SCRATCH: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
    }
    const { assert!(align_of::<T>() <= align_of::<u64>()) };
    let words = (len * size_of::<T>()).div_ceil(size_of::<u64>());
    let mut buffer = SCRATCH.with(|s| s.take());
    if buffer.capacity() < words {
        buffer = Vec::with_capacity(words);
    }
    let out = f(buffer.as_mut_ptr() as *mut T);
    if buffer.capacity() * size_of::<u64>() <= SCRATCH_KEPT {
        SCRATCH.with(|s| s.replace(buffer));
    }
    out
}

/// The most bytes of scratch a thread keeps between products.
const SCRATCH_KEPT: usize = 64 << 20;

/// Axes of an operand that are neither batch nor contracting, in order.
pub(crate) fn free_axes(ndim: usize, batch: &[usize], contract: &[usize]) -> Vec<usize> {
    (0..ndim).filter(|a| !batch.contains(a) && !contract.contains(a)).collect()
}

/// Permutes `x` to `groups[0] ++ groups[1] ++ groups[2]` and views it as a 3-d
/// array `[batch, rows, cols]`, copying only when the axes cannot be merged in place.
fn as_mat<'a, T: Clone>(x: &'a ArrayD<T>, groups: [&[usize]; 3]) -> CowArray<'a, T, Ix3> {
    let d: Vec<usize> = groups.iter().map(|g| g.iter().map(|&a| x.shape()[a]).product()).collect();
    let perm: Vec<usize> = groups.iter().flat_map(|g| g.iter().copied()).collect();
    let v = x.view().permuted_axes(IxDyn(&perm));
    if groups.iter().all(|g| g.len() <= 1) && v.strides().iter().all(|&s| s >= 0) {
        // at most one axis per group: a strided view (gemm takes any strides), no copy
        let mut v3 = v.clone();
        for (i, g) in groups.iter().enumerate() {
            if g.is_empty() {
                v3 = v3.insert_axis(Axis(i));
            }
        }
        if let Ok(view) = v3.into_dimensionality::<Ix3>() {
            return CowArray::from(view);
        }
    }
    match v.clone().into_shape_with_order((d[0], d[1], d[2])) {
        Ok(view) => CowArray::from(view),
        Err(_) => {
            let owned = v.as_standard_layout().into_owned();
            match owned.into_shape_with_order((d[0], d[1], d[2])) {
                Ok(a) => CowArray::from(a),
                Err(e) => unreachable!("standard layout reshapes: {e}"),
            }
        }
    }
}

fn gemm_batches<T: Copy + Default + 'static>(
    l: &CowArray<T, Ix3>,
    r: &CowArray<T, Ix3>,
    mul_add: impl Fn(T, T, T) -> T,
    float: Option<(T, T)>,
) -> Vec<T> {
    let (b, m, k, n) = (l.shape()[0], l.shape()[1], l.shape()[2], r.shape()[2]);
    let (ls, rs) = (l.strides(), r.strides());
    if let (Some((zero, one)), true) = (float, k > 0 && m * n > 0) {
        // `gemm` writes every element of each batch's m x n block without
        // reading it first (`read_dst` false), so the output is not filled
        // with zeros beforehand: for the MLP's weight gradients that fill
        // was 3% of an epoch on the built-in backend (`perf`).
        let len = b * m * n;
        let mut out: Vec<T> = Vec::with_capacity(len);
        // a transposed right operand (a layer's `wᵀ`): see `swapped`
        let column_major = |s: &[isize]| s[1] == 1 && s[2] > 1;
        let swap = swapped(m, n, k, column_major(ls), column_major(rs));
        with_scratch::<T, _>(if swap { m * n } else { 0 }, |c_t| {
            for bi in 0..b {
                let (lv, rv) = (l.index_axis(Axis(0), bi), r.index_axis(Axis(0), bi));
                let block = out.as_mut_ptr().wrapping_add(bi * m * n);
                // SAFETY: `lv` and `rv` are valid m x k and k x n views whose element
                // strides are passed along; the destination is batch `bi`'s m x n
                // row-major block of `out`'s capacity (or, swapped, the n x m
                // scratch `c_t`, transposed into that block), which gemm only writes.
                unsafe {
                    if swap {
                        gemm_into(
                            [n, m, k],
                            (c_t, m as isize),
                            (rv.as_ptr(), rs[2], rs[1]),
                            (lv.as_ptr(), ls[2], ls[1]),
                            (zero, one),
                            true,
                        );
                        transpose_into((c_t as *const T, m), [n, m], (block, n));
                    } else {
                        gemm_into(
                            [m, n, k],
                            (block, n as isize),
                            (lv.as_ptr(), ls[1], ls[2]),
                            (rv.as_ptr(), rs[1], rs[2]),
                            (zero, one),
                            true,
                        );
                    }
                }
            }
        });
        // SAFETY: every one of the `len` elements was written above.
        unsafe { out.set_len(len) };
        return out;
    }
    // integers, and products with nothing to sum (k = 0: zeros)
    let mut out = vec![T::default(); b * m * n];
    for bi in 0..b {
        let dst = &mut out[bi * m * n..(bi + 1) * m * n];
        for i in 0..m {
            for j in 0..n {
                let mut acc = T::default();
                for p in 0..k {
                    acc = mul_add(acc, l[[bi, i, p]], r[[bi, p, j]]);
                }
                dst[i * n + j] = acc;
            }
        }
    }
    out
}

fn dot_typed<T: Copy + Default + 'static>(
    a: &ArrayD<T>,
    b: &ArrayD<T>,
    d: &DotDims,
    mul_add: impl Fn(T, T, T) -> T,
    float: Option<(T, T)>,
) -> ArrayD<T> {
    let lf = free_axes(a.ndim(), &d.lhs_batch, &d.lhs_contract);
    let rf = free_axes(b.ndim(), &d.rhs_batch, &d.rhs_contract);
    let l = as_mat(a, [&d.lhs_batch, &lf, &d.lhs_contract]);
    let r = as_mat(b, [&d.rhs_batch, &d.rhs_contract, &rf]);
    let out = gemm_batches(&l, &r, mul_add, float);
    let mut shape: Vec<usize> = d.lhs_batch.iter().map(|&x| a.shape()[x]).collect();
    shape.extend(lf.iter().map(|&x| a.shape()[x]));
    shape.extend(rf.iter().map(|&x| b.shape()[x]));
    ArrayD::from_shape_vec(IxDyn(&shape), out).unwrap_or_else(|e| unreachable!("dot shape: {e}"))
}

/// `dot_general` of two same-dtype arrays; the output axes are batch, lhs free, rhs free.
pub(crate) fn dot_general(a: &HostData, b: &HostData, d: &DotDims) -> HostData {
    match (a, b) {
        (HostData::F32(a), HostData::F32(b)) => {
            HostData::F32(dot_typed(a, b, d, |s, x, y| s + x * y, Some((0.0, 1.0))))
        }
        (HostData::F64(a), HostData::F64(b)) => {
            HostData::F64(dot_typed(a, b, d, |s, x, y| s + x * y, Some((0.0, 1.0))))
        }
        (HostData::I32(a), HostData::I32(b)) => {
            HostData::I32(dot_typed(a, b, d, |s: i32, x, y| s.wrapping_add(x.wrapping_mul(y)), None))
        }
        (HostData::U32(a), HostData::U32(b)) => {
            HostData::U32(dot_typed(a, b, d, |s: u32, x, y| s.wrapping_add(x.wrapping_mul(y)), None))
        }
        _ => unreachable!("dot_general on {} and {}", a.dtype(), b.dtype()),
    }
}
