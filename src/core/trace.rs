//! The trace stack, `bind` (apply a primitive) and graph evaluation.
//!
//! rjax stages in "initial style": every transformation first traces the user
//! function into a [`Graph`] by calling it on abstract arrays, then interprets
//! that graph with the transformation's rules. While a trace is active, every
//! primitive applied by [`bind`] is recorded into the innermost trace instead of
//! being computed. Arrays from enclosing traces and concrete arrays used inside
//! are captured as graph inputs, so nested transformations compose: an inner
//! transformation's result graph is evaluated with `bind`, which records it into
//! the outer trace.

use super::array::{Array, Repr, Tracer};
use super::aval::Aval;
use super::block::{Block, BlockMut};
use super::dtype::HostData;
use super::graph::VarMap;
use super::graph::{Eqn, Graph, Var};
use super::lowering::{LowerError, Lowering, Value};
use super::op::{MultiPrimitive, Op};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A primitive operation with all its rules.
///
/// A primitive is a plain struct holding its static parameters (axes, shapes,
/// dtypes). All of its rules live in one `impl` next to each other:
///
/// - `abstract_eval`: the shape and dtype rule, run at every application, so a
///   bad shape is reported at the caller's line before anything is computed;
/// - `eval`: the built-in CPU evaluation on host data;
/// - `jvp`: the forward-mode rule, written with other rjax operations;
/// - `vjp`: the reverse-mode rule, written with other rjax operations, so it can
///   itself be differentiated (grad of grad);
/// - `batch`: the vmap rule, with the batch dimension of batched inputs at axis 0;
/// - `lower`: the StableHLO lowering rule, used to compile a graph with XLA
///   ([`lower_graph`](crate::backend::stablehlo::lower_graph)).
///
/// ```
/// use rjax::{lax, Array};
/// // Applying a primitive outside any transformation computes it right away.
/// let y = lax::exp(&Array::scalar(0.0f64));
/// assert_eq!(y.item::<f64>(), 1.0);
/// ```
pub trait Primitive: Send + Sync + fmt::Debug + 'static {
    /// The name printed in graphs and error messages, e.g. `reduce_sum`.
    fn name(&self) -> &'static str;
    /// The static parameters, as printed in graphs, e.g. `axes=[0]`.
    fn params(&self) -> String {
        String::new()
    }
    /// The named axes the primitive combines values over (collectives such
    /// as `psum`; empty for every other primitive). A `vmap` over one of them
    /// applies the primitive's batching rule even to unbatched operands.
    fn named_axes(&self) -> Vec<String> {
        Vec::new()
    }
    /// The output's shape and dtype, or a message saying why the inputs are invalid.
    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Aval, String>;
    /// Computes the result on the built-in CPU backend.
    fn eval(&self, inputs: &[&HostData]) -> HostData;
    /// True when the primitive is elementwise on operands of these avals:
    /// element `i` of the result (in row-major order) depends only on element
    /// `i` of each operand, an operand of one element counting as that element
    /// everywhere. The built-in backend then fuses it with its neighbours into
    /// one pass over memory, computing it block by block with
    /// [`Primitive::eval_block`]. The default: not elementwise.
    fn elementwise(&self, _inputs: &[Aval]) -> bool {
        false
    }
    /// Computes one block of the result from the same block of each operand
    /// (see [`Block`]); called only where [`Primitive::elementwise`] is true,
    /// with the operands' dtypes. Must give exactly what `eval` gives.
    fn eval_block(&self, _inputs: &[Block<'_>], _out: BlockMut<'_>) {
        unreachable!("{} has no block rule: the built-in backend fuses only elementwise primitives", self.name())
    }
    /// The output tangent given the input primals, the output primal and the
    /// input tangents (`None` is a symbolic zero). Only called when the output
    /// is floating point and at least one tangent is present.
    fn jvp(&self, x: &[Array], out: &Array, t: &[Option<Array>]) -> Option<Array>;
    /// The cotangent of each input for which `wants` is true, given the output
    /// cotangent `ct` (`None` means zero).
    fn vjp(&self, x: &[Array], out: &Array, ct: &Array, wants: &[bool]) -> Vec<Option<Array>>;
    /// Applies the primitive to a batch: inputs flagged in `batched` carry a
    /// batch dimension at axis 0. Returns the result and whether it is batched
    /// (then at axis 0).
    fn batch(&self, x: &[Array], batched: &[bool]) -> (Array, bool);
    /// Emits the StableHLO operations computing the primitive on the lowered
    /// inputs `x` into `cx`, and returns the value holding the result, whose
    /// aval must be `out` (what the shape rule gave). The result must equal
    /// the CPU rule's: same values, same edge cases (NaN, overflow,
    /// out-of-range indices), up to floating-point rounding.
    fn lower(&self, cx: &mut Lowering, x: &[Value], out: &Aval) -> Result<Value, LowerError>;
}

