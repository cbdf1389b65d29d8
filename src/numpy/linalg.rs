//! Matrix products: matmul, dot, einsum (one or two operands), outer.

use super::{broadcast_to, promote_dtypes, squeeze};
use crate::core::{Array, broadcast_shapes};
use crate::lax::{self, DotDims};

/// NumPy's `matmul` (`@`): 1-d operands are promoted to matrices and the
/// promoted axis removed again; leading axes are batch axes and broadcast.
/// Different dtypes meet in [`promote_types`](crate::promote_types), as in JAX.
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let a = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// let v = Array::from_vec(vec![1.0f32, 1.0], &[2]);
/// assert_eq!(jnp::matmul(&a, &v).to_vec::<f32>(), vec![3.0, 7.0]);
/// ```
#[track_caller]
pub fn matmul(a: &Array, b: &Array) -> Array {
    if a.ndim() == 0 || b.ndim() == 0 {
        panic!("matmul: operands must have at least one axis, got shapes {:?} and {:?}", a.shape(), b.shape());
    }
    let (a, b) = &promote_dtypes(a, b);
    let a2 = if a.ndim() == 1 { lax::reshape(a, &[1, a.shape()[0]]) } else { a.clone() };
    let b2 = if b.ndim() == 1 { lax::reshape(b, &[b.shape()[0], 1]) } else { b.clone() };
    let (ra, rb) = (a2.ndim(), b2.ndim());
    let (k1, k2) = (a2.shape()[ra - 1], b2.shape()[rb - 2]);
    if k1 != k2 {
        panic!("matmul: shapes {:?} and {:?} do not align ({k1} != {k2})", a.shape(), b.shape());
    }
    let Some(batch) = broadcast_shapes(&a2.shape()[..ra - 2], &b2.shape()[..rb - 2]) else {
        panic!("matmul: batch axes of shapes {:?} and {:?} cannot be broadcast together", a.shape(), b.shape())
    };
    let nb = batch.len();
    let out = if nb == 0 {
        let dims = DotDims { lhs_contract: vec![1], rhs_contract: vec![0], lhs_batch: vec![], rhs_batch: vec![] };
        lax::dot_general(&a2, &b2, &dims)
    } else if rb == 2 {
        // a stack of matrices times one matrix: contract without batch axes
        let mut sa = batch.clone();
        sa.extend_from_slice(&a2.shape()[ra - 2..]);
        let dims = DotDims { lhs_contract: vec![nb + 1], rhs_contract: vec![0], lhs_batch: vec![], rhs_batch: vec![] };
        lax::dot_general(&broadcast_to(&a2, &sa), &b2, &dims)
    } else {
        let with = |x: &Array, r: usize| {
            let mut s = batch.clone();
            s.extend_from_slice(&x.shape()[r - 2..]);
            broadcast_to(x, &s)
        };
        let bd: Vec<usize> = (0..nb).collect();
        let dims = DotDims { lhs_contract: vec![nb + 1], rhs_contract: vec![nb], lhs_batch: bd.clone(), rhs_batch: bd };
        lax::dot_general(&with(&a2, ra), &with(&b2, rb), &dims)
    };
    let r = out.ndim();
    match (a.ndim() == 1, b.ndim() == 1) {
        (true, true) => squeeze(&out, &[r as isize - 2, r as isize - 1]),
        (true, false) => squeeze(&out, &[r as isize - 2]),
        (false, true) => squeeze(&out, &[r as isize - 1]),
        (false, false) => out,
    }
}

/// NumPy's `dot`: for scalars a product, otherwise the sum over the last axis of
/// `a` and the second-to-last (or only) axis of `b`.
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let v = Array::from_vec(vec![1.0f64, 2.0, 3.0], &[3]);
/// assert_eq!(jnp::dot(&v, &v).item::<f64>(), 14.0);
/// ```
#[track_caller]
pub fn dot(a: &Array, b: &Array) -> Array {
    if a.ndim() == 0 || b.ndim() == 0 {
        return super::multiply(a, b);
    }
    let (a, b) = &promote_dtypes(a, b);
    let ka = a.ndim() - 1;
    let kb = if b.ndim() == 1 { 0 } else { b.ndim() - 2 };
    if a.shape()[ka] != b.shape()[kb] {
        panic!("dot: shapes {:?} and {:?} do not align ({} != {})", a.shape(), b.shape(), a.shape()[ka], b.shape()[kb]);
    }
    let dims = DotDims { lhs_contract: vec![ka], rhs_contract: vec![kb], lhs_batch: vec![], rhs_batch: vec![] };
    lax::dot_general(a, b, &dims)
}

/// The outer product of two 1-d arrays.
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let a = Array::from_vec(vec![1.0f32, 2.0], &[2]);
/// assert_eq!(jnp::outer(&a, &a).to_vec::<f32>(), vec![1.0, 2.0, 2.0, 4.0]);
/// ```
#[track_caller]
pub fn outer(a: &Array, b: &Array) -> Array {
    let dims = DotDims { lhs_contract: vec![], rhs_contract: vec![], lhs_batch: vec![], rhs_batch: vec![] };
    let (a, b) = promote_dtypes(a, b);
    lax::dot_general(&super::ravel(&a), &super::ravel(&b), &dims)
}

