//! How the built-in CPU backend runs a graph: a [`CpuPlan`] groups chains of
//! elementwise equations of the same size into fused kernels (one pass over
//! memory each, see [`kernel`]) and runs the other equations one by one, as
//! [`eval_graph`](crate::core::eval_graph) does.
//!
//! Grouping, in equation order: an elementwise equation joins a group that
//! produced one of its operands (merging the groups of all of them) if that
//! group is still *open*, that is, nothing outside it has read its values yet;
//! otherwise it starts a new group. Reading a group's value from outside
//! closes the group. A group runs where its last equation stood, which is
//! sound because everything its equations read is defined before them and
//! nothing outside read its values before it closed. Each element is computed
//! by the same expression as unfused, so the results are bit-identical.

mod kernel;

use crate::core::{Array, Eqn, Graph, HostData, Op, Var, VarMap, apply_eqn, initial_env, read, reserve};
use kernel::{FusedOp, Kernel, KernelInput, Src};
use std::collections::HashMap;

/// Groups smaller than this many elements are not fused.
const MIN_FUSED_LEN: usize = 256;

/// One step of a plan.
#[derive(Debug)]
enum Step {
    /// Equation `i` of the graph, applied alone.
    Eqn(usize),
    /// A fused group of equations.
    Fused(Kernel),
}

/// A graph with its elementwise chains fused, ready to run on the built-in
/// CPU: `CpuPlan::new(&graph)` once, then `plan.run(&graph, &args)` per call
/// (what `jit` on the built-in CPU and `scan` bodies do).
#[derive(Debug)]
pub(crate) struct CpuPlan {
    steps: Vec<Step>,
    /// Per step: the variables no later step reads, freed after it.
    frees: Vec<Vec<Var>>,
}

/// A group being formed.
struct Group {
    members: Vec<usize>,
    n: usize,
    open: bool,
    /// Merged into another group.
    merged_into: Option<usize>,
}

fn resolve(groups: &[Group], mut g: usize) -> usize {
    while let Some(h) = groups[g].merged_into {
        g = h;
    }
    g
}

impl CpuPlan {
    /// Plans `g`.
    pub(crate) fn new(g: &Graph) -> CpuPlan {
        let mut producer: VarMap<Option<usize>> = VarMap::new(g, None);
        for (i, e) in g.eqns.iter().enumerate() {
            for v in &e.outs {
                producer[v] = Some(i);
            }
        }
        let mut groups: Vec<Group> = Vec::new();
        let mut group_of: Vec<Option<usize>> = vec![None; g.eqns.len()];
        for (i, e) in g.eqns.iter().enumerate() {
            let input_groups: Vec<usize> = {
                let mut v: Vec<usize> = e
                    .inputs
                    .iter()
                    .filter_map(|x| producer[x].and_then(|p| group_of[p]))
                    .map(|k| resolve(&groups, k))
                    .collect();
                v.sort_unstable();
                v.dedup();
                v
            };
            let Some(n) = fusible(g, e) else {
                for k in input_groups {
                    groups[k].open = false;
                }
                continue;
            };
            let (join, close): (Vec<usize>, Vec<usize>) =
                input_groups.into_iter().partition(|&k| groups[k].open && groups[k].n == n);
            for k in close {
                groups[k].open = false;
            }
            let target = match join.first() {
                Some(&t) => {
                    for &k in &join[1..] {
                        let members = std::mem::take(&mut groups[k].members);
                        groups[t].members.extend(members);
                        groups[k].merged_into = Some(t);
                    }
                    t
                }
                None => {
                    groups.push(Group { members: Vec::new(), n, open: true, merged_into: None });
                    groups.len() - 1
                }
            };
            groups[target].members.push(i);
            group_of[i] = Some(target);
        }
        for k in group_of.iter_mut() {
            *k = k.map(|k| resolve(&groups, k));
        }
        // the values read outside the group that made them, or returned
        let mut read_outside: VarMap<bool> = VarMap::new(g, false);
        for (i, e) in g.eqns.iter().enumerate() {
            for v in &e.inputs {
                if producer[v].map(|p| group_of[p]) != Some(group_of[i]) {
                    read_outside[v] = true;
                }
            }
        }
        for v in &g.outputs {
            read_outside[v] = true;
        }
        // every group of two or more equations becomes a kernel at its last one
        let mut at: HashMap<usize, usize> = HashMap::new();
        for (k, grp) in groups.iter_mut().enumerate() {
            grp.members.sort_unstable();
            if grp.merged_into.is_none() && grp.members.len() >= 2 {
                at.insert(*grp.members.last().unwrap_or_else(|| unreachable!("two members")), k);
            }
        }
        let mut steps = Vec::new();
        for (i, grp) in group_of.iter().enumerate() {
            match *grp {
                Some(k) if groups[k].members.len() >= 2 => {
                    if let Some(&k) = at.get(&i) {
                        steps.push(Step::Fused(kernel_of(g, &groups[k].members, &read_outside)));
                    }
                }
                _ => steps.push(Step::Eqn(i)),
            }
        }
        let frees = frees(g, &steps);
        CpuPlan { steps, frees }
    }

