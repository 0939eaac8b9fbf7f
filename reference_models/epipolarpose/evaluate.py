"""Inference as PAPER.md evaluates EpipolarPose.

A crop goes through the network (upper branch) -> normalised (x_n, y_n, z_n) -> back-projected
with the ground-truth intrinsics and the ground-truth root depth (`data.back_project`) -> camera-
frame mm; both prediction and ground truth are root-centred before the metrics core scores them
(`pipeline.evaluate_variant`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from baselines import root_index
from reference_models.epipolarpose.data import (
    apply_affine,
    back_project,
    invert_affine,
    require_crops,
    sample_intrinsics,
    to_network_input,
)


def load_model(checkpoint: str | Path, device: str = "cpu"):
    """A trained PoseNet (eval mode) from a trainer checkpoint file or run folder."""
    import torch  # lazy: keeps torch out of `posebench methods` and reproduce's checks

    from reference_models.epipolarpose.model import build_model  # lazy: torch

    path = Path(checkpoint)
    if path.is_dir():
        path = path / "checkpoint.pt"
    state = torch.load(path, map_location=device, weights_only=True)
    model = build_model(state["model_config"])
    model.load_state_dict(state["model"])
    return model.to(device).eval()


def predict_normalised(model, images: np.ndarray, batch_size: int = 256,
                       device: str = "cpu") -> np.ndarray:
    """(N, S, S, 3) uint8 crops -> (N, J, 3) float64 normalised crop coordinates (eval mode)."""
    import torch  # lazy: keeps torch out of `posebench methods` and reproduce's checks

    was_training = model.training
    model.eval()
    out = []
    with torch.no_grad():
        for a in range(0, len(images), batch_size):
            x = to_network_input(torch.from_numpy(np.array(images[a:a + batch_size])))
            out.append(model(x.to(device)).double().cpu().numpy())
    model.train(was_training)
    J = model.cfg.num_joints
    return np.concatenate(out) if out else np.zeros((0, J, 3))


def to_camera_mm(pred_n: np.ndarray, dataset, image_size: int) -> np.ndarray:
    """Normalised predictions of every sample of `dataset` -> (N, J, 3) camera mm using the
    ground-truth intrinsics (lens distortion undone) and root depth (absolute; subtract the
    root for root-relative)."""
    focal, centre = sample_intrinsics(dataset)
    root_depth = dataset.poses_3d[:, root_index(dataset), 2]
    ci = dataset.camera_index
    cams = dataset.cameras
    return back_project(pred_n, dataset.crop_affine, focal, centre, root_depth, image_size,
                        cams.k[ci], cams.p[ci], cams.distortion)


def normalised_to_full_px(pred_n: np.ndarray, crop_affine: np.ndarray,
                          image_size: int) -> np.ndarray:
    """(N, J, >=2) normalised -> (N, J, 2) full-image px through the inverse crop affine."""
    return apply_affine(invert_affine(crop_affine), (pred_n[..., :2] + 0.5) * image_size)


def predict_2d_full_px(checkpoint: str | Path, dataset, batch_size: int = 256,
                       device: str = "cpu") -> np.ndarray:
    """The 2D branch of a trained network (checkpoint file or run folder) on every crop of
    `dataset` -> (N, J, 2) full-image px (x, y of the soft-argmax; depth ignored)."""
    model = load_model(checkpoint, device)
    pred = predict_normalised(model, dataset.images, batch_size, device)
    return normalised_to_full_px(pred, dataset.crop_affine, model.cfg.image_size)


def predict(checkpoint: str | Path, dataset, *, root_relative: bool = False,
            batch_size: int = 256, device: str = "cpu") -> np.ndarray:
    """EpipolarPose predictions for every sample of `dataset`.

    -> (N, J, 3) camera-frame mm: absolute with the ground-truth root depth (as PAPER.md
    evaluates), or root-relative when `root_relative`.
    """
    require_crops(dataset)
    model = load_model(checkpoint, device)
    pred = to_camera_mm(predict_normalised(model, dataset.images, batch_size, device), dataset,
                        model.cfg.image_size)
    if root_relative:
        pred = pred - pred[:, root_index(dataset):root_index(dataset) + 1]
    return pred


def root_centred_mpjpe(pred: np.ndarray, gt: np.ndarray, root: int) -> float:
    """Mean per-joint error (mm) after subtracting each pose's root (validation monitor)."""
    d = (pred - pred[:, root:root + 1]) - (gt - gt[:, root:root + 1])
    return float(np.linalg.norm(d, axis=-1).mean())
