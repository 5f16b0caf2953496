#!/usr/bin/env python3
"""Fails when sibling modules of a crate depend on each other in a cycle.

For every library crate under the workspace, each source file is a module; a reference
`crate::a::b::...` (in a `use` or a path) from module M is an edge from M's ancestor to the
target's ancestor at the first level where their paths part (siblings under one parent).
Parent/child references (`super::`, a parent naming its child) are the module tree itself, not
cycles. Test modules (`#[cfg(test)]` blocks at the end of a file) are skipped.

Usage: .ci/module-cycles.py [crate_src_dir ...]   (default: every */src and bench/*/src)
"""
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_path(src: Path, f: Path):
    rel = f.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    if parts and parts[0] == "bin":
        return None
    return tuple(parts)


def strip_tests(text: str) -> str:
    m = re.search(r"^#\[cfg\(test\)\]\s*\n\s*mod tests", text, re.M)
    return text[: m.start()] if m else text


def crate_edges(src: Path):
    files = [p for p in src.rglob("*.rs")]
    mods = {}
    for f in files:
        mp = module_path(src, f)
        if mp is not None and "tests" not in mp:  # test modules (`#[cfg(test)] mod tests;`)
            mods[mp] = f
    edges = set()
    for mp, f in mods.items():
        text = strip_tests(f.read_text())
        text = re.sub(r"//.*", "", text)
        refs = set()
        for m in re.finditer(r"crate::((?:[a-z_][a-z0-9_]*::)*[a-zA-Z_][a-zA-Z0-9_]*)", text):
            refs.add(tuple(m.group(1).split("::")))
        # `use crate::{a::X, b}` groups
        for m in re.finditer(r"crate::\{([^;]*?)\};", text, re.S):
            for item in re.split(r",\s*", m.group(1)):
                item = item.strip()
                if item:
                    refs.add(tuple(re.split(r"::", item.split("{")[0].rstrip(":"))))
        for ref in refs:
            target = ()
            for i in range(len(ref), 0, -1):
                if tuple(ref[:i]) in mods:
                    target = tuple(ref[:i])
                    break
            if not target:
                continue
            # first level where the two paths part
            i = 0
            while i < min(len(mp), len(target)) and mp[i] == target[i]:
                i += 1
            if i == len(mp) or i == len(target):
                continue  # ancestor or descendant: the module tree itself
            a, b = mp[: i + 1], target[: i + 1]
            edges.add((a, b))
    return edges


def find_cycle(edges):
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    seen, stack, on = set(), [], set()

    def dfs(n):
        seen.add(n)
        stack.append(n)
        on.add(n)
        for m in sorted(graph.get(n, ())):
            if m in on:
                return stack[stack.index(m):] + [m]
            if m not in seen:
                c = dfs(m)
                if c:
                    return c
        stack.pop()
        on.discard(n)
        return None

    for n in sorted(graph):
        if n not in seen:
            c = dfs(n)
            if c:
                return c
    return None


def main():
    dirs = [Path(d) for d in sys.argv[1:]] or sorted(
        p for p in list(ROOT.glob("*/src")) + list(ROOT.glob("bench/*/src")) if "target" not in p.parts
    )
    bad = 0
    for src in dirs:
        cycle = find_cycle(crate_edges(src))
        if cycle:
            bad += 1
            print(f"{src}: module cycle " + " -> ".join("::".join(c) for c in cycle))
    if bad:
        sys.exit(1)
    print(f"no module cycles in {len(dirs)} crates")


if __name__ == "__main__":
    main()