    /// Runs the plan of `g` on concrete host arguments (one per graph input).
    /// Arguments and values read for the last time by a fused kernel lend
    /// their buffers to its outputs when nothing else holds them.
    pub(crate) fn run(&self, g: &Graph, args: Vec<Array>) -> Vec<Array> {
        // on the backend's threads: subnormals flushed to zero, as XLA does
        crate::core::float_env::on_backend_threads(|| self.run_here(g, args))
    }

    fn run_here(&self, g: &Graph, args: Vec<Array>) -> Vec<Array> {
        assert_eq!(args.len(), g.inputs.len(), "CpuPlan::run: wrong number of arguments");
        let mut env = initial_env(g, args);
        for (step, free) in self.steps.iter().zip(&self.frees) {
            match step {
                Step::Eqn(i) => apply_eqn(&mut env, &g.eqns[*i]),
                Step::Fused(k) => {
                    for op in &k.ops {
                        if let Some((_, aval)) = &op.out {
                            reserve("fused elementwise", aval);
                        }
                    }
                    // the inputs read for the last time, if this is their only holder
                    let mut owned: Vec<Option<HostData>> = k
                        .inputs
                        .iter()
                        .map(|(v, splat)| {
                            if *splat || !free.contains(v) {
                                return None;
                            }
                            let a = env[v].take()?;
                            match a.try_into_host() {
                                Ok(h) => Some(h),
                                Err(a) => {
                                    env[v] = Some(a);
                                    None
                                }
                            }
                        })
                        .collect();
                    let ins: Vec<KernelInput<'_>> = k
                        .inputs
                        .iter()
                        .zip(owned.iter_mut())
                        .map(|((v, _), o)| match o.take() {
                            Some(h) => KernelInput::Owned(h),
                            None => KernelInput::Borrowed(read(&env, *v).host("fused elementwise")),
                        })
                        .collect();
                    let outs = k.run(ins);
                    for (v, h) in outs {
                        env[v] = Some(Array::from_host(h));
                    }
                }
            }
            for v in free {
                env[v] = None;
            }
        }
        g.outputs.iter().map(|v| read(&env, *v).clone()).collect()
    }
}

/// The number of elements of `e`'s result if it can join a fused group.
fn fusible(g: &Graph, e: &Eqn) -> Option<usize> {
    let n = g.aval(*e.outs.first()?).size();
    (n >= MIN_FUSED_LEN && g.is_elementwise(e)).then_some(n)
}

/// The kernel of a group (its members in graph order), writing out the values
/// flagged in `read_outside`.
fn kernel_of(g: &Graph, members: &[usize], read_outside: &VarMap<bool>) -> Kernel {
    let n = g.aval(g.eqns[members[0]].outs[0]).size();
    let mut slot: HashMap<Var, usize> = HashMap::new();
    let mut input_slot: HashMap<Var, usize> = HashMap::new();
    let mut inputs: Vec<(Var, bool)> = Vec::new();
    let mut ops: Vec<FusedOp> = Vec::new();
    for &i in members {
        let e = &g.eqns[i];
        let Op::One(prim) = &e.op else { unreachable!("fused equations have one result") };
        let args: Vec<Src> = e
            .inputs
            .iter()
            .map(|v| match slot.get(v) {
                Some(&s) => Src::Op(s),
                None => Src::Input(*input_slot.entry(*v).or_insert_with(|| {
                    inputs.push((*v, g.aval(*v).size() == 1));
                    inputs.len() - 1
                })),
            })
            .collect();
        let splat = args.iter().all(|s| match *s {
            Src::Input(j) => inputs[j].1,
            Src::Op(j) => ops[j].splat,
        });
        let v = e.outs[0];
        let out = read_outside[v].then(|| (v, g.aval(v).clone()));
        ops.push(FusedOp { prim: prim.clone(), args, dtype: g.aval(v).dtype, splat, out });
        slot.insert(v, ops.len() - 1);
    }
    Kernel { n, inputs, ops }
}

/// For each step, the variables read for the last time there (not outputs).
fn frees(g: &Graph, steps: &[Step]) -> Vec<Vec<Var>> {
    let mut last: HashMap<Var, usize> = HashMap::new();
    for (s, step) in steps.iter().enumerate() {
        match step {
            Step::Eqn(i) => g.eqns[*i].inputs.iter().for_each(|v| {
                last.insert(*v, s);
            }),
            Step::Fused(k) => k.inputs.iter().for_each(|(v, _)| {
                last.insert(*v, s);
            }),
        }
    }
    for v in &g.outputs {
        last.remove(v);
    }
    let mut out = vec![Vec::new(); steps.len()];
    for (v, s) in last {
        out[s].push(v);
    }
    out
}

