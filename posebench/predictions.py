"""The predictions-file schema: load, validate, and match predictions to ground truth.

A predictions file is an ``.npz`` (read with ``allow_pickle=False``) holding::

    poses_3d     (N, J, 3) float mm, camera frame (any integer or float dtype)
    index        (N,) int           position in the protocol's canonical sample order
                                    (what `posebench keys` writes as ``index``), or
    subject, action, camera, frame  (N,) key arrays (``subaction`` (N,) int optional: needed
                                    only where (subject, action, camera, frame) is ambiguous)
    joint_names  (J,) str, optional joint names giving the order of J: posebench's canonical
                                    names or any official set it knows (Human3.6M ``Hips``,
                                    ``RightUpLeg``, ...; MPI-INF-3DHP 17 or 28 names; MPII);
                                    without it (or ``--joint-order``), J must equal the dataset
                                    skeleton's joint count (that order) or the protocol's
                                    evaluation skeleton's (that order)

When both ``index`` and the key arrays are given they must agree. Every problem raises an
`InputError` with one sentence: what was found, what was expected, how to fix it.

The frame is never taken on trust: `match_to_ground_truth` checks the declared (or assumed)
joint order, left/right, units and axes against the ground truth (`posebench.frame_check`).
NaN / inf coordinates follow one policy (`NAN_POLICIES`): "refuse" (default) or "miss" (such
joints are PCK/AUC misses, such poses PSS misses and are left out of MPJPE-type means, each
metric's denominator recorded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from posebench.errors import InputError
from posebench.frame_check import Reading, check_frame, sample_rows
from posebench.io import load_npz, sha256_file
from posebench.skeletons import MPI3DHP_28_NAMES, MPI3DHP_28_TO_17, SKELETONS, get_skeleton

KEY_ARRAYS = ("subject", "action", "camera", "frame")
OPTIONAL_KEY_ARRAYS = ("subaction",)
#: Median bone length (in file units) below which poses are taken to be in metres.
METRES_BONE_THRESHOLD = 10.0
#: Finite poses (evenly spaced, deterministic) whose bones decide the metres check: a median
#: over 20,000 poses x their bones; mm and m differ by 1000x, the threshold sits 10-50x
#: from both (the whole of a full-size split took 4.9 s and 1.6 GB for the same answer).
METRES_SAMPLES = 20000

#: How to handle NaN / inf prediction coordinates (see module docstring).
NAN_POLICIES = ("refuse", "miss")

_CANONICAL_JOINTS = sorted({n for s in SKELETONS.values() for n in s.names})


def _name_sets() -> list[tuple[str, dict[str, str]]]:
    """Joint-name vocabularies posebench knows: (label, {name: canonical name}), canonical
    first. Names without a canonical counterpart (3DHP's l_clavicle, ...) map to themselves and
    are ignored when scoring."""
    sets = [("canonical", {n: n for n in _CANONICAL_JOINTS})]
    seen = set()
    for sk in SKELETONS.values():
        if sk.official_names != sk.names and sk.official_names not in seen:
            seen.add(sk.official_names)
            sets.append((f"{sk.name} official", dict(zip(sk.official_names, sk.names))))
    hp17 = get_skeleton("3dhp17").names
    hp28 = {n: n for n in MPI3DHP_28_NAMES}
    hp28.update({MPI3DHP_28_NAMES[i]: hp17[k] for k, i in enumerate(MPI3DHP_28_TO_17)})
    sets.append(("3dhp28 (annot.mat)", hp28))
    return sets


_NAME_SETS = _name_sets()


def resolve_joint_names(names: tuple[str, ...]) -> tuple[tuple[str, ...], str] | None:
    """(canonical names, vocabulary label) of a joint-name list, read in the first vocabulary
    that holds every name (canonical first); None when none does."""
    for label, table in _NAME_SETS:
        if all(n in table for n in names):
            return tuple(table[n] for n in names), label
    return None
_SCHEMA_HINT = "save with np.savez(path, poses_3d=poses_mm, index=np.arange(N))"


@dataclass
class Predictions:
    """Validated predictions.

    poses_3d     (N, J, 3) float32 or float64 mm, as stored (other dtypes become float64;
                 every metric computes in float64)
    index        (N,) int64 positions in the protocol's canonical order, or None
    keys         {"subject", "action", "camera", "frame"[, "subaction"]: (N,)} or None
    joint_names  (J,) canonical joint names, or None (order inferred from J)
    source       file path or a description of the in-memory origin
    sha256       sha256 of the file bytes (None for in-memory predictions)
    read_as      how a reader interpreted the file ({layout, units, frame, joint_order,
                 transformations, ...}; see posebench.readers), or None
    names_as     vocabulary joint_names were written in ("canonical", "h36m17 official", ...)
    """

    poses_3d: np.ndarray
    index: np.ndarray | None = None
    keys: dict[str, np.ndarray] | None = None
    joint_names: tuple[str, ...] | None = None
    source: str = "<array>"
    sha256: str | None = None
    read_as: dict | None = None
    names_as: str | None = None

    def __len__(self) -> int:
        return len(self.poses_3d)

    @property
    def num_joints(self) -> int:
        return self.poses_3d.shape[1]

    @classmethod
    def from_array(cls, poses_3d: np.ndarray, joint_names=None) -> Predictions:
        """Predictions given in the protocol's canonical order (index = 0..N-1)."""
        arrays = {"poses_3d": np.asarray(poses_3d)}
        if arrays["poses_3d"].ndim >= 1:
            arrays["index"] = np.arange(arrays["poses_3d"].shape[0])
        if joint_names is not None:
            arrays["joint_names"] = np.asarray(joint_names)
        return validate_arrays(arrays, source="the predictions array")


@dataclass
class Match:
    """Predictions matched to the protocol's samples, in canonical order.

    poses      (M, J', 3) float32 or float64 mm predictions in the evaluation skeleton's joint
               order (not root-centred), the dtype of `Predictions.poses_3d`
    root       (M, 3) mm predicted root joint (the same dtype) (protocol.root), for centring
    rows       (M,) int64 rows of the dataset split scored
    positions  (M,) int64 positions in the protocol's canonical order (0..expected-1)
    expected   number of samples the protocol selects
    skeleton   how the prediction's joints were read ("h36m17", "joint_names", ...)
    nonfinite  (M,) bool poses with a NaN / inf scored joint (all False under "refuse")
    nan_joints number of NaN / inf scored joints (evaluation joints and root)
    frame      summary of the frame check (`posebench.frame_check.check_frame`)
    """

    poses: np.ndarray
    root: np.ndarray
    rows: np.ndarray
    positions: np.ndarray
    expected: int
    skeleton: str
    notes: list[str] = field(default_factory=list)
    nonfinite: np.ndarray | None = None
    nan_joints: int = 0
    frame: dict = field(default_factory=dict)

    @property
    def partial(self) -> bool:
        return len(self.rows) < self.expected

    @property
    def coverage(self) -> dict:
        n = len(self.rows)
        return {"covered": int(n), "expected": int(self.expected),
                "fraction": float(n / self.expected) if self.expected else 0.0,
                "partial": bool(self.partial)}


# ------------------------------------------------------------------------------- loading
def load_predictions(path: str | Path) -> Predictions:
    """Read and validate a predictions ``.npz`` (no pickle, ever)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"predictions file {path} does not exist; expected an .npz with "
                         f"poses_3d and index (or key arrays); check the path.")
    with open(path, "rb") as fh:  # the head only: the file is hashed in chunks below
        data = fh.read(6)
    if len(data) == 0:
        raise InputError(f"predictions file {path} is empty (0 bytes); expected an .npz with "
                         f"poses_3d and index; {_SCHEMA_HINT}.")
    if data[:6] == b"\x93NUMPY":
        raise InputError(f"{path} is a single .npy array, not an .npz archive; expected named "
                         f"arrays poses_3d and index; {_SCHEMA_HINT}.")
    if data[:4] != b"PK\x03\x04":
        raise InputError(f"{path} is not an .npz archive (it does not start like a zip file); "
                         f"expected an .npz with poses_3d and index; {_SCHEMA_HINT}.")
    arrays = load_npz(path, what="a predictions .npz (poses_3d plus index or key arrays)")
    preds = validate_arrays(arrays, source=str(path))
    preds.sha256 = sha256_file(path)
    return preds


def validate_arrays(arrays: dict[str, np.ndarray], source: str) -> Predictions:
    """Check the schema of loaded arrays and build `Predictions` (see module docstring)."""
    if not arrays:
        raise InputError(f"{source} holds no arrays; expected poses_3d and index; "
                         f"{_SCHEMA_HINT}.")
    if "poses_3d" not in arrays:
        raise InputError(f"{source} has no 'poses_3d' array (found: {', '.join(sorted(arrays))})"
                         f"; expected poses_3d (N, J, 3) in mm; {_SCHEMA_HINT}.")
    poses = _check_poses(np.asarray(arrays["poses_3d"]), source)
    n = poses.shape[0]
    index = _check_index(arrays["index"], n, source) if "index" in arrays else None
    keys = _check_keys(arrays, n, source)
    if index is None and keys is None:
        raise InputError(f"{source} has poses_3d but neither an 'index' array nor the key arrays "
                         f"{', '.join(KEY_ARRAYS)}; expected one of them to say which sample "
                         "each pose belongs to; add index=np.arange(N) in `posebench keys` order.")
    names, names_as = _check_joint_names(arrays["joint_names"], poses.shape[1], source) \
        if "joint_names" in arrays else (None, None)
    return Predictions(poses, index, keys, names, source, names_as=names_as)


def _check_poses(p: np.ndarray, source: str) -> np.ndarray:
    if p.dtype.kind not in "iuf":
        raise InputError(f"{source}: poses_3d has dtype {p.dtype}; expected a float array in mm; "
                         "save poses_3d as float32/float64 numbers.")
    if p.ndim != 3 or p.shape[-1] != 3:
        hint = (" (2D keypoints?)" if p.ndim == 3 and p.shape[-1] == 2 else "")
        raise InputError(f"{source}: poses_3d has shape {p.shape}{hint}; expected rank 3 "
                         "(N, J, 3) with x, y, z in mm; reshape to (N, J, 3).")
    if p.shape[0] == 0:
        raise InputError(f"{source}: poses_3d holds 0 poses; expected one pose per scored sample; "
                         "write the model's predictions before evaluating.")
    # float32 kept as stored: half the memory of a full-size file (0.2 GB); the scoring casts
    # to float64 exactly (_scored_prediction). NaN / inf: the NaN policy decides.
    return p if p.dtype in (np.float32, np.float64) else p.astype(np.float64)


def _check_index(idx: np.ndarray, n: int, source: str) -> np.ndarray:
    idx = np.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise InputError(f"{source}: index has dtype {idx.dtype}; expected integers (positions "
                         "in `posebench keys` order); save index as an int64 array.")
    if idx.ndim != 1 or len(idx) != n:
        raise InputError(f"{source}: index has shape {idx.shape} but poses_3d has {n} poses; "
                         f"expected index of shape ({n},); give one index per pose.")
    idx = idx.astype(np.int64)
    if n and idx.min() < 0:
        raise InputError(f"{source}: index holds negative value {idx.min()}; expected positions "
                         "0..M-1 in `posebench keys` order; fix the index array.")
    _refuse_duplicates(idx, "index value", source)
    return idx


def _check_keys(arrays: dict, n: int, source: str) -> dict[str, np.ndarray] | None:
    present = [k for k in KEY_ARRAYS if k in arrays]
    if not present:
        return None
    missing = [k for k in KEY_ARRAYS if k not in arrays]
    if missing:
        raise InputError(f"{source} has key array(s) {', '.join(present)} but lacks "
                         f"{', '.join(missing)}; expected all of {', '.join(KEY_ARRAYS)} "
                         "(subaction optional); add the missing arrays or use index instead.")
    keys = {}
    for k in KEY_ARRAYS + OPTIONAL_KEY_ARRAYS:
        if k not in arrays:
            continue
        a = np.asarray(arrays[k])
        if a.ndim != 1 or len(a) != n:
            raise InputError(f"{source}: key array '{k}' has shape {a.shape} but poses_3d has {n}"
                             f" poses; expected ({n},); give one key per pose.")
        if k in ("frame", "subaction"):
            if a.dtype.kind not in "iu":
                raise InputError(f"{source}: key array '{k}' has dtype {a.dtype}; expected "
                                 f"integers; save '{k}' as int64.")
            a = a.astype(np.int64)
        else:
            if a.dtype.kind not in "USiu":
                raise InputError(f"{source}: key array '{k}' has dtype {a.dtype}; expected "
                                 f"strings; save '{k}' as a fixed-width string array.")
            a = a.astype(str)
        keys[k] = a
    what = "key" if "subaction" in keys else "key (subject|action|camera|frame; no subaction)"
    _refuse_duplicates(_key_strings(keys), what, source)
    return keys


def _check_joint_names(names: np.ndarray, j: int, source: str) -> tuple[tuple[str, ...], str]:
    names = np.asarray(names)
    if names.dtype.kind not in "US" or names.ndim != 1:
        raise InputError(f"{source}: joint_names has dtype {names.dtype} and shape {names.shape}; "
                         "expected a (J,) array of joint-name strings; save it with "
                         "np.array([...], dtype=str).")
    out = tuple(str(x) for x in names.tolist())
    if len(out) != j:
        raise InputError(f"{source}: joint_names lists {len(out)} joints but poses_3d has {j}; "
                         "expected one name per joint; fix joint_names.")
    if len(set(out)) != len(out):
        raise InputError(f"{source}: joint_names repeats a joint; expected each joint once; "
                         "fix joint_names.")
    resolved = resolve_joint_names(out)
    if resolved is None:
        known = {n for _, table in _NAME_SETS for n in table}
        unknown = [x for x in out if x not in known]
        where = (f"unknown name(s) {', '.join(unknown[:5])}" if unknown else
                 "names from different naming schemes")
        raise InputError(f"{source}: joint_names holds {where}; expected one known set: "
                         f"canonical ({', '.join(_CANONICAL_JOINTS)}) or the official names of "
                         f"{', '.join(label for label, _ in _NAME_SETS[1:])}; rename them.")
    return resolved


def _refuse_duplicates(values: np.ndarray, what: str, source: str) -> None:
    uniq, counts = np.unique(values, return_counts=True)
    if len(uniq) != len(values):
        dup = uniq[counts > 1]
        hint = ("add a 'subaction' key array if they are different subactions, else drop "
                "the duplicate rows" if "no subaction" in what else "drop the duplicate rows")
        raise InputError(f"{source}: {what} {dup[0]} appears {counts[counts > 1][0]} times "
                         f"({len(dup)} duplicated in all); expected each sample once; {hint}.")


def _key_strings(keys: dict[str, np.ndarray]) -> np.ndarray:
    """(N,) 'subject|action[|subaction]|camera|frame' strings."""
    fields = ["subject", "action"] + (["subaction"] if "subaction" in keys else []) + \
        ["camera", "frame"]
    out = keys[fields[0]].astype(str).astype(object)
    for f in fields[1:]:
        out = out + "|" + keys[f].astype(str).astype(object)
    return out.astype(str)


# ------------------------------------------------------------------------------ matching
def match_to_ground_truth(preds: Predictions, dataset, protocol,
                          allow_partial: bool = False, joint_order: str | None = None,
                          nan_policy: str = "refuse") -> Match:
    """Match predictions to the samples `protocol` selects from `dataset`.

    Returns a `Match` in canonical order with poses in the protocol's evaluation skeleton.
    `joint_order` names the skeleton whose order the file's columns follow (overrides the
    order assumed from J); `nan_policy` is "refuse" or "miss" (NaN / inf joints become NaN).
    Raises InputError for unknown/out-of-range samples, missing samples (unless
    `allow_partial`), joint-count problems, NaN under "refuse", and predictions that fit
    another joint order, left/right, units or axes much better than the declared ones.
    """
    if nan_policy not in NAN_POLICIES:
        raise InputError(f"NaN policy '{nan_policy}' is unknown; expected one of "
                         f"{', '.join(NAN_POLICIES)}; pass --nan-policy refuse or miss.")
    rows_all = protocol.select(dataset)
    expected = len(rows_all)
    if expected == 0:
        raise InputError(f"protocol {protocol.name} selects no samples of dataset "
                         f"'{dataset.name}' split '{dataset.split}'; expected a dataset of kind "
                         f"{protocol.dataset_kind} with its test subjects; pick another "
                         "protocol (`posebench protocols`).")
    positions = _positions(preds, dataset, protocol, rows_all)
    order = np.argsort(positions, kind="stable")
    positions = positions[order]
    # in canonical order already (the usual file): no pose-sized copy; nothing below writes
    poses = preds.poses_3d if _is_identity(order) else preds.poses_3d[order]

    declared, alternatives = _readings(preds, dataset, protocol, joint_order)
    take, root_col, how, eval_skel = _eval_columns(preds, declared, joint_order, protocol,
                                                   dataset)
    rows = rows_all[positions]
    poses, nonfinite, nan_joints = _apply_nan_policy(poses, np.append(take, root_col),
                                                     nan_policy, preds.source, dataset, rows)
    frame = _check_frame(poses, dataset, rows, declared, alternatives, preds.source)
    eval_poses = poses if _is_identity(take, poses.shape[1]) else poses[:, take]
    finite_rows = np.flatnonzero(~nonfinite)
    _refuse_metres(eval_poses[finite_rows[sample_rows(len(finite_rows), METRES_SAMPLES)]],
                   eval_skel, preds.source)
    root = poses[:, root_col]

    m = Match(eval_poses, root, rows, positions, expected, how, nonfinite=nonfinite,
              nan_joints=nan_joints, frame=frame)
    if nonfinite.any():
        m.notes.append(f"NaN policy 'miss': {int(nonfinite.sum())} of {len(rows)} poses have "
                       f"{nan_joints} NaN/inf joint(s), scored as PCK/AUC/PSS misses and left out "
                       "of MPJPE-type means (see denominators)")
    if m.partial:
        if not allow_partial:
            miss = np.setdiff1d(np.arange(expected), positions)
            first = _describe_rows(dataset, rows_all[miss[:1]])[0]
            raise InputError(f"{preds.source}: predictions cover {len(positions)} of {expected} "
                             f"samples of protocol {protocol.name} ({len(miss)} missing, first "
                             f"{first}); expected every sample; predict the missing samples or "
                             "pass --allow-partial to score only the covered subset.")
        m.notes.insert(0, f"PARTIAL: scored {len(positions)} of {expected} samples "
                          f"({100.0 * len(positions) / expected:.1f}%) of protocol "
                          f"{protocol.name}; numbers are NOT comparable with full-protocol "
                          "results.")
    return m


def _eval_columns(preds: Predictions, declared, joint_order: str | None, protocol, dataset):
    """(columns of the evaluation skeleton's joints, root column, how the order was read,
    evaluation Skeleton) of the declared reading; InputError when a needed joint is absent."""
    names, how = list(declared.names), declared.skeleton or declared.label
    if preds.joint_names is not None and joint_order is None:
        how = "joint_names" if preds.names_as in (None, "canonical") else \
            f"joint_names ({preds.names_as})"
    eval_skel = get_skeleton(protocol.eval_skeleton)
    missing = [j for j in (*eval_skel.names, protocol.root) if j not in names]
    if missing:
        raise InputError(f"{preds.source}: predictions ({how}) lack joint(s) "
                         f"{', '.join(dict.fromkeys(missing))} that protocol {protocol.name} "
                         f"needs ({eval_skel.name} plus root {protocol.root}); expected a "
                         f"skeleton containing them; predict {dataset.skeleton} joints.")
    take = np.array([names.index(j) for j in eval_skel.names])
    root_col = names.index(protocol.root)
    return take, root_col, how, eval_skel


def _is_identity(index: np.ndarray, n: int | None = None) -> bool:
    """True when integer `index` is ``arange(n)`` (n: its length by default): indexing with it
    would only copy."""
    index = np.asarray(index)
    n = len(index) if n is None else n
    return len(index) == n and bool((index == np.arange(n)).all())


def _apply_nan_policy(poses: np.ndarray, cols: np.ndarray, policy: str, source: str, dataset,
                      rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(poses, (M,) bool poses with a non-finite scored joint, the number of such joints);
    refuses under "refuse"; under "miss" the poses come back as a new array with every
    non-finite coordinate NaN (the input, perhaps the caller's array, is never written)."""
    bad_joint = ~np.isfinite(poses).all(axis=-1)[:, cols]  # (M, C); no copy of the poses
    nonfinite = bad_joint.any(axis=1)
    n_joints = int(bad_joint.sum())
    if not nonfinite.any():
        return poses, nonfinite, 0
    if policy == "refuse":
        first = int(np.flatnonzero(nonfinite)[0])
        raise InputError(f"{source}: poses_3d has NaN or inf in {int(nonfinite.sum())} of "
                         f"{len(poses)} poses ({n_joints} scored joints; first at sample "
                         f"{_describe_rows(dataset, rows[first:first + 1])[0]}); expected finite "
                         "mm coordinates; fix or re-run the model for those samples, or pass "
                         "--nan-policy miss to score them as misses.")
    return np.where(np.isfinite(poses), poses, np.nan), nonfinite, n_joints


