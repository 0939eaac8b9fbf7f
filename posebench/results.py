"""Result records (JSON with provenance), report rendering, leaderboards and the regression gate.

A result record is `Report.record()`: metrics, the protocol in full plus its fingerprint, the
dataset fingerprint, PSS model fingerprints, coverage, version, git commit and time. Records are
written atomically. `build_leaderboard(folder)` turns a folder of records into Markdown + CSV;
`compare_results(result, baseline)` is the CI regression gate (refuses to compare numbers
computed on different data or under different rules).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from posebench.errors import InputError

RESULT_FORMAT = "posebench-result"
LOWER_IS_BETTER = ("mpjpe", "p_mpjpe", "n_mpjpe")
#: Default regression tolerances: mm for errors, percentage points for PCK/AUC, PSS fraction.
DEFAULT_TOLERANCES = {"mpjpe": 0.5, "p_mpjpe": 0.5, "n_mpjpe": 0.5, "pck": 0.5, "auc": 0.5,
                      "pss": 0.005}
# Protocol fields that do not change any number (left out of the fingerprint).
_COSMETIC_FIELDS = ("name", "description", "source")
_COSMETIC_EXTRA = ("breakdowns", "headline")


def protocol_fingerprint(protocol: dict) -> str:
    """sha256 of the number-changing fields of a protocol dict (`Protocol.to_dict()`)."""
    d = {k: v for k, v in protocol.items() if k not in _COSMETIC_FIELDS}
    d["extra"] = {k: v for k, v in dict(d.get("extra") or {}).items()
                  if k not in _COSMETIC_EXTRA}
    d["metrics"] = sorted(d.get("metrics") or [])  # display order changes no number
    blob = json.dumps(d, sort_keys=True, default=list, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


# ------------------------------------------------------------------------------ records io
def write_result(path: str | Path, record: dict) -> Path:
    """Write a result record as JSON atomically (never half-written)."""
    from posebench.io import write_json_atomic

    write_json_atomic(path, record)
    return Path(path)


def load_result(path: str | Path) -> dict:
    """Read a result record; InputError for missing, malformed or foreign JSON."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"result file {path} does not exist; expected a JSON record written by "
                         "`posebench eval --output`; check the path.")
    try:
        rec = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not valid JSON ({exc}); expected a result record written by "
                         "`posebench eval --output`; re-create it.") from None
    if not isinstance(rec, dict) or rec.get("format") != RESULT_FORMAT or "metrics" not in rec:
        raise InputError(f"{path} is not a posebench result record (no format "
                         f"'{RESULT_FORMAT}' with metrics); expected a file written by "
                         "`posebench eval --output`; point at such a file.")
    return rec


# ------------------------------------------------------------------------------ rendering
def format_value(name: str, value: float) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if name.startswith("pss@") else f"{value:.2f}"


def format_value_ci(name: str, value: float, ci: dict | None) -> str:
    """'76.16 [63.40, 89.10]': value and interval (value alone without an interval)."""
    text = format_value(name, value)
    if ci and ci.get("low") is not None and ci.get("high") is not None:
        text += f" [{format_value(name, ci['low'])}, {format_value(name, ci['high'])}]"
    return text


def render_report(report, fmt: str = "table") -> str:
    """Text of a `Report` as table | markdown | csv | json."""
    from tabulate import tabulate

    from posebench.evaluation import metric_label

    s = report.summary
    if fmt == "json":
        return json.dumps(report.record(), indent=2, default=_json_default)
    names = list(s["metrics"])
    thr = s["protocol"].get("pck_threshold", 150.0)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["table", "group", "n", *names])
        w.writerow(["overall", "all", s["n_samples"], *(repr(s["metrics"][m]) for m in names)])
        for tname, df in report.per_group.items():
            for group, row in df.iterrows():
                n = int(row["n"]) if "n" in df.columns else ""
                w.writerow([tname, group, n, *(repr(float(row[m])) if m in df.columns else ""
                                                for m in names)])
        return buf.getvalue().rstrip("\n")
    if fmt not in ("table", "markdown"):
        raise InputError(f"unknown format '{fmt}'; expected table, markdown, csv or json; pick "
                         "one of those.")
    tablefmt = "github" if fmt == "markdown" else "simple"
    cov = s["coverage"]
    ds = s["dataset"]
    lines = []
    if cov.get("partial"):
        lines.append(_partial_banner(cov, s["protocol"]["name"]))
    lines.append(f"dataset {ds['name']} ({ds['split']}, {ds['fingerprint'][:12]})  protocol "
                 f"{s['protocol']['name']}  samples {s['n_samples']}  aggregation "
                 f"{s['protocol']['aggregation']}  (errors mm, PCK/AUC %, PSS fraction)")
    ci = s.get("ci") or {}
    lines.append(tabulate([[format_value_ci(m, s["metrics"][m], ci.get(m)) for m in names]],
                          headers=[metric_label(m, thr) for m in names], tablefmt=tablefmt,
                          disable_numparse=True))
    if ci:
        first = next(iter(ci.values()))
        lines.append(f"[{100 * first['level']:g}% interval: {first['method']}, "
                     f"{first['blocks']} blocks, {first['n_boot']} replicates]")
    for m in s.get("pss_models", []):
        if m.get("clustering_sd") is not None:
            lines.append(f"PSS@{m['k']}: clustering sd {m['clustering_sd']:.4f} (mean of "
                         f"{m['members']} k-means models; one model {m['member_sd']:.4f}), "
                         f"binomial sampling sd {m['binomial_sd']:.4f}")
    for tname, df in report.per_group.items():
        cols = [c for c in df.columns]
        rows = [[str(g), *(str(int(r[c])) if c == "n" else format_value(c, float(r[c]))
                           for c in cols)] for g, r in df.iterrows()]
        lines.append("")
        lines.append(f"per {tname}:")
        lines.append(tabulate(rows, headers=[tname, *(metric_label(c, thr) if c != "n" else "n"
                                                      for c in cols)],
                              tablefmt=tablefmt, disable_numparse=True))
    for note in s.get("notes", []):
        lines.append(f"note: {note}")
    if cov.get("partial"):
        lines.append(_partial_banner(cov, s["protocol"]["name"]))
    return "\n".join(lines)


