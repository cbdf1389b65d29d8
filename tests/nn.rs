//! `rjax::nn`: layer shapes, initializer statistics, dropout, log-softmax and
//! cross-entropy against direct formulas and finite differences (f64), accuracy.

mod common;

use common::{Gen, cfg, check};
use proptest::prelude::*;
use rjax::nn::{self, Dense, Init, Mlp};
use rjax::{Array, DType, Tree, grad, random, tree};

fn host(x: &Array) -> Vec<f64> {
    x.astype(DType::F64).to_vec::<f64>()
}

fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (m, v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n)
}

// ---------------------------------------------------------------- shapes

#[test]
fn dense_and_mlp_shapes() {
    let key = random::key(0);
    let d = Dense::new(&key, 5, 3, Init::LecunNormal);
    assert_eq!((d.w.shape(), d.b.shape(), d.w.dtype()), (&[5, 3][..], &[3][..], DType::F32));
    assert_eq!(d.apply(&Array::ones(&[7, 5], DType::F32)).shape(), &[7, 3]);
    assert_eq!(d.apply(&Array::ones(&[2, 4, 5], DType::F32)).shape(), &[2, 4, 3]);
    assert_eq!(d.apply(&Array::ones(&[5], DType::F32)).shape(), &[3]);

    let mlp = Mlp::new(&key, &[3072, 1024, 512, 256, 10], Init::LecunNormal);
    let shapes: Vec<Vec<usize>> = tree::leaves(&mlp).iter().map(|a| a.shape().to_vec()).collect();
    let want: Vec<Vec<usize>> = vec![
        vec![3072, 1024],
        vec![1024],
        vec![1024, 512],
        vec![512],
        vec![512, 256],
        vec![256],
        vec![256, 10],
        vec![10],
    ];
    assert_eq!(shapes, want);
    let x = Array::ones(&[2, 3072], DType::F32);
    assert_eq!(mlp.apply(&x, None, 0.0, false).shape(), &[2, 10]);
    assert_eq!(mlp.apply(&x, Some(random::key(1)), 0.5, true).shape(), &[2, 10]);

    // the gradient of a loss of the model is a model
    let small = Mlp::with_dtype(&key, &[4, 6, 3], Init::KaimingUniform, DType::F64);
    let xs = Array::ones(&[5, 4], DType::F64);
    let labels = Array::from_vec(vec![0i32, 1, 2, 1, 0], &[5]);
    let g: Mlp = grad(|m: &Mlp| nn::mean_cross_entropy(&m.apply(&xs, None, 0.0, false), &labels))(&small);
    assert_eq!(g.def(), small.def());
    assert_eq!(g.layers[0].w.shape(), &[4, 6]);
}

#[test]
#[should_panic(expected = "Dense::apply: the input has shape [2, 4] but the layer takes 5 features")]
fn dense_rejects_a_wrong_width() {
    Dense::new(&random::key(0), 5, 3, Init::Zeros).apply(&Array::ones(&[2, 4], DType::F32));
}

#[test]
#[should_panic(expected = "Mlp::apply: dropout (training with rate 0.5) needs a dropout_key")]
fn mlp_dropout_needs_a_key() {
    let mlp = Mlp::new(&random::key(0), &[2, 2, 2], Init::Zeros);
    mlp.apply(&Array::ones(&[1, 2], DType::F32), None, 0.5, true);
}

// ---------------------------------------------------------------- initializers

