//! Lowering to StableHLO text, checked without XLA: for graphs using every
//! primitive (and the gradient of an MLP loss), `lower_graph` succeeds, the
//! text has balanced brackets, every SSA name is defined once before use, the
//! operand types written in each operation are those of the values used, the
//! signature of `@main` matches the graph, and the expected operations appear.
//!
//! Numerical check (optional, a development aid): with
//! `RJAX_STABLEHLO_DUMP=/some/dir`, every case also writes its module, its
//! arguments (captures, then inputs) and the CPU backend's outputs as `.npy`
//! files, which `scripts/check_stablehlo.py` compiles and runs with XLA (from
//! a Python `jax` installation) and compares.
//!
//! The elementwise primitives come from the catalogue (tests/common/catalogue.rs),
//! on every dtype they accept; `every_primitive_is_covered` checks that the
//! others have their dedicated cases here.

#[path = "stablehlo_text/check.rs"]
mod check;
mod common;

use check::{Tol, check_module, dump};
use common::catalogue::{self, Apply, Domain, Entry, File};
use rjax::backend::stablehlo::{Lowered, lower_graph, tensor_type};
use rjax::lax::{self, DotDims};
use rjax::{Array, DType, Graph, grad, make_graph, numpy as jnp, random, value_and_grad, vmap};

/// Traces `f` on `args` (a list of arrays) into a graph.
fn graph_of(args: &[Array], f: &dyn Fn(&[Array]) -> Vec<Array>) -> Graph {
    make_graph(|xs: &Vec<Array>| f(xs))(&args.to_vec())
}

/// Lowers `f` traced at `args`, checks the text, looks for `ops`, and dumps
/// the case when asked to.
fn case(name: &str, args: &[Array], tol: Tol, ops: &[&str], f: impl Fn(&[Array]) -> Vec<Array>) -> Lowered {
    let g = graph_of(args, &f);
    case_graph(name, &g, args, tol, ops)
}

fn case_graph(name: &str, g: &Graph, args: &[Array], tol: Tol, ops: &[&str]) -> Lowered {
    let l = lower_graph(g).unwrap_or_else(|e| panic!("{name}: {e}\n{g}"));
    if let Err(msg) = check_module(&l, g) {
        panic!("{name}: {msg}\n{}", l.text);
    }
    for op in ops {
        assert!(l.text.contains(&format!("\"{op}\"")), "{name}: no {op} in\n{}", l.text);
    }
    dump(name, &l, g, args, tol);
    l
}

// ---------------------------------------------------------------- inputs

fn f32s(v: &[f64]) -> Array {
    Array::from_vec(v.iter().map(|&x| x as f32).collect::<Vec<f32>>(), &[v.len()])
}
fn f64s(v: &[f64]) -> Array {
    Array::from_vec(v.to_vec(), &[v.len()])
}
/// `n` values spread over `[lo, hi]` in a fixed pseudo-random order.
fn spread(n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n).map(|i| lo + (hi - lo) * ((i * 7919 % n) as f64 / (n - 1).max(1) as f64)).collect()
}
fn float_specials() -> Vec<f64> {
    vec![0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.5, 1e-30, -1e-30, 1e30, f64::INFINITY, f64::NEG_INFINITY, f64::NAN]
}
fn both(v: &[f64]) -> [(String, Array); 2] {
    [("f32".to_string(), f32s(v)), ("f64".to_string(), f64s(v))]
}

// ---------------------------------------------------------------- cases

