//! Lowering of a [`Graph`] to a StableHLO MLIR text module, the input of XLA
//! (`PJRT_Client_Compile` with format `"mlir"`).
//!
//! Every primitive has a `lower` rule next to its other rules (see
//! [`Primitive::lower`](crate::Primitive::lower)); [`lower_graph`] walks a
//! graph and calls them in order. Rules emit operations through a [`Lowering`]
//! context, which allocates SSA names and accumulates lines, always in MLIR's
//! generic form, e.g.
//!
//! ```text
//! %3 = "stablehlo.add"(%1, %2) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
//! ```
//!
//! The module has one function, `@main`, whose arguments are the graph's
//! captured arrays first, then its inputs: captured arrays are passed at run
//! time (see [`Lowered::captures`]) rather than written into the text as
//! constants. Scalar literals a rule needs (padding values, reduction
//! identities) are `stablehlo.constant` operations.
//!
//! ```
//! use rjax::{backend::stablehlo::lower_graph, make_graph, numpy as jnp, Array};
//! let g = make_graph(|x: &Array| jnp::exp(x).sum())(&Array::zeros(&[3], rjax::DType::F32));
//! let m = lower_graph(&g).unwrap();
//! assert!(m.text.contains("\"stablehlo.exponential\""));
//! assert!(m.text.contains("func.func public @main(%arg0: tensor<3xf32>) -> (tensor<f32>)"));
//! ```

mod chacha;
mod helpers;
mod remat;
mod special;

pub(crate) use chacha::chacha20;
use chacha::{Draw, chacha20_many};
pub(crate) use helpers::{argsort, convert, gather_along, highest, lowest, scalar, scatter_add_along, sign_unsigned};
pub(crate) use special::{erf, erf_inv};

pub use crate::core::lowering::{
    LowerError, Lowering, Value, compare_type, dense_splat, element_type, i64_array, i64_list, tensor_type,
};

use crate::core::VarMap;
use crate::core::{Array, Aval, Eqn, Graph, Var};
use std::collections::HashMap;

/// A lowered graph: the module text and what its arguments are.
#[derive(Clone, Debug)]
pub struct Lowered {
    /// The StableHLO module (MLIR text), with one function `@main`.
    pub text: String,
    /// The captured arrays, in the order of `@main`'s leading arguments; the
    /// caller passes them before the graph's inputs.
    pub captures: Vec<Array>,
    /// The aval of every argument of `@main`: captures, then inputs.
    pub arg_avals: Vec<Aval>,
    /// The aval of every result of `@main`.
    pub out_avals: Vec<Aval>,
    /// For every argument of `@main`, the output it may give its memory to
    /// (donated inputs only; see [`lower_graph_donating`]).
    pub aliases: Vec<Option<usize>>,
}

/// Emits the equations of `g` into `cx`, with the graph's captures, then its
/// inputs, bound to `args` (in that order), and returns the values of its
/// outputs. [`lower_graph`] uses it for `@main`; control-flow rules use it to
/// lower their sub-graphs inside regions (a loop body, a branch).
///
/// ```
/// use rjax::{backend::stablehlo::{lower_graph_into, Lowering, Value}, make_graph, Array, Aval, DType};
/// let g = make_graph(|x: &Array| x * x)(&Array::scalar(1.0f32));
/// let mut cx = Lowering::new();
/// let x = Value { name: "%x".into(), aval: Aval::new(&[], DType::F32) };
/// let outs = lower_graph_into(&mut cx, &g, &[x]).unwrap();
/// assert_eq!(outs[0].aval, Aval::new(&[], DType::F32));
/// ```
pub fn lower_graph_into(cx: &mut Lowering, g: &Graph, args: &[Value]) -> Result<Vec<Value>, LowerError> {
    let params: Vec<_> = g.captures.iter().map(|(v, _)| *v).chain(g.inputs.iter().copied()).collect();
    if params.len() != args.len() {
        return Err(LowerError::new(format!("a graph of {} arguments given {} values", params.len(), args.len())));
    }
    let mut env: VarMap<Option<Value>> = VarMap::new(g, None);
    for (v, a) in params.iter().zip(args) {
        env[v] = Some(a.clone());
    }
    // XLA's CPU plugin draws each `random_bits` with rjax's own code (a host
    // call), which needs no shared loop
    let together = if cx.host_calls() { HashMap::new() } else { random_bits_together(g) };
    let copies = remat::plan(g);
    let mut drawn = vec![false; g.eqns.len()];
    for i in 0..g.eqns.len() {
        if drawn[i] {
            continue;
        }
        if let Some(group) = together.get(&i) {
            for &m in &group.moved {
                lower_eqn(cx, g, &g.eqns[m], &mut env)?;
                drawn[m] = true;
            }
            for (j, y) in group.draws.iter().zip(draw_together(cx, g, &group.draws, &env)?) {
                env[g.eqns[*j].outs[0]] = Some(y);
                drawn[*j] = true;
            }
            continue;
        }
        remat::lower_reading_copies(cx, g, i, &copies, &mut env)?;
    }
    let mut outs = Vec::with_capacity(g.outputs.len());
    for v in &g.outputs {
        match &env[v] {
            Some(x) => outs.push(x.clone()),
            None => return Err(LowerError::new("an output is never defined")),
        }
    }
    Ok(outs)
}

