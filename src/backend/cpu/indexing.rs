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
    fn contiguous<T: Copy>(a: &ArrayD<T>, idx: &HostData, axis: usize) -> Option<ArrayD<T>> {
        match idx {
            HostData::I32(i) => gather_contiguous(a, i, axis),
            HostData::U32(i) => gather_contiguous(a, i, axis),
            HostData::U8(i) => gather_contiguous(a, i, axis),
            _ => None,
        }
    }
    crate::map_host!(x, |a| contiguous(a, idx, axis).unwrap_or_else(|| gather_any(a, &indices(idx), axis)))
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
/// output in order with plain offsets, instead of a multi-index per element.
/// A run of equal indices over the trailing axes (taking rows of a data set:
/// `take` broadcasts each row's index over the row) is one copy of the row.
/// `None` for other layouts.
fn gather_contiguous<T: Copy, I: Copy + PartialEq + Into<i64>>(
    a: &ArrayD<T>,
    idx: &ArrayD<I>,
    axis: usize,
) -> Option<ArrayD<T>> {
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
        match lane.first() {
            Some(&k) if lane.iter().all(|&j| j == k) => {
                let at = (row0 + clamp(k.into(), n)) * inner;
                out.extend_from_slice(&xs[at..at + lane.len()]);
            }
            _ => {
                for (i, &k) in lane.iter().enumerate() {
                    out.push(xs[(row0 + clamp(k.into(), n)) * inner + i]);
                }
            }
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

#[cfg(test)]
mod tests {
    use super::{gather, gather_any, indices};
    use crate::core::HostData;
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn row_copies_and_element_gathers_equal_the_general_gather() {
        let x = ArrayD::from_shape_fn(IxDyn(&[5, 3, 4]), |i| (i[0] * 100 + i[1] * 10 + i[2]) as f32);
        // rows (each index repeated over the trailing axis), out-of-range ones clamped
        let rows = ArrayD::from_shape_fn(IxDyn(&[5, 2, 4]), |i| [7i32, -1, 2, 0, 1][i[0]] * (i[1] as i32 + 1));
        // a different index per element
        let mixed = ArrayD::from_shape_fn(IxDyn(&[5, 3, 4]), |i| ((i[0] + 2 * i[1] + 3 * i[2]) % 4) as u32);
        for (idx, axis) in [(HostData::I32(rows), 1), (HostData::U32(mixed), 1)] {
            let got = gather(&HostData::F32(x.clone()), &idx, axis);
            let want = HostData::F32(gather_any(&x, &indices(&idx), axis));
            assert_eq!(got, want);
        }
    }
}
