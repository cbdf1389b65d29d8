//! The primitive catalogue (tests/common/catalogue.rs) against the library:
//! every primitive in `src/primitives` and `src/control` has a row and every row a primitive
//! (found by reading the source), each elementwise row's function binds the
//! primitive of its name, and its dtype list is exactly what the primitive
//! accepts.

mod common;

use common::Gen;
use common::catalogue::{
    Apply, Diff, Domain, File, PRIMITIVES, Tests, coverage_problems, entry, sample_all, test_body,
};
use common::panics::quietly;
use common::source::{line_of, matching, rust_files, string_literals, strip_comments};
use rjax::{Array, DType, make_graph};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// `(file, text without comments)` for every `.rs` file under `src/<dir>`.
fn sources(dir: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src").join(dir), &mut files);
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.strip_prefix(root).unwrap().display().to_string(), strip_comments(&text))
        })
        .collect()
}

/// Byte offsets of `pat` in `s`.
fn find_all(s: &str, pat: &str) -> Vec<usize> {
    s.match_indices(pat).map(|(i, _)| i).collect()
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `s` invokes macro `m` (`m!(` not preceded by an identifier character).
fn invokes(s: &str, m: &str) -> bool {
    find_all(s, &format!("{m}!(")).into_iter().any(|p| p == 0 || !is_ident(s[..p].chars().next_back().unwrap()))
}

const NAME_FN: &str = "fn name(&self) -> &'static str";

/// The names of the primitives defined in `src/primitives`, each with where
/// it was found, or the places the scan could not read.
///
/// How names are found, in the source with comments removed:
/// 1. every body of `fn name(&self) -> &'static str` outside a `macro_rules!`
///    yields the string literals in it (`"add"`, or both of
///    `if self.max { "argmax" } else { "argmin" }`). A body without literals
///    must delegate as `self.FIELD.name()`: the field's type is read from the
///    struct in the same file and the literals of that type's
///    `fn name(self)`/`fn name(&self)` (anywhere in `src`) are taken, as for
///    `Reduce`, whose `op: ReduceOp` names `reduce_sum`...;
/// 2. a `macro_rules!` whose body has `fn name(&self) -> &'static str { $x }`
///    declares primitives, and so does one whose body invokes such a macro
///    (to a fixed point: `float_unary!` -> `unary!`, `compare!` ->
///    `nondiff_binary!`). Each invocation of one of them outside macro bodies
///    must read `Struct, "name", ...` after its attributes (doc comments are
///    comments): the literal is the name.
///
/// Anything else (a body this cannot read, an invocation of another shape)
/// is reported, so the scan fails loudly instead of missing a primitive.
fn scan_primitives() -> Result<BTreeMap<String, String>, Vec<String>> {
    // the primitives, and the control-flow primitives (their own module)
    let mut files = sources("primitives");
    files.extend(sources("control"));
    let all_src = sources("");
    let mut names = BTreeMap::new();
    let mut errors = Vec::new();

    // macro definitions: name -> (file, body span)
    let mut macros: BTreeMap<String, String> = BTreeMap::new();
    let mut macro_spans: Vec<(usize, usize, usize)> = Vec::new(); // (file index, start, end)
    for (k, (_, text)) in files.iter().enumerate() {
        for p in find_all(text, "macro_rules!") {
            let rest = &text[p + "macro_rules!".len()..];
            let name: String = rest.trim_start().chars().take_while(|&c| is_ident(c)).collect();
            let open = p + text[p..].find('{').expect("macro body");
            let end = matching(text, open).expect("balanced macro body");
            macros.insert(name, text[open..=end].to_string());
            macro_spans.push((k, p, end));
        }
    }
    let in_macro = |k: usize, i: usize| macro_spans.iter().any(|&(f, a, b)| f == k && a <= i && i <= b);
    let mut declaring: BTreeSet<String> = macros
        .iter()
        .filter(|(_, body)| {
            find_all(body, NAME_FN).iter().any(|&p| {
                let open = p + body[p..].find('{').unwrap();
                body[open + 1..].trim_start().starts_with('$')
            })
        })
        .map(|(n, _)| n.clone())
        .collect();
    loop {
        let more: Vec<String> = macros
            .iter()
            .filter(|(n, body)| !declaring.contains(*n) && declaring.iter().any(|d| invokes(body, d)))
            .map(|(n, _)| n.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        declaring.extend(more);
    }
    if declaring.is_empty() {
        errors.push("no macro_rules! declares primitives: the scan no longer understands src/primitives".into());
    }

    let mut found = |name: String, at: String, errors: &mut Vec<String>| {
        if let Some(prev) = names.insert(name.clone(), at.clone()) {
            errors.push(format!("{name} is named twice: {prev} and {at}"));
        }
    };
    for (k, (file, text)) in files.iter().enumerate() {
        // 1. fn name bodies
        for p in find_all(text, NAME_FN) {
            if in_macro(k, p) {
                continue;
            }
            let at = format!("{file}:{}", line_of(text, p));
            let after = text[p + NAME_FN.len()..].trim_start();
            if after.starts_with(';') {
                continue; // a trait declaration
            }
            let open = p + text[p..].find('{').unwrap();
            let body = &text[open..=matching(text, open).expect("balanced fn name body")];
            let lits = string_literals(body);
            if !lits.is_empty() {
                for l in lits {
                    found(l, at.clone(), &mut errors);
                }
                continue;
            }
            let inner = body.trim_matches(|c: char| c == '{' || c == '}' || c.is_whitespace());
            let field = inner.strip_prefix("self.").and_then(|r| r.strip_suffix(".name()"));
            let Some(field) = field.filter(|f| f.chars().all(is_ident)) else {
                errors.push(format!("{at}: cannot read the name returned by `{inner}`"));
                continue;
            };
            // the field's type, from `field: Type` in this file
            let decl = format!("{field}: ");
            let ty: String = find_all(text, &decl)
                .into_iter()
                .filter(|&i| i == 0 || !is_ident(text[..i].chars().next_back().unwrap()))
                .map(|i| text[i + decl.len()..].chars().take_while(|&c| is_ident(c)).collect())
                .next()
                .unwrap_or_default();
            let mut lits = Vec::new();
            for (_, src) in &all_src {
                for i in find_all(src, &format!("impl {ty} {{")) {
                    let open = i + src[i..].find('{').unwrap();
                    let block = &src[open..=matching(src, open).unwrap()];
                    for sig in ["fn name(self) -> &'static str", "fn name(&self) -> &'static str"] {
                        for q in find_all(block, sig) {
                            let o = q + block[q..].find('{').unwrap();
                            lits.extend(string_literals(&block[o..=matching(block, o).unwrap()]));
                        }
                    }
                }
            }
            if ty.is_empty() || lits.is_empty() {
                errors.push(format!("{at}: `{inner}`: found no names in `impl {ty}`'s fn name"));
            }
            for l in lits {
                found(l, format!("{at} (via {ty}::name)"), &mut errors);
            }
        }
        // 2. invocations of declaring macros
        for m in &declaring {
            for p in find_all(text, &format!("{m}!(")) {
                if in_macro(k, p) || (p > 0 && is_ident(text[..p].chars().next_back().unwrap())) {
                    continue;
                }
                let at = format!("{file}:{}", line_of(text, p));
                let mut args = text[p + m.len() + 2..].trim_start();
                while args.starts_with("#[") {
                    let close = matching(args, 1).expect("balanced attribute");
                    args = args[close + 1..].trim_start();
                }
                let strukt: String = args.chars().take_while(|&c| is_ident(c)).collect();
                let rest = args[strukt.len()..].trim_start();
                let lit = rest.strip_prefix(',').map(str::trim_start).and_then(|r| r.strip_prefix('"'));
                match lit.and_then(|r| r.find('"').map(|e| &r[..e])) {
                    Some(name) if strukt.starts_with(|c: char| c.is_ascii_uppercase()) => {
                        found(name.to_string(), format!("{at} ({m}!)"), &mut errors)
                    }
                    _ => errors.push(format!("{at}: cannot read `{m}!(Struct, \"name\", ...)`")),
                }
            }
        }
    }
    if errors.is_empty() { Ok(names) } else { Err(errors) }
}

/// Fails naming any primitive of `src/primitives` missing from the
/// catalogue, and any catalogue row that names no primitive.
#[test]
fn every_primitive_in_src_is_in_the_catalogue() {
    let found = scan_primitives().unwrap_or_else(|e| panic!("reading src/primitives failed:\n{}", e.join("\n")));
    let listed: BTreeSet<&str> = PRIMITIVES.iter().map(|e| e.name).collect();
    let missing: Vec<String> = found
        .iter()
        .filter(|(n, _)| !listed.contains(n.as_str()))
        .map(|(n, at)| format!("{n} (defined at {at})"))
        .collect();
    assert!(
        missing.is_empty(),
        "primitives missing from the catalogue (tests/common/catalogue.rs):\n{}",
        missing.join("\n")
    );
    let stale: Vec<&str> = listed.iter().copied().filter(|n| !found.contains_key(*n)).collect();
    assert!(stale.is_empty(), "catalogue rows naming no primitive of src/primitives: {stale:?}");
}

/// The scan itself reads each kind of definition (a macro invocation, a
/// plain body, a body with two names, a delegated name, a MultiPrimitive).
#[test]
fn the_scan_finds_each_kind_of_definition() {
    let found = scan_primitives().unwrap_or_else(|e| panic!("{}", e.join("\n")));
    for (name, how) in [
        ("add", "(binary!)"),
        ("eq", "(compare!)"),
        ("exp", "(float_unary!)"),
        ("shift_right_arithmetic", "(nondiff_binary!)"),
        ("argmin", "primitives/reduce/mod.rs"),
        ("reduce_max", "via ReduceOp::name"),
        ("scan", "control/scan.rs"),
        ("select", "binary.rs"),
    ] {
        let at = found.get(name).unwrap_or_else(|| panic!("{name} not found: {found:?}"));
        assert!(at.contains(how), "{name} found at {at}, expected {how}");
    }
}

#[test]
fn rows_are_consistent() {
    let mut seen = BTreeSet::new();
    for e in PRIMITIVES {
        assert!(seen.insert(e.name), "{} is listed twice", e.name);
        assert!(!e.dtypes.is_empty() && !e.api.is_empty(), "{}: dtypes and api", e.name);
        if e.is_elementwise() {
            let n = e.arity_or_panic();
            assert_eq!(e.domain.len(), n, "{}: one domain per operand", e.name);
            assert_eq!(e.values.len(), n, "{}: one value domain per operand", e.name);
            assert!(e.api.contains(&e.name), "{}: api names the lax function", e.name);
        }
        if matches!(e.apply, Apply::Ternary(_)) {
            assert_eq!(e.values[0], Domain::Pred, "{}: a predicate first", e.name);
        }
    }
}

const DTYPES: [DType; 6] = [DType::F32, DType::F64, DType::I32, DType::U32, DType::U8, DType::Bool];

/// Each elementwise row's function binds exactly the primitive of its name,
/// on every dtype it lists, and every dtype it does not list is refused.
#[test]
fn elementwise_rows_match_the_library() {
    let mut g = Gen::new(1);
    for e in PRIMITIVES.iter().filter(|e| e.is_elementwise()) {
        for dt in DTYPES {
            let shapes = vec![vec![2, 3]; e.arity_or_panic()];
            let listed = e.dtypes.contains(&dt);
            // operands in the value domain for a listed dtype; any values otherwise
            let domains: Vec<Domain> = e
                .values
                .iter()
                .map(|d| if listed || *d == Domain::Pred { *d } else { Domain::Real(-1.0, 1.0) })
                .collect();
            let xs = sample_all(&mut g, &domains, dt, &shapes);
            let r = quietly(|| make_graph(|v: &Vec<Array>| e.call(v))(&xs));
            match (listed, r) {
                (true, Ok(graph)) => {
                    let ops: Vec<&str> = graph.eqns.iter().map(|q| q.op.name()).collect();
                    assert_eq!(ops, [e.name], "{} on {dt}: the function binds {ops:?}", e.name);
                    let y = e.call(&xs);
                    assert_eq!(y.shape(), [2, 3], "{} on {dt}", e.name);
                }
                (true, Err(c)) => panic!("{} refuses {dt}, which the catalogue lists: {}", e.name, c.msg),
                (false, Ok(_)) => panic!("{} accepts {dt}, which the catalogue does not list", e.name),
                (false, Err(_)) => {}
            }
        }
    }
}

/// The samplers stay inside their domains.
#[test]
fn samples_lie_in_their_domains() {
    let mut g = Gen::new(2);
    let s = vec![64];
    let f = |a: &Array| a.astype(DType::F64).to_vec::<f64>();
    for v in f(&sample_all(&mut g, &[Domain::AwayFromZero(0.5, 2.0)], DType::F64, std::slice::from_ref(&s))[0]) {
        assert!((0.5..2.0).contains(&v.abs()), "{v}");
    }
    for v in f(&sample_all(&mut g, &[Domain::OffGrid], DType::F64, std::slice::from_ref(&s))[0]) {
        let fr = v - v.floor();
        assert!((0.1..=0.4).contains(&fr) || (0.6..=0.9).contains(&fr), "{v}");
    }
    let snapped =
        sample_all(&mut g, &[Domain::Snapped(0.2), Domain::Snapped(0.7)], DType::F64, &[s.clone(), s.clone()]);
    for (a, b) in f(&snapped[0]).iter().zip(f(&snapped[1])) {
        let d = (a - b).abs();
        assert!(d - d.floor() >= 0.39 && d - d.floor() <= 0.61, "{a} {b}");
    }
    let q =
        sample_all(&mut g, &[Domain::Quotient, Domain::AwayFromZero(0.5, 2.0)], DType::F64, &[s.clone(), s.clone()]);
    for (a, b) in f(&q[0]).iter().zip(f(&q[1])) {
        let r = (a / b).abs();
        assert!(r - r.floor() >= 0.099 && r - r.floor() <= 0.901, "{a} / {b}");
    }
    for dt in [DType::I32, DType::U32, DType::U8] {
        let x = sample_all(&mut g, &[Domain::ShiftAmount], dt, std::slice::from_ref(&s));
        let width = if dt == DType::U8 { 8.0 } else { 32.0 };
        assert!(f(&x[0]).iter().all(|&v| (0.0..width + 8.0).contains(&v)), "{dt}: {x:?}");
        let x = sample_all(&mut g, &[Domain::AwayFromZero(1.0, 9.0)], dt, std::slice::from_ref(&s));
        assert!(f(&x[0]).iter().all(|&v| v != 0.0 && v.abs() <= 9.0), "{dt}: {x:?}");
    }
}

/// The coverage checks' reading of test files: a `#[test]` function's body
/// is found past attributes, doc comments and parameters holding closures
/// and strings with brackets; a helper that is not a test is refused.
#[test]
fn test_bodies_are_found() {
    let src = r#"
/// A helper.
fn helper(x: &str) -> usize {
    x.len()
}

proptest! {
    /// doc with { a brace
    #[test]
    // a comment
    fn prop((a, b) in any::<u8>().prop_map(|v| { (v, "(") }), s in "[a-z]{2}") {
        let c = '{';
        assert!(helper("}") == 1 && c != '}');
    }
}

#[test]
#[ignore = "slow"]
fn plain() { lax::scan(f, &x, &xs); }
"#;
    assert_eq!(test_body(src, "plain").unwrap(), "{ lax::scan(f, &x, &xs); }");
    let body = test_body(src, "prop").unwrap();
    assert!(body.starts_with("{\n        let c = '{';") && body.ends_with("c != '}');\n    }"), "{body}");
    assert!(test_body(src, "helper").unwrap_err().contains("not a #[test]"));
    assert!(test_body(src, "missing").unwrap_err().contains("no `fn missing(`"));
}

/// The coverage check names what it misses: a primitive with no test in a
/// file, a named test that does not exist, one that is not a test, and one
/// that never calls the primitive; generic and exempt rows pass.
#[test]
fn coverage_problems_name_the_primitive() {
    let none = Tests { finite_diff: &[], vmap: &[], xla_parity: &[], stablehlo_text: &[] };
    let rows = [
        *entry("exp"),
        common::catalogue::Entry { name: "orphan", tests: none, ..*entry("gather") },
        common::catalogue::Entry { name: "ghost", tests: Tests { vmap: &["no_such_test"], ..none }, ..*entry("iota") },
        common::catalogue::Entry { name: "helper", tests: Tests { vmap: &["check_entry"], ..none }, ..*entry("iota") },
        common::catalogue::Entry {
            name: "elsewhere",
            api: &["nothing_called"],
            tests: Tests { vmap: &["control_flow.rs::vmap_of_while_loop"], ..none },
            ..*entry("while")
        },
    ];
    let p = coverage_problems(File::Vmap, &rows);
    assert_eq!(p.len(), 4, "{p:#?}");
    assert!(p[0].starts_with("orphan: no test in vmap.rs"), "{}", p[0]);
    assert!(p[1].starts_with("ghost: test vmap.rs::no_such_test: no `fn no_such_test(`"), "{}", p[1]);
    assert!(p[2].starts_with("helper: test vmap.rs::check_entry: `fn check_entry` is not a #[test]"), "{}", p[2]);
    assert!(p[3].starts_with("elsewhere: test control_flow.rs::vmap_of_while_loop calls none of"), "{}", p[3]);
    // argmax has no derivative, so finite_diff.rs needs no test for it
    assert_eq!(entry("argmax").diff, Diff::None);
    assert!(coverage_problems(File::FiniteDiff, &[*entry("argmax")]).is_empty());
}
