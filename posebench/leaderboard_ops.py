"""`posebench leaderboard reproduce` and `add`: leaderboards regenerated from, and guarded by,
the provenance in their records.

reproduce: every record's ``provenance.command`` (argv starting "posebench": a `posebench run`
that writes the predictions, or a `posebench reproduce` whose records carry a ``variant``) is
re-run in a scratch folder, the predictions are re-evaluated (`posebench eval`, same dataset,
protocol, seed and breakdowns) and the new record is compared with the old one:

- rows of untrained methods must reproduce bit for bit (every metric equal, same predictions
  sha256);
- rows of trained (torch) methods must land inside the old record's 95% interval or within
  the gate's default tolerance (torch training is not bit-reproducible across machines).

Without `check` the new records (+ per-sample files) replace the old ones and the tables are
rebuilt; with `check` nothing is written and every moved metric is reported.

add: a record enters a leaderboard only with complete provenance, no machine paths, and the
dataset/protocol fingerprints of the folder's records of the same dataset and protocol.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from posebench.errors import InputError
from posebench.gate_summary import is_trained
from posebench.io import atomic_path, write_json_atomic
from posebench.leaderboard import Entry, entry_name, read_records, write_leaderboard
from posebench.provenance import machine_paths
from posebench.results import DEFAULT_TOLERANCES, load_result, protocol_fingerprint
from posebench.site.data import load_samples

PROVENANCE_FIELDS = ("kind", "method", "seed", "command")


@dataclass
class Rerun:
    """Outcome of one re-run entry."""

    path: Path
    name: str
    trained: bool
    new_path: Path | None = None
    moved: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.new_path is not None and not self.moved


def _cli() -> list[str]:
    return [sys.executable, "-m", "posebench.cli"]


def _opt(argv: list[str], name: str) -> str | None:
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def _command(path: Path, rec: dict) -> list[str]:
    prov = rec.get("provenance")
    cmd = prov.get("command") if isinstance(prov, dict) else None
    if not (isinstance(cmd, list) and cmd and cmd[0] == "posebench"
            and all(isinstance(a, str) for a in cmd)):
        raise InputError(f"{path.name} cannot be re-run: its provenance has no 'command' (argv "
                         "starting 'posebench'); expected a record written from `posebench run` "
                         "+ `posebench eval --out` or by `posebench reproduce`; regenerate it.")
    if prov.get("kind") not in ("run", "reproduce"):
        raise InputError(f"{path.name} cannot be re-run: provenance kind "
                         f"{prov.get('kind')!r}; expected 'run' or 'reproduce'; external "
                         "predictions cannot be regenerated (drop --only for it or remove it).")
    return cmd


def _run(argv: list[str], cwd: Path, what: str) -> None:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=os.environ.copy())
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise InputError(f"re-running {what} failed (exit {proc.returncode}: "
                         f"{' | '.join(tail)}); expected the recorded command to succeed; fix "
                         "the environment (dataset present?) or the record's provenance.")


def _evaluate(rec: dict, cmd: list[str], preds: Path, out: Path, cwd: Path) -> None:
    dataset = _opt(cmd, "--dataset") or rec["dataset"].get("name")
    argv = [*_cli(), "eval", str(preds), "--dataset", str(dataset),
            "--protocol", str(rec["protocol"].get("name")), "--output", str(out)]
    if rec.get("seed") is not None:
        argv += ["--seed", str(rec["seed"])]
    groups = rec.get("per_group") or {}
    argv += ["--per-action"] if "action" in groups else []
    argv += ["--per-joint"] if "joint" in groups else []
    _run(argv, cwd, f"the evaluation of {preds.name}")


def rerun(path: Path, rec: dict, work: Path, cache: dict) -> Path:
    """Re-run one record's command in `work` and return the new record's path."""
    cmd = _command(path, rec)
    kind = rec["provenance"]["kind"]
    if kind == "run":
        d = work / path.stem
        d.mkdir(parents=True, exist_ok=True)
        _run([*_cli(), *cmd[1:]], d, " ".join(cmd))
        preds = d / (_opt(cmd, "--out") or (rec.get("predictions") or {}).get("source", ""))
        if not preds.is_file():
            raise InputError(f"{' '.join(cmd)} did not write {preds.name}; expected the "
                             "predictions the record names; fix the record's provenance.")
        out = d / f"{path.stem}.json"
        _evaluate(rec, cmd, preds, out, d)
        return out
    key = tuple(cmd)
    if key not in cache:  # one `posebench reproduce` run serves all its variants
        d = work / f"reproduce-{len(cache)}"
        d.mkdir(parents=True)
        _run([*_cli(), *cmd[1:]], d, " ".join(cmd))
        cache[key] = d
    for p in sorted(cache[key].rglob("*.json")):
        try:
            new = load_result(p)
        except InputError:
            continue
        if new.get("variant") == rec.get("variant"):
            return p
    raise InputError(f"{' '.join(cmd)} wrote no record of variant {rec.get('variant')!r}; "
                     f"expected one for {path.name}; fix the record's provenance.")


def moved_metrics(old: dict, new: dict, trained: bool) -> list[str]:
    """Metrics of `old` that `new` does not reproduce (reasons in words)."""
    out = []
    if not trained:
        a, b = (old.get("predictions") or {}).get("sha256"), \
               (new.get("predictions") or {}).get("sha256")
        if a and b and a != b:
            out.append(f"predictions sha256 {a[:12]} -> {b[:12]} (must be bit-for-bit)")
    for m, v in old["metrics"].items():
        w = new["metrics"].get(m)
        if not isinstance(w, (int, float)) or not isinstance(v, (int, float)) \
                or not (math.isfinite(w) and math.isfinite(v)):
            out.append(f"{m}: {v!r} -> {w!r} (missing or not finite)")
            continue
        if not trained:
            if w != v:
                out.append(f"{m}: {v!r} -> {w!r} (must be bit-for-bit)")
            continue
        ci = (old.get("ci") or {}).get(m) or {}
        tol = DEFAULT_TOLERANCES.get("pss" if m.startswith("pss@") else m, 0.0)
        in_ci = isinstance(ci.get("low"), (int, float)) and ci["low"] <= w <= ci["high"]
        if not in_ci and abs(w - v) > tol:
            where = (f"outside the record's 95% interval [{ci['low']:.4g}, {ci['high']:.4g}]"
                     if "low" in ci else "no interval in the record")
            out.append(f"{m}: {v:.4f} -> {w:.4f} ({where}, beyond tolerance {tol:g})")
    return out


def _install(new_path: Path, old_path: Path, old: dict) -> None:
    """Copy the new record (and its per-sample file) over the old one, atomically."""
    new = load_result(new_path)
    for key in ("provenance", "method", "variant"):  # what the entry was reproduced from
        if key not in new and key in old:
            new[key] = old[key]
    ps = new.get("per_sample")
    if isinstance(ps, dict) and ps.get("file"):
        src = new_path.parent / ps["file"]
        dst = old_path.with_name(old_path.stem + ".samples.npz")
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
        new["per_sample"] = {**ps, "file": dst.name}
    write_json_atomic(old_path, new)


def reproduce(folder: str | Path, *, only: tuple[str, ...] = (), check: bool = False,
              echo=print) -> list[Rerun]:
    """Re-run every (or the `only`) entries of a leaderboard folder; see the module doc."""
    folder = Path(folder)
    records, _notes = read_records(folder)
    chosen = [(p, r) for p, r in records
              if not only or p.stem in only or entry_name(r, p) in only]
    if only and not chosen:
        raise InputError(f"--only {', '.join(only)} matches no record in {folder}; expected a "
                         "record file stem or method name; see `posebench leaderboard build`.")
    for p, r in chosen:  # refuse up front, before any long run
        _command(p, r)
    outs = []
    with tempfile.TemporaryDirectory(prefix="posebench-reproduce-") as tmp:
        cache: dict = {}
        for p, r in chosen:
            res = Rerun(p, entry_name(r, p), is_trained(r))
            t0 = time.perf_counter()
            res.new_path = rerun(p, r, Path(tmp), cache)
            res.seconds = time.perf_counter() - t0
            res.moved = moved_metrics(r, load_result(res.new_path), res.trained)
            echo(f"{p.name}: {'reproduced' if not res.moved else 'MOVED'} "
                 f"({'trained: within interval/tolerance' if res.trained else 'bit-for-bit'}, "
                 f"{res.seconds:.1f} s)" + "".join(f"\n  {m}" for m in res.moved))
            outs.append(res)
        if not check:
            for res in outs:
                _install(res.new_path, res.path, load_result(res.path))
            write_leaderboard(folder)
    return outs


# ------------------------------------------------------------------------------ add
def validate_for_board(path: str | Path, folder: str | Path) -> dict:
    """The record at `path` if it may enter the leaderboard `folder`, else InputError naming
    the first problem (provenance incomplete, machine paths, foreign fingerprints)."""
    path = Path(path)
    rec = load_result(path)
    prov = rec.get("provenance")
    missing = [f for f in PROVENANCE_FIELDS if not isinstance(prov, dict) or f not in prov]
    if not missing and prov.get("kind") in ("run", "reproduce"):
        cmd = prov.get("command")
        if not (isinstance(cmd, list) and cmd and cmd[0] == "posebench"):
            missing.append("command (argv starting 'posebench')")
    code = rec.get("code") or {}
    if not code.get("git_commit") and not rec.get("git_commit"):
        missing.append("code.git_commit")
    if missing:
        raise InputError(f"{path.name} lacks provenance ({', '.join(missing)}); expected a "
                         "record from `posebench run` + `posebench eval --out` or `posebench "
                         "reproduce`; regenerate it with a current posebench.")
    paths = machine_paths(rec)
    if paths:
        raise InputError(f"{path.name} holds machine paths ({paths[0]}); expected names "
                         "relative to the record; regenerate it with a current posebench.")
    folder = Path(folder)
    if folder.is_dir() and any(folder.rglob("*.json")):
        try:
            others, _ = read_records(folder)
        except InputError:
            others = []
        key = (rec["dataset"].get("name"), rec["protocol"].get("name"))
        fp = rec.get("protocol_fingerprint") or protocol_fingerprint(rec["protocol"])
        same = [(p, o) for p, o in others
                if (o["dataset"].get("name"), o["protocol"].get("name")) == key]
        if others and not same:
            raise InputError(f"{path.name} is on {key[0]} / {key[1]} but {folder} holds no "
                             "record of that dataset and protocol; expected the board's "
                             "dataset/protocol; add it to a leaderboard folder of its own.")
        for p, o in same:
            ofp = o.get("protocol_fingerprint") or protocol_fingerprint(o["protocol"])
            if o["dataset"].get("fingerprint") != rec["dataset"].get("fingerprint"):
                raise InputError(f"{path.name} was scored on dataset fingerprint "
                                 f"{str(rec['dataset'].get('fingerprint'))[:12]} but {p.name} "
                                 f"on {str(o['dataset'].get('fingerprint'))[:12]}; expected the "
                                 "board's ground truth; re-evaluate on it.")
            if ofp != fp:
                raise InputError(f"{path.name} used protocol rules {fp[:12]} but {p.name} "
                                 f"{ofp[:12]}; expected the board's protocol; re-evaluate "
                                 "under it.")
    return rec


def add(path: str | Path, folder: str | Path, *, force: bool = False) -> Path:
    """Validate and copy a record (and its per-sample file) into `folder`; rebuild tables."""
    path, folder = Path(path), Path(folder)
    rec = dict(validate_for_board(path, folder))
    dst = folder / path.name
    if dst.exists() and not force:
        raise InputError(f"{dst} already exists; expected a new entry; pass --force to replace "
                         "it or rename the record.")
    folder.mkdir(parents=True, exist_ok=True)
    ps = rec.get("per_sample")
    if isinstance(ps, dict) and ps.get("file"):
        _arrays, why = load_samples(Entry(path.stem, rec, path))
        if why:
            raise InputError(f"{path.name}: {why}; expected the per-sample file written with "
                             "the record beside it; copy it along or re-run `posebench eval`.")
        sdst = dst.with_name(dst.stem + ".samples.npz")
        with atomic_path(sdst) as tmp:
            shutil.copyfile(path.parent / ps["file"], tmp)
        rec["per_sample"] = {**ps, "file": sdst.name}
    write_json_atomic(dst, rec)
    write_leaderboard(folder)
    return dst
