"""SimpleBaseline (Martinez et al. 2017): a residual MLP lifts one view's 2D joints to the
root-relative 3D pose in that camera's frame.

Inputs (option ``inputs``): ``gt`` uses the dataset's ground-truth 2D; ``epipolarpose`` uses
the 2D branch of an EpipolarPose reference model run on the image crops (the detector of the
lifting pipeline, as Martinez used Stacked Hourglass detections), for training and test alike.
2D is converted to normalised image coordinates ((u - c) / f, the dataset's intrinsics) so that
one network serves cameras with different focal lengths, then z-scored; targets are the
root-relative 3D of the J - 1 other joints in mm, z-scored. Loss MSE.

Defaults are Martinez's network (width 1024, 2 blocks, dropout 0.5, Adam 1e-3 x0.96 per 100k
steps, clip 1) with a CPU schedule (batch 256, 10 epochs); the paper's schedule is
``--option batch_size=64 --option epochs=200``. With ``inputs=epipolarpose`` and no
``detector``, the 2D branch is pre-trained first with the reference pipeline's `profile`
(``max_steps`` caps it) on ``pretrain_split``. The detector is the reference model's, so that
input lives with it: the registered ``simple-baseline`` is
`reference_models.epipolarpose.methods.SimpleBaselineEP`, which fills in `fit_detector` and
`detections_2d`; this class alone lifts ground-truth 2D.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from baselines import root_index, root_relative
from posebench.errors import MethodError
from posebench.methods import Method, fill_invisible_2d

NO_DETECTOR = ("simple-baseline with inputs=epipolarpose needs the EpipolarPose detector but this "
               "class has none; expected the registered method; run it as `posebench run "
               "simple-baseline --option inputs=epipolarpose`.")


def normalised_2d(dataset, poses_2d: np.ndarray) -> np.ndarray:
    """(N, J, 2) px -> (N, 2J) normalised image coordinates (u - c) / f of each sample's camera."""
    ci = dataset.camera_index
    xy = (poses_2d - dataset.cameras.c[ci][:, None]) / dataset.cameras.f[ci][:, None]
    return xy.reshape(len(xy), -1)


