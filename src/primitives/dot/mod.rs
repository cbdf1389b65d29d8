//! `dot_general`: batched tensor contraction, the one matrix-product primitive.
//!
//! The output axes are the batch axes, then the left operand's free axes, then
//! the right operand's free axes (as in XLA).

mod gemm;
mod host_gemm;

use super::structure::transpose;
use crate::backend::stablehlo::{LowerError, Lowering, Value, i64_list};
use crate::core::{Array, Aval, DType, HostData, Primitive, bind};
use gemm::free_axes;
pub(crate) use host_gemm::HostGemm;

/// Dimension numbers of a `dot_general`: contracting and batch axes of each side.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DotDims {
    /// Contracting axes of the left operand.
    pub lhs_contract: Vec<usize>,
    /// Contracting axes of the right operand (paired with `lhs_contract`).
    pub rhs_contract: Vec<usize>,
    /// Batch axes of the left operand.
    pub lhs_batch: Vec<usize>,
    /// Batch axes of the right operand (paired with `lhs_batch`).
    pub rhs_batch: Vec<usize>,
}

/// The `dot_general` primitive; apply it with [`dot_general`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DotGeneral {
    /// Which axes contract and which are batch axes.
    pub dims: DotDims,
}

/// Position of each value of `order` when sorted, used to undo a permutation.
fn inverse(perm: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; perm.len()];
    for (i, &p) in perm.iter().enumerate() {
        inv[p] = i;
    }
    inv
}

/// The partner axes of `mine` (paired index by index with `theirs`), ordered by
/// where `theirs` sit in their operand.
fn partners_in_order(mine: &[usize], theirs: &[usize]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..theirs.len()).collect();
    idx.sort_by_key(|&i| theirs[i]);
    idx.into_iter().map(|i| mine[i]).collect()
}