/// Edge values of each dtype for the operands of elementwise primitives:
/// (first operand, second operand), equal lengths. Floats mix a spread with
/// NaN, infinities, signed zeros and ties; integers their extremes, zero
/// divisors and shifts past the bit width; comparisons' cases are appended.
fn edge_pairs(dt: DType) -> (Array, Array) {
    match dt {
        DType::F32 | DType::F64 => {
            let mut a = spread(60, -4.0, 4.0);
            let mut b = spread(60, -3.0, 5.0);
            b.reverse();
            a.extend([f64::NAN, 1.0, 2.0, 0.0, f64::INFINITY, -2.0, 0.0, 1.0, 3.0]);
            b.extend([1.0, f64::NAN, 0.0, 0.0, 2.0, 0.5, -0.0, f64::INFINITY, 3.0]);
            a.extend([1.0, 2.0, f64::NAN, f64::NAN, -0.0, 3.0, f64::INFINITY, -1.0]);
            b.extend([1.0, 1.0, 1.0, f64::NAN, 0.0, 4.0, f64::INFINITY, 2.0]);
            let (a, b) = (f64s(&a), f64s(&b));
            (lax::convert_element_type(&a, dt), lax::convert_element_type(&b, dt))
        }
        DType::I32 => {
            let a = vec![i32::MIN, i32::MIN, -7, 7, 100000, i32::MAX, 5, -5, 0, 1, -1, 12, -1, 2, 3, i32::MIN];
            let b = vec![-1, 0, 2, -2, 100000, 1, 0, 33, 32, 31, -3, 3, 1, 2, -3, 0];
            (Array::from_vec(a, &[16]), Array::from_vec(b, &[16]))
        }
        DType::U32 => {
            let a = vec![u32::MAX, 0, 7, 1 << 31, 100000, 3, 5, 9, 1, 1, u32::MAX, 2, 3, 0];
            let b = vec![1u32, 0, 2, 2, 100000, u32::MAX, 0, 32, 31, 33, 1, 2, 4, 0];
            (Array::from_vec(a, &[14]), Array::from_vec(b, &[14]))
        }
        DType::U8 => {
            let a = vec![255u8, 0, 7, 128, 200, 3, 5, 9, 1, 1, 255, 2, 3, 0];
            let b = vec![1u8, 0, 2, 2, 100, 255, 0, 8, 7, 9, 1, 2, 4, 0];
            (Array::from_vec(a, &[14]), Array::from_vec(b, &[14]))
        }
        DType::Bool => {
            let p = Array::from_vec(vec![true, true, false, false], &[4]);
            (p, Array::from_vec(vec![true, false, true, false], &[4]))
        }
    }
}

/// Inputs of elementwise entry `e` on `dt`: one operand is a spread over its
/// value range (floats; with specials and half-integers when the lowering
/// must be exact) or the dtype's edge values; two are [`edge_pairs`]; select
/// gets an alternating predicate.
fn edge_inputs(e: &Entry, dt: DType) -> Vec<Array> {
    let (a, b) = edge_pairs(dt);
    match (e.apply, e.values[0]) {
        (Apply::Unary(_), Domain::Real(lo, hi)) if dt.is_float() => {
            let mut v = spread(200, lo, hi);
            if e.ulps == 0 {
                v.extend(float_specials());
                v.extend([0.5, 1.5, 2.5, -0.5, -1.5, -2.5]);
            }
            vec![lax::convert_element_type(&f64s(&v), dt)]
        }
        (Apply::Unary(_), _) => vec![match dt {
            DType::I32 => Array::from_vec(vec![i32::MIN, -7, -1, 0, 1, 9, i32::MAX], &[7]),
            DType::U32 => Array::from_vec(vec![0u32, 1, 7, 1 << 31, u32::MAX], &[5]),
            DType::U8 => Array::from_vec(vec![0u8, 1, 7, 128, 255], &[5]),
            _ => a,
        }],
        (Apply::Binary(_), _) => vec![a, b],
        (Apply::Ternary(_), _) => {
            let n = a.shape()[0];
            vec![Array::from_vec((0..n).map(|i| i % 3 != 1).collect::<Vec<bool>>(), &[n]), a, b]
        }
        (Apply::Dedicated, _) => unreachable!("{} has dedicated cases", e.name),
    }
}

/// Every elementwise primitive of the catalogue on every dtype it accepts:
/// the lowering checks, emits the catalogue's operations (comparisons with
/// their direction and type), and matches XLA within the catalogue's ulps
/// when dumped.
#[test]
fn elementwise_primitives() {
    for e in catalogue::generic(File::StablehloText) {
        for &dt in e.dtypes {
            let tol = if e.ulps == 0 { Tol::Exact } else { Tol::Ulps(e.ulps) };
            let name = format!("{}_{dt}", e.name);
            let l = case(&name, &edge_inputs(e, dt), tol, e.hlo_for(dt), |v| vec![e.call(v)]);
            if e.hlo == ["stablehlo.compare"] {
                let ty = match dt {
                    DType::F32 | DType::F64 => "FLOAT",
                    DType::I32 => "SIGNED",
                    _ => "UNSIGNED",
                };
                let dir = e.name.to_uppercase();
                assert!(l.text.contains(&format!("comparison_direction {dir}>")), "{name}: direction {dir}");
                assert!(l.text.contains(&format!("comparison_type {ty}>")), "{name}: type {ty}");
            }
            if e.name == "stop_gradient" {
                assert!(l.text.contains("\"func.return\"(%arg0)"), "stop_gradient is the identity");
            }
        }
    }
    assert_eq!(lax::sign(&Array::scalar(i32::MIN)).item::<i32>(), -1, "as XLA");
}

