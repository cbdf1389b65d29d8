//! Collectives over named axes: `psum`, `pmax` (and `pmean` on top of
//! `psum`), `all_gather`, `psum_scatter`, `ppermute`, `axis_index`.
//!
//! A collective names axes bound by `shard_map` (the axes of its mesh: each
//! device holds one value and the collective combines them) or by
//! `vmap_named` (the lanes of a batch play the devices). Each primitive's
//! rules sit together:
//! - shape: the axes must be bound ([`axis_env`]), else an error at the
//!   caller's line;
//! - batching: a `vmap` over a named axis that the collective names applies
//!   it across the batch (a sum over the batch axis, a gather, ...): that is
//!   how the built-in CPU backend runs them; over another axis the batch
//!   axis is carried through;
//! - jvp: each is linear but `pmax`, whose tangent is the tangent at the
//!   maximum (averaged over ties);
//! - vjp: the transpose: `psum` is its own (an all-reduce is symmetric),
//!   `all_gather` and `psum_scatter` transpose into each other, `ppermute`
//!   into the inverse permutation;
//! - lowering: XLA's collectives (`stablehlo.all_reduce`, `all_gather`,
//!   `reduce_scatter`, `collective_permute`, `partition_id`) over the
//!   device groups of the axes in the mesh of the enclosing `shard_map`.
//!
//! Values a collective gives every device alike (a `psum`) count as the
//! value of the first device where `shard_map` returns them replicated; the
//! vjp rules follow that convention.

use super::{add_batch, binary, full, reduce, structure, unary};
use crate::core::axis_env::{axis_names, axis_size, batching_axis, lowering_mesh};
use crate::core::lowering::{LowerError, Lowering, Value, tensor_type};
use crate::core::sharding::MeshAxes;
use crate::core::{Array, Aval, DType, HostData, Primitive, bind};
use std::sync::atomic::{AtomicU64, Ordering};

/// The size of each named axis, or why one cannot be used.
fn bound(op: &str, axes: &[String]) -> Result<Vec<usize>, String> {
    if axes.is_empty() {
        return Err(format!("{op} names no axis"));
    }
    let mut sizes = Vec::with_capacity(axes.len());
    for (i, a) in axes.iter().enumerate() {
        if axes[..i].contains(a) {
            return Err(format!("{op} names the axis {a:?} twice"));
        }
        match axis_size(a) {
            Some(n) => sizes.push(n),
            None => {
                let names = axis_names();
                return Err(format!(
                    "the axis {a:?} is not bound: collectives run inside shard_map (over the axes of its mesh) or \
                     vmap_named (over its axis); {}",
                    if names.is_empty() { "no axis is bound here".to_string() } else { format!("bound: {names:?}") }
                ));
            }
        }
    }
    Ok(sizes)
}

/// The CPU rule of a collective applied outside any batching pass: only
/// reachable by evaluating a graph that holds one directly.
fn unbatched_eval(op: &str) -> ! {
    panic!(
        "{op}: a collective has no value on one device alone; it runs inside shard_map (XLA) or vmap_named (the \
         built-in backend), which apply it across devices or batch lanes"
    )
}

/// The mesh of the `shard_map` body being lowered, or why there is none.
fn mesh(op: &str) -> Result<MeshAxes, LowerError> {
    lowering_mesh().ok_or_else(|| LowerError::new(format!("{op}: lowered outside a shard_map body")))
}