#[cfg(test)]
mod tests {
    //! Written with the primitives (the numpy layer sits above this module).
    use super::{CpuPlan, Step};
    use crate::core::{Array, Aval, DType, trace_graph};
    use crate::primitives::binary::{add, div, mul, sub};
    use crate::primitives::reduce::reduce_sum;
    use crate::primitives::structure::broadcast_in_dim;
    use crate::primitives::unary::{exp, sqrt, tanh};

    /// `v` broadcast to `like`'s shape and dtype.
    fn splat(v: f64, like: &Array) -> Array {
        let s = crate::primitives::unary::convert_element_type(&Array::scalar(v), like.dtype());
        broadcast_in_dim(&s, like.shape(), &[])
    }

    fn fused(plan: &CpuPlan) -> Vec<&super::Kernel> {
        plan.steps
            .iter()
            .filter_map(|s| match s {
                Step::Fused(k) => Some(k),
                Step::Eqn(_) => None,
            })
            .collect()
    }

    #[test]
    fn adams_update_is_one_kernel_writing_only_the_new_state() {
        let a = Aval::new(&[64, 32], DType::F32);
        let g = trace_graph(&[a.clone(), a.clone(), a.clone(), a], |x| {
            let (p, m, v, g) = (&x[0], &x[1], &x[2], &x[3]);
            let c = |v: f64| splat(v, p);
            let m = add(&mul(m, &c(0.9)), &mul(g, &c(0.1)));
            let v = add(&mul(v, &c(0.999)), &mul(&mul(g, g), &c(0.001)));
            let p = sub(p, &mul(&div(&m, &add(&sqrt(&v), &c(1e-8))), &c(1e-3)));
            vec![p, m, v]
        });
        let plan = CpuPlan::new(&g);
        let kernels = fused(&plan);
        assert_eq!(kernels.len(), 1, "{:?}", plan.steps);
        // the scalars' conversions run alone (one element each), then the kernel
        assert!(plan.steps.iter().all(|s| match s {
            Step::Eqn(i) => g.aval(g.eqns[*i].outs[0]).size() == 1,
            Step::Fused(_) => true,
        }));
        let k = kernels[0];
        assert_eq!(k.ops.iter().filter(|o| o.out.is_some()).count(), 3);
        assert_eq!(
            k.inputs.iter().filter(|(_, splat)| !splat).count(),
            4,
            "p, m, v and g are read; scalars are splats"
        );
        assert_eq!(k.ops.iter().filter(|o| o.splat).count(), 6, "every broadcast scalar is a splat");
        // scratch blocks are reused once their values are read for the last time
        let out_of: Vec<Option<usize>> = k.ops.iter().map(|o| (o.out.is_some() && !o.splat).then_some(0)).collect();
        let super::kernel::Scratch { slot_of, types, copies } = k.scratch_slots(&out_of);
        let computed = k.ops.iter().filter(|o| !o.splat).count();
        assert!(types.len() < computed, "{} blocks for {computed} operations", types.len());
        assert_eq!(copies.len(), 3, "p, m and v are written out");
        let written: std::collections::HashSet<usize> = copies.iter().map(|c| c.0).collect();
        assert_eq!(written.len(), 3, "each written value keeps its own block: {slot_of:?}");
    }

    #[test]
    fn a_value_read_by_a_reduction_closes_its_group_and_is_written_out() {
        let f = |x: &Array| {
            let y = mul(&exp(x), &splat(2.0, x));
            let s = reduce_sum(&y, &[0]);
            // `y` was read outside its group: what follows is a new group
            vec![add(&tanh(&y), &broadcast_in_dim(&s, y.shape(), &[]))]
        };
        let g = trace_graph(&[Aval::new(&[1000], DType::F64)], |x| f(&x[0]));
        let plan = CpuPlan::new(&g);
        let kernels = fused(&plan);
        assert_eq!(kernels.len(), 2, "{:?}", plan.steps);
        assert_eq!(kernels[0].ops.iter().filter(|o| o.out.is_some()).count(), 1, "y is written once");
        let x = Array::arange(0.0, 1.0, 0.001, DType::F64);
        let got = plan.run(&g, vec![x.clone()]);
        assert_eq!(got[0].to_vec::<f64>(), f(&x)[0].to_vec::<f64>());
    }

    #[test]
    fn small_values_are_not_fused() {
        let g = trace_graph(&[Aval::new(&[8], DType::F32)], |x| vec![add(&mul(&exp(&x[0]), &x[0]), &x[0])]);
        assert!(fused(&CpuPlan::new(&g)).is_empty());
    }
}
