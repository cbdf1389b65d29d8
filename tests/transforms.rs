//! Composition of transformations, checked against analytic values and finite
//! differences (all in f64).

use rjax::{
    Array, DType, Tree, grad, grad_with_aux, hessian, jacfwd, jacrev, jvp, make_graph, numpy as jnp, s, tree,
    value_and_grad, value_and_grad_with_aux, vjp, vmap, vmap_axes,
};
use std::collections::BTreeMap;

// ---------------------------------------------------------------- helpers

fn arr(v: &[f64], shape: &[usize]) -> Array {
    Array::from_slice(v, shape)
}

fn sc(v: f64) -> Array {
    Array::scalar(v)
}

#[track_caller]
fn close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ: got {got:?}, want {want:?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        assert!(
            err <= tol * (1.0 + w.abs()),
            "{what}: element {i}: got {g}, want {w} (err {err:e})\n got  {got:?}\n want {want:?}"
        );
    }
}

#[track_caller]
fn close_arr(got: &Array, want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.dtype(), DType::F64, "{what}: dtype");
    close(&got.to_vec::<f64>(), want, tol, what);
}

/// Central finite-difference gradient of a scalar function of a flat vector.
fn fd_grad(f: impl Fn(&[f64]) -> f64, x: &[f64]) -> Vec<f64> {
    let eps = 1e-6;
    (0..x.len())
        .map(|i| {
            let (mut a, mut b) = (x.to_vec(), x.to_vec());
            a[i] += eps;
            b[i] -= eps;
            (f(&a) - f(&b)) / (2.0 * eps)
        })
        .collect()
}

/// Central finite-difference Jacobian `[out, in]` of a function of a flat vector.
fn fd_jac(f: impl Fn(&[f64]) -> Vec<f64>, x: &[f64]) -> Vec<f64> {
    let eps = 1e-6;
    let cols: Vec<Vec<f64>> = (0..x.len())
        .map(|i| {
            let (mut a, mut b) = (x.to_vec(), x.to_vec());
            a[i] += eps;
            b[i] -= eps;
            f(&a).iter().zip(f(&b)).map(|(p, m)| (p - m) / (2.0 * eps)).collect()
        })
        .collect();
    let m = cols[0].len();
    (0..m).flat_map(|r| cols.iter().map(move |c| c[r])).collect()
}

fn matvec(m: &[f64], v: &[f64]) -> Vec<f64> {
    m.chunks(v.len()).map(|row| row.iter().zip(v).map(|(a, b)| a * b).sum()).collect()
}

// ---------------------------------------------------------------- higher order

#[test]
fn grad_of_grad_of_grad_polynomial() {
    let f = |x: &Array| x * x * x * x;
    for x in [1.5, -0.7, 2.0] {
        close_arr(&f(&sc(x)), &[x.powi(4)], 1e-14, "x^4");
        close_arr(&grad(f)(&sc(x)), &[4.0 * x.powi(3)], 1e-13, "d x^4");
        close_arr(&grad(grad(f))(&sc(x)), &[12.0 * x * x], 1e-13, "d2 x^4");
        close_arr(&grad(grad(grad(f)))(&sc(x)), &[24.0 * x], 1e-13, "d3 x^4");
        close_arr(&grad(grad(grad(grad(f))))(&sc(x)), &[24.0], 1e-13, "d4 x^4");
    }
}

#[test]
fn grad_of_grad_of_grad_sin_exp() {
    let f = |x: &Array| jnp::sin(x) * jnp::exp(x);
    for x in [0.3f64, 1.1, -2.0] {
        let (s, c, e) = (x.sin(), x.cos(), x.exp());
        close_arr(&grad(f)(&sc(x)), &[e * (s + c)], 1e-13, "d");
        close_arr(&grad(grad(f))(&sc(x)), &[2.0 * e * c], 1e-13, "d2");
        close_arr(&grad(grad(grad(f)))(&sc(x)), &[2.0 * e * (c - s)], 1e-12, "d3");
    }
}

#[test]
fn elementwise_second_derivative_via_grad_of_sum_of_grad() {
    // d/dx_i of sum_j d/dx_j tanh(x_j) = tanh''(x_i) = -2 tanh (1 - tanh^2)
    let xs = [-1.0, 0.2, 0.9];
    let x = arr(&xs, &[3]);
    let d1 = grad(|x: &Array| jnp::tanh(x).sum());
    let d2 = grad(|x: &Array| d1(x).sum())(&x);
    let want: Vec<f64> = xs.iter().map(|v| -2.0 * v.tanh() * (1.0 - v.tanh().powi(2))).collect();
    close_arr(&d2, &want, 1e-12, "tanh''");
}

// ---------------------------------------------------------------- Hessian-vector products

/// f(x) = (x.x)^2 + sum(c * sin x): H = 4(x.x) I + 8 x x^T - diag(c sin x).
fn quartic_sin(c: Array) -> impl Fn(&Array) -> Array + Clone {
    move |x: &Array| jnp::square(&(x * x).sum()) + (&c * jnp::sin(x)).sum()
}

fn quartic_sin_hessian(x: &[f64], c: &[f64]) -> Vec<f64> {
    let n = x.len();
    let xx: f64 = x.iter().map(|v| v * v).sum();
    let mut h = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            h[i * n + j] = 8.0 * x[i] * x[j] + if i == j { 4.0 * xx - c[i] * x[i].sin() } else { 0.0 };
        }
    }
    h
}

#[test]
fn hessian_matches_analytic() {
    let (xs, cs) = ([0.5, -1.0, 2.0], [1.0, 2.0, -3.0]);
    let f = quartic_sin(arr(&cs, &[3]));
    let h = hessian(f)(&arr(&xs, &[3]));
    assert_eq!(h.shape(), &[3, 3]);
    close_arr(&h, &quartic_sin_hessian(&xs, &cs), 1e-12, "hessian");
}

#[test]
fn hessian_of_logsumexp_is_diag_p_minus_ppt() {
    let xs = [0.1, -0.4, 1.3, 0.0];
    let h = hessian(|x: &Array| jnp::logsumexp(x, 0, false))(&arr(&xs, &[4]));
    let z: f64 = xs.iter().map(|v| v.exp()).sum();
    let p: Vec<f64> = xs.iter().map(|v| v.exp() / z).collect();
    let want: Vec<f64> = (0..16).map(|k| (if k / 4 == k % 4 { p[k / 4] } else { 0.0 }) - p[k / 4] * p[k % 4]).collect();
    close_arr(&h, &want, 1e-12, "hessian of logsumexp");
}

