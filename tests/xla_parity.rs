//! Parity: every primitive evaluated by the built-in CPU backend equals the same
//! graph lowered to StableHLO, compiled by XLA's PJRT CPU plugin and run there.
//! Floats agree within a few ulps (scaled by the values), integers, booleans and
//! PRNG bits exactly. Random shapes and values come from proptest.
//!
//! Needs the CPU plugin: `scripts/install-plugin cpu` (CI runs it first).
//!
//! The elementwise primitives come from the catalogue (tests/common/catalogue.rs),
//! on every dtype they accept; `every_primitive_is_covered` checks that the
//! others have their dedicated tests here.

mod common;

use common::Gen;
use common::catalogue::{self, File, sample_all, seed_of};
use proptest::prelude::*;
use rjax::backend::pjrt::Client;
use rjax::backend::stablehlo::lower_graph;
use rjax::core::trace_graph;
use rjax::{Array, Aval, DType, HostData, lax, random};
use std::sync::OnceLock;

mod xla_gate;

fn client() -> &'static Client {
    static C: OnceLock<Client> = OnceLock::new();
    C.get_or_init(|| match xla_gate::xla_client() {
        Ok(c) => c,
        Err(e) => panic!("the {} plugin is needed (run scripts/install-plugin cpu): {e}", xla_gate::xla_name()),
    })
}

/// Runs `f` on `args` through XLA: trace, lower, compile, execute.
fn on_xla(f: &dyn Fn(&[Array]) -> Vec<Array>, args: &[Array]) -> Vec<Array> {
    let avals: Vec<Aval> = args.iter().map(|a| a.aval()).collect();
    let g = trace_graph(&avals, f);
    let m = lower_graph(&g).unwrap_or_else(|e| panic!("{e}\n{g}"));
    let c = client();
    let exe = c.compile(&m.text).unwrap_or_else(|e| panic!("{e}\n{}", m.text));
    let host: Vec<&HostData> =
        m.captures.iter().chain(args.iter()).map(|a| a.host_data().expect("concrete argument")).collect();
    let bufs: Vec<_> = host.iter().map(|h| c.buffer(h).expect("host to device")).collect();
    let refs: Vec<_> = bufs.iter().collect();
    let outs = exe.execute(&refs).expect("execute");
    outs.iter().map(|o| Array::from_host_data(o.to_host().expect("device to host"))).collect()
}

/// Asserts the built-in result `cpu` and the XLA one agree: exactly for
/// integers and bools, within `rtol * max(1, |x|)` for floats (NaN matching NaN).
fn compare(name: &str, cpu: &Array, xla: &Array, args: &[Array], rtol: f64) {
    assert_eq!(cpu.aval(), xla.aval(), "{name}: shapes/dtypes differ");
    if cpu.dtype().is_float() {
        let (a, b) = (cpu.astype(DType::F64).to_vec::<f64>(), xla.astype(DType::F64).to_vec::<f64>());
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            let ok = (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= rtol * x.abs().max(1.0);
            assert!(ok, "{name}: element {i}: cpu {x} vs xla {y} (args {args:?})");
        }
    } else {
        assert_eq!(cpu, xla, "{name}: integer/bool results differ (args {args:?})");
    }
}

/// Asserts the built-in and the XLA result of `f` on `args` agree (see [`compare`]).
fn agree(name: &str, f: &dyn Fn(&[Array]) -> Array, args: &[Array], rtol: f64) {
    let xla = on_xla(&|a: &[Array]| vec![f(a)], args).remove(0);
    compare(name, &f(args), &xla, args, rtol);
}

/// A named function, its arguments and its tolerance, for [`agree_all`].
type Case<'a> = (String, Box<dyn Fn(&[Array]) -> Array + 'a>, Vec<Array>, f64);

