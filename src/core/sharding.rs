//! How an array is laid out over a mesh of devices, as plain data: the
//! mesh's named axes ([`MeshAxes`]), a [`PartitionSpec`] naming the mesh
//! axes each array dimension is split over, and what follows from the two
//! ([`Layout`]): XLA's `mhlo.sharding` text, which slice of the array each
//! device holds, and the checks (unknown axis, axis used twice, dimension not
//! divisible). The devices themselves are `rjax::sharding::Mesh`'s.
//!
//! Devices of a mesh are numbered row-major over its axes: in a mesh
//! `[("data", 2), ("model", 2)]`, device 1 is `data = 0, model = 1`.
//!
//! ```
//! use rjax::core::sharding::{Layout, MeshAxes};
//! use rjax::P;
//! let axes = MeshAxes::new(&[("data", 2), ("model", 2)]).unwrap();
//! let l = Layout::new(axes, P!["data", None], &[8, 3]).unwrap();
//! assert_eq!(l.hlo(), "{devices=[2,1,2]0,1,2,3 last_tile_dim_replicate}");
//! assert_eq!(l.shard_shape(), vec![4, 3]);
//! assert_eq!(l.slice_of(3), vec![4..8, 0..3]); // data = 1, model = 1
//! ```

use std::fmt;
use std::ops::Range;

/// The named axes of a device mesh and their sizes, in order (the first is
/// the slowest-varying over the mesh's devices).
///
/// ```
/// let axes = rjax::core::sharding::MeshAxes::new(&[("data", 4)]).unwrap();
/// assert_eq!(axes.size(), 4);
/// assert_eq!(axes.to_string(), "{data: 4}");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MeshAxes {
    axes: Vec<(String, usize)>,
}

impl MeshAxes {
    /// The axes, or why they are invalid (an empty name, a size of 0, a
    /// name used twice).
    ///
    /// ```
    /// use rjax::core::sharding::MeshAxes;
    /// assert!(MeshAxes::new(&[("data", 2), ("data", 2)]).is_err());
    /// ```
    pub fn new(axes: &[(&str, usize)]) -> Result<MeshAxes, String> {
        for (i, (name, size)) in axes.iter().enumerate() {
            if name.is_empty() {
                return Err(format!("mesh axis {i} has an empty name"));
            }
            if *size == 0 {
                return Err(format!("mesh axis {name:?} has size 0"));
            }
            if axes[..i].iter().any(|(n, _)| n == name) {
                return Err(format!("mesh axis {name:?} is named twice"));
            }
        }
        Ok(MeshAxes { axes: axes.iter().map(|(n, s)| (n.to_string(), *s)).collect() })
    }

    /// The axes' names and sizes, in order.
    ///
    /// ```
    /// let axes = rjax::core::sharding::MeshAxes::new(&[("x", 2)]).unwrap();
    /// assert_eq!(axes.axes(), &[("x".to_string(), 2)]);
    /// ```
    pub fn axes(&self) -> &[(String, usize)] {
        &self.axes
    }

    /// How many devices the mesh has (the product of the axis sizes).
    ///
    /// ```
    /// let axes = rjax::core::sharding::MeshAxes::new(&[("a", 2), ("b", 3)]).unwrap();
    /// assert_eq!(axes.size(), 6);
    /// ```
    pub fn size(&self) -> usize {
        self.axes.iter().map(|(_, s)| s).product()
    }

    /// The position of the axis `name`, if the mesh has it.
    ///
    /// ```
    /// let axes = rjax::core::sharding::MeshAxes::new(&[("a", 2), ("b", 3)]).unwrap();
    /// assert_eq!(axes.position("b"), Some(1));
    /// ```
    pub fn position(&self, name: &str) -> Option<usize> {
        self.axes.iter().position(|(n, _)| n == name)
    }

    /// The size of the axis `name`, if the mesh has it.
    ///
    /// ```
    /// let axes = rjax::core::sharding::MeshAxes::new(&[("a", 2)]).unwrap();
    /// assert_eq!(axes.axis_size("a"), Some(2));
    /// ```
    pub fn axis_size(&self, name: &str) -> Option<usize> {
        self.position(name).map(|i| self.axes[i].1)
    }

