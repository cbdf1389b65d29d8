//! Elementwise primitives of two (or three) same-shaped operands: arithmetic,
//! max/min, comparisons, bitwise/logical ops, shifts and select.
//!
//! As in lax, operands must have equal shapes and dtypes; the NumPy layer
//! ([`crate::numpy`]) broadcasts and promotes scalars before calling these.
//! Each differentiable primitive has one derivative rule `d(a, b, out, ta, tb)`,
//! linear in the tangents; jvp uses it directly and, because the Jacobian of an
//! elementwise op is diagonal, the vjp for an operand is the same rule with the
//! cotangent in that operand's slot.

use super::unary::{log, neg, round};
use super::{batch_all, same_avals, wrong_dtype, zeros_like};
use crate::backend::cpu::{self, IntArith, zip_map};
use crate::backend::stablehlo::{LowerError, Lowering, Value};
use crate::core::{Array, Aval, Block, BlockMut, DType, HostData, Primitive, bind, lanes2, lanes3};

fn lin(terms: [Option<Array>; 2]) -> Option<Array> {
    match terms {
        [Some(a), Some(b)] => Some(add(&a, &b)),
        [Some(a), None] => Some(a),
        [None, Some(b)] => Some(b),
        [None, None] => None,
    }
}

/// Which dtypes a binary primitive accepts.
#[derive(Clone, Copy)]
enum Accepts {
    Numeric,
    Float,
    Any,
    BoolOrInt,
    Int,
}

fn check(accepts: Accepts, i: &[Aval], out_bool: bool) -> Result<Aval, String> {
    same_avals(i)?;
    let d = i[0].dtype;
    let ok = match accepts {
        Accepts::Numeric => d != DType::Bool,
        Accepts::Float => d.is_float(),
        Accepts::Any => true,
        Accepts::BoolOrInt => !d.is_float(),
        Accepts::Int => d.is_int(),
    };
    if !ok {
        let kind = match accepts {
            Accepts::Numeric => "a numeric",
            Accepts::Float => "a floating-point",
            Accepts::Any => "any",
            Accepts::BoolOrInt => "a bool or integer",
            Accepts::Int => "an integer",
        };
        return Err(wrong_dtype(kind, &i[0]));
    }
    Ok(if out_bool { i[0].with_dtype(DType::Bool) } else { i[0].clone() })
}

