//! Trees: `#[derive(Tree)]` on nested structs, flatten/unflatten round trips,
//! `TreeDef` equality and printing, `tree::map`/`map2`/`size`, the container
//! impls (tuples up to 8, fixed arrays, `Option`, `BTreeMap`), and
//! transformations returning the structure they were given.

use rjax::tree::{self, TreeDef};
use rjax::{Array, Tree, grad, value_and_grad, vmap};
use std::collections::BTreeMap;

#[derive(Tree, Clone, Debug)]
struct Layer {
    w: Array,
    b: Option<Array>,
    #[tree(skip)]
    name: String,
}

#[derive(Tree, Clone, Debug)]
struct Pair(Array, #[tree(skip)] usize, Array);

#[derive(Tree, Clone, Debug)]
struct Model {
    layers: Vec<Layer>,
    #[tree(skip)]
    steps: usize,
    extra: BTreeMap<String, Array>,
    pair: Pair,
    scale: Option<Array>,
    fixed: [Array; 3],
    tup: (Array, (Array, Array)),
}

#[derive(Tree, Clone, Debug)]
struct Empty;

#[derive(Tree, Clone, Debug)]
struct Wrap<T: Tree + Clone> {
    inner: T,
    #[tree(skip)]
    tag: &'static str,
}

/// A scalar leaf holding `v`.
fn leaf(v: f64) -> Array {
    Array::scalar(v)
}

/// A model whose leaves (in flattening order) hold 1.0, 2.0, 3.0, ...
/// (`w` leaves have shape [2] with values v and v + 0.5).
fn model(n_layers: usize, with_scale: bool, keys: &[&str]) -> Model {
    let mut next = 0.0;
    let mut v = || {
        next += 1.0;
        next
    };
    let layers = (0..n_layers)
        .map(|i| {
            let w0 = v();
            let w = Array::from_vec(vec![w0, w0 + 0.5], &[2]);
            let b = (i % 2 == 0).then(|| leaf(v()));
            Layer { w, b, name: format!("layer{i}") }
        })
        .collect();
    let extra = keys.iter().map(|k| (k.to_string(), leaf(v()))).collect();
    let pair = Pair(leaf(v()), 42, leaf(v()));
    let scale = with_scale.then(|| leaf(v()));
    let fixed = [leaf(v()), leaf(v()), leaf(v())];
    let tup = (leaf(v()), (leaf(v()), leaf(v())));
    Model { layers, steps: 7, extra, pair, scale, fixed, tup }
}

/// The first value of each leaf, in order.
fn firsts<T: Tree>(t: &T) -> Vec<f64> {
    tree::leaves(t).iter().map(|l| l.to_vec::<f64>()[0]).collect()
}

#[test]
fn derived_leaves_follow_declaration_order() {
    let m = model(3, true, &["b", "a"]);
    // layers (w, b?) x3, extra in key order, pair.0, pair.2, scale, fixed x3, tup x3
    let ls = tree::leaves(&m);
    assert_eq!(ls.len(), 3 + 2 + 2 + 2 + 1 + 3 + 3);
    let want = [1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 6.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0];
    assert_eq!(firsts(&m), want);
    assert_eq!(ls[0].to_vec::<f64>(), vec![1.0, 1.5]);
    // BTreeMap leaves come in key order: "a" was created after "b" but comes first
    assert_eq!(m.extra["a"].item::<f64>(), 7.0);
    assert_eq!(m.extra["b"].item::<f64>(), 6.0);
    assert_eq!(tree::size(&m), 16 + 3, "w leaves have two elements");
    assert_eq!(m.def().num_leaves(), 16);
}

#[test]
fn flatten_unflatten_round_trip() {
    let m = model(4, false, &["x", "y", "z"]);
    let ls = tree::leaves(&m);
    let back = tree::unflatten(&m, ls.clone()).unwrap();
    assert_eq!(back.def(), m.def());
    assert_eq!(tree::leaves(&back), ls);
    assert_eq!((back.steps, back.pair.1), (7, 42));
    assert_eq!(
        back.layers.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["layer0", "layer1", "layer2", "layer3"]
    );
    assert!(back.scale.is_none() && back.layers[1].b.is_none() && back.layers[2].b.is_some());

    // new leaves land where the old ones were
    let shifted: Vec<Array> = ls.iter().map(|l| l + 100.0).collect();
    let m2 = tree::unflatten(&m, shifted).unwrap();
    assert_eq!(firsts(&m2), firsts(&m).iter().map(|v| v + 100.0).collect::<Vec<_>>());
    assert_eq!(m2.fixed[2].item::<f64>(), m.fixed[2].item::<f64>() + 100.0);
    assert_eq!(m2.tup.1.0.item::<f64>(), m.tup.1.0.item::<f64>() + 100.0);
    assert_eq!(m2.extra["y"].item::<f64>(), m.extra["y"].item::<f64>() + 100.0);

    // the wrong number of leaves is an error, not a silent truncation
    let n = ls.len();
    let e = tree::unflatten(&m, ls[..n - 1].to_vec()).unwrap_err();
    assert!(e.to_string().contains(&format!("holds {n} leaves, {} were given", n - 1)), "{e}");
    let mut more = ls.clone();
    more.push(leaf(0.0));
    assert!(tree::unflatten(&m, more).is_err());
}

#[test]
#[should_panic(expected = "fewer leaves")]
fn rebuild_with_too_few_leaves_panics() {
    let m = model(2, true, &["k"]);
    let ls = tree::leaves(&m);
    let _ = m.rebuild(&mut ls.into_iter().take(3));
}

#[test]
fn treedef_equality_ignores_values_and_skipped_fields() {
    let a = model(3, true, &["p", "q"]);
    let mut b = tree::map(&a, |x| x * 3.0 - 1.0);
    b.steps = 1000;
    b.layers[0].name = "renamed".into();
    b.pair.1 = 0;
    assert_eq!(a.def(), b.def());
    // the structure differs when the containers differ
    assert_ne!(a.def(), model(2, true, &["p", "q"]).def(), "Vec length");
    assert_ne!(a.def(), model(3, false, &["p", "q"]).def(), "Some vs None");
    assert_ne!(a.def(), model(3, true, &["p", "r"]).def(), "map keys");
    assert_ne!(a.def(), model(3, true, &["p"]).def(), "map size");
    // leaves are leaves whatever their shape
    let c = tree::map(&a, |x| Array::zeros(&[5, 5], x.dtype()));
    assert_eq!(a.def(), c.def());
}

#[test]
fn treedef_display() {
    let l = Layer { w: leaf(1.0), b: None, name: "l".into() };
    assert_eq!(l.def().to_string(), "Layer(w=*, b=None())");
    let l = Layer { w: leaf(1.0), b: Some(leaf(2.0)), name: "l".into() };
    assert_eq!(l.def().to_string(), "Layer(w=*, b=Some(0=*))");
    assert_eq!(Pair(leaf(1.0), 3, leaf(2.0)).def().to_string(), "Pair(0=*, 2=*)");
    let m = model(1, true, &["k"]);
    assert_eq!(
        m.def().to_string(),
        "Model(layers=Vec(0=Layer(w=*, b=Some(0=*))), extra=BTreeMap(k=*), pair=Pair(0=*, 2=*), \
         scale=Some(0=*), fixed=array(0=*, 1=*, 2=*), tup=tuple(0=*, 1=tuple(0=*, 1=*)))"
    );
    assert_eq!(Empty.def().to_string(), "Empty()");
    assert_eq!(TreeDef::Leaf.to_string(), "*");
    assert_eq!(Vec::<Array>::new().def().to_string(), "Vec()");
}

#[test]
fn map_applies_to_every_leaf_and_keeps_skipped_fields() {
    let m = model(3, true, &["a", "b"]);
    let sq = tree::map(&m, |x| x * x);
    assert_eq!(firsts(&sq), firsts(&m).iter().map(|v| v * v).collect::<Vec<_>>());
    assert_eq!(sq.layers[1].w.to_vec::<f64>(), vec![9.0, 12.25]);
    assert_eq!((sq.steps, sq.pair.1, sq.layers[2].name.as_str()), (7, 42, "layer2"));
    // the closure is called once per leaf, in order
    let mut seen = Vec::new();
    let _ = tree::map(&m, |x| {
        seen.push(x.to_vec::<f64>()[0]);
        x.clone()
    });
    assert_eq!(seen, firsts(&m));
    assert_eq!(tree::size(&Empty), 0);
    assert!(tree::leaves(&Empty).is_empty());
}

#[test]
fn map2_combines_matching_trees() {
    let a = model(3, true, &["a", "b"]);
    let mut b = tree::map(&a, |x| x * 10.0);
    b.steps = 99;
    let s = tree::map2(&a, &b, |x, y| x + y).unwrap();
    assert_eq!(firsts(&s), firsts(&a).iter().map(|v| v * 11.0).collect::<Vec<_>>());
    assert_eq!(s.steps, 7, "skipped fields come from the first tree");
    // leaves are paired in order
    let d = tree::map2(&a, &b, |x, y| y - x).unwrap();
    assert_eq!(firsts(&d), firsts(&a).iter().map(|v| v * 9.0).collect::<Vec<_>>());
}

#[test]
fn map2_rejects_mismatched_structure() {
    let a = model(3, true, &["a", "b"]);
    let add = |x: &Array, y: &Array| x + y;
    for (why, b) in [
        ("Vec length", model(2, true, &["a", "b"])),
        ("Some vs None", model(3, false, &["a", "b"])),
        ("map keys", model(3, true, &["a", "c"])),
    ] {
        let e = tree::map2(&a, &b, add).expect_err(why);
        assert!(e.to_string().contains("differ in structure"), "{why}: {e}");
        assert!(tree::map2(&b, &a, add).is_err(), "{why}, swapped");
    }
    // Option<Array> alone: Some vs None, and the same leaf count in a different shape
    assert!(tree::map2(&Some(leaf(1.0)), &None, add).is_err());
    let v2 = vec![vec![leaf(1.0)], vec![leaf(2.0)]];
    let v2b = vec![vec![leaf(1.0), leaf(2.0)], vec![]];
    assert!(tree::map2(&v2, &v2b, add).is_err(), "same number of leaves, different nesting");
    let m1: BTreeMap<String, Array> = [("a".to_string(), leaf(1.0))].into();
    let m2: BTreeMap<String, Array> = [("b".to_string(), leaf(1.0))].into();
    assert!(tree::map2(&m1, &m2, add).is_err());
}

#[test]
fn tuples_up_to_eight() {
    let t1 = (leaf(1.0),);
    assert_eq!(firsts(&t1), vec![1.0]);
    assert_eq!(t1.def().to_string(), "tuple(0=*)");
    let t8 = (leaf(1.0), leaf(2.0), leaf(3.0), leaf(4.0), leaf(5.0), leaf(6.0), leaf(7.0), leaf(8.0));
    assert_eq!(firsts(&t8), (1..=8).map(|v| v as f64).collect::<Vec<_>>());
    assert_eq!(t8.def().to_string(), "tuple(0=*, 1=*, 2=*, 3=*, 4=*, 5=*, 6=*, 7=*)");
    let r = tree::unflatten(&t8, (0..8).map(|i| leaf(-(i as f64))).collect()).unwrap();
    assert_eq!((r.0.item::<f64>(), r.7.item::<f64>()), (0.0, -7.0));
    // mixed containers inside a tuple
    let t = (vec![leaf(1.0), leaf(2.0)], Some(leaf(3.0)), [leaf(4.0)], (), Empty, leaf(5.0));
    assert_eq!(firsts(&t), vec![1.0, 2.0, 3.0, 4.0, 5.0]);
    let u = tree::map(&t, |x| -x);
    assert_eq!(firsts(&u), vec![-1.0, -2.0, -3.0, -4.0, -5.0]);
    assert_eq!(u.def(), t.def());
    assert_eq!(t.def().num_leaves(), 5);
}

#[test]
fn fixed_size_arrays() {
    let a = [leaf(1.0), leaf(2.0), leaf(3.0)];
    assert_eq!(a.def().to_string(), "array(0=*, 1=*, 2=*)");
    let b = tree::unflatten(&a, vec![leaf(7.0), leaf(8.0), leaf(9.0)]).unwrap();
    assert_eq!(firsts(&b), vec![7.0, 8.0, 9.0]);
    let nested = [[leaf(1.0), leaf(2.0)], [leaf(3.0), leaf(4.0)]];
    assert_eq!(firsts(&tree::map(&nested, |x| x * 2.0)), vec![2.0, 4.0, 6.0, 8.0]);
    assert_eq!(nested.def().to_string(), "array(0=array(0=*, 1=*), 1=array(0=*, 1=*))");
    assert_ne!(a.def(), vec![leaf(1.0), leaf(2.0), leaf(3.0)].def(), "an array is not a Vec");
}

#[test]
fn generic_derived_struct() {
    let w = Wrap { inner: (leaf(1.0), vec![leaf(2.0)]), tag: "t" };
    assert_eq!(w.def().to_string(), "Wrap(inner=tuple(0=*, 1=Vec(0=*)))");
    let w2 = tree::map(&w, |x| x + 1.0);
    assert_eq!((firsts(&w2), w2.tag), (vec![2.0, 3.0], "t"));
}

/// sum over leaves of sum(c_k * leaf^2), with c_k = k + 1 (leaf position).
fn weighted_sq(t: &impl Tree) -> Array {
    let ls = tree::leaves(t);
    let mut total = Array::scalar(0.0f64);
    for (k, l) in ls.iter().enumerate() {
        total = total + (l * l * (k as f64 + 1.0)).sum();
    }
    total
}

#[test]
fn grad_returns_the_same_nested_structure() {
    let m = model(3, true, &["u", "v"]);
    let g = grad(|m: &Model| weighted_sq(m))(&m);
    assert_eq!(g.def(), m.def());
    assert_eq!((g.steps, g.pair.1, g.layers[1].name.as_str()), (7, 42, "layer1"));
    assert!(g.layers[1].b.is_none() && g.layers[0].b.is_some());
    for (k, (gl, ml)) in tree::leaves(&g).iter().zip(tree::leaves(&m)).enumerate() {
        assert_eq!(gl.shape(), ml.shape());
        let want: Vec<f64> = ml.to_vec::<f64>().iter().map(|v| 2.0 * (k as f64 + 1.0) * v).collect();
        assert_eq!(gl.to_vec::<f64>(), want, "leaf {k}");
    }
    // value_and_grad, and a gradient that ignores some leaves gives zeros there
    let (v, g2) = value_and_grad(|m: &Model| (&m.fixed[1] * &m.extra["v"]).sum())(&m);
    assert_eq!(v.item::<f64>(), m.fixed[1].item::<f64>() * m.extra["v"].item::<f64>());
    assert_eq!(g2.def(), m.def());
    assert_eq!(g2.fixed[1].item::<f64>(), m.extra["v"].item::<f64>());
    assert_eq!(g2.extra["v"].item::<f64>(), m.fixed[1].item::<f64>());
    assert_eq!(g2.layers[0].w.to_vec::<f64>(), vec![0.0, 0.0]);
    assert_eq!(g2.tup.1.1.item::<f64>(), 0.0);
}

#[test]
fn grad_over_containers() {
    let t = (vec![leaf(1.0), leaf(2.0)], Some(leaf(3.0)), [leaf(4.0), leaf(5.0)]);
    let g = grad(|t: &(Vec<Array>, Option<Array>, [Array; 2])| weighted_sq(t))(&t);
    assert_eq!(g.def(), t.def());
    assert_eq!(firsts(&g), vec![2.0, 8.0, 18.0, 32.0, 50.0]);
    let mut map = BTreeMap::new();
    map.insert("b".to_string(), leaf(2.0));
    map.insert("a".to_string(), leaf(1.0));
    let gm = grad(|m: &BTreeMap<String, Array>| weighted_sq(m))(&map);
    assert_eq!(gm.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!((gm["a"].item::<f64>(), gm["b"].item::<f64>()), (2.0, 8.0));
}

#[test]
fn vmap_over_a_derived_struct_keeps_its_structure() {
    // every leaf gets a leading batch axis of 2; the output is a Layer again
    let l = Layer {
        w: Array::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]),
        b: Some(Array::from_vec(vec![10.0f64, 20.0], &[2])),
        name: "batched".into(),
    };
    let out =
        vmap(|l: &Layer| Layer { w: &l.w * 2.0, b: l.b.as_ref().map(|b| b + &l.w.sum()), name: l.name.clone() })(&l);
    assert_eq!(out.def(), l.def());
    assert_eq!(out.name, "batched");
    assert_eq!(out.w.to_vec::<f64>(), vec![2.0, 4.0, 6.0, 8.0]);
    assert_eq!(out.b.unwrap().to_vec::<f64>(), vec![13.0, 27.0]);
}

/// The derive bounds each leaf field's type by `Tree`, so a generic struct
/// needs no hand-written bound.
#[derive(rjax::Tree, Clone)]
struct Generic<T> {
    inner: T,
    #[tree(skip)]
    tag: u8,
}

#[test]
fn derive_on_generic_struct_without_bounds() {
    let g = Generic { inner: (Array::scalar(1.0f32), vec![Array::scalar(2.0f32)]), tag: 7 };
    assert_eq!(tree::leaves(&g).len(), 2);
    let h = tree::map(&g, |x| x * 3.0);
    assert_eq!(h.inner.1[0].item::<f32>(), 6.0);
    assert_eq!(h.tag, 7);
}

#[test]
fn unit_tree_display() {
    assert_eq!(().def().to_string(), "unit()");
}
