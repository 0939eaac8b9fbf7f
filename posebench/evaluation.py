"""evaluate(predictions, dataset, protocol) -> Report: the library behind `posebench eval`.

Rules (recorded in every result under "alignment"):
- both poses are root-centred at ``protocol.root`` (in their own skeletons) before MPJPE,
  PCK and AUC, or, under ``protocol.gt_root_zeroing``, only the ground truth (the prediction
  is scored as given, as VideoPose3D and MPI-INF-3DHP do); the evaluation skeleton's joints
  are then taken by canonical name; the protocol's other anchor options (re-rooted P-MPJPE,
  camera-frame N-MPJPE, PCK joints) are applied in `_apply_anchor_options`;
- P-MPJPE aligns by similarity (scale, rotation, translation); N-MPJPE by scale only
  (``protocol.n_mpjpe_scale``: least squares or the Procrustes similarity scale);
- PSS@k: k-means models fitted on the dataset's TRAINING split ground truth (evaluation
  skeleton, root-centred) on first use and cached under ``$POSEBENCH_HOME/pss/`` (`pss_cache_path`);
  by default an ensemble of 20 seeded models (PSS = mean over them, "clustering sd" recorded),
  ``pss_definition="paper"``: one model;
- summary numbers aggregate per-sample values with ``protocol.aggregation`` ("frame": mean
  over samples; "action": mean over per-action means);
- intervals: seeded percentile bootstrap over sequence blocks (subject, action, subaction; all
  cameras and frames of a sequence together; within actions under action-wise aggregation),
  never over frames (posebench.stats, docs/statistics.md); `summary["ci"]`;
- per-sample values travel with a written record: ``<stem>.samples.npz`` (`write_record`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from posebench import __version__
from posebench import metrics as M
from posebench.data.dataset import PoseDataset, read_meta, read_split
from posebench.data.protocol import Protocol, check_applicable, with_ground_truth
from posebench.data.protocols import default_protocol, get_protocol
from posebench.data.registry import ensure_dataset
from posebench.errors import InputError
from posebench.io import release_mapped, savez_atomic, sha256_file
from posebench.metrics.pss import (
    clustering_spread,
)
from posebench.parallel import chunks
from posebench.predictions import Predictions, load_predictions, match_to_ground_truth
from posebench.provenance import code_record, external_provenance, git_state, portable_path
from posebench.pss_models import hits_and_labels, models_for_evaluation
from posebench.results import (
    METRIC_ORDER,
    UNITS,
    protocol_fingerprint,
    render_report,
    write_result,
)
from posebench.skeletons import convert, get_skeleton
from posebench.stats import BLOCK_COLUMNS, block_bootstrap, block_ids, block_stats, sorted_codes

KEY_COLUMNS = ("subject", "action", "subaction", "camera", "frame")
#: Under `gt_root_zeroing` a prediction whose root lies (median) further than this from the
#: origin is taken to be in the camera frame and refused (a person is ~1 m from its own root
#: at most; a camera-frame root is metres away).
ROOT_RELATIVE_LIMIT_MM = 500.0
@dataclass
class Report:
    """Result of `evaluate`.

    summary     dict: metrics, protocol (in full), dataset name + fingerprint, PSS model
                fingerprints, n samples, coverage, version, git commit, timestamp, notes
    frame       pandas DataFrame, one row per scored sample: keys + per-sample metrics
    per_group   {"action" | "subject" | "scene" | "joint": DataFrame}
    extra_arrays  per-sample arrays for the samples file beyond `frame` (PSS hits per model)
    """

    summary: dict
    frame: object
    per_group: dict = field(default_factory=dict)
    extra_arrays: dict = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, float]:
        return self.summary["metrics"]

    def ci(self, metric: str, n_boot: int = 2000, alpha: float = 0.05,
           seed: int | None = None) -> tuple[float, float]:
        """Seeded percentile (1 - alpha) interval of a summary metric, resampling sequence
        blocks (never frames); under action-wise aggregation blocks are resampled within
        actions and the statistic is the mean of per-action means (the reported number)."""
        if metric not in self.frame.columns or metric not in self.summary["metrics"]:
            raise InputError(f"no per-sample metric '{metric}' in this report; expected one of "
                             f"{', '.join(self.summary['metrics'])}; pick one of those.")
        seed = self.summary.get("seed", 0) if seed is None else seed
        st = _block_stats(self.frame, [metric])
        res = block_bootstrap(st, self.summary["protocol"]["aggregation"], n_boot=n_boot,
                              level=1.0 - alpha, seed=seed)
        return float(res.low[0]), float(res.high[0])

    def per_sample_arrays(self) -> dict[str, np.ndarray]:
        """Arrays of the per-sample file: key columns, ``block`` (int64 sequence id) and one
        (M,) array per metric (PSS: share of the ensemble's models hit), plus
        ``<pss metric>.hits`` (M, R) bool: hits of each PSS model, and
        ``<pss metric>.gt_label`` (M,) int: the ground truth's cluster under the first model."""
        f = self.frame
        out = {col: np.asarray(f[col]) for col in KEY_COLUMNS}
        for col in ("subject", "action", "camera"):
            out[col] = out[col].astype(str)
        out["block"] = np.asarray(f["block"], dtype=np.int64)
        for name in self.summary["metrics"]:
            if name in f.columns:  # sequence-level metrics (MPJVE) have no per-sample value
                out[name] = np.asarray(f[name], dtype=np.float64)
        out.update(self.extra_arrays)
        return out

    def record(self) -> dict:
        """JSON-ready result record: the summary plus per-group tables, ``code`` (version, git
        commit, dirty flag) and ``provenance`` (kind "external" until `posebench eval --out`
        merges what `posebench run` wrote). Paths are stored portably, never absolute."""
        out = dict(self.summary)
        out["per_group"] = {name: json.loads(df.to_json(orient="index"))
                            for name, df in self.per_group.items()}
        code = code_record()
        out["code"] = code
        out["posebench_version"], out["git_commit"] = code["posebench_version"], code["git_commit"]
        out.setdefault("provenance", external_provenance())
        if isinstance(out.get("predictions"), dict):
            out["predictions"] = {**out["predictions"],
                                  "source": portable_path(out["predictions"].get("source"))}
        out["pss_models"] = [{**m, "path": portable_path(m["path"])} if m.get("path") else m
                             for m in out.get("pss_models", [])]
        return out

    def render(self, fmt: str = "table") -> str:
        """Text for `posebench eval --format table|markdown|csv|json`."""
        return render_report(self, fmt)


# ------------------------------------------------------------------------------ evaluate
def evaluate(predictions, dataset="synth", protocol=None, pss_models=None,
             pss_k=(50, 100), allow_partial: bool = False, per_action: bool = False,
             per_joint: bool = False, seed: int = 0, train=None, joint_order: str | None = None,
             nan_policy: str = "refuse", n_boot: int = 2000, ci_level: float = 0.95,
             pss_definition: str | None = None, ground_truth: str | None = None) -> Report:
    """Score predictions against a dataset under a protocol.

    predictions  path to a predictions .npz, a `Predictions`, or an (N, J, 3) mm array in the
                 protocol's canonical order
    dataset      registry name ("synth", "h36m", ...), dataset folder, or a `PoseDataset`
                 (the protocol's split)
    protocol     name, `Protocol`, or None (the dataset kind's default)
    pss_models   paths of saved PSS models (ensembles or single models); they replace the
                 auto-fitted ones
    pss_k        k values of auto-fitted PSS models (fitted on the training split)
    train        optional training-split `PoseDataset` for PSS when `dataset` is in memory
    joint_order  skeleton name whose joint order the predictions follow (e.g. "3dhp17");
                 default: joint_names, else the order implied by J (checked, never trusted)
    nan_policy   "refuse" (default: NaN / inf predictions are an error) or "miss" (a NaN joint
                 is a PCK/AUC miss, a pose with any NaN a PSS miss; MPJPE-type means leave
                 such poses out); record["denominators"] gives every metric's sample count
    n_boot, ci_level  sequence-block bootstrap replicates and level of summary["ci"] (0: none)
    pss_definition  "ensemble" (default: mean over 20 seeded k-means models) or "paper" (one
                 model); see posebench.metrics.pss.DEFINITIONS
    ground_truth another ground-truth array than the protocol's (e.g. "poses_3d" for 3DHP's
                 mmpose layout): scored under the distinct protocol name NAME+gt=ARRAY

    Longer than 60 lines on purpose: the steps are named functions, and the record's summary
    literal stays here so that every field of a result record is visible in one place.
    """
    notes: list[str] = []
    preds = _as_predictions(predictions)
    ds, kind, root_dir, protocol = _resolve(dataset, protocol, ground_truth)  # after cheap checks

    match = match_to_ground_truth(preds, ds, protocol, allow_partial=allow_partial,
                                  joint_order=joint_order, nan_policy=nan_policy)
    notes.extend(match.notes)
    # PSS models before any pose-sized array of the scoring: a first evaluation fits them on
    # the training split (a gigabyte at full size) while little else is held (full-size peak
    # 3.06 -> 2.54 GiB); after the checks of the predictions, so a bad file is refused at once
    pss_notes: list[str] = []
    pss = list(models_for_evaluation(ds, root_dir, protocol, pss_models, pss_k, seed, train,
                                     pss_notes, pss_definition))
    pred, gt, gt_root, gt_name = _scored_pair(ds, match, protocol, notes)
    eval_skel = get_skeleton(protocol.eval_skeleton)
    keys = ds.keys.take(_row_index(match.rows))  # views when the rows are one run
    # action codes, not the strings: every aggregate groups by them (np.unique of a million
    # strings per call was 0.2 s, x 8 metrics and x 17 joints)
    groups = sorted_codes(keys.action)[0]
    root_idx = eval_skel.names.index(protocol.root) if protocol.root in eval_skel.names else None
    values = _metrics_with_nan_policy(pred, gt, protocol, root_idx, match.nonfinite,
                                      gt_root=gt_root)
    mpjve = mpjve_by_action(pred, gt, keys) if _mpjve_allowed(protocol) else {}
    joint_table = _per_joint_table(pred, gt, groups, protocol, eval_skel) if per_joint else None
    del pred, gt_root  # pose-sized; PSS scores match.poses against gt (full size: -0.42 GB)
    notes.extend(pss_notes)
    extra_arrays = _pss_values(pss, match, gt, eval_skel, values)
    del gt  # pose-sized: not needed for the tables and intervals below
    summary_metrics = {name: float(M.aggregate(v, groups, how=protocol.aggregation))
                       for name, v in values.items()}

    frame = _sample_frame(ds, match, keys, values)
    ci = {}
    if n_boot:
        ci = block_bootstrap(_block_stats(frame, list(values)), protocol.aggregation,
                             n_boot=n_boot, level=ci_level, seed=seed).as_record()
    per_group = _per_group_tables(frame, values, protocol, per_action, notes)
    if joint_table is not None:
        per_group["joint"] = joint_table
    _add_mpjve(summary_metrics, per_group, mpjve)

    summary = {
        "format": "posebench-result",
        "format_version": 1,
        "metrics": summary_metrics,
        "ci": ci,
        "blocks": {"key": list(BLOCK_COLUMNS), "n_blocks": int(frame["block"].max()) + 1
                   if len(frame) else 0},
        "headline": protocol.extra.get("headline", "mpjpe"),
        "units": {k: UNITS.get(k, "fraction") for k in summary_metrics},
        "protocol": protocol.to_dict(),
        "protocol_fingerprint": protocol_fingerprint(protocol.to_dict()),
        "dataset": {"name": ds.name, "kind": kind, "split": ds.split,
                    "fingerprint": ds.fingerprint(), "num_samples": len(ds)},
        "ground_truth": gt_name,
        "predictions": {"source": preds.source, "sha256": preds.sha256,
                        "num_poses": len(preds), "read_as": _read_as(preds, match)},
        "pss_models": [info for _, _, info in pss],
        "n_samples": int(len(match.rows)),
        "nan_policy": nan_policy,
        "nonfinite": {"poses": int(match.nonfinite.sum()), "joints": int(match.nan_joints)},
        "denominators": {name: int(np.count_nonzero(~np.isnan(v)))
                         for name, v in values.items()},
        "frame_check": match.frame,
        "coverage": match.coverage,
        "alignment": _alignment_statement(protocol),
        "seed": int(seed),
        "posebench_version": __version__,
        "git_commit": git_commit(),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "notes": notes,
    }
    return Report(summary, frame, per_group, extra_arrays)


def _as_predictions(predictions) -> Predictions:
    """A `Predictions` from a path, an (N, J, 3) mm array or a `Predictions`."""
    if isinstance(predictions, Predictions):
        return predictions
    if isinstance(predictions, np.ndarray):
        return Predictions.from_array(predictions)
    if isinstance(predictions, (str, Path)):
        return load_predictions(predictions)
    raise InputError(f"predictions of type {type(predictions).__name__} are not supported; "
                     "expected a path to an .npz, a Predictions object or an (N, J, 3) array;"
                     " pass one of those.")


def _scored_pair(ds, match, protocol, notes: list[str]):
    """(pred, gt, gt_root, gt_name): the (M, J', 3) mm prediction as scored, the ground truth
    in the evaluation skeleton centred on the protocol's root, the (M, 3) mm root of the
    ground truth as stored, and the name of its array. Refuses missing 3D truth.

    The ground truth is built a block of rows at a time, and the pages of a memory-mapped
    split are given back behind each block (full size: never both the stored and the
    converted truth resident)."""
    gt_all, gt_name = ground_truth_of(ds, protocol, notes)
    gt_src = _take_rows(gt_all, match.rows)
    ds_skel = get_skeleton(ds.skeleton)
    eval_skel = get_skeleton(protocol.eval_skeleton)
    root = ds_skel.index(protocol.root)
    gt = np.empty((len(gt_src), eval_skel.num_joints, 3))
    gt_root = np.empty((len(gt_src), 3), dtype=gt_src.dtype)
    for sl in chunks(len(gt_src), METRIC_BLOCK):
        blk = gt_src[sl]
        if not np.isfinite(blk).all():
            raise InputError(f"dataset '{ds.name}' split '{ds.split}' has no finite 3D ground "
                             f"truth for some of the {len(match.rows)} samples protocol "
                             f"{protocol.name} scores; expected a split with 3D annotations; "
                             "pick a split or protocol with 3D ground truth.")
        gt_root[sl] = blk[:, root]
        gt[sl] = convert(blk, ds_skel, eval_skel)
        gt[sl] -= blk[:, root][:, None]
        release_mapped(blk)
    return _scored_prediction(match, protocol), gt, gt_root, gt_name


def _row_index(rows: np.ndarray) -> np.ndarray | slice:
    """`rows` as an index: a slice (arrays indexed by it are views, no copy of a split-sized
    array) when it is a run of consecutive rows (every sample of a split, in order)."""
    rows = np.asarray(rows)
    if rows.size and rows[-1] - rows[0] == rows.size - 1 and (np.diff(rows) == 1).all():
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows


def _take_rows(a: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``a[rows]``, as a view when `rows` is a run of consecutive rows (`_row_index`)."""
    return a[_row_index(rows)]


def _pss_values(pss, match, gt: np.ndarray, eval_skel, values: dict) -> dict:
    """Score every PSS model: adds ``values["pss@k"]`` (M,) (share of the ensemble's models
    hit) and each model's spread to its info; returns the ``"pss@k.hits"`` (M, R) arrays."""
    try:
        # the poses as matched, not centred: every PSS normalisation subtracts a translation
        # (a root or the centroid) first, so centring would only cost a pose-sized copy
        all_hits, gt_labels = (hits_and_labels([model for _, model, _ in pss], match.poses, gt)
                               if pss else ([], []))
    except ValueError as exc:
        paths = ", ".join(str(info.get("path", name)) for name, _, info in pss)
        raise InputError(f"PSS model(s) {paths} cannot score {eval_skel.num_joints}-joint "
                         f"{eval_skel.name} poses ({exc}); expected models fitted on "
                         f"{eval_skel.name}; refit with `posebench pss fit` or drop "
                         "--pss-model.") from None
    extra_arrays = {}
    for (name, _, info), hits, labels in zip(pss, all_hits, gt_labels):
        values[name] = hits.mean(axis=1)  # share of the ensemble's models hit
        extra_arrays[f"{name}.hits"] = hits
        extra_arrays[f"{name}.gt_label"] = labels[:, 0].astype(np.int64)  # the site's gallery
        spread = clustering_spread(hits)
        info.update({key: spread[key] for key in ("member_sd", "clustering_sd",
                                                  "binomial_sd")})
    return extra_arrays


def _sample_frame(ds, match, keys, values: dict):
    """DataFrame, one row per scored sample: position, row, key columns (`keys`, those of the
    scored rows), scene (when the dataset has it), sequence ``block`` id and one column per
    metric."""
    import pandas as pd  # lazy: ~0.3 s, only when scoring (not for `posebench keys`)

    frame = pd.DataFrame({"position": match.positions, "row": match.rows})
    for col in KEY_COLUMNS:
        frame[col] = np.array(getattr(keys, col))  # a copy: keys may be views of the dataset
    if "scene" in ds.extra:
        frame["scene"] = np.asarray(ds.extra["scene"])[match.rows].astype(str)
    frame["block"] = block_ids(*(np.asarray(frame[c]) for c in BLOCK_COLUMNS))[0]
    for name, v in values.items():
        frame[name] = v
    return frame


def _per_joint_table(pred, gt, groups, protocol, eval_skel):
    """DataFrame of per-joint MPJPE (mm), aggregated as the protocol aggregates."""
    import pandas as pd  # lazy: ~0.3 s, only when scoring (not for `posebench keys`)

    errs = M.per_joint_errors(pred, gt)
    return pd.DataFrame(
        {"mpjpe": [float(M.aggregate(errs[:, j], groups, how=protocol.aggregation))
                   for j in range(errs.shape[1])]},
        index=pd.Index(eval_skel.names, name="joint"))


def _add_mpjve(summary_metrics: dict, per_group: dict, by_action: dict[str, float]) -> None:
    """MPJVE per action (`mpjve_by_action`; empty where the protocol does not score
    consecutive frames, `_mpjve_allowed`): its mean over actions into the summary, the
    values into the per-action table."""
    if by_action:
        summary_metrics["mpjve"] = float(np.mean(list(by_action.values())))
        if "action" in per_group:
            t = per_group["action"]
            t["mpjve"] = [by_action.get(a, np.nan) for a in t.index]


def _alignment_statement(protocol) -> str:
    """The record's "alignment" sentence: centring, alignments and aggregation."""
    over = "actions of per-action means" if protocol.aggregation == "action" else "samples"
    return (("ground truth root-centred at "
             f"'{protocol.root}', prediction scored as given (gt_root_zeroing)"
             if protocol.gt_root_zeroing else
             f"both poses root-centred at '{protocol.root}'")
            + " before MPJPE, PCK and AUC; "
            "P-MPJPE: similarity Procrustes; N-MPJPE: "
            f"{protocol.n_mpjpe_scale} scale; aggregation: mean over {over}")


def _block_stats(frame, names: list[str]):
    """Per-block sums/counts of metrics `names` of a report frame (stratum: action)."""
    return block_stats({n: np.asarray(frame[n], dtype=np.float64) for n in names},
                       np.asarray(frame["block"]), stratum_of_sample=np.asarray(frame["action"]))


def samples_path(record_path: str | Path) -> Path:
    """The per-sample file written beside a record: ``<folder>/<stem>.samples.npz``."""
    p = Path(record_path)
    return p.with_name(p.stem + ".samples.npz")


def write_record(report: Report, path: str | Path, record: dict | None = None) -> dict:
    """Write the per-sample file (`samples_path`, npz, no pickle) and then the JSON record
    (default `report.record()`) with ``per_sample = {file, sha256}``; both atomically.
    Returns the record written."""
    rec = dict(report.record() if record is None else record)
    npz = samples_path(path)
    savez_atomic(npz, **report.per_sample_arrays())
    rec["per_sample"] = {"file": npz.name, "sha256": sha256_file(npz)}
    write_result(path, rec)
    return rec


def _mpjve_allowed(protocol) -> bool:
    """MPJVE needs consecutive frames: VideoPose3D's all-frame, action-wise protocols."""
    return protocol.frame_stride == 1 and protocol.aggregation == "action"


def mpjve_by_action(pred: np.ndarray, gt: np.ndarray, keys) -> dict[str, float]:
    """Mean per-joint velocity error per action, mm, as VideoPose3D's run.py computes it.

    pred, gt  (M, J, 3) mm root-centred; keys: SampleKeys of the M samples. Per sequence
    (subject, action, trial, camera): mean over consecutive frame pairs (frame, frame + 1) of
    mean_j |(p_t - p_t-1) - (g_t - g_t-1)| (common/loss.py mean_velocity_error); per action:
    sequence values weighted by the sequence's number of frames (run.py evaluate: weight
    N = frames). Pairs across a gap (missing frames) are not used."""
    seq, n_seq = block_ids(keys.subject, keys.action, keys.subaction, keys.camera)
    order = np.lexsort((keys.frame, seq))
    s, f = seq[order], keys.frame[order]
    pair = (s[1:] == s[:-1]) & (f[1:] - f[:-1] == 1)
    if not pair.any():
        return {}
    dv = np.empty(pair.size)
    for sl in chunks(pair.size):  # pairs (i, i+1) of the sorted rows, a block at a time
        rows = order[sl.start:sl.stop + 1]  # (not four pose-sized temporaries at full size)
        p, g = pred[rows], gt[rows]
        dv[sl] = np.linalg.norm((p[1:] - p[:-1]) - (g[1:] - g[:-1]), axis=-1).mean(axis=-1)
    dv = dv[pair]
    seq_of_pair = s[1:][pair]
    used = np.bincount(seq_of_pair, minlength=n_seq) > 0  # sequences with a frame pair
    seq_mean = np.bincount(seq_of_pair, dv, n_seq)[used] / np.bincount(seq_of_pair, None,
                                                                         n_seq)[used]
    weight = np.bincount(seq, minlength=n_seq)[used].astype(np.float64)  # frames per sequence
    action_codes, n_actions = sorted_codes(keys.action)
    names = np.empty(n_actions, dtype=np.asarray(keys.action).dtype)
    names[action_codes] = keys.action
    seq_action = np.empty(n_seq, dtype=np.int64)
    seq_action[seq] = action_codes
    seq_action = seq_action[used]
    out = {}
    for a in np.unique(seq_action):
        m = seq_action == a
        out[str(names[a])] = float(np.sum(seq_mean[m] * weight[m]) / np.sum(weight[m]))
    return out


def _read_as(preds, match) -> dict:
    """How the predictions were read: the reader's statement plus the joint order used."""
    out = {"layout": "posebench", "units": "mm", "frame": "camera", "joint_order": None,
           "transformations": []}
    out.update(preds.read_as or {})
    if not out.get("joint_order"):
        out["joint_order"] = match.skeleton
    return out


def _per_sample_metrics(pred: np.ndarray, gt: np.ndarray, protocol,
                        root_idx: int | None, gt_root: np.ndarray | None = None
                        ) -> dict[str, np.ndarray]:
    """(M,) arrays of the protocol's non-PSS metrics on root-centred poses.

    `root_idx` is the root's index in the evaluation skeleton, or None when the protocol
    centres on a joint it does not score (3dhp-14 centres on the pelvis, then drops it).
    With a scored root, every metric comes from one chunked pass (`pose_errors`); the
    protocol's anchor options then replace the metrics they change: re-rooted P-MPJPE
    (EpipolarPose), camera-frame N-MPJPE (mmpose; needs `gt_root` (M, 3) mm, the ground-truth
    root in the dataset's frame), PCK/AUC pooled over `pck_joints` (MPI-INF-3DHP)."""
    start, stop, step = protocol.auc_thresholds
    thresholds = np.arange(start, stop + step / 2, step)
    wanted = [m for m in METRIC_ORDER if m in protocol.metrics]
    if protocol.gt_root_zeroing:  # prediction as given, ground truth root-centred: no centring
        if protocol.n_mpjpe_scale != "least_squares":
            raise InputError(f"protocol {protocol.name} scores predictions as given, where only "
                             "the least_squares N-MPJPE scale is defined; fix the protocol "
                             "definition.")
        funcs = {
            "mpjpe": M.mpjpe,
            "p_mpjpe": M.p_mpjpe,
            "n_mpjpe": M.n_mpjpe_given_frame,
            "pck": lambda p, g: M.pck(p, g, threshold=protocol.pck_threshold),
            "auc": lambda p, g: M.auc(p, g, thresholds=thresholds),
        }
        out = _per_pose_in_blocks({m: funcs[m] for m in wanted}, pred, gt)
    elif root_idx is not None:
        n_name = "n_mpjpe" if protocol.n_mpjpe_scale == "least_squares" else "n_mpjpe_procrustes"
        names = tuple(n_name if m == "n_mpjpe" else m for m in wanted)
        res = M.pose_errors(pred, gt, names, root=root_idx,
                            pck_threshold=protocol.pck_threshold, auc_thresholds=thresholds)
        out = {m: np.asarray(res[n], dtype=np.float64) for m, n in zip(wanted, names)}
    else:
        funcs = {
            "mpjpe": lambda: M.mpjpe(pred, gt),
            "p_mpjpe": lambda: M.p_mpjpe(pred, gt),
            "n_mpjpe": lambda: _n_mpjpe(pred, gt, protocol, root_idx),
            "pck": lambda: M.pck(pred, gt, threshold=protocol.pck_threshold),
            "auc": lambda: M.auc(pred, gt, thresholds=thresholds),
        }
        out = {m: np.asarray(funcs[m](), dtype=np.float64) for m in wanted}
    _apply_anchor_options(out, pred, gt, protocol, root_idx, gt_root, thresholds)
    return out


#: Poses per block of `_per_pose_in_blocks`: each metric's temporaries stay ~30 MB (the
#: whole of a full-size test split at once peaked 1.6 GB above its inputs, blocks of 262,144
#: poses 0.4 GB).
METRIC_BLOCK = 65536


def _per_pose_in_blocks(funcs: dict, pred: np.ndarray, gt: np.ndarray) -> dict[str, np.ndarray]:
    """``{name: (M,) float64}`` of per-pose metrics ``fn(pred, gt) -> (m,)``, run one block of
    `METRIC_BLOCK` poses at a time (the numbers of the whole arrays: each value depends on its
    own pose only, up to the last bit that BLAS kernels round with the data's alignment; the
    functions parallelise within a block)."""
    out = {name: np.empty(len(pred)) for name in funcs}
    for sl in chunks(len(pred), METRIC_BLOCK):
        p, g = pred[sl], gt[sl]
        for name, fn in funcs.items():
            out[name][sl] = fn(p, g)
    return out


def _scored_prediction(match, protocol) -> np.ndarray:
    """(M, J', 3) mm prediction as the protocol scores it: centred on its root, or as given
    under `gt_root_zeroing` (refused when its root is far from the origin: camera-frame
    predictions cannot be scored as given)."""
    if not protocol.gt_root_zeroing:  # float64 arithmetic for float32 poses too (exact casts)
        return np.subtract(match.poses, match.root[:, None], dtype=np.float64)
    far = float(np.median(np.linalg.norm(match.root, axis=-1))) if len(match.root) else 0.0
    if far > ROOT_RELATIVE_LIMIT_MM:
        raise InputError(f"protocol {protocol.name} scores the prediction as given against the "
                         f"root-centred ground truth (gt_root_zeroing, as its anchor does) but "
                         f"the predicted '{protocol.root}' lies a median {far:.0f} mm from the "
                         f"origin; expected root-relative predictions (root within "
                         f"{ROOT_RELATIVE_LIMIT_MM:.0f} mm); subtract each pose's root joint.")
    return np.asarray(match.poses, dtype=np.float64)


def _apply_anchor_options(out: dict, pred, gt, protocol, root_idx, gt_root,
                          thresholds) -> None:
    """Replace the metrics that the protocol's named anchor options change (in place)."""
    if "p_mpjpe" in out and protocol.p_mpjpe_reroot_after_alignment:
        if root_idx is None:
            raise InputError(f"protocol {protocol.name} re-roots P-MPJPE on '{protocol.root}' "
                             f"which its {protocol.eval_skeleton} joints do not include; "
                             "expected a scored root; fix the protocol definition.")
        out["p_mpjpe"] = np.asarray(M.p_mpjpe_rerooted(pred, gt, root_idx), dtype=np.float64)
    if "n_mpjpe" in out and protocol.n_mpjpe_frame == "camera":
        if protocol.n_mpjpe_scale != "least_squares" or gt_root is None:
            raise InputError(f"protocol {protocol.name} asks for a camera-frame N-MPJPE with "
                             f"the {protocol.n_mpjpe_scale} scale; expected least_squares and "
                             "the ground-truth root; fix the protocol definition.")
        shift = np.asarray(gt_root, dtype=np.float64)[:, None]
        out["n_mpjpe"] = np.asarray(M.n_mpjpe_given_frame(pred + shift, gt + shift),
                                    dtype=np.float64)
    elif protocol.n_mpjpe_frame != "root_centred":
        raise InputError(f"protocol {protocol.name} has n_mpjpe_frame "
                         f"'{protocol.n_mpjpe_frame}'; expected 'root_centred' or 'camera'; "
                         "fix the protocol definition.")
    if protocol.pck_joints is not None and ({"pck", "auc"} & set(out)):
        names = get_skeleton(protocol.eval_skeleton).names
        idx = [names.index(j) for j in protocol.pck_joints]
        p, g = pred[:, idx], gt[:, idx]
        if "pck" in out:
            out["pck"] = np.asarray(M.pck(p, g, threshold=protocol.pck_threshold),
                                    dtype=np.float64)
        if "auc" in out:
            out["auc"] = np.asarray(M.auc(p, g, thresholds=thresholds), dtype=np.float64)


def _metrics_with_nan_policy(pred: np.ndarray, gt: np.ndarray, protocol,
                             root_idx: int | None, nonfinite: np.ndarray,
                             gt_root: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """`_per_sample_metrics` where poses flagged `nonfinite` (NaN joints, "miss" policy) get
    PCK/AUC with every NaN joint a miss, and NaN for MPJPE-type metrics (left out of means).

    Only finite poses enter the alignment metrics; the NaN-pose values are computed here from
    per-joint distances of the root-centred poses (strict <, as `metrics.pck` / `metrics.auc`)."""
    if not nonfinite.any():
        return _per_sample_metrics(pred, gt, protocol, root_idx, gt_root=gt_root)
    ok = ~nonfinite
    good = _per_sample_metrics(pred[ok], gt[ok], protocol, root_idx,
                               gt_root=None if gt_root is None else gt_root[ok])
    e = np.linalg.norm(pred[nonfinite] - gt[nonfinite], axis=-1)  # (B, J), NaN joints stay NaN
    if protocol.pck_joints is not None:  # PCK/AUC over the anchor's joint groups only
        names = get_skeleton(protocol.eval_skeleton).names
        e = e[:, [names.index(j) for j in protocol.pck_joints]]
    start, stop, step = protocol.auc_thresholds
    thresholds = np.arange(start, stop + step / 2, step)
    with np.errstate(invalid="ignore"):
        bad = {"pck": 100.0 * (e < protocol.pck_threshold).mean(axis=1),
               "auc": 100.0 * (e[..., None] < thresholds).mean(axis=(1, 2))}
    out = {}
    for name, v in good.items():
        full = np.full(len(pred), np.nan)
        full[ok] = v
        full[nonfinite] = bad.get(name, np.nan)
        out[name] = full
    return out


def _n_mpjpe(pred: np.ndarray, gt: np.ndarray, protocol, root_idx: int | None) -> np.ndarray:
    """N-MPJPE of root-centred poses; an unscored root is appended as a zero joint."""
    if root_idx is not None:
        return M.n_mpjpe(pred, gt, scale=protocol.n_mpjpe_scale, root=root_idx)
    if protocol.n_mpjpe_scale != "least_squares":
        raise InputError(f"protocol {protocol.name} centres on '{protocol.root}' which its "
                         f"{protocol.eval_skeleton} joints do not include, so the "
                         f"{protocol.n_mpjpe_scale} N-MPJPE scale is undefined; expected "
                         "least_squares there; fix the protocol definition.")
    # The least-squares scale <P, G>/<P, P> ignores a zero joint and the zero joint's error is
    # exactly 0, so the mean over J + 1 joints times (J + 1) / J is the mean over the J joints.
    zero = np.zeros((len(pred), 1, 3))
    j = pred.shape[1]
    out = M.n_mpjpe(np.concatenate([pred, zero], 1), np.concatenate([gt, zero], 1),
                    scale="least_squares", root=j)
    return out * ((j + 1) / j)


def _per_group_tables(frame, values, protocol, per_action: bool, notes: list[str]) -> dict:
    import pandas as pd  # lazy: ~0.3 s, only when scoring (not for `posebench keys`)

    fields = list(protocol.extra.get("breakdowns", ()))
    if per_action and "action" not in fields:
        fields.append("action")
    tables = {}
    for f in fields:
        if f not in frame.columns:
            notes.append(f"breakdown by {f} skipped: the dataset has no '{f}' per sample")
            continue
        g = np.asarray(frame[f]).astype(str)
        uniq, counts = np.unique(g, return_counts=True)
        cols = {"n": counts}
        for name, v in values.items():
            means = M.group_means(v, g)
            cols[name] = [float(means[u]) for u in uniq]
        tables[f] = pd.DataFrame(cols, index=pd.Index(uniq, name=f))
    return tables


def protocol_keys(dataset="synth", protocol=None,
                  ground_truth: str | None = None) -> dict[str, np.ndarray]:
    """Arrays of `posebench keys`: the protocol's samples in canonical order, no 3D truth.

    index (M,) int64 positions for a predictions file; subject, action, subaction, camera,
    frame (M,); poses_2d (M, J, 2) px (dataset skeleton); camera_f, camera_c (M, 2) px;
    image_path (M,) and crop_affine (M, 2, 3) where the dataset has them; joint_names
    (dataset skeleton), eval_joint_names; dataset_name, dataset_fingerprint, protocol_name.
    """
    ds, _, _, p = _resolve(dataset, protocol, ground_truth)
    rows = p.select(ds)
    keys = ds.keys.take(rows)
    cams = ds.cameras.take(ds.camera_index[rows])
    out = {"index": np.arange(len(rows), dtype=np.int64)}
    for col in KEY_COLUMNS:
        out[col] = getattr(keys, col)
    out["poses_2d"] = ds.poses_2d[rows]
    out["camera_f"], out["camera_c"] = cams.f, cams.c
    if ds.image_path is not None:
        out["image_path"] = np.asarray(ds.image_path)[rows].astype(str)
    if ds.crop_affine is not None:
        out["crop_affine"] = np.asarray(ds.crop_affine, dtype=np.float64)[rows]
    out["joint_names"] = np.array(get_skeleton(ds.skeleton).names)
    out["eval_joint_names"] = np.array(get_skeleton(p.eval_skeleton).names)
    out["dataset_name"] = np.array(ds.name)
    out["dataset_fingerprint"] = np.array(ds.fingerprint())
    out["protocol_name"] = np.array(p.name)
    return out


# ------------------------------------------------------------------------------ resolving
def _resolve(dataset, protocol, ground_truth: str | None = None):
    """(test PoseDataset, dataset kind, dataset folder or None, Protocol), after checking that
    the protocol can score this dataset as its anchor does (`check_applicable`); an explicit
    `ground_truth` other than the protocol's gives the distinct protocol NAME+gt=ARRAY."""
    if isinstance(dataset, PoseDataset):
        kind = dataset.meta.get("kind", "*")
        root = dataset.meta.get("root")
        p = _protocol(protocol, kind)
        ds = dataset
    elif isinstance(dataset, (str, Path)):
        root = ensure_dataset(str(dataset))
        kind = read_meta(root).get("kind", "*")
        p = _protocol(protocol, kind)
        check_kind(p, kind, str(dataset))
        ds = read_split(root, p.split, mmap_poses=True)  # read only: never written
    else:
        raise InputError(f"dataset of type {type(dataset).__name__} is not supported; expected "
                         "a dataset name, a dataset folder or a PoseDataset; pass one of those.")
    check_kind(p, kind, ds.name)
    p = with_ground_truth(p, ground_truth)
    check_applicable(p, ds, p.select(ds))
    return ds, kind, (Path(root) if root else None), p


def _protocol(protocol, kind: str) -> Protocol:
    """The Protocol named or given, or the dataset kind's default."""
    if protocol is None:
        return default_protocol(kind)
    if isinstance(protocol, Protocol):
        return protocol
    return get_protocol(str(protocol))


def check_kind(protocol, kind: str, name: str) -> None:
    """Refuse a protocol written for another dataset kind (InputError, one sentence)."""
    if kind != "*" and protocol.dataset_kind not in ("*", kind):
        raise InputError(f"protocol {protocol.name} is for {protocol.dataset_kind} datasets but "
                         f"'{name}' is of kind {kind}; expected a matching pair; pick a protocol "
                         "for this dataset (`posebench protocols`).")


def ground_truth_of(ds, protocol, notes: list[str]) -> tuple[np.ndarray, str]:
    """(N, J, 3) mm ground truth named by the protocol; never a silent substitute."""
    name = protocol.ground_truth
    if name == "poses_3d":
        return ds.poses_3d, name
    if name in ds.extra:
        return np.asarray(ds.extra[name], dtype=np.float64), name
    raise InputError(f"dataset '{ds.name}' has no ground-truth array '{name}' that protocol "
                     f"{protocol.name} scores against; expected it among the split's arrays; "
                     "prepare the dataset from a source that has it (MPI-INF-3DHP: the "
                     "official .mat files with univ_annot3), or score another array explicitly "
                     "with --ground-truth poses_3d (a distinct protocol name).")


# ------------------------------------------------------------------------------ provenance
def git_commit() -> str | None:
    """HEAD commit of the checkout posebench runs from, when it is a git checkout."""
    return git_state()["git_commit"]