/// Fails naming any primitive of the catalogue that no case here covers.
#[test]
fn every_primitive_is_covered() {
    catalogue::assert_covered(File::StablehloText);
}

#[test]
fn erf_and_erf_inv() {
    let mut v = spread(4001, -7.0, 7.0);
    v.extend(float_specials());
    // FreeBSD's branch points and their neighbours
    for b in [2f64.powi(-28), 0.84375, 1.25, 1.0 / 0.35, 2.0, 4.0, 6.0] {
        for s in [-1.0, 1.0] {
            v.extend([s * b, s * b * (1.0 + 1e-7), s * b * (1.0 - 1e-7), s * b * (1.0 + 1e-15), s * b * (1.0 - 1e-15)]);
        }
    }
    for (dt, x) in both(&v) {
        case(&format!("erf_{dt}"), &[x], Tol::Ulps(2), &["stablehlo.exponential"], |a| vec![lax::erf(&a[0])]);
    }
    let mut u = spread(4001, -1.0, 1.0);
    u.extend([0.0, -0.0, 1.0, -1.0, 1.5, -2.0, f64::NAN, f64::INFINITY, 0.999999, -0.999999, 1e-12, 1.0 - 1e-12]);
    u.extend([1.0 - 2f64.powi(-24), -1.0 + 2f64.powi(-24), 1.0 - 2f64.powi(-53), 0.9999999999]);
    for (dt, x) in both(&u) {
        // erf_inv's condition number near ±1 turns a 1-ulp difference of erf
        // (XLA's exp against libm's) into ~15 ulps of the f64 result
        let tol = if dt == "f32" { Tol::Ulps(1) } else { Tol::Close(1e-14, 0.0) };
        case(&format!("erf_inv_{dt}"), &[x], tol, &["stablehlo.log", "stablehlo.sqrt"], |a| vec![lax::erf_inv(&a[0])]);
    }
}

#[test]
fn conversions() {
    let fl =
        [-5e9, -3e9, -2147483649.0, -2147483648.0, -2.5, -1.0, -0.5, -0.0, 0.0, 0.7, 1.5, 255.5, 256.0, 2147483520.0]
            .into_iter()
            .chain([2147483647.0, 2147483648.0, 4294967040.0, 4294967295.0, 4294967296.0, 5e9])
            .chain([1e30, f64::INFINITY, f64::NEG_INFINITY, f64::NAN])
            .collect::<Vec<f64>>();
    let sources: Vec<(&str, Array)> = vec![
        ("f32", f32s(&fl)),
        ("f64", f64s(&fl)),
        ("i32", Array::from_vec(vec![i32::MIN, -70000, -1, 0, 1, 255, 256, 16777217, i32::MAX], &[9])),
        ("u32", Array::from_vec(vec![0u32, 1, 255, 256, 16777217, 1 << 31, u32::MAX], &[7])),
        ("u8", Array::from_vec((0..=255u8).collect::<Vec<u8>>(), &[256])),
        ("bool", Array::from_vec(vec![true, false], &[2])),
    ];
    let targets = [DType::F32, DType::F64, DType::I32, DType::U32, DType::U8, DType::Bool];
    for (name, x) in &sources {
        for &to in &targets {
            if x.dtype() == to {
                continue;
            }
            case(&format!("convert_{name}_to_{to}"), std::slice::from_ref(x), Tol::Exact, &[], move |a| {
                vec![lax::convert_element_type(&a[0], to)]
            });
        }
    }
}

fn arange(n: usize, dtype: DType) -> Array {
    Array::arange(0.0, n as f64, 1.0, dtype)
}

#[test]
fn structure() {
    let x = lax::reshape(&arange(24, DType::F32), &[2, 3, 4]);
    case("reshape", std::slice::from_ref(&x), Tol::Exact, &["stablehlo.reshape"], |a| {
        vec![lax::reshape(&a[0], &[4, 6])]
    });
    case("broadcast_in_dim", &[arange(3, DType::I32)], Tol::Exact, &["stablehlo.broadcast_in_dim"], |a| {
        vec![lax::broadcast_in_dim(&a[0], &[2, 3, 4], &[1])]
    });
    case("broadcast_size1", &[lax::reshape(&arange(3, DType::F64), &[3, 1])], Tol::Exact, &[], |a| {
        vec![lax::broadcast_in_dim(&a[0], &[3, 5], &[0, 1])]
    });
    case("transpose", std::slice::from_ref(&x), Tol::Exact, &["stablehlo.transpose"], |a| {
        vec![lax::transpose(&a[0], &[2, 0, 1])]
    });
    case("slice", std::slice::from_ref(&x), Tol::Exact, &["stablehlo.slice"], |a| {
        vec![lax::slice(&a[0], &[0, 1, 1], &[2, 3, 4], &[1, 2, 2])]
    });
    case("pad", &[x.clone(), Array::scalar(-1.0f32)], Tol::Exact, &["stablehlo.pad"], |a| {
        vec![lax::pad(&a[0], &a[1], &[1, 0, 2], &[0, 2, 1], &[1, 0, 2])]
    });
    let y = &x * 2.0;
    case("concatenate", &[x.clone(), y, x.clone()], Tol::Exact, &["stablehlo.concatenate"], |a| {
        vec![lax::concatenate(&[&a[0], &a[1], &a[2]], 1)]
    });
    case("numpy_slicing", std::slice::from_ref(&x), Tol::Exact, &[], |a| {
        vec![jnp::index(&a[0], rjax::s![1, .., 1..3]), jnp::ravel(&a[0])]
    });
}

