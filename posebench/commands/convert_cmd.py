"""`posebench convert`: another codebase's predictions -> posebench's canonical .npz."""

from __future__ import annotations

import json

import click
import numpy as np

from posebench.commands.eval_cmd import READER_NAMES, reader_flags, reader_options, resolve
from posebench.io import savez_atomic
from posebench.readers import read_predictions


@click.command("convert")
@click.argument("preds", type=click.Path(dir_okay=False))
@click.option("--from", "fmt", type=click.Choice(READER_NAMES), required=True,
              help="Codebase that wrote PREDS (docs/predictions.md).")
@click.option("--dataset", "dataset", default="synth", show_default=True,
              help="Dataset name or folder the predictions are for.")
@click.option("--protocol", "protocol", default=None,
              help="Protocol whose rows are kept (default: the dataset kind's default).")
@click.option("--split", "split", default=None,
              help="Use this split instead of the protocol's (derived protocol NAME@SPLIT).")
@click.option("--select-from-superset", "superset", is_flag=True,
              help="--from posebench: keep only the protocol's rows of a larger file.")
@reader_flags
@click.option("--out", "--output", "out", required=True, type=click.Path(dir_okay=False),
              help="Canonical predictions .npz to write (atomically); --output is an alias.")
def convert_cmd(preds, fmt, dataset, protocol, split, superset, viz_subject, viz_action,
                viz_camera, labels, lt_every, lt_damaged, out):
    """Read PREDS as the codebase wrote it and save posebench's canonical predictions
    (poses_3d mm camera frame, key arrays, joint_names, read_as as JSON text)."""
    ds, _, p = resolve(dataset, protocol, split)
    options = reader_options(fmt, labels, lt_every, lt_damaged,
                             (viz_subject, viz_action, viz_camera))
    result = read_predictions(preds, fmt, ds, p, superset=superset, options=options)
    arrays = {"poses_3d": result.poses_3d}
    if result.keys is not None:
        arrays.update(result.keys)
    if result.index is not None and result.keys is None:
        arrays["index"] = result.index
    if result.joint_names is not None:
        arrays["joint_names"] = np.array(result.joint_names)
    read_as = dict(result.read_as or {})
    read_as["converted_from_sha256"] = result.sha256
    arrays["read_as"] = np.array(json.dumps(read_as, default=str))
    savez_atomic(out, **arrays)
    sel = read_as.get("selected", {})
    click.echo(f"wrote {len(result)} predictions ({fmt} -> posebench, protocol {p.name}"
               + (f"; {sel['of'] - sel['kept']} rows outside the protocol dropped" if sel
                  else "") + f") to {out}")
