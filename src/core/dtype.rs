//! Element types and the host storage behind a concrete [`Array`](crate::Array).

use ndarray::ArrayD;
use std::fmt;

/// The element type of an array.
///
/// ```
/// use rjax::{Array, DType};
/// assert_eq!(Array::from_vec(vec![1.0f32, 2.0], &[2]).dtype(), DType::F32);
/// assert!(DType::F64.is_float() && !DType::I32.is_float());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// 32-bit signed integer.
    I32,
    /// 32-bit unsigned integer.
    U32,
    /// 8-bit unsigned integer.
    U8,
    /// Boolean.
    Bool,
}

impl DType {
    /// True for f32 and f64, the types that carry gradients.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }
    /// True for the integer types (signed and unsigned).
    pub fn is_int(self) -> bool {
        matches!(self, DType::I32 | DType::U32 | DType::U8)
    }
    /// Size of one element in bytes.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F64 => 8,
            DType::F32 | DType::I32 | DType::U32 => 4,
            DType::U8 | DType::Bool => 1,
        }
    }
    /// The short name used in printed graphs, e.g. `f32`.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::I32 => "i32",
            DType::U32 => "u32",
            DType::U8 => "u8",
            DType::Bool => "bool",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The host storage of a concrete array: one `ndarray` array per element type.
#[derive(Clone, Debug, PartialEq)]
pub enum HostData {
    /// f32 values.
    F32(ArrayD<f32>),
    /// f64 values.
    F64(ArrayD<f64>),
    /// i32 values.
    I32(ArrayD<i32>),
    /// u32 values.
    U32(ArrayD<u32>),
    /// u8 values.
    U8(ArrayD<u8>),
    /// bool values.
    Bool(ArrayD<bool>),
}

/// Applies `$body` to the ndarray inside a [`HostData`], whatever its type, and
/// wraps the result back into the same variant.
#[macro_export]
#[doc(hidden)]
macro_rules! map_host {
    ($x:expr, |$a:ident| $body:expr) => {
        match $x {
            $crate::HostData::F32($a) => $crate::HostData::F32($body),
            $crate::HostData::F64($a) => $crate::HostData::F64($body),
            $crate::HostData::I32($a) => $crate::HostData::I32($body),
            $crate::HostData::U32($a) => $crate::HostData::U32($body),
            $crate::HostData::U8($a) => $crate::HostData::U8($body),
            $crate::HostData::Bool($a) => $crate::HostData::Bool($body),
        }
    };
}

/// Like [`map_host!`] but the body returns a plain value instead of an array.
#[macro_export]
#[doc(hidden)]
macro_rules! with_host {
    ($x:expr, |$a:ident| $body:expr) => {
        match $x {
            $crate::HostData::F32($a) => $body,
            $crate::HostData::F64($a) => $body,
            $crate::HostData::I32($a) => $body,
            $crate::HostData::U32($a) => $body,
            $crate::HostData::U8($a) => $body,
            $crate::HostData::Bool($a) => $body,
        }
    };
}

impl HostData {
    /// The element type held.
    pub fn dtype(&self) -> DType {
        match self {
            HostData::F32(_) => DType::F32,
            HostData::F64(_) => DType::F64,
            HostData::I32(_) => DType::I32,
            HostData::U32(_) => DType::U32,
            HostData::U8(_) => DType::U8,
            HostData::Bool(_) => DType::Bool,
        }
    }
    /// The shape held.
    pub fn shape(&self) -> &[usize] {
        with_host!(self, |a| a.shape())
    }
    /// The same values laid out contiguously in row-major order.
    pub fn into_standard(self) -> HostData {
        map_host!(self, |a| if a.is_standard_layout() { a } else { a.as_standard_layout().into_owned() })
    }
}

/// A Rust scalar type that an [`Array`](crate::Array) can hold.
///
/// ```
/// use rjax::{DType, Element};
/// assert_eq!(<f64 as Element>::DTYPE, DType::F64);
/// assert_eq!(<u8 as Element>::from_f64(3.0), 3u8);
/// ```
pub trait Element: Copy + Send + Sync + fmt::Debug + PartialOrd + 'static {
    /// The dtype of this Rust type.
    const DTYPE: DType;
    /// Wraps an ndarray of this type.
    fn wrap(a: ArrayD<Self>) -> HostData;
    /// Borrows the ndarray if the data has this type.
    fn view(h: &HostData) -> Option<&ArrayD<Self>>;
    /// Converts to f64 (lossless for every supported type but u32 > 2^53, which cannot occur).
    fn to_f64(self) -> f64;
    /// Converts from f64 as Rust's `as` does (saturating for integers).
    fn from_f64(v: f64) -> Self;
}

macro_rules! element {
    ($t:ty, $variant:ident, $to:expr, $from:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            fn wrap(a: ArrayD<Self>) -> HostData {
                HostData::$variant(a)
            }
            fn view(h: &HostData) -> Option<&ArrayD<Self>> {
                match h {
                    HostData::$variant(a) => Some(a),
                    _ => None,
                }
            }
            fn to_f64(self) -> f64 {
                ($to)(self)
            }
            fn from_f64(v: f64) -> Self {
                ($from)(v)
            }
        }
    };
}

element!(f32, F32, |x: f32| x as f64, |v: f64| v as f32);
element!(f64, F64, |x: f64| x, |v: f64| v);
element!(i32, I32, |x: i32| x as f64, |v: f64| v as i32);
element!(u32, U32, |x: u32| x as f64, |v: f64| v as u32);
element!(u8, U8, |x: u8| x as f64, |v: f64| v as u8);
element!(bool, Bool, |x: bool| if x { 1.0 } else { 0.0 }, |v: f64| v != 0.0);

/// The dtype two arrays of `a` and `b` are converted to before they meet
/// (JAX's `jnp.promote_types`, on rjax's dtypes).
///
/// It follows JAX's promotion lattice: `bool < u8 < u32`, `u8 < i32`, every
/// integer `< f32 < f64`. Where JAX with 64-bit types enabled answers `i64`
/// (`u32` with `i32`), rjax, which has no 64-bit integers, answers `i32` as JAX
/// does in its default 32-bit mode (docs/jax_differences.md).
///
/// ```
/// use rjax::{DType, promote_types};
/// assert_eq!(promote_types(DType::I32, DType::F32), DType::F32);
/// assert_eq!(promote_types(DType::U8, DType::I32), DType::I32);
/// assert_eq!(promote_types(DType::Bool, DType::U8), DType::U8);
/// assert_eq!(promote_types(DType::F32, DType::F64), DType::F64);
/// ```
pub fn promote_types(a: DType, b: DType) -> DType {
    use DType::*;
    if a == b {
        return a;
    }
    match (a, b) {
        (Bool, x) | (x, Bool) => x,
        (F64, _) | (_, F64) => F64,
        (F32, _) | (_, F32) => F32,
        (U8, U32) | (U32, U8) => U32,
        // u8 with i32, and u32 with i32 (JAX's i64 in 64-bit mode, i32 by default)
        _ => I32,
    }
}
