//! `dot_general` on XLA's CPU plugin through rjax's own GEMM: a matrix
//! product of two f32 (or f64) matrices lowers to a `stablehlo.custom_call`
//! of a Rust handler that runs the `gemm` crate, the same code as the
//! built-in backend's products, instead of XLA's `dot` (which the plugin
//! runs with Eigen, slower on the report's MLP: docs/xla-cpu-speed.md,
//! "Matrix products through rjax's GEMM").
//!
//! Every layout of two matrices is sent there: the left operand as it is or
//! transposed (`[m, k]` or `[k, m]`), the right one likewise (`[k, n]` or
//! `[n, k]`): a dense layer's forward product (`x · w`), its weight gradient
//! (`xᵀ · dy`) and its input gradient (`dy · wᵀ`). The last one runs as
//! `(w · dyᵀ)ᵀ` when the result is wider than tall (see `gemm::swapped`): the
//! `gemm` crate is slow with a transposed right operand and few rows.
//!
//! The handlers are registered when the XLA CPU runtime starts
//! (`primitives::register_host_calls`); `RJAX_XLA_HOST_CALLS=0` leaves them
//! out, and every product to XLA.

use super::DotDims;
use super::gemm::{gemm_into, swapped, with_scratch};
use crate::backend::cpu::transpose_into;
use crate::backend::pjrt::host_call::{HostBuffer, HostCall, Workers, custom_call_attrs};
use crate::backend::stablehlo::{Lowering, Value};
use crate::core::{Aval, DType};

/// The custom call target of [`HostGemm`] for these layouts.
const fn name(transpose_a: bool, transpose_b: bool) -> &'static str {
    match (transpose_a, transpose_b) {
        (false, false) => "rjax_gemm_nn",
        (true, false) => "rjax_gemm_tn",
        (false, true) => "rjax_gemm_nt",
        (true, true) => "rjax_gemm_tt",
    }
}

/// The product `c[m, n] = a · b` where `a` is `[m, k]`, or `[k, m]` when
/// `TRANSPOSE_A`, and `b` is `[k, n]`, or `[n, k]` when `TRANSPOSE_B`.
pub(crate) struct HostGemm<const TRANSPOSE_A: bool, const TRANSPOSE_B: bool>;

impl<const TRANSPOSE_A: bool, const TRANSPOSE_B: bool> HostCall for HostGemm<TRANSPOSE_A, TRANSPOSE_B> {
    const NAME: &'static str = name(TRANSPOSE_A, TRANSPOSE_B);

    fn run(args: &[HostBuffer], rets: &[HostBuffer], workers: &Workers) -> Result<(), String> {
        let ([a, b], [c]) = (args, rets) else {
            return Err(format!("takes 2 operands and gives 1 result, called with {} and {}", args.len(), rets.len()));
        };
        let (m, k, n) = match (&a.dims[..], &b.dims[..]) {
            (&[r, s], &[t, u]) => {
                let (m, ka) = if TRANSPOSE_A { (s, r) } else { (r, s) };
                let (k, n) = if TRANSPOSE_B { (u, t) } else { (t, u) };
                if ka != k {
                    return Err(format!("operands {:?} and {:?} do not contract", a.dims, b.dims));
                }
                (m, k, n)
            }
            _ => return Err(format!("operands {:?} and {:?} are not two matrices", a.dims, b.dims)),
        };
        if c.dims != [m, n] || a.dtype != b.dtype || c.dtype != a.dtype {
            return Err(format!(
                "{}{:?} · {}{:?} cannot give {}{:?}",
                a.dtype, a.dims, b.dtype, b.dims, c.dtype, c.dims
            ));
        }
        let p = Product {
            m,
            n,
            k,
            transpose_a: TRANSPOSE_A,
            transpose_b: TRANSPOSE_B,
            c: c.data as usize,
            a: a.data as usize,
            b: b.data as usize,
        };
        match a.dtype {
            // SAFETY (both arms): XLA passes buffers of the dims checked above,
            // row-major (the call asks for the default layouts), and a result
            // that overlaps no operand.
            DType::F32 => unsafe { p.run::<f32>(workers, (0.0, 1.0)) },
            DType::F64 => unsafe { p.run::<f64>(workers, (0.0, 1.0)) },
            d => Err(format!("no product of {d} matrices")),
        }
    }
}

