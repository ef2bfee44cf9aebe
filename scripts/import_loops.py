#!/usr/bin/env python3
# Usage: python3 scripts/import_loops.py [crates/hornet-core/src]
"""Import loops among a crate's source files.

Reads every `src/*.rs` of the crate given as argument, takes the module each
`crate::NAME` path names (in `use` lines and in expressions; a name that
`lib.rs` re-exports counts as its module) as an edge file -> NAME, and prints
the strongly connected components with more than one file (Tarjan), largest
first: once for the code without its `#[cfg(test)]` modules, once with them."""
import re, sys, pathlib

def reexports(src):
    """Names lib.rs re-exports, by the module they come from."""
    text = re.sub(r"//[^\n]*", "", (src / "lib.rs").read_text())
    names = {}
    for m in re.finditer(r"pub use (\w+)::\{?([^;]*?)\}?;", text, re.S):
        for n in m.group(2).split(","):
            n = n.strip()
            if n:
                names[n] = m.group(1)
    return names

def graph(src, tests):
    files = {p.stem: p for p in src.glob("*.rs")}
    names = reexports(src)
    edges = {}
    for name, path in files.items():
        text = path.read_text()
        if not tests:
            text = re.split(r"\n#\[cfg\((?:all\()?test\b", text)[0]
        # drop comments
        text = re.sub(r"//[^\n]*", "", text)
        deps = set()
        for m in re.finditer(r"\bcrate::(\w+)", text):
            deps.add(names.get(m.group(1), m.group(1)))
        # use crate::{a, b::c}
        for m in re.finditer(r"use\s+crate::\{([^;]*)\};", text, re.S):
            for part in re.split(r",", m.group(1)):
                head = part.strip().split("::")[0].strip("{} \n")
                if head:
                    deps.add(names.get(head, head))
        edges[name] = sorted(d for d in deps if d in files and d != name)
    return edges

def sccs(edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    def visit(v):
        index[v] = low[v] = counter[0]; counter[0] += 1
        stack.append(v); on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            out.append(sorted(comp))
    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index: visit(v)
    return sorted((c for c in out if len(c) > 1), key=len, reverse=True)

src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "crates/hornet-core/src")
for tests in (False, True):
    edges = graph(src, tests)
    print("== with #[cfg(test)] modules" if tests else "== without #[cfg(test)] modules")
    print("imports of broker.rs:", sorted(n for n, d in edges.items() if "broker" in d))
    print("broker.rs imports:", edges.get("broker"))
    loops = sccs(edges)
    print("loops (strongly connected components of more than one file):", len(loops))
    for c in loops:
        print(f"  {len(c)} files: {' '.join(c)}")
