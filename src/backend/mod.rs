//! Backends that evaluate primitives. `cpu` is built in and always present.

pub mod cpu;
pub mod pjrt;
pub mod stablehlo;
