//! `jit`: trace a function once per signature, compile it with XLA (or run
//! its graph on the built-in CPU backend), and reuse the result.

mod sharded;

use super::{rebuild, top_level_parts, trace_with};
use crate::backend::stablehlo::lower_graph_donating;
use crate::core::{Array, Aval, Graph, eval_graph, tracing};
use crate::device::sharding::{Mesh, Sharding, collect_meshes, note_mesh};
use crate::device::{Device, Error, Program, default_device, eager, lock};
use crate::tree::{Tree, TreeDef, leaves};
use lru::LruCache;
use std::collections::HashMap;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

/// The traced function, with its static values first.
type StagedFn<S, T, Y> = Arc<dyn Fn(&S, &T) -> Y + Send + Sync>;

/// How many signatures (tree structure, shapes and dtypes, static values) a
/// [`Jit`] keeps traced and compiled by default; the least recently used
/// goes first. Change it with [`Jit::cache_capacity`].
pub const JIT_CACHE_SIZE: usize = 64;

/// A jit-compiled function (see [`jit`]). Cheap to clone: clones share the
/// cache of traced and compiled programs.
///
/// The cache keeps the programs of the [`JIT_CACHE_SIZE`] most recently used
/// signatures (see [`Jit::cache_capacity`], [`Jit::clear_cache`]); they are
/// freed with the last clone of the `Jit`.
///
/// A `Jit` is `Send + Sync` (for outputs and static values that are): one
/// compiled function can serve calls from several threads at once. Each
/// thread traces on its own; compiled programs are shared.
///
/// ```
/// use rjax::{jit, numpy as jnp, Array};
/// let f = jit(|x: &Array| jnp::sin(x) * 2.0);
/// let y = f.call(&Array::scalar(0.0f32));
/// assert_eq!(y.item::<f32>(), 0.0);
/// ```
pub struct Jit<T, Y, S = ()> {
    f: StagedFn<S, T, Y>,
    donate: Vec<usize>,
    device: Option<Device>,
    in_shardings: Option<Vec<Sharding>>,
    out_shardings: Option<Vec<Sharding>>,
    state: Arc<Mutex<State<Y, S>>>,
}

impl<T, Y, S> Clone for Jit<T, Y, S> {
    fn clone(&self) -> Self {
        Jit {
            f: self.f.clone(),
            donate: self.donate.clone(),
            device: self.device.clone(),
            in_shardings: self.in_shardings.clone(),
            out_shardings: self.out_shardings.clone(),
            state: self.state.clone(),
        }
    }
}

struct State<Y, S> {
    entries: LruCache<Key<S>, Arc<Entry<Y>>>,
    traces: usize,
    compiles: usize,
}

#[derive(PartialEq, Eq, Hash)]
struct Key<S> {
    statics: S,
    def: TreeDef,
    avals: Vec<Aval>,
}

/// A traced signature: its graph, its output structure, and its programs
/// per device (or mesh and shardings), keyed by their text.
struct Entry<Y> {
    graph: Graph,
    template: Y,
    /// The meshes `shard_map` or sharding constraints in the function name.
    meshes: Vec<Mesh>,
    programs: Mutex<HashMap<String, Arc<Program>>>,
}

/// Compiles `f` (a function of a [`Tree`] of arrays returning a tree): on
/// the first call with a given signature (tree structure, each leaf's shape
/// and dtype) it traces `f` into a graph; each device then runs that graph:
/// XLA devices compile it once into one program, the built-in CPU backend
/// interprets it. Later calls with the same signature neither trace nor
/// compile. Arrays `f` closes over become constants of the program (sent to
/// the device once).
///
/// Where it runs: on the device of its array inputs (results of an earlier
/// jitted call stay there), else on [`default_device`], or where
/// [`Jit::on`] says. On XLA devices the call returns as soon as the program
/// is enqueued; reading a result (`to_vec`, `item`, printing) waits.
///
/// Inside another transformation (`grad`, `vmap`, another `jit`) the traced
/// graph is inlined, so `grad(jit(f))`, `vmap(jit(f))` and `jit(grad(f))`
/// all work.
///
/// ```
/// use rjax::{grad, jit, numpy as jnp, Array};
/// let loss = |w: &Array| jnp::square(&(w * 3.0 - 1.0)).sum();
/// let step = jit(move |w: &Array| w - grad(loss)(w) * 0.1);
/// let mut w = Array::from_vec(vec![0.0f32, 1.0], &[2]);
/// for _ in 0..3 {
///     w = step.call(&w);
/// }
/// assert_eq!((step.trace_count(), step.compile_count() <= 1), (1, true));
/// ```
pub fn jit<T: Tree, Y: Tree, F: Fn(&T) -> Y + Send + Sync + 'static>(f: F) -> Jit<T, Y> {
    Jit::new(Arc::new(move |_: &(), x: &T| f(x)))
}

