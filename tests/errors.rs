//! Bad input gives clear panics that name the operation and the offending
//! shapes or dtypes, reported at the caller's line.
//! Panics are caught with their location by `common::panics::catch`.

use rjax::{Array, DType, grad, jvp, lax, numpy as jnp, s, tree, value_and_grad, vjp, vmap, vmap_axes};

mod common;

use common::panics::{Caught, catch};
use std::cell::{Cell, RefCell};

/// Asserts the message contains every part.
#[track_caller]
fn says(c: &Caught, parts: &[&str]) {
    for p in parts {
        assert!(c.msg.contains(p), "message {:?} lacks {p:?}", c.msg);
    }
}

/// Collects panics reported away from the caller's line, so that one test
/// lists every miss; fails the test when dropped with misses recorded.
#[derive(Default)]
struct Locs(Vec<String>);

impl Locs {
    /// Checks that the panic was reported at `line` of this file.
    fn at(&mut self, c: &Caught, line: u32) {
        let file = c.file.replace('\\', "/");
        if !file.ends_with("tests/errors.rs") || c.line != line {
            self.0.push(format!("expected tests/errors.rs:{line}, got {file}:{} for {:?}", c.line, c.msg));
        }
    }
}

impl Drop for Locs {
    fn drop(&mut self) {
        if !self.0.is_empty() && !std::thread::panicking() {
            panic!("{} panic(s) not reported at the caller's line:\n  {}", self.0.len(), self.0.join("\n  "));
        }
    }
}

fn f64s(shape: &[usize]) -> Array {
    let n: usize = shape.iter().product();
    Array::from_vec((0..n).map(|i| i as f64).collect::<Vec<_>>(), shape)
}

// ---------------------------------------------------------------- the hook itself

#[test]
fn catch_records_this_file_and_line() {
    let mut locs = Locs::default();
    // guards against a vacuous hook: a plain panic here is located here
    let (c, line) = (catch(|| panic!("boom {}", 7)), line!());
    assert_eq!(c.msg, "boom 7");
    locs.at(&c, line);
}

// ---------------------------------------------------------------- shapes and dtypes

#[test]
fn operator_shape_mismatch_names_op_and_both_shapes() {
    let mut locs = Locs::default();
    let (a, b) = (f64s(&[3, 4]), f64s(&[5, 6]));
    let (c, line) = (catch(|| &a + &b), line!());
    says(&c, &["add", "[3, 4]", "[5, 6]"]);
    assert!(c.msg.starts_with("add:"), "{:?}", c.msg);
    locs.at(&c, line);
    let (c, line) = (catch(|| &a * &b), line!());
    says(&c, &["multiply", "[3, 4]", "[5, 6]"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| a.clone() - b.clone()), line!());
    says(&c, &["subtract", "[3, 4]", "[5, 6]"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| &a / b.clone()), line!());
    says(&c, &["divide", "[3, 4]", "[5, 6]"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| jnp::maximum(&a, &b)), line!());
    says(&c, &["maximum", "[3, 4]", "[5, 6]"]);
    locs.at(&c, line);
}

#[test]
fn matmul_misalignment() {
    let mut locs = Locs::default();
    let (a, b) = (f64s(&[3, 4]), f64s(&[5, 6]));
    let (c, line) = (catch(|| jnp::matmul(&a, &b)), line!());
    assert_eq!(c.msg, "matmul: shapes [3, 4] and [5, 6] do not align (4 != 5)");
    locs.at(&c, line);
    let (c, line) = (catch(|| a.matmul(&b)), line!());
    says(&c, &["matmul", "[3, 4]", "[5, 6]", "4 != 5"]);
    locs.at(&c, line);
    let v = f64s(&[5]);
    let (c, line) = (catch(|| jnp::matmul(&a, &v)), line!());
    says(&c, &["matmul", "[3, 4]", "[5]", "4 != 5"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| jnp::dot(&a, &b)), line!());
    says(&c, &["dot", "[3, 4]", "[5, 6]"]);
    locs.at(&c, line);
    let dims = lax::DotDims { lhs_contract: vec![1], rhs_contract: vec![0], lhs_batch: vec![], rhs_batch: vec![] };
    let (c, line) = (catch(|| lax::dot_general(&a, &b, &dims)), line!());
    says(&c, &["dot_general", "[3, 4]", "[5, 6]", "4 != 5"]);
    locs.at(&c, line);
}

