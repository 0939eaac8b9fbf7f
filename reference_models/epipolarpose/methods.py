"""The EpipolarPose reference model behind the method interface (`posebench.methods.Method`).

``epipolarpose-fs``     the fully-supervised integral model (3D ground truth of the training
                        split), trained by `trainer`;
``epipolarpose-ss-ru``  the self-supervised model (2D pre-training on ``pretrain_split`` ->
                        epipolar pseudo-labels -> 3D training) followed by the refinement unit,
                        trained on the model's own predictions for the training split
                        (``ru_route=predictions``) or on the training poses seen by random
                        virtual cameras with synthetic noise (``ru_route=mocap``);
``simple-baseline``     `baselines.simple_baseline.SimpleBaseline` with this model's 2D branch
                        as its ``inputs=epipolarpose`` detector (``inputs=gt`` needs no detector).

The EpipolarPose methods train with a profile of the reference pipeline (``smoke | cpu | paper``
or a TOML path: model, optimiser per stage), the crop size taken from the dataset, and `epochs` /
`max_steps` overrides (0: the profile's). As PAPER.md evaluates EpipolarPose, prediction
back-projects the crop coordinates with the ground-truth intrinsics and root depth; the output
is root-relative. Fitted state: the trainer's checkpoint (a torch state_dict, loaded with
``weights_only=True``) and the unit as .npz. This module imports no torch (`posebench methods`
lists these classes); training and the unit import it when used.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from baselines import instant_ids, root_index
from baselines.simple_baseline import SimpleBaseline
from posebench.data.registry import load_dataset
from posebench.errors import MethodError
from posebench.geometry.camera import camera_to_world
from posebench.methods import Method
from reference_models.epipolarpose.evaluate import predict, predict_2d_full_px
from reference_models.epipolarpose.profiles import load_profile, run_config

_COMMON = {"profile": "smoke", "epochs": 0.0, "max_steps": 0, "threads": 2, "device": "cpu"}


def stage_config(options: dict, mode: str, seed: int, dataset, *, init: str = "",
                 pseudo_mode: str | None = None) -> dict:
    """A trainer config for one stage (`mode`) of the reference pipeline's profile, adapted to
    `dataset` (its crop size and split) and to the method's options."""
    prof = load_profile(options["profile"])
    optim = prof["pretrain" if mode == "pretrain-2d" else "train3d"]["optim"]
    cfg = run_config(prof, mode, optim, pseudo_mode, init, dataset.name, options["device"])
    cfg["seed"], cfg["threads"] = int(seed), int(options["threads"])
    if dataset.images is not None:
        cfg["model"]["image_size"] = int(dataset.images.shape[1])
    cfg["data"]["train_split"] = cfg["data"]["pretrain_split"] = dataset.split
    cfg["run"] = {**cfg["run"], "eval_every": 0, "progress": True}  # tqdm only on a tty
    if options["epochs"] > 0:
        cfg["optim"]["epochs"] = float(options["epochs"])
    if options["max_steps"] > 0:
        cfg["optim"]["max_steps"] = int(options["max_steps"])
    return cfg


def train_stage(cfg: dict, out: Path, dataset) -> Path:
    """Train one stage on `dataset` (injected under its split name); returns the run folder."""
    from reference_models.epipolarpose.trainer import train  # lazy: keeps torch out of methods

    return Path(train(cfg, out, datasets={dataset.split: dataset}))


def train_2d_detector(options: dict, seed: int, train, out: Path) -> Path:
    """Pre-train the EpipolarPose 2D branch on split ``options["pretrain_split"]`` of
    `train`'s dataset (MPII's role); returns the run folder (``checkpoint.pt``)."""
    pre = load_dataset(train.meta.get("root") or train.name, options["pretrain_split"])
    return train_stage(stage_config(options, "pretrain-2d", seed, pre), out, pre)


def epipolarpose_2d(checkpoint: str, dataset, batch_size: int = 256) -> np.ndarray:
    """2D detections (N, J, 2) full-image px from the 2D (x, y) soft-argmax of a trained
    EpipolarPose network (a trainer checkpoint file or run folder) on `dataset`'s crops."""
    if not checkpoint or not Path(checkpoint).exists():
        raise MethodError(f"simple-baseline with inputs=epipolarpose needs a trained "
                          f"EpipolarPose checkpoint but detector={checkpoint!r} does not exist; "
                          "expected a run folder or checkpoint.pt from `posebench reproduce "
                          "epipolarpose`; pass --option detector=PATH.")
    if dataset.crop_affine is None:
        raise MethodError(f"split '{dataset.split}' of '{dataset.name}' has no crop_affine, so "
                          "crop detections cannot be mapped to image pixels; expected a dataset "
                          "with crops; regenerate it with images.")
    return predict_2d_full_px(checkpoint, dataset, batch_size)


def world_poses(dataset) -> np.ndarray:
    """(M, J, 3) world-frame mm poses, one per instant (the first camera's view of it)."""
    _, first = np.unique(instant_ids(dataset.keys), return_index=True)
    ci = dataset.camera_index[first]
    return camera_to_world(dataset.poses_3d[first], dataset.cameras.R[ci], dataset.cameras.t[ci])