/// A fresh channel id for a cross-device collective.
fn channel() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `replica_groups`, the channel and global device ids: who a collective
/// over `axes` combines.
fn group_attrs(m: &MeshAxes, axes: &[String]) -> String {
    let names: Vec<&str> = axes.iter().map(String::as_str).collect();
    let groups = m.groups(&names);
    let rows: Vec<String> = groups
        .iter()
        .map(|g| format!("[{}]", g.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")))
        .collect();
    format!(
        "replica_groups = dense<[{}]> : tensor<{}x{}xi64>, channel_handle = #stablehlo.channel_handle<handle = {}, \
         type = 1>, use_global_device_ids",
        rows.join(", "),
        groups.len(),
        groups.first().map_or(0, Vec::len),
        channel()
    )
}

/// The batch size of the named axis a batching pass maps now, if `axes`
/// names it; and the other axes.
fn batching_over(axes: &[String]) -> Option<(usize, Vec<String>)> {
    let (name, n) = batching_axis()?;
    axes.contains(&name).then(|| (n, axes.iter().filter(|a| **a != name).cloned().collect()))
}

/// `x` with a batch axis of `n` at 0 (copied if it has none).
fn lanes(x: &Array, batched: bool, n: usize) -> Array {
    if batched { x.clone() } else { add_batch(x, n) }
}

/// Which reduction an all-reduce applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceKind {
    /// `psum`.
    Sum,
    /// `pmax`.
    Max,
}

/// The all-reduce primitive (`psum`, `pmax`): every device gets the
/// reduction of the values of its group along `axes`. Apply it with [`psum`]
/// or [`pmax`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AllReduce {
    /// The named axes reduced over.
    pub axes: Vec<String>,
    /// The reduction.
    pub kind: ReduceKind,
}

impl Primitive for AllReduce {
    fn name(&self) -> &'static str {
        match self.kind {
            ReduceKind::Sum => "psum",
            ReduceKind::Max => "pmax",
        }
    }
    fn params(&self) -> String {
        format!("axes={:?}", self.axes)
    }
    fn named_axes(&self) -> Vec<String> {
        self.axes.clone()
    }
    fn abstract_eval(&self, x: &[Aval]) -> Result<Aval, String> {
        bound(self.name(), &self.axes)?;
        if x[0].dtype == DType::Bool {
            return Err(super::wrong_dtype("a numeric", &x[0]));
        }
        Ok(x[0].clone())
    }
    fn eval(&self, _: &[&HostData]) -> HostData {
        unbatched_eval(self.name())
    }
    fn jvp(&self, x: &[Array], out: &Array, t: &[Option<Array>]) -> Option<Array> {
        let t = t[0].as_ref()?;
        match self.kind {
            ReduceKind::Sum => Some(bind(self.clone(), &[t])),
            ReduceKind::Max => {
                let (mask, count) = self.argmax_mask(&x[0], out);
                Some(binary::div(&psum_axes(&binary::mul(&mask, t), &self.axes), &count))
            }
        }
    }
    fn vjp(&self, x: &[Array], out: &Array, ct: &Array, _: &[bool]) -> Vec<Option<Array>> {
        let summed = psum_axes(ct, &self.axes);
        match self.kind {
            ReduceKind::Sum => vec![Some(summed)],
            ReduceKind::Max => {
                let (mask, count) = self.argmax_mask(&x[0], out);
                vec![Some(binary::div(&binary::mul(&mask, &summed), &count))]
            }
        }
    }
    fn batch(&self, x: &[Array], batched: &[bool]) -> (Array, bool) {
        let Some((n, rest)) = batching_over(&self.axes) else {
            return (bind(self.clone(), &[&x[0]]), batched[0]);
        };
        let y = match (self.kind, batched[0]) {
            (ReduceKind::Sum, true) => reduce::reduce_sum(&x[0], &[0]),
            (ReduceKind::Max, true) => reduce::reduce_max(&x[0], &[0]),
            (ReduceKind::Sum, false) => binary::mul(&x[0], &full(x[0].shape(), n as f64, x[0].dtype())),
            (ReduceKind::Max, false) => x[0].clone(),
        };
        let y = if rest.is_empty() { y } else { bind(AllReduce { axes: rest, kind: self.kind }, &[&y]) };
        (y, false)
    }
    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &Aval) -> Result<Value, LowerError> {
        let m = mesh(self.name())?;
        let d = x[0].aval.dtype;
        let op = match self.kind {
            ReduceKind::Sum => "stablehlo.add",
            ReduceKind::Max => "stablehlo.maximum",
        };
        let s = Aval::new(&[], d);
        let region = cx.region(&[s.clone(), s], |cx, p| Ok(vec![cx.binary(op, &p[0], &p[1])]))?;
        let attrs = format!("{{{}}}", group_attrs(&m, &self.axes));
        Ok(cx.op_multi("stablehlo.all_reduce", &[&x[0]], &[region], &attrs, std::slice::from_ref(out)).remove(0))
    }
}