#[test]
fn jvp_of_grad_is_hessian_vector_product() {
    let (xs, cs, vs) = ([0.5, -1.0, 2.0], [1.0, 2.0, -3.0], [0.3, -0.2, 1.0]);
    let (x, v) = (arr(&xs, &[3]), arr(&vs, &[3]));
    let f = quartic_sin(arr(&cs, &[3]));
    let (g, hvp) = jvp(grad(f.clone()), &x, &v);
    // the primal output of jvp(grad f) is grad f
    let xx: f64 = xs.iter().map(|v| v * v).sum();
    let want_g: Vec<f64> = (0..3).map(|i| 4.0 * xx * xs[i] + cs[i] * xs[i].cos()).collect();
    close_arr(&g, &want_g, 1e-12, "grad f");
    // analytic
    let h = quartic_sin_hessian(&xs, &cs);
    close_arr(&hvp, &matvec(&h, &vs), 1e-12, "hvp vs analytic");
    // hessian(f)(x) @ v
    let hv = jnp::matmul(&hessian(f.clone())(&x), &v);
    close(&hvp.to_vec::<f64>(), &hv.to_vec::<f64>(), 1e-12, "hvp vs hessian @ v");
    // finite differences of grad along v
    let eps = 1e-6;
    let gp = grad(f.clone())(&(&x + &(&v * eps))).to_vec::<f64>();
    let gm = grad(f.clone())(&(&x - &(&v * eps))).to_vec::<f64>();
    let fd: Vec<f64> = gp.iter().zip(&gm).map(|(a, b)| (a - b) / (2.0 * eps)).collect();
    close(&hvp.to_vec::<f64>(), &fd, 1e-6, "hvp vs finite differences");
    // reverse-over-reverse: grad of (grad f . v) gives the same product
    let rr = grad(|x: &Array| (grad(f.clone())(x) * &v).sum())(&x);
    close(&rr.to_vec::<f64>(), &hvp.to_vec::<f64>(), 1e-12, "reverse-over-reverse hvp");
}

// ---------------------------------------------------------------- vmap and grad

fn example_loss(w: &Array, x: &Array, y: &Array) -> Array {
    jnp::square(&(jnp::tanh(&jnp::dot(w, x)) - y))
}

#[test]
fn vmap_of_grad_gives_per_example_gradients() {
    let xd = [0.5, -1.0, 2.0, 0.1, 0.2, 0.3, -0.7, 0.0, 1.5, 1.0, 1.0, -1.0];
    let yd = [0.3, -0.5, 0.9, 0.0];
    let (w, xs, ys) = (arr(&[0.2, -0.4, 0.6], &[3]), arr(&xd, &[4, 3]), arr(&yd, &[4]));
    let per_ex = vmap_axes(
        |(w, x, y): &(Array, Array, Array)| grad(|w: &Array| example_loss(w, x, y))(w),
        vec![None, Some(0), Some(0)],
        0,
    )(&(w.clone(), xs.clone(), ys.clone()));
    assert_eq!(per_ex.shape(), &[4, 3]);
    // a loop of grad on each example
    let mut looped = Vec::new();
    for i in 0..4 {
        let (xi, yi) = (xs.at(s![i]), ys.at(s![i]));
        assert_eq!(xi.shape(), &[3]);
        looped.extend(grad(|w: &Array| example_loss(w, &xi, &yi))(&w).to_vec::<f64>());
    }
    close_arr(&per_ex, &looped, 1e-13, "vmap(grad) vs loop");
    // analytic: 2 (tanh(w.x) - y) (1 - tanh^2) x
    let wv = [0.2, -0.4, 0.6];
    let want: Vec<f64> = (0..4)
        .flat_map(|i| {
            let x = &xd[3 * i..3 * i + 3];
            let t = (0..3).map(|k| wv[k] * x[k]).sum::<f64>().tanh();
            let c = 2.0 * (t - yd[i]) * (1.0 - t * t);
            x.iter().map(move |v| c * v).collect::<Vec<_>>()
        })
        .collect();
    close_arr(&per_ex, &want, 1e-12, "vmap(grad) vs analytic");
    // the same with w closed over instead of passed with in_axes None
    let closed = vmap(|(x, y): &(Array, Array)| grad(|w: &Array| example_loss(w, x, y))(&w))(&(xs, ys));
    close_arr(&closed, &want, 1e-12, "vmap(grad) closing over w");
}

#[test]
fn grad_of_vmap_sum() {
    let xd = [0.5, -1.0, 2.0, 0.1, 0.2, 0.3, -0.7, 0.0, 1.5];
    let wv = [0.3, 0.1, -0.2];
    let xs = arr(&xd, &[3, 3]);
    let f = |w: &Array| vmap(|x: &Array| jnp::tanh(&jnp::dot(w, x)))(&xs).sum();
    let g = grad(f)(&arr(&wv, &[3]));
    let mut want = [0.0; 3];
    for i in 0..3 {
        let x = &xd[3 * i..3 * i + 3];
        let t = (0..3).map(|k| wv[k] * x[k]).sum::<f64>().tanh();
        for k in 0..3 {
            want[k] += (1.0 - t * t) * x[k];
        }
    }
    close_arr(&g, &want, 1e-12, "grad(sum(vmap f))");
    let fd = fd_grad(|w| f(&arr(w, &[3])).item::<f64>(), &wv);
    close_arr(&g, &fd, 1e-7, "grad(sum(vmap f)) vs fd");
}