#[test]
fn dtype_mismatch_names_both_dtypes() {
    let mut locs = Locs::default();
    let a = Array::from_vec(vec![1.0f32, 2.0], &[2]);
    let b = Array::from_vec(vec![1.0f64, 2.0], &[2]);
    // the NumPy layer promotes, as JAX does; lax takes equal dtypes only
    assert_eq!((&a + &b).dtype(), DType::F64);
    let (c, line) = (catch(|| lax::mul(&a, &b)), line!());
    says(&c, &["mul", "f32", "f64"]);
    locs.at(&c, line);
    let m = Array::from_vec(vec![1.0f32; 4], &[2, 2]);
    let n = Array::from_vec(vec![1.0f64; 4], &[2, 2]);
    assert_eq!(jnp::matmul(&m, &n).dtype(), DType::F64);
    let dims = lax::DotDims { lhs_contract: vec![1], rhs_contract: vec![0], lhs_batch: vec![], rhs_batch: vec![] };
    let (c, line) = (catch(|| lax::dot_general(&m, &n, &dims)), line!());
    says(&c, &["dot_general", "f32", "f64"]);
    locs.at(&c, line);
    let i = Array::from_vec(vec![1i32, 2], &[2]);
    assert_eq!(jnp::exp(&i).dtype(), DType::F32);
    let (c, line) = (catch(|| lax::exp(&i)), line!());
    says(&c, &["exp", "floating-point", "i32[2]"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| jnp::bitwise_and(&a, 1)), line!());
    says(&c, &["and", "bool or integer", "f32[2]"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| a.to_vec::<f64>()), line!());
    says(&c, &["to_vec", "f32", "f64"]);
    locs.at(&c, line);
}

#[test]
fn reshape_to_incompatible_size() {
    let mut locs = Locs::default();
    let x = f64s(&[2, 3]);
    let (c, line) = (catch(|| jnp::reshape(&x, &[4, 2])), line!());
    says(&c, &["reshape", "[2, 3]", "[4, 2]", "6"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| x.reshape(&[-1, 4])), line!());
    says(&c, &["reshape", "[2, 3]", "[-1, 4]"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| lax::reshape(&x, &[5])), line!());
    says(&c, &["reshape", "[2, 3]", "[5]"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| jnp::reshape(&x, &[-1, -1])), line!());
    says(&c, &["reshape", "-1"]);
    locs.at(&c, line);
}

#[test]
fn axis_out_of_range() {
    let mut locs = Locs::default();
    let x = f64s(&[2, 3]);
    let (c, line) = (catch(|| jnp::sum(&x, 2, false)), line!());
    says(&c, &["sum", "axis 2", "out of range", "2 dimensions"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| jnp::mean(&x, -3, true)), line!());
    says(&c, &["mean", "axis -3", "out of range"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| jnp::sum(&x, [0, 0], false)), line!());
    says(&c, &["sum", "repeated"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| lax::reduce_sum(&x, &[3])), line!());
    says(&c, &["reduce_sum", "axis 3", "out of range", "[2, 3]"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| jnp::squeeze(&x, &[4])), line!());
    says(&c, &["squeeze", "axis 4", "out of range"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| jnp::moveaxis(&x, 0, 2)), line!());
    says(&c, &["moveaxis", "axis 2", "out of range"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| jnp::argmax(&x, -3)), line!());
    says(&c, &["argmax", "axis -3", "out of range"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| jnp::softmax(&x, 5)), line!());
    says(&c, &["axis 5", "out of range"]);
    locs.at(&c, line);
}

#[test]
fn index_out_of_range() {
    let mut locs = Locs::default();
    let x = f64s(&[3, 4]);
    let (c, line) = (catch(|| jnp::index(&x, s![5])), line!());
    says(&c, &["index", "5", "out of range", "axis 0", "size 3", "[3, 4]"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| x.at(s![0, -5])), line!());
    says(&c, &["index", "-5", "out of range", "axis 1", "size 4"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| x.at(s![0, 1, 2])), line!());
    says(&c, &["index", "3 indices", "[3, 4]"]);
    locs.at(&c, line);
}