    /// The coordinates of device `index` (row-major) along each axis.
    ///
    /// ```
    /// let axes = rjax::core::sharding::MeshAxes::new(&[("a", 2), ("b", 3)]).unwrap();
    /// assert_eq!(axes.coords(4), vec![1, 1]);
    /// ```
    pub fn coords(&self, mut index: usize) -> Vec<usize> {
        let mut c = vec![0; self.axes.len()];
        for (i, (_, size)) in self.axes.iter().enumerate().rev() {
            c[i] = index % size;
            index /= size;
        }
        c
    }

    /// The device index (row-major) at coordinates `coords`.
    ///
    /// ```
    /// let axes = rjax::core::sharding::MeshAxes::new(&[("a", 2), ("b", 3)]).unwrap();
    /// assert_eq!(axes.index(&[1, 1]), 4);
    /// ```
    pub fn index(&self, coords: &[usize]) -> usize {
        coords.iter().zip(&self.axes).fold(0, |acc, (c, (_, size))| acc * size + c)
    }

    /// The groups of devices that differ only along the axes `names` (each
    /// group ordered by its position along those axes, first axis slowest):
    /// the devices a collective over those axes combines.
    ///
    /// ```
    /// let axes = rjax::core::sharding::MeshAxes::new(&[("a", 2), ("b", 2)]).unwrap();
    /// assert_eq!(axes.groups(&["a"]), vec![vec![0, 2], vec![1, 3]]);
    /// assert_eq!(axes.groups(&["a", "b"]), vec![vec![0, 1, 2, 3]]);
    /// ```
    pub fn groups(&self, names: &[&str]) -> Vec<Vec<usize>> {
        let along: Vec<usize> = names.iter().filter_map(|n| self.position(n)).collect();
        // Devices with equal coordinates off those axes form a group.
        let mut keys: Vec<Vec<usize>> = Vec::new();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for d in 0..self.size() {
            let c = self.coords(d);
            let rest: Vec<usize> = (0..c.len()).filter(|i| !along.contains(i)).map(|i| c[i]).collect();
            match keys.iter().position(|k| *k == rest) {
                Some(g) => groups[g].push(d),
                None => {
                    keys.push(rest);
                    groups.push(vec![d]);
                }
            }
        }
        // Within a group, by position along the axes (the first slowest).
        for g in &mut groups {
            g.sort_by_key(|&d| {
                let c = self.coords(d);
                along.iter().map(|&i| c[i]).collect::<Vec<usize>>()
            });
        }
        groups
    }
}

impl fmt::Display for MeshAxes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.axes.iter().map(|(n, s)| format!("{n}: {s}")).collect();
        write!(f, "{{{}}}", parts.join(", "))
    }
}

/// How one array dimension is split: not at all (replicated along it), or
/// over one or more mesh axes (the first slowest-varying).
///
/// ```
/// use rjax::core::sharding::DimSpec;
/// assert_eq!(DimSpec::from("data"), DimSpec::Split(vec!["data".into()]));
/// assert_eq!(DimSpec::from(["a", "b"]).to_string(), "('a', 'b')");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DimSpec {
    /// The whole dimension on every device.
    Whole,
    /// Split over these mesh axes.
    Split(Vec<String>),
}

impl From<&str> for DimSpec {
    fn from(axis: &str) -> DimSpec {
        DimSpec::Split(vec![axis.to_string()])
    }
}

impl From<String> for DimSpec {
    fn from(axis: String) -> DimSpec {
        DimSpec::Split(vec![axis])
    }
}

impl<const N: usize> From<[&str; N]> for DimSpec {
    fn from(axes: [&str; N]) -> DimSpec {
        if N == 0 { DimSpec::Whole } else { DimSpec::Split(axes.iter().map(|a| a.to_string()).collect()) }
    }
}

impl From<Option<&str>> for DimSpec {
    fn from(axis: Option<&str>) -> DimSpec {
        axis.map_or(DimSpec::Whole, DimSpec::from)
    }
}

