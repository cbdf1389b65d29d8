//! Structural primitives: reshape, broadcast_in_dim, transpose, slice, pad,
//! concatenate. They move data without arithmetic, so all are linear and their
//! vjp is the structural inverse (reduce, inverse permutation, pad, slice).

use super::reduce::reduce_sum;
use super::{add_batch, batch_all, batch_size, zeros_like};
use crate::backend::cpu;
use crate::backend::stablehlo::{LowerError, Lowering, Value, i64_array};
use crate::core::{Array, Aval, Block, BlockMut, HostData, Primitive, bind, checked_size};

/// The `reshape` primitive; apply it with [`reshape`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reshape {
    /// The new shape (same number of elements).
    pub shape: Vec<usize>,
}

impl Primitive for Reshape {
    fn name(&self) -> &'static str {
        "reshape"
    }
    fn params(&self) -> String {
        format!("new_sizes={:?}", self.shape)
    }
    fn abstract_eval(&self, i: &[Aval]) -> Result<Aval, String> {
        let Some(n) = checked_size(&self.shape) else {
            return Err(format!(
                "cannot reshape {:?} ({} elements) into {:?} (more than usize::MAX elements)",
                i[0].shape,
                i[0].size(),
                self.shape
            ));
        };
        if n != i[0].size() {
            return Err(format!(
                "cannot reshape {:?} ({} elements) into {:?} ({n} elements)",
                i[0].shape,
                i[0].size(),
                self.shape
            ));
        }
        Ok(Aval::new(&self.shape, i[0].dtype))
    }
    fn eval(&self, i: &[&HostData]) -> HostData {
        cpu::reshape(i[0], &self.shape)
    }
    /// A row-major reshape keeps every element's position in memory.
    fn elementwise(&self, _: &[Aval]) -> bool {
        true
    }
    fn eval_block(&self, i: &[Block<'_>], out: BlockMut<'_>) {
        cpu::copy_block(i[0], out)
    }
    fn jvp(&self, _: &[Array], _: &Array, t: &[Option<Array>]) -> Option<Array> {
        t[0].as_ref().map(|t| reshape(t, &self.shape))
    }
    fn vjp(&self, x: &[Array], _: &Array, ct: &Array, wants: &[bool]) -> Vec<Option<Array>> {
        vec![wants[0].then(|| reshape(ct, x[0].shape()))]
    }
    fn batch(&self, x: &[Array], _: &[bool]) -> (Array, bool) {
        let mut s = vec![x[0].shape()[0]];
        s.extend_from_slice(&self.shape);
        (reshape(&x[0], &s), true)
    }
    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &Aval) -> Result<Value, LowerError> {
        Ok(cx.reshape(&x[0], &out.shape))
    }
}

/// Row-major reshape to `shape` (same number of elements).
///
/// ```
/// use rjax::{lax, Array};
/// let a = lax::reshape(&Array::arange(0.0, 6.0, 1.0, rjax::DType::F32), &[2, 3]);
/// assert_eq!(a.shape(), &[2, 3]);
/// ```
#[track_caller]
pub fn reshape(x: &Array, shape: &[usize]) -> Array {
    if x.shape() == shape {
        return x.clone();
    }
    bind(Reshape { shape: shape.to_vec() }, &[x])
}

/// The `broadcast_in_dim` primitive; apply it with [`broadcast_in_dim`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BroadcastInDim {
    /// The output shape.
    pub shape: Vec<usize>,
    /// For each operand axis, the output axis it maps to (strictly increasing).
    pub dims: Vec<usize>,
}

