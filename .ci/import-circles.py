#!/usr/bin/env python3
"""Counts import circles between the modules of each crate.

A module is a file under a crate's `src/` (a directory's files are modules
of their own). It uses another when it names `crate::other` (a `use`, a
path in code or a doc link alike). A circle is a strongly connected group
of two or more modules. Prints each circle and exits 1 when there is any.

Usage: import-circles.py CRATE_DIR [CRATE_DIR ...]
"""
import re
import sys
from pathlib import Path


def modules(src: Path) -> dict:
    """Module name -> source text, for every `.rs` file below `src`."""
    found = {}
    for file in sorted(src.rglob("*.rs")):
        rel = file.relative_to(src).with_suffix("")
        parts = [p for p in rel.parts if p not in ("lib", "main", "mod")]
        name = "::".join(parts) or "crate"
        found[name] = found.get(name, "") + file.read_text(encoding="utf-8")
    return found


def edges(found: dict) -> dict:
    graph = {name: set() for name in found}
    for name, text in found.items():
        # Comments that are not doc links do not tie modules together.
        text = re.sub(r"//(?![/!]).*", "", text)
        for path in re.findall(r"crate::((?:[a-z_][a-z0-9_]*)(?:::[a-z_][a-z0-9_]*)*)", text):
            parts = path.split("::")
            # The longest prefix that is a module of this crate.
            for end in range(len(parts), 0, -1):
                target = "::".join(parts[:end])
                if target in found and target != name:
                    graph[name].add(target)
                    break
    return graph


def circles(graph: dict) -> list:
    """Tarjan's strongly connected components of two or more modules."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for next_node in sorted(graph[node]):
            if next_node not in index:
                visit(next_node)
                low[node] = min(low[node], low[next_node])
            elif next_node in on_stack:
                low[node] = min(low[node], index[next_node])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def main() -> int:
    total = 0
    for crate in sys.argv[1:]:
        found = modules(Path(crate) / "src")
        for group in circles(edges(found)):
            total += 1
            print(f"{crate}: import circle: {' <-> '.join(group)}")
    print(f"{total} import circles in {len(sys.argv) - 1} crates")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
