//! Trees of arrays: parameters, gradients, optimizer state, function inputs.
//!
//! A [`Tree`] flattens to an ordered list of array leaves and rebuilds a copy of
//! itself from a new list of leaves. Transformations flatten their inputs,
//! work on leaves, and rebuild outputs shaped like the inputs (a gradient has
//! the type of the parameters). Implemented for [`Array`], tuples up to 8,
//! `Vec`, fixed arrays, `Option`, `BTreeMap<String, _>` and `()`, and derived
//! for structs with `#[derive(rjax::Tree)]` (`#[tree(skip)]` keeps a non-array
//! field out of the leaves; it is cloned when rebuilding).
//!
//! ```
//! use rjax::{tree, Array, DType, Tree};
//! #[derive(Tree, Clone, Debug)]
//! struct Dense { w: Array, b: Array, #[tree(skip)] name: String }
//! let d = Dense { w: Array::ones(&[2, 3], DType::F32), b: Array::zeros(&[3], DType::F32), name: "fc".into() };
//! assert_eq!(tree::leaves(&d).len(), 2);
//! assert_eq!(tree::size(&d), 9);
//! let doubled = tree::map(&d, |x| x * 2.0);
//! assert_eq!(doubled.name, "fc");
//! ```

use crate::core::Array;
use std::collections::BTreeMap;
use std::fmt;

/// The shape of a tree without its leaves: comparable, hashable, printable.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TreeDef {
    /// One array.
    Leaf,
    /// A container: its kind (type name), its keys (field names, map keys or
    /// positions) and the structure of each child.
    Node {
        /// The container's type name.
        kind: String,
        /// Field names, map keys or positions, one per child.
        keys: Vec<String>,
        /// Each child's structure.
        children: Vec<TreeDef>,
    },
}

impl TreeDef {
    /// Number of leaves.
    ///
    /// ```
    /// use rjax::{tree::TreeDef, Array, Tree};
    /// let t = (Array::scalar(1.0f32), vec![Array::scalar(2.0f32)]);
    /// assert_eq!(t.def().num_leaves(), 2);
    /// ```
    pub fn num_leaves(&self) -> usize {
        match self {
            TreeDef::Leaf => 1,
            TreeDef::Node { children, .. } => children.iter().map(|c| c.num_leaves()).sum(),
        }
    }

    /// A node with positional keys `0, 1, ...`.
    pub fn seq(kind: &str, children: Vec<TreeDef>) -> TreeDef {
        let keys = (0..children.len()).map(|i| i.to_string()).collect();
        TreeDef::Node { kind: kind.to_string(), keys, children }
    }
}

impl fmt::Display for TreeDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TreeDef::Leaf => f.write_str("*"),
            TreeDef::Node { kind, keys, children } => {
                write!(f, "{kind}(")?;
                for (i, (k, c)) in keys.iter().zip(children).enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}={c}")?;
                }
                f.write_str(")")
            }
        }
    }
}

pub use crate::error::TreeError;

/// A container of arrays that transformations can flatten and rebuild.
///
/// ```
/// use rjax::{Array, Tree};
/// let t = (Array::scalar(1.0f32), Array::scalar(2.0f32));
/// let mut leaves = Vec::new();
/// t.leaves_into(&mut leaves);
/// let u = t.rebuild(&mut leaves.into_iter().map(|x| &x * 10.0));
/// assert_eq!(u.1.item::<f32>(), 20.0);
/// ```
pub trait Tree: Sized {
    /// Appends the leaves, in a fixed order.
    fn leaves_into(&self, out: &mut Vec<Array>);
    /// A copy of `self` whose leaves are taken, in order, from `leaves`.
    /// Panics if `leaves` runs out; use [`unflatten`] for a checked rebuild.
    fn rebuild(&self, leaves: &mut dyn Iterator<Item = Array>) -> Self;
    /// The structure.
    fn def(&self) -> TreeDef;
}

fn next_leaf(leaves: &mut dyn Iterator<Item = Array>) -> Array {
    leaves.next().unwrap_or_else(|| panic!("Tree::rebuild: fewer leaves than the tree holds"))
}

impl Tree for Array {
    fn leaves_into(&self, out: &mut Vec<Array>) {
        out.push(self.clone());
    }
    fn rebuild(&self, leaves: &mut dyn Iterator<Item = Array>) -> Self {
        next_leaf(leaves)
    }
    fn def(&self) -> TreeDef {
        TreeDef::Leaf
    }
}

impl Tree for () {
    fn leaves_into(&self, _: &mut Vec<Array>) {}
    fn rebuild(&self, _: &mut dyn Iterator<Item = Array>) -> Self {}
    fn def(&self) -> TreeDef {
        TreeDef::seq("unit", vec![])
    }
}

impl<T: Tree> Tree for Vec<T> {
    fn leaves_into(&self, out: &mut Vec<Array>) {
        self.iter().for_each(|x| x.leaves_into(out));
    }
    fn rebuild(&self, leaves: &mut dyn Iterator<Item = Array>) -> Self {
        self.iter().map(|x| x.rebuild(leaves)).collect()
    }
    fn def(&self) -> TreeDef {
        TreeDef::seq("Vec", self.iter().map(|x| x.def()).collect())
    }
}