#[test]
fn grad_through_broadcasting_sums_over_broadcast_axes() {
    let xd: Vec<f64> = (0..12).map(|i| i as f64 * 0.25 - 1.0).collect();
    let x = arr(&xd, &[4, 3]);
    let bd = [0.1, -0.2, 0.3];
    // bias [3] + [4,3]: d/db sum((x + b)^2) = sum_rows 2 (x + b)
    let g = grad(|b: &Array| jnp::square(&(&x + b)).sum())(&arr(&bd, &[3]));
    assert_eq!(g.shape(), &[3]);
    let want: Vec<f64> = (0..3).map(|j| (0..4).map(|i| 2.0 * (xd[3 * i + j] + bd[j])).sum()).collect();
    close_arr(&g, &want, 1e-13, "bias [3]");
    // column [4,1] broadcast along axis 1, times a [3] weight
    let wt = arr(&[1.0, 2.0, 3.0], &[3]);
    let cd = [0.5, -0.5, 1.0, 2.0];
    let g = grad(|c: &Array| (&(&x * c) * &wt).sum())(&arr(&cd, &[4, 1]));
    assert_eq!(g.shape(), &[4, 1]);
    let want: Vec<f64> = (0..4).map(|i| (0..3).map(|j| xd[3 * i + j] * (j as f64 + 1.0)).sum()).collect();
    close_arr(&g, &want, 1e-13, "column [4,1]");
    // a 0-d scalar broadcast everywhere
    let g = grad(|s: &Array| (&x * s).sum())(&sc(2.0));
    assert_eq!(g.shape(), &[] as &[usize]);
    close_arr(&g, &[xd.iter().sum()], 1e-13, "scalar");
}

// ---------------------------------------------------------------- closures