#[test]
fn initializer_statistics() {
    let key = random::key(7);
    let (fan_in, fan_out) = (800usize, 600usize);
    let n = (fan_in * fan_out) as f64;
    // (name, draw, variance, bound on |w|)
    // the standard deviation of a standard normal truncated to [-2, 2], from its
    // formula: var = 1 - 2 * 2 * pdf(2) / (cdf(2) - cdf(-2)); JAX's constant is 0.87962566103423978
    let z = libm::erf(2.0 / 2f64.sqrt());
    let pdf2 = (-2.0f64).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let truncated_std = (1.0 - 4.0 * pdf2 / z).sqrt();
    assert!((truncated_std - 0.879_625_661_034_24).abs() < 1e-14, "{truncated_std}");
    let lecun_std = (1.0 / fan_in as f64).sqrt() / truncated_std;
    let glorot = (6.0 / (fan_in + fan_out) as f64).sqrt();
    let kaiming = 1.0 / (fan_in as f64).sqrt();
    let cases = [
        ("lecun_normal", nn::lecun_normal(&key, &[fan_in, fan_out], DType::F32), 1.0 / fan_in as f64, 2.0 * lecun_std),
        ("glorot_uniform", nn::glorot_uniform(&key, &[fan_in, fan_out], DType::F32), glorot * glorot / 3.0, glorot),
        (
            "kaiming_uniform",
            nn::kaiming_uniform(&key, &[fan_in, fan_out], fan_in, DType::F64),
            kaiming * kaiming / 3.0,
            kaiming,
        ),
    ];
    for (name, w, var, bound) in cases {
        let v = host(&w);
        let (m, s2) = mean_var(&v);
        assert!(m.abs() < 4.0 * (var / n).sqrt(), "{name}: mean {m}");
        assert!((s2 / var - 1.0).abs() < 0.01, "{name}: variance {s2}, want {var}");
        let max = v.iter().fold(0.0f64, |a, x| a.max(x.abs()));
        assert!(max <= bound * (1.0 + 1e-6), "{name}: |w| reaches {max}, bound {bound}");
        assert!(max > 0.9 * bound, "{name}: |w| only reaches {max} of {bound}");
    }
    // convolution-like shapes: the leading axes are the receptive field
    let w = host(&nn::lecun_normal(&key, &[3, 3, 64, 128], DType::F64));
    let (_, s2) = mean_var(&w);
    assert!((s2 * (9.0 * 64.0) - 1.0).abs() < 0.02, "lecun_normal on [3, 3, 64, 128]: variance {s2}");
}

#[test]
fn dense_initialization_schemes() {
    let key = random::key(3);
    for init in [Init::LecunNormal, Init::GlorotUniform] {
        let d = Dense::new(&key, 64, 32, init);
        assert!(host(&d.b).iter().all(|&b| b == 0.0), "{init:?}: the bias starts at zero");
        assert!(host(&d.w).iter().any(|&w| w != 0.0), "{init:?}");
    }
    // PyTorch: weight and bias uniform in +-1/sqrt(in), the bias not zero
    let d = Dense::with_dtype(&key, 64, 512, Init::KaimingUniform, DType::F64);
    let bound = 1.0 / 8.0;
    let b = host(&d.b);
    assert!(b.iter().all(|x| x.abs() <= bound) && b.iter().any(|&x| x != 0.0));
    let (m, s2) = mean_var(&b);
    assert!(m.abs() < 0.02 && (s2 / (bound * bound / 3.0) - 1.0).abs() < 0.2, "bias mean {m}, variance {s2}");
    assert_ne!(host(&d.w)[..512].to_vec(), b, "the bias uses its own key");
    let z = Dense::new(&key, 4, 4, Init::Zeros);
    assert!(tree::leaves(&z).iter().all(|a| host(a).iter().all(|&v| v == 0.0)));
    // same key, same layer; another key, another layer
    assert_eq!(host(&Dense::new(&key, 8, 8, Init::LecunNormal).w), host(&Dense::new(&key, 8, 8, Init::LecunNormal).w));
    assert_ne!(
        host(&Dense::new(&key, 8, 8, Init::LecunNormal).w),
        host(&Dense::new(&random::key(4), 8, 8, Init::LecunNormal).w)
    );
    // every layer of an MLP gets its own key
    let mlp = Mlp::new(&key, &[8, 8, 8], Init::GlorotUniform);
    assert_ne!(host(&mlp.layers[0].w), host(&mlp.layers[1].w));
}

// ---------------------------------------------------------------- dropout

