//! rjax's semantics against JAX's own numbers: type promotion with weak
//! (plain-number) scalars, negative and out-of-bounds indices, integer division
//! and remainders, rounding, NaN, integer overflow and conversion, reductions of
//! integers and bools, shifts, and the values of the creation functions.
//!
//! The numbers come from real JAX: tests/reference/jax_semantics.py records, for
//! each named case, its inputs and JAX's result into
//! tests/reference/jax_semantics_values.rs (regenerate with
//! `python3 tests/reference/jax_semantics.py > tests/reference/jax_semantics_values.rs && cargo fmt`).
//! Each case is written below with rjax under the same name and run on the
//! built-in backend and, jitted, on XLA's CPU plugin (which needs
//! `scripts/install-plugin cpu`). What rjax deliberately does otherwise is in
//! docs/jax_differences.md.

use proptest::prelude::*;
use rjax::numpy::{self as jnp, GatherMode, Operand};
use rjax::{Array, DType, jit, lax};

#[path = "reference/jax_semantics_values.rs"]
mod reference;
mod xla_gate;

use reference::{CASES, PROMOTION, Values};

type Case = fn(&[Array]) -> Array;

/// Every case of the reference file, written with rjax.
fn rjax_cases() -> Vec<(&'static str, Case)> {
    vec![
        // 1. weak scalars and promotion
        ("i32_times_half", |a| &a[0] * 0.5),
        ("i32_plus_one", |a| &a[0] + 1),
        ("half_plus_i32", |a| 1.5 + &a[0]),
        ("u8_plus_300_wraps", |a| &a[0] + 300),
        ("u32_minus_one_wraps", |a| &a[0] + (-1)),
        ("bool_plus_one", |a| &a[0] + 1),
        ("bool_plus_half", |a| &a[0] + 0.5),
        ("f32_times_two", |a| &a[0] * 2),
        ("f64_times_third", |a| &a[0] * (1.0 / 3.0)),
        ("i32_div_two", |a| &a[0] / 2),
        ("i32_div_i32", |a| &a[0] / &a[1]),
        ("u8_div_u8", |a| jnp::divide(&a[0], &a[1])),
        ("minimum_i32_half", |a| jnp::minimum(&a[0], 0.5)),
        ("maximum_f32_one", |a| jnp::maximum(&a[0], 1)),
        ("maximum_bool", |a| jnp::maximum(&a[0], &a[1])),
        ("minimum_bool", |a| jnp::minimum(&a[0], &a[1])),
        ("add_bool", |a| jnp::add(&a[0], &a[1])),
        ("multiply_bool", |a| jnp::multiply(&a[0], &a[1])),
        ("where_i32_half", |a| jnp::where_(&a[0], &a[1], 0.5)),
        ("where_int_cond", |a| jnp::where_(&a[0], &a[1], -1)),
        ("clip_i32_float_bounds", |a| jnp::clip(&a[0], 0.5, 2.5)),
        ("clip_lo_above_hi", |a| jnp::clip(&a[0], 3, 1)),
        ("clip_i32_int_bounds", |a| jnp::clip(&a[0], 0, 4)),
        ("less_i32_half", |a| jnp::less(&a[0], 0.5)),
        ("equal_i32_one_float", |a| jnp::equal(&a[0], 1.0)),
        ("add_i32_f32", |a| &a[0] + &a[1]),
        ("add_u8_i32", |a| &a[0] + &a[1]),
        ("add_u32_i32", |a| &a[0] + &a[1]),
        ("add_u8_u32", |a| &a[0] + &a[1]),
        ("add_bool_u8", |a| &a[0] + &a[1]),
        ("add_f32_f64", |a| &a[0] + &a[1]),
        ("mul_i32_f64", |a| &a[0] * &a[1]),
        ("exp_i32", |a| jnp::exp(&a[0])),
        ("sqrt_u8", |a| jnp::sqrt(&a[0])),
        ("floor_i32", |a| jnp::floor(&a[0])),
        ("round_i32", |a| jnp::round(&a[0])),
        ("logical_and_ints", |a| jnp::logical_and(&a[0], &a[1])),
        ("logical_not_int", |a| jnp::logical_not(&a[0])),
        // 2. powers
        ("power_i32_two", |a| jnp::power(&a[0], 2)),
        ("power_i32_i32", |a| jnp::power(&a[0], &a[1])),
        ("power_i32_negative", |a| jnp::power(&a[0], &a[1])),
        ("power_i32_half", |a| jnp::power(&a[0], 0.5)),
        ("power_f64_minus_two", |a| jnp::power(&a[0], -2)),
        ("power_f32_zero", |a| jnp::power(&a[0], 0)),
        ("power_f64_f64", |a| jnp::power(&a[0], &a[1])),
        // 3. indexing
        ("take_f32_fill", |a| jnp::take(&a[0], &a[1], 0)),
        ("take_i32_fill", |a| jnp::take(&a[0], &a[1], 0)),
        ("take_u8_fill", |a| jnp::take(&a[0], &a[1], 0)),
        ("take_bool_fill", |a| jnp::take(&a[0], &a[1], 0)),
        ("take_fill_value", |a| jnp::take_with(&a[0], &a[1], 0, GatherMode::FillWith(-1.0))),
        ("take_clip", |a| jnp::take_with(&a[0], &a[1], 0, GatherMode::Clip)),
        ("take_axis1", |a| jnp::take(&a[0], &a[1], 1)),
        ("take_along_axis_fill", |a| jnp::take_along_axis(&a[0], &a[1], 0)),
        ("take_along_axis_clip", |a| jnp::take_along_axis_with(&a[0], &a[1], 0, GatherMode::Clip)),
        ("take_along_axis_2d", |a| jnp::take_along_axis(&a[0], &a[1], 1)),
        ("index_by_array", |a| jnp::take_with(&a[0], &a[1], 0, GatherMode::Clamp)),
        ("one_hot_out_of_range", |a| jnp::one_hot(&a[0], 3, DType::F32)),
        // 4. integer division and remainder
        ("floor_divide_i32", |a| jnp::floor_divide(&a[0], &a[1])),
        ("remainder_i32", |a| jnp::remainder(&a[0], &a[1])),
        ("mod_operator_i32", |a| &a[0] % -3),
        ("fmod_i32", |a| jnp::fmod(&a[0], &a[1])),
        ("floor_divide_u32", |a| jnp::floor_divide(&a[0], &a[1])),
        ("remainder_u32", |a| jnp::remainder(&a[0], &a[1])),
        ("remainder_f64", |a| jnp::remainder(&a[0], &a[1])),
        ("floor_divide_f64", |a| jnp::floor_divide(&a[0], &a[1])),
        ("fmod_f32", |a| jnp::fmod(&a[0], &a[1])),
        ("divmod_i32_quotient", |a| jnp::divmod(&a[0], &a[1]).0),
        ("divmod_i32_remainder", |a| jnp::divmod(&a[0], &a[1]).1),
        ("lax_div_i32", |a| lax::div(&a[0], &a[1])),
        ("lax_rem_i32", |a| lax::rem(&a[0], &a[1])),
        // 5. rounding
        ("round_half_even_f32", |a| jnp::round(&a[0])),
        ("round_half_even_f64", |a| jnp::round(&a[0])),
        ("floor_ceil_f64", |a| jnp::floor(&a[0]) * 10 + jnp::ceil(&a[0])),
        ("sign_f64", |a| jnp::sign(&a[0])),
        ("sign_i32", |a| jnp::sign(&a[0])),
        // 6. NaN
        ("max_with_nan", |a| jnp::max(&a[0], 1, false)),
        ("min_with_nan", |a| jnp::min(&a[0], 0, false)),
        ("maximum_nan", |a| jnp::maximum(&a[0], &a[1])),
        ("minimum_nan", |a| jnp::minimum(&a[0], &a[1])),
        ("argmax_nan", |a| jnp::argmax(&a[0], 1)),
        ("argmin_nan", |a| jnp::argmin(&a[0], 1)),
        ("argsort_nan", |a| jnp::argsort(&a[0], -1)),
        ("sort_nan", |a| jnp::sort(&a[0], -1)),
        ("sort_i32", |a| jnp::sort(&a[0], -1)),
        // 7. integer overflow and conversion
        ("i32_add_overflow", |a| &a[0] + Array::from_vec(vec![1i32, -1], &[2])),
        ("i32_mul_overflow", |a| &a[0] * Array::from_vec(vec![65536i32, 1 << 30], &[2])),
        ("i32_sum_overflow", |a| jnp::sum(&a[0], jnp::ALL, false)),
        ("i32_abs_neg_min", |a| jnp::abs(&a[0]) + (-&a[0])),
        ("u8_sub_underflow", |a| &a[0] - &a[1]),
        ("f32_to_i32", |a| a[0].astype(DType::I32)),
        ("f64_to_u8", |a| a[0].astype(DType::U8)),
        ("f32_to_u32", |a| a[0].astype(DType::U32)),
        ("i32_to_u8", |a| a[0].astype(DType::U8)),
        ("f32_to_bool", |a| a[0].astype(DType::Bool)),
        // 8. reductions of integers and bools
        ("sum_bool", |a| jnp::sum(&a[0], jnp::ALL, false)),
        ("sum_u8", |a| jnp::sum(&a[0], jnp::ALL, false)),
        ("prod_bool", |a| jnp::prod(&a[0], jnp::ALL, false)),
        ("mean_i32", |a| jnp::mean(&a[0], 0, false)),
        ("mean_bool", |a| jnp::mean(&a[0], jnp::ALL, false)),
        ("var_i32", |a| jnp::var(&a[0], jnp::ALL, false)),
        ("max_bool", |a| jnp::max(&a[0], 1, false)),
        ("min_u8", |a| jnp::min(&a[0], jnp::ALL, false)),
        // 9. shifts
        ("right_shift_i32", |a| jnp::right_shift(&a[0], &a[1])),
        ("left_shift_i32", |a| jnp::left_shift(&a[0], &a[1])),
        ("right_shift_u32", |a| jnp::right_shift(&a[0], &a[1])),
        ("right_shift_u8", |a| jnp::right_shift(&a[0], &a[1])),
        ("bitwise_and_i32_scalar", |a| jnp::bitwise_and(&a[0], 3)),
        // 10. creation (rjax names the dtype JAX chooses by default)
        ("arange_int", |_| Array::arange(0.0, 5.0, 1.0, DType::I32)),
        ("arange_float", |_| Array::arange(0.0, 1.0, 0.25, DType::F32)),
        ("arange_float_step", |_| Array::arange(0.1, 1.0, 0.3, DType::F32)),
        ("linspace_default", |_| Array::linspace(0.0, 1.0, 50, DType::F32)),
        ("linspace_five", |_| Array::linspace(-1.0, 2.0, 5, DType::F32)),
        ("one_hot_default", |a| jnp::one_hot(&a[0], 2, DType::F32)),
    ]
}

