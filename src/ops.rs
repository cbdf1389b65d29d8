//! Rust operators on arrays: `+ - * / %` and unary `-` between `Array`, `&Array`
//! and plain numbers, with NumPy broadcasting and JAX's type promotion (through
//! [`crate::numpy`]). As in JAX, `/` is true division (integers give `f32`) and
//! `%` has the sign of the divisor (Python's `%`).
//!
//! A number is weakly typed, as a Python scalar is in JAX: a float meeting a
//! float array takes its dtype, and meeting an integer array makes the result
//! `f32`; an integer takes the dtype of the array (see [`crate::numpy::ArrayLike`]).
//!
//! ```
//! use rjax::Array;
//! let a = Array::from_vec(vec![1.0f32, 2.0], &[2]);
//! let b = Array::from_vec(vec![10.0f32], &[1]);
//! assert_eq!((&a + &b).to_vec::<f32>(), vec![11.0, 12.0]);
//! assert_eq!((2.0 * &a - 1.0).to_vec::<f32>(), vec![1.0, 3.0]);
//! assert_eq!((-a).to_vec::<f32>(), vec![-1.0, -2.0]);
//! let i = Array::from_vec(vec![0i32, 1, 2, 3], &[4]);
//! assert_eq!((&i * 0.5).to_vec::<f32>(), vec![0.0, 0.5, 1.0, 1.5]);
//! assert_eq!((&i - 5).to_vec::<i32>(), vec![-5, -4, -3, -2]);
//! assert_eq!((&i % -3).to_vec::<i32>(), vec![0, -2, -1, 0]);
//! ```

use crate::core::Array;
use crate::numpy as jnp;
use crate::numpy::ArrayLike;
use std::ops::{Add, Div, Mul, Neg, Rem, Sub};

macro_rules! binop {
    ($Trait:ident, $method:ident, $f:path) => {
        impl<T: ArrayLike> $Trait<T> for &Array {
            type Output = Array;
            #[track_caller]
            fn $method(self, rhs: T) -> Array {
                $f(self, rhs)
            }
        }
        impl<T: ArrayLike> $Trait<T> for Array {
            type Output = Array;
            #[track_caller]
            fn $method(self, rhs: T) -> Array {
                $f(self, rhs)
            }
        }
        // one float and one integer type on the left, so that literals infer
        binop!(@scalar $Trait, $method, $f, f64, i32);
    };
    (@scalar $Trait:ident, $method:ident, $f:path, $($t:ty),*) => {$(
        impl $Trait<&Array> for $t {
            type Output = Array;
            #[track_caller]
            fn $method(self, rhs: &Array) -> Array {
                $f(self, rhs)
            }
        }
        impl $Trait<Array> for $t {
            type Output = Array;
            #[track_caller]
            fn $method(self, rhs: Array) -> Array {
                $f(self, rhs)
            }
        }
    )*};
}

binop!(Add, add, jnp::add);
binop!(Sub, sub, jnp::subtract);
binop!(Mul, mul, jnp::multiply);
binop!(Div, div, jnp::divide);
binop!(Rem, rem, jnp::remainder);

impl Neg for &Array {
    type Output = Array;
    #[track_caller]
    fn neg(self) -> Array {
        crate::lax::neg(self)
    }
}

impl Neg for Array {
    type Output = Array;
    #[track_caller]
    fn neg(self) -> Array {
        crate::lax::neg(&self)
    }
}
