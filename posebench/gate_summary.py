"""Markdown step summary of the regression gate, and the "significant only" refinement.

The gate's decision is `posebench.results` (`gate` when present, else `compare_results`); this
module never re-decides a metric from its numbers. It only

- downgrades a "worse than tolerance" row to "not significant" when the paired sequence-block
  test (`posebench.comparison.compare_records`, both records with per-sample results) finds no
  significant difference: with ``require_significant=True``, and by default whenever a trained
  (torch) method is involved, because training is not bit-reproducible across machines;
- for a trained method without per-sample results on both sides, downgrades such a row when
  the result lies inside the baseline's own 95% interval (``record["ci"]``);
- renders the outcome as GitHub Markdown (`$GITHUB_STEP_SUMMARY` or a file): each metric's
  baseline, result, delta, the delta's paired 95% interval (or the baseline's interval), the
  tolerance and the status.

Exit codes stay the gate's: 0 no regression, 1 regression, 2 refused.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from posebench import results
from posebench.comparison import compare_records
from posebench.errors import InputError
from posebench.results import load_result

#: Methods that train with torch (their numbers move across machines), for records that predate
#: provenance (`record["run"]["method"]`).
TRAINED_METHODS = ("simple-baseline", "epipolarpose")
FAILING = ("REGRESSION", "MISSING")


@dataclass
class SummaryRow:
    metric: str
    baseline: object
    result: object
    delta: object
    tolerance: object
    status: str
    rule: str
    interval: tuple[float, float] | None = None
    interval_kind: str = ""  # "paired" (delta interval) or "baseline" (baseline's interval)
    p_value: float | None = None


@dataclass
class Summary:
    rows: list[SummaryRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    refused: tuple[str, str] | None = None
    trained: bool = False
    significance: str = "off"  # "off" | "requested" | "trained"

    @property
    def regressions(self) -> list[str]:
        return [r.metric for r in self.rows if r.status in FAILING]

    @property
    def exit_code(self) -> int:
        return 2 if self.refused else (1 if self.regressions else 0)


def format_p(p: float) -> str:
    """A p-value for people: three decimals, or two significant digits below 0.01 (a block
    bootstrap's smallest p, 1/(n_boot + 1), is 0.0005 at 2,000 replicates, never 0)."""
    return f"{p:.3f}" if p >= 0.01 else f"{p:.2g}"


def is_trained(rec: dict) -> bool:
    """True when a record's predictions come from a torch-trained method."""
    prov = rec.get("provenance") or {}
    env = prov.get("environment") or {}
    if prov.get("kind") == "reproduce" or env.get("torch_threads") is not None:
        return True
    method = prov.get("method") or (rec.get("run") or {}).get("method") or ""
    return str(method) in TRAINED_METHODS


def _decide(result: dict, baseline: dict, tolerances: dict):
    """The gate's own decision object (CheckOutcome) and its refusal, if any."""
    gate = getattr(results, "gate", None)
    if gate is not None:
        out = gate(result, baseline, tolerances)
        return out, getattr(out, "refused", None)
    try:
        return results.compare_results(result, baseline, tolerances), None
    except InputError as exc:
        return results.CheckOutcome(), (getattr(exc, "rule", "refused"), str(exc))


def _paired(result_path, baseline_path, n_boot: int) -> tuple[dict | None, str | None]:
    try:
        return compare_records(result_path, baseline_path, n_boot=n_boot, seed=0), None
    except InputError as exc:
        return None, f"paired test not run: {exc}"


def summarize(result_path: str | Path, baseline_path: str | Path,
              tolerances: dict | None = None, *, require_significant: bool = False,
              n_boot: int = 2000) -> Summary:
    """The gate's decision for two record files, with the significance refinement."""
    result, baseline = load_result(result_path), load_result(baseline_path)
    outcome, refused = _decide(result, baseline, dict(tolerances or {}))
    s = Summary(notes=list(getattr(outcome, "notes", [])), refused=refused)
    if refused:
        return s
    s.trained = is_trained(result) or is_trained(baseline)
    s.significance = "requested" if require_significant else ("trained" if s.trained else "off")
    for row in outcome.rows:
        m, b, r, d, t, status = row[:6]
        rule = row[6] if len(row) > 6 else ("missing-metric" if status == "MISSING" else "")
        s.rows.append(SummaryRow(m, b, r, d, t, status, rule))
    paired, why = (None, None)
    if s.significance != "off" or any(
            rec.get("per_sample") for rec in (result, baseline)):
        if result.get("per_sample") and baseline.get("per_sample"):
            paired, why = _paired(result_path, baseline_path, n_boot)
        else:
            why = "paired test not run: a record has no per-sample results"
    if why and s.significance != "off":
        s.notes.append(why)
    for row in s.rows:
        pr = (paired or {}).get(row.metric)
        if pr:
            row.interval, row.interval_kind = (float(pr["low"]), float(pr["high"])), "paired"
            row.p_value = float(pr["p_value"])
        else:
            ci = (baseline.get("ci") or {}).get(row.metric)
            if isinstance(ci, dict) and _finite(ci.get("low")) and _finite(ci.get("high")):
                row.interval, row.interval_kind = (float(ci["low"]), float(ci["high"])), \
                    "baseline"
        if row.status != "REGRESSION" or row.rule not in ("worse-than-tolerance", "") \
                or s.significance == "off" or row.interval is None:
            continue
        if row.interval_kind == "paired" and row.interval[0] <= 0.0 <= row.interval[1]:
            row.status, row.rule = "not significant", "within-paired-interval"
        elif (row.interval_kind == "baseline" and s.significance == "trained"
              and _finite(row.result)
              and row.interval[0] <= float(row.result) <= row.interval[1]):
            row.status, row.rule = "within CI", "within-baseline-interval"
    if s.significance == "trained":
        s.notes.append("a trained (torch) method is involved: a tolerance breach counts only "
                       "when the paired test finds it significant (or, without per-sample "
                       "results, when the result leaves the baseline's 95% interval); torch "
                       "training is not bit-reproducible across machines")
    return s


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _f(v, signed: bool = False, digits: int = 3) -> str:
    if v is None:
        return "-"
    if not _finite(v):
        return repr(v)
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


_ICON = {"REGRESSION": ":x: regression", "MISSING": ":x: missing", "ok": ":white_check_mark: ok",
         "better": ":rocket: better", "not significant": ":white_check_mark: not significant",
         "within CI": ":white_check_mark: within CI", "not gated": "not gated"}


def render_markdown(s: Summary, result_name: str, baseline_name: str) -> str:
    """GitHub-flavoured Markdown of a summary (for $GITHUB_STEP_SUMMARY)."""
    if s.refused:
        head = f"### posebench check: :no_entry: refused ({s.refused[0]})"
        return "\n".join([head, "", f"`{result_name}` vs `{baseline_name}`", "",
                          s.refused[1], "", "Exit code 2: the records cannot be compared."]) + "\n"
    verdict = (":white_check_mark: no regression" if not s.regressions else
               f":x: regression in {', '.join(s.regressions)}")
    lines = [f"### posebench check: {verdict}", "",
             f"`{result_name}` (result) vs `{baseline_name}` (baseline); delta = result - "
             "baseline; interval: paired 95% sequence-block bootstrap of the delta (paired) or "
             "the baseline's 95% interval (baseline).", "",
             "| metric | baseline | result | delta | 95% interval | tolerance | status |",
             "|---|---|---|---|---|---|---|"]
    for r in s.rows:
        iv = "-"
        if r.interval:
            iv = f"[{_f(r.interval[0], r.interval_kind == 'paired')}, " \
                 f"{_f(r.interval[1], r.interval_kind == 'paired')}] ({r.interval_kind}"
            iv += f", p={format_p(r.p_value)})" if r.p_value is not None else ")"
        lines.append(f"| {r.metric} | {_f(r.baseline)} | {_f(r.result)} | "
                     f"{_f(r.delta, signed=True)} | {iv} | {_f(r.tolerance)} | "
                     f"{_ICON.get(r.status, r.status)} |")
    lines += ["", *(f"- {n}" for n in s.notes)] if s.notes else []
    lines += ["", f"Exit code {s.exit_code}."]
    return "\n".join(lines) + "\n"


def write_summary(text: str, path: str | Path | None) -> Path | None:
    """Append `text` to `path`, or to $GITHUB_STEP_SUMMARY when `path` is None and it is set
    (GitHub appends every step's summary to one page)."""
    target = path or os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    target = Path(target)
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(text)
    return target


def adjustments(s: Summary) -> list[str]:
    """One line per row whose gate status the significance refinement changed."""
    out = []
    for r in s.rows:
        if r.rule == "within-paired-interval":
            out.append(f"{r.metric}: beyond tolerance but not significant (paired 95% interval "
                       f"[{r.interval[0]:+.3f}, {r.interval[1]:+.3f}] contains 0, "
                       f"p={format_p(r.p_value)}): not a regression")
        elif r.rule == "within-baseline-interval":
            out.append(f"{r.metric}: beyond tolerance but inside the baseline's 95% interval "
                       f"[{r.interval[0]:.3f}, {r.interval[1]:.3f}] (trained method): not a "
                       "regression")
    return out


def gate_step(result_path, baseline_path, tolerances: dict | None = None, *,
              require_significant: bool = False, summary: str | Path | None = None) -> Summary:
    """`summarize` and write its Markdown to `summary` or $GITHUB_STEP_SUMMARY (when set)."""
    s = summarize(result_path, baseline_path, tolerances,
                  require_significant=require_significant)
    write_summary(render_markdown(s, Path(result_path).name, Path(baseline_path).name), summary)
    return s