class EpipolarPoseFS(Method):
    """Fully-supervised integral EpipolarPose network (reference implementation)."""

    uses_torch = True
    name = "epipolarpose-fs"
    description = ("EpipolarPose integral model, fully supervised on the training split's 3D "
                   "(reference implementation; GT intrinsics + root depth at test, as the paper).")
    needs = frozenset({"images", "cameras", "train_3d"})
    defaults = dict(_COMMON)
    mode = "fully-supervised"

    def _train(self, train, seed: int, out: Path) -> Path:
        return train_stage(stage_config(self.config, self.mode, seed, train), out / "model", train)

    def fit(self, train, seed: int = 0) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="posebench-ep-"))
        atexit.register(shutil.rmtree, self._tmp, True)
        self.checkpoint = self._train(train, seed, self._tmp) / "checkpoint.pt"

    def predict(self, test) -> np.ndarray:
        return predict(self.checkpoint, test, root_relative=True, device=self.config["device"])

    def save(self, directory: Path) -> None:
        shutil.copyfile(self.checkpoint, Path(directory) / "checkpoint.pt")

    def load(self, directory: Path) -> None:
        self.checkpoint = Path(directory) / "checkpoint.pt"


class EpipolarPoseSSRU(EpipolarPoseFS):
    """Self-supervised EpipolarPose + refinement unit (PAPER.md section 3.3)."""

    name = "epipolarpose-ss-ru"
    description = ("Self-supervised EpipolarPose (2D pre-training, epipolar pseudo-labels) + "
                   "refinement unit (ru_route=predictions|mocap).")
    needs = frozenset({"images", "cameras", "train_3d"})
    defaults = {**_COMMON, "pretrain_split": "train2d", "pseudo": "pooled",
                "ru_route": "predictions", "ru_epochs": 30, "ru_width": 1024,
                "ru_batch_size": 64, "ru_views": 4, "refine": True}
    mode = "self-supervised"

    def config_hash(self, seed: int = 0) -> str:
        """`refine` only switches the unit off at prediction: the same fit serves both."""
        cfg = {k: v for k, v in self.config.items() if k != "refine"}
        blob = json.dumps({"method": self.name, "version": self.version, "config": cfg,
                           "seed": int(seed)}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def _train(self, train, seed: int, out: Path) -> Path:
        opts = self.config
        run2d = train_2d_detector(opts, seed, train, out / "pretrain2d")
        cfg = stage_config(opts, "self-supervised", seed, train,
                           init=str(run2d / "checkpoint.pt"), pseudo_mode=opts["pseudo"])
        return train_stage(cfg, out / "model", train)

    def fit(self, train, seed: int = 0) -> None:
        from reference_models.epipolarpose.refinement import (  # lazy: keeps torch out of methods
            train_refinement_unit,
            train_refinement_unit_mocap,
        )

        super().fit(train, seed)
        opts = self.config
        root = root_index(train)
        ru_cfg = {"epochs": int(opts["ru_epochs"]), "width": int(opts["ru_width"]),
                  "batch_size": int(opts["ru_batch_size"])}
        if opts["ru_route"] == "mocap":
            world = world_poses(train)
            self.unit = train_refinement_unit_mocap(world, views=opts["ru_views"], seed=seed,
                                                    root=root, config=ru_cfg,
                                                    threads=opts["threads"])
        else:
            pred = predict(self.checkpoint, train, root_relative=True, device=opts["device"])
            self.unit = train_refinement_unit(pred, train.poses_3d, root=root, config=ru_cfg,
                                              seed=seed, threads=opts["threads"])

    def predict(self, test) -> np.ndarray:
        pred = super().predict(test)
        return self.unit.refine(pred) if self.config["refine"] else pred

    def save(self, directory: Path) -> None:
        super().save(directory)
        self.unit.save(Path(directory) / "refinement_unit.npz")

    def load(self, directory: Path) -> None:
        from reference_models.epipolarpose.refinement import (  # lazy: keeps torch out of methods
            RefinementUnit,
        )

        super().load(directory)
        self.unit = RefinementUnit.load(Path(directory) / "refinement_unit.npz")


class SimpleBaselineEP(SimpleBaseline):
    """SimpleBaseline whose ``inputs=epipolarpose`` detector is this model's 2D branch: the
    ``detector`` checkpoint, or one pre-trained with ``profile`` on ``pretrain_split``."""

    def fit_detector(self, train, seed: int) -> Path:
        if self.config["detector"]:
            return Path(self.config["detector"])
        tmp = Path(tempfile.mkdtemp(prefix="posebench-sb-"))
        atexit.register(shutil.rmtree, tmp, True)
        opts = {**self.config, "epochs": 0.0}
        return train_2d_detector(opts, seed, train, tmp / "detector") / "checkpoint.pt"

    def detections_2d(self, dataset) -> np.ndarray:
        return epipolarpose_2d(str(self.detector), dataset)
