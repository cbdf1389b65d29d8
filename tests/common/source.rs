//! A minimal Rust lexer for reading sources at test time: enough to skip
//! comments, string and char literals while matching brackets, and to list
//! string literals. (Raw strings `r"..."`/`r#"..."#` are handled; byte
//! strings are strings; a `'` that does not close a one-char literal two or
//! three bytes on is a lifetime.)

/// The byte just past the comment or literal starting at byte `i`, or `None`
/// when none starts there.
fn skip(s: &str, i: usize) -> Option<usize> {
    let b = s.as_bytes();
    let at = |k: usize| b.get(k).copied();
    match b[i] {
        b'/' if at(i + 1) == Some(b'/') => Some(s[i..].find('\n').map_or(s.len(), |k| i + k)),
        b'/' if at(i + 1) == Some(b'*') => {
            let (mut depth, mut j) = (0usize, i);
            while j + 1 < b.len() {
                if b[j] == b'/' && b[j + 1] == b'*' {
                    depth += 1;
                    j += 2;
                } else if b[j] == b'*' && b[j + 1] == b'/' {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        return Some(j);
                    }
                } else {
                    j += 1;
                }
            }
            Some(s.len())
        }
        b'r' if (at(i + 1) == Some(b'"') || at(i + 1) == Some(b'#'))
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
        {
            let hashes = s[i + 1..].bytes().take_while(|&c| c == b'#').count();
            if at(i + 1 + hashes) != Some(b'"') {
                return None;
            }
            let close = format!("\"{}", "#".repeat(hashes));
            let from = i + 2 + hashes;
            Some(s[from..].find(&close).map_or(s.len(), |k| from + k + close.len()))
        }
        b'"' => {
            let mut j = i + 1;
            while j < b.len() {
                match b[j] {
                    b'\\' => j += 2,
                    b'"' => return Some(j + 1),
                    _ => j += 1,
                }
            }
            Some(s.len())
        }
        b'\'' => {
            if at(i + 1) == Some(b'\\') {
                return s[i + 2..].find('\'').map(|k| i + 2 + k + 1);
            }
            let c = s[i + 1..].chars().next()?;
            (at(i + 1 + c.len_utf8()) == Some(b'\'')).then_some(i + 2 + c.len_utf8())
        }
        _ => None,
    }
}

/// `s` with every comment replaced by spaces (newlines kept, so byte offsets
/// and line numbers do not move).
pub fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match skip(s, i) {
            Some(j) if s[i..].starts_with("//") || s[i..].starts_with("/*") => {
                for c in s[i..j].chars() {
                    // the same number of bytes, so offsets do not move
                    let n = if c == '\n' { 0 } else { c.len_utf8() };
                    out.extend(std::iter::repeat_n(' ', n));
                    if c == '\n' {
                        out.push('\n');
                    }
                }
                i = j;
            }
            Some(j) => {
                out.push_str(&s[i..j]);
                i = j;
            }
            None => {
                let c = s[i..].chars().next().expect("inside the string");
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

/// The index of the bracket closing the one (`(`, `[` or `{`) at byte `open`,
/// skipping comments and literals.
pub fn matching(s: &str, open: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < b.len() {
        if let Some(j) = skip(s, i) {
            i = j;
            continue;
        }
        match b[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The contents of the (plain) string literals in `s`, in order.
pub fn string_literals(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        match skip(s, i) {
            Some(j) => {
                if s.as_bytes()[i] == b'"' {
                    out.push(s[i + 1..j - 1].to_string());
                }
                i = j;
            }
            None => i += s[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    out
}

/// The 1-based line of byte `i` of `s`.
pub fn line_of(s: &str, i: usize) -> usize {
    s[..i].matches('\n').count() + 1
}

/// Every `.rs` file under `dir`, in sorted order, into `out`.
pub fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}