macro_rules! binary {
    ($(#[$doc:meta])* $Prim:ident, $name:literal, $f:ident, $acc:ident, hlo: $op:literal,
     eval: { $($v:ident => |$x:ident, $y:ident| $e:expr),* $(,)? },
     d: |$a:ident, $b:ident, $out:ident, $ta:ident, $tb:ident| $deriv:expr) => {
        #[doc = concat!("The `", $name, "` primitive; apply it with [`", stringify!($f), "`].")]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $Prim;

        impl $Prim {
            #[allow(unused_variables)]
            fn d(&self, $a: &Array, $b: &Array, $out: &Array, $ta: Option<&Array>, $tb: Option<&Array>) -> Option<Array> {
                $deriv
            }
        }

        impl Primitive for $Prim {
            fn name(&self) -> &'static str {
                $name
            }
            fn abstract_eval(&self, i: &[Aval]) -> Result<Aval, String> {
                check(Accepts::$acc, i, false)
            }
            fn eval(&self, i: &[&HostData]) -> HostData {
                match (i[0], i[1]) {
                    $((HostData::$v(a), HostData::$v(b)) => HostData::$v(zip_map(a, b, |$x, $y| $e)),)*
                    (a, b) => unreachable!("{} on {} and {}", $name, a.dtype(), b.dtype()),
                }
            }
            fn elementwise(&self, _: &[Aval]) -> bool {
                true
            }
            fn eval_block(&self, i: &[Block<'_>], out: BlockMut<'_>) {
                match (i[0], i[1], out) {
                    $((Block::$v(a), Block::$v(b), BlockMut::$v(o)) => lanes2(a, b, o, |$x, $y| $e),)*
                    (a, b, _) => unreachable!("{} on blocks {:?} and {:?}", $name, a, b),
                }
            }
            fn jvp(&self, x: &[Array], out: &Array, t: &[Option<Array>]) -> Option<Array> {
                self.d(&x[0], &x[1], out, t[0].as_ref(), t[1].as_ref())
            }
            fn vjp(&self, x: &[Array], out: &Array, ct: &Array, wants: &[bool]) -> Vec<Option<Array>> {
                vec![
                    if wants[0] { self.d(&x[0], &x[1], out, Some(ct), None) } else { None },
                    if wants[1] { self.d(&x[0], &x[1], out, None, Some(ct)) } else { None },
                ]
            }
            fn batch(&self, x: &[Array], b: &[bool]) -> (Array, bool) {
                let x = batch_all(x, b);
                ($f(&x[0], &x[1]), true)
            }
            fn lower(&self, cx: &mut Lowering, x: &[Value], _: &Aval) -> Result<Value, LowerError> {
                Ok(cx.binary($op, &x[0], &x[1]))
            }
        }

        $(#[$doc])*
        #[track_caller]
        pub fn $f(a: &Array, b: &Array) -> Array {
            bind($Prim, &[a, b])
        }
    };
}

binary!(
    /// `a + b` on equal shapes (wrapping for integers, or for bool).
    ///
    /// ```
    /// use rjax::{lax, Array};
    /// assert_eq!(lax::add(&Array::scalar(1i32), &Array::scalar(2i32)).item::<i32>(), 3);
    /// ```
    Add, "add", add, Numeric, hlo: "stablehlo.add",
    eval: { F32 => |x, y| x + y, F64 => |x, y| x + y, I32 => |x, y| x.wadd(y), U32 => |x, y| x.wadd(y), U8 => |x, y| x.wadd(y) },
    d: |a, b, out, ta, tb| lin([ta.cloned(), tb.cloned()]));
binary!(
    /// `a - b` on equal shapes.
    ///
    /// ```
    /// use rjax::{lax, Array};
    /// assert_eq!(lax::sub(&Array::scalar(1.0f32), &Array::scalar(2.0f32)).item::<f32>(), -1.0);
    /// ```
    Sub, "sub", sub, Numeric, hlo: "stablehlo.subtract",
    eval: { F32 => |x, y| x - y, F64 => |x, y| x - y, I32 => |x, y| x.wsub(y), U32 => |x, y| x.wsub(y), U8 => |x, y| x.wsub(y) },
    d: |a, b, out, ta, tb| lin([ta.cloned(), tb.map(neg)]));
binary!(
    /// `a * b` on equal shapes.
    ///
    /// ```
    /// use rjax::{lax, Array};
    /// assert_eq!(lax::mul(&Array::scalar(3.0f64), &Array::scalar(2.0f64)).item::<f64>(), 6.0);
    /// ```
    Mul, "mul", mul, Numeric, hlo: "stablehlo.multiply",
    eval: { F32 => |x, y| x * y, F64 => |x, y| x * y, I32 => |x, y| x.wmul(y), U32 => |x, y| x.wmul(y), U8 => |x, y| x.wmul(y) },
    d: |a, b, out, ta, tb| lin([ta.map(|t| mul(t, b)), tb.map(|t| mul(a, t))]));
binary!(
    /// `a / b` on equal shapes; integer division truncates (`x / 0` is all ones bits).
    ///
    /// ```
    /// use rjax::{lax, Array};
    /// assert_eq!(lax::div(&Array::scalar(-7i32), &Array::scalar(2i32)).item::<i32>(), -3);
    /// ```
    Div, "div", div, Numeric, hlo: "stablehlo.divide",
    eval: { F32 => |x, y| x / y, F64 => |x, y| x / y, I32 => |x, y| x.xdiv(y), U32 => |x, y| x.xdiv(y), U8 => |x, y| x.xdiv(y) },
    d: |a, b, out, ta, tb| lin([ta.map(|t| div(t, b)), tb.map(|t| neg(&div(&mul(t, out), b)))]));
binary!(
/// Remainder with the sign of `a` (C's `fmod`; XLA's `rem`).
///
/// ```
/// use rjax::{lax, Array};
/// assert_eq!(lax::rem(&Array::scalar(-7.0f64), &Array::scalar(2.0f64)).item::<f64>(), -1.0);
/// ```
Rem, "rem", rem, Numeric, hlo: "stablehlo.remainder",
eval: { F32 => |x, y| x % y, F64 => |x, y| x % y, I32 => |x, y| x.xrem(y), U32 => |x, y| x.xrem(y), U8 => |x, y| x.xrem(y) },
d: |a, b, out, ta, tb| {
    let q = || round(&div(&sub(a, out), b));
    lin([ta.cloned(), tb.map(|t| neg(&mul(t, &q())))])
});
binary!(
/// `a ** b` for floats. The derivative in `b` is `log(a) * a^b`, taken as 0 where `a == 0` (as JAX).
///
/// ```
/// use rjax::{lax, Array};
/// assert_eq!(lax::pow(&Array::scalar(2.0f64), &Array::scalar(3.0f64)).item::<f64>(), 8.0);
/// ```
Pow, "pow", pow, Float, hlo: "stablehlo.power",
eval: { F32 => |x, y| x.powf(y), F64 => |x, y| x.powf(y) },
d: |a, b, out, ta, tb| {
    let one = super::full(b.shape(), 1.0, b.dtype());
    // d/db = log(a) * a^b, taken as 0 where a == 0 (as JAX) instead of NaN
    let log_a = || {
        let zero = zeros_like(a);
        select(&eq(a, &zero), &zero, &log(a))
    };
    lin([ta.map(|t| mul(t, &mul(b, &pow(a, &sub(b, &one))))), tb.map(|t| mul(t, &mul(&log_a(), out)))])
});
binary!(
    /// Elementwise maximum (NaN propagates). At ties the derivative is split evenly.
    ///
    /// ```
    /// use rjax::{lax, Array};
    /// assert_eq!(lax::max(&Array::scalar(1.0f32), &Array::scalar(2.0f32)).item::<f32>(), 2.0);
    /// ```
    Max, "max", max, Numeric, hlo: "stablehlo.maximum",
    eval: { F32 => |x, y| if x.is_nan() || y.is_nan() { f32::NAN } else { x.max(y) },
            F64 => |x, y| if x.is_nan() || y.is_nan() { f64::NAN } else { x.max(y) },
            I32 => |x, y| x.max(y), U32 => |x, y| x.max(y), U8 => |x, y| x.max(y) },
    d: |a, b, out, ta, tb| pick(a, b, &gt(a, b), ta, tb));
binary!(
    /// Elementwise minimum (NaN propagates). At ties the derivative is split evenly.
    ///
    /// ```
    /// use rjax::{lax, Array};
    /// assert_eq!(lax::min(&Array::scalar(1.0f32), &Array::scalar(2.0f32)).item::<f32>(), 1.0);
    /// ```
    Min, "min", min, Numeric, hlo: "stablehlo.minimum",
    eval: { F32 => |x, y| if x.is_nan() || y.is_nan() { f32::NAN } else { x.min(y) },
            F64 => |x, y| if x.is_nan() || y.is_nan() { f64::NAN } else { x.min(y) },
            I32 => |x, y| x.min(y), U32 => |x, y| x.min(y), U8 => |x, y| x.min(y) },
    d: |a, b, out, ta, tb| pick(a, b, &lt(a, b), ta, tb));

/// Tangent of max/min: `ta` where `a` wins, `tb` where `b` wins, half of each at ties.
fn pick(a: &Array, b: &Array, a_wins: &Array, ta: Option<&Array>, tb: Option<&Array>) -> Option<Array> {
    let ties = eq(a, b);
    let w = |on: f64, tie: f64, off: f64| {
        let f = |v| super::full(a.shape(), v, a.dtype());
        select(a_wins, &f(on), &select(&ties, &f(tie), &f(off)))
    };
    lin([ta.map(|t| mul(t, &w(1.0, 0.5, 0.0))), tb.map(|t| mul(t, &w(0.0, 0.5, 1.0)))])
}

macro_rules! nondiff_binary {
    ($(#[$doc:meta])* $Prim:ident, $name:literal, $f:ident, $acc:ident, out_bool: $ob:literal,
     eval: { $($v:ident => $w:ident |$x:ident, $y:ident| $e:expr),* $(,)? },
     lower: |$lcx:ident, $lx:ident| $lower:expr) => {
        #[doc = concat!("The `", $name, "` primitive; apply it with [`", stringify!($f), "`].")]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $Prim;

        impl Primitive for $Prim {
            fn name(&self) -> &'static str {
                $name
            }
            fn abstract_eval(&self, i: &[Aval]) -> Result<Aval, String> {
                check(Accepts::$acc, i, $ob)
            }
            #[allow(clippy::bool_comparison)]
            fn eval(&self, i: &[&HostData]) -> HostData {
                match (i[0], i[1]) {
                    $((HostData::$v(a), HostData::$v(b)) => HostData::$w(zip_map(a, b, |$x, $y| $e)),)*
                    (a, b) => unreachable!("{} on {} and {}", $name, a.dtype(), b.dtype()),
                }
            }
            fn elementwise(&self, _: &[Aval]) -> bool {
                true
            }
            #[allow(clippy::bool_comparison)]
            fn eval_block(&self, i: &[Block<'_>], out: BlockMut<'_>) {
                match (i[0], i[1], out) {
                    $((Block::$v(a), Block::$v(b), BlockMut::$w(o)) => lanes2(a, b, o, |$x, $y| $e),)*
                    (a, b, _) => unreachable!("{} on blocks {:?} and {:?}", $name, a, b),
                }
            }
            no_derivative!();
            fn batch(&self, x: &[Array], b: &[bool]) -> (Array, bool) {
                let x = batch_all(x, b);
                ($f(&x[0], &x[1]), true)
            }
            fn lower(&self, cx: &mut Lowering, x: &[Value], _: &Aval) -> Result<Value, LowerError> {
                let ($lcx, $lx) = (cx, x);
                $lower
            }
        }

        $(#[$doc])*
        #[track_caller]
        pub fn $f(a: &Array, b: &Array) -> Array {
            bind($Prim, &[a, b])
        }
    };
}

/// A comparison, lowered to `stablehlo.compare` with `direction` (EQ, NE, ...).
macro_rules! compare {
    ($(#[$doc:meta])* $Prim:ident, $name:literal, $f:ident, $dir:literal, |$x:ident, $y:ident| $e:expr) => {
        nondiff_binary!($(#[$doc])* $Prim, $name, $f, Any, out_bool: true,
            eval: { F32 => Bool |$x, $y| $e, F64 => Bool |$x, $y| $e, I32 => Bool |$x, $y| $e,
                    U32 => Bool |$x, $y| $e, U8 => Bool |$x, $y| $e, Bool => Bool |$x, $y| $e },
            lower: |cx, x| Ok(cx.compare($dir, &x[0], &x[1])));
    };
}

compare!(
    /// `a == b`, elementwise, as bool.
    ///
    /// ```
    /// use rjax::{lax, Array};
    /// assert!(lax::eq(&Array::scalar(1i32), &Array::scalar(1i32)).item::<bool>());
    /// ```
    Eq, "eq", eq, "EQ", |x, y| x == y);
compare!(
    /// `a != b`, elementwise, as bool.
    ///
    /// ```
    /// use rjax::{lax, Array};
    /// assert!(lax::ne(&Array::scalar(1i32), &Array::scalar(2i32)).item::<bool>());
    /// ```
    Ne, "ne", ne, "NE", |x, y| x != y);
compare!(
    /// `a < b`, elementwise, as bool.
    ///
    /// ```
    /// use rjax::{lax, Array};
    /// assert!(lax::lt(&Array::scalar(1.0f32), &Array::scalar(2.0f32)).item::<bool>());
    /// ```
    Lt, "lt", lt, "LT", |x, y| x < y);
compare!(
    /// `a <= b`, elementwise, as bool.
    ///
    /// ```
    /// use rjax::{lax, Array};
    /// assert!(lax::le(&Array::scalar(2.0f32), &Array::scalar(2.0f32)).item::<bool>());
    /// ```
    Le, "le", le, "LE", |x, y| x <= y);
compare!(
    /// `a > b`, elementwise, as bool.
    ///
    /// ```
    /// use rjax::{lax, Array};
    /// assert!(lax::gt(&Array::scalar(3u8), &Array::scalar(2u8)).item::<bool>());
    /// ```
    Gt, "gt", gt, "GT", |x, y| x > y);
compare!(
    /// `a >= b`, elementwise, as bool.
    ///
    /// ```
    /// use rjax::{lax, Array};
    /// assert!(lax::ge(&Array::scalar(2u32), &Array::scalar(2u32)).item::<bool>());
    /// ```
    Ge, "ge", ge, "GE", |x, y| x >= y);

/// A bitwise (logical on bool) operation, lowered to the StableHLO op `hlo`.
macro_rules! bitwise {
    ($(#[$doc:meta])* $Prim:ident, $name:literal, $f:ident, $op:tt, hlo: $hlo:literal) => {
        nondiff_binary!($(#[$doc])* $Prim, $name, $f, BoolOrInt, out_bool: false,
            eval: { I32 => I32 |x, y| x $op y, U32 => U32 |x, y| x $op y, U8 => U8 |x, y| x $op y,
                    Bool => Bool |x, y| x $op y },
            lower: |cx, x| Ok(cx.binary($hlo, &x[0], &x[1])));
    };
}

bitwise!(
    /// Logical and (bool) or bitwise and (integers).
    ///
    /// ```
    /// use rjax::{lax, Array};
    /// assert_eq!(lax::and(&Array::scalar(6u32), &Array::scalar(3u32)).item::<u32>(), 2);
    /// ```
    And, "and", and, &, hlo: "stablehlo.and");
bitwise!(
    /// Logical or (bool) or bitwise or (integers).
    ///
    /// ```
    /// use rjax::{lax, Array};
    /// assert_eq!(lax::or(&Array::scalar(6u32), &Array::scalar(3u32)).item::<u32>(), 7);
    /// ```
    Or, "or", or, |, hlo: "stablehlo.or");
bitwise!(
    /// Logical xor (bool) or bitwise xor (integers).
    ///
    /// ```
    /// use rjax::{lax, Array};
    /// assert_eq!(lax::xor(&Array::scalar(6u32), &Array::scalar(3u32)).item::<u32>(), 5);
    /// ```
    Xor, "xor", xor, ^, hlo: "stablehlo.xor");

/// Shift helpers with XLA's semantics: shifting by the bit width or more gives 0.
trait Shift: Copy {
    fn shl(self, s: Self) -> Self;
    fn shr_logical(self, s: Self) -> Self;
    /// Sign-filling right shift (the top bit is the sign, also for unsigned types).
    fn shr_arithmetic(self, s: Self) -> Self;
}
macro_rules! shift {
    ($($t:ty => $u:ty, $i:ty),*) => {$(
        impl Shift for $t {
            fn shl(self, s: Self) -> Self {
                let bits = <$t>::BITS as u64;
                if (s as u64) >= bits { 0 } else { ((self as $u) << (s as u32)) as $t }
            }
            fn shr_logical(self, s: Self) -> Self {
                let bits = <$t>::BITS as u64;
                if (s as u64) >= bits { 0 } else { ((self as $u) >> (s as u32)) as $t }
            }
            fn shr_arithmetic(self, s: Self) -> Self {
                let bits = <$t>::BITS as u64;
                let s = if (s as u64) >= bits { bits as u32 - 1 } else { s as u32 };
                ((self as $i) >> s) as $t
            }
        }
    )*};
}
shift!(i32 => u32, i32, u32 => u32, i32, u8 => u8, i8);

nondiff_binary!(
    /// `a << b` (bits shifted out are lost; a shift of the bit width or more gives 0).
    ///
    /// ```
    /// use rjax::{lax, Array};
    /// assert_eq!(lax::shift_left(&Array::scalar(1u32), &Array::scalar(4u32)).item::<u32>(), 16);
    /// ```
    ShiftLeft, "shift_left", shift_left, Int, out_bool: false,
    eval: { I32 => I32 |x, y| x.shl(y), U32 => U32 |x, y| x.shl(y), U8 => U8 |x, y| x.shl(y) },
    lower: |cx, x| Ok(cx.binary("stablehlo.shift_left", &x[0], &x[1])));
nondiff_binary!(
    /// Logical right shift: zeros come in from the left, whatever the sign.
    ///
    /// ```
    /// use rjax::{lax, Array};
    /// assert_eq!(lax::shift_right_logical(&Array::scalar(16u32), &Array::scalar(4u32)).item::<u32>(), 1);
    /// ```
    ShiftRightLogical, "shift_right_logical", shift_right_logical, Int, out_bool: false,
    eval: { I32 => I32 |x, y| x.shr_logical(y), U32 => U32 |x, y| x.shr_logical(y), U8 => U8 |x, y| x.shr_logical(y) },
    lower: |cx, x| Ok(cx.binary("stablehlo.shift_right_logical", &x[0], &x[1])));
nondiff_binary!(
    /// Arithmetic right shift: copies of the sign bit come in from the left; a
    /// shift of the bit width or more (or a negative one) fills with the sign.
    ///
    /// ```
    /// use rjax::{lax, Array};
    /// assert_eq!(lax::shift_right_arithmetic(&Array::scalar(-16i32), &Array::scalar(2i32)).item::<i32>(), -4);
    /// assert_eq!(lax::shift_right_arithmetic(&Array::scalar(-1i32), &Array::scalar(40i32)).item::<i32>(), -1);
    /// ```
    ShiftRightArithmetic, "shift_right_arithmetic", shift_right_arithmetic, Int, out_bool: false,
    eval: { I32 => I32 |x, y| x.shr_arithmetic(y), U32 => U32 |x, y| x.shr_arithmetic(y), U8 => U8 |x, y| x.shr_arithmetic(y) },
    lower: |cx, x| Ok(cx.binary("stablehlo.shift_right_arithmetic", &x[0], &x[1])));

/// The `select` primitive; apply it with [`select`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Select;

impl Primitive for Select {
    fn name(&self) -> &'static str {
        "select"
    }
    fn abstract_eval(&self, i: &[Aval]) -> Result<Aval, String> {
        if i[0].dtype != DType::Bool {
            return Err(format!("the predicate must be bool, got {}", i[0]));
        }
        if i[0].shape != i[1].shape {
            return Err(format!("predicate shape {:?} and value shape {:?} must be equal", i[0].shape, i[1].shape));
        }
        same_avals(&i[1..])?;
        Ok(i[1].clone())
    }
    fn eval(&self, i: &[&HostData]) -> HostData {
        cpu::select(i[0], i[1], i[2])
    }
    fn elementwise(&self, _: &[Aval]) -> bool {
        true
    }
    fn eval_block(&self, i: &[Block<'_>], out: BlockMut<'_>) {
        let p = match i[0] {
            Block::Bool(p) => p,
            other => unreachable!("select predicate block {other:?}"),
        };
        macro_rules! sel {
            ($($v:ident),*) => {
                match (i[1], i[2], out) {
                    $((Block::$v(a), Block::$v(b), BlockMut::$v(o)) => lanes3(p, a, b, o, |p, x, y| if p { x } else { y }),)*
                    (a, b, _) => unreachable!("select on blocks {a:?} and {b:?}"),
                }
            };
        }
        sel!(F32, F64, I32, U32, U8, Bool)
    }
    fn jvp(&self, x: &[Array], _: &Array, t: &[Option<Array>]) -> Option<Array> {
        match (&t[1], &t[2]) {
            (None, None) => None,
            (a, b) => {
                let z = zeros_like(&x[1]);
                Some(select(&x[0], a.as_ref().unwrap_or(&z), b.as_ref().unwrap_or(&z)))
            }
        }
    }
    fn vjp(&self, x: &[Array], _: &Array, ct: &Array, wants: &[bool]) -> Vec<Option<Array>> {
        let z = zeros_like(ct);
        vec![
            None,
            if wants[1] { Some(select(&x[0], ct, &z)) } else { None },
            if wants[2] { Some(select(&x[0], &z, ct)) } else { None },
        ]
    }
    fn batch(&self, x: &[Array], b: &[bool]) -> (Array, bool) {
        let x = batch_all(x, b);
        (select(&x[0], &x[1], &x[2]), true)
    }
    fn lower(&self, cx: &mut Lowering, x: &[Value], _: &Aval) -> Result<Value, LowerError> {
        Ok(cx.select(&x[0], &x[1], &x[2]))
    }
}

/// `pred ? on_true : on_false`, elementwise, on equal shapes.
///
/// ```
/// use rjax::{lax, Array};
/// let p = Array::from_vec(vec![true, false], &[2]);
/// let a = Array::from_vec(vec![1.0f32, 2.0], &[2]);
/// let b = Array::from_vec(vec![10.0f32, 20.0], &[2]);
/// assert_eq!(lax::select(&p, &a, &b).to_vec::<f32>(), vec![1.0, 20.0]);
/// ```
#[track_caller]
pub fn select(pred: &Array, on_true: &Array, on_false: &Array) -> Array {
    bind(Select, &[pred, on_true, on_false])
}