impl<T: Tree, const N: usize> Tree for [T; N] {
    fn leaves_into(&self, out: &mut Vec<Array>) {
        self.iter().for_each(|x| x.leaves_into(out));
    }
    fn rebuild(&self, leaves: &mut dyn Iterator<Item = Array>) -> Self {
        std::array::from_fn(|i| self[i].rebuild(leaves))
    }
    fn def(&self) -> TreeDef {
        TreeDef::seq("array", self.iter().map(|x| x.def()).collect())
    }
}

impl<T: Tree> Tree for Option<T> {
    fn leaves_into(&self, out: &mut Vec<Array>) {
        if let Some(x) = self {
            x.leaves_into(out);
        }
    }
    fn rebuild(&self, leaves: &mut dyn Iterator<Item = Array>) -> Self {
        self.as_ref().map(|x| x.rebuild(leaves))
    }
    fn def(&self) -> TreeDef {
        match self {
            None => TreeDef::seq("None", vec![]),
            Some(x) => TreeDef::seq("Some", vec![x.def()]),
        }
    }
}

impl<T: Tree> Tree for BTreeMap<String, T> {
    fn leaves_into(&self, out: &mut Vec<Array>) {
        self.values().for_each(|x| x.leaves_into(out));
    }
    fn rebuild(&self, leaves: &mut dyn Iterator<Item = Array>) -> Self {
        self.iter().map(|(k, v)| (k.clone(), v.rebuild(leaves))).collect()
    }
    fn def(&self) -> TreeDef {
        TreeDef::Node {
            kind: "BTreeMap".into(),
            keys: self.keys().cloned().collect(),
            children: self.values().map(|x| x.def()).collect(),
        }
    }
}

macro_rules! tuple_tree {
    ($($T:ident $i:tt),+) => {
        impl<$($T: Tree),+> Tree for ($($T,)+) {
            fn leaves_into(&self, out: &mut Vec<Array>) {
                $(self.$i.leaves_into(out);)+
            }
            fn rebuild(&self, leaves: &mut dyn Iterator<Item = Array>) -> Self {
                ($(self.$i.rebuild(leaves),)+)
            }
            fn def(&self) -> TreeDef {
                TreeDef::seq("tuple", vec![$(self.$i.def()),+])
            }
        }
    };
}
tuple_tree!(A 0);
tuple_tree!(A 0, B 1);
tuple_tree!(A 0, B 1, C 2);
tuple_tree!(A 0, B 1, C 2, D 3);
tuple_tree!(A 0, B 1, C 2, D 3, E 4);
tuple_tree!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_tree!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_tree!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

/// The leaves, in order.
///
/// ```
/// use rjax::{tree, Array};
/// assert_eq!(tree::leaves(&vec![Array::scalar(1.0f32); 3]).len(), 3);
/// ```
pub fn leaves<T: Tree>(t: &T) -> Vec<Array> {
    let mut out = Vec::new();
    t.leaves_into(&mut out);
    out
}

/// Rebuilds a tree shaped like `template` from exactly as many leaves as it holds.
///
/// ```
/// use rjax::{tree, Array};
/// let t = (Array::scalar(1.0f32), Array::scalar(2.0f32));
/// assert!(tree::unflatten(&t, vec![Array::scalar(0.0f32)]).is_err());
/// ```
pub fn unflatten<T: Tree>(template: &T, new_leaves: Vec<Array>) -> Result<T, TreeError> {
    let n = leaves(template).len();
    if new_leaves.len() != n {
        return Err(TreeError(format!(
            "unflatten: the tree {} holds {n} leaves, {} were given",
            template.def(),
            new_leaves.len()
        )));
    }
    Ok(template.rebuild(&mut new_leaves.into_iter()))
}

/// Applies `f` to every leaf.
///
/// ```
/// use rjax::{tree, Array};
/// let t = tree::map(&(Array::scalar(1.0f32),), |x| x + 1.0);
/// assert_eq!(t.0.item::<f32>(), 2.0);
/// ```
pub fn map<T: Tree>(t: &T, f: impl FnMut(&Array) -> Array) -> T {
    let new: Vec<Array> = leaves(t).iter().map(f).collect();
    t.rebuild(&mut new.into_iter())
}

/// Applies `f` to corresponding leaves of two trees of the same structure.
///
/// ```
/// use rjax::{tree, Array};
/// let a = vec![Array::scalar(1.0f32), Array::scalar(2.0f32)];
/// let s = tree::map2(&a, &a, |x, y| x + y).unwrap();
/// assert_eq!(s[1].item::<f32>(), 4.0);
/// assert!(tree::map2(&a, &vec![Array::scalar(1.0f32)], |x, y| x + y).is_err());
/// ```
pub fn map2<T: Tree>(a: &T, b: &T, mut f: impl FnMut(&Array, &Array) -> Array) -> Result<T, TreeError> {
    let (da, db) = (a.def(), b.def());
    if da != db {
        return Err(TreeError(format!("map2: the trees differ in structure: {da} vs {db}")));
    }
    let new: Vec<Array> = leaves(a).iter().zip(leaves(b).iter()).map(|(x, y)| f(x, y)).collect();
    Ok(a.rebuild(&mut new.into_iter()))
}

/// The total number of scalars in all leaves.
///
/// ```
/// use rjax::{tree, Array, DType};
/// assert_eq!(tree::size(&(Array::zeros(&[2, 3], DType::F32), Array::scalar(1.0f32))), 7);
/// ```
pub fn size<T: Tree>(t: &T) -> usize {
    leaves(t).iter().map(|x| x.size()).sum()
}
