//! The interface of lowering rules: the [`Lowering`] context a primitive's
//! `lower` rule emits StableHLO operations into, the SSA [`Value`]s it works
//! on, [`LowerError`], and the MLIR spelling of types and constants. The walk
//! of a whole graph into a module is in `backend::stablehlo`, which re-exports
//! these items.

use super::{Aval, DType};
use std::fmt;

/// An SSA value of the function being built: its name (`%3`, `%arg0`, `%7#1`)
/// and its shape and dtype.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value {
    /// The SSA name as written in the text, with its `%`.
    pub name: String,
    /// The value's shape and dtype.
    pub aval: Aval,
}

/// Why a graph or a primitive could not be lowered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LowerError {
    /// What went wrong, naming the primitive when one is at fault.
    pub message: String,
}

impl LowerError {
    /// An error with the given message.
    pub fn new(message: impl Into<String>) -> LowerError {
        LowerError { message: message.into() }
    }
}

impl fmt::Display for LowerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot lower to StableHLO: {}", self.message)
    }
}

impl std::error::Error for LowerError {}

/// The MLIR element type of a dtype: `f32`, `f64`, `i32`, `ui32`, `ui8`, `i1`.
///
/// ```
/// use rjax::{backend::stablehlo::element_type, DType};
/// assert_eq!(element_type(DType::U32), "ui32");
/// assert_eq!(element_type(DType::Bool), "i1");
/// ```
pub fn element_type(d: DType) -> &'static str {
    match d {
        DType::F32 => "f32",
        DType::F64 => "f64",
        DType::I32 => "i32",
        DType::U32 => "ui32",
        DType::U8 => "ui8",
        DType::Bool => "i1",
    }
}

/// The MLIR tensor type of an aval: `tensor<2x3xf32>`, or `tensor<f32>` for a scalar.
///
/// ```
/// use rjax::{backend::stablehlo::tensor_type, Aval, DType};
/// assert_eq!(tensor_type(&Aval::new(&[2, 3], DType::F32)), "tensor<2x3xf32>");
/// assert_eq!(tensor_type(&Aval::new(&[], DType::I32)), "tensor<i32>");
/// ```
pub fn tensor_type(a: &Aval) -> String {
    let mut s = String::from("tensor<");
    for d in &a.shape {
        s.push_str(&d.to_string());
        s.push('x');
    }
    s.push_str(element_type(a.dtype));
    s.push('>');
    s
}

/// A dense splat attribute holding `v` converted to `dtype` (exactly: floats
/// that are not small integers are written as their bit pattern), without the
/// type suffix: `dense<1.0>`, `dense<0x7FC00000>`, `dense<-3>`, `dense<true>`.
///
/// ```
/// use rjax::{backend::stablehlo::dense_splat, DType};
/// assert_eq!(dense_splat(2.0, DType::F32), "dense<2.0>");
/// assert_eq!(dense_splat(0.1, DType::F64), "dense<0x3FB999999999999A>");
/// assert_eq!(dense_splat(f64::NEG_INFINITY, DType::F32), "dense<0xFF800000>");
/// assert_eq!(dense_splat(4294967295.0, DType::U32), "dense<4294967295>");
/// ```
pub fn dense_splat(v: f64, dtype: DType) -> String {
    let small_int = |x: f64| x.fract() == 0.0 && x.abs() < 1e15 && !(x == 0.0 && x.is_sign_negative());
    let body = match dtype {
        DType::F32 => {
            let x = v as f32;
            if small_int(x as f64) { format!("{x:.1}") } else { format!("0x{:08X}", x.to_bits()) }
        }
        DType::F64 => {
            if small_int(v) {
                format!("{v:.1}")
            } else {
                format!("0x{:016X}", v.to_bits())
            }
        }
        DType::I32 => (v as i32).to_string(),
        DType::U32 => (v as u32).to_string(),
        DType::U8 => (v as u8).to_string(),
        DType::Bool => (v != 0.0).to_string(),
    };
    format!("dense<{body}>")
}

/// `array<i64: 1, 0>` (or `array<i64>` when empty), the attribute form of a list of axes.
pub fn i64_array(v: &[usize]) -> String {
    if v.is_empty() {
        return "array<i64>".into();
    }
    let items: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("array<i64: {}>", items.join(", "))
}

/// `[1, 0]`, the list form used inside `#stablehlo.dot<...>`-style attributes.
pub fn i64_list(v: &[usize]) -> String {
    let items: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[{}]", items.join(", "))
}

/// The compare type of a dtype for `stablehlo.compare`: FLOAT, SIGNED or UNSIGNED.
pub fn compare_type(d: DType) -> &'static str {
    match d {
        DType::F32 | DType::F64 => "FLOAT",
        DType::I32 => "SIGNED",
        DType::U32 | DType::U8 | DType::Bool => "UNSIGNED",
    }
}

