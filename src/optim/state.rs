//! [`OptState`]: the one state type of every gradient transformation.

use crate::core::{Array, DType};
use crate::tree::{Tree, TreeDef};
use std::collections::BTreeMap;

/// The state of a gradient transformation: a [`Tree`] of arrays, so it can be
/// passed to and returned from transformed functions, flattened, and saved.
///
/// Every transformation uses this one type (see the [module docs](super) for
/// why): `kind` names the transformation that made it, `count` is its step
/// count (an i32 scalar) if it counts steps, `slots` are named per-leaf
/// accumulators (`"mu"`, `"nu"`, `"trace"`), each a list aligned with
/// [`tree::leaves`](crate::tree::leaves) of the parameters, and `inner` holds
/// the states of the transformations of a [`chain`](super::chain).
///
/// The leaves are `count` (if any), then the slots in name order, then the inner
/// states; `kind` and the slot names are part of the structure ([`Tree::def`]),
/// so states of different optimizers never pass for each other.
///
/// ```
/// use rjax::{optim, tree, Array, DType};
/// let params = (Array::zeros(&[2, 3], DType::F32), Array::zeros(&[3], DType::F32));
/// let state = optim::adam(1e-3).init(&params);
/// // chain(scale_by_adam, scale): a count and two moments per parameter leaf
/// assert_eq!(state.kind, "chain");
/// assert_eq!(state.inner[0].slots["mu"].len(), 2);
/// assert_eq!(tree::leaves(&state).len(), 1 + 2 * 2);
/// ```
#[derive(Clone, Debug)]
pub struct OptState {
    /// The transformation that made this state (`"scale_by_adam"`, `"chain"`, ...).
    pub kind: String,
    /// The step count, an i32 scalar, for transformations that count steps.
    pub count: Option<Array>,
    /// Per-leaf accumulators by name, each aligned with the parameters' leaves.
    pub slots: BTreeMap<String, Vec<Array>>,
    /// The states of inner transformations, in order.
    pub inner: Vec<OptState>,
}

impl OptState {
    /// A state with no arrays, for stateless transformations.
    ///
    /// ```
    /// let s = rjax::optim::OptState::empty("scale");
    /// assert!(rjax::tree::leaves(&s).is_empty());
    /// ```
    pub fn empty(kind: &str) -> OptState {
        OptState { kind: kind.to_string(), count: None, slots: BTreeMap::new(), inner: Vec::new() }
    }

    /// This state with a step count of zero (an i32 scalar).
    ///
    /// ```
    /// let s = rjax::optim::OptState::empty("scale_by_schedule").with_count();
    /// assert_eq!(s.count.unwrap().item::<i32>(), 0);
    /// ```
    pub fn with_count(mut self) -> OptState {
        self.count = Some(Array::scalar(0i32));
        self
    }

    /// This state with a slot `name` holding one array per parameter leaf.
    ///
    /// ```
    /// use rjax::{optim::OptState, Array};
    /// let s = OptState::empty("trace").with_slot("trace", vec![Array::scalar(0.0f32)]);
    /// assert_eq!(s.slots["trace"].len(), 1);
    /// ```
    pub fn with_slot(mut self, name: &str, leaves: Vec<Array>) -> OptState {
        self.slots.insert(name.to_string(), leaves);
        self
    }

    /// Panics unless this state was made by a transformation of kind `kind`.
    #[track_caller]
    pub(crate) fn expect_kind(&self, kind: &str) {
        if self.kind != kind {
            panic!(
                "{kind}: the state was made by {}, not by {kind}; pass the state that this \
                 transformation's init (or its previous update) returned",
                self.kind
            );
        }
    }

    /// The step count; panics with the transformation's name if there is none.
    #[track_caller]
    pub(crate) fn expect_count(&self, kind: &str) -> Array {
        match &self.count {
            Some(c) if c.dtype() == DType::I32 && c.ndim() == 0 => c.clone(),
            Some(c) => panic!("{kind}: the state's count must be an i32 scalar, got {}", c.aval()),
            None => panic!("{kind}: the state has no step count; pass the state that init returned"),
        }
    }

    /// Takes slot `name` out of the state, checking it has one array per leaf.
    #[track_caller]
    pub(crate) fn take_slot(&mut self, kind: &str, name: &str, leaves: &[Array]) -> Vec<Array> {
        let Some(slot) = self.slots.remove(name) else {
            panic!("{kind}: the state has no slot {name:?}; pass the state that init returned")
        };
        if slot.len() != leaves.len() {
            panic!(
                "{kind}: the state's slot {name:?} holds {} arrays but the gradients have {} leaves; \
                 was the state made for other parameters?",
                slot.len(),
                leaves.len()
            );
        }
        for (i, (s, g)) in slot.iter().zip(leaves).enumerate() {
            if s.shape() != g.shape() {
                panic!(
                    "{kind}: leaf {i} of the gradients has shape {:?} but the state's {name:?} has {:?}",
                    g.shape(),
                    s.shape()
                );
            }
        }
        slot
    }
}

impl Tree for OptState {
    fn leaves_into(&self, out: &mut Vec<Array>) {
        self.count.leaves_into(out);
        self.slots.values().for_each(|s| s.leaves_into(out));
        self.inner.iter().for_each(|s| s.leaves_into(out));
    }

    fn rebuild(&self, leaves: &mut dyn Iterator<Item = Array>) -> Self {
        OptState {
            kind: self.kind.clone(),
            count: self.count.rebuild(leaves),
            slots: self.slots.iter().map(|(k, v)| (k.clone(), v.rebuild(leaves))).collect(),
            inner: self.inner.iter().map(|s| s.rebuild(leaves)).collect(),
        }
    }

    fn def(&self) -> TreeDef {
        let slots = TreeDef::Node {
            kind: "slots".into(),
            keys: self.slots.keys().cloned().collect(),
            children: self.slots.values().map(|v| v.def()).collect(),
        };
        TreeDef::Node {
            kind: format!("OptState[{}]", self.kind),
            keys: vec!["count".into(), "slots".into(), "inner".into()],
            children: vec![
                self.count.def(),
                slots,
                TreeDef::seq("inner", self.inner.iter().map(|s| s.def()).collect()),
            ],
        }
    }
}