/// One product's shape and memory (addresses, so that parts of it can be
/// sent to other threads).
struct Product {
    m: usize,
    n: usize,
    k: usize,
    transpose_a: bool,
    transpose_b: bool,
    c: usize,
    a: usize,
    b: usize,
}

impl Product {
    /// Computes the product, split in blocks of rows or of columns of `c`
    /// (whichever is longer), one a thread of XLA's pool: each block is
    /// one single-threaded call of the `gemm` crate.
    ///
    /// # Safety
    /// The addresses must hold row-major matrices of the product's shapes,
    /// `c` not overlapping `a` or `b`.
    unsafe fn run<T: Copy + Send + Sync + 'static>(&self, workers: &Workers, unit: (T, T)) -> Result<(), String> {
        let Product { m, n, k, .. } = *self;
        if swapped(m, n, k, self.transpose_a, self.transpose_b) {
            return with_scratch::<T, _>(m * n, |c_t| {
                // cᵀ = bᵀ · aᵀ, with b (stored n x k) the left operand as it
                // is and a the right one, into an n x m scratch matrix
                let swapped = Product {
                    m: n,
                    n: m,
                    k,
                    transpose_a: false,
                    transpose_b: !self.transpose_a,
                    c: c_t as usize,
                    a: self.b,
                    b: self.a,
                };
                // SAFETY: the same matrices, read in the other order, and the
                // scratch (room for n x m elements, apart from them) as result.
                unsafe { swapped.run(workers, unit)? };
                // SAFETY: the scratch holds the n x m result; `c` has room
                // for its transpose and overlaps neither.
                unsafe { transpose(workers, (c_t as *const T, n, m), self.c as *mut T) }
            });
        }
        if k == 0 {
            // nothing to sum: zeros (the gemm crate needs k > 0)
            // SAFETY: `c` holds m·n elements.
            unsafe { std::slice::from_raw_parts_mut(self.c as *mut T, m * n).fill(unit.0) };
            return Ok(());
        }
        // element strides (row, column) of a as an m x k matrix, of b as k x n
        let (a_rs, a_cs) = if self.transpose_a { (1, m) } else { (k, 1) };
        let (b_rs, b_cs) = if self.transpose_b { (1, k) } else { (n, 1) };
        let by_rows = m > n;
        let len = if by_rows { m } else { n };
        let parts = workers.threads().min(m * n * k / MIN_MULTIPLY_ADDS).clamp(1, len.div_ceil(16));
        let block = len.div_ceil(parts).next_multiple_of(16);
        let part = |i: usize| {
            let (start, end) = (i * block, ((i + 1) * block).min(len));
            if start >= end {
                return;
            }
            let (c, a, b) = (self.c as *mut T, self.a as *const T, self.b as *const T);
            // SAFETY: block `i` of rows (or columns) of c, and the rows of a
            // (or columns of b) it reads, inside the buffers; the blocks do
            // not overlap, so no two parts write the same element.
            unsafe {
                let (rows, cols, c, a, b) = match by_rows {
                    true => (end - start, n, c.add(start * n), a.add(start * a_rs), b),
                    false => (m, end - start, c.add(start), a, b.add(start * b_cs)),
                };
                gemm_into(
                    [rows, cols, k],
                    (c, n as isize),
                    (a, a_rs as isize, a_cs as isize),
                    (b, b_rs as isize, b_cs as isize),
                    unit,
                    false,
                );
            }
        };
        workers.run(parts, &part)
    }
}