impl AllReduce {
    /// Where `x` equals the maximum (1, else 0, in `x`'s dtype) and on how
    /// many devices of the group it does.
    fn argmax_mask(&self, x: &Array, out: &Array) -> (Array, Array) {
        let mask = unary::convert_element_type(&binary::eq(x, out), x.dtype());
        let count = psum_axes(&mask, &self.axes);
        (mask, count)
    }
}

fn psum_axes(x: &Array, axes: &[String]) -> Array {
    bind(AllReduce { axes: axes.to_vec(), kind: ReduceKind::Sum }, &[x])
}

/// The all-gather primitive: every device gets the values of all devices
/// along `axis`, stacked in a new dimension `dim` (or, `tiled`, concatenated
/// along `dim`). Apply it with [`all_gather`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AllGather {
    /// The named axis gathered over.
    pub axis: String,
    /// Where the gathered values go.
    pub dim: usize,
    /// Concatenate along `dim` instead of stacking in a new dimension.
    pub tiled: bool,
}

impl Primitive for AllGather {
    fn name(&self) -> &'static str {
        "all_gather"
    }
    fn params(&self) -> String {
        format!("axis={:?} dim={} tiled={}", self.axis, self.dim, self.tiled)
    }
    fn named_axes(&self) -> Vec<String> {
        vec![self.axis.clone()]
    }
    fn abstract_eval(&self, x: &[Aval]) -> Result<Aval, String> {
        let n = bound(self.name(), std::slice::from_ref(&self.axis))?[0];
        let mut shape = x[0].shape.clone();
        match self.tiled {
            true if self.dim < shape.len() => shape[self.dim] *= n,
            false if self.dim <= shape.len() => shape.insert(self.dim, n),
            _ => return Err(format!("dim {} is out of range for {}", self.dim, x[0])),
        }
        Ok(Aval { shape, dtype: x[0].dtype })
    }
    fn eval(&self, _: &[&HostData]) -> HostData {
        unbatched_eval(self.name())
    }
    fn jvp(&self, _: &[Array], _: &Array, t: &[Option<Array>]) -> Option<Array> {
        t[0].as_ref().map(|t| bind(self.clone(), &[t]))
    }
    fn vjp(&self, _: &[Array], _: &Array, ct: &Array, _: &[bool]) -> Vec<Option<Array>> {
        let s = PsumScatter { axis: self.axis.clone(), dim: self.dim, tiled: self.tiled };
        vec![Some(bind(s, &[ct]))]
    }
    fn batch(&self, x: &[Array], batched: &[bool]) -> (Array, bool) {
        let Some((n, _)) = batching_over(std::slice::from_ref(&self.axis)) else {
            let shifted = AllGather { dim: self.dim + usize::from(batched[0]), ..self.clone() };
            return (bind(shifted, &[&x[0]]), batched[0]);
        };
        let stacked = structure::moveaxis(&lanes(&x[0], batched[0], n), 0, self.dim);
        if !self.tiled {
            return (stacked, false);
        }
        let mut shape = x[0].shape()[usize::from(batched[0])..].to_vec();
        shape[self.dim] *= n;
        (structure::reshape(&stacked, &shape), false)
    }
    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &Aval) -> Result<Value, LowerError> {
        let m = mesh(self.name())?;
        let operand = if self.tiled {
            x[0].clone()
        } else {
            let mut shape = x[0].aval.shape.clone();
            shape.insert(self.dim, 1);
            cx.reshape(&x[0], &shape)
        };
        let attrs =
            format!("{{all_gather_dim = {} : i64, {}}}", self.dim, group_attrs(&m, std::slice::from_ref(&self.axis)));
        Ok(cx.op("stablehlo.all_gather", &[&operand], &attrs, out))
    }
}

/// The reduce-scatter primitive: the values of the devices along `axis` are
/// summed and device `i` keeps block `i` of the sum along `dim` (`tiled`: a
/// block of `size / n`; else dimension `dim` has size `n` and is removed).
/// Apply it with [`psum_scatter`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PsumScatter {
    /// The named axis summed and scattered over.
    pub axis: String,
    /// The dimension split into blocks.
    pub dim: usize,
    /// Keep `dim` (blocks of `size / n`) instead of removing it.
    pub tiled: bool,
}

