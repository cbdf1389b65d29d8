//! Higher-order derivatives of composites, checked against finite differences
//! of the gradient: softmax cross-entropy and a two-layer tanh MLP (Hessian-
//! vector products by forward-over-reverse, reverse-over-reverse and the full
//! `hessian`), Jacobians by `jacfwd`/`jacrev`, and third derivatives of scalar
//! functions against their closed forms.

mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rjax::{Array, grad, hessian, jacfwd, jacrev, jvp, numpy as jnp};

fn host(x: &Array) -> Vec<f64> {
    x.to_vec::<f64>()
}

/// Hessian-vector products of `loss` at `xs` in a random direction `v`:
/// `jvp(grad(loss), xs, v)` against `(grad(xs + h v) - grad(xs - h v)) / 2h`.
fn check_hvp(name: &str, loss: impl Fn(&Vec<Array>) -> Array, xs: &[Array], seed: u64) -> Result<(), TestCaseError> {
    let xs = xs.to_vec();
    let mut rng = Gen::new(seed ^ 0x5eed);
    let vs: Vec<Array> = xs.iter().map(|x| rng.array(x.shape(), -1.0, 1.0)).collect();
    let g = grad(&loss);
    let (g0, hv) = jvp(&g, &xs, &vs);
    let xmax = xs.iter().flat_map(host).fold(1.0f64, |m, v| m.max(v.abs()));
    let h = 1e-6 * xmax;
    let (gp, gm, gx) = (g(&axpy(&xs, &vs, h)), g(&axpy(&xs, &vs, -h)), g(&xs));
    for k in 0..xs.len() {
        let (hk, pk, mk, g0k, gxk) = (host(&hv[k]), host(&gp[k]), host(&gm[k]), host(&g0[k]), host(&gx[k]));
        prop_assert_eq!(hv[k].shape(), xs[k].shape());
        for i in 0..hk.len() {
            let fd = (pk[i] - mk[i]) / (2.0 * h);
            prop_assert!(
                close(hk[i], fd, gxk[i].abs()),
                "{}: Hessian-vector product, input {} element {}: autodiff {} vs finite difference {}\n\
                 inputs {:?}\ndirection {:?}",
                name,
                k,
                i,
                hk[i],
                fd,
                xs,
                vs
            );
            prop_assert!(close(g0k[i], gxk[i], 0.0), "{}: jvp primal {} vs grad {}", name, g0k[i], gxk[i]);
        }
    }
    Ok(())
}

/// Mean softmax cross-entropy of `logits` [n, c] against integer `labels` [n, 1].
fn cross_entropy(logits: &Array, labels: &Array) -> Array {
    let logp = jnp::log_softmax(logits, -1);
    -jnp::mean(&jnp::take_along_axis(&logp, labels, 1), jnp::ALL, false)
}