/// A recorded array as an rjax array.
fn array(v: &Values) -> Array {
    let (dtype, shape, values) = *v;
    match dtype {
        DType::F32 => Array::from_vec(values.iter().map(|&x| x as f32).collect(), shape),
        DType::F64 => Array::from_vec(values.to_vec(), shape),
        DType::I32 => Array::from_vec(values.iter().map(|&x| x as i32).collect(), shape),
        DType::U32 => Array::from_vec(values.iter().map(|&x| x as u32).collect(), shape),
        DType::U8 => Array::from_vec(values.iter().map(|&x| x as u8).collect(), shape),
        DType::Bool => Array::from_vec(values.iter().map(|&x| x != 0.0).collect(), shape),
    }
}

/// Compares rjax's result with JAX's: dtype and shape exactly; integers and
/// bools exactly; floats within a few ulps (NaN matching NaN, and the sign of
/// a zero matching).
fn matches(name: &str, backend: &str, got: &Array, want: &Values) -> Result<(), String> {
    let (dtype, shape, values) = *want;
    if got.dtype() != dtype || got.shape() != shape {
        return Err(format!("{name} on {backend}: got {}, JAX gives {dtype}{shape:?}", got.aval()));
    }
    let got = got.astype(DType::F64).to_vec::<f64>();
    let rtol = match dtype {
        DType::F32 => 4.0 * f32::EPSILON as f64,
        DType::F64 => 4.0 * f64::EPSILON,
        _ => 0.0,
    };
    for (i, (&g, &w)) in got.iter().zip(values).enumerate() {
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w == 0.0 {
            g == 0.0 && g.is_sign_negative() == w.is_sign_negative()
        } else {
            g == w || (g - w).abs() <= rtol * w.abs()
        };
        if !ok {
            return Err(format!("{name} on {backend}: element {i} is {g}, JAX gives {w} (all: {got:?} vs {values:?})"));
        }
    }
    Ok(())
}

