//! PRNG keys and their batches: the functions that need a single key
//! (`random::split`, `split2`, the `nn` initializers and layers, dropout,
//! `Batches::shuffle`) panic at the caller's line when given a stack of keys,
//! naming its shape; the same functions under `vmap` over a stack of keys see
//! one key each and give the per-key results.

mod common;

use common::panics::catch;
use rjax::data::Batches;
use rjax::nn::{self, Dense, Init, Mlp};
use rjax::random::{self, Key};
use rjax::{Array, DType, numpy as jnp, vmap};

/// A stack of 4 keys, `u32[4, 8]`.
fn stack() -> Key {
    random::split_stack(&random::key(0), 4)
}

const SPLIT: &str = "expected a single key (shape [8]), got a batch of keys of shape [4, 8]; split each key \
                     (Key::get) or use vmap";

#[test]
#[should_panic(expected = "random::split: expected a single key (shape [8]), got a batch of keys of shape [4, 8]; \
                           split each key (Key::get) or use vmap")]
fn split_of_a_stack_panics() {
    random::split(&stack(), 3);
}

#[test]
#[should_panic(expected = "random::split2: expected a single key (shape [8]), got a batch of keys of shape [4, 8]; \
                           split each key (Key::get) or use vmap")]
fn split2_of_a_stack_panics() {
    random::split2(&stack());
}

#[test]
#[should_panic(expected = "random::split: expected a single key (shape [8]), got a batch of keys of shape [2, 4, 8]")]
fn split_of_a_stack_of_stacks_panics() {
    random::split(&random::split_stack(&random::split_stack(&random::key(1), 2), 4), 2);
}

#[test]
#[should_panic(expected = "Init::dense: expected a single key (shape [8]), got a batch of keys of shape [4, 8]; \
                           pass one key (Key::get picks one of a stack) or use vmap over the stack")]
fn init_dense_of_a_stack_panics() {
    Init::LecunNormal.dense(&stack(), 3, 2, DType::F32);
}

#[test]
#[should_panic(expected = "lecun_normal: expected a single key (shape [8]), got a batch of keys of shape [4, 8]")]
fn lecun_normal_of_a_stack_panics() {
    nn::lecun_normal(&stack(), &[3, 2], DType::F32);
}

#[test]
#[should_panic(expected = "glorot_uniform: expected a single key (shape [8]), got a batch of keys of shape [4, 8]")]
fn glorot_uniform_of_a_stack_panics() {
    nn::glorot_uniform(&stack(), &[3, 2], DType::F32);
}

#[test]
#[should_panic(expected = "kaiming_uniform: expected a single key (shape [8]), got a batch of keys of shape [4, 8]")]
fn kaiming_uniform_of_a_stack_panics() {
    nn::kaiming_uniform(&stack(), &[2], 3, DType::F32);
}

#[test]
#[should_panic(expected = "Dense::new: expected a single key (shape [8]), got a batch of keys of shape [4, 8]")]
fn dense_new_of_a_stack_panics() {
    Dense::new(&stack(), 3, 2, Init::GlorotUniform);
}

#[test]
#[should_panic(expected = "Dense::with_dtype: expected a single key (shape [8]), got a batch of keys of shape [4, 8]")]
fn dense_with_dtype_of_a_stack_panics() {
    Dense::with_dtype(&stack(), 3, 2, Init::Zeros, DType::F64);
}

#[test]
#[should_panic(expected = "Mlp::new: expected a single key (shape [8]), got a batch of keys of shape [4, 8]")]
fn mlp_new_of_a_stack_panics() {
    Mlp::new(&stack(), &[3, 5, 2], Init::LecunNormal);
}

#[test]
#[should_panic(expected = "Mlp::with_dtype: expected a single key (shape [8]), got a batch of keys of shape [4, 8]")]
fn mlp_with_dtype_of_a_stack_panics() {
    Mlp::with_dtype(&stack(), &[3, 5, 2], Init::KaimingUniform, DType::F64);
}

#[test]
#[should_panic(expected = "Mlp::apply: expected a single key (shape [8]), got a batch of keys of shape [4, 8]")]
fn mlp_apply_with_a_stack_of_dropout_keys_panics() {
    let mlp = Mlp::new(&random::key(1), &[3, 5, 2], Init::LecunNormal);
    mlp.apply(&Array::ones(&[2, 3], DType::F32), Some(stack()), 0.5, true);
}

#[test]
#[should_panic(expected = "dropout: expected a single key (shape [8]), got a batch of keys of shape [4, 8]")]
fn dropout_with_a_stack_panics() {
    nn::dropout(&stack(), 0.5, &Array::ones(&[4, 3], DType::F32), true);
}

#[test]
#[should_panic(expected = "Batches::shuffle: expected a single key (shape [8]), got a batch of keys of shape [4, 8]")]
fn shuffle_with_a_stack_panics() {
    let b = Batches::new(&Array::zeros(&[6, 2], DType::U8), &Array::zeros(&[6], DType::I32), 10, 2);
    let _ = b.map(|b| b.shuffle(&stack()));
}

#[test]
#[should_panic(expected = "Key::get: the key has shape [8], a single key rather than a stack of keys")]
fn get_on_a_single_key_panics() {
    random::key(0).get(1);
}

