//! `jit` over a mesh: which sharding each input and output leaf gets (from
//! [`Jit::in_shardings`] / [`Jit::out_shardings`], or from the inputs, as in
//! JAX), and the partitioned program for them.

use super::{Entry, Jit};
use crate::core::Array;
use crate::device::sharding::{Cache, Mesh, NamedSharding, ShardedProgram, Sharding, lower_sharded, sharded_array};
use crate::device::{Error, Program, lock};
use crate::transforms::spread_over_leaves;
use crate::tree::{Tree, TreeDef};
use std::hash::Hash;
use std::sync::Arc;

/// The mesh a call runs on and the sharding of each input and output leaf.
pub(super) struct Plan {
    mesh: Mesh,
    ins: Vec<NamedSharding>,
    outs: Vec<NamedSharding>,
}

impl<T: Tree, Y: Tree, S: Hash + Eq + Clone> Jit<T, Y, S> {
    /// Runs the function partitioned over a mesh, its input split as
    /// `shardings` say: one per top-level part of the input (tuple element
    /// or struct field; all leaves of a part share it), as JAX's
    /// `in_shardings`. [`Sharding::Replicated`] copies a part to every
    /// device of the mesh. The program is lowered with `mhlo.sharding`
    /// attributes and partitioned by XLA (SPMD), which inserts the
    /// communication; one program runs on every device of the mesh. Inputs
    /// already split the same way are used where they are; host arrays are
    /// split on the way in; an input split another way is an error.
    ///
    /// Without `in_shardings`, sharded inputs keep their sharding and the
    /// others are replicated.
    ///
    /// ```no_run
    /// use rjax::sharding::{Mesh, NamedSharding, Sharding};
    /// use rjax::{jit, Array, DType, P};
    /// rjax::set_xla_cpu_device_count(4)?; // before the first use of xla-cpu
    /// let mesh = Mesh::on("xla-cpu", &[("data", 4)])?;
    /// let rows = NamedSharding::new(&mesh, P!["data", None]);
    /// let f = jit(|(w, x): &(Array, Array)| x.matmul(w))
    ///     .in_shardings(vec![Sharding::Replicated, rows.clone().into()])
    ///     .out_shardings(vec![rows.into()]);
    /// let y = f.call(&(Array::ones(&[3, 2], DType::F32), Array::ones(&[8, 3], DType::F32)));
    /// assert_eq!(y.addressable_shards()?[0].data.shape(), &[2, 2]);
    /// # Ok::<(), rjax::Error>(())
    /// ```
    pub fn in_shardings(mut self, shardings: Vec<Sharding>) -> Self {
        self.in_shardings = Some(shardings);
        self
    }

    /// The sharding of each top-level part of the output (as
    /// [`Jit::in_shardings`]). Without it every output is replicated over
    /// the mesh (JAX lets XLA choose; rjax asks for a copy on every device,
    /// so results read back without gathering).
    ///
    /// ```no_run
    /// use rjax::sharding::{Mesh, NamedSharding};
    /// use rjax::{jit, Array, DType, P};
    /// let mesh = Mesh::on("xla-cpu", &[("data", 2)])?;
    /// let f = jit(|x: &Array| x * 2.0).out_shardings(vec![NamedSharding::new(&mesh, P!["data"]).into()]);
    /// assert_eq!(f.call(&Array::ones(&[4], DType::F32)).addressable_shards()?.len(), 2);
    /// # Ok::<(), rjax::Error>(())
    /// ```
    pub fn out_shardings(mut self, shardings: Vec<Sharding>) -> Self {
        self.out_shardings = Some(shardings);
        self
    }