impl Primitive for BroadcastInDim {
    fn name(&self) -> &'static str {
        "broadcast_in_dim"
    }
    fn params(&self) -> String {
        format!("shape={:?} broadcast_dimensions={:?}", self.shape, self.dims)
    }
    fn abstract_eval(&self, i: &[Aval]) -> Result<Aval, String> {
        let x = &i[0];
        if self.dims.len() != x.ndim() {
            return Err(format!(
                "{} operand axes but {} broadcast dimensions {:?}",
                x.ndim(),
                self.dims.len(),
                self.dims
            ));
        }
        for (k, &d) in self.dims.iter().enumerate() {
            if d >= self.shape.len() || (k > 0 && d <= self.dims[k - 1]) {
                return Err(format!(
                    "broadcast dimensions {:?} must be increasing and below {}",
                    self.dims,
                    self.shape.len()
                ));
            }
            if x.shape[k] != 1 && x.shape[k] != self.shape[d] {
                return Err(format!(
                    "cannot broadcast {:?} to {:?} (axis {k}: {} vs {})",
                    x.shape, self.shape, x.shape[k], self.shape[d]
                ));
            }
        }
        Ok(Aval::new(&self.shape, x.dtype))
    }
    fn eval(&self, i: &[&HostData]) -> HostData {
        cpu::broadcast_in_dim(i[0], &self.shape, &self.dims)
    }
    /// Broadcasting one element is elementwise: a fused chain reads it as a scalar.
    fn elementwise(&self, i: &[Aval]) -> bool {
        i[0].size() == 1
    }
    fn eval_block(&self, i: &[Block<'_>], out: BlockMut<'_>) {
        cpu::copy_block(i[0], out)
    }
    fn jvp(&self, _: &[Array], _: &Array, t: &[Option<Array>]) -> Option<Array> {
        t[0].as_ref().map(|t| broadcast_in_dim(t, &self.shape, &self.dims))
    }
    fn vjp(&self, x: &[Array], _: &Array, ct: &Array, wants: &[bool]) -> Vec<Option<Array>> {
        if !wants[0] {
            return vec![None];
        }
        let xs = x[0].shape();
        let summed: Vec<usize> = (0..self.shape.len())
            .filter(|a| match self.dims.iter().position(|d| d == a) {
                None => true,
                Some(k) => xs[k] == 1 && self.shape[*a] != 1,
            })
            .collect();
        vec![Some(reshape(&reduce_sum(ct, &summed), xs))]
    }
    fn batch(&self, x: &[Array], _: &[bool]) -> (Array, bool) {
        let mut s = vec![x[0].shape()[0]];
        s.extend_from_slice(&self.shape);
        let mut d = vec![0];
        d.extend(self.dims.iter().map(|a| a + 1));
        (broadcast_in_dim(&x[0], &s, &d), true)
    }
    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &Aval) -> Result<Value, LowerError> {
        Ok(cx.broadcast_in_dim(&x[0], &out.shape, &self.dims))
    }
}

/// Broadcasts `x` to `shape`: operand axis `i` becomes output axis `dims[i]`
/// (its size must be 1 or equal); other output axes repeat the values.
///
/// ```
/// use rjax::{lax, Array};
/// let row = Array::from_vec(vec![1.0f32, 2.0], &[2]);
/// let m = lax::broadcast_in_dim(&row, &[3, 2], &[1]);
/// assert_eq!(m.to_vec::<f32>(), vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
/// ```
#[track_caller]
pub fn broadcast_in_dim(x: &Array, shape: &[usize], dims: &[usize]) -> Array {
    if x.shape() == shape && dims.iter().enumerate().all(|(i, d)| i == *d) {
        return x.clone();
    }
    bind(BroadcastInDim { shape: shape.to_vec(), dims: dims.to_vec() }, &[x])
}

/// The `transpose` primitive; apply it with [`transpose`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Transpose {
    /// Output axis `i` is operand axis `perm[i]`.
    pub perm: Vec<usize>,
}

impl Primitive for Transpose {
    fn name(&self) -> &'static str {
        "transpose"
    }
    fn params(&self) -> String {
        format!("permutation={:?}", self.perm)
    }
    fn abstract_eval(&self, i: &[Aval]) -> Result<Aval, String> {
        let mut seen = self.perm.clone();
        seen.sort_unstable();
        if seen != (0..i[0].ndim()).collect::<Vec<_>>() {
            return Err(format!("{:?} is not a permutation of the axes of {:?}", self.perm, i[0].shape));
        }
        let shape: Vec<usize> = self.perm.iter().map(|&p| i[0].shape[p]).collect();
        Ok(Aval::new(&shape, i[0].dtype))
    }
    fn eval(&self, i: &[&HostData]) -> HostData {
        cpu::transpose(i[0], &self.perm)
    }
    fn jvp(&self, _: &[Array], _: &Array, t: &[Option<Array>]) -> Option<Array> {
        t[0].as_ref().map(|t| transpose(t, &self.perm))
    }
    fn vjp(&self, _: &[Array], _: &Array, ct: &Array, wants: &[bool]) -> Vec<Option<Array>> {
        let mut inv = vec![0; self.perm.len()];
        for (i, &p) in self.perm.iter().enumerate() {
            inv[p] = i;
        }
        vec![wants[0].then(|| transpose(ct, &inv))]
    }
    fn batch(&self, x: &[Array], _: &[bool]) -> (Array, bool) {
        let mut p = vec![0];
        p.extend(self.perm.iter().map(|a| a + 1));
        (transpose(&x[0], &p), true)
    }
    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &Aval) -> Result<Value, LowerError> {
        let attrs = format!("{{permutation = {}}}", i64_array(&self.perm));
        Ok(cx.op("stablehlo.transpose", &[&x[0]], &attrs, out))
    }
}