#[test]
fn closures_over_concrete_arrays() {
    let a = arr(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let bvec = arr(&[1.0, -1.0], &[2]);
    // f(x) = b . (A x)  ->  grad = A^T b
    let g = grad(|x: &Array| jnp::dot(&bvec, &jnp::matmul(&a, x)))(&arr(&[0.3, 0.7], &[2]));
    close_arr(&g, &[1.0 - 3.0, 2.0 - 4.0], 1e-14, "A^T b");
}

#[test]
fn nested_grad_closing_over_outer_tracer() {
    // d/dx [ d/dy (x*y) at y0 ] = d/dx x = 1
    let f = |x: &Array| grad(|y: &Array| x * y)(&sc(5.0));
    close_arr(&f(&sc(3.0)), &[3.0], 1e-15, "inner grad value");
    close_arr(&grad(f)(&sc(3.0)), &[1.0], 1e-15, "d/dx d/dy (x y)");
    // perturbation confusion: d/dx [ x * d/dy (x + y) ] = 1, not 2
    let g = grad(|x: &Array| x * grad(|y: &Array| x + y)(&sc(1.0)))(&sc(4.0));
    close_arr(&g, &[1.0], 1e-15, "perturbation confusion");
    // d/dx [ d/dy sin(x y) at y0 ] = d/dx [x cos(x y0)] = cos(x y0) - x y0 sin(x y0)
    let (x, y0) = (0.7f64, 1.3f64);
    let h = grad(|x: &Array| grad(|y: &Array| jnp::sin(&(x * y)))(&sc(y0)))(&sc(x));
    close_arr(&h, &[(x * y0).cos() - x * y0 * (x * y0).sin()], 1e-13, "mixed partial");
    // jvp inside grad, the tangent closing over the outer tracer
    let k = grad(|x: &Array| jvp(|y: &Array| jnp::exp(&(y * x)), &sc(1.0), x).1)(&sc(0.5));
    // jvp value = (x exp(x)) * x (tangent x) ; derivative = (2x + x^2) exp(x)
    close_arr(&k, &[0.5f64.exp() * (1.0 + 0.25)], 1e-13, "grad of jvp over outer tracer");
}

// ---------------------------------------------------------------- trees

#[derive(Tree, Clone, Debug)]
struct Linear {
    w: Array,
    b: Array,
    #[tree(skip)]
    name: String,
}

#[derive(Tree, Clone, Debug)]
struct Pair(Array, Array);

#[test]
fn grad_on_derived_struct() {
    let xd = [1.0, 0.0, 2.0, -1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 2.0, -2.0, 0.0];
    let yd = [1.0, 0.0, -1.0, 2.0];
    let (x, y) = (arr(&xd, &[4, 3]), arr(&yd, &[4]));
    let p = Linear { w: arr(&[0.1, 0.2, 0.3], &[3]), b: sc(0.5), name: "fc".into() };
    let loss = |p: &Linear| jnp::square(&(jnp::matmul(&x, &p.w) + &p.b - &y)).sum();
    let g = grad(loss)(&p);
    assert_eq!(g.name, "fc", "skipped field is cloned");
    assert_eq!(g.def(), p.def());
    assert_eq!((g.w.shape(), g.b.shape()), (&[3][..], &[][..]));
    let r: Vec<f64> =
        (0..4).map(|i| (0..3).map(|k| xd[3 * i + k] * [0.1, 0.2, 0.3][k]).sum::<f64>() + 0.5 - yd[i]).collect();
    let gw: Vec<f64> = (0..3).map(|k| (0..4).map(|i| 2.0 * r[i] * xd[3 * i + k]).sum()).collect();
    close_arr(&g.w, &gw, 1e-13, "dL/dw");
    close_arr(&g.b, &[2.0 * r.iter().sum::<f64>()], 1e-13, "dL/db");
    let (v, g2) = value_and_grad(loss)(&p);
    close_arr(&v, &[r.iter().map(|e| e * e).sum()], 1e-13, "loss value");
    close(&g2.w.to_vec::<f64>(), &gw, 1e-13, "value_and_grad w");
}

#[test]
fn value_and_grad_on_tuple_struct() {
    let p = Pair(arr(&[1.0, 2.0], &[2]), arr(&[3.0, -4.0], &[2]));
    let (v, g) = value_and_grad(|p: &Pair| (&p.0 * &p.1).sum() + jnp::sin(&p.0).sum())(&p);
    close_arr(&v, &[3.0 - 8.0 + 1f64.sin() + 2f64.sin()], 1e-14, "value");
    close_arr(&g.0, &[3.0 + 1f64.cos(), -4.0 + 2f64.cos()], 1e-14, "d/d.0");
    close_arr(&g.1, &[1.0, 2.0], 1e-14, "d/d.1");
    assert_eq!(g.def(), p.def());
}

#[test]
fn grad_with_aux_on_tuple_and_vec_and_map() {
    // tuple input, tuple-of-vec aux
    let t = (sc(2.0), arr(&[1.0, 3.0], &[2]));
    let (g, aux) = grad_with_aux(|(a, b): &(Array, Array)| {
        let l = (a * b).sum() * a;
        (l.clone(), (l, vec![b * 2.0, a.clone()]))
    })(&t);
    // l = a^2 * sum(b): dl/da = 2 a sum(b) = 16, dl/db = a^2 = 4
    close_arr(&g.0, &[16.0], 1e-14, "d/da");
    close_arr(&g.1, &[4.0, 4.0], 1e-14, "d/db");
    close_arr(&aux.0, &[16.0], 1e-14, "aux loss");
    close_arr(&aux.1[0], &[2.0, 6.0], 1e-14, "aux vec 0");
    close_arr(&aux.1[1], &[2.0], 1e-14, "aux vec 1");

    // Vec<Array> input with value_and_grad_with_aux, integer aux
    let v = vec![arr(&[0.5, 1.5, -1.0], &[3]), sc(3.0)];
    let ((val, am), gv) = value_and_grad_with_aux(|v: &Vec<Array>| ((&v[0] * &v[1]).sum(), jnp::argmax(&v[0], 0)))(&v);
    close_arr(&val, &[3.0], 1e-14, "value");
    assert_eq!(am.to_vec::<i32>(), vec![1], "integer aux");
    assert_eq!(gv.len(), 2);
    close_arr(&gv[0], &[3.0, 3.0, 3.0], 1e-14, "d/dv0");
    close_arr(&gv[1], &[1.0], 1e-14, "d/dv1");

    // BTreeMap<String, Array>
    let mut m = BTreeMap::new();
    m.insert("alpha".to_string(), arr(&[1.0, 2.0], &[2]));
    m.insert("beta".to_string(), sc(0.5));
    let gm = grad(|m: &BTreeMap<String, Array>| (jnp::exp(&(&m["alpha"] * &m["beta"]))).sum())(&m);
    assert_eq!(gm.def(), m.def());
    assert_eq!(gm.keys().collect::<Vec<_>>(), vec!["alpha", "beta"]);
    let (e1, e2) = (0.5f64.exp(), 1f64.exp());
    close_arr(&gm["alpha"], &[0.5 * e1, 0.5 * e2], 1e-14, "d/dalpha");
    close_arr(&gm["beta"], &[1.0 * e1 + 2.0 * e2], 1e-14, "d/dbeta");
}

#[test]
fn grad_on_nested_tree() {
    let p = (
        Linear { w: arr(&[1.0, 2.0], &[2]), b: sc(0.0), name: "a".into() },
        vec![Pair(sc(1.0), sc(2.0)), Pair(sc(3.0), sc(4.0))],
    );
    let f = |(l, ps): &(Linear, Vec<Pair>)| {
        let s = ps.iter().fold(l.b.clone(), |acc, p| acc + &p.0 * &p.1);
        (&l.w * &s).sum()
    };
    let g = grad(f)(&p);
    assert_eq!(g.def(), p.def());
    // s = b + 1*2 + 3*4 = 14 ; f = 3 s ; df/dw = s ; df/db = 3 ; df/dp.0 = 3 p.1 ...
    close_arr(&g.0.w, &[14.0, 14.0], 1e-14, "w");
    close_arr(&g.0.b, &[3.0], 1e-14, "b");
    close_arr(&g.1[0].0, &[6.0], 1e-14, "p0.0");
    close_arr(&g.1[1].1, &[9.0], 1e-14, "p1.1");
    let upd = tree::map2(&p, &g, |a, b| a - b * 0.1).expect("same structure");
    close_arr(&upd.0.w, &[1.0 - 1.4, 2.0 - 1.4], 1e-14, "tree::map2 update");
}

#[test]
fn jvp_and_vjp_on_trees() {
    let f = |(a, b): &(Array, Array)| (a * b, jnp::sin(a) + b);
    let (a, b) = ([0.5, 1.0], [2.0, -1.0]);
    let x = (arr(&a, &[2]), arr(&b, &[2]));
    let t = (arr(&[1.0, 0.0], &[2]), arr(&[0.5, 2.0], &[2]));
    let ((y0, y1), (t0, t1)) = jvp(f, &x, &t);
    close_arr(&y0, &[1.0, -1.0], 1e-15, "y0");
    close_arr(&y1, &[a[0].sin() + 2.0, a[1].sin() - 1.0], 1e-15, "y1");
    // t0 = ta b + a tb ; t1 = cos(a) ta + tb
    close_arr(&t0, &[2.0 + 0.25, 0.0 + 2.0], 1e-15, "t0");
    close_arr(&t1, &[a[0].cos() + 0.5, 2.0], 1e-15, "t1");

    let (y, pullback) = vjp(f, &x);
    close_arr(&y.0, &[1.0, -1.0], 1e-15, "vjp primal");
    let (c0, c1) = (arr(&[1.0, 2.0], &[2]), arr(&[-1.0, 3.0], &[2]));
    let (ga, gb) = pullback(&(c0, c1));
    // ga = c0 b + c1 cos a ; gb = c0 a + c1
    close_arr(&ga, &[2.0 - a[0].cos(), -2.0 + 3.0 * a[1].cos()], 1e-15, "ga");
    close_arr(&gb, &[0.5 - 1.0, 2.0 + 3.0], 1e-15, "gb");

    // vjp on a derived struct with a scalar output matches grad
    let p = Linear { w: arr(&[1.0, -2.0], &[2]), b: sc(0.3), name: "v".into() };
    let loss = |p: &Linear| jnp::tanh(&(p.w.sum() * &p.b));
    let (_, pb) = vjp(loss, &p);
    let gp = pb(&sc(1.0));
    let gg = grad(loss)(&p);
    assert_eq!(gp.name, "v");
    close(&gp.w.to_vec::<f64>(), &gg.w.to_vec::<f64>(), 1e-15, "vjp vs grad w");
    close(&gp.b.to_vec::<f64>(), &gg.b.to_vec::<f64>(), 1e-15, "vjp vs grad b");
}

// ---------------------------------------------------------------- Jacobians

#[test]
fn jacfwd_and_jacrev_agree_with_finite_differences() {
    let bm = arr(&[1.0, -2.0, 0.5, 0.3, 0.0, 1.0], &[2, 3]);
    // R^3 -> R^2 : B @ sin(x) * sum(x^2)
    let f = move |x: &Array| jnp::matmul(&bm, &jnp::sin(x)) * jnp::square(x).sum();
    let xs = [0.4, -1.2, 0.9];
    let x = arr(&xs, &[3]);
    let jf = jacfwd(f.clone())(&x);
    let jr = jacrev(f.clone())(&x);
    assert_eq!(jf.shape(), &[2, 3]);
    assert_eq!(jr.shape(), &[2, 3]);
    close(&jf.to_vec::<f64>(), &jr.to_vec::<f64>(), 1e-13, "jacfwd vs jacrev");
    let fd = fd_jac(|v| f(&arr(v, &[3])).to_vec::<f64>(), &xs);
    close_arr(&jf, &fd, 1e-7, "jacfwd vs fd");

    // R^3 -> R^3 with a matrix input to a square map
    let am = arr(&[0.2, 0.1, 0.0, -0.3, 0.5, 0.4, 1.0, 0.0, -1.0], &[3, 3]);
    let g = move |x: &Array| jnp::tanh(&jnp::matmul(&am, x)) * x;
    let jf = jacfwd(g.clone())(&x);
    let jr = jacrev(g.clone())(&x);
    assert_eq!(jf.shape(), &[3, 3]);
    close(&jf.to_vec::<f64>(), &jr.to_vec::<f64>(), 1e-13, "square jacfwd vs jacrev");
    let fd = fd_jac(|v| g(&arr(v, &[3])).to_vec::<f64>(), &xs);
    close_arr(&jr, &fd, 1e-7, "jacrev vs fd");
}

#[test]
fn jacobian_of_matrix_input_has_output_then_input_axes() {
    // f: [2,2] -> [2], f(X) = X @ v ; J[i, j, k] = delta_ij v_k
    let v = arr(&[3.0, 5.0], &[2]);
    let f = move |x: &Array| jnp::matmul(x, &v);
    let x = arr(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let want = [3.0, 5.0, 0.0, 0.0, 0.0, 0.0, 3.0, 5.0];
    let jf = jacfwd(f.clone())(&x);
    let jr = jacrev(f)(&x);
    assert_eq!(jf.shape(), &[2, 2, 2]);
    assert_eq!(jr.shape(), &[2, 2, 2]);
    close_arr(&jf, &want, 1e-15, "jacfwd");
    close_arr(&jr, &want, 1e-15, "jacrev");
}

// ---------------------------------------------------------------- vmap axes

#[test]
fn vmap_axes_none_axis1_and_out_axis1() {
    let w = arr(&[1.0, 2.0, 3.0], &[3]);
    let xd: Vec<f64> = (0..15).map(|i| i as f64).collect();
    let xs = arr(&xd, &[3, 5]); // examples along axis 1
    let f = vmap_axes(|(w, x): &(Array, Array)| jnp::dot(w, x), vec![None, Some(1)], 0);
    let y = f(&(w.clone(), xs.clone()));
    assert_eq!(y.shape(), &[5]);
    let want: Vec<f64> = (0..5).map(|j| (0..3).map(|i| (i as f64 + 1.0) * xd[5 * i + j]).sum()).collect();
    close_arr(&y, &want, 1e-14, "w . x[:, j]");
    // both mapped, axis 1 and axis 0 ; out axis 1
    let zs = arr(&(0..10).map(|i| i as f64 * 0.5).collect::<Vec<_>>(), &[5, 2]);
    let h = vmap_axes(|(x, z): &(Array, Array)| jnp::outer(x, z), vec![Some(1), Some(0)], 1);
    let o = h(&(xs.clone(), zs.clone()));
    // per example j: outer(x[:, j], z[j]) is [3, 2]; stacked on axis 1 -> [3, 5, 2]
    assert_eq!(o.shape(), &[3, 5, 2]);
    let ov = o.to_vec::<f64>();
    for i in 0..3 {
        for j in 0..5 {
            for k in 0..2 {
                assert_eq!(ov[i * 10 + j * 2 + k], xd[5 * i + j] * (j * 2 + k) as f64 * 0.5, "o[{i},{j},{k}]");
            }
        }
    }
    // negative in axis, out axis -1
    let m = vmap_axes(|x: &Array| x * 2.0, -1, -1)(&xs);
    assert_eq!(m, &xs * 2.0);
    // per-leaf out_axes on a tuple output
    let (p, q) = vmap_axes(|x: &Array| (x.sum(), x * x), 0, vec![Some(0), Some(1)])(&xs);
    assert_eq!(p.shape(), &[3]);
    assert_eq!(q.shape(), &[5, 3]);
    assert_eq!(q, jnp::transpose(&(&xs * &xs), None));
    // an unmapped output that does not depend on the mapped input
    let (r, c) = vmap_axes(|x: &Array| (x.sum(), w.clone() * 2.0), 0, vec![Some(0), None])(&xs);
    assert_eq!(r.to_vec::<f64>(), vec![10.0, 35.0, 60.0]);
    assert_eq!(c.to_vec::<f64>(), vec![2.0, 4.0, 6.0]);
}

#[test]
fn nested_vmap_and_vmap_of_jvp() {
    let a = arr(&[1.0, 2.0, 3.0], &[3]);
    let b = arr(&[10.0, 20.0], &[2]);
    let o = vmap(|x: &Array| vmap(|y: &Array| x * y + x)(&b))(&a);
    assert_eq!(o.shape(), &[3, 2]);
    assert_eq!(o.to_vec::<f64>(), vec![11.0, 21.0, 22.0, 42.0, 33.0, 63.0]);
    // vmap of vmap over a [2,3,4] array: the innermost sees [4]
    let t = arr(&(0..24).map(|i| i as f64).collect::<Vec<_>>(), &[2, 3, 4]);
    let r = vmap(vmap(|v: &Array| {
        assert_eq!(v.shape(), &[4]);
        jnp::max(v, 0, false) - jnp::min(v, 0, false)
    }))(&t);
    assert_eq!(r.shape(), &[2, 3]);
    assert_eq!(r.to_vec::<f64>(), vec![3.0; 6]);
    // vmap of jvp: per-example directional derivatives of sin
    let (xs, ts) = ([0.1, 0.5, -2.0], [1.0, -2.0, 0.5]);
    let (ys, dys) =
        vmap(|(x, t): &(Array, Array)| jvp(|x: &Array| jnp::sin(x) * x, x, t))(&(arr(&xs, &[3]), arr(&ts, &[3])));
    close_arr(&ys, &xs.map(|x: f64| x.sin() * x), 1e-15, "primal");
    let want: Vec<f64> = (0..3).map(|i| (xs[i].cos() * xs[i] + xs[i].sin()) * ts[i]).collect();
    close_arr(&dys, &want, 1e-15, "tangent");
    // vmap of jvp with the primal closed over and tangents batched = Jacobian rows
    let x0 = arr(&[0.3, 0.6], &[2]);
    let cols = vmap(|t: &Array| jvp(|x: &Array| x * x * x, &x0, t).1)(&Array::eye(2, DType::F64));
    close_arr(&cols, &[3.0 * 0.09, 0.0, 0.0, 3.0 * 0.36], 1e-15, "jvp columns");
    // vmap of hessian: per-example Hessians of sum(x^3) are diag(6x)
    let hs = vmap(hessian(|x: &Array| (x * x * x).sum()))(&arr(&[1.0, 2.0, 3.0, 4.0], &[2, 2]));
    assert_eq!(hs.shape(), &[2, 2, 2]);
    close_arr(&hs, &[6.0, 0.0, 0.0, 12.0, 18.0, 0.0, 0.0, 24.0], 1e-14, "vmap(hessian)");
}

// ---------------------------------------------------------------- graphs

#[test]
fn make_graph_prints_primitives_and_checks() {
    let f = |x: &Array| (jnp::sin(x) * jnp::exp(x)).sum();
    let x = Array::zeros(&[3], DType::F64);
    let g = make_graph(f)(&x);
    let text = g.to_string();
    for p in ["sin", "exp", "mul", "reduce_sum", "f64[3]"] {
        assert!(text.contains(p), "graph lacks {p}:\n{text}");
    }
    assert!(!text.contains("cos"), "forward graph should not differentiate:\n{text}");
    assert_eq!(g.inputs.len(), 1);
    assert_eq!(g.outputs.len(), 1);
    assert_eq!(g.eqns.len(), 4, "{text}");
    g.check().expect("forward graph is well formed");

    let dg = make_graph(grad(f))(&x);
    let dtext = dg.to_string();
    assert!(dtext.contains("cos"), "grad graph lacks the derivative of sin:\n{dtext}");
    assert!(dtext.contains("broadcast_in_dim"), "grad graph lacks the transpose of reduce_sum:\n{dtext}");
    assert!(dg.eqns.len() > g.eqns.len(), "{dtext}");
    dg.check().expect("grad graph is well formed");
    assert_eq!(dg.aval(dg.outputs[0]).to_string(), "f64[3]");

    // the graph of a Hessian-vector product and of a second derivative also check
    let v = arr(&[1.0, 0.0, 0.0], &[3]);
    make_graph(|x: &Array| jvp(grad(f), x, &v).1)(&x).check().expect("hvp graph");
    let g2 = make_graph(grad(grad(|x: &Array| jnp::sin(x))))(&sc(0.0));
    g2.check().expect("second derivative graph");
    assert!(g2.to_string().contains("sin"), "d2 sin needs sin:\n{g2}");
}

#[test]
fn make_graph_on_tree_with_captured_constant() {
    let c = Array::from_vec(vec![1.0f32, 2.0], &[2]);
    let g = make_graph(|(a, b): &(Array, Array)| (jnp::matmul(a, b) + &c, a.sum()))(&(
        Array::zeros(&[2, 3], DType::F32),
        Array::zeros(&[3], DType::F32),
    ));
    g.check().expect("well formed");
    let text = g.to_string();
    assert_eq!(g.inputs.len(), 2);
    assert_eq!(g.outputs.len(), 2);
    assert_eq!(g.captures.len(), 1, "the closed-over array is a capture:\n{text}");
    assert_eq!(g.captures[0].1, c);
    for p in ["dot_general", "add", "reduce_sum", "f32[2,3]", "f32[3]"] {
        assert!(text.contains(p), "graph lacks {p}:\n{text}");
    }
    assert_eq!(g.aval(g.outputs[0]).to_string(), "f32[2]");
    assert_eq!(g.aval(g.outputs[1]).to_string(), "f32[]");
}

// ---------------------------------------------------------------- stop_gradient, integers

#[test]
fn stop_gradient_inside_grad() {
    let f = |x: &Array| x * jnp::stop_gradient(x);
    close_arr(&grad(f)(&sc(3.0)), &[3.0], 1e-15, "d x sg(x)");
    // f = x^2 sg(x): f' = 2 x sg(x), f'' = 2 sg(x)
    let g = |x: &Array| x * x * jnp::stop_gradient(x);
    close_arr(&grad(g)(&sc(2.0)), &[8.0], 1e-15, "d");
    close_arr(&grad(grad(g))(&sc(2.0)), &[4.0], 1e-15, "d2");
    // forward mode ignores it too
    let (_, t) = jvp(|x: &Array| jnp::stop_gradient(&jnp::exp(x)) + x, &sc(1.0), &sc(1.0));
    close_arr(&t, &[1.0], 1e-15, "jvp");
    // a stopped tree leaf gets a zero gradient, not a missing one
    let gz = grad(|(a, b): &(Array, Array)| (a * jnp::stop_gradient(b)).sum())(&(sc(2.0), sc(5.0)));
    close_arr(&gz.0, &[5.0], 1e-15, "live leaf");
    close_arr(&gz.1, &[0.0], 1e-15, "stopped leaf");
}

#[test]
fn integer_labels_closed_over_in_cross_entropy() {
    // softmax cross-entropy of logits X W with i32 labels: dL/dW = X^T (softmax - onehot) / n
    let xd = [1.0, 0.5, -0.3, 0.2, 0.0, 1.0, -1.0, 2.0];
    let x = arr(&xd, &[4, 2]);
    let labels = Array::from_vec(vec![0i32, 2, 1, 2], &[4]);
    let wd = [0.1, -0.2, 0.3, 0.0, 0.5, -0.4];
    let w = arr(&wd, &[2, 3]);
    let loss_onehot = |w: &Array| {
        let lp = jnp::log_softmax(&jnp::matmul(&x, w), -1);
        -(lp * jnp::one_hot(&labels, 3, DType::F64)).sum() / 4.0
    };
    let loss_take = |w: &Array| {
        let lp = jnp::log_softmax(&jnp::matmul(&x, w), -1);
        let l2 = jnp::reshape(&labels, &[4, 1]);
        -jnp::take_along_axis(&lp, &l2, 1).mean()
    };
    let g1 = grad(loss_onehot)(&w);
    let g2 = grad(loss_take)(&w);
    let mut want = [0.0; 6];
    let lab = [0usize, 2, 1, 2];
    for i in 0..4 {
        let z: Vec<f64> = (0..3).map(|c| xd[2 * i] * wd[c] + xd[2 * i + 1] * wd[3 + c]).collect();
        let s: f64 = z.iter().map(|v| v.exp()).sum();
        for c in 0..3 {
            let d = (z[c].exp() / s - if c == lab[i] { 1.0 } else { 0.0 }) / 4.0;
            want[c] += xd[2 * i] * d;
            want[3 + c] += xd[2 * i + 1] * d;
        }
    }
    close_arr(&g1, &want, 1e-13, "one_hot loss");
    close_arr(&g2, &want, 1e-13, "take_along_axis loss");
    close(&loss_onehot(&w).to_vec::<f64>(), &loss_take(&w).to_vec::<f64>(), 1e-14, "both losses agree");
    // per-example losses with integer labels batched by vmap
    let per = vmap(|(xi, li): &(Array, Array)| {
        let lp = jnp::log_softmax(&jnp::matmul(xi, &w), -1);
        -jnp::take(&lp, li, 0)
    })(&(x.clone(), labels.clone()));
    assert_eq!(per.shape(), &[4]);
    close(&[per.mean().item::<f64>()], &[loss_take(&w).item::<f64>()], 1e-14, "vmapped per-example loss");
}

#[test]
fn gather_with_integer_indices_scatters_gradient() {
    let idx = Array::from_vec(vec![2i32, 0, 2, 2], &[4]);
    let g = grad(|x: &Array| jnp::take(x, &idx, 0).sum())(&arr(&[1.0, 2.0, 3.0], &[3]));
    close_arr(&g, &[1.0, 0.0, 3.0], 1e-15, "counts");
    let g = grad(|x: &Array| jnp::square(&x.at(s![1..3])).sum())(&arr(&[1.0, 2.0, 3.0, 4.0], &[4]));
    close_arr(&g, &[0.0, 4.0, 6.0, 0.0], 1e-15, "slice gradient is padded");
}

#[test]
fn vmap_of_grad_with_batched_integer_labels() {
    let x = arr(&[1.0, 0.5, -0.3, 0.2, 0.0, 1.0], &[3, 2]);
    let labels = Array::from_vec(vec![1i32, 0, 1], &[3]);
    let w = arr(&[0.1, -0.2, 0.3, 0.4], &[2, 2]);
    let nll = |w: &Array, xi: &Array, li: &Array| -jnp::take(&jnp::log_softmax(&jnp::matmul(xi, w), -1), li, 0);
    let per = vmap(|(xi, li): &(Array, Array)| grad(|w: &Array| nll(w, xi, li))(&w))(&(x.clone(), labels.clone()));
    assert_eq!(per.shape(), &[3, 2, 2]);
    let mut looped = Vec::new();
    for i in 0..3 {
        let (xi, li) = (x.at(s![i]), labels.at(s![i]));
        assert_eq!(li.dtype(), DType::I32);
        looped.extend(grad(|w: &Array| nll(w, &xi, &li))(&w).to_vec::<f64>());
    }
    close_arr(&per, &looped, 1e-14, "vmap(grad) with int labels");
    let total =
        grad(|w: &Array| vmap(|(xi, li): &(Array, Array)| nll(w, xi, li))(&(x.clone(), labels.clone())).sum())(&w);
    let summed: Vec<f64> = (0..4).map(|k| (0..3).map(|i| looped[4 * i + k]).sum()).collect();
    close_arr(&total, &summed, 1e-14, "grad(sum(vmap)) with int labels");
}

#[test]
fn degenerate_functions_identity_constant_and_integer_outputs() {
    // the output is the input itself
    close_arr(&grad(|x: &Array| x.clone())(&sc(2.0)), &[1.0], 0.0, "grad identity");
    let (y, t) = jvp(|x: &Array| x.clone(), &arr(&[1.0, 2.0], &[2]), &arr(&[3.0, 4.0], &[2]));
    close_arr(&y, &[1.0, 2.0], 0.0, "jvp identity primal");
    close_arr(&t, &[3.0, 4.0], 0.0, "jvp identity tangent");
    let m = arr(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    assert_eq!(vmap_axes(|x: &Array| x.clone(), 0, 1)(&m), jnp::transpose(&m, None));
    // the output does not depend on the input: zero gradient, zero tangent, broadcast vmap output
    let k = sc(7.0);
    close_arr(&grad(|_: &Array| k.clone())(&sc(2.0)), &[0.0], 0.0, "grad constant");
    let g = grad(|(a, _b): &(Array, Array)| a * 3.0)(&(sc(1.0), arr(&[1.0, 2.0], &[2])));
    close_arr(&g.1, &[0.0, 0.0], 0.0, "unused leaf");
    let (_, t) = jvp(|_: &Array| k.clone(), &sc(1.0), &sc(1.0));
    close_arr(&t, &[0.0], 0.0, "jvp constant");
    let v = vmap(|_: &Array| k.clone())(&arr(&[1.0, 2.0, 3.0], &[3]));
    close_arr(&v, &[7.0, 7.0, 7.0], 0.0, "vmap constant");
    let jr = jacrev(|_: &Array| Array::zeros(&[2], DType::F64))(&arr(&[1.0, 2.0, 3.0], &[3]));
    assert_eq!(jr.shape(), &[2, 3]);
    close_arr(&jr, &[0.0; 6], 0.0, "jacrev constant");
    // an integer output of jvp gets a zero tangent of its own dtype
    let ((y, i), (ty, ti)) =
        jvp(|x: &Array| (x * 2.0, jnp::argmax(x, 0)), &arr(&[1.0, 3.0, 2.0], &[3]), &arr(&[1.0, 1.0, 1.0], &[3]));
    assert_eq!(i.to_vec::<i32>(), vec![1]);
    assert_eq!(ti.dtype(), DType::I32);
    assert_eq!(ti.to_vec::<i32>(), vec![0]);
    close_arr(&y, &[2.0, 6.0, 4.0], 0.0, "primal");
    close_arr(&ty, &[2.0, 2.0, 2.0], 0.0, "tangent");
}

#[test]
fn grad_of_reductions_and_f32() {
    // max with a tie shares the gradient equally (as jax.numpy.max)
    let g = grad(|x: &Array| jnp::max(x, 0, false))(&arr(&[1.0, 3.0, 3.0, 0.0], &[4]));
    close_arr(&g, &[0.0, 0.5, 0.5, 0.0], 1e-15, "max ties");
    // prod
    let g = grad(|x: &Array| jnp::prod(x, jnp::ALL, false))(&arr(&[2.0, 3.0, 4.0], &[3]));
    close_arr(&g, &[12.0, 8.0, 6.0], 1e-14, "prod");
    // mean / var over an axis with keepdims against finite differences
    let xs = [0.5, 1.0, -1.5, 2.0, 0.0, 0.25];
    let f = |x: &Array| (jnp::var(x, 1, true) * jnp::mean(x, 0, true)).sum();
    let g = grad(f)(&arr(&xs, &[2, 3]));
    let fd = fd_grad(|v| f(&arr(v, &[2, 3])).item::<f64>(), &xs);
    close_arr(&g, &fd, 1e-7, "var * mean");
    // f32 works end to end and keeps its dtype
    let x32 = Array::from_vec(vec![0.5f32, -1.0], &[2]);
    let d1 = grad(|x: &Array| jnp::sin(x).sum());
    let g32 = grad(|x: &Array| d1(x).sum())(&x32);
    assert_eq!(g32.dtype(), DType::F32);
    let got = g32.to_vec::<f32>();
    assert!((got[0] + 0.5f32.sin()).abs() < 1e-6 && (got[1] - 1f32.sin()).abs() < 1e-6, "{got:?}");
}

#[test]
fn hessian_through_vmap_and_of_quadratic_form() {
    // f(w) = sum_i tanh(w . x_i): H = sum_i -2 t_i (1 - t_i^2) x_i x_i^T
    let xd = [0.5, -1.0, 0.2, 0.1, 0.3, 0.7];
    let wv = [0.4, -0.3];
    let xs = arr(&xd, &[3, 2]);
    let f = move |w: &Array| vmap(|x: &Array| jnp::tanh(&jnp::dot(w, x)))(&xs).sum();
    let h = hessian(f)(&arr(&wv, &[2]));
    let mut want = [0.0; 4];
    for i in 0..3 {
        let x = &xd[2 * i..2 * i + 2];
        let t = (wv[0] * x[0] + wv[1] * x[1]).tanh();
        for (k, w) in want.iter_mut().enumerate() {
            *w += -2.0 * t * (1.0 - t * t) * x[k / 2] * x[k % 2];
        }
    }
    close_arr(&h, &want, 1e-12, "hessian through vmap");
    // x^T A x: H = A + A^T regardless of x
    let a = arr(&[1.0, 2.0, 0.0, -1.0, 3.0, 0.5, 4.0, 0.0, 2.0], &[3, 3]);
    let q = move |x: &Array| jnp::dot(x, &jnp::matmul(&a, x));
    let h = hessian(q)(&arr(&[0.3, -0.1, 2.0], &[3]));
    close_arr(&h, &[2.0, 1.0, 4.0, 1.0, 6.0, 0.5, 4.0, 0.5, 4.0], 1e-14, "x^T A x");
}

/// A function mixing structural ops, batched matmul, gather and reductions.
fn mixed(x: &Array, m: &Array, i: &Array) -> Array {
    let left = x.at(s![.., 1..3]); // [3, 2]
    let cat = jnp::concatenate(&[&left, &jnp::transpose(&x.at(s![0..2, ..]), None)], 0); // [7, 2]
    let prod = jnp::matmul(&cat, m); // [7, 2]
    let picked = jnp::take(&prod, i, 0); // [2]
    let padded = jnp::pad(&jnp::softmax(&picked, 0), &[(1, 0)], 0.5); // [3]
    (jnp::sum(&jnp::square(&prod), 1, true) * jnp::max(&padded, 0, false)).sum() + jnp::logsumexp(x, jnp::ALL, false)
}

#[test]
fn vmap_and_grad_of_mixed_function_match_loops_and_finite_differences() {
    let xd: Vec<f64> = (0..24).map(|k| ((k * 7 % 11) as f64 - 5.0) * 0.15).collect();
    let md: Vec<f64> = (0..8).map(|k| (k as f64 - 3.5) * 0.2).collect();
    let (xs, ms) = (arr(&xd, &[2, 3, 4]), arr(&md, &[2, 2, 2]));
    let is = Array::from_vec(vec![6i32, 2], &[2]);
    let batched = vmap(|(x, m, i): &(Array, Array, Array)| mixed(x, m, i))(&(xs.clone(), ms.clone(), is.clone()));
    let grads = vmap(|(x, m, i): &(Array, Array, Array)| grad(|x: &Array| mixed(x, m, i))(x))(&(
        xs.clone(),
        ms.clone(),
        is.clone(),
    ));
    assert_eq!(batched.shape(), &[2]);
    assert_eq!(grads.shape(), &[2, 3, 4]);
    for b in 0..2 {
        let (x, m, i) = (xs.at(s![b]), ms.at(s![b]), is.at(s![b]));
        let v = mixed(&x, &m, &i).item::<f64>();
        close(&[batched.to_vec::<f64>()[b]], &[v], 1e-13, "vmap vs loop");
        let g = grad(|x: &Array| mixed(x, &m, &i))(&x);
        close(&grads.at(s![b]).to_vec::<f64>(), &g.to_vec::<f64>(), 1e-13, "vmap(grad) vs loop");
        let fd = fd_grad(|v| mixed(&arr(v, &[3, 4]), &m, &i).item::<f64>(), &x.to_vec::<f64>());
        close_arr(&g, &fd, 1e-6, "grad vs finite differences");
    }
}

/// d/db of a^b at a = 0 is taken as 0 (as JAX), not NaN from log(0) * 0.
#[test]
fn pow_exponent_derivative_at_zero_base() {
    let a = Array::from_vec(vec![0.0f64, 2.0], &[2]);
    let g = rjax::grad(|b: &Array| rjax::numpy::power(&a, b).sum())(&Array::from_vec(vec![2.0f64, 3.0], &[2]));
    let g = g.to_vec::<f64>();
    assert_eq!(g[0], 0.0);
    assert!((g[1] - 8.0 * 2f64.ln()).abs() < 1e-12, "{g:?}");
}