impl Primitive for PsumScatter {
    fn name(&self) -> &'static str {
        "psum_scatter"
    }
    fn params(&self) -> String {
        format!("axis={:?} dim={} tiled={}", self.axis, self.dim, self.tiled)
    }
    fn named_axes(&self) -> Vec<String> {
        vec![self.axis.clone()]
    }
    fn abstract_eval(&self, x: &[Aval]) -> Result<Aval, String> {
        let n = bound(self.name(), std::slice::from_ref(&self.axis))?[0];
        if x[0].dtype == DType::Bool {
            return Err(super::wrong_dtype("a numeric", &x[0]));
        }
        let mut shape = x[0].shape.clone();
        let Some(&m) = shape.get(self.dim) else {
            return Err(format!("dim {} is out of range for {}", self.dim, x[0]));
        };
        match self.tiled {
            true if m % n == 0 => shape[self.dim] = m / n,
            false if m == n => {
                shape.remove(self.dim);
            }
            true => {
                return Err(format!("dimension {} of {} ({m}) is not divisible by the axis size {n}", self.dim, x[0]));
            }
            false => {
                return Err(format!("dimension {} of {} must equal the axis size {n} (or use tiled)", self.dim, x[0]));
            }
        }
        Ok(Aval { shape, dtype: x[0].dtype })
    }
    fn eval(&self, _: &[&HostData]) -> HostData {
        unbatched_eval(self.name())
    }
    fn jvp(&self, _: &[Array], _: &Array, t: &[Option<Array>]) -> Option<Array> {
        t[0].as_ref().map(|t| bind(self.clone(), &[t]))
    }
    fn vjp(&self, _: &[Array], _: &Array, ct: &Array, _: &[bool]) -> Vec<Option<Array>> {
        let g = AllGather { axis: self.axis.clone(), dim: self.dim, tiled: self.tiled };
        vec![Some(bind(g, &[ct]))]
    }
    fn batch(&self, x: &[Array], batched: &[bool]) -> (Array, bool) {
        let Some((n, _)) = batching_over(std::slice::from_ref(&self.axis)) else {
            let shifted = PsumScatter { dim: self.dim + usize::from(batched[0]), ..self.clone() };
            return (bind(shifted, &[&x[0]]), batched[0]);
        };
        let sum = match batched[0] {
            true => reduce::reduce_sum(&x[0], &[0]),
            false => binary::mul(&x[0], &full(x[0].shape(), n as f64, x[0].dtype())),
        };
        let blocks = if self.tiled {
            let mut shape = sum.shape().to_vec();
            let m = shape[self.dim];
            shape[self.dim] = m / n;
            shape.insert(self.dim, n);
            structure::reshape(&sum, &shape)
        } else {
            sum
        };
        (structure::moveaxis(&blocks, self.dim, 0), true)
    }
    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &Aval) -> Result<Value, LowerError> {
        let m = mesh(self.name())?;
        let d = x[0].aval.dtype;
        let s = Aval::new(&[], d);
        let region = cx.region(&[s.clone(), s], |cx, p| Ok(vec![cx.binary("stablehlo.add", &p[0], &p[1])]))?;
        let mut block = x[0].aval.shape.clone();
        block[self.dim] /= m.axis_size(&self.axis).unwrap_or(1);
        let block = Aval { shape: block, dtype: d };
        let attrs = format!(
            "{{scatter_dimension = {} : i64, {}}}",
            self.dim,
            group_attrs(&m, std::slice::from_ref(&self.axis))
        );
        let r = cx.op_multi("stablehlo.reduce_scatter", &[&x[0]], &[region], &attrs, std::slice::from_ref(&block));
        let r = r.into_iter().next().ok_or_else(|| LowerError::new("psum_scatter: no result"))?;
        Ok(if self.tiled { r } else { cx.reshape(&r, &out.shape) })
    }
}

/// The collective-permute primitive: device `dst` along `axis` gets the
/// value of device `src` for each `(src, dst)` pair; devices no pair sends
/// to get zeros. Apply it with [`ppermute`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ppermute {
    /// The named axis along which values move.
    pub axis: String,
    /// `(source, destination)` positions along the axis.
    pub perm: Vec<(usize, usize)>,
}

