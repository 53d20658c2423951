//! The layering of `src/`, checked: the core knows nothing of rhai or the front ends, imports
//! point down the data flow (files → dataset → model → attribution → scores → report, `tensor`
//! and `plot` at the bottom), and no two modules import each other, directly or round a
//! circle. Read from the source text (`use` paths and inline `crate::`/`super::` paths outside
//! comments and `#[cfg(test)]` modules), with `pub use` re-exports followed to the module that
//! defines the name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The front ends and the binding layer; everything else is the core.
const FRONT: &[&str] = &["script", "front", "repl", "kernel", "main", "cli_progress"];
/// Crates only the front ends may use.
const FRONT_CRATES: &[&str] = &["rhai", "rustyline", "jupyter_protocol", "clap"];

/// (module, modules it must never import): the "nevers" of the design.
const NEVER: &[(&str, &[&str])] = &[
    (
        "tensor",
        &[
            "data", "nn", "attr", "ax", "gap", "gax", "train", "metrics", "plot", "report", "onnx",
            "merge", "shard", "stats", "evaluate",
        ],
    ),
    (
        "plot",
        &[
            "data", "nn", "attr", "ax", "gap", "gax", "train", "metrics", "report", "onnx",
            "merge", "shard", "evaluate",
        ],
    ),
    (
        "stats",
        &[
            "data", "nn", "attr", "ax", "gap", "gax", "plot", "report", "evaluate",
        ],
    ),
    (
        "data",
        &[
            "nn", "attr", "ax", "gap", "gax", "train", "plot", "report", "onnx", "evaluate",
        ],
    ),
    (
        "nn",
        &[
            "attr", "ax", "gap", "gax", "train", "metrics", "plot", "report", "onnx", "evaluate",
        ],
    ),
    (
        "attr",
        &["ax", "gap", "gax", "train", "plot", "report", "evaluate"],
    ),
    ("ax", &["gap", "gax", "plot", "report", "merge", "evaluate"]),
    (
        "evaluate",
        &["gap", "gax", "plot", "report", "merge", "train"],
    ),
    ("gap", &["gax", "plot", "report", "merge"]),
    ("gax", &["plot", "report", "merge"]),
    // The bindings know nothing of the host that runs them; the host nothing of its front ends.
    ("script", &["front", "repl", "kernel", "main"]),
    ("front", &["repl", "kernel", "main"]),
    ("repl", &["kernel"]),
    ("kernel", &["repl"]),
];

struct Source {
    /// The code with comments, string contents and test modules removed.
    code: String,
}

/// Module path of a file: `src/nn/graph/mod.rs` → `nn::graph`, `src/lib.rs` → `` (the root).
fn module_of(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts.join("::")
}

