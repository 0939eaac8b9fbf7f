"""The house rules of docs/architecture.md, read from the source (benchmarks/architecture.py's
parser): no import cycles, imports only downwards between rooms, function-level imports only
for heavy dependencies or with a `# lazy` comment, no unexplained function over 60 lines."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("architecture", ROOT / "benchmarks" /
                                               "architecture.py")
arch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(arch)

#: room -> rooms it must never import (the downward direction of docs/architecture.md)
FORBIDDEN = {
    "posebench/metrics/": ("posebench/data/", "posebench/geometry/", "posebench/evaluation.py",
                           "posebench/synth/", "posebench/results.py", "posebench/stats/"),
    "posebench/stats/": ("posebench/data/", "posebench/metrics/", "posebench/evaluation.py"),
    "posebench/geometry/": ("posebench/data/", "posebench/synth/", "posebench/evaluation.py"),
    "posebench/data/": ("posebench/evaluation.py", "posebench/synth/", "posebench/results.py"),
    "baselines": ("reference_models",),
}
FOUNDATIONS = ("posebench/errors.py", "posebench/io.py", "posebench/parallel.py",
               "posebench/skeletons.py")


@pytest.fixture(scope="module")
def scanned():
    files = sorted(p for pkg in arch.PACKAGES for p in (ROOT / pkg).rglob("*.py"))
    return files, arch.scan(files)


def _room_graph(full) -> dict[str, set[str]]:
    rooms: dict[str, set[str]] = {}
    for mod, targets in full.items():
        for t in targets:
            a, b = arch.room_of(mod), arch.room_of(t)
            if a != b:
                rooms.setdefault(a, set()).add(b)
    return rooms


def test_no_import_cycles_even_counting_imports_inside_functions(scanned):
    _, (mods, graph, full, *_rest) = scanned
    assert len(mods) > 100
    assert arch.cycles(graph) == []
    assert arch.cycles(full) == []


def test_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert arch.cycles(graph) == [["a", "b", "c"]]


def test_rooms_import_only_downwards(scanned):
    _, (_m, _g, full, *_rest) = scanned
    rooms = _room_graph(full)
    bad = {room: sorted(set(rooms.get(room, ())) & set(banned))
           for room, banned in FORBIDDEN.items()}
    assert {r: b for r, b in bad.items() if b} == {}
    for foundation in FOUNDATIONS:  # foundations import foundations only
        assert set(rooms.get(foundation, ())) <= set(FOUNDATIONS), foundation


def test_function_level_imports_are_heavy_or_explained(scanned):
    files, _ = scanned
    unexplained = []
    for path in files:
        lines = path.read_text().splitlines()
        for fn in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if not isinstance(node, (ast.Import, ast.ImportFrom)):
                    continue
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""])
                heavy = all(any(n == h or n.startswith(h + ".") for h in arch.HEAVY)
                            for n in names)
                text = " ".join(lines[node.lineno - 2:node.end_lineno])
                if not heavy and "# lazy" not in text:
                    unexplained.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert unexplained == []


def test_long_functions_say_why(scanned):
    files, _ = scanned
    silent = []
    for path in files:
        for fn in ast.walk(ast.parse(path.read_text())):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                    and fn.end_lineno - fn.lineno + 1 > 60 \
                    and "Longer than 60 lines" not in (ast.get_docstring(fn) or ""):
                silent.append(f"{path.relative_to(ROOT)}:{fn.lineno} {fn.name}")
    assert silent == []


def test_documented_layers_match_the_source(scanned):
    """docs/architecture.md's layer table is what the imports say."""
    import re

    _, (_m, _g, full, *_rest) = scanned
    doc = (ROOT / "docs" / "architecture.md").read_text()
    block = doc.split("## Which way the imports go", 1)[1].split("```", 2)[1]
    documented = {int(m.group(1)): sorted(m.group(2).split(", "))
                  for m in re.finditer(r"^\s*(\d+)\s+(.+?)\s*$", block, re.M)}
    assert documented == arch.room_layers(full)
