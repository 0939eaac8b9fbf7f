"""Every preset x anchor x metric equals a TRANSCRIPTION of the anchor's own evaluation code.

The functions below follow each anchor's steps in the order its code takes them (file:line at
the commit read), in plain numpy, written without posebench.metrics. They run on random
poses with structured errors (a per-pose similarity transform of the truth, a fixed bias per
joint, an extra root error, per-frame noise), and `posebench.evaluate` under the preset must
give the same numbers to 1e-6 mm. `test_table` prints the preset x anchor x metric table with
the largest difference found.

Anchors: mkocabas/EpipolarPose @299ccb0, facebookresearch/VideoPose3D @1afb1ca,
open-mmlab/mmpose @759b39c, MPI-INF-3DHP test_util (.m scripts; copies in
QitaoZhao/PoseFormerV2 mpi_inf_3dhp/3dhp_test/test_util/).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers_toy import toy_3dhp, toy_h36m

import posebench
from posebench.data.dataset import read_split
from posebench.data.protocols import get_protocol

TOL_MM = 1e-6

# ------------------------------------------------------------------ EpipolarPose transcription
# lib/utils/prep_h36m.py:44-50 (H36M_TO_MPII_PERM from the H36M_NAMES / MPII_NAMES lists)
EPI_H36M_TO_MPII_PERM = np.array([3, 2, 1, 4, 5, 6, 0, 8, 9, 10, 16, 15, 14, 11, 12, 13])


def epi_compute_similarity_transform(X, Y):
    """lib/utils/prep_h36m.py:108-168 with compute_optimal_scale=True (X target, Y input)."""
    muX = X.mean(0)                                   # :126
    muY = Y.mean(0)                                   # :127
    X0 = X - muX                                      # :129
    Y0 = Y - muY                                      # :130
    ssX = (X0 ** 2.).sum()                            # :132
    ssY = (Y0 ** 2.).sum()                            # :133
    normX = np.sqrt(ssX)                              # :136
    normY = np.sqrt(ssY)                              # :137
    X0 = X0 / normX                                   # :140
    Y0 = Y0 / normY                                   # :141
    A = np.dot(X0.T, Y0)                              # :144
    U, s, Vt = np.linalg.svd(A, full_matrices=False)  # :145
    V = Vt.T                                          # :146
    T = np.dot(V, U.T)                                # :147
    detT = np.linalg.det(T)                           # :150
    V[:, -1] *= np.sign(detT)                         # :151
    s[-1] *= np.sign(detT)                            # :152
    T = np.dot(V, U.T)                                # :153
    traceTA = s.sum()                                 # :155
    b = traceTA * normX / normY                       # :158
    c = muX - b * np.dot(muY, T)                      # :166
    return T, b, c


def epipolarpose_evaluate(preds, gts, mpii_order):
    """lib/dataset/h36m.py:168-378 evaluate(), per sample, poses already in mm camera frame
    (the back-projection of :220-241 is the identity on them). Returns per-metric means."""
    root = 6 if mpii_order else 0                                    # :182
    dist, dist_align, dist_norm, pck = [], [], [], []
    for n_sample in range(len(preds)):                               # :207
        gt_3d_kpt = gts[n_sample].copy()
        pre_3d_kpt = preds[n_sample].copy()
        if mpii_order:                                               # :223-224
            gt_3d_kpt = gt_3d_kpt[EPI_H36M_TO_MPII_PERM, :]
            pre_3d_kpt = pre_3d_kpt[EPI_H36M_TO_MPII_PERM, :]        # model outputs MPII order
        T, b, c = epi_compute_similarity_transform(gt_3d_kpt, pre_3d_kpt)  # :244
        pre_3d_kpt_align = (b * pre_3d_kpt.dot(T)) + c               # :245
        pre_3d_kpt_norm = b * pre_3d_kpt                             # :246
        pre_3d_kpt = pre_3d_kpt - pre_3d_kpt[root]                   # :249
        gt_3d_kpt = gt_3d_kpt - gt_3d_kpt[root]                      # :250
        pre_3d_kpt_align = pre_3d_kpt_align - pre_3d_kpt_align[root]  # :251
        pre_3d_kpt_norm = pre_3d_kpt_norm - pre_3d_kpt_norm[root]    # :252
        diff = gt_3d_kpt - pre_3d_kpt                                # :261
        diff_align = gt_3d_kpt - pre_3d_kpt_align                    # :262
        diff_norm = gt_3d_kpt - pre_3d_kpt_norm                      # :263
        e_jt, e_jt_align, e_jt_norm = [], [], []
        for n_jt in range(gt_3d_kpt.shape[0]):                       # :275
            e_jt.append(np.linalg.norm(diff[n_jt]))
            e_jt_align.append(np.linalg.norm(diff_align[n_jt]))
            e_jt_norm.append(np.linalg.norm(diff_norm[n_jt]))
            pck.append(0 if np.linalg.norm(diff[n_jt]) >= 150 else 1)  # :283-286
        dist.append(np.array(e_jt).mean())                           # :331
        dist_align.append(np.array(e_jt_align).mean())               # :332
        dist_norm.append(np.array(e_jt_norm).mean())                 # :333
    return {"mpjpe": np.asarray(dist).mean(),                        # :367 hm36_17j
            "p_mpjpe": np.array(dist_align).mean(),                  # :368 hm36_17j_align
            "n_mpjpe": np.array(dist_norm).mean(),                   # :369 hm36_17j_norm
            "pck": 100.0 * np.mean(pck)}                             # :283 (pooled, not printed)


# ------------------------------------------------------------------ VideoPose3D transcription
def vp3d_mpjpe(predicted, target):
    """common/loss.py:11-17."""
    return np.mean(np.linalg.norm(predicted - target, axis=len(target.shape) - 1))


def vp3d_p_mpjpe(predicted, target):
    """common/loss.py:27-66."""
    muX = np.mean(target, axis=1, keepdims=True)
    muY = np.mean(predicted, axis=1, keepdims=True)
    X0 = target - muX
    Y0 = predicted - muY
    normX = np.sqrt(np.sum(X0 ** 2, axis=(1, 2), keepdims=True))
    normY = np.sqrt(np.sum(Y0 ** 2, axis=(1, 2), keepdims=True))
    X0 /= normX
    Y0 /= normY
    H = np.matmul(X0.transpose(0, 2, 1), Y0)
    U, s, Vt = np.linalg.svd(H)
    V = Vt.transpose(0, 2, 1)
    R = np.matmul(V, U.transpose(0, 2, 1))
    sign_detR = np.sign(np.expand_dims(np.linalg.det(R), axis=1))
    V[:, :, -1] *= sign_detR
    s[:, -1] *= sign_detR.flatten()
    R = np.matmul(V, U.transpose(0, 2, 1))
    tr = np.expand_dims(np.sum(s, axis=1, keepdims=True), axis=2)
    a = tr * normX / normY
    t = muX - a * np.matmul(muY, R)
    predicted_aligned = a * np.matmul(predicted, R) + t
    return np.mean(np.linalg.norm(predicted_aligned - target, axis=len(target.shape) - 1))


def vp3d_n_mpjpe(predicted, target):
    """common/loss.py:68-78 (torch mean/sum written with numpy)."""
    norm_predicted = np.mean(np.sum(predicted ** 2, axis=-1, keepdims=True), axis=-2,
                             keepdims=True)
    norm_target = np.mean(np.sum(target * predicted, axis=-1, keepdims=True), axis=-2,
                          keepdims=True)
    scale = norm_target / norm_predicted
    return vp3d_mpjpe(scale * predicted, target)


def videopose3d_run_evaluation(preds, gts_camera, keys):
    """run.py:786-799 (actions by base name over subjects), :825-853 run_evaluation(),
    :652-716 evaluate() per sequence (subject, action + trial, camera)."""
    # run.py:60: joints 1.. relative to the root, trajectory kept in joint 0
    pos_3d = gts_camera.copy()
    pos_3d[:, 1:] -= pos_3d[:, :1]
    seq = np.char.add(np.char.add(keys.subject, "|"),
                      np.char.add(np.char.add(keys.action, keys.subaction.astype(str)),
                                  np.char.add("|", keys.camera)))
    errors = {"mpjpe": [], "p_mpjpe": [], "n_mpjpe": []}
    for action in sorted(set(keys.action.tolist())):  # all_actions[action_name]
        e1 = e2 = e3 = 0.0
        N = 0
        for s in sorted(set(seq[keys.action == action].tolist())):
            rows = np.flatnonzero(seq == s)
            rows = rows[np.argsort(keys.frame[rows])]
            inputs_3d = pos_3d[rows][None].copy()            # (1, F, J, 3)
            inputs_3d[:, :, 0] = 0                           # :688
            predicted_3d_pos = preds[rows][None]             # model output, as given
            w = inputs_3d.shape[0] * inputs_3d.shape[1]
            e3 += w * vp3d_n_mpjpe(predicted_3d_pos, inputs_3d)           # :693
            e1 += w * vp3d_mpjpe(predicted_3d_pos, inputs_3d)             # :692, :695
            N += w                                                        # :696
            inputs = inputs_3d.reshape(-1, *inputs_3d.shape[-2:])         # :698
            pred = predicted_3d_pos.reshape(-1, *inputs_3d.shape[-2:])    # :699
            e2 += w * vp3d_p_mpjpe(pred, inputs)                          # :701
        errors["mpjpe"].append(e1 / N)                                    # :710
        errors["p_mpjpe"].append(e2 / N)                                  # :711
        errors["n_mpjpe"].append(e3 / N)                                  # :712
    return {k: float(np.mean(v)) for k, v in errors.items()}             # :851-853


# ------------------------------------------------------------------ mmpose transcription
def mmpose_compute_similarity_transform(source_points, target_points):
    """mmpose/evaluation/functional/mesh_eval.py:9-66."""
    source_points = source_points.T
    target_points = target_points.T
    mu1 = source_points.mean(axis=1, keepdims=True)
    mu2 = target_points.mean(axis=1, keepdims=True)
    X1 = source_points - mu1
    X2 = target_points - mu2
    var1 = np.sum(X1 ** 2)
    K = X1.dot(X2.T)
    U, _, Vh = np.linalg.svd(K)
    V = Vh.T
    Z = np.eye(U.shape[0])
    Z[-1, -1] *= np.sign(np.linalg.det(U.dot(V.T)))
    R = V.dot(Z.dot(U.T))
    scale = np.trace(R.dot(K)) / var1
    t = mu2 - scale * (R.dot(mu1))
    return (scale * R.dot(source_points) + t).T


def mmpose_keypoint_mpjpe(pred, gt, mask, alignment):
    """mmpose/evaluation/functional/keypoint_eval.py:324-375."""
    if alignment == "procrustes":
        pred = np.stack([mmpose_compute_similarity_transform(p, g) for p, g in zip(pred, gt)])
    elif alignment == "scale":
        pred_dot_pred = np.einsum("nkc,nkc->n", pred, pred)
        pred_dot_gt = np.einsum("nkc,nkc->n", pred, gt)
        pred = pred * (pred_dot_gt / pred_dot_pred)[:, None, None]
    return np.linalg.norm(pred - gt, ord=2, axis=-1)[mask].mean()


def mmpose_evaluate(preds, gts_camera):
    """The network's root-relative output of the non-root joints is decoded by
    codecs/image_pose_lifting.py:273-277 (+ target_root, root inserted = target_root), then
    metrics/keypoint_3d_metrics.py:117-136 MPJPE over all samples, ALIGNMENT map :45."""
    target_root = gts_camera[:, :1]                           # lifting_target root
    encoded = preds[:, 1:] - preds[:, :1]                     # remove_root=True output (16 joints)
    keypoints = encoded + target_root                         # :274
    keypoints = np.insert(keypoints, [0], target_root, axis=1)  # :276-277
    mask = np.ones(gts_camera.shape[:2], dtype=bool)
    return {"mpjpe": mmpose_keypoint_mpjpe(keypoints, gts_camera, mask, "none"),
            "p_mpjpe": mmpose_keypoint_mpjpe(keypoints, gts_camera, mask, "procrustes"),
            "n_mpjpe": mmpose_keypoint_mpjpe(keypoints, gts_camera, mask, "scale")}


# ------------------------------------------------------------------ MPI-INF-3DHP transcription
# mpii_get_pck_auc_joint_groups.m (1-based joint indices of the 17 'relevant' joints)
HP_JOINT_GROUPS = [("Head", [1]), ("Neck", [2]), ("Shou", [3, 6]), ("Elbow", [4, 7]),
                   ("Wrist", [5, 8]), ("Hip", [9, 12]), ("Knee", [10, 13]),
                   ("Ankle", [11, 14])]


def mpii_test_predictions(preds, univ_annot3):
    """mpii_test_predictions.m: per valid frame, P = univ_annot3 - univ_annot3(:,15) (only the
    ground truth is root-centred), error = sqrt(sum((pred_p - P).^2, 1)) -> (nf, 17)."""
    P = univ_annot3 - univ_annot3[:, 14:15]
    return np.sqrt(((preds - P) ** 2).sum(-1))


def mpii_compute_3d_pck(error, joint_groups):
    """mpii_compute_3d_pck.m for one error_data entry (error (nf, 17)): the 'Total' column."""
    thresh = np.arange(0, 151, 5)  # thresh = 0:5:150
    pck_thresh = 150
    nf = error.shape[0]
    joint_count = 0
    curve_total = None
    pck_total = 0.0
    for _, joints in joint_groups:
        cols = [j - 1 for j in joints]
        curve = np.array([np.sum(error[:, cols] < t) / (len(cols) * nf) for t in thresh])
        joint_count += len(cols)
        curve_total = curve * len(cols) if curve_total is None else curve_total + curve * len(
            cols)
        pck_total += 100 * np.sum(error[:, cols] < pck_thresh) / (len(cols) * nf) * len(cols)
    pck_total /= joint_count
    curve_total = curve_total / joint_count
    return pck_total, 100 * np.sum(curve_total) / len(thresh)


def mpii_evaluate_errors_all(error, joints=None):
    """mpii_evaluate_errors.m 'All' row: MPJPE = mean(mean(all_errors, 3)(:)), PCK/AUC from
    mpii_compute_3d_pck on error_dat('All', all_errors). `joints` (0-based) restricts the
    MPJPE columns (posebench's 3dhp-14 variant)."""
    cols = error if joints is None else error[:, joints]
    pck, auc = mpii_compute_3d_pck(error, HP_JOINT_GROUPS)
    return {"mpjpe": float(cols.mean(0).mean()), "pck": float(pck), "auc": float(auc)}


# ------------------------------------------------------------------ structured random poses
def _small_rotations(rng, n, sigma=0.3):
    """(n, 3, 3) rotations about random axes by N(0, sigma) radians (Rodrigues)."""
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    ang = rng.normal(0, sigma, n)[:, None, None]
    k = np.zeros((n, 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    k = k - np.transpose(k, (0, 2, 1))
    return np.eye(3) + np.sin(ang) * k + (1 - np.cos(ang)) * (k @ k)


def structured_predictions(gt, root, seed, root_relative):
    """(N, J, 3) mm: a small per-pose similarity of `gt` about its root, a fixed bias per joint,
    an extra error on the root joint, per-frame noise; `root_relative`: the root sits near (not
    at) the origin, as a lifting network's output does."""
    rng = np.random.default_rng(seed)
    n, j, _ = gt.shape
    gc = gt - gt[:, root:root + 1]
    scale = rng.uniform(0.95, 1.05, n)[:, None, None]
    pred = scale * gc @ _small_rotations(rng, n, 0.15)
    pred += rng.normal(0, 25.0, (1, j, 3))          # fixed bias per joint (structured)
    pred += rng.normal(0, 15.0, (n, j, 3))          # per-frame noise
    pred[:, root] += rng.normal(0, 40.0, (n, 3))    # root joint error
    if root_relative:
        return pred - pred[:, root:root + 1] + rng.normal(0, 15.0, (n, 1, 3))
    return pred + gt[:, root:root + 1] + rng.normal(0, 40.0, (n, 1, 3))


# ------------------------------------------------------------------ the table
def _evaluate(root, preds_rows, protocol, tmp_path):
    f = tmp_path / f"{protocol}.npz"
    np.savez(f, poses_3d=preds_rows, index=np.arange(len(preds_rows)))
    return posebench.evaluate(f, dataset=root, protocol=protocol, pss_k=()).summary["metrics"]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """[(preset, anchor, metric, posebench, anchor value, |difference|)]."""
    base = tmp_path_factory.mktemp("transcriptions")
    rows = []
    h_root = toy_h36m(base / "h36m", seed=21)
    h = read_split(h_root, "test")
    hp_root = toy_3dhp(base / "3dhp", seed=22)
    hp = read_split(hp_root, "test")

    def add(preset, anchor, ours, theirs):
        for m, v in theirs.items():
            rows.append((preset, anchor, m, float(ours[m]), float(v), abs(ours[m] - v)))

    for preset, rel in (("h36m-p1", True), ("h36m-p2", True)):
        sel = get_protocol(preset).select(h)
        pred = structured_predictions(h.poses_3d[sel], 0, 1, root_relative=rel)
        add(preset, "VideoPose3D run.py evaluate/run_evaluation",
            _evaluate(h_root, pred, preset, base),
            videopose3d_run_evaluation(pred, h.poses_3d[sel], h.keys.take(sel)))
    for preset, mpii in (("h36m-every64", False), ("h36m-every64-mpii16", True)):
        sel = get_protocol(preset).select(h)
        pred = structured_predictions(h.poses_3d[sel], 0, 2, root_relative=False)
        add(preset, "EpipolarPose lib/dataset/h36m.py evaluate",
            _evaluate(h_root, pred, preset, base),
            epipolarpose_evaluate(pred, h.poses_3d[sel], mpii))
    sel = get_protocol("h36m-mmpose").select(h)
    pred = structured_predictions(h.poses_3d[sel], 0, 3, root_relative=False)
    add("h36m-mmpose", "mmpose MPJPE metric / keypoint_mpjpe",
        _evaluate(h_root, pred, "h36m-mmpose", base), mmpose_evaluate(pred, h.poses_3d[sel]))
    for preset, joints in (("3dhp-official", None), ("3dhp-14", list(range(14)))):
        sel = get_protocol(preset).select(hp)
        univ = hp.extra["univ_poses_3d"][sel]
        pred = structured_predictions(univ, 14, 4, root_relative=True)
        add(preset, "MPI-INF-3DHP test_util .m scripts",
            _evaluate(hp_root, pred, preset, base),
            mpii_evaluate_errors_all(mpii_test_predictions(pred, univ), joints))
    return rows


def _markdown(rows) -> str:
    lines = ["| preset | anchor | metric | posebench | anchor | largest difference |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {p} | {a} | {m} | {o:.6f} | {t:.6f} | {d:.1e} |" for p, a, m, o, t, d in rows]
    return "\n".join(lines)


def test_table(table, capsys):
    """Every preset x anchor x metric within 1e-6 mm of the anchor's own arithmetic."""
    with capsys.disabled():
        print("\n" + _markdown(table))
    presets = {r[0] for r in table}
    assert presets == {"h36m-p1", "h36m-p2", "h36m-every64", "h36m-every64-mpii16",
                       "h36m-mmpose", "3dhp-official", "3dhp-14"}
    assert len(table) == 4 * 2 + 3 * 2 + 3 + 3 * 2
    bad = [r for r in table if not r[5] <= TOL_MM]
    assert not bad, _markdown(bad)


def test_transcriptions_are_not_vacuous(table):
    """The numbers are large enough that a wrong formula could not hide under the tolerance."""
    for preset, _, metric, ours, _, _ in table:
        if metric in ("mpjpe", "p_mpjpe", "n_mpjpe"):
            assert ours > 10.0, (preset, metric)
        else:
            assert 1.0 < ours < 99.0, (preset, metric)


def _rerooted_vs_plain(gt, pred, root=0):
    """Per-pose P-MPJPE with and without EpipolarPose's re-rooting (transcription helpers)."""
    plain, rerooted = [], []
    for p, g in zip(pred, gt):
        T, b, c = epi_compute_similarity_transform(g, p)
        a = b * p.dot(T) + c
        plain.append(np.linalg.norm(a - g, axis=1).mean())
        rerooted.append(np.linalg.norm((a - a[root]) - (g - g[root]), axis=1).mean())
    return float(np.mean(rerooted)), float(np.mean(plain))


def test_rerooted_p_mpjpe_differs_from_plain(tmp_path):
    """The option matters: on structured errors (a root joint error) re-rooting after the fit
    moves the aligned root's residual onto every joint; posebench's every-64 preset gives the
    re-rooted number, a protocol without the option the plain one."""
    from dataclasses import replace

    root = toy_h36m(tmp_path / "h", seed=5)
    ds = read_split(root, "test")
    p = get_protocol("h36m-every64")
    sel = p.select(ds)
    pred = structured_predictions(ds.poses_3d[sel], 0, 9, root_relative=False)
    rerooted, plain = _rerooted_vs_plain(ds.poses_3d[sel], pred)
    print(f"\nP-MPJPE re-rooted {rerooted:.1f} mm vs not re-rooted {plain:.1f} mm")
    assert rerooted - plain > 10.0
    np.savez(tmp_path / "p.npz", poses_3d=pred, index=np.arange(len(sel)))
    ours = posebench.evaluate(tmp_path / "p.npz", dataset=root, protocol=p, pss_k=())
    off = replace(p, name="every64-no-reroot", p_mpjpe_reroot_after_alignment=False)
    ours_off = posebench.evaluate(tmp_path / "p.npz", dataset=root, protocol=off, pss_k=())
    assert ours.metrics["p_mpjpe"] == pytest.approx(rerooted, abs=TOL_MM)
    assert ours_off.metrics["p_mpjpe"] == pytest.approx(plain, abs=TOL_MM)
    assert ours.summary["protocol"]["p_mpjpe_reroot_after_alignment"] is True
    assert ours.summary["protocol_fingerprint"] != ours_off.summary["protocol_fingerprint"]
