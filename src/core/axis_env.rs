//! Named axes in scope: the axes a collective (`psum`, `all_gather`, ...)
//! may name. `shard_map` binds the axes of its mesh while its body is traced
//! and transformed, `vmap_named` binds its axis; a collective naming an axis
//! no one bound is an error at the caller's line.
//!
//! Two more pieces of context, for the rules of collectives:
//! - the named axis a `vmap` is batching now ([`batching_axis`]): a
//!   collective over that axis is applied across the batch;
//! - the mesh a `shard_map` body is lowered for ([`lowering_mesh`]): a
//!   collective lowers to an XLA collective over the device groups of its axes.
//!
//! ```
//! use rjax::core::axis_env::{axis_size, with_axes};
//! assert_eq!(axis_size("i"), None);
//! with_axes(&[("i".to_string(), 4)], || assert_eq!(axis_size("i"), Some(4)));
//! ```

use super::sharding::MeshAxes;
use std::cell::RefCell;

thread_local! {
    static AXES: RefCell<Vec<(String, usize)>> = const { RefCell::new(Vec::new()) };
    static BATCHING: RefCell<Vec<Option<(String, usize)>>> = const { RefCell::new(Vec::new()) };
    static LOWERING: RefCell<Vec<MeshAxes>> = const { RefCell::new(Vec::new()) };
}

/// Pops what a scope pushed, also when the scope panics.
struct Pop<'a, T: 'static>(&'static std::thread::LocalKey<RefCell<Vec<T>>>, usize, std::marker::PhantomData<&'a ()>);

impl<T: 'static> Drop for Pop<'_, T> {
    fn drop(&mut self) {
        self.0.with(|s| s.borrow_mut().truncate(self.1));
    }
}

fn scoped<T: Clone + 'static, R>(
    key: &'static std::thread::LocalKey<RefCell<Vec<T>>>,
    items: &[T],
    f: impl FnOnce() -> R,
) -> R {
    let depth = key.with(|s| {
        let mut s = s.borrow_mut();
        let depth = s.len();
        s.extend(items.iter().cloned());
        depth
    });
    let _pop = Pop(key, depth, std::marker::PhantomData);
    f()
}

/// Runs `f` with these named axes (name, size) in scope.
pub fn with_axes<R>(axes: &[(String, usize)], f: impl FnOnce() -> R) -> R {
    scoped(&AXES, axes, f)
}

/// The size of the named axis in scope (the innermost binding), if any.
///
/// ```
/// assert_eq!(rjax::core::axis_env::axis_size("nope"), None);
/// ```
pub fn axis_size(name: &str) -> Option<usize> {
    AXES.with(|s| s.borrow().iter().rev().find(|(n, _)| n == name).map(|(_, k)| *k))
}

/// The names of the axes in scope, innermost last, for error messages.
///
/// ```
/// assert!(rjax::core::axis_env::axis_names().is_empty());
/// ```
pub fn axis_names() -> Vec<String> {
    AXES.with(|s| s.borrow().iter().map(|(n, _)| n.clone()).collect())
}

/// Runs `f` (a batching pass) while a `vmap` batches: over the named axis
/// `(name, size)`, or an unnamed one (`None`).
pub fn with_batching_axis<R>(axis: Option<(&str, usize)>, f: impl FnOnce() -> R) -> R {
    scoped(&BATCHING, &[axis.map(|(n, k)| (n.to_string(), k))], f)
}

/// The named axis the innermost running batching pass maps over, if it has a name.
///
/// ```
/// assert_eq!(rjax::core::axis_env::batching_axis(), None);
/// ```
pub fn batching_axis() -> Option<(String, usize)> {
    BATCHING.with(|s| s.borrow().last().cloned().flatten())
}

/// Runs `f` (lowering a `shard_map` body) with the mesh whose devices its
/// collectives combine.
pub fn with_lowering_mesh<R>(axes: &MeshAxes, f: impl FnOnce() -> R) -> R {
    scoped(&LOWERING, std::slice::from_ref(axes), f)
}

/// The mesh of the `shard_map` body being lowered, if any.
///
/// ```
/// assert_eq!(rjax::core::axis_env::lowering_mesh(), None);
/// ```
pub fn lowering_mesh() -> Option<MeshAxes> {
    LOWERING.with(|s| s.borrow().last().cloned())
}
