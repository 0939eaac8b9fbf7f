"""Triangulation oracle: known cameras + ground-truth 2D (optionally noisy) -> DLT -> 3D.

The geometric upper bound of the benchmark: every instant (subject, action, subaction, frame)
seen by two or more cameras among the rows given is triangulated with the linear (DLT) method
from all its views (`posebench.geometry.triangulation.triangulate_dlt`) after removing lens
distortion, and the world point is expressed in each row's camera frame (root-relative). It
is not a single-view method: it reads the other views of the same instant, and needs no
training.
"""

from __future__ import annotations

import numpy as np

from baselines import instant_ids, root_index, root_relative
from posebench.errors import MethodError
from posebench.geometry.camera import undistort_normalised, world_to_camera
from posebench.geometry.triangulation import triangulate_dlt
from posebench.methods import Method


class TriangulationOracle(Method):
    """Known cameras + ground-truth 2D -> DLT triangulation from all views of an instant."""

    name = "triangulation-oracle"
    description = ("Upper bound: ground-truth 2D (+ optional Gaussian noise, px) of all views of "
                   "an instant, known cameras, DLT triangulation.")
    needs = frozenset({"poses_2d", "cameras"})
    defaults = {"noise_px": 0.0}
    uses_training = False

    def fit(self, train, seed: int = 0) -> None:
        self.seed = int(seed)

    def predict(self, test) -> np.ndarray:
        cams = test.cameras
        ci = test.camera_index
        uv = test.poses_2d.copy()
        if self.config["noise_px"] > 0:
            rng = np.random.default_rng(getattr(self, "seed", 0))
            uv += rng.normal(0.0, self.config["noise_px"], uv.shape)
        xy_d = (uv - cams.c[ci][:, None]) / cams.f[ci][:, None]
        xy = undistort_normalised(xy_d, cams.k[ci], cams.p[ci], cams.distortion)

        group = instant_ids(test.keys)
        counts = np.bincount(group)
        if counts.min() < 2:
            lonely = int((counts[group] < 2).sum())
            raise MethodError(f"triangulation-oracle needs 2 or more views of each instant but "
                              f"{lonely} of {len(test)} rows have no other view in the rows "
                              "selected; expected a multi-camera protocol; pick a protocol that "
                              "keeps all cameras.")
        order = np.argsort(group, kind="stable")
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        slot = np.empty(len(test), np.int64)
        slot[order] = np.arange(len(test)) - np.repeat(starts, counts)
        G, V, J = len(counts), int(counts.max()), test.num_joints
        xy_g = np.full((G, V, J, 2), np.nan)                              # NaN: no such view
        P_g = np.zeros((G, V, 3, 4))
        xy_g[group, slot] = xy
        P_g[group, slot, :, :3] = cams.R[ci]
        P_g[group, slot, :, 3] = cams.t[ci] / 1000.0                      # metres
        X_w = triangulate_dlt(P_g, xy_g) * 1000.0                         # (G, J, 3) mm
        X_c = world_to_camera(X_w[group], cams.R[ci], cams.t[ci])
        return root_relative(X_c, root_index(test))