type TraceId = u64;

static NEXT_TRACE: AtomicU64 = AtomicU64::new(1);

struct Builder {
    id: TraceId,
    avals: Vec<Aval>,
    inputs: Vec<Var>,
    captures: Vec<(Var, Array)>,
    captured: HashMap<usize, Var>,
    eqns: Vec<Eqn>,
}

impl Builder {
    fn new_var(&mut self, aval: Aval) -> Var {
        self.avals.push(aval);
        Var(self.avals.len() as u32 - 1)
    }
}

thread_local! {
    static STACK: RefCell<Vec<Builder>> = const { RefCell::new(Vec::new()) };
}

fn escaped(op: &str, t: &Tracer) -> String {
    format!(
        "{op}: an abstract array ({}) from a transformation that has already finished was used. \
         A traced value escaped its function, for example by being stored in a variable \
         outside it; return it from the function instead",
        t.aval
    )
}

/// Finds (or creates) the variable of the innermost builder that stands for `x`.
fn lift(stack: &mut [Builder], x: &Array, op: &str) -> Result<Var, String> {
    let top_id = stack.last().map(|b| b.id).unwrap_or(0);
    if let Repr::Traced(t) = &*x.repr {
        if t.trace == top_id {
            return Ok(t.var);
        }
        if !stack.iter().any(|b| b.id == t.trace) {
            return Err(escaped(op, t));
        }
    }
    let top = stack.last_mut().ok_or_else(|| format!("{op}: no active trace"))?;
    let key = x.id();
    if let Some(v) = top.captured.get(&key) {
        return Ok(*v);
    }
    let v = top.new_var(x.aval());
    top.captures.push((v, x.clone()));
    top.captured.insert(key, v);
    Ok(v)
}

/// Applies a primitive to arrays: computes it when no trace is active and all
/// inputs are concrete, otherwise records it into the innermost trace.
///
/// Panics at the caller's line when the inputs break the primitive's shape or
/// dtype rule; the message starts with the primitive's name.
///
/// ```
/// use rjax::{bind, lax::Exp, Array};
/// let y = bind(Exp, &[&Array::scalar(0.0f32)]);
/// assert_eq!(y.item::<f32>(), 1.0);
/// ```
#[track_caller]
pub fn bind<P: Primitive>(prim: P, inputs: &[&Array]) -> Array {
    bind_arc(Arc::new(prim), inputs)
}

/// [`bind`] for a primitive already behind an `Arc` (as graphs hold them).
#[track_caller]
pub(crate) fn bind_arc(prim: Arc<dyn Primitive>, inputs: &[&Array]) -> Array {
    let mut outs = bind_op(&Op::One(prim), inputs);
    match outs.pop() {
        Some(y) => y,
        None => unreachable!("a one-result primitive gives one result"),
    }
}

/// Applies a primitive with several results (see [`MultiPrimitive`]): computes
/// it or records it, as [`bind`] does.
///
/// ```
/// use rjax::{bind_multi, core::MultiPrimitive};
/// // Control-flow primitives (`scan`, `while_loop`, `cond`) are applied with
/// // `bind_multi`; their functions in `rjax::lax` call it.
/// let _: fn(std::sync::Arc<dyn MultiPrimitive>, &[&rjax::Array]) -> Vec<rjax::Array> = bind_multi;
/// ```
#[track_caller]
pub fn bind_multi(prim: Arc<dyn MultiPrimitive>, inputs: &[&Array]) -> Vec<Array> {
    bind_op(&Op::Many(prim), inputs)
}