impl Primitive for Ppermute {
    fn name(&self) -> &'static str {
        "ppermute"
    }
    fn params(&self) -> String {
        format!("axis={:?} perm={:?}", self.axis, self.perm)
    }
    fn named_axes(&self) -> Vec<String> {
        vec![self.axis.clone()]
    }
    fn abstract_eval(&self, x: &[Aval]) -> Result<Aval, String> {
        let n = bound(self.name(), std::slice::from_ref(&self.axis))?[0];
        for (i, &(s, d)) in self.perm.iter().enumerate() {
            if s >= n || d >= n {
                return Err(format!("the pair ({s}, {d}) is out of range for the axis {:?} of size {n}", self.axis));
            }
            if self.perm[..i].iter().any(|&(s2, d2)| s2 == s || d2 == d) {
                return Err(format!("the pair ({s}, {d}) repeats a source or a destination; perm must be one-to-one"));
            }
        }
        Ok(x[0].clone())
    }
    fn eval(&self, _: &[&HostData]) -> HostData {
        unbatched_eval(self.name())
    }
    fn jvp(&self, _: &[Array], _: &Array, t: &[Option<Array>]) -> Option<Array> {
        t[0].as_ref().map(|t| bind(self.clone(), &[t]))
    }
    fn vjp(&self, _: &[Array], _: &Array, ct: &Array, _: &[bool]) -> Vec<Option<Array>> {
        let inverse = Ppermute { axis: self.axis.clone(), perm: self.perm.iter().map(|&(s, d)| (d, s)).collect() };
        vec![Some(bind(inverse, &[ct]))]
    }
    fn batch(&self, x: &[Array], batched: &[bool]) -> (Array, bool) {
        let Some((n, _)) = batching_over(std::slice::from_ref(&self.axis)) else {
            return (bind(self.clone(), &[&x[0]]), batched[0]);
        };
        let all = lanes(&x[0], batched[0], n);
        let mut src = vec![0i32; n];
        let mut sent = vec![false; n];
        for &(s, d) in &self.perm {
            src[d] = s as i32;
            sent[d] = true;
        }
        let dims = [0];
        let idx = structure::broadcast_in_dim(&Array::from_vec(src, &[n]), all.shape(), &dims);
        let mask = structure::broadcast_in_dim(&Array::from_vec(sent, &[n]), all.shape(), &dims);
        let moved = super::indexing::gather(&all, &idx, 0);
        let zeros = full(all.shape(), 0.0, all.dtype());
        (binary::select(&mask, &moved, &zeros), true)
    }
    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &Aval) -> Result<Value, LowerError> {
        let m = mesh(self.name())?;
        let mut pairs = Vec::new();
        for g in m.groups(&[self.axis.as_str()]) {
            pairs.extend(self.perm.iter().map(|&(s, d)| format!("[{}, {}]", g[s], g[d])));
        }
        let attrs = format!(
            "{{source_target_pairs = dense<[{}]> : tensor<{}x2xi64>, channel_handle = \
             #stablehlo.channel_handle<handle = {}, type = 1>}}",
            pairs.join(", "),
            pairs.len(),
            channel()
        );
        if pairs.is_empty() {
            return Ok(cx.like(0.0, &x[0]));
        }
        Ok(cx.op("stablehlo.collective_permute", &[&x[0]], &attrs, out))
    }
}

/// The axis-index primitive: each device's position along `axis` (i32).
/// Apply it with [`axis_index`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AxisIndex {
    /// The named axis.
    pub axis: String,
}

