//! The crate's layering, checked on its source text: which top-level module
//! may import which (docs/architecture.md, "Layers", draws the same rules).
//!
//! Every `crate::name` path outside comments counts as an import of the
//! top-level module `name` (items re-exported at the crate root, such as
//! `crate::Array`, are resolved to the module that defines them).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

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
    ("Error", "device"),
    ("Device", "device"),
    ("Platform", "device"),
    ("s", "numpy"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("read src").flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

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
        let text = std::fs::read_to_string(&f).expect("read a source file");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
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
