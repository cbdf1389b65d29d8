//! Rust operators on arrays: `+ - * /` and unary `-` between `Array`, `&Array`
//! and `f64` scalars, with NumPy broadcasting (through [`crate::numpy`]).
//!
//! A scalar takes the dtype of the array it meets, as a Python scalar does in JAX.
//!
//! ```
//! use rjax::Array;
//! let a = Array::from_vec(vec![1.0f32, 2.0], &[2]);
//! let b = Array::from_vec(vec![10.0f32], &[1]);
//! assert_eq!((&a + &b).to_vec::<f32>(), vec![11.0, 12.0]);
//! assert_eq!((2.0 * &a - 1.0).to_vec::<f32>(), vec![1.0, 3.0]);
//! assert_eq!((-a).to_vec::<f32>(), vec![-1.0, -2.0]);
//! ```

use crate::core::Array;
use crate::numpy as jnp;
use std::ops::{Add, Div, Mul, Neg, Sub};

macro_rules! binop {
    ($Trait:ident, $method:ident, $f:path) => {
        impl $Trait<&Array> for &Array {
            type Output = Array;
            #[track_caller]
            fn $method(self, rhs: &Array) -> Array {
                $f(self, rhs)
            }
        }
        impl $Trait<Array> for &Array {
            type Output = Array;
            #[track_caller]
            fn $method(self, rhs: Array) -> Array {
                $f(self, &rhs)
            }
        }
        impl $Trait<&Array> for Array {
            type Output = Array;
            #[track_caller]
            fn $method(self, rhs: &Array) -> Array {
                $f(&self, rhs)
            }
        }
        impl $Trait<Array> for Array {
            type Output = Array;
            #[track_caller]
            fn $method(self, rhs: Array) -> Array {
                $f(&self, &rhs)
            }
        }
        impl $Trait<f64> for &Array {
            type Output = Array;
            #[track_caller]
            fn $method(self, rhs: f64) -> Array {
                $f(self, &jnp::scalar_like(rhs, self))
            }
        }
        impl $Trait<f64> for Array {
            type Output = Array;
            #[track_caller]
            fn $method(self, rhs: f64) -> Array {
                $f(&self, &jnp::scalar_like(rhs, &self))
            }
        }
        impl $Trait<&Array> for f64 {
            type Output = Array;
            #[track_caller]
            fn $method(self, rhs: &Array) -> Array {
                $f(&jnp::scalar_like(self, rhs), rhs)
            }
        }
        impl $Trait<Array> for f64 {
            type Output = Array;
            #[track_caller]
            fn $method(self, rhs: Array) -> Array {
                $f(&jnp::scalar_like(self, &rhs), &rhs)
            }
        }
    };
}

binop!(Add, add, jnp::add);
binop!(Sub, sub, jnp::subtract);
binop!(Mul, mul, jnp::multiply);
binop!(Div, div, jnp::divide);

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
