//! The checks behind tests/stablehlo_text.rs: the structure of a lowered
//! module (brackets, SSA definitions before use, operand types, signature),
//! and the optional dump of a case for scripts/check_stablehlo.py.

use rjax::backend::stablehlo::{Lowered, tensor_type};
use rjax::{Array, DType, Graph};
use std::collections::HashMap;

/// How the dumped outputs are compared with XLA's.
#[derive(Clone, Copy, Debug)]
pub enum Tol {
    /// Bit for bit (NaN equals NaN).
    Exact,
    /// Within this many units in the last place.
    Ulps(u32),
    /// `|a - b| <= atol + rtol * |b|`.
    Close(f64, f64),
}

/// Checks brackets, SSA definitions and uses, operand types and the signature.
pub fn check_module(l: &Lowered, g: &Graph) -> Result<(), String> {
    balanced(&l.text)?;
    let lines: Vec<&str> = l.text.lines().collect();
    if lines.first() != Some(&"module @rjax {") || lines.last() != Some(&"}") {
        return Err("not a `module @rjax { ... }`".into());
    }
    let sig = lines.get(1).map(|s| s.trim()).unwrap_or_default();
    let head = "func.func public @main(";
    let rest = sig.strip_prefix(head).ok_or("no `func.func public @main(`")?;
    let (params, results) = rest.split_once(") -> (").ok_or("no result list")?;
    let results = results.strip_suffix(") {").ok_or("no function body")?;

    // the signature: captures then inputs; outputs
    let want_args: Vec<String> = g
        .captures
        .iter()
        .map(|(v, _)| tensor_type(g.aval(*v)))
        .chain(g.inputs.iter().map(|v| tensor_type(g.aval(*v))))
        .collect();
    let want_outs: Vec<String> = g.outputs.iter().map(|v| tensor_type(g.aval(*v))).collect();
    let mut scopes: Vec<HashMap<String, Vec<String>>> = vec![HashMap::new()];
    let mut all_defs = std::collections::HashSet::new();
    let mut got_args = Vec::new();
    for (i, p) in split_list(params).into_iter().enumerate() {
        let (n, t) = p.split_once(": ").ok_or(format!("bad parameter {p}"))?;
        if n != format!("%arg{i}") {
            return Err(format!("parameter {i} is named {n}"));
        }
        got_args.push(t.to_string());
        all_defs.insert(n.to_string());
        scopes[0].insert(n.to_string(), vec![t.to_string()]);
    }
    if got_args != want_args {
        return Err(format!("arguments {got_args:?}, graph has {want_args:?}"));
    }
    if split_list(results) != want_outs {
        return Err(format!("results {results}, graph has {want_outs:?}"));
    }
    if l.arg_avals.len() != want_args.len() || l.out_avals.len() != want_outs.len() {
        return Err("Lowered's avals disagree with the signature".into());
    }

    // operations whose region is open: (result, operand names)
    let mut pending: Vec<(Named, Vec<String>)> = Vec::new();
    let mut returned = None;
    for line in &lines[2..lines.len() - 2] {
        let t = line.trim();
        if let Some(args) = t.strip_prefix("^bb0(") {
            let args = args.strip_suffix("):").ok_or(format!("bad block header {t}"))?;
            for a in split_list(args) {
                let (n, ty) = a.split_once(": ").ok_or(format!("bad block argument {a}"))?;
                define(&mut scopes, &mut all_defs, n, vec![ty.to_string()])?;
            }
            continue;
        }
        if t == "}, {" {
            // the next region of the same operation
            scopes.pop();
            scopes.push(HashMap::new());
            continue;
        }
        if let Some(rest) = t.strip_prefix("})") {
            scopes.pop();
            let (result, operands) = pending.pop().ok_or("a region closes that never opened")?;
            finish(&mut scopes, &mut all_defs, result, &operands, rest)?;
            continue;
        }
        let (result, op) = match t.split_once(" = \"") {
            Some((r, op)) if r.starts_with('%') => {
                let (n, k) = match r.split_once(':') {
                    Some((n, k)) => (n, k.parse::<usize>().map_err(|e| format!("{r}: {e}"))?),
                    None => (r, 1),
                };
                (Some((n.to_string(), k)), format!("\"{op}"))
            }
            _ => (None, t.to_string()),
        };
        let name_end = op[1..].find('"').ok_or(format!("no operation name in {t}"))? + 1;
        let name = &op[1..name_end];
        let after = op[name_end + 1..].strip_prefix('(').ok_or(format!("no operand list in {t}"))?;
        let close = after.find(')').ok_or(format!("unclosed operand list in {t}"))?;
        let operands: Vec<String> = split_list(&after[..close]).into_iter().map(String::from).collect();
        for o in &operands {
            lookup(&scopes, o)?;
        }
        let tail = &after[close + 1..];
        if tail.trim_end().ends_with("({") {
            pending.push((result, operands));
            scopes.push(HashMap::new());
            continue;
        }
        if name == "func.return" {
            returned = Some(sig_types(tail)?.0);
        }
        finish(&mut scopes, &mut all_defs, result, &operands, tail)?;
    }
    if !pending.is_empty() {
        return Err("a region never closes".into());
    }
    match returned {
        Some(r) if r == want_outs => Ok(()),
        other => Err(format!("func.return of {other:?}, graph returns {want_outs:?}")),
    }
}

/// An operation's named result and its number of values.
type Named = Option<(String, usize)>;