def _check_frame(poses: np.ndarray, dataset, rows: np.ndarray, declared, alternatives,
                 source: str) -> dict:
    """Run `check_frame` on finite poses against the dataset's own 3D ground truth."""
    gt_all = getattr(dataset, "poses_3d", None)
    if gt_all is None:
        return {"skipped": "the dataset has no 3D ground truth"}
    ok = np.flatnonzero(np.isfinite(poses).all(axis=(1, 2)))
    pick = ok[sample_rows(len(ok))]
    k = dataset.keys
    cams = np.char.add(np.char.add(k.subject[rows[pick]].astype(str), "|"),
                       k.camera[rows[pick]].astype(str))
    out = check_frame(np.asarray(poses[pick], dtype=np.float64), gt_all[rows[pick]],
                      get_skeleton(dataset.skeleton).names,
                      declared, alternatives, source, groups=cams)
    out["samples"] = int(len(poses))
    return out


def _positions(preds: Predictions, dataset, protocol, rows_all: np.ndarray) -> np.ndarray:
    """(N,) positions in the protocol's canonical order for every prediction."""
    expected = len(rows_all)
    pos_index = None
    if preds.index is not None:
        if preds.index.max() >= expected:
            raise InputError(f"{preds.source}: index value {int(preds.index.max())} is out of "
                             f"range; protocol {protocol.name} on '{dataset.name}' has {expected} "
                             f"samples (index 0..{expected - 1}); regenerate the index from "
                             f"`posebench keys --protocol {protocol.name}`.")
        pos_index = preds.index
    if preds.keys is None:
        return pos_index
    pos_keys = _positions_from_keys(preds, dataset, protocol, rows_all)
    if pos_index is not None and not np.array_equal(pos_index, pos_keys):
        bad = int(np.flatnonzero(pos_index != pos_keys)[0])
        raise InputError(f"{preds.source}: index and key arrays disagree at row {bad} (index "
                         f"{int(pos_index[bad])}, keys give {int(pos_keys[bad])}); expected both "
                         "to name the same sample; drop one of them or regenerate both from "
                         "`posebench keys`.")
    return pos_keys