#[test]
fn other_shape_errors_at_caller() {
    let mut locs = Locs::default();
    let (a, b) = (f64s(&[2, 3]), f64s(&[3, 3]));
    let (c, line) = (catch(|| jnp::concatenate(&[&a, &b], 1)), line!());
    says(&c, &["concatenate", "f64[2,3]", "f64[3,3]"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| jnp::broadcast_to(&a, &[4, 2])), line!());
    says(&c, &["broadcast_to", "[2, 3]", "[4, 2]"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| lax::select(&a, &a, &a)), line!());
    says(&c, &["select", "bool", "f64[2,3]"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| lax::add(&a, &b)), line!());
    says(&c, &["add", "[2, 3]", "[3, 3]"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| lax::transpose(&a, &[0, 0])), line!());
    says(&c, &["transpose"]);
    locs.at(&c, line);
    let cond = Array::from_vec(vec![true, false, true, false], &[4]);
    let (c, line) = (catch(|| jnp::where_(&cond, &a, &a)), line!());
    says(&c, &["where_", "[4]", "[2, 3]"]);
    locs.at(&c, line);
    let (p, q) = (f64s(&[2, 3, 4]), f64s(&[5, 4, 6]));
    let (c, line) = (catch(|| jnp::matmul(&p, &q)), line!());
    says(&c, &["matmul", "batch", "[2, 3, 4]", "[5, 4, 6]"]);
    locs.at(&c, line);
    let idx = Array::from_vec(vec![0i32; 4], &[4, 1]);
    let (c, line) = (catch(|| jnp::take_along_axis(&a, &idx, 1)), line!());
    says(&c, &["take_along_axis", "[2, 3]", "[4, 1]"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| jnp::concatenate(&[], 0)), line!());
    says(&c, &["concatenate", "at least one"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| Array::from_vec(vec![1.0f64, 2.0, 3.0], &[2, 2])), line!());
    says(&c, &["from_vec", "3 values", "[2, 2]"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| a.item::<f64>()), line!());
    says(&c, &["item", "[2, 3]"]);
    locs.at(&c, line);
}

#[test]
fn shape_error_inside_a_transformation_points_into_the_closure() {
    let mut locs = Locs::default();
    let bias = f64s(&[4]);
    let x = f64s(&[3]);
    let c = catch(|| {
        grad(|x: &Array| {
            let line = line!() + 2;
            LINE.with(|l| l.set(line));
            (x + &bias).sum()
        })(&x)
    });
    says(&c, &["add", "[3]", "[4]"]);
    locs.at(&c, LINE.with(|l| l.get()));
    let c = catch(|| {
        vmap(|r: &Array| {
            let line = line!() + 2;
            LINE.with(|l| l.set(line));
            jnp::matmul(r, &bias)
        })(&f64s(&[2, 3]))
    });
    assert_eq!(c.msg, "matmul: shapes [3] and [4] do not align (3 != 4)");
    locs.at(&c, LINE.with(|l| l.get()));
}

thread_local! {
    static LINE: Cell<u32> = const { Cell::new(0) };
}

// ---------------------------------------------------------------- transformations

#[test]
fn grad_of_non_scalar_output() {
    let x = f64s(&[3]);
    let c = catch(|| grad(|x: &Array| x * 2.0)(&x));
    says(&c, &["grad", "scalar", "f64[3]"]);
    let c = catch(|| value_and_grad(|x: &Array| x * 2.0)(&x));
    says(&c, &["value_and_grad", "scalar"]);
    // an integer scalar is not a differentiable loss either
    let c = catch(|| grad(|x: &Array| jnp::argmax(x, 0))(&x));
    says(&c, &["grad", "floating-point", "scalar", "i32[]"]);
}

#[test]
fn grad_with_integer_input_leaf() {
    let i = Array::from_vec(vec![1i32, 2, 3], &[3]);
    let c = catch(|| grad(|x: &Array| x.sum().astype(DType::F64))(&i));
    says(&c, &["grad", "floating-point", "i32[3]"]);
    let c = catch(|| grad(|(a, b): &(Array, Array)| (a * b.astype(DType::F64)).sum())(&(f64s(&[3]), i.clone())));
    says(&c, &["grad", "leaf 1", "floating-point", "i32[3]"]);
    let c = catch(|| vjp(|x: &Array| x.clone(), &i));
    says(&c, &["vjp", "floating-point", "i32[3]"]);
}

#[test]
fn reading_a_traced_value_explains_it_is_abstract() {
    let mut locs = Locs::default();
    let x = f64s(&[3]);
    let (c, line) = (catch(|| grad(|x: &Array| Array::scalar(x.to_vec::<f64>()[0]))(&x)), line!());
    says(&c, &["to_vec", "abstract", "f64[3]", "traced"]);
    locs.at(&c, line);
    let (c, line) = (catch(|| vmap(|x: &Array| Array::scalar(x.item::<f64>()))(&x)), line!());
    says(&c, &["abstract", "f64[]"]);
    locs.at(&c, line);
    // the trace stack is clean afterwards: arithmetic is concrete again
    let y = &x + &x;
    assert!(y.is_concrete());
    assert_eq!(y.to_vec::<f64>(), vec![0.0, 2.0, 4.0]);
}

