"""Leaderboard tables from a folder of result records: Markdown + CSV with intervals and ranks.

`collect(folder)` reads every record (JSON that is not a result record is skipped with a note),
groups them by (dataset, protocol) and sorts each group by its headline metric. Each metric is
shown with its sequence-block 95% interval (``record["ci"]``, written by `posebench eval`).
Ranks: a row shares the rank of the row above when their paired difference on the headline
metric is not significant (the 95% paired block-bootstrap interval of `compare_records`
contains 0); without per-sample results on both sides the rank is marked "?" (not tested).
Provenance is shown compactly: commit (+ "*" when dirty), seed and CPU seconds (fit + predict).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

from posebench.comparison import compare_records
from posebench.errors import InputError
from posebench.io import atomic_path
from posebench.results import LOWER_IS_BETTER, format_value, load_result, metric_label

#: Paired-test level used for rank ties.
TIE_LEVEL = 0.95


@dataclass
class Entry:
    """One record of a leaderboard: display name, record dict, path, rank and tie marker."""

    name: str
    record: dict
    path: Path
    rank: int = 0
    tie: str = ""  # "=": not significantly different from the row above; "?": not tested


@dataclass
class Board:
    """Groups of entries keyed by (dataset, protocol), plus notes (skipped files, tests)."""

    groups: dict[tuple[str, str], list[Entry]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return sum(len(v) for v in self.groups.values())


def entry_name(rec: dict, path: Path) -> str:
    name = rec.get("method") or path.stem
    return f"{name} [{rec['variant']}]" if rec.get("variant") else str(name)


def headline_of(rec: dict) -> str:
    return rec.get("headline") or "mpjpe"


def lower_is_better(metric: str) -> bool:
    return metric in LOWER_IS_BETTER


def read_records(folder: str | Path) -> tuple[list[tuple[Path, dict]], list[str]]:
    """(path, record) for every result record under `folder` and notes for skipped JSON."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; expected a folder of result records "
                         "(JSON from `posebench eval --output`); check the path.")
    out, notes = [], []
    for p in sorted(folder.rglob("*.json")):
        try:
            out.append((p, load_result(p)))
        except InputError:
            notes.append(f"skipped {p.relative_to(folder)}: not a posebench result record")
    if not out:
        raise InputError(f"{folder} holds no result records (*.json); expected files written by "
                         "`posebench eval --output`; add some first.")
    return out, notes


def collect(folder: str | Path, *, ranks: bool = True, n_boot: int = 1000) -> Board:
    """Read, group, sort and rank every record under `folder`."""
    records, notes = read_records(folder)
    board = Board(notes=notes)
    for path, rec in records:
        board.metrics += [m for m in rec["metrics"] if m not in board.metrics]
        key = (str(rec["dataset"].get("name")), str(rec["protocol"].get("name")))
        board.groups.setdefault(key, []).append(Entry(entry_name(rec, path), rec, path))
    for items in board.groups.values():
        head = headline_of(items[0].record)
        sign = 1.0 if lower_is_better(head) else -1.0
        items.sort(key=lambda e: (_sort_value(e.record, head, sign), e.name))
        if ranks:
            _rank(items, head, board.notes, n_boot)
        else:
            for i, e in enumerate(items):
                e.rank = i + 1
    return board


def _sort_value(rec: dict, metric: str, sign: float) -> float:
    v = rec["metrics"].get(metric)
    return sign * v if isinstance(v, (int, float)) and v == v else float("inf")


def _rank(items: list[Entry], metric: str, notes: list[str], n_boot: int) -> None:
    """Competition ranks; a row ties with the one above when the paired test finds no
    significant difference on `metric`."""
    untested = 0
    for i, e in enumerate(items):
        if i == 0:
            e.rank = 1
            continue
        tied = paired_tie(items[i - 1], e, metric, n_boot)
        if tied is None:
            e.rank, e.tie = i + 1, "?"
            untested += 1
        elif tied:
            e.rank, e.tie = items[i - 1].rank, "="
        else:
            e.rank = i + 1
    if untested:
        notes.append(f"{untested} rank(s) marked '?': no paired test (a record lacks per-sample "
                     "results or they are not comparable)")


def paired_tie(a: Entry, b: Entry, metric: str, n_boot: int) -> bool | None:
    """True when the paired difference of `metric` (b - a) is not significant, False when it
    is, None when it cannot be tested (no per-sample results, foreign samples)."""
    if not (a.record.get("per_sample") and b.record.get("per_sample")):
        return None
    try:
        res = compare_records(b.path, a.path, n_boot=n_boot, seed=0)
    except InputError:
        return None
    row = res.get(metric)
    if not row:
        return None
    return bool(row["low"] <= 0.0 <= row["high"])


# ------------------------------------------------------------------------------ cells
def ci_of(rec: dict, metric: str) -> tuple[float, float] | None:
    ci = (rec.get("ci") or {}).get(metric)
    if isinstance(ci, dict) and isinstance(ci.get("low"), (int, float)) \
            and isinstance(ci.get("high"), (int, float)):
        return float(ci["low"]), float(ci["high"])
    return None


