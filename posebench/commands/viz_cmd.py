"""`posebench viz`: figures (sample grids with labels and the 3D skeleton)."""

from __future__ import annotations

import click

from posebench.commands.eval_cmd import READER_NAMES, resolve
from posebench.data.registry import load_dataset
from posebench.errors import InputError
from posebench.evaluation import ground_truth_of
from posebench.predictions import match_to_ground_truth
from posebench.readers import read_predictions
from posebench.skeletons import convert, get_skeleton
from posebench.viz import prediction_overlay, sample_grid


@click.group("viz")
def viz() -> None:
    """Figures: sample grids, predictions over ground truth."""


@viz.command("sample")
@click.option("--dataset", "dataset", default="synth", show_default=True,
              help="Dataset name or folder.")
@click.option("--split", default="test", show_default=True, help="Split to draw from.")
@click.option("--index", default=None, type=click.IntRange(min=0),
              help="Sample (0-based row of the split) whose instant is shown (default: a "
                   "seeded random one).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1),
              help="Seed of the random instant.")
@click.option("--out", "--output", "out", default="grid.png", show_default=True,
              type=click.Path(dir_okay=False), help="Figure path (PNG); --output is an alias.")
def sample_cmd(dataset, split, index, seed, out) -> None:
    """Crops of one instant from all views with the 2D labels drawn, plus the 3D skeleton."""
    ds = load_dataset(dataset, split)
    if index is not None and index >= len(ds):
        raise InputError(f"--index {index} is past the end of split '{split}' of dataset "
                         f"'{ds.name}', which has {len(ds)} samples; expected 0 to "
                         f"{len(ds) - 1}; pick an index in that range.")
    path = sample_grid(ds, out, index=index, seed=seed)
    click.echo(f"wrote {path}")


@viz.command("predictions")
@click.argument("preds", type=click.Path(dir_okay=False))
@click.option("--from", "fmt", default="posebench", show_default=True,
              type=click.Choice(READER_NAMES),
              help="Layout of PREDS (as for `posebench eval --from`).")
@click.option("--dataset", "dataset", default="synth", show_default=True,
              help="Dataset name or folder.")
@click.option("--protocol", "protocol", default=None,
              help="Protocol (default: the dataset kind's default).")
@click.option("--split", "split", default=None,
              help="Use this split instead of the protocol's (derived protocol NAME@SPLIT).")
@click.option("--labels", type=click.Path(dir_okay=False), default=None,
              help="--from learnable-triangulation: its label .npy.")
@click.option("--count", default=3, show_default=True, type=int,
              help="Samples drawn in 3D (best, median, worst by MPJPE).")
@click.option("--out", "--output", "out", default="predictions.png", show_default=True,
              type=click.Path(dir_okay=False), help="Figure path (PNG); --output is an alias.")
def predictions_cmd(preds, fmt, dataset, protocol, split, labels, count, out) -> None:
    """Draw predictions over ground truth: 3D overlays and per-joint error (covered samples
    only), so a left/right or joint-order mix-up is visible at a glance."""
    ds, _, p = resolve(dataset, protocol, split)
    options = {"labels": labels} if fmt == "learnable-triangulation" else None
    pr = read_predictions(preds, fmt, ds, p, options=options)
    m = match_to_ground_truth(pr, ds, p, allow_partial=True)
    gt_all, _ = ground_truth_of(ds, p, [])
    src, dst = get_skeleton(ds.skeleton), get_skeleton(p.eval_skeleton)
    g = gt_all[m.rows]
    gt = convert(g, src, dst) - g[:, src.index(p.root)][:, None]
    k = ds.keys.take(m.rows)
    titles = [f"{s} {a} trial {t} cam {c} frame {f}" for s, a, t, c, f in
              zip(k.subject, k.action, k.subaction, k.camera, k.frame)]
    info = prediction_overlay(m.poses - m.root[:, None], gt, dst, titles, out, count)
    worst = max(info["per_joint_mm"], key=info["per_joint_mm"].get)
    click.echo(f"wrote {info['path']} ({len(m.rows)} samples; largest per-joint error "
               f"{worst} {info['per_joint_mm'][worst]:.1f} mm)")
