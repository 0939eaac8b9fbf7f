"""`posebench check` (regression gate) and `posebench leaderboard build` (tables from records)."""

from __future__ import annotations

import click

from posebench.gate_summary import adjustments, gate_step
from posebench.leaderboard import read_records, write_leaderboard
from posebench.leaderboard_ops import add, reproduce
from posebench.results import GateRefused, gate, load_result, parse_tolerances
from posebench.site import build_site


class RegressionFound(click.ClickException):
    """A metric got worse than the baseline by more than its tolerance (exit code 1)."""

    exit_code = 1


@click.command("check")
@click.argument("result", type=click.Path(dir_okay=False))
@click.option("--against", "baseline", required=True, type=click.Path(dir_okay=False),
              help="Baseline result record (e.g. a leaderboard entry).")
@click.option("--tolerance", "tolerances", multiple=True,
              help="VALUE (all metrics) or METRIC=VALUE, e.g. mpjpe=0.5, pss=0.01 "
                   "(defaults: 0.5 mm, 0.5 points PCK/AUC, 0.005 PSS).")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "json"]),
              default="table", show_default=True,
              help="Output: a table, GitHub markdown or JSON, each naming the rule that fired.")
@click.option("--summary", "summary_path", type=click.Path(dir_okay=False), default=None,
              help="Append a Markdown summary here (default: $GITHUB_STEP_SUMMARY when set).")
@click.option("--require-significant", is_flag=True,
              help="A metric beyond its tolerance regresses only if the paired sequence-block "
                   "test also finds it significant (both records need per-sample results). "
                   "On by default when a trained (torch) method is involved.")
def check_cmd(result, baseline, tolerances, fmt, summary_path, require_significant):
    """Compare RESULT with a baseline: exit 0 ok, 1 regression, 2 bad input or mismatch.

    Fails closed: a NaN or missing metric is a regression (exit 1); records scored on a
    different dataset, protocol, sample coverage or PSS model are refused (exit 2).
    """
    tol = parse_tolerances(tolerances)
    step = gate_step(result, baseline, tol, require_significant=require_significant,
                     summary=summary_path)
    outcome = gate(load_result(result), load_result(baseline), tol)
    if outcome.refused:
        if fmt != "table":
            click.echo(outcome.render(fmt))
        raise GateRefused(*outcome.refused)
    click.echo(outcome.render(fmt))
    for line in adjustments(step):
        click.echo(f"note: {line}")
    if step.exit_code == 1:
        raise RegressionFound(f"{len(step.regressions)} metric(s) failed the gate: "
                              f"{', '.join(step.regressions)}")


@click.group("leaderboard")
def leaderboard() -> None:
    """Leaderboard tables generated from result records."""


@leaderboard.command("build")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--md", "md_path", type=click.Path(dir_okay=False), default=None,
              help="Markdown output (default FOLDER/LEADERBOARD.md).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None,
              help="CSV output (default FOLDER/leaderboard.csv).")
@click.option("--html", "html_dir", type=click.Path(file_okay=False), default=None,
              help="Also write a self-contained static site (index.html, figures) here.")
def build_cmd(folder, md_path, csv_path, html_dir):
    """Build Markdown + CSV tables (and optionally a static site) from every result record
    (*.json) under FOLDER; JSON files that are not records are skipped with a note."""
    md, table, n = write_leaderboard(folder, md_path, csv_path)
    for note in read_records(folder)[1]:
        click.echo(f"note: {note}")
    click.echo(f"{n} records -> {md}, {table}")
    if html_dir:
        index, notes = build_site(folder, html_dir)
        for note in notes:
            click.echo(f"note: {note}")
        click.echo(f"site -> {index}")


@leaderboard.command("reproduce")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--only", "only", multiple=True,
              help="Re-run only this entry (record file stem or method name; repeatable).")
@click.option("--check", is_flag=True,
              help="Re-run and compare without writing: exit 1 if a metric moved (untrained "
                   "rows: not bit-for-bit; trained rows: outside the record's 95% interval and "
                   "beyond tolerance).")
def reproduce_cmd(folder, only, check):
    """Re-run every entry of FOLDER from its record's provenance, re-evaluate, and rewrite the
    records and tables (or, with --check, only compare)."""
    outs = reproduce(folder, only=tuple(only), check=check, echo=click.echo)
    moved = [r.path.name for r in outs if r.moved]
    total = sum(r.seconds for r in outs)
    if moved:
        raise RegressionFound(f"{len(moved)} of {len(outs)} entries did not reproduce: "
                              f"{', '.join(moved)}" + ("" if check else " (records rewritten)"))
    click.echo(f"{len(outs)} entries reproduced in {total:.1f} s"
               + ("" if check else f"; records and tables rewritten in {folder}"))


@leaderboard.command("add")
@click.argument("result", type=click.Path(dir_okay=False))
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Replace an entry of the same file name.")
def add_cmd(result, folder, force):
    """Validate RESULT (complete provenance, no machine paths, the board's dataset and protocol
    fingerprints) and add it, with its per-sample file, to the leaderboard FOLDER."""
    dst = add(result, folder, force=force)
    click.echo(f"added {dst}; tables rebuilt")