/// Comments and the contents of string and char literals removed (a `//` inside a string is
/// not a comment; a path inside a string is not an import); the code from the first
/// `#[cfg(test)]` on dropped (tests may import anything).
fn strip(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
        } else if c == b'r' && matches!(b.get(i + 1), Some(b'#') | Some(b'"')) {
            // A raw string r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push(c as char);
                i += 1;
                continue;
            }
            j += 1;
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            while j < b.len() && !b[j..].starts_with(&close) {
                j += 1;
            }
            out.push_str("\"\"");
            i = j + close.len();
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            out.push_str("\"\"");
            i += 1;
        } else if c == b'\'' && b.get(i + 2) == Some(&b'\'') {
            // 'x' (a lifetime such as 'a is left alone)
            out.push_str("' '");
            i += 3;
        } else if c == b'\'' && b.get(i + 1) == Some(&b'\\') {
            let mut j = i + 2;
            while j < b.len() && b[j] != b'\'' {
                j += 1;
            }
            out.push_str("' '");
            i = j + 1;
        } else {
            // Copy one whole UTF-8 character.
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Every path a `use` item names, braces expanded: `use a::{b, c::{d, e}};` → a::b, a::c::d,
/// a::c::e.
fn use_paths(code: &str) -> Vec<String> {
    fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
        let tree = tree.trim();
        match tree.find('{') {
            None => {
                let name = tree.split(" as ").next().unwrap().trim();
                let full = if prefix.is_empty() {
                    name.to_string()
                } else if name == "self" {
                    prefix.trim_end_matches("::").to_string()
                } else {
                    format!("{prefix}{name}")
                };
                out.push(full);
            }
            Some(open) => {
                let head = &tree[..open];
                let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
                let mut depth = 0;
                let mut start = 0;
                for (i, ch) in inner.char_indices() {
                    match ch {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            if !inner[start..i].trim().is_empty() {
                                expand(&format!("{prefix}{head}"), &inner[start..i], out);
                            }
                            start = i + 1;
                        }
                        _ => {}
                    }
                }
                if !inner[start..].trim().is_empty() {
                    expand(&format!("{prefix}{head}"), &inner[start..], out);
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = find_word(rest, "use") {
        let after = &rest[at + 3..];
        let end = after.find(';').unwrap_or(after.len());
        expand("", &after[..end], &mut out);
        rest = &after[end..];
    }
    out
}

/// The next `word` standing alone (not part of an identifier).
fn find_word(s: &str, word: &str) -> Option<usize> {
    let b = s.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut from = 0;
    while let Some(i) = s[from..].find(word) {
        let i = from + i;
        let before_ok = i == 0 || !ident(b[i - 1]);
        let after_ok = b.get(i + word.len()).is_none_or(|&c| !ident(c));
        if before_ok && after_ok {
            return Some(i);
        }
        from = i + word.len();
    }
    None
}

/// Inline paths that start at `crate::`, `super::` or `self::` outside `use` items.
fn inline_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(i) = find_word(&code[from..], start.trim_end_matches("::")) {
            let i = from + i;
            if code[i..].starts_with(start) {
                let end = code[i..]
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                    .map(|e| i + e)
                    .unwrap_or(code.len());
                out.push(code[i..end].trim_end_matches(':').to_string());
            }
            from = i + start.len() - 2;
        }
    }
    out
}

/// A path as absolute segments from the crate root (`super::x` from `nn::model` → `nn::x`).
fn absolute(path: &str, module: &str) -> Option<Vec<String>> {
    let mut segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut base: Vec<String> = if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").map(String::from).collect()
    };
    match segs.first().copied() {
        Some("crate") => {
            base.clear();
            segs.remove(0);
        }
        Some("self") => {
            segs.remove(0);
        }
        Some("super") => {
            while segs.first() == Some(&"super") {
                segs.remove(0);
                base.pop()?;
            }
        }
        _ => return None,
    }
    base.extend(segs.into_iter().map(String::from));
    Some(base)
}

struct Crate {
    sources: BTreeMap<String, Source>,
    /// (module, name) → the path a `pub use` in that module points at.
    reexports: BTreeMap<(String, String), Vec<String>>,
}

impl Crate {
    fn read() -> Crate {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut sources = BTreeMap::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    let rel = p.strip_prefix(&root).unwrap();
                    let text = std::fs::read_to_string(&p).unwrap();
                    sources.insert(module_of(rel), Source { code: strip(&text) });
                }
            }
        }
        let mut reexports = BTreeMap::new();
        for (m, s) in &sources {
            let mut rest = s.code.as_str();
            while let Some(at) = find_word(rest, "pub") {
                let after = rest[at + 3..].trim_start();
                if let Some(item) = after.strip_prefix("use ") {
                    let end = item.find(';').unwrap_or(item.len());
                    for p in use_paths(&format!("use {};", &item[..end])) {
                        let name = p.rsplit("::").next().unwrap().to_string();
                        let full = if p.starts_with("crate::")
                            || p.starts_with("super::")
                            || p.starts_with("self::")
                        {
                            absolute(&p, m)
                        } else {
                            // `pub use child::Name` is relative to the module itself.
                            absolute(&format!("self::{p}"), m)
                        };
                        if let Some(full) = full {
                            reexports.insert((m.clone(), name), full);
                        }
                    }
                }
                rest = &rest[at + 3..];
            }
        }
        Crate { sources, reexports }
    }

    /// The module a path lands in: its longest prefix that is a module, following a `pub use`
    /// of the next segment to where that name is defined.
    fn resolve(&self, segs: &[String], depth: usize) -> Option<String> {
        for n in (0..=segs.len()).rev() {
            let m = segs[..n].join("::");
            if self.sources.contains_key(&m) {
                if depth < 8
                    && let Some(next) = segs.get(n)
                    && let Some(target) = self.reexports.get(&(m.clone(), next.clone()))
                {
                    return self.resolve(target, depth + 1);
                }
                return Some(m);
            }
        }
        None
    }

    /// module → the modules it imports (not counting its own ancestors: a child may use the
    /// namespace it lives in).
    fn graph(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut g = BTreeMap::new();
        for (m, s) in &self.sources {
            let mut deps = BTreeSet::new();
            let paths = use_paths(&s.code).into_iter().chain(inline_paths(&s.code));
            for p in paths {
                let Some(segs) = absolute(&p, m) else {
                    continue;
                };
                let Some(target) = self.resolve(&segs, 0) else {
                    continue;
                };
                let ancestor = target.is_empty() || m.starts_with(&format!("{target}::"));
                if target != *m && !ancestor {
                    deps.insert(target);
                }
            }
            g.insert(m.clone(), deps);
        }
        g
    }
}