def _partial_banner(cov: dict, protocol: str) -> str:
    return (f"!!! PARTIAL: only {cov['covered']} of {cov['expected']} samples "
            f"({100 * cov['fraction']:.1f}%) of protocol {protocol} were scored; not comparable "
            "with full results !!!")


def _json_default(o):
    from posebench.io import _json_default as default

    return default(o)


# ------------------------------------------------------------------------------ leaderboard
def build_leaderboard(folder: str | Path) -> tuple[str, str, int]:
    """(markdown, csv, number of records) for every result record under `folder`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; expected a folder of result records "
                         "(JSON from `posebench eval --output`); check the path.")
    records = []
    for p in sorted(folder.rglob("*.json")):
        rec = load_result(p)
        name = rec.get("method") or p.stem
        if rec.get("variant"):
            name = f"{name} [{rec['variant']}]"
        records.append((name, rec))
    if not records:
        raise InputError(f"{folder} holds no result records (*.json); expected files written by "
                         "`posebench eval --output`; add some first.")
    from tabulate import tabulate

    from posebench.evaluation import metric_label

    metric_names: list[str] = []
    for _, rec in records:
        metric_names += [m for m in rec["metrics"] if m not in metric_names]
    groups: dict[tuple[str, str], list] = {}
    for name, rec in records:
        key = (rec["dataset"]["name"], rec["protocol"]["name"])
        groups.setdefault(key, []).append((name, rec))
    md, rows_csv = ["# Leaderboard", ""], []
    header = ["method", *metric_names, "n", "coverage", "posebench", "commit", "date"]
    for (dname, pname), items in sorted(groups.items()):
        headline = items[0][1].get("headline", "mpjpe")
        sign = 1.0 if headline in LOWER_IS_BETTER else -1.0
        items.sort(key=lambda it: sign * it[1]["metrics"].get(headline, float("inf") * sign))
        rows = []
        for name, rec in items:
            cov = rec.get("coverage", {})
            row = [name, *(rec["metrics"].get(m) for m in metric_names), rec.get("n_samples"),
                   f"{100 * cov.get('fraction', 1.0):.1f}%", rec.get("posebench_version", ""),
                   (rec.get("git_commit") or "")[:10], (rec.get("timestamp") or "")[:10]]
            rows.append(row)
            rows_csv.append([dname, pname, rec["dataset"].get("fingerprint", ""), *row])
        fp = items[0][1]["dataset"].get("fingerprint", "")[:12]
        md += [f"## {dname} / {pname}", "",
               f"Dataset fingerprint `{fp}`; sorted by {headline}.", ""]
        shown = [[r[0], *(format_value(m, v) if v is not None else "-"
                          for m, v in zip(metric_names, r[1:1 + len(metric_names)])),
                  *r[1 + len(metric_names):]] for r in rows]
        md.append(tabulate(shown, headers=["method", *(metric_label(m) for m in metric_names),
                                           *header[1 + len(metric_names):]],
                           tablefmt="github", disable_numparse=True))
        md.append("")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["dataset", "protocol", "dataset_fingerprint", *header])
    w.writerows(rows_csv)
    return "\n".join(md), buf.getvalue(), len(records)


def write_leaderboard(folder: str | Path, md_path: str | Path | None = None,
                      csv_path: str | Path | None = None) -> tuple[Path, Path, int]:
    """Build and write LEADERBOARD.md and leaderboard.csv (atomically) for a folder of records."""
    from posebench.io import atomic_path

    md, table, n = build_leaderboard(folder)
    md_path = Path(md_path or Path(folder) / "LEADERBOARD.md")
    csv_path = Path(csv_path or Path(folder) / "leaderboard.csv")
    for path, text in ((md_path, md), (csv_path, table)):
        with atomic_path(path) as tmp:
            tmp.write_text(text if text.endswith("\n") else text + "\n")
    return md_path, csv_path, n


# ------------------------------------------------------------------------------ regression
@dataclass
class CheckOutcome:
    """Rows (metric, baseline, result, delta, tolerance, status) and the overall verdict."""

    rows: list[tuple] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[str]:
        return [r[0] for r in self.rows if r[5] in ("REGRESSION", "MISSING")]

    @property
    def ok(self) -> bool:
        return not self.regressions

    def render(self) -> str:
        from tabulate import tabulate

        body = tabulate([[m, _fmt(b), _fmt(r), _fmt(d, signed=True), _fmt(t), s]
                         for m, b, r, d, t, s in self.rows],
                        headers=["metric", "baseline", "result", "delta", "tolerance", "status"],
                        disable_numparse=True)
        verdict = ("OK: no regression" if self.ok else
                   f"REGRESSION in {', '.join(self.regressions)}")
        return "\n".join([body, *(f"note: {n}" for n in self.notes), verdict])


def _fmt(v, signed: bool = False) -> str:
    if v is None:
        return "-"
    return f"{v:+.4f}" if signed else f"{v:.4f}"


def parse_tolerances(specs: tuple[str, ...] | list[str]) -> dict[str, float]:
    """'0.2' (every metric) or 'METRIC=VALUE' ('mpjpe=0.5', 'pss=0.01', 'pss@50=0.01')."""
    out: dict[str, float] = {}
    for spec in specs:
        name, _, value = spec.rpartition("=")
        try:
            v = float(value)
        except ValueError:
            raise InputError(f"tolerance '{spec}' is not a number; expected VALUE or METRIC=VALUE "
                             "(e.g. mpjpe=0.5); fix the --tolerance option.") from None
        if v < 0:
            raise InputError(f"tolerance '{spec}' is negative; expected a value >= 0; use a "
                             "non-negative tolerance.")
        out[name or "*"] = v
    return out


def _tolerance(metric: str, tol: dict[str, float]) -> float:
    for key in (metric, "pss" if metric.startswith("pss@") else metric, "*"):
        if key in tol:
            return tol[key]
    return DEFAULT_TOLERANCES.get("pss" if metric.startswith("pss@") else metric, 0.0)


def compare_results(result: dict, baseline: dict,
                    tolerances: dict[str, float] | None = None) -> CheckOutcome:
    """Compare a result record with a baseline record metric by metric.

    Raises InputError when the two were computed on different data (dataset fingerprint),
    under different rules (protocol fingerprint) or with different coverage.
    """
    tol = dict(tolerances or {})
    for rec, what in ((result, "result"), (baseline, "baseline")):
        if "dataset" not in rec or "protocol" not in rec:
            raise InputError(f"the {what} record lacks dataset/protocol provenance; expected a "
                             "record from `posebench eval --output`; regenerate it.")
    fa, fb = result["dataset"].get("fingerprint"), baseline["dataset"].get("fingerprint")
    if fa != fb:
        raise InputError(f"the result was computed on dataset fingerprint {str(fa)[:12]} but the "
                         f"baseline on {str(fb)[:12]}; expected the same ground truth; re-run "
                         "the evaluation on the baseline's dataset.")
    pa = result.get("protocol_fingerprint") or protocol_fingerprint(result["protocol"])
    pb = baseline.get("protocol_fingerprint") or protocol_fingerprint(baseline["protocol"])
    if pa != pb:
        raise InputError(f"the result used protocol {result['protocol'].get('name')} "
                         f"({pa[:12]}) but the baseline {baseline['protocol'].get('name')} "
                         f"({pb[:12]}); expected identical protocol rules; evaluate with the "
                         "baseline's protocol.")
    ca, cb = result.get("coverage", {}), baseline.get("coverage", {})
    if ca.get("covered") != cb.get("covered") or ca.get("expected") != cb.get("expected"):
        raise InputError(f"the result covers {ca.get('covered')} of {ca.get('expected')} samples "
                         f"but the baseline {cb.get('covered')} of {cb.get('expected')}; "
                         "expected the same samples; evaluate without --allow-partial.")
    pss_a = {m["k"]: m.get("fingerprint") for m in result.get("pss_models", [])}
    pss_b = {m["k"]: m.get("fingerprint") for m in baseline.get("pss_models", [])}
    out = CheckOutcome()
    for metric, b in baseline["metrics"].items():
        t = _tolerance(metric, tol)
        if metric.startswith("pss@"):
            k = int(metric[4:])
            if pss_a.get(k) != pss_b.get(k):
                out.notes.append(f"{metric} not compared: the PSS models differ "
                                 f"({str(pss_a.get(k))[:12]} vs {str(pss_b.get(k))[:12]})")
                continue
        if metric not in result["metrics"]:
            out.rows.append((metric, b, None, None, t, "MISSING"))
            continue
        r = result["metrics"][metric]
        delta = r - b
        worse = delta if metric in LOWER_IS_BETTER else -delta
        status = "REGRESSION" if worse > t else ("better" if worse < -t else "ok")
        out.rows.append((metric, b, r, delta, t, status))
    return out