def value_cell(rec: dict, metric: str) -> str:
    """'47.36 [46.91, 47.80]' (value and 95% interval) or the value alone, '-' when absent."""
    v = rec["metrics"].get(metric)
    if not isinstance(v, (int, float)):
        return "-"
    ci = ci_of(rec, metric)
    text = format_value(metric, v)
    if ci:
        text += f" [{format_value(metric, ci[0])}, {format_value(metric, ci[1])}]"
    return text


def provenance_of(rec: dict) -> dict:
    """Compact provenance: commit, dirty, seed, cpu seconds (fit + predict), kind."""
    code = rec.get("code") or {}
    prov = rec.get("provenance") or {}
    commit = code.get("git_commit") or rec.get("git_commit") or ""
    cpu = prov.get("cpu_time_s") or {}
    parts = [cpu.get(k) for k in ("fit", "predict") if isinstance(cpu.get(k), (int, float))]
    seed = prov.get("seed", rec.get("seed"))
    return {"commit": str(commit)[:10], "dirty": code.get("git_dirty"),
            "seed": seed, "cpu_s": round(sum(parts), 3) if parts else None,
            "kind": prov.get("kind", "external" if not prov else "")}


def provenance_cell(rec: dict) -> str:
    """'ef7782b886* s0 841.9s' (commit, '*' if dirty, seed, CPU seconds)."""
    p = provenance_of(rec)
    out = (p["commit"] or "?") + ("*" if p["dirty"] else "")
    out += f" s{p['seed']}" if p["seed"] is not None else " s?"
    if p["cpu_s"] is not None:
        out += f" {p['cpu_s']:.1f}s"
    return out


def coverage_cell(rec: dict) -> str:
    cov = rec.get("coverage") or {}
    frac = cov.get("fraction", 1.0)
    return f"{100 * frac:.1f}%" if isinstance(frac, (int, float)) else "?"


# ------------------------------------------------------------------------------ tables
def render(board: Board) -> tuple[str, str]:
    """(markdown, csv) of a board."""
    names = board.metrics
    md = ["# Leaderboard", "",
          "Each metric: value [95% sequence-block bootstrap interval]. Rank: '=' not "
          "significantly different from the row above (paired block bootstrap on the headline "
          "metric), '?' not tested. Provenance: commit ('*' dirty), seed, CPU seconds "
          "(fit + predict).", ""]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["dataset", "protocol", "dataset_fingerprint", "rank", "tie", "method",
                *(c for m in names for c in (m, f"{m}_low", f"{m}_high")), "n", "coverage",
                "posebench", "commit", "dirty", "seed", "cpu_s", "kind", "record"])
    for (dname, pname), items in sorted(board.groups.items()):
        head = headline_of(items[0].record)
        fp = str(items[0].record["dataset"].get("fingerprint", ""))
        md += [f"## {dname} / {pname}", "",
               f"Dataset fingerprint `{fp[:12]}`; sorted by {head}.", ""]
        rows = []
        for e in items:
            rec = e.record
            rows.append([f"{e.rank}{e.tie}", e.name, *(value_cell(rec, m) for m in names),
                         str(rec.get("n_samples", "")), coverage_cell(rec),
                         provenance_cell(rec)])
            p = provenance_of(rec)
            cells = []
            for m in names:
                v, ci = rec["metrics"].get(m), ci_of(rec, m)
                cells += [repr(v) if v is not None else "",
                          *((repr(ci[0]), repr(ci[1])) if ci else ("", ""))]
            w.writerow([dname, pname, fp, e.rank, e.tie, e.name, *cells,
                        rec.get("n_samples", ""), coverage_cell(rec),
                        rec.get("posebench_version", ""), p["commit"],
                        "" if p["dirty"] is None else int(bool(p["dirty"])),
                        "" if p["seed"] is None else p["seed"],
                        "" if p["cpu_s"] is None else p["cpu_s"], p["kind"], e.path.name])
        md.append(tabulate(rows, headers=["rank", "method", *(metric_label(m) for m in names),
                                          "n", "coverage", "provenance"],
                           tablefmt="github", disable_numparse=True))
        md.append("")
    md += [f"note: {n}" for n in board.notes]
    return "\n".join(md).rstrip("\n") + "\n", buf.getvalue()


def build(folder: str | Path, *, ranks: bool = True) -> tuple[str, str, int, list[str]]:
    """(markdown, csv, number of records, notes) for a folder of records."""
    board = collect(folder, ranks=ranks)
    md, table = render(board)
    return md, table, board.n, board.notes


def build_leaderboard(folder: str | Path) -> tuple[str, str, int]:
    """(markdown, csv, number of records) for every result record under `folder`: each metric
    with its 95% interval, ranks with ties from the paired test, coverage and compact
    provenance. Non-record JSON is skipped with a note."""
    md, table, n, _notes = build(folder)
    return md, table, n


def write_leaderboard(folder: str | Path, md_path: str | Path | None = None,
                      csv_path: str | Path | None = None) -> tuple[Path, Path, int]:
    """Build and write LEADERBOARD.md and leaderboard.csv (atomically) for a folder of records."""
    md, table, n = build_leaderboard(folder)
    md_path = Path(md_path or Path(folder) / "LEADERBOARD.md")
    csv_path = Path(csv_path or Path(folder) / "leaderboard.csv")
    for path, text in ((md_path, md), (csv_path, table)):
        with atomic_path(path) as tmp:
            tmp.write_text(text if text.endswith("\n") else text + "\n")
    return md_path, csv_path, n