/// Lowers the equation `e` of `g`, its inputs read from and its results
/// written to `env`.
fn lower_eqn(cx: &mut Lowering, g: &Graph, e: &Eqn, env: &mut VarMap<Option<Value>>) -> Result<(), LowerError> {
    let mut ins = Vec::with_capacity(e.inputs.len());
    for v in &e.inputs {
        match &env[v] {
            Some(x) => ins.push(x.clone()),
            None => return Err(LowerError::new(format!("{} reads a value before it is defined", e.op.name()))),
        }
    }
    let outs: Vec<Aval> = e.outs.iter().map(|v| g.aval(*v).clone()).collect();
    let ys = e.op.lower(cx, &ins, &outs).map_err(|err| {
        if err.message.starts_with(e.op.name()) {
            err
        } else {
            LowerError::new(format!("{}: {}", e.op.name(), err.message))
        }
    })?;
    if ys.len() != outs.len() {
        return Err(LowerError::new(format!("{} lowered to {} values, not {}", e.op.name(), ys.len(), outs.len())));
    }
    for ((v, y), out) in e.outs.iter().zip(ys).zip(&outs) {
        if y.aval != *out {
            return Err(LowerError::new(format!("{} lowered to {} but the graph records {out}", e.op.name(), y.aval)));
        }
        env[v] = Some(y);
    }
    Ok(())
}

/// Operations that may be lowered earlier than the graph has them, to draw
/// a `random_bits` together with an earlier one: they only move data around,
/// and the chains that feed keys and stream ids are made of them.
const MOVABLE: [&str; 6] = ["broadcast_in_dim", "concatenate", "reshape", "slice", "transpose", "convert_element_type"];

/// The most equations moved to let one `random_bits` join a group.
const MOST_MOVED: usize = 8;

/// A group of `random_bits` equations drawn as one keystream loop, at the
/// first of them: the equations to lower first (moved up from later in the
/// graph: the data movement making the later draws' keys and stream ids),
/// then the draws.
#[derive(Debug)]
struct Together {
    moved: Vec<usize>,
    draws: Vec<usize>,
}

/// The `random_bits` equations of `g` drawn together, by the first of each
/// group. A later draw joins the group of an earlier one when its key and
/// stream are defined before that one, or by a few [`MOVABLE`] equations from
/// values that are (the dropout masks of a network's layers, from keys split
/// up front). Groups of one are left out.
fn random_bits_together(g: &Graph) -> HashMap<usize, Together> {
    let is_draw = |e: &Eqn| e.op.name() == "random_bits" && e.inputs.len() == 2 && e.outs.len() == 1;
    // where each variable is defined: the equation's index (graph inputs and
    // captures: before all)
    let mut defined: HashMap<Var, usize> = HashMap::new();
    for (i, e) in g.eqns.iter().enumerate() {
        for v in &e.outs {
            defined.insert(*v, i);
        }
    }
    let mut groups = HashMap::new();
    let mut taken = vec![false; g.eqns.len()];
    for (i, e) in g.eqns.iter().enumerate() {
        if !is_draw(e) || taken[i] {
            continue;
        }
        let mut group = Together { moved: Vec::new(), draws: vec![i] };
        for (j, later) in g.eqns.iter().enumerate().skip(i + 1) {
            if !is_draw(later) || taken[j] {
                continue;
            }
            // the equations from `i` on that `later`'s inputs need, if all movable
            let mut need: Vec<usize> = Vec::new();
            let mut stack: Vec<Var> = later.inputs.clone();
            let mut movable = true;
            while let Some(v) = stack.pop() {
                let Some(&d) = defined.get(&v) else { continue };
                if d < i || need.contains(&d) || group.moved.contains(&d) {
                    continue;
                }
                if taken[d] || !MOVABLE.contains(&g.eqns[d].op.name()) || need.len() == MOST_MOVED {
                    movable = false;
                    break;
                }
                need.push(d);
                stack.extend(g.eqns[d].inputs.iter().copied());
            }
            if movable {
                for d in need {
                    taken[d] = true;
                    group.moved.push(d);
                }
                group.draws.push(j);
                taken[j] = true;
            }
        }
        if group.draws.len() > 1 {
            // moved equations keep their order, which defines before use
            group.moved.sort_unstable();
            groups.insert(i, group);
        }
    }
    groups
}