impl Primitive for AxisIndex {
    fn name(&self) -> &'static str {
        "axis_index"
    }
    fn params(&self) -> String {
        format!("axis={:?}", self.axis)
    }
    fn named_axes(&self) -> Vec<String> {
        vec![self.axis.clone()]
    }
    fn abstract_eval(&self, _: &[Aval]) -> Result<Aval, String> {
        bound(self.name(), std::slice::from_ref(&self.axis))?;
        Ok(Aval::new(&[], DType::I32))
    }
    fn eval(&self, _: &[&HostData]) -> HostData {
        unbatched_eval(self.name())
    }
    no_derivative!();
    fn batch(&self, _: &[Array], _: &[bool]) -> (Array, bool) {
        match batching_over(std::slice::from_ref(&self.axis)) {
            Some((n, _)) => (super::indexing::iota(&[n], 0, DType::I32), true),
            None => (bind(self.clone(), &[]), false),
        }
    }
    fn lower(&self, cx: &mut Lowering, _: &[Value], out: &Aval) -> Result<Value, LowerError> {
        let m = mesh(self.name())?;
        let pos =
            m.position(&self.axis).ok_or_else(|| LowerError::new(format!("axis_index: no axis {:?}", self.axis)))?;
        let table: Vec<String> = (0..m.size()).map(|d| m.coords(d)[pos].to_string()).collect();
        let t = Aval::new(&[m.size()], DType::I32);
        let table = cx.op(
            "stablehlo.constant",
            &[],
            &format!("{{value = dense<[{}]> : {}}}", table.join(", "), tensor_type(&t)),
            &t,
        );
        let pid = cx.op("stablehlo.partition_id", &[], "", &Aval::new(&[], DType::U32));
        let pid = cx.convert_raw(&pid, DType::I32);
        let one = Aval::new(&[1], DType::I32);
        let picked = cx.op("stablehlo.dynamic_slice", &[&table, &pid], "{slice_sizes = array<i64: 1>}", &one);
        Ok(cx.reshape(&picked, &out.shape))
    }
}

fn names(axes: &[&str]) -> Vec<String> {
    axes.iter().map(|a| a.to_string()).collect()
}

/// The sum of `x` over the devices (or batch lanes) along the named `axes`,
/// on every one of them.
///
/// ```
/// use rjax::{lax, vmap_named, Array};
/// let xs = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
/// let total = vmap_named(|x: &Array| lax::psum(x, &["i"]), "i")(&xs);
/// assert_eq!(total.to_vec::<f32>(), vec![6.0, 6.0, 6.0]);
/// ```
#[track_caller]
pub fn psum(x: &Array, axes: &[&str]) -> Array {
    bind(AllReduce { axes: names(axes), kind: ReduceKind::Sum }, &[x])
}

/// The mean of `x` over the devices (or batch lanes) along the named `axes`.
///
/// ```
/// use rjax::{lax, vmap_named, Array};
/// let xs = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
/// let mean = vmap_named(|x: &Array| lax::pmean(x, &["i"]), "i")(&xs);
/// assert_eq!(mean.to_vec::<f32>(), vec![2.0, 2.0, 2.0]);
/// ```
#[track_caller]
pub fn pmean(x: &Array, axes: &[&str]) -> Array {
    let s = psum(x, axes);
    let n: usize = axes.iter().filter_map(|a| axis_size(a)).product();
    binary::div(&s, &full(s.shape(), n as f64, s.dtype()))
}

/// The maximum of `x` over the devices (or batch lanes) along the named
/// `axes`; its derivative flows to the devices holding the maximum
/// (shared equally among ties).
///
/// ```
/// use rjax::{lax, vmap_named, Array};
/// let xs = Array::from_vec(vec![1.0f32, 5.0, 3.0], &[3]);
/// let m = vmap_named(|x: &Array| lax::pmax(x, &["i"]), "i")(&xs);
/// assert_eq!(m.to_vec::<f32>(), vec![5.0, 5.0, 5.0]);
/// ```
#[track_caller]
pub fn pmax(x: &Array, axes: &[&str]) -> Array {
    bind(AllReduce { axes: names(axes), kind: ReduceKind::Max }, &[x])
}

/// The values of `x` on all devices along `axis`, on each of them: stacked
/// in a new dimension `dim`, or (`tiled`) concatenated along `dim`.
///
/// ```
/// use rjax::{lax, vmap_named, Array};
/// let xs = Array::from_vec(vec![1.0f32, 2.0], &[2]);
/// let all = vmap_named(|x: &Array| lax::all_gather(x, "i", 0, false), "i")(&xs);
/// assert_eq!(all.shape(), &[2, 2]);
/// assert_eq!(all.to_vec::<f32>(), vec![1.0, 2.0, 1.0, 2.0]);
/// ```
#[track_caller]
pub fn all_gather(x: &Array, axis: &str, dim: usize, tiled: bool) -> Array {
    bind(AllGather { axis: axis.to_string(), dim, tiled }, &[x])
}

