"""Pose Structure Score (PSS@k), EpipolarPose (Kocabas et al., CVPR 2019), as posebench defines it.

The paper gives the idea but no code (EpipolarPose issue #45): model the distribution of natural
poses by k-means on ground truth; a prediction is structurally right (a *hit*) when it falls in
the same cluster as its ground truth; PSS@k is the share of hits, in [0, 1].

posebench's definition (recorded in every saved model):

- normalisation ``"root_unit_norm"`` (default): subtract the root joint, flatten to a 3J vector,
  divide by its L2 norm. PSS is then invariant to translation and uniform scale. Also selectable:
  ``"centroid_unit_norm"`` (subtract the joint centroid instead) and ``"root"`` (root-centred mm,
  not scale invariant).
- clustering: scikit-learn on the normalised training-split ground truth, fixed seed.
  ``algorithm="minibatch"`` (default) is ``MiniBatchKMeans(batch_size=8192, n_init=3)``: on 1.5M
  Human3.6M poses it reaches within ~1% of Lloyd's inertia in ~8 s, whereas ``"lloyd"``
  (``KMeans``) took 37-71 s without converging in 300 iterations (PAPER.md).
- labels: index of the nearest centre (squared Euclidean). Computed as
  ``argmin_c |c|^2 - 2 x.c`` in float32 (BLAS), and every pose whose best and second-best
  distances are closer than a float32 error bound is recomputed in float64, so labels equal
  the float64 nearest centre.

The fitted model (centres + settings) is saved as .npz (no pickle) with a JSON sidecar, and is
identified by `fingerprint` (sha256 of centres and settings); `data_fingerprint` identifies the
poses it was fitted on.

Definitions (`DEFINITIONS`, by name):

- ``"paper"``: one k-means model on all training poses (the paper's definition; a hit is 0/1).
- ``"ensemble"`` (default): R = 20 seeded k-means models (`PSSEnsemble`); member r has seed
  ``seed * R + r`` and the paper's k-means settings, fitted on its own seeded subsample of at
  most 50,000 training poses (all of synth's 40,000); PSS = mean over members of their PSS (per
  sample: the share of members hit). On synth the PSS@50 / @100 of one model moves with its
  k-means seed by sd 0.012 / 0.015, 3.5x the binomial sampling sd of the 16,000 test
  samples (0.0035); the mean of 20 independent models moves by sd / sqrt(20)
  (docs/statistics.md has the measurements).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from posebench.errors import InputError
from posebench.io import load_npz, savez_atomic, write_json_atomic
from posebench.metrics.inputs import check_pair, check_poses
from posebench.parallel import for_each_chunk, parallel_map, process_map

NORMALIZATIONS = ("root_unit_norm", "centroid_unit_norm", "root")
#: Named PSS definitions: members R, k-means settings of each member, subsample size cap.
DEFINITIONS = {
    "paper": {"members": 1, "algorithm": "minibatch", "n_init": 3, "max_fit_poses": None},
    "ensemble": {"members": 20, "algorithm": "minibatch", "n_init": 3,
                 "max_fit_poses": 50000},
}
DEFAULT_DEFINITION = "ensemble"
_ENSEMBLE_FORMAT = "posebench.pss-ensemble/1"
ALGORITHMS = ("minibatch", "lloyd")
_FORMAT = "posebench.pss/1"
_EPS32 = float(np.finfo(np.float32).eps)
#: Poses scored per task: their (rows x all centres) float32 scores are 6 MB at 3,000 centres
#: (vs 196 MB per 16,384-row chunk). Under load, 256-16,384 rows timed within noise of each
#: other (the product dominates); the smaller block bounds the temporary memory.
SCORE_ROWS = 512


def normalize_poses(poses: np.ndarray, normalization: str = "root_unit_norm",
                    root: int = 0) -> np.ndarray:
    """PSS feature vectors: poses ``(N, J, 3)`` mm -> ``(N, 3J)`` float64 (see module doc).
    A pose with no extent (all joints equal) maps to the zero vector."""
    p = np.asarray(poses, dtype=np.float64)
    if normalization == "centroid_unit_norm":
        x = p - p.mean(axis=1, keepdims=True)
    else:
        x = p - p[:, root : root + 1]
    x = x.reshape(x.shape[0], -1)
    if normalization in ("root_unit_norm", "centroid_unit_norm"):
        n = np.sqrt(np.einsum("ij,ij->i", x, x))
        x /= np.where(n > 0, n, 1.0)[:, None]
    return x


def _sha256_array(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    h = hashlib.sha256()
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(memoryview(a).cast("B"))
    return h.hexdigest()


class PoseStructureScore:
    """PSS@k model: ``PoseStructureScore(k=50).fit(train_gt)``, then ``.score(pred, gt)``.

    Args:
        k: number of clusters (the paper reports k = 50 and 100).
        normalization: one of NORMALIZATIONS (default ``"root_unit_norm"``).
        seed: random_state of scikit-learn's k-means.
        root: root joint index used by the normalisation.
        algorithm: ``"minibatch"`` (default, MiniBatchKMeans) or ``"lloyd"`` (KMeans).
        batch_size, n_init, max_iter: passed to scikit-learn (batch_size: minibatch only).
    """

    def __init__(self, k: int = 50, normalization: str = "root_unit_norm", seed: int = 0,
                 root: int = 0, algorithm: str = "minibatch", batch_size: int = 8192,
                 n_init: int = 3, max_iter: int = 100):
        if normalization not in NORMALIZATIONS:
            raise InputError(f"PSS normalisation '{normalization}' is unknown; expected one of "
                             f"{', '.join(NORMALIZATIONS)}; the default is 'root_unit_norm'.")
        if algorithm not in ALGORITHMS:
            raise InputError(f"PSS k-means algorithm '{algorithm}' is unknown; expected one of "
                             f"{', '.join(ALGORITHMS)}; the default is 'minibatch'.")
        if int(k) < 1:
            raise InputError(f"PSS needs k >= 1 clusters, got {k}; use e.g. 50 or 100.")
        self.k = int(k)
        self.normalization = normalization
        self.seed = int(seed)
        self.root = int(root)
        self.algorithm = algorithm
        self.batch_size = int(batch_size)
        self.n_init = int(n_init)
        self.max_iter = int(max_iter)
        self.centres_: np.ndarray | None = None
        self.num_joints: int | None = None
        self.info: dict = {}

    # ------------------------------------------------------------------ settings / identity
    def settings(self) -> dict:
        """Everything that defines the labels (with the centres): plain JSON types."""
        return {"k": self.k, "normalization": self.normalization, "seed": self.seed,
                "root": self.root, "num_joints": self.num_joints, "algorithm": self.algorithm,
                "batch_size": self.batch_size, "n_init": self.n_init, "max_iter": self.max_iter}

    @property
    def fingerprint(self) -> str:
        """sha256 of the fitted centres and the settings: two models with the same fingerprint
        give the same labels."""
        centres = self._fitted()
        h = hashlib.sha256(json.dumps(self.settings(), sort_keys=True).encode())
        h.update(_sha256_array(centres.astype(np.float64)).encode())
        return h.hexdigest()

    def _fitted(self) -> np.ndarray:
        if self.centres_ is None:
            raise InputError("this PoseStructureScore model is not fitted; expected fitted "
                             "centres; call .fit(train_gt_poses) or PoseStructureScore.load(path).")
        return self.centres_

    def _check(self, poses: np.ndarray) -> np.ndarray:
        p, _ = check_poses(poses)
        if self.num_joints is not None and p.shape[1] != self.num_joints:
            raise InputError(f"poses have {p.shape[1]} joints but this PSS model was fitted on "
                             f"{self.num_joints}; expected the same skeleton; convert the poses "
                             "or fit a model on this skeleton.")
        return p

    # ------------------------------------------------------------------ fit
    def fit(self, gt_poses: np.ndarray) -> PoseStructureScore:
        """Fit k-means centres on ground-truth poses ``(N, J, 3)`` mm (the training split)."""
        import sklearn  # lazy: seconds to import; only fitting needs it
        from sklearn.cluster import KMeans, MiniBatchKMeans  # lazy: as above

        p, _ = check_poses(gt_poses)
        if not -p.shape[1] <= self.root < p.shape[1]:
            raise InputError(f"PSS root joint {self.root} is out of range for {p.shape[1]} "
                             "joints; expected a valid joint index; pass root=<root index>.")
        if p.shape[0] < self.k:
            raise InputError(f"PSS@{self.k} needs at least {self.k} poses to fit, got "
                             f"{p.shape[0]}; use a larger training split or a smaller k.")
        if not np.isfinite(p).all():
            raise InputError("PSS training poses contain NaN or inf; expected finite mm "
                             "coordinates; remove or fix those samples.")
        x = normalize_poses(p, self.normalization, self.root)
        if self.algorithm == "minibatch":
            km = MiniBatchKMeans(n_clusters=self.k, random_state=self.seed,
                                 batch_size=self.batch_size, n_init=self.n_init,
                                 max_iter=self.max_iter, compute_labels=False)
        else:
            km = KMeans(n_clusters=self.k, random_state=self.seed, n_init=self.n_init,
                        max_iter=self.max_iter, algorithm="lloyd")
        km.fit(x)
        self.centres_ = np.ascontiguousarray(km.cluster_centers_, dtype=np.float64)
        self.num_joints = int(p.shape[1])
        labels = self._labels_features(x)
        d = x - self.centres_[labels]
        inertia = float(np.einsum("ij,ij->", d, d))
        self.info = {
            "num_samples": int(p.shape[0]),
            "data_fingerprint": _sha256_array(np.asarray(p, dtype=np.float64)),
            "fit_inertia": inertia,
            "cluster_sizes": np.bincount(labels, minlength=self.k).tolist(),
            "sklearn_version": sklearn.__version__,
            "numpy_version": np.__version__,
        }
        return self

    # ------------------------------------------------------------------ labels / score
    def _labels_features(self, x: np.ndarray) -> np.ndarray:
        """Nearest-centre index of feature vectors ``(N, 3J)`` float64."""
        out = np.empty(x.shape[0], dtype=np.int64)
        _Labeller([self]).assign(x, [out], slice(0, x.shape[0]))
        return out

    def labels(self, poses: np.ndarray) -> np.ndarray:
        """Cluster label (nearest centre) of every pose: ``(N, J, 3)`` mm -> ``(N,)`` int64;
        -1 for a pose with NaN / inf coordinates."""
        return labels_many([self], poses)[0]

    def hits(self, pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
        """Per-sample PSS hit ``(N,)`` bool: prediction and ground truth share a cluster."""
        return hits_many([self], pred, gt)[0]

    def score(self, pred: np.ndarray, gt: np.ndarray) -> float:
        """PSS@k: share of samples whose prediction has its ground truth's label, in [0, 1]."""
        h = self.hits(pred, gt)
        return float(h.mean()) if h.size else float("nan")

    # ------------------------------------------------------------------ persistence
    @staticmethod
    def _paths(path: str | Path) -> tuple[Path, Path]:
        path = Path(path)
        if path.suffix in (".npz", ".json"):
            path = path.with_suffix("")
        return path.with_name(path.name + ".npz"), path.with_name(path.name + ".json")

    def describe(self) -> dict:
        """Settings, fingerprints and fit information as a JSON-ready dict."""
        return {"format": _FORMAT, **self.settings(), "fingerprint": self.fingerprint,
                **self.info}

    def save(self, path: str | Path) -> Path:
        """Write ``<path>.npz`` (centres + settings, no pickle) and ``<path>.json`` (the same
        settings, fingerprints, inertia and library versions, human-readable), atomically.
        Returns the .npz path."""
        npz, side = self._paths(path)
        meta = self.describe()
        savez_atomic(npz, centres=self._fitted(), meta_json=np.array(json.dumps(meta)))
        write_json_atomic(side, meta)
        return npz

    @classmethod
    def load(cls, path: str | Path) -> PoseStructureScore:
        """Read a model written by `save` (the .npz, its .json, or the common stem); the centres
        are checked against the recorded fingerprint."""
        npz, _ = cls._paths(path)
        arrays = load_npz(npz, what="a PSS model written by `posebench pss fit`")
        if "centres" not in arrays or "meta_json" not in arrays:
            raise InputError(f"{npz} lacks 'centres' or 'meta_json'; expected a PSS model "
                             "written by PoseStructureScore.save; re-fit it with "
                             "`posebench pss fit`.")
        meta = json.loads(str(arrays["meta_json"]))
        if meta.get("format") != _FORMAT:
            raise InputError(f"{npz} has format {meta.get('format')!r}; expected {_FORMAT!r}; "
                             "re-fit the model with this posebench version.")
        model = cls(k=meta["k"], normalization=meta["normalization"], seed=meta["seed"],
                    root=meta["root"], algorithm=meta["algorithm"],
                    batch_size=meta["batch_size"], n_init=meta["n_init"],
                    max_iter=meta["max_iter"])
        model.centres_ = np.ascontiguousarray(arrays["centres"], dtype=np.float64)
        model.num_joints = meta["num_joints"]
        model.info = {key: meta[key] for key in meta if key not in model.settings()
                      and key not in ("format", "fingerprint")}
        if model.centres_.shape != (model.k, 3 * model.num_joints):
            raise InputError(f"{npz} holds centres of shape {model.centres_.shape}; expected "
                             f"({model.k}, {3 * model.num_joints}); re-fit the model.")
        if model.fingerprint != meta["fingerprint"]:
            raise InputError(f"{npz} centres do not match their recorded fingerprint; expected "
                             "an unmodified model file; re-fit it with `posebench pss fit`.")
        return model

    def __repr__(self) -> str:
        state = f"fingerprint={self.fingerprint[:12]}" if self.centres_ is not None else "unfitted"
        return (f"PoseStructureScore(k={self.k}, normalization={self.normalization!r}, "
                f"seed={self.seed}, root={self.root}, {state})")