/// Lowers the `random_bits` equations `group` of `g` as one keystream loop.
fn draw_together(
    cx: &mut Lowering,
    g: &Graph,
    group: &[usize],
    env: &VarMap<Option<Value>>,
) -> Result<Vec<Value>, LowerError> {
    let mut draws = Vec::with_capacity(group.len());
    for &j in group {
        let e = &g.eqns[j];
        let (Some(key), Some(stream)) = (&env[e.inputs[0]], &env[e.inputs[1]]) else {
            return Err(LowerError::new("random_bits reads a value before it is defined"));
        };
        let out = g.aval(e.outs[0]);
        // the words per key: the result's shape after the key's batch axes
        let batch = key.aval.ndim().saturating_sub(1);
        let shape = out
            .shape
            .get(batch..)
            .ok_or_else(|| LowerError::new(format!("random_bits: result {out} for key {}", key.aval)))?;
        draws.push(Draw { key, stream, shape, out });
    }
    chacha20_many(cx, &draws).map_err(|err| LowerError::new(format!("random_bits: {}", err.message)))
}

/// Lowers a whole graph to a StableHLO module: `@main` takes the graph's
/// captured arrays, then its inputs, and returns its outputs.
///
/// Fails when the graph does not check ([`Graph::check`]) or a primitive has
/// no lowering for its operands.
///
/// ```
/// use rjax::{backend::stablehlo::lower_graph, make_graph, Array};
/// let c = Array::from_vec(vec![1.0f32, 2.0], &[2]);
/// let g = make_graph(|x: &Array| x * &c)(&Array::zeros(&[2], rjax::DType::F32));
/// let m = lower_graph(&g).unwrap();
/// assert_eq!(m.captures.len(), 1); // `c` is passed as the first argument
/// assert!(m.text.contains("\"stablehlo.multiply\"(%arg1, %arg0)"));
/// ```
pub fn lower_graph(g: &Graph) -> Result<Lowered, LowerError> {
    lower_graph_donating(g, &[])
}

/// [`lower_graph`] where the graph inputs flagged in `donated` may give their
/// memory to an output: each donated input is paired with the first unpaired
/// output of the same shape and dtype, and its argument carries
/// `tf.aliasing_output = N` (see [`Lowered::aliases`]). Donated inputs with no
/// such output are not aliased.
///
/// ```
/// use rjax::{backend::stablehlo::lower_graph_donating, make_graph, Array};
/// let g = make_graph(|x: &Array| x * 2.0)(&Array::zeros(&[2], rjax::DType::F32));
/// let m = lower_graph_donating(&g, &[true]).unwrap();
/// assert!(m.text.contains("tf.aliasing_output = 0 : i32"));
/// // one entry per argument of @main: the captured constant 2.0, then x
/// assert_eq!(m.aliases.last(), Some(&Some(0)));
/// ```
pub fn lower_graph_donating(g: &Graph, donated: &[bool]) -> Result<Lowered, LowerError> {
    lower_graph_partitioned(g, donated, None)
}

/// [`lower_graph_donating`], where with `host_calls` (programs of XLA's CPU
/// plugin with rjax's handlers registered) the operations rjax runs faster
/// than XLA become calls of its handlers ([`Lowering::host_calls`]).
pub(crate) fn lower_graph_with(g: &Graph, donated: &[bool], host_calls: bool) -> Result<Lowered, LowerError> {
    lower_module(g, donated, None, Lowering::with_host_calls(host_calls))
}

/// How a program is split over devices, for [`lower_graph_partitioned`]:
/// the number of partitions and the `mhlo.sharding` text of each graph
/// input and output (captured arrays are replicated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partitioning {
    /// How many devices the program runs on.
    pub num_partitions: usize,
    /// The sharding of each graph input (`{devices=[2,1]0,1}`, `{replicated}`).
    pub inputs: Vec<String>,
    /// The sharding of each graph output.
    pub outputs: Vec<String>,
}