/// [`agree`] for many functions at once: one XLA program computes all of
/// them (each on its own arguments), and each result is compared by name.
fn agree_all(cases: &[Case<'_>]) {
    let args: Vec<Array> = cases.iter().flat_map(|c| c.2.iter().cloned()).collect();
    let f = |xs: &[Array]| {
        let mut at = 0;
        let mut out = Vec::new();
        for (_, f, a, _) in cases {
            out.push(f(&xs[at..at + a.len()]));
            at += a.len();
        }
        out
    };
    let xla = on_xla(&f, &args);
    for ((name, f, a, tol), x) in cases.iter().zip(&xla) {
        compare(name, &f(a), x, a, *tol);
    }
}

fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..4, 0..3)
}

fn floats(shape: &[usize], lo: f64, hi: f64, dtype: DType, seed: u64) -> Array {
    random::uniform(&random::key(seed), shape, dtype, lo, hi)
}

fn ints(shape: &[usize], lo: i32, hi: i32, seed: u64) -> Array {
    random::randint(&random::key(seed), shape, lo, hi)
}

const F32_TOL: f64 = 1e-5;
const F64_TOL: f64 = 1e-12;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Every elementwise primitive of the catalogue on every dtype it
    /// accepts, in its value domain (and on ties where the domain admits
    /// them): one program per dtype.
    #[test]
    fn elementwise_primitives(s in shape(), seed in 0u64..1000) {
        if !xla_gate::xla_available() {
            return Ok(());
        }
        for dt in [DType::F32, DType::F64, DType::I32, DType::U32, DType::U8, DType::Bool] {
            let tol = match dt {
                DType::F32 => F32_TOL,
                DType::F64 => F64_TOL,
                _ => 0.0,
            };
            let mut cases: Vec<Case> = Vec::new();
            for e in catalogue::generic(File::XlaParity).filter(|e| e.dtypes.contains(&dt)) {
                let mut g = Gen::new(seed_of(e.name, seed));
                for (k, domains) in e.value_passes().into_iter().enumerate() {
                    let args = sample_all(&mut g, domains, dt, &vec![s.clone(); domains.len()]);
                    cases.push((format!("{} {dt} (pass {k})", e.name), Box::new(move |a: &[Array]| e.call(a)), args, tol));
                }
            }
            agree_all(&cases);
        }
    }

    #[test]
    fn convert_element_type(s in shape(), seed in 0u64..1000) {
        if !xla_gate::xla_available() {
            return Ok(());
        }
        let x = floats(&s, -300.0, 300.0, DType::F32, seed);
        for to in [DType::F64, DType::I32, DType::U8, DType::Bool] {
            agree("convert", &|a: &[Array]| lax::convert_element_type(&a[0], to), std::slice::from_ref(&x), F32_TOL);
        }
        let i = ints(&s, -300, 300, seed);
        for to in [DType::F32, DType::U8, DType::U32] {
            agree("convert i32", &|a: &[Array]| lax::convert_element_type(&a[0], to), std::slice::from_ref(&i), F32_TOL);
        }
    }

    #[test]
    fn structure(seed in 0u64..1000, n in 1usize..4, m in 1usize..4) {
        if !xla_gate::xla_available() {
            return Ok(());
        }
        let x = floats(&[n, m, 2], -1.0, 1.0, DType::F32, seed);
        let one = std::slice::from_ref(&x);
        agree("reshape", &|a: &[Array]| lax::reshape(&a[0], &[m, 2 * n]), one, 0.0);
        agree("broadcast_in_dim", &|a: &[Array]| lax::broadcast_in_dim(&a[0], &[3, n, m, 2], &[1, 2, 3]), one, 0.0);
        agree("transpose", &|a: &[Array]| lax::transpose(&a[0], &[2, 0, 1]), one, 0.0);
        agree("slice", &|a: &[Array]| lax::slice(&a[0], &[0, 0, 1], &[n, m, 2], &[2, 1, 1]), one, 0.0);
        agree("pad", &|a: &[Array]| lax::pad(&a[0], &Array::scalar(9.0f32), &[1, 0, 2], &[0, 2, 1], &[1, 0, 2]), one, 0.0);
        agree("concatenate", &|a: &[Array]| lax::concatenate(&[&a[0], &a[0]], 1), one, 0.0);
        agree("iota", &|_: &[Array]| lax::iota(&[n, m], 1, DType::I32), &[], 0.0);
    }

    #[test]
    fn reductions_and_indexing(seed in 0u64..1000, n in 1usize..5, m in 1usize..5) {
        if !xla_gate::xla_available() {
            return Ok(());
        }
        let x = floats(&[n, m], -2.0, 2.0, DType::F32, seed);
        let one = std::slice::from_ref(&x);
        for axes in [vec![0], vec![1], vec![0, 1]] {
            agree("reduce_sum", &|a: &[Array]| lax::reduce_sum(&a[0], &axes), one, F32_TOL);
            agree("reduce_prod", &|a: &[Array]| lax::reduce_prod(&a[0], &axes), one, F32_TOL);
            agree("reduce_max", &|a: &[Array]| lax::reduce_max(&a[0], &axes), one, 0.0);
            agree("reduce_min", &|a: &[Array]| lax::reduce_min(&a[0], &axes), one, 0.0);
        }
        agree("argmax", &|a: &[Array]| lax::argmax(&a[0], 1), one, 0.0);
        agree("argmin", &|a: &[Array]| lax::argmin(&a[0], 0), one, 0.0);
        agree("argsort", &|a: &[Array]| lax::argsort(&a[0], 1), one, 0.0);
        let idx = ints(&[n, 3], -1, m as i32 + 1, seed); // out of range on purpose: clamped
        agree("gather", &|a: &[Array]| lax::gather(&a[0], &a[1], 1), &[x.clone(), idx.clone()], 0.0);
        let upd = floats(&[n, 3], -1.0, 1.0, DType::F32, seed + 3);
        agree("scatter_add", &|a: &[Array]| lax::scatter_add(&a[0], &a[1], 1, m), &[idx, upd], F32_TOL);
    }

    #[test]
    fn dot_general(seed in 0u64..1000, b in 1usize..3, m in 1usize..5, k in 1usize..5, n in 1usize..5) {
        if !xla_gate::xla_available() {
            return Ok(());
        }
        use rjax::lax::DotDims;
        let x = floats(&[b, m, k], -1.0, 1.0, DType::F32, seed);
        let y = floats(&[b, n, k], -1.0, 1.0, DType::F32, seed + 1);
        let dims = DotDims { lhs_contract: vec![2], rhs_contract: vec![2], lhs_batch: vec![0], rhs_batch: vec![0] };
        agree("dot_general", &|a: &[Array]| lax::dot_general(&a[0], &a[1], &dims), &[x, y], F32_TOL);
        let (p, q) = (ints(&[m, k], -5, 5, seed), ints(&[k, n], -5, 5, seed + 1));
        let mm = DotDims { lhs_contract: vec![1], rhs_contract: vec![0], lhs_batch: vec![], rhs_batch: vec![] };
        agree("dot_general i32", &|a: &[Array]| lax::dot_general(&a[0], &a[1], &mm), &[p, q], 0.0);
    }

    #[test]
    fn random_bits_bit_exact(seed in 0u64..u64::MAX, n in 1usize..40, keys in 1usize..3) {
        if !xla_gate::xla_available() {
            return Ok(());
        }
        let k = random::split_stack(&random::key(seed), keys);
        let stream = Array::from_vec([7u32, 3].repeat(keys), &[keys, 2]);
        agree("random_bits", &|a: &[Array]| lax::random_bits(&a[0], &a[1], &[n]), &[k.data().clone(), stream], 0.0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Several `random_bits` of one program whose keys and streams come from
    /// values known before the first of them (keys split up front, as for
    /// dropout masks, cut out just before each draw) are lowered as one
    /// keystream loop, and each still gets its own words (keys batched or
    /// not, sizes not a multiple of 16, empty draws).
    #[test]
    fn random_bits_drawn_together_bit_exact(
        seed in 0u64..u64::MAX,
        draws in prop::collection::vec((0usize..40, 1usize..3), 2..5),
    ) {
        if !xla_gate::xla_available() {
            return Ok(());
        }
        let k = random::split_stack(&random::key(seed), 2);
        let stream = Array::from_vec(vec![7u32, 3, 0, u32::MAX], &[2, 2]);
        let f = |a: &[Array]| {
            // each key and stream cut from the arguments just before its draw
            let words: Vec<Array> = draws
                .iter()
                .map(|&(n, keys)| {
                    let key = lax::slice(&a[0], &[0, 0], &[keys, 8], &[1, 1]);
                    let stream = lax::slice(&a[1], &[0, 0], &[keys, 2], &[1, 1]);
                    lax::reshape(&lax::random_bits(&key, &stream, &[n]), &[keys * n])
                })
                .collect();
            vec![rjax::numpy::concatenate(&words.iter().collect::<Vec<_>>(), 0)]
        };
        let args = [k.data().clone(), stream];
        let g = trace_graph(&args.iter().map(|a| a.aval()).collect::<Vec<_>>(), f);
        let loops = lower_graph(&g).expect("lowers").text.matches("stablehlo.while").count();
        prop_assert_eq!(loops, 1, "one keystream loop for all the draws");
        compare("random_bits drawn together", &f(&args)[0], &on_xla(&f, &args)[0], &args, 0.0);
    }
}

/// Fails naming any primitive of the catalogue that no test here covers.
#[test]
fn every_primitive_is_covered() {
    catalogue::assert_covered(File::XlaParity);
}

/// The gradient of a small MLP loss, as one compiled program, equals the
/// interpreted gradient: the lowering covers everything grad emits.
#[test]
fn mlp_gradient_on_xla() {
    if !xla_gate::xla_available() {
        return;
    }
    use rjax::numpy as jnp;
    let [k1, k2, k3] = [random::key(1), random::key(2), random::key(3)];
    let w = random::normal(&k1, &[6, 4], DType::F32);
    let x = random::normal(&k2, &[5, 6], DType::F32);
    let labels = random::randint(&k3, &[5, 1], 0, 4);
    let f = |a: &[Array]| {
        let g = rjax::grad(|w: &Array| {
            let logits = jnp::tanh(&jnp::matmul(&a[1], w));
            -jnp::mean(&jnp::take_along_axis(&jnp::log_softmax(&logits, -1), &a[2], 1), jnp::ALL, false)
        });
        g(&a[0])
    };
    agree("grad of mlp loss", &f, &[w, x, labels], 1e-5);
}

/// An Adam step whose new moments are both returned and read by the update:
/// the lowering makes the update read copies of them (src/backend/stablehlo/remat.rs,
/// so that XLA fuses the whole step into one pass). On XLA it gives the same
/// bits as programs with nothing to copy (the new parameters alone, the new
/// state alone), and it agrees with the built-in backend.
#[test]
fn adam_step_reading_copied_moments_gives_the_same_bits() {
    use rjax::{optim, tree};
    if !xla_gate::xla_available() {
        return;
    }
    // 96 x 64 = 6144 elements: large enough to be copied
    let shape = [96, 64];
    let opt = optim::adam(1e-2);
    let (p, g) = (floats(&shape, -1.0, 1.0, DType::F32, 1), floats(&shape, -1.0, 1.0, DType::F32, 2));
    let s0 = opt.init(&p);
    // one eager step first, so that the moments and the count are not zeros
    let (u, s1) = opt.update(&g, s0.clone(), &p);
    let p1 = optim::apply_updates(&p, &u);
    let args: Vec<Array> =
        [p1, floats(&shape, -1.0, 1.0, DType::F32, 3)].into_iter().chain(tree::leaves(&s1)).collect();
    // the step; `keep` picks the outputs: new parameters, then the new state's leaves
    let step = |keep: fn(usize) -> bool| {
        let s0 = s0.clone();
        let opt = opt.clone();
        move |xs: &[Array]| -> Vec<Array> {
            let s = tree::unflatten(&s0, xs[2..].to_vec()).unwrap_or_else(|e| panic!("unflatten: {e}"));
            let (u, s) = opt.update(&xs[1], s, &xs[0]);
            let all: Vec<Array> = std::iter::once(optim::apply_updates(&xs[0], &u)).chain(tree::leaves(&s)).collect();
            all.into_iter().enumerate().filter(|(i, _)| keep(*i)).map(|(_, x)| x).collect()
        }
    };
    let avals: Vec<Aval> = args.iter().map(|a| a.aval()).collect();
    let whole = step(|_| true);
    let text = lower_graph(&trace_graph(&avals, &whole)).expect("lowers").text;
    assert_eq!(text.matches("\"stablehlo.optimization_barrier\"").count(), 2, "one copy per moment:\n{text}");
    let alone = step(|i| i == 0);
    assert!(!lower_graph(&trace_graph(&avals, &alone)).expect("lowers").text.contains("optimization_barrier"));
    let both = on_xla(&whole, &args);
    let params = on_xla(&alone, &args);
    let state = on_xla(&step(|i| i > 0), &args);
    let bits = |x: &Array| x.astype(DType::F32).to_vec::<f32>().iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
    assert_eq!(both.len(), 1 + state.len());
    assert_eq!(bits(&both[0]), bits(&params[0]), "new parameters");
    for (i, (a, b)) in both[1..].iter().zip(&state).enumerate() {
        assert_eq!(bits(a), bits(b), "state leaf {i}");
    }
    for (i, (cpu, xla)) in whole(&args).iter().zip(&both).enumerate() {
        compare(&format!("adam step output {i}"), cpu, xla, &args, 1e-6);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]

    /// The gradient of every differentiable primitive, compiled by XLA, equals
    /// the built-in one (f64: what grad emits for each rule lowers faithfully).
    #[test]
    fn gradients_of_every_differentiable_primitive(s in shape(), seed in 0u64..1000) {
        if !xla_gate::xla_available() {
            return Ok(());
        }
        // every differentiable elementwise primitive, in its derivative
        // domain, w.r.t. each float operand: one program
        let mut cases: Vec<Case> = Vec::new();
        for e in catalogue::PRIMITIVES.iter().filter(|e| e.is_elementwise() && e.diff.checkable()) {
            let mut g = Gen::new(seed_of(e.name, seed));
            let args = sample_all(&mut g, e.domain, DType::F64, &vec![s.clone(); e.domain.len()]);
            let float: Vec<usize> = (0..args.len()).filter(|&k| args[k].dtype().is_float()).collect();
            let grads = move |a: &[Array]| {
                let total = |v: &Vec<Array>| {
                    let mut x = a.to_vec();
                    for (k, vk) in float.iter().zip(v) {
                        x[*k] = vk.clone();
                    }
                    e.call(&x).sum()
                };
                let g = rjax::grad(total)(&float.iter().map(|&k| a[k].clone()).collect());
                let flat: Vec<Array> = g.iter().map(rjax::numpy::ravel).collect();
                lax::concatenate(&flat.iter().collect::<Vec<_>>(), 0)
            };
            cases.push((format!("grad {}", e.name), Box::new(grads), args, 1e-10));
        }
        agree_all(&cases);
        // Structural, reduction, indexing and dot rules, through one composite.
        let x = floats(&[3, 4], -1.0, 1.0, DType::F64, seed);
        let composite = |a: &[Array]| {
            rjax::grad(|x: &Array| {
                let t = lax::transpose(&lax::reshape(x, &[4, 3]), &[1, 0]);
                let p = lax::pad(&t, &Array::scalar(0.5f64), &[1, 0], &[0, 1], &[0, 1]);
                let c = lax::concatenate(&[&p, &lax::slice(&p, &[0, 0], &[2, 8], &[1, 1])], 0);
                let d = lax::dot_general(&c, x, &rjax::lax::DotDims {
                    lhs_contract: vec![], rhs_contract: vec![], lhs_batch: vec![], rhs_batch: vec![],
                });
                let d = lax::reshape(&d, &[24, 24]);
                let idx = lax::broadcast_in_dim(&Array::from_vec(vec![0i32, 2, 1, 3], &[4]), &[24, 4], &[1]);
                let gth = lax::gather(&d, &idx, 1);
                lax::reduce_sum(&lax::reduce_max(&d, &[1]), &[0])
                    + lax::reduce_sum(&(&gth * &gth), &[0, 1])
                    + lax::reduce_sum(&lax::reduce_prod(&(x + 2.0), &[0]), &[0])
            })(&a[0])
        };
        agree("grad of a composite", &composite, &[x], 1e-10);
    }
}

/// Control flow (scan, fori_loop, while_loop, cond, switch, nested, and their
/// transformations) compiled by XLA equals the built-in backend.
mod control_flow {
    use super::*;
    use rjax::numpy as jnp;

    fn flat(parts: &[&Array]) -> Array {
        let r: Vec<Array> = parts.iter().map(|p| jnp::ravel(p)).collect();
        jnp::concatenate(&r.iter().collect::<Vec<_>>(), 0)
    }

    /// A scan with a tree carry, a captured constant and two outputs.
    fn scan_fn(a: &[Array], reverse: bool) -> Array {
        let w = &a[2];
        let body = |(c, k): &(Array, Array), x: &Array| {
            let c2 = jnp::sin(&(c * w)) + x;
            ((c2.clone(), lax::add(k, &Array::scalar(1i32))), (c * x, k.clone()))
        };
        let ((c, k), (ys, ks)) = lax::scan_with(body, &(a[0].clone(), Array::scalar(0i32)), &a[1], None, reverse);
        flat(&[&c, &ys, &lax::convert_element_type(&k, c.dtype()), &lax::convert_element_type(&ks, c.dtype())])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(6))]

        #[test]
        fn scan_and_fori(seed in 0u64..1000, n in 0usize..5, m in 1usize..4) {
            if !xla_gate::xla_available() {
                return Ok(());
            }
            for dtype in [DType::F32, DType::F64] {
                let tol = if dtype == DType::F32 { F32_TOL } else { F64_TOL };
                let init = floats(&[m], -1.0, 1.0, dtype, seed);
                let xs = floats(&[n, m], -1.0, 1.0, dtype, seed + 1);
                let w = floats(&[m], -2.0, 2.0, dtype, seed + 2);
                let args = [init, xs, w];
                agree("scan", &|a: &[Array]| scan_fn(a, false), &args, tol);
                agree("scan reverse", &|a: &[Array]| scan_fn(a, true), &args, tol);
                let fori = |a: &[Array]| {
                    lax::fori_loop(2, 2 + n, |i, c: &Array| c * &a[2] + &lax::convert_element_type(i, c.dtype()), &a[0])
                };
                agree("fori_loop", &fori, &args, tol);
                let none = |a: &[Array]| lax::scan_n(|c: &Array| (c + 1.0, c * 2.0), &a[0], n).1;
                agree("scan_n", &none, &args, tol);
            }
        }

        #[test]
        fn while_cond_switch(seed in 0u64..1000, m in 1usize..4, k in -2i32..5) {
            if !xla_gate::xla_available() {
                return Ok(());
            }
            let x = floats(&[m], 0.5, 2.0, DType::F32, seed);
            let lim = floats(&[], 5.0, 40.0, DType::F32, seed + 1);
            let wl = |a: &[Array]| {
                let (c, i) = lax::while_loop(
                    |(c, _): &(Array, Array)| lax::lt(&c.sum(), &a[1]),
                    |(c, i): &(Array, Array)| (c * 1.5 + 0.25, lax::add(i, &Array::scalar(1i32))),
                    &(a[0].clone(), Array::scalar(0i32)),
                );
                flat(&[&c, &lax::convert_element_type(&i, DType::F32)])
            };
            agree("while_loop", &wl, &[x.clone(), lim.clone()], F32_TOL);
            let cd = |a: &[Array]| lax::cond(&lax::lt(&a[0].sum(), &a[1]), |x: &Array| jnp::exp(x), |x| x * &a[1], &a[0]);
            agree("cond", &cd, &[x.clone(), lim.clone()], F32_TOL);
            let idx = Array::scalar(k);
            let sw = |a: &[Array]| {
                let b: [&dyn Fn(&Array) -> Array; 3] = [&|x| x + 1.0, &|x| jnp::sin(x), &|x| x * &a[1]];
                lax::switch(&a[2], &b, &a[0])
            };
            agree("switch (index clamped)", &sw, &[x.clone(), lim.clone(), idx], F32_TOL);
            // a batched predicate: the loop runs until every example is done
            let xs = floats(&[3, m], 0.5, 2.0, DType::F32, seed + 2);
            let vw = |a: &[Array]| rjax::vmap(|x: &Array| {
                lax::while_loop(|c: &Array| lax::lt(&c.sum(), &a[1]), |c| c * 1.5, x)
            })(&a[0]);
            agree("vmap of while_loop", &vw, &[xs.clone(), lim.clone()], F32_TOL);
            let vc = |a: &[Array]| rjax::vmap(|x: &Array| {
                lax::cond(&lax::lt(&x.sum(), &a[1]), |x: &Array| jnp::exp(x), |x| -x, x)
            })(&a[0]);
            agree("vmap of cond", &vc, &[xs, lim], F32_TOL);
        }

        #[test]
        fn nested_and_transformed(seed in 0u64..1000, n in 1usize..5, m in 1usize..4) {
            if !xla_gate::xla_available() {
                return Ok(());
            }
            let init = floats(&[m], -1.0, 1.0, DType::F64, seed);
            let xs = floats(&[n, m], -1.0, 1.0, DType::F64, seed + 1);
            let w = floats(&[m], -1.0, 1.0, DType::F64, seed + 2);
            let args = [init, xs, w];
            // grad of a scan, lowered as one program
            let g = |a: &[Array]| rjax::grad(|v: &Vec<Array>| scan_fn(v, false).sum())(&a.to_vec());
            agree("grad of scan", &|a: &[Array]| flat(&g(a).iter().collect::<Vec<_>>()), &args, F64_TOL);
            // grad of grad of a fori_loop
            let h = |a: &[Array]| rjax::grad(|x: &Array| {
                rjax::grad(|y: &Array| lax::fori_loop(0, n, |_, c: &Array| jnp::sin(&(c * y)), y).sum())(x).sum()
            })(&a[0]);
            agree("grad of grad of fori_loop", &h, &args, F64_TOL);
            // a cond inside a scan inside a while_loop
            let nest = |a: &[Array]| {
                lax::while_loop(
                    |c: &Array| lax::lt(&c.sum(), &Array::scalar(20.0f64)),
                    |c| {
                        let (c2, _) = lax::scan(|c: &Array, x: &Array| {
                            let p = lax::gt(&x.sum(), &Array::scalar(0.0f64));
                            (lax::cond(&p, |c: &Array| c + x, |c| c * &a[2], c), ())
                        }, c, &a[1]);
                        jnp::abs(&c2) + jnp::abs(c) + 1.0
                    },
                    &a[0],
                )
            };
            agree("while(scan(cond))", &nest, &args, F64_TOL);
            let vs = |a: &[Array]| rjax::vmap(|x: &Array| scan_fn(&[x.clone(), a[1].clone(), a[2].clone()], false))(&a[1]);
            agree("vmap of scan", &vs, &args, F64_TOL);
        }
    }
}
