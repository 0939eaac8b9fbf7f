"""Training targets and tensor views over a `PoseDataset`.

Depth representation (used for every target and every prediction)
-----------------------------------------------------------------
A pose lives in *normalised crop coordinates* (x_n, y_n, z_n), each about [-0.5, 0.5]:

    x_n = x_crop / S - 0.5,   y_n = y_crop / S - 0.5          (x_crop, y_crop: crop px)
    z_n = (Z_j - Z_root) / Z_root * f_crop / S                (f_crop = f * s px)

with S the crop side, s the scale of the crop affine (full px -> crop px) and f the focal
length (mean of fx, fy). z_n is the depth offset from the root expressed in *crop pixels at the
root's distance*: the same units as x_n, y_n (a limb of length L seen side-on or head-on spans
the same number of units), and it is invariant to a global scale of the 3D scene, since only
the ratio (Z_j - Z_root) / Z_root enters. Pseudo-labels triangulated without extrinsics (known
only up to scale) therefore give exactly the same targets as metric ones. z_n = +-0.5 covers a
depth range of one crop width around the root (the official 2000 mm box for a 256 px crop of a
~2 m box).

Back-projection (evaluation, as PAPER.md): Z_j = Z_root (1 + z_n S / f_crop) with the ground-
truth root depth Z_root; (x_crop, y_crop) -> full-image px through the inverse crop affine;
X_j = (u - c_x) / f_x * Z_j, Y_j = (v - c_y) / f_y * Z_j, where (u, v) are first undistorted
(iteratively) when the camera's distortion is given (`back_project`; the official code skips
this, which leaves an error floor of a few mm on Human3.6M's lenses).
"""

from __future__ import annotations

import numpy as np

from posebench.errors import InputError
from posebench.geometry.camera import pixels_to_normalised, undistort_points
from posebench.geometry.image_affine import apply_affine, invert_affine

IMAGE_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGE_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def crop_scale(crop_affine: np.ndarray) -> np.ndarray:
    """(N, 2, 3) affine -> (N,) isotropic scale s = sqrt(|det A[:, :2]|) (crop px per full px)."""
    return np.sqrt(np.abs(np.linalg.det(crop_affine[:, :, :2])))


def focal_crop(focal: np.ndarray, crop_affine: np.ndarray) -> np.ndarray:
    """(N, 2) focal px, (N, 2, 3) affines -> (N,) focal length in crop px (mean of fx, fy)."""
    return focal.mean(axis=-1) * crop_scale(crop_affine)


def normalised_targets(uv_full: np.ndarray, depth: np.ndarray | None, crop_affine: np.ndarray,
                       focal: np.ndarray, image_size: int, root: int) -> np.ndarray:
    """Targets in normalised crop coordinates.

    uv_full (N, J, 2) full-image px; depth (N, J) camera-frame Z in any consistent unit (mm, or
    the arbitrary scale of a scale-free triangulation) or None for 2D-only samples (z_n = NaN);
    crop_affine (N, 2, 3); focal (N, 2) px -> (N, J, 3) float32 (x_n, y_n, z_n).
    """
    xy = apply_affine(crop_affine, uv_full) / image_size - 0.5
    if depth is None:
        z = np.full(xy.shape[:2], np.nan)
    else:
        z_root = depth[:, root:root + 1]
        z = (depth - z_root) / z_root * (focal_crop(focal, crop_affine) / image_size)[:, None]
    return np.concatenate([xy, z[..., None]], axis=-1).astype(np.float32)


def back_project(pred_n: np.ndarray, crop_affine: np.ndarray, focal: np.ndarray,
                 centre: np.ndarray, root_depth: np.ndarray, image_size: int,
                 k: np.ndarray | None = None, p: np.ndarray | None = None,
                 distortion: str = "none") -> np.ndarray:
    """Normalised crop coordinates -> camera-frame 3D with a given root depth.

    pred_n (N, J, 3); crop_affine (N, 2, 3); focal, centre (N, 2) px; root_depth (N,) mm;
    k (N, 3), p (N, 2) and `distortion` (posebench.geometry.camera models): when given, the
    pixels are undistorted (iteratively) before the pinhole back-projection; the official
    EpipolarPose code skips this (`distortion="none"`), which on Human3.6M's lenses leaves an
    error floor of a few mm. -> (N, J, 3) mm, camera frame.
    """
    pred_n = np.asarray(pred_n, dtype=np.float64)
    uv = apply_affine(invert_affine(crop_affine), (pred_n[..., :2] + 0.5) * image_size)
    if distortion != "none" and k is not None:
        xy = undistort_points(uv, focal, centre, k, p, distortion, output="normalised")
    else:
        xy = pixels_to_normalised(uv, focal, centre)
    fc = focal_crop(focal, crop_affine)
    Z = root_depth[:, None] * (1.0 + pred_n[..., 2] * image_size / fc[:, None])
    return np.concatenate([xy * Z[..., None], Z[..., None]], axis=-1)