#[test]
fn indexing() {
    let x = lax::reshape(&arange(12, DType::F32), &[3, 4]);
    let i0 = Array::from_vec(vec![2, -1, 0, 7, 1, 1, 0, 2], &[2, 4]);
    let i1 = Array::from_vec(vec![3, 0, -5, 9, 2, 1], &[3, 2]);
    case("gather_axis0", &[x.clone(), i0.clone()], Tol::Exact, &["stablehlo.gather"], |a| {
        vec![lax::gather(&a[0], &a[1], 0)]
    });
    case("gather_axis1", &[x.clone(), i1.clone()], Tol::Exact, &["stablehlo.gather"], |a| {
        vec![lax::gather(&a[0], &a[1], 1)]
    });
    let iu = Array::from_vec(vec![3u32, 0, u32::MAX, 1 << 31, 2, 1], &[3, 2]);
    let ib = Array::from_vec(vec![3u8, 0, 255, 4, 2, 1], &[3, 2]);
    case("gather_u32_index", &[x.clone(), iu.clone()], Tol::Exact, &[], |a| vec![lax::gather(&a[0], &a[1], 1)]);
    case("gather_u8_index", &[x.clone(), ib], Tol::Exact, &[], |a| vec![lax::gather(&a[0], &a[1], 1)]);
    let upd = Array::from_vec(vec![1.0f32, 2.0, 4.0, 8.0, 16.0, 32.0], &[3, 2]);
    case("scatter_add", &[i1.clone(), upd.clone()], Tol::Exact, &["stablehlo.scatter"], |a| {
        vec![lax::scatter_add(&a[0], &a[1], 1, 5)]
    });
    let ui = Array::from_vec(vec![1, 2, 3, 4, 5, 6], &[3, 2]);
    case("scatter_add_i32", &[iu, ui], Tol::Exact, &["stablehlo.scatter"], |a| {
        vec![lax::scatter_add(&a[0], &a[1], 1, 3)]
    });
    let s = f32s(&[3.0, 1.0, f64::NAN, -0.0, 0.0, 1.0, -5.0, f64::NAN, f64::INFINITY, 1.0, -f64::INFINITY, 2.0]);
    case("argsort_f32", &[lax::reshape(&s, &[2, 6])], Tol::Exact, &["stablehlo.sort"], |a| {
        vec![lax::argsort(&a[0], 1), lax::argsort(&a[0], 0)]
    });
    case("argsort_f64", &[lax::convert_element_type(&s, DType::F64)], Tol::Exact, &["stablehlo.sort"], |a| {
        vec![lax::argsort(&a[0], 0)]
    });
    let si = Array::from_vec(vec![3, 1, 2, 1, i32::MIN, 3], &[6]);
    case("argsort_i32", &[si], Tol::Exact, &[], |a| vec![lax::argsort(&a[0], 0)]);
    case("argsort_bool", &[Array::from_vec(vec![true, false, true, false], &[4])], Tol::Exact, &[], |a| {
        vec![lax::argsort(&a[0], 0)]
    });
    for dt in [DType::F32, DType::F64, DType::I32, DType::U32, DType::U8] {
        case(&format!("iota_{dt}"), &[], Tol::Exact, &["stablehlo.iota"], move |_| vec![lax::iota(&[3, 5], 1, dt)]);
    }
    case("iota_u8_saturates", &[], Tol::Exact, &[], |_| vec![lax::iota(&[300], 0, DType::U8)]);
    case("take_along_axis_grad", &[x], Tol::Exact, &["stablehlo.gather", "stablehlo.scatter"], move |a| {
        let idx = i1.clone();
        vec![grad(move |x: &Array| jnp::take_along_axis(x, &idx, 1).sum())(&a[0])]
    });
}

