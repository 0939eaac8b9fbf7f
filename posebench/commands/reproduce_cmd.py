"""`posebench reproduce epipolarpose`: train and evaluate the bundled reference end to end.

torch is imported only inside the command function (through reference_models), so
`posebench --help` stays fast and torch-free.
"""

from __future__ import annotations

import click

from posebench.errors import InputError
from reference_models.epipolarpose.pipeline import VARIANTS
from reference_models.epipolarpose.pipeline import reproduce as reproduce_run


@click.group()
def reproduce() -> None:
    """Train and evaluate a bundled reference model end to end."""


@reproduce.command("epipolarpose")
@click.option("--profile", default="cpu", show_default=True,
              help="smoke (CI, < 2 min), cpu (2 cores, <= 30 min), paper (GPU, ResNet-50 256 px)"
                   " or a path to a profile .toml.")
@click.option("--dataset", default=None,
              help="synth (built in, generated on first use) or h36m (prepared with `posebench "
                   "data prepare`); default: the profile's dataset.")
@click.option("--out", "--output", "out", default=None, type=click.Path(file_okay=False),
              help="Output folder (default ./epipolarpose-PROFILE); --output is an alias.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default=None,
              help="Default: the profile's device.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out.")
@click.option("--variants", default=None,
              help="Comma-separated subset of fully-supervised, ss-2dgt, ss-known, ss-pooled, "
                   "ss-per-frame (default: the profile's list).")
def epipolarpose(profile: str, dataset: str | None, out: str | None, device: str | None,
                 resume: bool, variants: str | None) -> None:
    """2D pre-training -> pseudo-labels -> self-supervised 3D (per-frame, pooled, known),
    plus fully-supervised and 2D-ground-truth variants and a mean-pose baseline; prints the
    comparison table and writes one result JSON per variant to OUT/results/."""
    if dataset is not None and dataset not in ("synth", "h36m"):
        raise InputError(f"--dataset '{dataset}' is not supported; expected synth or h36m; pick "
                         "one of those.")
    if variants is not None:
        bad = [v for v in variants.split(",") if v not in VARIANTS]
        if bad or not variants:
            raise InputError(f"--variants names unknown variant(s) {', '.join(bad) or '(none)'}; "
                             f"expected a comma-separated subset of {', '.join(VARIANTS)}; fix the "
                             "list.")
    if device == "cuda":
        import torch  # lazy: torch only for --device cuda

        if not torch.cuda.is_available():
            raise InputError("--device cuda was given but torch sees no CUDA device; expected a "
                             "machine with a GPU; use --device cpu.")
    reproduce_run(profile, dataset=dataset, out=out or "", device=device, resume=resume,
        variants=variants.split(",") if variants else None, log=click.echo)