    /// The mesh and leaf shardings of a call, or `None` when it runs on one
    /// device (no sharding given and no input sharded).
    pub(super) fn sharding_plan(&self, entry: &Entry<Y>, x: &T, xs: &[Array]) -> Result<Option<Plan>, Error> {
        let given_in = self.in_shardings.as_deref();
        let given_out = self.out_shardings.as_deref();
        let any_sharded = xs.iter().any(|l| sharded_array(l).is_some());
        let uses_mesh = !entry.meshes.is_empty();
        if given_in.is_none() && given_out.is_none() && !uses_mesh && (!any_sharded || self.device.is_some()) {
            return Ok(None);
        }
        if let Some(d) = &self.device {
            let why = if uses_mesh && given_in.is_none() && given_out.is_none() {
                "the function runs over a mesh (shard_map or a sharding constraint)"
            } else {
                "shardings were given"
            };
            return Err(Error::Sharding(format!("jit: .on({d}) runs on one device but {why}; drop one of them")));
        }
        let mesh = given_in
            .into_iter()
            .flatten()
            .chain(given_out.into_iter().flatten())
            .find_map(|s| match s {
                Sharding::Named(n) => Some(n.mesh().clone()),
                _ => None,
            })
            .or_else(|| entry.meshes.first().cloned())
            .or_else(|| xs.iter().find_map(|l| sharded_array(l).map(|s| s.sharding.mesh().clone())));
        let Some(mesh) = mesh else {
            return Err(Error::Sharding(
                "jit: the shardings name no mesh (only Sharding::Replicated); give a NamedSharding for at least one \
                 part, or pass arrays split over a mesh"
                    .into(),
            ));
        };
        if let Some(other) = entry.meshes.iter().find(|m| **m != mesh) {
            return Err(Error::Sharding(format!(
                "jit: the function uses the meshes {other} and {mesh} (in shard_map or sharding constraints, or \
                 the shardings given); one program runs over one mesh"
            )));
        }
        let replicated = NamedSharding::replicated(&mesh);
        let mut ins: Vec<Option<NamedSharding>> = match given_in {
            Some(given) => expand(given, &x.def(), &mesh, "in_shardings", "input")?.into_iter().map(Some).collect(),
            None => vec![None; xs.len()],
        };
        for (i, (leaf, want)) in xs.iter().zip(ins.iter_mut()).enumerate() {
            let Some(have) = sharded_array(leaf) else {
                want.get_or_insert_with(|| replicated.clone());
                continue;
            };
            match want {
                None if *have.sharding.mesh() != mesh => {
                    return Err(Error::Sharding(format!(
                        "jit: input leaf {i} is split over {} but the call runs over {mesh}; put the inputs on one \
                         mesh with device_put",
                        have.sharding.mesh()
                    )));
                }
                None => *want = Some(have.sharding.clone()),
                Some(w) => {
                    let layout = w.layout(&format!("jit: in_shardings (input leaf {i})"), leaf.shape())?;
                    if !have.is_laid_out_as(w, &layout) {
                        return Err(Error::Sharding(format!(
                            "jit: input leaf {i} ({}) is split as {} but in_shardings asks for {w}; device_put it \
                             with that sharding first",
                            leaf.aval(),
                            have.sharding
                        )));
                    }
                }
            }
        }
        let ins = ins.into_iter().map(|s| s.unwrap_or_else(|| replicated.clone())).collect();
        let out_def = entry.template.def();
        let outs = match given_out {
            Some(given) => expand(given, &out_def, &mesh, "out_shardings", "output")?,
            None => vec![replicated; out_def.num_leaves()],
        };
        Ok(Some(Plan { mesh, ins, outs }))
    }

    /// The program of `entry` partitioned as `plan` says, compiled on first use.
    pub(super) fn sharded_program(&self, entry: &Entry<Y>, plan: &Plan, x: &T) -> Result<Arc<Program>, Error> {
        let specs: Vec<String> = plan.ins.iter().chain(&plan.outs).map(|s| s.spec().to_string()).collect();
        let key = format!("{} {}", plan.mesh.key(), specs.join(" "));
        if let Some(p) = lock(&entry.programs).get(&key) {
            return Ok(p.clone());
        }
        let donate = self.donated_leaves(&x.def());
        let (program, fresh) =
            ShardedProgram::compile("jit", &entry.graph, &plan.mesh, &plan.ins, &plan.outs, &donate, Cache::Held)?;
        if fresh {
            lock(&self.state).compiles += 1;
        }
        Ok(lock(&entry.programs).entry(key).or_insert_with(|| Arc::new(Program::Sharded(program))).clone())
    }

    /// The module text of `entry` partitioned as `plan` says.
    pub(super) fn lower_sharded(&self, entry: &Entry<Y>, plan: &Plan, x: &T) -> Result<String, Error> {
        let donate = self.donated_leaves(&x.def());
        lower_sharded("jit", &entry.graph, &plan.mesh, &plan.ins, &plan.outs, &donate)
    }
}

/// One sharding per leaf from one per top-level part of `def`.
fn expand(given: &[Sharding], def: &TreeDef, mesh: &Mesh, what: &str, side: &str) -> Result<Vec<NamedSharding>, Error> {
    let mut named = Vec::with_capacity(given.len());
    for (p, s) in given.iter().enumerate() {
        named.push(match s {
            Sharding::Named(n) if n.mesh() == mesh => n.clone(),
            Sharding::Named(n) => {
                return Err(Error::Sharding(format!(
                    "jit: {what}[{p}] is over {} but another sharding is over {mesh}; use one mesh",
                    n.mesh()
                )));
            }
            Sharding::Replicated => NamedSharding::replicated(mesh),
            Sharding::SingleDevice(d) => {
                return Err(Error::Sharding(format!(
                    "jit: {what}[{p}] is SingleDevice({d}), which is not a mesh sharding; use Jit::on({d}) to run on \
                     one device, or NamedSharding::replicated(&mesh)"
                )));
            }
        });
    }
    spread_over_leaves(&named, def).map_err(|parts| {
        Error::Sharding(format!(
            "jit: {what} has {} entries but the {side} has {parts} top-level parts (tuple elements or struct \
             fields); give one sharding per part",
            given.len()
        ))
    })
}