def _positions_from_keys(preds, dataset, protocol, rows_all) -> np.ndarray:
    k = dataset.keys
    gt = {"subject": k.subject[rows_all], "action": k.action[rows_all],
          "camera": k.camera[rows_all], "frame": k.frame[rows_all]}
    if "subaction" in preds.keys:
        gt["subaction"] = k.subaction[rows_all]
    gt_str = _key_strings(gt)
    order = np.argsort(gt_str, kind="stable")
    sorted_gt = gt_str[order]
    if len(np.unique(sorted_gt)) != len(sorted_gt):
        raise InputError(f"{preds.source}: keys (subject, action, camera, frame) are ambiguous "
                         f"in protocol {protocol.name} (several subactions share them); expected "
                         "a 'subaction' key array too; add subaction (int) to the file.")
    pred_str = _key_strings(preds.keys)
    at = np.clip(np.searchsorted(sorted_gt, pred_str), 0, len(sorted_gt) - 1)
    found = sorted_gt[at] == pred_str
    if not found.all():
        bad = pred_str[~found]
        why = _diagnose_keys(preds.keys, ~found, gt, dataset, protocol)
        raise InputError(f"{preds.source}: {len(bad)} prediction key(s) are not in protocol "
                         f"{protocol.name}'s samples of '{dataset.name}' (first: {bad[0]}); "
                         + (why or f"expected only the samples `posebench keys --protocol "
                            f"{protocol.name}` lists; drop those rows or choose the protocol "
                            "they belong to."))
    return order[at]