/// Permutes axes: output axis `i` is input axis `perm[i]`.
///
/// ```
/// use rjax::{lax, Array};
/// let a = Array::from_vec(vec![1, 2, 3, 4, 5, 6], &[2, 3]);
/// assert_eq!(lax::transpose(&a, &[1, 0]).to_vec::<i32>(), vec![1, 4, 2, 5, 3, 6]);
/// ```
#[track_caller]
pub fn transpose(x: &Array, perm: &[usize]) -> Array {
    if perm.iter().enumerate().all(|(i, p)| i == *p) && perm.len() == x.ndim() {
        return x.clone();
    }
    bind(Transpose { perm: perm.to_vec() }, &[x])
}

/// The `slice` primitive; apply it with [`slice`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Slice {
    /// First index taken on each axis.
    pub start: Vec<usize>,
    /// One past the last index that may be taken on each axis.
    pub limit: Vec<usize>,
    /// Step on each axis (at least 1).
    pub stride: Vec<usize>,
}

impl Primitive for Slice {
    fn name(&self) -> &'static str {
        "slice"
    }
    fn params(&self) -> String {
        format!("start_indices={:?} limit_indices={:?} strides={:?}", self.start, self.limit, self.stride)
    }
    fn abstract_eval(&self, i: &[Aval]) -> Result<Aval, String> {
        let s = &i[0].shape;
        let n = s.len();
        if self.start.len() != n || self.limit.len() != n || self.stride.len() != n {
            return Err(format!("start/limit/stride need {n} entries for shape {s:?}"));
        }
        let mut out = Vec::with_capacity(n);
        for a in 0..n {
            let (lo, hi, st) = (self.start[a], self.limit[a], self.stride[a]);
            if st == 0 || lo > hi || hi > s[a] {
                return Err(format!("bad bounds {lo}..{hi} step {st} on axis {a} of size {} (shape {s:?})", s[a]));
            }
            out.push((hi - lo).div_ceil(st));
        }
        Ok(Aval::new(&out, i[0].dtype))
    }
    fn eval(&self, i: &[&HostData]) -> HostData {
        cpu::slice(i[0], &self.start, &self.limit, &self.stride)
    }
    fn jvp(&self, _: &[Array], _: &Array, t: &[Option<Array>]) -> Option<Array> {
        t[0].as_ref().map(|t| slice(t, &self.start, &self.limit, &self.stride))
    }
    fn vjp(&self, x: &[Array], _: &Array, ct: &Array, wants: &[bool]) -> Vec<Option<Array>> {
        if !wants[0] {
            return vec![None];
        }
        let xs = x[0].shape();
        let (mut hi, mut interior) = (vec![0; xs.len()], vec![0; xs.len()]);
        for a in 0..xs.len() {
            let n = ct.shape()[a];
            let covered = if n == 0 { 0 } else { (n - 1) * self.stride[a] + 1 };
            hi[a] = xs[a] - self.start[a] - covered;
            interior[a] = if n == 0 { 0 } else { self.stride[a] - 1 };
        }
        let zero = super::full(&[], 0.0, ct.dtype());
        vec![Some(pad(ct, &zero, &self.start, &hi, &interior))]
    }
    fn batch(&self, x: &[Array], _: &[bool]) -> (Array, bool) {
        let n = x[0].shape()[0];
        let cat = |v: usize, rest: &[usize]| -> Vec<usize> { std::iter::once(v).chain(rest.iter().copied()).collect() };
        (slice(&x[0], &cat(0, &self.start), &cat(n, &self.limit), &cat(1, &self.stride)), true)
    }
    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &Aval) -> Result<Value, LowerError> {
        let y = cx.slice(&x[0], &self.start, &self.limit, &self.stride);
        if y.aval != *out {
            return Err(LowerError::new(format!("slice gives {} instead of {out}", y.aval)));
        }
        Ok(y)
    }
}

/// Takes `start[a]..limit[a]` with step `stride[a]` on every axis `a`.
///
/// ```
/// use rjax::{lax, Array, DType};
/// let a = Array::arange(0.0, 10.0, 1.0, DType::I32);
/// assert_eq!(lax::slice(&a, &[1], &[8], &[3]).to_vec::<i32>(), vec![1, 4, 7]);
/// ```
#[track_caller]
pub fn slice(x: &Array, start: &[usize], limit: &[usize], stride: &[usize]) -> Array {
    bind(Slice { start: start.to_vec(), limit: limit.to_vec(), stride: stride.to_vec() }, &[x])
}

