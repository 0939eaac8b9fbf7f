"""The paper's training augmentation, batched in torch: scale, rotation, flip, colour.

Sampling rule (the official code, mkocabas/EpipolarPose ``lib/utils/img_utils.py:17-39``,
``get_default_augment_config`` / ``do_augmentation``), per sample:

    scale = 1 + scale_factor * clip(N(0, 1), -1, 1)          (0.75 .. 1.25; >1 zooms out)
    rot   = rot_factor * clip(N(0, 1), -2, 2) deg  with probability rot_prob, else 0
            (rot_factor 30 -> std 30 deg, at most +-60 deg; PAPER.md "up to +-60 deg, p 0.6")
    flip  = Bernoulli(flip_prob)       (the official default is do_flip_aug = False, line 22)
    colour= per-channel factors U(1 - color_factor, 1 + color_factor), pixels clipped to 0..255

Geometry: one affine per sample maps original crop px to augmented crop px about the crop
centre c = (S - 1) / 2 (pixel centres at integer coordinates, as every crop affine here):

    q = c + R(rot) F (p - c) / scale,    F = diag(-1, 1) when flipped, else I

which equals the official "flip the full image, then crop the scaled, rotated box" (its
``generate_patch_image_cv``, img_utils.py:114-127) for a box centred on the crop. The targets
follow the pixels: x, y through the same affine; z_n (depth offset in crop px at the root's
distance / S) is divided by ``scale`` like x and y (the official depth label is
``z / (2000 * scale) * S``, img_utils.py:293) and is otherwise unchanged by rotation and
flip; a flip swaps left and right joints (targets and weights) so a left label stays on the
left limb.

Pairing rule for multi-view (self-supervised) training: the official loader draws each view of
a pair through ``get_data`` separately (``lib/dataset/h36m.py:33-47``), so the two views get
independent augmentations; the pseudo-label is triangulated in the un-augmented full image
(``self_supervision``, img_utils.py:166-190) and projected into each view's own augmented crop
(``get_batch_labels_from_global_coords``, img_utils.py:212-243). Here pseudo-labels are per-
sample targets in the un-augmented crop, so drawing every sample's parameters independently and
transforming its own target reproduces that rule exactly.

Determinism: the parameters of a step are a pure function of (seed, step) (a fresh
``torch.Generator`` per step), drawn for the whole global batch, so a resumed run and every DDP
rank see the same augmentation as an uninterrupted single-process run.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F

#: seeds of augmentation generators live in their own range (epoch orders use seed*1_000_003+e)
_SEED_STRIDE = 1_000_000_007
_SEED_OFFSET = 7_919


@dataclass
class AugmentConfig:
    """``[augment]`` table of a profile / trainer config (defaults: the official values, off)."""

    enabled: bool = False
    scale_factor: float = 0.25
    rot_factor: float = 30.0
    rot_prob: float = 0.6
    flip_prob: float = 0.0
    color_factor: float = 0.2

    @classmethod
    def from_dict(cls, d: dict | None) -> AugmentConfig:
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown [augment] key(s) {', '.join(unknown)}; expected "
                             f"{', '.join(sorted(known))}")
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)


def step_generator(seed: int, step: int) -> torch.Generator:
    """The CPU generator of one training step's augmentation."""
    return torch.Generator().manual_seed(int(seed) * _SEED_STRIDE + _SEED_OFFSET + int(step))


def sample_params(cfg: AugmentConfig, batch: int, generator: torch.Generator) -> dict:
    """Per-sample parameters: scale (B,), rot_deg (B,), flip (B,) bool, color (B, 3); float64."""
    g = generator
    normal = torch.randn(batch, generator=g, dtype=torch.float64)
    scale = 1.0 + cfg.scale_factor * normal.clamp(-1, 1)
    rot = cfg.rot_factor * torch.randn(batch, generator=g, dtype=torch.float64).clamp(-2, 2)
    rot = torch.where(torch.rand(batch, generator=g, dtype=torch.float64) < cfg.rot_prob, rot,
                      torch.zeros_like(rot))
    flip = torch.rand(batch, generator=g, dtype=torch.float64) < cfg.flip_prob
    lo = 1.0 - cfg.color_factor
    color = lo + 2.0 * cfg.color_factor * torch.rand(batch, 3, generator=g, dtype=torch.float64)
    return {"scale": scale, "rot_deg": rot, "flip": flip, "color": color}