def _diagnose_keys(keys: dict, bad: np.ndarray, gt: dict, dataset, protocol) -> str | None:
    """Which key field makes rows unmatched, as 'expected ...; fix' (None: no diagnosis)."""
    k = {f: v[bad] for f, v in keys.items()}
    gset = {f: set(np.asarray(v).astype(str).tolist()) for f, v in gt.items()}
    subj = sorted(set(k["subject"].tolist()) - gset["subject"])
    if subj:
        fixed = ["S" + x for x in subj if "S" + x in gset["subject"]]
        hint = f"write subjects as {fixed[0]}" if fixed else "drop other subjects' rows"
        return (f"field 'subject' holds {', '.join(subj[:3])}; expected "
                f"{', '.join(sorted(gset['subject']))}; {hint}.")
    cams = sorted(set(k["camera"].tolist()) - gset["camera"])
    if cams:
        ids = sorted(gset["camera"])
        if all(c.isdigit() and len(c) == 1 for c in cams) and len(ids) <= 4:
            base = 1 if "4" in cams or ("0" not in cams and len(cams) == 4) else 0
            return (f"field 'camera' holds camera indices {', '.join(cams)} where camera ids "
                    f"{', '.join(ids)} are expected; map index i to ids[i{' - 1' if base else ''}]"
                    f" (order {', '.join(ids)}).")
        return (f"field 'camera' holds {', '.join(cams[:3])}; expected camera ids "
                f"{', '.join(ids[:8])}; write the dataset's camera ids.")
    acts = sorted(set(k["action"].tolist()) - gset["action"])
    if acts:
        m = re.match(r"^([A-Za-z]+)[ _-]?(\d+)$", acts[0])
        if m and m.group(1) in gset["action"]:
            return (f"field 'action' holds video basenames like '{acts[0]}'; expected the action "
                    f"'{m.group(1)}' plus a 'subaction' array with the official trial (the "
                    "basename's number is not the trial number); read the file with --from "
                    "videopose3d or map names with posebench.data.adapters.h36m_common."
                    "parse_sequence.")
        return (f"field 'action' holds {', '.join(acts[:3])}; expected one of "
                f"{', '.join(sorted(gset['action']))}; rename the actions.")
    if "subaction" in k:
        seq = np.char.add(np.char.add(k["subject"], "|"), np.char.add(
            k["action"], "|" + np.char.add("", k["subaction"].astype(str))))
        gseq = set(np.char.add(np.char.add(np.asarray(gt["subject"]).astype(str), "|"),
                               np.char.add(np.asarray(gt["action"]).astype(str), "|" + np.char.add(
                                   "", np.asarray(gt["subaction"]).astype(str)))).tolist())
        missing = [x for x in dict.fromkeys(seq.tolist()) if x not in gseq]
        if missing:
            s_, a_, t_ = missing[0].split("|")
            have = sorted(x.split("|")[2] for x in gseq if x.startswith(f"{s_}|{a_}|"))
            return (f"field 'subaction': {s_} {a_} has no trial {t_} (trials: "
                    f"{', '.join(have) or 'none'}); expected the official trial number (a video "
                    "basename's number, e.g. 'Greeting 2', is not the trial); read VideoPose3D "
                    "files with --from videopose3d.")
    gstr = _key_strings(gt)
    shifted = dict(k, frame=k["frame"] - 1)
    if np.isin(_key_strings(shifted), gstr).mean() > 0.9:
        return ("field 'frame' looks 1-based (frame - 1 matches); expected 0-based frame "
                "indices; subtract 1 from frame.")
    rows = np.isin(_key_strings({f: v for f, v in k.items()}),
                   dataset.keys.as_strings() if "subaction" in k else _key_strings(
                       {f: getattr(dataset.keys, f) for f in ("subject", "action", "camera",
                                                                "frame")}))
    if rows.mean() > 0.9:
        return (f"those rows are samples of '{dataset.name}' that protocol {protocol.name} does "
                "not score (e.g. frames off its stride); expected only its samples; pass "
                "--select-from-superset to keep the protocol's rows (recorded).")
    return None


