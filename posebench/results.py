"""Result records (JSON with provenance), report rendering and the regression gate.

A result record is `Report.record()`: metrics, the protocol in full plus its fingerprint, the
dataset fingerprint, PSS model fingerprints, coverage, version, git commit and time. Records are
written atomically (leaderboards of a folder of records: `posebench.leaderboard`);
`compare_results(result, baseline)` is the CI regression gate (refuses to compare numbers
computed on different data or under different rules).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

from posebench.errors import InputError
from posebench.io import _json_default as default
from posebench.io import write_json_atomic
from posebench.methods import sidecar_path

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


def merge_run_provenance(record: dict, predictions: str | Path) -> dict:
    """`record` with the provenance `posebench run` wrote next to `predictions`
    (``<file>.run.json``): ``record["provenance"]`` (kind "run": method, options, seed, CPU
    time, environment, the regenerating command) and ``record["method"]`` (the run's label).
    Without a sidecar the record is returned unchanged (provenance kind "external"). A sidecar
    that describes another file (sha256), dataset or protocol is refused: InputError."""
    side = sidecar_path(predictions)
    if not side.is_file():
        return record
    try:
        run = json.loads(side.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{side.name} (the provenance written by `posebench run` next to the "
                         f"predictions) is not valid JSON ({exc}); expected the file `posebench "
                         "run` wrote; re-run it or delete the sidecar.") from None
    if not isinstance(run, dict) or not isinstance(run.get("provenance"), dict):
        raise InputError(f"{side.name} next to the predictions is not a `posebench run` "
                         "provenance file (no 'provenance' table); expected the sidecar "
                         "`posebench run --out` writes; re-run it or delete the sidecar.")
    want = (record.get("predictions") or {}).get("sha256")
    if run.get("predictions_sha256") != want:
        raise InputError(f"{side.name} describes a predictions file with sha256 "
                         f"{str(run.get('predictions_sha256'))[:12]}, but the file scored has "
                         f"{str(want)[:12]}; expected the sidecar of this very file; re-run "
                         "`posebench run` or delete the stale sidecar.")
    proto = (record.get("protocol") or {}).get("name")
    if run.get("protocol") not in (None, proto):
        raise InputError(f"the predictions were made by `posebench run` for protocol "
                         f"{run.get('protocol')} but are scored under {proto}; expected the "
                         f"same protocol; pass --protocol {run.get('protocol')}.")
    out = dict(record)
    out["provenance"] = run["provenance"]
    out["method"] = run.get("label") or run["provenance"].get("method")
    return out


# ------------------------------------------------------------------------------ rendering
#: Display order, labels and units of metrics in tables and records.
METRIC_ORDER = ("mpjpe", "p_mpjpe", "n_mpjpe", "pck", "auc")
LABELS = {"mpjpe": "MPJPE", "p_mpjpe": "P-MPJPE", "n_mpjpe": "N-MPJPE", "auc": "AUC",
           "mpjve": "MPJVE"}
UNITS = {"mpjpe": "mm", "p_mpjpe": "mm", "n_mpjpe": "mm", "pck": "%", "auc": "%",
          "mpjve": "mm"}


def metric_label(name: str, pck_threshold: float = 150.0) -> str:
    """Table label of a metric name ('pss@50' -> 'PSS@50', 'pck' -> 'PCK@150')."""
    if name == "pck":
        return f"PCK@{pck_threshold:g}"
    if name.startswith("pss@"):
        return "PSS@" + name[4:]
    return LABELS.get(name, name)


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
    s = report.summary
    if fmt == "json":
        return json.dumps(report.record(), indent=2, default=_json_default)
    names = list(s["metrics"])
    thr = s["protocol"].get("pck_threshold", 150.0)
    if fmt == "csv":
        return _render_csv(report, names)
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
    head = s.get("headline")

    def label(m):  # the protocol's headline metric is marked with '*'
        return metric_label(m, thr) + (" *" if m == head else "")

    ci = s.get("ci") or {}
    lines.append(tabulate([[format_value_ci(m, s["metrics"][m], ci.get(m)) for m in names]],
                          headers=[label(m) for m in names], tablefmt=tablefmt,
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
        lines.append(tabulate(rows, headers=[tname, *(label(c) if c != "n" else "n"
                                                      for c in cols)],
                              tablefmt=tablefmt, disable_numparse=True))
    if head in names:
        lines.append(f"* headline metric of protocol {s['protocol']['name']}")
    for note in s.get("notes", []):
        lines.append(f"note: {note}")
    if cov.get("partial"):
        lines.append(_partial_banner(cov, s["protocol"]["name"]))
    return "\n".join(lines)



def _render_csv(report, names: list[str]) -> str:
    """CSV text of a report: the overall row, then one row per group of every table."""
    s = report.summary
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

def _partial_banner(cov: dict, protocol: str) -> str:
    return (f"!!! PARTIAL: only {cov['covered']} of {cov['expected']} samples "
            f"({100 * cov['fraction']:.1f}%) of protocol {protocol} were scored; not comparable "
            "with full results !!!")


def _json_default(o):
    return default(o)


# ------------------------------------------------------------------------------ regression
#: Rules of the gate, in the order they are tried. Refusals (exit 2) come first: numbers from
#: different data, rules or PSS models are never compared. Then one rule per metric (exit 1
#: for "missing-metric", "not-finite" and "worse-than-tolerance").
GATE_RULES: dict[str, str] = {
    "no-provenance": "a record lacks dataset/protocol provenance",
    "dataset-fingerprint": "the records were scored on different ground truth",
    "protocol-fingerprint": "the records were scored under different protocol rules",
    "coverage": "the records cover different samples",
    "pss-model": "a PSS@k metric was scored with different (or unrecorded) PSS models",
    "no-metrics": "the baseline holds no metric to compare",
    "missing-metric": "a baseline metric is absent from the result (fails closed)",
    "not-finite": "a metric is NaN, inf or not a number in either record (fails closed)",
    "worse-than-tolerance": "the result is worse than the baseline by more than the tolerance",
    "within-tolerance": "the difference is within the tolerance",
    "better-than-tolerance": "the result is better than the baseline by more than the tolerance",
    "not-in-baseline": "a result metric the baseline lacks (reported, not gated)",
}
_FAILING_RULES = ("missing-metric", "not-finite", "worse-than-tolerance")


class GateRefused(InputError):
    """The two records cannot be compared (exit 2); `rule` names the refusal rule."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule


@dataclass
class CheckOutcome:
    """Rows (metric, baseline, result, delta, tolerance, status, rule) and the verdict.

    `refused` is (rule, reason) when the records could not be compared at all (exit 2).
    """

    rows: list[tuple] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    refused: tuple[str, str] | None = None

    @property
    def regressions(self) -> list[str]:
        return [r[0] for r in self.rows if r[6] in _FAILING_RULES]

    @property
    def ok(self) -> bool:
        return self.refused is None and not self.regressions

    @property
    def exit_code(self) -> int:
        """0 no regression, 1 regression (incl. NaN / missing metric), 2 refused."""
        return 2 if self.refused else (0 if self.ok else 1)

    @property
    def verdict(self) -> str:
        if self.refused:
            return f"REFUSED ({self.refused[0]}): {self.refused[1]}"
        if self.ok:
            return "OK: no regression"
        return "REGRESSION in " + ", ".join(
            f"{r[0]} ({r[6]})" for r in self.rows if r[6] in _FAILING_RULES)

    def to_dict(self) -> dict:
        """JSON-ready outcome: verdict, exit code, one entry per metric with the rule that fired."""
        return {"verdict": self.verdict, "exit_code": self.exit_code, "ok": self.ok,
                "refused": None if not self.refused else {"rule": self.refused[0],
                                                          "reason": self.refused[1]},
                "rows": [{"metric": m, "baseline": _num(b), "result": _num(r),
                          "delta": _num(d), "tolerance": t, "status": s, "rule": rule,
                          "rule_text": GATE_RULES[rule]}
                         for m, b, r, d, t, s, rule in self.rows],
                "notes": list(self.notes)}

    def render(self, fmt: str = "table") -> str:
        """The outcome as text ("table"), GitHub markdown ("markdown") or "json"."""
        if fmt == "json":
            return json.dumps(self.to_dict(), indent=2)
        tablefmt = "github" if fmt == "markdown" else "simple"
        body = tabulate([[m, _fmt(b), _fmt(r), _fmt(d, signed=True), _fmt(t), s, rule]
                         for m, b, r, d, t, s, rule in self.rows],
                        headers=["metric", "baseline", "result", "delta", "tolerance", "status",
                                 "rule"], disable_numparse=True, tablefmt=tablefmt)
        lines = [body] if self.rows else []
        lines += [f"note: {n}" for n in self.notes]
        lines.append(f"**{self.verdict}**" if fmt == "markdown" else self.verdict)
        return "\n".join(lines)


def _num(v):
    """JSON-safe number: NaN/inf/non-numbers become their repr string, None stays None."""
    if v is None:
        return None
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return v
    return repr(v)


def _fmt(v, signed: bool = False) -> str:
    if v is None:
        return "-"
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return repr(v)
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
        if not math.isfinite(v) or v < 0:
            raise InputError(f"tolerance '{spec}' is negative or not finite; expected a finite "
                             "value >= 0; use a non-negative tolerance.")
        out[name.strip() or "*"] = v
    return out


def _tolerance(metric: str, tol: dict[str, float]) -> float:
    for key in (metric, "pss" if metric.startswith("pss@") else metric, "*"):
        if key in tol:
            return tol[key]
    return DEFAULT_TOLERANCES.get("pss" if metric.startswith("pss@") else metric, 0.0)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _refusal(result: dict, baseline: dict, tol: dict[str, float]) -> tuple[str, str] | None:
    """(rule, reason) when the records cannot be compared, else None."""
    return _provenance_refusal(result, baseline) or _metrics_refusal(result, baseline, tol)


def _provenance_refusal(result: dict, baseline: dict) -> tuple[str, str] | None:
    """(rule, reason) when the records differ in data, protocol rules or samples covered."""
    for rec, what in ((result, "result"), (baseline, "baseline")):
        if not isinstance(rec.get("dataset"), dict) or not isinstance(rec.get("protocol"), dict):
            return ("no-provenance", f"the {what} record lacks dataset/protocol provenance; "
                    "expected a record from `posebench eval --output`; regenerate it.")
        if not isinstance(rec.get("metrics"), dict):
            return ("no-provenance", f"the {what} record has no metrics table; expected a "
                    "record from `posebench eval --output`; regenerate it.")
    fa, fb = result["dataset"].get("fingerprint"), baseline["dataset"].get("fingerprint")
    if not fa or not fb or fa != fb:
        return ("dataset-fingerprint", f"the result was computed on dataset fingerprint "
                f"{str(fa)[:12]} but the baseline on {str(fb)[:12]}; expected the same ground "
                "truth; re-run the evaluation on the baseline's dataset.")
    try:
        ra = protocol_fingerprint(result["protocol"])
        rb = protocol_fingerprint(baseline["protocol"])
    except (TypeError, AttributeError, ValueError):
        return ("no-provenance", "a record's protocol is malformed; expected the protocol dict "
                "written by `posebench eval --output`; regenerate the record.")
    for rec, what, recomputed in ((result, "result", ra), (baseline, "baseline", rb)):
        stored = rec.get("protocol_fingerprint")
        if stored is not None and stored != recomputed:
            return ("protocol-fingerprint", f"the {what} record's protocol does not match its "
                    f"recorded protocol_fingerprint ({str(stored)[:12]} vs {recomputed[:12]}): "
                    "the record was edited or written by another posebench version; expected "
                    "an untouched record; regenerate it with `posebench eval --out`.")
    pa, pb = ra, rb
    if pa != pb:
        return ("protocol-fingerprint", f"the result used protocol "
                f"{result['protocol'].get('name')} ({str(pa)[:12]}) but the baseline "
                f"{baseline['protocol'].get('name')} ({str(pb)[:12]}); expected identical "
                "protocol rules; evaluate with the baseline's protocol.")
    ca, cb = result.get("coverage") or {}, baseline.get("coverage") or {}
    if not isinstance(ca, dict) or not isinstance(cb, dict) or (
            ca.get("covered"), ca.get("expected")) != (cb.get("covered"), cb.get("expected")):
        ga = ca.get if isinstance(ca, dict) else (lambda _k: None)
        gb = cb.get if isinstance(cb, dict) else (lambda _k: None)
        return ("coverage", f"the result covers {ga('covered')} of {ga('expected')} samples but "
                f"the baseline {gb('covered')} of {gb('expected')}; expected the same samples; "
                "evaluate without --allow-partial.")
    return None


def _metrics_refusal(result: dict, baseline: dict, tol: dict[str, float]
                     ) -> tuple[str, str] | None:
    """(rule, reason) when the baseline has no metrics or a PSS@k metric was scored with
    other PSS models; InputError for a tolerance naming an unknown metric."""
    if not baseline["metrics"]:
        return ("no-metrics", "the baseline record holds no metrics; expected a record from "
                "`posebench eval --output`; regenerate the baseline.")
    known = set(baseline["metrics"]) | set(result["metrics"])
    allowed = known | {"*"} | ({"pss"} if any(m.startswith("pss@") for m in known) else set())
    unknown = sorted(set(tol) - allowed)
    if unknown:
        raise InputError(f"--tolerance names unknown metric(s) {', '.join(unknown)}; expected "
                         f"one of {', '.join(sorted(allowed - {'*'}))} (or a bare VALUE for "
                         "all); fix the spelling.")
    pss_a = _pss_fingerprints(result)
    pss_b = _pss_fingerprints(baseline)
    for metric in baseline["metrics"]:
        if not metric.startswith("pss@") or metric not in result["metrics"]:
            continue
        k = metric[4:]
        a, b = pss_a.get(k), pss_b.get(k)
        if not a or not b or a != b:
            return ("pss-model", f"{metric} of the result was scored with PSS model "
                    f"{str(a)[:12]} but the baseline with {str(b)[:12]}; expected the same "
                    "PSS model (fingerprint); re-run `posebench eval` with the baseline's "
                    "model (--pss-model) or compare records fitted on the same training split.")
    return None


def _pss_fingerprints(rec: dict) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    models = rec.get("pss_models") or []
    if not isinstance(models, list):
        return out
    for m in models:
        if isinstance(m, dict) and "k" in m:
            out[str(m["k"])] = m.get("fingerprint")
    return out


def gate(result: dict, baseline: dict,
         tolerances: dict[str, float] | None = None) -> CheckOutcome:
    """The regression gate's decision, failing closed; never raises for a mismatch.

    A mismatch of dataset, protocol, coverage or PSS model sets `refused` (exit 2). Each
    baseline metric then gets one row and the rule that fired: a metric missing from the
    result, or NaN/inf/non-numeric in either record, is a regression (exit 1). Unknown
    tolerance names raise InputError.
    """
    tol = dict(tolerances or {})
    out = CheckOutcome()
    refused = _refusal(result, baseline, tol)
    if refused:
        out.refused = refused
        return out
    for metric, b in baseline["metrics"].items():
        t = _tolerance(metric, tol)
        if metric not in result["metrics"]:
            out.rows.append((metric, b, None, None, t, "MISSING", "missing-metric"))
            continue
        r = result["metrics"][metric]
        if not (_is_number(r) and _is_number(b)):
            out.rows.append((metric, b, r, None, t, "REGRESSION", "not-finite"))
            continue
        delta = r - b
        worse = delta if metric in LOWER_IS_BETTER else -delta
        if worse > t:
            out.rows.append((metric, b, r, delta, t, "REGRESSION", "worse-than-tolerance"))
        elif worse < -t:
            out.rows.append((metric, b, r, delta, t, "better", "better-than-tolerance"))
        else:
            out.rows.append((metric, b, r, delta, t, "ok", "within-tolerance"))
    for metric in result["metrics"]:
        if metric not in baseline["metrics"]:
            r = result["metrics"][metric]
            out.rows.append((metric, None, r, None, None, "not gated", "not-in-baseline"))
    return out


def compare_results(result: dict, baseline: dict,
                    tolerances: dict[str, float] | None = None) -> CheckOutcome:
    """`gate`, raising `GateRefused` (an InputError, exit 2) when the records cannot be
    compared: different dataset fingerprint, protocol fingerprint, coverage or PSS models."""
    out = gate(result, baseline, tolerances)
    if out.refused:
        raise GateRefused(*out.refused)
    return out