impl Primitive for DotGeneral {
    fn name(&self) -> &'static str {
        "dot_general"
    }
    fn params(&self) -> String {
        let d = &self.dims;
        format!("contract=({:?}, {:?}) batch=({:?}, {:?})", d.lhs_contract, d.rhs_contract, d.lhs_batch, d.rhs_batch)
    }
    fn abstract_eval(&self, i: &[Aval]) -> Result<Aval, String> {
        let (a, b, d) = (&i[0], &i[1], &self.dims);
        if a.dtype != b.dtype || a.dtype == DType::Bool || a.dtype == DType::U8 {
            return Err(format!("operands must share a float, i32 or u32 dtype, got {a} and {b}"));
        }
        if d.lhs_contract.len() != d.rhs_contract.len() || d.lhs_batch.len() != d.rhs_batch.len() {
            return Err("contracting and batch axes must come in pairs".into());
        }
        let all_l: Vec<usize> = d.lhs_contract.iter().chain(&d.lhs_batch).copied().collect();
        let all_r: Vec<usize> = d.rhs_contract.iter().chain(&d.rhs_batch).copied().collect();
        for (axes, s) in [(&all_l, &a.shape), (&all_r, &b.shape)] {
            let mut sorted = axes.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            if sorted.len() != axes.len() || axes.iter().any(|&x| x >= s.len()) {
                return Err(format!("axes {axes:?} are repeated or out of range for shape {s:?}"));
            }
        }
        for (&l, &r) in d.lhs_contract.iter().zip(&d.rhs_contract).chain(d.lhs_batch.iter().zip(&d.rhs_batch)) {
            if a.shape[l] != b.shape[r] {
                return Err(format!(
                    "shapes {:?} and {:?} do not align ({} != {}, axis {l} against axis {r})",
                    a.shape, b.shape, a.shape[l], b.shape[r]
                ));
            }
        }
        let mut shape: Vec<usize> = d.lhs_batch.iter().map(|&x| a.shape[x]).collect();
        shape.extend(free_axes(a.ndim(), &d.lhs_batch, &d.lhs_contract).iter().map(|&x| a.shape[x]));
        shape.extend(free_axes(b.ndim(), &d.rhs_batch, &d.rhs_contract).iter().map(|&x| b.shape[x]));
        Ok(Aval::new(&shape, a.dtype))
    }
    fn eval(&self, i: &[&HostData]) -> HostData {
        gemm::dot_general(i[0], i[1], &self.dims)
    }
    fn jvp(&self, x: &[Array], _: &Array, t: &[Option<Array>]) -> Option<Array> {
        let l = t[0].as_ref().map(|t| dot_general(t, &x[1], &self.dims));
        let r = t[1].as_ref().map(|t| dot_general(&x[0], t, &self.dims));
        match (l, r) {
            (Some(l), Some(r)) => Some(super::binary::add(&l, &r)),
            (l, r) => l.or(r),
        }
    }
    fn vjp(&self, x: &[Array], _: &Array, ct: &Array, wants: &[bool]) -> Vec<Option<Array>> {
        let d = &self.dims;
        let (a, b) = (&x[0], &x[1]);
        let nb = d.lhs_batch.len();
        let lf = free_axes(a.ndim(), &d.lhs_batch, &d.lhs_contract);
        let rf = free_axes(b.ndim(), &d.rhs_batch, &d.rhs_contract);
        let ct_batch: Vec<usize> = (0..nb).collect();
        let ct_lf: Vec<usize> = (nb..nb + lf.len()).collect();
        let ct_rf: Vec<usize> = (nb + lf.len()..ct.ndim()).collect();
        // d/da = ct . b over b's free axes: result [batch, a free, a contract (ordered by b)]
        let ga = wants[0].then(|| {
            let dims = DotDims {
                lhs_contract: ct_rf.clone(),
                rhs_contract: rf.clone(),
                lhs_batch: ct_batch.clone(),
                rhs_batch: d.rhs_batch.clone(),
            };
            let r = dot_general(ct, b, &dims);
            let mut axes: Vec<usize> = d.lhs_batch.clone();
            axes.extend(&lf);
            axes.extend(partners_in_order(&d.lhs_contract, &d.rhs_contract));
            transpose(&r, &inverse(&axes))
        });
        // d/db = a . ct over a's free axes: result [batch, b contract (ordered by a), b free]
        let gb = wants[1].then(|| {
            let dims = DotDims {
                lhs_contract: lf.clone(),
                rhs_contract: ct_lf.clone(),
                lhs_batch: d.lhs_batch.clone(),
                rhs_batch: ct_batch.clone(),
            };
            let r = dot_general(a, ct, &dims);
            let mut axes: Vec<usize> = d.rhs_batch.clone();
            axes.extend(partners_in_order(&d.rhs_contract, &d.lhs_contract));
            axes.extend(&rf);
            transpose(&r, &inverse(&axes))
        });
        vec![ga, gb]
    }
    fn batch(&self, x: &[Array], b: &[bool]) -> (Array, bool) {
        let d = &self.dims;
        let up = |v: &[usize]| -> Vec<usize> { v.iter().map(|a| a + 1).collect() };
        let with0 = |v: &[usize]| -> Vec<usize> { std::iter::once(0).chain(v.iter().map(|a| a + 1)).collect() };
        let nb = d.lhs_batch.len();
        match (b[0], b[1]) {
            (true, true) => {
                let dims = DotDims {
                    lhs_contract: up(&d.lhs_contract),
                    rhs_contract: up(&d.rhs_contract),
                    lhs_batch: with0(&d.lhs_batch),
                    rhs_batch: with0(&d.rhs_batch),
                };
                (dot_general(&x[0], &x[1], &dims), true)
            }
            (true, false) => {
                let dims = DotDims { lhs_contract: up(&d.lhs_contract), lhs_batch: up(&d.lhs_batch), ..d.clone() };
                let r = dot_general(&x[0], &x[1], &dims);
                (move_to_front(&r, nb), true)
            }
            (false, _) => {
                let dims = DotDims { rhs_contract: up(&d.rhs_contract), rhs_batch: up(&d.rhs_batch), ..d.clone() };
                let r = dot_general(&x[0], &x[1], &dims);
                let lf = free_axes(x[0].ndim(), &d.lhs_batch, &d.lhs_contract).len();
                (move_to_front(&r, nb + lf), true)
            }
        }
    }
    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &Aval) -> Result<Value, LowerError> {
        let d = &self.dims;
        if let Some(v) = host_gemm::lower(cx, d, x, out) {
            return Ok(v);
        }
        let mut fields = Vec::new();
        for (name, axes) in [
            ("lhs_batching_dimensions", &d.lhs_batch),
            ("rhs_batching_dimensions", &d.rhs_batch),
            ("lhs_contracting_dimensions", &d.lhs_contract),
            ("rhs_contracting_dimensions", &d.rhs_contract),
        ] {
            if !axes.is_empty() {
                fields.push(format!("{name} = {}", i64_list(axes)));
            }
        }
        // full f32/f64 precision (no TF32 or bf16 passes on GPUs), as on the CPU
        let precision = if out.dtype.is_float() {
            ", precision_config = [#stablehlo<precision HIGHEST>, #stablehlo<precision HIGHEST>]"
        } else {
            ""
        };
        let attrs = format!("{{dot_dimension_numbers = #stablehlo.dot<{}>{precision}}}", fields.join(", "));
        Ok(cx.op("stablehlo.dot_general", &[&x[0], &x[1]], &attrs, out))
    }
}

fn move_to_front(x: &Array, axis: usize) -> Array {
    let mut perm = vec![axis];
    perm.extend((0..x.ndim()).filter(|&a| a != axis));
    transpose(x, &perm)
}

/// Contracts `a` and `b` over paired axes, with paired batch axes.
///
/// ```
/// use rjax::{lax::{dot_general, DotDims}, Array};
/// let a = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// let b = Array::from_vec(vec![1.0f32, 0.0, 0.0, 1.0], &[2, 2]);
/// let dims = DotDims { lhs_contract: vec![1], rhs_contract: vec![0], lhs_batch: vec![], rhs_batch: vec![] };
/// assert_eq!(dot_general(&a, &b, &dims).to_vec::<f32>(), vec![1.0, 2.0, 3.0, 4.0]);
/// ```
#[track_caller]
pub fn dot_general(a: &Array, b: &Array, dims: &DotDims) -> Array {
    bind(DotGeneral { dims: dims.clone() }, &[a, b])
}