#[test]
#[should_panic(expected = "random::split: expected a key (u32 of shape [8]), got an array of shape [3]")]
fn an_array_that_is_not_a_key_panics() {
    random::split(&Key(Array::from_vec(vec![1u32, 2, 3], &[3])), 2);
}

#[test]
fn the_panics_are_reported_at_the_callers_line() {
    let ks = stack();
    let x = Array::ones(&[2, 3], DType::F32);
    let mlp = Mlp::new(&random::key(1), &[3, 4, 2], Init::LecunNormal);
    let cases = [
        (catch(|| random::split(&ks, 2)), line!()),
        (catch(|| random::split2(&ks)), line!()),
        (catch(|| Init::KaimingUniform.dense(&ks, 3, 2, DType::F32)), line!()),
        (catch(|| nn::lecun_normal(&ks, &[3, 2], DType::F32)), line!()),
        (catch(|| nn::glorot_uniform(&ks, &[3, 2], DType::F32)), line!()),
        (catch(|| nn::kaiming_uniform(&ks, &[3, 2], 3, DType::F32)), line!()),
        (catch(|| Dense::new(&ks, 3, 2, Init::LecunNormal)), line!()),
        (catch(|| Dense::with_dtype(&ks, 3, 2, Init::LecunNormal, DType::F64)), line!()),
        (catch(|| Mlp::new(&ks, &[3, 2], Init::LecunNormal)), line!()),
        (catch(|| Mlp::with_dtype(&ks, &[3, 2], Init::LecunNormal, DType::F64)), line!()),
        (catch(|| mlp.apply(&x, Some(ks.clone()), 0.5, true)), line!()),
        (catch(|| nn::dropout(&ks, 0.5, &x, true)), line!()),
        (catch(|| random::key(0).get(0)), line!()),
    ];
    for (c, line) in cases {
        assert!(c.file.replace('\\', "/").ends_with("tests/batched_keys.rs") && c.line == line, "{c:?} not at {line}");
        assert!(c.msg.contains("[4, 8]") || c.msg.contains("Key::get"), "{}", c.msg);
    }
    assert!(
        catch(|| random::split(&ks, 2))
            .msg
            .ends_with(&format!("{SPLIT}; random::split_stack splits every key of a stack at once"))
    );
}

/// `f` on every key of `ks`, stacked (leaf by leaf), next to `vmap(f)(ks)`.
fn assert_vmap_is_per_key<Y: rjax::Tree>(what: &str, ks: &Key, f: impl Fn(&Key) -> Y) {
    let n = ks.batch_shape()[0];
    let mapped = rjax::tree::leaves(&vmap(&f)(ks));
    let each: Vec<Vec<Array>> = (0..n).map(|i| rjax::tree::leaves(&f(&ks.get(i)))).collect();
    assert_eq!(mapped.len(), each[0].len(), "{what}");
    for (j, got) in mapped.iter().enumerate() {
        let want = jnp::stack(&each.iter().map(|leaves| &leaves[j]).collect::<Vec<_>>(), 0);
        assert_eq!(got.shape(), want.shape(), "{what}, leaf {j}");
        assert_eq!(got, &want, "{what}, leaf {j}");
    }
}

#[test]
fn vmap_over_a_stack_of_keys_still_works() {
    let ks = random::split_stack(&random::key(9), 3);
    assert_vmap_is_per_key("split", &ks, |k| {
        let parts = random::split(k, 3);
        jnp::stack(&parts.iter().map(|p| p.data()).collect::<Vec<_>>(), 0)
    });
    assert_vmap_is_per_key("split2", &ks, |k| {
        let [a, b] = random::split2(k);
        random::uniform(&a, &[2], DType::F32, 0.0, 1.0) + random::normal(&b, &[2], DType::F32)
    });
    assert_vmap_is_per_key("lecun_normal", &ks, |k| nn::lecun_normal(k, &[3, 2], DType::F32));
    assert_vmap_is_per_key("glorot_uniform", &ks, |k| nn::glorot_uniform(k, &[3, 2], DType::F64));
    assert_vmap_is_per_key("kaiming_uniform", &ks, |k| nn::kaiming_uniform(k, &[4], 3, DType::F32));
    assert_vmap_is_per_key("Init::dense", &ks, |k| Init::KaimingUniform.dense(k, 3, 2, DType::F32));
    assert_vmap_is_per_key("Dense::new", &ks, |k| Dense::new(k, 3, 2, Init::LecunNormal));
    // a stack of 3 MLPs: weights [3, in, out]
    let mlps = vmap(|k: &Key| Mlp::new(k, &[4, 5, 2], Init::GlorotUniform))(&ks);
    assert_eq!((mlps.layers[0].w.shape(), mlps.layers[1].b.shape()), (&[3, 4, 5][..], &[3, 2][..]));
    assert_vmap_is_per_key("Mlp::new", &ks, |k| Mlp::new(k, &[4, 5, 2], Init::GlorotUniform));
    let x = Array::ones(&[2, 4], DType::F32);
    let mlp = Mlp::new(&random::key(2), &[4, 5, 2], Init::LecunNormal);
    assert_vmap_is_per_key("Mlp::apply with dropout", &ks, |k| mlp.apply(&x, Some(k.clone()), 0.5, true));
    assert_vmap_is_per_key("dropout", &ks, |k| nn::dropout(k, 0.5, &x, true));
}