class _Labeller:
    """Nearest-centre labels for several models that share a normalisation: one float32 GEMM
    against all their centres, ``score_k = 2 x.c_k - |c_k|^2`` (argmax = nearest centre), then
    every row whose best and second-best scores of a model differ by less than a float32 error
    bound is recomputed in float64, so the labels equal float64 nearest centres."""

    def __init__(self, models: list[PoseStructureScore]):
        self.models = models
        cents = [m._fitted() for m in models]
        self.bounds = np.cumsum([0] + [c.shape[0] for c in cents])
        allc = np.concatenate(cents)
        # feature columns that are zero in every centre (the root joint's, after root
        # centring) add nothing to any score: leave them out of every product
        self.cols = np.flatnonzero((allc != 0).any(axis=0))
        allc = allc[:, self.cols]
        self.cc = np.einsum("ij,ij->i", allc, allc)
        self.w64 = 2.0 * allc.T
        self.cmax = [float(np.sqrt(self.cc[a:b].max())) for a, b in zip(self.bounds[:-1],
                                                                         self.bounds[1:])]
        self.dim = allc.shape[1]
        # augmented weights, centre-major: [[2 c], [-|c|^2]] @ [x, 1]^T gives every centre's
        # scores in one GEMM pass (`hits`)
        self.w32aug_t = np.hstack([2.0 * allc, -self.cc[:, None]]).astype(np.float32)

    def _runs(self) -> list[tuple[int, int, int]]:
        """(first model, number of models, k) of consecutive models with the same k: their
        score columns form one (C, R, k) block (an ensemble is one run)."""
        sizes = np.diff(self.bounds)
        runs, i = [], 0
        while i < sizes.size:
            j = i
            while j + 1 < sizes.size and sizes[j + 1] == sizes[i]:
                j += 1
            runs.append((i, j - i + 1, int(sizes[i])))
            i = j + 1
        return runs

    def assign(self, x: np.ndarray, outs: list[np.ndarray], sl: slice) -> None:
        """Write the labels of features x (C, D) float64 under every model into outs[i][sl].

        Centre-major scores as in `hits`; per model the best score s_1 is a max over centre
        rows, its index the dot product of the row numbers with the (score == s_1) mask (a
        BLAS matvec: numpy's argmax along a strided axis is ~50x slower); then s_1 is masked
        and the runner-up s_2 is another max. Rows with s_1 - s_2 <= tol (near ties, and
        exact ties, whose mask sums two indices) are recomputed in float64."""
        xn = np.sqrt(np.einsum("ij,ij->i", x, x))
        x = x[:, self.cols]
        score = self._scores(x)
        bad = ~np.isfinite(xn)
        n = x.shape[0]
        col = np.arange(n)[None, :]
        for first, r, k in self._runs():
            a = int(self.bounds[first])
            blk = score[a:a + r * k].reshape(r, k, n)  # model, centre, row
            best = np.zeros((r, n), dtype=np.int64)
            if k > 1:
                s1 = blk.max(axis=1)
                mask = np.empty(blk.shape, dtype=np.float32)
                np.equal(blk, s1[:, None, :], out=mask, casting="unsafe")
                index = np.matmul(np.arange(k, dtype=np.float32), mask)  # (r, C), exact ints
                best = np.clip(index, 0, k - 1).astype(np.int64)
                blk[np.arange(r)[:, None], best, col] = -np.inf
                s2 = blk.max(axis=1)
                tol = self._tolerance(xn, first, r).T
                mods, rows = np.nonzero((s1.astype(np.float64) - s2) <= tol + 1e-30)
                for m in np.unique(mods):  # ambiguous rows: recompute in float64, per model
                    sel = rows[mods == m]
                    best[m, sel] = self._exact_labels(x, sel, first + int(m))
            best[:, bad] = -1  # non-finite pose: no cluster (never a hit)
            for m in range(r):
                outs[first + m][sl] = best[m]

    def _scores(self, x: np.ndarray) -> np.ndarray:
        """(centres, C) float32 scores ``2 x.c - |c|^2`` of features x (C, dim) (used columns)
        against every centre, centre-major (each model's scores are contiguous rows)."""
        xa = np.empty((self.dim + 1, x.shape[0]), dtype=np.float32)  # [x, 1]^T
        xa[:-1] = x.T
        xa[-1] = 1.0
        return self.w32aug_t @ xa

    def _tolerance(self, xn: np.ndarray, first: int, r: int) -> np.ndarray:
        """(C, r) bound on the float32 error of a score difference of models first..first+r."""
        cm = np.array(self.cmax[first:first + r])
        return 4.0 * _EPS32 * ((self.dim + 2) * xn[:, None] * cm[None] + 2.0 * cm * cm)

    def _exact_labels(self, x: np.ndarray, rows: np.ndarray, model: int) -> np.ndarray:
        """float64 nearest-centre labels of rows `rows` of x under model `model`."""
        lo, hi = int(self.bounds[model]), int(self.bounds[model + 1])
        return (x[rows] @ self.w64[:, lo:hi] - self.cc[lo:hi]).argmax(axis=1)

    def hits(self, x: np.ndarray, gt_labels: np.ndarray, outs: list[np.ndarray],
             sl: slice) -> None:
        """Write, for features x (C, D) float64 and the ground truth's labels (C, n_models)
        (-1: no cluster), whether x's nearest centre is the ground truth's under every model
        into outs[i][sl]; equal to comparing float64 labels, without an argmax.

        One float32 GEMM in centre-major layout, scores (all centres, C): per model the
        ground-truth centre's score s_g is read and replaced by -inf, and the best other score
        s_2 is a max over the model's centre rows, an elementwise maximum of contiguous rows
        (a reduction along a short inner axis, or a count of the scores above s_g, costs 3-5x
        more). Certain hit: s_2 < s_g - tol; certain miss: s_2 > s_g + tol; in between (near
        ties, rare) decided in float64."""
        xn = np.sqrt(np.einsum("ij,ij->i", x, x))
        x = x[:, self.cols]
        n = x.shape[0]
        score = self._scores(x)
        finite = np.isfinite(xn)
        col = np.arange(n)[None, :]
        for first, r, k in self._runs():
            a = int(self.bounds[first])
            blk = score[a:a + r * k].reshape(r, k, n)  # model, centre, row
            g = gt_labels[:, first:first + r].T  # (r, C)
            valid = (g >= 0) & finite[None, :]
            gi = np.where(valid, g, 0)
            mod = np.arange(r)[:, None]
            sg = blk[mod, gi, col]
            blk[mod, gi, col] = -np.inf
            s2 = blk.max(axis=1) if k > 1 else np.full((r, n), -np.inf, np.float32)
            tol = self._tolerance(xn, first, r).T.astype(np.float32)
            hit = s2 < sg - tol
            unsure = valid & ~hit & (s2 <= sg + tol)
            for m in np.flatnonzero(unsure.any(axis=1)):  # near-ties: decide in float64
                sel = np.flatnonzero(unsure[m])
                hit[m, sel] = self._exact_labels(x, sel, first + int(m)) == g[m, sel]
            hit &= valid
            for m in range(r):
                outs[first + m][sl] = hit[m]