def sample_intrinsics(dataset) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) focal and (N, 2) principal point px of every sample of a PoseDataset."""
    ci = dataset.camera_index
    return dataset.cameras.f[ci], dataset.cameras.c[ci]


def require_crops(dataset) -> None:
    if dataset.images is None or dataset.crop_affine is None:
        raise InputError(
            f"dataset '{dataset.name}' split '{dataset.split}' has no image crops or crop "
            "affines; expected a dataset with images (e.g. the built-in 'synth'); prepare a "
            "dataset with images.")


def gt_targets(dataset, image_size: int, root: int = 0) -> np.ndarray:
    """Targets from ground truth: 2D from poses_2d, depth from poses_3d (NaN z if 2D-only)."""
    require_crops(dataset)
    focal, _ = sample_intrinsics(dataset)
    depth = dataset.poses_3d[..., 2] if dataset.has_3d else None
    return normalised_targets(dataset.poses_2d, depth, dataset.crop_affine, focal,
                              image_size, root)


class TensorSamples:
    """Images and targets of one split held as tensors; batches by index (no worker processes).

    images (N, S, S, 3) uint8 (a memmap stays on disk; each batch is gathered from it);
    targets (N, J, 3) float32 normalised coordinates, NaN where a coordinate has no label (it
    gets zero weight).
    """

    def __init__(self, images: np.ndarray, targets: np.ndarray):
        import torch  # lazy: keeps torch out of importing the targets (pseudo-labels, eval)

        self.images = images
        t = np.asarray(targets, dtype=np.float32)
        self.weights = torch.from_numpy(np.isfinite(t).astype(np.float32))
        self.targets = torch.from_numpy(np.nan_to_num(t, nan=0.0))
        self.mean = torch.from_numpy(IMAGE_MEAN).view(1, 3, 1, 1)
        self.std = torch.from_numpy(IMAGE_STD).view(1, 3, 1, 1)

    def __len__(self) -> int:
        return len(self.targets)

    def batch(self, idx, device="cpu", augment: dict | None = None, flip_perm=None):
        """-> images (B, 3, S, S) float normalised, targets (B, J, 3), weights (B, J, 3).

        augment: per-sample parameters of `augment.sample_params` (for these B samples) ->
        crops, targets and weights transformed together on `device` (`augment.augment_batch`;
        flip_perm (J,) is the skeleton's left/right permutation)."""
        import torch  # lazy: keeps torch out of importing the targets (pseudo-labels, eval)

        crops = torch.from_numpy(np.asarray(self.images[np.asarray(idx)]))
        tgt, w = self.targets[idx].to(device), self.weights[idx].to(device)
        if augment is None:
            return to_network_input(crops, self.mean, self.std).to(device), tgt, w
        from reference_models.epipolarpose.augment import augment_batch  # lazy: imports torch

        x, tgt, w = augment_batch(crops.to(device), tgt, w, augment, torch.as_tensor(flip_perm))
        mean, std = self.mean.to(device), self.std.to(device)
        return (x.div_(255.0) - mean) / std, tgt, w


def to_network_input(images_u8, mean=None, std=None):
    """(B, S, S, 3) uint8 tensor -> (B, 3, S, S) float32 normalised with ImageNet statistics."""
    import torch  # lazy: keeps torch out of importing the targets (pseudo-labels, eval)

    mean = torch.from_numpy(IMAGE_MEAN).view(1, 3, 1, 1) if mean is None else mean
    std = torch.from_numpy(IMAGE_STD).view(1, 3, 1, 1) if std is None else std
    x = images_u8.permute(0, 3, 1, 2).float().div_(255.0)
    return (x - mean) / std