/// The sum of `x` over the devices along `axis`, split along `dim`: device
/// `i` keeps block `i` (`tiled`: `dim` keeps `size / n` elements; else `dim`
/// must have the axis's size and is removed).
///
/// ```
/// use rjax::{lax, vmap_named, Array};
/// let xs = Array::from_vec(vec![1.0f32, 2.0, 10.0, 20.0], &[2, 2]);
/// let parts = vmap_named(|x: &Array| lax::psum_scatter(x, "i", 0, false), "i")(&xs);
/// assert_eq!(parts.to_vec::<f32>(), vec![11.0, 22.0]);
/// ```
#[track_caller]
pub fn psum_scatter(x: &Array, axis: &str, dim: usize, tiled: bool) -> Array {
    bind(PsumScatter { axis: axis.to_string(), dim, tiled }, &[x])
}

/// Sends `x` along `axis`: for each `(src, dst)` pair, device `dst` gets the
/// value of device `src`; devices no pair sends to get zeros.
///
/// ```
/// use rjax::{lax, vmap_named, Array};
/// let xs = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
/// let shifted = vmap_named(|x: &Array| lax::ppermute(x, "i", &[(0, 1), (1, 2), (2, 0)]), "i")(&xs);
/// assert_eq!(shifted.to_vec::<f32>(), vec![3.0, 1.0, 2.0]);
/// ```
#[track_caller]
pub fn ppermute(x: &Array, axis: &str, perm: &[(usize, usize)]) -> Array {
    bind(Ppermute { axis: axis.to_string(), perm: perm.to_vec() }, &[x])
}

/// The position (i32) of the device (or batch lane) along `axis`.
///
/// ```
/// use rjax::{lax, vmap_named, Array, DType};
/// let ids = vmap_named(|_: &Array| lax::axis_index("i"), "i")(&Array::zeros(&[3], DType::F32));
/// assert_eq!(ids.to_vec::<i32>(), vec![0, 1, 2]);
/// ```
#[track_caller]
pub fn axis_index(axis: &str) -> Array {
    bind(AxisIndex { axis: axis.to_string() }, &[])
}

/// The sharding-constraint primitive: the identity, telling XLA's
/// partitioner how its result is to be split (`mhlo.sharding` on a
/// `Sharding` custom call). Apply it with
/// [`with_sharding_constraint`](crate::sharding::with_sharding_constraint).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ShardingConstraint {
    /// The mesh's axes.
    pub axes: MeshAxes,
    /// How the value is split over them.
    pub spec: crate::core::sharding::PartitionSpec,
    /// Which devices the mesh holds (for printing and identity).
    pub mesh: String,
}

impl Primitive for ShardingConstraint {
    fn name(&self) -> &'static str {
        "sharding_constraint"
    }
    fn params(&self) -> String {
        format!("spec={} mesh={}", self.spec, self.mesh)
    }
    fn abstract_eval(&self, x: &[Aval]) -> Result<Aval, String> {
        crate::core::sharding::Layout::new(self.axes.clone(), self.spec.clone(), &x[0].shape)?;
        Ok(x[0].clone())
    }
    fn eval(&self, x: &[&HostData]) -> HostData {
        x[0].clone()
    }
    fn jvp(&self, _: &[Array], _: &Array, t: &[Option<Array>]) -> Option<Array> {
        t[0].as_ref().map(|t| bind(self.clone(), &[t]))
    }
    fn vjp(&self, _: &[Array], _: &Array, ct: &Array, _: &[bool]) -> Vec<Option<Array>> {
        vec![Some(bind(self.clone(), &[ct]))]
    }
    fn batch(&self, x: &[Array], batched: &[bool]) -> (Array, bool) {
        let spec = if batched[0] { self.spec.insert_whole(0) } else { self.spec.clone() };
        (bind(ShardingConstraint { spec, ..self.clone() }, &[&x[0]]), batched[0])
    }
    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &Aval) -> Result<Value, LowerError> {
        let layout = crate::core::sharding::Layout::new(self.axes.clone(), self.spec.clone(), &out.shape)
            .map_err(LowerError::new)?;
        let attrs = format!("{{call_target_name = \"Sharding\", mhlo.sharding = \"{}\"}}", layout.hlo());
        Ok(cx.op("stablehlo.custom_call", &[&x[0]], &attrs, out))
    }
}