#[test]
fn reductions() {
    let x = lax::reshape(&f32s(&spread(24, -3.0, 5.0)), &[2, 3, 4]);
    type R = fn(&Array, &[usize]) -> Array;
    let reds: [(&str, R, &str); 4] = [
        ("sum", lax::reduce_sum, "stablehlo.add"),
        ("prod", lax::reduce_prod, "stablehlo.multiply"),
        ("max", lax::reduce_max, "stablehlo.maximum"),
        ("min", lax::reduce_min, "stablehlo.minimum"),
    ];
    let n = f32s(&[1.0, f64::NAN, 3.0, -1.0, f64::NEG_INFINITY, 2.0]);
    let xi = lax::reshape(&Array::from_vec(vec![3, -1, 7, i32::MIN, 9, 2], &[6]), &[2, 3]);
    let xu = lax::reshape(&Array::from_vec(vec![3u32, 1, u32::MAX, 0, 9, 2], &[6]), &[2, 3]);
    let xb = lax::reshape(&Array::from_vec(vec![true, false, true, true, true, true], &[6]), &[2, 3]);
    for (name, f, op) in reds {
        let tol = Tol::Close(1e-6, 1e-6);
        case(&format!("reduce_{name}_f32"), std::slice::from_ref(&x), tol, &["stablehlo.reduce", op], move |a| {
            vec![f(&a[0], &[1]), f(&a[0], &[0, 2]), f(&a[0], &[0, 1, 2])]
        });
        case(&format!("reduce_{name}_f64"), &[lax::convert_element_type(&x, DType::F64)], tol, &[], move |a| {
            vec![f(&a[0], &[2])]
        });
        case(&format!("reduce_{name}_nan"), &[lax::reshape(&n, &[2, 3])], Tol::Exact, &[], move |a| {
            vec![f(&a[0], &[1]), f(&a[0], &[0])]
        });
        for (dt, v) in [("i32", &xi), ("u32", &xu), ("bool", &xb)] {
            case(&format!("reduce_{name}_{dt}"), std::slice::from_ref(v), Tol::Exact, &[], move |a| {
                vec![f(&a[0], &[1]), f(&a[0], &[0, 1])]
            });
        }
    }
    case("reduce_empty_axis", &[Array::zeros(&[0, 3], DType::F32)], Tol::Exact, &[], |a| {
        vec![lax::reduce_sum(&a[0], &[0]), lax::reduce_max(&a[0], &[0]), lax::reduce_prod(&a[0], &[0])]
    });
    let am = f32s(&[1.0, 5.0, 5.0, -1.0, f64::NAN, 7.0, f64::NAN, 2.0, -3.0, -3.0, f64::NEG_INFINITY, -3.0]);
    let am = lax::reshape(&am, &[3, 4]);
    for (name, max) in [("argmax", true), ("argmin", false)] {
        let f = move |x: &Array, ax: usize| if max { lax::argmax(x, ax) } else { lax::argmin(x, ax) };
        case(&format!("{name}_f32"), std::slice::from_ref(&am), Tol::Exact, &["stablehlo.reduce"], move |a| {
            vec![f(&a[0], 0), f(&a[0], 1)]
        });
        case(&format!("{name}_f64"), &[lax::convert_element_type(&am, DType::F64)], Tol::Exact, &[], move |a| {
            vec![f(&a[0], 1)]
        });
        let ti = lax::reshape(&Array::from_vec(vec![3, 9, 9, i32::MIN, i32::MIN, 0], &[6]), &[2, 3]);
        case(&format!("{name}_i32"), &[ti], Tol::Exact, &[], move |a| vec![f(&a[0], 1), f(&a[0], 0)]);
        case(&format!("{name}_bool"), std::slice::from_ref(&xb), Tol::Exact, &[], move |a| vec![f(&a[0], 1)]);
        case(&format!("{name}_u8"), &[Array::from_vec(vec![4u8, 255, 0, 255], &[4])], Tol::Exact, &[], move |a| {
            vec![f(&a[0], 0)]
        });
    }
}