impl fmt::Display for DimSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DimSpec::Whole => f.write_str("None"),
            DimSpec::Split(axes) if axes.len() == 1 => write!(f, "'{}'", axes[0]),
            DimSpec::Split(axes) => {
                let names: Vec<String> = axes.iter().map(|a| format!("'{a}'")).collect();
                write!(f, "({})", names.join(", "))
            }
        }
    }
}

/// Which mesh axes each dimension of an array is split over (JAX's
/// `PartitionSpec`); dimensions past the end are whole. Written with
/// [`P!`](crate::P): `P!["data", None]`, `P![None, "model"]`,
/// `P![["data", "model"]]` (one dimension over two axes), `P![]`
/// (replicated).
///
/// ```
/// use rjax::P;
/// let p = P!["data", None];
/// assert_eq!(p.to_string(), "P('data', None)");
/// assert_eq!(p.axes(), vec!["data"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PartitionSpec {
    dims: Vec<DimSpec>,
}

impl PartitionSpec {
    /// The spec with these dimensions.
    ///
    /// ```
    /// use rjax::core::sharding::{DimSpec, PartitionSpec};
    /// assert_eq!(PartitionSpec::new(vec![DimSpec::from("a")]), rjax::P!["a"]);
    /// ```
    pub fn new(dims: Vec<DimSpec>) -> PartitionSpec {
        PartitionSpec { dims }
    }

    /// The replicated spec (no dimension split), `P![]`.
    ///
    /// ```
    /// assert_eq!(rjax::core::sharding::PartitionSpec::replicated(), rjax::P![]);
    /// ```
    pub fn replicated() -> PartitionSpec {
        PartitionSpec::default()
    }

    /// The dimensions' specs.
    ///
    /// ```
    /// assert_eq!(rjax::P!["a", None].dims().len(), 2);
    /// ```
    pub fn dims(&self) -> &[DimSpec] {
        &self.dims
    }

    /// The spec of dimension `d` (whole past the end).
    ///
    /// ```
    /// use rjax::core::sharding::DimSpec;
    /// assert_eq!(rjax::P!["a"].dim(3), DimSpec::Whole);
    /// ```
    pub fn dim(&self, d: usize) -> DimSpec {
        self.dims.get(d).cloned().unwrap_or(DimSpec::Whole)
    }

    /// Every mesh axis the spec names, in order.
    ///
    /// ```
    /// assert_eq!(rjax::P![["a", "b"], "c"].axes(), vec!["a", "b", "c"]);
    /// ```
    pub fn axes(&self) -> Vec<&str> {
        self.dims
            .iter()
            .flat_map(|d| match d {
                DimSpec::Whole => Vec::new(),
                DimSpec::Split(axes) => axes.iter().map(String::as_str).collect(),
            })
            .collect()
    }

    /// Whether the spec fits an array of `shape` over a mesh with `axes`
    /// (divisibility aside): no more dimensions than the array, only axes of
    /// the mesh, none twice.
    ///
    /// ```
    /// use rjax::core::sharding::MeshAxes;
    /// let axes = MeshAxes::new(&[("a", 2)]).unwrap();
    /// assert!(rjax::P!["a"].check(&axes, &[3]).is_ok());
    /// assert!(rjax::P!["b"].check(&axes, &[3]).is_err());
    /// ```
    pub fn check(&self, axes: &MeshAxes, shape: &[usize]) -> Result<(), String> {
        if self.dims.len() > shape.len() {
            return Err(format!(
                "{self} has {} dimensions but the array has {} ({shape:?})",
                self.dims.len(),
                shape.len()
            ));
        }
        let mut seen: Vec<&str> = Vec::new();
        for name in self.axes() {
            if axes.position(name).is_none() {
                return Err(format!("{self} names no axis {name:?} of the mesh {axes}"));
            }
            if seen.contains(&name) {
                return Err(format!("{self} uses the mesh axis {name:?} twice"));
            }
            seen.push(name);
        }
        Ok(())
    }

