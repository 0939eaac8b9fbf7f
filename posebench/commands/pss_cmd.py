"""`posebench pss`: fit a Pose Structure Score model on a dataset split, or show a saved one."""

from __future__ import annotations

import json

import click


@click.group("pss")
def pss() -> None:
    """Pose Structure Score models (k-means on normalised ground-truth poses)."""


@pss.command("fit")
@click.option("--dataset", default="synth", show_default=True,
              help="Dataset name (see `posebench data list`) or a dataset folder.")
@click.option("--split", default="train", show_default=True, help="Split whose ground truth is "
              "clustered.")
@click.option("--k", "k", default=50, show_default=True, type=int, help="Number of clusters.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1),
              help="k-means random seed.")
@click.option("--normalization", default="root_unit_norm", show_default=True,
              type=click.Choice(["root_unit_norm", "centroid_unit_norm", "root"]),
              help="How poses are normalised before clustering.")
@click.option("--algorithm", default="minibatch", show_default=True,
              type=click.Choice(["minibatch", "lloyd"]), help="k-means variant.")
@click.option("--skeleton", default=None,
              help="Cluster poses in this evaluation skeleton (e.g. 3dhp14 for protocol "
                   "3dhp-14, h36m14, mpii16), root-centred as `posebench eval` does; default: "
                   "the dataset's own skeleton.")
@click.option("--out", "--output", "out", required=True, type=click.Path(dir_okay=False),
              help="Output path: writes OUT.npz and OUT.json; --output is an alias.")
def fit_cmd(dataset: str, split: str, k: int, seed: int, normalization: str, algorithm: str,
            skeleton: str | None, out: str) -> None:
    """Fit PSS@k on the ground truth of DATASET/SPLIT and save it (npz + JSON, no pickle)."""
    from posebench.metrics.pss import fit_on_dataset

    if skeleton is None:
        model = fit_on_dataset(dataset, split, k=k, seed=seed, normalization=normalization,
                               algorithm=algorithm)
    else:
        model = _fit_in_skeleton(dataset, split, skeleton, k, seed, normalization, algorithm)
    path = model.save(out)
    click.echo(f"PSS@{model.k} fitted on {model.info['num_samples']} poses of {dataset}/{split}; "
               f"inertia {model.info['fit_inertia']:.4f}; fingerprint {model.fingerprint[:16]}; "
               f"saved {path}")


def _fit_in_skeleton(dataset, split, skeleton, k, seed, normalization, algorithm):
    """PSS@k on `split`'s ground truth in `skeleton`, poses prepared exactly as
    `posebench eval` prepares its auto-fitted models (posebench.evaluation)."""
    from posebench.data.registry import load_dataset
    from posebench.evaluation import _pss_training_poses
    from posebench.metrics import PoseStructureScore
    from posebench.skeletons import convert, get_skeleton

    skel = get_skeleton(skeleton)
    ds = load_dataset(dataset, split)
    poses = _pss_training_poses(ds, skel, convert, get_skeleton)
    model = PoseStructureScore(k=k, normalization=normalization, seed=seed, root=skel.root,
                               algorithm=algorithm).fit(poses)
    model.info.update({"dataset": ds.name, "split": split, "skeleton": skel.name,
                       "dataset_fingerprint": ds.fingerprint()})
    return model


@pss.command("show")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the full description as JSON.")
def show_cmd(path: str, as_json: bool) -> None:
    """Print a saved PSS model's settings, fingerprints and fit information."""
    from posebench.commands._common import load_pss_model

    desc = load_pss_model(path).describe()
    if as_json:
        click.echo(json.dumps(desc, indent=2))
        return
    for key, value in desc.items():
        if key == "cluster_sizes":
            value = f"min {min(value)}, max {max(value)} ({len(value)} clusters)"
        click.echo(f"{key:20s} {value}")
