"""The two-view pipelines timed by `benchmarks/geometry.py` and `benchmarks/geometry_rig.py`:
OpenCV per pair (findFundamentalMat + recoverPose + triangulatePoints, a Python loop as a
cv2 user writes it) and posebench's batched per-frame (fast, accurate, Hartley-Sturm, linear
triangulation), pooled and known-camera paths. Each returns its outputs and the seconds it
took.
"""

from __future__ import annotations

import time

import numpy as np

from posebench.geometry.fast_two_view import fast_relative_pose
from posebench.geometry.triangulation import (
    triangulate_two_view_linear,
    triangulate_two_view_optimal,
)
from posebench.geometry.two_view import relative_pose


def opencv_per_frame(x1, x2, K1, K2, method: str):
    import cv2  # lazy: OpenCV is an optional, slow-to-import comparison dependency

    B = len(x1)
    Rs = np.tile(np.eye(3), (B, 1, 1))
    Xs = np.full(x1.shape[:2] + (3,), np.nan)
    Ki1, Ki2 = np.linalg.inv(K1), np.linalg.inv(K2)
    n1 = x1 @ Ki1[:, :2, :2].transpose(0, 2, 1) + Ki1[:, None, :2, 2]
    n2 = x2 @ Ki2[:, :2, :2].transpose(0, 2, 1) + Ki2[:, None, :2, 2]
    flag = cv2.FM_8POINT if method == "8pt" else cv2.FM_RANSAC
    eye = np.eye(3)
    t0 = time.perf_counter()
    for i in range(B):
        if method == "8pt":
            F, _ = cv2.findFundamentalMat(x1[i], x2[i], flag)
        else:
            F, _ = cv2.findFundamentalMat(x1[i], x2[i], flag, 1.0, 0.99)
        if F is None or F.shape != (3, 3):
            continue
        E = K2[i].T @ F @ K1[i]
        _, R, t, _ = cv2.recoverPose(E, n1[i], n2[i], eye)
        Xh = cv2.triangulatePoints(np.hstack([eye, np.zeros((3, 1))]), np.hstack([R, t]),
                                   n1[i].T, n2[i].T)
        Rs[i], Xs[i] = R, (Xh[:3] / Xh[3]).T
    return Rs, Xs, time.perf_counter() - t0


def ours_per_frame_fast(x1, x2, K1, K2, threads):
    t0 = time.perf_counter()
    rp, X = fast_relative_pose(x1, x2, K1, K2, n_threads=threads)
    return rp.R, X, rp.ok, time.perf_counter() - t0


def ours_per_frame(x1, x2, K1, K2, threads):
    t0 = time.perf_counter()
    rp = relative_pose(x1, x2, K1, K2)
    X = triangulate_two_view_optimal(rp.R, rp.t, x1, x2, K1, K2, n_threads=threads,
                                     method="iterative")
    return rp.R, X, rp.ok, time.perf_counter() - t0


def ours_per_frame_hs(x1, x2, K1, K2, threads):
    t0 = time.perf_counter()
    rp = relative_pose(x1, x2, K1, K2)
    X = triangulate_two_view_optimal(rp.R, rp.t, x1, x2, K1, K2, n_threads=threads)
    return rp.R, X, rp.ok, time.perf_counter() - t0


def ours_per_frame_linear(x1, x2, K1, K2):
    t0 = time.perf_counter()
    rp = relative_pose(x1, x2, K1, K2)
    X = triangulate_two_view_linear(rp.R, rp.t, x1, x2, K1, K2)
    return rp.R, X, rp.ok, time.perf_counter() - t0


def ours_pooled(x1, x2, K1, K2, seq, threads):
    """x (T, 4, J, 2) grouped by frame; one pose per (sequence, camera pair)."""
    T, Pn, J, _ = x1.shape
    t0 = time.perf_counter()
    R = np.zeros((T, Pn, 3, 3))
    t = np.zeros((T, Pn, 3))
    ok = np.zeros((T, Pn), bool)
    for s in np.unique(seq):
        rows = np.flatnonzero(seq == s)
        p1 = np.swapaxes(x1[rows], 0, 1).reshape(Pn, -1, 2)
        p2 = np.swapaxes(x2[rows], 0, 1).reshape(Pn, -1, 2)
        rp = relative_pose(p1, p2, K1[rows[0]], K2[rows[0]], estimator="trimmed")
        R[rows], t[rows], ok[rows] = rp.R, rp.t, rp.ok
    n = T * Pn
    X = triangulate_two_view_optimal(R.reshape(n, 3, 3), t.reshape(n, 3), x1.reshape(n, J, 2),
                                     x2.reshape(n, J, 2), K1.reshape(n, 3, 3),
                                     K2.reshape(n, 3, 3), n_threads=threads)
    return R.reshape(n, 3, 3), X, ok.reshape(n), time.perf_counter() - t0


def known(x1, x2, K1, K2, R, t, threads):
    t0 = time.perf_counter()
    X = triangulate_two_view_optimal(R, t, x1, x2, K1, K2, n_threads=threads)
    return X, time.perf_counter() - t0
