//! `jit`: trace a function once per signature, compile it with XLA (or run
//! its graph on the built-in CPU backend), and reuse the result.

use super::{rebuild, trace_with};
use crate::backend::stablehlo::lower_graph_donating;
use crate::core::{Array, Aval, Graph, eval_graph, tracing};
use crate::device::{Device, Error, Platform, Program, default_device, eager};
use crate::tree::{Tree, TreeDef, leaves};
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::Hash;
use std::rc::Rc;

/// The traced function, with its static values first.
type StagedFn<S, T, Y> = Rc<dyn Fn(&S, &T) -> Y>;

/// A jit-compiled function (see [`jit`]). Cheap to clone: clones share the
/// cache of traced and compiled programs.
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
    state: Rc<RefCell<State<Y, S>>>,
}

impl<T, Y, S> Clone for Jit<T, Y, S> {
    fn clone(&self) -> Self {
        Jit { f: self.f.clone(), donate: self.donate.clone(), device: self.device.clone(), state: self.state.clone() }
    }
}

struct State<Y, S> {
    entries: HashMap<Key<S>, Rc<Entry<Y>>>,
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
/// per device.
struct Entry<Y> {
    graph: Graph,
    template: Y,
    programs: RefCell<HashMap<(Platform, usize), Rc<Program>>>,
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
pub fn jit<T: Tree, Y: Tree, F: Fn(&T) -> Y + 'static>(f: F) -> Jit<T, Y> {
    Jit::new(Rc::new(move |_: &(), x: &T| f(x)))
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
    F: Fn(&S, &T) -> Y + 'static,
{
    Jit::new(Rc::new(f))
}

impl<T: Tree, Y: Tree, S: Hash + Eq + Clone> Jit<T, Y, S> {
    fn new(f: StagedFn<S, T, Y>) -> Self {
        let state = State { entries: HashMap::new(), traces: 0, compiles: 0 };
        Jit { f, donate: Vec::new(), device: None, state: Rc::new(RefCell::new(state)) }
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
        self.state.borrow().traces
    }

    /// How many programs this function compiled with XLA (0 on the built-in CPU).
    ///
    /// ```
    /// let f = rjax::jit(|x: &rjax::Array| x * 2.0).on(rjax::Device::Cpu);
    /// f.call(&rjax::Array::scalar(1.0f32));
    /// assert_eq!(f.compile_count(), 0);
    /// ```
    pub fn compile_count(&self) -> usize {
        self.state.borrow().compiles
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
            // Inside another transformation: inline the traced graph.
            return Ok(rebuild(&entry.template, eval_graph(&entry.graph, &xs)));
        }
        let device = self.pick_device(&xs)?;
        let program = self.program(&entry, &device, x)?;
        Ok(rebuild(&entry.template, program.run(&xs)?))
    }

    /// The StableHLO module (MLIR text) compiled for `x`'s signature, as
    /// JAX's `jit(f).lower(x).as_text()`; donated arguments carry their
    /// `tf.aliasing_output` attributes.
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

    /// The cached entry for this signature, tracing on a miss.
    fn entry(&self, statics: &S, x: &T, xs: &[Array]) -> Rc<Entry<Y>> {
        let key = Key { statics: statics.clone(), def: x.def(), avals: xs.iter().map(|l| l.aval()).collect() };
        if let Some(e) = self.state.borrow().entries.get(&key) {
            return e.clone();
        }
        let f = &self.f;
        let (graph, template) = trace_with(&|t: &T| f(statics, t), x, key.avals.clone());
        let entry = Rc::new(Entry { graph, template, programs: RefCell::new(HashMap::new()) });
        let mut st = self.state.borrow_mut();
        st.traces += 1;
        st.entries.insert(key, entry.clone());
        entry
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
        let n = def.num_leaves();
        let mut out = vec![false; n];
        let parts: Vec<usize> = match def {
            TreeDef::Node { children, .. } => children.iter().map(|c| c.num_leaves()).collect(),
            TreeDef::Leaf => vec![1],
        };
        let mut start = 0;
        for (i, len) in parts.into_iter().enumerate() {
            if self.donate.contains(&i) {
                out[start..start + len].iter_mut().for_each(|d| *d = true);
            }
            start += len;
        }
        out
    }

    /// The program for `entry` on `device`, made on first use (for XLA:
    /// compiled, and the constants sent to the device).
    fn program(&self, entry: &Entry<Y>, device: &Device, x: &T) -> Result<Rc<Program>, Error> {
        let key = (device.platform(), device.ordinal());
        if let Some(p) = entry.programs.borrow().get(&key) {
            return Ok(p.clone());
        }
        let (program, fresh) = Program::compile("jit", &entry.graph, device, &self.donated_leaves(&x.def()))?;
        if fresh {
            self.state.borrow_mut().compiles += 1;
        }
        let program = Rc::new(program);
        entry.programs.borrow_mut().insert(key, program.clone());
        Ok(program)
    }
}