#[test]
fn escaped_tracer_is_reported() {
    let mut locs = Locs::default();
    let stash: RefCell<Option<Array>> = RefCell::new(None);
    let _ = grad(|x: &Array| {
        *stash.borrow_mut() = Some(x.clone());
        x * x
    })(&Array::scalar(1.0f64));
    let leaked = stash.borrow().clone().expect("stored");
    assert!(!leaked.is_concrete());
    let (c, line) = (catch(|| &leaked + 1.0), line!());
    says(&c, &["abstract", "already finished", "escaped"]);
    locs.at(&c, line);
    // used inside a later, unrelated transformation it is also caught
    let c = catch(|| grad(|y: &Array| y * &leaked)(&Array::scalar(2.0f64)));
    says(&c, &["already finished"]);
}

#[test]
fn panics_inside_nested_transformations_leave_no_trace_behind() {
    let x = f64s(&[2, 3]);
    let c = catch(|| vmap(|r: &Array| grad(|y: &Array| jnp::sum(y, 3, false))(r))(&x));
    says(&c, &["sum", "axis 3", "out of range"]);
    // afterwards, the same transformations work and ops are concrete
    let g = vmap(|r: &Array| grad(|y: &Array| (y * y).sum())(r))(&x);
    assert_eq!(g.to_vec::<f64>(), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
    assert!((&x * 2.0).is_concrete());
}

#[test]
fn bad_tangents_cotangents_and_vmap_axes() {
    let mut locs = Locs::default();
    let x = f64s(&[3]);
    let (c, line) = (catch(|| jvp(|x: &Array| x * 2.0, &x, &f64s(&[2]))), line!());
    says(&c, &["jvp", "tangent", "f64[2]", "f64[3]"]);
    locs.at(&c, line);
    let c = catch(|| jvp(|p: &Vec<Array>| p[0].clone(), &vec![x.clone()], &vec![x.clone(), x.clone()]));
    says(&c, &["jvp", "structure"]);
    let (_, pullback) = vjp(|x: &Array| x * 2.0, &x);
    let c = catch(|| pullback(&f64s(&[4])));
    says(&c, &["vjp", "cotangent", "f64[4]", "f64[3]"]);
    let c = catch(|| vmap(|(a, b): &(Array, Array)| a + b)(&(f64s(&[3]), f64s(&[4]))));
    says(&c, &["vmap", "sizes", "3", "4"]);
    let c = catch(|| vmap_axes(|x: &Array| x * 2.0, 1, 0)(&x));
    says(&c, &["vmap", "axis 1", "out of range"]);
    let c = catch(|| vmap_axes(|(a, b): &(Array, Array)| a + b, vec![None, None], 0)(&(x.clone(), x.clone())));
    says(&c, &["vmap", "no input is mapped"]);
    let c = catch(|| vmap_axes(|x: &Array| x * 2.0, vec![Some(0), Some(0)], 0)(&x));
    says(&c, &["vmap", "in_axes", "2", "1"]);
    let c = catch(|| vmap_axes(|x: &Array| x * 2.0, 0, None::<isize>)(&x));
    says(&c, &["vmap", "out_axes", "None"]);
}

// ---------------------------------------------------------------- trees

#[test]
fn tree_map2_on_mismatched_structures_is_err() {
    let a = vec![Array::scalar(1.0f64), Array::scalar(2.0f64)];
    let b = vec![Array::scalar(1.0f64)];
    let e = tree::map2(&a, &b, |x, y| x + y).expect_err("different lengths");
    assert!(e.0.contains("map2") && e.0.contains("structure"), "{e}");
    let ok = tree::map2(&a, &a, |x, y| x + y).expect("same structure");
    assert_eq!(ok[1].item::<f64>(), 4.0);
    // same number of leaves, different nesting
    let p = (Array::scalar(1.0f64), vec![Array::scalar(2.0f64)]);
    let q = (Array::scalar(1.0f64), vec![]);
    assert!(tree::map2(&p, &q, |x, y| x + y).is_err());
    // maps with different keys
    let mut m1 = std::collections::BTreeMap::new();
    m1.insert("w".to_string(), Array::scalar(1.0f64));
    let mut m2 = std::collections::BTreeMap::new();
    m2.insert("b".to_string(), Array::scalar(1.0f64));
    let e = tree::map2(&m1, &m2, |x, y| x + y).expect_err("different keys");
    assert!(e.to_string().contains('w') && e.to_string().contains('b'), "{e}");
    // unflatten with the wrong number of leaves
    let e = tree::unflatten(&a, vec![Array::scalar(0.0f64)]).expect_err("too few");
    assert!(e.0.contains("2") && e.0.contains("1"), "{e}");
}