/// The context lowering rules emit into: allocates SSA names and accumulates
/// the lines of the function body (or of a region being built).
#[derive(Debug, Default)]
pub struct Lowering {
    pub(crate) lines: Vec<String>,
    next: usize,
    indent: usize,
    host_calls: bool,
}

impl Lowering {
    /// An empty context.
    pub fn new() -> Lowering {
        Lowering { lines: Vec::new(), next: 0, indent: 4, host_calls: false }
    }

    /// An empty context for a program of XLA's CPU plugin in which rjax's
    /// handlers are registered, when `host_calls` (see [`Lowering::host_calls`]).
    pub(crate) fn with_host_calls(host_calls: bool) -> Lowering {
        Lowering { host_calls, ..Lowering::new() }
    }

    /// May operations lower to `stablehlo.custom_call`s of rjax's Rust
    /// handlers (matrix products, random bits)? Only in programs for XLA's
    /// CPU plugin once the handlers are registered; off for [`Lowering::new`].
    ///
    /// ```
    /// assert!(!rjax::backend::stablehlo::Lowering::new().host_calls());
    /// ```
    pub fn host_calls(&self) -> bool {
        self.host_calls
    }

    /// A fresh SSA name, `%N`.
    fn fresh(&mut self) -> String {
        let n = self.next;
        self.next += 1;
        format!("%{n}")
    }

    /// Appends one line at the current indentation.
    pub(crate) fn emit(&mut self, line: String) {
        self.lines.push(format!("{:w$}{line}", "", w = self.indent));
    }

    /// Emits a generic-form operation with any number of regions and results:
    /// `%r:2 = "name"(operands) ({region}) {attrs} : (types) -> (types)`.
    /// `attrs` is the attribute dictionary with its braces, or empty. Regions
    /// come from [`Lowering::region`]. Returns one value per result.
    pub fn op_multi(
        &mut self,
        name: &str,
        operands: &[&Value],
        regions: &[String],
        attrs: &str,
        outs: &[Aval],
    ) -> Vec<Value> {
        let res = self.fresh();
        let names: Vec<&str> = operands.iter().map(|v| v.name.as_str()).collect();
        let in_types: Vec<String> = operands.iter().map(|v| tensor_type(&v.aval)).collect();
        let out_types: Vec<String> = outs.iter().map(tensor_type).collect();
        let lhs = match outs.len() {
            0 => String::new(),
            1 => format!("{res} = "),
            n => format!("{res}:{n} = "),
        };
        let regions = if regions.is_empty() { String::new() } else { format!(" ({})", regions.join(", ")) };
        let attrs = if attrs.is_empty() { String::new() } else { format!(" {attrs}") };
        let outs_text = if out_types.len() == 1 { out_types[0].clone() } else { format!("({})", out_types.join(", ")) };
        self.emit(format!(
            "{lhs}\"{name}\"({}){regions}{attrs} : ({}) -> {outs_text}",
            names.join(", "),
            in_types.join(", ")
        ));
        match outs.len() {
            1 => vec![Value { name: res, aval: outs[0].clone() }],
            _ => outs.iter().enumerate().map(|(i, a)| Value { name: format!("{res}#{i}"), aval: a.clone() }).collect(),
        }
    }

    /// Emits a generic-form operation with one result and no region.
    pub fn op(&mut self, name: &str, operands: &[&Value], attrs: &str, out: &Aval) -> Value {
        let mut v = self.op_multi(name, operands, &[], attrs, std::slice::from_ref(out));
        v.remove(0)
    }

    /// Builds a region with one block whose arguments have the given avals:
    /// `body` emits its operations and returns the values the block returns
    /// (with `stablehlo.return`). The text goes in [`Lowering::op_multi`]'s
    /// `regions`.
    pub fn region(
        &mut self,
        args: &[Aval],
        body: impl FnOnce(&mut Lowering, &[Value]) -> Result<Vec<Value>, LowerError>,
    ) -> Result<String, LowerError> {
        let outer = std::mem::take(&mut self.lines);
        let indent = self.indent;
        let params: Vec<Value> = args.iter().map(|a| Value { name: self.fresh(), aval: a.clone() }).collect();
        self.indent = indent + 4;
        let result = body(self, &params);
        let ret = result.map(|rets| {
            let names: Vec<&str> = rets.iter().map(|v| v.name.as_str()).collect();
            let types: Vec<String> = rets.iter().map(|v| tensor_type(&v.aval)).collect();
            self.emit(format!("\"stablehlo.return\"({}) : ({}) -> ()", names.join(", "), types.join(", ")));
        });
        self.indent = indent;
        let inner = std::mem::replace(&mut self.lines, outer);
        ret?;
        let decl: Vec<String> = params.iter().map(|p| format!("{}: {}", p.name, tensor_type(&p.aval))).collect();
        Ok(format!(
            "{{\n{:w$}^bb0({}):\n{}\n{:i$}}}",
            "",
            decl.join(", "),
            inner.join("\n"),
            "",
            w = indent + 2,
            i = indent
        ))
    }

