//! Layers as trees of arrays: [`Dense`] and [`Mlp`]. Their gradients have the
//! same type, so an optimizer updates them directly.

use super::{Init, dropout};
use crate::Tree;
use crate::core::{Array, DType};
use crate::lax::KEY_WORDS;
use crate::numpy as jnp;
use crate::random::{self, Key};

/// A fully connected layer `x @ w + b` with `w: [in, out]`, `b: [out]`.
///
/// ```
/// use rjax::{nn::{Dense, Init}, random, Array, DType};
/// let layer = Dense::new(&random::key(0), 3, 2, Init::LecunNormal);
/// let y = layer.apply(&Array::ones(&[5, 3], DType::F32));
/// assert_eq!(y.shape(), &[5, 2]);
/// ```
#[derive(Tree, Clone, Debug)]
pub struct Dense {
    /// The weight, `[in, out]`.
    pub w: Array,
    /// The bias, `[out]`.
    pub b: Array,
}

impl Dense {
    /// A layer from `in_features` to `out_features` in f32. `key` must be a
    /// single key; a stack of keys panics ([`vmap`](crate::vmap) over a stack
    /// of keys makes a stack of layers).
    ///
    /// ```
    /// use rjax::{nn::{Dense, Init}, random};
    /// let d = Dense::new(&random::key(1), 4, 8, Init::KaimingUniform);
    /// assert_eq!((d.w.shape(), d.b.shape()), (&[4, 8][..], &[8][..]));
    /// ```
    #[track_caller]
    pub fn new(key: &Key, in_features: usize, out_features: usize, init: Init) -> Dense {
        random::expect_single("Dense::new", key, random::ONE_KEY_HINT);
        Dense::with_dtype(key, in_features, out_features, init, DType::F32)
    }

    /// A layer with parameters of a float `dtype`.
    ///
    /// ```
    /// use rjax::{nn::{Dense, Init}, random, DType};
    /// let d = Dense::with_dtype(&random::key(1), 4, 8, Init::LecunNormal, DType::F64);
    /// assert_eq!(d.w.dtype(), DType::F64);
    /// ```
    #[track_caller]
    pub fn with_dtype(key: &Key, in_features: usize, out_features: usize, init: Init, dtype: DType) -> Dense {
        random::expect_single("Dense::with_dtype", key, random::ONE_KEY_HINT);
        let (w, b) = init.dense(key, in_features, out_features, dtype);
        Dense { w, b }
    }

    /// `x @ w + b` for `x: [..., in]`.
    ///
    /// ```
    /// use rjax::{nn::Dense, Array};
    /// let d = Dense { w: Array::from_vec(vec![1.0f32, 2.0], &[2, 1]), b: Array::from_vec(vec![0.5f32], &[1]) };
    /// assert_eq!(d.apply(&Array::from_vec(vec![1.0f32, 1.0], &[1, 2])).to_vec::<f32>(), vec![3.5]);
    /// ```
    #[track_caller]
    pub fn apply(&self, x: &Array) -> Array {
        let n_in = self.w.shape()[0];
        if x.ndim() == 0 || x.shape()[x.ndim() - 1] != n_in {
            panic!("Dense::apply: the input has shape {:?} but the layer takes {n_in} features", x.shape());
        }
        if x.dtype() != self.w.dtype() {
            panic!("Dense::apply: the input is {} but the layer's weight is {}", x.dtype(), self.w.dtype());
        }
        jnp::matmul(x, &self.w) + &self.b
    }
}

/// A multilayer perceptron: dense layers with ReLU between them, and dropout
/// after each hidden layer's activation when training.
///
/// ```
/// use rjax::{nn::{Init, Mlp}, random, Array, DType};
/// let mlp = Mlp::new(&random::key(0), &[8, 16, 4], Init::LecunNormal);
/// let x = Array::ones(&[2, 8], DType::F32);
/// assert_eq!(mlp.apply(&x, None, 0.0, false).shape(), &[2, 4]);
/// // training with dropout: a key per step
/// let y = mlp.apply(&x, Some(random::key(1)), 0.5, true);
/// assert_eq!(y.shape(), &[2, 4]);
/// ```
#[derive(Tree, Clone, Debug)]
pub struct Mlp {
    /// The layers, input first.
    pub layers: Vec<Dense>,
}

impl Mlp {
    /// Layers `widths[0] -> widths[1] -> ... -> widths[n-1]` in f32, each
    /// initialized with `init` from its own key split off `key`. `key` must be
    /// a single key; a stack of keys panics ([`vmap`](crate::vmap) over a
    /// stack of keys makes a stack of MLPs).
    ///
    /// ```
    /// use rjax::{nn::{Init, Mlp}, random, tree};
    /// let mlp = Mlp::new(&random::key(0), &[3072, 1024, 512, 256, 10], Init::LecunNormal);
    /// assert_eq!(mlp.layers.len(), 4);
    /// assert_eq!(tree::size(&mlp), 3072 * 1024 + 1024 + 1024 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10);
    /// ```
    #[track_caller]
    pub fn new(key: &Key, widths: &[usize], init: Init) -> Mlp {
        random::expect_single("Mlp::new", key, random::ONE_KEY_HINT);
        Mlp::with_dtype(key, widths, init, DType::F32)
    }

