//! Jacobians and Hessians of functions from an array to an array, built from
//! `jvp`/`vjp` and `vmap` as in JAX.

use super::autodiff::{jvp, vjp};
use super::vmap::vmap;
use crate::core::Array;
use crate::primitives::structure::{moveaxis, reshape};

/// The identity basis of a space shaped `shape`: `[n, *shape]`.
fn basis(like: &Array) -> Array {
    let n = like.size();
    let mut shape = vec![n];
    shape.extend_from_slice(like.shape());
    reshape(&Array::eye(n, like.dtype()), &shape)
}

/// Joins an `[n, *a]` stack into `[*b, *c]`.
fn to_shape(x: &Array, out: &[usize], inp: &[usize]) -> Array {
    let mut s = out.to_vec();
    s.extend_from_slice(inp);
    reshape(x, &s)
}

/// The Jacobian by forward mode (one jvp per input element, vmapped):
/// shape `[*f(x).shape, *x.shape]`.
///
/// ```
/// use rjax::{jacfwd, Array};
/// let j = jacfwd(|x: &Array| x * x)(&Array::from_vec(vec![1.0f64, 2.0], &[2]));
/// assert_eq!(j.to_vec::<f64>(), vec![2.0, 0.0, 0.0, 4.0]);
/// ```
pub fn jacfwd<F: Fn(&Array) -> Array + Clone>(f: F) -> impl Fn(&Array) -> Array + Clone {
    move |x: &Array| {
        let f = f.clone();
        let xc = x.clone();
        let cols = vmap(move |t: &Array| jvp(&f, &xc, t).1)(&basis(x));
        let out_shape = cols.shape()[1..].to_vec();
        let moved = moveaxis(&cols, 0, cols.ndim() - 1);
        to_shape(&moved, &out_shape, x.shape())
    }
}

/// The Jacobian by reverse mode (one vjp per output element, vmapped):
/// shape `[*f(x).shape, *x.shape]`.
///
/// ```
/// use rjax::{jacrev, Array};
/// let j = jacrev(|x: &Array| x * x)(&Array::from_vec(vec![1.0f64, 2.0], &[2]));
/// assert_eq!(j.to_vec::<f64>(), vec![2.0, 0.0, 0.0, 4.0]);
/// ```
pub fn jacrev<F: Fn(&Array) -> Array + Clone>(f: F) -> impl Fn(&Array) -> Array + Clone {
    move |x: &Array| {
        let (y, pullback) = vjp(&f, x);
        let rows = vmap(pullback)(&basis(&y));
        to_shape(&rows, y.shape(), x.shape())
    }
}

/// The Hessian of a scalar function: `jacfwd(jacrev(f))`.
///
/// ```
/// use rjax::{hessian, Array};
/// let h = hessian(|x: &Array| (x * x * x).sum())(&Array::from_vec(vec![1.0f64, 2.0], &[2]));
/// assert_eq!(h.to_vec::<f64>(), vec![6.0, 0.0, 0.0, 12.0]);
/// ```
pub fn hessian<F: Fn(&Array) -> Array + Clone>(f: F) -> impl Fn(&Array) -> Array + Clone {
    jacfwd(jacrev(f))
}
