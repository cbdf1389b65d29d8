//! The crate's layering, checked on its source text: which top-level module
//! may import which (docs/architecture.md, "Layers", draws the same rules).
//!
//! Every `crate::name` path outside comments (common::source's lexer strips
//! them) counts as an import of the
//! top-level module `name` (items re-exported at the crate root, such as
//! `crate::Array`, are resolved to the module that defines them).

mod common;

use common::source::{rust_files, strip_comments};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Crate-root re-exports and macros, and the module that defines each.
const ROOT_ITEMS: &[(&str, &str)] = &[
    ("Array", "core"),
    ("Aval", "core"),
    ("DType", "core"),
    ("Element", "core"),
    ("Graph", "core"),
    ("HostData", "core"),
    ("MultiPrimitive", "core"),
    ("Primitive", "core"),
    ("bind", "core"),
    ("bind_multi", "core"),
    ("promote_types", "core"),
    ("map_host", "core"),
    ("with_host", "core"),
    ("Tree", "tree"),
    ("Error", "error"),
    ("Device", "device"),
    ("Platform", "backend"),
    ("s", "numpy"),
    ("P", "core"),
    ("__p_dim", "core"),
];

/// The top-level module a source file belongs to (`src/core/array.rs` -> `core`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component").as_os_str().to_string_lossy().to_string();
    first.trim_end_matches(".rs").to_string()
}

/// The top-level modules each module imports (`crate::x` outside comments).
fn imports() -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let root: BTreeMap<&str, &str> = ROOT_ITEMS.iter().copied().collect();
    let mut graph: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for f in files {
        let from = module_of(&src, &f);
        if from == "lib" {
            continue;
        }
        let text = strip_comments(&std::fs::read_to_string(&f).expect("read a source file"));
        for (n, code) in text.lines().enumerate() {
            let mut rest = code;
            while let Some(i) = rest.find("crate::") {
                let tail = &rest[i + "crate::".len()..];
                let name: String = tail.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                rest = tail;
                let to = root.get(name.as_str()).map(|s| s.to_string()).unwrap_or(name);
                if to != from && !to.is_empty() {
                    let at = format!("{}:{}", f.strip_prefix(&src).unwrap_or(&f).display(), n + 1);
                    graph.entry(from.clone()).or_default().entry(to).or_default().push(at);
                }
            }
        }
    }
    graph
}

#[test]
fn core_imports_nothing_above_it() {
    let g = imports();
    let above = g.get("core").cloned().unwrap_or_default();
    assert!(above.is_empty(), "core imports {above:?}");
}

#[test]
fn transforms_do_not_touch_pjrt() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/transforms");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        assert!(
            !text.contains("backend::pjrt"),
            "{} uses backend::pjrt; programs run through device::Program",
            f.display()
        );
    }
}

#[test]
fn the_import_graph_is_read() {
    // guards the scanner itself: known edges must be found
    let g = imports();
    assert!(g.get("numpy").is_some_and(|m| m.contains_key("core")), "{g:?}");
    assert!(g.get("device").is_some_and(|m| m.contains_key("backend")), "{g:?}");
}

/// A cycle in the import graph between top-level modules, if any.
fn find_cycle(g: &BTreeMap<String, BTreeMap<String, Vec<String>>>) -> Option<Vec<String>> {
    fn visit(
        g: &BTreeMap<String, BTreeMap<String, Vec<String>>>,
        node: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in g.get(node).map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
            if let Some(c) = visit(g, &next, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for start in g.keys() {
        if let Some(c) = visit(g, start, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn top_level_modules_import_each_other_without_cycles() {
    let g = imports();
    if let Some(cycle) = find_cycle(&g) {
        let first = &g[&cycle[0]][&cycle[1]];
        panic!("import cycle {} (e.g. {first:?})", cycle.join(" -> "));
    }
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let mut g: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into(), vec![]);
    g.entry("b".into()).or_default().insert("c".into(), vec![]);
    assert_eq!(find_cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into(), vec![]);
    assert_eq!(find_cycle(&g), Some(vec!["a".to_string(), "b".into(), "c".into(), "a".into()]));
}
