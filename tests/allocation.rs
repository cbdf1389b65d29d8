//! Arrays too large to exist or to allocate are panics naming the operation,
//! the shape and the bytes, never an abort or an arithmetic overflow; the
//! process goes on computing afterwards. Nothing here allocates more than a
//! few bytes: every check fires before the allocation.

use rjax::core::trace_graph;
use rjax::{Array, Aval, DType, jit, lax, numpy as jnp, random};

mod common;

use common::panics::{Caught, catch};

/// 2^40: two such axes multiply past `usize::MAX`.
const T: usize = 1 << 40;

/// Asserts the message contains every part.
#[track_caller]
fn says(c: &Caught, parts: &[&str]) {
    for p in parts {
        assert!(c.msg.contains(p), "message {:?} lacks {p:?}", c.msg);
    }
}

/// Checks that ordinary computing still works.
#[track_caller]
fn still_computes() {
    let x = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
    assert_eq!((&x * 2.0).to_vec::<f32>(), vec![2.0, 4.0, 6.0]);
    assert_eq!(jnp::sum(&Array::ones(&[4, 5], DType::F32), jnp::ALL, false).item::<f32>(), 20.0);
}

// ---------------------------------------------------------------- shape products that overflow

#[test]
fn constructors_with_overflowing_shapes_panic() {
    let shape = "[1099511627776, 1099511627776] of f32 has about 1.21e24 elements (4.84e24 bytes)";
    says(&catch(|| Array::zeros(&[T, T], DType::F32)), &["zeros: the shape ", shape, "isize::MAX"]);
    says(&catch(|| Array::ones(&[T, T], DType::F32)), &["ones: the shape ", shape]);
    says(&catch(|| Array::full(&[T, T], 2.0, DType::F32)), &["full: the shape ", shape]);
    says(&catch(|| Array::eye(T, DType::F32)), &["eye: the shape [1099511627776, 1099511627776] of f64"]);
    says(&catch(|| Array::arange(0.0, f64::INFINITY, 1.0, DType::F32)), &["arange: the shape [18446744073709551615]"]);
    says(
        &catch(|| Array::from_vec(vec![1.0f32], &[T, T])),
        &["from_vec: 1 values cannot fill shape [1099511627776, 1099511627776] (more than usize::MAX elements)"],
    );
    // more than isize::MAX bytes, though the element count fits in usize
    says(
        &catch(|| Array::zeros(&[1 << 62], DType::F64)),
        &["zeros: the shape [4611686018427387904] of f64 has about 4.61e18 elements (3.69e19 bytes)"],
    );
    still_computes();
}

#[test]
fn reshape_and_broadcast_to_overflowing_shapes_panic() {
    let x = Array::from_vec(vec![1.0f32, 2.0], &[2]);
    says(
        &catch(|| jnp::reshape(&x, &[T as isize, T as isize])),
        &["reshape: cannot reshape [2] (2 elements) into [1099511627776, 1099511627776] (more than usize::MAX"],
    );
    says(&catch(|| jnp::reshape(&x, &[T as isize, T as isize, -1])), &["reshape: cannot reshape [2]"]);
    says(
        &catch(|| lax::reshape(&x, &[T, T])),
        &["reshape: cannot reshape [2] (2 elements) into [1099511627776, 1099511627776] (more than usize::MAX"],
    );
    says(
        &catch(|| jnp::broadcast_to(&Array::scalar(1.0f32), &[T, T])),
        &["broadcast_in_dim: the result shape [1099511627776, 1099511627776] of f32 has about 1.21e24 elements"],
    );
    says(
        &catch(|| lax::iota(&[T, T], 0, DType::I32)),
        &["iota: the result shape [1099511627776, 1099511627776] of i32"],
    );
    let key = random::key(0);
    says(&catch(|| random::normal(&key, &[T, T], DType::F32)), &["the result shape [1099511627776, 1099511627776]"]);
    says(&catch(|| random::split_stack(&key, usize::MAX / 2)), &["split_stack: 9223372036854775807 keys of 8 words"]);
    still_computes();
}