/// The `pad` primitive; apply it with [`pad`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pad {
    /// Padding before each axis.
    pub lo: Vec<usize>,
    /// Padding after each axis.
    pub hi: Vec<usize>,
    /// Padding between neighbouring elements of each axis.
    pub interior: Vec<usize>,
}

impl Primitive for Pad {
    fn name(&self) -> &'static str {
        "pad"
    }
    fn params(&self) -> String {
        format!("lo={:?} hi={:?} interior={:?}", self.lo, self.hi, self.interior)
    }
    fn abstract_eval(&self, i: &[Aval]) -> Result<Aval, String> {
        let (x, v) = (&i[0], &i[1]);
        if v.ndim() != 0 || v.dtype != x.dtype {
            return Err(format!("the padding value must be a {} scalar, got {v}", x.dtype));
        }
        let n = x.ndim();
        if self.lo.len() != n || self.hi.len() != n || self.interior.len() != n {
            return Err(format!("lo/hi/interior need {n} entries for shape {:?}", x.shape));
        }
        let mut shape = Vec::with_capacity(n);
        for a in 0..n {
            let d = x.shape[a].saturating_sub(1).checked_mul(self.interior[a]);
            match d.and_then(|d| d.checked_add(x.shape[a])?.checked_add(self.lo[a])?.checked_add(self.hi[a])) {
                Some(d) => shape.push(d),
                None => {
                    return Err(format!(
                        "padding axis {a} of shape {:?} (lo {}, hi {}, interior {}) gives more than usize::MAX elements",
                        x.shape, self.lo[a], self.hi[a], self.interior[a]
                    ));
                }
            }
        }
        Ok(Aval::new(&shape, x.dtype))
    }
    fn eval(&self, i: &[&HostData]) -> HostData {
        cpu::pad(i[0], i[1], &self.lo, &self.hi, &self.interior)
    }
    fn jvp(&self, x: &[Array], _: &Array, t: &[Option<Array>]) -> Option<Array> {
        if t[0].is_none() && t[1].is_none() {
            return None;
        }
        let tx = t[0].clone().unwrap_or_else(|| zeros_like(&x[0]));
        let tv = t[1].clone().unwrap_or_else(|| zeros_like(&x[1]));
        Some(pad(&tx, &tv, &self.lo, &self.hi, &self.interior))
    }
    fn vjp(&self, x: &[Array], _: &Array, ct: &Array, wants: &[bool]) -> Vec<Option<Array>> {
        let xs = x[0].shape();
        let start = self.lo.clone();
        let stride: Vec<usize> = self.interior.iter().map(|i| i + 1).collect();
        let limit: Vec<usize> = (0..xs.len())
            .map(|a| if xs[a] == 0 { self.lo[a] } else { self.lo[a] + (xs[a] - 1) * stride[a] + 1 })
            .collect();
        let inner = slice(ct, &start, &limit, &stride);
        let all: Vec<usize> = (0..xs.len()).collect();
        let tv = wants[1].then(|| {
            super::binary::sub(&reduce_sum(ct, &(0..ct.ndim()).collect::<Vec<_>>()), &reduce_sum(&inner, &all))
        });
        vec![wants[0].then_some(inner), tv]
    }
    fn batch(&self, x: &[Array], b: &[bool]) -> (Array, bool) {
        let n = batch_size(x, b);
        let ext = |v: &[usize]| -> Vec<usize> { std::iter::once(0).chain(v.iter().copied()).collect() };
        let (lo, hi, it) = (ext(&self.lo), ext(&self.hi), ext(&self.interior));
        let xb = if b[0] { x[0].clone() } else { add_batch(&x[0], n) };
        if !b[1] {
            return (pad(&xb, &x[1], &lo, &hi, &it), true);
        }
        // a per-example padding value: pad with zeros, then select the value where padded
        let zero = super::full(&[], 0.0, x[1].dtype());
        let padded = pad(&xb, &zero, &lo, &hi, &it);
        let inside = pad(
            &super::full(xb.shape(), 1.0, crate::DType::Bool),
            &super::full(&[], 0.0, crate::DType::Bool),
            &lo,
            &hi,
            &it,
        );
        let value = broadcast_in_dim(&x[1], padded.shape(), &[0]);
        (super::binary::select(&inside, &padded, &value), true)
    }
    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &Aval) -> Result<Value, LowerError> {
        let attrs = format!(
            "{{edge_padding_high = {}, edge_padding_low = {}, interior_padding = {}}}",
            i64_array(&self.hi),
            i64_array(&self.lo),
            i64_array(&self.interior)
        );
        Ok(cx.op("stablehlo.pad", &[&x[0], &x[1]], &attrs, out))
    }
}

