"""`posebench data`: list, prepare (Human3.6M, MPI-INF-3DHP) and synth (embedded benchmark)."""

from __future__ import annotations

import click
from tabulate import tabulate

from posebench.cli import LazyGroup
from posebench.data.registry import list_datasets, posebench_home

DATA_COMMANDS = {
    "prepare": ("posebench.commands.prepare_cmd", "prepare",
                "Convert Human3.6M / MPI-INF-3DHP files into the canonical format."),
    "synth": ("posebench.commands.synth_cmd", "synth",
              "Generate the embedded synthetic multi-view benchmark."),
}


@click.group(cls=LazyGroup, lazy=DATA_COMMANDS)
def data() -> None:
    """Datasets under $POSEBENCH_HOME/datasets (default ~/.cache/posebench)."""


@data.command("list")
def list_cmd() -> None:
    """List prepared datasets with their splits, sizes and fingerprints."""
    rows = []
    for meta in list_datasets():
        for split, info in meta.get("splits", {}).items():
            rows.append([meta["name"], meta.get("kind", ""), split, info.get("num_samples"),
                         "yes" if info.get("has_images") else "no",
                         info.get("fingerprint", "")[:12], meta["path"]])
    if not rows:
        click.echo(f"no datasets under {posebench_home() / 'datasets'} (the built-in 'synth' is "
                   "generated on first use; `posebench data prepare` converts Human3.6M / 3DHP)")
        return
    click.echo(tabulate(rows, headers=["name", "kind", "split", "samples", "images",
                                       "fingerprint", "path"]))