#[test]
fn ops_whose_result_overflows_panic_while_tracing() {
    // abstract inputs hold no data, so they may be as large as arrays can be
    let (a, b) = (Aval::new(&[T, 1], DType::F32), Aval::new(&[1, T], DType::F32));
    let c = catch(|| trace_graph(&[a, b], |x| vec![&x[0] + &x[1]]));
    says(&c, &["the result shape [1099511627776, 1099511627776] of f32 has about 1.21e24 elements"]);
    assert!(c.msg.starts_with("broadcast_in_dim: ") || c.msg.starts_with("add: "), "{}", c.msg);

    // axis sizes that overflow when added up
    let big = Aval::new(&[1 << 62], DType::U8);
    let c =
        catch(|| trace_graph(std::slice::from_ref(&big), |x| vec![jnp::concatenate(&[&x[0], &x[0], &x[0], &x[0]], 0)]));
    says(&c, &["concatenate: axis 0 of the result has more than usize::MAX elements"]);
    let c = catch(|| trace_graph(&[big], |x| vec![lax::pad(&x[0], &Array::scalar(0u8), &[0], &[usize::MAX], &[0])]));
    says(&c, &["pad: padding axis 0 of shape [4611686018427387904]", "more than usize::MAX elements"]);

    // inside jit the panic comes from tracing, before any device is involved
    let f = jit(|x: &Array| jnp::broadcast_to(x, &[T, T]));
    says(
        &catch(|| f.try_call(&Array::scalar(1.0f32))),
        &["broadcast_in_dim: the result shape [1099511627776, 1099511627776]"],
    );
    still_computes();
}

#[test]
fn aval_sizes_are_checked() {
    let huge = Aval::new(&[T, T], DType::F32);
    assert_eq!(huge.checked_size(), None);
    says(&catch(|| huge.size()), &["size: the shape [1099511627776, 1099511627776] has more than usize::MAX elements"]);
    assert_eq!(Aval::new(&[T, T, 0], DType::F32).checked_size(), Some(0));
    assert_eq!(Aval::new(&[T, 4], DType::F64).byte_size(), Ok(T * 32));
}

// ---------------------------------------------------------------- allocations that cannot succeed

/// A petabyte is beyond any 48-bit address space, so the system refuses it
/// whatever its overcommit policy.
const PETA: usize = 1 << 48;

#[test]
fn impossible_allocations_panic_instead_of_aborting() {
    let msg = "cannot allocate 1125899906842624 bytes (1.0 PiB) for f32[281474976710656]: out of memory";
    says(&catch(|| Array::zeros(&[PETA], DType::F32)), &["zeros: ", msg]);
    says(&catch(|| Array::ones(&[PETA], DType::F32)), &["ones: ", msg]);
    says(&catch(|| Array::full(&[PETA], 3.0, DType::F32)), &["full: ", msg]);
    says(&catch(|| Array::linspace(0.0, 1.0, PETA, DType::F32)), &["linspace: cannot allocate 2251799813685248 bytes"]);
    // the built-in backend's kernels: the output is reserved before the kernel runs
    says(&catch(|| jnp::broadcast_to(&Array::scalar(1.0f32), &[PETA])), &["broadcast_in_dim: ", msg]);
    says(&catch(|| lax::iota(&[PETA], 0, DType::F32)), &["iota: ", msg]);
    still_computes();
}

#[test]
fn four_terabytes_of_zeros_panic_under_heuristic_overcommit() {
    // The example. Linux's default overcommit policy (0), and the
    // strict one (2), refuse one allocation larger than the machine's memory
    // and swap; policy 1 grants any address space, so the check cannot fire.
    let policy = std::fs::read_to_string("/proc/sys/vm/overcommit_memory").unwrap_or_default();
    if !matches!(policy.trim(), "0" | "2") {
        eprintln!("skipped: overcommit policy {policy:?}");
        return;
    }
    says(
        &catch(|| Array::zeros(&[T], DType::F32)),
        &["zeros: cannot allocate 4398046511104 bytes (4.0 TiB) for f32[1099511627776]: out of memory"],
    );
    still_computes();
}

// ---------------------------------------------------------------- empty arrays

#[test]
fn empty_arrays_with_large_axes_are_fine() {
    // no elements: nothing to allocate, however large the other axis
    let z = Array::zeros(&[0, 1 << 62], DType::F32);
    assert_eq!((z.shape(), z.size()), (&[0, 1 << 62][..], 0));
    assert_eq!((&z + 1.0).size(), 0);
    assert_eq!(jnp::sum(&z, jnp::ALL, false).item::<f32>(), 0.0);
    assert_eq!(Array::from_vec(Vec::<f32>::new(), &[T, 0]).size(), 0);
    assert_eq!(jnp::reshape(&z, &[1 << 62, 0]).shape(), &[1 << 62, 0]);
    // but the other axes must have representable row-major strides
    says(
        &catch(|| Array::zeros(&[0, T, T], DType::F32)),
        &["zeros: the shape [0, 1099511627776, 1099511627776] of f32 has no elements", "strides"],
    );
    still_computes();
}
