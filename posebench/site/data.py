"""What the static site shows, gathered from a folder of records (no plotting, no HTML).

Per method: its record, per-action means (the record's ``per_group["action"]`` or, failing
that, the per-sample file's ``action`` and metric arrays), per-joint MPJPE (the record's
``per_group["joint"]``, from `posebench eval --per-joint`). The PSS gallery needs the cluster
centres (the PSS model file the record names, found beside the record or under
$POSEBENCH_HOME) and, for the shares and hit rates, per-sample labels: ``<pss>.gt_label``
(M,) int (cluster of each ground-truth pose under the first model) and ``<pss>.hits`` (M, R)
bool or the ``<pss>`` share array; whatever is missing becomes a note on the page.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from posebench.data.registry import posebench_home
from posebench.leaderboard import Board, Entry, collect


@dataclass
class MethodData:
    entry: Entry
    slug: str
    per_action: dict[str, dict[str, float]] = field(default_factory=dict)
    per_joint: dict[str, float] = field(default_factory=dict)
    samples: dict[str, np.ndarray] | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Gallery:
    metric: str
    centres: np.ndarray | None = None  # (K, J, 3), root-centred, unit-normalised
    skeleton: str = "h36m17"
    share: np.ndarray | None = None  # (K,) fraction of test poses in each cluster
    hit_rate: dict[str, np.ndarray] = field(default_factory=dict)  # method -> (K,) fraction
    notes: list[str] = field(default_factory=list)


@dataclass
class SiteData:
    board: Board
    methods: list[MethodData]
    gallery: Gallery | None
    notes: list[str] = field(default_factory=list)


def slugify(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "method"
    slug, i = base, 2
    while slug in taken:
        slug, i = f"{base}-{i}", i + 1
    taken.add(slug)
    return slug


def load_samples(entry: Entry) -> tuple[dict[str, np.ndarray] | None, str | None]:
    """Per-sample arrays of a record (sha256 checked) or (None, why)."""
    ps = entry.record.get("per_sample")
    if not isinstance(ps, dict) or not ps.get("file"):
        return None, "no per-sample file in the record"
    name = Path(str(ps["file"]))
    if name.is_absolute() or ".." in name.parts:
        return None, f"per-sample file name {ps['file']!r} is not relative to the record"
    path = entry.path.parent / name
    if not path.is_file():
        return None, f"per-sample file {name} is missing"
    if ps.get("sha256") and hashlib.sha256(path.read_bytes()).hexdigest() != ps["sha256"]:
        return None, f"per-sample file {name} does not match the record's sha256"
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}, None


def per_action(rec: dict, samples: dict | None) -> dict[str, dict[str, float]]:
    """{action: {metric: mean}} from the record's breakdown or the per-sample arrays."""
    table = (rec.get("per_group") or {}).get("action")
    if isinstance(table, dict) and table:
        return {str(a): {m: float(v) for m, v in row.items() if m != "n" and v is not None}
                for a, row in table.items()}
    if not samples or "action" not in samples:
        return {}
    actions = np.asarray(samples["action"]).astype(str)
    uniq, inv = np.unique(actions, return_inverse=True)
    out: dict[str, dict[str, float]] = {str(a): {} for a in uniq}
    for m in rec["metrics"]:
        if m in samples and np.asarray(samples[m]).ndim == 1:
            v = np.asarray(samples[m], dtype=np.float64)
            ok = np.isfinite(v)
            sums = np.bincount(inv, weights=np.where(ok, v, 0.0), minlength=len(uniq))
            n = np.bincount(inv, weights=ok.astype(float), minlength=len(uniq))
            means = np.divide(sums, n, out=np.full(len(uniq), np.nan), where=n > 0)
            for a, mean in zip(uniq, means):
                out[str(a)][m] = float(mean)
    return out


def per_joint(rec: dict) -> dict[str, float]:
    table = (rec.get("per_group") or {}).get("joint")
    if not isinstance(table, dict):
        return {}
    return {str(j): float(row["mpjpe"]) for j, row in table.items()
            if isinstance(row, dict) and isinstance(row.get("mpjpe"), (int, float))}


