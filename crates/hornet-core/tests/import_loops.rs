//! The core's files import no loop, and no part of the broker imports the
//! broker (issue 17). A file's imports are the modules its `crate::...`
//! paths name (in `use` lines, groups and expressions; a name `lib.rs`
//! re-exports counts as its module). `scripts/import_loops.py` prints the
//! same graph's loops.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each `src/*.rs` file's text without its comments, by module name.
fn sources() -> BTreeMap<String, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("src") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("read");
            let code: Vec<&str> = text
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .collect();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            files.insert(name, code.join("\n"));
        }
    }
    files
}

/// The identifier at the start of `s`.
fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first path segment of each item of a `{...}` group at the start of
/// `s` (nested groups belong to their item).
fn group_heads(s: &str) -> Vec<&str> {
    let mut heads = Vec::new();
    let (mut depth, mut start) = (0usize, 1usize);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' | ',' if depth == 1 => {
                heads.push(ident(s[start..i].trim_start()));
                start = i + 1;
                if c == '}' {
                    break;
                }
            }
            '}' => depth -= 1,
            _ => {}
        }
    }
    heads
}

/// The modules each file imports.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let files = sources();
    // `pub use module::{A, B};` in lib.rs: A and B are the module's.
    let mut reexported = BTreeMap::new();
    for line in files["lib"].split(';') {
        if let Some(rest) = line.trim().strip_prefix("pub use ") {
            let module = ident(rest);
            let items = rest[module.len()..].trim_start_matches("::");
            let names = if items.starts_with('{') {
                group_heads(items)
            } else {
                vec![ident(items)]
            };
            for name in names {
                reexported.insert(name.to_string(), module.to_string());
            }
        }
    }
    let mut edges = BTreeMap::new();
    for (name, text) in &files {
        let mut deps = BTreeSet::new();
        for (at, _) in text.match_indices("crate::") {
            let rest = &text[at + "crate::".len()..];
            let heads = if rest.starts_with('{') {
                group_heads(rest)
            } else {
                vec![ident(rest)]
            };
            for head in heads {
                let module = reexported.get(head).map_or(head, String::as_str);
                if files.contains_key(module) && module != name {
                    deps.insert(module.to_string());
                }
            }
        }
        edges.insert(name.clone(), deps);
    }
    edges
}

/// The strongly connected components of more than one file (Tarjan).
fn loops(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(w: &mut Walk<'a>, v: &'a str) {
        let n = w.index.len();
        w.index.insert(v, n);
        w.low.insert(v, n);
        w.stack.push(v);
        for u in &w.edges[v] {
            let u = u.as_str();
            if !w.index.contains_key(u) {
                visit(w, u);
                let low = w.low[v].min(w.low[u]);
                w.low.insert(v, low);
            } else if w.stack.contains(&u) {
                let low = w.low[v].min(w.index[u]);
                w.low.insert(v, low);
            }
        }
        if w.low[v] == w.index[v] {
            let at = w.stack.iter().position(|&x| x == v).expect("on stack");
            let component: Vec<String> = w.stack.drain(at..).map(str::to_string).collect();
            if component.len() > 1 {
                w.found.push(component);
            }
        }
    }
    let mut w = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !w.index.contains_key(v.as_str()) {
            visit(&mut w, v);
        }
    }
    w.found
}

#[test]
fn the_core_files_import_no_loop() {
    let edges = graph();
    assert!(edges["publish"].contains("broker"), "the graph is read");
    let found = loops(&edges);
    assert!(found.is_empty(), "import loops: {found:?}");
}

#[test]
fn no_part_imports_the_broker() {
    let files = sources();
    let edges = graph();
    // The coordinator is the broker and its `impl Broker` rules.
    let coordinator: BTreeSet<&str> = files
        .iter()
        .filter(|(name, text)| *name == "broker" || text.contains("impl Broker {"))
        .map(|(name, _)| name.as_str())
        .collect();
    for (name, deps) in &edges {
        if coordinator.contains(name.as_str()) || name == "lib" {
            continue;
        }
        let reached: Vec<&String> = deps
            .iter()
            .filter(|d| coordinator.contains(d.as_str()))
            .collect();
        assert!(
            reached.is_empty(),
            "the part {name}.rs imports the coordinator: {reached:?}"
        );
    }
}
