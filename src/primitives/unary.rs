//! Elementwise primitives of one operand: the float functions, neg/abs/sign,
//! logical not, convert_element_type and stop_gradient.
//!
//! Elementwise primitives have diagonal Jacobians, so one derivative rule
//! `d(x, y, t)` (linear in the tangent `t`) gives both the jvp (`d(x, y, t)`)
//! and the vjp (`d(x, y, ct)`).

use super::{wrong_dtype, zeros_like};
use crate::backend::cpu::{self, Special};
use crate::backend::stablehlo::{self, LowerError, Lowering, Value};
use crate::core::{Array, Aval, Block, BlockMut, DType, HostData, Primitive, bind, lanes1};

/// Declares an elementwise unary primitive: its struct, every rule, and the
/// function that applies it. `accepts` says which dtypes the shape rule admits;
/// `eval` gives the CPU expression per dtype; `d` the derivative rule.
macro_rules! unary {
    ($(#[$doc:meta])* $Prim:ident, $name:literal, $f:ident, accepts: $kind:literal |$dt0:ident| $ok:expr,
     eval: { $($v:ident => |$x:ident| $e:expr),* $(,)? },
     d: |$dx:ident, $dy:ident, $dt:ident| $deriv:expr,
     lower: |$lcx:ident, $lx:ident| $lower:expr) => {
        #[doc = concat!("The `", $name, "` primitive; apply it with [`", stringify!($f), "`].")]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $Prim;

        impl Primitive for $Prim {
            fn name(&self) -> &'static str {
                $name
            }
            fn abstract_eval(&self, i: &[Aval]) -> Result<Aval, String> {
                let $dt0 = i[0].dtype;
                if $ok { Ok(i[0].clone()) } else { Err(wrong_dtype($kind, &i[0])) }
            }
            fn eval(&self, i: &[&HostData]) -> HostData {
                match i[0] {
                    $(HostData::$v(a) => HostData::$v(cpu::map1(a, |$x| $e)),)*
                    other => unreachable!("{} on {}", $name, other.dtype()),
                }
            }
            fn elementwise(&self, _: &[Aval]) -> bool {
                true
            }
            fn eval_block(&self, i: &[Block<'_>], out: BlockMut<'_>) {
                match (i[0], out) {
                    $((Block::$v(a), BlockMut::$v(o)) => lanes1(a, o, |$x| $e),)*
                    (a, _) => unreachable!("{} on block {:?}", $name, a),
                }
            }
            #[allow(unused_variables)]
            fn jvp(&self, x: &[Array], out: &Array, t: &[Option<Array>]) -> Option<Array> {
                let ($dx, $dy) = (&x[0], out);
                t[0].as_ref().map(|$dt| $deriv)
            }
            #[allow(unused_variables)]
            fn vjp(&self, x: &[Array], out: &Array, ct: &Array, wants: &[bool]) -> Vec<Option<Array>> {
                let ($dx, $dy, $dt) = (&x[0], out, ct);
                vec![if wants[0] { Some($deriv) } else { None }]
            }
            fn batch(&self, x: &[Array], b: &[bool]) -> (Array, bool) {
                ($f(&x[0]), b[0])
            }
            fn lower(&self, cx: &mut Lowering, x: &[Value], _: &Aval) -> Result<Value, LowerError> {
                let ($lcx, $lx) = (cx, &x[0]);
                $lower
            }
        }

        $(#[$doc])*
        #[track_caller]
        pub fn $f(x: &Array) -> Array {
            bind($Prim, &[x])
        }
    };
}

/// A float-only unary primitive (one expression serves f32 and f64), lowered
/// to one StableHLO operation (`hlo: "stablehlo.exponential"`) or by a rule
/// (`lower: |cx, x| ...`).
macro_rules! float_unary {
    ($(#[$doc:meta])* $Prim:ident, $name:literal, $f:ident, hlo: $op:literal, |$x:ident| $eval:expr,
     d: |$dx:ident, $dy:ident, $dt:ident| $deriv:expr) => {
        float_unary!($(#[$doc])* $Prim, $name, $f, lower: |cx, x| Ok(cx.unary($op, x)), |$x| $eval,
            d: |$dx, $dy, $dt| $deriv);
    };
    ($(#[$doc:meta])* $Prim:ident, $name:literal, $f:ident, lower: |$lcx:ident, $lx:ident| $lower:expr,
     |$x:ident| $eval:expr, d: |$dx:ident, $dy:ident, $dt:ident| $deriv:expr) => {
        unary!($(#[$doc])* $Prim, $name, $f, accepts: "a floating-point" |d| d.is_float(),
            eval: { F32 => |$x| $eval, F64 => |$x| $eval }, d: |$dx, $dy, $dt| $deriv,
            lower: |$lcx, $lx| $lower);
    };
}

float_unary!(
    /// `e^x`, elementwise.
    ///
    /// ```
    /// assert_eq!(rjax::lax::exp(&rjax::Array::scalar(0.0f32)).item::<f32>(), 1.0);
    /// ```
    Exp, "exp", exp, hlo: "stablehlo.exponential", |v| v.exp(), d: |x, y, t| t * y);
float_unary!(
    /// Natural logarithm, elementwise.
    ///
    /// ```
    /// assert_eq!(rjax::lax::log(&rjax::Array::scalar(1.0f64)).item::<f64>(), 0.0);
    /// ```
    Log, "log", log, hlo: "stablehlo.log", |v| v.ln(), d: |x, y, t| t / x);
float_unary!(
    /// `log(1 + x)`, accurate near zero.
    ///
    /// ```
    /// assert_eq!(rjax::lax::log1p(&rjax::Array::scalar(0.0f64)).item::<f64>(), 0.0);
    /// ```
    Log1p, "log1p", log1p, hlo: "stablehlo.log_plus_one", |v| v.ln_1p(), d: |x, y, t| t / (x + 1.0));
float_unary!(
    /// `e^x - 1`, accurate near zero.
    ///
    /// ```
    /// assert_eq!(rjax::lax::expm1(&rjax::Array::scalar(0.0f64)).item::<f64>(), 0.0);
    /// ```
    Expm1, "expm1", expm1, hlo: "stablehlo.exponential_minus_one", |v| v.exp_m1(), d: |x, y, t| t * (y + 1.0));
float_unary!(
    /// Square root.
    ///
    /// ```
    /// assert_eq!(rjax::lax::sqrt(&rjax::Array::scalar(4.0f32)).item::<f32>(), 2.0);
    /// ```
    Sqrt, "sqrt", sqrt, hlo: "stablehlo.sqrt", |v| v.sqrt(), d: |x, y, t| t / (y * 2.0));
float_unary!(
    /// `1 / sqrt(x)`.
    ///
    /// ```
    /// assert_eq!(rjax::lax::rsqrt(&rjax::Array::scalar(4.0f64)).item::<f64>(), 0.5);
    /// ```
    Rsqrt, "rsqrt", rsqrt, hlo: "stablehlo.rsqrt", |v| 1.0 / v.sqrt(), d: |x, y, t| t * y / x * (-0.5));
float_unary!(
    /// Sine.
    ///
    /// ```
    /// assert_eq!(rjax::lax::sin(&rjax::Array::scalar(0.0f64)).item::<f64>(), 0.0);
    /// ```
    Sin, "sin", sin, hlo: "stablehlo.sine", |v| v.sin(), d: |x, y, t| t * cos(x));
float_unary!(
    /// Cosine.
    ///
    /// ```
    /// assert_eq!(rjax::lax::cos(&rjax::Array::scalar(0.0f64)).item::<f64>(), 1.0);
    /// ```
    Cos, "cos", cos, hlo: "stablehlo.cosine", |v| v.cos(), d: |x, y, t| -(t * sin(x)));
float_unary!(
    /// Tangent.
    ///
    /// ```
    /// assert_eq!(rjax::lax::tan(&rjax::Array::scalar(0.0f64)).item::<f64>(), 0.0);
    /// ```
    Tan, "tan", tan, hlo: "stablehlo.tan", |v| v.tan(), d: |x, y, t| t * (y * y + 1.0));
float_unary!(
    /// Hyperbolic tangent.
    ///
    /// ```
    /// assert_eq!(rjax::lax::tanh(&rjax::Array::scalar(0.0f64)).item::<f64>(), 0.0);
    /// ```
    Tanh, "tanh", tanh, hlo: "stablehlo.tanh", |v| v.tanh(), d: |x, y, t| t * (-(y * y) + 1.0));
float_unary!(
    /// The logistic sigmoid `1 / (1 + e^-x)`, computed without overflow.
    ///
    /// ```
    /// assert_eq!(rjax::lax::logistic(&rjax::Array::scalar(0.0f64)).item::<f64>(), 0.5);
    /// ```
    Logistic, "logistic", logistic, hlo: "stablehlo.logistic", |v| Special::logistic(v), d: |x, y, t| t * (y * (-y + 1.0)));
float_unary!(
    /// The error function.
    ///
    /// ```
    /// assert_eq!(rjax::lax::erf(&rjax::Array::scalar(0.0f64)).item::<f64>(), 0.0);
    /// ```
    Erf, "erf", erf, lower: |cx, x| stablehlo::erf(cx, x), |v| Special::erf(v),
    d: |x, y, t| t * exp(&-(x * x)) * std::f64::consts::FRAC_2_SQRT_PI);
float_unary!(
    /// The inverse error function, on (-1, 1).
    ///
    /// ```
    /// let y = rjax::lax::erf_inv(&rjax::Array::scalar(0.5f64)).item::<f64>();
    /// assert!((libm::erf(y) - 0.5).abs() < 1e-15);
    /// ```
    ErfInv, "erf_inv", erf_inv, lower: |cx, x| stablehlo::erf_inv(cx, x), |v| Special::erf_inv(v),
    d: |x, y, t| t * exp(&(y * y)) * (std::f64::consts::PI.sqrt() / 2.0));
float_unary!(
    /// Round down. Its derivative is zero.
    ///
    /// ```
    /// assert_eq!(rjax::lax::floor(&rjax::Array::scalar(1.5f32)).item::<f32>(), 1.0);
    /// ```
    Floor, "floor", floor, hlo: "stablehlo.floor", |v| v.floor(), d: |x, y, t| zeros_like(t));
float_unary!(
    /// Round up. Its derivative is zero.
    ///
    /// ```
    /// assert_eq!(rjax::lax::ceil(&rjax::Array::scalar(1.5f32)).item::<f32>(), 2.0);
    /// ```
    Ceil, "ceil", ceil, hlo: "stablehlo.ceil", |v| v.ceil(), d: |x, y, t| zeros_like(t));
float_unary!(
    /// Round to nearest, ties to even (as NumPy). Its derivative is zero.
    ///
    /// ```
    /// assert_eq!(rjax::lax::round(&rjax::Array::scalar(2.5f32)).item::<f32>(), 2.0);
    /// ```
    Round, "round", round, hlo: "stablehlo.round_nearest_even", |v| v.round_ties_even(), d: |x, y, t| zeros_like(t));

/// A unary primitive on every numeric dtype (one expression for floats, one for integers).
macro_rules! numeric_unary {
    ($(#[$doc:meta])* $Prim:ident, $name:literal, $f:ident, float: |$x:ident| $fe:expr, int: |$i:ident| $ie:expr,
     d: |$dx:ident, $dy:ident, $dt:ident| $deriv:expr, lower: |$lcx:ident, $lx:ident| $lower:expr) => {
        unary!($(#[$doc])* $Prim, $name, $f, accepts: "a numeric" |d| d != DType::Bool,
            eval: { F32 => |$x| $fe, F64 => |$x| $fe, I32 => |$i| $ie, U32 => |$i| $ie, U8 => |$i| $ie },
            d: |$dx, $dy, $dt| $deriv, lower: |$lcx, $lx| $lower);
    };
}

/// True for the unsigned dtypes, where `abs` is the identity and `sign` is 0 or 1.
fn unsigned(d: DType) -> bool {
    matches!(d, DType::U32 | DType::U8)
}

/// Integer helpers so one expression serves i32, u32 and u8.
trait IntUnary: Copy {
    fn wneg(self) -> Self;
    fn wabs(self) -> Self;
    fn sgn(self) -> Self;
}
macro_rules! int_unary {
    ($($t:ty),*) => {$(
        impl IntUnary for $t {
            fn wneg(self) -> Self { (0 as $t).wrapping_sub(self) }
            #[allow(unused_comparisons)]
            fn wabs(self) -> Self { if self < 0 as $t { self.wneg() } else { self } }
            #[allow(unused_comparisons)]
            fn sgn(self) -> Self { if self > 0 as $t { 1 } else if self < 0 as $t { (0 as $t).wrapping_sub(1) } else { 0 } }
        }
    )*};
}
int_unary!(i32, u32, u8);

fn float_sign<T: PartialOrd + Default + From<i8>>(v: T) -> T {
    let zero = T::default();
    if v > zero {
        T::from(1)
    } else if v < zero {
        T::from(-1)
    } else {
        v // keeps 0, -0 and NaN
    }
}

numeric_unary!(
    /// `-x`, elementwise (wrapping for integers).
    ///
    /// ```
    /// assert_eq!(rjax::lax::neg(&rjax::Array::scalar(2i32)).item::<i32>(), -2);
    /// ```
    Neg, "neg", neg, float: |v| -v, int: |v| v.wneg(), d: |x, y, t| neg(t),
    lower: |cx, x| Ok(cx.unary("stablehlo.negate", x)));
numeric_unary!(
    /// Absolute value. Its derivative at 0 is 0 (the sign).
    ///
    /// ```
    /// assert_eq!(rjax::lax::abs(&rjax::Array::scalar(-2.0f64)).item::<f64>(), 2.0);
    /// ```
    Abs, "abs", abs, float: |v| v.abs(), int: |v| v.wabs(), d: |x, y, t| t * sign(x),
    lower: |cx, x| Ok(if unsigned(x.aval.dtype) { x.clone() } else { cx.unary("stablehlo.abs", x) }));
numeric_unary!(
    /// -1, 0 or 1 by the sign of `x` (NaN stays NaN). Its derivative is zero.
    ///
    /// ```
    /// assert_eq!(rjax::lax::sign(&rjax::Array::scalar(-3.0f32)).item::<f32>(), -1.0);
    /// ```
    Sign, "sign", sign, float: |v| float_sign(v), int: |v| v.sgn(), d: |x, y, t| zeros_like(t),
    lower: |cx, x| Ok(if unsigned(x.aval.dtype) { stablehlo::sign_unsigned(cx, x) } else { cx.unary("stablehlo.sign", x) }));

/// The `not` primitive (logical for bool, bitwise for integers); apply it with [`not`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Not;

impl Primitive for Not {
    fn name(&self) -> &'static str {
        "not"
    }
    fn abstract_eval(&self, i: &[Aval]) -> Result<Aval, String> {
        if i[0].dtype.is_float() { Err(wrong_dtype("a bool or integer", &i[0])) } else { Ok(i[0].clone()) }
    }
    fn eval(&self, i: &[&HostData]) -> HostData {
        match i[0] {
            HostData::Bool(a) => HostData::Bool(a.mapv(|v| !v)),
            HostData::I32(a) => HostData::I32(a.mapv(|v| !v)),
            HostData::U32(a) => HostData::U32(a.mapv(|v| !v)),
            HostData::U8(a) => HostData::U8(a.mapv(|v| !v)),
            other => unreachable!("not on {}", other.dtype()),
        }
    }
    fn elementwise(&self, _: &[Aval]) -> bool {
        true
    }
    fn eval_block(&self, i: &[Block<'_>], out: BlockMut<'_>) {
        match (i[0], out) {
            (Block::Bool(a), BlockMut::Bool(o)) => lanes1(a, o, |v| !v),
            (Block::I32(a), BlockMut::I32(o)) => lanes1(a, o, |v| !v),
            (Block::U32(a), BlockMut::U32(o)) => lanes1(a, o, |v| !v),
            (Block::U8(a), BlockMut::U8(o)) => lanes1(a, o, |v| !v),
            (a, _) => unreachable!("not on block {a:?}"),
        }
    }
    no_derivative!();
    fn batch(&self, x: &[Array], b: &[bool]) -> (Array, bool) {
        (not(&x[0]), b[0])
    }
    fn lower(&self, cx: &mut Lowering, x: &[Value], _: &Aval) -> Result<Value, LowerError> {
        Ok(cx.unary("stablehlo.not", &x[0]))
    }
}

/// Logical not of a bool array, bitwise not of an integer array.
///
/// ```
/// assert!(!rjax::lax::not(&rjax::Array::scalar(true)).item::<bool>());
/// ```
#[track_caller]
pub fn not(x: &Array) -> Array {
    bind(Not, &[x])
}

/// The `convert_element_type` primitive; apply it with [`convert_element_type`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Convert {
    /// The target dtype.
    pub dtype: DType,
}

impl Primitive for Convert {
    fn name(&self) -> &'static str {
        "convert_element_type"
    }
    fn params(&self) -> String {
        format!("new_dtype={}", self.dtype)
    }
    fn abstract_eval(&self, i: &[Aval]) -> Result<Aval, String> {
        Ok(i[0].with_dtype(self.dtype))
    }
    fn eval(&self, i: &[&HostData]) -> HostData {
        crate::backend::cpu::convert(i[0], self.dtype)
    }
    fn elementwise(&self, _: &[Aval]) -> bool {
        true
    }
    fn eval_block(&self, i: &[Block<'_>], out: BlockMut<'_>) {
        crate::backend::cpu::convert_block(i[0], out)
    }
    fn jvp(&self, x: &[Array], _: &Array, t: &[Option<Array>]) -> Option<Array> {
        // only float -> float conversions carry tangents
        if x[0].dtype().is_float() { t[0].as_ref().map(|t| convert_element_type(t, self.dtype)) } else { None }
    }
    fn vjp(&self, x: &[Array], _: &Array, ct: &Array, wants: &[bool]) -> Vec<Option<Array>> {
        let ok = wants[0] && x[0].dtype().is_float();
        vec![if ok { Some(convert_element_type(ct, x[0].dtype())) } else { None }]
    }
    fn batch(&self, x: &[Array], b: &[bool]) -> (Array, bool) {
        (convert_element_type(&x[0], self.dtype), b[0])
    }
    /// As on the CPU: floats truncate and saturate, NaN becomes 0, integers wrap.
    fn lower(&self, cx: &mut Lowering, x: &[Value], _: &Aval) -> Result<Value, LowerError> {
        Ok(stablehlo::convert(cx, &x[0], self.dtype))
    }
}

/// Converts every element to `dtype` (floats to integers truncate toward zero and
/// saturate; NaN becomes 0; integers to integers wrap, as in JAX: -1 as `u8` is
/// 255; nonzero becomes true).
///
/// ```
/// use rjax::{lax, Array, DType};
/// let y = lax::convert_element_type(&Array::scalar(2.7f32), DType::I32);
/// assert_eq!(y.item::<i32>(), 2);
/// ```
#[track_caller]
pub fn convert_element_type(x: &Array, dtype: DType) -> Array {
    if x.dtype() == dtype {
        return x.clone();
    }
    bind(Convert { dtype }, &[x])
}

/// The `stop_gradient` primitive; apply it with [`stop_gradient`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StopGradient;

impl Primitive for StopGradient {
    fn name(&self) -> &'static str {
        "stop_gradient"
    }
    fn abstract_eval(&self, i: &[Aval]) -> Result<Aval, String> {
        Ok(i[0].clone())
    }
    fn eval(&self, i: &[&HostData]) -> HostData {
        i[0].clone()
    }
    fn elementwise(&self, _: &[Aval]) -> bool {
        true
    }
    fn eval_block(&self, i: &[Block<'_>], out: BlockMut<'_>) {
        cpu::copy_block(i[0], out)
    }
    no_derivative!();
    fn batch(&self, x: &[Array], b: &[bool]) -> (Array, bool) {
        (stop_gradient(&x[0]), b[0])
    }
    /// The identity: derivatives are gone by the time a graph is lowered.
    fn lower(&self, _: &mut Lowering, x: &[Value], _: &Aval) -> Result<Value, LowerError> {
        Ok(x[0].clone())
    }
}

/// The identity, but no derivative flows through it (forward or reverse).
///
/// ```
/// use rjax::{grad, lax, Array};
/// let g = grad(|x: &Array| (x * lax::stop_gradient(x)).sum())(&Array::scalar(3.0f64));
/// assert_eq!(g.item::<f64>(), 3.0);
/// ```
#[track_caller]
pub fn stop_gradient(x: &Array) -> Array {
    bind(StopGradient, &[x])
}
