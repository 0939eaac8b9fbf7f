"""`posebench methods` (list registered methods) and `posebench run METHOD` (fit + predict)."""

from __future__ import annotations

import sys

import click
from tabulate import tabulate

from posebench.methods import describe_methods, parse_options, run_method, write_predictions


@click.command("methods")
@click.option("--verbose", "-v", is_flag=True, help="Also show each method's options and source.")
def methods_cmd(verbose: bool) -> None:
    """List registered methods (built-ins and the 'posebench.methods' entry points) with what
    each needs from a dataset."""
    rows = []
    for m in describe_methods():
        needs = ", ".join(m["needs"]) if not m["error"] else "(could not load)"
        desc = m["description"].splitlines()[0] if m["description"] else m["error"]
        row = [m["name"], needs, desc]
        if verbose:
            opts = " ".join(f"{k}={v}" for k, v in m["options"].items())
            row += [opts, m["target"]]
        rows.append(row)
    headers = ["method", "needs", "description"] + (["options", "source"] if verbose else [])
    click.echo(tabulate(rows, headers=headers))


@click.command("run")
@click.argument("method")
@click.option("--dataset", default="synth", show_default=True,
              help="Dataset name (e.g. synth) or dataset folder.")
@click.option("--protocol", default=None, help="Protocol (default: the dataset kind's default).")
@click.option("--train-split", default="train", show_default=True,
              help="Split the method is fitted on.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1),
              help="Seed of every random choice.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Method option (repeatable); see `posebench methods --verbose`.")
@click.option("--no-cache", is_flag=True, help="Refit even when a cached fit exists.")
@click.option("--label", default=None,
              help="Name shown on leaderboards (default: the method's name); kept in the "
                   "provenance sidecar that `posebench eval --out` merges.")
@click.option("--out", "--output", "out", required=True, type=click.Path(dir_okay=False),
              help="Predictions file to write (.npz with poses_3d and index); --output is an "
                   "alias.")
def run_cmd(method: str, dataset: str, protocol: str | None, train_split: str, seed: int,
            options: tuple[str, ...], no_cache: bool, label: str | None, out: str) -> None:
    """Fit METHOD on the training split (cached by config hash, seed and training data) and
    write its predictions for the protocol's rows, which `posebench eval` scores."""
    if sys.stderr.isatty():  # long fits also draw a tqdm bar there (trainers check isatty)
        click.echo(f"{method}: fitting on {dataset}/{train_split} unless a cached fit "
                   "exists ...", err=True)
    result = run_method(method, dataset, protocol=protocol, train_split=train_split, seed=seed,
                        options=parse_options(options), use_cache=not no_cache)
    path = write_predictions(result, out, label=label)
    fit = result.fit
    if fit is None:
        fit_msg = "fit: none needed"
    elif fit.from_cache:
        fit_msg = f"fit: restored from cache {fit.cache_dir.name}"
    else:
        fit_msg = f"fit: {fit.cpu_s:.2f} s CPU ({fit.wall_s:.2f} s wall)"
    click.echo(f"{result.method}: {len(result.index)} predictions for protocol "
               f"'{result.protocol}' of '{result.dataset}' -> {path}")
    click.echo(f"{fit_msg}; predict: {result.predict_cpu_s:.2f} s CPU "
               f"({result.predict_wall_s:.2f} s wall)")