    /// How many parts dimension `d` is split into over a mesh with `axes`.
    ///
    /// ```
    /// use rjax::core::sharding::MeshAxes;
    /// let axes = MeshAxes::new(&[("a", 2), ("b", 3)]).unwrap();
    /// assert_eq!(rjax::P![["a", "b"]].parts(&axes, 0), 6);
    /// assert_eq!(rjax::P![["a", "b"]].parts(&axes, 1), 1);
    /// ```
    pub fn parts(&self, axes: &MeshAxes, d: usize) -> usize {
        match self.dim(d) {
            DimSpec::Whole => 1,
            DimSpec::Split(names) => names.iter().filter_map(|n| axes.axis_size(n)).product(),
        }
    }

    /// The shape of each device's part of an array of `shape` (`parts`
    /// dividing each dimension: checked by [`Layout::new`]).
    ///
    /// ```
    /// use rjax::core::sharding::MeshAxes;
    /// let axes = MeshAxes::new(&[("a", 2)]).unwrap();
    /// assert_eq!(rjax::P![None, "a"].shard_shape(&axes, &[3, 8]), vec![3, 4]);
    /// ```
    pub fn shard_shape(&self, axes: &MeshAxes, shape: &[usize]) -> Vec<usize> {
        shape.iter().enumerate().map(|(d, &n)| n / self.parts(axes, d)).collect()
    }

    /// The shape of the whole array whose parts have `shard` shape.
    ///
    /// ```
    /// use rjax::core::sharding::MeshAxes;
    /// let axes = MeshAxes::new(&[("a", 2)]).unwrap();
    /// assert_eq!(rjax::P![None, "a"].whole_shape(&axes, &[3, 4]), vec![3, 8]);
    /// ```
    pub fn whole_shape(&self, axes: &MeshAxes, shard: &[usize]) -> Vec<usize> {
        shard.iter().enumerate().map(|(d, &n)| n * self.parts(axes, d)).collect()
    }

    /// The spec with a whole dimension inserted at `d` (for a batch
    /// dimension added by `vmap`).
    ///
    /// ```
    /// assert_eq!(rjax::P!["a"].insert_whole(0), rjax::P![None, "a"]);
    /// ```
    pub fn insert_whole(&self, d: usize) -> PartitionSpec {
        let mut dims = self.dims.clone();
        while dims.len() < d {
            dims.push(DimSpec::Whole);
        }
        dims.insert(d, DimSpec::Whole);
        PartitionSpec { dims }
    }
}

impl fmt::Display for PartitionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.dims.iter().map(|d| d.to_string()).collect();
        write!(f, "P({})", parts.join(", "))
    }
}

/// A [`PartitionSpec`]: `P!["data", None]`; `None` for a whole dimension, a
/// string for one mesh axis, an array of strings for several.
///
/// ```
/// use rjax::P;
/// assert_eq!(P![None, "model"].to_string(), "P(None, 'model')");
/// assert_eq!(P![].dims().len(), 0);
/// ```
#[macro_export]
macro_rules! P {
    () => { $crate::core::sharding::PartitionSpec::new(::std::vec::Vec::new()) };
    ($($d:tt),+ $(,)?) => {
        $crate::core::sharding::PartitionSpec::new(::std::vec![$($crate::__p_dim!($d)),+])
    };
}

/// One dimension of [`P!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __p_dim {
    (None) => {
        $crate::core::sharding::DimSpec::Whole
    };
    ($d:expr) => {
        $crate::core::sharding::DimSpec::from($d)
    };
}

/// A [`PartitionSpec`] checked against a mesh and an array shape: what each
/// device holds and how XLA is told.
///
/// ```
/// use rjax::core::sharding::{Layout, MeshAxes};
/// let axes = MeshAxes::new(&[("data", 4)]).unwrap();
/// let err = Layout::new(axes.clone(), rjax::P!["data"], &[6]).unwrap_err();
/// assert!(err.contains("6 is not divisible by 4"), "{err}");
/// assert!(Layout::new(axes, rjax::P!["model"], &[8]).unwrap_err().contains("no axis \"model\""));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Layout {
    axes: MeshAxes,
    spec: PartitionSpec,
    shape: Vec<usize>,
}

