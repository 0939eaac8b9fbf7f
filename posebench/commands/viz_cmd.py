"""`posebench viz`: figures (sample grids with labels and the 3D skeleton)."""

from __future__ import annotations

import click


@click.group("viz")
def viz() -> None:
    """Figures: sample grids, skeletons."""


@viz.command("sample")
@click.option("--dataset", "dataset", default="synth", show_default=True,
              help="Dataset name or folder.")
@click.option("--split", default="test", show_default=True)
@click.option("--index", default=None, type=click.IntRange(min=0),
              help="Sample (0-based row of the split) whose instant is shown (default: a "
                   "seeded random one).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1))
@click.option("--out", default="grid.png", show_default=True, type=click.Path(dir_okay=False))
def sample_cmd(dataset, split, index, seed, out) -> None:
    """Crops of one instant from all views with the 2D labels drawn, plus the 3D skeleton."""
    from posebench.data.registry import load_dataset
    from posebench.viz import sample_grid

    ds = load_dataset(dataset, split)
    if index is not None and index >= len(ds):
        from posebench.errors import InputError

        raise InputError(f"--index {index} is past the end of split '{split}' of dataset "
                         f"'{ds.name}', which has {len(ds)} samples; expected 0 to "
                         f"{len(ds) - 1}; pick an index in that range.")
    path = sample_grid(ds, out, index=index, seed=seed)
    click.echo(f"wrote {path}")