#[test]
fn dot_general() {
    let a = lax::reshape(&f32s(&spread(24, -2.0, 2.0)), &[2, 3, 4]);
    let b = lax::reshape(&f32s(&spread(40, -1.0, 3.0)), &[2, 4, 5]);
    let tol = Tol::Close(1e-6, 1e-6);
    let l = case("batch_matmul_f32", &[a.clone(), b.clone()], tol, &["stablehlo.dot_general"], |v| {
        let d = DotDims { lhs_contract: vec![2], rhs_contract: vec![1], lhs_batch: vec![0], rhs_batch: vec![0] };
        vec![lax::dot_general(&v[0], &v[1], &d)]
    });
    assert!(l.text.contains("lhs_batching_dimensions = [0]") && l.text.contains("rhs_contracting_dimensions = [1]"));
    let a64 = lax::convert_element_type(&a, DType::F64);
    case("contract_two_axes_f64", &[a64.clone(), a64], Tol::Close(1e-14, 1e-14), &[], |v| {
        let d = DotDims { lhs_contract: vec![1, 2], rhs_contract: vec![1, 2], lhs_batch: vec![], rhs_batch: vec![] };
        vec![lax::dot_general(&v[0], &v[1], &d)]
    });
    case("matmul_outer_vec", &[a.clone(), f32s(&[1.0, -2.0, 0.5, 3.0])], tol, &[], |v| {
        vec![jnp::matmul(&v[0], &v[1]), jnp::outer(&v[1], &v[1])]
    });
    let ai = Array::from_vec((0..12).map(|i| i - 5).collect::<Vec<i32>>(), &[3, 4]);
    case("matmul_i32", &[ai.clone(), lax::transpose(&ai, &[1, 0])], Tol::Exact, &[], |v| {
        vec![jnp::matmul(&v[0], &v[1])]
    });
    let au = Array::from_vec((0..12u32).map(|i| i.wrapping_mul(400_000_000)).collect::<Vec<u32>>(), &[3, 4]);
    case("matmul_u32_wraps", &[au.clone(), lax::transpose(&au, &[1, 0])], Tol::Exact, &[], |v| {
        vec![jnp::matmul(&v[0], &v[1])]
    });
}

#[test]
fn random_bits() {
    let stream = |s: [u32; 2]| Array::from_vec(s.to_vec(), &[2]);
    for (name, key, st, shape) in [
        ("chacha_zero_key", Array::from_vec(vec![0u32; 8], &[8]), [0, 0], vec![37]),
        ("chacha_key42", random::key(42).0, [0, 0], vec![2, 16]),
        ("chacha_split_stream", random::key(7).0, [0, 1], vec![16]),
        ("chacha_fold_in_stream", random::key(7).0, [12345, 2], vec![8]),
        ("chacha_big", random::key(u64::MAX).0, [u32::MAX, u32::MAX], vec![5, 7, 9]),
    ] {
        let l = case(name, &[key, stream(st)], Tol::Exact, &["stablehlo.shift_left", "stablehlo.xor"], move |v| {
            vec![lax::random_bits(&v[0], &v[1], &shape)]
        });
        assert!(!l.text.contains("dense<["), "no array constants");
    }
    let keys = random::split_stack(&random::key(3), 6).0;
    let keys = lax::reshape(&keys, &[2, 3, 8]);
    let streams = lax::reshape(&Array::from_vec((0..12).collect::<Vec<u32>>(), &[12]), &[2, 3, 2]);
    case("chacha_batched", &[keys, streams], Tol::Exact, &[], |v| vec![lax::random_bits(&v[0], &v[1], &[3, 11])]);
    case("chacha_empty", &[random::key(1).0, stream([0, 0])], Tol::Exact, &[], |v| {
        vec![lax::random_bits(&v[0], &v[1], &[0, 3])]
    });
    // the distributions, which use erf_inv, convert and shifts
    // uniform's `lo + (hi - lo) * u` may be one fused multiply-add in XLA
    case("random_distributions", &[random::key(11).0], Tol::Close(1e-6, 1e-7), &[], |v| {
        let k = random::Key(v[0].clone());
        let [k1, k2] = random::split2(&k);
        vec![
            random::uniform(&k1, &[64], DType::F32, -1.0, 2.0),
            random::normal(&k2, &[64], DType::F32),
            random::normal(&random::fold_in(&k, 5), &[33], DType::F64),
            random::truncated_normal(&k1, -1.5, 0.5, &[40], DType::F32),
            random::bernoulli(&k2, 0.3, &[20]),
            random::randint(&k1, &[20], -5, 17),
            random::permutation(&k2, 10),
        ]
    });
    // vmap over keys batches random_bits
    let ks = random::split_stack(&random::key(5), 4).0;
    case("random_vmap", &[ks], Tol::Ulps(2), &[], |v| {
        vec![vmap(|k: &Array| random::normal(&random::Key(k.clone()), &[3], DType::F32))(&v[0])]
    });
}