/// [`lower_graph_donating`] for a program partitioned by XLA's SPMD
/// partitioner (`None`: one device): the module carries
/// `mhlo.num_partitions`, and every argument and result its `mhlo.sharding`.
///
/// ```
/// use rjax::backend::stablehlo::{lower_graph_partitioned, Partitioning};
/// use rjax::{make_graph, Array, DType};
/// let g = make_graph(|x: &Array| x * x)(&Array::zeros(&[4], DType::F32));
/// let p = Partitioning { num_partitions: 2, inputs: vec!["{devices=[2]0,1}".into()], outputs: vec!["{replicated}".into()] };
/// let m = lower_graph_partitioned(&g, &[], Some(&p)).unwrap();
/// assert!(m.text.contains("mhlo.num_partitions = 2 : i32"));
/// assert!(m.text.contains("%arg0: tensor<4xf32> {mhlo.sharding = \"{devices=[2]0,1}\"}"));
/// ```
pub fn lower_graph_partitioned(
    g: &Graph,
    donated: &[bool],
    partitioning: Option<&Partitioning>,
) -> Result<Lowered, LowerError> {
    lower_module(g, donated, partitioning, Lowering::new())
}

fn lower_module(
    g: &Graph,
    donated: &[bool],
    partitioning: Option<&Partitioning>,
    mut cx: Lowering,
) -> Result<Lowered, LowerError> {
    g.check().map_err(LowerError::new)?;
    if let Some(p) = partitioning
        && (p.inputs.len() != g.inputs.len() || p.outputs.len() != g.outputs.len())
    {
        return Err(LowerError::new(format!(
            "a graph of {} inputs and {} outputs given {} input and {} output shardings",
            g.inputs.len(),
            g.outputs.len(),
            p.inputs.len(),
            p.outputs.len()
        )));
    }
    let n_caps = g.captures.len();
    let mut aliases: Vec<Option<usize>> = vec![None; n_caps + g.inputs.len()];
    let mut taken = vec![false; g.outputs.len()];
    for (i, v) in g.inputs.iter().enumerate() {
        if !donated.get(i).copied().unwrap_or(false) {
            continue;
        }
        // A partitioned program aliases only buffers split alike (each device's part the same size).
        let same_split = |k: usize| partitioning.is_none_or(|p| p.inputs[i] == p.outputs[k]);
        if let Some(k) =
            (0..g.outputs.len()).find(|&k| !taken[k] && g.aval(g.outputs[k]) == g.aval(*v) && same_split(k))
        {
            taken[k] = true;
            aliases[n_caps + i] = Some(k);
        }
    }
    let params = g.captures.iter().map(|(v, _)| *v).chain(g.inputs.iter().copied());
    let mut decls = Vec::new();
    let mut args = Vec::new();
    for (i, v) in params.enumerate() {
        let aval = g.aval(v).clone();
        let name = format!("%arg{i}");
        let mut attrs = Vec::new();
        if let Some(k) = aliases[i] {
            attrs.push(format!("tf.aliasing_output = {k} : i32"));
        }
        if let Some(p) = partitioning {
            let sharding = if i < n_caps { "{replicated}" } else { p.inputs[i - n_caps].as_str() };
            attrs.push(format!("mhlo.sharding = {sharding:?}"));
        }
        match attrs.is_empty() {
            true => decls.push(format!("{name}: {}", tensor_type(&aval))),
            false => decls.push(format!("{name}: {} {{{}}}", tensor_type(&aval), attrs.join(", "))),
        }
        args.push(Value { name, aval });
    }
    let outs = lower_graph_into(&mut cx, g, &args)?;
    let arg_avals: Vec<Aval> = args.into_iter().map(|v| v.aval).collect();
    let names: Vec<&str> = outs.iter().map(|v| v.name.as_str()).collect();
    let out_types: Vec<String> = outs.iter().map(|v| tensor_type(&v.aval)).collect();
    cx.emit(format!("\"func.return\"({}) : ({}) -> ()", names.join(", "), out_types.join(", ")));
    let (module_attrs, result_decls) = match partitioning {
        None => (String::new(), out_types.clone()),
        Some(p) => (
            format!(" attributes {{mhlo.num_partitions = {} : i32, mhlo.num_replicas = 1 : i32}}", p.num_partitions),
            out_types.iter().zip(&p.outputs).map(|(t, s)| format!("{t} {{mhlo.sharding = {s:?}}}")).collect(),
        ),
    };
    let text = format!(
        "module @rjax{module_attrs} {{\n  func.func public @main({}) -> ({}) {{\n{}\n  }}\n}}\n",
        decls.join(", "),
        result_decls.join(", "),
        cx.lines.join("\n")
    );
    Ok(Lowered {
        text,
        captures: g.captures.iter().map(|(_, a)| a.clone()).collect(),
        arg_avals,
        out_avals: outs.into_iter().map(|v| v.aval).collect(),
        aliases,
    })
}