/// Writes the transpose of the row-major `rows x cols` matrix at `src` into
/// `dst` (row-major `cols x rows`), blocks of 64 source rows shared among
/// the threads of XLA's pool. Infallible but for the pool's scheduling.
///
/// # Safety
/// `src` must hold the matrix and `dst` room for its transpose, apart.
unsafe fn transpose<T: Copy + Send + Sync>(
    workers: &Workers,
    (src, rows, cols): (*const T, usize, usize),
    dst: *mut T,
) -> Result<(), String> {
    const ROWS: usize = 64;
    let (src, dst) = (src as usize, dst as usize);
    let part = |i: usize| {
        let (start, end) = (i * ROWS, ((i + 1) * ROWS).min(rows));
        // SAFETY: source rows [start, end) become destination columns
        // [start, end): inside both buffers, and no two parts share any.
        unsafe {
            transpose_into(
                ((src as *const T).add(start * cols), cols),
                [end - start, cols],
                ((dst as *mut T).add(start), rows),
            )
        };
    };
    workers.run(rows.div_ceil(ROWS), &part)
}

/// Products smaller than this many multiply-adds stay with XLA, which fuses
/// them with their neighbours (a custom call is a fusion boundary).
const MIN_MULTIPLY_ADDS: usize = 1 << 15;

/// The host GEMM call for a product of these dimension numbers and operand
/// shapes, when it has one: the target name.
fn target(d: &DotDims, a: &Aval, b: &Aval) -> Option<&'static str> {
    let matrices = a.shape.len() == 2 && b.shape.len() == 2 && d.lhs_batch.is_empty() && d.rhs_batch.is_empty();
    if !matrices || !matches!(a.dtype, DType::F32 | DType::F64) {
        return None;
    }
    let (transpose_a, transpose_b) = match (&d.lhs_contract[..], &d.rhs_contract[..]) {
        (&[l], &[r]) if l < 2 && r < 2 => (l == 0, r == 1),
        _ => return None,
    };
    let (m, k, n) = (a.shape[1 - d.lhs_contract[0]], a.shape[d.lhs_contract[0]], b.shape[1 - d.rhs_contract[0]]);
    if m * k * n < MIN_MULTIPLY_ADDS {
        return None;
    }
    Some(name(transpose_a, transpose_b))
}

/// Emits the product as a host GEMM call when the lowering allows it
/// ([`Lowering::host_calls`]) and the product is one it runs; `None` leaves
/// it to XLA's `dot_general`.
pub(super) fn lower(cx: &mut Lowering, d: &DotDims, x: &[Value], out: &Aval) -> Option<Value> {
    if !cx.host_calls() {
        return None;
    }
    let name = target(d, &x[0].aval, &x[1].aval)?;
    Some(cx.op("stablehlo.custom_call", &[&x[0], &x[1]], &custom_call_attrs(name, &[2, 2], 2), out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aval(shape: &[usize], dtype: DType) -> Aval {
        Aval { shape: shape.to_vec(), dtype }
    }

    fn dims(lhs: usize, rhs: usize) -> DotDims {
        DotDims { lhs_contract: vec![lhs], rhs_contract: vec![rhs], lhs_batch: vec![], rhs_batch: vec![] }
    }

    #[test]
    fn the_layer_products_go_to_the_host_and_the_rest_stay() {
        let (x, w) = (aval(&[128, 3072], DType::F32), aval(&[3072, 1024], DType::F32));
        let dy = aval(&[128, 1024], DType::F32);
        assert_eq!(target(&dims(1, 0), &x, &w), Some("rjax_gemm_nn")); // forward
        assert_eq!(target(&dims(0, 0), &x, &dy), Some("rjax_gemm_tn")); // weight gradient
        assert_eq!(target(&dims(1, 1), &dy, &aval(&[3072, 1024], DType::F32)), Some("rjax_gemm_nt")); // dy · wᵀ
        assert_eq!(target(&dims(0, 1), &x, &aval(&[1024, 128], DType::F32)), Some("rjax_gemm_tt"));
        assert_eq!(target(&dims(1, 0), &aval(&[8, 8], DType::F32), &aval(&[8, 8], DType::F32)), None);
        assert_eq!(target(&dims(1, 0), &aval(&[64, 64], DType::I32), &aval(&[64, 64], DType::I32)), None);
    }
}
