"""Nearest neighbour: scale-normalised 2D query -> root-relative 3D of the closest training
sample (scikit-learn NearestNeighbors, Euclidean distance over all joints)."""

from __future__ import annotations

import numpy as np

from baselines import root_index, root_relative
from posebench.errors import InputError
from posebench.methods import Method, fill_invisible_2d


def normalise_2d(poses_2d: np.ndarray, root: int) -> np.ndarray:
    """(N, J, 2) px -> (N, 2J): root-centred, divided by the RMS joint distance to the root
    (translation and scale invariant, so a query matches poses seen at any depth)."""
    centred = poses_2d - poses_2d[:, root:root + 1]
    scale = np.sqrt((centred ** 2).sum(axis=-1).mean(axis=-1))
    scale = np.where(scale > 1e-9, scale, 1.0)
    return (centred / scale[:, None, None]).reshape(len(poses_2d), -1)


class NearestNeighbour(Method):
    """2D query -> 3D of the closest training sample (k > 1: mean of the k closest)."""

    name = "nearest-neighbour"
    description = ("Scale-normalised 2D query -> root-relative 3D of the nearest training "
                   "sample (scikit-learn NearestNeighbors).")
    needs = frozenset({"poses_2d", "train_3d"})
    defaults = {"k": 1}
    cache_fit = False   # its state is the training set itself; refitting is instant

    def fit(self, train, seed: int = 0) -> None:
        from sklearn.neighbors import NearestNeighbors  # lazy: keeps sklearn out of start-up

        if self.config["k"] < 1:
            raise InputError(f"option k={self.config['k']} of nearest-neighbour is not a "
                             "positive integer; expected k >= 1; pass e.g. --option k=1.")
        root = root_index(train)
        ok = np.isfinite(train.poses_3d).all(axis=(1, 2)) & np.isfinite(train.poses_2d).all(
            axis=(1, 2))
        self.train_3d = root_relative(train.poses_3d[ok], root)
        self.root = root
        self.index = NearestNeighbors(n_neighbors=min(self.config["k"], int(ok.sum())))
        self.index.fit(normalise_2d(train.poses_2d[ok], root))

    def predict(self, test) -> np.ndarray:
        uv = fill_invisible_2d(test.poses_2d, test.skeleton)
        _, nn = self.index.kneighbors(normalise_2d(uv, self.root))
        return self.train_3d[nn].mean(axis=1)