#[test]
fn dropout_keeps_the_expected_fraction_and_scales() {
    let x = Array::ones(&[200_000], DType::F32);
    for rate in [0.1, 0.3, 0.5, 0.9] {
        let key = random::key(11);
        let y = nn::dropout(&key, rate, &x, true).to_vec::<f32>();
        let scale = 1.0f32 / (1.0 - rate) as f32;
        assert!(y.iter().all(|&v| v == 0.0 || v == scale), "rate {rate}: values other than 0 and {scale}");
        let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
        let sd = (rate * (1.0 - rate) / y.len() as f64).sqrt();
        assert!((dropped - rate).abs() < 5.0 * sd, "rate {rate}: dropped {dropped}");
        // deterministic per key, different across keys
        assert_eq!(nn::dropout(&key, rate, &x, true).to_vec::<f32>(), y);
        assert_ne!(nn::dropout(&random::key(12), rate, &x, true).to_vec::<f32>(), y);
    }
    let x = Array::from_vec(vec![1.0f64, -2.0, 3.0], &[3]);
    assert_eq!(host(&nn::dropout(&random::key(0), 0.5, &x, false)), host(&x));
    assert_eq!(host(&nn::dropout(&random::key(0), 0.0, &x, true)), host(&x));
    assert_eq!(host(&nn::dropout(&random::key(0), 1.0, &x, true)), vec![0.0; 3]);
    // its gradient is the mask, scaled
    let y = host(&nn::dropout(&random::key(5), 0.25, &x, true));
    let g = host(&grad(|x: &Array| nn::dropout(&random::key(5), 0.25, x, true).sum())(&x));
    for (gi, (yi, xi)) in g.iter().zip(y.iter().zip(host(&x))) {
        assert_eq!(*gi, if *yi == 0.0 { 0.0 } else { yi / xi });
    }
}

#[test]
#[should_panic(expected = "dropout: the dropout rate must be in [0, 1], got 1.5")]
fn dropout_rejects_a_bad_rate() {
    nn::dropout(&random::key(0), 1.5, &Array::ones(&[2], DType::F32), true);
}

// ---------------------------------------------------------------- log_softmax, cross-entropy, accuracy

#[test]
fn log_softmax_and_cross_entropy_match_direct_formulas() {
    let mut rng = Gen::new(1);
    let logits = rng.array(&[6, 5], -4.0, 4.0);
    let labels: Vec<i32> = vec![0, 4, 2, 2, 1, 3];
    let l = host(&logits);
    let ls = host(&nn::log_softmax(&logits, -1));
    let ce = host(&nn::softmax_cross_entropy_with_integer_labels(&logits, &Array::from_vec(labels.clone(), &[6])));
    for r in 0..6 {
        let row = &l[r * 5..r * 5 + 5];
        let lse = row.iter().map(|v| v.exp()).sum::<f64>().ln();
        for c in 0..5 {
            assert!((ls[r * 5 + c] - (row[c] - lse)).abs() < 1e-13, "log_softmax[{r}, {c}]");
        }
        let want = lse - row[labels[r] as usize];
        assert!((ce[r] - want).abs() < 1e-13, "cross-entropy of example {r}: {} vs {want}", ce[r]);
    }
    let mean = nn::mean_cross_entropy(&logits, &Array::from_vec(labels, &[6])).item::<f64>();
    assert!((mean - ce.iter().sum::<f64>() / 6.0).abs() < 1e-13);

    // large logits: no overflow, rows still normalized; batches of any rank
    let big = Array::from_vec(vec![1000.0f32, 990.0, -1000.0, 1e30, 0.0, -1e30], &[2, 3]);
    let ls = host(&nn::log_softmax(&big, -1));
    assert!(ls.iter().all(|v| v.is_finite()), "{ls:?}");
    assert!((ls[0] - -(1.0 + (-10f64).exp()).ln()).abs() < 1e-6 && ls[3] == 0.0, "{ls:?}");
    let ce3 = nn::softmax_cross_entropy_with_integer_labels(
        &Array::zeros(&[2, 3, 4], DType::F32),
        &Array::zeros(&[2, 3], DType::I32),
    );
    assert_eq!(ce3.shape(), &[2, 3]);
    assert!(host(&ce3).iter().all(|v| (v - 4f64.ln()).abs() < 1e-6));
}