/// Pads `x` with the scalar `value`: `lo[a]`/`hi[a]` elements before/after axis
/// `a` and `interior[a]` between neighbours.
///
/// ```
/// use rjax::{lax, Array};
/// let a = Array::from_vec(vec![1.0f32, 2.0], &[2]);
/// let p = lax::pad(&a, &Array::scalar(0.0f32), &[1], &[2], &[1]);
/// assert_eq!(p.to_vec::<f32>(), vec![0.0, 1.0, 0.0, 2.0, 0.0, 0.0]);
/// ```
#[track_caller]
pub fn pad(x: &Array, value: &Array, lo: &[usize], hi: &[usize], interior: &[usize]) -> Array {
    bind(Pad { lo: lo.to_vec(), hi: hi.to_vec(), interior: interior.to_vec() }, &[x, value])
}

/// The `concatenate` primitive; apply it with [`concatenate`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Concatenate {
    /// The axis joined along.
    pub axis: usize,
}

impl Primitive for Concatenate {
    fn name(&self) -> &'static str {
        "concatenate"
    }
    fn params(&self) -> String {
        format!("dimension={}", self.axis)
    }
    fn abstract_eval(&self, i: &[Aval]) -> Result<Aval, String> {
        let first = i.first().ok_or("needs at least one operand")?;
        if self.axis >= first.ndim() {
            return Err(format!("axis {} is out of range for shape {:?}", self.axis, first.shape));
        }
        let mut shape = first.shape.clone();
        shape[self.axis] = 0;
        for a in i {
            let same =
                a.ndim() == first.ndim() && (0..a.ndim()).all(|d| d == self.axis || a.shape[d] == first.shape[d]);
            if !same || a.dtype != first.dtype {
                return Err(format!("operands {first} and {a} differ outside axis {}", self.axis));
            }
            shape[self.axis] = match shape[self.axis].checked_add(a.shape[self.axis]) {
                Some(d) => d,
                None => return Err(format!("axis {} of the result has more than usize::MAX elements", self.axis)),
            };
        }
        Ok(Aval::new(&shape, first.dtype))
    }
    fn eval(&self, i: &[&HostData]) -> HostData {
        cpu::concatenate(i, self.axis)
    }
    fn jvp(&self, x: &[Array], _: &Array, t: &[Option<Array>]) -> Option<Array> {
        let ts: Vec<Array> = t.iter().zip(x).map(|(t, x)| t.clone().unwrap_or_else(|| zeros_like(x))).collect();
        Some(concatenate(&ts.iter().collect::<Vec<_>>(), self.axis))
    }
    fn vjp(&self, x: &[Array], _: &Array, ct: &Array, wants: &[bool]) -> Vec<Option<Array>> {
        let mut offset = 0;
        x.iter()
            .zip(wants)
            .map(|(xi, &w)| {
                let n = xi.shape()[self.axis];
                let (mut start, mut limit) = (vec![0; ct.ndim()], ct.shape().to_vec());
                start[self.axis] = offset;
                limit[self.axis] = offset + n;
                offset += n;
                w.then(|| slice(ct, &start, &limit, &vec![1; ct.ndim()]))
            })
            .collect()
    }
    fn batch(&self, x: &[Array], b: &[bool]) -> (Array, bool) {
        let x = batch_all(x, b);
        (concatenate(&x.iter().collect::<Vec<_>>(), self.axis + 1), true)
    }
    fn lower(&self, cx: &mut Lowering, x: &[Value], _: &Aval) -> Result<Value, LowerError> {
        cx.concatenate(&x.iter().collect::<Vec<_>>(), self.axis)
    }
}

/// Joins arrays of equal shape (but along `axis`) and dtype.
///
/// ```
/// use rjax::{lax, Array};
/// let a = Array::from_vec(vec![1, 2], &[2]);
/// let b = Array::from_vec(vec![3], &[1]);
/// assert_eq!(lax::concatenate(&[&a, &b], 0).to_vec::<i32>(), vec![1, 2, 3]);
/// ```
#[track_caller]
pub fn concatenate(xs: &[&Array], axis: usize) -> Array {
    bind(Concatenate { axis }, xs)
}

/// Moves axis `from` to position `to` (both already normalized), the others
/// keeping their order: one transpose. The transformations use it.
pub(crate) fn moveaxis(x: &Array, from: usize, to: usize) -> Array {
    let mut perm: Vec<usize> = (0..x.ndim()).filter(|&a| a != from).collect();
    perm.insert(to, from);
    transpose(x, &perm)
}
