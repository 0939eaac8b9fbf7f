"""Architecture figures: rooms, import cycles, function-level imports, long functions.

Usage: ``python benchmarks/architecture.py [--json OUT] [--top 15]``

Reads the source as text (``ast``), imports nothing of posebench. Figures:

- lines per room (a room is a package under posebench/, or a top-level module; plus
  reference_models/ and baselines/);
- import cycles between modules, counting only module-level imports (strongly connected
  components of the module graph with more than one module);
- function-level imports (``import`` inside a def), split into those of torch/optional
  heavy dependencies and the rest;
- the longest functions (lines from ``def`` to the last line of the body).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("posebench", "reference_models", "baselines")
HEAVY = ("torch", "torchvision", "matplotlib", "sklearn", "cv2", "av", "h5py", "cdflib",
         "selenium", "scipy.io", "tqdm", "PIL")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def room_of(mod: str) -> str:
    parts = mod.split(".")
    if parts[0] != "posebench":
        return parts[0]
    if len(parts) == 1:
        return "posebench/__init__"
    path = ROOT.joinpath(*parts[:2])
    return f"posebench/{parts[1]}" + ("/" if path.is_dir() else ".py")


def resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> list[str]:
    """Absolute module names an ImportFrom refers to (the module and any imported submodules)."""
    if node.level:
        base = mod.split(".") if is_pkg else mod.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    return [target] + [f"{target}.{a.name}" for a in node.names]


def scan(files: list[Path]):
    mods = {module_name(f): f for f in files}
    graph: dict[str, set[str]] = defaultdict(set)
    full: dict[str, set[str]] = defaultdict(set)
    local_imports: list[tuple[str, int, str, bool]] = []
    functions: list[tuple[int, str]] = []
    lines: dict[str, int] = defaultdict(int)
    for mod, path in mods.items():
        text = path.read_text()
        lines[room_of(mod)] += len(text.splitlines())
        tree = ast.parse(text)
        is_pkg = path.name == "__init__.py"
        for node in tree.body:
            for target in _targets(mod, is_pkg, node, mods):
                if target != mod and not _is_parent(target, mod):
                    graph[mod].add(target)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(mod, is_pkg, node, mods):
                    if target != mod and not _is_parent(target, mod):
                        full[mod].add(target)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                functions.append((length, f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"))
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        names = ([a.name for a in inner.names] if isinstance(inner, ast.Import)
                                 else [inner.module or ""])
                        heavy = any(n == h or n.startswith(h + ".") for n in names for h in HEAVY)
                        if isinstance(inner, ast.ImportFrom) and inner.level == 0 and not heavy:
                            heavy = False
                        local_imports.append((inner.lineno, str(path.relative_to(ROOT)),
                                              ",".join(names), heavy))
    return mods, graph, full, local_imports, functions, lines


def _is_parent(package: str, mod: str) -> bool:
    """A module importing its own package's ``__init__`` (or a package its child) is not a cycle."""
    return mod.startswith(package + ".") or package.startswith(mod + ".")


def _targets(mod, is_pkg, node, mods):
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in mods]
    if isinstance(node, ast.ImportFrom):
        return [t for t in resolve(mod, is_pkg, node) if t in mods]
    if isinstance(node, (ast.If, ast.Try)):
        body = list(node.body) + list(getattr(node, "orelse", []))
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            return []
        out = []
        for sub in body:
            out += _targets(mod, is_pkg, sub, mods)
        return out
    return []


def _is_type_checking(test) -> bool:
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING" or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]
    nodes = sorted(set(graph) | {t for ts in graph.values() for t in ts})

    def strong(v):
        work = [(v, iter(sorted(graph.get(v, ()))))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))

    for v in nodes:
        if v not in index:
            strong(v)
    return out


def room_graph(full: dict[str, set[str]]) -> dict[str, set[str]]:
    """Room -> rooms it imports (function-level imports included)."""
    rooms: dict[str, set[str]] = defaultdict(set)
    for mod, targets in full.items():
        for t in targets:
            a, b = room_of(mod), room_of(t)
            if a != b:
                rooms[a].add(b)
    return rooms


def room_layers(full: dict[str, set[str]]) -> dict[int, list[str]]:
    """Rooms by layer: 0 imports no room, layer n imports rooms of layers < n only (cli.py,
    which loads commands/ by name at run time, counts as importing nothing)."""
    rooms = room_graph(full)
    level: dict[str, int] = {}

    def lv(r: str) -> int:
        if r not in level:
            level[r] = 0  # guards a cycle (none exist: a test checks)
            level[r] = 1 + max((lv(d) for d in rooms.get(r, ())), default=-1)
        return level[r]

    for r in set(rooms) | {x for v in rooms.values() for x in v}:
        lv(r)
    out: dict[int, list[str]] = defaultdict(list)
    for r, n in level.items():
        if r != "posebench/__init__":
            out[n].append(r.replace("posebench/", "").replace(".py", ""))
    return {n: sorted(v) for n, v in sorted(out.items())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the figures as JSON here")
    parser.add_argument("--top", type=int, default=15, help="how many long functions to list")
    args = parser.parse_args(argv)
    files = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))
    mods, graph, full, local_imports, functions, lines = scan(files)
    comps = cycles(graph)
    hidden = cycles(full)
    functions.sort(reverse=True)
    heavy = sum(1 for *_, h in local_imports if h)
    over60 = [f for f in functions if f[0] > 60]
    print(f"modules: {len(mods)}, lines: {sum(lines.values())}")
    print("lines per room:")
    for room, n in sorted(lines.items(), key=lambda kv: -kv[1]):
        print(f"  {room:40s} {n:6d}")
    print(f"import cycles (module level): {len(comps)}")
    for comp in comps:
        print("  " + " <-> ".join(comp))
    print(f"import cycles counting function-level imports: {len(hidden)}")
    for comp in hidden:
        print("  " + " <-> ".join(comp))
    print("room layers (a room imports only rooms of lower layers):")
    for n, names in room_layers(full).items():
        print(f"  {n:2d}  {', '.join(names)}")
    print(f"function-level imports: {len(local_imports)} ({heavy} of heavy optional "
          f"dependencies, {len(local_imports) - heavy} other)")
    print(f"functions over 60 lines: {len(over60)}")
    for length, where in functions[: args.top]:
        print(f"  {length:4d}  {where}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "lines": dict(lines), "cycles": comps, "cycles_with_local_imports": hidden,
            "function_level_imports": len(local_imports), "heavy_local_imports": heavy,
            "functions_over_60": [[n, w] for n, w in over60],
        }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
