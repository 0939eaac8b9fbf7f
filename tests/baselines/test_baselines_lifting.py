"""The shared residual MLP: shapes, parameter count, determinism, npz state round trip."""

from __future__ import annotations

import numpy as np
import torch

from baselines.lifting import (
    LiftingNet,
    ResidualBlock,
    load_module_state_arrays,
    module_state_arrays,
    predict_batched,
    set_threads,
    train_regressor,
)


def test_residual_block_parameter_count_and_identity_path():
    w = 64
    block = ResidualBlock(w, dropout=0.0)
    # two Linear(w, w) (w*w + w each) and two BatchNorm1d (2w weights each)
    assert sum(p.numel() for p in block.parameters()) == 2 * (w * w + w) + 2 * 2 * w
    for p in block.body.parameters():
        torch.nn.init.zeros_(p)
    block.eval()
    x = torch.randn(5, w)
    # zero weights: BN(0) = 0 -> relu 0 -> the block is the identity
    torch.testing.assert_close(block(x), x)


def _fit(seed):
    set_threads(1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 6))
    y = x @ rng.normal(size=(6, 3))
    torch.manual_seed(seed)
    net = LiftingNet(6, 3, width=32, blocks=1, dropout=0.0)
    hist = train_regressor(net, x, y, loss_fn=lambda m, a, b: torch.mean((m(a) - b) ** 2),
                           epochs=20, batch_size=32, seed=seed, progress=False)
    return net, hist, x, y


def test_training_is_seeded_and_learns():
    a, hist_a, x, y = _fit(0)
    b, hist_b, _, _ = _fit(0)
    assert hist_a == hist_b
    assert hist_a[-1] < 0.2 * hist_a[0]
    np.testing.assert_array_equal(predict_batched(a, x), predict_batched(b, x))
    c, hist_c, _, _ = _fit(1)
    assert hist_c != hist_a


def test_state_round_trip_through_arrays():
    a, _, x, _ = _fit(0)
    arrays = module_state_arrays(a)
    assert all(isinstance(v, np.ndarray) for v in arrays.values())
    b = LiftingNet(6, 3, width=32, blocks=1, dropout=0.0)
    load_module_state_arrays(b, arrays)
    np.testing.assert_array_equal(predict_batched(a, x), predict_batched(b, x))
