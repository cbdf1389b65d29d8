//! The primitive operations, as in `jax.lax`: no broadcasting, no dtype
//! promotion, every function applies exactly one primitive.
//!
//! ```
//! use rjax::{lax, Array};
//! let x = Array::from_vec(vec![1.0f32, 2.0], &[2]);
//! let y = lax::mul(&x, &lax::exp(&x));
//! assert_eq!(y.shape(), &[2]);
//! ```

pub use crate::control::*;
pub use crate::device::sharding::with_sharding_constraint;
pub use crate::primitives::binary::*;
pub use crate::primitives::collective::*;
pub use crate::primitives::dot::*;
pub use crate::primitives::indexing::*;
pub use crate::primitives::random_bits::*;
pub use crate::primitives::reduce::*;
pub use crate::primitives::structure::*;
pub use crate::primitives::unary::*;