/// [`jit`] for a function that also takes static values (JAX's
/// `static_argnums`): values that change the program itself, such as a flag
/// or a count. The static values are part of the signature: each new one
/// traces and compiles again.
///
/// ```
/// use rjax::{jit_static, Array};
/// let power = jit_static(|n: &u32, x: &Array| (0..*n).fold(x.clone(), |acc, _| &acc * x));
/// assert_eq!(power.call_static(&2, &Array::scalar(3.0f32)).item::<f32>(), 27.0);
/// assert_eq!(power.call_static(&1, &Array::scalar(3.0f32)).item::<f32>(), 9.0);
/// assert_eq!(power.trace_count(), 2);
/// ```
pub fn jit_static<S, T, Y, F>(f: F) -> Jit<T, Y, S>
where
    S: Hash + Eq + Clone + 'static,
    T: Tree,
    Y: Tree,
    F: Fn(&S, &T) -> Y + Send + Sync + 'static,
{
    Jit::new(Arc::new(f))
}

impl<T: Tree, Y: Tree, S: Hash + Eq + Clone> Jit<T, Y, S> {
    fn new(f: StagedFn<S, T, Y>) -> Self {
        let capacity = NonZeroUsize::new(JIT_CACHE_SIZE).unwrap_or(NonZeroUsize::MIN);
        let state = State { entries: LruCache::new(capacity), traces: 0, compiles: 0 };
        Jit {
            f,
            donate: Vec::new(),
            device: None,
            in_shardings: None,
            out_shardings: None,
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Donates the buffers of the input's top-level parts at these positions
    /// (tuple elements or struct fields; JAX's `donate_argnums`): on an XLA
    /// device their memory is reused for outputs of the same shape and dtype,
    /// so a training step updates parameters and optimizer state in place.
    /// The donated arrays cannot be read afterwards (use the outputs).
    ///
    /// ```
    /// use rjax::{jit, Array};
    /// let step = jit(|(w, g): &(Array, Array)| w - g).donate_argnums(&[0]);
    /// let w = step.call(&(Array::scalar(1.0f32), Array::scalar(0.5f32)));
    /// assert_eq!(w.item::<f32>(), 0.5);
    /// ```
    pub fn donate_argnums(mut self, argnums: &[usize]) -> Self {
        self.donate = argnums.to_vec();
        self
    }

    /// Runs on `device` whatever the inputs' devices (they are moved there).
    ///
    /// ```
    /// use rjax::{jit, Array, Device};
    /// let f = jit(|x: &Array| x + 1.0).on(Device::Cpu);
    /// assert_eq!(f.call(&Array::scalar(1.0f32)).item::<f32>(), 2.0);
    /// ```
    pub fn on(mut self, device: Device) -> Self {
        self.device = Some(device);
        self
    }

    /// How many times the function was traced (once per new signature).
    ///
    /// ```
    /// use rjax::{jit, Array, DType};
    /// let f = jit(|x: &Array| x * 2.0);
    /// f.call(&Array::zeros(&[2], DType::F32));
    /// f.call(&Array::ones(&[2], DType::F32));
    /// f.call(&Array::zeros(&[3], DType::F32));
    /// assert_eq!(f.trace_count(), 2);
    /// ```
    pub fn trace_count(&self) -> usize {
        lock(&self.state).traces
    }

    /// How many programs this function compiled with XLA (0 on the built-in
    /// CPU; programs loaded from the compilation cache on disk are not
    /// counted: see [`set_compilation_cache_dir`](crate::set_compilation_cache_dir)).
    ///
    /// ```
    /// let f = rjax::jit(|x: &rjax::Array| x * 2.0).on(rjax::Device::Cpu);
    /// f.call(&rjax::Array::scalar(1.0f32));
    /// assert_eq!(f.compile_count(), 0);
    /// ```
    pub fn compile_count(&self) -> usize {
        lock(&self.state).compiles
    }

    /// Keeps the traced graphs and compiled programs of at most `n`
    /// signatures (default [`JIT_CACHE_SIZE`]), the least recently used
    /// going first; applies to every clone. Panics if `n` is 0.
    ///
    /// ```
    /// use rjax::{jit, Array, DType};
    /// let f = jit(|x: &Array| x * 2.0).cache_capacity(2);
    /// for n in 1..=5 {
    ///     f.call(&Array::zeros(&[n], DType::F32));
    /// }
    /// assert_eq!((f.trace_count(), f.cache_size()), (5, 2));
    /// ```
    #[track_caller]
    pub fn cache_capacity(self, n: usize) -> Self {
        match NonZeroUsize::new(n) {
            Some(n) => lock(&self.state).entries.resize(n),
            None => panic!("Jit::cache_capacity: the cache must hold at least 1 signature, got 0"),
        }
        self
    }

    /// How many signatures are traced (and compiled where called) now.
    ///
    /// ```
    /// use rjax::{jit, Array, DType};
    /// let f = jit(|x: &Array| x + 1.0);
    /// f.call(&Array::zeros(&[2], DType::F32));
    /// f.call(&Array::zeros(&[2, 2], DType::F32));
    /// assert_eq!(f.cache_size(), 2);
    /// ```
    pub fn cache_size(&self) -> usize {
        lock(&self.state).entries.len()
    }

    /// Drops every traced graph and compiled program of this function (and
    /// its clones): the next call traces and compiles again. Programs other
    /// `Jit`s of the same computation still hold stay with them.
    ///
    /// ```
    /// use rjax::{jit, Array};
    /// let f = jit(|x: &Array| x + 1.0);
    /// f.call(&Array::scalar(1.0f32));
    /// f.clear_cache();
    /// assert_eq!(f.cache_size(), 0);
    /// f.call(&Array::scalar(1.0f32));
    /// assert_eq!(f.trace_count(), 2);
    /// ```
    pub fn clear_cache(&self) {
        lock(&self.state).entries.clear();
    }

    /// Calls the function; panics with the error's message where
    /// [`Jit::try_call`] would return an error.
    ///
    /// ```
    /// let f = rjax::jit(|x: &rjax::Array| x * x);
    /// assert_eq!(f.call(&rjax::Array::scalar(3.0f64)).item::<f64>(), 9.0);
    /// ```
    #[track_caller]
    pub fn call(&self, x: &T) -> Y
    where
        S: Default,
    {
        self.call_static(&S::default(), x)
    }

    /// Calls the function with static values (see [`jit_static`]).
    ///
    /// ```
    /// let f = rjax::jit_static(|k: &i32, x: &rjax::Array| x * (*k as f64));
    /// assert_eq!(f.call_static(&4, &rjax::Array::scalar(1.0f32)).item::<f32>(), 4.0);
    /// ```
    #[track_caller]
    pub fn call_static(&self, statics: &S, x: &T) -> Y {
        match self.try_call_static(statics, x) {
            Ok(y) => y,
            Err(e) => panic!("jit: {e}"),
        }
    }

    /// Calls the function; device, compile and transfer failures are errors.
    ///
    /// ```
    /// let f = rjax::jit(|x: &rjax::Array| x + 1.0);
    /// let y = f.try_call(&rjax::Array::scalar(1.0f32))?;
    /// assert_eq!(y.item::<f32>(), 2.0);
    /// # Ok::<(), rjax::Error>(())
    /// ```
    pub fn try_call(&self, x: &T) -> Result<Y, Error>
    where
        S: Default,
    {
        self.try_call_static(&S::default(), x)
    }

    /// [`Jit::try_call`] with static values.
    ///
    /// ```
    /// let f = rjax::jit_static(|k: &i32, x: &rjax::Array| x * (*k as f64));
    /// assert_eq!(f.try_call_static(&2, &rjax::Array::scalar(1.0f32))?.item::<f32>(), 2.0);
    /// # Ok::<(), rjax::Error>(())
    /// ```
    pub fn try_call_static(&self, statics: &S, x: &T) -> Result<Y, Error> {
        let xs = leaves(x);
        let entry = self.entry(statics, x, &xs);
        if tracing() || xs.iter().any(|l| !l.is_concrete()) {
            // Inside another transformation: inline the traced graph (an
            // enclosing jit runs over the meshes it uses).
            entry.meshes.iter().for_each(note_mesh);
            return Ok(rebuild(&entry.template, eval_graph(&entry.graph, &xs)));
        }
        if let Some(plan) = self.sharding_plan(&entry, x, &xs)? {
            let program = self.sharded_program(&entry, &plan, x)?;
            return Ok(rebuild(&entry.template, program.run(&xs)?));
        }
        let device = self.pick_device(&xs)?;
        let program = self.program(&entry, &device, x)?;
        Ok(rebuild(&entry.template, program.run(&xs)?))
    }

    /// The StableHLO module (MLIR text) compiled for `x`'s signature, as
    /// JAX's `jit(f).lower(x).as_text()`; donated arguments carry their
    /// `tf.aliasing_output` attributes, and a program partitioned over a mesh
    /// (see [`Jit::in_shardings`]) its `mhlo.sharding` ones.
    ///
    /// ```
    /// let f = rjax::jit(|x: &rjax::Array| x * 2.0);
    /// let text = f.lower(&rjax::Array::zeros(&[3], rjax::DType::F32))?;
    /// assert!(text.contains("stablehlo.multiply"));
    /// # Ok::<(), rjax::Error>(())
    /// ```
    pub fn lower(&self, x: &T) -> Result<String, Error>
    where
        S: Default,
    {
        self.lower_static(&S::default(), x)
    }

    /// [`Jit::lower`] with static values.
    ///
    /// ```
    /// let f = rjax::jit_static(|k: &i32, x: &rjax::Array| x * (*k as f64));
    /// assert!(f.lower_static(&3, &rjax::Array::scalar(1.0f32))?.contains("@main"));
    /// # Ok::<(), rjax::Error>(())
    /// ```
    pub fn lower_static(&self, statics: &S, x: &T) -> Result<String, Error> {
        let xs = leaves(x);
        let entry = self.entry(statics, x, &xs);
        if let Some(plan) = self.sharding_plan(&entry, x, &xs)? {
            return self.lower_sharded(&entry, &plan, x);
        }
        Ok(lower_graph_donating(&entry.graph, &self.donated_leaves(&x.def()))?.text)
    }

    /// The traced graph for `x`'s signature (what [`make_graph`](crate::make_graph) shows).
    ///
    /// ```
    /// let f = rjax::jit(|x: &rjax::Array| rjax::numpy::exp(x));
    /// let g = f.graph(&rjax::Array::scalar(1.0f32));
    /// assert!(g.to_string().contains("exp"));
    /// ```
    pub fn graph(&self, x: &T) -> Graph
    where
        S: Default,
    {
        let xs = leaves(x);
        self.entry(&S::default(), x, &xs).graph.clone()
    }

    /// The cached entry for this signature, tracing on a miss (without
    /// holding the lock: the function may call other `jit`s, or panic).
    fn entry(&self, statics: &S, x: &T, xs: &[Array]) -> Arc<Entry<Y>> {
        let key = Key { statics: statics.clone(), def: x.def(), avals: xs.iter().map(|l| l.aval()).collect() };
        if let Some(e) = lock(&self.state).entries.get(&key) {
            return e.clone();
        }
        let f = &self.f;
        let ((graph, template), meshes) = collect_meshes(|| trace_with(&|t: &T| f(statics, t), x, key.avals.clone()));
        let fresh = Arc::new(Entry { graph, template, meshes, programs: Mutex::new(HashMap::new()) });
        let mut st = lock(&self.state);
        st.traces += 1;
        // Another thread may have traced the same signature meanwhile: keep one.
        st.entries.get_or_insert(key, || fresh).clone()
    }

    fn pick_device(&self, xs: &[Array]) -> Result<Device, Error> {
        if let Some(d) = &self.device {
            return Ok(d.clone());
        }
        let refs: Vec<&Array> = xs.iter().collect();
        Ok(match eager::device_of("jit", &refs)? {
            Some(d) => Device::Xla(d),
            None => default_device(),
        })
    }

    /// Which input leaves are donated.
    fn donated_leaves(&self, def: &TreeDef) -> Vec<bool> {
        let mut out = vec![false; def.num_leaves()];
        for (i, range) in top_level_parts(def).into_iter().enumerate() {
            if self.donate.contains(&i) {
                out[range].iter_mut().for_each(|d| *d = true);
            }
        }
        out
    }

    /// The program for `entry` on `device`, made on first use (for XLA:
    /// compiled, and the constants sent to the device).
    fn program(&self, entry: &Entry<Y>, device: &Device, x: &T) -> Result<Arc<Program>, Error> {
        let key = device.to_string();
        if let Some(p) = lock(&entry.programs).get(&key) {
            return Ok(p.clone());
        }
        let (program, fresh) = Program::compile("jit", &entry.graph, device, &self.donated_leaves(&x.def()))?;
        if fresh {
            lock(&self.state).compiles += 1;
        }
        Ok(lock(&entry.programs).entry(key).or_insert_with(|| Arc::new(program)).clone())
    }
}