impl Layout {
    /// The layout of an array of `shape` split as `spec` over a mesh with
    /// `axes`, or why it cannot be: the spec has more dimensions than the
    /// array, names an axis the mesh lacks or one axis twice, or splits a
    /// dimension into a number of parts that does not divide it.
    pub fn new(axes: MeshAxes, spec: PartitionSpec, shape: &[usize]) -> Result<Layout, String> {
        if spec.dims.len() > shape.len() {
            return Err(format!(
                "{spec} has {} dimensions but the array has {} ({shape:?})",
                spec.dims.len(),
                shape.len()
            ));
        }
        let mut seen: Vec<&str> = Vec::new();
        for name in spec.axes() {
            if axes.position(name).is_none() {
                return Err(format!("{spec} names no axis {name:?} of the mesh {axes}"));
            }
            if seen.contains(&name) {
                return Err(format!("{spec} uses the mesh axis {name:?} twice"));
            }
            seen.push(name);
        }
        let layout = Layout { axes, spec, shape: shape.to_vec() };
        for (d, &n) in shape.iter().enumerate() {
            let parts = layout.parts(d);
            if n % parts != 0 {
                return Err(format!(
                    "{}: dimension {d} of the shape {shape:?}: {n} is not divisible by {parts} (the mesh axes {} \
                     split it into {parts} parts); pad the array or pick another spec",
                    layout.spec,
                    layout.spec.dim(d)
                ));
            }
        }
        Ok(layout)
    }

    /// The mesh axes.
    pub fn mesh_axes(&self) -> &MeshAxes {
        &self.axes
    }

    /// The spec.
    pub fn spec(&self) -> &PartitionSpec {
        &self.spec
    }

    /// The whole array's shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Into how many parts dimension `d` is split.
    fn parts(&self, d: usize) -> usize {
        self.spec.parts(&self.axes, d)
    }

    /// Whether every device holds the whole array.
    ///
    /// ```
    /// use rjax::core::sharding::{Layout, MeshAxes};
    /// let axes = MeshAxes::new(&[("a", 2)]).unwrap();
    /// assert!(Layout::new(axes, rjax::P![], &[3]).unwrap().is_replicated());
    /// ```
    pub fn is_replicated(&self) -> bool {
        (0..self.shape.len()).all(|d| self.parts(d) == 1)
    }

    /// The shape of each device's slice.
    pub fn shard_shape(&self) -> Vec<usize> {
        self.spec.shard_shape(&self.axes, &self.shape)
    }

    /// The slice of the array device `index` (row-major in the mesh) holds.
    pub fn slice_of(&self, index: usize) -> Vec<Range<usize>> {
        let coords = self.axes.coords(index);
        let shard = self.shard_shape();
        (0..self.shape.len())
            .map(|d| {
                let tile = match self.spec.dim(d) {
                    DimSpec::Whole => 0,
                    DimSpec::Split(names) => names.iter().fold(0, |acc, n| {
                        let i = self.axes.position(n).unwrap_or(0);
                        acc * self.axes.axes[i].1 + coords[i]
                    }),
                };
                tile * shard[d]..(tile + 1) * shard[d]
            })
            .collect()
    }

