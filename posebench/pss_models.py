"""PSS models tied to datasets: fit them on a registered split, and cache the ground truth's
cluster labels so that a later evaluation labels only the predictions.

`posebench.metrics.pss` defines the score on arrays; this module is where datasets (the
registry), the cache folder ($POSEBENCH_HOME) and files come in.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from posebench.data.registry import load_dataset, posebench_home
from posebench.io import savez_atomic
from posebench.metrics.pss import (
    DEFAULT_DEFINITION,
    PoseStructureScore,
    PSSEnsemble,
    ensemble_hits,
    ensemble_labels,
)
from posebench.skeletons import SKELETONS

_LABELS_FORMAT = "posebench.pss-gt-labels/1"


def split_training_poses(dataset: str, split: str):
    """(PoseDataset, (N, J, 3) mm finite and valid ground-truth poses, root index) of one
    split of a registered dataset (name or folder)."""
    ds = load_dataset(dataset, split)
    poses = ds.poses_3d
    keep = np.isfinite(poses).all(axis=(1, 2))
    if ds.valid is not None:
        keep &= np.asarray(ds.valid, dtype=bool).reshape(len(ds), -1).all(axis=1)
    root = SKELETONS[ds.skeleton].root if ds.skeleton in SKELETONS else 0
    return ds, poses[keep], root


def _dataset_info(ds, split: str) -> dict:
    return {"dataset": ds.name, "split": split, "skeleton": ds.skeleton,
            "dataset_fingerprint": ds.fingerprint()}


def fit_on_dataset(dataset: str, split: str = "train", k: int = 50, seed: int = 0,
                   normalization: str = "root_unit_norm",
                   algorithm: str = "minibatch") -> PoseStructureScore:
    """Fit one PSS model (the paper's definition) on the ground truth of one split of a
    registered dataset (name or folder); name, split, fingerprint and skeleton go to `info`."""
    ds, poses, root = split_training_poses(dataset, split)
    model = PoseStructureScore(k=k, normalization=normalization, seed=seed, root=root,
                               algorithm=algorithm).fit(poses)
    model.info.update(_dataset_info(ds, split))
    return model


def fit_ensemble_on_dataset(dataset: str, split: str = "train", k: int = 50, seed: int = 0,
                            definition: str = DEFAULT_DEFINITION,
                            normalization: str = "root_unit_norm") -> PSSEnsemble:
    """`fit_on_dataset` for a named definition (R members)."""
    ds, poses, root = split_training_poses(dataset, split)
    ens = PSSEnsemble(k=k, definition=definition, seed=seed, root=root,
                      normalization=normalization).fit(poses)
    ens.info.update(_dataset_info(ds, split))
    return ens


# ------------------------------------------------------------------------ ground-truth labels
def labels_cache_path(ensembles: list[PSSEnsemble], gt: np.ndarray) -> Path:
    """Where the labels of ground truth `gt` (N, J, 3) mm under `ensembles` are cached: the
    name is a hash of the exact array (dtype, shape, bytes) and of every member's fingerprint."""
    h = hashlib.blake2b(digest_size=20)
    h.update(_LABELS_FORMAT.encode())
    for e in ensembles:
        h.update(e.fingerprint.encode())
    g = np.ascontiguousarray(gt, dtype=np.float64)
    h.update(str(g.shape).encode())
    h.update(memoryview(g).cast("B"))
    return posebench_home() / "pss" / "labels" / f"{h.hexdigest()}.npz"


def ground_truth_labels(ensembles: list[PSSEnsemble], gt: np.ndarray,
                        cache: bool = True) -> list[np.ndarray]:
    """`ensemble_labels(ensembles, gt)`: labels (N, R_e) int per ensemble, read from the cache
    when an earlier evaluation stored them (a damaged or foreign cache file is recomputed and
    replaced), else computed and stored."""
    if not cache:
        return ensemble_labels(ensembles, gt)
    path = labels_cache_path(ensembles, gt)
    shapes = [(len(gt), len(e.members)) for e in ensembles]
    try:
        with np.load(path, allow_pickle=False) as z:
            labels = [np.asarray(z[f"e{i}"], dtype=np.int64) for i in range(len(ensembles))]
        if [a.shape for a in labels] == shapes and all(
                ((a >= -1) & (a < e.k)).all() for a, e in zip(labels, ensembles)):
            return labels
    except (OSError, KeyError, ValueError):
        pass
    labels = ensemble_labels(ensembles, gt)
    path.parent.mkdir(parents=True, exist_ok=True)
    savez_atomic(path, **{f"e{i}": a for i, a in enumerate(labels)})
    return labels


def hits_and_labels(ensembles: list[PSSEnsemble], pred: np.ndarray, gt: np.ndarray,
                    cache: bool = True) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Hits (N, R_e) bool and ground-truth labels (N, R_e) int of every ensemble, with the
    ground truth's labels cached between evaluations (`ground_truth_labels`)."""
    labels = ground_truth_labels(ensembles, gt, cache=cache)
    return ensemble_hits(ensembles, pred, gt, gt_labels=labels), labels