    /// A `stablehlo.constant` of `aval`'s shape with every element `v`
    /// (converted to `aval`'s dtype).
    pub fn constant(&mut self, v: f64, aval: &Aval) -> Value {
        let attrs = format!("{{value = {} : {}}}", dense_splat(v, aval.dtype), tensor_type(aval));
        self.op("stablehlo.constant", &[], &attrs, aval)
    }

    /// A scalar `stablehlo.constant`.
    pub fn scalar(&mut self, v: f64, dtype: DType) -> Value {
        self.constant(v, &Aval::new(&[], dtype))
    }

    /// A constant with `x`'s shape and dtype, every element `v`.
    pub fn like(&mut self, v: f64, x: &Value) -> Value {
        let a = x.aval.clone();
        self.constant(v, &a)
    }

    /// An elementwise operation of one operand, with the operand's aval.
    pub fn unary(&mut self, name: &str, x: &Value) -> Value {
        let a = x.aval.clone();
        self.op(name, &[x], "", &a)
    }

    /// An elementwise operation of two operands, with the first operand's aval.
    pub fn binary(&mut self, name: &str, a: &Value, b: &Value) -> Value {
        let out = a.aval.clone();
        self.op(name, &[a, b], "", &out)
    }

    /// `stablehlo.compare` with direction `EQ`, `NE`, `LT`, `LE`, `GT` or `GE`
    /// and the compare type of the operands' dtype; the result is bool.
    pub fn compare(&mut self, direction: &str, a: &Value, b: &Value) -> Value {
        let attrs = format!(
            "{{comparison_direction = #stablehlo<comparison_direction {direction}>, \
             compare_type = #stablehlo<comparison_type {}>}}",
            compare_type(a.aval.dtype)
        );
        let out = a.aval.with_dtype(DType::Bool);
        self.op("stablehlo.compare", &[a, b], &attrs, &out)
    }

    /// True where `x` is NaN (`x != x`).
    pub fn is_nan(&mut self, x: &Value) -> Value {
        self.compare("NE", x, x)
    }

    /// `stablehlo.select`: `p ? a : b`, elementwise.
    pub fn select(&mut self, p: &Value, a: &Value, b: &Value) -> Value {
        let out = a.aval.clone();
        self.op("stablehlo.select", &[p, a, b], "", &out)
    }

    /// A plain `stablehlo.convert` (XLA's conversion, no saturation added).
    pub fn convert_raw(&mut self, x: &Value, dtype: DType) -> Value {
        if x.aval.dtype == dtype {
            return x.clone();
        }
        let out = x.aval.with_dtype(dtype);
        self.op("stablehlo.convert", &[x], "", &out)
    }

    /// `stablehlo.reshape` to `shape` (no operation when the shape is unchanged).
    pub fn reshape(&mut self, x: &Value, shape: &[usize]) -> Value {
        if x.aval.shape == shape {
            return x.clone();
        }
        let out = Aval::new(shape, x.aval.dtype);
        self.op("stablehlo.reshape", &[x], "", &out)
    }

    /// `stablehlo.broadcast_in_dim`: operand axis `i` becomes output axis `dims[i]`.
    pub fn broadcast_in_dim(&mut self, x: &Value, shape: &[usize], dims: &[usize]) -> Value {
        let out = Aval::new(shape, x.aval.dtype);
        let attrs = format!("{{broadcast_dimensions = {}}}", i64_array(dims));
        self.op("stablehlo.broadcast_in_dim", &[x], &attrs, &out)
    }

    /// `stablehlo.slice` with start, limit and stride per axis.
    pub fn slice(&mut self, x: &Value, start: &[usize], limit: &[usize], stride: &[usize]) -> Value {
        let shape: Vec<usize> =
            (0..start.len()).map(|a| limit[a].saturating_sub(start[a]).div_ceil(stride[a].max(1))).collect();
        let out = Aval::new(&shape, x.aval.dtype);
        let attrs = format!(
            "{{start_indices = {}, limit_indices = {}, strides = {}}}",
            i64_array(start),
            i64_array(limit),
            i64_array(stride)
        );
        self.op("stablehlo.slice", &[x], &attrs, &out)
    }

    /// `stablehlo.concatenate` along `axis` (of at least one operand).
    pub fn concatenate(&mut self, xs: &[&Value], axis: usize) -> Result<Value, LowerError> {
        let first = xs.first().ok_or_else(|| LowerError::new("concatenate of no operands"))?;
        let mut shape = first.aval.shape.clone();
        shape[axis] = xs.iter().map(|x| x.aval.shape[axis]).sum();
        let out = Aval::new(&shape, first.aval.dtype);
        Ok(self.op("stablehlo.concatenate", xs, &format!("{{dimension = {axis} : i64}}"), &out))
    }

    /// `stablehlo.iota`: values of `aval` counting 0, 1, ... along `dimension`.
    pub fn iota(&mut self, aval: &Aval, dimension: usize) -> Value {
        self.op("stablehlo.iota", &[], &format!("{{iota_dimension = {dimension} : i64}}"), aval)
    }
}