    /// An MLP with parameters of a float `dtype`.
    ///
    /// ```
    /// use rjax::{nn::{Init, Mlp}, random, DType};
    /// let mlp = Mlp::with_dtype(&random::key(0), &[2, 3, 1], Init::GlorotUniform, DType::F64);
    /// assert_eq!(mlp.layers[1].w.dtype(), DType::F64);
    /// ```
    #[track_caller]
    pub fn with_dtype(key: &Key, widths: &[usize], init: Init, dtype: DType) -> Mlp {
        random::expect_single("Mlp::with_dtype", key, random::ONE_KEY_HINT);
        if widths.len() < 2 {
            panic!("Mlp::new: needs at least an input and an output width, got {widths:?}");
        }
        let keys = random::split(key, widths.len() - 1);
        let layers = widths.windows(2).zip(&keys).map(|(w, k)| Dense::with_dtype(k, w[0], w[1], init, dtype)).collect();
        Mlp { layers }
    }

    /// The output (logits) for `x: [..., widths[0]]`: `relu` after every layer
    /// but the last, and [`dropout`] with `rate` after each hidden activation
    /// when `training` (each hidden layer draws from its own key split off
    /// `dropout_key`, as [`Mlp::dropout_keys`] splits it). Panics if dropout is
    /// active and `dropout_key` is `None`, or if `dropout_key` is a stack of
    /// keys rather than one key.
    ///
    /// ```
    /// use rjax::{nn::{Init, Mlp}, random, Array, DType};
    /// let mlp = Mlp::new(&random::key(0), &[4, 4, 2], Init::LecunNormal);
    /// let x = Array::ones(&[1, 4], DType::F32);
    /// // not training: dropout is the identity and needs no key
    /// assert_eq!(mlp.apply(&x, None, 0.5, false).to_vec::<f32>(), mlp.apply(&x, None, 0.0, true).to_vec::<f32>());
    /// ```
    #[track_caller]
    pub fn apply(&self, x: &Array, dropout_key: Option<Key>, rate: f64, training: bool) -> Array {
        super::functional::check_rate("Mlp::apply", rate);
        if let Some(k) = &dropout_key {
            random::expect_single("Mlp::apply", k, random::ONE_KEY_HINT);
        }
        let keys = match (&dropout_key, self.dropout_active(rate, training)) {
            (Some(k), true) => Some(self.dropout_keys(k)),
            (None, true) => panic!("Mlp::apply: dropout (training with rate {rate}) needs a dropout_key"),
            (_, false) => None,
        };
        self.forward(x, keys.as_ref(), rate)
    }

    /// The keys [`Mlp::apply`] splits off `dropout_key` for its hidden
    /// layers' dropout masks, as a stack `u32[hidden, 8]`. Under `vmap`, a
    /// stack of keys gives a stack of such stacks: how a training loop can
    /// derive every step's keys at once (see [`Mlp::apply_with_keys`]).
    ///
    /// ```
    /// use rjax::{nn::{Init, Mlp}, random};
    /// let mlp = Mlp::new(&random::key(0), &[4, 8, 8, 2], Init::LecunNormal);
    /// assert_eq!(mlp.dropout_keys(&random::key(1)).data().shape(), &[2, 8]);
    /// ```
    #[track_caller]
    pub fn dropout_keys(&self, dropout_key: &Key) -> Key {
        random::expect_single("Mlp::dropout_keys", dropout_key, random::ONE_KEY_HINT);
        random::split_stack(dropout_key, self.layers.len().saturating_sub(1))
    }

    /// [`Mlp::apply`] with the hidden layers' dropout keys given, as a stack
    /// `u32[hidden, 8]`: with [`Mlp::dropout_keys`] of the key `apply` would
    /// take, the result is the same, bit for bit. Panics if dropout is active
    /// and `dropout_keys` is `None` or not such a stack.
    ///
    /// ```
    /// use rjax::{nn::{Init, Mlp}, random, Array, DType};
    /// let mlp = Mlp::new(&random::key(0), &[4, 8, 8, 2], Init::LecunNormal);
    /// let x = Array::ones(&[3, 4], DType::F32);
    /// let k = random::key(7);
    /// let a = mlp.apply(&x, Some(k.clone()), 0.5, true);
    /// let b = mlp.apply_with_keys(&x, Some(&mlp.dropout_keys(&k)), 0.5, true);
    /// assert_eq!(a.to_vec::<f32>(), b.to_vec::<f32>());
    /// ```
    #[track_caller]
    pub fn apply_with_keys(&self, x: &Array, dropout_keys: Option<&Key>, rate: f64, training: bool) -> Array {
        super::functional::check_rate("Mlp::apply_with_keys", rate);
        if !self.dropout_active(rate, training) {
            return self.forward(x, None, rate);
        }
        let hidden = self.layers.len() - 1;
        match dropout_keys {
            Some(k) if k.data().shape() == [hidden, KEY_WORDS] => self.forward(x, Some(k), rate),
            Some(k) => panic!(
                "Mlp::apply_with_keys: expected one key per hidden layer, shape [{hidden}, {KEY_WORDS}], got shape \
                 {:?}; Mlp::dropout_keys makes them",
                k.data().shape()
            ),
            None => panic!("Mlp::apply_with_keys: dropout (training with rate {rate}) needs dropout_keys"),
        }
    }

    /// True when `apply` draws dropout masks.
    fn dropout_active(&self, rate: f64, training: bool) -> bool {
        training && rate > 0.0 && self.layers.len() > 1
    }

    /// The layers, with dropout after each hidden one from its key of `keys`
    /// when given.
    fn forward(&self, x: &Array, keys: Option<&Key>, rate: f64) -> Array {
        let hidden = self.layers.len().saturating_sub(1);
        let mut h = x.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.apply(&h);
            if i < hidden {
                h = jnp::relu(&h);
                if let Some(k) = keys {
                    h = dropout(&k.get(i), rate, &h, true);
                }
            }
        }
        h
    }
}
