//! Index-driven kernels: gather and scatter-add along an axis, argsort.

use crate::core::HostData;
use ndarray::{ArrayD, Axis, IxDyn, Zip};

fn indices(h: &HostData) -> ArrayD<i64> {
    match h {
        HostData::I32(a) => a.mapv(|x| x as i64),
        HostData::U32(a) => a.mapv(|x| x as i64),
        HostData::U8(a) => a.mapv(|x| x as i64),
        other => unreachable!("indices of dtype {}", other.dtype()),
    }
}

/// Clamps an index into `[0, n)`, as XLA does for out-of-range gathers.
fn clamp(i: i64, n: usize) -> usize {
    i.clamp(0, n as i64 - 1) as usize
}

/// `out[.., j, ..] = x[.., idx[.., j, ..], ..]` along `axis` (NumPy's
/// `take_along_axis`); `idx` has the shape of the output. Indices are clamped.
pub fn gather(x: &HostData, idx: &HostData, axis: usize) -> HostData {
    let idx = indices(idx);
    crate::map_host!(x, |a| gather_contiguous(a, &idx, axis).unwrap_or_else(|| gather_any(a, &idx, axis)))
}

/// [`gather`] for any layout: a multi-index per element.
fn gather_any<T: Copy>(a: &ArrayD<T>, idx: &ArrayD<i64>, axis: usize) -> ArrayD<T> {
    let n = a.shape()[axis];
    let mut pos = vec![0usize; a.ndim()];
    ArrayD::from_shape_fn(IxDyn(idx.shape()), |ix| {
        for (d, p) in pos.iter_mut().enumerate() {
            *p = ix[d];
        }
        pos[axis] = clamp(idx[&ix], n);
        a[IxDyn(&pos)]
    })
}

/// [`gather`] for row-major `x` and `idx` whose other axes match: walks the
/// output in order with plain offsets (taking rows of a data set is a copy
/// per row), instead of a multi-index per element. `None` for other layouts.
fn gather_contiguous<T: Copy>(a: &ArrayD<T>, idx: &ArrayD<i64>, axis: usize) -> Option<ArrayD<T>> {
    let (xs, is) = (a.as_slice()?, idx.as_slice()?);
    let shape = idx.shape();
    if a.ndim() != shape.len() || (0..shape.len()).any(|d| d != axis && a.shape()[d] != shape[d]) {
        return None;
    }
    let n = a.shape()[axis];
    if n == 0 {
        return None;
    }
    let (m, inner) = (shape[axis], shape[axis + 1..].iter().product::<usize>());
    let mut out = Vec::with_capacity(is.len());
    for (base, lane) in is.chunks_exact(inner.max(1)).enumerate() {
        // `base` counts (outer, j) pairs: the row of x is at outer * n + idx
        let row0 = base / m.max(1) * n;
        for (i, &k) in lane.iter().enumerate() {
            out.push(xs[(row0 + clamp(k, n)) * inner + i]);
        }
    }
    ArrayD::from_shape_vec(IxDyn(shape), out).ok()
}

/// The transpose of [`gather`]: adds `updates[.., j, ..]` into
/// `out[.., idx[.., j, ..], ..]`, where `out` has `size` entries along `axis`.
pub fn scatter_add(idx: &HostData, updates: &HostData, axis: usize, size: usize) -> HostData {
    let idx = indices(idx);
    fn go<T: Copy + Default + std::ops::Add<Output = T>>(
        idx: &ArrayD<i64>,
        u: &ArrayD<T>,
        axis: usize,
        size: usize,
    ) -> ArrayD<T> {
        let mut shape = u.shape().to_vec();
        shape[axis] = size;
        let mut out = ArrayD::from_elem(IxDyn(&shape), T::default());
        let mut pos = vec![0usize; u.ndim()];
        for (ix, &v) in u.indexed_iter() {
            for (d, p) in pos.iter_mut().enumerate() {
                *p = ix[d];
            }
            pos[axis] = clamp(idx[&ix], size);
            let slot = &mut out[IxDyn(&pos)];
            *slot = *slot + v;
        }
        out
    }
    match updates {
        HostData::F32(u) => HostData::F32(go(&idx, u, axis, size)),
        HostData::F64(u) => HostData::F64(go(&idx, u, axis, size)),
        HostData::I32(u) => HostData::I32(go(&idx, &u.mapv(std::num::Wrapping), axis, size).mapv(|w| w.0)),
        HostData::U32(u) => HostData::U32(go(&idx, &u.mapv(std::num::Wrapping), axis, size).mapv(|w| w.0)),
        HostData::U8(u) => HostData::U8(go(&idx, &u.mapv(std::num::Wrapping), axis, size).mapv(|w| w.0)),
        HostData::Bool(_) => unreachable!("scatter_add on bool rejected by its shape rule"),
    }
}

/// Indices that sort each lane along `axis` ascending (stable; NaN last).
pub fn argsort(x: &HostData, axis: usize) -> HostData {
    fn go<T: Copy + PartialOrd>(a: &ArrayD<T>, axis: usize) -> ArrayD<i32> {
        let mut out = ArrayD::<i32>::zeros(a.raw_dim());
        Zip::from(out.lanes_mut(Axis(axis))).and(a.lanes(Axis(axis))).for_each(|mut o, lane| {
            let mut order: Vec<usize> = (0..lane.len()).collect();
            order.sort_by(|&i, &j| {
                let (x, y) = (lane[i], lane[j]);
                // NaN (the only value not comparable to itself) sorts after everything
                let nan = |v: T| v.partial_cmp(&v).is_none();
                match (nan(x), nan(y)) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                }
            });
            for (k, i) in order.into_iter().enumerate() {
                o[k] = i as i32;
            }
        });
        out
    }
    HostData::I32(crate::with_host!(x, |a| go(a, axis)))
}
