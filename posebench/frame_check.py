"""Is a predictions file in the frame it claims? Joint order, left/right, units and axes.

A predictions file says (or posebench assumes) how its J columns are named; the numbers must
also be millimetres in the camera frame of the ground truth (x right, y down, z forward). None
of that is visible in the array itself, so `check_frame` compares the DECLARED reading with
every alternative reading against the ground truth and refuses the file when an alternative
fits much better:

- order:  every skeleton with J joints (posebench.skeletons), columns mapped by canonical name;
- mirror: left and right joints swapped (l_* <-> r_* names);
- units:  a power-of-ten factor, from the median over samples of |G| / |P| (root-free sizes);
- axes:   the 48 signed permutations of (x, y, z) (y up, z up, x/z swapped, reflections ...),
          and one least-squares rotation per camera (a world frame instead of each camera's:
          honest errors are not one fixed rotation, so this gains them little).

Score of a reading: the median over samples of the per-sample mean joint distance after centring
both poses on the centroid of their common joints (no rotation alignment), in mm. All 48 axis
conventions of one (order, mirror, units) reading come from one product of the 3x3 per-joint
cross terms with the flattened signed permutations: ``|sPM - G|^2 = s^2|P|^2 + |G|^2 - 2s<PM, G>``.

Decision rule (`RATIO`, `MIN_GAIN_MM`): refuse when the best alternative's median error is at
least RATIO times smaller than the declared reading's AND smaller by at least MIN_GAIN_MM. An
honest but poor model (a constant mean pose, 100 mm noise) fits its declared frame best, so it
passes; a nearly symmetric body does not trigger "mirror" because its mirror image fits about
equally (ratio ~1). Among alternatives within `TIE` of the best, the one that changes the fewest
things (order, mirror, units, axes) names the cause. At most `MAX_SAMPLES` samples are checked,
taken evenly spaced (deterministic), so 1M poses cost the same as 2,000.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from posebench.errors import InputError

#: Refuse when declared median error >= RATIO x the best alternative's ...
RATIO = 1.5
#: ... and the alternative is better by at least this many mm.
MIN_GAIN_MM = 25.0
#: Alternatives whose error is within this factor of the best one count as tied (pick simplest).
TIE = 1.05
#: Samples checked at most (evenly spaced over the matched samples).
MAX_SAMPLES = 2000
#: Size ratios |G| / |P| beyond 10**±UNITS_LOG10 suggest a power-of-ten units factor.
UNITS_LOG10 = 0.5
#: Readings sharing fewer joints with the ground truth are not scored.
MIN_COMMON_JOINTS = 4
#: A group (camera) needs this many checked samples for its own fixed-rotation fit.
MIN_GROUP = 20
#: Axis index of the "one fixed rotation per camera" candidate (after the 48 signed perms).
ROTATION = 48


@dataclass(frozen=True)
class Reading:
    """One way to name the J columns of a predictions file.

    label     how it is shown ("h36m17 order (assumed)", "joint_names", ...)
    names     (J,) canonical joint name of every column (non-canonical names are ignored)
    skeleton  skeleton name the user can pass as --joint-order, or None
    """

    label: str
    names: tuple[str, ...]
    skeleton: str | None = None


def signed_permutations() -> np.ndarray:
    """(48, 3, 3) matrices M with one ±1 per row and column; index 0 is the identity.

    A pose P (J, 3) read in another axis convention becomes ``P @ M``."""
    out = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            m[list(perm), range(3)] = signs
            out.append(m)
    return np.stack(out)


_AXES = signed_permutations()


def mirror_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """Swap l_* and r_* canonical names."""
    def swap(n: str) -> str:
        if n.startswith("l_"):
            return "r_" + n[2:]
        if n.startswith("r_"):
            return "l_" + n[2:]
        return n
    return tuple(swap(n) for n in names)


def sample_rows(n: int, max_samples: int = MAX_SAMPLES) -> np.ndarray:
    """Deterministic evenly spaced subset of range(n), at most `max_samples` rows."""
    if n <= max_samples:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_samples).round().astype(np.int64))


def _centred(p: np.ndarray) -> np.ndarray:
    return p - p.mean(axis=1, keepdims=True)


def _axis_errors(p: np.ndarray, g: np.ndarray, scales: list[float]) -> np.ndarray:
    """Per-sample mean joint error (n, 48, S) of ``s * p @ M`` vs g for every signed
    permutation M and scale s; p, g (n, K, 3) centred."""
    n, k, _ = p.shape
    # <P_k M, G_k> = sum_ab P_ka G_kb M_ab for every joint k and signed permutation M
    cross = np.einsum("nka,nkb->nkab", p, g).reshape(n, k, 9) @ _AXES.reshape(48, 9).T
    pp = np.einsum("nka,nka->nk", p, p)[..., None]
    gg = np.einsum("nka,nka->nk", g, g)[..., None]
    out = np.empty((n, 48, len(scales)))
    for i, s in enumerate(scales):
        d2 = cross * (-2.0 * s)
        d2 += gg
        d2 += (s * s) * pp
        np.maximum(d2, 0.0, out=d2)
        out[:, :, i] = np.sqrt(d2, out=d2).sum(axis=1) / k
    return out


def group_rotation_errors(p: np.ndarray, g: np.ndarray, groups: np.ndarray
                          ) -> tuple[np.ndarray, float]:
    """Per-sample mean joint error (n,) after one proper rotation per group (Kabsch on the
    pooled centred joints of the group; groups under MIN_GROUP samples keep the identity), and
    the largest rotation angle in degrees. p, g (n, K, 3) centred; groups (n,) labels."""
    codes = np.unique(groups, return_inverse=True)[1].reshape(-1)
    counts = np.bincount(codes)
    h = np.zeros((len(counts), 9))
    np.add.at(h, codes, np.einsum("nka,nkb->nab", p, g).reshape(len(p), 9))
    u, _, vt = np.linalg.svd(h.reshape(-1, 3, 3))
    u[:, :, 2] *= np.sign(np.linalg.det(u @ vt))[:, None]  # proper rotations only
    r = u @ vt
    r[counts < MIN_GROUP] = np.eye(3)
    cos = np.clip((np.trace(r, axis1=1, axis2=2) - 1.0) / 2.0, -1.0, 1.0)
    err = np.linalg.norm(np.einsum("nka,nab->nkb", p, r[codes]) - g, axis=-1).mean(axis=1)
    return err, float(np.degrees(np.arccos(cos)).max())


def units_factor(p: np.ndarray, g: np.ndarray) -> float:
    """Power of ten u with ``u * p`` about the size of g (1.0 when within 10**±UNITS_LOG10);
    p, g (n, K, 3) centred."""
    sp = np.sqrt(np.einsum("nka,nka->n", p, p))
    sg = np.sqrt(np.einsum("nka,nka->n", g, g))
    ok = (sp > 0) & np.isfinite(sp) & (sg > 0)
    if not ok.any():
        return 1.0
    log_ratio = float(np.median(np.log10(sg[ok] / sp[ok])))
    return 1.0 if abs(log_ratio) < UNITS_LOG10 else float(10.0 ** round(log_ratio))


def _axes_text(m: np.ndarray) -> tuple[str, str]:
    """('x, -y, z'-style description, numpy fix) of reading a pose as ``P @ m``."""
    cols = np.argmax(np.abs(m), axis=0)  # new axis b comes from old axis cols[b]
    signs = m[cols, range(3)]
    desc = ", ".join(("-" if s < 0 else "") + "xyz"[c] for c, s in zip(cols, signs))
    fix = (f"poses_3d[..., {cols.tolist()}] * {[int(s) for s in signs]}"
           if (signs < 0).any() else f"poses_3d[..., {cols.tolist()}]")
    return desc, fix


def _units_text(u: float) -> tuple[str, str]:
    what = {1000.0: " (metres?)", 10.0: " (centimetres?)", 0.001: " (micrometres?)"}.get(u, "")
    if u > 1:
        return f"{u:g} times too small{what}", f"multiply poses_3d by {u:g}"
    return f"{1 / u:g} times too large{what}", f"divide poses_3d by {1 / u:g}"


def check_frame(pred: np.ndarray, gt: np.ndarray, gt_names: tuple[str, ...],
                declared: Reading, alternatives: list[Reading], source: str,
                groups: np.ndarray | None = None) -> dict:
    """Refuse predictions that fit another reading much better than the declared one.

    pred   (N, J, 3) predictions in file column order, mm (as declared)
    gt     (N, Jg, 3) mm ground truth of the same samples, joints named by `gt_names`
    groups (N,) camera (or sequence) label per sample for the fixed-rotation check, optional
    Returns a JSON-ready summary (declared error, best alternative, samples checked); raises
    `InputError` naming the likely cause (order / mirror / units / axes) and the fix.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(pred).all(axis=(1, 2)) & np.isfinite(gt).all(axis=(1, 2)))
    rows = finite[sample_rows(len(finite))]
    summary = {"declared": declared.label, "samples_checked": int(len(rows)),
               "samples": int(len(pred)), "statistic": "median per-sample centred MPJPE (mm)",
               "rule": f"refuse if an alternative is >= {RATIO:g}x and >= {MIN_GAIN_MM:g} mm "
                       "better"}
    if len(rows) == 0:
        summary["skipped"] = "no sample with finite prediction and ground truth"
        return summary

    p_all, g_all = pred[rows], gt[rows]
    readings = [declared] + [r for r in alternatives if r.names != declared.names]
    cands = _candidates(p_all, g_all, readings, gt_names,
                        None if groups is None else np.asarray(groups)[rows], summary)
    if cands is None:
        return summary
    declared_err = cands[0][0]
    summary["declared_error_mm"] = round(declared_err, 3)
    best_err = min(c[0] for c in cands[1:]) if len(cands) > 1 else declared_err
    tied = [c for c in cands[1:] if c[0] <= best_err * TIE + 1e-9]

    def changes(c):
        return (c[1] != 0) + c[2] + (c[3] != 0) + (c[4] != 1.0)

    best = min(tied, key=lambda c: (changes(c), c[3] == ROTATION, c[0])) if tied else cands[0]
    causes, fixes = _explain(best, readings, summary)
    summary["best_alternative"] = "; ".join(causes) if causes else declared.label
    summary["best_alternative_error_mm"] = round(best[0], 3)
    if declared_err >= RATIO * best[0] and declared_err - best[0] >= MIN_GAIN_MM:
        raise InputError(
            f"{source}: read as {declared.label} the predictions are {declared_err:.0f} mm from "
            f"the ground truth (median over {len(rows)} samples, centred) but only "
            f"{best[0]:.0f} mm if {' and '.join(causes)}; expected millimetres in the camera "
            f"frame in the declared joint order; {', and '.join(fixes)}.")
    return summary


