"""`posebench pss`: fit a Pose Structure Score model on a dataset split, or show a saved one."""

from __future__ import annotations

import json

import click

from posebench.commands._common import load_pss_model
from posebench.data.registry import load_dataset
from posebench.metrics.pss import PoseStructureScore, PSSEnsemble, reference_spread
from posebench.pss_models import fit_ensemble_on_dataset, fit_on_dataset, pss_training_poses
from posebench.results import load_result
from posebench.skeletons import get_skeleton


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
              help="k-means random seed (ensemble member r uses seed * R + r).")
@click.option("--definition", default="ensemble", show_default=True,
              type=click.Choice(["ensemble", "paper"]),
              help="ensemble: 20 seeded k-means models (PSS = their mean); paper: one model.")
@click.option("--normalization", default="root_unit_norm", show_default=True,
              type=click.Choice(["root_unit_norm", "centroid_unit_norm", "root"]),
              help="How poses are normalised before clustering.")
@click.option("--algorithm", default=None, type=click.Choice(["minibatch", "lloyd"]),
              help="k-means algorithm of a single model (implies --definition paper).")
@click.option("--skeleton", default=None,
              help="Cluster poses in this evaluation skeleton (e.g. 3dhp14 for protocol "
                   "3dhp-14, h36m14, mpii16), root-centred as `posebench eval` does; default: "
                   "the dataset's own skeleton.")
@click.option("--out", "--output", "out", required=True, type=click.Path(dir_okay=False),
              help="Output path: writes OUT.npz and OUT.json; --output is an alias.")
def fit_cmd(dataset: str, split: str, k: int, seed: int, definition: str, normalization: str,
            algorithm: str | None, skeleton: str | None, out: str) -> None:
    """Fit PSS@k on the ground truth of DATASET/SPLIT and save it (npz + JSON, no pickle)."""
    if skeleton is not None:
        model = _fit_in_skeleton(dataset, split, skeleton, k, seed, definition, normalization,
                                 algorithm)
    elif algorithm is not None:
        model = fit_on_dataset(dataset, split, k=k, seed=seed, normalization=normalization,
                               algorithm=algorithm)
    else:
        model = fit_ensemble_on_dataset(dataset, split, k=k, seed=seed, definition=definition,
                                        normalization=normalization)
    path = model.save(out)
    what = (f"one {algorithm} model" if algorithm is not None
            else f"{definition}: {model.n_members} model(s)")
    click.echo(f"PSS@{model.k} ({what}) fitted on {model.info['num_samples']} poses of "
               f"{dataset}/{split}; fingerprint {model.fingerprint[:16]}; "
               f"saved {path}")


def _fit_in_skeleton(dataset, split, skeleton, k, seed, definition, normalization, algorithm):
    """PSS@k on `split`'s ground truth in `skeleton`, poses prepared exactly as
    `posebench eval` prepares its auto-fitted models (posebench.evaluation); a single model
    with `algorithm`, else the named definition (ensemble or paper)."""
    skel = get_skeleton(skeleton)
    ds = load_dataset(dataset, split)
    poses = pss_training_poses(ds.poses_3d, ds.skeleton, skel)
    if algorithm is not None:
        model = PoseStructureScore(k=k, normalization=normalization, seed=seed, root=skel.root,
                                   algorithm=algorithm).fit(poses)
    else:
        model = PSSEnsemble(k=k, definition=definition, seed=seed, root=skel.root,
                            normalization=normalization).fit(poses)
    model.info.update({"dataset": ds.name, "split": split, "skeleton": skel.name,
                       "dataset_fingerprint": ds.fingerprint()})
    return model


@pss.command("show")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the full description as JSON.")
@click.option("--record", "record", type=click.Path(dir_okay=False), default=None,
              help="A result record scored with this model: also print its clustering sd "
                   "and binomial sampling sd there.")
def show_cmd(path: str, as_json: bool, record: str | None) -> None:
    """Print a saved PSS model's settings, fingerprints, fit information and its two
    uncertainties: the clustering sd (how PSS moves with the k-means seed, from the members'
    spread on held-out reference poses) and the binomial sampling sd of the same poses."""
    ens = load_pss_model(path)
    desc = ens.describe()
    desc.pop("member_info")
    desc["reference_check"] = reference_spread(ens)
    if record:
        rec = load_result(record)
        desc["record"] = [m for m in rec.get("pss_models", [])
                          if m.get("fingerprint") == ens.fingerprint]
    if as_json:
        click.echo(json.dumps(desc, indent=2))
        return
    for key, value in desc.items():
        if key in ("fingerprints", "member_seeds") and isinstance(value, list):
            value = f"{len(value)}: " + ", ".join(str(v)[:12] for v in value[:4]) + \
                (" ..." if len(value) > 4 else "")
        if key in ("reference_check", "record"):
            continue
        click.echo(f"{key:20s} {value}")
    ref = desc["reference_check"]
    sd = "n/a (one model)" if ref["member_sd"] is None else \
        f"{ref['clustering_sd']:.4f} (one model: {ref['member_sd']:.4f})"
    click.echo(f"{'clustering sd':20s} {sd}  [reference: {ref['poses']} training poses + "
               f"{ref['noise_mm']:g} mm noise, PSS {ref['pss']:.3f}]")
    click.echo(f"{'binomial sd':20s} {ref['binomial_sd']:.4f}  [same reference poses]")
    for m in desc.get("record", []):
        click.echo(f"{'in record':20s} clustering sd {m.get('clustering_sd')}, binomial sd "
                   f"{m.get('binomial_sd')}")