def _readings(preds: Predictions, dataset, protocol, joint_order: str | None):
    """(declared `Reading`, alternative readings) of the file's J columns.

    Declared: `joint_order` if given, else joint_names, else the dataset skeleton's order (J
    equal) or the evaluation skeleton's. Alternatives: every other skeleton with J joints."""
    j = preds.num_joints
    same_j = [s for s in SKELETONS.values() if s.num_joints == j]
    alternatives = [Reading(f"{s.name} order", s.names, s.name) for s in same_j]
    if joint_order is not None:
        if joint_order not in SKELETONS:
            raise InputError(f"--joint-order {joint_order} is not a skeleton posebench knows; "
                             f"expected one of {', '.join(SKELETONS)}; pick one of those (or "
                             "save joint_names in the file).")
        sk = SKELETONS[joint_order]
        if sk.num_joints != j:
            fits = ", ".join(s.name for s in same_j) or "none"
            raise InputError(f"{preds.source}: --joint-order {joint_order} has {sk.num_joints} "
                             f"joints but poses_3d has {j}; expected a skeleton with {j} joints "
                             f"({fits}); pick one of those.")
        if preds.joint_names is not None and preds.joint_names != sk.names:
            raise InputError(f"{preds.source}: the file's joint_names disagree with "
                             f"--joint-order {joint_order}; expected one statement of the joint "
                             "order; drop --joint-order or fix joint_names.")
        return Reading(f"{sk.name} order (--joint-order)", sk.names, sk.name), alternatives
    if preds.joint_names is not None:
        return Reading("the file's joint_names", preds.joint_names), alternatives
    ds_skel = get_skeleton(dataset.skeleton)
    eval_skel = get_skeleton(protocol.eval_skeleton)
    for sk in (ds_skel, eval_skel):
        if j == sk.num_joints:
            return Reading(f"{sk.name} order (assumed from {j} joints)", sk.names, sk.name), \
                alternatives
    accepted = f"{ds_skel.num_joints} ({ds_skel.name}, the dataset's order)"
    if eval_skel.name != ds_skel.name:
        accepted += (f" or {eval_skel.num_joints} ({eval_skel.name}, protocol "
                     f"{protocol.name}'s order)")
    raise InputError(f"{preds.source}: poses_3d has {j} joints; expected {accepted}; reorder the "
                     "joints, add a joint_names array naming them, or pass --joint-order.")


def _refuse_metres(poses: np.ndarray, skel, source: str) -> None:
    poses = np.asarray(poses, dtype=np.float64)  # float32 predictions: the same test
    bones = np.array(skel.bones)
    if len(bones) == 0 or len(poses) == 0:
        return
    lengths = np.linalg.norm(poses[:, bones[:, 1]] - poses[:, bones[:, 0]], axis=-1)
    median = float(np.median(lengths))
    if median < METRES_BONE_THRESHOLD:
        raise InputError(f"{source}: median bone length is {median:.3g}, which looks like metres "
                         f"(or normalised units); expected millimetres (human bones are ~100-500 "
                         "mm); multiply poses_3d by 1000.")


def _describe_rows(dataset, rows: np.ndarray) -> list[str]:
    k = dataset.keys.take(rows)
    return [f"{s}|{a}|{sa}|{c}|{f}" for s, a, sa, c, f in
            zip(k.subject, k.action, k.subaction, k.camera, k.frame)]