/// Mean squared error of a two-layer tanh network `[w1, b1, w2, b2]` on (x, y).
fn mlp_loss(p: &[Array], x: &Array, y: &Array) -> Array {
    let hidden = jnp::tanh(&(jnp::matmul(x, &p[0]) + &p[1]));
    let out = jnp::matmul(&hidden, &p[2]) + &p[3];
    jnp::mean(&jnp::square(&(out - y)), jnp::ALL, false)
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn softmax_cross_entropy_second_order((n, c) in (1usize..=4, 2usize..=4), seed in any::<u64>()) {
        let mut rng = Gen::new(seed);
        let x = rng.array(&[n, c], -3.0, 3.0);
        let labels = Array::from_vec((0..n).map(|_| rng.uniform(0.0, c as f64) as i32).collect::<Vec<i32>>(), &[n, 1]);
        let loss = |v: &Vec<Array>| cross_entropy(&v[0], &labels);
        // first order
        check("cross-entropy", |v| loss(&v.to_vec()), std::slice::from_ref(&x), seed)?;
        // forward-over-reverse
        check_hvp("cross-entropy", loss, std::slice::from_ref(&x), seed)?;
        // reverse-over-reverse and forward-over-reverse on the gradient as a function
        check("grad of cross-entropy", |v| grad(loss)(&v.to_vec()).remove(0), std::slice::from_ref(&x), seed)?;
        // the full Hessian (jacfwd of jacrev, through vmap) times a direction
        let hess = hessian(|z: &Array| cross_entropy(z, &labels))(&x);
        prop_assert_eq!(hess.shape(), &[n, c, n, c]);
        let v = rng.array(&[n, c], -1.0, 1.0);
        let hv = jnp::matmul(&jnp::reshape(&hess, &[(n * c) as isize, -1]), &jnp::ravel(&v));
        let g = grad(|z: &Array| cross_entropy(z, &labels));
        let h = 1e-6 * host(&x).iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let (gp, gm) = (host(&g(&(&x + &(&v * h)))), host(&g(&(&x - &(&v * h)))));
        for (i, a) in host(&hv).iter().enumerate() {
            let fd = (gp[i] - gm[i]) / (2.0 * h);
            prop_assert!(close(*a, fd, 1.0), "hessian . v, element {}: {} vs finite difference {}\n{:?}", i, a, fd, x);
        }
    }

    #[test]
    fn mlp_second_order((n, d, hid, o) in (1usize..=4, 1usize..=3, 1usize..=4, 1usize..=3), seed in any::<u64>()) {
        let mut rng = Gen::new(seed);
        let (x, y) = (rng.array(&[n, d], -2.0, 2.0), rng.array(&[n, o], -1.0, 1.0));
        let params = vec![
            rng.array(&[d, hid], -1.0, 1.0),
            rng.array(&[hid], -0.5, 0.5),
            rng.array(&[hid, o], -1.0, 1.0),
            rng.array(&[o], -0.5, 0.5),
        ];
        let loss = |p: &Vec<Array>| mlp_loss(p, &x, &y);
        check("mlp loss", |p| loss(&p.to_vec()), &params, seed)?;
        check_hvp("mlp loss", loss, &params, seed)?;
        check("grad of mlp loss", |p| flat(&grad(loss)(&p.to_vec())), &params, seed)?;
        // derivatives w.r.t. the data as well (second order through matmul's other operand)
        let loss_x = |v: &Vec<Array>| mlp_loss(&params, &v[0], &y);
        check_hvp("mlp loss w.r.t. inputs", loss_x, std::slice::from_ref(&x), seed)?;
    }

    /// Jacobians by forward and reverse mode agree with each other and with
    /// central differences, column by column.
    #[test]
    fn jacobians(sh in shape_r(1, 2), m in 1usize..=3, seed in any::<u64>()) {
        let mut rng = Gen::new(seed);
        let x = rng.array(&sh, -1.5, 1.5);
        let a = rng.array(&[m, *sh.last().unwrap()], -1.0, 1.0);
        let f = move |x: &Array| {
            jnp::softmax(&jnp::tanh(&jnp::matmul(x, &a.t())), -1) * jnp::sum(&jnp::square(x), jnp::ALL, false)
        };
        let (jf, jr) = (jacfwd(f.clone())(&x), jacrev(f.clone())(&x));
        let y = f(&x);
        let mut want = y.shape().to_vec();
        want.extend_from_slice(x.shape());
        prop_assert_eq!(jf.shape(), &want[..]);
        prop_assert_eq!(jr.shape(), &want[..]);
        let (jf, jr, xv, yv) = (host(&jf), host(&jr), host(&x), host(&y));
        let (nx, ny) = (xv.len(), yv.len());
        for i in 0..nx {
            let hx = 1e-6 * xv[i].abs().max(1.0);
            let bump = |d: f64| { let mut v = xv.clone(); v[i] += d; host(&f(&Array::from_vec(v, x.shape()))) };
            let (p, q) = (bump(hx), bump(-hx));
            for j in 0..ny {
                let fd = (p[j] - q[j]) / (2.0 * hx);
                let (a, b) = (jf[j * nx + i], jr[j * nx + i]);
                prop_assert!(close(a, fd, yv[j].abs()), "jacfwd[{}, {}] = {} vs finite difference {}", j, i, a, fd);
                prop_assert!(close(b, fd, yv[j].abs()), "jacrev[{}, {}] = {} vs finite difference {}", j, i, b, fd);
            }
        }
    }

    /// Third derivatives by grad∘grad∘grad, jvp∘jvp∘jvp and jvp∘grad∘grad,
    /// elementwise, against the closed forms.
    #[test]
    fn third_order(x in any_arr(-3.0, 3.0)) {
        // f(x) = x^3 sin x: f''' = 6 sin x + 18 x cos x - 9 x^2 sin x - x^3 cos x
        let f = |x: &Array| x * x * x * jnp::sin(x);
        let f3 = |x: f64| 6.0 * x.sin() + 18.0 * x * x.cos() - 9.0 * x * x * x.sin() - x.powi(3) * x.cos();
        // p(x) = 2x^4 - 3x^3 + x - 5: p''' = 48 x - 18
        let p = |x: &Array| 2.0 * &(x * x * x * x) - 3.0 * &(x * x * x) + x - 5.0;
        let p3 = |x: f64| 48.0 * x - 18.0;
        let ones = jnp::ones_like(&x);
        type Pair<'a> = (&'a dyn Fn(&Array) -> Array, &'a dyn Fn(f64) -> f64);
        let cases: [(&str, Pair); 2] = [("x^3 sin x", (&f, &f3)), ("polynomial", (&p, &p3))];
        for (name, (func, exact)) in cases {
            let d1 = |x: &Array| grad(|x: &Array| func(x).sum())(x);
            let d2 = |x: &Array| grad(|x: &Array| d1(x).sum())(x);
            let rev = grad(|x: &Array| d2(x).sum())(&x);
            let fwd = jvp(|x: &Array| jvp(|x: &Array| jvp(func, x, &ones).1, x, &ones).1, &x, &ones).1;
            let mixed = jvp(d2, &x, &ones).1;
            for (mode, got) in [("grad^3", rev), ("jvp^3", fwd), ("jvp(grad^2)", mixed)] {
                for (g, xv) in host(&got).iter().zip(host(&x)) {
                    let e = exact(xv);
                    let ok = (g - e).abs() <= 1e-10 * e.abs().max(1.0);
                    prop_assert!(ok, "{} of {} at {}: {} vs exact {}", mode, name, xv, g, e);
                }
            }
        }
    }
}