def _candidates(p_all: np.ndarray, g_all: np.ndarray, readings: list[Reading],
                gt_names: tuple[str, ...], groups: np.ndarray | None,
                summary: dict) -> list[tuple] | None:
    """Median centred error of every reading x mirror x axes x scale (and, for the declared
    reading, one fixed rotation per group), as (error mm, reading idx, mirror, axes idx,
    scale); the first is the declared reading as given. Records the units factor (and
    rotation angle) in `summary`; None (with summary["skipped"]) when the declared reading
    shares too few joints with the ground truth."""
    cands = []
    u = None
    for ri, reading in enumerate(readings):
        common = [n for n in reading.names if n in gt_names]
        if len(common) < MIN_COMMON_JOINTS:
            if ri == 0:
                summary["skipped"] = "fewer than 4 joints shared with the ground truth"
                return None
            continue
        for mirror in (False, True):
            names = mirror_names(reading.names) if mirror else reading.names
            cols = [names.index(n) for n in common]
            p = _centred(p_all[:, cols])
            g = _centred(g_all[:, [gt_names.index(n) for n in common]])
            if u is None:  # from the declared reading (invariant to order, mirror, axes)
                u = units_factor(p, g)
                summary["units_factor"] = u
            scales = [1.0] if u == 1.0 else [1.0, u]
            med = np.median(_axis_errors(p, g, scales), axis=0)  # (48, S)
            for a in range(48):
                for si, s in enumerate(scales):
                    cands.append((float(med[a, si]), ri, mirror, a, s))
            if groups is not None and ri == 0 and not mirror:
                for s in scales:
                    err, angle = group_rotation_errors(s * p, g, groups)
                    cands.append((float(np.median(err)), 0, False, ROTATION, s))
                    summary.setdefault("rotation_deg", round(angle, 1))
    return cands


