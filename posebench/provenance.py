"""Provenance of numbers: code version, git state, library environment, portable paths.

A result record carries ``record["code"]`` (`code_record`) and ``record["provenance"]``
(`external_provenance` or what `posebench run` / `posebench reproduce` wrote). Cache keys use
`code_version`, a sha256 over the source files that compute a number, so a code change
invalidates caches without a hand-bumped version. Nothing here imports torch: its version is
read from the installed distribution's metadata, its thread count only when a torch method has
already imported it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import platform
import re
import subprocess
import sys
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from posebench import __version__
from posebench.data.registry import posebench_home

REPO = Path(__file__).resolve().parents[1]
FIRST_PARTY = ("posebench", "baselines", "reference_models")


# ------------------------------------------------------------------------------ code / git
@cache
def _module_files(module: str) -> tuple[Path, ...]:
    """The .py files of `module` (every .py under a package's folder), sorted. First-party
    modules are found by path (nothing is imported: no torch); others through find_spec of
    their top-level name only."""
    parts = module.split(".")
    base = REPO.joinpath(*parts)
    if parts[0] in FIRST_PARTY:
        if (base / "__init__.py").is_file():
            return tuple(sorted(base.rglob("*.py")))
        if base.with_suffix(".py").is_file():
            return (base.with_suffix(".py"),)
        return ()
    spec = importlib.util.find_spec(parts[0]) if len(parts) == 1 else None
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        return ()
    if spec.submodule_search_locations:
        return tuple(sorted(p for loc in spec.submodule_search_locations
                            for p in Path(loc).rglob("*.py")))
    return (Path(spec.origin),)


def code_version(modules: tuple[str, ...] | list[str]) -> str:
    """sha256 (hex) over the names and bytes of the source files of `modules`
    (dotted names; a package means every .py below it). Any edit changes it."""
    h = hashlib.sha256()
    for mod in sorted(set(modules)):
        h.update(mod.encode() + b"\0")
        for path in _module_files(mod):
            h.update(path.name.encode() + b"\0")
            h.update(path.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


def git_state(repo: str | os.PathLike | None = None) -> dict:
    """{"git_commit": 40-hex or None, "git_dirty": bool or None} of the checkout posebench
    runs from (None when it is not a git checkout or git is unavailable). Dirty means tracked
    files differ from HEAD or untracked, non-ignored files exist, outside `leaderboards/`
    (result records are outputs: regenerating them does not make the code dirty)."""
    repo = Path(repo or REPO)
    if not (repo / ".git").exists():
        return {"git_commit": None, "git_dirty": None}
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=False)
        status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain",
                                 "--untracked-files=normal", "--", ".",
                                 ":(exclude)leaderboards"],
                                capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "git_dirty": None}
    sha = head.stdout.strip()
    commit = sha if head.returncode == 0 and len(sha) == 40 else None
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return {"git_commit": commit, "git_dirty": dirty}


def code_record() -> dict:
    """``record["code"]``: {"posebench_version", "git_commit", "git_dirty"}."""
    return {"posebench_version": __version__, **git_state()}


# ------------------------------------------------------------------------------ environment
def package_version(name: str) -> str | None:
    """Installed version of distribution `name` from its metadata (never imports it)."""
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def environment(device: str | None = None, torch_threads: int | None = None) -> dict:
    """{"python", "numpy", "torch", "torch_threads", "device"}: torch's version from the
    installed metadata (None when absent); its thread count only if torch is already imported
    (a torch method ran in this process) or `torch_threads` is given."""
    threads = torch_threads
    if threads is None and "torch" in sys.modules:
        try:
            threads = int(sys.modules["torch"].get_num_threads())
        except Exception:  # a half-imported or stub torch  # noqa: BLE001
            threads = None
    return {"python": platform.python_version(), "numpy": np.__version__,
            "torch": package_version("torch"), "torch_threads": threads, "device": device}


def library_versions(names: tuple[str, ...] = ("numpy", "scipy", "scikit-learn", "torch")) -> dict:
    """{distribution: version or None} for cache keys."""
    return {n: package_version(n) for n in names}


# ------------------------------------------------------------------------------ paths
def portable_path(path: str | os.PathLike | None) -> str | None:
    """A path fit for a record: relative to the current folder when below it, the dataset name
    when below $POSEBENCH_HOME/datasets, else only the file name. Relative paths pass."""
    if path is None:
        return None
    text = str(path)
    p = Path(text)
    if not p.is_absolute():
        return text
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        pass
    try:
        rel = p.resolve().relative_to((posebench_home() / "datasets").resolve())
        return rel.parts[0] if rel.parts else p.name
    except (ValueError, OSError):
        pass
    return p.name


def machine_paths(obj, where: str = "") -> list[str]:
    """Every string in a JSON-like object that looks like an absolute machine path
    ('/tmp/...', '/root/...', '/home/...', 'C:\\...'), as 'json.path: value'."""
    found: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            found += machine_paths(v, f"{where}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            found += machine_paths(v, f"{where}[{i}]")
    elif isinstance(obj, str):
        s = obj.strip()
        if (s.startswith(("/tmp/", "/root/", "/home/", "/Users/", "/work/", "/var/", "/mnt/"))
                or (len(s) > 2 and s[1:3] == ":\\")):
            found.append(f"{where or '.'}: {s}")
    return found


def external_provenance() -> dict:
    """``record["provenance"]`` for predictions that no posebench command made."""
    return {"kind": "external", "method": None, "options": {}, "seed": None,
            "train_split": None, "profile": None, "variant": None, "command": None,
            "cpu_time_s": {"fit": None, "predict": None}, "environment": environment()}


# ------------------------------------------------------------------------------ source closure
#: modules that change no number (user interface, rendering)
_NO_NUMBERS = ("posebench.cli", "posebench.commands", "posebench.viz", "posebench.provenance")


_FROM = re.compile(r"^[ \t]*from[ \t]+([\w.]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n]+)", re.M)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w., \t]+)", re.M)


@cache
def _first_party_imports(module: str) -> tuple[str, ...]:
    """First-party modules that `module` imports anywhere in its code (absolute imports)."""
    out: set[str] = set()
    for path in _module_files(module):
        text = path.read_text(encoding="utf-8", errors="replace")
        names = [n.split(" as ")[0].strip() for m in _IMPORT.finditer(text)
                 for n in m.group(1).split(",")]
        for m in _FROM.finditer(text):
            names.append(m.group(1))
            names += [f"{m.group(1)}.{n.split(' as ')[0].strip(' ()')}"
                      for n in m.group(2).split("#")[0].replace("\n", " ").split(",")]
        for name in names:
            if (name.split(".")[0] in FIRST_PARTY and not name.startswith(_NO_NUMBERS)
                    and _module_files(name)):
                out.add(name)
    return tuple(sorted(out))


def source_closure(modules: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """`modules` and every first-party module they import, transitively (sorted)."""
    seen: set[str] = set()
    todo = [m for m in modules if m.split(".")[0] in FIRST_PARTY]
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        # a package's files are hashed through its own entry; a plain module's imports are
        # followed (packages' __init__ re-exports are followed too)
        todo += [m for m in _first_party_imports(mod) if m not in seen]
    return tuple(sorted(seen))


def closure_code_version(modules: tuple[str, ...] | list[str]) -> str:
    """sha256 over the source bytes of `modules` and everything first-party they
    import: the code version of a computation, derived from its source (never bumped by hand)."""
    h = hashlib.sha256()
    for mod in source_closure(tuple(modules)):
        h.update(mod.encode() + b"\0")
        for path in _module_files(mod):
            if path.name == "__init__.py" or len(_module_files(mod)) == 1:
                h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()