def _model_file(entry: Entry, metric: str) -> Path | None:
    k = metric[4:]
    for m in entry.record.get("pss_models") or []:
        if isinstance(m, dict) and str(m.get("k")) == k and m.get("path"):
            raw = str(m["path"])
            home = str(posebench_home())  # the one definition ($POSEBENCH_HOME or the default)
            cands = [entry.path.parent / Path(raw).name,
                     Path(raw.replace("$POSEBENCH_HOME", home)),
                     Path(home) / "pss" / Path(raw).name]
            for c in cands:
                if c.is_file():
                    return c
    return None


def load_centres(path: Path, num_joints: int = 17) -> np.ndarray | None:
    """Cluster centres (K, J, 3) from a PSS model file (npz, key 'centres' or '*centres*')."""
    with np.load(path, allow_pickle=False) as z:
        keys = [k for k in z.files if k == "centres"] or \
               sorted(k for k in z.files if "centres" in k)
        if not keys:
            return None
        c = np.asarray(z[keys[0]], dtype=np.float64)
    if c.ndim == 3:
        c = c[0] if c.shape[-1] != 3 else c
    if c.ndim == 2 and c.shape[1] % 3 == 0:
        c = c.reshape(len(c), -1, 3)
    return c if c.ndim == 3 and c.shape[-1] == 3 else None


def gallery(methods: list[MethodData], metric: str = "pss@50") -> Gallery | None:
    """Cluster centres, test-pose shares and per-method hit rates for one PSS metric."""
    having = [md for md in methods if metric in md.entry.record["metrics"]]
    if not having:
        return None
    g = Gallery(metric)
    for md in having:
        path = _model_file(md.entry, metric)
        if path is not None:
            g.centres = load_centres(path)
            for m in md.entry.record.get("pss_models") or []:
                if str(m.get("k")) == metric[4:] and m.get("eval_skeleton"):
                    g.skeleton = str(m["eval_skeleton"])
            break
    if g.centres is None:
        g.notes.append(f"{metric} cluster centres not drawn: the PSS model file named in the "
                       "records was found neither beside them nor under $POSEBENCH_HOME/pss")
    label_key = f"{metric}.gt_label"
    labelled = [md for md in having if md.samples is not None and label_key in md.samples]
    if not labelled:
        g.notes.append(f"shares of test poses and hit rates per cluster need per-sample PSS "
                       f"labels ('{label_key}' in the per-sample files), which these records "
                       "do not carry")
        return g
    k = int(metric[4:]) if g.centres is None else len(g.centres)
    labels = np.asarray(labelled[0].samples[label_key], dtype=np.int64)
    g.share = np.bincount(labels, minlength=k)[:k] / max(len(labels), 1)
    for md in labelled:
        s = md.samples
        lab = np.asarray(s[label_key], dtype=np.int64)
        if f"{metric}.hits" in s:
            hit = np.asarray(s[f"{metric}.hits"]).reshape(len(lab), -1)[:, 0].astype(float)
        elif metric in s:
            hit = np.asarray(s[metric], dtype=np.float64)
        else:
            continue
        n = np.bincount(lab, minlength=k)[:k]
        h = np.bincount(lab, weights=hit, minlength=k)[:k]
        g.hit_rate[md.entry.name] = np.divide(h, n, out=np.full(k, np.nan), where=n > 0)
    return g


def gather(folder: str | Path) -> SiteData:
    board = collect(folder)
    taken: set[str] = set()
    methods = []
    for items in board.groups.values():
        for e in items:
            md = MethodData(e, slugify(e.name, taken))
            md.samples, why = load_samples(e)
            if why:
                md.notes.append(f"per-sample results unavailable: {why}")
            md.per_action = per_action(e.record, md.samples)
            md.per_joint = per_joint(e.record)
            if not md.per_action:
                md.notes.append("no per-action breakdown (no per_group['action'] in the record "
                                "and no per-sample file)")
            if not md.per_joint:
                md.notes.append("no per-joint errors (evaluate with `posebench eval --per-joint`)")
            methods.append(md)
    return SiteData(board, methods, gallery(methods), notes=list(board.notes))