#[test]
#[should_panic(
    expected = "softmax_cross_entropy_with_integer_labels: labels of shape [4] do not match logits of shape [3, 5]"
)]
fn cross_entropy_checks_the_label_shape() {
    nn::softmax_cross_entropy_with_integer_labels(&Array::zeros(&[3, 5], DType::F32), &Array::zeros(&[4], DType::I32));
}

#[test]
fn accuracy_is_exact() {
    // argmax per row: 2, 0 (a tie: the first wins), 1, 1, 3, 0, 2
    let logits = Array::from_vec(
        vec![
            0.1f32, 0.2, 0.9, 0.0, //
            0.5, 0.5, 0.1, 0.1, //
            0.0, 1.0, 0.0, 0.0, //
            -1.0, -0.5, -2.0, -3.0, //
            0.0, 0.0, 0.0, 0.1, //
            9.0, 1.0, 2.0, 3.0, //
            0.3, 0.2, 0.4, 0.1,
        ],
        &[7, 4],
    );
    let labels = Array::from_vec(vec![2i32, 1, 1, 0, 3, 0, 1], &[7]);
    let acc = nn::accuracy(&logits, &labels);
    assert_eq!(acc.dtype(), DType::F32);
    assert_eq!(acc.item::<f32>(), (4.0f64 / 7.0) as f32);
    assert_eq!(nn::accuracy(&logits, &jnp_argmax_labels(&logits)).item::<f32>(), 1.0);
    // u8 labels are accepted
    assert_eq!(nn::accuracy(&logits, &labels.astype(DType::U8)).item::<f32>(), (4.0f64 / 7.0) as f32);
}

fn jnp_argmax_labels(logits: &Array) -> Array {
    rjax::numpy::argmax(logits, -1)
}

// ---------------------------------------------------------------- finite differences (f64)

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..cfg() })]

    #[test]
    fn log_softmax_derivatives((n, c) in (1usize..=3, 1usize..=5), seed in any::<u64>()) {
        let x = Gen::new(seed).array(&[n, c], -5.0, 5.0);
        check("log_softmax", |v| nn::log_softmax(&v[0], -1), std::slice::from_ref(&x), seed)?;
        check("log_softmax axis 0", |v| nn::log_softmax(&v[0], 0), std::slice::from_ref(&x), seed)?;
    }

    #[test]
    fn cross_entropy_derivatives((n, c) in (1usize..=4, 2usize..=5), seed in any::<u64>()) {
        let mut rng = Gen::new(seed);
        let x = rng.array(&[n, c], -4.0, 4.0);
        let labels = Array::from_vec((0..n).map(|_| rng.uniform(0.0, c as f64) as i32).collect::<Vec<_>>(), &[n]);
        check("cross-entropy", |v| nn::softmax_cross_entropy_with_integer_labels(&v[0], &labels), std::slice::from_ref(&x), seed)?;
        check("mean cross-entropy", |v| nn::mean_cross_entropy(&v[0], &labels), std::slice::from_ref(&x), seed)?;
    }

    /// The loss of an f64 MLP with respect to all of its parameters.
    #[test]
    fn mlp_loss_derivatives((n, d, h, c) in (1usize..=3, 1usize..=3, 1usize..=4, 2usize..=3), seed in any::<u64>()) {
        let mut rng = Gen::new(seed);
        let model = Mlp::with_dtype(&random::key(seed), &[d, h, c], Init::KaimingUniform, DType::F64);
        let x = rng.array(&[n, d], -2.0, 2.0);
        let labels = Array::from_vec((0..n).map(|_| rng.uniform(0.0, c as f64) as i32).collect::<Vec<_>>(), &[n]);
        let loss = |leaves: &[Array]| {
            let m: Mlp = tree::unflatten(&model, leaves.to_vec()).unwrap_or_else(|e| panic!("{e}"));
            nn::mean_cross_entropy(&m.apply(&x, None, 0.0, false), &labels)
        };
        check("mlp cross-entropy", loss, &tree::leaves(&model), seed)?;
    }
}
