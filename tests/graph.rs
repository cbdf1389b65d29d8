//! The IR checker: well-formed graphs pass, malformed ones are rejected with a reason.

use rjax::core::Var;
use rjax::{Array, DType, make_graph, numpy as jnp};

fn sample() -> rjax::Graph {
    make_graph(|x: &Array| jnp::exp(&jnp::sin(x)).sum())(&Array::zeros(&[3], DType::F64))
}

#[test]
fn traced_graphs_check() {
    let g = sample();
    assert_eq!(g.check(), Ok(()));
    assert_eq!(g.eqns.len(), 3);
}

#[test]
fn use_before_definition_is_rejected() {
    let mut g = sample();
    g.eqns.swap(0, 1);
    let e = g.check().unwrap_err();
    assert!(e.contains("before it is defined"), "{e}");
}

#[test]
fn double_definition_is_rejected() {
    let mut g = sample();
    let first = g.eqns[0].clone();
    g.eqns.insert(1, first);
    let e = g.check().unwrap_err();
    assert!(e.contains("defined twice"), "{e}");
}

#[test]
fn wrong_recorded_aval_is_rejected() {
    let mut g = sample();
    let out = g.eqns[0].outs[0];
    g.avals[out.0 as usize] = rjax::Aval::new(&[4], DType::F64);
    let e = g.check().unwrap_err();
    assert!(e.contains("its rule gives"), "{e}");
}

#[test]
fn undefined_output_is_rejected() {
    let mut g = sample();
    g.outputs = vec![Var(g.avals.len() as u32 + 5)];
    assert!(g.check().is_err());
}

#[test]
fn multi_result_equations_print_and_check() {
    let body = |c: &Array, x: &Array| (c + x, c * x);
    let g = make_graph(|x: &Array| rjax::lax::scan(body, &Array::scalar(0.0f64), x))(&Array::zeros(&[3], DType::F64));
    assert_eq!(g.check(), Ok(()));
    let text = g.to_string();
    // both results are declared on the equation's line, the body in its parameters
    assert!(text.contains("c:f64[] d:f64[3] = scan[length=3"), "{text}");
    assert!(text.contains("in (c, d) }"), "{text}");
    let mut bad = g.clone();
    bad.eqns[0].outs.pop();
    let e = bad.check().unwrap_err();
    assert!(e.contains("defines 1 variables but has 2 results"), "{e}");
}
