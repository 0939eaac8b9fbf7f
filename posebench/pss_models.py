"""PSS models tied to datasets: fit them on a registered split (`posebench pss fit`), choose
the models an evaluation uses (given files, else ensembles fitted on the training split and
cached, `models_for_evaluation`), and cache the ground truth's cluster labels so that a later
evaluation labels only the predictions.

`posebench.metrics.pss` defines the score on arrays; this module is where datasets (the
registry), the cache folder ($POSEBENCH_HOME) and files come in.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version  # not `import sklearn`: seconds at every eval
from pathlib import Path

import numpy as np

from posebench.data.dataset import read_meta, read_split, read_split_pose_blocks
from posebench.data.registry import load_dataset, posebench_home
from posebench.errors import InputError
from posebench.io import savez_atomic
from posebench.metrics.pss import (
    DEFAULT_DEFINITION,
    PoseStructureScore,
    PSSEnsemble,
    definition_settings,
    ensemble_hits,
    ensemble_labels,
    load_pss,
    source_hash,
)
from posebench.skeletons import SKELETONS, get_skeleton, mapping

_LABELS_FORMAT = "posebench.pss-gt-labels/2"  # /2: one int32 matrix


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


# --------------------------------------------------------------- the models an evaluation uses
def pss_cache_path(train_fingerprint: str, eval_skeleton: str, k: int, seed: int,
                   definition: str | None = None) -> Path:
    """Where an auto-fitted PSS model (ensemble) is cached. The name carries the training
    fingerprint, skeleton, k, seed and definition, plus a key over everything else that
    changes the labels: the definition's settings (members, algorithm, n_init, subsample
    cap, normalisation), the scikit-learn version and a hash of the PSS source."""
    definition = definition or DEFAULT_DEFINITION
    key = {"settings": definition_settings(definition), "normalization": "root_unit_norm",
           "sklearn": version("scikit-learn"), "pss_source": source_hash()}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return posebench_home() / "pss" / (f"{train_fingerprint}-{eval_skeleton}-k{k}-s{seed}-"
                                       f"{definition}-{digest}.npz")


def models_for_evaluation(ds, root_dir, protocol, paths, ks, seed, train, notes,
                          definition=None):
    """Yield ("pss@k", PSSEnsemble, info) for every PSS model an evaluation uses: the given
    model files, else the ensembles fitted on the dataset's training split (cached under
    `pss_cache_path`; fitted on first use)."""
    definition = definition or DEFAULT_DEFINITION
    if paths:
        for p in paths:
            if not Path(p).is_file():
                raise InputError(f"PSS model {p} does not exist; expected a file written by "
                                 "`posebench pss fit`; check the path.")
            model = load_pss(p)
            yield (f"pss@{int(model.k)}", model,
                   {"k": int(model.k), "definition": model.definition,
                    "members": model.n_members, "fingerprint": model.fingerprint,
                    "fingerprints": model.fingerprints, "path": Path(p).name,
                    "source": "given"})
        return
    if not ks:
        return
    if train is not None:
        train_fp = train.fingerprint() if train.has_3d else None
    else:
        train_fp = _training_fingerprint(root_dir)  # from meta.json: no need to load it yet
    if train_fp is None:
        notes.append(f"PSS skipped: dataset '{ds.name}' has no training split with 3D ground "
                     "truth to fit the pose clusters on (pass --pss-model to use a saved model)")
        return
    eval_skel = get_skeleton(protocol.eval_skeleton)
    poses = None
    for k in ks:
        path = pss_cache_path(train_fp, eval_skel.name, int(k), seed, definition)
        if path.is_file():
            model = load_pss(path)
        else:
            if poses is None:
                if train is None:
                    shape, dtype, skel, blocks = read_split_pose_blocks(root_dir, "train")
                    poses = training_poses_from_blocks(shape, dtype, blocks, skel, eval_skel)
                else:
                    poses = pss_training_poses(train.poses_3d, train.skeleton, eval_skel)
            model = PSSEnsemble(k=int(k), definition=definition, seed=seed,
                                root=eval_skel.root).fit(poses)
            path.parent.mkdir(parents=True, exist_ok=True)
            model.save(path)
        yield (f"pss@{int(k)}", model,
               {"k": int(k), "definition": definition, "members": model.n_members,
                "fingerprint": model.fingerprint, "fingerprints": model.fingerprints,
                "path": f"$POSEBENCH_HOME/pss/{path.name}",
                "source": "fitted on training split", "train_fingerprint": train_fp,
                "eval_skeleton": eval_skel.name, "seed": int(seed)})


def pss_training_poses(poses: np.ndarray, skeleton: str, eval_skel) -> np.ndarray:
    """(N', J', 3) root-centred training ground truth in the evaluation skeleton, from
    `poses` (N, J, 3) mm in `skeleton` (rows with NaN / inf left out), dtype kept."""
    poses = np.asarray(poses)
    blocks = (poses[i:i + _POSE_BLOCK] for i in range(0, len(poses), _POSE_BLOCK))
    return training_poses_from_blocks(poses.shape, poses.dtype, blocks, skeleton, eval_skel)


_POSE_BLOCK = 65536


def training_poses_from_blocks(shape: tuple, dtype, blocks, skeleton: str, eval_skel
                               ) -> np.ndarray:
    """`pss_training_poses` of an (N, J, 3) array given as consecutive row blocks (e.g.
    `read_split_pose_blocks`): one array of the output's size and one block's temporaries
    (a full-size split is a gigabyte: never two copies of it)."""
    idx = mapping(skeleton, eval_skel)
    out = np.empty((shape[0], len(idx), 3), dtype=dtype)
    n = 0
    for blk in blocks:
        blk = np.take(blk[np.isfinite(blk).all(axis=(1, 2))], idx, axis=1)  # C-contiguous
        blk -= blk[:, eval_skel.root].copy()[:, None]
        out[n:n + len(blk)] = blk
        n += len(blk)
    return out[:n]


def _training_fingerprint(root_dir) -> str | None:
    """Fingerprint of the dataset's training split as recorded in meta.json (None: no split
    with 3D ground truth)."""
    if root_dir is None:
        return None
    splits = read_meta(root_dir).get("splits", {})
    if "train" not in splits or splits["train"].get("has_3d") is False:
        return None
    fp = splits["train"].get("fingerprint")
    return fp if fp else read_split(root_dir, "train").fingerprint()


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
    """`ensemble_labels(ensembles, gt)`: labels (N, R_e) int32 per ensemble (k < 2^31; half
    of int64's 165 MB per ensemble at full size), read from the cache when an earlier
    evaluation stored them (a damaged or foreign cache file is recomputed and replaced), else
    computed and stored. The arrays are column views of one (N, sum R_e) matrix
    (`_label_matrix`)."""
    return _views_per_ensemble(_label_matrix(ensembles, gt, cache), ensembles)


def _views_per_ensemble(matrix: np.ndarray, ensembles: list[PSSEnsemble]) -> list[np.ndarray]:
    """The (N, R_e) column views of each ensemble in a (N, sum R_e) label matrix."""
    bounds = np.cumsum([0] + [len(e.members) for e in ensembles])
    return [matrix[:, a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _label_matrix(ensembles: list[PSSEnsemble], gt: np.ndarray, cache: bool) -> np.ndarray:
    """The ground truth's labels under every member of every ensemble, side by side:
    (N, sum R_e) int32, stored as one int32 array (read without a conversion copy)."""
    if not cache:
        return _stacked(ensemble_labels(ensembles, gt))
    path = labels_cache_path(ensembles, gt)
    ks = np.concatenate([np.full(len(e.members), e.k) for e in ensembles])
    try:
        with np.load(path, allow_pickle=False) as z:
            matrix = z["labels"]
        if (matrix.dtype == np.int32 and matrix.shape == (len(gt), len(ks))
                and ((matrix >= -1) & (matrix < ks)).all()):
            return matrix
    except (OSError, KeyError, ValueError):
        pass
    matrix = _stacked(ensemble_labels(ensembles, gt))
    path.parent.mkdir(parents=True, exist_ok=True)
    savez_atomic(path, labels=matrix)
    return matrix


def _stacked(labels: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([a.astype(np.int32) for a in labels], axis=1)


def hits_and_labels(ensembles: list[PSSEnsemble], pred: np.ndarray, gt: np.ndarray,
                    cache: bool = True) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Hits (N, R_e) bool and ground-truth labels (N, R_e) int of every ensemble, with the
    ground truth's labels cached between evaluations (`ground_truth_labels`)."""
    matrix = _label_matrix(ensembles, gt, cache)
    return (ensemble_hits(ensembles, pred, gt, gt_labels=matrix),
            _views_per_ensemble(matrix, ensembles))
