"""The refinement unit of EpipolarPose (PAPER.md, section 3.3): a residual MLP that maps the
noisy 3D pose of the self-supervised model to a better one.

Architecture (J joints, D = 3 (J - 1): the root-relative coordinates of the non-root joints):

    h  = Dropout(act(BN(Linear(D -> w)(x))))            input layer
    h  = block1(h)        two residual sub-blocks (baselines.lifting.ResidualBlock)
    p1 = Linear(w -> D)(h)                              intermediate prediction
    h  = h + Linear(D -> w)(p1)                         re-embedded and added back
    h  = block2(h)        two residual sub-blocks
    p2 = Linear(w -> D)(h)                              final prediction

Loss MSE(p1, y) + MSE(p2, y) on z-scored targets y (inputs z-scored too); Adam 1e-3, learning
rate x0.96 per 100k steps, batch 64, gradient clipping 1. The paper says Leaky ReLU, the
official code defaults to ReLU: `activation` picks, ReLU by default.

Two training routes:
- on EpipolarPose's own outputs for the training split: ``train_refinement_unit(pred, gt)``;
- the MoCap route (no images): world-frame poses (motion capture, procedural poses, the
  ``npz:``/BVH imports) seen by random virtual cameras, with synthetic noise
  (`add_structured_noise`) or noise drawn from a model fitted to the network's residuals
  (`fit_noise_model`): ``train_refinement_unit_mocap(world_poses, ...)``.

Apply with ``refine(poses, unit)`` or ``unit.refine(poses)``. Stored as .npz (state_dict
arrays) + JSON, never pickle. This module imports torch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from baselines.lifting import (
    ResidualBlock,
    dense,
    load_module_state_arrays,
    module_state_arrays,
    predict_batched,
    set_threads,
    train_regressor,
    zscore_stats,
)
from posebench.errors import InputError
from posebench.io import load_npz, savez_atomic, write_json_atomic


class RefinementNet(nn.Module):
    """(B, D) z-scored noisy pose -> (p1, p2), each (B, D) z-scored refined pose."""

    def __init__(self, dim: int, width: int = 1024, act: str = "relu", dropout: float = 0.5,
                 sub_blocks: int = 2):
        super().__init__()
        self.inp = dense(dim, width, act, dropout)
        self.block1 = nn.Sequential(*(ResidualBlock(width, act, dropout)
                                      for _ in range(sub_blocks)))
        self.head1 = nn.Linear(width, dim)
        self.reembed = nn.Linear(dim, width)
        self.block2 = nn.Sequential(*(ResidualBlock(width, act, dropout)
                                      for _ in range(sub_blocks)))
        self.head2 = nn.Linear(width, dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.block1(self.inp(x))
        p1 = self.head1(h)
        h = self.block2(h + self.reembed(p1))
        return p1, self.head2(h)


def intermediate_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """MSE(p1, y) + MSE(p2, y)."""
    p1, p2 = model(x)
    return torch.mean((p1 - y) ** 2) + torch.mean((p2 - y) ** 2)


@dataclass
class RefinementConfig:
    """Every number-changing knob of the unit and its training (paper values by default,
    except `epochs`: the paper's 200 epochs are for Human3.6M-sized data on a GPU)."""

    width: int = 1024
    sub_blocks: int = 2
    dropout: float = 0.5
    activation: str = "relu"
    epochs: int = 200
    batch_size: int = 64
    lr: float = 1e-3
    lr_decay: float = 0.96
    decay_steps: int = 100_000
    clip: float = 1.0


class RefinementUnit:
    """A trained refinement unit: network + z-score statistics + joint layout."""

    def __init__(self, config: RefinementConfig, num_joints: int, root: int,
                 stats: dict[str, np.ndarray], net: RefinementNet | None = None):
        self.config = config
        self.num_joints = int(num_joints)
        self.root = int(root)
        self.stats = {k: np.asarray(v, dtype=np.float64) for k, v in stats.items()}
        dim = 3 * (self.num_joints - 1)
        self.net = net or RefinementNet(dim, config.width, config.activation, config.dropout,
                                        config.sub_blocks)
        self.history: list[float] = []

    def refine(self, poses: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """(N, J, 3) mm (any root position) -> (N, J, 3) mm refined, root-relative."""
        x = flatten_relative(poses, self.root)
        x = (x - self.stats["x_mean"]) / self.stats["x_std"]
        y = predict_batched(self.net, x, batch_size) * self.stats["y_std"] + self.stats["y_mean"]
        return unflatten_relative(y, self.root)

    def save(self, path: str | Path) -> Path:
        """Write ``<path>`` (.npz: weights, statistics) and ``<path>.json`` (config) atomically."""
        path = Path(path)
        savez_atomic(path, **{f"stat.{k}": v for k, v in self.stats.items()},
                     **module_state_arrays(self.net))
        write_json_atomic(path.with_name(path.name + ".json"), {
            "kind": "epipolarpose-refinement-unit", "config": asdict(self.config),
            "num_joints": self.num_joints, "root": self.root})
        return path

    @classmethod
    def load(cls, path: str | Path) -> RefinementUnit:
        path = Path(path)
        meta = json.loads(path.with_name(path.name + ".json").read_text())
        arrays = load_npz(path, what="a refinement unit")
        stats = {k[5:]: v for k, v in arrays.items() if k.startswith("stat.")}
        unit = cls(RefinementConfig(**meta["config"]), meta["num_joints"], meta["root"], stats)
        load_module_state_arrays(unit.net, arrays)
        unit.net.eval()
        return unit


# ------------------------------------------------------------------------------ pose layout
def flatten_relative(poses: np.ndarray, root: int) -> np.ndarray:
    """(N, J, 3) -> (N, 3 (J - 1)): root-relative coordinates of the non-root joints."""
    poses = np.asarray(poses, dtype=np.float64)
    rel = np.delete(poses - poses[:, root:root + 1], root, axis=1)
    return rel.reshape(len(poses), -1)


def unflatten_relative(flat: np.ndarray, root: int) -> np.ndarray:
    """Inverse of `flatten_relative`: (N, 3 (J - 1)) -> (N, J, 3) with the root at 0."""
    rel = np.asarray(flat).reshape(len(flat), -1, 3)
    return np.insert(rel, root, 0.0, axis=1)


# --------------------------------------------------------------------------------- training
def train_refinement_unit(noisy: np.ndarray, target: np.ndarray, *, root: int = 0,
                          config: RefinementConfig | dict | None = None, seed: int = 0,
                          threads: int = 2, progress: bool | None = None) -> RefinementUnit:
    """Train a unit on pairs (noisy (N, J, 3) mm, target (N, J, 3) mm), e.g. EpipolarPose's
    predictions on the training split and their ground truth. Both are root-centred here."""
    if isinstance(config, dict) or config is None:
        config = RefinementConfig(**(config or {}))
    set_threads(threads)
    noisy = np.asarray(noisy, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if noisy.shape != target.shape or noisy.ndim != 3 or noisy.shape[2] != 3:
        raise InputError(f"refinement unit training pairs have shapes {noisy.shape} and "
                         f"{target.shape}; expected two (N, J, 3) arrays of the same shape; "
                         "pass predictions and ground truth of the same samples.")
    ok = np.isfinite(noisy).all(axis=(1, 2)) & np.isfinite(target).all(axis=(1, 2))
    x, y = flatten_relative(noisy[ok], root), flatten_relative(target[ok], root)
    x_mean, x_std = zscore_stats(x)
    y_mean, y_std = zscore_stats(y)
    torch.manual_seed(seed)                                 # seeded initial weights
    unit = RefinementUnit(config, noisy.shape[1], root,
                          {"x_mean": x_mean, "x_std": x_std, "y_mean": y_mean, "y_std": y_std})
    unit.history = train_regressor(
        unit.net, (x - x_mean) / x_std, (y - y_mean) / y_std, loss_fn=intermediate_loss,
        epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
        lr_decay=config.lr_decay, decay_steps=config.decay_steps, clip=config.clip, seed=seed,
        progress=progress)
    return unit


def refine(poses: np.ndarray, unit: RefinementUnit | str | Path) -> np.ndarray:
    """Refine (N, J, 3) mm poses with a trained unit (or the path of a saved one) -> (N, J, 3)
    root-relative mm."""
    if not isinstance(unit, RefinementUnit):
        unit = RefinementUnit.load(unit)
    return unit.refine(poses)


# ------------------------------------------------------------------------------ MoCap route
def _axis_rotation(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues: (N, 3) unit axes, (N,) angles -> (N, 3, 3)."""
    K = np.zeros(axis.shape[:-1] + (3, 3))
    K[..., 0, 1], K[..., 0, 2] = -axis[..., 2], axis[..., 1]
    K[..., 1, 0], K[..., 1, 2] = axis[..., 2], -axis[..., 0]
    K[..., 2, 0], K[..., 2, 1] = -axis[..., 1], axis[..., 0]
    s, c = np.sin(angle)[..., None, None], np.cos(angle)[..., None, None]
    return np.eye(3) + s * K + (1 - c) * (K @ K)


def random_virtual_cameras(n: int, rng: np.random.Generator, *, up_axis: int = 2,
                           elevation_deg: tuple[float, float] = (-10.0, 35.0),
                           roll_deg: float = 5.0) -> np.ndarray:
    """(n, 3, 3) world -> camera rotations of cameras looking horizontally at the subject from a
    uniformly random azimuth, tilted by a random elevation (camera above: positive) and a small
    roll. Camera frame: x right, y down, z forward; world `up_axis` up."""
    up = np.zeros(3)
    up[up_axis] = 1.0
    az = rng.uniform(0, 2 * np.pi, n)
    elev = np.deg2rad(rng.uniform(*elevation_deg, n))
    roll = np.deg2rad(rng.uniform(-roll_deg, roll_deg, n))
    a, b = [i for i in range(3) if i != up_axis]
    fwd = np.zeros((n, 3))
    fwd[:, a], fwd[:, b] = np.cos(az), np.sin(az)
    fwd = np.cos(elev)[:, None] * fwd - np.sin(elev)[:, None] * up     # looking down if above
    right = np.cross(fwd, up)
    right /= np.linalg.norm(right, axis=1, keepdims=True)
    down = np.cross(fwd, right)
    R = np.stack([right, down, fwd], axis=1)                            # rows: camera axes
    optical_axis = np.tile([0.0, 0.0, 1.0], (n, 1))
    return _axis_rotation(optical_axis, roll) @ R


def virtual_camera_poses(world_poses: np.ndarray, views: int, seed: int = 0, *,
                         root: int = 0, up_axis: int = 2) -> np.ndarray:
    """(M, J, 3) world mm -> (M * views, J, 3) root-relative poses in random virtual cameras."""
    rng = np.random.default_rng(seed)
    rel = np.asarray(world_poses, np.float64)
    rel = rel - rel[:, root:root + 1]
    reps = np.repeat(rel, views, axis=0)
    R = random_virtual_cameras(len(reps), rng, up_axis=up_axis)
    return np.einsum("nij,nkj->nki", R, reps)


def add_structured_noise(poses: np.ndarray, seed: int = 0, *, root: int = 0,
                         depth_scale: tuple[float, float] = (0.8, 0.1),
                         joint_sigma_mm: float = 15.0, extremity_sigma_mm: float = 40.0,
                         extremities: tuple[int, ...] = (3, 6, 13, 16),
                         bias_mm: float = 20.0) -> np.ndarray:
    """Emulate a monocular network's errors on root-relative (N, J, 3) mm camera-frame poses:
    a per-sample depth squash (z scaled by N(mean, std)), a fixed per-joint bias (the same for
    every sample: the systematic part), and per-joint Gaussian noise, larger at `extremities`
    (H36M-17 ankles and wrists by default). Returns root-relative noisy poses."""
    rng = np.random.default_rng(seed)
    poses = np.asarray(poses, np.float64)
    rel = poses - poses[:, root:root + 1]
    N, J, _ = rel.shape
    out = rel.copy()
    out[..., 2] *= rng.normal(depth_scale[0], depth_scale[1], (N, 1))
    bias = np.random.default_rng(12345).normal(0.0, bias_mm, (J, 3))   # fixed across seeds
    sigma = np.full(J, joint_sigma_mm)
    sigma[[e for e in extremities if e < J]] = extremity_sigma_mm
    out += bias + rng.normal(0.0, 1.0, (N, J, 3)) * sigma[None, :, None]
    return out - out[:, root:root + 1]


@dataclass
class NoiseModel:
    """Gaussian model of a network's root-relative residuals (prediction - ground truth):
    mean (D,) and Cholesky factor (D, D) of the covariance, D = 3 (J - 1). Sampling it adds the
    network's correlated errors to clean poses (residuals in camera coordinates)."""

    mean: np.ndarray
    chol: np.ndarray
    root: int = 0

    def sample(self, poses: np.ndarray, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        x = flatten_relative(poses, self.root)
        eps = rng.standard_normal(x.shape) @ self.chol.T + self.mean
        return unflatten_relative(x + eps, self.root)


def fit_noise_model(pred: np.ndarray, gt: np.ndarray, root: int = 0) -> NoiseModel:
    """Fit a `NoiseModel` to (N, J, 3) predictions and their ground truth (mm)."""
    r = flatten_relative(pred, root) - flatten_relative(gt, root)
    cov = np.cov(r, rowvar=False) + 1e-6 * np.eye(r.shape[1])
    return NoiseModel(r.mean(axis=0), np.linalg.cholesky(cov), root)


def mocap_training_pairs(world_poses: np.ndarray, *, views: int = 4, seed: int = 0,
                         root: int = 0, up_axis: int = 2,
                         noise: NoiseModel | dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, clean) (M * views, J, 3) root-relative camera-frame pairs from world poses seen
    by random virtual cameras; `noise` is a fitted NoiseModel or keyword arguments of
    `add_structured_noise` (default: its defaults)."""
    clean = virtual_camera_poses(world_poses, views, seed, root=root, up_axis=up_axis)
    if isinstance(noise, NoiseModel):
        noisy = noise.sample(clean, seed + 1)
    else:
        noisy = add_structured_noise(clean, seed + 1, root=root, **(noise or {}))
    return noisy, clean


def train_refinement_unit_mocap(world_poses: np.ndarray, *, views: int = 4, seed: int = 0,
                                root: int = 0, up_axis: int = 2,
                                noise: NoiseModel | dict | None = None,
                                config: RefinementConfig | dict | None = None,
                                threads: int = 2) -> RefinementUnit:
    """The MoCap route: train a unit from world-frame poses alone (no images)."""
    noisy, clean = mocap_training_pairs(world_poses, views=views, seed=seed, root=root,
                                        up_axis=up_axis, noise=noise)
    return train_refinement_unit(noisy, clean, root=root, config=config, seed=seed,
                                 threads=threads)