/// Applies an [`Op`]: runs its shape rule, then records it into the innermost
/// trace or computes it.
#[track_caller]
pub(crate) fn bind_op(op: &Op, inputs: &[&Array]) -> Vec<Array> {
    let avals: Vec<Aval> = inputs.iter().map(|x| x.aval()).collect();
    let outs = match op.abstract_eval(&avals) {
        Ok(a) => a,
        Err(msg) => panic!("{}: {msg}", op.name()),
    };
    for a in &outs {
        if let Err(msg) = a.byte_size() {
            panic!("{}: the result {msg}", op.name());
        }
    }
    let staged = STACK.with(|s| {
        let mut stack = s.borrow_mut();
        if stack.is_empty() {
            return Ok(None);
        }
        let mut vars = Vec::with_capacity(inputs.len());
        for x in inputs {
            vars.push(lift(&mut stack, x, op.name())?);
        }
        let top = stack.last_mut().ok_or("no active trace")?;
        let out_vars: Vec<Var> = outs.iter().map(|a| top.new_var(a.clone())).collect();
        top.eqns.push(Eqn { op: op.clone(), inputs: vars, outs: out_vars.clone() });
        let id = top.id;
        Ok::<_, String>(Some(out_vars.iter().zip(&outs).map(|(v, a)| Array::traced(id, *v, a.clone())).collect()))
    });
    match staged {
        Ok(Some(a)) => a,
        Ok(None) => eval_eager(op, inputs, &outs),
        Err(msg) => panic!("{msg}"),
    }
}

/// Computes an op on concrete inputs with the built-in CPU rules.
#[track_caller]
fn eval_eager(op: &Op, inputs: &[&Array], outs: &[Aval]) -> Vec<Array> {
    // an input on a device runs the op there (the device checks the others)
    if let Some(d) = inputs.iter().find_map(|x| match &*x.repr {
        Repr::Device(d) => Some(d),
        _ => None,
    }) {
        return d.run_op(op, inputs, outs);
    }
    for x in inputs {
        if let Repr::Traced(t) = &*x.repr {
            panic!("{}", escaped(op.name(), t));
        }
    }
    for a in outs {
        super::alloc::reserve(op.name(), a);
    }
    let ys = op.eval(inputs);
    debug_assert_eq!(ys.len(), outs.len(), "{} eval result count", op.name());
    for (y, a) in ys.iter().zip(outs) {
        debug_assert_eq!(y.aval(), *a, "{} eval result", op.name());
    }
    ys
}

/// Pops the builder even when the traced function panics.
struct Guard(TraceId);

impl Drop for Guard {
    fn drop(&mut self) {
        STACK.with(|s| {
            let mut s = s.borrow_mut();
            if s.last().map(|b| b.id) == Some(self.0) {
                s.pop();
            }
        });
    }
}

/// Traces `f` on abstract arguments with the given avals and returns its graph.
///
/// This is the one staging entry point every transformation uses.
///
/// ```
/// use rjax::{core::trace_graph, Aval, DType};
/// let g = trace_graph(&[Aval::new(&[3], DType::F32)], |xs| vec![&xs[0] * &xs[0]]);
/// assert_eq!(g.eqns.len(), 1);
/// ```
pub fn trace_graph(in_avals: &[Aval], f: impl FnOnce(&[Array]) -> Vec<Array>) -> Graph {
    let id = NEXT_TRACE.fetch_add(1, Ordering::Relaxed);
    let args = STACK.with(|s| {
        let mut b = Builder {
            id,
            avals: Vec::new(),
            inputs: Vec::new(),
            captures: Vec::new(),
            captured: HashMap::new(),
            eqns: Vec::new(),
        };
        let args: Vec<Array> = in_avals
            .iter()
            .map(|a| {
                let v = b.new_var(a.clone());
                b.inputs.push(v);
                Array::traced(id, v, a.clone())
            })
            .collect();
        s.borrow_mut().push(b);
        args
    });
    let guard = Guard(id);
    let outs = f(&args);
    let outputs = STACK.with(|s| {
        let mut stack = s.borrow_mut();
        outs.iter().map(|o| lift(&mut stack, o, "output")).collect::<Result<Vec<_>, _>>()
    });
    let b = STACK.with(|s| s.borrow_mut().pop());
    std::mem::forget(guard);
    let outputs = outputs.unwrap_or_else(|m| panic!("{m}"));
    let b = b.unwrap_or_else(|| panic!("trace stack corrupted"));
    Graph { avals: b.avals, inputs: b.inputs, captures: b.captures, eqns: b.eqns, outputs }
}

