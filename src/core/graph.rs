//! The IR: a typed SSA graph of primitive applications (JAX calls it a jaxpr).

use super::array::Array;
use super::aval::Aval;
use super::op::Op;
use std::fmt;

/// A variable of a [`Graph`]: an index into its table of avals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Var(pub u32);

/// One equation: `outs... = op[params](inputs...)`.
#[derive(Clone, Debug)]
pub struct Eqn {
    /// The primitive applied, with its parameters.
    pub op: Op,
    /// The variables it reads.
    pub inputs: Vec<Var>,
    /// The variables it defines (one for a one-result primitive).
    pub outs: Vec<Var>,
}

/// A staged function: inputs, captured values, equations in order, outputs.
///
/// Captured values are the arrays the function closed over: concrete arrays
/// (constants) or tracers of an enclosing transformation. [`make_graph`](crate::make_graph)
/// returns one; its `Display` looks like a jaxpr.
///
/// ```
/// use rjax::{make_graph, numpy as jnp, Array};
/// let g = make_graph(|x: &Array| jnp::sin(x) * 2.0)(&Array::scalar(1.0f32));
/// let text = g.to_string();
/// assert!(text.contains("sin") && text.contains("mul"));
/// assert_eq!(g.outputs.len(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct Graph {
    /// The aval of every variable, indexed by `Var`.
    pub avals: Vec<Aval>,
    /// Variables bound to the function's arguments, in order.
    pub inputs: Vec<Var>,
    /// Variables bound to closed-over arrays.
    pub captures: Vec<(Var, Array)>,
    /// The equations, in an order where every input is defined first.
    pub eqns: Vec<Eqn>,
    /// The variables returned.
    pub outputs: Vec<Var>,
}

impl Graph {
    /// The aval of a variable.
    pub fn aval(&self, v: Var) -> &Aval {
        &self.avals[v.0 as usize]
    }

    /// True when `e` (an equation of this graph) is elementwise: one result,
    /// every operand of the result's size or of one element, and its
    /// primitive elementwise on those operands ([`Primitive::elementwise`]).
    /// What the built-in backend fuses, and what the StableHLO lowering may
    /// recompute for a reader (`backend/stablehlo/remat.rs`).
    ///
    /// [`Primitive::elementwise`]: super::Primitive::elementwise
    pub(crate) fn is_elementwise(&self, e: &Eqn) -> bool {
        let Op::One(p) = &e.op else { return false };
        let n = self.aval(e.outs[0]).size();
        let ins: Vec<Aval> = e.inputs.iter().map(|v| self.aval(*v).clone()).collect();
        ins.iter().all(|a| a.size() == n || a.size() == 1) && p.elementwise(&ins)
    }

    /// The graph with its captured arrays moved to the front of its inputs,
    /// and those arrays (which callers pass as leading operands): how a
    /// primitive holding a sub-graph (a loop body, a `shard_map` body) takes
    /// what its function closed over.
    pub(crate) fn closed(mut self) -> (Graph, Vec<super::Array>) {
        let caps = std::mem::take(&mut self.captures);
        let mut inputs: Vec<Var> = caps.iter().map(|(v, _)| *v).collect();
        inputs.append(&mut self.inputs);
        self.inputs = inputs;
        (self, caps.into_iter().map(|(_, a)| a).collect())
    }