def _explain(best: tuple, readings: list[Reading], summary: dict) -> tuple[list[str], list[str]]:
    """(causes, fixes): one sentence piece per change the best candidate makes."""
    causes, fixes = [], []
    if best[1] != 0:
        r = readings[best[1]]
        causes.append(f"the joints are in {r.label}")
        fixes.append(f"pass --joint-order {r.skeleton}" if r.skeleton else
                     "fix joint_names")
    if best[2]:
        causes.append("left and right joints are swapped")
        perm = [readings[best[1]].names.index(n) for n in mirror_names(readings[best[1]].names)]
        fixes.append(f"swap them (poses_3d[:, {perm}]) or fix joint_names")
    if best[4] != 1.0:
        what, fix = _units_text(best[4])
        causes.append(f"the units are {what}")
        fixes.append(fix + " to get millimetres")
    if best[3] == ROTATION:
        causes.append(f"each camera's poses are rotated by one fixed rotation (up to "
                      f"{summary['rotation_deg']:.0f} degrees: a world or other frame, not the "
                      "camera frame x right, y down, z forward)")
        fixes.append("express them in each camera's frame with its extrinsics (R (X - T))")
    elif best[3] != 0:
        desc, fix = _axes_text(_AXES[best[3]])
        causes.append(f"the axes are not the camera frame's (x right, y down, z forward): they "
                      f"fit as ({desc})")
        fixes.append(f"use {fix}")
    return causes, fixes