/// Control flow: scan (forward, reversed, and as fori_loop), while_loop,
/// cond and switch lower to region-carrying operations that check.
#[test]
fn control_flow() {
    let x = f32s(&[0.5, -1.0, 2.0]);
    let xs = lax::reshape(&f32s(&spread(12, -1.0, 1.0)), &[4, 3]);
    let tol = Tol::Close(1e-6, 1e-6);
    for (name, reverse) in [("scan", false), ("scan_reverse", true)] {
        case(name, &[x.clone(), xs.clone()], tol, &["stablehlo.while"], move |a| {
            let body = |c: &Array, x: &Array| (jnp::sin(&(c * x)) + x, c * 2.0);
            let (c, ys) = lax::scan_with(body, &a[0], &a[1], None, reverse);
            vec![c, ys]
        });
    }
    case("fori_loop", std::slice::from_ref(&x), tol, &["stablehlo.while"], |a| {
        vec![lax::fori_loop(1, 4, |i, c: &Array| c * 1.5 + &lax::convert_element_type(i, DType::F32), &a[0])]
    });
    case("while_loop", std::slice::from_ref(&x), tol, &["stablehlo.while", "stablehlo.compare"], |a| {
        let lim = Array::scalar(20.0f32);
        vec![lax::while_loop(|c: &Array| lax::lt(&c.sum(), &lim), |c| c * 1.5 + 1.0, &a[0])]
    });
    case("cond", std::slice::from_ref(&x), tol, &["stablehlo.case"], |a| {
        let p = lax::gt(&a[0].sum(), &Array::scalar(0.0f32));
        vec![lax::cond(&p, |x: &Array| jnp::exp(x), |x| -x, &a[0])]
    });
    for k in [-1, 1, 5] {
        case(&format!("switch_{k}"), &[x.clone(), Array::scalar(k)], tol, &["stablehlo.case"], |a| {
            let b: [&dyn Fn(&Array) -> Array; 3] = [&|x| x + 1.0, &|x| jnp::sin(x), &|x| x * 2.0];
            vec![lax::switch(&a[1], &b, &a[0])]
        });
    }
    case("grad_of_scan", &[x.clone(), xs], tol, &["stablehlo.while"], |a| {
        let xs = a[1].clone();
        let f = move |c0: &Array| lax::scan(|c: &Array, x: &Array| (jnp::sin(&(c * x)), c * 2.0), c0, &xs).0.sum();
        vec![grad(f)(&a[0])]
    });
}

#[derive(rjax::Tree, Clone)]
struct Mlp {
    w1: Array,
    b1: Array,
    w2: Array,
    b2: Array,
}

fn mlp_loss(p: &Mlp, x: &Array, labels: &Array) -> Array {
    let h = jnp::tanh(&(jnp::matmul(x, &p.w1) + &p.b1));
    let h = jnp::relu(&h) + lax::logistic(&h) * 0.1;
    let logits = jnp::matmul(&h, &p.w2) + &p.b2;
    let logp = jnp::log_softmax(&logits, -1);
    let picked = jnp::take_along_axis(&logp, &jnp::expand_dims(labels, -1), -1);
    -jnp::mean(&picked, jnp::ALL, false)
}

#[test]
fn mlp_gradient() {
    let [k1, k2, k3] = {
        let ks = random::split(&random::key(0), 3);
        [ks[0].clone(), ks[1].clone(), ks[2].clone()]
    };
    let p = Mlp {
        w1: random::normal(&k1, &[5, 16], DType::F32) * 0.5,
        b1: Array::zeros(&[16], DType::F32),
        w2: random::normal(&k2, &[16, 3], DType::F32) * 0.5,
        b2: Array::zeros(&[3], DType::F32),
    };
    let x = random::normal(&k3, &[8, 5], DType::F32);
    let labels = Array::from_vec(vec![0, 1, 2, 1, 0, 2, 2, 1], &[8]);
    let tol = Tol::Close(1e-5, 1e-6);
    // the data is captured (passed as leading arguments), the parameters are inputs
    let g = make_graph(|p: &Mlp| value_and_grad(|p: &Mlp| mlp_loss(p, &x, &labels))(p))(&p);
    let args = vec![p.w1.clone(), p.b1.clone(), p.w2.clone(), p.b2.clone()];
    let l = case_graph(
        "mlp_value_and_grad",
        &g,
        &args,
        tol,
        &["stablehlo.dot_general", "stablehlo.tanh", "stablehlo.reduce", "stablehlo.gather", "stablehlo.scatter"],
    );
    assert_eq!(l.captures.len(), g.captures.len());
    assert!(l.captures.len() >= 2, "x and labels are captured");
    // second order: a Hessian-vector product of the loss in w2
    let g2 = make_graph(|w2: &Array| {
        let f = |w: &Array| mlp_loss(&Mlp { w2: w.clone(), ..p.clone() }, &x, &labels);
        rjax::jvp(|w: &Array| grad(f)(w), w2, &jnp::ones_like(w2)).1
    })(&p.w2);
    case_graph("mlp_hvp", &g2, std::slice::from_ref(&p.w2), tol, &[]);
}

