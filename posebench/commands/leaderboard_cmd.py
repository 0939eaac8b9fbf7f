"""`posebench check` (regression gate) and `posebench leaderboard build` (tables from records)."""

from __future__ import annotations

import click


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
def check_cmd(result, baseline, tolerances, fmt):
    """Compare RESULT with a baseline: exit 0 ok, 1 regression, 2 bad input or mismatch.

    Fails closed: a NaN or missing metric is a regression (exit 1); records scored on a
    different dataset, protocol, sample coverage or PSS model are refused (exit 2).
    """
    from posebench.results import GateRefused, gate, load_result, parse_tolerances

    outcome = gate(load_result(result), load_result(baseline), parse_tolerances(tolerances))
    if outcome.refused:
        if fmt != "table":
            click.echo(outcome.render(fmt))
        raise GateRefused(*outcome.refused)
    click.echo(outcome.render(fmt))
    if not outcome.ok:
        raise RegressionFound(f"{len(outcome.regressions)} metric(s) failed the gate: "
                              f"{', '.join(outcome.regressions)}")


@click.group("leaderboard")
def leaderboard() -> None:
    """Leaderboard tables generated from result records."""


@leaderboard.command("build")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--md", "md_path", type=click.Path(dir_okay=False), default=None,
              help="Markdown output (default FOLDER/LEADERBOARD.md).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None,
              help="CSV output (default FOLDER/leaderboard.csv).")
def build_cmd(folder, md_path, csv_path):
    """Build Markdown + CSV tables from every result record (*.json) under FOLDER."""
    from posebench.results import write_leaderboard

    md, table, n = write_leaderboard(folder, md_path, csv_path)
    click.echo(f"{n} records -> {md}, {table}")