/// Checks an operation's operand types against its written signature and
/// defines its results.
fn finish(
    scopes: &mut [HashMap<String, Vec<String>>],
    all: &mut std::collections::HashSet<String>,
    result: Named,
    operands: &[String],
    tail: &str,
) -> Result<(), String> {
    let (ins, outs) = sig_types(tail)?;
    let used: Vec<String> = operands.iter().map(|o| lookup(scopes, o)).collect::<Result<_, _>>()?;
    if used != ins {
        return Err(format!("operands {operands:?} have types {used:?} but the operation says {ins:?}"));
    }
    match result {
        Some((n, k)) => {
            if outs.len() != k {
                return Err(format!("{n} has {k} results but the signature {}", outs.len()));
            }
            define(scopes, all, &n, outs)
        }
        None if outs.is_empty() => Ok(()),
        None => Err(format!("results {outs:?} are never named")),
    }
}

fn define(
    scopes: &mut [HashMap<String, Vec<String>>],
    all: &mut std::collections::HashSet<String>,
    n: &str,
    types: Vec<String>,
) -> Result<(), String> {
    if !all.insert(n.to_string()) {
        return Err(format!("{n} is defined twice"));
    }
    scopes.last_mut().ok_or("no scope")?.insert(n.to_string(), types);
    Ok(())
}

/// The type of a used value (`%3`, `%arg0`, `%5#1`), if defined in an enclosing scope.
fn lookup(scopes: &[HashMap<String, Vec<String>>], o: &str) -> Result<String, String> {
    let (base, k) = match o.split_once('#') {
        Some((b, k)) => (b, k.parse::<usize>().map_err(|e| format!("{o}: {e}"))?),
        None => (o, 0),
    };
    for s in scopes.iter().rev() {
        if let Some(ts) = s.get(base) {
            return ts.get(k).cloned().ok_or(format!("{o}: no such result"));
        }
    }
    Err(format!("{o} is used before it is defined"))
}

/// `... : (a, b) -> c` or `-> (c, d)` at the end of an operation.
fn sig_types(tail: &str) -> Result<(Vec<String>, Vec<String>), String> {
    let at = tail.rfind(" : (").ok_or(format!("no signature in {tail}"))?;
    let sig = &tail[at + 4..];
    let (ins, outs) = sig.split_once(") -> ").ok_or(format!("bad signature {sig}"))?;
    let outs = outs.trim();
    let outs = match outs.strip_prefix('(') {
        Some(o) => o.strip_suffix(')').ok_or(format!("bad results {outs}"))?,
        None => outs,
    };
    Ok((
        split_list(ins).into_iter().map(String::from).collect(),
        split_list(outs).into_iter().map(String::from).collect(),
    ))
}

fn split_list(s: &str) -> Vec<&str> {
    if s.trim().is_empty() { Vec::new() } else { s.split(", ").map(str::trim).collect() }
}

fn balanced(text: &str) -> Result<(), String> {
    let mut stack = Vec::new();
    for (i, c) in text.chars().enumerate() {
        match c {
            '{' | '(' | '[' => stack.push(c),
            '}' | ')' | ']' => {
                let open = stack.pop().ok_or(format!("unmatched {c} at {i}"))?;
                if !matches!((open, c), ('{', '}') | ('(', ')') | ('[', ']')) {
                    return Err(format!("{open} closed by {c} at {i}"));
                }
            }
            _ => {}
        }
    }
    if stack.is_empty() { Ok(()) } else { Err(format!("unclosed {stack:?}")) }
}

/// An array as a `.npy` file.
fn npy(a: &Array) -> Vec<u8> {
    fn bytes<T: rjax::Element, const N: usize>(a: &Array, f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
        a.to_vec::<T>().into_iter().flat_map(f).collect()
    }
    let (descr, data) = match a.dtype() {
        DType::F32 => ("<f4", bytes(a, f32::to_le_bytes)),
        DType::F64 => ("<f8", bytes(a, f64::to_le_bytes)),
        DType::I32 => ("<i4", bytes(a, i32::to_le_bytes)),
        DType::U32 => ("<u4", bytes(a, u32::to_le_bytes)),
        DType::U8 => ("|u1", bytes(a, |v: u8| [v])),
        DType::Bool => ("|b1", bytes(a, |v: bool| [v as u8])),
    };
    let dims: Vec<String> = a.shape().iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&data);
    out
}

/// Writes the module, the arguments and the CPU's outputs under
/// `$RJAX_STABLEHLO_DUMP/<name>/` (nothing without the variable).
pub fn dump(name: &str, l: &Lowered, g: &Graph, args: &[Array], tol: Tol) {
    let Ok(root) = std::env::var("RJAX_STABLEHLO_DUMP") else { return };
    let dir = std::path::Path::new(&root).join(name);
    std::fs::create_dir_all(&dir).expect("create the dump directory");
    let write = |f: &str, b: &[u8]| std::fs::write(dir.join(f), b).expect("write a dump file");
    write("module.mlir", l.text.as_bytes());
    for (i, a) in l.captures.iter().chain(args).enumerate() {
        write(&format!("arg{i}.npy"), &npy(a));
    }
    for (i, o) in rjax::core::eval_graph(g, args).iter().enumerate() {
        write(&format!("out{i}.npy"), &npy(o));
    }
    let tol = match tol {
        Tol::Exact => "{\"kind\": \"exact\"}".to_string(),
        Tol::Ulps(n) => format!("{{\"kind\": \"ulps\", \"ulps\": {n}}}"),
        Tol::Close(rtol, atol) => format!("{{\"kind\": \"close\", \"rtol\": {rtol:e}, \"atol\": {atol:e}}}"),
    };
    write("tol.json", tol.as_bytes());
}
