"""The paper's augmentation: pixels and targets move together, flips swap sides, seeded."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from posebench.skeletons import get_skeleton  # noqa: E402
from reference_models.epipolarpose.augment import (  # noqa: E402
    AugmentConfig,
    augment_batch,
    sample_params,
    step_generator,
    transform_targets,
)
from reference_models.epipolarpose.toy import make_toy  # noqa: E402
from reference_models.epipolarpose.trainer import train  # noqa: E402

S = 64


def _blob_images(px: np.ndarray, sigma: float = 1.6) -> np.ndarray:
    """(B, 3, 2) marker centres px -> (B, S, S, 3) uint8, marker k drawn in channel k only."""
    jj, ii = np.meshgrid(np.arange(S), np.arange(S))
    d2 = (jj[None, None] - px[:, :, 0, None, None]) ** 2 + \
         (ii[None, None] - px[:, :, 1, None, None]) ** 2
    img = 200.0 * np.exp(-d2 / (2 * sigma ** 2))                 # (B, 3, S, S)
    return np.rint(img.transpose(0, 2, 3, 1)).astype(np.uint8)


def _centroids(x: torch.Tensor) -> np.ndarray:
    """(B, 3, S, S) -> (B, 3, 2) intensity centroids (col, row) px per channel."""
    a = x.double().numpy()
    a = np.where(a > 8.0, a, 0.0)  # ignore the blob's faint tails
    jj, ii = np.meshgrid(np.arange(S), np.arange(S))
    w = a.sum(axis=(2, 3))
    return np.stack([(a * jj).sum(axis=(2, 3)) / w, (a * ii).sum(axis=(2, 3)) / w], -1)


def test_rendered_markers_land_on_the_transformed_joints():
    rng = np.random.default_rng(0)
    B = 64
    r = rng.uniform(0, 16, (B, 3))           # within reach of a 1.33x zoom and any rotation
    a = rng.uniform(0, 2 * np.pi, (B, 3))
    px = (S - 1) / 2 + np.stack([r * np.cos(a), r * np.sin(a)], -1)
    images = torch.from_numpy(_blob_images(px))
    targets = torch.from_numpy(np.concatenate([px / S - 0.5, rng.normal(0, 0.1, (B, 3, 1))],
                                              -1).astype(np.float32))
    weights = torch.ones_like(targets)
    cfg = AugmentConfig(enabled=True, rot_prob=1.0, flip_prob=0.5)
    params = sample_params(cfg, B, step_generator(3, 5))
    perm = torch.tensor([0, 2, 1])           # markers 1 and 2 are a left/right pair
    out, t, w = augment_batch(images, targets, weights, params, perm)
    got = _centroids(out)                    # channel k shows original marker k
    want = (t[..., :2].double().numpy() + 0.5) * S
    flip = params["flip"].numpy()
    want_by_channel = np.where(flip[:, None, None], want[:, perm.numpy()], want)
    err = np.linalg.norm(got - want_by_channel, axis=-1)
    assert err.max() < 0.3, err.max()
    assert flip.any() and (~flip).any() and (params["rot_deg"].abs() > 20).any()
    # depth moves with the zoom: z / scale
    z_in = targets[..., 2].double().numpy()
    z_out = np.where(flip[:, None], t[:, perm, 2].double().numpy(), t[..., 2].double().numpy())
    assert np.allclose(z_out, z_in / params["scale"].numpy()[:, None], atol=1e-6)
    # colour scaling: the peak of each marker scales with its channel factor (<= 255)
    assert out.max() <= 255.0 and out.min() >= 0.0


def test_flip_swaps_left_and_right_and_mirrors_x_only():
    sk = get_skeleton("h36m17")
    perm = torch.from_numpy(sk.flip_permutation())
    rng = np.random.default_rng(1)
    t = torch.from_numpy(rng.uniform(-0.4, 0.4, (5, 17, 3)).astype(np.float32))
    w = torch.from_numpy(rng.integers(0, 2, (5, 17, 3)).astype(np.float32))
    cfg = AugmentConfig(enabled=True, scale_factor=0.0, rot_prob=0.0, flip_prob=1.0)
    params = sample_params(cfg, 5, step_generator(0, 0))
    t2, w2 = transform_targets(t, w, params, S, perm)
    li, ri = sk.index("l_wrist"), sk.index("r_wrist")
    x_px = (t[..., 0].double() + 0.5) * S
    mirrored = ((S - 1) - x_px) / S - 0.5
    assert torch.allclose(t2[:, li, 0].double(), mirrored[:, ri], atol=1e-6)
    assert torch.allclose(t2[:, li, 1:], t[:, ri, 1:], atol=1e-6)   # y and depth unchanged
    assert torch.equal(w2[:, li], w[:, ri]) and torch.equal(w2[:, ri], w[:, li])
    assert torch.allclose(t2[:, sk.root], torch.stack(
        [mirrored[:, sk.root].float(), t[:, sk.root, 1], t[:, sk.root, 2]], -1), atol=1e-6)
    # the pixels are mirrored about the crop centre too
    img = torch.zeros(1, S, S, 3, dtype=torch.uint8)
    img[0, 10, 5, 0] = 200
    one = {k: v[:1] for k, v in params.items()}
    one["color"] = torch.ones(1, 3, dtype=torch.float64)
    out, _, _ = augment_batch(img, t[:1], w[:1], one, perm)
    assert out[0, 0, 10, S - 1 - 5].item() == pytest.approx(200.0, abs=1e-3)
    assert out[0, 0, 10, 5].item() == pytest.approx(0.0, abs=1e-3)


def test_same_seed_same_batch_and_the_official_ranges():
    cfg = AugmentConfig(enabled=True, flip_prob=0.5)
    a = sample_params(cfg, 20000, step_generator(0, 7))
    b = sample_params(cfg, 20000, step_generator(0, 7))
    c = sample_params(cfg, 20000, step_generator(0, 8))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["scale"], c["scale"])
    assert a["scale"].min() >= 0.75 and a["scale"].max() <= 1.25
    assert a["rot_deg"].abs().max() <= 60.0
    rotated = (a["rot_deg"] != 0).double().mean().item()
    assert abs(rotated - 0.6) < 0.02
    assert a["color"].min() >= 0.8 and a["color"].max() <= 1.2
    assert abs(a["flip"].double().mean().item() - 0.5) < 0.02


def test_augmented_training_is_seeded_and_resumes_bit_identically(tmp_path):
    toy = make_toy(num_train=16, num_test=4, image_size=32)
    cfg = {"mode": "fully-supervised", "threads": 1,
           "model": {"depth": 18, "width": 0.25, "image_size": 32, "depth_bins": 8,
                     "deconv_channels": 32},
           "optim": {"batch_size": 16, "epochs": 3, "lr_milestones": [2]},
           "run": {"checkpoint_every": 4, "log_every": 2, "eval_every": 0, "progress": False},
           "augment": {"enabled": True, "flip_prob": 0.5}}
    straight = train(cfg, tmp_path / "a", datasets=toy)
    train(cfg, tmp_path / "b", datasets=toy, stop_after=5)
    resumed = train(cfg, tmp_path / "b", datasets=toy, resume=True)
    plain = train({**cfg, "augment": {"enabled": False}}, tmp_path / "c", datasets=toy)

    def state(d):
        return torch.load(d / "checkpoint.pt", weights_only=True)["model"]

    sa, sb, sc = state(straight), state(resumed), state(plain)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)   # augmentation changed training
