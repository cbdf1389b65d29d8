//! Kernels that move data without arithmetic: reshape, broadcast, transpose,
//! slice, pad, concatenate.

use crate::core::HostData;
use crate::{map_host, with_host};
use ndarray::{ArrayD, Axis, IxDyn, Slice};

/// Row-major reshape (copies only if the input is not contiguous).
pub fn reshape(h: &HostData, shape: &[usize]) -> HostData {
    map_host!(h, |a| {
        let s = a.as_standard_layout();
        match s.into_owned().into_shape_with_order(IxDyn(shape)) {
            Ok(x) => x,
            Err(e) => unreachable!("reshape checked by its shape rule: {e}"),
        }
    })
}

/// `broadcast_in_dim`: operand axis `i` becomes output axis `dims[i]`.
pub fn broadcast_in_dim(h: &HostData, shape: &[usize], dims: &[usize]) -> HostData {
    map_host!(h, |a| {
        let mut expanded = vec![1usize; shape.len()];
        for (i, &d) in dims.iter().enumerate() {
            expanded[d] = a.shape()[i];
        }
        let r = match a.view().into_shape_with_order(IxDyn(&expanded)) {
            Ok(v) => v.to_owned(),
            Err(_) => match a.as_standard_layout().into_owned().into_shape_with_order(IxDyn(&expanded)) {
                Ok(v) => v,
                Err(e) => unreachable!("broadcast_in_dim reshape: {e}"),
            },
        };
        match r.broadcast(IxDyn(shape)) {
            Some(b) => b.as_standard_layout().into_owned(),
            None => unreachable!("broadcast_in_dim checked by its shape rule"),
        }
    })
}

/// Output axis `i` is input axis `perm[i]`.
pub fn transpose(h: &HostData, perm: &[usize]) -> HostData {
    map_host!(h, |a| a.view().permuted_axes(IxDyn(perm)).as_standard_layout().into_owned())
}

/// Strided slice `[start, limit)` with `stride` on each axis.
pub fn slice(h: &HostData, start: &[usize], limit: &[usize], stride: &[usize]) -> HostData {
    map_host!(h, |a| a
        .slice_each_axis(|ax| {
            let i = ax.axis.index();
            Slice::new(start[i] as isize, Some(limit[i] as isize), stride[i] as isize)
        })
        .as_standard_layout()
        .into_owned())
}

/// Pads with `value` (a 0-d array of the same dtype): `lo`/`hi` at the ends and
/// `interior` between elements of each axis.
pub fn pad(h: &HostData, value: &HostData, lo: &[usize], hi: &[usize], interior: &[usize]) -> HostData {
    fn go<T: Clone>(a: &ArrayD<T>, v: &ArrayD<T>, lo: &[usize], hi: &[usize], it: &[usize]) -> ArrayD<T> {
        let shape: Vec<usize> =
            a.shape().iter().enumerate().map(|(i, &n)| lo[i] + hi[i] + n + n.saturating_sub(1) * it[i]).collect();
        let fill = v.iter().next().cloned();
        let fill = match fill {
            Some(f) => f,
            None => unreachable!("pad value is a scalar"),
        };
        let mut out = ArrayD::from_elem(IxDyn(&shape), fill);
        let mut view = out.slice_each_axis_mut(|ax| {
            let i = ax.axis.index();
            let n = a.shape()[i];
            let end = lo[i] + n + n.saturating_sub(1) * it[i];
            Slice::new(lo[i] as isize, Some(end as isize), (it[i] + 1) as isize)
        });
        view.assign(a);
        out
    }
    match (h, value) {
        (HostData::F32(a), HostData::F32(v)) => HostData::F32(go(a, v, lo, hi, interior)),
        (HostData::F64(a), HostData::F64(v)) => HostData::F64(go(a, v, lo, hi, interior)),
        (HostData::I32(a), HostData::I32(v)) => HostData::I32(go(a, v, lo, hi, interior)),
        (HostData::U32(a), HostData::U32(v)) => HostData::U32(go(a, v, lo, hi, interior)),
        (HostData::U8(a), HostData::U8(v)) => HostData::U8(go(a, v, lo, hi, interior)),
        (HostData::Bool(a), HostData::Bool(v)) => HostData::Bool(go(a, v, lo, hi, interior)),
        _ => unreachable!("pad value dtype checked by its shape rule"),
    }
}

/// Joins same-dtype arrays along `axis`.
pub fn concatenate(hs: &[&HostData], axis: usize) -> HostData {
    macro_rules! cat {
        ($($v:ident),*) => {
            match hs[0] {
                $(HostData::$v(_) => {
                    let views: Vec<_> = hs
                        .iter()
                        .map(|h| match h {
                            HostData::$v(a) => a.view(),
                            _ => unreachable!("concatenate dtypes checked by its shape rule"),
                        })
                        .collect();
                    match ndarray::concatenate(Axis(axis), &views) {
                        Ok(a) => HostData::$v(a.as_standard_layout().into_owned()),
                        Err(e) => unreachable!("concatenate shapes checked: {e}"),
                    }
                })*
            }
        };
    }
    let _ = with_host!(hs[0], |a| a.ndim());
    cat!(F32, F64, I32, U32, U8, Bool)
}