def take_params(params: dict, sel) -> dict:
    """Parameters of a subset of the batch (e.g. one DDP rank's slice)."""
    return {k: v[sel] for k, v in params.items()}


def crop_affines(params: dict, size: int) -> torch.Tensor:
    """(B, 2, 3) float64 affines original crop px -> augmented crop px (see module docstring)."""
    th = params["rot_deg"] * (math.pi / 180.0)
    cos, sin = torch.cos(th), torch.sin(th)
    s = 1.0 / params["scale"]
    fx = torch.where(params["flip"], -1.0, 1.0).to(torch.float64)
    lin = torch.stack([torch.stack([cos * fx, -sin], -1), torch.stack([sin * fx, cos], -1)], -2)
    lin = lin * s[:, None, None]
    c = torch.full((len(s), 2), (size - 1) / 2.0, dtype=torch.float64)
    t = c - torch.einsum("bij,bj->bi", lin, c)
    return torch.cat([lin, t[..., None]], -1)


def transform_targets(targets: torch.Tensor, weights: torch.Tensor, params: dict, size: int,
                      flip_perm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets (B, J, 3) normalised crop coordinates and their weights (B, J, 3) -> the same
    for the augmented crops: x, y through the affine, z / scale, flipped samples' joints
    permuted by ``flip_perm`` (J,) (left <-> right)."""
    A = crop_affines(params, size).to(targets.device)
    p = (targets[..., :2].double() + 0.5) * size
    q = torch.einsum("bij,bkj->bki", A[:, :, :2], p) + A[:, None, :, 2]
    z = targets[..., 2:].double() / params["scale"].to(targets.device)[:, None, None]
    out = torch.cat([q / size - 0.5, z], -1).to(targets.dtype)
    flip = params["flip"].to(targets.device)
    if bool(flip.any()):
        perm = flip_perm.to(targets.device)
        out = torch.where(flip[:, None, None], out[:, perm], out)
        weights = torch.where(flip[:, None, None], weights[:, perm], weights)
    return out, weights


def transform_images(images: torch.Tensor, params: dict) -> torch.Tensor:
    """(B, 3, S, S) float pixel values 0..255 -> augmented crops (bilinear, zero outside the
    original crop, like cv2.warpAffine's constant border), colour-scaled and clipped to 0..255."""
    size = images.shape[-1]
    A = crop_affines(params, size)
    full = torch.zeros(len(A), 3, 3, dtype=torch.float64)
    full[:, :2], full[:, 2, 2] = A, 1.0
    half = (size - 1) / 2.0
    N = torch.tensor([[1 / half, 0, -1], [0, 1 / half, -1], [0, 0, 1]], dtype=torch.float64)
    # output grid coords -> output px -> input px -> input grid coords
    theta = N @ torch.linalg.inv(full) @ torch.linalg.inv(N)
    grid = F.affine_grid(theta[:, :2].to(images.device, images.dtype), list(images.shape),
                         align_corners=True)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    color = params["color"].to(images.device, images.dtype)[:, :, None, None]
    return (out * color).clamp_(0.0, 255.0)


def augment_batch(images_u8: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor,
                  params: dict, flip_perm: torch.Tensor):
    """(B, S, S, 3) uint8 crops + (B, J, 3) targets / weights -> (B, 3, S, S) float 0..255
    augmented crops, targets, weights (everything on the images' device)."""
    x = images_u8.permute(0, 3, 1, 2).float()
    size = x.shape[-1]
    t, w = transform_targets(targets, weights, params, size, flip_perm)
    return transform_images(x, params), t, w