class SimpleBaseline(Method):
    """2D -> 3D lifting MLP (Martinez et al. 2017) from ground-truth or EpipolarPose 2D."""

    uses_torch = True
    name = "simple-baseline"
    description = ("2D -> 3D residual MLP lifting (Martinez et al. 2017) from ground-truth 2D "
                   "(inputs=gt) or EpipolarPose 2D detections (inputs=epipolarpose).")
    needs = frozenset({"poses_2d", "cameras", "train_3d"})
    defaults = {"inputs": "gt", "detector": "", "profile": "cpu", "pretrain_split": "train2d",
                "max_steps": 0, "device": "cpu", "width": 1024, "blocks": 2, "dropout": 0.5,
                "activation": "relu", "epochs": 10, "batch_size": 256, "lr": 1e-3,
                "lr_decay": 0.96, "decay_steps": 100_000, "clip": 1.0, "threads": 2}

    def __init__(self, config=None):
        super().__init__(config)
        if self.config["inputs"] not in ("gt", "epipolarpose"):
            raise MethodError(f"simple-baseline option inputs={self.config['inputs']!r} is not "
                              "supported; expected gt or epipolarpose; pass --option inputs=gt.")
        if self.config["inputs"] == "epipolarpose":
            self.needs = frozenset({"images", "cameras", "train_3d"})

    # -- the 2D detector of inputs=epipolarpose (reference_models.epipolarpose.methods)
    def fit_detector(self, train, seed: int) -> Path:
        """The detector's checkpoint file (given as `detector`, or trained on `train`)."""
        raise MethodError(NO_DETECTOR)

    def detections_2d(self, dataset) -> np.ndarray:
        """(N, J, 2) full-image px detections of `dataset`'s crops by `self.detector`."""
        raise MethodError(NO_DETECTOR)

    def _inputs(self, dataset) -> np.ndarray:
        if self.config["inputs"] == "gt":
            uv = fill_invisible_2d(dataset.poses_2d, dataset.skeleton)
        else:
            uv = self.detections_2d(dataset)
        return normalised_2d(dataset, uv)

    def fit(self, train, seed: int = 0) -> None:
        import torch  # lazy: keeps torch out of `posebench methods`

        from baselines.lifting import (  # lazy: torch; keeps it out of `posebench methods`
            LiftingNet,
            set_threads,
            train_regressor,
            zscore_stats,
        )

        cfg = self.config
        set_threads(cfg["threads"])
        if cfg["inputs"] == "epipolarpose":
            self.detector = self.fit_detector(train, seed)
        root = root_index(train)
        ok = np.isfinite(train.poses_3d).all(axis=(1, 2))
        if cfg["inputs"] == "gt":
            ok &= np.isfinite(train.poses_2d).all(axis=(1, 2))
        train = train.take(ok)
        x = self._inputs(train)
        y = np.delete(root_relative(train.poses_3d, root), root, axis=1).reshape(len(train), -1)
        self.x_mean, self.x_std = zscore_stats(x)
        self.y_mean, self.y_std = zscore_stats(y)
        self.root = root
        torch.manual_seed(seed)                             # seeded initial weights
        self.net = LiftingNet(x.shape[1], y.shape[1], cfg["width"], cfg["blocks"],
                              cfg["activation"], cfg["dropout"])

        def loss(model, xb, yb):
            return torch.mean((model(xb) - yb) ** 2)

        self.history = train_regressor(
            self.net, (x - self.x_mean) / self.x_std, (y - self.y_mean) / self.y_std,
            loss_fn=loss, epochs=cfg["epochs"], batch_size=cfg["batch_size"], lr=cfg["lr"],
            lr_decay=cfg["lr_decay"], decay_steps=cfg["decay_steps"], clip=cfg["clip"],
            seed=seed)

    def predict(self, test) -> np.ndarray:
        from baselines.lifting import predict_batched, set_threads  # lazy: torch

        set_threads(self.config["threads"])
        x = (self._inputs(test) - self.x_mean) / self.x_std
        y = predict_batched(self.net, x) * self.y_std + self.y_mean
        J = test.num_joints
        rel = y.reshape(len(test), J - 1, 3)
        return np.insert(rel, self.root, 0.0, axis=1)

    # -- storage: z-score statistics + the network's state_dict as arrays (no pickle), and the
    #    2D detector's checkpoint when inputs=epipolarpose
    def save(self, directory: Path) -> None:
        super().save(directory)
        if self.config["inputs"] == "epipolarpose":
            shutil.copyfile(self.detector, Path(directory) / "detector.pt")

    def load(self, directory: Path) -> None:
        super().load(directory)
        if self.config["inputs"] == "epipolarpose":
            self.detector = Path(directory) / "detector.pt"

    def state(self) -> dict[str, np.ndarray]:
        from baselines.lifting import module_state_arrays  # lazy: torch

        return {"x_mean": self.x_mean, "x_std": self.x_std, "y_mean": self.y_mean,
                "y_std": self.y_std, "root": np.array(self.root),
                "dims": np.array([len(self.x_mean), len(self.y_mean)]),
                **module_state_arrays(self.net)}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        from baselines.lifting import LiftingNet, load_module_state_arrays  # lazy: torch

        cfg = self.config
        for k in ("x_mean", "x_std", "y_mean", "y_std"):
            setattr(self, k, np.asarray(state[k], dtype=np.float64))
        self.root = int(state["root"])
        d_in, d_out = (int(v) for v in state["dims"])
        self.net = LiftingNet(d_in, d_out, cfg["width"], cfg["blocks"], cfg["activation"],
                              cfg["dropout"])
        load_module_state_arrays(self.net, state)
        self.net.eval()