def _groups(models: list[PoseStructureScore]) -> dict[tuple, list[int]]:
    """Model indices grouped by (normalisation, root): each group shares its features."""
    groups: dict[tuple, list[int]] = {}
    for i, m in enumerate(models):
        m._fitted()
        groups.setdefault((m.normalization, m.root), []).append(i)
    return groups


def labels_many(models: list[PoseStructureScore], poses: np.ndarray) -> list[np.ndarray]:
    """Labels ``(N,)`` of `poses` ``(N, J, 3)`` under each model, normalising the poses once
    per normalisation and scoring all centres in one matrix product."""
    p = None
    for m in models:
        p = m._check(poses)
    if p is None:
        return []
    outs = [np.empty(p.shape[0], dtype=np.int64) for _ in models]
    for (norm, root), idx in _groups(models).items():
        lab = _Labeller([models[i] for i in idx])
        group_outs = [outs[i] for i in idx]

        def work(sl: slice, norm=norm, root=root, lab=lab, group_outs=group_outs) -> None:
            lab.assign(normalize_poses(p[sl], norm, root), group_outs, sl)

        for_each_chunk(p.shape[0], work, SCORE_ROWS)
    return outs


def hits_many(models: list[PoseStructureScore], pred: np.ndarray, gt: np.ndarray,
              gt_labels: list[np.ndarray] | np.ndarray | None = None) -> list[np.ndarray]:
    """Per-sample hits ``(N,)`` bool of each model (e.g. PSS@50 and PSS@100 together):
    the prediction's nearest centre is the ground truth's. `gt_labels` (one ``(N,)`` int array
    per model, `labels_many` of gt, or one ``(N, n_models)`` int32 matrix, used without a
    copy) skips labelling the ground truth again."""
    p, g, _ = check_pair(pred, gt)
    lg = labels_many(models, g) if gt_labels is None else gt_labels
    if isinstance(lg, np.ndarray):
        if lg.shape != (p.shape[0], len(models)):
            raise ValueError(f"gt_labels must have shape ({p.shape[0]}, {len(models)}), got "
                             f"{lg.shape}")
        matrix = lg.astype(np.int32, copy=False)  # k < 2^31
    elif len(lg) != len(models) or any(np.shape(a) != (p.shape[0],) for a in lg):
        raise ValueError(f"gt_labels must be {len(models)} arrays of shape ({p.shape[0]},)")
    else:
        matrix = None
    outs = [np.empty(p.shape[0], dtype=bool) for _ in models]
    for (norm, root), idx in _groups(models).items():
        lab = _Labeller([models[i] for i in idx])
        group_outs = [outs[i] for i in idx]
        if matrix is None:
            glab = np.stack([np.asarray(lg[i], dtype=np.int32) for i in idx], axis=1)
        else:
            glab = matrix if idx == list(range(len(models))) else matrix[:, idx]

        def work(sl: slice, norm=norm, root=root, lab=lab, group_outs=group_outs,
                 glab=glab) -> None:
            lab.hits(normalize_poses(p[sl], norm, root), glab[sl], group_outs, sl)

        for_each_chunk(p.shape[0], work, SCORE_ROWS)
    return outs