/// Evaluates a graph on arguments by applying each equation with [`bind`]:
/// concrete arguments are computed, abstract ones are recorded into the
/// active trace (this is how a transformed function inlines into an outer one).
///
/// ```
/// use rjax::{core::{eval_graph, trace_graph}, Array, Aval, DType};
/// let g = trace_graph(&[Aval::new(&[], DType::F64)], |xs| vec![&xs[0] + 1.0]);
/// let y = eval_graph(&g, &[Array::scalar(2.0f64)]);
/// assert_eq!(y[0].item::<f64>(), 3.0);
/// ```
#[track_caller]
pub fn eval_graph(g: &Graph, args: &[Array]) -> Vec<Array> {
    assert_eq!(args.len(), g.inputs.len(), "eval_graph: wrong number of arguments");
    let mut env = initial_env(g, args.iter().cloned());
    let last_use = last_uses(g);
    for (i, e) in g.eqns.iter().enumerate() {
        apply_eqn(&mut env, e);
        // Free what no later equation reads, so memory is reused as the graph runs.
        for v in &e.inputs {
            if last_use[v] == Some(i) {
                env[v] = None;
            }
        }
    }
    g.outputs.iter().map(|v| read(&env, *v).clone()).collect()
}

/// For each variable, the index of the last equation that reads it; `None`
/// for the graph's outputs (kept to the end) and for variables no equation reads.
fn last_uses(g: &Graph) -> VarMap<Option<usize>> {
    let mut last = VarMap::new(g, None);
    for (i, e) in g.eqns.iter().enumerate() {
        for v in &e.inputs {
            last[v] = Some(i);
        }
    }
    for v in &g.outputs {
        last[v] = None;
    }
    last
}

/// Applies equation `e` with [`bind_op`] to its inputs in `env` and binds
/// its results there.
#[track_caller]
pub(crate) fn apply_eqn(env: &mut VarMap<Option<Array>>, e: &Eqn) {
    let ins: Vec<&Array> = e.inputs.iter().map(|v| read(env, *v)).collect();
    let outs = bind_op(&e.op, &ins);
    for (v, y) in e.outs.iter().zip(outs) {
        env[v] = Some(y);
    }
}

/// The environment every graph interpreter starts from: one slot per variable,
/// with the inputs bound to `args` (in order) and the captures to their arrays.
pub(crate) fn initial_env(g: &Graph, args: impl IntoIterator<Item = Array>) -> VarMap<Option<Array>> {
    let mut env: VarMap<Option<Array>> = VarMap::new(g, None);
    for (v, a) in g.inputs.iter().zip(args) {
        env[v] = Some(a);
    }
    for (v, a) in &g.captures {
        env[v] = Some(a.clone());
    }
    env
}

/// Reads a variable that the graph's order guarantees is defined.
pub(crate) fn read(env: &VarMap<Option<Array>>, v: Var) -> &Array {
    match &env[v] {
        Some(a) => a,
        None => panic!("graph reads variable {} before defining it", v.0),
    }
}

/// True while a transformation is tracing on this thread (operations are
/// being recorded rather than computed).
pub(crate) fn tracing() -> bool {
    STACK.with(|s| !s.borrow().is_empty())
}