/// A large elementwise value that is returned and also read by an elementwise
/// equation (an optimizer's new moment) is recomputed for that reader, its
/// scalar operands through an `optimization_barrier`, so that XLA can fuse
/// the reader with the value's own computation (src/backend/stablehlo/remat.rs).
/// Small values, values not returned, and values only read by other kinds of
/// equations are not copied.
#[test]
fn returned_values_read_again_are_copied_for_their_reader() {
    let step = |returned: bool| {
        move |a: &[Array]| {
            let m = &a[1] * 0.1 + &a[2] * 0.9;
            let p = &a[0] - &m;
            if returned { vec![p, m] } else { vec![p] }
        }
    };
    let args = |n: usize| -> Vec<Array> { (0..3).map(|k| f32s(&spread(n * n, -1.0, 1.0 + k as f64))).collect() };
    let barriers = |l: &Lowered| l.text.matches("\"stablehlo.optimization_barrier\"").count();
    // 64 x 64 = 4096 elements, the threshold
    let copied = case("copied_moment", &args(64), Tol::Exact, &["stablehlo.optimization_barrier"], step(true));
    assert_eq!(barriers(&copied), 1, "{}", copied.text);
    // the copy adds one multiply, one multiply and one add
    assert_eq!(copied.text.matches("\"stablehlo.multiply\"").count(), 4, "{}", copied.text);
    let small = case("small_moment", &args(63), Tol::Exact, &[], step(true));
    assert_eq!(barriers(&small), 0, "{}", small.text);
    let not_returned = case("moment_not_returned", &args(64), Tol::Exact, &[], step(false));
    assert_eq!(barriers(&not_returned), 0, "{}", not_returned.text);
    let summed = case("moment_summed", &args(64), Tol::Exact, &[], |a| {
        let m = &a[1] * 0.1 + &a[2] * 0.9;
        vec![m.sum(), m]
    });
    assert_eq!(barriers(&summed), 0, "{}", summed.text);
}

#[test]
fn errors_and_names() {
    // a graph returning an input and a capture, and a zero-size array
    let c = Array::from_vec(vec![1u8, 2], &[2]);
    let l =
        case("passthrough", &[Array::zeros(&[0, 2], DType::F32)], Tol::Exact, &[], |a| vec![a[0].clone(), c.clone()]);
    assert!(l.text.contains("\"func.return\"(%arg1, %arg0) : (tensor<0x2xf32>, tensor<2xui8>) -> ()"));
    assert_eq!(l.arg_avals.len(), 2);
    assert_eq!(tensor_type(&rjax::Aval::new(&[], DType::Bool)), "tensor<i1>");
    // a graph that does not check is refused
    let mut g = graph_of(&[f32s(&[1.0])], &|a| vec![lax::exp(&a[0])]);
    g.outputs[0] = rjax::core::Var(99);
    assert!(lower_graph(&g).is_err());
}

/// The checker itself must fail on broken text: an undefined name, a wrong
/// operand type, a name defined twice, a wrong signature, unbalanced braces.
#[test]
fn checker_rejects_broken_modules() {
    let x = f32s(&[1.0, 2.0]);
    let g = graph_of(std::slice::from_ref(&x), &|a| vec![lax::exp(&lax::sin(&a[0]))]);
    let l = lower_graph(&g).unwrap();
    assert!(check_module(&l, &g).is_ok(), "{}", l.text);
    let broken = |from: &str, to: &str| {
        let mut b = l.clone();
        assert!(b.text.contains(from), "{from} not in\n{}", b.text);
        b.text = b.text.replacen(from, to, 1);
        check_module(&b, &g).is_err()
    };
    assert!(broken("\"stablehlo.exponential\"(%0)", "\"stablehlo.exponential\"(%7)"));
    assert!(broken("(tensor<2xf32>) -> tensor<2xf32>", "(tensor<2xf64>) -> tensor<2xf32>"));
    assert!(broken("%1 = ", "%0 = "));
    assert!(broken("%arg0: tensor<2xf32>", "%arg0: tensor<3xf32>"));
    assert!(broken("  }\n}", "  \n}"));
}