def scores(models: list[PoseStructureScore], pred: np.ndarray, gt: np.ndarray) -> list[float]:
    """PSS of each model, in [0, 1] (faster than calling `score` per model)."""
    return [float(h.mean()) if h.size else float("nan") for h in hits_many(models, pred, gt)]


# ---------------------------------------------------------------------------------- ensemble
def source_hash() -> str:
    """sha256 of this module's source: part of every PSS cache key (a change of the code
    that defines labels invalidates cached models)."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def definition_settings(definition: str = DEFAULT_DEFINITION) -> dict:
    """Settings of a named definition; InputError for an unknown name."""
    if definition not in DEFINITIONS:
        raise InputError(f"PSS definition '{definition}' is unknown; expected one of "
                         f"{', '.join(DEFINITIONS)}; the default is '{DEFAULT_DEFINITION}'.")
    return dict(DEFINITIONS[definition])


def _fit_model(job: tuple[PoseStructureScore, np.ndarray]) -> PoseStructureScore:
    """``model.fit(poses)`` of a (model, poses) pair: a module-level function, so that worker
    processes can run it."""
    model, poses = job
    return model.fit(poses)


#: Fitting poses per member from which the members are fitted in worker processes.
PROCESS_FIT_ROWS = 10000


class PSSEnsemble:
    """PSS@k as the mean over R seeded k-means models (R = 1: the paper's single model).

    ``PSSEnsemble(k=50).fit(train_gt)``, then ``.hits(pred, gt)`` ``(N, R)`` bool and
    ``.score(pred, gt)`` (mean over members and samples). Member r: seed ``seed * R + r``,
    fitted on its own seeded subsample of at most `max_fit_poses` poses (None: all)."""

    def __init__(self, k: int = 50, definition: str = DEFAULT_DEFINITION, seed: int = 0,
                 root: int = 0, normalization: str = "root_unit_norm", members: int | None = None,
                 max_fit_poses: int | None = -1):
        d = definition_settings(definition)
        self.k = int(k)
        self.definition = definition
        self.seed = int(seed)
        self.root = int(root)
        self.normalization = normalization
        self.n_members = int(d["members"] if members is None else members)
        self.algorithm = d["algorithm"]
        self.n_init = int(d["n_init"])
        self.max_fit_poses = d["max_fit_poses"] if max_fit_poses == -1 else max_fit_poses
        if self.n_members < 1:
            raise InputError(f"a PSS ensemble needs at least 1 member, got {self.n_members}; "
                             "use e.g. 20.")
        self.members: list[PoseStructureScore] = []
        self.info: dict = {}

    def member_seeds(self) -> list[int]:
        return [self.seed * self.n_members + r for r in range(self.n_members)]

    def settings(self) -> dict:
        return {"k": self.k, "definition": self.definition, "seed": self.seed,
                "root": self.root, "normalization": self.normalization,
                "members": self.n_members, "algorithm": self.algorithm, "n_init": self.n_init,
                "max_fit_poses": self.max_fit_poses}

    def fit(self, gt_poses: np.ndarray) -> PSSEnsemble:
        """Fit the R members on ground-truth poses ``(N, J, 3)`` mm (the training split)."""
        from threadpoolctl import threadpool_limits  # lazy: comes with scikit-learn (fit only)

        p, _ = check_poses(gt_poses)
        t0 = time.perf_counter()
        self.members = []
        # many small fits: one OpenMP thread each (spin-waiting threads cost up to 10x on a
        # busy machine; scikit-learn's k-means gives the same result with any thread count)
        with threadpool_limits(limits=1, user_api="openmp"):
            self._fit_members(p)
        fit_s = time.perf_counter() - t0
        self.info = {"num_samples": int(p.shape[0]),
                     "data_fingerprint": _sha256_array(np.asarray(p, dtype=np.float64)),
                     "fit_seconds": round(fit_s, 3),
                     "reference_check": self._reference_check(p),
                     "sklearn_version": self.members[0].info.get("sklearn_version"),
                     "numpy_version": np.__version__}
        return self

    def _fit_members(self, p: np.ndarray) -> None:
        """Fit the members in worker processes (`process_map`: scikit-learn's MiniBatchKMeans
        loop holds the GIL, so threads ran the full-size fits no faster than one core; measured
        86.6 s on threads vs 52.5-61.9 s in two processes for both default ensembles of
        the full-size Human3.6M, same fingerprints), or on threads below `PROCESS_FIT_ROWS`
        fitting poses (starting workers costs more than such fits). Member r depends only on
        its seed and subsample, not on where it runs."""
        rows = p.shape[0] if self.max_fit_poses is None else min(p.shape[0], self.max_fit_poses)
        if self.n_members > 1 and rows >= PROCESS_FIT_ROWS:
            self.members = process_map(_fit_model, (self._member(p, r)
                                                    for r in range(self.n_members)))
        else:
            self.members = parallel_map(lambda r: _fit_model(self._member(p, r)),
                                        range(self.n_members))

    def _member(self, p: np.ndarray, r: int) -> tuple[PoseStructureScore, np.ndarray]:
        """Member r, unfitted, and its training poses: its own seeded subsample of at most
        `max_fit_poses` rows of p (N, J, 3) mm (all of p when it is smaller)."""
        x = p
        if self.max_fit_poses is not None and p.shape[0] > self.max_fit_poses:
            idx = np.random.default_rng([self.seed, r, 0x9551]).choice(
                p.shape[0], self.max_fit_poses, replace=False)
            x = p[np.sort(idx)]
        return PoseStructureScore(k=self.k, normalization=self.normalization,
                                  seed=self.member_seeds()[r], root=self.root,
                                  algorithm=self.algorithm, n_init=self.n_init), x

    def _reference_check(self, p: np.ndarray, n: int = 4000, noise_mm: float = 30.0) -> dict:
        """Members' spread on reference predictions: `n` seeded training poses (root-centred,
        mm) + seeded Gaussian noise of `noise_mm` per coordinate, against the clean poses."""
        rng = np.random.default_rng([self.seed, 0x5EED])
        idx = np.sort(rng.choice(p.shape[0], min(n, p.shape[0]), replace=False))
        gt = p[idx]
        pred = gt + rng.normal(0.0, noise_mm, gt.shape)
        out = clustering_spread(self.hits(pred, gt))
        out.update({"poses": int(idx.size), "noise_mm": noise_mm})
        return out

    def _fitted(self) -> list[PoseStructureScore]:
        if not self.members:
            raise InputError("this PSS ensemble is not fitted; expected fitted members; call "
                             ".fit(train_gt_poses) or load_pss(path).")
        return self.members

    @property
    def num_joints(self) -> int | None:
        return self._fitted()[0].num_joints

    @property
    def fingerprints(self) -> list[str]:
        """Fingerprint of every member (their centres and settings)."""
        return [m.fingerprint for m in self._fitted()]

    @property
    def fingerprint(self) -> str:
        """sha256 of the settings and the members' fingerprints; a one-model "paper" ensemble
        has its model's fingerprint (records of the paper's definition stay comparable)."""
        if self.definition == "paper" and len(self._fitted()) == 1:
            return self.members[0].fingerprint
        h = hashlib.sha256(json.dumps(self.settings(), sort_keys=True).encode())
        for f in self.fingerprints:
            h.update(f.encode())
        return h.hexdigest()

    def hits(self, pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
        """Per-sample hits of every member ``(N, R)`` bool."""
        return ensemble_hits([self], pred, gt)[0]

    def score(self, pred: np.ndarray, gt: np.ndarray) -> float:
        """PSS@k: mean over members of the share of hits, in [0, 1]."""
        h = self.hits(pred, gt)
        return float(h.mean()) if h.size else float("nan")

    def describe(self) -> dict:
        """Settings, fingerprints and fit information (JSON-ready)."""
        return {"format": _ENSEMBLE_FORMAT, **self.settings(), "fingerprint": self.fingerprint,
                "fingerprints": self.fingerprints, "member_seeds": self.member_seeds(),
                "source_sha256": source_hash(), **self.info,
                "member_info": [m.describe() for m in self._fitted()]}

    def save(self, path: str | Path) -> Path:
        """Write ``<path>.npz`` (centres (R, k, D) + description, no pickle) and a JSON
        sidecar, atomically. Returns the .npz path."""
        npz, side = PoseStructureScore._paths(path)
        meta = self.describe()
        savez_atomic(npz, centres=np.stack([m._fitted() for m in self._fitted()]),
                     meta_json=np.array(json.dumps(meta)))
        write_json_atomic(side, meta)
        return npz

    @classmethod
    def from_model(cls, model: PoseStructureScore) -> PSSEnsemble:
        """A one-member ensemble around a single (e.g. user-given) model."""
        ens = cls(k=model.k, definition="paper", seed=model.seed, root=model.root,
                  normalization=model.normalization)
        ens.algorithm, ens.n_init = model.algorithm, model.n_init
        ens.members = [model]
        ens.info = dict(model.info)
        return ens

    def __repr__(self) -> str:
        state = f"fingerprint={self.fingerprint[:12]}" if self.members else "unfitted"
        return (f"PSSEnsemble(k={self.k}, definition={self.definition!r}, "
                f"members={self.n_members}, seed={self.seed}, {state})")


def load_pss(path: str | Path) -> PSSEnsemble:
    """Read a PSS model file: an ensemble (`PSSEnsemble.save`) or a single model
    (`PoseStructureScore.save`, returned as a one-member ensemble). Centres are checked
    against their recorded fingerprints."""
    npz, _ = PoseStructureScore._paths(path)
    arrays = load_npz(npz, what="a PSS model written by `posebench pss fit`")
    if "meta_json" not in arrays or "centres" not in arrays:
        raise InputError(f"{npz} lacks 'centres' or 'meta_json'; expected a PSS model written "
                         "by `posebench pss fit`; re-fit it.")
    meta = json.loads(str(arrays["meta_json"]))
    if meta.get("format") == _FORMAT:
        return PSSEnsemble.from_model(PoseStructureScore.load(npz))
    if meta.get("format") != _ENSEMBLE_FORMAT:
        raise InputError(f"{npz} has format {meta.get('format')!r}; expected {_FORMAT!r} or "
                         f"{_ENSEMBLE_FORMAT!r}; re-fit the model with this posebench version.")
    ens = PSSEnsemble(k=meta["k"], definition=meta["definition"], seed=meta["seed"],
                      root=meta["root"], normalization=meta["normalization"],
                      members=meta["members"], max_fit_poses=meta["max_fit_poses"])
    ens.algorithm, ens.n_init = meta["algorithm"], meta["n_init"]
    centres = np.asarray(arrays["centres"], dtype=np.float64)
    infos = meta["member_info"]
    if centres.ndim != 3 or centres.shape[0] != len(infos) or len(infos) != ens.n_members:
        raise InputError(f"{npz} holds centres of shape {centres.shape} for "
                         f"{len(infos)} members; expected ({ens.n_members}, k, 3J); re-fit it.")
    for c, mi in zip(centres, infos):
        m = PoseStructureScore(k=mi["k"], normalization=mi["normalization"], seed=mi["seed"],
                               root=mi["root"], algorithm=mi["algorithm"],
                               batch_size=mi["batch_size"], n_init=mi["n_init"],
                               max_iter=mi["max_iter"])
        m.centres_ = np.ascontiguousarray(c)
        m.num_joints = mi["num_joints"]
        m.info = {key: mi[key] for key in mi if key not in m.settings()
                  and key not in ("format", "fingerprint")}
        if m.fingerprint != mi["fingerprint"]:
            raise InputError(f"{npz} member centres do not match their recorded fingerprints; "
                             "expected an unmodified model file; re-fit it with "
                             "`posebench pss fit`.")
        ens.members.append(m)
    keys = ("num_samples", "data_fingerprint", "fit_seconds", "reference_check",
            "sklearn_version", "numpy_version", "dataset", "split", "skeleton",
            "dataset_fingerprint")
    ens.info = {key: meta[key] for key in keys if key in meta}
    if ens.fingerprint != meta["fingerprint"]:
        raise InputError(f"{npz} does not match its recorded ensemble fingerprint; expected an "
                         "unmodified model file; re-fit it with `posebench pss fit`.")
    return ens


def reference_spread(ens: PSSEnsemble) -> dict:
    """The fit-time reference check of an ensemble (clustering sd and binomial sd of PSS on
    noisy held-in training poses); for a single model only its binomial part is unknown."""
    ref = ens.info.get("reference_check")
    if ref:
        return ref
    return {"pss": float("nan"), "members": ens.n_members, "member_sd": None,
            "clustering_sd": None, "binomial_sd": float("nan"), "poses": 0, "noise_mm": 0.0}


def ensemble_labels(ensembles: list[PSSEnsemble], poses: np.ndarray) -> list[np.ndarray]:
    """Labels ``(N, R_e)`` int (-1: non-finite pose) of `poses` ``(N, J, 3)`` under every member
    of every ensemble, all members in one pass."""
    flat = [m for e in ensembles for m in e._fitted()]
    return _per_ensemble(ensembles, labels_many(flat, poses), len(poses), np.int64)


def ensemble_hits(ensembles: list[PSSEnsemble], pred: np.ndarray, gt: np.ndarray,
                  gt_labels: list[np.ndarray] | np.ndarray | None = None) -> list[np.ndarray]:
    """Hits ``(N, R_e)`` bool of every ensemble, all members scored in one pass.
    `gt_labels`: `ensemble_labels(ensembles, gt)` when known (e.g. cached), or those arrays
    side by side as one ``(N, sum R_e)`` int32 matrix (no copy), else computed."""
    flat = [m for e in ensembles for m in e._fitted()]
    cols = gt_labels
    if gt_labels is not None and not isinstance(gt_labels, np.ndarray):
        cols = [np.asarray(lab)[:, j] for lab in gt_labels for j in range(lab.shape[1])]
    return _per_ensemble(ensembles, hits_many(flat, pred, gt, cols), len(pred), bool)


def _per_ensemble(ensembles, columns: list[np.ndarray], n: int, dtype) -> list[np.ndarray]:
    """Stack per-model columns back into one (N, R_e) array per ensemble."""
    out, i = [], 0
    for e in ensembles:
        r = len(e.members)
        out.append(np.stack(columns[i:i + r], axis=1) if r else np.zeros((n, 0), dtype))
        i += r
    return out


def clustering_spread(hits: np.ndarray) -> dict:
    """From hits ``(N, R)``: PSS, the sd of the members' PSS (one model's clustering sd),
    the clustering sd of the mean over R members (member sd / sqrt(R)) and the binomial
    sampling sd sqrt(p (1 - p) / N) (frames taken as independent: a lower bound)."""
    h = np.asarray(hits)
    # a bool mean sums exactly into float64 without a float copy of (N, R) (full size: 0.16 GB)
    per_member = h.mean(axis=0, dtype=np.float64) if h.size else np.zeros(0)
    p = float(per_member.mean()) if per_member.size else float("nan")
    r = per_member.size
    member_sd = float(per_member.std(ddof=1)) if r > 1 else None
    return {"pss": p, "members": int(r), "member_sd": member_sd,
            "clustering_sd": None if member_sd is None else member_sd / np.sqrt(r),
            "binomial_sd": float(np.sqrt(p * (1 - p) / max(h.shape[0], 1)))}