    /// Checks that every variable is defined once before use and that every
    /// equation's recorded output aval is what its primitive's shape rule gives.
    ///
    /// ```
    /// use rjax::{make_graph, numpy as jnp, Array};
    /// let g = make_graph(|x: &Array| jnp::exp(x).sum())(&Array::zeros(&[3], rjax::DType::F32));
    /// assert!(g.check().is_ok());
    /// ```
    pub fn check(&self) -> Result<(), String> {
        let n = self.avals.len();
        let mut defined = vec![false; n];
        let known = |v: Var| -> Result<usize, String> {
            let i = v.0 as usize;
            if i < n { Ok(i) } else { Err(format!("variable {i} has no aval")) }
        };
        let define = |defined: &mut Vec<bool>, v: Var| -> Result<(), String> {
            let i = known(v)?;
            if std::mem::replace(&mut defined[i], true) {
                return Err(format!("{} is defined twice", name(v)));
            }
            Ok(())
        };
        for &v in &self.inputs {
            define(&mut defined, v)?;
        }
        for (v, a) in &self.captures {
            define(&mut defined, *v)?;
            if a.aval() != *self.aval(*v) {
                return Err(format!("capture {} holds {}", name(*v), a.aval()));
            }
        }
        for e in &self.eqns {
            let mut ins = Vec::with_capacity(e.inputs.len());
            for &v in &e.inputs {
                if !defined[known(v)?] {
                    return Err(format!("{} reads {} before it is defined", e.op.name(), name(v)));
                }
                ins.push(self.aval(v).clone());
            }
            let got = e.op.abstract_eval(&ins).map_err(|m| format!("{}: {m}", e.op.name()))?;
            if got.len() != e.outs.len() {
                return Err(format!(
                    "{} defines {} variables but has {} results",
                    e.op.name(),
                    e.outs.len(),
                    got.len()
                ));
            }
            for (&o, g) in e.outs.iter().zip(&got) {
                define(&mut defined, o)?;
                if g != self.aval(o) {
                    return Err(format!("{} records {} but its rule gives {g}", e.op.name(), self.aval(o)));
                }
            }
        }
        for &v in &self.outputs {
            if !defined[known(v)?] {
                return Err(format!("output {} is never defined", name(v)));
            }
        }
        Ok(())
    }
}

/// Names variables a, b, ..., z, ba, bb, ... as jaxprs do.
fn name(v: Var) -> String {
    let mut n = v.0 as usize;
    let mut s = Vec::new();
    loop {
        s.push(b'a' + (n % 26) as u8);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

impl fmt::Display for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let decl = |v: &Var| format!("{}:{}", name(*v), self.aval(*v));
        let caps: Vec<String> = self.captures.iter().map(|(v, _)| decl(v)).collect();
        let ins: Vec<String> = self.inputs.iter().map(decl).collect();
        writeln!(f, "{{ lambda {}; {}. let", caps.join(" "), ins.join(" "))?;
        for e in &self.eqns {
            let params = e.op.params();
            let args: Vec<String> = e.inputs.iter().map(|v| name(*v)).collect();
            let outs: Vec<String> = e.outs.iter().map(decl).collect();
            let p = if params.is_empty() { String::new() } else { format!("[{params}]") };
            writeln!(f, "    {} = {}{} {}", outs.join(" "), e.op.name(), p, args.join(" "))?;
        }
        let outs: Vec<String> = self.outputs.iter().map(|v| name(*v)).collect();
        write!(f, "  in ({}) }}", outs.join(", "))
    }
}

/// One value per variable of a graph, indexed by [`Var`]: what the graph
/// walkers (evaluation, jvp, the vjp tape, vmap, lowering) keep as they go.
#[derive(Clone, Debug)]
pub(crate) struct VarMap<T>(Vec<T>);

impl<T: Clone> VarMap<T> {
    /// `fill` for every variable of `g`.
    pub(crate) fn new(g: &Graph, fill: T) -> VarMap<T> {
        VarMap(vec![fill; g.avals.len()])
    }
}

impl<T> std::ops::Index<Var> for VarMap<T> {
    type Output = T;
    fn index(&self, v: Var) -> &T {
        &self.0[v.0 as usize]
    }
}

impl<T> std::ops::IndexMut<Var> for VarMap<T> {
    fn index_mut(&mut self, v: Var) -> &mut T {
        &mut self.0[v.0 as usize]
    }
}

impl<T> std::ops::Index<&Var> for VarMap<T> {
    type Output = T;
    fn index(&self, v: &Var) -> &T {
        &self.0[v.0 as usize]
    }
}

impl<T> std::ops::IndexMut<&Var> for VarMap<T> {
    fn index_mut(&mut self, v: &Var) -> &mut T {
        &mut self.0[v.0 as usize]
    }
}