    /// XLA's text for the layout (`mhlo.sharding`): `{replicated}`, or the
    /// tiles per dimension, the devices in tile order, and a last dimension of
    /// replicas when some mesh axes are unused
    /// (`{devices=[2,1,2]0,1,2,3 last_tile_dim_replicate}`). Device numbers
    /// are positions in the mesh, which is the program's device assignment.
    pub fn hlo(&self) -> String {
        if self.is_replicated() {
            return "{replicated}".into();
        }
        // Tile dimensions: the mesh axes of each array dimension in order,
        // then the unused axes (replicas).
        let mut order: Vec<usize> = Vec::new();
        let mut tiles: Vec<usize> = Vec::new();
        for d in 0..self.shape.len() {
            tiles.push(self.parts(d));
            if let DimSpec::Split(names) = self.spec.dim(d) {
                order.extend(names.iter().filter_map(|n| self.axes.position(n)));
            }
        }
        let unused: Vec<usize> = (0..self.axes.axes.len()).filter(|i| !order.contains(i)).collect();
        let replicas: usize = unused.iter().map(|&i| self.axes.axes[i].1).product();
        order.extend(&unused);
        // Devices in tile order: iterate over the axes in `order`, row-major.
        let sizes: Vec<usize> = order.iter().map(|&i| self.axes.axes[i].1).collect();
        let mut devices = Vec::with_capacity(self.axes.size());
        for k in 0..self.axes.size() {
            let mut rest = k;
            let mut coords = vec![0; self.axes.axes.len()];
            for (j, &i) in order.iter().enumerate().rev() {
                coords[i] = rest % sizes[j];
                rest /= sizes[j];
            }
            devices.push(self.axes.index(&coords).to_string());
        }
        let mut dims: Vec<String> = tiles.iter().map(|t| t.to_string()).collect();
        let suffix = if replicas > 1 {
            dims.push(replicas.to_string());
            " last_tile_dim_replicate"
        } else {
            ""
        };
        format!("{{devices=[{}]{}{suffix}}}", dims.join(","), devices.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axes(a: &[(&str, usize)]) -> MeshAxes {
        MeshAxes::new(a).unwrap()
    }

    #[test]
    fn hlo_text_orders_devices_by_tile() {
        let m = axes(&[("data", 2), ("model", 2)]);
        let hlo = |spec, shape: &[usize]| Layout::new(m.clone(), spec, shape).unwrap().hlo();
        assert_eq!(hlo(P![], &[4, 4]), "{replicated}");
        assert_eq!(hlo(P!["data", "model"], &[4, 4]), "{devices=[2,2]0,1,2,3}");
        // Transposed: dimension 0 over "model" walks the mesh's columns first.
        assert_eq!(hlo(P!["model", "data"], &[4, 4]), "{devices=[2,2]0,2,1,3}");
        assert_eq!(hlo(P![None, "model"], &[4, 4]), "{devices=[1,2,2]0,2,1,3 last_tile_dim_replicate}");
        assert_eq!(hlo(P![["data", "model"]], &[8]), "{devices=[4]0,1,2,3}");
        assert_eq!(hlo(P![["model", "data"]], &[8]), "{devices=[4]0,2,1,3}");
    }

    #[test]
    fn slices_match_the_hlo_tile_order() {
        let m = axes(&[("data", 2), ("model", 2)]);
        let l = Layout::new(m, P!["model", "data"], &[4, 6]).unwrap();
        assert_eq!(l.shard_shape(), vec![2, 3]);
        // device 1 is data = 0, model = 1: rows split by model, columns by data
        assert_eq!(l.slice_of(1), vec![2..4, 0..3]);
        assert_eq!(l.slice_of(2), vec![0..2, 3..6]);
    }

    #[test]
    fn bad_specs_are_named() {
        let m = axes(&[("data", 2)]);
        assert!(Layout::new(m.clone(), P!["data", None, None], &[2, 2]).unwrap_err().contains("3 dimensions"));
        assert!(Layout::new(m.clone(), P!["data", "data"], &[2, 2]).unwrap_err().contains("twice"));
        assert!(Layout::new(m, P!["data"], &[3]).unwrap_err().contains("not divisible by 2"));
        assert!(MeshAxes::new(&[("a", 0)]).unwrap_err().contains("size 0"));
    }

    #[test]
    fn groups_along_axes() {
        let m = axes(&[("a", 2), ("b", 3)]);
        assert_eq!(m.groups(&["b"]), vec![vec![0, 1, 2], vec![3, 4, 5]]);
        assert_eq!(m.groups(&["a"]), vec![vec![0, 3], vec![1, 4], vec![2, 5]]);
        assert_eq!(m.groups(&["b", "a"]), vec![vec![0, 3, 1, 4, 2, 5]]);
    }
}