fn top(m: &str) -> &str {
    m.split("::").next().unwrap()
}

#[test]
fn the_core_knows_nothing_of_rhai_or_the_front_ends() {
    let krate = Crate::read();
    let g = krate.graph();
    let mut wrong = Vec::new();
    for (m, deps) in &g {
        if m.is_empty() || FRONT.contains(&top(m)) {
            continue;
        }
        for d in deps {
            if FRONT.contains(&top(d)) {
                wrong.push(format!("{m} imports {d}"));
            }
        }
        let code = &krate.sources[m].code;
        for c in FRONT_CRATES {
            if find_word(code, c).is_some_and(|i| code[i..].starts_with(&format!("{c}::"))) {
                wrong.push(format!("{m} uses the crate {c}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn imports_point_down_the_data_flow() {
    let g = Crate::read().graph();
    let mut wrong = Vec::new();
    for (m, deps) in &g {
        let Some((_, never)) = NEVER.iter().find(|(n, _)| *n == top(m)) else {
            continue;
        };
        for d in deps {
            if never.contains(&top(d)) {
                wrong.push(format!("{m} imports {d}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_two_modules_import_each_other() {
    let g = Crate::read().graph();
    // Tarjan's strongly connected components: any of more than one module is a circle.
    struct State<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        circles: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on.insert(v);
        for w in s.g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.g.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w);
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort_unstable();
                s.circles.push(comp);
            }
        }
    }
    let mut s = State {
        g: &g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        circles: Vec::new(),
    };
    for v in g.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    let circles: Vec<String> = s.circles.iter().map(|c| c.join(" ↔ ")).collect();
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_reader_sees_what_it_checks() {
    // The checks above pass vacuously if the reader finds nothing: pin what it must find.
    let krate = Crate::read();
    let g = krate.graph();
    assert!(g.len() > 60, "only {} modules read", g.len());
    assert!(g["nn::model"].contains("nn::arch"), "{:?}", g["nn::model"]);
    assert!(
        g["script::models"].contains("nn::model"),
        "a pub use followed"
    );
    assert!(g["gap"].contains("stats"));
    let stripped = strip(
        "let s = \"crate::script // x\"; // crate::kernel\nuse crate::a::{b, c::{d, e as f}};",
    );
    assert!(!stripped.contains("script") && !stripped.contains("kernel"));
    assert_eq!(
        use_paths(&stripped),
        ["crate::a::b", "crate::a::c::d", "crate::a::c::e"]
    );
}

/// One-argument `.set(…)` calls (candle's `Var::set`, which overwrites a tensor in place) in
/// `module`'s code, as "receiver.set(argument)"; `Cell::set` on the names in `cells` is allowed.
fn in_place_sets(code: &str, cells: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in code.match_indices(".set(") {
        let args = &code[at + 5..];
        let (mut depth, mut commas, mut end) = (0usize, 0usize, args.len());
        for (i, c) in args.char_indices() {
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' if depth == 0 => {
                    end = i;
                    break;
                }
                ')' | ']' | '}' => depth -= 1,
                ',' if depth == 0 => commas += 1,
                _ => {}
            }
        }
        let receiver: String = code[..at]
            .chars()
            .rev()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if commas == 0 && !cells.contains(&receiver.as_str()) {
            found.push(format!("{receiver}.set({})", args[..end].trim()));
        }
    }
    found
}

#[test]
fn weights_change_in_place_only_through_assign() {
    // Convolutions keep their kernels' Winograd transforms while the weights stay as they are;
    // `tensor::assign` is the one place that overwrites a variable and tells them. A `Var::set`
    // anywhere else would leave a stale transform in use.
    let krate = Crate::read();
    let mut wrong = Vec::new();
    for (m, s) in &krate.sources {
        if m == "tensor" {
            continue;
        }
        // Once-cells, not variables: a static's and max pooling's kept first maxima.
        for call in in_place_sets(&s.code, &["CONTAINED", "kept_firsts"]) {
            wrong.push(format!("{m}: {call} (use crate::tensor::assign)"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The scan finds what it looks for.
    assert_eq!(
        in_place_sets("v.var.set(&(a - b)?)?; o.set(k, &v); C.set(x);", &["C"]),
        ["v.var.set(&(a - b)?)"]
    );
    assert!(!in_place_sets(&krate.sources["tensor"].code, &[]).is_empty());
}
