//! Elementwise functions of two operands, with JAX's promotion and NumPy's
//! broadcasting: arithmetic, maximum/minimum, comparisons, logical and bitwise
//! operations, shifts. Each takes arrays or plain numbers ([`ArrayLike`]).
//! Division, remainder and powers are in the `division` module.

use super::{ArrayLike, promote_args, to_bool};
use crate::core::{Array, DType};
use crate::lax;

macro_rules! binary {
    ($($(#[$doc:meta])* $f:ident => |$a:ident, $b:ident| $body:expr;)*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $f(a: impl ArrayLike, b: impl ArrayLike) -> Array {
            let (ref $a, ref $b) = promote_args(stringify!($f), a, b);
            $body
        }
    )*};
}

/// True when both (already promoted) operands are bool.
fn is_bool(a: &Array) -> bool {
    a.dtype() == DType::Bool
}

binary! {
    /// `a + b` with promotion and broadcasting (logical or for two bools, as JAX).
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert_eq!(jnp::add(&Array::scalar(1.0f32), &Array::scalar(2.0f32)).item::<f32>(), 3.0);
    /// assert_eq!(jnp::add(&Array::scalar(1i32), 0.5).item::<f32>(), 1.5);
    /// ```
    add => |a, b| if is_bool(a) { lax::or(a, b) } else { lax::add(a, b) };
    /// `a - b` with promotion and broadcasting.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert_eq!(jnp::subtract(&Array::scalar(1.0f32), &Array::scalar(2.0f32)).item::<f32>(), -1.0);
    /// ```
    subtract => |a, b| lax::sub(a, b);
    /// `a * b` with promotion and broadcasting (logical and for two bools, as JAX).
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert_eq!(jnp::multiply(&Array::scalar(3.0f32), 2).item::<f32>(), 6.0);
    /// ```
    multiply => |a, b| if is_bool(a) { lax::and(a, b) } else { lax::mul(a, b) };
    /// Elementwise maximum; NaN wins (propagates), as in JAX.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert_eq!(jnp::maximum(&Array::scalar(1.0f32), 2.0).item::<f32>(), 2.0);
    /// assert!(jnp::maximum(&Array::scalar(f32::NAN), 2.0).item::<f32>().is_nan());
    /// ```
    maximum => |a, b| if is_bool(a) { lax::or(a, b) } else { lax::max(a, b) };
    /// Elementwise minimum; NaN wins (propagates), as in JAX.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert_eq!(jnp::minimum(&Array::scalar(1.0f32), 0.5).item::<f32>(), 0.5);
    /// ```
    minimum => |a, b| if is_bool(a) { lax::and(a, b) } else { lax::min(a, b) };
    /// `a == b` (after promotion: `i32` 1 equals 1.0).
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert!(jnp::equal(&Array::scalar(1i32), 1.0).item::<bool>());
    /// ```
    equal => |a, b| lax::eq(a, b);
    /// `a != b`.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert!(jnp::not_equal(&Array::scalar(1i32), 2).item::<bool>());
    /// ```
    not_equal => |a, b| lax::ne(a, b);
    /// `a < b` (after promotion: `i32` 0 is less than 0.5).
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert!(jnp::less(&Array::scalar(0i32), 0.5).item::<bool>());
    /// ```
    less => |a, b| lax::lt(a, b);
    /// `a <= b`.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert!(jnp::less_equal(&Array::scalar(2i32), &Array::scalar(2i32)).item::<bool>());
    /// ```
    less_equal => |a, b| lax::le(a, b);
    /// `a > b`.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert!(jnp::greater(&Array::scalar(3i32), 2).item::<bool>());
    /// ```
    greater => |a, b| lax::gt(a, b);
    /// `a >= b`.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert!(jnp::greater_equal(&Array::scalar(2i32), &Array::scalar(2i32)).item::<bool>());
    /// ```
    greater_equal => |a, b| lax::ge(a, b);
    /// Bitwise and of integers (logical and of bools).
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert_eq!(jnp::bitwise_and(&Array::scalar(6u32), 3).item::<u32>(), 2);
    /// ```
    bitwise_and => |a, b| lax::and(a, b);
    /// Bitwise or of integers (logical or of bools).
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert_eq!(jnp::bitwise_or(&Array::scalar(6u32), 3).item::<u32>(), 7);
    /// ```
    bitwise_or => |a, b| lax::or(a, b);
    /// Bitwise xor of integers (logical xor of bools).
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert_eq!(jnp::bitwise_xor(&Array::scalar(6u32), 3).item::<u32>(), 5);
    /// ```
    bitwise_xor => |a, b| lax::xor(a, b);
    /// `a << b` for integers; bits shifted out are lost, and a shift by the bit
    /// width or more (or by a negative amount) gives 0, as in JAX.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert_eq!(jnp::left_shift(&Array::scalar(1i32), 4).item::<i32>(), 16);
    /// assert_eq!(jnp::left_shift(&Array::scalar(1i32), 32).item::<i32>(), 0);
    /// ```
    left_shift => |a, b| lax::shift_left(a, b);
    /// `a >> b` for integers: arithmetic (sign-filling) for signed types, logical
    /// for unsigned ones, as JAX's `right_shift`; a shift by the bit width or
    /// more (or a negative one) gives 0, or -1 for a negative signed `a`.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert_eq!(jnp::right_shift(&Array::scalar(-8i32), 1).item::<i32>(), -4);
    /// assert_eq!(jnp::right_shift(&Array::scalar(8u32), 33).item::<u32>(), 0);
    /// ```
    right_shift => |a, b| if a.dtype() == DType::I32 { lax::shift_right_arithmetic(a, b) } else { lax::shift_right_logical(a, b) };
}

macro_rules! logical {
    ($($(#[$doc:meta])* $f:ident => $g:path;)*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $f(a: impl ArrayLike, b: impl ArrayLike) -> Array {
            let (a, b) = (super::asarray(a), super::asarray(b));
            let (a, b) = super::broadcast_arrays(stringify!($f), &to_bool(&a), &to_bool(&b));
            $g(&a, &b)
        }
    )*};
}

logical! {
    /// Logical and; numbers are true where non-zero.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert!(!jnp::logical_and(&Array::scalar(true), false).item::<bool>());
    /// assert!(jnp::logical_and(&Array::scalar(2i32), 0.5).item::<bool>());
    /// ```
    logical_and => lax::and;
    /// Logical or; numbers are true where non-zero.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert!(jnp::logical_or(&Array::scalar(true), false).item::<bool>());
    /// ```
    logical_or => lax::or;
    /// Logical xor; numbers are true where non-zero.
    ///
    /// ```
    /// use rjax::{numpy as jnp, Array};
    /// assert!(jnp::logical_xor(&Array::scalar(true), false).item::<bool>());
    /// ```
    logical_xor => lax::xor;
}