fn parse_einsum(spec: &str, n: usize) -> (Vec<Vec<char>>, Vec<char>) {
    let (ins, out) = match spec.split_once("->") {
        Some((i, o)) => (i, Some(o)),
        None => (spec, None),
    };
    let ins: Vec<Vec<char>> = ins.split(',').map(|s| s.trim().chars().collect()).collect();
    if ins.len() != n {
        panic!("einsum: '{spec}' names {} operands but {n} were given", ins.len());
    }
    let out: Vec<char> = match out {
        Some(o) => o.trim().chars().collect(),
        None => {
            // implicit output: letters that appear once, sorted
            let mut all: Vec<char> = ins.iter().flatten().copied().collect();
            all.sort_unstable();
            let mut once: Vec<char> =
                all.iter().copied().filter(|c| all.iter().filter(|d| *d == c).count() == 1).collect();
            once.dedup();
            once
        }
    };
    for s in ins.iter().chain(std::iter::once(&out)) {
        if s.iter().any(|c| !c.is_ascii_alphabetic()) {
            panic!("einsum: '{spec}': only letters are supported (no '...')");
        }
        let mut u = s.clone();
        u.sort_unstable();
        u.dedup();
        if u.len() != s.len() {
            panic!("einsum: '{spec}': a letter repeated within one operand (a diagonal) is not supported");
        }
    }
    (ins, out)
}

/// Sums out the axes of `x` whose letters appear nowhere in `keep`.
fn sum_unused(x: &Array, letters: &[char], keep: &[&[char]]) -> (Array, Vec<char>) {
    let axes: Vec<usize> = (0..letters.len()).filter(|&i| !keep.iter().any(|k| k.contains(&letters[i]))).collect();
    let left: Vec<char> = (0..letters.len()).filter(|i| !axes.contains(i)).map(|i| letters[i]).collect();
    (lax::reduce_sum(x, &axes), left)
}

/// Einstein summation over one or two operands, e.g. `"ij,jk->ik"`,
/// `"bij,bjk->bik"`, `"ij->ji"`, `"i,i->"`. Lowered to one `dot_general` and a
/// transpose.
///
/// ```
/// use rjax::{numpy as jnp, Array};
/// let a = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// let b = Array::from_vec(vec![1.0f32, 0.0, 0.0, 1.0], &[2, 2]);
/// assert_eq!(jnp::einsum("ij,jk->ik", &[&a, &b]), jnp::matmul(&a, &b));
/// assert_eq!(jnp::einsum("ij->ji", &[&a]).to_vec::<f32>(), vec![1.0, 3.0, 2.0, 4.0]);
/// ```
#[track_caller]
pub fn einsum(spec: &str, xs: &[&Array]) -> Array {
    let (ins, out) = parse_einsum(spec, xs.len());
    for (x, l) in xs.iter().zip(&ins) {
        if x.ndim() != l.len() {
            panic!(
                "einsum: '{spec}': operand of shape {:?} has {} axes, the spec names {}",
                x.shape(),
                x.ndim(),
                l.len()
            );
        }
    }
    let (y, letters) = if xs.len() == 1 {
        sum_unused(xs[0], &ins[0], &[&out])
    } else if xs.len() == 2 {
        let (a, la) = sum_unused(xs[0], &ins[0], &[&out, &ins[1]]);
        let (b, lb) = sum_unused(xs[1], &ins[1], &[&out, &ins[0]]);
        let pos = |l: &[char], c: char| l.iter().position(|&d| d == c).unwrap_or(usize::MAX);
        let shared: Vec<char> = la.iter().copied().filter(|c| lb.contains(c)).collect();
        let batch: Vec<char> = shared.iter().copied().filter(|c| out.contains(c)).collect();
        let contract: Vec<char> = shared.iter().copied().filter(|c| !out.contains(c)).collect();
        for &c in &shared {
            if a.shape()[pos(&la, c)] != b.shape()[pos(&lb, c)] {
                panic!(
                    "einsum: '{spec}': axis '{c}' has size {} in one operand and {} in the other",
                    a.shape()[pos(&la, c)],
                    b.shape()[pos(&lb, c)]
                );
            }
        }
        let dims = DotDims {
            lhs_contract: contract.iter().map(|&c| pos(&la, c)).collect(),
            rhs_contract: contract.iter().map(|&c| pos(&lb, c)).collect(),
            lhs_batch: batch.iter().map(|&c| pos(&la, c)).collect(),
            rhs_batch: batch.iter().map(|&c| pos(&lb, c)).collect(),
        };
        let mut letters = batch.clone();
        letters.extend(la.iter().filter(|c| !shared.contains(c)));
        letters.extend(lb.iter().filter(|c| !shared.contains(c)));
        let (a, b) = promote_dtypes(&a, &b);
        (lax::dot_general(&a, &b, &dims), letters)
    } else {
        panic!("einsum: '{spec}': only one or two operands are supported, got {}", xs.len());
    };
    if let Some(c) = out.iter().find(|c| !letters.contains(c)) {
        panic!("einsum: '{spec}': output letter '{c}' is not in any operand");
    }
    let perm: Vec<usize> = out.iter().map(|c| letters.iter().position(|d| d == c).unwrap_or(0)).collect();
    lax::transpose(&y, &perm)
}

impl Array {
    /// Matrix product with NumPy's `matmul` rules.
    ///
    /// ```
    /// let a = rjax::Array::ones(&[2, 3], rjax::DType::F32);
    /// assert_eq!(a.matmul(&a.t()).shape(), &[2, 2]);
    /// ```
    #[track_caller]
    pub fn matmul(&self, other: &Array) -> Array {
        matmul(self, other)
    }
}