fn find(name: &str) -> Case {
    match rjax_cases().into_iter().find(|(n, _)| *n == name) {
        Some((_, f)) => f,
        None => panic!("the reference case {name} has no rjax counterpart in rjax_cases()"),
    }
}

#[test]
fn every_case_is_recorded_once_and_written_once() {
    let recorded: Vec<&str> = CASES.iter().map(|c| c.0).collect();
    for (name, _) in rjax_cases() {
        assert_eq!(recorded.iter().filter(|&&n| n == name).count(), 1, "{name}: recorded once in the reference file");
    }
    assert_eq!(recorded.len(), rjax_cases().len(), "every recorded case is written in rjax");
    assert!(CASES.len() > 100);
}

#[test]
fn builtin_backend_matches_jax() {
    let mut failures = Vec::new();
    for (name, inputs, want) in CASES {
        let args: Vec<Array> = inputs.iter().map(array).collect();
        let got = find(name)(&args);
        if let Err(e) = matches(name, "the built-in backend", &got, want) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from JAX:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn xla_matches_jax() {
    if !xla_gate::xla_available() {
        return;
    }
    let xla = xla_gate::xla_device();
    let mut failures = Vec::new();
    for (name, inputs, want) in CASES {
        if inputs.is_empty() {
            continue; // the creation functions build host arrays; nothing runs on a device
        }
        let args: Vec<Array> = inputs.iter().map(array).collect();
        let f = find(name);
        let got = jit(move |a: &Vec<Array>| f(a)).on(xla.clone()).call(&args);
        if let Err(e) = matches(name, "XLA", &got, want) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{} cases differ from JAX on XLA:\n{}", failures.len(), failures.join("\n"));
}

/// An operand of a promotion-table entry: a 0-d array of the dtype, or a weak scalar.
fn operand(kind: &str) -> Operand {
    match kind {
        "int*" => Operand::Int(1),
        "float*" => Operand::Float(1.0),
        d => Operand::Array(Array::zeros(&[], dtype(d))),
    }
}

fn dtype(name: &str) -> DType {
    match name {
        "bool" => DType::Bool,
        "uint8" => DType::U8,
        "uint32" => DType::U32,
        "int32" => DType::I32,
        "float32" => DType::F32,
        "float64" => DType::F64,
        other => panic!("no rjax dtype for {other}"),
    }
}

#[test]
fn promotion_table_matches_jax() {
    assert_eq!(PROMOTION.len(), 64);
    for &(a, b, want) in PROMOTION {
        let (x, y) = (operand(a), operand(b));
        assert_eq!(jnp::result_type(&[x.clone(), y.clone()]), dtype(want), "result_type({a}, {b})");
        assert_eq!(jnp::add(x.clone(), y.clone()).dtype(), dtype(want), "add({a}, {b})");
        assert_eq!(jnp::less(x, y).dtype(), DType::Bool, "less({a}, {b})");
        if a.ends_with('*') || b.ends_with('*') {
            continue;
        }
        assert_eq!(rjax::promote_types(dtype(a), dtype(b)), dtype(want), "promote_types({a}, {b})");
    }
}

const KINDS: [&str; 8] = ["bool", "uint8", "uint32", "int32", "float32", "float64", "int*", "float*"];

/// A value of `kind` from a small integer (exact in every dtype, sums below 256).
fn value(kind: &str, v: u8, shape: &[usize]) -> Operand {
    match kind {
        "int*" => Operand::Int(v as i64),
        "float*" => Operand::Float(v as f64),
        "bool" => Operand::Array(Array::full(shape, (v % 2) as f64, DType::Bool)),
        d => Operand::Array(Array::full(shape, v as f64, dtype(d))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Every pair of dtypes and weak scalars, with broadcasting: `a + b` and
    /// `a * b` have the table's dtype and the exact value computed in f64.
    #[test]
    fn promotion_of_every_pair_keeps_values(
        ka in 0usize..8, kb in 0usize..8, va in 0u8..100, vb in 0u8..100, n in 1usize..4, left_scalar in any::<bool>(),
    ) {
        let (a, b) = (KINDS[ka], KINDS[kb]);
        let want = PROMOTION.iter().find(|p| p.0 == a && p.1 == b).map(|p| dtype(p.2));
        let (sa, sb) = if left_scalar { (vec![], vec![n]) } else { (vec![n, 1], vec![n]) };
        let (x, y) = (value(a, va, &sa), value(b, vb, &sb));
        let num = |o: &Operand| jnp::asarray(o.clone()).astype(DType::F64).to_vec::<f64>()[0];
        let (fx, fy) = (num(&x), num(&y));
        let sum = jnp::add(x.clone(), y.clone());
        let prod = jnp::multiply(x, y);
        prop_assert_eq!(Some(sum.dtype()), want);
        prop_assert_eq!(Some(prod.dtype()), want);
        let (es, ep) = if want == Some(DType::Bool) {
            (((fx != 0.0) || (fy != 0.0)) as u8 as f64, ((fx != 0.0) && (fy != 0.0)) as u8 as f64)
        } else if want == Some(DType::U8) {
            ((fx + fy) % 256.0, (fx * fy) % 256.0)
        } else {
            (fx + fy, fx * fy)
        };
        for v in sum.astype(DType::F64).to_vec::<f64>() {
            prop_assert_eq!(v, es);
        }
        for v in prod.astype(DType::F64).to_vec::<f64>() {
            prop_assert_eq!(v, ep);
        }
    }

    /// In the default mode of `take` and `take_along_axis`, an index `i` in
    /// `[-n, 0)` picks `x[n + i]`, and one outside `[-n, n)` gives NaN; in
    /// `Clamp` mode (JAX's `x[i]`) `i < -n` picks `x[0]` and `i >= n` picks `x[n - 1]`.
    #[test]
    fn negative_indices_count_from_the_end(
        n in 1usize..6, idx in prop::collection::vec(-8i32..8, 1..10), scale in 1.0f64..5.0,
    ) {
        let xs: Vec<f64> = (0..n).map(|k| scale * (k as f64 + 1.0)).collect();
        let x = Array::from_vec(xs.clone(), &[n]);
        let i = Array::from_vec(idx.clone(), &[idx.len()]);
        let ni = n as i32;
        let fill: Vec<Option<f64>> =
            idx.iter().map(|&k| if (-ni..ni).contains(&k) { Some(xs[(k + ni) as usize % n]) } else { None }).collect();
        for got in [jnp::take(&x, &i, 0), jnp::take_along_axis(&x, &i, 0)] {
            let got = got.to_vec::<f64>();
            for (g, w) in got.iter().zip(&fill) {
                match w {
                    Some(w) => prop_assert_eq!(g, w),
                    None => prop_assert!(g.is_nan()),
                }
            }
        }
        let clamp = jnp::take_with(&x, &i, 0, GatherMode::Clamp).to_vec::<f64>();
        for (g, &k) in clamp.iter().zip(&idx) {
            let j = if k < 0 { k + ni } else { k }.clamp(0, ni - 1);
            prop_assert_eq!(*g, xs[j as usize]);
        }
    }

    /// Python's `%` and `//` on integers: `a == (a // b) * b + a % b`, the
    /// remainder has the sign of `b` and is smaller than `|b|`; `fmod` has the
    /// sign of `a`.
    #[test]
    fn integer_division_is_python_division(a in -1000i32..1000, b in (-50i32..50).prop_filter("b != 0", |b| *b != 0)) {
        let (x, y) = (Array::scalar(a), Array::scalar(b));
        let q = jnp::floor_divide(&x, &y).item::<i32>();
        let r = jnp::remainder(&x, &y).item::<i32>();
        prop_assert_eq!(q, (a as f64 / b as f64).floor() as i32);
        prop_assert_eq!(q * b + r, a);
        prop_assert!(r == 0 || (r < 0) == (b < 0));
        prop_assert!(r.abs() < b.abs());
        prop_assert_eq!(jnp::fmod(&x, &y).item::<i32>(), a % b);
    }
}

/// Subnormal floats are flushed to zero, as XLA (and so JAX) does on CPU and
/// GPU: a subnormal input reads as zero and a subnormal result is zero, on
/// the built-in backend eagerly and jitted, and on XLA.
#[test]
fn subnormals_are_flushed_to_zero_on_every_backend() {
    let f = |x: &Array| vec![x * 1.0, x * 1e-20, x + 0.0, jnp::sqrt(x)];
    let x32 = Array::from_vec(vec![1e-20f32, 3e-39, -3e-39, 1e-30, 2.0], &[5]);
    let x64 = Array::from_vec(vec![1e-160f64, 1e-310, -1e-310, 1e-300, 2.0], &[5]);
    let want32: [Vec<f32>; 4] = [
        vec![1e-20, 0.0, 0.0, 1e-30, 2.0],
        vec![0.0, 0.0, 0.0, 0.0, 2e-20],
        vec![1e-20, 0.0, 0.0, 1e-30, 2.0],
        vec![1e-10, 0.0, 0.0, 1e-15, 2f32.sqrt()],
    ];
    let want64: [Vec<f64>; 4] = [
        vec![1e-160, 0.0, 0.0, 1e-300, 2.0],
        vec![1e-180, 0.0, 0.0, 0.0, 2e-20],
        vec![1e-160, 0.0, 0.0, 1e-300, 2.0],
        vec![1e-80, 0.0, 0.0, 1e-150, 2f64.sqrt()],
    ];
    type Run = Box<dyn Fn(&Array) -> Vec<Array>>;
    let mut runs: Vec<(&str, Run)> = vec![
        ("built-in, eager", Box::new(f)),
        ("built-in, jit", Box::new(move |x: &Array| jit(move |x: &Array| f(x)).on(rjax::Device::Cpu).call(x))),
    ];
    if xla_gate::xla_available() {
        let xla = xla_gate::xla_device();
        runs.push(("XLA", Box::new(move |x: &Array| jit(move |x: &Array| f(x)).on(xla.clone()).call(x))));
    }
    for (name, run) in &runs {
        let got: Vec<Vec<f32>> = run(&x32).iter().map(|a| a.to_vec::<f32>()).collect();
        assert_eq!(got, want32, "f32 on {name}");
        let got: Vec<Vec<f64>> = run(&x64).iter().map(|a| a.to_vec::<f64>()).collect();
        assert_eq!(got, want64, "f64 on {name}");
    }
}
